//! `maintctl status`: flags → `listeners::Targets` → `ops::status` (with each environment's
//! deadline and next window, `ops::deadline::status_with_windows`) → the report; and the
//! target flags `on` and `off` share.

use std::process::ExitCode;

use maintctl::schedules::Scheduler;
use maintenance_engine::listeners::{Aws, Targets};
use maintenance_engine::ops;
use maintenance_engine::planner::environment_name;

use crate::{Globals, output};

/// Which listeners to act on. Several options add up; `--environment` also filters.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Listener ARN (repeat for several, e.g. the HTTP and the HTTPS listener).
    #[arg(long = "listener", value_name = "ARN")]
    listeners: Vec<String>,
    /// Load balancer ARN: each of its listeners that has a maintenance rule (repeatable).
    #[arg(long = "load-balancer", value_name = "ARN")]
    load_balancers: Vec<String>,
    /// Only maintenance rules tagged with this environment; on its own, searches every load
    /// balancer in the region.
    #[arg(long, value_name = "NAME", value_parser = environment_name)]
    environment: Option<String>,
}

impl TargetArgs {
    /// The targets named.
    pub fn into_targets(self) -> Targets {
        Targets {
            listeners: self.listeners,
            load_balancers: self.load_balancers,
            environment: self.environment,
        }
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
        let targets = self.targets.into_targets();
        let config = globals.aws.load().await;
        let (elb, scheduler) = (Aws::new(&config), Scheduler::new(&config));
        let ssm = aws_sdk_ssm::Client::new(&config);
        match ops::deadline::status_with_windows(&elb, &ssm, &scheduler, &targets).await {
            Ok(report) => output::emit(globals.output, &report),
            Err(e) => output::stopped(e),
        }
    }
}
