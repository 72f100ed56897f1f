//! `maintctl on` and `off`: flags → `ops::SwitchRequest` → `ops::switch` → the report, with the
//! terminal as the operator (it prints the plan, then asks before anything changes).

use std::process::ExitCode;
use std::time::Duration;

use maintenance_responder::deploy_names::DEFAULT_HEALTH_PATH;
use maintenance_responder::listeners::Aws;
use maintenance_responder::ops::deadline::{self, Until};
use maintenance_responder::ops::{
    self, Coordination, LeaseOptions, SwitchRequest, VerifyRequest, VerifyTarget,
};
use maintenance_responder::planner::Direction;
use maintenance_responder::schedules::Scheduler;

use crate::status::TargetArgs;
use crate::terminal::Terminal;
use crate::{Globals, Output, exit, output};

/// Arguments of `maintctl on` and `maintctl off`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).multiple(true)
    .args(["listeners", "load_balancers", "environment"])))]
#[command(
    after_help = "Prints the plan (every rule's priority now and after) before changing \
    anything. Exit codes: 0 done, 1 failed before changing anything, 3 nothing to do, \
    4 refused (not confirmed, or the listener changed), 5 failed and rolled back, \
    6 inconsistent (needs a person; the report says where each listener stands)."
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
    /// After switching, request this http:// URL until it answers 503 with Retry-After (on)
    /// or anything else (off), and the health route answers 200.
    #[arg(long, value_name = "URL")]
    verify_url: Option<String>,
    /// Health route checked with --verify-url (same host).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_HEALTH_PATH)]
    health_path: String,
    /// How long --verify-url keeps trying (the ALB takes a few seconds to apply changes).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    verify_timeout: u64,
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

impl SwitchArgs {
    /// Runs `maintctl on` or `maintctl off`.
    pub async fn run(self, globals: &Globals, direction: Direction) -> anyhow::Result<ExitCode> {
        let verify = match &self.verify_url {
            Some(url) => Some(VerifyRequest {
                target: VerifyTarget::parse(url, &self.health_path)?,
                timeout: Duration::from_secs(self.verify_timeout),
            }),
            None => None,
        };
        let request = SwitchRequest {
            direction,
            targets: self.targets.into_targets(),
            reason: self.reason,
            dry_run: self.dry_run,
            confirmed: self.yes,
            verify,
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
        let (elb, ssm) = (Aws::new(&config), aws_sdk_ssm::Client::new(&config));
        if let Some(end) = self.until {
            if direction == Direction::Off {
                anyhow::bail!("--until goes with on: off ends maintenance now");
            }
            let until = Until {
                end,
                timezone: self.timezone,
            };
            let scheduler = Scheduler::new(&config);
            let t = &mut terminal;
            return match deadline::on_until(&elb, &ssm, &scheduler, &request, &until, t).await {
                Ok(report) => finish(globals.output, &report, report.switch.complaint()),
                Err(e) if e.outcome() == ops::Outcome::Refused => {
                    eprintln!("maintctl: refused: {e}; nothing was changed");
                    Ok(exit::code(e.outcome()))
                }
                Err(e) => Err(e.into()),
            };
        }
        let report = match ops::switch(&elb, &ssm, &request, &mut terminal).await {
            Ok(report) => report,
            Err(e) => return output::stopped(e),
        };
        finish(globals.output, &report, report.complaint())
    }
}

/// Prints the report once, and the complaint on stderr in text mode.
fn finish(
    out: Output,
    report: &impl ops::Report,
    complaint: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let code = output::emit(out, report)?;
    if out == Output::Text
        && let Some(message) = complaint
    {
        eprintln!("maintctl: {message}");
    }
    Ok(code)
}
