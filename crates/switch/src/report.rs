//! The switch function's answer to one event ([`EventReport`]): the JSON document `maintctl
//! on --output json` prints (`maintenance_engine::ops::SwitchReport`), with the event it answered
//! (`event`) and whether Lambda should try it again (`retry`); one log line per invocation
//! ([`EventReport::log`]).
//!
//! `retry` is true when the switch failed in a way that a later attempt, planned again from
//! the live listeners, can fix: an AWS error before anything changed, a rollback, a lease held
//! by another writer past the wait. The binary then returns an invocation error, so that
//! Lambda's retries of an asynchronous invocation (Scheduler's and the alarm's) and its
//! on-failure destination apply. Bad input, nothing to do and an inconsistent listener (it
//! needs a person) are answered, never retried.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::Invocation;
use maintenance_engine::ops::gradual::GradualReport;
use maintenance_engine::ops::{Error, Outcome, Report, SwitchReport};
use maintenance_engine::planner::Direction;

/// How one event ended.
#[derive(Debug, Clone)]
pub struct EventReport {
    /// The event as read (`None`: it could not be read).
    pub event: Option<Invocation>,
    /// The switch, when one was run.
    pub switch: Option<SwitchReport>,
    /// How it ended.
    pub outcome: Outcome,
    /// What that means.
    pub message: String,
    /// Whether a later attempt may succeed (see the module documentation).
    pub retry: bool,
    /// What went wrong telling about it (`maintenance_engine::announce`): its event not put on
    /// the bus, its history not written. They never change the outcome; each is logged.
    pub announcement_warnings: Vec<String>,
}

impl EventReport {
    /// Nothing was switched: refused, or nothing to do.
    pub fn stopped(event: Option<Invocation>, outcome: Outcome, message: String) -> Self {
        Self {
            event,
            switch: None,
            outcome,
            message,
            retry: false,
            announcement_warnings: Vec::new(),
        }
    }

    /// The switch stopped before it changed anything (no listener of the environment, a read
    /// that failed): no maintenance rule is refused, the rest failed and may be retried.
    pub fn failed(event: Invocation, error: &Error) -> Self {
        let chain = maintenance_core::causes::chain(error);
        let outcome = match error {
            Error::NoListener { .. } => Outcome::Refused,
            other => other.outcome(),
        };
        Self {
            event: Some(event),
            switch: None,
            outcome,
            message: format!("{chain}; nothing was changed"),
            retry: outcome == Outcome::Failed,
            announcement_warnings: Vec::new(),
        }
    }

    /// A gradual return's step or abort was run (`maintenance_engine::ops::gradual`): its
    /// final step's switch, when there was one, is the answer's switch.
    pub fn gradual(event: Invocation, report: GradualReport) -> Self {
        let retry = matches!(report.outcome, Outcome::Failed | Outcome::RolledBack);
        let mut answer = match report.switch {
            Some(switch) => Self::switched(event, *switch),
            None => Self::stopped(Some(event), report.outcome, String::new()),
        };
        answer.outcome = report.outcome;
        answer.message = report.message;
        answer.retry = retry;
        answer.announcement_warnings = report.warnings;
        answer
    }

    /// A switch was run. The bypass links are left out (they hold the token, and this answer
    /// is logged and kept by Lambda's destinations): a note says where to get them.
    pub fn switched(event: Invocation, mut report: SwitchReport) -> Self {
        if let Some(bypass) = &mut report.bypass
            && !bypass.links.is_empty()
        {
            bypass.links.clear();
            bypass.notes.push(
                "the bypass link is not in the switch function's answer (it holds the token): \
                 maintctl bypass link --environment NAME prints it"
                    .into(),
            );
        }
        let mut message = report.message.clone();
        if let Invocation::SwitchRequest(s) = &event
            && s.direction == Direction::Off
            && report.outcome == Outcome::NothingToDo
            && report.message.starts_with("maintenance is already off")
            && report
                .plan
                .listeners
                .iter()
                .all(|p| p.state == maintenance_engine::planner::State::Off)
        {
            message = format!(
                "the end of window {}: maintenance is already off (ended by hand?), nothing to \
                 do",
                s.window
            );
        }
        let retry = matches!(report.outcome, Outcome::Failed | Outcome::RolledBack)
            || report.lease_held_by.is_some();
        Self {
            event: Some(event),
            outcome: report.outcome,
            switch: Some(report),
            message,
            retry,
            announcement_warnings: Vec::new(),
        }
    }

    /// The answer as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"outcome":"failed","message":"the report could not be encoded: {e}"}}"#)
        })
    }

    /// One log line: ERROR when it went wrong, WARN when refused, INFO otherwise.
    pub fn log(&self, request_id: &str) {
        let kind = match &self.event {
            Some(Invocation::SwitchRequest(_)) => "switch-request",
            Some(Invocation::Alarm(_)) => "alarm",
            Some(Invocation::ReturnStep(_)) => "return-step",
            None => "unreadable",
        };
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    event = kind,
                    outcome = self.outcome.name(),
                    exit_code = self.outcome.exit_code(),
                    retry = self.retry,
                    request_id,
                    detail = self.message.as_str(),
                    "switch"
                )
            };
        }
        match self.outcome {
            Outcome::Done | Outcome::NothingToDo => line!(info),
            Outcome::Refused => line!(warn),
            _ => line!(error),
        }
        for warning in &self.announcement_warnings {
            tracing::warn!(
                request_id,
                warning = warning.as_str(),
                "switch not announced"
            );
        }
    }
}

impl Report for EventReport {
    fn outcome(&self) -> Outcome {
        self.outcome
    }
}

impl Serialize for EventReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut doc = match &self.switch {
            Some(report) => {
                match serde_json::to_value(report).map_err(serde::ser::Error::custom)? {
                    Value::Object(map) => map,
                    _ => Map::new(),
                }
            }
            None => Map::new(),
        };
        doc.insert(
            "event".into(),
            serde_json::to_value(&self.event).map_err(serde::ser::Error::custom)?,
        );
        doc.insert("outcome".into(), self.outcome.name().into());
        doc.insert("exit_code".into(), self.outcome.exit_code().into());
        doc.insert("message".into(), self.message.clone().into());
        doc.insert("retry".into(), self.retry.into());
        doc.insert(
            "announcement_warnings".into(),
            self.announcement_warnings.clone().into(),
        );
        doc.serialize(s)
    }
}

impl std::fmt::Display for EventReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(report) = &self.switch {
            write!(f, "{}", report.plan)?;
            write!(f, "{report}")?;
        }
        writeln!(f, "{}: {}", self.outcome.name(), self.message)
    }
}
