//! The options every `maintctl` subcommand understands (`Globals`: the AWS profile and region
//! (`AwsOptions`), the output format) and the clients they give.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use maintenance_engine::listeners::Aws;

/// Options every subcommand understands.
#[derive(Debug, Clone, clap::Args)]
pub struct Globals {
    #[command(flatten)]
    /// AWS profile and region.
    pub aws: AwsOptions,
    /// Output format: human-readable text, or JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

impl Globals {
    /// The ELBv2 and STS clients for `--profile` and `--region`.
    pub async fn listeners(&self) -> Aws {
        Aws::new(&self.aws.load().await)
    }

    /// The listeners' clients and the SSM client (where the bypass link's token goes).
    pub async fn listeners_and_ssm(&self) -> (Aws, aws_sdk_ssm::Client) {
        let config = self.aws.load().await;
        (Aws::new(&config), aws_sdk_ssm::Client::new(&config))
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Human-readable text.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// AWS options shared by every `maintctl` subcommand that calls AWS.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsOptions {
    /// Named profile from the AWS config files (else AWS_PROFILE, else the default chain).
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Region (else AWS_REGION or the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
}

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
