//! `maintctl off` with `--gradual` (issue #24): flags → `ops::gradual::GradualRequest` →
//! `ops::gradual::start` → the report; without it, the ordinary `off` (`switch.rs`). And the
//! abort `on` and `off` run first when a return is under way (`abort_first`).

use std::process::ExitCode;
use std::time::Duration;

use maintctl::schedules::Scheduler;
use maintenance_engine::announce;
use maintenance_engine::listeners::Aws;
use maintenance_engine::ops::gradual::{self, AbortRequest, GradualRequest};
use maintenance_engine::ops::{LeaseOptions, Owner};
use maintenance_engine::planner::return_plan::{DEFAULT_STEPS, parse_duration, parse_steps};

use crate::switch::SwitchArgs;
use crate::{Globals, output};

/// Arguments of `maintctl off`: those of every switch, and the gradual return's.
#[derive(Debug, clap::Args)]
pub struct OffArgs {
    #[command(flatten)]
    switch: SwitchArgs,
    /// End the maintenance in steps over DURATION (e.g. 30m, 2h, 1h30m; 5 minutes to 24
    /// hours): each step lets a larger share of visitors through, then the ordinary off.
    /// Needs --environment and the environment's switch function (docs/return.md).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    gradual: Option<jiff::SignedDuration>,
    /// The shares of visitors let through, in percent, strictly increasing within 1..=99
    /// (with --gradual; the final off lets everyone through).
    /// [default: 10,25,50: a tenth first, then at most 2.5 times the load of the step before]
    #[arg(long, value_name = "P,P,...", value_parser = parse_steps_arg, requires = "gradual")]
    steps: Option<Steps>,
    /// A CloudWatch alarm whose ALARM, delivered to the switch function, aborts the return
    /// (with --gradual).
    #[arg(long, value_name = "NAME", requires = "gradual")]
    abort_alarm: Option<String>,
}

/// The shares of `--steps`.
#[derive(Debug, Clone)]
struct Steps(Vec<u8>);
fn parse_steps_arg(text: &str) -> Result<Steps, String> {
    parse_steps(text).map(Steps)
}

impl OffArgs {
    /// Runs `maintctl off`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let Some(duration) = self.gradual else {
            if !self.switch.is_dry_run()
                && let Some(code) = abort_first(globals, &self.switch, "maintctl off").await?
            {
                return Ok(code);
            }
            return self.switch.run(globals).await;
        };
        let Some(environment) = globals.environment.clone() else {
            crate::globals::usage(
                "a gradual return belongs to an environment: --environment NAME (-e) or \
                 MAINTCTL_ENVIRONMENT",
            );
        };
        let config = globals.aws.load().await;
        let (elb, ssm) = (Aws::new(&config), aws_sdk_ssm::Client::new(&config));
        let scheduler = Scheduler::new(&config);
        let channels = crate::announce::channels(&config, self.switch.event_bus());
        let request = GradualRequest {
            environment,
            duration,
            steps: self
                .steps
                .clone()
                .map_or_else(|| DEFAULT_STEPS.to_vec(), |s| s.0),
            abort_alarm: self.abort_alarm.clone(),
            reason: Some(self.switch.reason_text()),
            dry_run: self.switch.is_dry_run(),
            lease: self.switch.lease_options(),
        };
        let report = gradual::start(&elb, &ssm, &scheduler, &request).await;
        let warnings = announce::after_return(&channels, &report).await;
        let code = output::emit(globals.output, &report)?;
        if !report.outcome.went_well() {
            eprintln!("maintctl: {}", report.message);
        }
        output::warnings(&warnings);
        Ok(code)
    }
}

/// A switch by a person while a return is under way (`on`, `off`): the return is aborted
/// first (its admission rules, state and schedules deleted), then the switch runs. `Some`
/// exit code when the abort failed and the switch should not run.
pub async fn abort_first(
    globals: &Globals,
    switch: &SwitchArgs,
    by: &str,
) -> anyhow::Result<Option<ExitCode>> {
    let Some(environment) = globals.environment.clone() else {
        return Ok(None);
    };
    let config = globals.aws.load().await;
    let (elb, ssm) = (Aws::new(&config), aws_sdk_ssm::Client::new(&config));
    let scheduler = Scheduler::new(&config);
    let channels = crate::announce::channels(&config, switch.event_bus());
    let request = AbortRequest {
        environment,
        owner: Owner::Person,
        reason: Some(format!("{by}: {}", switch.reason_text())),
        lease: switch.lease_options(),
    };
    let report = gradual::abort(&elb, &ssm, Some(&scheduler), &request).await;
    if report.return_id.is_none() {
        return Ok(None);
    }
    let warnings = announce::after_return(&channels, &report).await;
    let code = output::emit(globals.output, &report)?;
    output::warnings(&warnings);
    if !report.outcome.went_well() {
        eprintln!("maintctl: {}", report.message);
        return Ok(Some(code));
    }
    Ok(None)
}

impl SwitchArgs {
    /// `--dry-run`.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The reason to record.
    pub fn reason_text(&self) -> String {
        self.reason.text()
    }

    /// `--event-bus`.
    pub fn event_bus(&self) -> &str {
        &self.event_bus
    }

    /// `--lease-wait` as lease options.
    pub fn lease_options(&self) -> LeaseOptions {
        LeaseOptions {
            wait: Duration::from_secs(self.lease_wait),
            ..LeaseOptions::default()
        }
    }
}
