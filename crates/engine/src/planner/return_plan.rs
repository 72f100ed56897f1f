//! A gradual return (`maintctl off --gradual`, issue #24), pure: its steps checked
//! ([`check_steps`], [`check_duration`], [`parse_duration`]), when each step is due
//! ([`step_times`]), the one-time schedules that run the later steps and the final `off`
//! ([`return_schedules`], each delivering a [`ReturnStepInput`] to the switch function), the
//! admission rules of one listener ([`admission_rules`]: the mirrors of its routing,
//! `crate::planner::mirror`, behind the admission cookie condition), and what a scheduled step does to the state ([`step_decision`]).
//!
//! The return's state itself is `maintenance_core::admission::ReturnState`; its I/O is
//! `crate::ops::gradual`'s.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::planner::mirror::{MirrorLimits, plan_mirrors};
use crate::planner::window::{Schedule, ScheduleTarget, at_expression};
use crate::planner::{Condition, ListenerSnapshot, NewRule, rule_id};
use maintenance_core::admission::ReturnState;
use maintenance_core::deploy_names::{ADMIT_COOKIE, switch as names, tags};

/// The steps when `--steps` is not given: 10 % first (a tenth of the crowd shows whether the
/// application copes, with little harm if it does not), then each step at most 2.5 times the
/// previous load (25, 50), and the final `off` doubles it once more.
pub const DEFAULT_STEPS: [u8; 3] = [10, 25, 50];
/// Most steps a return may have (each is one schedule).
pub const MAX_STEPS: usize = 20;
/// Shortest return: every step must last at least [`MIN_STEP_SECONDS`].
pub const MIN_DURATION_SECONDS: i64 = 5 * 60;
/// Longest return: the admission cookie lasts until the end, and a return is a ramp of
/// minutes to hours, not days.
pub const MAX_DURATION_SECONDS: i64 = 24 * 3600;
/// Shortest step: schedules fire within their minute.
pub const MIN_STEP_SECONDS: i64 = 60;
/// The `action` of a step's schedule input.
pub const STEP_ACTION: &str = "return-step";

/// A duration as given on the command line: `30m`, `2h`, `1h30m`, `90s` (jiff's friendly
/// format, or ISO 8601 `PT30M`).
pub fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    text.trim()
        .parse::<SignedDuration>()
        .map_err(|_| format!("{text:?} is not a duration: use e.g. 30m, 2h, 1h30m (or PT30M)"))
}

/// Checks a return's length: [`MIN_DURATION_SECONDS`] to [`MAX_DURATION_SECONDS`].
pub fn check_duration(duration: SignedDuration) -> Result<(), String> {
    let s = duration.as_secs();
    if s < MIN_DURATION_SECONDS {
        return Err(format!(
            "a gradual return of {s} s is too short: at least 5 minutes (each step lasts at \
             least a minute, schedules fire within their minute)"
        ));
    }
    if s > MAX_DURATION_SECONDS {
        return Err(format!(
            "a gradual return of {s} s is too long: at most 24 hours (the admission cookie lasts \
             until the end)"
        ));
    }
    Ok(())
}

/// Checks the steps' shares: one to [`MAX_STEPS`], strictly increasing, each within 1..=99
/// (100 % is the final `off`, which every return ends with).
pub fn check_steps(steps: &[u8]) -> Result<(), String> {
    if steps.is_empty() {
        return Err("--steps is empty: give at least one share, e.g. --steps 10,25,50".into());
    }
    if steps.len() > MAX_STEPS {
        return Err(format!(
            "--steps has {} shares: at most {MAX_STEPS}",
            steps.len()
        ));
    }
    if let Some(bad) = steps.iter().find(|s| !(1..=99).contains(*s)) {
        return Err(format!(
            "--steps: {bad} is not a share within 1..=99 percent (the final off lets everyone \
             through; it is not a step)"
        ));
    }
    if let Some(w) = steps.windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!(
            "--steps must be strictly increasing: {} then {}",
            w[0], w[1]
        ));
    }
    Ok(())
}

/// Reads `10,25,50`.
pub fn parse_steps(text: &str) -> Result<Vec<u8>, String> {
    text.split(',')
        .map(|s| {
            s.trim()
                .parse::<u8>()
                .map_err(|_| format!("--steps: {s:?} is not a percentage (e.g. 10,25,50)"))
        })
        .collect()
}

/// One step of a return: its number (from 1), its share, and when it is due. The last one
/// (share 100) is the final `off`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    /// Counted from 1.
    pub step: u32,
    /// Percent of visitors let through (100: the final `off`).
    pub share_percent: u8,
    /// When it is due (RFC 3339); the first step at the start.
    pub at: String,
    /// Its schedule's name (none for the first step, applied at once).
    pub schedule: Option<String>,
}

/// When each step is due: the first at `start`, the others evenly spaced, the final `off`
/// (share 100) at `start + duration`; refused when a step would last under a minute.
pub fn step_times(
    steps: &[u8],
    start: Timestamp,
    duration: SignedDuration,
) -> Result<Vec<(u8, Timestamp)>, String> {
    let count = i64::try_from(steps.len()).expect("at most MAX_STEPS");
    let each = duration.as_secs() / count;
    if each < MIN_STEP_SECONDS {
        return Err(format!(
            "{} steps in {} s leave {each} s per step: at least {MIN_STEP_SECONDS} s each \
             (fewer steps or a longer return)",
            steps.len(),
            duration.as_secs()
        ));
    }
    let at = |i: i64| {
        start
            .checked_add(SignedDuration::from_secs(each * i))
            .map_err(|e| e.to_string())
    };
    let mut out = Vec::new();
    for (i, share) in (0..).zip(steps) {
        out.push((*share, at(i)?));
    }
    let end = start.checked_add(duration).map_err(|e| e.to_string())?;
    out.push((100, end));
    Ok(out)
}

/// The return id: `r-` and the start in UTC and four hex digits of `salt` (the same form as a
/// window's id, so it can name schedules).
pub fn return_id(start: Timestamp, salt: u64) -> String {
    let window = crate::planner::window::window_id(start, salt);
    format!("r-{}", window.trim_start_matches("w-"))
}

/// A step's schedule name.
pub fn step_schedule_name(id: &str, step: u32) -> String {
    format!("{id}-step-{step}")
}

/// What a scheduled step delivers to the switch function as its `Input` (`deny_unknown_fields`),
/// documented in `maintenance_switch::event`:
///
/// ```json
/// {"action": "return-step", "environment": "shop-prod", "return": "r-20261207t1300z-3f9a",
///  "step": 2, "share_percent": 25, "scheduled_by": "arn:aws:sts::123456789012:assumed-role/ops/ana"}
/// ```
///
/// `share_percent` 100 is the final step: the ordinary `off`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnStepInput {
    /// Always [`STEP_ACTION`].
    pub action: String,
    /// The environment whose return it is.
    pub environment: String,
    /// The return's id.
    #[serde(rename = "return")]
    pub return_id: String,
    /// The step's number, from 1.
    pub step: u32,
    /// Its share; 100 for the final `off`.
    pub share_percent: u8,
    /// Who started the return (caller identity).
    pub scheduled_by: String,
}

/// A return to schedule, validated.
#[derive(Debug, Clone)]
pub struct ReturnSpec {
    /// Its id.
    pub id: String,
    /// The environment.
    pub environment: String,
    /// The schedule group.
    pub group: String,
    /// Who starts it.
    pub scheduled_by: String,
    /// The steps with their times, the final `off` last.
    pub times: Vec<(u8, Timestamp)>,
    /// Where the schedules send their steps.
    pub target: ScheduleTarget,
}

/// The steps of a return, each with its schedule (all but the first), and the schedules.
pub fn return_schedules(spec: &ReturnSpec) -> Result<(Vec<PlannedStep>, Vec<Schedule>), String> {
    let utc = jiff::tz::TimeZone::UTC;
    let mut steps = Vec::new();
    let mut schedules = Vec::new();
    for (number, (share, at)) in (1u32..).zip(&spec.times) {
        let name = (number > 1).then(|| step_schedule_name(&spec.id, number));
        steps.push(PlannedStep {
            step: number,
            share_percent: *share,
            at: maintenance_core::rfc3339::format(*at),
            schedule: name.clone(),
        });
        let Some(name) = name else { continue };
        let input = ReturnStepInput {
            action: STEP_ACTION.into(),
            environment: spec.environment.clone(),
            return_id: spec.id.clone(),
            step: number,
            share_percent: *share,
            scheduled_by: spec.scheduled_by.clone(),
        };
        let what = if *share == 100 {
            "the final off".to_string()
        } else {
            format!("{share} % let through")
        };
        schedules.push(Schedule {
            group: spec.group.clone(),
            name,
            description: format!(
                "gradual return {} of {}: step {number}, {what}",
                spec.id, spec.environment
            ),
            expression: at_expression(*at, "UTC", &utc)?,
            timezone: "UTC".into(),
            flexible_window: "OFF".into(),
            action_after_completion: "DELETE".into(),
            state: "ENABLED".into(),
            target: spec.target.function.clone(),
            role: spec.target.role.clone(),
            input: serde_json::to_string(&input).map_err(|e| e.to_string())?,
            retry_max_event_age_seconds: Some(names::RETRY_MAX_EVENT_AGE_SECONDS),
            retry_max_attempts: Some(names::RETRY_MAX_ATTEMPTS),
            dead_letter: Some(spec.target.dead_letter.clone()),
        });
    }
    Ok((steps, schedules))
}

/// A scheduled step read back from its schedule's input, if it is one.
pub fn step_of(schedule: &Schedule) -> Option<ReturnStepInput> {
    serde_json::from_str::<ReturnStepInput>(&schedule.input)
        .ok()
        .filter(|i| i.action == STEP_ACTION)
}

/// The admission cookie condition: `Cookie` matching `*maint_admit=TOKEN*`.
pub fn admission_condition(token: &str) -> Condition {
    Condition::HttpHeader {
        name: "Cookie".into(),
        values: vec![format!("*{ADMIT_COOKIE}={token}*")],
    }
}

/// One admission rule as shown in a plan: never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdmissionView {
    /// Its priority.
    pub priority: u32,
    /// The rule it mirrors (its id), or `default` for the listener's default action.
    pub mirrors: String,
    /// Its conditions, the cookie's value hidden.
    pub conditions: Vec<String>,
    /// The target group it forwards to.
    pub target_group: String,
}

impl AdmissionView {
    /// How `rule` is shown.
    pub fn of(rule: &NewRule, mirrors: &str) -> Self {
        let conditions = rule
            .conditions
            .iter()
            .map(|c| match c {
                Condition::HttpHeader { name, values }
                    if values.iter().any(|v| v.contains(ADMIT_COOKIE)) =>
                {
                    format!("header {name}: *{ADMIT_COOKIE}=(token)*")
                }
                other => other.to_string(),
            })
            .collect();
        Self {
            priority: rule.priority,
            mirrors: mirrors.to_string(),
            conditions,
            target_group: crate::planner::short_target_group(&rule.target_group).to_string(),
        }
    }
}

/// The admission rules of one listener (maintenance on): the mirrors of its routing
/// (`crate::planner::mirror::plan_mirrors`) with the admission cookie as the extra condition,
/// directly above the maintenance rule, each tagged role `admission` with the environment, the
/// return and the abort alarm. Refused with the rule that cannot be mirrored (the ALB's quotas,
/// too few free priorities). Each comes with what it mirrors (a rule id, or `default`).
pub fn admission_rules(
    snapshot: &ListenerSnapshot,
    token: &str,
    return_id: &str,
    environment: &str,
    abort_alarm: Option<&str>,
) -> Result<Vec<(NewRule, String)>, String> {
    let listener = &snapshot.listener;
    let before = snapshot
        .maintenance_rule()
        .and_then(|r| r.priority)
        .ok_or_else(|| format!("listener {listener}: no maintenance rule"))?;
    let mirrors = plan_mirrors(
        snapshot,
        &admission_condition(token),
        before,
        &MirrorLimits::default(),
    )
    .map_err(|e| e.to_string())?;
    let mut rule_tags = vec![
        (tags::ROLE.to_string(), tags::ROLE_ADMISSION.to_string()),
        (tags::ENVIRONMENT.to_string(), environment.to_string()),
        (tags::RETURN.to_string(), return_id.to_string()),
    ];
    if let Some(alarm) = abort_alarm {
        rule_tags.push((
            tags::ABORT_ALARM.to_string(),
            crate::planner::tag_value(alarm),
        ));
    }
    Ok(mirrors
        .iter()
        .map(|m| {
            let mirrors = m
                .source
                .as_deref()
                .map_or("default".to_string(), |arn| rule_id(arn).to_string());
            (m.new_rule(&listener.arn, rule_tags.clone()), mirrors)
        })
        .collect())
}

/// What a scheduled step does, given the return state now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepDecision {
    /// Raise the share to the step's.
    Raise,
    /// The final step: the ordinary `off`, the admission rules and the state deleted.
    Finish,
    /// Nothing: why (delivered twice, out of order, after an abort or the end).
    Ignore(String),
}

/// What step `input` does to `current` (the state of its environment's prefix, `None` when
/// no return is under way).
pub fn step_decision(input: &ReturnStepInput, current: Option<&ReturnState>) -> StepDecision {
    let Some(current) = current else {
        return StepDecision::Ignore(format!(
            "no return is under way (return {} was finished or aborted): step {} changes nothing",
            input.return_id, input.step
        ));
    };
    if current.id != input.return_id {
        return StepDecision::Ignore(format!(
            "return {} is not the one under way ({}): it was aborted or finished, so its step \
             {} changes nothing",
            input.return_id, current.id, input.step
        ));
    }
    if input.share_percent <= current.share_percent || input.step <= current.step {
        return StepDecision::Ignore(format!(
            "step {} ({} %) of return {} is not after the step in force (step {}, {} %): \
             delivered twice or out of order, it changes nothing",
            input.step, input.share_percent, input.return_id, current.step, current.share_percent
        ));
    }
    if input.share_percent >= 100 {
        StepDecision::Finish
    } else {
        StepDecision::Raise
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maintenance_core::content::BypassToken;

    fn state(id: &str, step: u32, share: u8) -> ReturnState {
        ReturnState {
            id: id.into(),
            token: BypassToken::parse("Q2xhcmEtYW5kLUppbW15LXR3MDI2").unwrap(),
            step,
            share_percent: share,
            ends_at: "2026-12-07T13:00:00Z".parse().unwrap(),
        }
    }

    fn input(id: &str, step: u32, share: u8) -> ReturnStepInput {
        ReturnStepInput {
            action: STEP_ACTION.into(),
            environment: "shop".into(),
            return_id: id.into(),
            step,
            share_percent: share,
            scheduled_by: "ana".into(),
        }
    }

    #[test]
    fn steps_are_checked() {
        assert!(check_steps(&DEFAULT_STEPS).is_ok());
        assert!(check_steps(&[]).is_err());
        assert!(check_steps(&[10, 10]).unwrap_err().contains("strictly"));
        assert!(check_steps(&[50, 25]).is_err());
        assert!(check_steps(&[0, 5]).unwrap_err().contains("1..=99"));
        assert!(check_steps(&[5, 100]).is_err());
        assert_eq!(parse_steps("10, 25,50").unwrap(), vec![10, 25, 50]);
        assert!(parse_steps("10,x").is_err());
        assert!(parse_steps("300").is_err());
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("30m").unwrap().as_secs(), 1800);
        assert!(parse_duration("soon").is_err());
        assert!(check_duration(SignedDuration::from_secs(299)).is_err());
        assert!(check_duration(SignedDuration::from_secs(300)).is_ok());
        assert!(check_duration(SignedDuration::from_hours(25)).is_err());
    }

    #[test]
    fn steps_are_spaced_evenly_and_end_with_the_off() {
        let start: Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
        let times = step_times(&[10, 25, 50], start, SignedDuration::from_mins(30)).unwrap();
        let shown: Vec<(u8, String)> = times.iter().map(|(s, t)| (*s, t.to_string())).collect();
        assert_eq!(
            shown,
            vec![
                (10, "2026-12-07T12:00:00Z".to_string()),
                (25, "2026-12-07T12:10:00Z".to_string()),
                (50, "2026-12-07T12:20:00Z".to_string()),
                (100, "2026-12-07T12:30:00Z".to_string()),
            ]
        );
        let crowded: Vec<u8> = (1..=20).collect();
        assert!(step_times(&crowded, start, SignedDuration::from_mins(10)).is_err());
    }

    #[test]
    fn a_step_changes_the_state_only_when_it_is_the_next_of_the_current_return() {
        let now = state("r-1", 2, 25);
        assert_eq!(
            step_decision(&input("r-1", 3, 50), Some(&now)),
            StepDecision::Raise
        );
        assert_eq!(
            step_decision(&input("r-1", 4, 100), Some(&now)),
            StepDecision::Finish
        );
        let twice = step_decision(&input("r-1", 2, 25), Some(&now));
        assert!(matches!(twice, StepDecision::Ignore(ref m) if m.contains("delivered twice")));
        let late = step_decision(&input("r-1", 1, 10), Some(&now));
        assert!(matches!(late, StepDecision::Ignore(ref m) if m.contains("out of order")));
        let other = step_decision(&input("r-0", 3, 50), Some(&now));
        assert!(matches!(other, StepDecision::Ignore(ref m) if m.contains("not the one")));
        let gone = step_decision(&input("r-1", 3, 50), None);
        assert!(matches!(gone, StepDecision::Ignore(ref m) if m.contains("no return")));
    }

    #[test]
    fn step_input_refuses_unknown_fields() {
        let text = serde_json::to_string(&input("r-1", 2, 25)).unwrap();
        assert!(text.contains("\"return\":\"r-1\""));
        let back: ReturnStepInput = serde_json::from_str(&text).unwrap();
        assert_eq!(back, input("r-1", 2, 25));
        let extra = text.replace('}', ",\"x\":1}");
        assert!(serde_json::from_str::<ReturnStepInput>(&extra).is_err());
    }
}
