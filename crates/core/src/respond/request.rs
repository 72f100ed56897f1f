//! The request as the pure core sees it: method, path, headers and the invoking target group,
//! independent of how it arrived (an ALB event, the local preview server, a test table).

use std::borrow::Cow;

use crate::deploy_names::{ADMIT_COOKIE, TICKET_COOKIE};

/// The header fields the core reads; reading an event keeps only these (see [`is_read`]), and
/// of `Cookie` only the cookies the core reads ([`kept_cookies`]).
pub const READ_HEADERS: [&str; 6] = [
    "accept",
    "accept-language",
    "cookie",
    "user-agent",
    "x-amzn-trace-id",
    "x-forwarded-proto",
];

/// The cookies the core reads (a gradual return's admission and ticket cookies); reading an
/// event keeps only these of a `Cookie` field.
pub const READ_COOKIES: [&str; 2] = [ADMIT_COOKIE, TICKET_COOKIE];

/// Longest cookie value kept (a token is at most 86 characters, a ticket 5).
const MAX_COOKIE_VALUE: usize = 128;
/// Most cookies kept from one `Cookie` field.
const MAX_KEPT_COOKIES: usize = 4;
/// Longest query string kept; a longer one is dropped (a redirect then goes to the path alone).
pub const MAX_QUERY: usize = 4096;

/// The one query parameter the core reads: the bypass link's redirect target.
pub const READ_QUERY: &str = "next";

/// Whether the core reads a header field (names compared case-insensitively).
pub fn is_read(name: &str) -> bool {
    // `eq_ignore_ascii_case` compares the lengths first: most event headers stop there.
    READ_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// The value an event reader keeps of a header field the core reads: the value itself, but of
/// `Cookie` only the cookies the core reads ([`kept_cookies`]), and no field at all when it
/// holds none of them. Allocates only for what is kept.
pub fn kept_value(name: &str, value: &str) -> Option<String> {
    if name.eq_ignore_ascii_case("cookie") {
        kept_cookies(value)
    } else {
        Some(value.to_string())
    }
}

/// The cookies of a `Cookie` field that the core reads ([`READ_COOKIES`]), as a `Cookie` value
/// of their own (`maint_ticket=42; maint_admit=…`), or `None` when it holds none: a visitor's
/// other cookies (sessions, trackers) are never copied, kept or logged.
pub fn kept_cookies(value: &str) -> Option<String> {
    if !value.contains("maint_") {
        return None;
    }
    let mut kept = String::new();
    let pairs = value
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, v)| READ_COOKIES.contains(name) && v.len() <= MAX_COOKIE_VALUE)
        .take(MAX_KEPT_COOKIES);
    for (name, v) in pairs {
        if !kept.is_empty() {
            kept.push_str("; ");
        }
        kept.push_str(name);
        kept.push('=');
        kept.push_str(v);
    }
    (!kept.is_empty()).then_some(kept)
}

/// A query string from an event's query parameters as the ALB passes them (neither decoded nor
/// in a guaranteed order): the pairs ordered by name (the values of one name in their order),
/// joined `name=value&…`; `None` when there are none or the result is longer than
/// [`MAX_QUERY`]. Every event reader builds it this way, so they agree.
pub fn query_string<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut pairs: Vec<(&str, &str)> = pairs.collect();
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut query = String::new();
    for (name, value) in pairs {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        if !value.is_empty() {
            query.push('=');
            query.push_str(value);
        }
        if query.len() > MAX_QUERY {
            return None;
        }
    }
    Some(query)
}

/// An incoming request, reduced to what page selection and negotiation need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Method, upper case (`GET`).
    pub method: String,
    /// Path without query string (`/`).
    pub path: String,
    /// Headers, names in lower case, in arrival order; repeated names keep every value. Read
    /// from an event, only the ones the core reads ([`READ_HEADERS`]) are kept.
    pub headers: Vec<(String, String)>,
    /// The raw (undecoded, as the ALB passes it) `next` query parameter ([`READ_QUERY`]), the
    /// only one the core reads; its first value.
    pub next: Option<String>,
    /// The whole query string, as [`query_string`] rebuilds it from the event, for the one
    /// answer that sends a visitor back to the same address (a gradual return's admission).
    pub query: Option<String>,
    /// ARN of the target group that invoked the function, if the event says.
    pub target_group_arn: Option<String>,
}

impl Request {
    /// A `GET` of `path` with no headers.
    pub fn get(path: &str) -> Self {
        Self {
            method: "GET".into(),
            path: path.into(),
            ..Self::default()
        }
    }

    /// Adds a header (builder style, for tests and the preview).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// The values of a header, names compared case-insensitively.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The last value of a header: what the ALB itself passes in single-value mode.
    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.header_values(name).last()
    }

    /// A list-valued header (`Accept`, `Accept-Language`) with repeated fields joined by `,`,
    /// as RFC 9110 §5.3 allows.
    pub fn list_header<'a>(&'a self, name: &'a str) -> Option<Cow<'a, str>> {
        let mut values = self.header_values(name);
        let first = values.next()?;
        match values.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut joined = format!("{first}, {second}");
                for value in values {
                    joined.push_str(", ");
                    joined.push_str(value);
                }
                Some(Cow::Owned(joined))
            }
        }
    }

    /// The value of the first cookie called `name` in the `Cookie` fields.
    pub fn cookie<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.cookies(name).next()
    }

    /// The values of every cookie called `name` in the `Cookie` fields (a browser sends one
    /// per path it was set on).
    pub fn cookies<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.header_values("cookie")
            .flat_map(|field| field.split(';'))
            .filter_map(move |pair| {
                let (n, v) = pair.trim().split_once('=')?;
                (n == name).then_some(v.trim())
            })
    }

    /// True for `GET` and `HEAD`.
    pub fn is_get_or_head(&self) -> bool {
        self.method == "GET" || self.method == "HEAD"
    }

    /// The `Root` of `X-Amzn-Trace-Id` when it has the exact X-Ray form
    /// (`1-` 8 hex digits `-` 24 hex digits). Anything else is dropped, never echoed.
    pub fn trace_root(&self) -> Option<&str> {
        let header = self.header("x-amzn-trace-id")?;
        header.split(';').find_map(|field| {
            let (key, value) = field.split_once('=')?;
            (key.trim() == "Root" && is_trace_root(value.trim())).then(|| value.trim())
        })
    }
}

fn is_trace_root(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 35
        && value.starts_with("1-")
        && bytes[10] == b'-'
        && bytes[2..10]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && bytes[11..]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_root_table() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "Root=1-693ecb6b-09d371942facabea343507dd",
                Some("1-693ecb6b-09d371942facabea343507dd"),
            ),
            (
                "Self=1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
                Some("1-5759e988-bd862e3fe1be46a994272793"),
            ),
            ("Root=1-693ecb6b-09d371942facabea343507dd<script>", None),
            ("Root=<script>alert(1)</script>", None),
            ("Root=1-693ECB6B-09D371942FACABEA343507DD", None),
            ("Root=2-693ecb6b-09d371942facabea343507dd", None),
            ("garbage", None),
            ("", None),
        ];
        for (header, expected) in cases {
            let request = Request::get("/").with_header("X-Amzn-Trace-Id", header);
            assert_eq!(request.trace_root(), *expected, "header {header:?}");
        }
    }

    #[test]
    fn only_the_cookies_the_core_reads_are_kept() {
        assert_eq!(kept_cookies("session=secret; theme=dark"), None);
        assert_eq!(kept_cookies("maint_bypass=x"), None);
        assert_eq!(
            kept_cookies("session=secret; maint_ticket=42;maint_admit=abc ; other=1").as_deref(),
            Some("maint_ticket=42; maint_admit=abc")
        );
        assert_eq!(
            kept_cookies(&format!("maint_ticket={}", "9".repeat(200))),
            None
        );
        assert_eq!(kept_value("User-Agent", "x").as_deref(), Some("x"));
        assert_eq!(kept_value("Cookie", "session=secret"), None);
        let request = Request::get("/")
            .with_header("Cookie", "maint_ticket=42; maint_admit=a")
            .with_header("cookie", "maint_admit=b");
        assert_eq!(request.cookie("maint_ticket"), Some("42"));
        assert_eq!(
            request.cookies("maint_admit").collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(request.cookie("maint"), None);
    }

    #[test]
    fn the_query_string_is_ordered_by_name_and_bounded() {
        assert_eq!(query_string(std::iter::empty()), None);
        assert_eq!(
            query_string([("b", "2"), ("a", "1"), ("b", "1"), ("flag", "")].into_iter()).as_deref(),
            Some("a=1&b=2&b=1&flag")
        );
        let long = "x".repeat(MAX_QUERY);
        assert_eq!(query_string([("a", long.as_str())].into_iter()), None);
    }

    #[test]
    fn headers_are_case_insensitive_and_last_wins() {
        let request = Request::get("/")
            .with_header("Accept", "text/html")
            .with_header("accept", "application/json");
        assert_eq!(request.header("ACCEPT"), Some("application/json"));
        assert_eq!(
            request.list_header("accept").as_deref(),
            Some("text/html, application/json")
        );
        assert_eq!(request.list_header("accept-language"), None);
    }
}
