//! `maintctl history`: the switches of an environment, newest first — when, which way, who,
//! why, the window or alarm, how it ended — from the history every writer appends to
//! (`maintenance_engine::announce::history`: one SSM parameter per content prefix).

use std::process::ExitCode;

use maintenance_engine::announce::history;
use maintenance_engine::listeners::Aws;

use crate::status::TargetArgs;
use crate::{Globals, output};

/// Arguments of `maintctl history`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Lists what maintctl on/off, on --until, the schedules and the alarms switched \
    (and the switches of a window or alarm that were refused), newest first. SSM keeps the last \
    100 switches of each content prefix."
)]
pub struct HistoryArgs {
    #[command(flatten)]
    targets: TargetArgs,
    /// How many switches to list.
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u16).range(1..=100))]
    limit: u16,
}

impl HistoryArgs {
    /// Runs `maintctl history`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let targets = self.targets.required(globals);
        let config = globals.aws.load().await;
        let (elb, ssm) = (Aws::new(&config), aws_sdk_ssm::Client::new(&config));
        match history::history(&elb, &ssm, &targets, usize::from(self.limit)).await {
            Ok(report) => output::emit(globals.output, &report),
            Err(e) => output::stopped(e),
        }
    }
}
