//! Maintenance windows (issue #15): `maintctl schedule create|list|cancel|extend`
//! ([`create`], [`list`], [`cancel`], [`extend`]), each a validated request in and a
//! [`ScheduleReport`] out. A window is two one-time EventBridge Scheduler schedules in the
//! environment's schedule group (`crate::planner::window`), whose target is the
//! `maintenance-switch` function; where that function, the role Scheduler assumes and the
//! dead-letter queue are is read from the group's tags, which the templates write.
//!
//! What `create` checks before it writes anything: the reason; the times (start before end,
//! both in the future, five minutes to seven days, no daylight-saving fold); the time zone
//! (`--timezone`, in the system's time zone database); that the schedule group exists with its
//! tags; that the environment has attached maintenance rules that name a content prefix (the
//! switch function refuses others); and that no other window overlaps. It creates the start,
//! then the end; should the end fail, the start is deleted again.
//!
//! `extend` moves the end schedule and the page's end time together: the start schedule's
//! `Input` while the window is to come, `{prefix}/retry-after` while it runs. `cancel` deletes
//! the window's schedules (a running window's maintenance stays on, and it says so). The
//! deadline of `maintctl on --until` and the windows `status` shows are in
//! `crate::ops::deadline`.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::listeners::{Listeners, Targets, select};
use crate::ops::coordinate::SwitchParameters;
use crate::ops::lease::unique_u64;
use crate::ops::owners;
use crate::ops::{Outcome, Report};
use crate::planner::owners::{OwnerKind, OwnerRecord, WindowState, entry};
use crate::planner::window::{
    self, Schedule, ScheduleTarget, SwitchInput, Window, WindowSpec, check_reason, check_window,
    check_window_id, parse_time, schedule_names,
};
use crate::planner::{environment_name, short_listener};
use crate::schedules::{Schedules, SchedulesError};
use maintenance_core::deploy_names::switch as names;
use maintenance_responder::ssm::{ParameterWriter, StoredType, Write};

/// Why a schedule command stopped before it changed anything.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScheduleError {
    /// The request or the environment makes it unsafe or impossible; nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// A read failed; nothing was changed.
    #[error("{context}")]
    Failed {
        /// What was being read.
        context: String,
        /// Why.
        #[source]
        source: SchedulesError,
    },
}

impl ScheduleError {
    /// Refused (4) or failed (1).
    pub fn outcome(&self) -> Outcome {
        match self {
            ScheduleError::Refused(_) => Outcome::Refused,
            ScheduleError::Failed { .. } => Outcome::Failed,
        }
    }
}

fn read_failed(context: impl Into<String>) -> impl FnOnce(SchedulesError) -> ScheduleError {
    let context = context.into();
    move |source| ScheduleError::Failed { context, source }
}

/// What a schedule command did. Displayed as the windows, the schedules written or deleted,
/// the warnings, and the closing message; serialized as its `--output json` document.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleReport {
    /// `create`, `list`, `cancel` or `extend`.
    pub command: &'static str,
    /// Nothing was written.
    pub dry_run: bool,
    /// The environment.
    pub environment: String,
    /// Its schedule group.
    pub group: String,
    /// The windows (the one made, changed or cancelled; every one for `list`).
    pub windows: Vec<Window>,
    /// The schedules created or updated (for a dry run: that would be).
    pub schedules: Vec<Schedule>,
    /// The schedules deleted (or that would be).
    pub deleted: Vec<String>,
    /// Schedules of the group that are not a window's.
    pub other_schedules: Vec<String>,
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

impl ScheduleReport {
    fn new(command: &'static str, dry_run: bool, environment: &str, group: &str) -> Self {
        Self {
            command,
            dry_run,
            environment: environment.into(),
            group: group.into(),
            windows: Vec::new(),
            schedules: Vec::new(),
            deleted: Vec::new(),
            other_schedules: Vec::new(),
            warnings: Vec::new(),
            outcome: Outcome::Done,
            exit_code: 0,
            message: String::new(),
        }
    }

    fn end(mut self, outcome: Outcome, message: String) -> Self {
        self.outcome = outcome;
        self.exit_code = outcome.exit_code();
        self.message = message;
        self
    }
}

impl Report for ScheduleReport {
    fn outcome(&self) -> Outcome {
        self.outcome
    }
}

/// A window to create.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The environment.
    pub environment: String,
    /// When maintenance goes on (RFC 3339, or a local time in `timezone`).
    pub start: String,
    /// When it goes off.
    pub end: String,
    /// The IANA time zone of local times, of the schedules and of the page's end time
    /// (default UTC).
    pub timezone: Option<String>,
    /// Why.
    pub reason: String,
    /// Show what would be created, create nothing.
    pub dry_run: bool,
}

/// A time zone by IANA name, from the system's database.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    window::check_timezone_spelling(name)?;
    let tz = TimeZone::get(name).map_err(|_| {
        format!(
            "time zone {name:?} is not in this system's time zone database (install tzdata, or \
             give an RFC 3339 time and --timezone UTC)"
        )
    })?;
    maintenance_core::content::check_zone_spelling(name, tz.iana_name())?;
    Ok(tz)
}

/// The schedule group of an environment and where its schedules send their switches, from
/// the group's tags; refused when the group or a tag is missing.
pub async fn group_target(
    schedules: &impl Schedules,
    environment: &str,
) -> Result<(String, ScheduleTarget), ScheduleError> {
    environment_name(environment).map_err(ScheduleError::Refused)?;
    let group = names::schedule_group(environment).map_err(ScheduleError::Refused)?;
    let found = schedules.group(&group).await.map_err(read_failed(format!(
        "reading the schedule group {group} failed"
    )))?;
    let Some(found) = found else {
        return Err(ScheduleError::Refused(format!(
            "there is no schedule group {group}: windows need the switch function of \
             environment {environment:?} (deploy/sam: SwitchFunction=true; deploy/terraform: \
             switch_function = true), which creates the group"
        )));
    };
    let tag = |key: &str| {
        found
            .tags
            .get(key)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| {
                ScheduleError::Refused(format!(
                    "the schedule group {group} has no tag {key}: it was not made by the \
                     templates (deploy/); tag it, or redeploy"
                ))
            })
    };
    let target = ScheduleTarget {
        function: tag(names::GROUP_TAG_FUNCTION)?,
        role: tag(names::GROUP_TAG_ROLE)?,
        dead_letter: tag(names::GROUP_TAG_DEAD_LETTER)?,
    };
    Ok((group, target))
}

/// The content prefixes of the environment's attached listeners; refused when there is none,
/// or one names no content prefix (the switch function refuses those).
pub async fn environment_prefixes(
    listeners: &impl Listeners,
    environment: &str,
) -> Result<Vec<String>, ScheduleError> {
    let targets = Targets {
        environment: Some(environment.to_string()),
        ..Targets::default()
    };
    let selection = select(listeners, &targets).await.map_err(|e| {
        ScheduleError::Refused(format!(
            "reading the listeners of {environment:?} failed: {e}"
        ))
    })?;
    if selection.listeners.is_empty() {
        return Err(ScheduleError::Refused(format!(
            "no listener has a maintenance rule of environment {environment:?}: attach one \
             first (maintctl attach --environment {environment} --prefix …)"
        )));
    }
    let mut prefixes = Vec::new();
    for s in &selection.listeners {
        match s.content_prefix() {
            Some(p) => {
                if !prefixes.iter().any(|q| q == p) {
                    prefixes.push(p.to_string());
                }
            }
            None => {
                return Err(ScheduleError::Refused(format!(
                    "listener {}: its maintenance rule names no content prefix, so the switch \
                     function cannot take the lease for it and refuses it: tag it (aws elbv2 \
                     add-tags … Key=maintenance-responder:content-prefix,Value=/maintenance/APP)",
                    short_listener(&s.listener.arn)
                )));
            }
        }
    }
    Ok(prefixes)
}

/// Every schedule of a group, read back.
async fn group_schedules(
    schedules: &impl Schedules,
    group: &str,
) -> Result<Vec<Schedule>, ScheduleError> {
    let names = schedules.names(group).await.map_err(read_failed(format!(
        "listing the schedules of {group} failed"
    )))?;
    let mut out = Vec::new();
    for name in names {
        if let Some(s) = schedules
            .get(group, &name)
            .await
            .map_err(read_failed(format!(
                "reading schedule {group}/{name} failed"
            )))?
        {
            out.push(s);
        }
    }
    Ok(out)
}

fn resolve(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

/// The windows of a group, with the names of the schedules that are not a window's.
pub async fn group_windows(
    schedules: &impl Schedules,
    group: &str,
) -> Result<(Vec<Window>, Vec<String>), ScheduleError> {
    let all = group_schedules(schedules, group).await?;
    Ok(window::windows(&all, &resolve, Timestamp::now()))
}

fn overlaps(w: &Window, start: Timestamp, end: Timestamp) -> bool {
    let at = |t: &Option<String>| t.as_deref().and_then(|t| t.parse::<Timestamp>().ok());
    let (ws, we) = (at(&w.start).unwrap_or_else(Timestamp::now), at(&w.end));
    we.is_none_or(|we| ws < end && start < we)
}

/// Refuses a window or deadline from `start` to `end` that overlaps one of `windows` (but
/// `except`, the one being moved): everywhere a window is made or moved, so that one window's
/// start never takes another's maintenance over, nor its end ends it early.
pub fn refuse_overlap(
    windows: &[Window],
    except: Option<&str>,
    start: Timestamp,
    end: Timestamp,
) -> Result<(), ScheduleError> {
    let Some(w) = windows
        .iter()
        .filter(|w| Some(w.id.as_str()) != except)
        .find(|w| overlaps(w, start, end))
    else {
        return Ok(());
    };
    Err(ScheduleError::Refused(format!(
        "window {} ({} to {}) overlaps this one: extend or cancel it first (maintctl schedule \
         extend|cancel {} --environment {})",
        w.id,
        w.start.as_deref().unwrap_or("running"),
        w.end.as_deref().unwrap_or("?"),
        w.id,
        w.environment
    )))
}

/// `maintctl schedule create`: validates everything, then creates the window's two schedules.
pub async fn create(
    listeners: &impl Listeners,
    schedules: &impl Schedules,
    request: &CreateRequest,
) -> Result<ScheduleReport, ScheduleError> {
    check_reason(&request.reason).map_err(ScheduleError::Refused)?;
    let tz_name = request.timezone.clone().unwrap_or_else(|| "UTC".into());
    let tz = time_zone(&tz_name).map_err(ScheduleError::Refused)?;
    let start = parse_time(&request.start, &tz_name, &tz)
        .map_err(|e| ScheduleError::Refused(format!("--start: {e}")))?;
    let end = parse_time(&request.end, &tz_name, &tz)
        .map_err(|e| ScheduleError::Refused(format!("--end: {e}")))?;
    check_window(Some(start), end, Timestamp::now()).map_err(ScheduleError::Refused)?;
    let (group, target) = group_target(schedules, &request.environment).await?;
    environment_prefixes(listeners, &request.environment).await?;
    let (existing, other) = group_windows(schedules, &group).await?;
    refuse_overlap(&existing, None, start, end)?;
    let scheduled_by = listeners
        .caller()
        .await
        .unwrap_or_else(|_| "unknown".into());
    let spec = WindowSpec {
        id: window::window_id(start, unique_u64().map_err(no_window_id)?),
        environment: request.environment.clone(),
        group: group.clone(),
        reason: request.reason.clone(),
        scheduled_by,
        start: Some(start),
        end,
        timezone: tz_name,
        tz,
        target,
    };
    let made = window::schedules(&spec).map_err(ScheduleError::Refused)?;
    let mut report = ScheduleReport::new("create", request.dry_run, &request.environment, &group);
    report.other_schedules = other;
    report.windows = window::windows(&made, &resolve, Timestamp::now()).0;
    report.schedules = made.clone();
    if request.dry_run {
        return Ok(report.end(Outcome::Done, "dry run: nothing was created".into()));
    }
    Ok(create_all(schedules, report, &made, &spec.id).await)
}

/// Creates the schedules in order; on a failure, deletes those created and says where things
/// stand.
async fn create_all(
    schedules: &impl Schedules,
    mut report: ScheduleReport,
    made: &[Schedule],
    id: &str,
) -> ScheduleReport {
    for (i, s) in made.iter().enumerate() {
        let Err(e) = schedules.create(s).await else {
            continue;
        };
        if i == 0 {
            return report.end(Outcome::Failed, format!("{e}; nothing was created"));
        }
        let mut undone = true;
        for earlier in &made[..i] {
            if let Err(d) = schedules.delete(&earlier.group, &earlier.name).await {
                undone = false;
                report.warnings.push(format!(
                    "deleting {} again failed: {d}; delete it by hand: aws scheduler \
                     delete-schedule --group-name {} --name {}",
                    earlier.name, earlier.group, earlier.name
                ));
            }
        }
        let (outcome, what) = if undone {
            (
                Outcome::RolledBack,
                "the schedules created were deleted again",
            )
        } else {
            (
                Outcome::Inconsistent,
                "a schedule created could not be deleted again",
            )
        };
        return report.end(outcome, format!("{e}; {what}"));
    }
    let w = report.windows.first().cloned();
    let message = match w {
        Some(w) => format!(
            "window {id} scheduled: maintenance on at {}, off at {} ({})",
            w.start.unwrap_or_default(),
            w.end.unwrap_or_default(),
            w.timezone
        ),
        None => format!("window {id} scheduled"),
    };
    report.end(Outcome::Done, message)
}

/// `maintctl schedule list`: the environment's windows, upcoming and running.
pub async fn list(
    schedules: &impl Schedules,
    environment: &str,
) -> Result<ScheduleReport, ScheduleError> {
    let (group, _) = group_target(schedules, environment).await?;
    let (windows, other) = group_windows(schedules, &group).await?;
    let mut report = ScheduleReport::new("list", false, environment, &group);
    let message = match windows.len() {
        0 => format!("no window is scheduled for {environment}"),
        n => format!("{n} window(s) for {environment}"),
    };
    report.windows = windows;
    report.other_schedules = other;
    Ok(report.end(Outcome::Done, message))
}

/// A window of the group, by id; refused when it has no schedule left.
async fn find(
    schedules: &impl Schedules,
    group: &str,
    id: &str,
) -> Result<(Window, Option<Schedule>, Option<Schedule>), ScheduleError> {
    check_window_id(id).map_err(ScheduleError::Refused)?;
    let (start_name, end_name) = schedule_names(id);
    let get = |name: String| async move {
        schedules
            .get(group, &name)
            .await
            .map_err(read_failed(format!(
                "reading schedule {group}/{name} failed"
            )))
    };
    let (start, end) = (get(start_name).await?, get(end_name).await?);
    let both: Vec<Schedule> = start.iter().chain(end.iter()).cloned().collect();
    let (mut found, _) = window::windows(&both, &resolve, Timestamp::now());
    match found.pop() {
        Some(w) => Ok((w, start, end)),
        None => Err(ScheduleError::Refused(format!(
            "there is no window {id} in {group} (it has ended, was cancelled, or belongs to \
             another environment): see maintctl schedule list"
        ))),
    }
}

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
async fn stale_window(
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
    let now = time::OffsetDateTime::now_utc();
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
async fn owner_until(
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
fn with_end(mut s: Schedule, end: &str) -> Result<Schedule, ScheduleError> {
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
fn keep_invariants(mut s: Schedule) -> Schedule {
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

impl std::fmt::Display for ScheduleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for w in &self.windows {
            write_window(f, w)?;
        }
        let verb = if self.dry_run { "would " } else { "" };
        for s in &self.schedules {
            writeln!(
                f,
                "  {verb}{} schedule {}/{}: {} {} -> {}",
                if self.command == "create" {
                    "create"
                } else {
                    "update"
                },
                s.group,
                s.name,
                s.expression,
                s.timezone,
                s.input
            )?;
        }
        for d in &self.deleted {
            writeln!(f, "  {verb}delete schedule {}/{d}", self.group)?;
        }
        if !self.other_schedules.is_empty() {
            writeln!(
                f,
                "  other schedules in {}: {}",
                self.group,
                self.other_schedules.join(", ")
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        if self.outcome.went_well() {
            writeln!(f, "{}", self.message)?;
        }
        Ok(())
    }
}

/// One window in one line, then who and why.
pub fn write_window(f: &mut std::fmt::Formatter<'_>, w: &Window) -> std::fmt::Result {
    writeln!(
        f,
        "window {} ({}): on {} -> off {} ({})",
        w.id,
        w.status,
        w.start.as_deref().unwrap_or("(started)"),
        w.end.as_deref().unwrap_or("(no end schedule)"),
        w.timezone
    )?;
    writeln!(f, "  {} — scheduled by {}", w.reason, w.scheduled_by)
}
/// A window id could not be drawn: refused, nothing changed.
pub(crate) fn no_window_id(e: getrandom::Error) -> ScheduleError {
    ScheduleError::Refused(format!(
        "no window id could be drawn: the operating system's random number generator failed \
         ({e}); nothing was changed"
    ))
}
