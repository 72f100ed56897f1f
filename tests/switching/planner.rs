//! Property tests of the listener-rule priority planner (`maintenance_engine::planner`)
//! through its public API, over random listeners of 1–100 rules: sparse and crowded priorities,
//! room above the first rule or none, managed rules parked anywhere, with or without a fallback
//! rule (which stays parked unless `on --fallback` puts it live in the maintenance rule's place).
//!
//! Every plan is replayed here by an independent checker that applies the strictest reading of
//! SetRulePriorities (a target must not be held by any rule at the moment of the call, the
//! rule's own priority and rules moved in the same call included; range 1..=50000), rather than
//! trusting the planner's own simulation.

use std::collections::{BTreeSet, HashMap};

use maintenance_engine::planner::{
    Live, MAX_PRIORITY, MIN_PRIORITY, Plan, PlanError, Role, Rule, State, live, plan_off, plan_on,
    plan_on_live, plan_undo, state,
};
use proptest::prelude::*;
use proptest::sample::subsequence;

const CASES: u32 = 256;

/// How the priorities of a generated listener are laid out.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Anywhere in 1..=50000.
    Sparse,
    /// Other rules at 1..=n (no room above them), managed rules parked at the very end.
    CrowdedTop,
    /// Every rule within 1..=n+extra (0–3 free priorities in all), roles shuffled.
    Dense,
    /// Other rules within 1..=200, managed rules parked at the end.
    Realistic,
    /// Every rule within the last n+extra priorities up to 50000.
    CrowdedEnd,
}

fn arn(i: usize) -> String {
    format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/0/1/{i:016x}")
}

/// A listener with maintenance off: managed rules (bypass, then maintenance, then the fallback
/// rule if `fallback`) at their homes. `priorities[..k]` go to the managed rules, the rest to
/// other rules.
fn listener(bypass: usize, fallback: bool, priorities: Vec<u32>) -> Vec<Rule> {
    priorities
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let role = match i {
                i if i < bypass => Role::Bypass,
                i if i == bypass => Role::Maintenance,
                i if i == bypass + 1 && fallback => Role::Fallback,
                _ => Role::App,
            };
            let rule = Rule::new(arn(i), p, role);
            if role == Role::App {
                rule
            } else {
                rule.with_home(p)
            }
        })
        .collect()
}

fn shaped(shape: Shape, k: usize, others: usize, extra: u32) -> BoxedStrategy<Vec<u32>> {
    let total = k + others;
    match shape {
        Shape::Sparse => prop::collection::btree_set(MIN_PRIORITY..=MAX_PRIORITY, total)
            .prop_map(|s| s.into_iter().collect::<Vec<_>>())
            .prop_shuffle()
            .boxed(),
        Shape::CrowdedTop => {
            let managed = (MAX_PRIORITY - k as u32 + 1..=MAX_PRIORITY).collect::<Vec<_>>();
            let mut all = managed;
            all.extend(1..=others as u32);
            Just(all).boxed()
        }
        Shape::Dense => subsequence((1..=total as u32 + extra).collect::<Vec<_>>(), total)
            .prop_shuffle()
            .boxed(),
        Shape::Realistic => subsequence((1..=200u32).collect::<Vec<_>>(), others)
            .prop_shuffle()
            .prop_map(move |o| {
                let mut all: Vec<u32> = (MAX_PRIORITY - k as u32 + 1..=MAX_PRIORITY).collect();
                all.extend(o);
                all
            })
            .boxed(),
        Shape::CrowdedEnd => {
            let low = MAX_PRIORITY - (total as u32 + extra) + 1;
            subsequence((low..=MAX_PRIORITY).collect::<Vec<_>>(), total)
                .prop_shuffle()
                .boxed()
        }
    }
}

/// Listeners of 1–100 rules with maintenance off.
fn off_listener() -> impl Strategy<Value = Vec<Rule>> {
    let shape = prop_oneof![
        Just(Shape::Sparse),
        Just(Shape::CrowdedTop),
        Just(Shape::Dense),
        Just(Shape::Realistic),
        Just(Shape::CrowdedEnd),
    ];
    (0usize..=2, any::<bool>(), shape, 0u32..=3)
        .prop_flat_map(|(bypass, fallback, shape, extra)| {
            (
                Just(bypass),
                Just(fallback),
                Just(shape),
                Just(extra),
                0usize..=(98 - bypass),
            )
        })
        .prop_flat_map(|(bypass, fallback, shape, extra, others)| {
            let k = bypass + 1 + usize::from(fallback);
            shaped(shape, k, others, extra).prop_map(move |p| listener(bypass, fallback, p))
        })
}

/// Listeners in any state: managed rules anywhere, homes anywhere (possibly taken).
fn any_listener() -> impl Strategy<Value = Vec<Rule>> {
    off_listener().prop_flat_map(|rules| {
        let k = rules.iter().filter(|r| r.role != Role::App).count();
        prop::collection::btree_set(MIN_PRIORITY..=MAX_PRIORITY, k)
            .prop_map(|s| s.into_iter().collect::<Vec<_>>())
            .prop_shuffle()
            .prop_map(move |homes| {
                let mut rules = rules.clone();
                for (rule, home) in rules.iter_mut().filter(|r| r.role != Role::App).zip(homes) {
                    rule.home = Some(home);
                }
                rules
            })
    })
}

/// Replays a plan with the strictest reading of SetRulePriorities; returns the priorities
/// after each call (the first entry is the start).
fn replay(rules: &[Rule], plan: &Plan) -> Result<Vec<HashMap<String, u32>>, String> {
    let mut now: HashMap<String, u32> = rules.iter().map(|r| (r.arn.clone(), r.priority)).collect();
    let mut states = vec![now.clone()];
    for (i, step) in plan.steps.iter().enumerate() {
        if step.moves.is_empty() {
            return Err(format!("call {i} is empty"));
        }
        let held: BTreeSet<u32> = now.values().copied().collect();
        let mut targets = BTreeSet::new();
        let mut moved = BTreeSet::new();
        for m in &step.moves {
            let Some(&at) = now.get(&m.rule) else {
                return Err(format!("call {i} moves unknown rule {}", m.rule));
            };
            if at != m.from {
                return Err(format!("call {i}: {} is at {at}, not {}", m.rule, m.from));
            }
            if !(MIN_PRIORITY..=MAX_PRIORITY).contains(&m.to) {
                return Err(format!("call {i}: target {} out of range", m.to));
            }
            if held.contains(&m.to) {
                return Err(format!("call {i}: target {} is held (swap or no-op)", m.to));
            }
            if !targets.insert(m.to) || !moved.insert(m.rule.clone()) {
                return Err(format!("call {i}: duplicate target or rule"));
            }
        }
        for m in &step.moves {
            now.insert(m.rule.clone(), m.to);
        }
        states.push(now.clone());
    }
    Ok(states)
}

/// Other rules' ARNs in priority order.
fn others_order(rules: &[Rule], at: &HashMap<String, u32>) -> Vec<String> {
    let mut others: Vec<&Rule> = rules.iter().filter(|r| r.role == Role::App).collect();
    others.sort_by_key(|r| at[&r.arn]);
    others.iter().map(|r| r.arn.clone()).collect()
}

fn managed_order(rules: &[Rule], at: &HashMap<String, u32>) -> Vec<String> {
    let mut bypass: Vec<&Rule> = rules.iter().filter(|r| r.role == Role::Bypass).collect();
    bypass.sort_by_key(|r| at[&r.arn]);
    bypass.iter().map(|r| r.arn.clone()).collect()
}

/// Checks everything `on` promises; returns the final rules (with homes recorded).
fn check_on(rules: &[Rule]) -> Result<Vec<Rule>, TestCaseError> {
    check_on_live(rules, Live::Responder)
}

/// The page rule that answers first in a state: the lower of the maintenance and fallback rules.
fn first_page(rules: &[Rule], at: &HashMap<String, u32>) -> u32 {
    rules
        .iter()
        .filter(|r| matches!(r.role, Role::Maintenance | Role::Fallback))
        .map(|r| at[&r.arn])
        .min()
        .unwrap()
}

/// Checks everything `on` promises with `live` as the page going live: the other page rule
/// parked at the end, and, from a listener already on, a page rule before every other rule
/// after every call (no request reaches the application while the page changes).
fn check_on_live(rules: &[Rule], page: Live) -> Result<Vec<Rule>, TestCaseError> {
    let (live_role, passive_role) = match page {
        Live::Responder => (Role::Maintenance, Role::Fallback),
        Live::Fallback => (Role::Fallback, Role::Maintenance),
    };
    let plan = match plan_on_live(rules, page) {
        Ok(plan) => plan,
        // A page rule parked in front of the application's rules (or with none at all) answers
        // every request even while parked, and the other page cannot get in front of it.
        Err(PlanError::ParkedInFront { rule, home }) => {
            let passive = rules.iter().find(|r| r.role == passive_role).unwrap();
            prop_assert_eq!(&rule, &passive.arn);
            prop_assert_eq!(Some(home), passive.home);
            let first_app = rules
                .iter()
                .filter(|r| r.role == Role::App)
                .map(|r| r.priority)
                .min();
            let k = rules.iter().filter(|r| r.role != Role::App).count() as u32;
            prop_assert!(
                first_app.is_none_or(|a| home < a.max(2 * k + 2)),
                "refused although {} is parked at {} behind the application",
                rule,
                home
            );
            return Err(TestCaseError::reject("a page rule parked in front"));
        }
        // The other page rule, out of place, cannot go home: its home is taken.
        Err(PlanError::HomeTaken { rule, home, holder }) => {
            let passive = rules.iter().find(|r| r.role == passive_role).unwrap();
            prop_assert_eq!(&rule, &passive.arn);
            prop_assert_eq!(Some(home), passive.home);
            prop_assert!(rules.iter().any(|r| r.arn == holder && r.priority == home));
            return Err(TestCaseError::reject("the other page rule's home is taken"));
        }
        Err(e) => return Err(TestCaseError::fail(format!("plan_on {page:?}: {e}"))),
    };
    let states = replay(rules, &plan).map_err(TestCaseError::fail)?;
    if state(rules) == State::On {
        for (i, s) in states.iter().enumerate() {
            let first_app = rules
                .iter()
                .filter(|r| r.role == Role::App)
                .map(|r| s[&r.arn])
                .min()
                .unwrap_or(u32::MAX);
            prop_assert!(
                first_page(rules, s) < first_app,
                "after call {} no page rule comes before the application",
                i
            );
        }
    }
    if let Some(p) = rules.iter().find(|r| r.role == passive_role) {
        prop_assert_eq!(
            Some(states.last().unwrap()[&p.arn]),
            p.home,
            "the other page rule is not parked"
        );
    }
    let start = &states[0];
    let end = states.last().unwrap();

    // Others keep their relative order after every call.
    let order = others_order(rules, start);
    for (i, s) in states.iter().enumerate() {
        prop_assert_eq!(
            &others_order(rules, s),
            &order,
            "others reordered after call {}",
            i
        );
        let distinct: BTreeSet<u32> = s.values().copied().collect();
        prop_assert_eq!(
            distinct.len(),
            s.len(),
            "duplicate priorities after call {}",
            i
        );
    }
    // Bypass rules (in their order), then maintenance, then every other rule.
    let bypass = managed_order(rules, start);
    prop_assert_eq!(
        &managed_order(rules, end),
        &bypass,
        "bypass rules reordered"
    );
    let m = rules.iter().find(|r| r.role == live_role).unwrap();
    for b in &bypass {
        prop_assert!(end[b] < end[&m.arn], "bypass {} not above maintenance", b);
    }
    for o in rules.iter().filter(|r| r.role == Role::App) {
        prop_assert!(end[&m.arn] < end[&o.arn], "maintenance not above {}", o.arn);
    }
    // Displaced rules are a prefix of the others; every other rule stays put, and the record
    // says where each displaced rule was.
    let displaced: Vec<&str> = plan.displaced.iter().map(|d| d.rule.as_str()).collect();
    prop_assert_eq!(&order[..displaced.len()], &displaced[..]);
    for o in rules.iter().filter(|r| r.role == Role::App) {
        match plan.displaced.iter().find(|d| d.rule == o.arn) {
            Some(d) => prop_assert_eq!(d.home, o.home.unwrap_or(o.priority)),
            None => prop_assert_eq!(end[&o.arn], o.priority, "{} moved without a record", o.arn),
        }
    }
    // Fewest displaced: with no parked priority in the way, exactly the rules that cannot stay
    // (while the page changes, the page rule answering until now keeps its place on top).
    let passive_on_top = rules.iter().any(|r| {
        r.role == passive_role
            && r.home != Some(r.priority)
            && rules
                .iter()
                .filter(|o| o.role == Role::App)
                .all(|o| r.priority < o.priority)
    });
    let k = bypass.len() + 1 + usize::from(passive_on_top);
    let others = rules.iter().filter(|r| r.role == Role::App).count();
    let homes_out_of_the_way = rules
        .iter()
        .filter_map(|r| r.home)
        .all(|h| h as usize > k + others);
    if homes_out_of_the_way && (state(rules) != State::On || page == Live::Fallback) {
        let sorted: Vec<u32> = order.iter().map(|a| start[a]).collect();
        let must_move = sorted
            .iter()
            .enumerate()
            .take_while(|&(t, &p)| (p as usize) < k + t + 1)
            .count();
        prop_assert_eq!(displaced.len(), must_move, "not the fewest displaced rules");
    }
    // The planner's own simulation agrees with the independent replay.
    let simulated = plan
        .apply_to(rules)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for r in &simulated {
        prop_assert_eq!(r.priority, end[&r.arn]);
    }
    prop_assert_eq!(state(&simulated), State::On);
    prop_assert_eq!(live(&simulated), Some(page));
    Ok(simulated)
}

fn priorities(rules: &[Rule]) -> HashMap<String, u32> {
    rules.iter().map(|r| (r.arn.clone(), r.priority)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        // Integration tests have no src/lib.rs next to them to store regressions by.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn on_makes_only_valid_calls_and_ends_on(rules in off_listener()) {
        check_on(&rules)?;
    }

    #[test]
    fn on_from_any_state_makes_only_valid_calls_and_ends_on(rules in any_listener()) {
        check_on(&rules)?;
    }

    #[test]
    fn a_second_on_plans_nothing(rules in any_listener()) {
        let on = check_on(&rules)?;
        let again = plan_on(&on).unwrap();
        prop_assert!(again.is_empty(), "second on planned {:?}", again.steps);
    }

    #[test]
    fn on_then_off_restores_the_original_priorities_exactly(rules in off_listener()) {
        prop_assert!(plan_off(&rules).unwrap().is_empty(), "off on an off listener plans calls");
        let on = check_on(&rules)?;
        let off = plan_off(&on).map_err(|e| TestCaseError::fail(format!("plan_off: {e}")))?;
        prop_assert!(off.notices.is_empty(), "{:?}", off.notices);
        let states = replay(&on, &off).map_err(TestCaseError::fail)?;
        let order = others_order(&on, &states[0]);
        for (i, s) in states.iter().enumerate() {
            prop_assert_eq!(&others_order(&on, s), &order, "others reordered after off call {}", i);
        }
        prop_assert_eq!(states.last().unwrap(), &priorities(&rules));
        let back = off.apply_to(&on).unwrap();
        prop_assert_eq!(&back, &rules, "priorities or homes differ after on then off");
        prop_assert!(plan_off(&back).unwrap().is_empty(), "a second off plans calls");
        // A maintenance rule parked above every other rule is on and off at once: it catches
        // every request either way (`attach` refuses to park it there).
        prop_assert_eq!(state(&back), state(&rules));
    }

    #[test]
    fn off_from_any_state_is_valid_or_names_the_taken_priority(rules in any_listener()) {
        let taken = rules.iter().filter(|r| r.role != Role::App).find_map(|m| {
            rules.iter().find(|o| o.role == Role::App && Some(o.priority) == m.home)
        });
        match plan_off(&rules) {
            Ok(plan) => {
                prop_assert!(taken.is_none());
                let states = replay(&rules, &plan).map_err(TestCaseError::fail)?;
                let end = states.last().unwrap();
                for m in rules.iter().filter(|r| r.role != Role::App) {
                    prop_assert_eq!(Some(end[&m.arn]), m.home);
                }
                let order = others_order(&rules, &states[0]);
                for s in &states {
                    prop_assert_eq!(&others_order(&rules, s), &order);
                }
            }
            Err(PlanError::HomeTaken { holder, .. }) => {
                prop_assert_eq!(Some(holder), taken.map(|t| t.arn.clone()));
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    #[test]
    fn off_on_an_off_listener_never_moves_a_rule_whatever_the_record_says(
        rules in off_listener(),
        stale in prop::collection::vec(prop::option::of(MIN_PRIORITY..=MAX_PRIORITY), 100),
    ) {
        // A record left over names homes for some app rules (anything, even taken priorities).
        let mut rules = rules;
        for (rule, home) in rules.iter_mut().filter(|r| r.role == Role::App).zip(stale) {
            rule.home = home;
        }
        prop_assume!(state(&rules) == State::Off);
        let plan = plan_off(&rules).map_err(|e| TestCaseError::fail(format!("plan_off: {e}")))?;
        prop_assert!(plan.is_empty(), "off on an off listener plans calls: {:?}", plan.steps);
        let named = rules
            .iter()
            .filter(|r| r.role == Role::App && r.home.is_some_and(|h| h != r.priority))
            .count();
        prop_assert_eq!(plan.notices.len(), named, "each rule left where it is is said");
    }

    #[test]
    fn on_fallback_from_any_state_makes_only_valid_calls_and_ends_on(rules in any_listener()) {
        prop_assume!(rules.iter().any(|r| r.role == Role::Fallback));
        let on = check_on_live(&rules, Live::Fallback)?;
        let again = plan_on_live(&on, Live::Fallback).unwrap();
        prop_assert!(again.is_empty(), "second on --fallback planned {:?}", again.steps);
    }

    #[test]
    fn changing_the_page_keeps_it_answering_and_off_restores_everything(rules in off_listener()) {
        prop_assume!(rules.iter().any(|r| r.role == Role::Fallback));
        // Off -> the responder -> the fallback page -> the responder -> the fallback -> off.
        let mut now = rules.clone();
        for page in [Live::Responder, Live::Fallback, Live::Responder, Live::Fallback] {
            now = check_on_live(&now, page)?;
        }
        let off = plan_off(&now).map_err(|e| TestCaseError::fail(format!("plan_off: {e}")))?;
        prop_assert!(off.notices.is_empty(), "{:?}", off.notices);
        let states = replay(&now, &off).map_err(TestCaseError::fail)?;
        prop_assert_eq!(states.last().unwrap(), &priorities(&rules));
        let back = off.apply_to(&now).unwrap();
        prop_assert_eq!(&back, &rules, "priorities or homes differ after the round trip");
    }

    #[test]
    fn on_fallback_without_a_fallback_rule_is_refused(rules in off_listener()) {
        prop_assume!(!rules.iter().any(|r| r.role == Role::Fallback));
        prop_assert_eq!(plan_on_live(&rules, Live::Fallback), Err(PlanError::NoFallbackRule));
    }

    #[test]
    fn undoing_any_prefix_restores_the_original(rules in any_listener(), cut in 0usize..64) {
        let plan = plan_on(&rules);
        // Refusals of a page rule parked in front, or out of place with its home taken (see
        // check_on_live).
        prop_assume!(!matches!(
            plan,
            Err(PlanError::ParkedInFront { .. } | PlanError::HomeTaken { .. })
        ));
        let plan = plan.unwrap();
        let done = cut.min(plan.steps.len());
        let partial = Plan { steps: plan.steps[..done].to_vec(), ..plan.clone() };
        let states = replay(&rules, &partial).map_err(TestCaseError::fail)?;
        let mut now = rules.clone();
        for r in &mut now {
            r.priority = states.last().unwrap()[&r.arn];
        }
        let undo = plan_undo(&rules, &plan.steps[..done], &now).unwrap();
        let back = replay(&now, &undo).map_err(TestCaseError::fail)?;
        prop_assert_eq!(back.last().unwrap(), &priorities(&rules));
        // The inverse of the whole plan is valid too (the rollback of a finished listener).
        let full = replay(&plan.apply_to(&rules).unwrap(), &plan.inverse()).map_err(TestCaseError::fail)?;
        prop_assert_eq!(full.last().unwrap(), &priorities(&rules));
    }
}

#[test]
fn a_full_listener_is_refused_and_one_free_priority_is_enough() {
    // Every priority taken: nothing can move.
    let mut rules: Vec<Rule> = (1..MAX_PRIORITY)
        .map(|p| Rule::new(arn(p as usize), p, Role::App))
        .collect();
    rules.push(Rule::new("m", MAX_PRIORITY, Role::Maintenance).with_home(MAX_PRIORITY));
    assert_eq!(
        plan_on(&rules),
        Err(PlanError::NoRoom { rules: rules.len() })
    );
    // One free priority at the end: every other rule shifts by one, last first, within range.
    rules.retain(|r| r.priority != MAX_PRIORITY - 1);
    let plan = plan_on(&rules).unwrap();
    assert_eq!(plan.steps.len(), rules.len());
    let end = plan.apply_to(&rules).unwrap();
    for (before, after) in rules.iter().zip(&end) {
        let expected = if before.role == Role::Maintenance {
            1
        } else {
            before.priority + 1
        };
        assert_eq!(after.priority, expected, "{}", before.arn);
    }
    assert!(
        plan.moves()
            .all(|m| (MIN_PRIORITY..=MAX_PRIORITY).contains(&m.to))
    );
}

/// The smallest case the property test found: the maintenance rule parked at 2 with an app rule
/// before it, the fallback rule parked at 4 among the app rules. `on` moves the app rules past
/// the fallback rule (the maintenance rule answers first at its home); `off` must read that as
/// on, not as "already off" with a stale record, and put every app rule back.
#[test]
fn off_puts_back_rules_that_on_moved_past_a_fallback_rule_parked_among_them() {
    let rules = vec![
        Rule::new("a1".to_string(), 1, Role::App),
        Rule::new("m".to_string(), 2, Role::Maintenance).with_home(2),
        Rule::new("a3".to_string(), 3, Role::App),
        Rule::new("f".to_string(), 4, Role::Fallback).with_home(4),
    ];
    let on = plan_on(&rules).unwrap().apply_to(&rules).unwrap();
    assert_eq!(state(&on), State::On, "{on:?}");
    let off = plan_off(&on).unwrap();
    assert!(off.notices.is_empty(), "{:?}", off.notices);
    assert_eq!(off.apply_to(&on).unwrap(), rules);
}
