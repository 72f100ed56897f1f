//! The `--verify-*` flags of `maintctl on` and `off`, and `--health-path`: the live endpoint to
//! probe after switching, as an `ops::VerifyRequest` over `maintctl::verify::VerifyTarget`
//! (checked before anything changes), its health route picked by the rule of
//! `ops::doctor::health_path` that `doctor` and the preflight follow.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use maintctl::verify::VerifyTarget;
use maintenance_engine::listeners::{Listeners, Targets};
use maintenance_engine::ops::VerifyRequest;
use maintenance_engine::ops::doctor::{self, DoctorRequest};

use crate::Globals;

/// How to check the live endpoint after switching.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// After switching, request this http:// or https:// URL until it answers 503 with
    /// Retry-After and Cache-Control: no-store (on; the fallback page: 503) or anything else
    /// (off), and the health route answers 200.
    #[arg(long, value_name = "URL")]
    verify_url: Option<String>,
    #[command(flatten)]
    health: HealthPathArg,
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

/// `--health-path`, of `on`, `off` and `doctor`: one flag, one default.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthPathArg {
    /// The responder's health route, checked by doctor, on's preflight and --verify-url (same
    /// host) [default: the environment's health-path, else the responder target group's
    /// health-check path (when its health checks are on), else /healthz].
    #[arg(long, value_name = "PATH")]
    health_path: Option<String>,
}

impl HealthPathArg {
    /// The health route given (the flag, else the environment's), if any: without one, the
    /// rule of `ops::doctor::health_path` picks it.
    pub fn given(&self, globals: &Globals) -> Option<String> {
        (globals.selection.health_path(self.health_path.clone())).map(|p| p.value)
    }
}

impl VerifyArgs {
    /// The health route given (the flag, else the environment's), if any.
    pub fn health_path(&self, globals: &Globals) -> Option<String> {
        self.health.given(globals)
    }

    /// The probe asked for (the flag, else the environment's verify-url), if any; its health
    /// route by the rule `doctor` follows (`ops::doctor::health_route`: without a path given,
    /// the responder target group of the listeners `targets` names is read).
    pub async fn request(
        &self,
        globals: &Globals,
        listeners: &impl Listeners,
        targets: &Targets,
    ) -> anyhow::Result<Option<VerifyRequest>> {
        let picked = globals
            .selection
            .pick(self.verify_url.clone(), |t| t.verify_url.as_ref());
        let Some(url) = picked.map(|p| p.value) else {
            return Ok(None);
        };
        let parse = |health_path: &str| {
            VerifyTarget::parse_with(
                &url,
                health_path,
                self.verify_ca.as_deref(),
                self.verify_address.as_deref(),
            )
        };
        // The URL and the files are checked before AWS is asked for the health route.
        let given = self.health_path(globals);
        parse(given.as_deref().unwrap_or("/"))?;
        let request = DoctorRequest {
            targets: targets.clone(),
            health_path: given,
        };
        let health_path = doctor::health_route(listeners, &request)
            .await
            .context("--verify-url")?;
        let target = parse(&health_path)?;
        Ok(Some(VerifyRequest {
            target: Arc::new(target),
            timeout: Duration::from_secs(self.verify_timeout),
        }))
    }
}
