//! `maintctl off`, and the flags `on` shares with it: flags → `ops::SwitchRequest` →
//! `ops::switch` (or, with `on --until`, `ops::deadline::on_until`, `until.rs`) → the report,
//! with the terminal as the operator (`terminal.rs`: it prints the plan, then asks before
//! anything changes). What only `on` takes is in `on.rs`.

use std::process::ExitCode;
use std::time::Duration;

use maintenance_core::deploy_names::events;
use maintenance_engine::announce;
use maintenance_engine::listeners::Aws;
use maintenance_engine::ops::{self, Coordination, LeaseOptions, SwitchRequest};
use maintenance_engine::planner::{BypassOptions, Direction, Live};

use crate::status::{ReasonArg, TargetArgs};
use crate::terminal::Terminal;
use crate::until::Deadline;
use crate::verify::VerifyArgs;
use crate::{Globals, output};

/// Arguments of `maintctl off`, and those `on` shares.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints the plan (every rule's priority now and after) before changing \
    anything. Exit codes: maintctl --help lists them."
)]
pub struct SwitchArgs {
    #[command(flatten)]
    targets: TargetArgs,
    #[command(flatten)]
    pub(crate) reason: ReasonArg,
    /// Print the plan and change nothing.
    #[arg(long, short = 'n')]
    pub(crate) dry_run: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    verify: VerifyArgs,
    /// How long to wait for the lease when another switch (a schedule, an alarm, a colleague)
    /// is running on the same listeners.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub(crate) lease_wait: u64,
    /// The EventBridge bus the switch is announced on (a name or an ARN; docs/events.md).
    #[arg(long, value_name = "BUS", env = events::MAINTCTL_BUS, default_value = events::DEFAULT_BUS)]
    pub(crate) event_bus: String,
}

/// What only `on` adds to a switch.
#[derive(Debug, Default)]
pub struct OnOnly {
    /// The page that goes live.
    pub live: Option<Live>,
    /// The bypass link's options.
    pub bypass: BypassOptions,
    /// The preflight's checks, for the report.
    pub preflight: Option<ops::preflight::Preflight>,
    /// The preflight's failures `--force` switches past.
    pub warnings: Vec<String>,
    /// `on --until`.
    pub deadline: Option<Deadline>,
}

impl SwitchArgs {
    /// Runs `maintctl off`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        self.run_switch(globals, Direction::Off, OnOnly::default())
            .await
    }

    /// The listeners named (a usage error when none is).
    pub fn targets(&self, globals: &Globals) -> maintenance_engine::listeners::Targets {
        self.targets.clone().required(globals)
    }

    /// The health route given (the flag, else the environment's), if any.
    pub fn health_path(&self, globals: &Globals) -> Option<String> {
        self.verify.health_path(globals)
    }

    /// Runs `maintctl on` (with what only it takes) or `off`.
    pub async fn run_switch(
        self,
        globals: &Globals,
        direction: Direction,
        on: OnOnly,
    ) -> anyhow::Result<ExitCode> {
        let targets = self.targets(globals);
        let verify = (self.verify)
            .request(globals, &globals.listeners().await, &targets)
            .await?;
        let request = SwitchRequest {
            direction,
            targets,
            reason: Some(self.reason.text()),
            dry_run: self.dry_run,
            confirmed: self.yes,
            verify,
            bypass: on.bypass,
            live: on.live.unwrap_or(Live::Responder),
            warnings: on.warnings,
            coordination: Coordination {
                lease: LeaseOptions {
                    wait: Duration::from_secs(self.lease_wait),
                    ..LeaseOptions::default()
                },
                ..Coordination::default()
            },
        };
        let mut terminal = Terminal(globals.output);
        let config = globals.aws.load().await;
        let channels = crate::announce::channels(&config, &self.event_bus);
        let checks = on.preflight.map(|p| p.checks);
        if let Some(until) = on.deadline {
            let until = crate::until::OnUntil {
                request: &request,
                until: &until.0,
                channels: &channels,
                checks,
            };
            return crate::until::on_until(globals, &config, until, &mut terminal).await;
        }
        let (elb, ssm) = (Aws::new(&config), aws_sdk_ssm::Client::new(&config));
        let mut report = match ops::switch(&elb, &ssm, &request, &mut terminal).await {
            Ok(report) => report,
            Err(e) => return output::stopped(e),
        };
        report.preflight = checks;
        let warnings = announce::after_switch(&channels, &report, &request).await;
        let code = output::finish(globals.output, &report, report.complaint());
        output::warnings(&warnings);
        code
    }
}
