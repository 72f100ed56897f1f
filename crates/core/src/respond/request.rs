//! The request as the pure core sees it: method, path, headers and the invoking target group,
//! independent of how it arrived (an ALB event, the local preview server, a test table).

use std::borrow::Cow;

/// The header fields the core reads; reading an event keeps only these (see [`is_read`]).
pub const READ_HEADERS: [&str; 5] = [
    "accept",
    "accept-language",
    "user-agent",
    "x-amzn-trace-id",
    "x-forwarded-proto",
];

/// The one query parameter the core reads: the bypass link's redirect target.
pub const READ_QUERY: &str = "next";

/// Whether the core reads a header field (names compared case-insensitively).
pub fn is_read(name: &str) -> bool {
    READ_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
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
