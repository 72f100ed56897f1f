//! Rendered responses, kept per decision: the Lambda answers most requests with the JSON it
//! already rendered and encoded for the ALB, instead of rendering the same page again.
//!
//! A response depends on the request only through its [`Decision`], and the trace id is the one
//! part of a decision taken from the request as it is. So an entry is the response JSON of one
//! decision with the request's trace id at known places, and a later request with an equal
//! decision gets a copy with its own trace id written into those places. An entry is kept only
//! after a check at render time: rendered again with a stand-in trace id, the response must be
//! the entry with the stand-in in exactly those places and nowhere else. A content value that
//! happens to hold the trace id, for instance, fails the check, and that decision is rendered
//! afresh on every request. tests/responder/alb.rs compares kept and fresh answers over generated
//! events.
//!
//! The `Retry-After` spread (`RetryAfter::spread_by`) is the other part of a decision that
//! differs between requests: an entry is keyed by the announced value, holds the places of the
//! header's value, and each request gets its own spread written there (checked at render time
//! like the trace id). Answers that set a cookie (the bypass link, a gradual return's admission)
//! are never kept: the Lambda answers them before it asks this table.
//!
//! Entries are dropped when the content changes. The health route is never kept: its body
//! reports the content's age, which changes every second.
//!
//! Negotiation results are kept too ([`Negotiations`]): clients send the same few `Accept` and
//! `Accept-Language` strings again and again (one pair per kind of browser or API client), and
//! parsing them with their q-values was the largest part of a request's own work after the
//! rendering.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::lambda::alb_event::HeaderMode;
use crate::lambda::alb_response;
use maintenance_core::content::Content;
use maintenance_core::page_kind::PageKind;
use maintenance_core::respond::negotiate::Format;
use maintenance_core::respond::request::Request;
use maintenance_core::respond::{
    Decision, Negotiated, RetryAfter, decide_negotiated, negotiation, render,
};
use maintenance_core::site::Site;

/// Most entries kept, most recently used first; the least recently used one makes room.
/// Decisions vary by page, format, language, method, header mode and `Retry-After` (every
/// second with an end time), and a sandbox's traffic keeps a handful of them busy; the list
/// is searched in order, so the busiest are found first.
const MAX_ENTRIES: usize = 32;

/// Most negotiation results kept, most recently used first.
const MAX_NEGOTIATIONS: usize = 16;

/// Longest header value whose negotiation is kept; a longer one is negotiated every time (a
/// client sending ever new long values must not fill the table with them).
const MAX_NEGOTIATED_VALUE: usize = 256;

/// Length of a trace id root (`1-` + 8 + `-` + 24 hex digits), checked by `Request::trace_root`.
const TRACE_ID_LEN: usize = 35;

/// Stand-in trace ids for the render-time check (two, in case a request carries one of them).
const STAND_INS: [&str; 2] = [
    "1-00000000-000000000000000000000000",
    "1-ffffffff-ffffffffffffffffffffffff",
];

/// Rendered responses for one site, keyed by decision and header mode.
#[derive(Debug, Default)]
pub struct RenderedResponses {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// The content every entry was rendered from.
    content: Option<Arc<Content>>,
    entries: Vec<(Key, Entry)>,
}

/// A decision without the trace id's value (only whether there is one) and without the
/// `Retry-After` spread (only the announced value), plus the header mode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    page: PageKind,
    format: Format,
    language: Box<str>,
    head: bool,
    retry: Option<RetryAfter>,
    traced: bool,
    mode: HeaderMode,
}

impl Key {
    fn new(decision: &Decision<'_>, mode: HeaderMode) -> Self {
        Self {
            page: decision.page,
            format: decision.format,
            language: decision.language.into(),
            head: decision.head,
            retry: decision.retry.as_ref().map(RetryAfter::announced),
            traced: decision.trace_id.is_some(),
            mode,
        }
    }

    /// Equal to `Key::new(decision, mode)`, without building it.
    fn matches(&self, decision: &Decision<'_>, mode: HeaderMode) -> bool {
        self.page == decision.page
            && self.format == decision.format
            && *self.language == *decision.language
            && self.head == decision.head
            && same_announcement(self.retry.as_ref(), decision.retry.as_ref())
            && self.traced == decision.trace_id.is_some()
            && self.mode == mode
    }
}

/// Whether two `Retry-After` decisions announce the same (their spreads aside).
fn same_announcement(kept: Option<&RetryAfter>, decided: Option<&RetryAfter>) -> bool {
    match (kept, decided) {
        (None, None) => true,
        (Some(a), Some(b)) => a.seconds == b.seconds && a.expected_back == b.expected_back,
        _ => false,
    }
}

#[derive(Debug)]
enum Entry {
    /// The response JSON, the byte offsets where the trace id goes, and the places (offset,
    /// length) of the `Retry-After` header's value, which a request's spread changes.
    Kept {
        json: String,
        trace_at: Vec<usize>,
        retry_at: Vec<(usize, usize)>,
    },
    /// Failed the check: rendered afresh every time.
    Fresh,
}

impl RenderedResponses {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The ALB response JSON for a decision: a kept copy when there is one, else rendered by
    /// the core (and kept when it passes the check). Always the bytes the core would give:
    /// `alb_response::encode(&mut render(decision, content, site), mode)`.
    ///
    /// `content` is shared: the Lambda hands the same `Arc` until the content changes, and the
    /// table recognizes it by pointer before comparing texts.
    pub fn response(
        &self,
        decision: &Decision<'_>,
        content: &Arc<Content>,
        site: &Site,
        mode: HeaderMode,
    ) -> String {
        let fresh = || alb_response::encode(&mut render(decision, content, site), mode);
        if decision.page == PageKind::Health
            || decision.trace_id.is_some_and(|t| t.len() != TRACE_ID_LEN)
        {
            return fresh();
        }
        let known = {
            let mut table = self.lock();
            let same_arc = table
                .content
                .as_ref()
                .is_some_and(|k| Arc::ptr_eq(k, content));
            if !same_arc {
                if !table.rendered_from(content) {
                    table.entries.clear();
                }
                table.content = Some(Arc::clone(content));
            }
            let found = table
                .entries
                .iter()
                .position(|(key, _)| key.matches(decision, mode));
            if let Some(at) = found {
                table.entries[..=at].rotate_right(1);
            }
            match found.map(|_| &table.entries[0].1) {
                Some(Entry::Kept {
                    json,
                    trace_at,
                    retry_at,
                }) => {
                    let retry = decision.retry.as_ref().map(RetryAfter::header);
                    return kept_copy(
                        json,
                        trace_at,
                        retry_at,
                        decision.trace_id.unwrap_or(""),
                        retry.as_deref(),
                    );
                }
                Some(Entry::Fresh) => true,
                None => false,
            }
        };
        let json = fresh();
        if known {
            return json;
        }
        let entry = match decision.trace_id {
            // No trace id: no spread either, so nothing of the request is in it.
            None => Entry::Kept {
                json: json.clone(),
                trace_at: Vec::new(),
                retry_at: Vec::new(),
            },
            Some(trace_id) => check_trace_places(&json, trace_id, decision, content, site, mode),
        };
        let mut table = self.lock();
        if table.rendered_from(content) {
            // Another request may have filled it meanwhile (the preview server is threaded).
            table
                .entries
                .retain(|(key, _)| !key.matches(decision, mode));
            table.entries.truncate(MAX_ENTRIES - 1);
            table.entries.insert(0, (Key::new(decision, mode), entry));
        }
        json
    }

    /// Number of kept entries (for tests and the bench).
    pub fn len(&self) -> usize {
        self.lock()
            .entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Kept { .. }))
            .count()
    }

    /// Whether no entry is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        lock(&self.table)
    }
}

/// Negotiation results for one site, keyed by the raw `Accept` and `Accept-Language` values.
/// [`Negotiations::decide`] is always [`maintenance_core::respond::decide`]; tests/responder/alb.rs
/// holds the two equal over generated events.
#[derive(Debug, Default)]
pub struct Negotiations {
    entries: Mutex<Vec<NegotiationEntry>>,
}

#[derive(Debug)]
struct NegotiationEntry {
    accept: Option<Box<str>>,
    accept_language: Option<Box<str>>,
    format: Format,
    /// The catalog's own spelling of the language tag.
    language: Box<str>,
}

impl Negotiations {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// [`maintenance_core::respond::decide`], with format and language from a kept negotiation of
    /// the request's `Accept` and `Accept-Language` values when there is one. `site` must be the
    /// same site on every call.
    pub fn decide<'a>(
        &self,
        request: &'a Request,
        page: PageKind,
        content: &Content,
        site: &'a Site,
        now: jiff::Timestamp,
    ) -> Decision<'a> {
        let accept = request.list_header("accept");
        let accept_language = request.list_header("accept-language");
        let negotiated = self.negotiation(accept.as_deref(), accept_language.as_deref(), site);
        decide_negotiated(request, page, negotiated, content, site, now)
    }

    /// [`maintenance_core::respond::negotiation`], kept.
    fn negotiation<'s>(
        &self,
        accept: Option<&str>,
        accept_language: Option<&str>,
        site: &'s Site,
    ) -> Negotiated<'s> {
        let mut entries = lock(&self.entries);
        let found = entries.iter().position(|e| {
            e.accept.as_deref() == accept && e.accept_language.as_deref() == accept_language
        });
        if let Some(at) = found {
            entries[..=at].rotate_right(1);
            let kept = &entries[0];
            if let Some(language) = site.catalog.canonical_tag(&kept.language) {
                return Negotiated {
                    format: kept.format,
                    language,
                };
            }
        }
        let fresh = negotiation(accept, accept_language, site);
        let keep = found.is_none()
            && [accept, accept_language]
                .iter()
                .all(|v| v.is_none_or(|v| v.len() <= MAX_NEGOTIATED_VALUE))
            // Kept by its spelling in the catalog, so only a language given in that spelling.
            && site.catalog.canonical_tag(fresh.language) == Some(fresh.language);
        if keep {
            entries.truncate(MAX_NEGOTIATIONS - 1);
            entries.insert(
                0,
                NegotiationEntry {
                    accept: accept.map(Box::from),
                    accept_language: accept_language.map(Box::from),
                    format: fresh.format,
                    language: fresh.language.into(),
                },
            );
        }
        fresh
    }

    /// Number of kept negotiations (for tests).
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Locks one of the tables. A panic while holding the lock leaves only a cache behind; keep
/// using it.
fn lock<T>(table: &Mutex<T>) -> MutexGuard<'_, T> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

/// `json` with `trace_id` written at each offset of `trace_at` (every place holds a trace id of
/// the same length) and `retry` at each place of `retry_at` (the `Retry-After` value, whose
/// length a spread may change); no places, as for a request without a trace id, is a plain
/// copy. One allocation.
fn kept_copy(
    json: &str,
    trace_at: &[usize],
    retry_at: &[(usize, usize)],
    trace_id: &str,
    retry: Option<&str>,
) -> String {
    let mut out = String::with_capacity(json.len() + 2 * RETRY_SLACK);
    out.push_str(json);
    for &at in trace_at {
        out.replace_range(at..at + TRACE_ID_LEN, trace_id);
    }
    if let Some(retry) = retry {
        // From the last place back, so the earlier offsets still hold.
        for &(at, len) in retry_at.iter().rev() {
            if out[at..at + len] != *retry {
                out.replace_range(at..at + len, retry);
            }
        }
    }
    out
}

/// Room for a longer `Retry-After` value in each of the two header maps (`Unknown` mode).
const RETRY_SLACK: usize = 8;

/// The places (offset, length) of the `Retry-After` header's value `value` in response JSON:
/// in `headers` (`"retry-after":"…"`) and in `multiValueHeaders` (`"retry-after":["…"]`). A body
/// holds no such run (its quotes are escaped).
fn retry_places(json: &str, value: &str) -> Vec<(usize, usize)> {
    let mut places: Vec<(usize, usize)> = ["\"retry-after\":\"", "\"retry-after\":[\""]
        .iter()
        .flat_map(|pattern| {
            json.match_indices(pattern)
                .map(move |(at, _)| at + pattern.len())
        })
        .filter(|&start| {
            json[start..].starts_with(value) && json[start + value.len()..].starts_with('"')
        })
        .map(|start| (start, value.len()))
        .collect();
    places.sort_unstable();
    places
}

impl Table {
    /// Whether the entries were rendered from this content: the same `Arc`, or equal texts.
    fn rendered_from(&self, content: &Arc<Content>) -> bool {
        self.content
            .as_ref()
            .is_some_and(|kept| Arc::ptr_eq(kept, content) || same_texts(kept, content))
    }
}

/// Renders the decision again with a stand-in trace id (and another `Retry-After` spread) and
/// keeps `json` only if the two differ in exactly the places where `json` holds the trace id
/// and the `Retry-After` value.
fn check_trace_places(
    json: &str,
    trace_id: &str,
    decision: &Decision<'_>,
    content: &Content,
    site: &Site,
    mode: HeaderMode,
) -> Entry {
    let Some(stand_in) = STAND_INS.into_iter().find(|s| *s != trace_id) else {
        return Entry::Fresh;
    };
    let other = Decision {
        trace_id: Some(stand_in),
        retry: decision.retry.as_ref().map(|retry| RetryAfter {
            spread: u64::from(retry.spread == 0),
            ..retry.clone()
        }),
        ..decision.clone()
    };
    let with_stand_in = alb_response::encode(&mut render(&other, content, site), mode);
    let trace_at: Vec<usize> = json.match_indices(trace_id).map(|(at, _)| at).collect();
    let retry_at = match &decision.retry {
        Some(retry) => retry_places(json, &retry.header()),
        None => Vec::new(),
    };
    let other_retry = other.retry.as_ref().map(RetryAfter::header);
    if kept_copy(json, &trace_at, &retry_at, stand_in, other_retry.as_deref()) == with_stand_in
        && with_stand_in.matches(stand_in).count() == trace_at.len()
    {
        Entry::Kept {
            json: json.to_string(),
            trace_at,
            retry_at,
        }
    } else {
        Entry::Fresh
    }
}

/// Equal content for rendering: everything but the state (where it came from and its age,
/// which only the health route shows).
fn same_texts(a: &Content, b: &Content) -> bool {
    let Content {
        maintenance,
        retry,
        status_page,
        contact,
        // A bypass answer is never kept; the token changes no page.
        bypass_token: _,
        // An admission answer is never kept; the return changes no page.
        return_state: _,
        time_zone,
        state: _,
    } = a;
    *maintenance == b.maintenance
        && *time_zone == b.time_zone
        && *retry == b.retry
        && *status_page == b.status_page
        && *contact == b.contact
}

#[cfg(test)]
mod tests {
    use super::*;
    use maintenance_core::respond::decide;
    use maintenance_core::respond::request::Request;

    const TRACE: &str = "1-693ec9fb-4ef0a17b0db1b3fb480f31bc";

    fn request(trace: &str) -> Request {
        Request::get("/")
            .with_header("Accept", "text/html")
            .with_header("X-Amzn-Trace-Id", &format!("Root={trace}"))
    }

    fn answer(rendered: &RenderedResponses, req: &Request, content: &Content) -> (String, String) {
        let site = Site::embedded();
        let now = "2026-11-22T04:00:00Z".parse::<jiff::Timestamp>().unwrap();
        let decision = decide(req, PageKind::Maintenance, content, &site, now);
        // A new Arc each time: equal texts must be recognized without the pointer.
        let shared = Arc::new(content.clone());
        let kept = rendered.response(&decision, &shared, &site, HeaderMode::Single);
        let fresh =
            alb_response::encode(&mut render(&decision, content, &site), HeaderMode::Single);
        (kept, fresh)
    }

    #[test]
    fn a_kept_response_carries_each_requests_own_trace_id() {
        let rendered = RenderedResponses::new();
        let content = Content::default();
        let (first, fresh) = answer(&rendered, &request(TRACE), &content);
        assert_eq!(first, fresh);
        assert_eq!(rendered.len(), 1);
        let other = "1-5759e988-bd862e3fe1be46a994272793";
        let (second, fresh) = answer(&rendered, &request(other), &content);
        assert_eq!(second, fresh);
        assert!(second.contains(other) && !second.contains(TRACE));
        assert_eq!(rendered.len(), 1, "answered from the kept entry");
    }

    /// Issue #24: the spread differs per request, and a kept answer never freezes one spread
    /// for everyone: each request gets exactly the bytes a fresh rendering gives, in every
    /// header mode, with a delay and with an end time, from one entry per decision.
    #[test]
    fn a_kept_response_carries_each_requests_own_spread() {
        let site = Site::embedded();
        let now = "2026-11-22T04:00:00Z".parse::<jiff::Timestamp>().unwrap();
        for retry in [
            maintenance_core::content::Retry::Seconds(900),
            maintenance_core::content::Retry::Until(
                "2026-11-22T06:00:00.5Z".parse::<jiff::Timestamp>().unwrap(),
            ),
        ] {
            let content = Arc::new(Content {
                retry: Some(retry),
                ..Content::default()
            });
            for mode in [HeaderMode::Single, HeaderMode::Multi, HeaderMode::Unknown] {
                let rendered = RenderedResponses::new();
                let mut headers = std::collections::BTreeSet::new();
                for i in 0..200u32 {
                    let trace = format!("1-693ec9fb-{i:024x}");
                    for accept in ["text/html", "application/json"] {
                        let mut req = request(&trace);
                        req.headers.retain(|(n, _)| n != "accept");
                        let req = req.with_header("Accept", accept);
                        let decision = decide(&req, PageKind::Maintenance, &content, &site, now);
                        let kept = rendered.response(&decision, &content, &site, mode);
                        let fresh =
                            alb_response::encode(&mut render(&decision, &content, &site), mode);
                        assert_eq!(kept, fresh, "{retry:?} {mode:?} {trace} {accept}");
                        headers.insert(decision.retry.unwrap().header());
                    }
                }
                assert_eq!(
                    rendered.len(),
                    2,
                    "one entry per format, whatever the spread"
                );
                assert!(headers.len() > 50, "{retry:?} {mode:?}: {headers:?}");
            }
        }
    }

    #[test]
    fn content_holding_the_trace_id_is_rendered_afresh() {
        let rendered = RenderedResponses::new();
        let content = Content {
            contact: Some(format!("mailto:{TRACE}@example.com")),
            ..Content::default()
        };
        let (first, fresh) = answer(&rendered, &request(TRACE), &content);
        assert_eq!(first, fresh);
        assert_eq!(rendered.len(), 0, "the check refused to keep it");
        let other = "1-5759e988-bd862e3fe1be46a994272793";
        let (second, fresh) = answer(&rendered, &request(other), &content);
        assert_eq!(second, fresh);
        assert!(second.contains(TRACE), "the content's text is left alone");
    }

    #[test]
    fn the_table_keeps_the_most_recently_used_entries_and_no_more() {
        let rendered = RenderedResponses::new();
        let mut content = Content::default();
        for seconds in 0..(MAX_ENTRIES as u64 + 8) {
            content.retry = Some(maintenance_core::content::Retry::Seconds(120 + seconds));
            // Each value is new content, which drops the entries kept for the one before.
            let (kept, fresh) = answer(&rendered, &request(TRACE), &content);
            assert_eq!(kept, fresh);
        }
        assert_eq!(rendered.len(), 1, "a content change drops every entry");
        let site = Site::embedded();
        let req = request(TRACE);
        let content = Arc::new(Content::default());
        for seconds in 0..(MAX_ENTRIES as i64 + 8) {
            let now = "2026-11-22T04:00:00Z".parse::<jiff::Timestamp>().unwrap()
                + jiff::SignedDuration::from_secs(seconds);
            let mut decision = decide(&req, PageKind::Maintenance, &content, &site, now);
            decision.retry = Some(maintenance_core::respond::retry_after(
                Some(maintenance_core::content::Retry::Until(
                    "2026-11-22T05:00:00Z".parse::<jiff::Timestamp>().unwrap(),
                )),
                &site,
                now,
            ));
            let kept = rendered.response(&decision, &content, &site, HeaderMode::Single);
            let fresh =
                alb_response::encode(&mut render(&decision, &content, &site), HeaderMode::Single);
            assert_eq!(kept, fresh);
        }
        assert_eq!(rendered.len(), MAX_ENTRIES);
    }

    #[test]
    fn kept_negotiations_decide_as_the_core_does() {
        let site = Site::embedded();
        let negotiations = Negotiations::new();
        let content = Content::default();
        let now = "2026-11-22T04:00:00Z".parse::<jiff::Timestamp>().unwrap();
        let accepts = [
            None,
            Some("text/html"),
            Some("application/json"),
            Some("text/plain"),
        ];
        let languages = [
            None,
            Some("ja"),
            Some("en-GB,en;q=0.9"),
            Some("fr, JA;q=0.5"),
        ];
        for _ in 0..2 {
            for accept in accepts {
                for language in languages {
                    let mut req = request(TRACE);
                    req.headers.retain(|(n, _)| n != "accept");
                    if let Some(a) = accept {
                        req = req.with_header("Accept", a);
                    }
                    if let Some(l) = language {
                        req = req.with_header("Accept-Language", l);
                    }
                    for page in [PageKind::Maintenance, PageKind::Health, PageKind::NotFound] {
                        assert_eq!(
                            negotiations.decide(&req, page, &content, &site, now),
                            decide(&req, page, &content, &site, now),
                            "{accept:?} {language:?} {page:?}"
                        );
                    }
                }
            }
        }
        assert_eq!(negotiations.len(), MAX_NEGOTIATIONS, "the table is bounded");
        let long = "text/html;q=0.9, ".repeat(20);
        let req = request(TRACE).with_header("Accept-Language", &long);
        negotiations.decide(&req, PageKind::Maintenance, &content, &site, now);
        negotiations.decide(&req, PageKind::Maintenance, &content, &site, now);
        assert!(
            negotiations
                .entries
                .lock()
                .unwrap()
                .iter()
                .all(|e| e.accept_language.as_deref() != Some(long.as_str())),
            "a long value is negotiated every time, not kept"
        );
    }

    #[test]
    fn new_content_drops_the_kept_entries() {
        let rendered = RenderedResponses::new();
        let (before, _) = answer(&rendered, &request(TRACE), &Content::default());
        let content = Content {
            status_page: Some("https://status.example.com/".into()),
            ..Content::default()
        };
        let (after, fresh) = answer(&rendered, &request(TRACE), &content);
        assert_eq!(after, fresh);
        assert_ne!(before, after);
        assert!(after.contains("status.example.com"));
    }
}
