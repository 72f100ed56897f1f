//! The live-endpoint probe after a switch ([`verify`]): request the page and the health route
//! over plain HTTP until they look right for the direction — `on`: 503 with `Retry-After`;
//! `off`: any other answer — with the health route answering 200, or until the time is up.
//! The URLs are checked before anything else happens ([`VerifyTarget::parse`]), and never
//! printed with the credentials they may carry ([`redact_userinfo`]).

use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use crate::ops::{Outcome, Report};
use crate::planner::Direction;

/// Why a `--verify-url` or `--health-path` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a URL at all.
    #[error("--verify-url {url:?} is not a URL")]
    NotAUrl {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        #[source]
        source: hyper::http::uri::InvalidUri,
    },
    /// An `https://` URL, which this build cannot request.
    #[error(
        "--verify-url supports http:// only (this build has no TLS client for it); check https \
         by hand: curl -sI {url}"
    )]
    Https {
        /// The URL given.
        url: String,
    },
    /// Another scheme, or none.
    #[error("--verify-url {url:?} must start with http://")]
    NotHttp {
        /// The URL given.
        url: String,
    },
    /// No host to send the requests to.
    #[error("--verify-url needs a host")]
    NoHost,
    /// A health path that is not absolute.
    #[error("--health-path {path:?} must start with /")]
    RelativeHealthPath {
        /// The path given.
        path: String,
    },
    /// A health path that makes no URL.
    #[error("--health-path {path:?} is not a valid path")]
    BadHealthPath {
        /// The path given.
        path: String,
        /// Why.
        #[source]
        source: hyper::http::Error,
    },
}

/// The URLs the probe requests: the page, and the health route on the same host.
#[derive(Debug, Clone)]
pub struct VerifyTarget {
    page: hyper::Uri,
    health: hyper::Uri,
}

/// A URL as it may be printed: any `user:password@` before the host becomes `***@`.
pub fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
}

impl VerifyTarget {
    /// Checks an `http://` URL and a health path (absolute) on its host. Credentials in the URL
    /// (`user:password@`) are dropped: the probe sends no `Authorization`, and the URLs it
    /// prints must not show them.
    pub fn parse(url: &str, health_path: &str) -> Result<Self, VerifyError> {
        let shown = redact_userinfo(url);
        let page: hyper::Uri = url.parse().map_err(|source| VerifyError::NotAUrl {
            url: shown.clone(),
            source,
        })?;
        match page.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(VerifyError::Https { url: shown }),
            _ => return Err(VerifyError::NotHttp { url: shown }),
        }
        let with_userinfo = page.authority().ok_or(VerifyError::NoHost)?.as_str();
        let host = with_userinfo
            .rsplit_once('@')
            .map_or(with_userinfo, |(_, host)| host);
        if host.is_empty() {
            return Err(VerifyError::NoHost);
        }
        let authority: hyper::http::uri::Authority =
            host.parse().map_err(|source| VerifyError::NotAUrl {
                url: shown.clone(),
                source,
            })?;
        let page = hyper::Uri::builder()
            .scheme("http")
            .authority(authority.clone())
            .path_and_query(page.path_and_query().map_or("/", |p| p.as_str()))
            .build()
            .map_err(|_| VerifyError::NoHost)?;
        if !health_path.starts_with('/') {
            return Err(VerifyError::RelativeHealthPath {
                path: health_path.into(),
            });
        }
        let health = hyper::Uri::builder()
            .scheme("http")
            .authority(authority)
            .path_and_query(health_path)
            .build()
            .map_err(|source| VerifyError::BadHealthPath {
                path: health_path.into(),
                source,
            })?;
        Ok(Self { page, health })
    }
}

/// What to probe, and for how long.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The URLs.
    pub target: VerifyTarget,
    /// How long to keep trying (the ALB takes a few seconds to apply changes).
    pub timeout: Duration,
}

/// What the probe saw last. Displayed as one line: `verify: URL answered …, HEALTH answered …
/// after N attempt(s)`.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The page URL.
    pub url: String,
    /// Its last status, if it answered.
    pub status: Option<u16>,
    /// Its last `Retry-After`, if any.
    pub retry_after: Option<String>,
    /// The health route URL.
    pub health_url: String,
    /// Its last status, if it answered.
    pub health_status: Option<u16>,
    /// Rounds of requests made.
    pub attempts: u32,
    /// True when both looked right for the direction.
    pub ok: bool,
    /// The last request error, if the last round had one.
    pub error: Option<String>,
}

/// Done when it looked right, else inconsistent (switched, but the endpoint does not show it).
impl Report for Verification {
    fn outcome(&self) -> Outcome {
        if self.ok {
            Outcome::Done
        } else {
            Outcome::Inconsistent
        }
    }
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let answer = |s: Option<u16>| s.map_or("nothing".into(), |s| s.to_string());
        writeln!(
            f,
            "verify: {} answered {}{}, {} answered {} after {} attempt(s)",
            self.url,
            answer(self.status),
            self.retry_after
                .as_deref()
                .map(|r| format!(" with Retry-After {r}"))
                .unwrap_or_default(),
            self.health_url,
            answer(self.health_status),
            self.attempts
        )
    }
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// Requests both URLs until they look right for `direction` or the time is up.
pub async fn verify(request: &VerifyRequest, direction: Direction) -> Verification {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let target = &request.target;
    let deadline = Instant::now() + request.timeout;
    let mut seen = Verification {
        url: target.page.to_string(),
        status: None,
        retry_after: None,
        health_url: target.health.to_string(),
        health_status: None,
        attempts: 0,
        ok: false,
        error: None,
    };
    loop {
        seen.attempts += 1;
        seen.error = None;
        match get(&client, target.page.clone()).await {
            Ok((status, retry_after)) => {
                seen.status = Some(status);
                seen.retry_after = retry_after;
            }
            Err(e) => {
                seen.status = None;
                seen.error = Some(e);
            }
        }
        match get(&client, target.health.clone()).await {
            Ok((status, _)) => seen.health_status = Some(status),
            Err(e) => {
                seen.health_status = None;
                seen.error = Some(e);
            }
        }
        let maintenance = seen.status == Some(503) && seen.retry_after.is_some();
        let page_ok = match direction {
            Direction::On => maintenance,
            Direction::Off => seen.status.is_some() && !maintenance,
        };
        seen.ok = page_ok && seen.health_status == Some(200);
        if seen.ok || Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_secs(2).min(deadline - Instant::now())).await;
    }
}

/// One uncached GET: its status and `Retry-After`, or why there was no answer (5 s at most).
async fn get(client: &HttpClient, uri: hyper::Uri) -> Result<(u16, Option<String>), String> {
    let request = hyper::Request::get(uri)
        .header(
            "user-agent",
            concat!("maintctl/", env!("CARGO_PKG_VERSION"), " verify"),
        )
        .header("cache-control", "no-cache")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(5), client.request(request)).await {
        Ok(Ok(response)) => Ok((
            response.status().as_u16(),
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 5 s".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_never_printed_nor_sent() {
        assert_eq!(
            redact_userinfo("http://user:pw@shop.example.com:8080/a@b?c=@"),
            "http://***@shop.example.com:8080/a@b?c=@"
        );
        assert_eq!(redact_userinfo("http://shop/x@y"), "http://shop/x@y");
        assert_eq!(redact_userinfo("not a url"), "not a url");
        let t =
            VerifyTarget::parse("http://user:pw@127.0.0.1:8080/status?x=1", "/healthz").unwrap();
        assert_eq!(t.page.to_string(), "http://127.0.0.1:8080/status?x=1");
        assert_eq!(t.health.to_string(), "http://127.0.0.1:8080/healthz");
        for url in [
            "ftp://user:pw@host/",
            "https://user:pw@host/",
            "http://user:pw@/",
        ] {
            let err = VerifyTarget::parse(url, "/healthz")
                .unwrap_err()
                .to_string();
            assert!(!err.contains("pw"), "{url}: {err}");
        }
    }
}
