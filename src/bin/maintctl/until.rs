//! `maintctl on --until` (issue #15): the deadline flags (`--until`, `--timezone`: the switch
//! off scheduled with the switch on) and the command itself: `ops::deadline::on_until` → its
//! report.

use std::process::ExitCode;

use aws_config::SdkConfig;
use maintctl::schedules::Scheduler;
use maintenance_engine::announce;
use maintenance_engine::listeners::Aws;
use maintenance_engine::ops::deadline::{self, Until};
use maintenance_engine::ops::preflight::Check;
use maintenance_engine::ops::{self, Owner, SwitchRequest};

use crate::announce::MaintctlChannels;
use crate::terminal::Terminal;
use crate::{Globals, exit};

/// The deadline of `on`.
#[derive(Debug, clap::Args)]
pub struct DeadlineArgs {
    /// Also schedule the switch off at TIME (RFC 3339, or a local time in --timezone), at most
    /// 7 days ahead; the page shows it as the end. Needs the environment (-e) and its schedule
    /// group.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    until: Option<String>,
    /// The IANA time zone of a local --until TIME, of the schedule and of the end time the page
    /// shows (default UTC).
    #[arg(long, value_name = "ZONE", requires = "until")]
    timezone: Option<String>,
}

/// A deadline asked for.
#[derive(Debug)]
pub struct Deadline(pub Until);

impl DeadlineArgs {
    /// The deadline asked for, if any; a usage error (exit 2) without an environment.
    pub fn deadline(self, globals: &Globals) -> Option<Deadline> {
        let end = self.until?;
        if globals.environment.is_none() {
            crate::globals::usage(
                "--until schedules the switch off in the environment's schedule group: select \
                 the environment with --environment NAME (-e) or MAINTCTL_ENVIRONMENT",
            );
        }
        Some(Deadline(Until {
            end,
            timezone: self.timezone,
        }))
    }
}

/// What `on --until` switches with: the request, the deadline, where it is announced, the
/// preflight's checks (for the report).
pub struct OnUntil<'a> {
    /// The switch on.
    pub request: &'a SwitchRequest,
    /// The deadline.
    pub until: &'a Until,
    /// Where the switch is announced.
    pub channels: &'a MaintctlChannels,
    /// The preflight's checks, when it ran.
    pub checks: Option<Vec<Check>>,
}

/// `maintctl on --until`: the end schedule, then the switch on, announced as its window's.
pub async fn on_until(
    globals: &Globals,
    config: &SdkConfig,
    on: OnUntil<'_>,
    terminal: &mut Terminal,
) -> anyhow::Result<ExitCode> {
    let (elb, ssm) = (Aws::new(config), aws_sdk_ssm::Client::new(config));
    let scheduler = Scheduler::new(config);
    match deadline::on_until(&elb, &ssm, &scheduler, on.request, on.until, terminal).await {
        Ok(mut report) => {
            report.switch.preflight = on.checks;
            let mut request = on.request.clone();
            request.coordination.owner = Owner::Window(report.window.clone());
            request.coordination.content = report.content.clone();
            let warnings = announce::after_switch(on.channels, &report.switch, &request).await;
            let code = crate::output::finish(globals.output, &report, report.switch.complaint());
            crate::output::warnings(&warnings);
            code
        }
        Err(e) if e.outcome() == ops::Outcome::Refused => {
            eprintln!("maintctl: refused: {e}; nothing was changed");
            Ok(exit::code(e.outcome()))
        }
        Err(e) => Err(e.into()),
    }
}
