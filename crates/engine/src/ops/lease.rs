//! The one-writer-at-a-time lease (issue #15): ELBv2 has no compare-and-set, so every writer of
//! listener priorities — `maintctl on` / `off`, the `maintenance-switch` function — takes
//! `{prefix}/switch/lease` (`maintenance_core::deploy_names::parameters::LEASE`) before it plans
//! and releases it after; nothing interleaves.
//!
//! - **Take** ([`acquire`]): `PutParameter` without `Overwrite` creates the lease, or fails
//!   atomically (`ParameterAlreadyExists`) when another writer holds it. Its value
//!   ([`LeaseValue`], JSON) names the holder, when it took it, until when it is valid and what
//!   it is doing. A writer that finds it held polls for a bounded time
//!   ([`LeaseOptions::wait`]), then refuses, naming the holder and since when.
//! - **Take over**: a lease past its expiry (plus [`CLOCK_SKEW`]) was left by a writer that
//!   crashed or stalled. Deleting and re-creating it is not atomic, so a writer first creates
//!   the takeover marker `{prefix}/switch/takeover/<lease id>`, also without `Overwrite`: of
//!   several writers finding the same expired lease, only the one that created the marker
//!   deletes that lease (after reading it again: still the same one), then everyone races to
//!   create a new one as usual. The marker is deleted after; one left by a writer that crashed
//!   during the few milliseconds of a takeover is removed when older than [`MARKER_TTL`].
//! - **The expiry is bounded by SSM's clock**: a lease expires at its `expires_at`, but no
//!   later than its own TTL (`expires_at` − `acquired_at`, as its writer wrote them) after the
//!   parameter's `LastModifiedDate`, which SSM's clock sets: a writer whose clock ran hours or
//!   years ahead, then crashed, does not block every writer until then. A value with impossible
//!   times (not RFC 3339, an expiry not after the taking, a TTL over [`MAX_TTL`]) is
//!   unreadable: held by "unknown" until its last write plus the reader's TTL.
//! - **Breaking a lease by hand** ([`inspect`], [`break_lease`], `maintctl lease show|break`):
//!   shows the holder, and deletes the lease only if it is still the one shown (its id).
//! - **Release** ([`release`]): delete the lease, but only while it is surely still valid
//!   (before its expiry minus [`CLOCK_SKEW`]) and still this writer's: past that, another
//!   writer may be taking it over, so it is left to them. A writer that runs past its lease is
//!   the one case the lease cannot cover; [`LeaseOptions::ttl`] is chosen well above the
//!   longest switch (retries and rollback included).

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::retry::Backoff;
use maintenance_core::deploy_names::parameters;
use maintenance_core::rfc3339::format as rfc3339;
use maintenance_responder::ssm::{FetchError, LockParameters};

/// How far two writers' clocks may disagree: a lease counts as expired only this long after
/// its expiry, and its holder releases it only this long before.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5);
/// Age past which a takeover marker is taken to be left by a writer that crashed.
pub const MARKER_TTL: Duration = Duration::from_secs(60);
/// The longest TTL a lease value may state: longer is an impossible lease (a switch, retries
/// and rollback included, takes seconds; the switch function runs at most 90).
pub const MAX_TTL: Duration = Duration::from_secs(600);

/// How a writer takes the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOptions {
    /// How long to wait for a lease another writer holds before refusing.
    pub wait: Duration,
    /// How long the lease is valid; past it (and [`CLOCK_SKEW`]), another writer may take it
    /// over. Well above the longest switch.
    pub ttl: Duration,
    /// Refuse a listener whose maintenance rule names no content prefix (no lease can be
    /// taken for it) instead of switching it with a warning: the switch function's setting.
    pub required: bool,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(30),
            ttl: Duration::from_secs(120),
            required: false,
        }
    }
}

/// What the lease parameter holds, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseValue {
    /// Who holds it (caller identity, STS ARN).
    pub holder: String,
    /// This taking of the lease: a release deletes only its own.
    pub id: String,
    /// When it was taken (RFC 3339).
    pub acquired_at: String,
    /// Until when it is valid (RFC 3339).
    pub expires_at: String,
    /// What the holder is doing (`on: DB migration`).
    pub doing: String,
}

/// A lease as another writer holds it. Displayed as one sentence: who, since when, doing what,
/// until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseHolder {
    /// The lease parameter.
    pub parameter: String,
    /// Who holds it.
    pub holder: String,
    /// Since when (RFC 3339).
    pub since: String,
    /// Until when it is valid (RFC 3339).
    pub expires_at: String,
    /// What the holder is doing.
    pub doing: String,
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} holds the lease {} since {} ({}; valid until {})",
            self.holder, self.parameter, self.since, self.doing, self.expires_at
        )
    }
}

/// A lease this writer holds.
#[derive(Debug, Clone, Serialize)]
pub struct HeldLease {
    /// The lease parameter.
    pub parameter: String,
    /// This taking's id.
    pub id: String,
    /// When it was taken (RFC 3339).
    pub acquired_at: String,
    /// Until when it is valid (RFC 3339).
    pub expires_at: String,
    /// How long this writer waited for it.
    pub waited_ms: u64,
    /// The expired lease it took over (its holder crashed or stalled), if any.
    pub took_over: Option<LeaseHolder>,
    #[serde(skip)]
    expires: Timestamp,
}

/// What releasing a lease did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Released {
    /// Deleted.
    Released,
    /// It expired before the release: left for the next writer to take over.
    Expired,
    /// It is no longer this writer's (taken over after it expired): left alone.
    Gone,
}

/// Why a lease was not taken or released.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LeaseError {
    /// Another writer holds it, still after the wait.
    #[error("another switch is running: {holder}; waited {waited_s} s")]
    Held {
        /// Who holds it.
        holder: LeaseHolder,
        /// How long this writer waited.
        waited_s: u64,
    },
    /// SSM failed.
    #[error("the lease {parameter} could not be {doing}")]
    Store {
        /// The parameter.
        parameter: String,
        /// What was being done (`created`, `read`, `deleted`).
        doing: &'static str,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// No lease id could be drawn.
    #[error("no lease id could be drawn: the operating system's random number generator failed")]
    Random(#[source] getrandom::Error),
}

/// The lease parameter of a content prefix.
pub fn lease_parameter(prefix: &str) -> String {
    format!("{prefix}/{}", parameters::LEASE)
}

fn marker_parameter(prefix: &str, key: &str) -> String {
    format!("{prefix}/{}/takeover/{key}", parameters::SWITCH_DIR)
}

/// A number no other writer draws (a lease's or a window's id): 64 bits from the operating
/// system's random number generator, as the bypass token's. Not a secret.
pub fn unique_u64() -> Result<u64, getrandom::Error> {
    getrandom::u64()
}

/// A fresh lease id.
fn new_id() -> Result<String, getrandom::Error> {
    Ok(format!("{:016x}", unique_u64()?))
}

/// A lease as read: who holds it and when it expires; an unreadable value (written by hand, or
/// by a future version) is held by "unknown" until its last write plus the TTL.
struct Found {
    key: String,
    holder: LeaseHolder,
    expires: Timestamp,
}

impl Found {
    fn parse(parameter: &str, raw: &str, modified: Option<i64>, ttl: Duration) -> Found {
        let written = modified.and_then(|s| Timestamp::from_second(s).ok());
        if let Some((v, expires)) = readable(raw, written) {
            return Found {
                key: v.id,
                holder: LeaseHolder {
                    parameter: parameter.into(),
                    holder: v.holder,
                    since: v.acquired_at,
                    expires_at: rfc3339(expires),
                    doing: v.doing,
                },
                expires,
            };
        }
        let written = written.unwrap_or_else(Timestamp::now);
        let expires = written + ttl;
        Found {
            key: format!("unreadable-{}", written.as_second()),
            holder: LeaseHolder {
                parameter: parameter.into(),
                holder: "unknown (the lease value is not maintctl's, or its times are \
                         impossible)"
                    .into(),
                since: rfc3339(written),
                expires_at: rfc3339(expires),
                doing: "unknown".into(),
            },
            expires,
        }
    }

    fn expired(&self, now: Timestamp) -> bool {
        now > self.expires + CLOCK_SKEW
    }
}

/// A lease value that is maintctl's, with possible times, and when it expires: at its
/// `expires_at`, but no later than its own TTL after SSM's last write of it (`written`).
fn readable(raw: &str, written: Option<Timestamp>) -> Option<(LeaseValue, Timestamp)> {
    let v = serde_json::from_str::<LeaseValue>(raw).ok()?;
    let acquired = maintenance_core::rfc3339::parse(&v.acquired_at).ok()?;
    let expires = maintenance_core::rfc3339::parse(&v.expires_at).ok()?;
    let own_ttl = expires.duration_since(acquired);
    let possible = own_ttl > SignedDuration::ZERO
        && own_ttl <= SignedDuration::from_secs(MAX_TTL.as_secs() as i64);
    let id_ok = !v.id.is_empty() && v.id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !possible || !id_ok {
        return None;
    }
    let expires = written.map_or(expires, |w| expires.min(w + own_ttl));
    Some((v, expires))
}

fn store_error(parameter: &str, doing: &'static str) -> impl FnOnce(FetchError) -> LeaseError {
    let parameter = parameter.to_string();
    move |source| LeaseError::Store {
        parameter,
        doing,
        source,
    }
}

/// Takes the lease of `prefix` for `holder`, doing `doing`: waits up to `options.wait` for a
/// lease another writer holds (calling `waiting` once, with its holder, when it starts to
/// wait), takes over an expired one, and refuses with the holder after the wait.
pub async fn acquire(
    store: &impl LockParameters,
    prefix: &str,
    holder: &str,
    doing: &str,
    options: &LeaseOptions,
    mut waiting: impl FnMut(&LeaseHolder),
) -> Result<HeldLease, LeaseError> {
    let name = lease_parameter(prefix);
    let started = Instant::now();
    let mut told = false;
    // 100 ms, doubled up to 1 s, never past the wait but never under 20 ms (an expired lease
    // another writer is taking over is read again after the wait too).
    let floor = Duration::from_millis(20);
    let mut backoff = Backoff::doubling(Duration::from_millis(100))
        .at_most(Duration::from_secs(1))
        .at_least(floor)
        .until(started + options.wait);
    let mut took_over: Option<LeaseHolder> = None;
    loop {
        let now = Timestamp::now();
        let expires = now + options.ttl;
        let value = LeaseValue {
            holder: holder.to_string(),
            id: new_id().map_err(LeaseError::Random)?,
            acquired_at: rfc3339(now),
            expires_at: rfc3339(expires),
            doing: doing.to_string(),
        };
        let raw = serde_json::to_string(&value).expect("a lease value serializes");
        if store
            .create_new(&name, &raw)
            .await
            .map_err(store_error(&name, "created"))?
        {
            return Ok(HeldLease {
                parameter: name,
                id: value.id,
                acquired_at: value.acquired_at,
                expires_at: value.expires_at,
                waited_ms: started.elapsed().as_millis() as u64,
                took_over,
                expires,
            });
        }
        took_over = None;
        let read = store
            .read(&name)
            .await
            .map_err(store_error(&name, "read"))?;
        if let Some((raw, modified)) = read {
            let found = Found::parse(&name, &raw, modified, options.ttl);
            if found.expired(Timestamp::now()) {
                if take_over(store, prefix, &name, &found, options.ttl, holder).await? {
                    took_over = Some(found.holder);
                    continue;
                }
            } else if started.elapsed() >= options.wait {
                return Err(LeaseError::Held {
                    holder: found.holder,
                    waited_s: started.elapsed().as_secs(),
                });
            } else if !told {
                waiting(&found.holder);
                told = true;
            }
        }
        tokio::time::sleep(backoff.next_delay().unwrap_or(floor)).await;
    }
}

/// Deletes the expired lease `found`, if this writer is the one to do it (it created the
/// takeover marker) and the lease is still that one. True when it was deleted.
async fn take_over(
    store: &impl LockParameters,
    prefix: &str,
    name: &str,
    found: &Found,
    ttl: Duration,
    holder: &str,
) -> Result<bool, LeaseError> {
    let marker = marker_parameter(prefix, &found.key);
    let now = Timestamp::now();
    let mark = serde_json::json!({"holder": holder, "at": rfc3339(now)}).to_string();
    if !store
        .create_new(&marker, &mark)
        .await
        .map_err(store_error(&marker, "created"))?
    {
        // Another writer is taking it over. A marker older than MARKER_TTL is one a writer
        // left when it crashed mid-takeover: remove it, so that the next attempt can.
        let stale = store
            .read(&marker)
            .await
            .map_err(store_error(&marker, "read"))?
            .and_then(|(_, modified)| modified)
            .is_some_and(|m| now.as_second() - m > MARKER_TTL.as_secs() as i64);
        if stale {
            store
                .delete(&marker)
                .await
                .map_err(store_error(&marker, "deleted"))?;
        }
        return Ok(false);
    }
    let still = store.read(name).await.map_err(store_error(name, "read"));
    let deleted = match still {
        Ok(Some((raw, modified))) if Found::parse(name, &raw, modified, ttl).key == found.key => {
            store
                .delete(name)
                .await
                .map_err(store_error(name, "deleted"))
        }
        Ok(_) => Ok(false),
        Err(e) => Err(e),
    };
    // Best effort: a marker left behind is removed by the next takeover once stale.
    let _ = store.delete(&marker).await;
    deleted
}

/// Releases a lease this writer holds: deleted while it is surely still valid and its own,
/// else left (see the module documentation).
pub async fn release(
    store: &impl LockParameters,
    lease: &HeldLease,
) -> Result<Released, LeaseError> {
    if Timestamp::now() + CLOCK_SKEW >= lease.expires {
        return Ok(Released::Expired);
    }
    let name = &lease.parameter;
    let current = store.read(name).await.map_err(store_error(name, "read"))?;
    let ours = current.is_some_and(|(raw, _)| {
        serde_json::from_str::<LeaseValue>(&raw).is_ok_and(|v| v.id == lease.id)
    });
    if !ours {
        return Ok(Released::Gone);
    }
    store
        .delete(name)
        .await
        .map_err(store_error(name, "deleted"))?;
    Ok(Released::Released)
}

/// Who holds the lease of `prefix` now, if anyone (for a dry run's note).
pub async fn holder(
    store: &impl LockParameters,
    prefix: &str,
    ttl: Duration,
) -> Result<Option<LeaseHolder>, LeaseError> {
    let name = lease_parameter(prefix);
    let read = store
        .read(&name)
        .await
        .map_err(store_error(&name, "read"))?;
    Ok(read.map(|(raw, modified)| Found::parse(&name, &raw, modified, ttl).holder))
}

/// A lease as `maintctl lease show` shows it: who holds it, its id, whether it has expired.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseView {
    /// Who holds it, since when, doing what, until when (SSM's clock bounding the expiry).
    pub holder: LeaseHolder,
    /// Its id: `maintctl lease break --id` deletes this lease only.
    pub id: String,
    /// Whether it has expired (the next writer takes it over).
    pub expired: bool,
}

/// The lease of `prefix`, if there is one.
pub async fn inspect(
    store: &impl LockParameters,
    prefix: &str,
    ttl: Duration,
) -> Result<Option<LeaseView>, LeaseError> {
    let name = lease_parameter(prefix);
    let read = store
        .read(&name)
        .await
        .map_err(store_error(&name, "read"))?;
    Ok(read.map(|(raw, modified)| {
        let found = Found::parse(&name, &raw, modified, ttl);
        LeaseView {
            expired: found.expired(Timestamp::now()),
            id: found.key,
            holder: found.holder,
        }
    }))
}

/// What `maintctl lease show|break` did. Displayed as the lease and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseReport {
    /// The lease parameter.
    pub parameter: String,
    /// The lease found, if any.
    pub lease: Option<LeaseView>,
    /// Whether it was deleted.
    pub broken: bool,
    /// How it ended.
    #[serde(serialize_with = "outcome_name")]
    pub outcome: crate::ops::Outcome,
    /// What that means and what to do.
    pub message: String,
}

fn outcome_name<S: serde::Serializer>(o: &crate::ops::Outcome, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(o.name())
}

impl crate::ops::Report for LeaseReport {
    fn outcome(&self) -> crate::ops::Outcome {
        self.outcome
    }
}

impl std::fmt::Display for LeaseReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = &self.lease {
            writeln!(f, "{}", l.holder)?;
            let state = if l.expired {
                "expired: the next writer takes it over"
            } else {
                "valid"
            };
            writeln!(f, "  id {} ({state})", l.id)?;
        }
        writeln!(f, "{}", self.message)
    }
}

/// `maintctl lease show`: the lease of `prefix` and how to break it.
pub async fn show(
    store: &impl LockParameters,
    prefix: &str,
    ttl: Duration,
) -> Result<LeaseReport, LeaseError> {
    let lease = inspect(store, prefix, ttl).await?;
    let message = match &lease {
        None => "no switch is running: the lease is free".to_string(),
        Some(l) => format!(
            "a switch holds the lease{}; if its holder is surely gone (its process killed, its \
             Lambda invocation ended: see its logs), break it with maintctl lease break \
             --prefix {prefix} --id {}, then run the switch again",
            if l.expired { " but it has expired" } else { "" },
            l.id
        ),
    };
    Ok(LeaseReport {
        parameter: lease_parameter(prefix),
        lease,
        broken: false,
        outcome: crate::ops::Outcome::Done,
        message,
    })
}

/// `maintctl lease break`: deletes the lease of `prefix`, but only if it is still the one
/// `id` names (as `show` printed it): a lease taken since by another writer is left alone.
pub async fn break_lease(
    store: &impl LockParameters,
    prefix: &str,
    id: &str,
    ttl: Duration,
) -> Result<LeaseReport, LeaseError> {
    use crate::ops::Outcome;
    let lease = inspect(store, prefix, ttl).await?;
    let name = lease_parameter(prefix);
    let (outcome, message, broken) = match &lease {
        None => (
            Outcome::NothingToDo,
            "no lease to break: it is free".to_string(),
            false,
        ),
        Some(l) if l.id != id => (
            Outcome::Refused,
            format!(
                "refused: the lease is {}, not {id} (it was released and taken again since?); \
                 nothing was changed: run maintctl lease show --prefix {prefix} again",
                l.id
            ),
            false,
        ),
        Some(_) => {
            store
                .delete(&name)
                .await
                .map_err(store_error(&name, "deleted"))?;
            (
                Outcome::Done,
                "the lease was deleted: the next switch takes it; run maintctl status, then \
                 the switch again (it plans from the listeners as they are)"
                    .to_string(),
                true,
            )
        }
    };
    Ok(LeaseReport {
        parameter: name,
        lease,
        broken,
        outcome,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_lease_is_held_by_unknown_until_its_write_plus_the_ttl() {
        let f = Found::parse(
            "/p/switch/lease",
            "garbage",
            Some(1_000),
            Duration::from_secs(60),
        );
        assert_eq!(f.key, "unreadable-1000");
        assert_eq!(f.expires.as_second(), 1_060);
        assert!(f.holder.holder.starts_with("unknown"));
        let ok = LeaseValue {
            holder: "arn:aws:sts::1:assumed-role/r/s".into(),
            id: "00ff".into(),
            acquired_at: "2026-11-22T04:00:00Z".into(),
            expires_at: "2026-11-22T04:02:00Z".into(),
            doing: "on".into(),
        };
        let f = Found::parse(
            "/p",
            &serde_json::to_string(&ok).unwrap(),
            None,
            Duration::ZERO,
        );
        assert_eq!(f.key, "00ff");
        assert!(!f.expired(f.expires));
        assert!(f.expired(f.expires + CLOCK_SKEW + Duration::from_secs(1)));
        // An id that could not name a marker parameter is not trusted as one.
        let odd = LeaseValue {
            id: "../x".into(),
            ..ok
        };
        let f = Found::parse(
            "/p",
            &serde_json::to_string(&odd).unwrap(),
            Some(5),
            Duration::ZERO,
        );
        assert!(f.key.starts_with("unreadable-"));
    }

    #[test]
    fn a_lease_from_a_fast_clock_expires_by_ssm_and_impossible_times_are_unreadable() {
        let ahead = LeaseValue {
            holder: "arn:aws:sts::1:assumed-role/r/fast-clock".into(),
            id: "00ff".into(),
            acquired_at: "2031-01-01T00:00:00Z".into(),
            expires_at: "2031-01-01T00:02:00Z".into(),
            doing: "on".into(),
        };
        let raw = serde_json::to_string(&ahead).unwrap();
        // Written (SSM's clock) at 1_000: it expires two minutes after that, not in 2031.
        let f = Found::parse("/p", &raw, Some(1_000), Duration::from_secs(60));
        assert_eq!(f.key, "00ff");
        assert_eq!(f.expires.as_second(), 1_120);
        assert!(f.holder.expires_at.starts_with("1970-01-01T00:18:40"));
        for (acquired, expires) in [
            ("2026-01-01T00:02:00Z", "2026-01-01T00:00:00Z"),
            ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
            ("2026-01-01T00:00:00Z", "2036-01-01T00:00:00Z"),
            ("yesterday", "2026-01-01T00:02:00Z"),
        ] {
            let odd = LeaseValue {
                acquired_at: acquired.into(),
                expires_at: expires.into(),
                ..ahead.clone()
            };
            let f = Found::parse(
                "/p",
                &serde_json::to_string(&odd).unwrap(),
                Some(1_000),
                Duration::from_secs(60),
            );
            assert!(f.key.starts_with("unreadable-"), "{acquired} {expires}");
            assert_eq!(f.expires.as_second(), 1_060);
        }
    }

    #[test]
    fn ids_differ() {
        assert_ne!(new_id().unwrap(), new_id().unwrap());
    }
}
