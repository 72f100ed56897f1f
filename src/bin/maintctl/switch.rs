//! `maintctl on` and `off`: flags → `ops::SwitchRequest` → `ops::switch` (or, with
//! `on --until`, `ops::deadline::on_until`, `until.rs`) → the report, with the terminal as the
//! operator (`terminal.rs`: it prints the plan, then asks before anything changes).

use std::process::ExitCode;

use maintenance_engine::listeners::{Aws, Targets};
use maintenance_engine::ops::preflight::Preflight;
use maintenance_engine::ops::{self, SwitchRequest};
use maintenance_engine::planner::{Direction, Live};

use crate::bypass::LinkArgs;
use crate::status::TargetArgs;
use crate::terminal::Terminal;
use crate::until::CoordinationArgs;
use crate::verify::VerifyArgs;
use crate::{Globals, output};

/// Arguments of `maintctl on` and `maintctl off`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).multiple(true)
    .args(["listeners", "load_balancers", "environment"])))]
#[command(
    after_help = "Prints the plan (every rule's priority now and after) before changing \
    anything. Exit codes: 0 done, 1 failed before changing anything, 3 nothing to do, \
    4 refused (not confirmed, the listener changed, or another switch holds the lease), \
    5 failed and rolled back, 6 inconsistent (needs a person; the report says where each \
    listener stands)."
)]
pub struct SwitchArgs {
    #[command(flatten)]
    targets: TargetArgs,
    /// Why: recorded on the maintenance rule (tag) with your identity and the time.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    verify: VerifyArgs,
    #[command(flatten)]
    link: LinkArgs,
    /// on: no bypass link this window: the cookie bypass rules get a token that is neither
    /// stored nor shown (for when SSM cannot be written; old links stay dead).
    #[arg(long)]
    no_bypass_link: bool,
    #[command(flatten)]
    coordination: CoordinationArgs,
}

impl SwitchArgs {
    /// Runs `maintctl off`.
    pub async fn run(self, globals: &Globals, direction: Direction) -> anyhow::Result<ExitCode> {
        self.run_live(globals, direction, Live::Responder, None, false)
            .await
    }

    /// The listeners named.
    pub fn targets(&self) -> Targets {
        self.targets.clone().into_targets()
    }

    /// Runs `maintctl on` with the page to put live, or `off`.
    pub async fn run_live(
        self,
        globals: &Globals,
        direction: Direction,
        live: Live,
        preflight: Option<Preflight>,
        force: bool,
    ) -> anyhow::Result<ExitCode> {
        let verify = self.verify.request()?;
        let until = self.coordination.until(direction)?;
        let request = SwitchRequest {
            direction,
            targets: self.targets.into_targets(),
            reason: self.reason,
            dry_run: self.dry_run,
            confirmed: self.yes,
            verify,
            bypass: self.link.options(self.no_bypass_link)?,
            live,
            preflight,
            force,
            coordination: self.coordination.coordination(),
        };
        let mut terminal = Terminal(globals.output);
        let config = globals.aws.load().await;
        if let Some(until) = until {
            return crate::until::on_until(globals, &config, &request, &until, &mut terminal).await;
        }
        let (elb, ssm) = (Aws::new(&config), aws_sdk_ssm::Client::new(&config));
        let report = match ops::switch(&elb, &ssm, &request, &mut terminal).await {
            Ok(report) => report,
            Err(e) => return output::stopped(e),
        };
        output::finish(globals.output, &report, report.complaint())
    }
}
