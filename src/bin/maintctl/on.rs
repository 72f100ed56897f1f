//! `maintctl on`: the flags of `off` (`switch.rs`), and which page goes live.

use std::process::ExitCode;

use maintenance_responder::planner::{Direction, Live};

use crate::Globals;
use crate::switch::SwitchArgs;

/// Arguments of `maintctl on`: those of `off`, and which page goes live.
#[derive(Debug, clap::Args)]
pub struct OnArgs {
    #[command(flatten)]
    switch: SwitchArgs,
    /// Put the fallback rule live instead of the responder: the ALB's own fixed-response 503
    /// page, for when the Lambda cannot answer. No Retry-After, no no-store, and health checks
    /// through the listener get 503 too. `off` switches it off like the responder.
    #[arg(long)]
    fallback: bool,
}

impl OnArgs {
    /// Runs `maintctl on`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let live = match self.fallback {
            true => Live::Fallback,
            false => Live::Responder,
        };
        self.switch.run_live(globals, Direction::On, live).await
    }
}
