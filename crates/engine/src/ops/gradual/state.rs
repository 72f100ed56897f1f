//! The return's state and what reads it: `{prefix}/return/state` read (decrypted) and written,
//! the environment's listeners and their admission rules, the return under way ([`under_way`],
//! [`returning`] for `status`), its step schedules ([`steps_of`]), and [`NoSchedules`] for a
//! caller without a Scheduler client.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::listeners::{Listeners, Targets, select};
use crate::ops::coordinate::SwitchParameters;
use crate::planner::ListenerSnapshot;
use crate::planner::return_plan::{self, ReturnStepInput};
use crate::schedules::{ScheduleGroup, Schedules, SchedulesError};
use maintenance_core::admission::ReturnState;
use maintenance_core::deploy_names::{parameters, switch as names, tags};
use maintenance_responder::ssm::{StoredType, Write};

/// `{prefix}/return/state`.
pub fn state_parameter(prefix: &str) -> String {
    format!("{prefix}/{}", parameters::RETURN_STATE)
}

/// The environment's listeners with a maintenance rule, and their content prefixes (sorted,
/// each once); refused when there is none, or one names no prefix.
pub(super) async fn environment(
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

pub(super) async fn write_state(
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
pub(super) fn admission_of(
    listeners: &[ListenerSnapshot],
) -> Vec<(String, String, Option<String>)> {
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

/// The returns under way in each of `environments` (each once), and what could not be read.
pub async fn returning_all(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: &impl Schedules,
    environments: impl IntoIterator<Item = String>,
) -> (Vec<Returning>, Vec<String>) {
    let environments: BTreeSet<String> = environments.into_iter().collect();
    let (mut found, mut problems) = (Vec::new(), Vec::new());
    for env in &environments {
        match returning(client, store, schedules, env).await {
            Ok(Some(r)) => found.push(r),
            Ok(None) => {}
            Err(e) => problems.push(format!("the gradual return is not shown: {e}")),
        }
    }
    (found, problems)
}
