//! The `--verify-*` flags of `maintctl on` and `off`: the live endpoint to probe after
//! switching, as an `ops::VerifyRequest` over `maintctl::verify::VerifyTarget` (checked before
//! anything changes).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use maintctl::verify::{VerifyError, VerifyTarget};
use maintenance_core::deploy_names::DEFAULT_HEALTH_PATH;
use maintenance_engine::ops::VerifyRequest;

/// How to check the live endpoint after switching.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// After switching, request this http:// or https:// URL until it answers 503 with
    /// Retry-After and Cache-Control: no-store (on; the fallback page: 503) or anything else
    /// (off), and the health route answers 200.
    #[arg(long, value_name = "URL")]
    verify_url: Option<String>,
    /// Health route checked with --verify-url (same host).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_HEALTH_PATH)]
    health_path: String,
    /// How long --verify-url keeps trying (the ALB takes a few seconds to apply changes).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    verify_timeout: u64,
    /// PEM file of the CA to check an https:// endpoint's certificate against, instead of the
    /// system's root certificates (a private CA).
    #[arg(long, value_name = "FILE", requires = "verify_url")]
    verify_ca: Option<PathBuf>,
    /// Connect to this address (IP or IP:PORT: one ALB node) instead of resolving the URL's
    /// host, which is still sent as the TLS server name and the Host header.
    #[arg(long, value_name = "ADDR", requires = "verify_url")]
    verify_address: Option<String>,
}

impl VerifyArgs {
    /// The probe asked for, if any.
    pub fn request(&self) -> Result<Option<VerifyRequest>, VerifyError> {
        let Some(url) = &self.verify_url else {
            return Ok(None);
        };
        let target = VerifyTarget::parse_with(
            url,
            &self.health_path,
            self.verify_ca.as_deref(),
            self.verify_address.as_deref(),
        )?;
        Ok(Some(VerifyRequest {
            target: Arc::new(target),
            timeout: Duration::from_secs(self.verify_timeout),
        }))
    }
}
