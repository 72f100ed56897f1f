//! The abort ([`abort`]): `maintctl on` during a return, or its abort alarm. The admission
//! rules first (no cookie given before lets anyone through), then the state and the remaining
//! schedules; maintenance stays on for everyone.

use crate::listeners::Listeners;
use crate::ops::Outcome;
use crate::ops::coordinate::{LeaseGuard, SwitchParameters};
use crate::ops::lease::LeaseOptions;
use crate::ops::owner::Owner;
use crate::planner::{Direction, Live};
use crate::schedules::Schedules;
use maintenance_core::deploy_names::tags;

use super::report::{Announcement, GradualReport, ListenerAdmission, refused};
use super::state::{admission_of, environment, under_way};
use super::step::clean_up;

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
    if let Some(why) = not_its_alarm(&request.owner, &listeners) {
        return report.end(Outcome::NothingToDo, why);
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
    report.announcement = Some(Announcement {
        environment: request.environment.clone(),
        direction: Direction::On,
        live: Some(Live::Responder),
        owner: request.owner.clone(),
        caller,
        reason: Some(reason),
        deadline: None,
        listeners: listeners.iter().map(|s| s.listener.arn.clone()).collect(),
        prefixes,
    });
    report
}

/// Why an alarm is not the abort alarm of the return under way (tagged on its admission
/// rules); `None` for a person, or the return's own alarm.
fn not_its_alarm(owner: &Owner, listeners: &[crate::planner::ListenerSnapshot]) -> Option<String> {
    let Owner::Alarm(alarm) = owner else {
        return None;
    };
    let named = listeners
        .iter()
        .flat_map(|s| s.rules.iter().filter(|r| r.is_admission()))
        .any(|r| r.tags.get(tags::ABORT_ALARM) == Some(&crate::planner::tag_value(alarm)));
    (!named).then(|| format!("alarm {alarm} is not the abort alarm of the return under way"))
}
