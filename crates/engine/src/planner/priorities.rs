//! The listener-rule priority planner behind `maintctl on` and `off`. Pure: no I/O.
//!
//! A listener is given as a snapshot of its rules ([`Rule`]: ARN, priority, [`Role`] and the
//! priority it returns to when maintenance goes off). The listener's default rule is never part
//! of a snapshot, so no plan can touch it. [`plan_on`] and [`plan_off`] turn a snapshot into a
//! [`Plan`]: a sequence of [`Step`]s, each exactly one `SetRulePriorities` call.
//!
//! # The rules every plan keeps
//!
//! - **Strictly valid calls.** A call only moves rules into priorities that no rule holds at the
//!   moment of the call, counting the rules moved by that same call; targets are distinct,
//!   different from the rule's own priority and inside 1..=50000. Swaps inside one call are
//!   never used: the API reference only implies they work and the emulator rejects them, so a
//!   cycle between managed rules goes through a free priority instead.
//! - **Other rules keep their relative order, in every intermediate state**, not only at the
//!   end: other rules are moved one per call, in an order that never lets one overtake another.
//!   The managed rules (maintenance and bypass) move together, in one call where possible.
//! - **Fewest displaced rules.** When there is not enough room above the first other rule,
//!   `on` shifts the shortest prefix of other rules that makes room, each by as little as
//!   possible, and never into a managed rule's parked priority (so `off` can always go home).
//!   The displaced rules and their original priorities are part of the plan
//!   ([`Plan::displaced`]); the caller records them so that `off` puts them back exactly.
//! - Every plan is checked by simulation while it is built ([`Plan::simulate`] uses the same
//!   check), so an invalid plan is an error, never a call.
//!
//! `on` ends with the bypass rules (in their current order) and then the maintenance rule
//! directly above the first other rule.
//!
//! **The fallback rule** ([`Role::Fallback`], a fixed-response 503 that needs no Lambda) is a
//! managed rule too, parked like the others; it stays parked unless `on` is asked for it
//! ([`Live::Fallback`], [`plan_on_live`]), and then it takes the maintenance rule's place while
//! the maintenance rule goes home. Switching from one page to the other never lets a request
//! reach the application in between: the rule that answers now stays above every other rule
//! (directly after the one that takes over) until the last call, which parks it. `off` parks
//! every managed rule, the fallback rule included. `off` moves the managed rules to their parked
//! priorities, then the displaced rules back to where they were; if that is impossible (a rule
//! created meanwhile holds one of those priorities) they stay where they are, which routes
//! traffic the same way because their order is unchanged, and the plan says so
//! ([`Notice::NotRestored`]). `off` on a listener that is already off moves nothing, not even
//! a rule a left-over record names ([`Notice::StaleRecord`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

mod error;
mod layout;
mod plan;
mod rules;

pub use error::PlanError;
use layout::Layout;
pub use plan::{Displaced, Move, Notice, Plan, PlanKind, Step};
pub use rules::{Direction, Live, MAX_PRIORITY, MIN_PRIORITY, Role, Rule, State};

/// Checks a snapshot: priorities and homes in range, no duplicate rules or priorities, at most
/// one maintenance rule and one fallback rule, no bypass or fallback rule without a maintenance
/// rule.
pub fn check(rules: &[Rule]) -> Result<(), PlanError> {
    check_within(rules, MAX_PRIORITY)
}

fn check_within(rules: &[Rule], max: u32) -> Result<(), PlanError> {
    Layout::new(rules, max)?;
    let maintenance: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.role == Role::Maintenance)
        .collect();
    if maintenance.len() > 1 {
        return Err(PlanError::SeveralMaintenanceRules {
            rules: maintenance.iter().map(|r| r.arn.clone()).collect(),
        });
    }
    if maintenance.is_empty()
        && let Some(bypass) = rules.iter().find(|r| r.role == Role::Bypass)
    {
        return Err(PlanError::BypassWithoutMaintenance {
            rule: bypass.arn.clone(),
        });
    }
    let fallbacks: Vec<&Rule> = rules.iter().filter(|r| r.role == Role::Fallback).collect();
    if fallbacks.len() > 1 {
        return Err(PlanError::SeveralFallbackRules {
            rules: fallbacks.iter().map(|r| r.arn.clone()).collect(),
        });
    }
    if maintenance.is_empty()
        && let Some(fallback) = fallbacks.first()
    {
        return Err(PlanError::FallbackWithoutMaintenance {
            rule: fallback.arn.clone(),
        });
    }
    for rule in rules {
        if let Some(home) = rule.home
            && !(MIN_PRIORITY..=max).contains(&home)
        {
            return Err(PlanError::OutOfRange {
                rule: rule.arn.clone(),
                priority: home,
            });
        }
    }
    Ok(())
}

/// Whether maintenance is on, off, in between, or not attached. On: the bypass rules (in
/// order), then the first of the maintenance and fallback rules, before every other rule.
pub fn state(rules: &[Rule]) -> State {
    let Ok((managed, others)) = split(rules) else {
        return State::Unmanaged;
    };
    if managed.is_empty() {
        State::Unmanaged
    } else if is_on(&answering(&managed, fallback_rule(rules)), &others) {
        State::On
    } else if managed
        .iter()
        .copied()
        .chain(fallback_rule(rules))
        .all(|r| r.home == Some(r.priority))
    {
        State::Off
    } else {
        State::Between
    }
}

/// Which page answers while maintenance is on; `None` when it is not on.
pub fn live(rules: &[Rule]) -> Option<Live> {
    if state(rules) != State::On {
        return None;
    }
    let m = rules.iter().find(|r| r.role == Role::Maintenance)?;
    Some(match fallback_rule(rules) {
        Some(f) if f.priority < m.priority => Live::Fallback,
        _ => Live::Responder,
    })
}

/// The fallback rule, if there is one (the first, should there be several).
fn fallback_rule(rules: &[Rule]) -> Option<&Rule> {
    rules.iter().find(|r| r.role == Role::Fallback)
}

/// The bypass rules and the page rule that answers first: the maintenance rule, or the
/// fallback rule when it comes before it. (`managed` is bypass rules, then maintenance.)
fn answering<'a>(managed: &[&'a Rule], fallback: Option<&'a Rule>) -> Vec<&'a Rule> {
    let mut out = managed.to_vec();
    if let (Some(f), Some(m)) = (fallback, out.last_mut())
        && f.priority < m.priority
    {
        *m = f;
    }
    out
}

/// Plans maintenance on: the bypass rules (in their current order) and then the maintenance
/// rule, directly above the first other rule, displacing the fewest other rules when there is
/// no room. Empty when maintenance is already on.
pub fn plan_on(rules: &[Rule]) -> Result<Plan, PlanError> {
    plan_on_within(rules, MAX_PRIORITY, Live::Responder)
}

/// [`plan_on`] with the page that goes live: the maintenance rule, or the fallback rule (which
/// then takes the maintenance rule's place, and the maintenance rule goes home). Empty when
/// that page is already live and the other one parked.
pub fn plan_on_live(rules: &[Rule], live: Live) -> Result<Plan, PlanError> {
    plan_on_within(rules, MAX_PRIORITY, live)
}

/// Plans maintenance off: the managed rules back to their parked priorities, then the rules
/// `on` displaced back to theirs. Empty when that is already so.
pub fn plan_off(rules: &[Rule]) -> Result<Plan, PlanError> {
    plan_off_within(rules, MAX_PRIORITY, false)
}

/// [`plan_off`] for a listener whose `off` was interrupted after the managed rules were parked
/// (the switching side recorded that an off was under way): the rules the record names go back
/// too, although the listener reads as off. Without that record, a listener that reads as off
/// never has its application rules moved ([`Notice::StaleRecord`]).
pub fn plan_off_finishing(rules: &[Rule]) -> Result<Plan, PlanError> {
    plan_off_within(rules, MAX_PRIORITY, true)
}

/// Plans taking back the steps of another plan that were applied (`applied`, in order) to the
/// snapshot `before`, given the listener as it is now (`current`).
///
/// Only this run's own moves are undone, and only while they are intact: if a rule this run
/// moved is somewhere else now, someone else is changing the listener and the undo is refused
/// ([`PlanError::Diverged`]) rather than fight them. A moved rule that was deleted meanwhile
/// is skipped. The undo is checked against `current` like any plan.
pub fn plan_undo(before: &[Rule], applied: &[Step], current: &[Rule]) -> Result<Plan, PlanError> {
    let done = Plan {
        kind: PlanKind::Undo,
        steps: applied.to_vec(),
        displaced: Vec::new(),
        notices: Vec::new(),
    };
    let expected = done.apply_to(before)?;
    let now: HashMap<&str, u32> = current
        .iter()
        .map(|r| (r.arn.as_str(), r.priority))
        .collect();
    let moved: HashSet<&str> = done.moves().map(|m| m.rule.as_str()).collect();
    let mut gone = HashSet::new();
    for rule in expected.iter().filter(|r| moved.contains(r.arn.as_str())) {
        match now.get(rule.arn.as_str()) {
            None => {
                gone.insert(rule.arn.clone());
            }
            Some(&actual) if actual != rule.priority => {
                return Err(PlanError::Diverged {
                    rule: rule.arn.clone(),
                    expected: rule.priority,
                    actual,
                });
            }
            Some(_) => {}
        }
    }
    let mut undo = done.inverse();
    for step in &mut undo.steps {
        step.moves.retain(|m| !gone.contains(&m.rule));
    }
    undo.steps.retain(|s| !s.moves.is_empty());
    undo.apply_to(current)?;
    Ok(undo)
}

/// The managed rules (bypass in current order, then maintenance) and the other rules (by
/// priority). The fallback rule is neither.
fn split(rules: &[Rule]) -> Result<(Vec<&Rule>, Vec<&Rule>), PlanError> {
    let mut bypass: Vec<&Rule> = rules.iter().filter(|r| r.role == Role::Bypass).collect();
    bypass.sort_by_key(|r| r.priority);
    let mut maintenance = rules.iter().filter(|r| r.role == Role::Maintenance);
    let mut managed = bypass;
    match (maintenance.next(), maintenance.next()) {
        (Some(m), None) => managed.push(m),
        (None, _) if managed.is_empty() => {}
        (None, _) => {
            return Err(PlanError::BypassWithoutMaintenance {
                rule: managed[0].arn.clone(),
            });
        }
        (Some(_), Some(_)) => {
            return Err(PlanError::SeveralMaintenanceRules {
                rules: rules
                    .iter()
                    .filter(|r| r.role == Role::Maintenance)
                    .map(|r| r.arn.clone())
                    .collect(),
            });
        }
    }
    let mut others: Vec<&Rule> = rules.iter().filter(|r| r.role == Role::App).collect();
    others.sort_by_key(|r| r.priority);
    Ok((managed, others))
}

/// On: managed rules in order (strictly increasing) and all before the first other rule.
fn is_on(managed: &[&Rule], others: &[&Rule]) -> bool {
    let ordered = managed.windows(2).all(|w| w[0].priority < w[1].priority);
    let last = managed.last().map_or(0, |r| r.priority);
    let first_other = others.first().map_or(u32::MAX, |r| r.priority);
    ordered && last < first_other
}

/// The rules `on` moves to the top, and what becomes of the page rule it does not put live.
struct OnTop<'a> {
    /// Bypass rules (in order), the page rule going live, and the other page rule while it
    /// still answers (it stays directly after the one taking over until the last call).
    managed: Vec<&'a Rule>,
    /// How many of `managed` stay on top: the bypass rules and the page rule going live.
    live: usize,
    /// The page rule not going live, when it is not at home; with its home.
    passive: Option<(&'a Rule, u32)>,
    /// Whether it answers requests now (comes before every other rule), so it goes home last.
    passive_answers: bool,
    /// The page rule not going live and its home, wherever it is.
    parked: Option<(&'a Rule, Option<u32>)>,
}

impl<'a> OnTop<'a> {
    /// `managed` is the bypass rules, then the maintenance rule (as [`split`] gives them).
    fn new(
        rules: &'a [Rule],
        managed: &[&'a Rule],
        others: &[&Rule],
        live: Live,
    ) -> Result<Self, PlanError> {
        let (bypass, maintenance) = managed.split_at(managed.len() - 1);
        let (page, passive) = match live {
            Live::Responder => (maintenance[0], fallback_rule(rules)),
            Live::Fallback => (
                fallback_rule(rules).ok_or(PlanError::NoFallbackRule)?,
                Some(maintenance[0]),
            ),
        };
        let mut top = bypass.to_vec();
        top.push(page);
        let parked = passive.map(|p| (p, p.home));
        let passive = match passive.filter(|p| p.home != Some(p.priority)) {
            None => None,
            Some(p) => Some((
                p,
                p.home.ok_or_else(|| PlanError::NotParked {
                    rule: p.arn.clone(),
                })?,
            )),
        };
        let first_other = others.first().map_or(u32::MAX, |r| r.priority);
        let passive_answers = passive.is_some_and(|(p, _)| p.priority < first_other);
        let live = top.len();
        if let Some((p, _)) = passive.filter(|_| passive_answers) {
            top.push(p);
        }
        Ok(Self {
            managed: top,
            live,
            passive,
            passive_answers,
            parked,
        })
    }

    /// Whether the page rule not going live is parked after the page going live (it always
    /// is once `attach` parked it behind the application's rules).
    fn parked_behind(&self) -> bool {
        let page = self.managed[self.live - 1].priority;
        self.parked
            .is_none_or(|(_, home)| home.is_none_or(|h| h > page))
    }

    /// Refuses a page rule parked where the other cannot get in front of it (at or before
    /// `top`, the first priority after the managed rules' targets), or out of place with its
    /// home taken by another rule.
    fn check_parked(&self, top: u32, rules: &[Rule]) -> Result<(), PlanError> {
        if let Some((rule, Some(home))) = self.parked
            && home < top
        {
            return Err(PlanError::ParkedInFront {
                rule: rule.arn.clone(),
                home,
            });
        }
        if let Some((p, home)) = self.passive
            && let Some(holder) = rules.iter().find(|r| r.priority == home && r.arn != p.arn)
        {
            return Err(PlanError::HomeTaken {
                rule: p.arn.clone(),
                home,
                holder: holder.arn.clone(),
            });
        }
        Ok(())
    }
}

/// Other rules that must make room for `k` managed rules: the shortest prefix, each shifted as
/// little as possible, never onto a `reserved` priority. Once one rule can stay, every later one
/// can (priorities strictly increase).
fn shifts_for<'a>(
    others: &[&'a Rule],
    k: u32,
    reserved: &BTreeSet<u32>,
    max: u32,
    rule_count: usize,
) -> Result<Vec<(&'a Rule, u32)>, PlanError> {
    let mut cursor = k + 1;
    let mut shifts: Vec<(&Rule, u32)> = Vec::new();
    for &rule in others {
        if rule.priority >= cursor {
            break;
        }
        let mut to = cursor;
        while reserved.contains(&to) {
            to += 1;
        }
        if to > max {
            return Err(PlanError::NoRoom { rules: rule_count });
        }
        shifts.push((rule, to));
        cursor = to + 1;
    }
    Ok(shifts)
}

fn plan_on_within(rules: &[Rule], max: u32, live: Live) -> Result<Plan, PlanError> {
    check_within(rules, max)?;
    let (managed, others) = split(rules)?;
    if managed.is_empty() {
        return Err(PlanError::NoMaintenanceRule);
    }
    let on_top = OnTop::new(rules, &managed, &others, live)?;
    let mut plan = Plan::new(PlanKind::On);
    if is_on(&on_top.managed[..on_top.live], &others)
        && on_top.passive.is_none()
        && on_top.parked_behind()
    {
        return Ok(plan);
    }
    let managed = &on_top.managed;
    let k = managed.len() as u32;
    // Parked priorities stay free while maintenance is on, so `off` can always go home.
    let mut reserved: BTreeSet<u32> = managed.iter().filter_map(|r| r.home).collect();
    reserved.extend(on_top.parked.and_then(|(_, home)| home));
    let shifts = shifts_for(&others, k, &reserved, max, rules.len())?;
    let top = match (shifts.first(), others.first()) {
        (Some(&(_, to)), _) => to,
        (None, Some(first)) => first.priority,
        (None, None) => max + 1,
    };
    on_top.check_parked(top, rules)?;
    // Managed targets: directly above the first other rule, bypass rules first.
    let targets: Vec<(&str, u32)> = managed
        .iter()
        .zip(top - k..top)
        .map(|(r, p)| (r.arn.as_str(), p))
        .collect();
    let shift_slots: BTreeSet<u32> = shifts.iter().map(|&(_, to)| to).collect();
    let target_slots: BTreeSet<u32> = targets.iter().map(|&(_, p)| p).collect();

    let mut layout = Layout::new(rules, max)?;
    // 0. The page rule not going live, out of place but answering nothing, goes home first.
    if let Some((rule, home)) = on_top.passive.filter(|_| !on_top.passive_answers) {
        plan.steps.push(layout.single(&rule.arn, home)?);
    }
    // 1. Managed rules sitting where shifted rules go step aside first: to their target if it
    //    is free, else home, else the highest free priority.
    for rule in managed {
        let at = layout.priority(&rule.arn);
        if !shift_slots.contains(&at) {
            continue;
        }
        let target = targets.iter().find(|t| t.0 == rule.arn).map(|t| t.1);
        let to = target
            .filter(|&p| layout.is_free(p))
            .or(rule
                .home
                .filter(|&p| layout.is_free(p) && !shift_slots.contains(&p)))
            .or_else(|| {
                layout.highest_free(|p| !shift_slots.contains(&p) && !target_slots.contains(&p))
            })
            .ok_or(PlanError::NoRoom { rules: rules.len() })?;
        plan.steps.push(layout.single(&rule.arn, to)?);
    }
    // 2. Shift other rules one per call, last first, so none ever overtakes another.
    for &(rule, to) in shifts.iter().rev() {
        plan.steps.push(layout.single(&rule.arn, to)?);
    }
    // 3. The managed rules into place, together where possible.
    realize(
        &mut layout,
        &targets,
        &reserved,
        &mut plan.steps,
        rules.len(),
    )?;
    // 4. The page rule that answered until now goes home, once the other one is in place.
    if let Some((rule, home)) = on_top.passive.filter(|_| on_top.passive_answers) {
        plan.steps.push(layout.single(&rule.arn, home)?);
    }
    plan.notices = record_kept(&others);
    plan.displaced = shifts
        .iter()
        .map(|&(rule, _)| Displaced {
            rule: rule.arn.clone(),
            home: rule.home.unwrap_or(rule.priority),
        })
        .collect();
    Ok(plan)
}

/// A rule already displaced (an interrupted switch left a record) keeps its first home: the
/// notice for each one that is not there now.
fn record_kept(others: &[&Rule]) -> Vec<Notice> {
    others
        .iter()
        .filter_map(|r| {
            let home = r.home.filter(|&h| h != r.priority)?;
            Some(Notice::RecordKept {
                rule: r.arn.clone(),
                priority: r.priority,
                home,
            })
        })
        .collect()
}

fn plan_off_within(rules: &[Rule], max: u32, finishing: bool) -> Result<Plan, PlanError> {
    check_within(rules, max)?;
    let (mut managed, others) = split(rules)?;
    if managed.is_empty() {
        return Err(PlanError::NoMaintenanceRule);
    }
    // On as `state` reads it: the page answering first, whichever it is; a fallback rule
    // parked among the application rules (after the one answering) does not make it off.
    let on = is_on(&answering(&managed, fallback_rule(rules)), &others);
    managed.extend(fallback_rule(rules));
    let homes = parked_homes(&managed, &others)?;
    let mut plan = Plan::new(PlanKind::Off);
    // Already off: application rules are never moved, whatever a record left over says (the
    // rule may have been moved by hand since).
    if !finishing && !on && managed.iter().all(|r| r.home == Some(r.priority)) {
        plan.notices = others
            .iter()
            .filter_map(|r| {
                let home = r.home.filter(|&h| h != r.priority)?;
                Some(Notice::StaleRecord {
                    rule: r.arn.clone(),
                    priority: r.priority,
                    home,
                })
            })
            .collect();
        return Ok(plan);
    }
    trust_record(&others, &homes)?;
    let mut layout = Layout::new(rules, max)?;
    let targets: Vec<(&str, u32)> = homes.iter().map(|(&p, r)| (r.arn.as_str(), p)).collect();
    let home_slots: BTreeSet<u32> = homes.keys().copied().collect();
    realize(
        &mut layout,
        &targets,
        &home_slots,
        &mut plan.steps,
        rules.len(),
    )?;
    restore_displaced(&mut layout, &others, &home_slots, &mut plan)?;
    Ok(plan)
}

/// Refuses a record of displaced rules (a tag, which anyone allowed to tag the rule can write)
/// that would send an application rule where `on` never takes one from: `on` moves rules down
/// (to later priorities) to make room, so a recorded home is always before where the rule is;
/// a home after it, a managed rule's parked priority, or one the record gives two rules, is
/// not believed.
fn trust_record(others: &[&Rule], homes: &BTreeMap<u32, &Rule>) -> Result<(), PlanError> {
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    for rule in others {
        let Some(home) = rule.home.filter(|&h| h != rule.priority) else {
            continue;
        };
        let reason = if home > rule.priority {
            Some(format!(
                "after where it is now ({}): on only ever moves rules down to make room, so that \
                 is not where it was",
                rule.priority
            ))
        } else if let Some(parked) = homes.get(&home) {
            Some(format!("where rule {} is parked", parked.arn))
        } else {
            seen.get(&home)
                .map(|other| format!("where the record also puts rule {other}"))
        };
        if let Some(reason) = reason {
            let clear = homes
                .values()
                .find(|r| r.role == Role::Maintenance)
                .map(|m| {
                    format!(
                        " (to clear it: aws elbv2 add-tags --resource-arns {} --tags \
                         Key=maintenance-responder:displaced,Value=, and its -2, -3 keys if \
                         it has them)",
                        m.arn
                    )
                })
                .unwrap_or_default();
            return Err(PlanError::UntrustedRecord {
                rule: rule.arn.clone(),
                home,
                reason: format!("{reason}{clear}"),
            });
        }
        seen.insert(home, &rule.arn);
    }
    Ok(())
}

/// The managed rules by parked priority: each must have one, no two the same, and no app rule
/// may hold one.
fn parked_homes<'a>(
    managed: &[&'a Rule],
    others: &[&Rule],
) -> Result<BTreeMap<u32, &'a Rule>, PlanError> {
    let mut homes: BTreeMap<u32, &Rule> = BTreeMap::new();
    for &rule in managed {
        let home = rule.home.ok_or_else(|| PlanError::NotParked {
            rule: rule.arn.clone(),
        })?;
        if let Some(first) = homes.insert(home, rule) {
            return Err(PlanError::DuplicateHome {
                priority: home,
                first: first.arn.clone(),
                second: rule.arn.clone(),
            });
        }
    }
    for (&home, rule) in &homes {
        if let Some(holder) = others.iter().find(|o| o.priority == home) {
            return Err(PlanError::HomeTaken {
                rule: rule.arn.clone(),
                home,
                holder: holder.arn.clone(),
            });
        }
    }
    Ok(homes)
}

/// Displaced rules back home, if that keeps every other rule's order and collides with
/// nothing; all or none, so the outcome is easy to state (a [`Notice::NotRestored`] each when
/// none).
fn restore_displaced(
    layout: &mut Layout,
    others: &[&Rule],
    home_slots: &BTreeSet<u32>,
    plan: &mut Plan,
) -> Result<(), PlanError> {
    let finals: Vec<u32> = others
        .iter()
        .map(|r| r.home.unwrap_or(r.priority))
        .collect();
    let displaced: Vec<(&Rule, u32)> = others
        .iter()
        .zip(&finals)
        .filter(|(r, to)| r.priority != **to)
        .map(|(r, to)| (*r, *to))
        .collect();
    if displaced.is_empty() {
        return Ok(());
    }
    if let Some(reason) = no_way_back(&finals, others, home_slots, layout.max) {
        plan.notices = displaced
            .iter()
            .map(|(r, home)| Notice::NotRestored {
                rule: r.arn.clone(),
                priority: r.priority,
                home: *home,
                reason: reason.clone(),
            })
            .collect();
        return Ok(());
    }
    // Moving up (to a lower number) in order, then moving down in reverse order: no rule
    // passes another on the way and every target is free when it is used.
    for &(rule, to) in displaced.iter().filter(|(r, to)| *to < r.priority) {
        plan.steps.push(layout.single(&rule.arn, to)?);
    }
    for &(rule, to) in displaced.iter().rev().filter(|(r, to)| *to > r.priority) {
        plan.steps.push(layout.single(&rule.arn, to)?);
    }
    Ok(())
}

/// Why the app rules cannot all go to `finals` (out of range, onto a parked priority, or out
/// of order), if they cannot.
fn no_way_back(
    finals: &[u32],
    others: &[&Rule],
    home_slots: &BTreeSet<u32>,
    max: u32,
) -> Option<String> {
    finals
        .iter()
        .zip(others)
        .find_map(|(&to, r)| {
            (!(MIN_PRIORITY..=max).contains(&to))
                .then(|| format!("priority {to} of rule {} is out of range", r.arn))
                .or_else(|| {
                    home_slots
                        .contains(&to)
                        .then(|| format!("{to} is a parked priority of a maintenance rule"))
                })
        })
        .or_else(|| {
            finals.windows(2).zip(others.windows(2)).find_map(|(p, r)| {
                (p[0] >= p[1]).then(|| {
                    format!(
                        "going back would put rule {} ({}) at or after rule {} ({})",
                        r[0].arn, p[0], r[1].arn, p[1]
                    )
                })
            })
        })
}

/// Moves the managed rules to their targets: each call moves every rule whose target is free
/// (so usually a single call); a cycle (rules holding each other's targets) is broken by
/// parking one rule on a free priority first. `avoid` lists priorities not to use for that.
fn realize(
    layout: &mut Layout,
    targets: &[(&str, u32)],
    avoid: &BTreeSet<u32>,
    steps: &mut Vec<Step>,
    rule_count: usize,
) -> Result<(), PlanError> {
    let target_slots: BTreeSet<u32> = targets.iter().map(|t| t.1).collect();
    // Each round places at least one rule, or parks one to break a cycle (which lets the
    // next round place one), so 2 * n + 1 rounds always suffice.
    for _ in 0..=2 * targets.len() {
        let pending: Vec<(&str, u32)> = targets
            .iter()
            .copied()
            .filter(|&(arn, to)| layout.priority(arn) != to)
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let ready: Vec<Move> = pending
            .iter()
            .filter(|&&(_, to)| layout.is_free(to))
            .map(|&(arn, to)| Move {
                rule: arn.to_string(),
                from: layout.priority(arn),
                to,
            })
            .collect();
        if !ready.is_empty() {
            let step = Step { moves: ready };
            layout.apply(&step)?;
            steps.push(step);
            continue;
        }
        let (arn, _) = pending[0];
        let to = layout
            .highest_free(|p| !target_slots.contains(&p) && !avoid.contains(&p))
            .or_else(|| layout.highest_free(|p| !target_slots.contains(&p)))
            .ok_or(PlanError::NoRoom { rules: rule_count })?;
        steps.push(layout.single(arn, to)?);
    }
    let (arn, to) = targets
        .iter()
        .find(|&&(arn, to)| layout.priority(arn) != to)
        .expect("pending");
    Err(PlanError::InvalidMove {
        rule: arn.to_string(),
        from: layout.priority(arn),
        to: *to,
        reason: "the target stays held by another rule".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str, p: u32) -> Rule {
        Rule::new(id, p, Role::App)
    }
    fn maint(p: u32, home: u32) -> Rule {
        Rule::new("m", p, Role::Maintenance).with_home(home)
    }
    fn bypass(id: &str, p: u32, home: u32) -> Rule {
        Rule::new(id, p, Role::Bypass).with_home(home)
    }
    fn priorities(rules: &[Rule]) -> Vec<(String, u32)> {
        let mut v: Vec<_> = rules.iter().map(|r| (r.arn.clone(), r.priority)).collect();
        v.sort();
        v
    }
    fn at(rules: &[Rule], arn: &str) -> u32 {
        rules.iter().find(|r| r.arn == arn).unwrap().priority
    }

    #[test]
    fn on_with_room_is_one_call_directly_above_the_first_rule() {
        let rules = vec![
            app("a", 10),
            app("b", 20),
            bypass("x", 49_999, 49_999),
            maint(50_000, 50_000),
        ];
        let plan = plan_on(&rules).unwrap();
        assert_eq!(plan.steps.len(), 1, "{plan:?}");
        assert!(plan.displaced.is_empty());
        let after = plan.apply_to(&rules).unwrap();
        assert_eq!((at(&after, "x"), at(&after, "m")), (8, 9));
        assert_eq!(state(&after), State::On);
        assert!(plan_on(&after).unwrap().is_empty());
        let off = plan_off(&after).unwrap();
        assert_eq!(off.steps.len(), 1);
        assert_eq!(
            priorities(&off.apply_to(&after).unwrap()),
            priorities(&rules)
        );
    }

    #[test]
    fn crowded_top_shifts_the_fewest_rules_and_off_restores_them() {
        // 1, 2, 3 crowded; 5 can stay once the first three moved to 3.., so k=2 needs 3 moves.
        let rules = vec![
            app("a", 1),
            app("b", 2),
            app("c", 3),
            app("d", 6),
            maint(50_000, 50_000),
            bypass("x", 49_999, 49_999),
        ];
        let plan = plan_on(&rules).unwrap();
        let after = plan.apply_to(&rules).unwrap();
        assert_eq!(
            plan.displaced
                .iter()
                .map(|d| (d.rule.as_str(), d.home))
                .collect::<Vec<_>>(),
            vec![("a", 1), ("b", 2), ("c", 3)]
        );
        assert_eq!([at(&after, "x"), at(&after, "m")], [1, 2]);
        assert_eq!(
            [
                at(&after, "a"),
                at(&after, "b"),
                at(&after, "c"),
                at(&after, "d")
            ],
            [3, 4, 5, 6]
        );
        // Every other rule moved in its own call.
        assert_eq!(plan.steps.len(), 4);
        let off = plan_off(&after).unwrap();
        let back = off.apply_to(&after).unwrap();
        assert_eq!(priorities(&back), priorities(&rules));
        assert!(
            back.iter()
                .filter(|r| r.role == Role::App)
                .all(|r| r.home.is_none())
        );
    }

    #[test]
    fn swapped_managed_rules_go_through_a_free_priority() {
        // On, but in the wrong order: maintenance before bypass.
        let rules = vec![maint(1, 50_000), bypass("x", 2, 49_999), app("a", 3)];
        let plan = plan_on(&rules).unwrap();
        let after = plan.apply_to(&rules).unwrap();
        assert!(
            at(&after, "x") < at(&after, "m") && at(&after, "m") < 3,
            "{after:?}"
        );
        assert!(plan.steps.len() >= 2, "a swap needs a detour: {plan:?}");
    }

    #[test]
    fn full_listener_has_no_room() {
        // max 4 and 4 rules: nothing can move.
        let rules = vec![app("a", 1), app("b", 2), app("c", 3), maint(4, 4)];
        assert_eq!(
            plan_on_within(&rules, 4, Live::Responder),
            Err(PlanError::NoRoom { rules: 4 })
        );
        // One free slot is enough.
        let rules = vec![app("a", 1), app("b", 2), app("c", 3), maint(5, 5)];
        let plan = plan_on_within(&rules, 5, Live::Responder).unwrap();
        let mut layout = Layout::new(&rules, 5).unwrap();
        for step in &plan.steps {
            layout.apply(step).unwrap();
        }
        assert_eq!(layout.priority("m"), 1);
        assert_eq!(
            [
                layout.priority("a"),
                layout.priority("b"),
                layout.priority("c")
            ],
            [2, 3, 4]
        );
    }

    #[test]
    fn shifted_rules_skip_parked_priorities() {
        // maintenance parked at 3, in the middle; on must not shift a rule onto 3.
        let rules = vec![app("a", 1), app("b", 2), maint(3, 3), app("c", 5)];
        let plan = plan_on(&rules).unwrap();
        let after = plan.apply_to(&rules).unwrap();
        assert_eq!(at(&after, "m"), 1);
        assert_ne!(at(&after, "a"), 3);
        assert_ne!(at(&after, "b"), 3);
        let back = plan_off(&after).unwrap().apply_to(&after).unwrap();
        assert_eq!(priorities(&back), priorities(&rules));
    }

    #[test]
    fn twice_is_nothing() {
        let rules = vec![app("a", 10), maint(50_000, 50_000)];
        assert!(plan_off(&rules).unwrap().is_empty());
        assert_eq!(state(&rules), State::Off);
        let on = plan_on(&rules).unwrap().apply_to(&rules).unwrap();
        assert!(plan_on(&on).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_rules() {
        assert_eq!(plan_on(&[app("a", 1)]), Err(PlanError::NoMaintenanceRule));
        let two = vec![maint(1, 1), Rule::new("m2", 2, Role::Maintenance)];
        assert!(matches!(
            plan_on(&two),
            Err(PlanError::SeveralMaintenanceRules { .. })
        ));
        let orphan = vec![bypass("x", 1, 1), app("a", 2)];
        assert!(matches!(
            plan_on(&orphan),
            Err(PlanError::BypassWithoutMaintenance { .. })
        ));
        let unparked = vec![Rule::new("m", 1, Role::Maintenance), app("a", 2)];
        assert_eq!(
            plan_off(&unparked),
            Err(PlanError::NotParked { rule: "m".into() })
        );
        let taken = vec![maint(1, 50_000), app("a", 50_000)];
        assert!(matches!(plan_off(&taken), Err(PlanError::HomeTaken { .. })));
        let dup = vec![app("a", 1), app("b", 1), maint(3, 3)];
        assert!(matches!(
            plan_on(&dup),
            Err(PlanError::DuplicatePriority { .. })
        ));
        let out = vec![app("a", 0), maint(3, 3)];
        assert!(matches!(plan_on(&out), Err(PlanError::OutOfRange { .. })));
        let out = vec![app("a", 50_001), maint(3, 3)];
        assert!(matches!(plan_on(&out), Err(PlanError::OutOfRange { .. })));
    }

    #[test]
    fn off_keeps_displaced_rules_when_going_back_would_reorder() {
        // After on, someone created rule "n" at 1 (above "a"'s old slot order).
        let rules = vec![maint(1, 50_000), app("a", 3).with_home(2), app("n", 2)];
        let plan = plan_off(&rules).unwrap();
        assert_eq!(plan.notices.len(), 1, "{plan:?}");
        let after = plan.apply_to(&rules).unwrap();
        assert_eq!(
            (at(&after, "m"), at(&after, "a"), at(&after, "n")),
            (50_000, 3, 2)
        );
    }

    #[test]
    fn off_on_an_off_listener_never_moves_app_rules() {
        // A record left over (clearing it failed) names "a" at 1; "a" was moved by hand to 5.
        let rules = vec![
            app("a", 5).with_home(1),
            app("b", 10),
            maint(50_000, 50_000),
        ];
        assert_eq!(state(&rules), State::Off);
        let plan = plan_off(&rules).unwrap();
        assert!(plan.is_empty(), "{plan:?}");
        assert!(
            matches!(
                &plan.notices[..],
                [Notice::StaleRecord {
                    priority: 5,
                    home: 1,
                    ..
                }]
            ),
            "{plan:?}"
        );
        // on says that off will honour the record, before anything is moved.
        let on = plan_on(&rules).unwrap();
        assert!(
            on.notices.iter().any(|n| matches!(
                n,
                Notice::RecordKept {
                    priority: 5,
                    home: 1,
                    ..
                }
            )),
            "{on:?}"
        );
        // Still: off from on (an interrupted switch) restores from the record.
        let after = on.apply_to(&rules).unwrap();
        let back = plan_off(&after).unwrap().apply_to(&after).unwrap();
        assert_eq!(at(&back, "a"), 1);
    }

    #[test]
    fn undo_takes_back_exactly_the_applied_steps() {
        let rules = vec![app("a", 1), app("b", 2), maint(50_000, 50_000)];
        let plan = plan_on(&rules).unwrap();
        for done in 0..=plan.steps.len() {
            let partial = Plan {
                kind: PlanKind::Undo,
                steps: plan.steps[..done].to_vec(),
                ..plan.clone()
            };
            let now = partial.apply_to(&rules).unwrap();
            let undo = plan_undo(&rules, &plan.steps[..done], &now).unwrap();
            assert_eq!(
                priorities(&undo.apply_to(&now).unwrap()),
                priorities(&rules)
            );
        }
    }

    #[test]
    fn undo_refuses_when_someone_else_moved_our_rule() {
        let rules = vec![app("a", 10), maint(50_000, 50_000)];
        let plan = plan_on(&rules).unwrap();
        let mut now = plan.apply_to(&rules).unwrap();
        now.iter_mut().find(|r| r.arn == "m").unwrap().priority = 5;
        assert!(matches!(
            plan_undo(&rules, &plan.steps, &now),
            Err(PlanError::Diverged {
                expected: 9,
                actual: 5,
                ..
            })
        ));
    }

    #[test]
    fn undo_skips_deleted_rules() {
        let rules = vec![app("a", 1), app("b", 2), maint(50_000, 50_000)];
        let plan = plan_on(&rules).unwrap();
        let now: Vec<Rule> = plan
            .apply_to(&rules)
            .unwrap()
            .into_iter()
            .filter(|r| r.arn != "a")
            .collect();
        let undo = plan_undo(&rules, &plan.steps, &now).unwrap();
        let back = undo.apply_to(&now).unwrap();
        assert_eq!((at(&back, "b"), at(&back, "m")), (2, 50_000));
    }

    #[test]
    fn strict_check_rejects_swaps_and_no_op_moves() {
        let rules = vec![app("a", 1), app("b", 2)];
        let mut layout = Layout::new(&rules, MAX_PRIORITY).unwrap();
        let step = |moves: &[(&str, u32, u32)]| Step {
            moves: moves
                .iter()
                .map(|&(rule, from, to)| Move {
                    rule: rule.into(),
                    from,
                    to,
                })
                .collect(),
        };
        let swap = step(&[("a", 1, 2), ("b", 2, 1)]);
        assert!(layout.apply(&swap).is_err());
        let same = step(&[("a", 1, 1)]);
        assert!(layout.apply(&same).is_err());
        let high = step(&[("a", 1, 50_001)]);
        assert!(layout.apply(&high).is_err());
    }
}
