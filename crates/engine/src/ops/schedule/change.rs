//! A window changed once it is made: [`cancel`] (its schedules deleted, its events made stale
//! for the switch function) and [`extend`] (a later end, on the schedules, the page and the
//! owner record; [`write_end`] for the page).

use jiff::Timestamp;

use crate::listeners::{Listeners, Targets};
use crate::ops::Outcome;
use crate::ops::coordinate::SwitchParameters;
use crate::ops::owners;
use crate::planner::owners::{OwnerKind, OwnerRecord, WindowState, entry};
use crate::planner::window::{self, Schedule, SwitchInput, check_window, parse_time};
use crate::schedules::Schedules;
use maintenance_core::deploy_names::switch as names;
use maintenance_responder::ssm::{ParameterWriter, StoredType, Write};

use crate::ops::schedule::{
    ScheduleError, ScheduleReport, environment_prefixes, find, group_target, group_windows,
    refuse_overlap, resolve, time_zone,
};

/// A window to cancel or extend.
#[derive(Debug, Clone)]
pub struct WindowRequest {
    /// The environment.
    pub environment: String,
    /// The window's id.
    pub window: String,
    /// For `extend`: the new end (RFC 3339, or a local time in `timezone`, else in the
    /// window's time zone).
    pub end: Option<String>,
    /// For `extend`: the time zone of a local `end`.
    pub timezone: Option<String>,
    /// Show what would change, change nothing.
    pub dry_run: bool,
}

/// `maintctl schedule cancel`: the window's events go stale, then its schedules are deleted.
/// Under the lease, the owner record notes the window as cancelled (an end in flight, retried
/// or replayed from the dead-letter queue changes nothing) and takes it away from the owners;
/// a maintenance it was the last owner of stays on, owned by the person who cancelled.
pub async fn cancel(
    listeners: &impl Listeners,
    parameters: &impl SwitchParameters,
    schedules: &impl Schedules,
    request: &WindowRequest,
) -> Result<ScheduleReport, ScheduleError> {
    let (group, _) = group_target(schedules, &request.environment).await?;
    let (w, start, end) = find(schedules, &group, &request.window).await?;
    let mut report = ScheduleReport::new("cancel", request.dry_run, &request.environment, &group);
    report.deleted = start
        .iter()
        .chain(end.iter())
        .map(|s| s.name.clone())
        .collect();
    let running = w.status != "upcoming";
    let until = w.end.clone();
    report.windows = vec![w];
    if running {
        report.warnings.push(format!(
            "window {} has started: maintenance stays on once its end schedule is gone; switch \
             it off with maintctl off --environment {}",
            request.window, request.environment
        ));
    }
    if request.dry_run {
        return Ok(report.end(Outcome::Done, "dry run: nothing was deleted".into()));
    }
    match stale_window(listeners, parameters, request, until.as_deref()).await {
        Ok(said) => report.warnings.extend(said),
        Err(e) => {
            return Ok(report.end(
                Outcome::Failed,
                format!("{e}; nothing was deleted: run cancel again"),
            ));
        }
    }
    for s in start.iter().chain(end.iter()) {
        if let Err(e) = schedules.delete(&s.group, &s.name).await {
            let message = if s.name.ends_with("-start") {
                format!("{e}; no schedule was deleted, but the window's events are stale now")
            } else {
                format!(
                    "{e}; the start schedule was deleted, the end schedule is left (its events \
                     are stale now: it changes nothing): run cancel again"
                )
            };
            let outcome = if s.name.ends_with("-start") {
                Outcome::Failed
            } else {
                Outcome::Inconsistent
            };
            return Ok(report.end(outcome, message));
        }
    }
    Ok(report.end(
        Outcome::Done,
        format!("window {} cancelled", request.window),
    ))
}

/// Under the lease: the window noted as cancelled and no longer an owner; the person who
/// cancels owns a maintenance it was the last owner of. What to say about it.
pub(super) async fn stale_window(
    listeners: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &WindowRequest,
    until: Option<&str>,
) -> Result<Vec<String>, String> {
    let caller = listeners
        .caller()
        .await
        .unwrap_or_else(|_| "unknown".into());
    let id = request.window.clone();
    let targets = Targets {
        environment: Some(request.environment.clone()),
        ..Targets::default()
    };
    let now = jiff::Timestamp::now();
    let doing = format!("schedule cancel {id} by {caller}");
    let change = |record: &mut OwnerRecord, on: bool| {
        record.saw_window(&id, WindowState::Cancelled, now, until);
        if !record.release(OwnerKind::Window, &id) || !on {
            return None;
        }
        if !record.owners.is_empty() {
            return Some(format!(
                "window {id} no longer owns the maintenance; its other owners keep it on ({})",
                owners::listed(&record.owners)
            ));
        }
        let reason = format!("window {id} cancelled");
        record.join(entry(
            OwnerKind::Person,
            &caller,
            now,
            &caller,
            &reason,
            None,
        ));
        Some(format!(
            "window {id} no longer owns the maintenance: maintenance stays on, owned by you \
             ({caller}); maintctl off ends it"
        ))
    };
    let (said, mut warnings) =
        owners::amend(listeners, parameters, &targets, &caller, &doing, change).await?;
    warnings.extend(said);
    warnings.push(format!(
        "the events of window {id} are stale now: a start or an end still in flight (retried, or \
         sent again from the dead-letter queue) changes nothing"
    ));
    Ok(warnings)
}

/// `maintctl schedule extend`: moves the window's end, on its schedule and on the page.
pub async fn extend(
    listeners: &impl Listeners,
    parameters: &impl SwitchParameters,
    schedules: &impl Schedules,
    request: &WindowRequest,
) -> Result<ScheduleReport, ScheduleError> {
    let (group, _) = group_target(schedules, &request.environment).await?;
    let (w, start, end) = find(schedules, &group, &request.window).await?;
    let Some(mut end_schedule) = end else {
        return Err(ScheduleError::Refused(format!(
            "window {} has no end schedule left (it has ended): nothing to extend",
            request.window
        )));
    };
    let tz_name = request
        .timezone
        .clone()
        .unwrap_or_else(|| end_schedule.timezone.clone());
    let tz = time_zone(&tz_name).map_err(ScheduleError::Refused)?;
    let text = request.end.as_deref().unwrap_or_default();
    let new_end = parse_time(text, &tz_name, &tz)
        .map_err(|e| ScheduleError::Refused(format!("--end: {e}")))?;
    let pending_start = start.as_ref().filter(|_| w.status == "upcoming");
    let start_at = pending_start
        .and(w.start.as_deref())
        .and_then(|t| t.parse().ok());
    check_window(start_at, new_end, Timestamp::now()).map_err(ScheduleError::Refused)?;
    let (existing, _) = group_windows(schedules, &group).await?;
    let from = start_at.unwrap_or_else(Timestamp::now);
    refuse_overlap(&existing, Some(&request.window), from, new_end)?;
    let schedule_tz = time_zone(&end_schedule.timezone).map_err(ScheduleError::Refused)?;
    end_schedule.expression = window::at_expression(new_end, &end_schedule.timezone, &schedule_tz)
        .map_err(ScheduleError::Refused)?;
    let end_text = Timestamp::from_second(new_end.as_second())
        .unwrap_or(new_end)
        .to_string();
    let mut changed = vec![keep_invariants(end_schedule)];
    if let Some(s) = pending_start {
        changed.insert(0, keep_invariants(with_end(s.clone(), &end_text)?));
    }
    let mut report = ScheduleReport::new("extend", request.dry_run, &request.environment, &group);
    report.windows = window::windows(&changed, &resolve, Timestamp::now()).0;
    report.schedules = changed.clone();
    let prefixes = if pending_start.is_none() {
        environment_prefixes(listeners, &request.environment).await?
    } else {
        Vec::new()
    };
    if request.dry_run {
        for p in &prefixes {
            report
                .warnings
                .push(format!("would write {p}/retry-after = {end_text}"));
        }
        return Ok(report.end(Outcome::Done, "dry run: nothing was changed".into()));
    }
    for s in &changed {
        if let Err(e) = schedules.update(s).await {
            return Ok(report.end(Outcome::Failed, format!("{e}; the window was not extended")));
        }
    }
    for p in &prefixes {
        if let Err(problem) = write_end(parameters, p, &end_text).await {
            report.warnings.push(format!(
                "the end schedule is moved, but the page's end time under {p} could not be \
                 written ({problem}): set it with maintctl message set --prefix {p} --until \
                 {end_text}"
            ));
        }
    }
    if pending_start.is_none() {
        report
            .warnings
            .extend(owner_until(listeners, parameters, request, &end_text).await);
    }
    let message = format!("window {} now ends at {end_text}", request.window);
    Ok(report.end(Outcome::Done, message))
}

/// A running window's new end in the owner record (under the lease), so that `status` and a
/// start that joins see it; what could not be done, as warnings.
pub(super) async fn owner_until(
    listeners: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &WindowRequest,
    end: &str,
) -> Vec<String> {
    let caller = listeners
        .caller()
        .await
        .unwrap_or_else(|_| "unknown".into());
    let targets = Targets {
        environment: Some(request.environment.clone()),
        ..Targets::default()
    };
    let doing = format!("schedule extend {} by {caller}", request.window);
    let change = |record: &mut OwnerRecord, _on: bool| {
        for o in record.owners.iter_mut() {
            if o.is(OwnerKind::Window, &request.window) {
                o.until = Some(end.to_string());
            }
        }
        None
    };
    match owners::amend(listeners, parameters, &targets, &caller, &doing, change).await {
        Ok((_, warnings)) => warnings,
        Err(e) => vec![format!(
            "the window's new end is scheduled, but the owner record could not be updated \
             ({e}): maintctl status shows the old end among the owners until the window ends"
        )],
    }
}

/// The start schedule with the window's new end in its `Input`.
pub(super) fn with_end(mut s: Schedule, end: &str) -> Result<Schedule, ScheduleError> {
    let mut input: SwitchInput = serde_json::from_str(&s.input).map_err(|e| {
        ScheduleError::Refused(format!(
            "schedule {} has an Input that is not a window's: {e}",
            s.name
        ))
    })?;
    input.end = Some(end.to_string());
    s.input = serde_json::to_string(&input).map_err(|e| ScheduleError::Refused(e.to_string()))?;
    Ok(s)
}

/// What every window schedule is, whatever was read back: an update replaces it whole.
pub(super) fn keep_invariants(mut s: Schedule) -> Schedule {
    s.flexible_window = "OFF".into();
    s.action_after_completion = "DELETE".into();
    s.state = "ENABLED".into();
    s.retry_max_event_age_seconds = Some(names::RETRY_MAX_EVENT_AGE_SECONDS);
    s.retry_max_attempts = Some(names::RETRY_MAX_ATTEMPTS);
    s
}

/// Writes `{prefix}/retry-after`, keeping its stored type.
pub async fn write_end(
    parameters: &impl ParameterWriter,
    prefix: &str,
    end: &str,
) -> Result<(), String> {
    let name = format!(
        "{prefix}/{}",
        maintenance_core::deploy_names::parameters::RETRY_AFTER
    );
    let types = parameters
        .stored_types(std::slice::from_ref(&name))
        .await
        .map_err(|e| e.to_string())?;
    let kind = types.get(&name).cloned().unwrap_or(StoredType::String);
    if kind == StoredType::StringList {
        return Err(format!("{name} is a StringList"));
    }
    let write = Write {
        name,
        value: end.to_string(),
    };
    parameters
        .put(&write, &kind)
        .await
        .map_err(|e| e.to_string())
}
