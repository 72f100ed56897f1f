//! Who owns a maintenance, and which switch events were already handled (issue #20), as data:
//! the [`OwnerRecord`] a switch keeps in SSM beside the lease (`{prefix}/switch/owners`,
//! `crate::ops::owners` reads and writes it under the lease). Pure: the time comes in.
//!
//! - **Owners** ([`OwnerEntry`]): a person (their identity), a window (its id) or an alarm
//!   (its name). A switch on adds its owner; a window's end or an alarm's OK takes only its own
//!   owner away, and maintenance goes off when the last owner has let go; a person's `off`
//!   takes them all away. The owners are written **before** any rule moves, so that a switch
//!   killed part-way leaves a maintenance someone owns, and its retry finds itself among the
//!   owners. They mean something only while maintenance is on (or part-way): on listeners
//!   that are all off they are void ([`OwnerRecord::owners_if`]).
//! - **The fallback page's alarm**: the alarm on the responder that put the fallback page
//!   live, written before the rules move; it means something while the fallback page is live.
//! - **An off under way** ([`OwnerRecord::ending`]): written before an off's rules move, cleared
//!   once it is done; the next writer finishes an off that was interrupted.
//! - **What was seen**: per window, whether it started, ended or was cancelled (until its end,
//!   after which the switch function refuses its start anyway); per alarm, the time of the last
//!   state change handled. An event that is not newer is stale ([`OwnerRecord::stale`]).
//!
//! The record is one `String` parameter of the standard tier, at most [`MAX_RECORD_BYTES`]:
//! the seen windows and alarms are pruned oldest first to fit, and an owner beyond
//! [`MAX_OWNERS`] is refused.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use maintenance_core::deploy_names::tags;
use maintenance_core::rfc3339::format as rfc3339;

/// Most bytes an SSM parameter of the standard tier holds.
pub const MAX_RECORD_BYTES: usize = 4096;
/// Most owners a maintenance keeps (each a few hundred bytes in the record).
pub const MAX_OWNERS: usize = 8;
/// Most characters of a reason kept in the record (the rule's `reason` tag has it whole).
pub const MAX_REASON_CHARS: usize = 80;

/// What kind of owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerKind {
    /// A person (`maintctl on`): named by their identity.
    Person,
    /// A window (`maintctl schedule`, `on --until`): named by its id.
    Window,
    /// A CloudWatch alarm (the switch function): named by the alarm.
    Alarm,
}

impl std::fmt::Display for OwnerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OwnerKind::Person => "person",
            OwnerKind::Window => "window",
            OwnerKind::Alarm => "alarm",
        })
    }
}

/// One owner of a maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerEntry {
    /// What kind.
    pub kind: OwnerKind,
    /// Who: the person's identity, the window's id, the alarm's name.
    pub name: String,
    /// Since when (RFC 3339).
    pub since: String,
    /// Who made the switch that added it (caller identity).
    #[serde(default)]
    pub by: String,
    /// Why (at most [`MAX_REASON_CHARS`] characters).
    #[serde(default)]
    pub reason: String,
    /// A window's end (RFC 3339), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl OwnerEntry {
    /// Whether this is `kind` `name`.
    pub fn is(&self, kind: OwnerKind, name: &str) -> bool {
        self.kind == kind && self.name == name
    }
}

impl std::fmt::Display for OwnerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} since {}", self.kind, self.name, self.since)?;
        if let Some(until) = &self.until {
            write!(f, " until {until}")?;
        }
        if !self.reason.is_empty() {
            write!(f, " ({})", self.reason)?;
        }
        Ok(())
    }
}

/// What happened to a window, as far as its events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowState {
    /// Its start was handled (maintenance switched on, or joined).
    Started,
    /// Its end was handled.
    Ended,
    /// `maintctl schedule cancel`: its events are stale.
    Cancelled,
}

impl std::fmt::Display for WindowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WindowState::Started => "started",
            WindowState::Ended => "ended",
            WindowState::Cancelled => "cancelled",
        })
    }
}

/// A window seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSeen {
    /// What happened last.
    pub state: WindowState,
    /// When (RFC 3339).
    pub at: String,
    /// Until when it matters: the window's end (RFC 3339), or `at` when not known.
    pub until: String,
}

/// The record of one content prefix (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OwnerRecord {
    /// Who holds the maintenance, in the order they came.
    pub owners: Vec<OwnerEntry>,
    /// The alarm on the responder that put the fallback page live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_alarm: Option<String>,
    /// A switch off under way (who, since when): written before its rules move and cleared
    /// once it is done, so that the next writer finishes an off that was interrupted — the
    /// rules it moved out of the way go back even once the listener reads as off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending: Option<String>,
    /// Windows seen, by id.
    pub windows: BTreeMap<String, WindowSeen>,
    /// Alarms seen, by name: the time of the last state change handled (RFC 3339).
    pub alarms: BTreeMap<String, String>,
}

/// Why an event is stale.
pub type Stale = String;

fn parse(t: &str) -> Option<Timestamp> {
    maintenance_core::rfc3339::parse(t).ok()
}

impl OwnerRecord {
    /// Reads a record; `None` for a value that is not one (written by hand, or damaged).
    pub fn parse(raw: &str) -> Option<Self> {
        serde_json::from_str(raw).ok()
    }

    /// The record as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The owners of a maintenance as the rule's tags record them, for a maintenance switched
    /// on before there was a record: its window, its alarm, else the person who switched.
    pub fn from_tags(tags_of: &BTreeMap<String, String>) -> Vec<OwnerEntry> {
        let tag = |k: &str| tags_of.get(k).filter(|v| !v.is_empty()).cloned();
        let entry = |kind, name: String| OwnerEntry {
            kind,
            name,
            since: tag(tags::CHANGED_AT).unwrap_or_default(),
            by: tag(tags::CHANGED_BY).unwrap_or_default(),
            reason: clip(&tag(tags::REASON).unwrap_or_default()),
            until: None,
        };
        let mut out = Vec::new();
        if let Some(w) = tag(tags::WINDOW) {
            out.push(entry(OwnerKind::Window, w));
        }
        if let Some(a) = tag(tags::ALARM) {
            out.push(entry(OwnerKind::Alarm, a));
        }
        if out.is_empty() {
            let by = tag(tags::CHANGED_BY).unwrap_or_else(|| "unknown".into());
            out.push(entry(OwnerKind::Person, by));
        }
        out
    }

    /// The owners, when `on` (the maintenance is on, or part-way); none when it is off.
    pub fn owners_if(&self, on: bool) -> &[OwnerEntry] {
        if on { &self.owners } else { &[] }
    }

    /// Whether `kind` `name` is among the owners.
    pub fn owns(&self, kind: OwnerKind, name: &str) -> bool {
        self.owners.iter().any(|o| o.is(kind, name))
    }

    /// Adds an owner (a known one keeps its place and `since`); `false` when there are
    /// already [`MAX_OWNERS`].
    pub fn join(&mut self, entry: OwnerEntry) -> bool {
        if let Some(known) = self
            .owners
            .iter_mut()
            .find(|o| o.is(entry.kind, &entry.name))
        {
            known.until = entry.until.or(known.until.take());
            return true;
        }
        if self.owners.len() >= MAX_OWNERS {
            return false;
        }
        self.owners.push(entry);
        true
    }

    /// Takes `kind` `name` away from the owners; whether it was one.
    pub fn release(&mut self, kind: OwnerKind, name: &str) -> bool {
        let before = self.owners.len();
        self.owners.retain(|o| !o.is(kind, name));
        self.owners.len() != before
    }

    /// Why an event of `kind` `name` (`on`: a start or ALARM; else an end or OK), of the state
    /// change at `event_time` for an alarm, is stale; `None` when it is not.
    pub fn stale(
        &self,
        kind: OwnerKind,
        name: &str,
        on: bool,
        event_time: Option<Timestamp>,
    ) -> Option<Stale> {
        match kind {
            OwnerKind::Person => None,
            OwnerKind::Window => {
                let seen = self.windows.get(name)?;
                let owned = self.owns(OwnerKind::Window, name);
                match (seen.state, on) {
                    (WindowState::Cancelled, _) => Some(format!(
                        "window {name} was cancelled at {} (maintctl schedule cancel): its \
                         events are stale",
                        seen.at
                    )),
                    (WindowState::Ended, true) => Some(format!(
                        "window {name} ended at {}: its start is stale",
                        seen.at
                    )),
                    (WindowState::Started, true) if !owned => Some(format!(
                        "window {name} started at {} and its maintenance has ended since (or \
                         it let go): this start is a repeat, stale",
                        seen.at
                    )),
                    _ => None,
                }
            }
            OwnerKind::Alarm => {
                let at = event_time?;
                let last = self.alarms.get(name)?;
                let last_at = parse(last)?;
                (at <= last_at).then(|| {
                    format!(
                        "this event of alarm {name} is of {}, not newer than the last one \
                         handled ({last}): it is stale (a late delivery or a retry)",
                        rfc3339(at)
                    )
                })
            }
        }
    }

    /// Notes that a window's event was handled.
    pub fn saw_window(
        &mut self,
        id: &str,
        state: WindowState,
        now: Timestamp,
        until: Option<&str>,
    ) {
        let until = until
            .map(str::to_string)
            .or_else(|| self.windows.get(id).map(|w| w.until.clone()))
            .unwrap_or_else(|| rfc3339(now));
        self.windows.insert(
            id.to_string(),
            WindowSeen {
                state,
                at: rfc3339(now),
                until,
            },
        );
    }

    /// Notes that an alarm's state change of `at` was handled (never moving back in time).
    pub fn saw_alarm(&mut self, name: &str, at: Timestamp) {
        let newer = self
            .alarms
            .get(name)
            .and_then(|t| parse(t))
            .is_none_or(|last| at > last);
        if newer {
            self.alarms.insert(name.to_string(), rfc3339(at));
        }
    }

    /// Forgets what no longer matters: windows a day past their end; then, while the record is
    /// over [`MAX_RECORD_BYTES`], the oldest seen windows and alarms.
    pub fn prune(&mut self, now: Timestamp) {
        let day = jiff::SignedDuration::from_hours(24);
        self.windows
            .retain(|_, w| parse(&w.until).is_none_or(|until| until + day > now));
        while self.to_json().len() > MAX_RECORD_BYTES {
            let oldest_window = self
                .windows
                .iter()
                .min_by(|a, b| a.1.at.cmp(&b.1.at))
                .map(|(k, w)| (k.clone(), w.at.clone()));
            let oldest_alarm = self
                .alarms
                .iter()
                .min_by(|a, b| a.1.cmp(b.1))
                .map(|(k, t)| (k.clone(), t.clone()));
            match (oldest_window, oldest_alarm) {
                (Some((w, wt)), Some((_, at))) if wt <= at => {
                    self.windows.remove(&w);
                }
                (_, Some((a, _))) => {
                    self.alarms.remove(&a);
                }
                (Some((w, _)), None) => {
                    self.windows.remove(&w);
                }
                (None, None) => break,
            }
        }
    }
}

/// At most [`MAX_REASON_CHARS`] characters of a reason.
pub fn clip(reason: &str) -> String {
    reason.chars().take(MAX_REASON_CHARS).collect()
}

/// A new owner entry of now.
pub fn entry(
    kind: OwnerKind,
    name: &str,
    now: Timestamp,
    by: &str,
    reason: &str,
    until: Option<&str>,
) -> OwnerEntry {
    OwnerEntry {
        kind,
        name: name.to_string(),
        since: rfc3339(now),
        by: by.to_string(),
        reason: clip(reason),
        until: until.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = jiff::Timestamp::constant(1_796_443_200, 0); // 2026-12-05T04:00:00Z

    fn owner(kind: OwnerKind, name: &str) -> OwnerEntry {
        entry(
            kind,
            name,
            NOW,
            "arn:aws:sts::1:assumed-role/ops/ana",
            "r",
            None,
        )
    }

    #[test]
    fn owners_join_once_and_the_last_one_to_let_go_is_known() {
        let mut r = OwnerRecord::default();
        assert!(r.join(owner(OwnerKind::Alarm, "db-down")));
        assert!(r.join(owner(OwnerKind::Alarm, "api-down")));
        assert!(
            r.join(owner(OwnerKind::Alarm, "db-down")),
            "a repeat keeps its place"
        );
        assert_eq!(r.owners.len(), 2);
        assert!(r.release(OwnerKind::Alarm, "db-down"));
        assert!(
            !r.release(OwnerKind::Alarm, "db-down"),
            "not an owner any more"
        );
        assert_eq!(r.owners_if(true).len(), 1);
        assert!(r.owners_if(false).is_empty(), "void while off");
        for i in 0..MAX_OWNERS - 1 {
            assert!(r.join(owner(OwnerKind::Person, &format!("p{i}"))));
        }
        assert!(!r.join(owner(OwnerKind::Person, "one too many")));
    }

    #[test]
    fn stale_events_are_named() {
        let mut r = OwnerRecord::default();
        let t1 = "2026-12-05T03:00:00Z".parse::<jiff::Timestamp>().unwrap();
        let t2 = "2026-12-05T03:05:00Z".parse::<jiff::Timestamp>().unwrap();
        r.saw_alarm("db-down", t2);
        r.saw_alarm("db-down", t1);
        assert!(
            r.stale(OwnerKind::Alarm, "db-down", true, Some(t1))
                .is_some()
        );
        assert!(
            r.stale(OwnerKind::Alarm, "db-down", false, Some(t2))
                .is_some()
        );
        assert!(
            r.stale(
                OwnerKind::Alarm,
                "db-down",
                true,
                Some(t2 + jiff::SignedDuration::from_secs(1))
            )
            .is_none()
        );
        assert!(r.stale(OwnerKind::Alarm, "other", true, Some(t1)).is_none());
        r.saw_window(
            "w-1",
            WindowState::Cancelled,
            NOW,
            Some("2026-12-05T06:00:00Z"),
        );
        assert!(r.stale(OwnerKind::Window, "w-1", false, None).is_some());
        assert!(r.stale(OwnerKind::Window, "w-1", true, None).is_some());
        r.saw_window("w-2", WindowState::Started, NOW, None);
        assert!(
            r.stale(OwnerKind::Window, "w-2", true, None).is_some(),
            "not an owner"
        );
        r.join(owner(OwnerKind::Window, "w-2"));
        assert!(
            r.stale(OwnerKind::Window, "w-2", true, None).is_none(),
            "a repeat while it owns"
        );
        assert!(r.stale(OwnerKind::Window, "w-2", false, None).is_none());
        r.saw_window("w-2", WindowState::Ended, NOW, None);
        assert!(r.stale(OwnerKind::Window, "w-2", true, None).is_some());
        assert!(r.stale(OwnerKind::Person, "anyone", true, None).is_none());
    }

    #[test]
    fn the_record_is_pruned_to_fit_a_standard_parameter() {
        let mut r = OwnerRecord::default();
        for i in 0..200 {
            r.saw_window(
                &format!("w-20261205t0400z-{i:04x}"),
                WindowState::Ended,
                NOW + jiff::SignedDuration::from_mins(i),
                Some("2026-12-06T00:00:00Z"),
            );
            r.saw_alarm(
                &format!("alarm-{i}"),
                NOW + jiff::SignedDuration::from_mins(i),
            );
        }
        r.prune(NOW);
        assert!(r.to_json().len() <= MAX_RECORD_BYTES);
        assert!(
            r.windows.contains_key("w-20261205t0400z-00c7"),
            "the newest stay"
        );
        r.prune("2026-12-08T00:00:00Z".parse::<jiff::Timestamp>().unwrap());
        assert!(r.windows.is_empty(), "a day past their end");
        assert_eq!(OwnerRecord::parse(&r.to_json()), Some(r));
        assert_eq!(OwnerRecord::parse("garbage"), None);
    }

    #[test]
    fn a_maintenance_from_before_the_record_is_owned_as_its_tags_say() {
        let mut t = BTreeMap::new();
        t.insert(tags::CHANGED_BY.to_string(), "arn:me".to_string());
        let o = OwnerRecord::from_tags(&t);
        assert_eq!(
            (o[0].kind, o[0].name.as_str()),
            (OwnerKind::Person, "arn:me")
        );
        t.insert(tags::ALARM.to_string(), "db-down".to_string());
        t.insert(tags::WINDOW.to_string(), String::new());
        let o = OwnerRecord::from_tags(&t);
        assert_eq!(o.len(), 1);
        assert_eq!(
            (o[0].kind, o[0].name.as_str()),
            (OwnerKind::Alarm, "db-down")
        );
    }
}
