//! What surrounds a switch now that several writers exist (issue #15): schedules, alarms and
//! people. `crate::ops::switch` calls these around its plan → apply:
//!
//! - **the lease** ([`take_leases`], [`release_leases`]): one per content prefix of the
//!   selected listeners (the maintenance rule's `content-prefix` tag), taken in sorted order so
//!   two writers never wait on each other. A listener with no content prefix cannot be leased:
//!   `maintctl` says so and switches it ([`unleased_warnings`]); the switch function refuses it
//!   ([`LeaseOptions::required`]).
//! - **who a switch is for** ([`Owner`]): a person, a window, an alarm, or an alarm on the
//!   responder. Who owns the maintenance is `crate::ops::owners`' record; the maintenance rule's
//!   tags say who switched it on (`tags::WINDOW`, `tags::ALARM`: [`owner_tags`]), and a window
//!   that joins a maintenance already on is tagged there too ([`adopt`]).
//! - **the window's content** ([`write_content`]): at a window's start (and `on --until`), the
//!   end time goes into `{prefix}/retry-after` (the page's "back at", an HTTP-date
//!   `Retry-After`) and the window's time zone into `{prefix}/timezone`, before any rule moves.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::listeners::Listeners;
use crate::ops::bypass::TokenStore;
use crate::ops::lease::{self, HeldLease, LeaseError, LeaseHolder, LeaseOptions, Released};
use crate::ops::switch::{Operator, SwitchPlan};
use crate::ops::{Outcome, apply};
use crate::planner::{Direction, Live, Planned, short_listener, tag_value};
use maintenance_core::deploy_names::{parameters, tags};
use maintenance_responder::ssm::{LockParameters, StoredType, Write};

/// The parameters a switch reads and writes: the lease, the window's content, and the bypass
/// link's token (`crate::ops::bypass::TokenStore`). The SSM client is one.
pub trait SwitchParameters: LockParameters + TokenStore {}
impl<T: LockParameters + TokenStore> SwitchParameters for T {}

/// How a switch shares the listeners with the other writers.
#[derive(Debug, Clone, Default)]
pub struct Coordination {
    /// How the lease is taken.
    pub lease: LeaseOptions,
    /// Who the switch is made for.
    pub owner: Owner,
    /// For a switch on: the window's end and time zone, written for the page.
    pub content: Option<WindowContent>,
    /// When the event asking for the switch happened (an alarm's state change): an event not
    /// newer than the last one handled for its owner is stale (`crate::ops::owners`).
    pub event_time: Option<time::OffsetDateTime>,
}

/// Who a switch is made for, and so who owns the maintenance a switch on leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Owner {
    /// A person (`maintctl on` / `off`): an off ends any maintenance; an on belongs to no
    /// window or alarm.
    #[default]
    Person,
    /// A window (its id): `maintctl schedule`, `on --until`, the schedules' switches.
    Window(String),
    /// A CloudWatch alarm (its name): the switch function on ALARM and OK.
    Alarm(String),
    /// An alarm on the responder (the switch function's fallback alarms): it changes only
    /// which page is live while maintenance is on — `live` is the page it puts in front — and
    /// owns nothing: the maintenance keeps its owner ([`page_stop`]).
    PageAlarm {
        /// The alarm's name.
        alarm: String,
        /// The page it puts live: the fallback page on ALARM, the responder's on OK.
        live: Live,
    },
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Person => f.write_str("a person"),
            Owner::Window(w) => write!(f, "window {w}"),
            Owner::Alarm(a) => write!(f, "alarm {a}"),
            Owner::PageAlarm { alarm, live } => write!(f, "alarm {alarm} (putting {live} live)"),
        }
    }
}

impl Owner {
    /// The tag an on by this owner sets, and its value (`None` for a person).
    fn tag(&self) -> Option<(&'static str, String)> {
        match self {
            Owner::Person => None,
            Owner::Window(w) => Some((tags::WINDOW, tag_value(w))),
            Owner::Alarm(a) => Some((tags::ALARM, tag_value(a))),
            Owner::PageAlarm { .. } => None,
        }
    }
}

/// A window's end and time zone, as the page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowContent {
    /// End time, RFC 3339 (already validated as `{prefix}/retry-after` takes it).
    pub end: String,
    /// IANA time zone the page shows the end in; `None` removes a previous window's.
    pub timezone: Option<String>,
}

/// The owner tags a switch writes with its record: on by a window or an alarm sets that tag;
/// every other switch empties both. A tag that is neither set nor already on the rule is not
/// written, so that a plain switch adds no tag keys (a rule's tag quota counts keys).
pub fn owner_tags(
    owner: &Owner,
    direction: Direction,
    current: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let present = |key: &str| current.get(key).is_some_and(|v| !v.is_empty());
    if let Owner::PageAlarm { alarm, live } = owner {
        // The page changes, the owner stays: only the fallback alarm's own tag is written.
        let value = match live {
            Live::Fallback => tag_value(alarm),
            Live::Responder => String::new(),
        };
        return (!value.is_empty() || present(tags::FALLBACK_ALARM))
            .then(|| (tags::FALLBACK_ALARM.to_string(), value))
            .into_iter()
            .collect();
    }
    let mut written: Vec<(String, String)> = Vec::new();
    // Any other switch ends what a fallback alarm did (off parks the fallback page; a
    // person's or window's on chooses the page itself).
    if present(tags::FALLBACK_ALARM) {
        written.push((tags::FALLBACK_ALARM.to_string(), String::new()));
    }
    let set = match direction {
        Direction::On => owner.tag(),
        Direction::Off => None,
    };
    [tags::WINDOW, tags::ALARM]
        .into_iter()
        .filter_map(|key| {
            let value = match &set {
                Some((k, v)) if *k == key => v.clone(),
                _ => String::new(),
            };
            (!value.is_empty() || present(key)).then(|| (key.to_string(), value))
        })
        .chain(written)
        .collect()
}

/// The content prefixes of the listeners, each once, in the order their leases are taken.
fn prefixes(listeners: &[Planned]) -> BTreeSet<String> {
    listeners
        .iter()
        .filter_map(|p| p.snapshot.content_prefix())
        .map(str::to_string)
        .collect()
}

/// The listeners whose maintenance rule names no content prefix.
fn unleasable(listeners: &[Planned]) -> Vec<&Planned> {
    listeners
        .iter()
        .filter(|p| p.snapshot.content_prefix().is_none())
        .collect()
}

/// What it means to switch a listener that names no content prefix, and what to do.
fn no_prefix(p: &Planned) -> String {
    let rule = p
        .snapshot
        .responder_rule()
        .map_or("MAINTENANCE_RULE_ARN".to_string(), |r| r.arn.clone());
    format!(
        "listener {}: its maintenance rule names no content prefix (tag {}), so no lease can be \
         taken: a scheduled or automatic switch at the same moment could interleave with this \
         one; tag it with the responder's SSM prefix: aws elbv2 add-tags --resource-arns {rule} \
         --tags Key={},Value=/maintenance/APP",
        short_listener(&p.snapshot.listener.arn),
        tags::CONTENT_PREFIX,
        tags::CONTENT_PREFIX
    )
}

/// Warnings for the listeners that cannot be leased, when the lease is not required.
pub fn unleased_warnings(listeners: &[Planned], options: &LeaseOptions) -> Vec<String> {
    if options.required {
        return Vec::new();
    }
    unleasable(listeners).into_iter().map(no_prefix).collect()
}

/// Why a switch stopped before it changed anything, around the lease: its outcome, the
/// message, and who holds the lease when that was the reason.
#[derive(Debug, Clone)]
pub struct LeaseStop {
    /// Refused or failed.
    pub outcome: Outcome,
    /// What happened and what to do.
    pub message: String,
    /// The other writer, when the lease was held.
    pub held_by: Option<LeaseHolder>,
}

impl LeaseStop {
    fn refused(message: String) -> Self {
        Self {
            outcome: Outcome::Refused,
            message,
            held_by: None,
        }
    }

    /// A lease failure: held by another writer (refused), or SSM failed.
    fn from_error(e: &LeaseError) -> Self {
        match e {
            LeaseError::Held { holder, .. } => Self {
                outcome: Outcome::Refused,
                message: format!(
                    "refused: {e}; nothing was changed: run again when that switch is done (a \
                     lease left by a writer that crashed is taken over after {}; if its holder \
                     is surely gone, maintctl lease show --prefix {} says how to break it)",
                    holder.expires_at,
                    holder
                        .parameter
                        .strip_suffix(&format!("/{}", parameters::LEASE))
                        .unwrap_or(&holder.parameter)
                ),
                held_by: Some(holder.clone()),
            },
            LeaseError::Store { source, .. } => Self {
                outcome: Outcome::Failed,
                message: format!("{e}: {source}; nothing was changed"),
                held_by: None,
            },
        }
    }
}

/// What the lease says the holder is doing.
fn doing(plan: &SwitchPlan, owner: &Owner) -> String {
    let mut text = format!("{} by {owner}", plan.direction);
    if let Some(reason) = plan.reason.as_deref().filter(|r| !r.is_empty()) {
        text.push_str(&format!(": {reason}"));
    }
    text
}

/// Takes the lease of every content prefix of the plan's listeners, in sorted order; on a
/// failure, releases those taken and says why nothing was changed.
pub async fn take_leases(
    store: &impl LockParameters,
    plan: &SwitchPlan,
    coordination: &Coordination,
    operator: &mut impl Operator,
) -> Result<Vec<HeldLease>, LeaseStop> {
    let options = &coordination.lease;
    if options.required
        && let Some(p) = unleasable(&plan.listeners).first()
    {
        return Err(LeaseStop::refused(format!(
            "refused: {}; nothing was changed",
            no_prefix(p)
        )));
    }
    let doing = doing(plan, &coordination.owner);
    let mut held = Vec::new();
    for prefix in prefixes(&plan.listeners) {
        let taken = lease::acquire(store, &prefix, &plan.caller, &doing, options, |h| {
            operator.waiting(h, options.wait)
        })
        .await;
        match taken {
            Ok(lease) => held.push(lease),
            Err(e) => {
                release_leases(store, &held).await;
                return Err(LeaseStop::from_error(&e));
            }
        }
    }
    Ok(held)
}

/// For a dry run: who holds a lease the switch would need now (a real run would wait for it).
pub async fn held_notes(
    store: &impl LockParameters,
    plan: &SwitchPlan,
    coordination: &Coordination,
) -> Vec<String> {
    let mut notes = Vec::new();
    for prefix in prefixes(&plan.listeners) {
        match lease::holder(store, &prefix, coordination.lease.ttl).await {
            Ok(Some(holder)) => notes.push(format!(
                "another switch is running: {holder}; a real run would wait up to {} s for it",
                coordination.lease.wait.as_secs()
            )),
            Ok(None) => {}
            Err(e) => notes.push(format!("{e:#}")),
        }
    }
    notes
}

/// Releases the leases; what could not be released, as warnings.
pub async fn release_leases(store: &impl LockParameters, leases: &[HeldLease]) -> Vec<String> {
    let mut warnings = Vec::new();
    for l in leases.iter().rev() {
        match lease::release(store, l).await {
            Ok(Released::Released) => {}
            Ok(Released::Expired) => warnings.push(format!(
                "the lease {} expired before this switch was done; it is left for the next \
                 writer to take over",
                l.parameter
            )),
            Ok(Released::Gone) => warnings.push(format!(
                "the lease {} was taken over by another writer before this switch was done: \
                 check with maintctl status",
                l.parameter
            )),
            Err(e) => warnings.push(format!(
                "{e:#}: it expires at {} and is then taken over by the next writer",
                l.expires_at
            )),
        }
    }
    warnings
}

/// Whether the held leases cover every listener of a plan made under them (the prefixes
/// could change between the first read and the plan); the refusal when not.
pub fn uncovered(plan: &SwitchPlan, leases: &[HeldLease]) -> Option<(Outcome, String)> {
    let missing: Vec<String> = prefixes(&plan.listeners)
        .into_iter()
        .filter(|p| {
            !leases
                .iter()
                .any(|l| l.parameter == lease::lease_parameter(p))
        })
        .collect();
    (!missing.is_empty()).then(|| {
        (
            Outcome::Refused,
            format!(
                "refused: the listeners' content prefixes changed while the lease was taken \
                 ({} is new); nothing was changed: run again",
                missing.join(", ")
            ),
        )
    })
}

/// A window's start that finds maintenance on everywhere and joins its owners: its tag on
/// every maintenance rule (who switched is said by the tags, who owns by the owner record),
/// without moving a rule. Returns the warnings of tags that could not be written.
pub async fn adopt(client: &impl Listeners, plan: &SwitchPlan, owner: &Owner) -> Vec<String> {
    let mut warnings = Vec::new();
    for p in &plan.listeners {
        let Some(m) = p.snapshot.maintenance_rule() else {
            continue;
        };
        let tags = owner_tags(owner, Direction::On, &m.tags);
        if tags.is_empty() {
            continue;
        }
        if let Err(e) = apply::add_tags_retried(client, &m.arn, &tags).await {
            warnings.push(format!(
                "listener {}: maintenance is on, but recording {owner} on rule {} failed: {}",
                short_listener(&p.snapshot.listener.arn),
                m.arn,
                apply::tag_failure(&e)
            ));
        }
    }
    warnings
}

/// Writes the window's end (`{prefix}/retry-after`) and time zone (`{prefix}/timezone`,
/// removed when the window has none) under every content prefix of the plan, each keeping its
/// stored type. A failure is a warning: the switch matters more than the page's end time.
pub async fn write_content(
    store: &impl SwitchParameters,
    plan: &SwitchPlan,
    content: &WindowContent,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for p in unleasable(&plan.listeners) {
        warnings.push(format!(
            "listener {}: its maintenance rule names no content prefix, so the page's end time \
             ({}) was not written",
            short_listener(&p.snapshot.listener.arn),
            content.end
        ));
    }
    for prefix in prefixes(&plan.listeners) {
        if let Err(problem) = write_prefix(store, &prefix, content).await {
            warnings.push(format!(
                "the page's end time under {prefix} could not be written ({problem}); the page \
                 shows the Retry-After it had"
            ));
        }
    }
    warnings
}

async fn write_prefix(
    store: &impl SwitchParameters,
    prefix: &str,
    content: &WindowContent,
) -> Result<(), String> {
    let retry = format!("{prefix}/{}", parameters::RETRY_AFTER);
    let zone = format!("{prefix}/{}", parameters::TIMEZONE);
    let mut writes = vec![Write {
        name: retry.clone(),
        value: content.end.clone(),
    }];
    if let Some(tz) = &content.timezone {
        writes.push(Write {
            name: zone.clone(),
            value: tz.clone(),
        });
    }
    let names: Vec<String> = writes.iter().map(|w| w.name.clone()).collect();
    let types = store
        .stored_types(&names)
        .await
        .map_err(|e| e.to_string())?;
    for w in &writes {
        let kind = types.get(&w.name).cloned().unwrap_or(StoredType::String);
        if kind == StoredType::StringList {
            return Err(format!("{} is a StringList, not a value", w.name));
        }
        store
            .put(w, &kind)
            .await
            .map_err(|e| format!("{}: {e}", w.name))?;
    }
    if content.timezone.is_none() {
        store
            .delete(&zone)
            .await
            .map_err(|e| format!("{zone}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_tags_set_what_an_on_owns_and_clear_the_rest_without_new_keys() {
        let none = BTreeMap::new();
        let w = Owner::Window("w-1".into());
        let a = Owner::Alarm("shop down".into());
        assert!(owner_tags(&Owner::Person, Direction::On, &none).is_empty());
        assert!(owner_tags(&w, Direction::Off, &none).is_empty());
        assert_eq!(
            owner_tags(&w, Direction::On, &none),
            [(tags::WINDOW.to_string(), "w-1".to_string())]
        );
        let mut tagged = BTreeMap::new();
        tagged.insert(tags::WINDOW.to_string(), "w-1".to_string());
        tagged.insert(tags::ALARM.to_string(), String::new());
        assert_eq!(
            owner_tags(&a, Direction::On, &tagged),
            [
                (tags::WINDOW.to_string(), String::new()),
                (tags::ALARM.to_string(), "shop down".to_string())
            ]
        );
        assert_eq!(
            owner_tags(&Owner::Person, Direction::Off, &tagged),
            [(tags::WINDOW.to_string(), String::new())]
        );
    }

    #[test]
    fn owner_tags_of_an_alarm_on_the_responder_touch_only_its_own_tag() {
        let page = |live| Owner::PageAlarm {
            alarm: "mr throttles".into(),
            live,
        };
        let owned: BTreeMap<String, String> = [
            (tags::WINDOW.to_string(), "w-1".to_string()),
            (tags::ALARM.to_string(), "shop down".to_string()),
        ]
        .into();
        // The fallback page: the alarm's tag set; the window's and the owning alarm's stay.
        assert_eq!(
            owner_tags(&page(Live::Fallback), Direction::On, &owned),
            [(tags::FALLBACK_ALARM.to_string(), "mr throttles".to_string())]
        );
        // Back to the responder's page: emptied when present, no new key when not.
        let mut swapped = owned.clone();
        swapped.insert(tags::FALLBACK_ALARM.into(), "mr throttles".into());
        assert_eq!(
            owner_tags(&page(Live::Responder), Direction::On, &swapped),
            [(tags::FALLBACK_ALARM.to_string(), String::new())]
        );
        assert!(owner_tags(&page(Live::Responder), Direction::On, &owned).is_empty());
        // Any other switch ends what the alarm did: off, or a person's on.
        for (owner, direction) in [
            (Owner::Person, Direction::Off),
            (Owner::Person, Direction::On),
        ] {
            let written = owner_tags(&owner, direction, &swapped);
            assert!(
                written.contains(&(tags::FALLBACK_ALARM.to_string(), String::new())),
                "{owner} {direction}: {written:?}"
            );
        }
    }
}
