//! What a return command or step did ([`GradualReport`]), and what its announcement says
//! ([`Announcement`]: the caller announces it, `crate::announce::after_return`).

use serde::Serialize;

use crate::ops::owner::Owner;
use crate::ops::switch::{SwitchReport, SwitchRequest};
use crate::ops::{Outcome, Report};
use crate::planner::Live;
use crate::planner::return_plan::{AdmissionView, PlannedStep};

/// What API clients without cookies get during a return: said by every plan and in the docs.
pub const API_CLIENTS: &str = "clients that keep no cookies (API clients, most crawlers) are \
     never let through before the final step: they get the maintenance answer (503 with \
     Retry-After) until the final off";

/// One listener's admission rules, as planned or written.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerAdmission {
    /// The listener.
    pub listener: String,
    /// Its admission rules, the cookie's token hidden.
    pub rules: Vec<AdmissionView>,
}

/// What a return command or step did. Displayed as the plan (rules, steps, the end, API
/// clients), then what was written or deleted, the warnings and the closing message.
#[derive(Debug, Clone, Serialize)]
pub struct GradualReport {
    /// `off --gradual`, `return-step` or `abort`.
    pub command: &'static str,
    /// Nothing was written.
    pub dry_run: bool,
    /// The environment.
    pub environment: String,
    /// The return's id, when one is concerned.
    pub return_id: Option<String>,
    /// The admission rules (planned, created or deleted).
    pub listeners: Vec<ListenerAdmission>,
    /// The steps, the final `off` last.
    pub steps: Vec<PlannedStep>,
    /// The schedules created (or that would be) or deleted.
    pub schedules: Vec<String>,
    /// The share in force after this command, when a return is under way.
    pub share_percent: Option<u8>,
    /// What happens at the end.
    pub at_the_end: Option<String>,
    /// What API clients without cookies get.
    pub api_clients: Option<String>,
    /// The final step's switch, when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switch: Option<Box<SwitchReport>>,
    /// The request of that switch, for its announcement.
    #[serde(skip)]
    pub switch_request: Option<Box<SwitchRequest>>,
    /// What to announce and record, when the command changed something (or tried to).
    #[serde(skip)]
    pub announcement: Option<Announcement>,
    /// What did not stop the command.
    pub warnings: Vec<String>,
    /// How it ended.
    #[serde(serialize_with = "outcome_name")]
    pub outcome: Outcome,
    /// Its exit code.
    pub exit_code: u8,
    /// What that means.
    pub message: String,
}

fn outcome_name<S: serde::Serializer>(o: &Outcome, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(o.name())
}

impl GradualReport {
    pub(super) fn new(command: &'static str, environment: &str) -> Self {
        Self {
            command,
            dry_run: false,
            environment: environment.to_string(),
            return_id: None,
            listeners: Vec::new(),
            steps: Vec::new(),
            schedules: Vec::new(),
            share_percent: None,
            at_the_end: None,
            api_clients: None,
            switch: None,
            switch_request: None,
            announcement: None,
            warnings: Vec::new(),
            outcome: Outcome::Done,
            exit_code: 0,
            message: String::new(),
        }
    }

    pub(super) fn end(mut self, outcome: Outcome, message: impl Into<String>) -> Self {
        self.outcome = outcome;
        self.exit_code = outcome.exit_code();
        self.message = message.into();
        self
    }
}

impl Report for GradualReport {
    fn outcome(&self) -> Outcome {
        self.outcome
    }
}

impl std::fmt::Display for GradualReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(id) = &self.return_id {
            writeln!(f, "return {id} of environment {}", self.environment)?;
        }
        for l in &self.listeners {
            writeln!(f, "listener {}: admission rules", l.listener)?;
            for r in &l.rules {
                writeln!(
                    f,
                    "  priority {:<5} mirrors {:<16} {} -> forward {}",
                    r.priority,
                    r.mirrors,
                    r.conditions.join(" and "),
                    r.target_group
                )?;
            }
        }
        for s in &self.steps {
            let what = if s.share_percent == 100 {
                "final off: rules exactly as before on, admission rules and return state deleted"
                    .to_string()
            } else {
                format!("{} % of visitors let through", s.share_percent)
            };
            let how = s
                .schedule
                .as_deref()
                .map_or("now".to_string(), |n| format!("schedule {n}"));
            writeln!(f, "  step {} at {} ({how}): {what}", s.step, s.at)?;
        }
        if let Some(end) = &self.at_the_end {
            writeln!(f, "at the end: {end}")?;
        }
        if let Some(api) = &self.api_clients {
            writeln!(f, "note: {api}")?;
        }
        if let Some(switch) = &self.switch {
            write!(f, "{switch}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        writeln!(f, "{}", self.message)
    }
}

/// Why a return command stopped before it changed anything.
pub(super) fn refused(report: GradualReport, message: impl Into<String>) -> GradualReport {
    report.end(Outcome::Refused, format!("refused: {}", message.into()))
}

/// What a return's start or abort announces (no rule moved: its event's listeners are the ones
/// whose admission rules were written or deleted).
#[derive(Debug, Clone)]
pub struct Announcement {
    /// The environment.
    pub environment: String,
    /// `off` for a start, `on` for an abort.
    pub direction: crate::planner::Direction,
    /// The page live after it (an abort: the responder's).
    pub live: Option<Live>,
    /// Who it was for.
    pub owner: Owner,
    /// The caller's identity.
    pub caller: String,
    /// Why.
    pub reason: Option<String>,
    /// When the return ends (a start).
    pub deadline: Option<String>,
    /// The listeners' ARNs.
    pub listeners: Vec<String>,
    /// The content prefixes whose history records it.
    pub prefixes: Vec<String>,
}
