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

use crate::ssm::{FetchError, Parameter, ParameterStore, Warning, content_from_parameters};
use maintenance_core::catalog::Catalog;
use maintenance_core::content::{Content, ContentState, FailureKind};

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

/// A prefix read over more pages than this gets a warning (the layout for two languages is 7
/// parameters, one page).
pub const MANY_PAGES: u32 = 3;
/// Most pages one fetch follows (10 parameters each): beyond, the prefix is not the layout.
pub const MAX_PAGES: u32 = 1000;

#[derive(Debug)]
struct State {
    /// Last good content, when it was fetched, and how many parameters it came from.
    last_good: Option<(Arc<Content>, Instant, usize)>,
    /// No attempt before this instant (the window, or the back-off after a failure).
    next_attempt: Option<Instant>,
    /// Failures in a row.
    failures: u32,
    /// How the last failure failed.
    last_failure: Option<FailureKind>,
    /// A fetch that ran out of budget part-way: the pages read so far, and where to go on.
    partial: Option<Partial>,
}

/// The progress of a fetch that did not finish within its budget. The next attempt goes on
/// from here instead of starting over, so a prefix of many pages loads over a few requests
/// rather than never (each attempt used to restart and throw the pages it read away).
#[derive(Debug)]
struct Partial {
    parameters: Vec<Parameter>,
    next_token: String,
    pages: u32,
    started: Instant,
}

/// What one attempt did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// New content, with the parameters that were ignored and anything else worth a warning
    /// (a prefix with nothing under it, a prefix spread over many pages).
    Fetched(Vec<Warning>),
    /// The budget ran out part-way through a prefix of many pages; the pages read are kept,
    /// and the next request goes on from there. The previous content stays meanwhile.
    Partial {
        /// Pages read so far.
        pages: u32,
    },
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
                last_failure: None,
                partial: None,
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
            Some((content, _, _)) => Arc::clone(content),
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
        let last = state.last_failure.unwrap_or(FailureKind::TimedOut);
        let Some((content, fetched_at, parameters)) = &state.last_good else {
            return Content {
                state: ContentState::Unreached {
                    failures: state.failures,
                    last,
                },
                ..Content::default()
            };
        };
        let age = now.saturating_duration_since(*fetched_at);
        let (age_seconds, parameters) = (age.as_secs(), *parameters);
        let mut content = Content::clone(content);
        content.state = if state.failures > 0 {
            ContentState::Stale {
                age_seconds,
                parameters,
                failures: state.failures,
                last,
            }
        } else if age < ttl {
            ContentState::Fresh {
                age_seconds,
                parameters,
            }
        } else {
            ContentState::Due {
                age_seconds,
                parameters,
            }
        };
        content
    }

    /// One attempt within `budget`: goes on from a partial fetch if there is one, else starts
    /// at the first page, and follows pages until the last one or the budget.
    async fn attempt(&self, state: &mut State, now: Instant, budget: Duration) -> Refresh {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + budget;
        // A partial fetch older than the longest back-off starts over (its token may be gone).
        let resumed = state
            .partial
            .take()
            .filter(|p| now.saturating_duration_since(p.started) < self.settings.max_backoff);
        let mut fetch = resumed.unwrap_or(Partial {
            parameters: Vec::new(),
            next_token: String::new(),
            pages: 0,
            started: now,
        });
        let pages_before = fetch.pages;
        loop {
            let token = (fetch.pages > 0).then_some(fetch.next_token.as_str());
            let page =
                tokio::time::timeout_at(deadline, self.store.parameters_page(&self.prefix, token))
                    .await;
            match page {
                Ok(Ok(page)) => {
                    fetch.pages += 1;
                    fetch.parameters.extend(page.parameters);
                    match page.next_token.filter(|t| !t.is_empty()) {
                        Some(next) if fetch.pages < MAX_PAGES => fetch.next_token = next,
                        _ => return self.fetched(state, now, fetch),
                    }
                }
                Ok(Err(e)) => return self.failed(state, now, e, fetch),
                Err(_) if fetch.pages > pages_before => {
                    // Progress, just not to the end: go on with the next request.
                    let pages = fetch.pages;
                    state.partial = Some(fetch);
                    state.next_attempt = None;
                    return Refresh::Partial { pages };
                }
                Err(_) => {
                    let timeout = FetchError::Timeout(budget.as_millis() as u64);
                    return self.failed(state, now, timeout, fetch);
                }
            }
        }
    }

    /// A whole prefix read: new content, and the window starts.
    fn fetched(&self, state: &mut State, now: Instant, fetch: Partial) -> Refresh {
        let (content, mut warnings) = content_from_parameters(
            &self.prefix,
            &fetch.parameters,
            &self.catalog,
            jiff::Timestamp::now(),
        );
        if fetch.parameters.is_empty() {
            warnings.push(Warning {
                parameter: self.prefix.clone(),
                problem: "no parameter under this prefix: the built-in texts are served (check \
                          the prefix for a typo)"
                    .into(),
            });
        }
        if fetch.pages > MANY_PAGES {
            warnings.push(Warning {
                parameter: self.prefix.clone(),
                problem: format!(
                    "the prefix holds {} parameters on {} pages of GetParametersByPath, all read \
                     at every refresh; keep only the layout's parameters under it (title and \
                     message per language, retry-after, links/*)",
                    fetch.parameters.len(),
                    fetch.pages
                ),
            });
        }
        state.last_good = Some((Arc::new(content), now, fetch.parameters.len()));
        state.failures = 0;
        state.last_failure = None;
        state.next_attempt = Some(now + self.settings.ttl);
        Refresh::Fetched(warnings)
    }

    /// A failed attempt: the last good content stays, and the next attempt backs off — one
    /// window after the first failure, doubling up to `max_backoff`. Pages read before the
    /// failure are kept for the next attempt.
    fn failed(
        &self,
        state: &mut State,
        now: Instant,
        error: FetchError,
        fetch: Partial,
    ) -> Refresh {
        if fetch.pages > 0 {
            state.partial = Some(fetch);
        }
        state.failures = state.failures.saturating_add(1);
        state.last_failure = Some(match error {
            FetchError::Throttled(_) => FailureKind::Throttled,
            FetchError::Unreachable(_) => FailureKind::Unreachable,
            FetchError::Timeout(_) | FetchError::SdkTimeout(_) => FailureKind::TimedOut,
            FetchError::Service(_) => FailureKind::ErrorAnswer,
        });
        let factor = 1u32 << state.failures.saturating_sub(1).min(10);
        let wait = self
            .settings
            .ttl
            .saturating_mul(factor)
            .min(self.settings.max_backoff);
        state.next_attempt = Some(now + wait.max(Duration::from_secs(1)));
        Refresh::Failed(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssm::Parameter;
    use std::sync::atomic::AtomicU32;

    /// A store whose answers are scripted per call: Ok(params) (one page) or an error.
    struct Scripted {
        answers: std::sync::Mutex<Vec<Result<Vec<Parameter>, FetchError>>>,
        hang: AtomicU32,
    }

    impl ParameterStore for Scripted {
        async fn parameters_page(
            &self,
            _path: &str,
            _token: Option<&str>,
        ) -> Result<crate::ssm::ParameterPage, FetchError> {
            if self.hang.load(Ordering::Relaxed) > 0 {
                std::future::pending::<()>().await;
            }
            let mut answers = self.answers.lock().unwrap();
            let parameters = if answers.is_empty() {
                vec![]
            } else {
                answers.remove(0)?
            };
            Ok(crate::ssm::ParameterPage {
                parameters,
                next_token: None,
            })
        }
    }

    /// A prefix of `pages` pages of 10 parameters, each page taking `per_page` to answer.
    struct Paged {
        pages: usize,
        per_page: Duration,
        requests: std::sync::Mutex<Vec<Option<String>>>,
    }

    impl ParameterStore for Paged {
        async fn parameters_page(
            &self,
            _path: &str,
            token: Option<&str>,
        ) -> Result<crate::ssm::ParameterPage, FetchError> {
            self.requests
                .lock()
                .unwrap()
                .push(token.map(str::to_string));
            tokio::time::sleep(self.per_page).await;
            let page: usize = token.map_or(0, |t| t.parse().unwrap());
            let parameters = (0..10)
                .map(|i| Parameter {
                    name: format!("/p/extra/p{page}-{i}"),
                    value: "x".into(),
                })
                .chain((page == 0).then(|| Parameter {
                    name: "/p/en/title".into(),
                    value: "Many pages".into(),
                }))
                .collect();
            let next_token = (page + 1 < self.pages).then(|| (page + 1).to_string());
            Ok(crate::ssm::ParameterPage {
                parameters,
                next_token,
            })
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
        assert_eq!(
            content.state,
            ContentState::Fresh {
                age_seconds: 10,
                parameters: 1
            }
        );
        // window over: one attempt, throttled -> stale content, back off 30 s
        let (content, refresh) = c.get(t0 + Duration::from_secs(31)).await;
        assert!(matches!(
            refresh,
            Some(Refresh::Failed(FetchError::Throttled(_)))
        ));
        assert_eq!(
            content.state,
            ContentState::Stale {
                age_seconds: 31,
                parameters: 1,
                failures: 1,
                last: FailureKind::Throttled
            }
        );
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
        assert_eq!(
            content.state,
            ContentState::Fresh {
                age_seconds: 0,
                parameters: 1
            }
        );
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
        assert_eq!(
            content.state,
            ContentState::Unreached {
                failures: 1,
                last: FailureKind::TimedOut
            }
        );
        assert!(content.maintenance.is_empty());
    }

    /// Issue #16, item 8: a health check long after the window, with no failure, is not
    /// "stale" (health checks never refresh); an empty prefix is said, not called fresh.
    #[tokio::test(start_paused = true)]
    async fn the_state_says_what_happened() {
        let c = cache(vec![Ok(title("one"))]);
        let t0 = Instant::now();
        assert!(matches!(c.init(t0).await, Refresh::Fetched(w) if w.is_empty()));
        assert_eq!(
            c.peek(t0 + Duration::from_secs(95)).await.state,
            ContentState::Due {
                age_seconds: 95,
                parameters: 1
            }
        );
        let empty = cache(vec![]);
        let Refresh::Fetched(warnings) = empty.init(t0).await else {
            panic!("fetched");
        };
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].parameter, "/p");
        assert!(
            warnings[0]
                .problem
                .contains("no parameter under this prefix")
        );
        assert_eq!(
            empty.peek(t0).await.state,
            ContentState::Fresh {
                age_seconds: 0,
                parameters: 0
            }
        );
    }

    /// Issue #16, item 9: a prefix spread over many pages loads over a few attempts, each
    /// going on where the last stopped within its budget, instead of restarting (and never
    /// loading); each attempt costs at most its budget, and the prefix gets a warning.
    #[tokio::test(start_paused = true)]
    async fn many_pages_load_over_several_attempts_without_starting_over() {
        let store = Paged {
            pages: 40,
            per_page: Duration::from_millis(15),
            requests: std::sync::Mutex::new(Vec::new()),
        };
        let c = ContentCache::new(
            store,
            "/p".into(),
            Arc::new(Catalog::embedded()),
            CacheSettings::default(),
        );
        let t0 = Instant::now();
        // The cold start (200 ms) reads 13 pages of 40, then hands over to the requests.
        let started = Instant::now();
        assert_eq!(c.init(t0).await, Refresh::Partial { pages: 13 });
        assert!(started.elapsed() <= Duration::from_millis(200));
        let mut attempts = 1;
        let warnings = loop {
            let started = Instant::now();
            let (content, refresh) = c.get(t0 + Duration::from_secs(attempts)).await;
            assert!(
                started.elapsed() <= Duration::from_millis(100),
                "one budget at most"
            );
            attempts += 1;
            match refresh {
                Some(Refresh::Partial { .. }) => {
                    assert!(content.maintenance.is_empty(), "defaults meanwhile")
                }
                Some(Refresh::Fetched(warnings)) => {
                    assert_eq!(content.maintenance["en"].title, "Many pages");
                    break warnings;
                }
                other => panic!("{other:?}"),
            }
            assert!(attempts < 10, "loads within a few requests");
        };
        // 13 pages at the cold start, then 6 per 100 ms request: 5 requests in all.
        assert_eq!(attempts, 6, "init + 5 requests");
        // Never back to an earlier page: only the page in flight when a budget ran out is asked
        // for again (once per attempt that stopped part-way).
        let requests = c.store.requests.lock().unwrap().clone();
        let pages: Vec<usize> = requests
            .iter()
            .map(|t| t.as_deref().map_or(0, |t| t.parse().unwrap()))
            .collect();
        assert!(pages.windows(2).all(|w| w[0] <= w[1]), "{pages:?}");
        assert_eq!(
            pages.len(),
            40 + 5,
            "40 pages, 5 of them asked for twice: {pages:?}"
        );
        assert_eq!((pages[0], pages[44]), (0, 39));
        assert!(
            warnings
                .iter()
                .any(|w| w.parameter == "/p" && w.problem.contains("401 parameters on 40 pages")),
            "{warnings:?}"
        );
    }
}
