//! The response a [`Decision`] describes: the page body in its format (templates in
//! [`super::pages`]), the status, and the same strict headers on every response.

use crate::content::{Content, ContentState};
use crate::page_kind::PageKind;
use crate::respond::decision::Decision;
use crate::respond::negotiate::Format;
use crate::respond::pages::{self, ExpectedBack, PageView};
use crate::site::Site;

/// A response in transport-neutral form; `maintenance_responder::lambda::alb_response` encodes it
/// for the ALB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header fields, in a fixed order; values hold no CR or LF.
    pub headers: Vec<(&'static str, String)>,
    /// Body text (empty for `HEAD`).
    pub body: String,
    /// What was decided, for the request log.
    pub served: Served,
}

/// The decisions behind a response, logged once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
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
                    // With an end time the page shows it; a countdown beside it would only repeat
                    // it.
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
                        retry.expected_back.map(|at| {
                            let zone = site.display_zone(content.time_zone.as_ref(), lang);
                            ExpectedBack::new(at, zone)
                        }),
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
            pages::body(&view, format, &config.problem_type_base)
        }
    };

    headers.push(("Content-Type", format.content_type().to_string()));
    headers.extend(security_headers(site, Some(lang)));

    Response {
        status: page.status(),
        headers,
        body: if head { String::new() } else { body },
        served: Served {
            page,
            format,
            language: lang.to_string(),
            trace_id: trace_id.map(str::to_string),
        },
    }
}

/// The headers every answer carries after its `Content-Type`: never cached, and the strict
/// security headers (the CSP allows only the page's own stylesheet). `lang`: the answer is
/// negotiated, so it varies by `Accept` and `Accept-Language` and says its language.
pub fn security_headers(site: &Site, lang: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![("Cache-Control", "no-store".to_string())];
    if let Some(lang) = lang {
        headers.push(("Vary", "Accept, Accept-Language".to_string()));
        headers.push(("Content-Language", lang.to_string()));
    }
    headers.extend([
        ("X-Content-Type-Options", "nosniff".to_string()),
        ("Content-Security-Policy", site.csp.clone()),
        ("Referrer-Policy", "no-referrer".to_string()),
        ("X-Frame-Options", "DENY".to_string()),
        ("Cross-Origin-Resource-Policy", "same-origin".to_string()),
    ]);
    headers
}

/// The health route's tiny body: `ok`, then where the content comes from, in words an operator
/// reads to know whether the live content is loaded (and, if not, why not). The first word after
/// `content:` is the state (`defaults`, `fresh`, `due`, `stale`); nothing from the request, no
/// error text and not the prefix.
fn health_body(state: ContentState) -> String {
    let count = |n: usize| match n {
        0 => "no parameter under the prefix: the built-in texts".to_string(),
        1 => "1 parameter".to_string(),
        n => format!("{n} parameters"),
    };
    let plural = |n: u32, one: &str, many: &str| match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    };
    let line = match state {
        ContentState::Embedded => "defaults (no SSM prefix configured)".to_string(),
        ContentState::Unreached { failures, last } => format!(
            "defaults (SSM not reached yet: {} failed, the last {})",
            plural(failures, "attempt", "attempts"),
            last.describe()
        ),
        ContentState::Fresh {
            age_seconds,
            parameters,
        } => format!("fresh, age {age_seconds}s ({})", count(parameters)),
        ContentState::Due {
            age_seconds,
            parameters,
        } => format!(
            "due, age {age_seconds}s (refreshed by the next page request; {})",
            count(parameters)
        ),
        ContentState::Stale {
            age_seconds,
            parameters,
            failures,
            last,
        } => format!(
            "stale, age {age_seconds}s ({} failed, the last {}; {})",
            plural(failures, "refresh", "refreshes"),
            last.describe(),
            count(parameters)
        ),
    };
    format!("ok\ncontent: {line}\n")
}
