//! The live-endpoint probe after a switch ([`verify_live`]): request the page and the health
//! route of a [`LiveEndpoint`] until they look right for the direction —
//! `on`: 503 with `Retry-After` and `Cache-Control: no-store` (the fallback page: a 503), the
//! health route 200; `off`: anything but the maintenance page, the health route 200 — or until
//! the time is up. The endpoint's HTTP(S) client (the URL's checks, SNI, the system's roots or a
//! private CA, optionally one ALB node by address) is maintctl's (`maintctl::verify`), so the
//! switch function links none of it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ops::{Outcome, Report};
use crate::planner::{Direction, Live};
use crate::retry::Backoff;

/// The future of a [`LiveEndpoint`] call (boxed: a [`VerifyRequest`] holds its endpoint as a
/// trait object).
pub type Probing<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which URL of the endpoint to request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The page (`--verify-url`).
    Page,
    /// The health route on the same host (`--health-path`).
    Health,
}

/// What one request got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// `Retry-After`, if sent.
    pub retry_after: Option<String>,
    /// `Cache-Control`, if sent.
    pub cache_control: Option<String>,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetError {
    /// What happened, said as seen.
    pub message: String,
    /// It will not change by trying again (the certificate is not trusted).
    pub permanent: bool,
}

/// The live endpoint as the probe reaches it: two URLs, and one uncached `GET` of either.
/// Implemented by `maintctl::verify::VerifyTarget` over HTTP(S).
pub trait LiveEndpoint: std::fmt::Debug + Send + Sync {
    /// The page's URL, as printed (never with credentials).
    fn page_url(&self) -> String;
    /// The health route's URL, as printed.
    fn health_url(&self) -> String;
    /// The address connected to instead of the URL's host (one ALB node), if any.
    fn address(&self) -> Option<String>;
    /// Whether the endpoint is reached over TLS (`https://`).
    fn tls(&self) -> bool;
    /// One uncached `GET` of the page or of the health route.
    fn get(&self, route: Route) -> Probing<'_, Result<Answer, GetError>>;
}

/// What to probe, and for how long.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The endpoint.
    pub target: Arc<dyn LiveEndpoint>,
    /// How long to keep trying (the ALB takes a few seconds to apply changes).
    pub timeout: Duration,
}

impl VerifyRequest {
    /// One request to the health route before switching: an `https://` endpoint whose
    /// certificate is not trusted (or not for its name) would not verify after the switch
    /// either, so that is found before anything changes. Anything else (no answer, a status)
    /// is left to the probe after the switch.
    pub async fn check_certificate(&self) -> Result<(), String> {
        if !self.target.tls() {
            return Ok(());
        }
        match self.target.get(Route::Health).await {
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

/// Done when it looked right, else unverified (switched, but the endpoint does not show it).
impl Report for Verification {
    fn outcome(&self) -> Outcome {
        if self.ok {
            Outcome::Done
        } else {
            Outcome::Unverified
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
    let mut backoff = Backoff::fixed(Duration::from_secs(2)).until(deadline);
    let mut seen = Verification {
        url: target.page_url(),
        status: None,
        retry_after: None,
        cache_control: None,
        health_url: target.health_url(),
        health_status: None,
        address: target.address(),
        attempts: 0,
        ok: false,
        error: None,
    };
    loop {
        seen.attempts += 1;
        seen.error = None;
        let mut permanent = false;
        match target.get(Route::Page).await {
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
        match target.get(Route::Health).await {
            Ok(answer) => seen.health_status = Some(answer.status),
            Err(e) => {
                seen.health_status = None;
                permanent |= e.permanent;
                seen.error = Some(e.message);
            }
        }
        seen.ok = seen.looks_right(direction, live);
        if seen.ok || permanent || !backoff.wait().await {
            return seen;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint that answers every request the same way, and counts them.
    #[derive(Debug)]
    struct Fixed {
        page: Result<Answer, GetError>,
        tls: bool,
        calls: std::sync::atomic::AtomicU32,
    }

    impl LiveEndpoint for Fixed {
        fn page_url(&self) -> String {
            "https://shop.example.com/".into()
        }
        fn health_url(&self) -> String {
            "https://shop.example.com/healthz".into()
        }
        fn address(&self) -> Option<String> {
            None
        }
        fn tls(&self) -> bool {
            self.tls
        }
        fn get(&self, route: Route) -> Probing<'_, Result<Answer, GetError>> {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let answer = match route {
                Route::Page => self.page.clone(),
                Route::Health => Ok(Answer {
                    status: 200,
                    retry_after: None,
                    cache_control: None,
                }),
            };
            Box::pin(async move { answer })
        }
    }

    fn request(page: Result<Answer, GetError>) -> (VerifyRequest, Arc<Fixed>) {
        let endpoint = Arc::new(Fixed {
            page,
            tls: true,
            calls: Default::default(),
        });
        let request = VerifyRequest {
            target: endpoint.clone(),
            timeout: Duration::from_secs(30),
        };
        (request, endpoint)
    }

    #[tokio::test]
    async fn the_maintenance_page_and_a_healthy_route_verify_on_at_once() {
        let (request, endpoint) = request(Ok(Answer {
            status: 503,
            retry_after: Some("900".into()),
            cache_control: Some("no-store".into()),
        }));
        let seen = verify(&request, Direction::On).await;
        assert!(seen.ok, "{seen}");
        assert_eq!(
            (seen.attempts, seen.url.as_str()),
            (1, "https://shop.example.com/")
        );
        assert_eq!(endpoint.calls.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert_eq!(request.check_certificate().await, Ok(()));
    }

    #[tokio::test]
    async fn an_untrusted_certificate_stops_the_probe_and_the_switch_before_it() {
        let untrusted = GetError {
            message: "the TLS certificate of shop.example.com is not trusted".into(),
            permanent: true,
        };
        let (request, _) = request(Err(untrusted.clone()));
        let seen = verify(&request, Direction::On).await;
        assert!(!seen.ok);
        assert_eq!(seen.attempts, 1, "a permanent error is not retried");
        assert_eq!(seen.error.as_deref(), Some(untrusted.message.as_str()));
        assert_eq!(seen.outcome(), Outcome::Unverified);
    }
}
