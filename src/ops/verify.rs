//! The live-endpoint probe after a switch ([`verify_live`]): request the page and the health
//! route, over `http://` or `https://` (`crate::ops::http_get`: SNI, the system's roots or a
//! private CA, optionally one ALB node by address), until they look right for the direction —
//! `on`: 503 with `Retry-After` and `Cache-Control: no-store` (the fallback page: a 503), the
//! health route 200; `off`: anything but the maintenance page, the health route 200 — or until
//! the time is up. The URLs are checked before anything else happens ([`VerifyTarget::parse`],
//! [`VerifyTarget::parse_with`]), and never printed with the credentials they may carry
//! ([`redact_userinfo`]).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ops::http_get::{self, Connect, Tls, TlsError};
use crate::ops::{Outcome, Report};
use crate::planner::{Direction, Live};

/// Why a `--verify-url`, `--verify-ca`, `--verify-address` or `--health-path` cannot be used.
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
    /// Another scheme, or none.
    #[error("--verify-url {url:?} must start with http:// or https://")]
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
    /// `--verify-ca` with an `http://` URL.
    #[error("--verify-ca is for https:// URLs, and --verify-url {url} is http://")]
    CaWithoutTls {
        /// The URL given.
        url: String,
    },
    /// `--verify-address` is not an address.
    #[error(
        "--verify-address {0:?} is not an IP address or IP:PORT (e.g. 203.0.113.10 or [2001:db8::1]:443)"
    )]
    BadAddress(String),
    /// The trusted roots could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// The URLs the probe requests (the page, and the health route on the same host) and how it
/// connects to them.
#[derive(Debug, Clone)]
pub struct VerifyTarget {
    page: hyper::Uri,
    health: hyper::Uri,
    connect: Connect,
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
    /// Checks an `http://` or `https://` URL and a health path (absolute) on its host;
    /// `https://` is checked against the system's root certificates. Credentials in the URL
    /// (`user:password@`) are dropped: the probe sends no `Authorization`, and the URLs it
    /// prints must not show them.
    pub fn parse(url: &str, health_path: &str) -> Result<Self, VerifyError> {
        Self::parse_with(url, health_path, None, None)
    }

    /// [`VerifyTarget::parse`], with a private CA for `https://` (a PEM file: only its
    /// certificates are trusted) and an address to connect to instead of the URL's host (one
    /// ALB node; the URL's host is still sent as SNI and `Host`; the URL's port unless given).
    pub fn parse_with(
        url: &str,
        health_path: &str,
        ca: Option<&Path>,
        address: Option<&str>,
    ) -> Result<Self, VerifyError> {
        let shown = redact_userinfo(url);
        let page: hyper::Uri = url.parse().map_err(|source| VerifyError::NotAUrl {
            url: shown.clone(),
            source,
        })?;
        let scheme = match page.scheme_str() {
            Some(s @ ("http" | "https")) => s.to_string(),
            _ => return Err(VerifyError::NotHttp { url: shown }),
        };
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
        let port = authority
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let page = hyper::Uri::builder()
            .scheme(scheme.as_str())
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
            .scheme(scheme.as_str())
            .authority(authority)
            .path_and_query(health_path)
            .build()
            .map_err(|source| VerifyError::BadHealthPath {
                path: health_path.into(),
                source,
            })?;
        let tls = match (scheme.as_str(), ca) {
            ("https", Some(ca)) => Some(Tls::ca_file(ca)?),
            ("https", None) => Some(Tls::system()?),
            (_, Some(_)) => return Err(VerifyError::CaWithoutTls { url: shown }),
            _ => None,
        };
        let address = address.map(|a| parse_address(a, port)).transpose()?;
        Ok(Self {
            page,
            health,
            connect: Connect { address, tls },
        })
    }
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`; the URL's port when none is given.
fn parse_address(text: &str, port: u16) -> Result<SocketAddr, VerifyError> {
    text.parse::<SocketAddr>()
        .or_else(|_| {
            text.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, port))
        })
        .map_err(|_| VerifyError::BadAddress(text.to_string()))
}

/// What to probe, and for how long.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The URLs.
    pub target: VerifyTarget,
    /// How long to keep trying (the ALB takes a few seconds to apply changes).
    pub timeout: Duration,
}

impl VerifyRequest {
    /// One request to the health route before switching: an `https://` endpoint whose
    /// certificate is not trusted (or not for its name) would not verify after the switch
    /// either, so that is found before anything changes. Anything else (no answer, a status)
    /// is left to the probe after the switch.
    pub async fn check_certificate(&self) -> Result<(), String> {
        if self.target.connect.tls.is_none() {
            return Ok(());
        }
        match http_get::get(&self.target.health, &self.target.connect).await {
            Err(e) if e.permanent => Err(e.message),
            _ => Ok(()),
        }
    }
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
    /// Its last `Cache-Control`, if any.
    pub cache_control: Option<String>,
    /// The health route URL.
    pub health_url: String,
    /// Its last status, if it answered.
    pub health_status: Option<u16>,
    /// The address connected to instead of the URL's host (`--verify-address`), if any.
    pub address: Option<String>,
    /// Rounds of requests made.
    pub attempts: u32,
    /// True when both looked right for the direction.
    pub ok: bool,
    /// The last request error, if the last round had one.
    pub error: Option<String>,
}

impl Verification {
    /// The maintenance page: 503 with `Retry-After`.
    fn maintenance_page(&self) -> bool {
        self.status == Some(503) && self.retry_after.is_some()
    }

    fn no_store(&self) -> bool {
        self.cache_control.as_deref().is_some_and(|c| {
            c.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
        })
    }

    /// Whether what was seen is right for `direction` with `live` on.
    fn looks_right(&self, direction: Direction, live: Live) -> bool {
        match (direction, live) {
            (Direction::On, Live::Responder) => {
                self.maintenance_page() && self.no_store() && self.health_status == Some(200)
            }
            // The fixed response answers every path, the health route included.
            (Direction::On, Live::Fallback) => self.status == Some(503),
            (Direction::Off, _) => {
                self.status.is_some() && !self.maintenance_page() && self.health_status == Some(200)
            }
        }
    }

    /// What was wrong, said as seen, one phrase each.
    pub fn seen(&self, direction: Direction, live: Live) -> Vec<String> {
        let mut seen = Vec::new();
        let url = &self.url;
        match (direction, self.status) {
            (_, None) => seen.push(format!("{url} did not answer")),
            (Direction::On, Some(503)) if live == Live::Fallback => {}
            (Direction::On, Some(status)) if live == Live::Fallback => seen.push(format!(
                "{url} answered {status}, not the fallback page's 503"
            )),
            (Direction::On, Some(503)) if self.retry_after.is_none() => seen.push(format!(
                "{url} answered 503 without Retry-After, not the maintenance page"
            )),
            (Direction::On, Some(503)) if !self.no_store() => seen.push(format!(
                "{url} answered 503 with Cache-Control {:?}, not no-store (a cache in between \
                 rewrites it, or it is not the responder's page)",
                self.cache_control.as_deref().unwrap_or("(none)")
            )),
            (Direction::On, Some(status)) if status != 503 => seen.push(format!(
                "{url} answered {status}, not the maintenance page (503 with Retry-After)"
            )),
            (Direction::Off, Some(_)) if self.maintenance_page() => seen.push(format!(
                "{url} still answered with the maintenance page (503 with Retry-After)"
            )),
            _ => {}
        }
        let health_matters = !(direction == Direction::On && live == Live::Fallback);
        if health_matters && self.health_status != Some(200) {
            seen.push(match self.health_status {
                Some(status) => format!("{} answered {status}, not 200", self.health_url),
                None => format!("{} did not answer", self.health_url),
            });
        }
        seen
    }
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
            "verify: {}{} answered {}{}{}, {} answered {} after {} attempt(s)",
            self.url,
            self.address
                .as_deref()
                .map(|a| format!(" (at {a})"))
                .unwrap_or_default(),
            answer(self.status),
            self.retry_after
                .as_deref()
                .map(|r| format!(" with Retry-After {r}"))
                .unwrap_or_default(),
            self.cache_control
                .as_deref()
                .map(|c| format!(", Cache-Control {c}"))
                .unwrap_or_default(),
            self.health_url,
            answer(self.health_status),
            self.attempts
        )
    }
}

/// Requests both URLs until they look right for `direction` (the responder's page) or the time
/// is up.
pub async fn verify(request: &VerifyRequest, direction: Direction) -> Verification {
    verify_live(request, direction, Live::Responder).await
}

/// [`verify`] with the page `on` put live: the fallback page is a 503 on every path, without
/// `Retry-After` or `no-store`, and answers the health route with it too.
pub async fn verify_live(
    request: &VerifyRequest,
    direction: Direction,
    live: Live,
) -> Verification {
    let target = &request.target;
    let deadline = Instant::now() + request.timeout;
    let mut seen = Verification {
        url: target.page.to_string(),
        status: None,
        retry_after: None,
        cache_control: None,
        health_url: target.health.to_string(),
        health_status: None,
        address: target.connect.address.map(|a| a.to_string()),
        attempts: 0,
        ok: false,
        error: None,
    };
    loop {
        seen.attempts += 1;
        seen.error = None;
        let mut permanent = false;
        match http_get::get(&target.page, &target.connect).await {
            Ok(answer) => {
                seen.status = Some(answer.status);
                seen.retry_after = answer.retry_after;
                seen.cache_control = answer.cache_control;
            }
            Err(e) => {
                seen.status = None;
                permanent |= e.permanent;
                seen.error = Some(e.message);
            }
        }
        match http_get::get(&target.health, &target.connect).await {
            Ok(answer) => seen.health_status = Some(answer.status),
            Err(e) => {
                seen.health_status = None;
                permanent |= e.permanent;
                seen.error = Some(e.message);
            }
        }
        seen.ok = seen.looks_right(direction, live);
        if seen.ok || permanent || Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_secs(2).min(deadline - Instant::now())).await;
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
        for url in ["ftp://user:pw@host/", "http://user:pw@/"] {
            let err = VerifyTarget::parse(url, "/healthz")
                .unwrap_err()
                .to_string();
            assert!(!err.contains("pw"), "{url}: {err}");
        }
    }
}
