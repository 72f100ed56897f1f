//! `maintctl on`: the flags of `off` (`switch.rs`) and what only `on` takes: which page goes
//! live, the bypass link, the deadline (`until.rs`), and the preflight
//! (`ops::doctor::preflight`, then `Preflight::gate`) that runs first unless the fallback page
//! goes live: it refuses before anything is switched, unless `--force`.

use std::process::ExitCode;

use maintctl::probe::api::Lambda;
use maintenance_engine::ops::doctor::{self, DoctorRequest};
use maintenance_engine::ops::preflight::Preflight;
use maintenance_engine::planner::{Direction, Live};

use crate::bypass::LinkArgs;
use crate::switch::{OnOnly, SwitchArgs};
use crate::until::DeadlineArgs;
use crate::{Globals, output};

/// Arguments of `maintctl on`: those of `off`, which page goes live, the bypass link, the
/// deadline, and `--force`.
#[derive(Debug, clap::Args)]
pub struct OnArgs {
    #[command(flatten)]
    switch: SwitchArgs,
    /// Put the fallback rule live instead of the responder: the ALB's own fixed-response 503
    /// page, for when the Lambda cannot answer. No Retry-After, no no-store, and health checks
    /// through the listener get 503 too. `off` switches it off like the responder.
    #[arg(long)]
    fallback: bool,
    /// Switch even when the preflight fails (the responder does not answer with its 503 and
    /// 200, or the content is invalid); its failures are printed as warnings.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    link: LinkArgs,
    /// No bypass link this window: the cookie bypass rules get a token that is neither stored
    /// nor shown (for when SSM cannot be written; old links stay dead).
    #[arg(long)]
    no_bypass_link: bool,
    #[command(flatten)]
    deadline: DeadlineArgs,
}

impl OnArgs {
    /// Runs `maintctl on`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let live = match self.fallback {
            true => Live::Fallback,
            false => Live::Responder,
        };
        let bypass = self.link.options(globals, self.no_bypass_link)?;
        let deadline = self.deadline.deadline(globals);
        // The fallback page needs no Lambda: nothing the preflight checks would change it.
        let preflight: Option<Preflight> = match live {
            Live::Fallback => None,
            Live::Responder => {
                let request = DoctorRequest {
                    targets: self.switch.targets(globals),
                    health_path: self.switch.health_path(globals),
                };
                let config = globals.aws.load().await;
                let ssm = aws_sdk_ssm::Client::new(&config);
                let listeners = globals.listeners().await;
                match doctor::preflight(&listeners, &Lambda::new(&config), &ssm, &request).await {
                    Ok(report) => Some(report.into()),
                    Err(e) => return output::stopped(e),
                }
            }
        };
        // The preflight is this command's step: it refuses here, before anything is switched,
        // or (forced) hands the switch its failures as warnings.
        let gate = preflight.as_ref().map(|p| p.gate(self.force)).transpose();
        let warnings = match gate {
            Ok(warnings) => warnings.unwrap_or_default(),
            Err(e) => return output::stopped(e),
        };
        // A return under way is aborted first: everyone back on the page at once.
        if !self.switch.is_dry_run()
            && let Some(code) =
                crate::gradual::abort_first(globals, &self.switch, "maintctl on").await?
        {
            return Ok(code);
        }
        let on = OnOnly {
            live: Some(live),
            bypass,
            preflight,
            warnings,
            deadline,
        };
        self.switch.run_switch(globals, Direction::On, on).await
    }
}
