//! What a switch is asked ([`SwitchRequest`]), what it plans ([`SwitchPlan`], displayed as
//! one paragraph per listener), and whoever runs it ([`Operator`]: shown the plan, asked
//! before anything changes; [`Unattended`] says yes); how it shares the listeners with the
//! other writers ([`Coordination`]: the lease, who it is for, the window's content).

use serde::Serialize;

use crate::listeners::{Skipped, Targets};
use crate::ops::bypass::BypassPlan;
use crate::ops::lease::{LeaseHolder, LeaseOptions};
use crate::ops::owner::Owner;
use crate::ops::verify::VerifyRequest;
use crate::planner::{BypassOptions, Direction, Live, Planned, rule_id, tag_value};

/// A switch to make: which way, on which listeners, why, and how carefully.
#[derive(Debug, Clone)]
pub struct SwitchRequest {
    /// On or off.
    pub direction: Direction,
    /// The listeners.
    pub targets: Targets,
    /// Why: recorded on the maintenance rule with the caller's identity and the time.
    pub reason: Option<String>,
    /// Plan and change nothing.
    pub dry_run: bool,
    /// Already confirmed (`--yes`): the operator is not asked.
    pub confirmed: bool,
    /// After switching, probe the live endpoint.
    pub verify: Option<VerifyRequest>,
    /// How `on` prints the bypass link (or sets none).
    pub bypass: BypassOptions,
    /// Which page `on` puts live: the responder's (default) or the fallback rule's
    /// (`maintctl on --fallback`). `off` parks both.
    pub live: Live,
    /// What the caller's own checks found and it switches anyway (`maintctl on --force` past
    /// a failed preflight: `crate::ops::preflight::Preflight::gate`): shown as the plan's last
    /// warnings.
    pub warnings: Vec<String>,
    /// The lease, who the switch is for, and the window's content (issue #15).
    pub coordination: Coordination,
}

impl SwitchRequest {
    /// A switch nobody watches (a schedule, an alarm, a gradual return's last step): one
    /// environment's listeners, confirmed, written (no dry run), no probe afterwards, the bypass
    /// token set (`on`) or rotated (`off`) as by `maintctl` with the default link options (the
    /// switch function leaves the link out of its answer), and no caller's warnings (no
    /// preflight runs before it).
    pub fn unattended(
        direction: Direction,
        environment: &str,
        reason: String,
        live: Live,
        coordination: Coordination,
    ) -> Self {
        Self {
            direction,
            targets: Targets {
                environment: Some(environment.to_string()),
                ..Targets::default()
            },
            reason: Some(reason),
            dry_run: false,
            confirmed: true,
            verify: None,
            bypass: BypassOptions::default(),
            live,
            warnings: Vec::new(),
            coordination,
        }
    }
}

/// Every listener's plan for one switch, with the caller it will be recorded as. Displayed as
/// one paragraph per listener (every rule's priority now and after, the calls), the listeners
/// skipped, and a note when the reason will be recorded changed.
#[derive(Debug, Clone)]
pub struct SwitchPlan {
    /// On or off.
    pub direction: Direction,
    /// The page `on` puts live.
    pub live: Live,
    /// The reason asked for, as given.
    pub reason: Option<String>,
    /// Caller identity (STS ARN), or `unknown`.
    pub caller: String,
    /// One plan per selected listener.
    pub listeners: Vec<Planned>,
    /// Listeners looked at and left out.
    pub skipped: Vec<Skipped>,
    /// Problems that do not stop the switch (the caller could not be told, a rule the tags do
    /// not account for).
    pub warnings: Vec<String>,
    /// What the switch does with the bypass link's token.
    pub bypass: BypassPlan,
}

impl SwitchPlan {
    /// What the operator should know about how the switch is recorded: the reason as the tag
    /// will hold it, when that differs from what was given. In the text and in the JSON
    /// document alike.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(reason) = &self.reason
            && tag_value(reason) != *reason
        {
            notes.push(format!(
                "the reason will be recorded as {:?} (tag values allow letters, digits, spaces \
                 and _.:/=+-@, at most 256 characters)",
                tag_value(reason)
            ));
        }
        if self.changing() > 0 {
            notes.extend(self.bypass.notes(self.direction));
        }
        notes
    }

    /// The plan of a switch that moves no rule after all (who owns the maintenance decided
    /// so): no listener's plan makes a call.
    pub(super) fn settled(mut self) -> Self {
        for p in &mut self.listeners {
            p.plan.steps.clear();
            p.plan.displaced.clear();
        }
        self
    }

    /// How many listeners the switch changes.
    pub fn changing(&self) -> usize {
        self.listeners.iter().filter(|p| !p.plan.is_empty()).count()
    }
}

/// The operator's answer to "switch now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Go ahead.
    Confirmed,
    /// Do not.
    Declined,
    /// There is no one to ask (no terminal): do not.
    NoOneToAsk,
}

/// Whoever runs a switch: shown the plan once it is made, and asked before anything changes
/// (only when something will change, it is not a dry run and the request is not confirmed).
pub trait Operator {
    /// The plan, once made (before anything is asked or changed).
    fn planned(&mut self, _plan: &SwitchPlan) {}
    /// Whether to apply the plan.
    fn confirm(&mut self, plan: &SwitchPlan) -> Confirmation;
    /// Another writer holds a lease this switch needs: it waits up to `wait` (said once).
    fn waiting(&mut self, _holder: &LeaseHolder, _wait: std::time::Duration) {}
}

/// An operator that is shown nothing and always says yes: for callers with no one to ask.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unattended;

impl Operator for Unattended {
    fn confirm(&mut self, _plan: &SwitchPlan) -> Confirmation {
        Confirmation::Confirmed
    }
}

impl std::fmt::Display for SwitchPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.direction == Direction::On && self.live == Live::Fallback {
            writeln!(
                f,
                "page: the FALLBACK page (the ALB's fixed-response 503: no Lambda, no Retry-After, \
                 no no-store, and health checks get 503 too); the maintenance rule goes home"
            )?;
        }
        for p in &self.listeners {
            write_planned(f, p, self.direction)?;
        }
        for s in &self.skipped {
            writeln!(f, "{s}")?;
        }
        for note in self.notes() {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

/// One listener's plan: every rule's priority now and after, the calls, what is displaced.
fn write_planned(
    f: &mut std::fmt::Formatter<'_>,
    p: &Planned,
    direction: Direction,
) -> std::fmt::Result {
    let calls = p.plan.steps.len();
    let title = &p.snapshot.listener;
    if p.plan.is_empty() {
        writeln!(
            f,
            "listener {title}: maintenance is already {direction}, nothing to do"
        )?;
    } else {
        let s = if calls == 1 { "" } else { "s" };
        writeln!(
            f,
            "listener {title}: maintenance {} -> {direction} in {calls} call{s}",
            p.state
        )?;
    }
    let after = p.after();
    writeln!(f, "  {:<11}  {:<16}  priority", "role", "rule")?;
    let mut rows: Vec<_> = p.rules.iter().collect();
    rows.sort_by_key(|r| r.priority);
    for r in rows {
        let to = after
            .iter()
            .find(|a| a.arn == r.arn)
            .map_or(r.priority, |a| a.priority);
        let change = if to == r.priority {
            r.priority.to_string()
        } else {
            format!("{} -> {to}", r.priority)
        };
        writeln!(f, "  {:<11}  {:<16}  {change}", r.role, rule_id(&r.arn))?;
    }
    for (i, step) in p.plan.steps.iter().enumerate() {
        let moves: Vec<String> = step
            .moves
            .iter()
            .map(|m| format!("{} {} -> {}", rule_id(&m.rule), m.from, m.to))
            .collect();
        writeln!(
            f,
            "  call {}: SetRulePriorities {}",
            i + 1,
            moves.join(", ")
        )?;
    }
    if !p.plan.displaced.is_empty() {
        writeln!(
            f,
            "  {} app rule(s) move down to make room (same order); their priorities are \
             recorded on the maintenance rule and restored by off",
            p.plan.displaced.len()
        )?;
    }
    for n in &p.plan.notices {
        writeln!(f, "  note: {n}")?;
    }
    Ok(())
}

/// How a switch shares the listeners with the other writers.
#[derive(Debug, Clone, Default)]
pub struct Coordination {
    /// How the lease is taken.
    pub lease: LeaseOptions,
    /// Who the switch is made for.
    pub owner: Owner,
    /// For a switch on: the window's end and time zone, written for the page.
    pub content: Option<WindowContent>,
    /// When the event asking for the switch happened (an alarm's state change): an event not
    /// newer than the last one handled for its owner is stale (`crate::ops::owners`).
    pub event_time: Option<jiff::Timestamp>,
    /// The caller holds the leases of the listeners' content prefixes already (a gradual
    /// return's final `off`, `crate::ops::gradual`): the switch takes none and releases none.
    pub lease_held: bool,
}

/// A window's end and time zone, as the page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowContent {
    /// End time, RFC 3339 (already validated as `{prefix}/retry-after` takes it).
    pub end: String,
    /// IANA time zone the page shows the end in; `None` removes a previous window's.
    pub timezone: Option<String>,
}
