//! Who owns the maintenance, under the lease (issue #20): the owner record of every content
//! prefix of a switch (`crate::planner::owners`, `{prefix}/switch/owners`), read ([`read`])
//! and written ([`write`]) while the lease is held, and what the switch's owner does to it
//! ([`decide`]):
//!
//! - a switch on adds its owner (a person, a window, an alarm) — written **before** any rule
//!   moves, so that a switch killed part-way leaves an owned maintenance that its retry adopts;
//!   on listeners already on nothing moves and the owner joins;
//! - a window's end or an alarm's OK takes only its own owner away: the last one switches
//!   maintenance off, any other leaves it on (and finishes a switch left part-way on);
//! - a person's `off` takes every owner away;
//! - an event already handled, or older than the last one handled, is stale and changes
//!   nothing: a window's repeated or cancelled start or end, an alarm's late or retried event;
//! - an alarm on the responder ([`Owner::PageAlarm`]) changes only which page is live, and
//!   records itself as the fallback page's alarm before it moves a rule.
//!
//! Listeners whose maintenance rule names no content prefix have no record: their owners are
//! what the rule's tags say (`OwnerRecord::from_tags`), as for a maintenance switched on
//! before there was a record.

use jiff::Timestamp;

use crate::listeners::{Listeners, Targets, select};
use crate::ops::Outcome;
use crate::ops::coordinate::{LeaseGuard, SwitchParameters};
use crate::ops::lease::LeaseOptions;
use crate::ops::owner::Owner;
use crate::ops::switch::plan::Coordination;
use crate::ops::switch::plan::SwitchPlan;
use crate::planner::owners::{OwnerEntry, OwnerKind, OwnerRecord, WindowState, entry};
use crate::planner::{Direction, ListenerSnapshot, Live, State, short_listener};
use maintenance_core::deploy_names::parameters;
use maintenance_core::rfc3339::format as rfc3339;
use maintenance_responder::ssm::LockParameters;

/// The owner record's parameter under a content prefix.
pub fn parameter(prefix: &str) -> String {
    format!("{prefix}/{}", parameters::OWNERS)
}

/// The owner records of a switch's content prefixes, merged into one.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// The content prefixes (each gets the record written back).
    pub prefixes: Vec<String>,
    /// The records merged: owners of every prefix (and of the tags where there is no record).
    pub merged: OwnerRecord,
}

/// Reads the owner record of every content prefix of `plan`'s listeners.
pub async fn read(store: &impl LockParameters, plan: &SwitchPlan) -> Result<Records, String> {
    read_listeners(store, plan.listeners.iter().map(|p| (&p.snapshot, p.state))).await
}

/// Reads the owner record of every content prefix of `listeners` (each with its state): absent
/// ones, and listeners without a prefix, count the owners their maintenance rule's tags name
/// while it is on.
pub async fn read_listeners<'a>(
    store: &impl LockParameters,
    listeners: impl IntoIterator<Item = (&'a ListenerSnapshot, State)>,
) -> Result<Records, String> {
    let listeners: Vec<(&ListenerSnapshot, State)> = listeners.into_iter().collect();
    let mut prefixes: Vec<String> = listeners
        .iter()
        .filter_map(|(s, _)| s.content_prefix().map(str::to_string))
        .collect();
    prefixes.sort();
    prefixes.dedup();
    let mut merged = OwnerRecord::default();
    for prefix in &prefixes {
        let name = parameter(prefix);
        let raw = store
            .read(&name)
            .await
            .map_err(|e| format!("the owner record {name} could not be read: {e}"))?;
        if let Some((raw, _)) = raw {
            let record = OwnerRecord::parse(&raw).ok_or_else(|| {
                format!(
                    "the owner record {name} is not maintctl's (written by hand?): fix or \
                     delete it (aws ssm delete-parameter --name {name}); maintctl status shows \
                     who switched"
                )
            })?;
            merge(&mut merged, record);
        }
    }
    if merged.owners.is_empty() {
        for (s, _) in listeners.iter().filter(|(_, state)| *state != State::Off) {
            if let Some(m) = s.responder_rule() {
                for o in OwnerRecord::from_tags(&m.tags) {
                    merged.join(o);
                }
            }
        }
    }
    Ok(Records { prefixes, merged })
}

/// Adds `other` to `into`: its owners (each once), the fallback page's alarm, what was seen.
fn merge(into: &mut OwnerRecord, other: OwnerRecord) {
    for o in other.owners {
        into.join(o);
    }
    if into.fallback_alarm.is_none() {
        into.fallback_alarm = other.fallback_alarm;
    }
    if into.ending.is_none() {
        into.ending = other.ending;
    }
    for (id, w) in other.windows {
        let newer = into.windows.get(&id).is_none_or(|known| known.at < w.at);
        if newer {
            into.windows.insert(id, w);
        }
    }
    for (name, at) in other.alarms {
        let newer = into.alarms.get(&name).is_none_or(|known| *known < at);
        if newer {
            into.alarms.insert(name, at);
        }
    }
}

/// Writes `record` (pruned) under every content prefix of `records`.
pub async fn write(
    store: &impl LockParameters,
    records: &Records,
    record: &OwnerRecord,
    now: Timestamp,
) -> Result<(), String> {
    let mut record = record.clone();
    record.prune(now);
    let value = record.to_json();
    for prefix in &records.prefixes {
        let name = parameter(prefix);
        store
            .overwrite(&name, &value)
            .await
            .map_err(|e| format!("the owner record {name} could not be written: {e}"))?;
    }
    Ok(())
}

/// What a switch's owner does, decided under the lease from the listeners and the records.
#[derive(Debug, Clone)]
pub enum Decision {
    /// No rule moves: write `record` when there is one, and end with `outcome` and `message`.
    Stay {
        /// The record after the event.
        record: Option<OwnerRecord>,
        /// How the switch ends.
        outcome: Outcome,
        /// What that means.
        message: String,
    },
    /// The listeners go `direction`: write `before` before any rule moves, `after` once done.
    Switch {
        /// Which way the listeners go (an owner's end can leave others that want it on).
        direction: Direction,
        /// The record to write first.
        before: Option<OwnerRecord>,
        /// The record once switched.
        after: OwnerRecord,
        /// Why the listeners go another way than asked, if they do.
        note: Option<String>,
        /// An off that was interrupted once the managed rules were parked: the displaced rules
        /// go back although the listeners read as off (`crate::planner::plan_switch_finishing`).
        finish: bool,
    },
}

impl Decision {
    /// The listeners go on: `before` written first, `after` once switched.
    fn on(before: OwnerRecord, after: OwnerRecord) -> Self {
        Decision::Switch {
            direction: Direction::On,
            before: Some(before),
            after,
            note: None,
            finish: false,
        }
    }
}

/// Who the owner of a switch is, as a record names it (`None` for an alarm on the responder).
pub fn key(owner: &Owner, caller: &str) -> Option<(OwnerKind, String)> {
    match owner {
        Owner::Person => Some((OwnerKind::Person, caller.to_string())),
        Owner::Window(w) => Some((OwnerKind::Window, w.clone())),
        Owner::Alarm(a) => Some((OwnerKind::Alarm, a.clone())),
        Owner::PageAlarm { .. } => None,
    }
}

/// The owners in one line, for a message.
pub fn listed(owners: &[OwnerEntry]) -> String {
    if owners.is_empty() {
        return "none recorded".into();
    }
    owners
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Decides what the switch's owner does (see the module documentation). `plan` was made for
/// the request's direction; the records were read under the lease.
pub fn decide(
    plan: &SwitchPlan,
    coordination: &Coordination,
    records: &Records,
    now: Timestamp,
) -> Decision {
    let all = |s: State| plan.listeners.iter().all(|p| p.state == s);
    let mut record = records.merged.clone();
    if all(State::Off) {
        // Owners mean something only while maintenance is on (or part-way).
        record.owners.clear();
        record.fallback_alarm = None;
    }
    let Some((kind, name)) = key(&coordination.owner, &plan.caller) else {
        return decide_page(plan, coordination, record);
    };
    let on = plan.direction == Direction::On;
    if let Some(why) = record.stale(kind, &name, on, coordination.event_time) {
        return Decision::Stay {
            record: None,
            outcome: Outcome::NothingToDo,
            message: format!("stale: {why}; nothing was changed"),
        };
    }
    let mut after = record.clone();
    saw(&mut after, kind, &name, on, coordination, now);
    after.ending = None;
    if on {
        return decide_on(plan, coordination, record, after, (kind, name), now);
    }
    let ending = record.ending.is_some();
    if kind == OwnerKind::Person || all(State::Off) || ending {
        after.owners.clear();
        after.fallback_alarm = None;
        if all(State::Off) && !(ending && displaced_away(plan)) {
            return Decision::Stay {
                record: (kind != OwnerKind::Person || ending).then_some(after),
                outcome: Outcome::NothingToDo,
                message: "maintenance is already off for every listener: nothing to do".into(),
            };
        }
        return switch_off(&record, after, ending, format!("{kind} {name}"), now);
    }
    decide_release(plan, record, after, (kind, name), now)
}

/// Whether a rule `on` moved out of the way is still away from where it was.
fn displaced_away(plan: &SwitchPlan) -> bool {
    plan.listeners.iter().any(|p| {
        p.rules
            .iter()
            .any(|r| r.role == crate::planner::Role::App && r.home.is_some_and(|h| h != r.priority))
    })
}

/// The listeners go off: the record (`record` as read, the event not yet noted as handled, so
/// that a retry is not stale) says so before any rule moves — an off under way, without
/// owners, which the next writer finishes should this one stop — and `after` once done.
/// `unfinished`: an off that was interrupted, finished now (the rules it moved out of the way go
/// back even on listeners that read as off).
fn switch_off(
    record: &OwnerRecord,
    after: OwnerRecord,
    unfinished: bool,
    who: String,
    now: Timestamp,
) -> Decision {
    let mut before = record.clone();
    before.owners.clear();
    before.fallback_alarm = None;
    before.ending = Some(format!("{who} since {}", rfc3339(now)));
    Decision::Switch {
        direction: Direction::Off,
        before: Some(before),
        after,
        note: unfinished.then(|| {
            "an off was interrupted: it is finished now, the application's rules it had moved \
             out of the way back where they were"
                .to_string()
        }),
        finish: unfinished,
    }
}

/// Notes the event as handled in `after`: a window's start or end, an alarm's state change.
fn saw(
    after: &mut OwnerRecord,
    kind: OwnerKind,
    name: &str,
    on: bool,
    coordination: &Coordination,
    now: Timestamp,
) {
    match kind {
        OwnerKind::Window => {
            let state = if on {
                WindowState::Started
            } else {
                WindowState::Ended
            };
            let until = coordination.content.as_ref().map(|c| c.end.as_str());
            after.saw_window(name, state, now, until);
        }
        OwnerKind::Alarm => {
            if let Some(at) = coordination.event_time {
                after.saw_alarm(name, at);
            }
        }
        OwnerKind::Person => {}
    }
}

/// A switch on: the owner joins; the listeners go on unless they are.
fn decide_on(
    plan: &SwitchPlan,
    coordination: &Coordination,
    record: OwnerRecord,
    mut after: OwnerRecord,
    (kind, name): (OwnerKind, String),
    now: Timestamp,
) -> Decision {
    let reason = plan.reason.as_deref().unwrap_or_default();
    let until = coordination.content.as_ref().map(|c| c.end.as_str());
    let known = record.owns(kind, &name);
    let others = record.owners.clone();
    if !after.join(entry(kind, &name, now, &plan.caller, reason, until)) {
        return Decision::Stay {
            record: None,
            outcome: Outcome::Refused,
            message: format!(
                "refused: the maintenance has {} owners already, as many as it keeps ({}); \
                 nothing was changed: end some first (maintctl status lists them)",
                others.len(),
                listed(&others)
            ),
        };
    }
    // A window or an alarm joins a maintenance on everywhere as it is (whichever page is
    // live); a person's `on` (or `on --fallback`) may still change the page.
    let settled = match coordination.owner {
        Owner::Person => plan.changing() == 0,
        _ => plan.listeners.iter().all(|p| p.state == State::On),
    };
    if settled {
        return Decision::Stay {
            record: Some(after),
            outcome: Outcome::NothingToDo,
            message: joined(&coordination.owner, &name, known, &others),
        };
    }
    let mut before = record;
    before.join(entry(kind, &name, now, &plan.caller, reason, until));
    before.ending = None;
    Decision::on(before, after)
}

/// The message of an owner that found maintenance on everywhere.
fn joined(owner: &Owner, name: &str, known: bool, others: &[OwnerEntry]) -> String {
    if known {
        return format!(
            "maintenance is already on for every listener ({owner} is among its owners): \
             nothing to do"
        );
    }
    let with = listed(others);
    match owner {
        Owner::Person => format!(
            "maintenance is already on for every listener; you ({name}) are now among its \
             owners (with {with}): it stays on until every owner has let go or a person \
             switches it off; no rule was moved"
        ),
        Owner::Window(w) => format!(
            "maintenance is already on: window {w} joins its owners (with {with}); its end lets \
             go, and maintenance goes off when the last owner has; no rule was moved"
        ),
        _ => format!(
            "maintenance is already on: {owner} joins its owners (with {with}); it does not take \
             it over: maintenance goes off when the last owner has let go, or a person \
             switches it off; nothing to do"
        ),
    }
}

/// A window's end or an alarm's OK while maintenance is on (or part-way).
fn decide_release(
    plan: &SwitchPlan,
    record: OwnerRecord,
    mut after: OwnerRecord,
    (kind, name): (OwnerKind, String),
    now: Timestamp,
) -> Decision {
    let was_owner = after.release(kind, &name);
    let all_on = plan.listeners.iter().all(|p| p.state == State::On);
    let who = format!("{kind} {name}");
    if was_owner && after.owners.is_empty() {
        return switch_off(&record, after, false, who, now);
    }
    let message = if was_owner {
        format!(
            "{who} lets go of the maintenance, but it did not switch it on alone: it stays on \
             for its other owners ({}); maintctl off ends it",
            listed(&after.owners)
        )
    } else {
        format!(
            "maintenance is on, but {who} did not switch it on ({}): left on; switch it off by \
             hand if it should end",
            listed(&record.owners)
        )
    };
    if all_on {
        return Decision::Stay {
            record: Some(after),
            outcome: Outcome::NothingToDo,
            message,
        };
    }
    let mut before = record;
    before.release(kind, &name);
    Decision::Switch {
        direction: Direction::On,
        before: Some(before),
        after,
        note: Some(format!(
            "{message}; the listeners were part-way (an interrupted switch), so they are \
             switched on again for those owners"
        )),
        finish: false,
    }
}

/// An alarm on the responder ([`Owner::PageAlarm`]): it changes which page is live only where
/// maintenance is on everywhere, and puts the responder's page back only where it put the
/// fallback page live (a person's `on --fallback` is left alone).
fn decide_page(plan: &SwitchPlan, coordination: &Coordination, record: OwnerRecord) -> Decision {
    let Owner::PageAlarm { alarm, live } = &coordination.owner else {
        unreachable!("decide_page is for alarms on the responder");
    };
    let stay = |outcome, message: String| Decision::Stay {
        record: None,
        outcome,
        message,
    };
    if let Some(why) = record.stale(OwnerKind::Alarm, alarm, true, coordination.event_time) {
        return stay(
            Outcome::NothingToDo,
            format!("stale: {why}; nothing was changed"),
        );
    }
    let mut after = record.clone();
    if let Some(at) = coordination.event_time {
        after.saw_alarm(alarm, at);
    }
    let states = |s: State| plan.listeners.iter().all(|p| p.state == s);
    if states(State::Off) {
        return Decision::Stay {
            record: Some(after),
            outcome: Outcome::NothingToDo,
            message: format!(
                "maintenance is off: alarm {alarm} watches the responder, which serves no page \
                 now; nothing to do"
            ),
        };
    }
    if !states(State::On) {
        return stay(Outcome::Refused, not_on_everywhere(plan, alarm));
    }
    let showing = |page: Live| {
        plan.listeners
            .iter()
            .all(|p| crate::planner::live(&p.rules) == Some(page))
    };
    if showing(*live) {
        return Decision::Stay {
            record: Some(after),
            outcome: Outcome::NothingToDo,
            message: format!("{live} is already live on every listener: nothing to do"),
        };
    }
    if *live == Live::Responder && !put_it_live(plan, &record, alarm) {
        return Decision::Stay {
            record: Some(after),
            outcome: Outcome::NothingToDo,
            message: format!(
                "alarm {alarm} is OK, but it did not put the fallback page live on listener {}: \
                 left as it is; maintctl on puts the responder's page back",
                fallback_live(plan).join(", ")
            ),
        };
    }
    // Before any rule moves: the record as read (this event not yet noted as handled, so that
    // its retry is not stale), with the alarm that puts the fallback page live.
    let mut before = record.clone();
    match live {
        Live::Fallback => before.fallback_alarm = Some(alarm.clone()),
        Live::Responder => {}
    }
    after.fallback_alarm = before
        .fallback_alarm
        .clone()
        .filter(|_| *live == Live::Fallback);
    Decision::on(before, after)
}

/// The listeners showing the fallback page.
fn fallback_live(plan: &SwitchPlan) -> Vec<String> {
    plan.listeners
        .iter()
        .filter(|p| crate::planner::live(&p.rules) == Some(Live::Fallback))
        .map(|p| short_listener(&p.snapshot.listener.arn).to_string())
        .collect()
}

/// Whether `alarm` put the fallback page live: the record says so, or (a maintenance from
/// before the record) every listener showing it has the alarm's tag.
fn put_it_live(plan: &SwitchPlan, record: &OwnerRecord, alarm: &str) -> bool {
    if let Some(recorded) = &record.fallback_alarm {
        return recorded == alarm;
    }
    let tag = crate::planner::tag_value(alarm);
    plan.listeners
        .iter()
        .filter(|p| crate::planner::live(&p.rules) == Some(Live::Fallback))
        .all(|p| {
            p.snapshot.maintenance_rule().is_some_and(|m| {
                m.tags
                    .get(maintenance_core::deploy_names::tags::FALLBACK_ALARM)
                    == Some(&tag)
            })
        })
}

/// Why an alarm on the responder refuses listeners that are not on everywhere.
fn not_on_everywhere(plan: &SwitchPlan, alarm: &str) -> String {
    let not_on: Vec<String> = plan
        .listeners
        .iter()
        .filter(|p| p.state != State::On)
        .map(|p| {
            format!(
                "listener {}: {}",
                short_listener(&p.snapshot.listener.arn),
                p.state
            )
        })
        .collect();
    format!(
        "refused: alarm {alarm} changes which page is live only where maintenance is on, and \
         it is not on everywhere ({}); nothing was changed: see maintctl status",
        not_on.join("; ")
    )
}

/// Whether a window's end (`end`, RFC 3339) may go on the page: no other owner's window ends
/// later (a start never shortens the end the page announces for a maintenance that lasts
/// longer).
pub fn end_is_latest(record: &OwnerRecord, window: &str, end: &str) -> bool {
    let at = |t: &str| maintenance_core::rfc3339::parse(t).ok();
    let Some(end) = at(end) else {
        return true;
    };
    record
        .owners
        .iter()
        .filter(|o| !o.is(OwnerKind::Window, window))
        .filter_map(|o| o.until.as_deref().and_then(at))
        .all(|other| other <= end)
}

/// Changes the owner record of an environment's listeners outside a switch (`maintctl schedule
/// cancel` and `extend`): under the lease of every content prefix (taken here, released
/// after), with the listeners read again once it is held. `change` gets the record (its owners
/// void while every listener is off) and whether maintenance is on (or part-way) anywhere, and
/// returns what to say. Returns that, and the warnings of releasing the leases.
pub async fn amend(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    targets: &Targets,
    holder: &str,
    doing: &str,
    change: impl FnOnce(&mut OwnerRecord, bool) -> Option<String>,
) -> Result<(Option<String>, Vec<String>), String> {
    let read = |e: crate::listeners::ListenersError| format!("reading the listeners failed: {e}");
    let first = select(client, targets).await.map_err(read)?;
    let prefixes = first
        .listeners
        .iter()
        .filter_map(|s| s.content_prefix().map(str::to_string));
    let options = LeaseOptions::default();
    let guard = LeaseGuard::take_prefixes(store, prefixes, holder, doing, &options, |_| {})
        .await
        .map_err(|e| format!("{e}"))?;
    let result = amend_held(client, store, targets, change).await;
    let (_, warnings) = guard.release(store).await;
    result.map(|said| (said, warnings))
}

/// [`amend`] once the leases are held.
async fn amend_held(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    targets: &Targets,
    change: impl FnOnce(&mut OwnerRecord, bool) -> Option<String>,
) -> Result<Option<String>, String> {
    let now_read = select(client, targets)
        .await
        .map_err(|e| format!("reading the listeners failed: {e}"))?;
    let states: Vec<(&ListenerSnapshot, State)> = now_read
        .listeners
        .iter()
        .map(|s| (s, s.state().unwrap_or(State::Between)))
        .collect();
    let on = states.iter().any(|(_, state)| *state != State::Off);
    let records = read_listeners(store, states).await?;
    let mut record = records.merged.clone();
    if !on {
        record.owners.clear();
        record.fallback_alarm = None;
    }
    let said = change(&mut record, on);
    write(store, &records, &record, Timestamp::now()).await?;
    Ok(said)
}
