//! What surrounds a switch now that several writers exist (issue #15): schedules, alarms and
//! people. `crate::ops::switch` calls these around its plan → apply:
//!
//! - **the lease** ([`LeaseGuard`]): one per content prefix of the selected listeners (the
//!   maintenance rule's `content-prefix` tag), taken in sorted order so two writers never wait
//!   on each other, held as one value until the switch ends and released there. A listener with no content prefix cannot be leased:
//!   `maintctl` says so and switches it ([`unleased_warnings`]); the switch function refuses it
//!   ([`LeaseOptions::required`]).
//! - **who a switch is for** (`crate::ops::owner::Owner`: a person, a window, an alarm, or an
//!   alarm on the responder). Who owns the maintenance is `crate::ops::owners`' record; the
//!   maintenance rule's tags say who switched it on (`crate::ops::owner::owner_tags`), and a
//!   window that joins a maintenance already on is tagged there too ([`adopt`]).
//! - **the window's content** ([`write_content`]): at a window's start (and `on --until`), the
//!   end time goes into `{prefix}/retry-after` (the page's "back at", an HTTP-date
//!   `Retry-After`) and the window's time zone into `{prefix}/timezone`, before any rule moves.

use std::collections::BTreeSet;

use crate::listeners::Listeners;
use crate::ops::Outcome;
use crate::ops::lease::{self, HeldLease, LeaseError, LeaseHolder, LeaseOptions, Released};
use crate::ops::owner::{Owner, owner_tags};
use crate::ops::rule_tags::{add_tags_retried, tag_failure};
use crate::ops::switch::plan::{Coordination, Operator, SwitchPlan, WindowContent};
use crate::ops::token::TokenStore;
use crate::planner::{Direction, Planned, short_listener};
use maintenance_core::deploy_names::{parameters, tags};
use maintenance_responder::ssm::{LockParameters, StoredType, Write};

/// The parameters a switch reads and writes: the lease, the window's content, and the bypass
/// link's token (`crate::ops::token::TokenStore`). The SSM client is one.
pub trait SwitchParameters: LockParameters + TokenStore {}
impl<T: LockParameters + TokenStore> SwitchParameters for T {}

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
            LeaseError::Random(source) => Self {
                outcome: Outcome::Failed,
                message: format!("{e} ({source}); nothing was changed"),
                held_by: None,
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

/// The leases a switch (or any writer of the owner record) holds: one per content prefix, taken
/// together in sorted order and given back together. A writer takes them once, keeps this value
/// for as long as it writes, and gives it to [`LeaseGuard::release`] at its end: dropping it
/// cannot release them (that waits on SSM), and a lease never released expires after its TTL.
#[derive(Debug)]
#[must_use = "the leases stay held until released"]
pub struct LeaseGuard {
    held: Vec<HeldLease>,
}

impl LeaseGuard {
    /// Takes the lease of every content prefix of the plan's listeners, in sorted order; on a
    /// failure, releases those taken and says why nothing was changed.
    pub async fn take(
        store: &impl LockParameters,
        plan: &SwitchPlan,
        coordination: &Coordination,
        operator: &mut impl Operator,
    ) -> Result<Self, LeaseStop> {
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
        let prefixes = prefixes(&plan.listeners);
        Self::take_prefixes(store, prefixes, &plan.caller, &doing, options, |h| {
            operator.waiting(h, options.wait)
        })
        .await
        .map_err(|e| LeaseStop::from_error(&e))
    }

    /// Takes the lease of each prefix (sorted, each once) for `holder`, doing `doing`;
    /// `waiting` is told of a holder this writer waits for. On a failure, releases those taken.
    pub async fn take_prefixes(
        store: &impl LockParameters,
        prefixes: impl IntoIterator<Item = String>,
        holder: &str,
        doing: &str,
        options: &LeaseOptions,
        mut waiting: impl FnMut(&LeaseHolder),
    ) -> Result<Self, LeaseError> {
        let prefixes: BTreeSet<String> = prefixes.into_iter().collect();
        let mut guard = Self { held: Vec::new() };
        for prefix in prefixes {
            match lease::acquire(store, &prefix, holder, doing, options, &mut waiting).await {
                Ok(lease) => guard.held.push(lease),
                Err(e) => {
                    guard.release(store).await;
                    return Err(e);
                }
            }
        }
        Ok(guard)
    }

    /// Whether no lease is held (the listeners name no content prefix).
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Whether the leases cover every listener of a plan made under them (the prefixes could
    /// change between the first read and the plan); the refusal when not.
    pub fn uncovered(&self, plan: &SwitchPlan) -> Option<(Outcome, String)> {
        let missing: Vec<String> = prefixes(&plan.listeners)
            .into_iter()
            .filter(|p| {
                !self
                    .held
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

    /// Releases the leases (in the reverse order of their taking): the leases as they were
    /// held, for the report, and what could not be released, as warnings.
    pub async fn release(self, store: &impl LockParameters) -> (Vec<HeldLease>, Vec<String>) {
        let mut warnings = Vec::new();
        for l in self.held.iter().rev() {
            if let Some(warning) = release_warning(store, l).await {
                warnings.push(warning);
            }
        }
        (self.held, warnings)
    }
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

/// Releases one lease; what a release that did not happen means, as a warning.
async fn release_warning(store: &impl LockParameters, l: &HeldLease) -> Option<String> {
    match lease::release(store, l).await {
        Ok(Released::Released) => None,
        Ok(Released::Expired) => Some(format!(
            "the lease {} expired before this switch was done; it is left for the next writer \
             to take over",
            l.parameter
        )),
        Ok(Released::Gone) => Some(format!(
            "the lease {} was taken over by another writer before this switch was done: check \
             with maintctl status",
            l.parameter
        )),
        Err(e) => Some(format!(
            "{e:#}: it expires at {} and is then taken over by the next writer",
            l.expires_at
        )),
    }
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
        if let Err(e) = add_tags_retried(client, &m.arn, &tags).await {
            warnings.push(format!(
                "listener {}: maintenance is on, but recording {owner} on rule {} failed: {}",
                short_listener(&p.snapshot.listener.arn),
                m.arn,
                tag_failure(&e)
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
