//! `maintctl status`: flags → `listeners::Targets` → `ops::status` (with each environment's
//! deadline and next window, `ops::deadline::status_with_windows`) → the report; the target
//! flags `on` and `off` share; and `--reason`, one rule for every command that changes
//! production (`on`, `off`, `on --until`, `schedule create`): optional; when given, a usage
//! error (exit 2, nothing changed) unless `planner::window::check_reason` accepts it; when not,
//! the record says `planner::window::NO_REASON` rather than nothing or an invented one.

use std::process::ExitCode;

use maintctl::schedules::Scheduler;
use maintenance_engine::announce::{SwitchEvent, history};
use maintenance_engine::listeners::{Aws, Targets};
use maintenance_engine::ops::{self, gradual};
use maintenance_engine::planner::window::{NO_REASON, check_reason};

use crate::{Globals, output};

/// Which listeners to act on. Several options add up; the environment (`--environment`, a
/// global option) also filters, and its table in maintctl.toml gives them when no flag does.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Listener ARN (repeat for several, e.g. the HTTP and the HTTPS listener).
    #[arg(long = "listener", value_name = "ARN")]
    pub listeners: Vec<String>,
    /// Load balancer ARN: each of its listeners that has a maintenance rule (repeatable).
    #[arg(long = "load-balancer", value_name = "ARN")]
    pub load_balancers: Vec<String>,
}

impl TargetArgs {
    /// The targets named by the flags, else by the environment's table, filtered by the
    /// environment's tag.
    pub fn into_targets(self, globals: &Globals) -> Targets {
        let (listeners, load_balancers) = globals
            .selection
            .targets(self.listeners, self.load_balancers);
        Targets {
            listeners: listeners.value,
            load_balancers: load_balancers.value,
            environment: globals.environment.clone(),
        }
    }

    /// [`Self::into_targets`], where a command needs at least one target (a usage error, exit
    /// 2, otherwise).
    pub fn required(self, globals: &Globals) -> Targets {
        let targets = self.into_targets(globals);
        if targets.is_empty() {
            crate::globals::usage(
                "name the listeners: --listener ARN, --load-balancer ARN or --environment NAME \
                 (-e, or MAINTCTL_ENVIRONMENT; its table in maintctl.toml may list them)",
            );
        }
        targets
    }
}

/// Arguments of `maintctl status`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "With no option, shows every listener in the region that has a \
    maintenance rule."
)]
pub struct StatusArgs {
    #[command(flatten)]
    targets: TargetArgs,
}

impl StatusArgs {
    /// Runs `maintctl status`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let targets = self.targets.into_targets(globals);
        let config = globals.aws.load().await;
        let (elb, scheduler) = (Aws::new(&config), Scheduler::new(&config));
        let ssm = aws_sdk_ssm::Client::new(&config);
        let report =
            match ops::deadline::status_with_windows(&elb, &ssm, &scheduler, &targets).await {
                Ok(report) => report,
                Err(e) => return output::stopped(e),
            };
        let mut prefixes: Vec<String> = (report.status.listeners.iter())
            .filter_map(|l| l.maintenance.as_ref()?.content_prefix.clone())
            .collect();
        prefixes.sort();
        prefixes.dedup();
        let last_switch = history::last(&ssm, &prefixes).await.unwrap_or_else(|e| {
            eprintln!("maintctl: warning: the last switch is not shown: {e}");
            None
        });
        let envs = (report.status.listeners.iter())
            .filter_map(|l| l.maintenance.as_ref()?.environment.clone());
        let (returning, problems) = gradual::returning_all(&elb, &ssm, &scheduler, envs).await;
        output::warnings(&problems);
        let shown = WithLastSwitch {
            report,
            returning,
            last_switch,
        };
        output::emit(globals.output, &shown)
    }
}

/// The status, and the last switch of its listeners' history (`maintctl history`).
#[derive(serde::Serialize)]
struct WithLastSwitch {
    #[serde(flatten)]
    report: ops::deadline::StatusWithWindows,
    returning: Vec<gradual::Returning>,
    last_switch: Option<SwitchEvent>,
}

impl ops::Report for WithLastSwitch {
    fn outcome(&self) -> ops::Outcome {
        ops::Report::outcome(&self.report)
    }
}

impl std::fmt::Display for WithLastSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.report)?;
        self.returning.iter().try_for_each(|r| write!(f, "{r}"))?;
        if let Some(last) = &self.last_switch {
            write!(f, "last switch: ")?;
            history::write_entry(f, last)?;
        }
        Ok(())
    }
}

/// Why: the one `--reason` flag.
#[derive(Debug, Clone, clap::Args)]
pub struct ReasonArg {
    /// Why: recorded with your identity and the time on the rules (and the window), shown by
    /// status [default: "no reason given"].
    #[arg(long, value_name = "TEXT", value_parser = parse_reason)]
    reason: Option<String>,
}

impl ReasonArg {
    /// The reason to record: the one given, else [`NO_REASON`].
    pub fn text(&self) -> String {
        self.reason.clone().unwrap_or_else(|| NO_REASON.into())
    }
}

fn parse_reason(reason: &str) -> Result<String, String> {
    check_reason(reason).map(|()| reason.to_string())
}
