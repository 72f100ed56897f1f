//! A scheduled step ([`step`]): under the lease, the share raised for the return under way
//! only; its last step the ordinary `off` then the admission rules, the state and the schedules
//! deleted ([`clean_up`], which the abort shares).

use crate::listeners::Listeners;
use crate::ops::Outcome;
use crate::ops::coordinate::{LeaseGuard, SwitchParameters};
use crate::ops::lease::LeaseOptions;
use crate::ops::owner::Owner;
use crate::ops::switch::{Coordination, SwitchReport, SwitchRequest, Unattended};
use crate::planner::return_plan::{ReturnStepInput, StepDecision, step_decision};
use crate::planner::{Direction, ListenerSnapshot, Live};
use crate::schedules::{Schedules, SchedulesError};
use maintenance_core::deploy_names::switch as names;

use super::report::{GradualReport, refused};
use super::state::{admission_of, environment, read_state, state_parameter, write_state};

/// A step delivered by its schedule (the switch function): see the module doc. `owner` and
/// `caller` are who the final `off` is recorded for.
pub async fn step(
    client: &impl Listeners,
    store: &impl SwitchParameters,
    schedules: Option<&impl Schedules>,
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
        report.switch_request = Some(Box::new(request));
    }
    report
}

fn report_reason(switch: &SwitchReport) -> String {
    switch.plan.reason.clone().unwrap_or_default()
}

/// The ordinary `off` of an environment, under a lease its caller holds.
fn off_request(environment: &str, reason: String, lease: &LeaseOptions) -> SwitchRequest {
    let coordination = Coordination {
        lease: lease.clone(),
        owner: Owner::Person,
        content: None,
        event_time: None,
        lease_held: true,
    };
    SwitchRequest::unattended(
        Direction::Off,
        environment,
        reason,
        Live::Responder,
        coordination,
    )
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
pub(super) async fn clean_up(
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
