//! The pure core: one function, [`respond`], decides every response from the request, the live
//! content, the prepared site and the current time. No I/O, no clock, no environment: the Lambda,
//! the local preview and the tests all call it with plain data.

use time::OffsetDateTime;

use crate::config::Site;
use crate::content::{Content, ContentState, Retry};
use crate::deployment::HEALTH_CHECK_USER_AGENT;
use crate::negotiate::{self, Format};
use crate::pages::{self, ExpectedBack, PageKind, PageView};
use crate::request::Request;

/// A response in transport-neutral form; [`crate::alb`] and the preview server encode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header fields, in a fixed order; values hold no CR or LF.
    pub headers: Vec<(&'static str, String)>,
    /// Body text (empty for `HEAD`).
    pub body: String,
    /// What was decided, for the request log.
    pub outcome: Outcome,
}

/// The decisions behind a response, logged once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Page or route served.
    pub page: PageKind,
    /// Format (health and robots are always plain text).
    pub format: Format,
    /// Language tag of the texts.
    pub language: String,
    /// Validated trace id root, if the request had one.
    pub trace_id: Option<String>,
}

impl Response {
    /// The value of a header, names compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The `Retry-After` decision for a 503.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// The delay in seconds (never negative).
    pub seconds: u64,
    /// The end time, when the content gives one that is still ahead.
    pub expected_back: Option<OffsetDateTime>,
}

impl RetryAfter {
    /// The header value: the end time as an IMF-fixdate when there is one, else the seconds.
    /// Formatted when a response is rendered, not at each decision.
    pub fn header(&self) -> String {
        match self.expected_back {
            Some(until) => http_date(until),
            None => self.seconds.to_string(),
        }
    }
}

/// Decides `Retry-After`: seconds as given; an end time still ahead as an HTTP-date; an end
/// time already past, or no value at all, as the configured delays.
pub fn retry_after(retry: Option<Retry>, site: &Site, now: OffsetDateTime) -> RetryAfter {
    let seconds_only = |seconds: u64| RetryAfter {
        seconds,
        expected_back: None,
    };
    match retry {
        Some(Retry::Seconds(seconds)) => seconds_only(seconds),
        Some(Retry::Until(until)) if until > now => {
            let delta = until - now;
            // Round up, so a client never retries before the stated time.
            let seconds = u64::try_from(delta.whole_seconds()).unwrap_or(0)
                + u64::from(delta.subsec_nanoseconds() > 0);
            RetryAfter {
                seconds,
                expected_back: Some(until),
            }
        }
        Some(Retry::Until(_)) => seconds_only(site.config.past_end_retry_after_seconds),
        None => seconds_only(site.config.retry_after_seconds),
    }
}

/// Formats an IMF-fixdate (`Sun, 22 Nov 2026 06:00:00 GMT`), as RFC 9110 §5.6.7 requires.
pub fn http_date(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.format(time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    ))
    .unwrap_or_default()
}

/// Chooses the page or route for a request.
///
/// Order: health (the health path, or an ELB health-checker user agent) for `GET`/`HEAD`;
/// `/robots.txt` for `GET`/`HEAD`; a configured path; the invoking target group; the default.
pub fn select_page(request: &Request, site: &Site) -> PageKind {
    let config = &site.config;
    if request.is_get_or_head() {
        let health_agent = request
            .header_values("user-agent")
            .any(|ua| ua == HEALTH_CHECK_USER_AGENT || ua.starts_with("ELB-HealthChecker/"));
        if health_agent || request.path == config.health_path {
            return PageKind::Health;
        }
        if request.path == "/robots.txt" {
            return PageKind::Robots;
        }
    }
    let by_path = config.paths.iter().find_map(|(pattern, page)| {
        let hit = match pattern.strip_suffix('*') {
            Some(prefix) => request.path.starts_with(prefix),
            None => request.path == *pattern,
        };
        hit.then_some(*page)
    });
    if let Some(page) = by_path {
        return page;
    }
    if let Some(arn) = request.target_group_arn.as_deref() {
        let name = target_group_name(arn);
        let by_group = config
            .target_groups
            .iter()
            .find(|(key, _)| key.as_str() == arn || Some(key.as_str()) == name);
        if let Some((_, page)) = by_group {
            return *page;
        }
    }
    config.default_page
}

/// The name in `arn:…:targetgroup/NAME/ID`.
fn target_group_name(arn: &str) -> Option<&str> {
    let rest = arn.split_once(":targetgroup/")?.1;
    rest.split('/').next().filter(|name| !name.is_empty())
}

/// Answers one request. Pure: the same inputs always give the same response.
pub fn respond(request: &Request, content: &Content, site: &Site, now: OffsetDateTime) -> Response {
    respond_as(request, select_page(request, site), content, site, now)
}

/// Answers one request with a page already chosen by [`select_page`], for callers that needed
/// the choice first (the Lambda picks the content by it) and should not make it twice.
pub fn respond_as(
    request: &Request,
    page: PageKind,
    content: &Content,
    site: &Site,
    now: OffsetDateTime,
) -> Response {
    render(&decide(request, page, content, site, now), content, site)
}

/// Every choice behind one response, made by [`decide`]; [`render`] builds the response from
/// it, the content and the site alone. Two requests with equal decisions get the same response,
/// and the trace id is the only part taken from the request as it is; that is what lets the
/// Lambda keep rendered responses (`crate::rendered`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    /// Page or route.
    pub page: PageKind,
    /// Format (health and robots are always plain text).
    pub format: Format,
    /// Language tag of the texts (one the catalog has).
    pub language: &'a str,
    /// `HEAD`: headers only.
    pub head: bool,
    /// `Retry-After`, for the pages that send it.
    pub retry: Option<RetryAfter>,
    /// Validated trace id root, shown as the support reference.
    pub trace_id: Option<&'a str>,
}

/// What a decision takes from `Accept` and `Accept-Language` alone: the format a page gets (the
/// health and robots routes answer in text whatever `Accept` says) and the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated<'a> {
    /// Format from `Accept`.
    pub format: Format,
    /// Language tag of the texts (one the catalog has).
    pub language: &'a str,
}

/// Negotiates format and language from the raw `Accept` and `Accept-Language` values (several
/// header lines joined, as [`Request::list_header`] gives them).
pub fn negotiation<'a>(
    accept: Option<&str>,
    accept_language: Option<&str>,
    site: &'a Site,
) -> Negotiated<'a> {
    let language = negotiate::language(
        accept_language,
        &site.languages,
        &site.config.default_language,
    );
    let language = match site.catalog.pack(language) {
        Some(_) => language,
        None => site.catalog.first().0,
    };
    Negotiated {
        format: negotiate::format(accept),
        language,
    }
}

/// Makes every choice for a request answered with `page`: method, format, language, trace id,
/// and `Retry-After` from the content's retry value and the clock.
pub fn decide<'a>(
    request: &'a Request,
    page: PageKind,
    content: &Content,
    site: &'a Site,
    now: OffsetDateTime,
) -> Decision<'a> {
    // The health and robots routes answer in text whatever `Accept` says: not worth parsing.
    let accept = page
        .is_page()
        .then(|| request.list_header("accept"))
        .flatten();
    let negotiated = negotiation(
        accept.as_deref(),
        request.list_header("accept-language").as_deref(),
        site,
    );
    decide_negotiated(request, page, negotiated, content, site, now)
}

/// [`decide`] with format and language already negotiated for this request's headers (the
/// Lambda keeps negotiation results: `rendered::Negotiations`).
pub fn decide_negotiated<'a>(
    request: &'a Request,
    page: PageKind,
    negotiated: Negotiated<'a>,
    content: &Content,
    site: &'a Site,
    now: OffsetDateTime,
) -> Decision<'a> {
    let format = if page.is_page() {
        negotiated.format
    } else {
        Format::Text
    };
    Decision {
        page,
        format,
        language: negotiated.language,
        head: request.method == "HEAD",
        retry: page
            .has_retry_after()
            .then(|| retry_after(content.retry, site, now)),
        trace_id: request.trace_root(),
    }
}

/// Builds the response a decision describes: page body in its format, status and headers.
pub fn render(decision: &Decision<'_>, content: &Content, site: &Site) -> Response {
    let Decision {
        page,
        format,
        language,
        head,
        ref retry,
        trace_id,
    } = *decision;
    let config = &site.config;
    let (lang, pack) = match site.catalog.pack(language) {
        Some(pack) => (language, pack),
        None => site.catalog.first(),
    };
    let mut headers = Vec::with_capacity(10);
    let body = match page {
        PageKind::Health => health_body(content.state),
        PageKind::Robots => config.robots_txt.clone(),
        _ => {
            let text = match page {
                PageKind::Maintenance => content.maintenance.get(lang).unwrap_or(&pack.maintenance),
                other => pack.text(other),
            };
            let (retry_seconds, expected_back, retry_hint) = match retry {
                Some(retry) => {
                    headers.push(("Retry-After", retry.header()));
                    // With an end time the page shows it; a countdown beside it would only repeat it.
                    let hint = if retry.expected_back.is_some() {
                        None
                    } else if retry.seconds < 120 {
                        Some(pack.labels.retry_soon.clone())
                    } else if retry.seconds < 2 * 3600 {
                        let minutes = retry.seconds.div_ceil(60).to_string();
                        Some(pack.labels.retry_in.replace("{minutes}", &minutes))
                    } else {
                        let hours = retry.seconds.div_ceil(3600).to_string();
                        Some(pack.labels.retry_in_hours.replace("{hours}", &hours))
                    };
                    (
                        Some(retry.seconds),
                        retry.expected_back.map(ExpectedBack::new),
                        hint,
                    )
                }
                None => (None, None, None),
            };
            let view = PageView {
                kind: page,
                status: page.status(),
                lang,
                title: &text.title,
                paragraphs: text
                    .message
                    .split("\n\n")
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect(),
                labels: &pack.labels,
                expected_back,
                retry_seconds,
                retry_hint,
                trace_id,
                status_page: content.status_page.as_deref(),
                contact: content.contact.as_deref(),
                brand_name: &config.brand.name,
                logo: site.logo_data_uri.as_deref(),
                css: &site.css,
            };
            pages::render(&view, format, site)
        }
    };

    headers.push(("Content-Type", format.content_type().to_string()));
    headers.push(("Cache-Control", "no-store".to_string()));
    headers.push(("Vary", "Accept, Accept-Language".to_string()));
    headers.push(("Content-Language", lang.to_string()));
    headers.push(("X-Content-Type-Options", "nosniff".to_string()));
    headers.push(("Content-Security-Policy", site.csp.clone()));
    headers.push(("Referrer-Policy", "no-referrer".to_string()));
    headers.push(("X-Frame-Options", "DENY".to_string()));
    headers.push(("Cross-Origin-Resource-Policy", "same-origin".to_string()));

    Response {
        status: page.status(),
        headers,
        body: if head { String::new() } else { body },
        outcome: Outcome {
            page,
            format,
            language: lang.to_string(),
            trace_id: trace_id.map(str::to_string),
        },
    }
}

/// The health route's tiny body, reporting where the content comes from.
fn health_body(state: ContentState) -> String {
    match state {
        ContentState::Defaults => "ok\ncontent: defaults\n".to_string(),
        ContentState::Fresh { age_seconds } => format!("ok\ncontent: fresh, age {age_seconds}s\n"),
        ContentState::Stale { age_seconds } => format!("ok\ncontent: stale, age {age_seconds}s\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-22 04:00 UTC);

    fn site() -> Site {
        let mut site = Site::embedded();
        site.config
            .target_groups
            .insert("fallback-tg".into(), PageKind::NotFound);
        site.config.target_groups.insert(
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/gw/abc".into(),
            PageKind::GatewayTimeout,
        );
        site.config
            .paths
            .insert("/api/*".into(), PageKind::ServiceUnavailable);
        site
    }

    #[test]
    fn page_selection_table() {
        let site = site();
        let tg = |name: &str| {
            Some(format!(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/{name}/abc"
            ))
        };
        let cases: Vec<(Request, PageKind)> = vec![
            (Request::get("/"), PageKind::Maintenance),
            (Request::get("/healthz"), PageKind::Health),
            (
                Request {
                    method: "HEAD".into(),
                    ..Request::get("/healthz")
                },
                PageKind::Health,
            ),
            (
                Request {
                    method: "POST".into(),
                    ..Request::get("/healthz")
                },
                PageKind::Maintenance,
            ),
            (
                Request::get("/any").with_header("User-Agent", "ELB-HealthChecker/2.0"),
                PageKind::Health,
            ),
            (Request::get("/robots.txt"), PageKind::Robots),
            (Request::get("/favicon.ico"), PageKind::NotFound),
            (Request::get("/api/orders"), PageKind::ServiceUnavailable),
            (
                Request {
                    target_group_arn: tg("fallback-tg"),
                    ..Request::get("/x")
                },
                PageKind::NotFound,
            ),
            (
                Request {
                    target_group_arn: tg("gw"),
                    ..Request::get("/x")
                },
                PageKind::GatewayTimeout,
            ),
            (
                Request {
                    target_group_arn: tg("other"),
                    ..Request::get("/x")
                },
                PageKind::Maintenance,
            ),
            // health wins over the target-group mapping: a fallback group must stay healthy too
            (
                Request {
                    target_group_arn: tg("fallback-tg"),
                    ..Request::get("/healthz")
                },
                PageKind::Health,
            ),
        ];
        for (request, expected) in cases {
            assert_eq!(select_page(&request, &site), expected, "{request:?}");
        }
    }

    #[test]
    fn retry_after_table() {
        let site = site();
        let cases: &[(Option<Retry>, &str, u64, bool)] = &[
            (None, "300", 300, false),
            (Some(Retry::Seconds(900)), "900", 900, false),
            (Some(Retry::Seconds(0)), "0", 0, false),
            (
                Some(Retry::Until(datetime!(2026-11-22 06:00 UTC))),
                "Sun, 22 Nov 2026 06:00:00 GMT",
                7200,
                true,
            ),
            (
                Some(Retry::Until(datetime!(2026-11-22 15:00 +09:00))),
                "Sun, 22 Nov 2026 06:00:00 GMT",
                7200,
                true,
            ),
            (
                Some(Retry::Until(datetime!(2026-11-22 04:00:00.5 UTC))),
                "Sun, 22 Nov 2026 04:00:00 GMT",
                1,
                true,
            ),
            (
                Some(Retry::Until(datetime!(2026-11-22 03:00 UTC))),
                "60",
                60,
                false,
            ),
            (Some(Retry::Until(NOW)), "60", 60, false),
        ];
        for (retry, header, seconds, has_end) in cases {
            let got = retry_after(*retry, &site, NOW);
            assert_eq!(got.header(), *header, "{retry:?}");
            assert_eq!(got.seconds, *seconds, "{retry:?}");
            assert_eq!(got.expected_back.is_some(), *has_end, "{retry:?}");
        }
    }

    #[test]
    fn maintenance_page_has_status_headers_and_texts() {
        let site = site();
        let content = Content {
            retry: Some(Retry::Until(datetime!(2026-11-22 06:00 UTC))),
            status_page: Some("https://status.example.com/".into()),
            ..Content::default()
        };
        let request = Request::get("/")
            .with_header("Accept-Language", "ja,en;q=0.5")
            .with_header(
                "X-Amzn-Trace-Id",
                "Root=1-693ecb6b-09d371942facabea343507dd",
            );
        let response = respond(&request, &content, &site, NOW);
        assert_eq!(response.status, 503);
        assert_eq!(
            response.header("retry-after"),
            Some("Sun, 22 Nov 2026 06:00:00 GMT")
        );
        assert_eq!(response.header("content-language"), Some("ja"));
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(
            response.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(response.body.contains("<html lang='ja'>"));
        assert!(response.body.contains("ただいまメンテナンス中です"));
        assert!(response.body.contains("2026-11-22 06:00 UTC"));
        assert!(
            response
                .body
                .contains("1-693ecb6b-09d371942facabea343507dd")
        );
        assert!(response.body.contains("https://status.example.com/"));
    }

    #[test]
    fn markup_in_content_and_path_never_reaches_html_unescaped() {
        let site = site();
        let hostile = "<script>alert(1)</script>\"'&";
        let mut content = Content::default();
        content.maintenance.insert(
            "en".into(),
            crate::content::Text {
                title: hostile.into(),
                message: hostile.into(),
            },
        );
        for path in [
            "/<script>alert(1)</script>",
            "/\"><img src=x onerror=alert(1)>",
        ] {
            let request = Request::get(path)
                .with_header("X-Amzn-Trace-Id", "Root=<script>alert(2)</script>")
                .with_header("Accept-Language", "<script>");
            for accept in ["text/html", "text/plain", "application/json"] {
                let response = respond(
                    &request.clone().with_header("Accept", accept),
                    &content,
                    &site,
                    NOW,
                );
                if accept == "text/html" {
                    assert!(
                        !response.body.contains("<script>"),
                        "{accept} {path}: {}",
                        response.body
                    );
                    assert!(
                        response.body.contains("&#60;script&#62;"),
                        "{}",
                        response.body
                    );
                } else {
                    // Not HTML: the markup is inert text, and browsers are told not to sniff.
                    assert!(!response.header("content-type").unwrap().contains("html"));
                    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
                }
                assert!(
                    !response.body.contains("alert(2)"),
                    "trace id echoed: {}",
                    response.body
                );
                assert!(
                    !response.body.contains("onerror"),
                    "path echoed: {}",
                    response.body
                );
            }
        }
    }

    #[test]
    fn json_and_text_formats() {
        let site = site();
        let content = Content {
            retry: Some(Retry::Seconds(600)),
            ..Content::default()
        };
        let json = respond(
            &Request::get("/").with_header("Accept", "application/json"),
            &content,
            &site,
            NOW,
        );
        assert_eq!(
            json.header("content-type"),
            Some("application/problem+json; charset=utf-8")
        );
        let value: serde_json::Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(value["status"], 503);
        assert_eq!(value["retry_after"], 600);
        assert_eq!(
            value["type"],
            "urn:maintenance-responder:problem:maintenance"
        );
        assert_eq!(value["title"], "We'll be back soon");
        let text = respond(
            &Request::get("/").with_header("Accept", "text/plain"),
            &content,
            &site,
            NOW,
        );
        assert!(
            text.body.starts_with("503 We'll be back soon\n"),
            "{}",
            text.body
        );
        assert!(text.body.contains("about 10 minutes"));
        let hours = Content {
            retry: Some(Retry::Seconds(3 * 3600)),
            ..Content::default()
        };
        let text = respond(
            &Request::get("/").with_header("Accept", "text/plain"),
            &hours,
            &site,
            NOW,
        );
        assert!(text.body.contains("about 3 hours"), "{}", text.body);
        let until = Content {
            retry: Some(Retry::Until(datetime!(2026-11-22 09:00 UTC))),
            ..Content::default()
        };
        let text = respond(
            &Request::get("/").with_header("Accept", "text/plain"),
            &until,
            &site,
            NOW,
        );
        assert!(
            text.body.contains("Expected back: 2026-11-22 09:00 UTC"),
            "{}",
            text.body
        );
        assert!(
            !text.body.contains("try again in about"),
            "no countdown beside an end time: {}",
            text.body
        );
    }

    #[test]
    fn head_has_the_get_headers_and_no_body() {
        let site = site();
        for path in ["/", "/healthz", "/robots.txt", "/favicon.ico"] {
            let get = respond(&Request::get(path), &Content::default(), &site, NOW);
            let head = respond(
                &Request {
                    method: "HEAD".into(),
                    ..Request::get(path)
                },
                &Content::default(),
                &site,
                NOW,
            );
            assert_eq!(head.status, get.status, "{path}");
            assert_eq!(head.headers, get.headers, "{path}");
            assert!(head.body.is_empty(), "{path}");
            assert!(!get.body.is_empty(), "{path}");
        }
    }

    #[test]
    fn health_reports_content_state_and_is_200_during_maintenance() {
        let site = site();
        let content = Content {
            state: ContentState::Stale { age_seconds: 95 },
            ..Content::default()
        };
        let response = respond(&Request::get("/healthz"), &content, &site, NOW);
        assert_eq!(response.status, 200);
        assert_eq!(response.body, "ok\ncontent: stale, age 95s\n");
        assert_eq!(response.header("retry-after"), None);
    }

    #[test]
    fn error_pages_have_their_true_status() {
        let mut site = site();
        for kind in PageKind::PAGES {
            site.config.default_page = kind;
            let response = respond(&Request::get("/x"), &Content::default(), &site, NOW);
            assert_eq!(response.status, kind.status(), "{kind}");
            assert_eq!(
                response.header("retry-after").is_some(),
                kind.has_retry_after(),
                "{kind}"
            );
            assert!(response.body.contains("<html lang='en'>"), "{kind}");
        }
    }
}
