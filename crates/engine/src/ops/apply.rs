//! Applying planned switches safely ([`apply`]), the step between planning and the report that
//! `crate::ops::switch` runs, and tests run with injected failures:
//!
//! 1. re-read every listener and refuse if it changed since the plan was made;
//! 2. record the rules `on` displaces (a tag on the maintenance rule), then make the calls;
//! 3. if a call fails, undo this run's calls (`crate::ops::undo`) on this listener and on every
//!    listener already switched, and report exactly where each listener stands;
//! 4. re-read and verify, then record who switched, when and why (tags); `off` clears the
//!    displaced-rule record first, in a call of its own.
//!
//! The result is an [`ApplyReport`]: per listener how it ended ([`ListenerOutcome`]) and every
//! rule's priority before and now ([`RulePriority`]).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::listeners::{Listeners, ListenersError, read_rules};
use crate::ops::Outcome;
use crate::ops::owner::{Owner, owner_tags};
use crate::ops::rule_tags::{add_tags_retried, clear_command, tag_failure};
use crate::ops::undo::roll_back;

pub mod report;

use crate::planner::{
    Direction, Planned, Rule, RuleView, State, decode_displaced, displaced_keys, encode_displaced,
    rule_id, state, tag_value,
};
use maintenance_core::deploy_names::tags;
pub use report::{ApplyReport, ListenerOutcome, ListenerReport, RulePriority};
pub(super) use report::{Progress, Stopped, priorities_table};

/// Who switched, when and why: written as tags on each maintenance rule switched.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Record {
    /// Caller identity (STS ARN).
    pub by: String,
    /// RFC 3339 time.
    pub at: String,
    /// Free-text reason (may be empty).
    pub reason: String,
    /// Who owns the maintenance a switch on leaves (a person, a window, an alarm): what may
    /// end it (`crate::ops::coordinate`).
    pub owner: Owner,
}

impl Record {
    /// A record made now.
    pub fn now(by: &str, reason: &str) -> Self {
        Self {
            by: by.to_string(),
            at: maintenance_core::rfc3339::format(Timestamp::now()),
            reason: reason.to_string(),
            owner: Owner::Person,
        }
    }
}

/// Applies planned switches: re-check, record, call, and on failure undo; then verify and
/// record who, when and why. Returns `Err` only when a read fails before anything was written.
pub async fn apply(
    client: &impl Listeners,
    planned: &[Planned],
    direction: Direction,
    record: &Record,
) -> Result<ApplyReport, ListenersError> {
    let mut report = ApplyReport {
        outcome: Outcome::NothingToDo,
        listeners: planned.iter().map(untouched).collect(),
        warnings: Vec::new(),
    };
    let active: Vec<usize> = (0..planned.len())
        .filter(|&i| !planned[i].plan.is_empty())
        .collect();
    if active.is_empty() {
        return Ok(report);
    }
    // 1. Nothing is written unless every listener is exactly as planned.
    if !unchanged_since_planning(client, planned, &active, &mut report.listeners).await? {
        report.outcome = Outcome::Refused;
        return Ok(report);
    }
    // 2. Apply, listener by listener; on a failure, undo.
    if let Err(stopped) = switch_listeners(client, planned, &active, direction).await {
        report.outcome = roll_back(client, planned, stopped, &mut report).await;
        return Ok(report);
    }
    // 3. Verify, 4. record.
    report.outcome = Outcome::Done;
    for &i in &active {
        match read_back(client, &planned[i], direction, &mut report, i).await {
            ReadBack::Verified => {
                record_switch(client, &planned[i], direction, record, &mut report.warnings).await
            }
            ReadBack::Unread => {}
            ReadBack::Astray => report.outcome = Outcome::Inconsistent,
        }
    }
    Ok(report)
}

/// A listener's report before anything is done: already done, or not (yet) applied.
fn untouched(p: &Planned) -> ListenerReport {
    ListenerReport {
        listener: p.snapshot.listener.arn.clone(),
        outcome: if p.plan.is_empty() {
            ListenerOutcome::AlreadyDone
        } else {
            ListenerOutcome::NotApplied
        },
        message: None,
        priorities: priorities_table(&p.rules, Some(&p.rules)),
    }
}

/// Re-reads every listener to be switched; false (with the first change in its report) when
/// one is not exactly as planned.
async fn unchanged_since_planning(
    client: &impl Listeners,
    planned: &[Planned],
    active: &[usize],
    reports: &mut [ListenerReport],
) -> Result<bool, ListenersError> {
    for &i in active {
        let p = &planned[i];
        let now = read_rules(client, &p.snapshot.listener.arn).await?;
        if let Some(change) = describe_change(&p.rules, &now) {
            reports[i].message = Some(format!(
                "the listener changed since planning ({change}); nothing was changed: run the \
                 command again to plan from the current state"
            ));
            reports[i].priorities = priorities_table(&p.rules, Some(&now));
            return Ok(false);
        }
    }
    Ok(true)
}

/// Records the displaced rules and makes every call, listener by listener, until one fails.
async fn switch_listeners(
    client: &impl Listeners,
    planned: &[Planned],
    active: &[usize],
    direction: Direction,
) -> Result<(), Stopped> {
    let mut done: Vec<Progress> = Vec::new();
    for &i in active {
        let mut progress = Progress {
            index: i,
            completed: 0,
            old_tags: None,
        };
        if let Err((error, at_record)) =
            switch_listener(client, &planned[i], direction, &mut progress).await
        {
            return Err(Stopped {
                done,
                failed: progress,
                error,
                at_record,
            });
        }
        done.push(progress);
    }
    Ok(())
}

/// Switches one listener, counting the calls made in `progress`; the error says whether it
/// was the displaced-rule record that failed.
async fn switch_listener(
    client: &impl Listeners,
    p: &Planned,
    direction: Direction,
    progress: &mut Progress,
) -> Result<(), (ListenersError, bool)> {
    if direction == Direction::On && !p.plan.displaced.is_empty() {
        let old = record_displaced(client, p).await.map_err(|e| (e, true))?;
        progress.old_tags = Some(old);
    }
    for step in &p.plan.steps {
        client
            .set_rule_priorities(&step.to_rule_priorities())
            .await
            .map_err(|e| (e, false))?;
        progress.completed += 1;
    }
    Ok(())
}

/// Writes the displaced-rule record of an `on` plan on the maintenance rule; returns the
/// rule and the tags as they were, to put back should the switch be undone.
async fn record_displaced(
    client: &impl Listeners,
    p: &Planned,
) -> Result<(String, Vec<(String, String)>), ListenersError> {
    let m = p
        .snapshot
        .maintenance_rule()
        .expect("a plan implies a maintenance rule");
    // Keep what an interrupted switch recorded: those rules' first homes win.
    let mut entries: BTreeMap<String, u32> = decode_displaced(&m.tags).unwrap_or_default();
    entries.retain(|id, _| p.rules.iter().any(|r| rule_id(&r.arn) == id));
    for d in &p.plan.displaced {
        entries
            .entry(rule_id(&d.rule).to_string())
            .or_insert(d.home);
    }
    let new_tags = encode_displaced(&entries, &displaced_keys(&m.tags))
        .map_err(|e| ListenersError::Invalid(e.to_string()))?;
    let old: Vec<(String, String)> = new_tags
        .iter()
        .map(|(k, _)| (k.clone(), m.tags.get(k).cloned().unwrap_or_default()))
        .collect();
    add_tags_retried(client, &m.arn, &new_tags).await?;
    Ok((m.arn.clone(), old))
}

/// What reading a switched listener back showed.
enum ReadBack {
    /// As planned, in the requested state.
    Verified,
    /// It could not be read: counted as switched, with a warning, and not recorded.
    Unread,
    /// Not as planned or not in the requested state: the report says how.
    Astray,
}

/// Reads a switched listener back and checks it is as planned, in the requested state.
async fn read_back(
    client: &impl Listeners,
    p: &Planned,
    direction: Direction,
    report: &mut ApplyReport,
    i: usize,
) -> ReadBack {
    // Plans are checked by simulation when made, so this does not fail; were it to, the
    // state check below still decides.
    let expected = p.plan.apply_to(&p.rules).unwrap_or_default();
    let listener = &mut report.listeners[i];
    let now = match read_rules(client, &p.snapshot.listener.arn).await {
        Ok(now) => now,
        Err(e) => {
            listener.outcome = ListenerOutcome::Applied;
            report.warnings.push(format!(
                "listener {}: switched, but reading it back to verify failed: {e}; check it \
                 with maintctl status",
                p.snapshot.listener.arn
            ));
            return ReadBack::Unread;
        }
    };
    listener.priorities = priorities_table(&p.rules, Some(&now));
    let moved_ok = expected.iter().all(|e| {
        now.iter()
            .any(|n| n.arn == e.arn && n.priority == e.priority)
    });
    let wanted = match direction {
        Direction::On => State::On,
        Direction::Off => State::Off,
    };
    let state = state(&now);
    if !moved_ok || state != wanted {
        listener.outcome = ListenerOutcome::Inconsistent;
        listener.message = Some(format!(
            "every call succeeded, but reading the listener back shows maintenance {state} \
             and {}: someone else is changing it; check with maintctl status and switch \
             again",
            describe_change(&expected, &now).unwrap_or_else(|| "the rules as planned".into())
        ));
        return ReadBack::Astray;
    }
    listener.outcome = ListenerOutcome::Applied;
    ReadBack::Verified
}

/// Records who switched, when and why on the maintenance rule; for `off`, first clears the
/// displaced-rule record in a call of its own, so that neither can fail because of the other
/// (a tag quota is reached by new keys only, and the record's keys are never new). A failure
/// is a warning: the switch itself is done.
async fn record_switch(
    client: &impl Listeners,
    p: &Planned,
    direction: Direction,
    record: &Record,
    warnings: &mut Vec<String>,
) {
    let m = p
        .snapshot
        .maintenance_rule()
        .expect("a plan implies a maintenance rule");
    let listener = &p.snapshot.listener.arn;
    if direction == Direction::Off {
        clear_displaced(client, listener, m, warnings).await;
    }
    let record_tags = vec![
        (tags::STATE.to_string(), direction.to_string()),
        (tags::CHANGED_BY.to_string(), tag_value(&record.by)),
        (tags::CHANGED_AT.to_string(), tag_value(&record.at)),
        (tags::REASON.to_string(), tag_value(&record.reason)),
    ];
    let record_tags = [record_tags, owner_tags(&record.owner, direction, &m.tags)].concat();
    if let Err(e) = add_tags_retried(client, &m.arn, &record_tags).await {
        warnings.push(format!(
            "listener {listener}: maintenance is {direction}, but recording who, when and why \
             on rule {} failed: {}",
            m.arn,
            tag_failure(&e)
        ));
    }
}

/// Empties the displaced-rule record of a listener switched off, if it holds anything; says
/// plainly what a failure leaves behind and how to clear it by hand.
async fn clear_displaced(
    client: &impl Listeners,
    listener: &str,
    m: &RuleView,
    warnings: &mut Vec<String>,
) {
    let keys: Vec<String> = displaced_keys(&m.tags)
        .into_iter()
        .filter(|k| m.tags.get(k).is_some_and(|v| !v.is_empty()))
        .collect();
    if keys.is_empty() {
        return;
    }
    let clear: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), String::new())).collect();
    if let Err(e) = add_tags_retried(client, &m.arn, &clear).await {
        warnings.push(format!(
            "listener {listener}: maintenance is off, but clearing the record of displaced rules \
             on rule {} failed: {}; the record is out of date now: off leaves application rules \
             where they are, but the next on keeps the recorded priorities and its off would \
             move the rules there; clear it by hand: {}",
            m.arn,
            tag_failure(&e),
            clear_command(&m.arn, &keys)
        ));
    }
}

/// The first differences between two views of a listener, for messages.
fn describe_change(before: &[Rule], now: &[Rule]) -> Option<String> {
    let mut diffs = Vec::new();
    for b in before {
        match now.iter().find(|n| n.arn == b.arn) {
            None => diffs.push(format!("rule {} was deleted", b.arn)),
            Some(n) if n.priority != b.priority => diffs.push(format!(
                "rule {} moved from {} to {}",
                b.arn, b.priority, n.priority
            )),
            Some(n) if n != b => diffs.push(format!("rule {} was re-tagged", b.arn)),
            Some(_) => {}
        }
    }
    for n in now
        .iter()
        .filter(|n| !before.iter().any(|b| b.arn == n.arn))
    {
        diffs.push(format!("rule {} was created at {}", n.arn, n.priority));
    }
    if diffs.is_empty() {
        return None;
    }
    let more = diffs.len().saturating_sub(3);
    diffs.truncate(3);
    let mut text = diffs.join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    Some(text)
}
