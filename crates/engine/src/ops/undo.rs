//! Undoing a switch that stopped part-way (`roll_back`): this run's calls are taken back on
//! the listener that failed and on every listener already switched, newest first, but only
//! while they are intact (`crate::planner::plan_undo`); a call reported as failed is counted
//! as made when the listener shows it was. Every listener's report then says exactly where it
//! stands.

use crate::listeners::read_rules;
use crate::listeners::{Listeners, ListenersError};
use crate::ops::Outcome;
use crate::ops::apply::report::{
    ApplyReport, ListenerOutcome, Progress, RulePriority, Stopped, priorities_table,
};
use crate::ops::rule_tags::{add_tags_retried, tag_failure};
use crate::planner::{Planned, Rule, Step, plan_undo};

/// Undoes this run's changes after the apply phase stopped: first on the failed listener, then
/// on the listeners already switched, newest first. Returns the overall outcome and fills
/// each listener's report with where it stands.
pub(super) async fn roll_back(
    client: &impl Listeners,
    planned: &[Planned],
    stopped: Stopped,
    report: &mut ApplyReport,
) -> Outcome {
    let Stopped {
        done,
        failed,
        error,
        at_record,
    } = stopped;
    let p = &planned[failed.index];
    let total = p.plan.steps.len();
    let failed_step = p.plan.steps.get(failed.completed).filter(|_| !at_record);
    // The error names the call's arguments already; its cause is said once, after the moves.
    let cause = match &error {
        ListenersError::Call { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let what = match failed_step {
        Some(step) => format!(
            "call {} of {total} (SetRulePriorities moving {}) failed: {cause}",
            failed.completed + 1,
            step.moves
                .iter()
                .map(|m| format!("rule {} from {} to {}", m.rule, m.from, m.to))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!(
            "writing the record of displaced rules on the maintenance rule, which comes before \
             any rule is moved, failed: {}",
            tag_failure(&error)
        ),
    };
    // A rejected call changed nothing; one with an unknown outcome counts if it shows.
    let maybe_applied = failed_step.filter(|_| error.outcome_unknown());
    let undone = undo_listener(client, p, &failed, maybe_applied, &mut report.warnings).await;
    let touched = undone.moved;
    let concurrent = undone.priorities.iter().any(|r| r.before != r.now);
    let listener = &mut report.listeners[failed.index];
    listener.priorities = undone.priorities;
    if touched {
        listener.outcome = undone.outcome;
        listener.message = Some(match undone.problem {
            None => format!("{what}; every change on this listener was undone"),
            Some(problem) => format!("{what}; {problem}"),
        });
    } else {
        listener.outcome = ListenerOutcome::NotApplied;
        listener.message = Some(if concurrent {
            format!(
                "{what}; this run moved no rule, but the listener changed meanwhile (another \
                 switch at the same time?): check with maintctl status"
            )
        } else {
            format!("{what}; no rule was moved on this listener")
        });
    }
    let mut inconsistent = touched && undone.outcome == ListenerOutcome::Inconsistent;
    for progress in done.iter().rev() {
        inconsistent |= undo_switched(client, &planned[progress.index], progress, p, report).await;
    }
    if inconsistent {
        Outcome::Inconsistent
    } else if touched || !done.is_empty() {
        Outcome::RolledBack
    } else if concurrent {
        Outcome::Refused
    } else {
        Outcome::Failed
    }
}

/// Undoes a listener that was switched completely before `failed` stopped the run; true when
/// it could not be put back.
async fn undo_switched(
    client: &impl Listeners,
    switched: &Planned,
    progress: &Progress,
    failed: &Planned,
    report: &mut ApplyReport,
) -> bool {
    let undone = undo_listener(client, switched, progress, None, &mut report.warnings).await;
    let listener = &mut report.listeners[progress.index];
    listener.outcome = undone.outcome;
    listener.priorities = undone.priorities;
    listener.message = Some(match undone.problem {
        None => format!(
            "switched, then undone because listener {} failed",
            failed.snapshot.listener.arn
        ),
        Some(problem) => format!(
            "switched, but undoing it after listener {} failed did not work: {problem}",
            failed.snapshot.listener.arn
        ),
    });
    undone.outcome == ListenerOutcome::Inconsistent
}

/// Where one listener stands after an undo.
struct Undone {
    /// True when this run had moved rules on the listener (so there was something to undo).
    moved: bool,
    outcome: ListenerOutcome,
    priorities: Vec<RulePriority>,
    /// Why it is not back as it was, if it is not.
    problem: Option<String>,
}

impl Undone {
    /// A listener that could not be read, so where it stands is unknown.
    fn unreadable(p: &Planned, moved: bool, why: String) -> Self {
        Undone {
            moved,
            outcome: ListenerOutcome::Inconsistent,
            priorities: priorities_table(&p.rules, None),
            problem: Some(needs_person(why)),
        }
    }
}

fn needs_person(why: String) -> String {
    format!(
        "{why}; the listener needs a person: compare the priorities below with maintctl \
         status, then switch on or off again"
    )
}

/// Undoes one listener's applied steps (see [`plan_undo`]) and its record tags.
async fn undo_listener(
    client: &impl Listeners,
    p: &Planned,
    progress: &Progress,
    maybe_applied: Option<&Step>,
    warnings: &mut Vec<String>,
) -> Undone {
    let listener = &p.snapshot.listener.arn;
    let now = match read_rules(client, listener).await {
        Ok(now) => now,
        Err(e) => {
            let why = format!("reading the listener to undo failed: {e}");
            return Undone::unreadable(p, progress.completed > 0, why);
        }
    };
    let applied = applied_steps(p, progress, maybe_applied, &now);
    let mut problem = take_back(client, p, &applied, &now).await;
    // Nobody, not even this run, has moved anything yet.
    let untouched = p.rules.iter().all(|r| {
        now.iter()
            .any(|n| n.arn == r.arn && n.priority == r.priority)
    });
    let now = match read_rules(client, listener).await {
        Ok(now) => now,
        Err(e) => {
            let why = format!("reading the listener after undoing failed: {e}");
            return Undone::unreadable(p, !applied.is_empty(), why);
        }
    };
    // Every rule that still exists must be where it was, not only the ones this run knows it
    // moved: a call reported as failed may still have been carried out.
    let astray = astray(&p.rules, &now);
    if !astray.is_empty() && problem.is_none() {
        problem = Some(format!("not back as it was: {}", astray.join("; ")));
    }
    // The displaced-rule record goes back when the listener is back as it was. It stays when
    // the undo did not work (it is what lets a later `off` put the displaced rules back), and
    // when this run moved nothing but someone else did (a concurrent switch of the listener
    // wrote the same record and relies on it).
    let restore = if applied.is_empty() {
        untouched
    } else {
        problem.is_none()
    };
    if let Some((arn, old)) = &progress.old_tags
        && restore
        && let Err(e) = add_tags_retried(client, arn, old).await
    {
        warnings.push(format!(
            "listener {listener}: restoring the record of displaced rules on rule {arn} as it \
             was failed: {}; check it with maintctl status",
            tag_failure(&e)
        ));
    }
    Undone {
        moved: !applied.is_empty(),
        outcome: if problem.is_none() {
            ListenerOutcome::RolledBack
        } else {
            ListenerOutcome::Inconsistent
        },
        priorities: priorities_table(&p.rules, Some(&now)),
        problem: problem.map(needs_person),
    }
}

/// The steps this run made on a listener: the completed ones, and the one whose outcome is
/// unknown if all its rules are at its targets.
fn applied_steps(
    p: &Planned,
    progress: &Progress,
    maybe_applied: Option<&Step>,
    now: &[Rule],
) -> Vec<Step> {
    let mut applied: Vec<Step> = p.plan.steps[..progress.completed].to_vec();
    if let Some(step) = maybe_applied
        && step
            .moves
            .iter()
            .all(|m| now.iter().any(|r| r.arn == m.rule && r.priority == m.to))
    {
        applied.push(step.clone());
    }
    applied
}

/// Plans and makes the calls that take `applied` back; the problem, if that did not work.
async fn take_back(
    client: &impl Listeners,
    p: &Planned,
    applied: &[Step],
    now: &[Rule],
) -> Option<String> {
    let undo = match plan_undo(&p.rules, applied, now) {
        Ok(undo) => undo,
        Err(e) => return Some(format!("not undone: {e}")),
    };
    for step in &undo.steps {
        if let Err(e) = client.set_rule_priorities(&step.to_rule_priorities()).await {
            return Some(format!("undoing failed too: {e}"));
        }
    }
    None
}

/// Every rule of `before` that exists `now` at another priority, as `rule … is at …, was …`.
fn astray(before: &[Rule], now: &[Rule]) -> Vec<String> {
    before
        .iter()
        .filter_map(|r| {
            let n = now.iter().find(|n| n.arn == r.arn)?;
            (n.priority != r.priority)
                .then(|| format!("rule {} is at {}, was {}", r.arn, n.priority, r.priority))
        })
        .collect()
}
