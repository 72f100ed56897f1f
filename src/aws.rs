//! AWS SDK setup shared by the Lambda and `maintctl`: one `SdkConfig` from the standard chain
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SSM`, `AWS_REGION`, profiles, credentials), with
//! optional `--profile` / `--region` from the command line. No custom endpoint code.

use aws_config::SdkConfig;
#[cfg(feature = "operator")]
use aws_config::{BehaviorVersion, Region};

/// AWS options shared by every `maintctl` subcommand that calls AWS.
#[cfg(feature = "operator")]
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsOptions {
    /// Named profile from the AWS config files (else AWS_PROFILE, else the default chain).
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Region (else AWS_REGION or the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
}

#[cfg(feature = "operator")]
impl AwsOptions {
    /// Loads the SDK configuration. Endpoints come from `AWS_ENDPOINT_URL*` as usual, which is
    /// how the tests point the SDK at the emulator.
    pub async fn load(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        loader.load().await
    }
}

/// The Lambda's SSM client over a loaded configuration: SDK retries off (the content cache has
/// its own budget and back-off) and connect/operation timeouts no longer than the fetch budget.
pub fn lambda_ssm_client(
    base: &SdkConfig,
    settings: &crate::content_cache::CacheSettings,
) -> aws_sdk_ssm::Client {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    let budget = settings.init_budget.max(settings.refresh_budget);
    let config = aws_sdk_ssm::config::Builder::from(base)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(budget)
                .operation_timeout(budget)
                .build(),
        )
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}
