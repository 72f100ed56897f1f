//! The `--verify-*` flags of `maintctl on` and `off`: the live endpoint to probe after
//! switching, as an `ops::VerifyRequest` over `maintctl::verify::VerifyTarget` (checked before
//! anything changes).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use maintctl::verify::{VerifyError, VerifyTarget};
use maintenance_core::deploy_names::DEFAULT_HEALTH_PATH;
use maintenance_engine::ops::VerifyRequest;

use crate::Globals;

/// How to check the live endpoint after switching.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// After switching, request this http:// or https:// URL until it answers 503 with
    /// Retry-After and Cache-Control: no-store (on; the fallback page: 503) or anything else
    /// (off), and the health route answers 200.
    #[arg(long, value_name = "URL")]
    verify_url: Option<String>,
    /// The responder's health route: checked with --verify-url (same host) and by on's
    /// preflight [default: the environment's health-path; else /healthz for --verify-url, and
    /// the preflight's: the responder target group's health-check path, else /healthz].
    #[arg(long, value_name = "PATH")]
    health_path: Option<String>,
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
    /// The health route given (the flag, else the environment's), if any.
    pub fn health_path(&self, globals: &Globals) -> Option<String> {
        globals
            .selection
            .pick(self.health_path.clone(), |t| t.health_path.as_ref())
            .map(|p| p.value)
    }

    /// The probe asked for (the flag, else the environment's verify-url), if any.
    pub fn request(&self, globals: &Globals) -> Result<Option<VerifyRequest>, VerifyError> {
        let picked = globals
            .selection
            .pick(self.verify_url.clone(), |t| t.verify_url.as_ref());
        let Some(url) = picked.map(|p| p.value) else {
            return Ok(None);
        };
        let health_path = self.health_path(globals);
        let target = VerifyTarget::parse_with(
            &url,
            health_path.as_deref().unwrap_or(DEFAULT_HEALTH_PATH),
            self.verify_ca.as_deref(),
            self.verify_address.as_deref(),
        )?;
        Ok(Some(VerifyRequest {
            target: Arc::new(target),
            timeout: Duration::from_secs(self.verify_timeout),
        }))
    }
}
