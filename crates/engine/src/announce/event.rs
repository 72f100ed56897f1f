//! The switch event ([`SwitchEvent`]): what one switch did, built from its finished
//! [`SwitchReport`] (never from the plan alone), as the `detail` of the EventBridge event and
//! as one entry of the history. Its JSON is a public document (`docs/events.md`), pinned by
//! `tests/switching/events.rs`: fields are added, never renamed or removed.
//!
//! It never holds the bypass link's token: it is built from the plan's listeners, the apply
//! report's priorities and the closing message, never from `SwitchReport::bypass`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ops::apply::ListenerOutcome;
use crate::ops::gradual::GradualReport;
use crate::ops::{Outcome, Owner, SwitchReport, SwitchRequest};
use crate::planner::{Direction, Live};
use maintenance_core::deploy_names::events;

/// The version of the detail's schema: raised only when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// One switch, as it is announced and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchEvent {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When the switch ended (RFC 3339, UTC).
    pub at: String,
    /// The environment switched, when known (the request's, else the maintenance rules' tag).
    pub environment: Option<String>,
    /// `on` or `off`.
    pub direction: String,
    /// The page live in front of the site after an `on`: `responder` or `fallback`; `None`
    /// after an `off`.
    pub live: Option<String>,
    /// How it ended: `applied`, `refused`, `rolled-back`, `inconsistent`, `failed` (the names
    /// of `maintctl`'s `--output json` documents).
    pub outcome: String,
    /// What that means, in one sentence.
    pub message: String,
    /// Who switched.
    pub who: Who,
    /// Why (the reason given, or the schedule's or alarm's).
    pub reason: Option<String>,
    /// The window it belongs to (a schedule's start or end, `on --until`).
    pub window: Option<String>,
    /// The alarm that switched it.
    pub alarm: Option<String>,
    /// When the maintenance is due to end (the window's end), RFC 3339.
    pub deadline: Option<String>,
    /// Every listener the switch planned, with what changed on it.
    pub listeners: Vec<ListenerChange>,
}

/// Who switched: the identity that made the calls, and on whose behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    /// `person`, `window`, `alarm` or `page-alarm` (an alarm on the responder swapping the page).
    pub kind: String,
    /// The caller's identity (STS ARN: the person's, or the switch function's role), or
    /// `unknown`.
    pub caller: String,
    /// The window's id or the alarm's name; `None` for a person.
    pub name: Option<String>,
}

/// One listener: how it ended and every rule whose priority changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerChange {
    /// The listener's ARN.
    pub listener: String,
    /// How it ended (`applied`, `already-done`, `not-applied`, `rolled-back`, `inconsistent`),
    /// `planned` when the switch stopped before applying.
    pub outcome: String,
    /// The rules that moved: ARN, priority before and now.
    pub moved: Vec<Moved>,
}

/// A rule whose priority changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// The rule's ARN.
    pub rule: String,
    /// Its priority before the switch.
    pub before: Option<u32>,
    /// Its priority now.
    pub now: Option<u32>,
}

impl SwitchEvent {
    /// The event of a finished switch, or `None` when it is not one to announce: a dry run,
    /// nothing to do, a switch that stopped before applying anything (the person running it
    /// saw why) — except a refusal of a switch no one watched (a window's, an alarm's), which
    /// is announced as refused.
    pub fn of(report: &SwitchReport, request: &SwitchRequest, at: Timestamp) -> Option<Self> {
        if report.dry_run || report.outcome == Outcome::NothingToDo {
            return None;
        }
        let unattended = request.coordination.owner != Owner::Person;
        if report.applied.is_none() && !(unattended && report.outcome == Outcome::Refused) {
            return None;
        }
        let plan = &report.plan;
        let environment = request.targets.environment.clone().or_else(|| {
            plan.listeners
                .iter()
                .find_map(|p| p.snapshot.environment().map(str::to_string))
        });
        let listeners = plan
            .listeners
            .iter()
            .map(|p| listener_change(report, &p.snapshot.listener.arn))
            .collect();
        let owner = &request.coordination.owner;
        let live = match (&plan.direction, owner) {
            (Direction::Off, _) => None,
            (Direction::On, Owner::PageAlarm { live, .. }) => Some(*live),
            (Direction::On, _) => Some(plan.live),
        };
        Some(Self {
            schema_version: SCHEMA_VERSION,
            at: rfc3339(at),
            environment,
            direction: plan.direction.to_string(),
            live: live.map(live_name),
            outcome: report.outcome.name().to_string(),
            message: report.message.clone(),
            who: Who::of(owner, &plan.caller),
            reason: plan.reason.clone(),
            window: match owner {
                Owner::Window(w) => Some(w.clone()),
                _ => None,
            },
            alarm: match owner {
                Owner::Alarm(a) | Owner::PageAlarm { alarm: a, .. } => Some(a.clone()),
                _ => None,
            },
            deadline: request.coordination.content.as_ref().map(|c| c.end.clone()),
            listeners,
        })
    }

    /// The event of a switch no one watched that was refused before it was planned (an event
    /// for another environment, an alarm the function does not act on).
    pub fn refused(
        environment: Option<String>,
        direction: Option<Direction>,
        who: Who,
        reason: Option<String>,
        message: String,
        at: Timestamp,
    ) -> Self {
        let (window, alarm) = match who.kind.as_str() {
            "window" => (who.name.clone(), None),
            "alarm" | "page-alarm" => (None, who.name.clone()),
            _ => (None, None),
        };
        Self {
            schema_version: SCHEMA_VERSION,
            at: rfc3339(at),
            environment,
            direction: direction.map_or_else(|| "none".to_string(), |d| d.to_string()),
            live: None,
            outcome: Outcome::Refused.name().to_string(),
            message,
            who,
            reason,
            window,
            alarm,
            deadline: None,
            listeners: Vec::new(),
        }
    }

    /// The event's `detail-type`: [`events::REFUSED`] for a refusal, else [`events::SWITCHED`].
    pub fn detail_type(&self) -> &'static str {
        if self.outcome == Outcome::Refused.name() {
            events::REFUSED
        } else {
            events::SWITCHED
        }
    }

    /// The listeners' ARNs (the event's `resources`).
    pub fn resources(&self) -> Vec<String> {
        self.listeners.iter().map(|l| l.listener.clone()).collect()
    }
}

impl SwitchEvent {
    /// The event of a gradual return's start or abort (`crate::ops::gradual`): no rule moved,
    /// the listeners' outcome says how the admission rules' writes ended. `None` for a dry run
    /// and anything that changed nothing.
    pub fn of_return(report: &GradualReport, at: Timestamp) -> Option<Self> {
        let a = report.announcement.as_ref()?;
        if report.dry_run || report.outcome == Outcome::NothingToDo {
            return None;
        }
        let outcome = match report.outcome {
            Outcome::Done => "applied",
            Outcome::Refused => "refused",
            Outcome::RolledBack => "rolled-back",
            Outcome::Inconsistent => "inconsistent",
            _ => "failed",
        };
        let who = Who::of(&a.owner, &a.caller);
        Some(Self {
            schema_version: SCHEMA_VERSION,
            at: rfc3339(at),
            environment: Some(a.environment.clone()),
            direction: a.direction.to_string(),
            live: a.live.map(live_name),
            outcome: outcome.to_string(),
            message: report.message.clone(),
            alarm: match &a.owner {
                Owner::Alarm(name) => Some(name.clone()),
                _ => None,
            },
            who,
            reason: a.reason.clone(),
            window: None,
            deadline: a.deadline.clone(),
            listeners: a
                .listeners
                .iter()
                .map(|l| ListenerChange {
                    listener: l.clone(),
                    outcome: outcome.to_string(),
                    moved: Vec::new(),
                })
                .collect(),
        })
    }
}

impl Who {
    /// Who a switch for `owner` made by `caller` is.
    pub fn of(owner: &Owner, caller: &str) -> Self {
        let (kind, name) = match owner {
            Owner::Person => ("person", None),
            Owner::Window(w) => ("window", Some(w.clone())),
            Owner::Alarm(a) => ("alarm", Some(a.clone())),
            Owner::PageAlarm { alarm, .. } => ("page-alarm", Some(alarm.clone())),
        };
        Self {
            kind: kind.to_string(),
            caller: caller.to_string(),
            name,
        }
    }
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} {name} ({})", self.kind, self.caller),
            None => f.write_str(&self.caller),
        }
    }
}

fn listener_change(report: &SwitchReport, listener: &str) -> ListenerChange {
    let applied = report
        .applied
        .as_ref()
        .and_then(|a| a.listeners.iter().find(|l| l.listener == listener));
    match applied {
        Some(l) => ListenerChange {
            listener: listener.to_string(),
            outcome: listener_outcome(l.outcome).to_string(),
            moved: l
                .priorities
                .iter()
                .filter(|p| p.before != p.now)
                .map(|p| Moved {
                    rule: p.rule.clone(),
                    before: p.before,
                    now: p.now,
                })
                .collect(),
        },
        None => ListenerChange {
            listener: listener.to_string(),
            outcome: "planned".to_string(),
            moved: Vec::new(),
        },
    }
}

fn listener_outcome(outcome: ListenerOutcome) -> &'static str {
    match outcome {
        ListenerOutcome::Applied => "applied",
        ListenerOutcome::AlreadyDone => "already-done",
        ListenerOutcome::NotApplied => "not-applied",
        ListenerOutcome::RolledBack => "rolled-back",
        ListenerOutcome::Inconsistent => "inconsistent",
    }
}

fn live_name(live: Live) -> String {
    match live {
        Live::Responder => "responder",
        Live::Fallback => "fallback",
    }
    .to_string()
}

/// A time as the events write it: RFC 3339, UTC, whole seconds.
pub fn rfc3339(at: Timestamp) -> String {
    let whole = Timestamp::from_second(at.as_second()).unwrap_or(at);
    maintenance_core::rfc3339::format(whole)
}
