//! The terminal as the operator of a switch: it shows the plan (in text mode), says when it
//! waits for another writer's lease, and asks before anything changes.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use maintenance_engine::ops::{Confirmation, LeaseHolder, Operator, SwitchPlan};

use crate::{Output, output};

/// The operator at the terminal: shown the plan (in text mode), asked on stdin.
pub struct Terminal(pub Output);

impl Operator for Terminal {
    fn planned(&mut self, plan: &SwitchPlan) {
        for w in &plan.warnings {
            eprintln!("maintctl: warning: {w}");
        }
        if self.0 == Output::Text {
            output::text(plan);
        }
    }

    fn waiting(&mut self, holder: &LeaseHolder, wait: Duration) {
        eprintln!("maintctl: waiting up to {} s: {holder}", wait.as_secs());
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
