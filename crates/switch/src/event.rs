//! What the `maintenance-switch` function accepts, read and validated without I/O (the time is
//! passed in): a `SwitchInput` (`maintenance_engine::planner::window`: the JSON an EventBridge Scheduler schedule delivers as its
//! `Input`, written by `maintctl schedule` and `on --until`) or a CloudWatch alarm event, in
//! either of the two shapes AWS sends it. Anything else is refused with the reason
//! ([`parse`]); the function never guesses.
//!
//! **Switch request** (`deny_unknown_fields`; every field checked):
//!
//! ```json
//! {"action": "on", "environment": "shop-prod", "reason": "DB migration CHG-1234",
//!  "window": "w-20261122t0400z-3f9a", "scheduled_by": "arn:aws:sts::123456789012:assumed-role/ops/ana",
//!  "end": "2026-11-22T06:00:00Z", "timezone": "Asia/Tokyo"}
//! ```
//!
//! `end` (RFC 3339, after now, at most a week ahead: the page's `retry-after` rule) and
//! `timezone` (IANA) only with `"on"`, `end` required there; a start delivered after its end
//! is refused (switching on then would leave a maintenance no end schedule ends).
//!
//! **Return step** (issue #24, `maintctl off --gradual`; `deny_unknown_fields`, every field
//! checked: `maintenance_engine::planner::return_plan::ReturnStepInput`):
//!
//! ```json
//! {"action": "return-step", "environment": "shop-prod", "return": "r-20261207t1300z-3f9a",
//!  "step": 2, "share_percent": 25, "scheduled_by": "arn:aws:sts::123456789012:assumed-role/ops/ana"}
//! ```
//!
//! `step` from 2 (step 1 is applied by `maintctl` itself), `share_percent` 1 to 100; 100 is
//! the return's final step, the ordinary `off`. Whether it changes anything (the return under
//! way, a share above the current one) is decided under the lease
//! (`maintenance_engine::ops::gradual::step`).
//!
//! **CloudWatch alarm events** (extra fields are ignored: AWS adds fields over time):
//! - the direct Lambda alarm action payload, `{"source": "aws.cloudwatch", "alarmArn": …,
//!   "alarmData": {"alarmName": …, "state": {"value": "ALARM", "reason": …}, "previousState":
//!   {…}, "configuration": {…}}}` — CloudWatch User Guide, "Using Amazon CloudWatch alarms",
//!   Lambda alarm actions (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#Lambda-action-payload);
//! - the EventBridge event, `{"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm
//!   State Change", "resources": […], "detail": {"alarmName": …, "state": {"value": …},
//!   "previousState": {…}}}` — CloudWatch User Guide, "Alarm events and EventBridge"
//!   (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html).

use jiff::Timestamp;
use maintenance_core::rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use maintenance_engine::planner::return_plan::{ReturnStepInput, STEP_ACTION};
use maintenance_engine::planner::window::{SwitchInput, check_timezone_spelling, check_window_id};
use maintenance_engine::planner::{Direction, environment_name};

/// Largest payload read: Scheduler's `Input` and alarm events are a few kB.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Longest window: the page's `retry-after` takes an end at most a week ahead.
pub const MAX_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);
/// Longest `reason` and `scheduled_by` (they become tag values of at most 256 characters).
pub const MAX_TEXT: usize = 256;
/// Longest alarm name CloudWatch allows.
pub const MAX_ALARM_NAME: usize = 255;

/// A validated switch request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledSwitch {
    /// On or off.
    pub direction: Direction,
    /// The environment.
    pub environment: String,
    /// Why.
    pub reason: String,
    /// The window's id.
    pub window: String,
    /// Who scheduled it.
    pub scheduled_by: String,
    /// On: the window's end (RFC 3339, UTC).
    pub end: Option<String>,
    /// On: the page's time zone.
    pub timezone: Option<String>,
}

/// A CloudWatch alarm state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    /// `ALARM`.
    Alarm,
    /// `OK`.
    Ok,
    /// `INSUFFICIENT_DATA`.
    InsufficientData,
}

/// The shape an alarm event came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmShape {
    /// The alarm's own Lambda action.
    AlarmAction,
    /// EventBridge's "CloudWatch Alarm State Change".
    Eventbridge,
}

/// A validated alarm event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmEvent {
    /// The alarm's name.
    pub alarm: String,
    /// The state it entered.
    pub state: AlarmState,
    /// When it entered it (RFC 3339, UTC): the state's `timestamp`, else the event's `time`.
    /// An event not newer than the last one handled for this alarm is stale.
    pub at: Option<String>,
    /// The state it left, when told.
    pub previous: Option<AlarmState>,
    /// How it came.
    pub shape: AlarmShape,
}

/// What the function was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Invocation {
    /// A scheduled switch.
    SwitchRequest(ScheduledSwitch),
    /// An alarm changed state.
    Alarm(AlarmEvent),
    /// A scheduled step of a gradual return.
    ReturnStep(ReturnStepInput),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmData {
    alarm_name: String,
    state: StateValue,
    #[serde(default)]
    previous_state: Option<StateValue>,
}

#[derive(Deserialize)]
struct StateValue {
    value: String,
    #[serde(default)]
    timestamp: Option<String>,
}

/// Reads and validates one payload; the error is the reason it is refused.
pub fn parse(payload: &str, now: Timestamp) -> Result<Invocation, String> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(format!(
            "the payload has {} bytes, more than any switch request or alarm event \
             ({MAX_PAYLOAD_BYTES})",
            payload.len()
        ));
    }
    let value: Value =
        serde_json::from_str(payload).map_err(|e| format!("the payload is not JSON: {e}"))?;
    let Some(object) = value.as_object() else {
        return Err(format!(
            "the payload is {}, not an object: not a switch request nor a CloudWatch alarm event",
            kind(&value)
        ));
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    if text("action") == Some(STEP_ACTION) {
        let input: ReturnStepInput = serde_json::from_value(value.clone())
            .map_err(|e| format!("not a valid return step: {e}"))?;
        return check_step(input).map(Invocation::ReturnStep);
    }
    if object.contains_key("action") {
        let input: SwitchInput = serde_json::from_value(value.clone())
            .map_err(|e| format!("not a valid switch request: {e}"))?;
        return check_switch(input, now).map(Invocation::SwitchRequest);
    }
    let detail_type = text("detail-type");
    let shape = match (text("source"), detail_type) {
        (Some("aws.cloudwatch"), Some("CloudWatch Alarm State Change")) => AlarmShape::Eventbridge,
        (Some("aws.cloudwatch"), None) if object.contains_key("alarmData") => {
            AlarmShape::AlarmAction
        }
        (Some("aws.cloudwatch"), Some(other)) => {
            return Err(format!(
                "a CloudWatch event of type {:?}, not \"CloudWatch Alarm State Change\"",
                clip(other)
            ));
        }
        _ => {
            return Err(
                "neither a switch request (no \"action\") nor a CloudWatch alarm event (no \
                 \"source\": \"aws.cloudwatch\" with \"alarmData\" or \"detail\")"
                    .into(),
            );
        }
    };
    let data = match shape {
        AlarmShape::AlarmAction => object.get("alarmData"),
        AlarmShape::Eventbridge => object.get("detail"),
    };
    let data: AlarmData = data
        .cloned()
        .ok_or_else(|| "the alarm event has no alarm data".to_string())
        .and_then(|d| {
            serde_json::from_value(d).map_err(|e| format!("not a valid alarm event: {e}"))
        })?;
    let time = text("time").map(str::to_string);
    check_alarm(data, shape, time).map(Invocation::Alarm)
}

fn check_step(input: ReturnStepInput) -> Result<ReturnStepInput, String> {
    environment_name(&input.environment)?;
    maintenance_core::admission::check_id(&input.return_id).map_err(|e| e.to_string())?;
    check_text("scheduled_by", &input.scheduled_by, MAX_TEXT)?;
    if input.step < 2 {
        return Err(format!(
            "return step {} is not a scheduled step (they count from 2; step 1 is applied by \
             maintctl off --gradual itself)",
            input.step
        ));
    }
    if !(1..=100).contains(&input.share_percent) {
        return Err(format!(
            "return share {} is not within 1..=100 percent",
            input.share_percent
        ));
    }
    Ok(input)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most 80 characters of a value, for a message.
fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        out.push('…');
    }
    out
}

fn check_alarm(
    data: AlarmData,
    shape: AlarmShape,
    time: Option<String>,
) -> Result<AlarmEvent, String> {
    check_text("alarm name", &data.alarm_name, MAX_ALARM_NAME)?;
    let state = alarm_state(&data.state.value)?;
    let previous = match data.previous_state {
        Some(p) => Some(alarm_state(&p.value)?),
        None => None,
    };
    let at = match data.state.timestamp.or(time) {
        Some(t) => Some(alarm_time(&t)?),
        None => None,
    };
    Ok(AlarmEvent {
        alarm: data.alarm_name,
        state,
        at,
        previous,
        shape,
    })
}

/// An alarm event's time, as CloudWatch writes it (`2019-10-02T17:20:48.551+0000`) or in
/// RFC 3339; normalized to RFC 3339 in UTC.
pub fn alarm_time(text: &str) -> Result<String, String> {
    let at = rfc3339::parse(text)
        .or_else(|_| rfc3339::parse(&cloudwatch_offset(text)))
        .map_err(|_| format!("the alarm's time {:?} is not a time", clip(text)))?;
    Ok(rfc3339::format(at))
}

/// CloudWatch's offset (`+0000`) as RFC 3339 writes it (`+00:00`); anything else as it is.
fn cloudwatch_offset(text: &str) -> String {
    let split = text.len().saturating_sub(5);
    match (text.get(..split), text.get(split..)) {
        (Some(time), Some(offset))
            if offset.starts_with(['+', '-'])
                && offset[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{time}{}:{}", &offset[..3], &offset[3..])
        }
        _ => text.to_string(),
    }
}

fn alarm_state(value: &str) -> Result<AlarmState, String> {
    match value {
        "ALARM" => Ok(AlarmState::Alarm),
        "OK" => Ok(AlarmState::Ok),
        "INSUFFICIENT_DATA" => Ok(AlarmState::InsufficientData),
        other => Err(format!(
            "alarm state {:?} is none of ALARM, OK, INSUFFICIENT_DATA",
            clip(other)
        )),
    }
}

/// Text that becomes a tag value or a log field: not empty, no control characters, bounded.
fn check_text(what: &str, text: &str, max: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("{what} is empty"));
    }
    if text.chars().count() > max {
        return Err(format!("{what} is longer than {max} characters"));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{what} {:?} holds the control character {c:?}",
            clip(text)
        ));
    }
    Ok(())
}

/// An IANA time zone name. Checked against the time zone database when the system has one
/// (`maintctl` always does; a Lambda without `/usr/share/zoneinfo` checks the spelling only,
/// since the name was checked when the window was made).
pub fn check_timezone(name: &str) -> Result<(), String> {
    check_timezone_spelling(name)?;
    if jiff::tz::db().is_definitively_empty() {
        return Ok(());
    }
    if let Ok(tz) = jiff::tz::TimeZone::get(name) {
        maintenance_core::content::check_zone_spelling(name, tz.iana_name())
    } else {
        Err(format!(
            "time zone {name:?} is not in the time zone database (e.g. Asia/Tokyo, \
             Europe/Berlin, UTC)"
        ))
    }
}

fn check_switch(input: SwitchInput, now: Timestamp) -> Result<ScheduledSwitch, String> {
    let direction = match input.action.as_str() {
        "on" => Direction::On,
        "off" => Direction::Off,
        other => {
            return Err(format!(
                "action {:?} is neither \"on\" nor \"off\"",
                clip(other)
            ));
        }
    };
    environment_name(&input.environment)?;
    check_text("reason", &input.reason, MAX_TEXT)?;
    check_text("scheduled_by", &input.scheduled_by, MAX_TEXT)?;
    check_window_id(&input.window)?;
    if direction == Direction::Off && (input.end.is_some() || input.timezone.is_some()) {
        return Err(
            "a switch off takes no \"end\" or \"timezone\" (they belong to the window's start)"
                .into(),
        );
    }
    let end = match (&input.end, direction) {
        (Some(end), _) => Some(check_end(end, now)?),
        (None, Direction::On) => {
            return Err("a switch on needs the window's \"end\" (RFC 3339)".into());
        }
        (None, Direction::Off) => None,
    };
    if let Some(tz) = &input.timezone {
        check_timezone(tz)?;
    }
    Ok(ScheduledSwitch {
        direction,
        environment: input.environment,
        reason: input.reason,
        window: input.window,
        scheduled_by: input.scheduled_by,
        end,
        timezone: input.timezone,
    })
}

/// The window's end: RFC 3339, after now (a start delivered after its window's end must not
/// switch on), at most [`MAX_WINDOW`] ahead; normalized to UTC.
fn check_end(end: &str, now: Timestamp) -> Result<String, String> {
    let at =
        rfc3339::parse(end).map_err(|_| format!("end {:?} is not an RFC 3339 time", clip(end)))?;
    if at <= now {
        return Err(format!(
            "the window ended at {end}, before this start was delivered: not switching on (the \
             end schedule has run or will find maintenance off)"
        ));
    }
    if at.duration_since(now) > MAX_WINDOW {
        return Err(format!("end {end} is more than 7 days ahead"));
    }
    Ok(rfc3339::format(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = jiff::Timestamp::constant(1_795_320_000, 0); // 2026-11-22T04:00:00Z

    fn on(extra: &str) -> String {
        format!(
            r#"{{"action":"on","environment":"shop-prod","reason":"r","window":"w-1","scheduled_by":"me","end":"2026-11-22T06:00:00+01:00"{extra}}}"#
        )
    }

    #[test]
    fn a_switch_request_is_read_and_its_end_normalized() {
        let Invocation::SwitchRequest(s) = parse(&on(r#","timezone":"UTC""#), NOW).unwrap() else {
            panic!()
        };
        assert_eq!(s.direction, Direction::On);
        assert_eq!(s.end.as_deref(), Some("2026-11-22T05:00:00Z"));
        assert!(
            parse(
                &on(""),
                "2026-11-22T05:00:01Z".parse::<jiff::Timestamp>().unwrap()
            )
            .is_err()
        );
    }

    fn step(extra: &str, step: u32, share: u32) -> String {
        format!(
            r#"{{"action":"return-step","environment":"shop-prod","return":"r-20261122t0400z-3f9a","step":{step},"share_percent":{share},"scheduled_by":"me"{extra}}}"#
        )
    }

    #[test]
    fn a_return_step_is_read_and_checked() {
        let Invocation::ReturnStep(s) = parse(&step("", 2, 25), NOW).unwrap() else {
            panic!("not a return step")
        };
        assert_eq!((s.step, s.share_percent), (2, 25));
        assert_eq!(s.return_id, "r-20261122t0400z-3f9a");
        assert!(matches!(
            parse(&step("", 4, 100), NOW),
            Ok(Invocation::ReturnStep(_))
        ));
        let extra = parse(&step(r#","window":"w-1""#, 2, 25), NOW).unwrap_err();
        assert!(extra.contains("unknown field"), "{extra}");
        assert!(
            parse(&step("", 1, 10), NOW)
                .unwrap_err()
                .contains("count from 2")
        );
        assert!(parse(&step("", 2, 0), NOW).unwrap_err().contains("1..=100"));
        assert!(parse(&step("", 2, 101), NOW).is_err());
        let bad_id = step("", 2, 25).replace("r-20261122t0400z-3f9a", "r 1");
        assert!(parse(&bad_id, NOW).is_err());
    }

    #[test]
    fn both_alarm_shapes_are_read() {
        let direct = r#"{"source":"aws.cloudwatch","alarmArn":"arn","alarmData":{"alarmName":"a","state":{"value":"ALARM"},"previousState":{"value":"OK"}}}"#;
        let bridge = r#"{"source":"aws.cloudwatch","detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","state":{"value":"OK"}}}"#;
        let Invocation::Alarm(a) = parse(direct, NOW).unwrap() else {
            panic!()
        };
        assert_eq!(
            (a.state, a.previous, a.shape),
            (
                AlarmState::Alarm,
                Some(AlarmState::Ok),
                AlarmShape::AlarmAction
            )
        );
        let Invocation::Alarm(b) = parse(bridge, NOW).unwrap() else {
            panic!()
        };
        assert_eq!(
            (b.state, b.shape),
            (AlarmState::Ok, AlarmShape::Eventbridge)
        );
        assert_eq!(a.at, None);
    }

    #[test]
    fn an_alarm_event_carries_its_state_time_in_either_spelling() {
        let direct = r#"{"source":"aws.cloudwatch","time":"2026-11-22T04:00:00.000+0000","alarmData":{"alarmName":"a","state":{"value":"ALARM","timestamp":"2026-11-22T03:59:58.551+0000"}}}"#;
        let Invocation::Alarm(a) = parse(direct, NOW).unwrap() else {
            panic!()
        };
        assert_eq!(a.at.as_deref(), Some("2026-11-22T03:59:58.551Z"));
        let bridge = r#"{"source":"aws.cloudwatch","detail-type":"CloudWatch Alarm State Change","time":"2026-11-22T04:00:01Z","detail":{"alarmName":"a","state":{"value":"OK"}}}"#;
        let Invocation::Alarm(b) = parse(bridge, NOW).unwrap() else {
            panic!()
        };
        assert_eq!(b.at.as_deref(), Some("2026-11-22T04:00:01Z"));
        let odd = direct.replace("2026-11-22T03:59:58.551+0000", "yesterday");
        assert!(parse(&odd, NOW).unwrap_err().contains("not a time"));
    }
}
