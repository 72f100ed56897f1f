//! AWS SDK setup of the Lambda: its SSM client over one `SdkConfig` from the standard chain
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SSM`, `AWS_REGION`, credentials), with the content
//! cache's budgets as its timeouts. No custom endpoint code. (`maintctl`'s `--profile` and
//! `--region` are its own, `src/bin/maintctl/globals.rs`.)

use aws_config::SdkConfig;

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
