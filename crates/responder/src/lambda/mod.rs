//! The Lambda path: what is built once per sandbox from the environment (site, SSM client,
//! content cache: [`Function::from_environment`]) and the per-invocation glue around the pure
//! core ([`Function::handle_invocation`]; [`Function::handle_payload`] on Lambda, with the
//! payload as the Runtime API sent it, [`payload`]): read the ALB event ([`alb_event`]), pick the
//! content (the health route never waits on SSM), decide and render through the core with the
//! memo of earlier renderings ([`memo`]; the bypass link and a gradual return's admission answers
//! are never kept), encode for the ALB ([`alb_response`]), guard against panics,
//! and log one JSON line per request.

pub mod alb_event;
pub mod alb_response;
pub mod memo;
pub mod payload;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::content_cache::{CacheSettings, ContentCache, Refresh};
use crate::lambda::alb_event::Event;
use crate::lambda::memo::{Negotiations, RenderedResponses};
use crate::logging::RequestLine;
use crate::ssm::ParameterStore;
use maintenance_core::content::Content;
use maintenance_core::deploy_names::env;
use maintenance_core::deploy_names::parameters::check_prefix;
use maintenance_core::page_kind::PageKind;
use maintenance_core::respond::admission::{self, Admission};
use maintenance_core::respond::negotiate::Format;
use maintenance_core::respond::request::Request;
use maintenance_core::respond::{Decision, Response, bypass, render, select_page};
use maintenance_core::site::Site;

/// Settings read from the environment once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSettings {
    /// SSM prefix, if content comes from SSM.
    pub ssm_prefix: Option<String>,
    /// Cache timing.
    pub cache: CacheSettings,
}

/// A problem found at start; the function still serves (with defaults) and logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartProblem(pub String);

impl FunctionSettings {
    /// Reads the SSM settings. Bad values fall back to defaults and are reported.
    pub fn from_env(lookup: &impl Fn(&str) -> Option<String>) -> (Self, Vec<StartProblem>) {
        let mut problems = Vec::new();
        let mut cache = CacheSettings::default();
        let mut number = |var: &'static str, max: u64| -> Option<u64> {
            let raw = lookup(var)?;
            match raw.trim().parse::<u64>() {
                Ok(n) if n <= max => Some(n),
                _ => {
                    problems.push(StartProblem(format!(
                        "environment variable {var}={raw:?} is not a whole number up to {max}; using the default"
                    )));
                    None
                }
            }
        };
        if let Some(s) = number(env::SSM_TTL_SECONDS, 3600) {
            cache.ttl = Duration::from_secs(s);
        }
        if let Some(ms) = number(env::SSM_INIT_BUDGET_MS, 10_000) {
            cache.init_budget = Duration::from_millis(ms);
        }
        if let Some(ms) = number(env::SSM_REFRESH_BUDGET_MS, 10_000) {
            cache.refresh_budget = Duration::from_millis(ms);
        }
        let ssm_prefix = lookup(env::SSM_PREFIX)
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .and_then(|p| match check_prefix(&p) {
                Ok(()) => Some(p),
                Err(problem) => {
                    problems.push(StartProblem(format!(
                        "environment variable {}: {problem}; serving embedded content",
                        env::SSM_PREFIX
                    )));
                    None
                }
            });
        (Self { ssm_prefix, cache }, problems)
    }
}

/// The function: site and, when configured, the SSM content cache.
pub struct Function<S> {
    site: Site,
    cache: Option<ContentCache<S>>,
    rendered: RenderedResponses,
    negotiations: Negotiations,
    /// The content without SSM.
    defaults: Arc<Content>,
}

impl Function<aws_sdk_ssm::Client> {
    /// The function exactly as the Lambda builds it at start, from its environment (`lookup`
    /// reads one variable): the site ([`Site::from_env_or_embedded`]), the SSM settings and,
    /// when a prefix is configured, the SSM client configured from the variables Lambda sets
    /// ([`crate::aws::lambda_environment`]). Problems are returned for logging: the function
    /// still serves, with defaults in their place. Call [`Function::init`] next for the
    /// cold-start fetch.
    pub async fn from_environment(
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> (Self, Vec<StartProblem>) {
        Self::from_environment_with(lookup, async || crate::aws::lambda_environment(lookup)).await
    }

    /// [`Function::from_environment`] with the SSM client's configuration from `ssm_config`,
    /// called only when a prefix is configured, with what it found missing (`maintctl invoke`:
    /// the standard chain of an operator's machine, profiles and SSO included).
    pub async fn from_environment_with(
        lookup: &impl Fn(&str) -> Option<String>,
        ssm_config: impl AsyncFnOnce() -> (aws_sdk_ssm::config::Builder, Vec<String>),
    ) -> (Self, Vec<StartProblem>) {
        let (site, config_problems) = Site::from_env_or_embedded(lookup);
        let (settings, settings_problems) = FunctionSettings::from_env(lookup);
        let mut problems: Vec<StartProblem> = config_problems
            .iter()
            .map(|e| StartProblem(e.to_string()))
            .chain(settings_problems)
            .collect();
        let store = match &settings.ssm_prefix {
            Some(_) => {
                let (config, missing) = ssm_config().await;
                problems.extend(missing.into_iter().map(|m| {
                    StartProblem(format!(
                        "SSM client: {m}; the content will be the embedded texts if SSM cannot be read"
                    ))
                }));
                Some(crate::aws::lambda_ssm_client(config, &settings.cache))
            }
            None => None,
        };
        (Self::with_store(site, &settings, store), problems)
    }
}

impl<S: ParameterStore> Function<S> {
    /// A function serving from a site and an optional cache.
    pub fn new(site: Site, cache: Option<ContentCache<S>>) -> Self {
        Self {
            site,
            cache,
            rendered: RenderedResponses::new(),
            negotiations: Negotiations::new(),
            defaults: Arc::new(Content::default()),
        }
    }

    /// Builds the cache for a store, if a prefix is configured.
    pub fn with_store(site: Site, settings: &FunctionSettings, store: Option<S>) -> Self {
        let cache = match (&settings.ssm_prefix, store) {
            (Some(prefix), Some(store)) => Some(ContentCache::new(
                store,
                prefix.clone(),
                Arc::new(site.catalog.clone()),
                settings.cache,
            )),
            _ => None,
        };
        Self::new(site, cache)
    }

    /// The site.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// The content cache, if SSM is configured.
    pub fn cache(&self) -> Option<&ContentCache<S>> {
        self.cache.as_ref()
    }

    /// The cold-start fetch (within the init budget); logs what happened.
    pub async fn init(&self) {
        if let Some(cache) = &self.cache {
            log_refresh(&cache.init(Instant::now()).await);
        }
    }

    /// The rendered responses kept so far.
    pub fn rendered(&self) -> &RenderedResponses {
        &self.rendered
    }

    /// The negotiation results kept so far.
    pub fn negotiations(&self) -> &Negotiations {
        &self.negotiations
    }

    /// Answers one raw ALB event with the response JSON for the ALB. Never fails and never
    /// panics outward.
    pub async fn handle(&self, raw: &str) -> Box<RawValue> {
        self.handle_invocation(raw, "").await
    }

    /// [`Function::handle`] for one Lambda invocation: the request log line also carries the
    /// invocation's request id.
    pub async fn handle_invocation(&self, raw: &str, request_id: &str) -> Box<RawValue> {
        let started = std::time::Instant::now();
        self.answer(Event::parse(raw), started, request_id).await
    }

    /// [`Function::handle_invocation`] for the invocation's payload as the Runtime API sent it
    /// (taken past the runtime's deserialization by [`payload::TakePayload`]): the same answer
    /// to the same payload, with one parse of the event where the runtime's raw capture and
    /// [`Event::parse`] made two. An error, for a payload that is not JSON, only where the
    /// runtime's own deserialization failed before (an invocation error either way); the
    /// Lambda service sends none such.
    pub async fn handle_payload(
        &self,
        payload: &[u8],
        request_id: &str,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        let started = std::time::Instant::now();
        // The fast path's parse takes the whole payload: where it accepts it, the payload is
        // one JSON object with only whitespace around it, the runtime's raw capture would have
        // been that object, and `Event::parse` of it would have taken this same fast path.
        let event = match std::str::from_utf8(payload)
            .ok()
            .and_then(Event::parse_plain)
        {
            Some(event) => event,
            None => Event::parse(payload::first_value(payload)?.get()),
        };
        Ok(self.answer(event, started, request_id).await)
    }

    /// The answer to a read event (the rest of [`Function::handle_invocation`]).
    async fn answer(
        &self,
        event: Event,
        started: std::time::Instant,
        request_id: &str,
    ) -> Box<RawValue> {
        let page = select_page(&event.request, &self.site);
        let content = self.content_for(page).await;
        let now = Timestamp::now();
        let answered = catch_unwind(AssertUnwindSafe(|| {
            let log = |page: PageKind, format: Format, language: &str, trace_id: Option<&str>| {
                crate::logging::served(&RequestLine {
                    page: page.name(),
                    status: page.status(),
                    format: format.name(),
                    language,
                    trace_id: trace_id.unwrap_or(""),
                    method: &event.request.method,
                    parse: event.parse.name(),
                    header_mode: event.mode.name(),
                    duration_us: started.elapsed().as_micros() as u64,
                    request_id,
                });
            };
            // The bypass link and a gradual return's admission: rare, never kept (each sets a
            // cookie).
            let bypass = page
                .is_page()
                .then(|| bypass::answer(&event.request, &content, &self.site, now))
                .flatten();
            let decision =
                self.negotiations
                    .decide(&event.request, page, &content, &self.site, now);
            let special =
                bypass.or_else(|| self.admission(&event.request, &decision, &content, now));
            if let Some(mut response) = special {
                let json = alb_response::encode(&mut response, event.mode);
                let served = &response.served;
                log(
                    served.page,
                    served.format,
                    &served.language,
                    served.trace_id.as_deref(),
                );
                return json;
            }
            let json = self
                .rendered
                .response(&decision, &content, &self.site, event.mode);
            log(
                decision.page,
                decision.format,
                decision.language,
                decision.trace_id,
            );
            json
        }));
        let json = answered.unwrap_or_else(|_| {
            tracing::error!(parse = ?event.parse, "the core panicked; served the last-resort page");
            alb_response::last_resort_json(event.mode)
        });
        // The JSON comes from serde_json; should it ever not parse, the last resort does. This
        // check is the one pass over the whole response per request: serde_json hands text to
        // the runtime safely only by checking it or by writing it again, and writing the page
        // again costs more (BENCHMARKS-coldstart.md, "The warm path").
        RawValue::from_string(json).unwrap_or_else(|_| {
            tracing::error!("the response was not valid JSON; served the last-resort page");
            RawValue::from_string(alb_response::last_resort_json(event.mode))
                .unwrap_or_else(|_| RawValue::NULL.to_owned())
        })
    }

    /// The answer of a gradual return that sets a cookie (a visitor's first request, or the one
    /// that lets it through), or `None` for the ordinary page, which the memo may keep.
    fn admission(
        &self,
        request: &Request,
        decision: &Decision<'_>,
        content: &Content,
        now: Timestamp,
    ) -> Option<Response> {
        let admission = admission::decide(request, decision.page, decision.format, content, now);
        if admission == Admission::AlreadyAdmitted {
            tracing::info!(
                trace_id = decision.trace_id.unwrap_or(""),
                "a request with the current admission cookie reached the responder: the \
                 gradual return's admission rules are not written yet, not propagated yet, or \
                 do not match this request; it gets the page, not a redirect that would loop"
            );
        }
        (!admission.is_ordinary()).then(|| {
            admission.apply(request, content, &self.site, || {
                render(decision, content, &self.site)
            })
        })
    }

    /// The content to answer with. Shared, not copied, on the page path; the health route gets
    /// its own copy with the state of this moment, which is what it reports.
    async fn content_for(&self, page: PageKind) -> Arc<Content> {
        let Some(cache) = &self.cache else {
            return Arc::clone(&self.defaults);
        };
        let now = Instant::now();
        if page == PageKind::Health {
            return Arc::new(cache.peek(now).await);
        }
        let (content, refresh) = cache.get_shared(now).await;
        if let Some(refresh) = refresh {
            log_refresh(&refresh);
        }
        content
    }
}

fn log_refresh(refresh: &Refresh) {
    match refresh {
        Refresh::Fetched(warnings) => {
            for w in warnings {
                tracing::warn!(
                    parameter = w.parameter.as_str(),
                    problem = w.problem.as_str(),
                    "ssm content warning"
                );
            }
            tracing::debug!("ssm content refreshed");
        }
        Refresh::Partial { pages } => {
            tracing::info!(
                pages,
                "ssm content read part-way within the budget; the next request goes on from there"
            );
        }
        Refresh::Failed(e) => {
            tracing::warn!(error = %e, "ssm refresh failed; serving the last good content or the defaults");
        }
    }
}
