//! `maintctl doctor`: flags → `ops::doctor::DoctorRequest` → `ops::doctor::doctor` (the
//! listeners through ELBv2, the responder through Lambda, the content through SSM) → the report.

use std::process::ExitCode;

use maintctl::probe::api::Lambda;
use maintenance_engine::ops::doctor::{self, DoctorRequest};

use crate::status::TargetArgs;
use crate::{Globals, output};

/// Arguments of `maintctl doctor`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).multiple(true)
    .args(["listeners", "load_balancers", "environment"])))]
#[command(
    after_help = "Checks, each with pass, WARN or FAIL and what to do: the SSM content validates; \
    the responder answers a synthetic maintenance event with a contract-valid 503 with \
    Retry-After and the live content, and its health route with 200 (a real lambda:Invoke); its \
    reserved concurrency and the account's; listener attributes that overwrite the page's \
    headers; the maintenance, bypass and fallback rules; room for on; the target group's health \
    check. maintctl on runs the checks that can block first. Exit codes: 0 nothing failed \
    (warnings are printed), 1 the listeners could not be read, 2 usage, 6 a check failed."
)]
pub struct DoctorArgs {
    #[command(flatten)]
    targets: TargetArgs,
    /// The responder's health route [default: the target group's health-check path, else
    /// /healthz].
    #[arg(long, value_name = "PATH")]
    health_path: Option<String>,
}

impl DoctorArgs {
    /// Runs `maintctl doctor`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let request = DoctorRequest {
            targets: self.targets.into_targets(),
            health_path: self.health_path,
        };
        let config = globals.aws.load().await;
        let listeners = globals.listeners().await;
        let ssm = aws_sdk_ssm::Client::new(&config);
        match doctor::doctor(&listeners, &Lambda::new(&config), &ssm, &request).await {
            Ok(report) => output::emit(globals.output, &report),
            Err(e) => output::stopped(e),
        }
    }
}
