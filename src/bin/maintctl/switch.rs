//! `maintctl on` and `off`: flags → `ops::SwitchRequest` → `ops::switch` → the report, with the
//! terminal as the operator (it prints the plan, then asks before anything changes).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use maintenance_responder::listeners::Targets;
use maintenance_responder::ops::doctor::DoctorReport;
use maintenance_responder::ops::{self, Confirmation, Operator, SwitchPlan, SwitchRequest};
use maintenance_responder::planner::{Direction, Live};

use crate::bypass::LinkArgs;
use crate::status::TargetArgs;
use crate::verify::VerifyArgs;
use crate::{Globals, Output, output};

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
    #[command(flatten)]
    verify: VerifyArgs,
    #[command(flatten)]
    link: LinkArgs,
    /// on: no bypass link this window: the cookie bypass rules get a token that is neither
    /// stored nor shown (for when SSM cannot be written; old links stay dead).
    #[arg(long)]
    no_bypass_link: bool,
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
        preflight: Option<DoctorReport>,
        force: bool,
    ) -> anyhow::Result<ExitCode> {
        let verify = self.verify.request()?;
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
        };
        let mut terminal = Terminal(globals.output);
        let (listeners, ssm) = globals.listeners_and_ssm().await;
        let report = match ops::switch(&listeners, &ssm, &request, &mut terminal).await {
            Ok(report) => report,
            Err(e) => return output::stopped(e),
        };
        let code = output::emit(globals.output, &report)?;
        if globals.output == Output::Text
            && let Some(message) = report.complaint()
        {
            eprintln!("maintctl: {message}");
        }
        Ok(code)
    }
}

/// The operator at the terminal: shown the plan (in text mode), asked on stdin.
struct Terminal(Output);

impl Operator for Terminal {
    fn planned(&mut self, plan: &SwitchPlan) {
        for w in &plan.warnings {
            eprintln!("maintctl: warning: {w}");
        }
        if self.0 == Output::Text {
            output::text(plan);
        }
    }

    fn confirm(&mut self, plan: &SwitchPlan) -> Confirmation {
        let question = format!(
            "Switch maintenance {} for {} listener(s)?",
            plan.direction.to_string().to_uppercase(),
            plan.changing()
        );
        match ask(&question) {
            Some(true) => Confirmation::Confirmed,
            Some(false) => Confirmation::Declined,
            None => Confirmation::NoOneToAsk,
        }
    }
}

/// Asks on the terminal; `None` when there is no terminal to ask on.
fn ask(question: &str) -> Option<bool> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return Some(false);
    }
    Some(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
