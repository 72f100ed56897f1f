//! The gradual return (issue #24): maintenance ends in steps, each letting a larger share of
//! visitors through, then the ordinary `off`. The mechanism is `maintenance_core::admission`'s
//! (read its module doc); the pure plan is `crate::planner::return_plan`'s. Here, the I/O:
//!
//! - [`start`] (`maintctl off --gradual`): checks (steps, length, the environment's schedule
//!   group, maintenance on everywhere with a content prefix, no return under way), plans the
//!   admission rules of every listener, the steps and their schedules; on a dry run stops
//!   there; else, under the lease, creates the admission rules (tagged role `admission`),
//!   writes `{prefix}/return/state` (`SecureString`) with step 1's share, creates one one-time
//!   schedule per later step and one for the final `off`, and announces the switch. Should a
//!   write fail, what was written is undone (the listener is left as found) and the report
//!   says so;
//! - [`step`] (the switch function, a step's schedule): under the lease, raises the share
//!   only for the return under way and only upward ([`StepDecision`]); its last step is
//!   [`finish`]'s;
//! - [`finish`]: the ordinary `off` (`crate::ops::switch`, rules exactly as before `on`) under
//!   the same lease, then the admission rules, `return/state` and any step schedule left
//!   deleted;
//! - [`abort`] (`maintctl on` during a return, or the return's abort alarm delivered to the
//!   switch function): the admission rules first (no cookie given before lets anyone through),
//!   then `return/state` and the remaining schedules; maintenance stays on for everyone;
//!   announced and recorded like any switch;
//! - [`under_way`]: the return of an environment, for `status` and `doctor`.
//!
//! The switch function has no Scheduler client: an abort by alarm leaves the remaining step
//! schedules, which fire, find no return under way and change nothing (and delete themselves,
//! `ActionAfterCompletion = DELETE`).

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::announce::{Announcer, SwitchEvent, Who};
use crate::listeners::{Listeners, Targets, select};
use crate::ops::coordinate::{LeaseGuard, SwitchParameters};
use crate::ops::lease::{LeaseOptions, unique_u64};
use crate::ops::owner::Owner;
use crate::ops::schedule::group_target;
use crate::ops::switch::{Coordination, SwitchReport, SwitchRequest, Unattended};
use crate::ops::token::new_token;
use crate::ops::{Outcome, Report};
use crate::planner::return_plan::{
    self, AdmissionView, PlannedStep, ReturnSpec, ReturnStepInput, StepDecision, admission_rules,
    check_duration, check_steps, step_decision, step_times,
};
use crate::planner::window::NO_REASON;
use crate::planner::{BypassOptions, Direction, ListenerSnapshot, Live, State, rule_id};
use crate::schedules::{ScheduleGroup, Schedules, SchedulesError};
use maintenance_core::admission::ReturnState;
use maintenance_core::deploy_names::{parameters, switch as names, tags};
use maintenance_responder::ssm::{StoredType, Write};

/// What API clients without cookies get during a return: said by every plan and in the docs.
pub const API_CLIENTS: &str = "clients that keep no cookies (API clients, most crawlers) are \
     never let through before the final step: they get the maintenance answer (503 with \
     Retry-After) until the final off";

/// `{prefix}/return/state`.
pub fn state_parameter(prefix: &str) -> String {
    format!("{prefix}/{}", parameters::RETURN_STATE)
}

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

/// One listener's admission rules, as planned or written.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerAdmission {
    /// The listener.
    pub listener: String,
    /// Its admission rules, the cookie's token hidden.
    pub rules: Vec<AdmissionView>,
}

/// What a return command or step did. Displayed as the plan (rules, steps, the end, API
/// clients), then what was written or deleted, the warnings and the closing message.
#[derive(Debug, Clone, Serialize)]
pub struct GradualReport {
    /// `off --gradual`, `return-step` or `abort`.
    pub command: &'static str,
    /// Nothing was written.
    pub dry_run: bool,
    /// The environment.
    pub environment: String,
    /// The return's id, when one is concerned.
    pub return_id: Option<String>,
    /// The admission rules (planned, created or deleted).
    pub listeners: Vec<ListenerAdmission>,
    /// The steps, the final `off` last.
    pub steps: Vec<PlannedStep>,
    /// The schedules created (or that would be) or deleted.
    pub schedules: Vec<String>,
    /// The share in force after this command, when a return is under way.
    pub share_percent: Option<u8>,
    /// What happens at the end.
    pub at_the_end: Option<String>,
    /// What API clients without cookies get.
    pub api_clients: Option<String>,
    /// The final step's or the abort's switch, when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switch: Option<Box<SwitchReport>>,
    /// What did not stop the command.
    pub warnings: Vec<String>,
    /// How it ended.
    #[serde(serialize_with = "outcome_name")]
    pub outcome: Outcome,
    /// Its exit code.
    pub exit_code: u8,
    /// What that means.
    pub message: String,
}

fn outcome_name<S: serde::Serializer>(o: &Outcome, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(o.name())
}

impl GradualReport {
    fn new(command: &'static str, environment: &str) -> Self {
        Self {
            command,
            dry_run: false,
            environment: environment.to_string(),
            return_id: None,
            listeners: Vec::new(),
            steps: Vec::new(),
            schedules: Vec::new(),
            share_percent: None,
            at_the_end: None,
            api_clients: None,
            switch: None,
            warnings: Vec::new(),
            outcome: Outcome::Done,
            exit_code: 0,
            message: String::new(),
        }
    }

    fn end(mut self, outcome: Outcome, message: impl Into<String>) -> Self {
        self.outcome = outcome;
        self.exit_code = outcome.exit_code();
        self.message = message.into();
        self
    }
}

impl Report for GradualReport {
    fn outcome(&self) -> Outcome {
        self.outcome
    }
}

impl std::fmt::Display for GradualReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(id) = &self.return_id {
            writeln!(f, "return {id} of environment {}", self.environment)?;
        }
        for l in &self.listeners {
            writeln!(f, "listener {}: admission rules", l.listener)?;
            for r in &l.rules {
                writeln!(
                    f,
                    "  priority {:<5} mirrors {:<16} {} -> forward {}",
                    r.priority,
                    r.mirrors,
                    r.conditions.join(" and "),
                    r.target_group
                )?;
            }
        }
        for s in &self.steps {
            let what = if s.share_percent == 100 {
                "final off: rules exactly as before on, admission rules and return state deleted"
                    .to_string()
            } else {
                format!("{} % of visitors let through", s.share_percent)
            };
            let how = s
                .schedule
                .as_deref()
                .map_or("now".to_string(), |n| format!("schedule {n}"));
            writeln!(f, "  step {} at {} ({how}): {what}", s.step, s.at)?;
        }
        if let Some(end) = &self.at_the_end {
            writeln!(f, "at the end: {end}")?;
        }
        if let Some(api) = &self.api_clients {
            writeln!(f, "note: {api}")?;
        }
        if let Some(switch) = &self.switch {
            write!(f, "{switch}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        writeln!(f, "{}", self.message)
    }
}

/// Why a return command stopped before it changed anything.
fn refused(report: GradualReport, message: impl Into<String>) -> GradualReport {
    report.end(Outcome::Refused, format!("refused: {}", message.into()))
}

/// The environment's listeners with a maintenance rule, and their content prefixes (sorted,
/// each once); refused when there is none, or one names no prefix.
async fn environment(
    client: &impl Listeners,
    environment: &str,
) -> Result<(Vec<ListenerSnapshot>, Vec<String>), String> {
    let targets = Targets {
        environment: Some(environment.to_string()),
        ..Targets::default()
    };
    let selection = select(client, &targets)
        .await
        .map_err(|e| format!("reading the listeners of {environment:?} failed: {e}"))?;
    if selection.listeners.is_empty() {
        return Err(format!(
            "no listener has a maintenance rule of environment {environment:?}"
        ));
    }
    let mut prefixes = BTreeSet::new();
    for s in &selection.listeners {
        match s.content_prefix() {
            Some(p) => {
                prefixes.insert(p.to_string());
            }
            None => {
                return Err(format!(
                    "listener {}: its maintenance rule names no content prefix (tag {}), so no \
                     lease can be taken and no return state written for it",
                    s.listener,
                    tags::CONTENT_PREFIX
                ));
            }
        }
    }
    Ok((selection.listeners, prefixes.into_iter().collect()))
}

/// The return state under `prefix` (decrypted), `None` when no return is under way.
pub async fn read_state(
    store: &impl SwitchParameters,
    prefix: &str,
) -> Result<Option<ReturnState>, String> {
    let name = state_parameter(prefix);
    let dir = name.rsplit_once('/').map_or(name.as_str(), |(d, _)| d);
    let found = store
        .parameters_by_path(dir)
        .await
        .map_err(|e| format!("reading {name} failed: {e}"))?;
    match found.into_iter().find(|p| p.name == name) {
        None => Ok(None),
        Some(p) => ReturnState::parse(&p.value)
            .map(Some)
            .map_err(|e| format!("{name}: {e}")),
    }
}

async fn write_state(
    store: &impl SwitchParameters,
    prefix: &str,
    state: &ReturnState,
) -> Result<(), String> {
    let write = Write {
        name: state_parameter(prefix),
        value: state.to_parameter_value(),
    };
    store
        .put(&write, &StoredType::SecureString { key_id: None })
        .await
        .map_err(|e| format!("writing {} failed: {e}", write.name))
}

/// The admission rules of the listeners: (listener, rule ARN, the return id tag).
fn admission_of(listeners: &[ListenerSnapshot]) -> Vec<(String, String, Option<String>)> {
    listeners
        .iter()
        .flat_map(|s| {
            s.rules.iter().filter(|r| r.is_admission()).map(|r| {
                (
                    s.listener.to_string(),
                    r.arn.clone(),
                    r.tags.get(tags::RETURN).cloned(),
                )
            })
        })
        .collect()
}

/// The return under way in an environment, as its first content prefix holds it; with the
/// admission rules found. For `status` and `doctor`.
#[derive(Debug, Clone, Serialize)]
pub struct UnderWay {
    /// The state, when a prefix holds one.
    #[serde(skip)]
    pub state: Option<ReturnState>,
    /// Its id, step and share (the token is not shown).
    pub id: Option<String>,
    /// The step in force.
    pub step: Option<u32>,
    /// The share let through.
    pub share_percent: Option<u8>,
    /// When the final `off` is due.
    pub ends_at: Option<String>,
    /// Admission rules on the listeners (their ARNs).
    pub admission_rules: Vec<String>,
    /// Problems reading.
    pub problems: Vec<String>,
}

impl UnderWay {
    /// Whether anything of a return is there (state or rules).
    pub fn any(&self) -> bool {
        self.state.is_some() || !self.admission_rules.is_empty()
    }

    /// What is inconsistent, with the fix: rules without state or state without rules.
    pub fn inconsistency(&self, environment: &str) -> Option<String> {
        match (&self.state, self.admission_rules.is_empty()) {
            (Some(s), true) => Some(format!(
                "return {} has a return state but no admission rule: nobody the responder lets \
                 through reaches the application. Fix: maintctl on --environment {environment} \
                 (aborts the return; then off or off --gradual again)",
                s.id
            )),
            (None, false) => Some(format!(
                "{} admission rule(s) but no return state: a return was left part-way. Fix: \
                 maintctl on --environment {environment} deletes them (maintenance stays on)",
                self.admission_rules.len()
            )),
            _ => None,
        }
    }
}

/// The return under way on `listeners` (read without the lease).
pub async fn under_way(store: &impl SwitchParameters, listeners: &[ListenerSnapshot]) -> UnderWay {
    let mut out = UnderWay {
        state: None,
        id: None,
        step: None,
        share_percent: None,
        ends_at: None,
        admission_rules: admission_of(listeners)
            .into_iter()
            .map(|(_, arn, _)| arn)
            .collect(),
        problems: Vec::new(),
    };
    let prefixes: BTreeSet<&str> = listeners
        .iter()
        .filter_map(|s| s.content_prefix())
        .collect();
    for prefix in prefixes {
        match read_state(store, prefix).await {
            Ok(Some(state)) if out.state.is_none() => out.state = Some(state),
            Ok(_) => {}
            Err(e) => out.problems.push(e),
        }
    }
    if let Some(s) = &out.state {
        out.id = Some(s.id.clone());
        out.step = Some(s.step);
        out.share_percent = Some(s.share_percent);
        out.ends_at = Some(maintenance_core::rfc3339::format(s.ends_at));
    }
    out
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

/// `maintctl off --gradual`: see the module doc.
pub async fn start(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: &impl Schedules,
    announcer: &impl Announcer,
    request: &GradualRequest,
) -> GradualReport {
    let mut report = GradualReport::new("off --gradual", &request.environment);
    report.dry_run = request.dry_run;
    report.api_clients = Some(API_CLIENTS.to_string());
    if let Err(e) = check_steps(&request.steps)
        .and_then(|()| check_duration(request.duration))
        .and_then(|()| request.abort_alarm.as_deref().map_or(Ok(()), check_alarm))
    {
        return refused(report, format!("{e}; nothing was changed"));
    }
    let (group, target) = match group_target(schedules, &request.environment).await {
        Ok(found) => found,
        Err(e) => {
            let outcome = e.outcome();
            return report.end(outcome, format!("{e}; nothing was changed"));
        }
    };
    let (listeners, prefixes) = match environment(client, &request.environment).await {
        Ok(found) => found,
        Err(e) => return refused(report, format!("{e}; nothing was changed")),
    };
    if let Err(e) = ready(store, &listeners, &prefixes).await {
        return refused(report, format!("{e}; nothing was changed"));
    }
    let caller = match client.caller().await {
        Ok(arn) => arn,
        Err(e) => {
            report.warnings.push(format!(
                "could not tell who you are ({e}); recording \"unknown\""
            ));
            "unknown".to_string()
        }
    };
    let now = Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::now());
    let salt = unique_u64().unwrap_or_default();
    let id = return_plan::return_id(now, salt);
    report.return_id = Some(id.clone());
    let token = match new_token() {
        Ok(t) => t,
        Err(e) => return report.end(Outcome::Failed, format!("{e}; nothing was changed")),
    };
    let times = match step_times(&request.steps, now, request.duration) {
        Ok(t) => t,
        Err(e) => return refused(report, format!("{e}; nothing was changed")),
    };
    let ends_at = times.last().map(|(_, t)| *t).unwrap_or(now);
    let spec = ReturnSpec {
        id: id.clone(),
        environment: request.environment.clone(),
        group: group.clone(),
        scheduled_by: caller.clone(),
        times,
        target,
    };
    let (steps, planned_schedules) = match return_plan::return_schedules(&spec) {
        Ok(found) => found,
        Err(e) => return refused(report, format!("{e}; nothing was changed")),
    };
    report.steps = steps;
    report.schedules = planned_schedules.iter().map(|s| s.name.clone()).collect();
    report.at_the_end = Some(format!(
        "at {} the final step is the ordinary off (every rule exactly as before on), then the \
         admission rules and {} are deleted; maintctl on before then aborts the return{}",
        maintenance_core::rfc3339::format(ends_at),
        state_parameter("{prefix}"),
        request
            .abort_alarm
            .as_deref()
            .map_or(String::new(), |a| format!(
                ", and so does alarm {a}'s ALARM"
            ))
    ));
    let mut rules = Vec::new();
    for s in &listeners {
        let planned = admission_rules(
            s,
            token.expose(),
            &id,
            &request.environment,
            request.abort_alarm.as_deref(),
        );
        match planned {
            Ok(planned) => {
                report.listeners.push(ListenerAdmission {
                    listener: s.listener.to_string(),
                    rules: planned
                        .iter()
                        .map(|(r, m)| AdmissionView::of(r, m))
                        .collect(),
                });
                rules.extend(planned.into_iter().map(|(r, _)| r));
            }
            Err(e) => {
                let e = crate::ops::token::scrub(&e, &token);
                return refused(report, format!("{e}; nothing was changed"));
            }
        }
    }
    if request.dry_run {
        return report.end(Outcome::Done, "dry run: nothing was changed");
    }
    let doing = format!("gradual return {id} by a person");
    let guard = match LeaseGuard::take_prefixes(
        store,
        prefixes.clone(),
        &caller,
        &doing,
        &request.lease,
        |_| {},
    )
    .await
    {
        Ok(g) => g,
        Err(e) => return refused(report, format!("{e}; nothing was changed")),
    };
    let state = ReturnState {
        id: id.clone(),
        token,
        step: 1,
        share_percent: request.steps[0],
        ends_at,
    };
    let written = write_return(
        client,
        store,
        schedules,
        &listeners,
        &prefixes,
        &rules,
        &state,
        &planned_schedules,
    )
    .await;
    let (_, lease_warnings) = guard.release(store).await;
    report.warnings.extend(lease_warnings);
    report = match written {
        Ok(()) => {
            report.share_percent = Some(state.share_percent);
            report.end(
                Outcome::Done,
                format!(
                    "gradual return {id} started: {} % of visitors let through now, {} more \
                     step(s) scheduled, the final off at {}",
                    state.share_percent,
                    planned_schedules.len(),
                    maintenance_core::rfc3339::format(ends_at)
                ),
            )
        }
        Err((outcome, message)) => report.end(outcome, message),
    };
    let reason = request
        .reason
        .clone()
        .unwrap_or_else(|| NO_REASON.to_string());
    let event = event_of(
        &report,
        &request.environment,
        "off",
        None,
        Who::of(&Owner::Person, &caller),
        Some(format!("gradual return {id}: {reason}")),
        Some(maintenance_core::rfc3339::format(ends_at)),
        &listeners,
    );
    report
        .warnings
        .extend(announcer.announce(&event, &prefixes).await);
    report
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
#[allow(clippy::too_many_arguments)]
async fn write_return(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: &impl Schedules,
    planned_on: &[ListenerSnapshot],
    prefixes: &[String],
    rules: &[crate::planner::NewRule],
    state: &ReturnState,
    planned: &[crate::planner::window::Schedule],
) -> Result<(), (Outcome, String)> {
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

/// A step delivered by its schedule (the switch function): see the module doc. `owner` and
/// `caller` are who the final `off` is recorded for.
pub async fn step(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: Option<&impl Schedules>,
    announcer: &impl Announcer,
    input: &ReturnStepInput,
    lease: &LeaseOptions,
) -> GradualReport {
    let mut report = GradualReport::new("return-step", &input.environment);
    report.return_id = Some(input.return_id.clone());
    let (listeners, prefixes) = match environment(client, &input.environment).await {
        Ok(found) => found,
        Err(e) => return refused(report, format!("{e}; nothing was changed")),
    };
    let caller = client.caller().await.unwrap_or_else(|_| "unknown".into());
    let doing = format!("gradual return {} step {}", input.return_id, input.step);
    let guard =
        match LeaseGuard::take_prefixes(store, prefixes.clone(), &caller, &doing, lease, |_| {})
            .await
        {
            Ok(g) => g,
            Err(e) => return refused(report, format!("{e}; nothing was changed")),
        };
    let mut current = None;
    let mut problem = None;
    for prefix in &prefixes {
        match read_state(store, prefix).await {
            Ok(Some(s)) if current.is_none() => current = Some(s),
            Ok(_) => {}
            Err(e) => problem = Some(e),
        }
    }
    report = match (problem, step_decision(input, current.as_ref())) {
        (Some(e), _) => report.end(Outcome::Failed, format!("{e}; nothing was changed")),
        (None, StepDecision::Ignore(why)) => report.end(Outcome::NothingToDo, why),
        (None, StepDecision::Raise) => {
            let mut state = current.expect("a raise has a state");
            state.step = input.step;
            state.share_percent = input.share_percent;
            let mut failed = None;
            for prefix in &prefixes {
                if let Err(e) = write_state(store, prefix, &state).await {
                    failed = Some(e);
                }
            }
            report.share_percent = Some(state.share_percent);
            match failed {
                None => report.end(
                    Outcome::Done,
                    format!(
                        "return {}: step {}, {} % of visitors let through",
                        state.id, state.step, state.share_percent
                    ),
                ),
                Some(e) => report.end(
                    Outcome::Failed,
                    format!("{e}; the share may be raised on some prefixes only (a retry raises it everywhere)"),
                ),
            }
        }
        (None, StepDecision::Finish) => {
            let id = input.return_id.clone();
            let reason = format!("gradual return {id}: final step by {}", input.scheduled_by);
            let finished = finish_held(
                client, store, schedules, &listeners, &prefixes, &id, &reason, lease,
            )
            .await;
            report.switch = finished.switch;
            report.warnings.extend(finished.warnings);
            report.end(finished.outcome, finished.message)
        }
    };
    let (_, lease_warnings) = guard.release(store).await;
    report.warnings.extend(lease_warnings);
    if let Some(switch) = &report.switch {
        let request = off_request(&input.environment, report_reason(switch), lease);
        report
            .warnings
            .extend(crate::announce::after_switch(announcer, switch, &request).await);
    }
    report
}

fn report_reason(switch: &SwitchReport) -> String {
    switch.plan.reason.clone().unwrap_or_default()
}

/// The ordinary `off` of an environment, under a lease its caller holds.
fn off_request(environment: &str, reason: String, lease: &LeaseOptions) -> SwitchRequest {
    SwitchRequest {
        direction: Direction::Off,
        targets: Targets {
            environment: Some(environment.to_string()),
            ..Targets::default()
        },
        reason: Some(reason),
        dry_run: false,
        confirmed: true,
        verify: None,
        bypass: BypassOptions::default(),
        live: Live::Responder,
        warnings: Vec::new(),
        coordination: Coordination {
            lease: lease.clone(),
            owner: Owner::Person,
            content: None,
            event_time: None,
            lease_held: true,
        },
    }
}

struct Finished {
    switch: Option<Box<SwitchReport>>,
    warnings: Vec<String>,
    outcome: Outcome,
    message: String,
}

/// The final step under the held lease: the ordinary off; once it is done, the admission
/// rules, the state and the schedules left.
#[allow(clippy::too_many_arguments)]
async fn finish_held(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: Option<&impl Schedules>,
    listeners: &[ListenerSnapshot],
    prefixes: &[String],
    id: &str,
    reason: &str,
    lease: &LeaseOptions,
) -> Finished {
    let environment = listeners
        .first()
        .and_then(|s| s.environment())
        .unwrap_or_default()
        .to_string();
    let request = off_request(&environment, reason.to_string(), lease);
    let switched = crate::ops::switch(client, store, &request, &mut Unattended).await;
    let report = match switched {
        Ok(r) => r,
        Err(e) => {
            return Finished {
                switch: None,
                warnings: Vec::new(),
                outcome: e.outcome(),
                message: format!(
                    "the final off of return {id} failed: {e}; the return stays at its last step \
                     (maintctl off --environment {environment} ends it)"
                ),
            };
        }
    };
    if !matches!(report.outcome, Outcome::Done | Outcome::NothingToDo) {
        let outcome = report.outcome;
        return Finished {
            message: format!(
                "the final off of return {id} did not complete ({}); the return stays at its \
                 last step (maintctl off --environment {environment} ends it)",
                report.message
            ),
            switch: Some(Box::new(report)),
            warnings: Vec::new(),
            outcome,
        };
    }
    let warnings = clean_up(client, store, schedules, listeners, prefixes, id).await;
    Finished {
        switch: Some(Box::new(report)),
        warnings,
        outcome: Outcome::Done,
        message: format!(
            "return {id} finished: maintenance is off, the rules are as before on, the admission \
             rules and the return state are deleted"
        ),
    }
}

/// Deletes the admission rules (first: no cookie lets anyone through), the return state of
/// every prefix, and the return's step schedules; what could not be, as warnings.
async fn clean_up(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: Option<&impl Schedules>,
    listeners: &[ListenerSnapshot],
    prefixes: &[String],
    id: &str,
) -> Vec<String> {
    let mut warnings = Vec::new();
    // Read again (with tags): the switch that ran before moved rules (never these).
    let environment = listeners
        .first()
        .and_then(|s| s.environment())
        .unwrap_or_default();
    let now = match self::environment(client, environment).await {
        Ok((now, _)) => now,
        Err(_) => listeners.to_vec(),
    };
    for (_, arn, _) in admission_of(&now) {
        if let Err(e) = client.delete_rule(&arn).await {
            warnings.push(format!(
                "deleting admission rule {arn} failed: {e}; delete it by hand (aws elbv2 \
                 delete-rule --rule-arn {arn})"
            ));
        }
    }
    for prefix in prefixes {
        if let Err(e) = store.delete(&state_parameter(prefix)).await {
            warnings.push(format!(
                "deleting {} failed: {e}; delete it by hand",
                state_parameter(prefix)
            ));
        }
    }
    if let (Some(schedules), Some(environment)) =
        (schedules, listeners.first().and_then(|s| s.environment()))
    {
        warnings.extend(delete_schedules(schedules, environment, id).await);
    }
    warnings
}

/// Deletes the step schedules of return `id` left in the environment's group.
async fn delete_schedules(schedules: &impl Schedules, environment: &str, id: &str) -> Vec<String> {
    let Ok(group) = names::schedule_group(environment) else {
        return Vec::new();
    };
    let prefix = format!("{id}-step-");
    let found = match schedules.names(&group).await {
        Ok(n) => n,
        Err(e) => return vec![schedule_warning(&e)],
    };
    let mut warnings = Vec::new();
    for name in found.into_iter().filter(|n| n.starts_with(&prefix)) {
        if let Err(e) = schedules.delete(&group, &name).await {
            warnings.push(schedule_warning(&e));
        }
    }
    warnings
}

fn schedule_warning(e: &SchedulesError) -> String {
    format!(
        "{e}: a step schedule left fires, finds no return under way and changes nothing \
         (it then deletes itself)"
    )
}

/// Who aborts a return.
#[derive(Debug, Clone)]
pub struct AbortRequest {
    /// The environment.
    pub environment: String,
    /// A person (`maintctl on`) or the abort alarm.
    pub owner: Owner,
    /// Why.
    pub reason: Option<String>,
    /// How the lease is taken.
    pub lease: LeaseOptions,
}

/// `maintctl on` during a return, or its abort alarm: see the module doc. Nothing to do (and
/// said) when no return is under way; an alarm that is not the return's abort alarm changes
/// nothing.
pub async fn abort(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: Option<&impl Schedules>,
    announcer: &impl Announcer,
    request: &AbortRequest,
) -> GradualReport {
    let mut report = GradualReport::new("abort", &request.environment);
    let (listeners, prefixes) = match environment(client, &request.environment).await {
        Ok(found) => found,
        Err(e) => return refused(report, format!("{e}; nothing was changed")),
    };
    let found = under_way(store, &listeners).await;
    if !found.any() {
        return report.end(Outcome::NothingToDo, "no gradual return is under way");
    }
    if let Owner::Alarm(alarm) = &request.owner {
        let named = listeners
            .iter()
            .flat_map(|s| s.rules.iter().filter(|r| r.is_admission()))
            .any(|r| r.tags.get(tags::ABORT_ALARM) == Some(&crate::planner::tag_value(alarm)));
        if !named {
            return report.end(
                Outcome::NothingToDo,
                format!("alarm {alarm} is not the abort alarm of the return under way"),
            );
        }
    }
    let id = found
        .id
        .clone()
        .or_else(|| {
            admission_of(&listeners)
                .into_iter()
                .find_map(|(_, _, id)| id)
        })
        .unwrap_or_else(|| "?".into());
    report.return_id = Some(id.clone());
    let caller = client.caller().await.unwrap_or_else(|_| "unknown".into());
    let doing = format!("abort of gradual return {id} by {}", request.owner);
    let guard = match LeaseGuard::take_prefixes(
        store,
        prefixes.clone(),
        &caller,
        &doing,
        &request.lease,
        |_| {},
    )
    .await
    {
        Ok(g) => g,
        Err(e) => return refused(report, format!("{e}; nothing was changed")),
    };
    // Under the lease, what is there now.
    let listeners = match environment(client, &request.environment).await {
        Ok((l, _)) => l,
        Err(_) => listeners,
    };
    report.listeners = listeners
        .iter()
        .map(|s| ListenerAdmission {
            listener: s.listener.to_string(),
            rules: Vec::new(),
        })
        .collect();
    let warnings = clean_up(client, store, schedules, &listeners, &prefixes, &id).await;
    let (_, lease_warnings) = guard.release(store).await;
    let failed = !warnings.is_empty();
    report.warnings.extend(warnings);
    report.warnings.extend(lease_warnings);
    report = if failed {
        report.end(
            Outcome::Inconsistent,
            format!("return {id} aborted part-way: see the warnings; maintenance is on"),
        )
    } else {
        report.end(
            Outcome::Done,
            format!(
                "return {id} aborted: the admission rules and the return state are deleted, no \
                 admission cookie lets anyone through; maintenance is on for everyone"
            ),
        )
    };
    let reason = format!(
        "gradual return {id} aborted by {}{}",
        request.owner,
        request
            .reason
            .as_deref()
            .map_or(String::new(), |r| format!(": {r}"))
    );
    let event = event_of(
        &report,
        &request.environment,
        "on",
        Some("responder".into()),
        Who::of(&request.owner, &caller),
        Some(reason),
        None,
        &listeners,
    );
    report
        .warnings
        .extend(announcer.announce(&event, &prefixes).await);
    report
}

/// The switch event of a return's start or abort (no rule moved: the listeners' outcome says
/// what happened to their admission rules).
#[allow(clippy::too_many_arguments)]
fn event_of(
    report: &GradualReport,
    environment: &str,
    direction: &str,
    live: Option<String>,
    who: Who,
    reason: Option<String>,
    deadline: Option<String>,
    listeners: &[ListenerSnapshot],
) -> SwitchEvent {
    let outcome = match report.outcome {
        Outcome::Done => "applied",
        Outcome::Refused => "refused",
        Outcome::RolledBack => "rolled-back",
        Outcome::Inconsistent => "inconsistent",
        _ => "failed",
    };
    let alarm = match (&who.kind[..], &who.name) {
        ("alarm", Some(a)) => Some(a.clone()),
        _ => None,
    };
    SwitchEvent {
        schema_version: crate::announce::event::SCHEMA_VERSION,
        at: crate::announce::event::rfc3339(Timestamp::now()),
        environment: Some(environment.to_string()),
        direction: direction.to_string(),
        live,
        outcome: outcome.to_string(),
        message: report.message.clone(),
        who,
        reason,
        window: None,
        alarm,
        deadline,
        listeners: listeners
            .iter()
            .map(|s| crate::announce::event::ListenerChange {
                listener: s.listener.arn.clone(),
                outcome: outcome.to_string(),
                moved: Vec::new(),
            })
            .collect(),
    }
}

/// A Scheduler that is not there (the switch function): every call fails, nothing is called
/// by [`step`] and [`abort`] when `None` is given instead.
#[derive(Debug, Clone, Copy)]
pub struct NoSchedules;

impl Schedules for NoSchedules {
    async fn group(&self, name: &str) -> Result<Option<ScheduleGroup>, SchedulesError> {
        Err(no_scheduler("GetScheduleGroup", name))
    }
    async fn names(&self, group: &str) -> Result<Vec<String>, SchedulesError> {
        Err(no_scheduler("ListSchedules", group))
    }
    async fn get(
        &self,
        group: &str,
        _name: &str,
    ) -> Result<Option<crate::planner::window::Schedule>, SchedulesError> {
        Err(no_scheduler("GetSchedule", group))
    }
    async fn create(
        &self,
        schedule: &crate::planner::window::Schedule,
    ) -> Result<(), SchedulesError> {
        Err(no_scheduler("CreateSchedule", &schedule.name))
    }
    async fn update(
        &self,
        schedule: &crate::planner::window::Schedule,
    ) -> Result<(), SchedulesError> {
        Err(no_scheduler("UpdateSchedule", &schedule.name))
    }
    async fn delete(&self, group: &str, _name: &str) -> Result<bool, SchedulesError> {
        Err(no_scheduler("DeleteSchedule", group))
    }
}

fn no_scheduler(operation: &'static str, resource: &str) -> SchedulesError {
    SchedulesError {
        operation,
        resource: resource.to_string(),
        code: None,
        message: "no Scheduler client here".into(),
    }
}

/// A return under way as `maintctl status` shows it: "returning: N % let through (step i of
/// n), next step at …".
#[derive(Debug, Clone, Serialize)]
pub struct Returning {
    /// The environment.
    pub environment: String,
    /// The return's id.
    pub id: String,
    /// The share let through now.
    pub share_percent: u8,
    /// The step in force.
    pub step: u32,
    /// How many steps the return has, the final `off` included (from its schedules; the step
    /// in force when none is left).
    pub steps: u32,
    /// When the next step is due (RFC 3339), if one is scheduled.
    pub next_step_at: Option<String>,
    /// Its share (100: the final off).
    pub next_share_percent: Option<u8>,
    /// When the final `off` is due.
    pub ends_at: String,
    /// What is inconsistent (admission rules without state, or the reverse), with the fix.
    pub problem: Option<String>,
}

impl std::fmt::Display for Returning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "returning: {} % let through (step {} of {}), ",
            self.share_percent, self.step, self.steps
        )?;
        match (&self.next_step_at, self.next_share_percent) {
            (Some(at), Some(100)) => writeln!(f, "next step at {at}: the final off")?,
            (Some(at), Some(share)) => writeln!(f, "next step at {at}: {share} %")?,
            _ => writeln!(
                f,
                "no step scheduled (the final off is due at {})",
                self.ends_at
            )?,
        }
        writeln!(
            f,
            "  return {} of environment {}; maintctl on aborts it",
            self.id, self.environment
        )?;
        if let Some(p) = &self.problem {
            writeln!(f, "  warning: {p}")?;
        }
        Ok(())
    }
}

/// The return under way in `environment`, with its step schedules: `None` when there is none
/// (neither state nor admission rules).
pub async fn returning(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: &impl Schedules,
    environment: &str,
) -> Result<Option<Returning>, String> {
    let (listeners, _) = self::environment(client, environment).await?;
    let found = under_way(store, &listeners).await;
    if !found.any() {
        return Ok(None);
    }
    let problem = found.inconsistency(environment);
    let Some(state) = found.state else {
        return Ok(Some(Returning {
            environment: environment.to_string(),
            id: admission_of(&listeners)
                .into_iter()
                .find_map(|(_, _, id)| id)
                .unwrap_or_else(|| "?".into()),
            share_percent: 0,
            step: 0,
            steps: 0,
            next_step_at: None,
            next_share_percent: None,
            ends_at: "?".into(),
            problem,
        }));
    };
    let mut steps = steps_of(schedules, environment, &state.id).await;
    steps.sort_by_key(|(input, _)| input.step);
    let next = steps.iter().find(|(input, _)| input.step > state.step);
    Ok(Some(Returning {
        environment: environment.to_string(),
        id: state.id.clone(),
        share_percent: state.share_percent,
        step: state.step,
        steps: steps
            .iter()
            .map(|(i, _)| i.step)
            .max()
            .unwrap_or(state.step)
            .max(state.step),
        next_step_at: next.map(|(_, at)| at.clone()),
        next_share_percent: next.map(|(i, _)| i.share_percent),
        ends_at: maintenance_core::rfc3339::format(state.ends_at),
        problem,
    }))
}

/// The step schedules of return `id` in the environment's group, with when each is due.
pub async fn steps_of(
    schedules: &impl Schedules,
    environment: &str,
    id: &str,
) -> Vec<(ReturnStepInput, String)> {
    let Ok(group) = names::schedule_group(environment) else {
        return Vec::new();
    };
    let prefix = format!("{id}-step-");
    let Ok(found) = schedules.names(&group).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in found.into_iter().filter(|n| n.starts_with(&prefix)) {
        if let Ok(Some(s)) = schedules.get(&group, &name).await
            && let Some(input) = return_plan::step_of(&s)
        {
            let at = jiff::tz::TimeZone::get(&s.timezone)
                .ok()
                .and_then(|tz| crate::planner::window::parse_at(&s.expression, &tz))
                .map_or_else(|| s.expression.clone(), maintenance_core::rfc3339::format);
            out.push((input, at));
        }
    }
    out
}
