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
use crate::ops::lease::unique_u64;
use crate::ops::{Outcome, Report};
use crate::planner::window::{
    self, Schedule, ScheduleTarget, Window, WindowSpec, check_reason, check_window,
    check_window_id, parse_time, schedule_names,
};
use crate::planner::{environment_name, short_listener};
use crate::schedules::{Schedules, SchedulesError};
use maintenance_core::deploy_names::switch as names;

mod change;

pub use change::{WindowRequest, cancel, extend, write_end};

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

pub(crate) fn read_failed(
    context: impl Into<String>,
) -> impl FnOnce(SchedulesError) -> ScheduleError {
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
    /// The steps of a gradual return (`maintctl off --gradual`) scheduled in the group.
    pub return_steps: Vec<ScheduledStep>,
    /// Schedules of the group that are neither a window's nor a return's step.
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
            return_steps: Vec::new(),
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

pub(crate) fn resolve(name: &str) -> Option<TimeZone> {
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
    let all = group_schedules(schedules, &group).await?;
    let (windows, other) = window::windows(&all, &resolve, Timestamp::now());
    let mut steps: Vec<ScheduledStep> = all.iter().filter_map(ScheduledStep::of).collect();
    steps.sort_by(|a, b| (&a.return_id, a.step).cmp(&(&b.return_id, b.step)));
    let mut report = ScheduleReport::new("list", false, environment, &group);
    let mut message = match windows.len() {
        0 => format!("no window is scheduled for {environment}"),
        n => format!("{n} window(s) for {environment}"),
    };
    if !steps.is_empty() {
        message.push_str(&format!("; {} step(s) of a gradual return", steps.len()));
    }
    report.windows = windows;
    report.other_schedules = other
        .into_iter()
        .filter(|n| !steps.iter().any(|s| &s.schedule == n))
        .collect();
    report.return_steps = steps;
    Ok(report.end(Outcome::Done, message))
}

/// A scheduled step of a gradual return, as `schedule list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledStep {
    /// The return's id.
    pub return_id: String,
    /// The step's number.
    pub step: u32,
    /// Its share (100: the final off).
    pub share_percent: u8,
    /// When it is due (RFC 3339, or the schedule's expression when it cannot be read).
    pub at: String,
    /// The schedule's name.
    pub schedule: String,
}

impl ScheduledStep {
    /// The step a schedule delivers, if it is one.
    pub fn of(s: &Schedule) -> Option<Self> {
        let input = crate::planner::return_plan::step_of(s)?;
        let at = resolve(&s.timezone)
            .and_then(|tz| window::parse_at(&s.expression, &tz))
            .map_or_else(|| s.expression.clone(), maintenance_core::rfc3339::format);
        Some(Self {
            return_id: input.return_id,
            step: input.step,
            share_percent: input.share_percent,
            at,
            schedule: s.name.clone(),
        })
    }
}

/// A window of the group, by id; refused when it has no schedule left.
pub(crate) async fn find(
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
        for s in &self.return_steps {
            let what = match s.share_percent {
                100 => "the final off".to_string(),
                share => format!("{share} % let through"),
            };
            writeln!(
                f,
                "return {} step {} at {}: {what} (schedule {})",
                s.return_id, s.step, s.at, s.schedule
            )?;
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
