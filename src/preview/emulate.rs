//! The ALB, emulated at both ends of an invocation: an HTTP request becomes the event an ALB
//! sends its Lambda target ([`Origin`], [`alb_event`], [`new_trace_id`]), the function's
//! response JSON becomes the answer an ALB sends the client ([`Answer::from_alb_json`]: the
//! contract checked, the header map of the mode only, base64 decoded, [`HOP_BY_HOP`] headers
//! dropped), and [`invoke`] runs one event through [`Function::handle`] between the two.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use maintenance_core::page_kind::reason_phrase;
use maintenance_responder::lambda::Function;
use maintenance_responder::lambda::alb_event::HeaderMode;
use maintenance_responder::lambda::alb_response::check_contract;
use maintenance_responder::ssm::ParameterStore;

/// What the ALB knows about a request beyond the request itself.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Client address (appended to `X-Forwarded-For`).
    pub client: IpAddr,
    /// Listener port (`X-Forwarded-Port`).
    pub port: u16,
    /// The target group's header mode: [`HeaderMode::Multi`] for multi-value events, anything
    /// else for single-value events.
    pub mode: HeaderMode,
    /// ARN of the invoking target group.
    pub target_group_arn: String,
}

/// A fresh X-Ray trace header, `Root=1-<8 hex: epoch seconds>-<24 hex: random>`, as the ALB
/// adds to a request that has none.
pub fn new_trace_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let random = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed) ^ salt);
        h.finish()
    };
    format!(
        "Root=1-{:08x}-{:016x}{:08x}",
        seconds as u32,
        random(1),
        random(2) as u32
    )
}

/// The `(key, value)` pairs of a raw query string, undecoded: the ALB passes them raw.
pub(super) fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// True when the ALB would pass this body as text: no `Content-Encoding`, and a
/// `text/*`, `application/json`, `application/javascript` or `application/xml` body.
fn body_is_text(headers: &HeaderMap) -> bool {
    if headers.contains_key(hyper::header::CONTENT_ENCODING) {
        return false;
    }
    let Some(content_type) = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || matches!(
            media.as_str(),
            "application/json" | "application/javascript" | "application/xml"
        )
}

/// Builds the event an ALB sends its Lambda target for a request (see
/// `alb-lambda-contract.md` §1): method, raw path, raw query, lower-case header names (the last
/// value in single-value mode, every value in multi-value mode), the body as text or base64
/// under the ALB's rules, the target group, and the headers the ALB adds (`X-Forwarded-For`
/// with the client appended, `-Proto`, `-Port`, and `X-Amzn-Trace-Id` unless the client sent
/// one).
pub fn alb_event(parts: &Parts, body: &[u8], origin: &Origin) -> Value {
    let multi = origin.mode == HeaderMode::Multi;
    let mut headers: Vec<(String, Vec<String>)> = Vec::new();
    for name in parts.headers.keys() {
        let values = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        headers.push((name.as_str().to_ascii_lowercase(), values));
    }
    let mut set = |name: &str, value: String| match headers.iter_mut().find(|(n, _)| n == name) {
        Some((_, values)) => *values = vec![value],
        None => headers.push((name.to_string(), vec![value])),
    };
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(previous) if !previous.trim().is_empty() => format!("{previous}, {}", origin.client),
        _ => origin.client.to_string(),
    };
    set("x-forwarded-for", forwarded_for);
    set("x-forwarded-proto", "http".into());
    set("x-forwarded-port", origin.port.to_string());
    if !parts.headers.contains_key("x-amzn-trace-id") {
        set("x-amzn-trace-id", new_trace_id());
    }

    let mut query_single = Map::new();
    let mut query_multi: Map<String, Value> = Map::new();
    for (key, value) in query_pairs(parts.uri.query()) {
        query_single.insert(key.into(), Value::String(value.into()));
        match query_multi.get_mut(key).and_then(Value::as_array_mut) {
            Some(values) => values.push(Value::String(value.into())),
            None => {
                query_multi.insert(key.into(), json!([value]));
            }
        }
    }

    let (body, base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (String::new(), false),
        Ok(text) if body_is_text(&parts.headers) => (text.to_string(), false),
        _ => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };

    let mut event = json!({
        "requestContext": { "elb": { "targetGroupArn": origin.target_group_arn } },
        "httpMethod": parts.method.as_str(),
        "path": parts.uri.path(),
        "body": body,
        "isBase64Encoded": base64,
    });
    let object = event.as_object_mut().expect("built as an object");
    if multi {
        let map: Map<String, Value> = headers.into_iter().map(|(n, v)| (n, json!(v))).collect();
        object.insert(
            "multiValueQueryStringParameters".into(),
            Value::Object(query_multi),
        );
        object.insert("multiValueHeaders".into(), Value::Object(map));
    } else {
        let map: Map<String, Value> = headers
            .into_iter()
            .filter_map(|(n, v)| Some((n, Value::String(v.into_iter().last()?))))
            .collect();
        object.insert("queryStringParameters".into(), Value::Object(query_single));
        object.insert("headers".into(), Value::Object(map));
    }
    event
}

/// An HTTP answer as the ALB would send it to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Header fields in the order the response lists them (names as the function wrote them).
    pub headers: Vec<(String, String)>,
    /// Body bytes (base64 already decoded).
    pub body: Vec<u8>,
}

/// Headers the ALB handles itself and ignores in a Lambda response.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "content-length",
];

impl Answer {
    /// Reads the function's response JSON as the ALB does for a target group in `mode`: the
    /// contract is checked first (a violation is what the ALB answers 502 for), then only the
    /// header map of that mode is read, and a base64 body is decoded.
    pub fn from_alb_json(
        json: &str,
        mode: HeaderMode,
    ) -> Result<Self, maintenance_responder::lambda::alb_response::ContractViolation> {
        let mode = match mode {
            HeaderMode::Multi => HeaderMode::Multi,
            _ => HeaderMode::Single,
        };
        check_contract(json, mode)?;
        let violation =
            |m: &str| maintenance_responder::lambda::alb_response::ContractViolation(m.to_string());
        let value: Value = serde_json::from_str(json).map_err(|e| violation(&e.to_string()))?;
        let status = value["statusCode"].as_u64().unwrap_or(502) as u16;
        let mut headers = Vec::new();
        let keep = |name: &str| !HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h));
        if mode == HeaderMode::Multi {
            if let Some(map) = value["multiValueHeaders"].as_object() {
                for (name, values) in map.iter().filter(|(n, _)| keep(n)) {
                    for v in values.as_array().into_iter().flatten() {
                        headers.push((name.clone(), v.as_str().unwrap_or_default().to_string()));
                    }
                }
            }
        } else if let Some(map) = value["headers"].as_object() {
            for (name, v) in map.iter().filter(|(n, _)| keep(n)) {
                headers.push((name.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
        let text = value["body"].as_str().unwrap_or("");
        let body = if value["isBase64Encoded"].as_bool() == Some(true) {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| violation(&format!("body is not valid base64: {e}")))?
        } else {
            text.as_bytes().to_vec()
        };
        Ok(Self {
            status,
            headers,
            body,
        })
    }

    /// A plain-text answer made by the preview itself (not by the function).
    pub(super) fn text(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![
                ("Content-Type".into(), "text/plain; charset=utf-8".into()),
                ("Cache-Control".into(), "no-store".into()),
                ("X-Content-Type-Options".into(), "nosniff".into()),
            ],
            body: body.into_bytes(),
        }
    }

    /// The status line and headers, as `curl -i` would show them.
    pub fn head_text(&self) -> String {
        let mut out = format!("HTTP/1.1 {} {}\n", self.status, reason_phrase(self.status));
        for (name, value) in &self.headers {
            let _ = writeln!(out, "{name}: {value}");
        }
        out
    }

    /// The value of a header, names compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn into_response(self) -> hyper::Response<Full<Bytes>> {
        let mut response = hyper::Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.append(name, value);
            }
        }
        response
    }
}

/// Runs one event through the function and reads the answer as the ALB would. A response that
/// breaks the contract becomes the 502 the ALB would send, with the reason in the body.
pub async fn invoke<S: ParameterStore>(
    function: &Function<S>,
    event: &Value,
    mode: HeaderMode,
) -> Answer {
    let json = function.handle(&event.to_string()).await;
    match Answer::from_alb_json(json.get(), mode) {
        Ok(answer) => answer,
        Err(violation) => {
            tracing::error!(%violation, "the function's response breaks the ALB contract");
            Answer::text(
                502,
                format!(
                    "502 Bad Gateway\n\nmaintctl serve: an ALB would answer 502 here: {violation}\n"
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hyper::Request;

    use super::*;
    use crate::preview::TARGET_GROUP_ARN;
    use maintenance_core::respond::request::Request as CoreRequest;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = Request::builder().method("POST").uri(uri);
        for (n, v) in headers {
            builder = builder.header(*n, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn origin(mode: HeaderMode) -> Origin {
        Origin {
            client: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            port: 8080,
            mode,
            target_group_arn: TARGET_GROUP_ARN.into(),
        }
    }

    /// Request headers, body, expected event body, expected `isBase64Encoded`.
    type BodyCase = (
        &'static [(&'static str, &'static str)],
        &'static [u8],
        &'static str,
        bool,
    );

    #[test]
    fn body_encoding_follows_the_alb_rules() {
        let cases: &[BodyCase] = &[
            (
                &[("content-type", "application/x-www-form-urlencoded")],
                b"hello=world",
                "aGVsbG89d29ybGQ=",
                true,
            ),
            (
                &[("content-type", "text/plain; charset=utf-8")],
                b"hi",
                "hi",
                false,
            ),
            (&[("content-type", "application/json")], b"{}", "{}", false),
            (
                &[("content-type", "application/xml")],
                b"<a/>",
                "<a/>",
                false,
            ),
            (
                &[("content-type", "text/plain"), ("content-encoding", "gzip")],
                b"hi",
                "aGk=",
                true,
            ),
            (
                &[("content-type", "text/plain")],
                &[0xff, 0xfe],
                "//4=",
                true,
            ),
            (&[], b"raw", "cmF3", true),
            (&[("content-type", "text/plain")], b"", "", false),
        ];
        for (headers, body, expected, base64) in cases {
            let event = alb_event(&parts("/x", headers), body, &origin(HeaderMode::Single));
            assert_eq!(event["body"], *expected, "{headers:?}");
            assert_eq!(event["isBase64Encoded"], *base64, "{headers:?}");
        }
    }

    #[test]
    fn single_and_multi_value_events_have_the_alb_shape() {
        let p = parts(
            "/a%20b?x=1&x=2&y=%3Fz%3D1&flag",
            &[
                ("accept", "text/html"),
                ("cookie", "a=1"),
                ("cookie", "b=2"),
                ("x-forwarded-for", "198.51.100.7"),
            ],
        );
        let single = alb_event(&p, b"", &origin(HeaderMode::Single));
        assert_eq!(single["path"], "/a%20b");
        assert_eq!(single["httpMethod"], "POST");
        assert_eq!(
            single["queryStringParameters"],
            json!({"x": "2", "y": "%3Fz%3D1", "flag": ""})
        );
        assert_eq!(single["headers"]["cookie"], "b=2");
        assert_eq!(
            single["headers"]["x-forwarded-for"],
            "198.51.100.7, 192.0.2.1"
        );
        assert_eq!(single["headers"]["x-forwarded-port"], "8080");
        assert_eq!(single["headers"]["x-forwarded-proto"], "http");
        assert!(single.get("multiValueHeaders").is_none());
        assert_eq!(
            single["requestContext"]["elb"]["targetGroupArn"],
            TARGET_GROUP_ARN
        );
        let trace = single["headers"]["x-amzn-trace-id"].as_str().unwrap();
        let request = CoreRequest::get("/").with_header("x-amzn-trace-id", trace);
        assert!(request.trace_root().is_some(), "{trace}");

        let multi = alb_event(&p, b"", &origin(HeaderMode::Multi));
        assert_eq!(
            multi["multiValueQueryStringParameters"]["x"],
            json!(["1", "2"])
        );
        assert_eq!(multi["multiValueHeaders"]["cookie"], json!(["a=1", "b=2"]));
        assert!(multi.get("headers").is_none());
        assert!(multi.get("queryStringParameters").is_none());
    }
}
