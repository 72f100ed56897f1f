//! `maintctl schedule create|list|cancel|extend`: flags → `ops::schedule`'s requests → one
//! library call → the report.

use std::process::ExitCode;

use maintctl::schedules::Scheduler;
use maintenance_engine::listeners::Aws;
use maintenance_engine::ops::schedule::{self, CreateRequest, ScheduleError, WindowRequest};

use crate::status::ReasonArg;
use crate::{Globals, exit, output};

/// `maintctl schedule` subcommands.
#[derive(Debug, clap::Subcommand)]
#[command(
    after_help = "A window is two one-time EventBridge Scheduler schedules in the group \
    maintenance-ENVIRONMENT (deploy/ makes it). At its start the switch function switches \
    maintenance on and writes its end for the page; at its end it switches off what it switched on."
)]
pub enum ScheduleCommand {
    /// Schedule a maintenance window: on at --start, off at --end.
    Create(CreateArgs),
    /// The environment's windows, upcoming and running.
    List,
    /// Delete a window's schedules; its events go stale (its maintenance stays on, now yours).
    Cancel(WindowArgs),
    /// Move a window's end: its end schedule and the page's end time together.
    Extend(ExtendArgs),
}

/// Arguments of `schedule create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// When maintenance goes on: RFC 3339 (2026-11-22T04:00:00Z) or a local time in
    /// --timezone (2026-11-22T13:00).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    start: String,
    /// When it goes off (at most 7 days after the start).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    end: String,
    /// IANA time zone of local times, the schedules and the end time the page shows (UTC).
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
    #[command(flatten)]
    reason: ReasonArg,
    /// Print the schedules and create nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
}

/// Arguments of `schedule cancel` (and the window of `extend`).
#[derive(Debug, clap::Args)]
pub struct WindowArgs {
    /// The window's id (from schedule create or schedule list).
    #[arg(value_name = "WINDOW")]
    window: String,
    /// Print what would change and change nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
}

/// Arguments of `schedule extend` (without `--end`: clap's usage error, exit 2).
#[derive(Debug, clap::Args)]
pub struct ExtendArgs {
    #[command(flatten)]
    window: WindowArgs,
    /// The new end, RFC 3339 or a local time in --timezone (else the window's).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    end: String,
    /// The time zone of a local --end.
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
}

impl WindowArgs {
    fn request(self, env: String, end: Option<String>, timezone: Option<String>) -> WindowRequest {
        WindowRequest {
            environment: env,
            window: self.window,
            end,
            timezone,
            dry_run: self.dry_run,
        }
    }
}

impl ScheduleCommand {
    /// Runs the command.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let config = globals.aws.load().await;
        let (elb, scheduler) = (Aws::new(&config), Scheduler::new(&config));
        let ssm = aws_sdk_ssm::Client::new(&config);
        let Some(env) = globals.environment.clone() else {
            crate::globals::usage(
                "a window belongs to an environment: --environment NAME (-e) or \
                 MAINTCTL_ENVIRONMENT",
            );
        };
        let report = match self {
            Self::Create(a) => {
                let request = CreateRequest {
                    environment: env,
                    start: a.start,
                    end: a.end,
                    timezone: a.timezone,
                    reason: a.reason.text(),
                    dry_run: a.dry_run,
                };
                schedule::create(&elb, &scheduler, &request).await
            }
            Self::List => schedule::list(&scheduler, &env).await,
            Self::Cancel(w) => {
                schedule::cancel(&elb, &ssm, &scheduler, &w.request(env, None, None)).await
            }
            Self::Extend(a) => {
                let request = a.window.request(env, Some(a.end), a.timezone);
                schedule::extend(&elb, &ssm, &scheduler, &request).await
            }
        };
        finish(globals, report)
    }
}

type Report = Result<schedule::ScheduleReport, ScheduleError>;

/// Prints the report, or why nothing was changed.
fn finish(globals: &Globals, report: Report) -> anyhow::Result<ExitCode> {
    match report {
        Ok(report) => {
            let code = output::emit(globals.output, &report)?;
            if !report.outcome.went_well() {
                eprintln!("maintctl: {}", report.message);
            }
            Ok(code)
        }
        Err(e @ ScheduleError::Refused(_)) => {
            eprintln!("maintctl: refused: {e}; nothing was changed");
            Ok(exit::code(e.outcome()))
        }
        Err(e) => Err(e.into()),
    }
}
