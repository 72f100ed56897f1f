//! `maintctl doctor`: flags → `ops::doctor::DoctorRequest` → `ops::doctor::doctor` (the
//! listeners through ELBv2, the responder through Lambda, the content through SSM), with the
//! `notifications` check of the event bus (`announce::routes`) → the report.

use std::process::ExitCode;

use maintctl::probe::api::Lambda;
use maintenance_core::deploy_names::events;
use maintenance_engine::announce::{EventBus, routes};
use maintenance_engine::ops::doctor::{self, DoctorRequest};

use crate::status::TargetArgs;
use crate::verify::HealthPathArg;
use crate::{Globals, output};

/// Arguments of `maintctl doctor`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Checks, each with pass, WARN or FAIL and what to do: the SSM content validates; \
    the responder answers a synthetic maintenance event with a contract-valid 503 with \
    Retry-After and the live content, and its health route with 200 (a real lambda:Invoke); its \
    reserved concurrency and the account's; listener attributes that overwrite the page's \
    headers; the maintenance, bypass and fallback rules; room for on; the target group's health \
    check. maintctl on runs the checks that can block first. A failed check: exit 8. Exit codes: \
    maintctl --help lists them."
)]
pub struct DoctorArgs {
    #[command(flatten)]
    targets: TargetArgs,
    #[command(flatten)]
    health: HealthPathArg,
    /// The EventBridge bus the switches are announced on: doctor checks that a rule routes them.
    #[arg(long, value_name = "BUS", env = events::MAINTCTL_BUS, default_value = events::DEFAULT_BUS)]
    event_bus: String,
}

impl DoctorArgs {
    /// Runs `maintctl doctor`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let request = DoctorRequest {
            targets: self.targets.required(globals),
            health_path: self.health.given(globals),
        };
        let config = globals.aws.load().await;
        let listeners = globals.listeners().await;
        let ssm = aws_sdk_ssm::Client::new(&config);
        match doctor::doctor(&listeners, &Lambda::new(&config), &ssm, &request).await {
            Ok(mut report) => {
                let bus = EventBus::new(&config, &self.event_bus);
                report.checks.push(routes::check(&bus).await);
                output::emit(globals.output, &report)
            }
            Err(e) => output::stopped(e),
        }
    }
}
