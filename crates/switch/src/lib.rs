//! The `maintenance-switch` Lambda (issue #15): maintenance that switches itself, on a
//! schedule or an alarm, through the same switching engine as `maintctl`
//! (`maintenance_engine::ops::switch` with no one to ask: it plans when it runs, from the live
//! listeners, under the lease, with room-making, re-reads, rollback and the record).
//!
//! - [`event`]: what it accepts — a switch request (a schedule's `Input`) or a CloudWatch alarm
//!   event in either shape — read and validated without I/O;
//! - [`decide`]: what it does about it (pure): which switch, for whom
//!   ([`maintenance_engine::ops::Owner`]), why, or why nothing;
//! - [`SwitchFunction::handle`]: the two, then the switch; a gradual return's step
//!   (`maintenance_engine::ops::gradual::step`), and the abort alarm of a return under way
//!   (`gradual::abort`: its ALARM aborts the return before anything else; the remaining step
//!   schedules are left to fire and change nothing, as the function has no Scheduler client); [`report`]: the answer, the same
//!   JSON document `maintctl on --output json` prints plus the event.
//!
//! The rules it keeps: it switches only its own environment
//! ([`maintenance_core::deploy_names::switch::ENVIRONMENT`]); ALARM switches on with the reason
//! `automatic: <alarm name>` and joins the maintenance's owners; OK lets that alarm go (the
//! maintenance goes off when its last owner has let go), and not at all with
//! `ON_ALARM_OK=stay`; a window's end lets its window go the same way; an alarm on the responder itself
//! (`FALLBACK_ALARMS`) only swaps the page while maintenance is on — ALARM the fallback page,
//! OK the responder's again where that alarm put the fallback live; a listener no lease can be
//! taken for is refused. Who owns a maintenance, and which events are stale (an alarm's event
//! not newer than the last one handled, a cancelled window's), is `maintenance_engine::ops::owners`'. Bad input is refused with the reason, logged, and changes nothing; it never
//! panics.

pub mod event;
pub mod report;

use std::time::Duration;

use aws_config::BehaviorVersion;
use jiff::Timestamp;

use maintenance_core::deploy_names::{events, switch as names};
use maintenance_engine::announce::{self, Announcer, Channels, EventBus, Silent, SwitchEvent, Who};
use maintenance_engine::listeners::{Aws, Listeners};
use maintenance_engine::ops::{
    self, Confirmation, Coordination, LeaseHolder, LeaseOptions, Operator, Outcome, Owner,
    SwitchParameters, SwitchPlan, SwitchRequest, WindowContent, gradual,
};
use maintenance_engine::planner::{Direction, Live, environment_name};

pub use event::{AlarmEvent, AlarmState, Invocation, ScheduledSwitch};
pub use report::EventReport;

/// What an alarm's OK does to the maintenance that alarm switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAlarmOk {
    /// Switch it off (the default).
    SwitchOff,
    /// Leave it on until a person ends it.
    Stay,
}

/// The function's settings, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The environment it switches; `None`: it refuses everything.
    pub environment: Option<String>,
    /// What an alarm's OK does.
    pub on_alarm_ok: OnAlarmOk,
    /// The alarms it acts on; `None`: any.
    pub alarm_names: Option<Vec<String>>,
    /// The alarms on the responder: they change only which page is live during maintenance
    /// (ALARM: the fallback page, OK: the responder's), and may act even when not in
    /// `alarm_names`.
    pub fallback_alarms: Vec<String>,
    /// How long it waits for a lease another writer holds.
    pub lease_wait: Duration,
    /// The EventBridge bus its switches are announced on (`default` unless set).
    pub event_bus: String,
}

impl Settings {
    /// Reads the settings through `get` (the environment); each problem is said, and the
    /// setting keeps its safe default.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let environment = match get(names::ENVIRONMENT) {
            None => {
                problems.push(format!(
                    "{} is not set: every event is refused (set it to the environment the \
                     function switches)",
                    names::ENVIRONMENT
                ));
                None
            }
            Some(env) => match environment_name(&env) {
                Ok(env) => Some(env),
                Err(e) => {
                    problems.push(format!(
                        "{}: {e}; every event is refused",
                        names::ENVIRONMENT
                    ));
                    None
                }
            },
        };
        let on_alarm_ok = match get(names::ON_ALARM_OK).as_deref().map(str::trim) {
            None | Some("" | "off") => OnAlarmOk::SwitchOff,
            Some("stay") => OnAlarmOk::Stay,
            Some(other) => {
                problems.push(format!(
                    "{}={other:?} is neither \"off\" nor \"stay\": staying on after OK (the safe \
                     reading)",
                    names::ON_ALARM_OK
                ));
                OnAlarmOk::Stay
            }
        };
        let list = |value: String| -> Vec<String> {
            value
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        };
        let alarm_names = get(names::ALARM_NAMES).map(list);
        let fallback_alarms = get(names::FALLBACK_ALARMS).map(list).unwrap_or_default();
        let lease_wait = match get(names::LEASE_WAIT_SECONDS).map(|s| s.trim().parse::<u64>()) {
            None => names::DEFAULT_LEASE_WAIT_SECONDS,
            Some(Ok(s)) if s <= 60 => s,
            Some(_) => {
                problems.push(format!(
                    "{} is not a number of seconds up to 60: using {}",
                    names::LEASE_WAIT_SECONDS,
                    names::DEFAULT_LEASE_WAIT_SECONDS
                ));
                names::DEFAULT_LEASE_WAIT_SECONDS
            }
        };
        let event_bus = get(events::SWITCH_BUS)
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| events::DEFAULT_BUS.to_string());
        let settings = Self {
            environment,
            on_alarm_ok,
            alarm_names,
            fallback_alarms,
            lease_wait: Duration::from_secs(lease_wait),
            event_bus,
        };
        (settings, problems)
    }
}

/// A decision: the switch to make, or why there is none (outcome and message).
pub type Decision = Result<SwitchRequest, (Outcome, String)>;

/// What to do about an event (pure): the switch request, with its owner, reason and content.
pub fn decide(invocation: &Invocation, settings: &Settings) -> Decision {
    let Some(environment) = &settings.environment else {
        return Err((
            Outcome::Refused,
            format!(
                "refused: the function has no {}, so it does not know which environment to \
                 switch; nothing was changed",
                names::ENVIRONMENT
            ),
        ));
    };
    let mut event_time = None;
    let (direction, reason, owner, content, live) = match invocation {
        Invocation::SwitchRequest(s) => {
            if s.environment != *environment {
                return Err((
                    Outcome::Refused,
                    format!(
                        "refused: this function switches environment {environment:?}, not {:?}; \
                         nothing was changed",
                        s.environment
                    ),
                ));
            }
            let content = s.end.clone().map(|end| WindowContent {
                end,
                timezone: s.timezone.clone(),
            });
            let reason = format!(
                "scheduled: window {} by {}: {}",
                s.window, s.scheduled_by, s.reason
            );
            (
                s.direction,
                reason,
                Owner::Window(s.window.clone()),
                content,
                Live::Responder,
            )
        }
        Invocation::ReturnStep(_) => {
            return Err((
                Outcome::Refused,
                "refused: a return step is not a switch request (SwitchFunction::handle runs it); \
                 nothing was changed"
                    .into(),
            ));
        }
        Invocation::Alarm(a) => {
            let switch = alarm_switch(a, settings)?;
            event_time = Some(alarm_time(a)?);
            switch
        }
    };
    let coordination = Coordination {
        lease: LeaseOptions {
            wait: settings.lease_wait,
            required: true,
            ..LeaseOptions::default()
        },
        owner,
        content,
        event_time,
        lease_held: false,
    };
    // The bypass link's token is set (`on`) and rotated (`off`) as by maintctl; the link is
    // left out of the answer (`EventReport::switched`).
    Ok(SwitchRequest::unattended(
        direction,
        environment,
        reason,
        live,
        coordination,
    ))
}

/// When an alarm entered the state of its event: what tells a late or repeated delivery from
/// a new state change. AWS sends it with every alarm event.
fn alarm_time(a: &AlarmEvent) -> Result<Timestamp, (Outcome, String)> {
    a.at.as_deref()
        .and_then(|t| maintenance_core::rfc3339::parse(t).ok())
        .ok_or_else(|| {
            (
                Outcome::Refused,
                format!(
                    "refused: the event of alarm {} has no time (alarmData.state.timestamp or \
                     time), so a late or repeated delivery cannot be told from a new state \
                     change; nothing was changed",
                    a.alarm
                ),
            )
        })
}

type AlarmSwitch = (Direction, String, Owner, Option<WindowContent>, Live);

fn alarm_switch(a: &AlarmEvent, settings: &Settings) -> Result<AlarmSwitch, (Outcome, String)> {
    if settings.fallback_alarms.contains(&a.alarm) {
        return page_switch(a);
    }
    if let Some(allowed) = &settings.alarm_names
        && !allowed.contains(&a.alarm)
    {
        return Err((
            Outcome::Refused,
            format!(
                "refused: alarm {:?} is not one this function acts on ({}: {}); nothing was \
                 changed",
                a.alarm,
                names::ALARM_NAMES,
                allowed.join(", ")
            ),
        ));
    }
    let owner = Owner::Alarm(a.alarm.clone());
    match a.state {
        AlarmState::Alarm => Ok((
            Direction::On,
            format!("automatic: {}", a.alarm),
            owner,
            None,
            Live::Responder,
        )),
        AlarmState::Ok if settings.on_alarm_ok == OnAlarmOk::Stay => Err((
            Outcome::NothingToDo,
            format!(
                "alarm {} is OK; maintenance stays on until a person ends it ({}=stay)",
                a.alarm,
                names::ON_ALARM_OK
            ),
        )),
        AlarmState::Ok => Ok((
            Direction::Off,
            format!("automatic: {} is OK", a.alarm),
            owner,
            None,
            Live::Responder,
        )),
        AlarmState::InsufficientData => Err((
            Outcome::NothingToDo,
            format!("alarm {} has insufficient data: nothing to do", a.alarm),
        )),
    }
}

/// An alarm on the responder: ALARM puts the fallback page live in the responder's place,
/// OK puts the responder's page back; both only while maintenance is on
/// (`maintenance_engine::ops::owners`), neither switches maintenance on or off.
fn page_switch(a: &AlarmEvent) -> Result<AlarmSwitch, (Outcome, String)> {
    let (live, reason) = match a.state {
        AlarmState::Alarm => (
            Live::Fallback,
            format!(
                "automatic: {} (the responder is failing): the fallback page",
                a.alarm
            ),
        ),
        AlarmState::Ok => (
            Live::Responder,
            format!("automatic: {} is OK: the responder's page", a.alarm),
        ),
        AlarmState::InsufficientData => {
            return Err((
                Outcome::NothingToDo,
                format!("alarm {} has insufficient data: nothing to do", a.alarm),
            ));
        }
    };
    let owner = Owner::PageAlarm {
        alarm: a.alarm.clone(),
        live,
    };
    Ok((Direction::On, reason, owner, None, live))
}

/// The operator of a switch no one watches: it says yes, and logs a wait for the lease.
struct Logged;

impl Operator for Logged {
    fn confirm(&mut self, _plan: &SwitchPlan) -> Confirmation {
        Confirmation::Confirmed
    }

    fn waiting(&mut self, holder: &LeaseHolder, wait: Duration) {
        tracing::warn!(
            holder = holder.holder.as_str(),
            since = holder.since.as_str(),
            doing = holder.doing.as_str(),
            wait_s = wait.as_secs(),
            "waiting for the lease"
        );
    }
}

/// The function: its settings and clients, and where its switches are announced.
pub struct SwitchFunction<L, P, A = Silent> {
    listeners: L,
    parameters: P,
    settings: Settings,
    announcer: A,
}

/// Where the deployed function announces and records its switches: its bus, and SSM.
pub type FunctionChannels = Channels<EventBus, aws_sdk_ssm::Client>;

impl SwitchFunction<Aws, aws_sdk_ssm::Client, FunctionChannels> {
    /// Built from the environment (settings, and the SDK's standard chain), once per sandbox;
    /// with the configuration problems found.
    pub async fn from_environment(get: &dyn Fn(&str) -> Option<String>) -> (Self, Vec<String>) {
        let (settings, problems) = Settings::from_lookup(get);
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(maintenance_responder::aws::https_client())
            .load()
            .await;
        let channels = Channels {
            bus: EventBus::new(&config, &settings.event_bus),
            history: aws_sdk_ssm::Client::new(&config),
        };
        let function = SwitchFunction::new(
            Aws::new(&config),
            aws_sdk_ssm::Client::new(&config),
            settings,
        )
        .announcing(channels);
        (function, problems)
    }
}

impl<L: Listeners, P: SwitchParameters> SwitchFunction<L, P> {
    /// A function over any clients (tests inject faults) that announces nothing.
    pub fn new(listeners: L, parameters: P, settings: Settings) -> Self {
        Self {
            listeners,
            parameters,
            settings,
            announcer: Silent,
        }
    }
}

impl<L: Listeners, P: SwitchParameters, A: Announcer> SwitchFunction<L, P, A> {
    /// The same function, announcing its switches through `announcer`.
    pub fn announcing<B: Announcer>(self, announcer: B) -> SwitchFunction<L, P, B> {
        SwitchFunction {
            listeners: self.listeners,
            parameters: self.parameters,
            settings: self.settings,
            announcer,
        }
    }

    /// One invocation: read the event, decide, switch. Never fails: every way it can end is a
    /// report.
    pub async fn handle(&self, payload: &str) -> EventReport {
        let invocation = match event::parse(payload, Timestamp::now()) {
            Ok(invocation) => invocation,
            Err(reason) => {
                let message = format!("refused: {reason}; nothing was changed");
                let mut report = EventReport::stopped(None, Outcome::Refused, message);
                let event = self.refusal(&report);
                report.announcement_warnings = self.announcer.announce(&event, &[]).await;
                return report;
            }
        };
        if let Some(answer) = self.gradual(&invocation).await {
            return answer;
        }
        let request = match decide(&invocation, &self.settings) {
            Ok(request) => request,
            Err((outcome, message)) => {
                let mut report = EventReport::stopped(Some(invocation), outcome, message);
                if outcome == Outcome::Refused {
                    let event = self.refusal(&report);
                    report.announcement_warnings = self.announcer.announce(&event, &[]).await;
                }
                return report;
            }
        };
        // Boxed: the switch's future is deep, and it runs once per invocation.
        let mut operator = Logged;
        let switched = Box::pin(ops::switch(
            &self.listeners,
            &self.parameters,
            &request,
            &mut operator,
        ));
        match switched.await {
            Ok(report) => {
                let warnings = announce::after_switch(&self.announcer, &report, &request).await;
                let mut answer = EventReport::switched(invocation, report);
                answer.announcement_warnings = warnings;
                answer
            }
            Err(e) => EventReport::failed(invocation, &e),
        }
    }

    /// A gradual return's step, or the ALARM of a return's abort alarm (named by `maintctl off
    /// --gradual --abort-alarm`, kept as a tag on the admission rules, so it aborts whether or
    /// not `MAINTENANCE_SWITCH_ALARM_NAMES` lists it): the answer; `None` for anything else.
    async fn gradual(&self, invocation: &Invocation) -> Option<EventReport> {
        let environment = self.settings.environment.clone()?;
        let lease = LeaseOptions {
            wait: self.settings.lease_wait,
            required: true,
            ..LeaseOptions::default()
        };
        match invocation {
            Invocation::ReturnStep(step) => {
                if step.environment != environment {
                    return Some(EventReport::stopped(
                        Some(invocation.clone()),
                        Outcome::Refused,
                        format!(
                            "refused: this function switches environment {environment:?}, not \
                             {:?}; nothing was changed",
                            step.environment
                        ),
                    ));
                }
                let report = Box::pin(gradual::step(
                    &self.listeners,
                    &self.parameters,
                    None::<&gradual::NoSchedules>,
                    step,
                    &lease,
                ))
                .await;
                let warnings = announce::after_return(&self.announcer, &report).await;
                let mut answer = EventReport::gradual(invocation.clone(), report);
                answer.announcement_warnings.extend(warnings);
                Some(answer)
            }
            Invocation::Alarm(a)
                if a.state == AlarmState::Alarm
                    && !self.settings.fallback_alarms.contains(&a.alarm) =>
            {
                let request = gradual::AbortRequest {
                    environment,
                    owner: Owner::Alarm(a.alarm.clone()),
                    reason: Some(format!("automatic: {}", a.alarm)),
                    lease,
                };
                let report = gradual::abort(
                    &self.listeners,
                    &self.parameters,
                    None::<&gradual::NoSchedules>,
                    &request,
                )
                .await;
                // Not a return's abort alarm (or no return): the alarm's ordinary switch.
                report.return_id.as_ref()?;
                let warnings = announce::after_return(&self.announcer, &report).await;
                let mut answer = EventReport::gradual(invocation.clone(), report);
                answer.announcement_warnings.extend(warnings);
                Some(answer)
            }
            _ => None,
        }
    }

    /// The event of an invocation refused before any switch was planned: who asked (the
    /// window or the alarm), for which environment, and why it was refused. It is in no
    /// history: no listener was read, so no content prefix is known.
    fn refusal(&self, report: &EventReport) -> SwitchEvent {
        let (environment, direction, who, reason) = match &report.event {
            Some(Invocation::SwitchRequest(s)) => (
                Some(s.environment.clone()),
                Some(s.direction),
                Who::of(&Owner::Window(s.window.clone()), &s.scheduled_by),
                Some(s.reason.clone()),
            ),
            Some(Invocation::ReturnStep(s)) => (
                Some(s.environment.clone()),
                None,
                Who::of(&Owner::Person, &s.scheduled_by),
                Some(format!("gradual return {} step {}", s.return_id, s.step)),
            ),
            Some(Invocation::Alarm(a)) => (
                self.settings.environment.clone(),
                None,
                Who::of(&Owner::Alarm(a.alarm.clone()), "cloudwatch"),
                None,
            ),
            None => (
                self.settings.environment.clone(),
                None,
                Who {
                    kind: "unknown".into(),
                    caller: "unknown".into(),
                    name: None,
                },
                None,
            ),
        };
        let now = jiff::Timestamp::now();
        SwitchEvent::refused(
            environment,
            direction,
            who,
            reason,
            report.message.clone(),
            now,
        )
    }
}
