//! All rendering: the page kinds, their status codes, and the askama templates under
//! `templates/` for HTML and plain text, plus the RFC 9457 problem JSON. No I/O and no HTTP
//! header decisions here; [`mod@crate::respond`] picks the page and the headers.

use askama::Template;
use jiff::Timestamp;
use serde::Serialize;

use crate::catalog::Labels;
use crate::content::DisplayZone;
use crate::page_kind::PageKind;
use crate::respond::negotiate::Format;

/// The end time shown on the page.
#[derive(Debug, Clone)]
pub struct ExpectedBack {
    /// RFC 3339, for `<time datetime>` and JSON.
    pub iso: String,
    /// Human form, `2026-11-22 06:00 UTC`.
    pub display: String,
}

impl ExpectedBack {
    /// Formats an end time, shown in `zone` (UTC when none). The display has minutes only, so
    /// a time within a minute is shown as the next whole minute: never a moment before the
    /// stated end.
    pub fn new(at: Timestamp, zone: Option<&DisplayZone>) -> Self {
        let iso = crate::rfc3339::format(at);
        let past_minute = jiff::SignedDuration::from_secs(at.as_second().rem_euclid(60))
            + jiff::SignedDuration::from_nanos(i64::from(at.subsec_nanosecond()));
        let minute_up = if past_minute.is_zero() {
            at
        } else {
            at - past_minute + jiff::SignedDuration::from_mins(1)
        };
        let display = zone
            .and_then(|zone| zone.show(minute_up))
            .unwrap_or_else(|| minute_up.strftime("%Y-%m-%d %H:%M UTC").to_string());
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

/// The body served if a template ever failed to render: static, safe, valid in every format.
pub const FALLBACK_BODY: &str = "Service temporarily unavailable. Please try again later.\n";

/// The body of a page in a format. Never fails: a rendering error yields [`FALLBACK_BODY`].
///
/// HTML comes out without the line breaks between tags of the templates (`>\n<`), which
/// carry no meaning there, and attribute values are single-quoted in the templates: the page
/// travels inside a JSON string, where every `"` and line break is an escape. Text from the
/// content is escaped by askama (`<`, `>`, quotes), so it never forms a `>\n<` of its own.
pub fn body(view: &PageView<'_>, format: Format, problem_type_base: &str) -> String {
    let html = |page: askama::Result<String>| page.map(|p| p.replace(">\n<", "><"));
    let rendered = match format {
        Format::Html if view.kind == PageKind::Maintenance => {
            html(MaintenanceHtml { v: view }.render())
        }
        Format::Html => html(ErrorHtml { v: view }.render()),
        Format::Text => PageText { v: view }.render(),
        Format::Json | Format::PlainJson => {
            let problem = Problem {
                kind: format!("{problem_type_base}{}", view.kind.name()),
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
