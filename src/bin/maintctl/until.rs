//! The coordination flags of `maintctl on` and `off` (issue #15): `--lease-wait` (how long to
//! wait for another writer's lease), and on's `--until` / `--timezone` (a deadline: the switch
//! off scheduled with the switch on); and `on --until` itself: `ops::deadline::on_until` → its
//! report.

use std::process::ExitCode;
use std::time::Duration;

use aws_config::SdkConfig;
use maintctl::schedules::Scheduler;
use maintenance_engine::listeners::Aws;
use maintenance_engine::ops::deadline::{self, Until};
use maintenance_engine::ops::{self, Coordination, LeaseOptions, SwitchRequest};
use maintenance_engine::planner::Direction;

use crate::terminal::Terminal;
use crate::{Globals, exit};

/// The lease and the deadline.
#[derive(Debug, clap::Args)]
pub struct CoordinationArgs {
    /// How long to wait for the lease when another switch (a schedule, an alarm, a colleague)
    /// is running on the same listeners.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    lease_wait: u64,
    /// on: a deadline — also schedule the switch off at TIME (RFC 3339, or a local time in
    /// --timezone), at most 7 days ahead; needs --environment and its schedule group.
    #[arg(
        long,
        value_name = "TIME",
        requires = "environment",
        allow_hyphen_values = true
    )]
    until: Option<String>,
    /// on --until: the IANA time zone of a local TIME, of the schedule and of the end time the
    /// page shows (default UTC).
    #[arg(long, value_name = "ZONE", requires = "until")]
    timezone: Option<String>,
}

impl CoordinationArgs {
    /// The lease options (a person's switch: no lease required where no content prefix is).
    pub fn coordination(&self) -> Coordination {
        Coordination {
            lease: LeaseOptions {
                wait: Duration::from_secs(self.lease_wait),
                ..LeaseOptions::default()
            },
            ..Coordination::default()
        }
    }

    /// The deadline asked for, if any; an error for `off --until`.
    pub fn until(&self, direction: Direction) -> anyhow::Result<Option<Until>> {
        let Some(end) = &self.until else {
            return Ok(None);
        };
        if direction == Direction::Off {
            anyhow::bail!("--until goes with on: off ends maintenance now");
        }
        Ok(Some(Until {
            end: end.clone(),
            timezone: self.timezone.clone(),
        }))
    }
}

/// `maintctl on --until`: the end schedule, then the switch on.
pub async fn on_until(
    globals: &Globals,
    config: &SdkConfig,
    request: &SwitchRequest,
    until: &Until,
    terminal: &mut Terminal,
) -> anyhow::Result<ExitCode> {
    let (elb, ssm) = (Aws::new(config), aws_sdk_ssm::Client::new(config));
    let scheduler = Scheduler::new(config);
    match deadline::on_until(&elb, &ssm, &scheduler, request, until, terminal).await {
        Ok(report) => crate::output::finish(globals.output, &report, report.switch.complaint()),
        Err(e) if e.outcome() == ops::Outcome::Refused => {
            eprintln!("maintctl: refused: {e}; nothing was changed");
            Ok(exit::code(e.outcome()))
        }
        Err(e) => Err(e.into()),
    }
}
