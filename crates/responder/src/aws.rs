//! AWS SDK setup of the Lambda's SSM client: its configuration read from the variables Lambda
//! sets in every execution environment ([`lambda_environment`]: region, the execution role's
//! credentials, `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL`), and the content cache's budgets as
//! its timeouts ([`lambda_ssm_client`]). No custom endpoint code. And the HTTPS client of every
//! AWS SDK client of the workspace ([`https_client`]).
//!
//! Why not `aws_config`'s standard chain: on Lambda the credentials are always the
//! environment's, and the chain (profile files, SSO, IMDS, ECS, web identity through STS) is
//! ≈ 380 KiB of code and its pointer tables in the binary, relocated at every cold start
//! (BENCHMARKS-coldstart.md). `maintctl invoke`, which runs the Lambda's code on an operator's
//! machine, passes the standard chain's configuration instead
//! ([`crate::Function::from_environment_with`]). (`maintctl`'s `--profile` and `--region` are
//! its own, `src/bin/maintctl/globals.rs`.)

use aws_sdk_ssm::config::{BehaviorVersion, Builder, Credentials, Region, SharedHttpClient};
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};

/// The HTTPS client every AWS SDK configuration of the workspace is given (the responder's SSM
/// client here, `maintctl`'s and the switch function's configuration loaders, the tests'): the
/// SDK's own hyper client over rustls with the ring crypto provider, verifying servers against
/// the system's root certificates. The SDK crates are built without their default HTTPS client
/// (rustls on aws-lc-rs), so that the workspace links one TLS stack and one crypto provider,
/// ring, the smaller (BENCHMARKS-coldstart.md). The trade-off: ring has no post-quantum key
/// exchange, so these connections use X25519 (or a NIST curve) without the X25519MLKEM768 hybrid
/// that aws-lc-rs would offer.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The SSM client's HTTP client for its endpoint: [`https_client`], except for a plain
/// `http://` endpoint (an emulator such as moto, named by `AWS_ENDPOINT_URL`), which is never
/// spoken to over TLS: that client trusts no root certificate at all instead of the system's,
/// whose loading is the most of the first SSM call's cost (the rustls config is built at the
/// first request, reading every root of `/etc/ssl/certs`; ≈ 10 million instructions here,
/// BENCHMARKS-coldstart.md). Should a TLS connection ever be asked of it, every certificate is
/// refused: nothing is trusted that the standard client would not trust.
pub fn ssm_http_client(endpoint_url: Option<&str>) -> SharedHttpClient {
    if !plain_http(endpoint_url) {
        return https_client();
    }
    let no_roots = TlsContext::builder()
        .with_trust_store(TrustStore::empty())
        .build()
        .expect("a TLS context without roots is valid");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(no_roots)
        .build_https()
}

/// Whether the endpoint is a plain `http://` URL (no endpoint: SSM's own, over HTTPS).
fn plain_http(endpoint_url: Option<&str>) -> bool {
    endpoint_url
        .and_then(|url| url.get(..7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// The variables read, in the order they are documented. AWS, "Defined runtime environment
/// variables" (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime>):
/// `AWS_REGION` is the function's Region; `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN` are "the access keys obtained from the function's execution role".
/// The endpoint, FIPS and dual-stack variables are the SDKs' shared settings
/// (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>), honoured as
/// the standard chain honours them: the service-specific URL first, and none of them when
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
pub mod variables {
    /// The function's Region (set by Lambda).
    pub const REGION: &str = "AWS_REGION";
    /// The Region when `AWS_REGION` is unset (the SDKs' fallback; not set by Lambda).
    pub const DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
    /// The execution role's access key id (set by Lambda).
    pub const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    /// The execution role's secret key (set by Lambda).
    pub const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    /// The execution role's session token (set by Lambda).
    pub const SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
    /// SSM's own endpoint URL.
    pub const ENDPOINT_URL_SSM: &str = "AWS_ENDPOINT_URL_SSM";
    /// Every service's endpoint URL (how the tests reach moto).
    pub const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
    /// `true`: the two endpoint URLs above are ignored.
    pub const IGNORE_CONFIGURED_ENDPOINT_URLS: &str = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS";
    /// `true`: the FIPS endpoint.
    pub const USE_FIPS_ENDPOINT: &str = "AWS_USE_FIPS_ENDPOINT";
    /// `true`: the dual-stack endpoint.
    pub const USE_DUALSTACK_ENDPOINT: &str = "AWS_USE_DUALSTACK_ENDPOINT";
}

/// The SSM client's configuration from the Lambda environment (`lookup` reads one variable;
/// empty values count as unset). What is missing is reported, and the client is built anyway:
/// its calls then fail and the content cache serves the embedded texts, as for any SSM failure.
pub fn lambda_environment(lookup: &impl Fn(&str) -> Option<String>) -> (Builder, Vec<String>) {
    use variables::*;
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let flag = |name: &str| get(name).map(|v| v.trim().eq_ignore_ascii_case("true"));
    let mut problems = Vec::new();
    let mut config = Builder::new().behavior_version(BehaviorVersion::latest());
    let region = get(REGION).or_else(|| get(DEFAULT_REGION));
    if region.is_none() {
        problems.push(format!("neither {REGION} nor {DEFAULT_REGION} is set"));
    }
    config.set_region(region.map(Region::new));
    match (get(ACCESS_KEY_ID), get(SECRET_ACCESS_KEY)) {
        (Some(id), Some(secret)) => {
            let credentials = Credentials::new(id, secret, get(SESSION_TOKEN), None, "Lambda");
            config = config.credentials_provider(credentials);
        }
        _ => problems.push(format!(
            "{ACCESS_KEY_ID} and {SECRET_ACCESS_KEY} are not both set"
        )),
    }
    let endpoint = endpoint_url(lookup);
    config.set_http_client(Some(ssm_http_client(endpoint.as_deref())));
    config.set_endpoint_url(endpoint);
    config.set_use_fips(flag(USE_FIPS_ENDPOINT));
    config.set_use_dual_stack(flag(USE_DUALSTACK_ENDPOINT));
    (config, problems)
}

/// The configured endpoint URL: SSM's own, else every service's, neither when told to ignore
/// them.
fn endpoint_url(lookup: &impl Fn(&str) -> Option<String>) -> Option<String> {
    use variables::*;
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let ignore =
        get(IGNORE_CONFIGURED_ENDPOINT_URLS).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if ignore {
        return None;
    }
    get(ENDPOINT_URL_SSM).or_else(|| get(ENDPOINT_URL))
}

/// The Lambda's SSM client over a configuration: SDK retries off (the content cache has its
/// own budget and back-off) and connect/operation timeouts no longer than the fetch budget.
pub fn lambda_ssm_client(
    config: Builder,
    settings: &crate::content_cache::CacheSettings,
) -> aws_sdk_ssm::Client {
    use aws_sdk_ssm::config::retry::RetryConfig;
    use aws_sdk_ssm::config::timeout::TimeoutConfig;
    let budget = settings.init_budget.max(settings.refresh_budget);
    let config = config
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_complete_lambda_environment_gives_the_region_and_no_problem() {
        let (config, problems) = lambda_environment(&env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.build();
        assert_eq!(config.region(), Some(&Region::new("eu-west-1")));
    }

    #[test]
    fn the_service_url_wins_and_the_ignore_switch_drops_both() {
        let all = [("AWS_ENDPOINT_URL", "http://127.0.0.1:1")];
        assert_eq!(
            endpoint_url(&env(&all)).as_deref(),
            Some("http://127.0.0.1:1")
        );
        let both = [all[0], ("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:2")];
        assert_eq!(
            endpoint_url(&env(&both)).as_deref(),
            Some("http://127.0.0.1:2")
        );
        let ignored = [
            both[0],
            both[1],
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "True"),
        ];
        assert_eq!(endpoint_url(&env(&ignored)), None);
        assert_eq!(endpoint_url(&env(&[("AWS_ENDPOINT_URL", " ")])), None);
    }

    #[test]
    fn only_a_plain_http_endpoint_goes_without_the_system_roots() {
        assert!(plain_http(Some("http://127.0.0.1:5000")));
        assert!(plain_http(Some("HTTP://localhost")));
        assert!(!plain_http(None));
        assert!(!plain_http(Some("https://ssm.eu-west-1.amazonaws.com")));
        assert!(!plain_http(Some("httpx://h")));
        assert!(!plain_http(Some("http:/")));
    }

    #[test]
    fn what_is_missing_is_reported() {
        let (config, problems) = lambda_environment(&env(&[
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", ""),
        ]));
        let config = config.build();
        assert_eq!(config.region(), Some(&Region::new("us-east-1")));
        assert_eq!(
            problems,
            ["AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set"]
        );
        let (_, problems) = lambda_environment(&env(&[]));
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
