//! Deadlines and windows beside the switch (issue #15): `maintctl on --until T`
//! ([`on_until`]) — a manual maintenance with its end schedule, so that nothing stays on past
//! its announced end by accident — and `maintctl status` with the environment's deadline and
//! next window ([`status_with_windows`]).
//!
//! `on --until` checks the end and the schedule group first, creates the end schedule, then
//! switches on as the window's owner (the page's end time and time zone written with it); a
//! maintenance already on is taken over by the window. Should the switch not leave
//! maintenance on (declined, refused, failed, rolled back), the end schedule is deleted again;
//! a dry run creates nothing and shows the schedule.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::listeners::{Listeners, Targets, select};
use crate::ops::coordinate::SwitchParameters;
use crate::ops::lease::unique_u64;
use crate::ops::owner::Owner;
use crate::ops::owners;
use crate::ops::schedule::{self, ScheduleError, group_target, no_window_id, time_zone};
use crate::ops::status::{self, StatusReport};
use crate::ops::switch::plan::WindowContent;
use crate::ops::switch::{Operator, SwitchReport, SwitchRequest, switch};
use crate::ops::{Error, Outcome, Report};
use crate::planner::owners::{OwnerEntry, OwnerKind};
use crate::planner::window::{self, Schedule, Window, WindowSpec, check_window, parse_time};
use crate::planner::{ListenerSnapshot, State};
use crate::schedules::Schedules;
use maintenance_responder::ssm::LockParameters;

/// The deadline of `on --until`.
#[derive(Debug, Clone)]
pub struct Until {
    /// The end: RFC 3339, or a local time in `timezone`.
    pub end: String,
    /// The IANA time zone of a local end, of the schedule and of the page (default UTC).
    pub timezone: Option<String>,
}

/// What `on --until` did: the switch, and the end schedule.
#[derive(Debug, Clone)]
pub struct DeadlineReport {
    /// The switch.
    pub switch: SwitchReport,
    /// The end schedule (created, or that would be).
    pub schedule: Schedule,
    /// The window it belongs to.
    pub window: String,
    /// Whether the schedule is there now (false: a dry run, or deleted again).
    pub scheduled: bool,
    /// How it ended, and what that means.
    pub outcome: Outcome,
    /// The closing message.
    pub message: String,
    /// The window's end and time zone, as the switch on wrote them for the page.
    pub content: Option<WindowContent>,
}

impl Report for DeadlineReport {
    fn outcome(&self) -> Outcome {
        self.outcome
    }
}

/// Why `on --until` stopped before it changed anything.
#[derive(Debug, thiserror::Error)]
pub enum DeadlineError {
    /// The deadline cannot be scheduled.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The listeners could not be read or planned.
    #[error(transparent)]
    Switch(#[from] Error),
}

impl DeadlineError {
    /// Refused (4) or failed (1).
    pub fn outcome(&self) -> Outcome {
        match self {
            DeadlineError::Schedule(e) => e.outcome(),
            DeadlineError::Switch(e) => e.outcome(),
        }
    }
}

/// `maintctl on --until`: the end schedule, then the switch on as its window.
pub async fn on_until(
    listeners: &impl Listeners,
    parameters: &impl SwitchParameters,
    schedules: &impl Schedules,
    request: &SwitchRequest,
    until: &Until,
    operator: &mut impl Operator,
) -> Result<DeadlineReport, DeadlineError> {
    let spec = deadline_spec(listeners, schedules, request, until).await?;
    let made = window::schedules(&spec).map_err(refused)?;
    let end_schedule = made.into_iter().next_back().expect("an end schedule");
    if !request.dry_run {
        schedules.create(&end_schedule).await.map_err(|e| {
            DeadlineError::Schedule(ScheduleError::Failed {
                context: "creating the end schedule failed; nothing was changed".into(),
                source: e,
            })
        })?;
    }
    let end = spec.end;
    let mut request = request.clone();
    request.coordination.owner = Owner::Window(spec.id.clone());
    request.coordination.content = Some(WindowContent {
        end: Timestamp::from_second(end.as_second())
            .unwrap_or(end)
            .to_string(),
        timezone: Some(spec.timezone.clone()),
    });
    let switched = Box::pin(switch(listeners, parameters, &request, operator)).await;
    let keep = match &switched {
        Ok(r) => {
            matches!(
                r.outcome,
                Outcome::Done | Outcome::NothingToDo | Outcome::Inconsistent | Outcome::Unverified
            ) && !r.dry_run
                && r.lease_held_by.is_none()
        }
        Err(_) => false,
    };
    let notes = if keep || request.dry_run {
        Vec::new()
    } else {
        delete_again(schedules, &end_schedule, end).await
    };
    let mut switch = switched?;
    let message = match (keep, request.dry_run) {
        (true, _) => format!("{}; it ends at {end} (window {})", switch.message, spec.id),
        (false, true) => format!(
            "{}; the end schedule would switch it off at {end}",
            switch.message
        ),
        (false, false) => switch.message.clone(),
    };
    match &mut switch.applied {
        Some(applied) => applied.warnings.extend(notes),
        None => switch.plan.warnings.extend(notes),
    }
    Ok(DeadlineReport {
        outcome: switch.outcome,
        switch,
        schedule: end_schedule,
        window: spec.id,
        scheduled: keep,
        message,
        content: request.coordination.content.clone(),
    })
}

fn refused(message: String) -> DeadlineError {
    DeadlineError::Schedule(ScheduleError::Refused(message))
}

/// Checks the deadline (its time, the environment, its schedule group) and makes its window.
async fn deadline_spec(
    listeners: &impl Listeners,
    schedules: &impl Schedules,
    request: &SwitchRequest,
    until: &Until,
) -> Result<WindowSpec, DeadlineError> {
    let Some(environment) = request.targets.environment.clone() else {
        return Err(refused(
            "--until needs --environment: its end schedule switches an environment off".into(),
        ));
    };
    let tz_name = until.timezone.clone().unwrap_or_else(|| "UTC".into());
    let tz = time_zone(&tz_name).map_err(refused)?;
    let now = Timestamp::now();
    let end =
        parse_time(&until.end, &tz_name, &tz).map_err(|e| refused(format!("--until: {e}")))?;
    check_window(None, end, now).map_err(|e| refused(format!("--until: {e}")))?;
    let (group, target) = group_target(schedules, &environment).await?;
    schedule::environment_prefixes(listeners, &environment).await?;
    let (existing, _) = schedule::group_windows(schedules, &group).await?;
    schedule::refuse_overlap(&existing, None, now, end)
        .map_err(|e| refused(format!("--until: {e}")))?;
    Ok(WindowSpec {
        id: window::window_id(
            now,
            unique_u64().map_err(|e| DeadlineError::Schedule(no_window_id(e)))?,
        ),
        environment,
        group,
        reason: request
            .reason
            .clone()
            .unwrap_or_else(|| window::NO_REASON.into()),
        scheduled_by: listeners
            .caller()
            .await
            .unwrap_or_else(|_| "unknown".into()),
        start: None,
        end,
        timezone: tz_name,
        tz,
        target,
    })
}

/// Deletes the end schedule of a switch that did not leave maintenance on; what happened, as
/// warnings.
async fn delete_again(
    schedules: &impl Schedules,
    end_schedule: &Schedule,
    end: Timestamp,
) -> Vec<String> {
    let (group, name) = (&end_schedule.group, &end_schedule.name);
    match schedules.delete(group, name).await {
        Ok(_) => vec![format!("the end schedule {name} was deleted again")],
        Err(e) => vec![format!(
            "deleting the end schedule {name} again failed ({e}): delete it by hand (aws \
             scheduler delete-schedule --group-name {group} --name {name}) or it switches off \
             at {end}"
        )],
    }
}

impl Serialize for DeadlineReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut doc = match serde_json::to_value(&self.switch).map_err(serde::ser::Error::custom)? {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        doc.insert(
            "deadline".into(),
            serde_json::json!({
                "window": self.window,
                "scheduled": self.scheduled,
                "schedule": self.schedule,
            }),
        );
        doc.insert("message".into(), self.message.clone().into());
        doc.serialize(s)
    }
}

impl std::fmt::Display for DeadlineReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(applied) = &self.switch.applied {
            write!(f, "{applied}")?;
        }
        if let Some(verification) = &self.switch.verification {
            write!(f, "{verification}")?;
        }
        let verb = if self.scheduled { "" } else { "would be " };
        writeln!(
            f,
            "end schedule {verb}{}/{}: {} {} (window {})",
            self.schedule.group,
            self.schedule.name,
            self.schedule.expression,
            self.schedule.timezone,
            self.window
        )?;
        if self.outcome.went_well() {
            writeln!(f, "{}", self.message)?;
        }
        Ok(())
    }
}

/// `status` and the windows of the environments it shows.
#[derive(Debug, Clone)]
pub struct StatusWithWindows {
    /// The listeners.
    pub status: StatusReport,
    /// Per environment shown, its windows (running first: its end is the deadline).
    pub windows: Vec<(String, Vec<Window>)>,
    /// Per environment shown, who owns its maintenance now (none while it is off): the owner
    /// record (`crate::ops::owners`), or the maintenance rule's tags without one.
    pub owners: Vec<(String, Vec<OwnerEntry>)>,
    /// Why some environment's windows or owners could not be read.
    pub notes: Vec<String>,
}

/// `maintctl status`: the listeners, then each environment's deadline and next window (when
/// it has a schedule group; an environment without one has no windows, and that is said only
/// with `--environment`).
pub async fn status_with_windows(
    listeners: &impl Listeners,
    parameters: &impl LockParameters,
    schedules: &impl Schedules,
    targets: &Targets,
) -> Result<StatusWithWindows, Error> {
    let selection = select(listeners, targets).await.map_err(Error::Select)?;
    let owners = owners_by_environment(parameters, &selection.listeners).await;
    let report = status::report(selection, targets);
    let mut environments: Vec<String> = report
        .listeners
        .iter()
        .filter_map(|l| l.maintenance.as_ref()?.environment.clone())
        .collect();
    environments.sort();
    environments.dedup();
    let (owners, notes) = owners;
    let mut out = StatusWithWindows {
        status: report,
        windows: Vec::new(),
        owners,
        notes,
    };
    for env in environments {
        match group_target(schedules, &env).await {
            Ok((group, _)) => match schedule::group_windows(schedules, &group).await {
                Ok((windows, _)) => out.windows.push((env, windows)),
                Err(e) => out
                    .notes
                    .push(format!("{env}: {}", maintenance_core::causes::chain(&e))),
            },
            Err(e) if targets.environment.is_some() => {
                out.notes.push(format!(
                    "{env}: no windows: {}",
                    maintenance_core::causes::chain(&e)
                ));
            }
            Err(_) => {}
        }
    }
    Ok(out)
}

/// Who owns each environment's maintenance: the owner records of its listeners' prefixes.
async fn owners_by_environment(
    parameters: &impl LockParameters,
    snapshots: &[ListenerSnapshot],
) -> (Vec<(String, Vec<OwnerEntry>)>, Vec<String>) {
    let mut environments: Vec<&str> = snapshots.iter().filter_map(|s| s.environment()).collect();
    environments.sort_unstable();
    environments.dedup();
    let (mut out, mut notes) = (Vec::new(), Vec::new());
    for env in environments {
        let of_env: Vec<(&ListenerSnapshot, State)> = snapshots
            .iter()
            .filter(|s| s.environment() == Some(env))
            .map(|s| (s, s.state().unwrap_or(State::Between)))
            .collect();
        let on = of_env.iter().any(|(_, state)| *state != State::Off);
        match owners::read_listeners(parameters, of_env).await {
            Ok(records) => out.push((env.to_string(), records.merged.owners_if(on).to_vec())),
            Err(e) => notes.push(format!("{env}: {e}")),
        }
    }
    (out, notes)
}

impl StatusWithWindows {
    /// Whether window `id` is among the owners of the maintenance of environment `env` now.
    fn owns(&self, env: &str, id: &str) -> bool {
        self.owners
            .iter()
            .filter(|(e, _)| e == env)
            .any(|(_, owners)| owners.iter().any(|o| o.is(OwnerKind::Window, id)))
    }
}

impl Report for StatusWithWindows {
    fn outcome(&self) -> Outcome {
        self.status.outcome()
    }
}

impl Serialize for StatusWithWindows {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut doc = match serde_json::to_value(&self.status).map_err(serde::ser::Error::custom)? {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let windows: Map<String, Value> = self
            .windows
            .iter()
            .map(|(env, w)| (env.clone(), serde_json::to_value(w).unwrap_or_default()))
            .collect();
        doc.insert("windows".into(), Value::Object(windows));
        let owners: Map<String, Value> = self
            .owners
            .iter()
            .map(|(env, o)| (env.clone(), serde_json::to_value(o).unwrap_or_default()))
            .collect();
        doc.insert("owners".into(), Value::Object(owners));
        doc.insert(
            "window_notes".into(),
            serde_json::to_value(&self.notes).unwrap_or_default(),
        );
        doc.serialize(s)
    }
}

impl std::fmt::Display for StatusWithWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.status)?;
        for (env, owners) in self.owners.iter().filter(|(_, o)| !o.is_empty()) {
            writeln!(
                f,
                "{env}: owned by {} (maintenance goes off when the last owner lets go, or a \
                 person switches it off)",
                owners::listed(owners)
            )?;
        }
        for (env, windows) in &self.windows {
            let running = windows
                .iter()
                .find(|w| w.status == "running" && self.owns(env, &w.id));
            for w in windows
                .iter()
                .filter(|w| w.status != "upcoming" && !self.owns(env, &w.id))
            {
                writeln!(
                    f,
                    "{env}: window {} ends at {} but is not in charge of the maintenance now (it \
                     was switched off, or on again by someone else): its end will do nothing",
                    w.id,
                    w.end.as_deref().unwrap_or("?")
                )?;
            }
            let next = windows.iter().find(|w| w.status == "upcoming");
            if running.is_none() && next.is_none() {
                writeln!(f, "{env}: no deadline, no window scheduled")?;
            }
            if let Some(w) = running {
                writeln!(
                    f,
                    "{env}: deadline {} ({}): window {} switches maintenance off then",
                    w.end.as_deref().unwrap_or("?"),
                    w.timezone,
                    w.id
                )?;
            }
            if let Some(w) = next {
                writeln!(
                    f,
                    "{env}: next window {}: on {} -> off {} ({}): {}",
                    w.id,
                    w.start.as_deref().unwrap_or("?"),
                    w.end.as_deref().unwrap_or("?"),
                    w.timezone,
                    w.reason
                )?;
            }
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}
