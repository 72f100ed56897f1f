//! `maintctl off --gradual` ([`start`]): checked and planned, then under the lease the
//! admission rules, the state and the schedules written, undone should one write fail.

use jiff::{SignedDuration, Timestamp};

use std::collections::BTreeMap;

use crate::listeners::{Listeners, rules_elsewhere};
use crate::ops::Outcome;
use crate::ops::coordinate::{LeaseGuard, SwitchParameters};
use crate::ops::lease::{LeaseOptions, unique_u64};
use crate::ops::owner::Owner;
use crate::ops::schedule::group_target;
use crate::ops::token::new_token;
use crate::planner::return_plan::{
    self, AdmissionView, ReturnSpec, admission_rules, check_duration, check_steps, step_times,
};
use crate::planner::window::{NO_REASON, Schedule};
use crate::planner::{Direction, ListenerSnapshot, NewRule, State, rule_id};
use crate::schedules::Schedules;
use maintenance_core::admission::ReturnState;

use super::report::{API_CLIENTS, Announcement, GradualReport, ListenerAdmission, refused};
use super::state::{admission_of, environment, read_state, state_parameter, write_state};

/// A return to start.
#[derive(Debug, Clone)]
pub struct GradualRequest {
    /// The environment (its maintenance rules, its schedule group).
    pub environment: String,
    /// From now to the final `off`.
    pub duration: SignedDuration,
    /// The steps' shares, strictly increasing within 1..=99.
    pub steps: Vec<u8>,
    /// The alarm whose ALARM aborts the return (delivered to the switch function).
    pub abort_alarm: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Plan and change nothing.
    pub dry_run: bool,
    /// How the lease is taken.
    pub lease: LeaseOptions,
}

/// Checks an abort alarm's name as CloudWatch allows it.
fn check_alarm(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(format!(
            "--abort-alarm {name:?} is not a CloudWatch alarm name (1 to 255 characters)"
        ));
    }
    Ok(())
}

/// What a start planned: everything it writes.
struct Planned {
    listeners: Vec<ListenerSnapshot>,
    prefixes: Vec<String>,
    caller: String,
    rules: Vec<NewRule>,
    state: ReturnState,
    schedules: Vec<Schedule>,
}

/// `maintctl off --gradual`: see the module doc. The caller announces the report
/// (`crate::announce::after_return`).
pub async fn start(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: &impl Schedules,
    request: &GradualRequest,
) -> GradualReport {
    let mut report = GradualReport::new("off --gradual", &request.environment);
    report.dry_run = request.dry_run;
    report.api_clients = Some(API_CLIENTS.to_string());
    let planned = match plan(client, store, schedules, request, &mut report).await {
        Ok(planned) => planned,
        Err((outcome, message)) => {
            return report.end(outcome, format!("{message}; nothing was changed"));
        }
    };
    if request.dry_run {
        return report.end(Outcome::Done, "dry run: nothing was changed");
    }
    let id = planned.state.id.clone();
    let doing = format!("gradual return {id} by a person");
    let taken = LeaseGuard::take_prefixes(
        store,
        planned.prefixes.clone(),
        &planned.caller,
        &doing,
        &request.lease,
        |_| {},
    )
    .await;
    let guard = match taken {
        Ok(g) => g,
        Err(e) => return refused(report, format!("{e}; nothing was changed")),
    };
    let written = write_return(client, store, schedules, &planned).await;
    let (_, lease_warnings) = guard.release(store).await;
    report.warnings.extend(lease_warnings);
    let ends_at = maintenance_core::rfc3339::format(planned.state.ends_at);
    report = match written {
        Ok(()) => {
            report.share_percent = Some(planned.state.share_percent);
            let message = format!(
                "gradual return {id} started: {} % of visitors let through now, {} more step(s) \
                 scheduled, the final off at {ends_at}",
                planned.state.share_percent,
                planned.schedules.len(),
            );
            report.end(Outcome::Done, message)
        }
        Err((outcome, message)) => report.end(outcome, message),
    };
    let reason = request.reason.as_deref().unwrap_or(NO_REASON);
    report.announcement = Some(Announcement {
        environment: request.environment.clone(),
        direction: Direction::Off,
        live: None,
        owner: Owner::Person,
        caller: planned.caller,
        reason: Some(format!("gradual return {id}: {reason}")),
        deadline: Some(ends_at),
        listeners: planned
            .listeners
            .iter()
            .map(|s| s.listener.arn.clone())
            .collect(),
        prefixes: planned.prefixes,
    });
    report
}

/// Checks and plans a start (nothing written): the plan shown in `report` (rules, steps, the
/// end), or why it cannot start.
async fn plan(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: &impl Schedules,
    request: &GradualRequest,
    report: &mut GradualReport,
) -> Result<Planned, (Outcome, String)> {
    let refuse = |e: String| (Outcome::Refused, format!("refused: {e}"));
    check_steps(&request.steps)
        .and_then(|()| check_duration(request.duration))
        .and_then(|()| request.abort_alarm.as_deref().map_or(Ok(()), check_alarm))
        .map_err(refuse)?;
    let (group, target) = group_target(schedules, &request.environment)
        .await
        .map_err(|e| (e.outcome(), e.to_string()))?;
    let (listeners, prefixes) = environment(client, &request.environment)
        .await
        .map_err(refuse)?;
    ready(store, &listeners, &prefixes).await.map_err(refuse)?;
    let caller = client.caller().await.unwrap_or_else(|e| {
        report.warnings.push(format!(
            "could not tell who you are ({e}); recording \"unknown\""
        ));
        "unknown".to_string()
    });
    let now = Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::now());
    let id = return_plan::return_id(now, unique_u64().unwrap_or_default());
    report.return_id = Some(id.clone());
    let token = new_token().map_err(|e| (Outcome::Failed, e.to_string()))?;
    let times = step_times(&request.steps, now, request.duration).map_err(refuse)?;
    let ends_at = times.last().map_or(now, |(_, t)| *t);
    let spec = ReturnSpec {
        id: id.clone(),
        environment: request.environment.clone(),
        group,
        scheduled_by: caller.clone(),
        times,
        target,
    };
    let (steps, planned_schedules) = return_plan::return_schedules(&spec).map_err(refuse)?;
    report.steps = steps;
    report.schedules = planned_schedules.iter().map(|s| s.name.clone()).collect();
    report.at_the_end = Some(at_the_end(ends_at, request.abort_alarm.as_deref()));
    let mut rules = Vec::new();
    // The rule quota is per load balancer: count its other listeners' rules, and the admission
    // rules planned here for an earlier listener of the same load balancer.
    let mut listeners = listeners;
    let mut planned_per_lb: BTreeMap<String, usize> = BTreeMap::new();
    for s in &mut listeners {
        let lb = s.listener.load_balancer.clone();
        let elsewhere = rules_elsewhere(client, &s.listener).await.map_err(|e| {
            (
                Outcome::Failed,
                format!(
                    "reading the rules of {lb}'s other listeners failed: {e}; nothing was changed"
                ),
            )
        })?;
        s.rules_elsewhere = Some(elsewhere + planned_per_lb.get(&lb).copied().unwrap_or(0));
        let alarm = request.abort_alarm.as_deref();
        let planned = admission_rules(s, token.expose(), &id, &request.environment, alarm)
            .map_err(|e| refuse(crate::ops::token::scrub(&e, &token)))?;
        report.listeners.push(ListenerAdmission {
            listener: s.listener.to_string(),
            rules: planned
                .iter()
                .map(|(r, m)| AdmissionView::of(r, m))
                .collect(),
        });
        *planned_per_lb.entry(lb).or_default() += planned.len();
        rules.extend(planned.into_iter().map(|(r, _)| r));
    }
    let state = ReturnState {
        id,
        token,
        step: 1,
        share_percent: request.steps[0],
        ends_at,
    };
    Ok(Planned {
        listeners,
        prefixes,
        caller,
        rules,
        state,
        schedules: planned_schedules,
    })
}

/// What the plan says happens at the end.
fn at_the_end(ends_at: Timestamp, abort_alarm: Option<&str>) -> String {
    format!(
        "at {} the final step is the ordinary off (every rule exactly as before on), then the \
         admission rules and {} are deleted; maintctl on before then aborts the return{}",
        maintenance_core::rfc3339::format(ends_at),
        state_parameter("{prefix}"),
        abort_alarm.map_or(String::new(), |a| format!(
            ", and so does alarm {a}'s ALARM"
        ))
    )
}

/// Refuses a start where maintenance is not on everywhere, or a return is under way.
async fn ready(
    store: &impl SwitchParameters,
    listeners: &[ListenerSnapshot],
    prefixes: &[String],
) -> Result<(), String> {
    for s in listeners {
        match s.state() {
            Ok(State::On) => {}
            Ok(state) => {
                return Err(format!(
                    "listener {}: maintenance is {state}, not on: a gradual return ends a \
                     maintenance that is on",
                    s.listener
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    if let Some((listener, arn, id)) = admission_of(listeners).first() {
        return Err(format!(
            "listener {listener} has admission rule {} (return {}): a return is under way \
             (maintctl status); maintctl on aborts it",
            rule_id(arn),
            id.as_deref().unwrap_or("?")
        ));
    }
    for prefix in prefixes {
        if let Some(state) = read_state(store, prefix).await? {
            return Err(format!(
                "return {} is under way ({} % let through, step {}): wait for it, or abort it \
                 with maintctl on",
                state.id, state.share_percent, state.step
            ));
        }
    }
    Ok(())
}

/// Under the lease: re-checks, then the rules, the state, the schedules; undoes what was
/// written should one fail.
async fn write_return(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: &impl Schedules,
    planned: &Planned,
) -> Result<(), (Outcome, String)> {
    let Planned {
        listeners: planned_on,
        prefixes,
        rules,
        state,
        schedules: planned,
        ..
    } = planned;
    // Under the lease, the listeners as planned or nothing.
    for s in planned_on {
        let now = client.rules(&s.listener.arn).await.map_err(|e| {
            (
                Outcome::Failed,
                format!(
                    "re-reading listener {} failed: {e}; nothing was changed",
                    s.listener
                ),
            )
        })?;
        let key = |r: &crate::planner::RuleView| (r.arn.clone(), r.priority);
        let before: Vec<_> = s.rules.iter().map(key).collect();
        let after: Vec<_> = now.iter().map(key).collect();
        if before != after {
            return Err((
                Outcome::Refused,
                format!(
                    "refused: listener {} changed since planning (another switch?); nothing was \
                     changed: run the command again",
                    s.listener
                ),
            ));
        }
    }
    for prefix in prefixes {
        if let Ok(Some(other)) = read_state(store, prefix).await {
            return Err((
                Outcome::Refused,
                format!(
                    "refused: return {} started meanwhile; nothing was changed",
                    other.id
                ),
            ));
        }
    }
    let mut created: Vec<String> = Vec::new();
    let mut undo = Undo::default();
    for rule in rules {
        match client.create_rule(rule).await {
            Ok(arn) => created.push(arn),
            Err(e) => {
                let what = format!(
                    "creating an admission rule at priority {} failed: {}",
                    rule.priority,
                    crate::ops::token::scrub(&e.to_string(), &state.token)
                );
                undo.rules = created;
                return Err(undo.run(client, store, schedules, what).await);
            }
        }
    }
    undo.rules = created;
    for prefix in prefixes {
        if let Err(e) = write_state(store, prefix, state).await {
            undo.states.push(prefix.clone());
            return Err(undo.run(client, store, schedules, e).await);
        }
        undo.states.push(prefix.clone());
    }
    for schedule in planned {
        if let Err(e) = schedules.create(schedule).await {
            let what = format!("creating schedule {} failed: {e}", schedule.name);
            return Err(undo.run(client, store, schedules, what).await);
        }
        undo.schedules
            .push((schedule.group.clone(), schedule.name.clone()));
    }
    Ok(())
}

/// What a failed start wrote, to undo in reverse.
#[derive(Default)]
struct Undo {
    rules: Vec<String>,
    states: Vec<String>,
    schedules: Vec<(String, String)>,
}

impl Undo {
    async fn run(
        self,
        client: &impl Listeners,
        store: &impl SwitchParameters,
        schedules: &impl Schedules,
        what: String,
    ) -> (Outcome, String) {
        let mut left = Vec::new();
        for (group, name) in self.schedules.iter().rev() {
            if schedules.delete(group, name).await.is_err() {
                left.push(format!("schedule {group}/{name}"));
            }
        }
        for prefix in self.states.iter().rev() {
            if store.delete(&state_parameter(prefix)).await.is_err() {
                left.push(state_parameter(prefix));
            }
        }
        for arn in self.rules.iter().rev() {
            if client.delete_rule(arn).await.is_err() {
                left.push(format!("admission rule {arn}"));
            }
        }
        if left.is_empty() {
            let wrote = !(self.rules.is_empty() && self.states.is_empty());
            if wrote {
                (
                    Outcome::RolledBack,
                    format!(
                        "{what}; every admission rule, return state and schedule written was \
                         deleted again: the listeners are as before, maintenance is still on"
                    ),
                )
            } else {
                (Outcome::Failed, format!("{what}; nothing was changed"))
            }
        } else {
            (
                Outcome::Inconsistent,
                format!(
                    "{what}; undoing it failed for {}: delete them by hand (maintctl on \
                     --environment … deletes the admission rules and the return state); \
                     maintenance is still on",
                    left.join(", ")
                ),
            )
        }
    }
}
