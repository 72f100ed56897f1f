//! Maintenance windows as EventBridge Scheduler schedules (issue #15), pure: the times of a
//! window checked ([`check_window`], [`parse_time`]), the two one-time schedules that run it
//! ([`schedules`]: `{id}-start` and `{id}-end`, or the end alone for `maintctl on --until`), and
//! the windows read back from the schedules of a group ([`windows`]). Time zones come in
//! resolved (`jiff::tz::TimeZone`): looking a name up reads the system's database, which is
//! I/O, and is `crate::ops::schedule`'s.
//!
//! Each schedule (production-envelope §4): `ScheduleExpression = at(yyyy-mm-ddThh:mm:ss)` in
//! the window's time zone (`ScheduleExpressionTimezone`; a time in a daylight-saving fold is
//! refused, it would be read as either of two instants), `FlexibleTimeWindow` off,
//! `ActionAfterCompletion = DELETE`, state `ENABLED`; its target is the switch function, with
//! the role Scheduler assumes, the [`SwitchInput`] as `Input`, a short retry policy
//! (`maintenance_core::deploy_names::switch::RETRY_MAX_EVENT_AGE_SECONDS`, `RETRY_MAX_ATTEMPTS`)
//! and the dead-letter queue.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::{Deserialize, Serialize};

use maintenance_core::deploy_names::switch as names;

/// The switch request as JSON: what a schedule delivers as its `Input`, written by `maintctl`
/// and read by the switch function (`maintenance_switch::event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchInput {
    /// `on` or `off`.
    pub action: String,
    /// The environment whose maintenance rules are switched.
    pub environment: String,
    /// Why (recorded on the rules).
    pub reason: String,
    /// The window's id.
    pub window: String,
    /// Who scheduled it (caller identity).
    pub scheduled_by: String,
    /// `on` only: the window's end, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// `on` only: the IANA time zone the page shows the end in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// Longest window: the page's `retry-after` takes an end at most a week ahead.
pub const MAX_WINDOW_SECONDS: i64 = 7 * 24 * 3600;
/// Shortest window: schedules fire within their minute.
pub const MIN_WINDOW_SECONDS: i64 = 5 * 60;
/// How soon a window may start: its schedule must exist before it fires.
pub const MIN_LEAD_SECONDS: i64 = 60;
/// How far ahead a window may start.
pub const MAX_LEAD_SECONDS: i64 = 366 * 24 * 3600;
/// Longest reason.
pub const MAX_REASON: usize = 256;

/// Where a group's schedules send their switches: read from the schedule group's tags, which
/// the templates write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleTarget {
    /// The switch function's ARN.
    pub function: String,
    /// The role Scheduler assumes to invoke it.
    pub role: String,
    /// The SQS queue undeliverable switches go to.
    pub dead_letter: String,
}

/// One one-time schedule, as created and as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// Its group.
    pub group: String,
    /// Its name.
    pub name: String,
    /// What it is, for the console.
    pub description: String,
    /// `at(yyyy-mm-ddThh:mm:ss)`.
    pub expression: String,
    /// `ScheduleExpressionTimezone`.
    pub timezone: String,
    /// `FlexibleTimeWindow.Mode` (`OFF`).
    pub flexible_window: String,
    /// `ActionAfterCompletion` (`DELETE`).
    pub action_after_completion: String,
    /// `ENABLED` or `DISABLED`.
    pub state: String,
    /// The target's ARN (the switch function).
    pub target: String,
    /// The role Scheduler assumes.
    pub role: String,
    /// The target's `Input`.
    pub input: String,
    /// `RetryPolicy.MaximumEventAgeInSeconds`.
    pub retry_max_event_age_seconds: Option<i32>,
    /// `RetryPolicy.MaximumRetryAttempts`.
    pub retry_max_attempts: Option<i32>,
    /// `DeadLetterConfig.Arn`.
    pub dead_letter: Option<String>,
}

/// A window to schedule, validated.
#[derive(Debug, Clone)]
pub struct WindowSpec {
    /// Its id.
    pub id: String,
    /// The environment.
    pub environment: String,
    /// The schedule group.
    pub group: String,
    /// Why.
    pub reason: String,
    /// Who schedules it.
    pub scheduled_by: String,
    /// When maintenance goes on; `None`: it is on already (`on --until`), only the end.
    pub start: Option<Timestamp>,
    /// When it goes off.
    pub end: Timestamp,
    /// The time zone's name.
    pub timezone: String,
    /// The time zone.
    pub tz: TimeZone,
    /// Where the schedules send their switches.
    pub target: ScheduleTarget,
}

/// An RFC 3339 time with an offset (`2026-11-22T04:00:00Z`, `…+09:00`), or a civil time
/// (`2026-11-22T13:00`) in `tz`, refused in a daylight-saving gap or fold.
pub fn parse_time(text: &str, tz_name: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(Timestamp::from_second(t.as_second()).unwrap_or(t));
    }
    let civil: DateTime = text.parse().map_err(|_| {
        format!(
            "{text:?} is not a time: use RFC 3339 (2026-11-22T04:00:00Z, 2026-11-22T13:00:00+09:00) \
             or a local time in --timezone (2026-11-22T13:00)"
        )
    })?;
    let ambiguous = tz.to_ambiguous_timestamp(civil);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } => ambiguous
            .unambiguous()
            .map(|t| Timestamp::from_second(t.as_second()).unwrap_or(t))
            .map_err(|e| e.to_string()),
        AmbiguousOffset::Gap { .. } => Err(format!(
            "{text} does not exist in {tz_name} (the clocks skip it): choose another time"
        )),
        AmbiguousOffset::Fold { .. } => Err(format!(
            "{text} happens twice in {tz_name} (the clocks go back): give it with its offset \
             (RFC 3339) or choose another time"
        )),
    }
}

/// Checks a window's times against `now`: the start at least a minute and at most a year
/// ahead (when there is one), the end after it (or after now), the window between five
/// minutes and seven days.
pub fn check_window(
    start: Option<Timestamp>,
    end: Timestamp,
    now: Timestamp,
) -> Result<(), String> {
    let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
    let (now_s, end_s) = (now.as_second(), end.as_second());
    if let Some(start) = start {
        let start_s = start.as_second();
        if start_s < now_s + MIN_LEAD_SECONDS {
            return Err(format!(
                "the start {start} is not in the future (at least a minute from now, {now})"
            ));
        }
        if start_s > now_s + MAX_LEAD_SECONDS {
            return Err(format!("the start {start} is more than a year ahead"));
        }
        if end_s <= start_s {
            return Err(format!("the end {end} is not after the start {start}"));
        }
    }
    let from = start.map_or(now_s, |s| s.as_second());
    let length = end_s - from;
    if end_s <= now_s {
        return Err(format!("the end {end} is not in the future (now {now})"));
    }
    if length < MIN_WINDOW_SECONDS {
        return Err(format!(
            "the window is {} s long: at least 5 minutes (schedules fire within their minute)",
            length
        ));
    }
    if length > MAX_WINDOW_SECONDS {
        return Err(format!(
            "the window is longer than 7 days (the page's end time and Retry-After take at most \
             a week): {from_t} to {end}",
            from_t = Timestamp::from_second(from).unwrap_or(now)
        ));
    }
    Ok(())
}

/// The reason recorded for a switch or a window when none is given: `--reason` is optional
/// everywhere, and its absence is recorded, not hidden.
pub const NO_REASON: &str = "no reason given";

/// A reason: not empty, at most [`MAX_REASON`] characters, no control characters.
pub fn check_reason(reason: &str) -> Result<(), String> {
    if reason.trim().is_empty() {
        return Err("--reason is empty: say why (it is recorded, and shown by status)".into());
    }
    if reason.chars().count() > MAX_REASON {
        return Err(format!("--reason is longer than {MAX_REASON} characters"));
    }
    if reason.chars().any(char::is_control) {
        return Err("--reason holds a control character".into());
    }
    Ok(())
}

/// A window id: `w-` and the start in UTC (`20261122t0400z`) and four hex digits of `salt`.
pub fn window_id(start: Timestamp, salt: u64) -> String {
    let dt = TimeZone::UTC.to_datetime(start);
    format!(
        "w-{:04}{:02}{:02}t{:02}{:02}z-{:04x}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        salt & 0xffff
    )
}

/// Checks a window id: what names its schedules (`{id}-start`, `{id}-end`: letters, digits,
/// `-`, `_`, `.`, at most 64 characters).
pub fn check_window_id(id: &str) -> Result<(), String> {
    let ok = (1..=48).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        let shown: String = id.chars().take(80).collect();
        Err(format!(
            "window id {shown:?} is not one (letters, digits, - _ . only, 1 to 48 characters)"
        ))
    }
}

/// The spelling of an IANA time zone name (`Asia/Tokyo`, `UTC`, `Etc/GMT+9`): whether the
/// system knows it is for the caller to ask its time zone database.
pub fn check_timezone_spelling(name: &str) -> Result<(), String> {
    let spelled = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        && !name.starts_with('/')
        && !name.contains("..");
    if spelled {
        maintenance_core::content::check_zone_name(name)
    } else {
        let shown: String = name.chars().take(80).collect();
        Err(format!(
            "time zone {shown:?} is not an IANA time zone name (e.g. Asia/Tokyo, Europe/Berlin, UTC)"
        ))
    }
}

/// `at(yyyy-mm-ddThh:mm:ss)` of an instant, in `tz`; refused when that civil time happens
/// twice there (Scheduler could read it as either).
pub fn at_expression(t: Timestamp, tz_name: &str, tz: &TimeZone) -> Result<String, String> {
    let dt = tz.to_datetime(t);
    if !matches!(
        tz.to_ambiguous_timestamp(dt).offset(),
        AmbiguousOffset::Unambiguous { .. }
    ) {
        return Err(format!(
            "{t} is {dt} in {tz_name}, a time that happens twice there (the clocks go back): \
             choose another time, or --timezone UTC"
        ));
    }
    Ok(format!(
        "at({:04}-{:02}-{:02}T{:02}:{:02}:{:02})",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    ))
}

/// The instant of an `at(…)` expression in `tz`, if it is one.
pub fn parse_at(expression: &str, tz: &TimeZone) -> Option<Timestamp> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    let dt: DateTime = inner.parse().ok()?;
    tz.to_ambiguous_timestamp(dt).compatible().ok()
}

/// The schedule names of a window.
pub fn schedule_names(id: &str) -> (String, String) {
    (format!("{id}-start"), format!("{id}-end"))
}

fn rfc3339(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// The schedules of a window: its start (unless it has none) and its end.
pub fn schedules(spec: &WindowSpec) -> Result<Vec<Schedule>, String> {
    let (start_name, end_name) = schedule_names(&spec.id);
    let mut out = Vec::new();
    if let Some(start) = spec.start {
        let input = SwitchInput {
            action: "on".into(),
            environment: spec.environment.clone(),
            reason: spec.reason.clone(),
            window: spec.id.clone(),
            scheduled_by: spec.scheduled_by.clone(),
            end: Some(rfc3339(spec.end)),
            timezone: Some(spec.timezone.clone()),
        };
        out.push(schedule(spec, start_name, "start", start, &input)?);
    }
    let input = SwitchInput {
        action: "off".into(),
        environment: spec.environment.clone(),
        reason: spec.reason.clone(),
        window: spec.id.clone(),
        scheduled_by: spec.scheduled_by.clone(),
        end: None,
        timezone: None,
    };
    out.push(schedule(spec, end_name, "end", spec.end, &input)?);
    Ok(out)
}

fn schedule(
    spec: &WindowSpec,
    name: String,
    which: &str,
    at: Timestamp,
    input: &SwitchInput,
) -> Result<Schedule, String> {
    let description: String = format!(
        "maintenance window {} of {}: {which} ({})",
        spec.id, spec.environment, spec.reason
    )
    .chars()
    .take(512)
    .collect();
    Ok(Schedule {
        group: spec.group.clone(),
        name,
        description,
        expression: at_expression(at, &spec.timezone, &spec.tz)?,
        timezone: spec.timezone.clone(),
        flexible_window: "OFF".into(),
        action_after_completion: "DELETE".into(),
        state: "ENABLED".into(),
        target: spec.target.function.clone(),
        role: spec.target.role.clone(),
        input: serde_json::to_string(input).map_err(|e| e.to_string())?,
        retry_max_event_age_seconds: Some(names::RETRY_MAX_EVENT_AGE_SECONDS),
        retry_max_attempts: Some(names::RETRY_MAX_ATTEMPTS),
        dead_letter: Some(spec.target.dead_letter.clone()),
    })
}

/// A window as read back from its schedules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Its id.
    pub id: String,
    /// Its environment.
    pub environment: String,
    /// Why.
    pub reason: String,
    /// Who scheduled it.
    pub scheduled_by: String,
    /// Its time zone.
    pub timezone: String,
    /// When it starts (RFC 3339), if its start schedule is still there.
    pub start: Option<String>,
    /// When it ends (RFC 3339), if its end schedule is there.
    pub end: Option<String>,
    /// Its start schedule's name, if there.
    pub start_schedule: Option<String>,
    /// Its end schedule's name, if there.
    pub end_schedule: Option<String>,
    /// `upcoming`, `running` (started, its end to come), or `overdue` (its end has passed but
    /// the schedule is still there: the switch failed or is being retried).
    pub status: String,
}

/// The windows among a group's schedules, by start (then end), and the names of schedules
/// that are not a window's (another tool's, or unreadable). `tz` resolves a time zone name.
pub fn windows(
    schedules: &[Schedule],
    tz: &dyn Fn(&str) -> Option<TimeZone>,
    now: Timestamp,
) -> (Vec<Window>, Vec<String>) {
    let mut out: Vec<Window> = Vec::new();
    let mut foreign = Vec::new();
    for s in schedules {
        let input: Option<SwitchInput> = serde_json::from_str(&s.input).ok();
        let at = tz(&s.timezone).and_then(|z| parse_at(&s.expression, &z));
        let (Some(input), Some(at)) = (input, at) else {
            foreign.push(s.name.clone());
            continue;
        };
        let index = match out.iter().position(|w| w.id == input.window) {
            Some(i) => i,
            None => {
                out.push(Window {
                    id: input.window.clone(),
                    environment: input.environment.clone(),
                    reason: input.reason.clone(),
                    scheduled_by: input.scheduled_by.clone(),
                    timezone: s.timezone.clone(),
                    start: None,
                    end: None,
                    start_schedule: None,
                    end_schedule: None,
                    status: String::new(),
                });
                out.len() - 1
            }
        };
        let w = &mut out[index];
        if input.action == "on" {
            w.start = Some(rfc3339(at));
            w.start_schedule = Some(s.name.clone());
            w.timezone = s.timezone.clone();
            if w.end.is_none() {
                w.end = input.end.clone();
            }
        } else {
            w.end = Some(rfc3339(at));
            w.end_schedule = Some(s.name.clone());
        }
    }
    for w in &mut out {
        let when = |t: &Option<String>| t.as_deref().and_then(|t| t.parse::<Timestamp>().ok());
        let (start, end) = (when(&w.start), when(&w.end));
        w.status = match (start, end) {
            (_, Some(end)) if end <= now && w.end_schedule.is_some() => "overdue",
            (Some(start), _) if start > now => "upcoming",
            _ => "running",
        }
        .into();
    }
    out.sort_by(|a, b| (&a.start, &a.end).cmp(&(&b.start, &b.end)));
    (out, foreign)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokyo() -> TimeZone {
        TimeZone::fixed(jiff::tz::offset(9))
    }

    #[test]
    fn times_are_read_as_rfc_3339_or_civil_in_the_zone_and_expressions_round_trip() {
        let tz = tokyo();
        let t = parse_time("2026-11-22T13:00", "Asia/Tokyo", &tz).unwrap();
        assert_eq!(t.to_string(), "2026-11-22T04:00:00Z");
        assert_eq!(
            parse_time("2026-11-22T04:00:00Z", "Asia/Tokyo", &tz).unwrap(),
            t
        );
        let at = at_expression(t, "Asia/Tokyo", &tz).unwrap();
        assert_eq!(at, "at(2026-11-22T13:00:00)");
        assert_eq!(parse_at(&at, &tz), Some(t));
        assert!(parse_time("tomorrow", "UTC", &TimeZone::UTC).is_err());
    }

    #[test]
    fn windows_are_bounded() {
        let now: Timestamp = "2026-11-22T00:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert!(
            check_window(
                Some(at("2026-11-22T01:00:00Z")),
                at("2026-11-22T02:00:00Z"),
                now
            )
            .is_ok()
        );
        for (start, end) in [
            ("2026-11-21T23:00:00Z", "2026-11-22T02:00:00Z"),
            ("2026-11-22T02:00:00Z", "2026-11-22T01:00:00Z"),
            ("2026-11-22T01:00:00Z", "2026-11-22T01:01:00Z"),
            ("2026-11-22T01:00:00Z", "2026-11-30T01:00:00Z"),
        ] {
            assert!(
                check_window(Some(at(start)), at(end), now).is_err(),
                "{start} {end}"
            );
        }
        assert!(check_window(None, at("2026-11-22T01:00:00Z"), now).is_ok());
        assert!(window_id(now, 0x3f9a).starts_with("w-20261122t0000z-3f9a"));
    }
}
