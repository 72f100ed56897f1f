//! The content cache of one Lambda sandbox: a freshness window (no SSM call inside it, at most
//! one refresh per window), a time budget for the cold-start fetch and for each warm refresh,
//! stale-if-error (the last good content outlives a failing SSM), embedded defaults until SSM
//! has answered once, and back-off after failures so a throttled account is not hammered.
//!
//! Time is a `tokio::time::Instant` passed in by the caller, so tests drive the clock
//! (`tokio::time::pause`) and count calls exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::catalog::Catalog;
use crate::content::{Content, ContentState};
use crate::ssm::{FetchError, ParameterStore, Warning, content_from_parameters};

/// Cache timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// How long fetched content stays fresh.
    pub ttl: Duration,
    /// Budget of the cold-start fetch.
    pub init_budget: Duration,
    /// Budget of a warm refresh.
    pub refresh_budget: Duration,
    /// Longest wait between attempts after repeated failures.
    pub max_backoff: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            init_budget: Duration::from_millis(200),
            refresh_budget: Duration::from_millis(100),
            max_backoff: Duration::from_secs(300),
        }
    }
}

#[derive(Debug)]
struct State {
    /// Last good content and when it was fetched.
    last_good: Option<(Arc<Content>, Instant)>,
    /// No attempt before this instant (the window, or the back-off after a failure).
    next_attempt: Option<Instant>,
    /// Failures in a row.
    failures: u32,
}

/// What one attempt did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// New content, with the parameters that were ignored.
    Fetched(Vec<Warning>),
    /// The attempt failed; the previous content stays.
    Failed(FetchError),
}

/// Content cache over a [`ParameterStore`].
#[derive(Debug)]
pub struct ContentCache<S> {
    store: S,
    prefix: String,
    catalog: Arc<Catalog>,
    settings: CacheSettings,
    state: Mutex<State>,
    calls: AtomicU64,
    /// Handed out while nothing was ever fetched (shared, like fetched content).
    empty: Arc<Content>,
}

impl<S: ParameterStore> ContentCache<S> {
    /// A cache with nothing fetched yet.
    pub fn new(store: S, prefix: String, catalog: Arc<Catalog>, settings: CacheSettings) -> Self {
        Self {
            store,
            prefix,
            catalog,
            settings,
            state: Mutex::new(State {
                last_good: None,
                next_attempt: None,
                failures: 0,
            }),
            calls: AtomicU64::new(0),
            empty: Arc::new(Content::default()),
        }
    }

    /// Number of SSM fetches started so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The settings.
    pub fn settings(&self) -> CacheSettings {
        self.settings
    }

    /// The cold-start fetch, within the init budget.
    pub async fn init(&self, now: Instant) -> Refresh {
        let mut state = self.state.lock().await;
        self.attempt(&mut state, now, self.settings.init_budget)
            .await
    }

    /// Content for a request: fresh from the cache inside the window; otherwise one refresh
    /// attempt within the refresh budget (unless backing off), then the best content there is.
    pub async fn get(&self, now: Instant) -> (Content, Option<Refresh>) {
        let mut state = self.state.lock().await;
        let refresh = self.refresh_if_due(&mut state, now).await;
        (Self::snapshot(&state, now, self.settings.ttl), refresh)
    }

    /// [`ContentCache::get`] without the copy: the content as it was fetched, shared. Its
    /// `state` is the one of the moment it was fetched; [`ContentCache::peek`] tells the
    /// state now (the health route shows it; no page does).
    pub async fn get_shared(&self, now: Instant) -> (Arc<Content>, Option<Refresh>) {
        let mut state = self.state.lock().await;
        let refresh = self.refresh_if_due(&mut state, now).await;
        let content = match &state.last_good {
            Some((content, _)) => Arc::clone(content),
            None => Arc::clone(&self.empty),
        };
        (content, refresh)
    }

    /// One refresh attempt within the refresh budget, when the window (or back-off) is over.
    async fn refresh_if_due(&self, state: &mut State, now: Instant) -> Option<Refresh> {
        let due = state.next_attempt.is_none_or(|at| now >= at);
        if !due {
            return None;
        }
        Some(self.attempt(state, now, self.settings.refresh_budget).await)
    }

    /// Content without any fetch: for the health route, which must never wait on SSM.
    pub async fn peek(&self, now: Instant) -> Content {
        let state = self.state.lock().await;
        Self::snapshot(&state, now, self.settings.ttl)
    }

    fn snapshot(state: &State, now: Instant, ttl: Duration) -> Content {
        match &state.last_good {
            None => Content::default(),
            Some((content, fetched_at)) => {
                let age = now.saturating_duration_since(*fetched_at);
                let age_seconds = age.as_secs();
                let mut content = Content::clone(content);
                content.state = if age < ttl && state.failures == 0 {
                    ContentState::Fresh { age_seconds }
                } else {
                    ContentState::Stale { age_seconds }
                };
                content
            }
        }
    }

    async fn attempt(&self, state: &mut State, now: Instant, budget: Duration) -> Refresh {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let fetched =
            tokio::time::timeout(budget, self.store.parameters_by_path(&self.prefix)).await;
        let result = match fetched {
            Ok(Ok(params)) => Ok(params),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(FetchError::Timeout(budget.as_millis() as u64)),
        };
        match result {
            Ok(params) => {
                let (content, warnings) = content_from_parameters(
                    &self.prefix,
                    &params,
                    &self.catalog,
                    time::OffsetDateTime::now_utc(),
                );
                state.last_good = Some((Arc::new(content), now));
                state.failures = 0;
                state.next_attempt = Some(now + self.settings.ttl);
                Refresh::Fetched(warnings)
            }
            Err(e) => {
                state.failures = state.failures.saturating_add(1);
                // One window after the first failure, doubling up to max_backoff.
                let factor = 1u32 << state.failures.saturating_sub(1).min(10);
                let wait = self
                    .settings
                    .ttl
                    .saturating_mul(factor)
                    .min(self.settings.max_backoff);
                state.next_attempt = Some(now + wait.max(Duration::from_secs(1)));
                Refresh::Failed(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssm::Parameter;
    use std::sync::atomic::AtomicU32;

    /// A store whose answers are scripted per call: Ok(params) or an error.
    struct Scripted {
        answers: std::sync::Mutex<Vec<Result<Vec<Parameter>, FetchError>>>,
        hang: AtomicU32,
    }

    impl ParameterStore for Scripted {
        async fn parameters_by_path(&self, _path: &str) -> Result<Vec<Parameter>, FetchError> {
            if self.hang.load(Ordering::Relaxed) > 0 {
                std::future::pending::<()>().await;
            }
            let mut answers = self.answers.lock().unwrap();
            if answers.is_empty() {
                Ok(vec![])
            } else {
                answers.remove(0)
            }
        }
    }

    fn title(t: &str) -> Vec<Parameter> {
        vec![Parameter {
            name: "/p/en/title".into(),
            value: t.into(),
        }]
    }

    fn cache(answers: Vec<Result<Vec<Parameter>, FetchError>>) -> ContentCache<Scripted> {
        let store = Scripted {
            answers: std::sync::Mutex::new(answers),
            hang: AtomicU32::new(0),
        };
        ContentCache::new(
            store,
            "/p".into(),
            Arc::new(Catalog::embedded()),
            CacheSettings::default(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn fresh_then_stale_if_error_then_recovers_with_backoff() {
        let throttled = || Err(FetchError::Throttled("Rate exceeded".into()));
        let c = cache(vec![
            Ok(title("one")),
            throttled(),
            throttled(),
            Ok(title("two")),
        ]);
        let t0 = Instant::now();
        assert!(matches!(c.init(t0).await, Refresh::Fetched(_)));
        let (content, refresh) = c.get(t0 + Duration::from_secs(10)).await;
        assert_eq!(refresh, None, "no call inside the window");
        assert_eq!(content.maintenance["en"].title, "one");
        assert_eq!(content.state, ContentState::Fresh { age_seconds: 10 });
        // window over: one attempt, throttled -> stale content, back off 30 s
        let (content, refresh) = c.get(t0 + Duration::from_secs(31)).await;
        assert!(matches!(
            refresh,
            Some(Refresh::Failed(FetchError::Throttled(_)))
        ));
        assert_eq!(content.state, ContentState::Stale { age_seconds: 31 });
        assert_eq!(content.maintenance["en"].title, "one");
        assert_eq!(
            c.get(t0 + Duration::from_secs(60)).await.1,
            None,
            "backing off"
        );
        // second failure at 61 s -> back off 60 s
        assert!(c.get(t0 + Duration::from_secs(61)).await.1.is_some());
        assert_eq!(c.get(t0 + Duration::from_secs(120)).await.1, None);
        let (content, refresh) = c.get(t0 + Duration::from_secs(121)).await;
        assert!(matches!(refresh, Some(Refresh::Fetched(_))));
        assert_eq!(content.maintenance["en"].title, "two");
        assert_eq!(content.state, ContentState::Fresh { age_seconds: 0 });
        assert_eq!(c.calls(), 4, "init, two failures, one recovery");
    }

    #[tokio::test(start_paused = true)]
    async fn hanging_store_is_cut_at_the_budget_and_defaults_are_served() {
        let c = cache(vec![]);
        c.store.hang.store(1, Ordering::Relaxed);
        let started = Instant::now();
        let refresh = c.init(started).await;
        assert_eq!(refresh, Refresh::Failed(FetchError::Timeout(200)));
        assert_eq!(started.elapsed(), Duration::from_millis(200));
        let content = c.peek(Instant::now()).await;
        assert_eq!(content.state, ContentState::Defaults);
        assert!(content.maintenance.is_empty());
    }
}
