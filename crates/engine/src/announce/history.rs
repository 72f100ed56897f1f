//! The history of the switches: one SSM parameter per content prefix,
//! `{prefix}/switch/history` ([`parameter`]), whose versions are the log. Every writer (maintctl's
//! `on` and `off`, the switch function) writes its [`SwitchEvent`] as a new version
//! ([`record`]); `maintctl history` and `status` read them back newest first ([`read`],
//! [`HistoryReport`]).
//!
//! Why versions and not a list in one value: two writers appending at once each add their own
//! version (no read-modify-write, nothing lost), and no new service is needed. Parameter Store
//! retains the 100 most recent versions, deleting the oldest when a new one is written — unless
//! that version has a label, when `PutParameter` fails with `ParameterMaxVersionLimitExceeded`
//! (SSM API reference): so nothing here ever labels a version. A standard parameter holds at
//! most 4 KB ([`ENTRY_LIMIT`]): a longer entry is shortened ([`entry`]).

use serde::Serialize;

use crate::announce::event::SwitchEvent;
use crate::listeners::{Listeners, Targets};
use crate::ops::Error;
use crate::ops::error::select_some;
use maintenance_core::deploy_names::parameters;
use maintenance_responder::ssm::{FetchError, HistoryParameters, LockParameters};

/// The most a standard-tier parameter value holds, in bytes.
pub const ENTRY_LIMIT: usize = 4096;

/// The history parameter under a content prefix.
pub fn parameter(prefix: &str) -> String {
    format!("{prefix}/{}", parameters::HISTORY)
}

/// The entry written for an event: its JSON, shortened to fit [`ENTRY_LIMIT`] — first the
/// rules moved are left out, then the message and the reason are cut.
pub fn entry(event: &SwitchEvent) -> String {
    let mut event = event.clone();
    let encode = |e: &SwitchEvent| serde_json::to_string(e).unwrap_or_default();
    if encode(&event).len() <= ENTRY_LIMIT {
        return encode(&event);
    }
    for l in &mut event.listeners {
        l.moved.clear();
    }
    if encode(&event).len() > ENTRY_LIMIT {
        event.listeners.truncate(10);
    }
    for limit in [1000, 300, 100] {
        if encode(&event).len() <= ENTRY_LIMIT {
            break;
        }
        cut(&mut event.message, limit);
        if let Some(reason) = &mut event.reason {
            cut(reason, limit);
        }
    }
    encode(&event)
}

fn cut(text: &mut String, chars: usize) {
    if text.chars().count() > chars {
        *text = text.chars().take(chars).collect::<String>() + "…";
    }
}

/// Writes `event` as a new version of every prefix's history: a problem per prefix that could
/// not be written.
pub async fn record(
    store: &impl LockParameters,
    prefixes: &[String],
    event: &SwitchEvent,
) -> Vec<String> {
    let value = entry(event);
    let mut problems = Vec::new();
    for prefix in prefixes {
        let name = parameter(prefix);
        if let Err(e) = store.overwrite(&name, &value).await {
            problems.push(format!(
                "the switch was not recorded in its history ({name}): {e}; maintctl history \
                 will not list it (the role needs ssm:PutParameter on it)"
            ));
        }
    }
    problems
}

/// `maintctl history`: the switches of the listeners `targets` name, newest first, at most
/// `limit`, from the history of their content prefixes. `Err` when the listeners could not be
/// read or have no content prefix; a history that cannot be read is a failure too.
pub async fn history(
    listeners: &impl Listeners,
    store: &impl HistoryParameters,
    targets: &Targets,
    limit: usize,
) -> Result<HistoryReport, Error> {
    let selection = select_some(listeners, targets).await?;
    let mut prefixes: Vec<String> = selection
        .listeners
        .iter()
        .filter_map(|l| l.content_prefix().map(str::to_string))
        .collect();
    prefixes.sort();
    prefixes.dedup();
    let environment = targets
        .environment
        .clone()
        .unwrap_or_else(|| "(the listeners named)".to_string());
    read(store, &environment, &prefixes, limit)
        .await
        .map_err(|e| Error::History(e.to_string()))
}

/// The last switch recorded under any of `prefixes` (`maintctl status`): each history
/// parameter's current value is its newest version, so one read per prefix, not its whole
/// version history; only when a current value is not a switch (written by hand) are the
/// versions read, as `maintctl history` reads them.
pub async fn last(
    store: &impl HistoryParameters,
    prefixes: &[String],
) -> Result<Option<SwitchEvent>, FetchError> {
    let mut newest: Option<SwitchEvent> = None;
    for prefix in prefixes {
        let Some((value, _)) = store.read(&parameter(prefix)).await? else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<SwitchEvent>(&value) else {
            let report = read(store, "", prefixes, 1).await?;
            return Ok(report.switches.into_iter().next());
        };
        if newest.as_ref().is_none_or(|n| event.at >= n.at) {
            newest = Some(event);
        }
    }
    Ok(newest)
}

/// The switches of one environment, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    /// The environment.
    pub environment: String,
    /// The history parameters read.
    pub parameters: Vec<String>,
    /// The switches, newest first.
    pub switches: Vec<SwitchEvent>,
    /// Versions that could not be read as a switch (left out).
    pub unreadable: usize,
}

/// Reads the history of every prefix (a switch on listeners of two prefixes is recorded in
/// both, and listed once), newest first, at most `limit`.
pub async fn read(
    store: &impl HistoryParameters,
    environment: &str,
    prefixes: &[String],
    limit: usize,
) -> Result<HistoryReport, FetchError> {
    let mut switches: Vec<SwitchEvent> = Vec::new();
    let mut unreadable = 0;
    let mut names = Vec::new();
    for prefix in prefixes {
        let name = parameter(prefix);
        for version in store.versions(&name).await? {
            match serde_json::from_str::<SwitchEvent>(&version.value) {
                Ok(event) if !switches.contains(&event) => switches.push(event),
                Ok(_) => {}
                Err(_) => unreadable += 1,
            }
        }
        names.push(name);
    }
    // RFC 3339 UTC times with whole seconds sort as text; a stable sort keeps the order of
    // writing within one second.
    switches.reverse();
    switches.sort_by(|a, b| b.at.cmp(&a.at));
    switches.truncate(limit);
    Ok(HistoryReport {
        environment: environment.to_string(),
        parameters: names,
        switches,
        unreadable,
    })
}

impl crate::ops::Report for HistoryReport {
    fn outcome(&self) -> crate::ops::Outcome {
        crate::ops::Outcome::Done
    }
}

impl std::fmt::Display for HistoryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.switches.is_empty() {
            writeln!(
                f,
                "no switch recorded for environment {} ({})",
                self.environment,
                self.parameters.join(", ")
            )?;
        }
        for s in &self.switches {
            write_entry(f, s)?;
        }
        if self.unreadable > 0 {
            writeln!(
                f,
                "note: {} version(s) of the history could not be read as a switch and are left \
                 out",
                self.unreadable
            )?;
        }
        Ok(())
    }
}

/// One switch in two lines: when, what, outcome; who, why, the window or alarm.
pub fn write_entry(f: &mut impl std::fmt::Write, s: &SwitchEvent) -> std::fmt::Result {
    let page = match s.live.as_deref() {
        Some("fallback") => " (fallback page)",
        _ => "",
    };
    writeln!(f, "{}  {}{page}  {}", s.at, s.direction, s.outcome)?;
    write!(f, "    by {}", s.who)?;
    if let Some(reason) = &s.reason {
        write!(f, "; why: {reason}")?;
    }
    if let Some(deadline) = &s.deadline {
        write!(f, "; until {deadline}")?;
    }
    writeln!(f)?;
    if s.outcome != "applied" {
        writeln!(f, "    {}", s.message)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::announce::event::{ListenerChange, Moved, SCHEMA_VERSION, Who};

    fn event(message: String, listeners: usize) -> SwitchEvent {
        let listener = |i: usize| {
            ListenerChange {
            listener: format!("arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/0123456789abcdef/{i:016}"),
            outcome: "applied".into(),
            moved: (0..5)
                .map(|r| Moved {
                    rule: format!("arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/shop/0123456789abcdef/{i:016}/{r:016}"),
                    before: Some(50_000),
                    now: Some(1),
                })
                .collect(),
        }
        };
        SwitchEvent {
            schema_version: SCHEMA_VERSION,
            at: "2026-12-07T02:00:00Z".into(),
            environment: Some("shop".into()),
            direction: "on".into(),
            live: Some("responder".into()),
            outcome: "applied".into(),
            message,
            who: Who {
                kind: "person".into(),
                caller: "arn:aws:sts::123456789012:assumed-role/ops/ana".into(),
                name: None,
            },
            reason: Some("deploy".into()),
            window: None,
            alarm: None,
            deadline: None,
            listeners: (0..listeners).map(listener).collect(),
        }
    }

    #[test]
    fn a_small_entry_is_the_event_itself() {
        let e = event("maintenance is on".into(), 2);
        let back: SwitchEvent = serde_json::from_str(&entry(&e)).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn a_large_entry_is_shortened_to_fit_a_standard_parameter() {
        let e = event("x".repeat(10_000), 50);
        assert!(serde_json::to_string(&e).unwrap().len() > ENTRY_LIMIT);
        let value = entry(&e);
        assert!(value.len() <= ENTRY_LIMIT, "{} bytes", value.len());
        let back: SwitchEvent = serde_json::from_str(&value).unwrap();
        assert_eq!(
            (back.direction, back.reason, back.who),
            (e.direction, e.reason, e.who)
        );
    }
}
