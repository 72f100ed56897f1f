//! What the apply phase did ([`ApplyReport`]): per listener how it ended
//! ([`ListenerOutcome`]) and every rule's priority before and now ([`RulePriority`]), as both
//! `crate::ops::apply` and its undo (`crate::ops::undo`) fill it in.

use serde::Serialize;

use crate::listeners::ListenersError;
use crate::ops::Outcome;
use crate::planner::{Rule, rule_id, short_listener};

/// How one listener ended. Displayed as what it means for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListenerOutcome {
    /// Switched and verified.
    Applied,
    /// Already in the requested state; not touched.
    AlreadyDone,
    /// Not touched by this run.
    NotApplied,
    /// Switched (part-way), then put back exactly as it was.
    RolledBack,
    /// Neither as planned nor as before: see the priorities.
    Inconsistent,
}

impl std::fmt::Display for ListenerOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ListenerOutcome::Applied => "switched, read back as planned",
            ListenerOutcome::AlreadyDone => "already as requested, not touched",
            ListenerOutcome::NotApplied => "not changed",
            ListenerOutcome::RolledBack => "ROLLED BACK: exactly as before",
            ListenerOutcome::Inconsistent => "INCONSISTENT: needs a person",
        })
    }
}

/// A rule's priority before the run and as last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulePriority {
    /// Rule ARN.
    pub rule: String,
    /// Priority when planned (`None`: the rule did not exist).
    pub before: Option<u32>,
    /// Priority as last read (`None`: the rule is gone, or the listener could not be read).
    pub now: Option<u32>,
}

/// Where one listener stands after a switch.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerReport {
    /// Listener ARN.
    pub listener: String,
    /// How it ended.
    pub outcome: ListenerOutcome,
    /// What happened, when anything went wrong.
    pub message: Option<String>,
    /// Every rule's priority, before and now.
    pub priorities: Vec<RulePriority>,
}

/// The result of [`apply`](crate::ops::apply()). Displayed as one paragraph per listener (with the priority table
/// wherever a listener is not simply switched or untouched), then the warnings.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// Overall outcome.
    pub outcome: Outcome,
    /// Per listener, in plan order.
    pub listeners: Vec<ListenerReport>,
    /// Problems that did not change the outcome (e.g. recording the reason failed).
    pub warnings: Vec<String>,
}

/// Progress of the apply phase on one listener.
pub(crate) struct Progress {
    pub(crate) index: usize,
    /// Steps completed.
    pub(crate) completed: usize,
    /// The displaced-record tags as they were, if this run overwrote them.
    pub(crate) old_tags: Option<(String, Vec<(String, String)>)>,
}

/// Where the apply phase stopped: the listeners switched completely, the one it stopped on,
/// the error, and whether that was the displaced-rule record (not a call).
pub(crate) struct Stopped {
    pub(crate) done: Vec<Progress>,
    pub(crate) failed: Progress,
    pub(crate) error: ListenersError,
    pub(crate) at_record: bool,
}

/// Every rule's priority before the run and now (`now` `None`: the listener could not be
/// read), in priority order; rules created meanwhile come with no `before`.
pub(crate) fn priorities_table(before: &[Rule], now: Option<&[Rule]>) -> Vec<RulePriority> {
    let mut out: Vec<RulePriority> = before
        .iter()
        .map(|r| RulePriority {
            rule: r.arn.clone(),
            before: Some(r.priority),
            now: now
                .and_then(|n| n.iter().find(|x| x.arn == r.arn))
                .map(|x| x.priority),
        })
        .collect();
    for r in now.unwrap_or_default() {
        if !before.iter().any(|b| b.arn == r.arn) {
            out.push(RulePriority {
                rule: r.arn.clone(),
                before: None,
                now: Some(r.priority),
            });
        }
    }
    out.sort_by_key(|r| (r.before.or(r.now), r.now));
    out
}

impl std::fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for l in &self.listeners {
            writeln!(f, "listener {}: {}", short_listener(&l.listener), l.outcome)?;
            if let Some(m) = &l.message {
                writeln!(f, "  {m}")?;
            }
            let changed = l.priorities.iter().any(|r| r.before != r.now);
            if matches!(
                l.outcome,
                ListenerOutcome::Inconsistent | ListenerOutcome::RolledBack
            ) || changed && l.outcome != ListenerOutcome::Applied
            {
                write_priorities(f, &l.priorities)?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

fn write_priorities(f: &mut std::fmt::Formatter<'_>, rows: &[RulePriority]) -> std::fmt::Result {
    writeln!(f, "  {:<16}  {:>7}  {:>7}", "rule", "before", "now")?;
    for r in rows {
        let show = |p: Option<u32>| p.map_or("-".to_string(), |p| p.to_string());
        let mark = if r.before != r.now {
            "  <- changed"
        } else {
            ""
        };
        writeln!(
            f,
            "  {:<16}  {:>7}  {:>7}{mark}",
            rule_id(&r.rule),
            show(r.before),
            show(r.now)
        )?;
    }
    Ok(())
}
