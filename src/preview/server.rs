//! `maintctl serve`: the HTTP/1.1 server ([`serve`], [`ServeOptions`]) and the routing of one
//! request ([`answer`]): the reserved index page, the ALB's own refusals (405 for TRACE, 413
//! over [`MAX_REQUEST_BODY`]), the forced pages under [`PAGE_PATH`] ([`Forced`]), 404 for the
//! rest of [`INDEX_PATH`], and everything else through the emulated ALB to the function.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use maintenance_core::admission::ReturnState;
use maintenance_core::content::BypassToken;
use maintenance_core::deploy_names::{ADMIT_COOKIE, BYPASS_COOKIE};
use maintenance_core::page_kind::PageKind;
use maintenance_core::respond::negotiate::Format;
use maintenance_core::site::Site;
use maintenance_responder::lambda::Function;
use maintenance_responder::ssm::ParameterStore;

use super::emulate::{Answer, Origin, alb_event, invoke, query_pairs};
use super::index::index_page;
use super::options::ServeOptions;
use super::source::forced_target_group_arn;
use super::{INDEX_PATH, MAX_REQUEST_BODY, PAGE_PATH, TARGET_GROUP_ARN};

/// How long a graceful shutdown waits for requests in flight before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

struct Shared<S> {
    function: Arc<Function<S>>,
    options: ServeOptions,
    port: u16,
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes, answering every request through
/// `function` as an ALB with a Lambda target would (use a function built over the preview
/// [`site`](super::site()), e.g. by [`load`](super::load), so the index links can force page kinds).
///
/// On shutdown it stops accepting, lets requests in flight finish (up to 10 s) and closes idle
/// keep-alive connections. The listener and the shutdown signal are injected, so tests run it
/// on port 0 with a channel, and `maintctl serve` with Ctrl-C.
pub async fn serve<S>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    function: Arc<Function<S>>,
    options: impl Into<ServeOptions>,
) -> io::Result<()>
where
    S: ParameterStore + 'static,
{
    let port = listener.local_addr()?.port();
    let shared = Arc::new(Shared {
        function,
        options: options.into(),
        port,
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let shared = Arc::clone(&shared);
                let mut stop = stop_rx.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, std::convert::Infallible>(answer(&shared, request, peer).await) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .serve_connection(TokioIo::new(stream), service);
                    let mut connection = pin!(connection);
                    let result = tokio::select! {
                        result = connection.as_mut() => result,
                        _ = stop.changed() => {
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(());
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still in flight after the grace period were dropped");
        connections.shutdown().await;
    }
    Ok(())
}

/// Answers one HTTP request.
async fn answer<S: ParameterStore>(
    shared: &Shared<S>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    let (mut parts, body) = request.into_parts();
    let site = shared.function.site();
    let mode = shared.options.mode;
    let origin = |arn: String| Origin {
        client: peer.ip(),
        port: shared.port,
        mode,
        target_group_arn: arn,
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let token = current_token(&shared.function).await;
    if path == INDEX_PATH.trim_end_matches('/') || path == INDEX_PATH {
        let link = token
            .as_ref()
            .map(|t| format!("{}/{}", site.config.bypass_path, t.expose()));
        return index_page(site, &shared.options, link).into_response();
    }
    if let Some(token) = &token
        && carries_cookie(&parts.headers, BYPASS_COOKIE, token)
    {
        return would_reach_application(&path, BYPASS_RULE).into_response();
    }
    if let Some(state) = current_return(&shared.function).await
        && carries_cookie(&parts.headers, ADMIT_COOKIE, &state.token)
    {
        return would_reach_application(&path, ADMISSION_RULE).into_response();
    }
    if parts.method == Method::TRACE {
        // The ALB refuses TRACE itself, before any target sees it.
        return Answer::text(405, "405 Method Not Allowed\n".into()).into_response();
    }
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Answer::text(413, "413 Request Entity Too Large\n".into()).into_response();
        }
    };
    let mut arn = TARGET_GROUP_ARN.to_string();
    if path == PAGE_PATH {
        match Forced::from_query(query.as_deref(), site) {
            Ok(forced) => {
                arn = forced.apply(&mut parts);
            }
            Err(problem) => {
                return Answer::text(400, format!("400 Bad Request\n\nmaintctl serve: {problem}\nSee {INDEX_PATH} for the pages.\n"))
                    .into_response();
            }
        }
    } else if path.starts_with(INDEX_PATH) {
        return Answer::text(404, format!("404 Not Found\n\nmaintctl serve: {path} is reserved for the preview; see {INDEX_PATH}\n"))
            .into_response();
    }
    let event = alb_event(&parts, &body, &origin(arn));
    invoke(&shared.function, &event, mode).await.into_response()
}

/// The bypass token of the content the function serves now, if one is set.
async fn current_token<S: ParameterStore>(function: &Function<S>) -> Option<BypassToken> {
    function
        .cache()?
        .peek(tokio::time::Instant::now())
        .await
        .bypass_token
}

/// The gradual return of the content the function serves now, if one is under way.
pub(super) async fn current_return<S: ParameterStore>(
    function: &Function<S>,
) -> Option<ReturnState> {
    function
        .cache()?
        .peek(tokio::time::Instant::now())
        .await
        .return_state
}

/// Whether a request would match one of the listener's cookie rules (the cookie bypass rule,
/// `maint_bypass`; a gradual return's admission rules, `maint_admit`): like the ALB's
/// `http-header` condition `Cookie: *NAME=TOKEN*`, a case-insensitive substring of any
/// `Cookie` field.
fn carries_cookie(headers: &HeaderMap, name: &str, token: &BypassToken) -> bool {
    let wanted = format!("{name}={}", token.expose()).to_ascii_lowercase();
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains(&wanted))
}

/// Why [`would_reach_application`]: the cookie bypass rule.
const BYPASS_RULE: &str = "carries the bypass cookie of the current maintenance window: on your \
     ALB the cookie bypass rule forwards it to the application, so a tester sees the real \
     application while everyone else sees the maintenance page.";

/// Why [`would_reach_application`]: a gradual return's admission rules.
const ADMISSION_RULE: &str = "carries the admission cookie of the gradual return under way: on \
     your ALB the admission rules forward it where the listener's own rules would, so this \
     visitor, let through, sees the application while the others still see the maintenance page.";

/// What the preview answers where one of the ALB's cookie rules (`why`) would forward the
/// request to the application, which the preview does not have.
fn would_reach_application(path: &str, why: &str) -> Answer {
    let mut answer = Answer::text(
        200,
        format!(
            "would reach the application\n\nThis request ({path}) {why} (maintctl serve has no \
             application to show.)\n"
        ),
    );
    answer.headers.push((
        "X-Preview-Bypass".into(),
        "would reach the application".into(),
    ));
    answer
}

/// A page forced by the index: kind, and optionally language and format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Forced<'a> {
    pub(super) kind: PageKind,
    pub(super) lang: Option<&'a str>,
    pub(super) format: Option<Format>,
}

impl<'a> Forced<'a> {
    pub(super) fn from_query(query: Option<&'a str>, site: &'a Site) -> Result<Self, String> {
        let mut forced = Self {
            kind: site.config.default_page,
            lang: None,
            format: None,
        };
        for (key, value) in query_pairs(query) {
            match key {
                "kind" => {
                    forced.kind = PageKind::from_str(value)?;
                    if !forced.kind.is_page() {
                        return Err(format!("kind={value} is a route, not a page"));
                    }
                }
                "lang" => {
                    let lang = site
                        .languages
                        .iter()
                        .find(|l| l.eq_ignore_ascii_case(value))
                        .ok_or_else(|| {
                            format!("lang={value:?} is not one of {}", site.languages.join(", "))
                        })?;
                    forced.lang = Some(lang.as_str());
                }
                "format" => {
                    forced.format = Some(
                        Format::ALL
                            .into_iter()
                            .find(|f| f.name() == value || (value == "txt" && *f == Format::Text))
                            .ok_or_else(|| {
                                format!("format={value:?} is not one of html, json, text")
                            })?,
                    );
                }
                _ => {}
            }
        }
        Ok(forced)
    }

    /// Rewrites the request into the one a user of that page sends: path `/`, and
    /// `Accept` / `Accept-Language` set when forced. Returns the target group to name.
    pub(super) fn apply(&self, parts: &mut Parts) -> String {
        parts.uri = hyper::Uri::from_static("/");
        if let Some(lang) = self.lang
            && let Ok(value) = HeaderValue::from_str(lang)
        {
            parts.headers.insert(hyper::header::ACCEPT_LANGUAGE, value);
        }
        if let Some(format) = self.format {
            parts.headers.insert(
                hyper::header::ACCEPT,
                HeaderValue::from_static(accept_for(format)),
            );
        }
        forced_target_group_arn(self.kind)
    }
}

/// An `Accept` value that selects a format, as a typical client of that format sends it.
fn accept_for(format: Format) -> &'static str {
    match format {
        Format::Html => "text/html",
        Format::Json => "application/json",
        Format::PlainJson => "application/problem+json;q=0, application/json",
        Format::Text => "text/plain",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::index::shadowed_kinds;
    use crate::preview::site;

    #[test]
    fn forced_query_is_validated() {
        let site = site(Site::embedded());
        let forced = Forced::from_query(Some("kind=404&lang=JA&format=txt"), &site).unwrap();
        assert_eq!(
            forced,
            Forced {
                kind: PageKind::NotFound,
                lang: Some("ja"),
                format: Some(Format::Text)
            }
        );
        for bad in ["kind=teapot", "kind=health", "lang=de", "format=xml"] {
            assert!(Forced::from_query(Some(bad), &site).is_err(), "{bad}");
        }
        assert!(shadowed_kinds(&site).is_empty());
    }
}
