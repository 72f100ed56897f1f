//! All rendering: the page kinds, their status codes, and the askama templates under
//! `templates/` for HTML and plain text, plus the RFC 9457 problem JSON. No I/O and no HTTP
//! header decisions here; [`crate::respond`] picks the page and the headers.

use std::fmt;
use std::str::FromStr;

use askama::Template;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::Site;
use crate::content::Labels;
use crate::negotiate::Format;

/// What a request is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PageKind {
    /// Planned maintenance: 503 with `Retry-After`.
    Maintenance,
    /// 404.
    NotFound,
    /// 500.
    InternalError,
    /// 502.
    BadGateway,
    /// Generic 503 (unplanned).
    ServiceUnavailable,
    /// 504.
    GatewayTimeout,
    /// The health route: 200.
    Health,
    /// `/robots.txt`: 200.
    Robots,
}

impl PageKind {
    /// The kinds that are pages (rendered from templates), in preview order.
    pub const PAGES: [PageKind; 6] = [
        Self::Maintenance,
        Self::NotFound,
        Self::InternalError,
        Self::BadGateway,
        Self::ServiceUnavailable,
        Self::GatewayTimeout,
    ];

    /// HTTP status code.
    pub fn status(self) -> u16 {
        match self {
            Self::Maintenance | Self::ServiceUnavailable => 503,
            Self::NotFound => 404,
            Self::InternalError => 500,
            Self::BadGateway => 502,
            Self::GatewayTimeout => 504,
            Self::Health | Self::Robots => 200,
        }
    }

    /// The name used in configuration, logs and problem `type` URIs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Maintenance => "maintenance",
            Self::NotFound => "not-found",
            Self::InternalError => "internal-error",
            Self::BadGateway => "bad-gateway",
            Self::ServiceUnavailable => "service-unavailable",
            Self::GatewayTimeout => "gateway-timeout",
            Self::Health => "health",
            Self::Robots => "robots",
        }
    }

    /// True for kinds rendered as pages (not the health or robots routes).
    pub fn is_page(self) -> bool {
        !matches!(self, Self::Health | Self::Robots)
    }

    /// True when the page carries `Retry-After`.
    pub fn has_retry_after(self) -> bool {
        matches!(self, Self::Maintenance | Self::ServiceUnavailable)
    }
}

impl fmt::Display for PageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PageKind {
    type Err = String;

    /// Accepts the names (`not-found`) and the status numbers of the pages (`404`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let kind = match s {
            "maintenance" => Self::Maintenance,
            "not-found" | "404" => Self::NotFound,
            "internal-error" | "500" => Self::InternalError,
            "bad-gateway" | "502" => Self::BadGateway,
            "service-unavailable" | "503" => Self::ServiceUnavailable,
            "gateway-timeout" | "504" => Self::GatewayTimeout,
            "health" => Self::Health,
            "robots" => Self::Robots,
            _ => {
                return Err(format!(
                    "{s:?} is not a page; expected one of maintenance, not-found, internal-error, \
                     bad-gateway, service-unavailable, gateway-timeout (or 404, 500, 502, 503, 504)"
                ));
            }
        };
        Ok(kind)
    }
}

impl<'de> Deserialize<'de> for PageKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for PageKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The canonical reason phrase of the status codes the responder sends.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// The end time shown on the page.
#[derive(Debug, Clone)]
pub struct ExpectedBack {
    /// RFC 3339, for `<time datetime>` and JSON.
    pub iso: String,
    /// Human form, `2026-11-22 06:00 UTC`.
    pub display: String,
}

impl ExpectedBack {
    /// Formats an end time (shown in UTC).
    pub fn new(at: OffsetDateTime) -> Self {
        let at = at.to_offset(time::UtcOffset::UTC);
        let iso = at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let display = at
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .unwrap_or_default();
        Self { iso, display }
    }
}

/// Everything a page shows, already chosen and validated.
#[derive(Debug)]
pub struct PageView<'a> {
    /// Page kind.
    pub kind: PageKind,
    /// HTTP status.
    pub status: u16,
    /// Language tag of the texts.
    pub lang: &'a str,
    /// Title.
    pub title: &'a str,
    /// Message paragraphs.
    pub paragraphs: Vec<&'a str>,
    /// Labels in the page's language.
    pub labels: &'a Labels,
    /// End time, when the content gives one that is still ahead.
    pub expected_back: Option<ExpectedBack>,
    /// Seconds until a retry makes sense (the `Retry-After` delay), for 503 pages.
    pub retry_seconds: Option<u64>,
    /// Retry hint in the page's language.
    pub retry_hint: Option<String>,
    /// Validated trace id root, shown as the support reference.
    pub trace_id: Option<&'a str>,
    /// Status page URL.
    pub status_page: Option<&'a str>,
    /// Contact URL.
    pub contact: Option<&'a str>,
    /// Brand name.
    pub brand_name: &'a str,
    /// Logo data URI.
    pub logo: Option<&'a str>,
    /// Inline stylesheet.
    pub css: &'a str,
}

#[derive(Template)]
#[template(path = "maintenance.html")]
struct MaintenanceHtml<'a> {
    v: &'a PageView<'a>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorHtml<'a> {
    v: &'a PageView<'a>,
}

#[derive(Template)]
#[template(path = "page.txt")]
struct PageText<'a> {
    v: &'a PageView<'a>,
}

#[derive(Template)]
#[template(path = "style.css")]
struct Stylesheet<'a> {
    color: &'a str,
}

/// RFC 9457 problem details, with the retry value and end time as extension members.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_back: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    support_reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_page: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a str>,
}

/// Renders the inline stylesheet for a (validated) brand colour.
///
/// Line breaks are dropped (none is significant in it): the stylesheet is inline in every HTML
/// page, and each one would otherwise be a `\n` escape in the response JSON.
pub fn stylesheet(color: &str) -> String {
    Stylesheet { color }
        .render()
        .map(|css| css.lines().map(str::trim).collect())
        .unwrap_or_else(|_| String::from("body{font-family:sans-serif}"))
}

/// The body served if a template ever failed to render: static, safe, valid in every format.
pub const FALLBACK_BODY: &str = "Service temporarily unavailable. Please try again later.\n";

/// Renders a page in a format. Never fails: a rendering error yields [`FALLBACK_BODY`].
///
/// HTML comes out without the line breaks between tags of the templates (`>\n<`), which
/// carry no meaning there, and attribute values are single-quoted in the templates: the page
/// travels inside a JSON string, where every `"` and line break is an escape. Text from the
/// content is escaped by askama (`<`, `>`, quotes), so it never forms a `>\n<` of its own.
pub fn render(view: &PageView<'_>, format: Format, site: &Site) -> String {
    let html = |page: askama::Result<String>| page.map(|p| p.replace(">\n<", "><"));
    let rendered = match format {
        Format::Html if view.kind == PageKind::Maintenance => {
            html(MaintenanceHtml { v: view }.render())
        }
        Format::Html => html(ErrorHtml { v: view }.render()),
        Format::Text => PageText { v: view }.render(),
        Format::Json => {
            let problem = Problem {
                kind: format!("{}{}", site.config.problem_type_base, view.kind.name()),
                title: view.title,
                status: view.status,
                detail: view.paragraphs.join("\n\n"),
                retry_after: view.retry_seconds,
                expected_back: view.expected_back.as_ref().map(|b| b.iso.as_str()),
                support_reference: view.trace_id,
                status_page: view.status_page,
                contact: view.contact,
            };
            return serde_json::to_string(&problem).unwrap_or_else(|_| {
                format!(
                    r#"{{"title":"Service Unavailable","status":{}}}"#,
                    view.status
                )
            });
        }
    };
    rendered.unwrap_or_else(|_| FALLBACK_BODY.to_string())
}
