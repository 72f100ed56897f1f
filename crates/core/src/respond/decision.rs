//! Every choice behind one response, made from the request, the content, the site and the clock
//! ([`decide`]): format and language by negotiation, `HEAD`, `Retry-After`, the trace id. The
//! result, a [`Decision`], is all that [`super::render`] needs.
//!
//! `Retry-After` is spread per request ([`RetryAfter::spread_by`]): while maintenance (or a
//! gradual return) is on, those still on the page are told to come back between the announced
//! moment and [`spread_bound`] seconds after it (a tenth of the delay, at least
//! [`MIN_SPREAD_SECONDS`], at most [`MAX_SPREAD_SECONDS`]), drawn from the request's trace id, so
//! that they do not all come back in the same second. Never before the announced moment.

use jiff::Timestamp;

use crate::content::{Content, Retry};
use crate::page_kind::PageKind;
use crate::respond::negotiate::{self, Format};
use crate::respond::request::Request;
use crate::site::Site;

/// The `Retry-After` decision for a 503.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// The delay in seconds (never negative), as announced: what the page says.
    pub seconds: u64,
    /// The end time, when the content gives one that is still ahead.
    pub expected_back: Option<Timestamp>,
    /// Seconds the `Retry-After` header adds to the announced delay or end for this request
    /// ([`RetryAfter::spread_by`]), so that those still on the page do not all come back in the
    /// same second; at most [`spread_bound`]`(seconds)`. The page's texts and the problem
    /// document keep the announced values.
    pub spread: u64,
}

/// The least bound of the spread, in seconds: even a short delay is spread over this much.
pub const MIN_SPREAD_SECONDS: u64 = 5;
/// The greatest bound of the spread, in seconds: a long maintenance is spread over two minutes
/// at most.
pub const MAX_SPREAD_SECONDS: u64 = 120;

/// The bound of the `Retry-After` spread for an announced delay of `seconds`: a tenth of the
/// delay, at least [`MIN_SPREAD_SECONDS`] and at most [`MAX_SPREAD_SECONDS`]. A request is told
/// to come back between the announced moment and that many seconds after it.
pub fn spread_bound(seconds: u64) -> u64 {
    (seconds / 10).clamp(MIN_SPREAD_SECONDS, MAX_SPREAD_SECONDS)
}

impl RetryAfter {
    /// The header value: the end time as an IMF-fixdate when there is one, else the seconds;
    /// either one later by the spread. Formatted when a response is rendered, not at each
    /// decision.
    pub fn header(&self) -> String {
        match self.expected_back {
            // At the very end of time (never from the content, which is a week ahead at most):
            // the announced end itself.
            Some(until) => http_date(
                until
                    .checked_add(jiff::SignedDuration::from_secs(spread_i64(self.spread)))
                    .unwrap_or(until),
            ),
            None => self.seconds.saturating_add(self.spread).to_string(),
        }
    }

    /// This decision spread for one request: the spread is drawn from `seed` (the request's
    /// trace id: a value no two ALB requests share), uniform over `0..=spread_bound(seconds)`,
    /// the same for the same seed. No seed (a request that did not come through an ALB): no
    /// spread.
    pub fn spread_by(self, seed: Option<&str>) -> Self {
        let spread = seed.map_or(0, |seed| {
            spread_hash(seed.as_bytes()) % (spread_bound(self.seconds) + 1)
        });
        Self { spread, ..self }
    }

    /// The decision without its spread: what every request of the same moment shares.
    pub fn announced(&self) -> Self {
        Self {
            spread: 0,
            ..self.clone()
        }
    }
}

fn spread_i64(spread: u64) -> i64 {
    i64::try_from(spread.min(MAX_SPREAD_SECONDS)).unwrap_or(0)
}

/// FNV-1a over the seed, then SplitMix64's finalizer (so that seeds differing only in their last
/// characters still spread over the whole range). Cheap, allocation-free, and not a secret:
/// the spread only shapes load.
fn spread_hash(seed: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in seed {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Decides `Retry-After` as announced (no spread; [`RetryAfter::spread_by`] adds the request's):
/// seconds as given; an end time still ahead as an HTTP-date; an end time already past, or no
/// value at all, as the configured delays.
///
/// An end time is rounded up to the whole second (an HTTP-date has no fractions): a client is
/// never told a moment before the stated end.
pub fn retry_after(retry: Option<Retry>, site: &Site, now: Timestamp) -> RetryAfter {
    let seconds_only = |seconds: u64| RetryAfter {
        seconds,
        expected_back: None,
        spread: 0,
    };
    match retry {
        Some(Retry::Seconds(seconds)) => seconds_only(seconds),
        Some(Retry::Until(until)) if until > now => {
            let until = ceil_to_second(until);
            let delta = until.duration_since(now);
            // Round up, so a client never retries before the stated time.
            let seconds =
                u64::try_from(delta.as_secs()).unwrap_or(0) + u64::from(delta.subsec_nanos() > 0);
            RetryAfter {
                seconds,
                expected_back: Some(until),
                spread: 0,
            }
        }
        Some(Retry::Until(_)) => seconds_only(site.config.past_end_retry_after_seconds),
        None => seconds_only(site.config.retry_after_seconds),
    }
}

/// The time itself when it is a whole second, else the next whole second.
fn ceil_to_second(at: Timestamp) -> Timestamp {
    match at.subsec_nanosecond() {
        0 => at,
        nanos => at + jiff::SignedDuration::from_nanos(1_000_000_000 - i64::from(nanos)),
    }
}

/// Formats an IMF-fixdate (`Sun, 22 Nov 2026 06:00:00 GMT`), as RFC 9110 §5.6.7 requires.
pub fn http_date(at: Timestamp) -> String {
    jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&at)
        .unwrap_or_default()
}

/// Every choice behind one response, made by [`decide`]; [`super::render`] builds the response from
/// it, the content and the site alone. Two requests with equal decisions get the same response,
/// and the trace id is the only part taken from the request as it is; that is what lets the
/// Lambda keep rendered responses (`maintenance_responder::lambda::memo`).
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
    now: Timestamp,
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
    now: Timestamp,
) -> Decision<'a> {
    let format = if page.is_page() {
        negotiated.format
    } else {
        Format::Text
    };
    let trace_id = request.trace_root();
    Decision {
        page,
        format,
        language: negotiated.language,
        head: request.method == "HEAD",
        // Only the planned maintenance has an announced end; the unplanned 503
        // (`service-unavailable`) gets the configured delay, never the maintenance's end time.
        retry: page.has_retry_after().then(|| {
            let announced = (page == PageKind::Maintenance)
                .then_some(content.retry)
                .flatten();
            retry_after(announced, site, now).spread_by(trace_id)
        }),
        trace_id,
    }
}
