//! The ALB adapter: turns a target-group event (raw JSON) into a [`Request`], and a
//! [`Response`] into an `AlbTargetGroupResponse` the ALB can never reject.
//!
//! Why it is careful: the ALB answers 502 to a response with a `null` field, a non-string header
//! value, a missing `statusCode` or more than 1 MB of JSON, and to an invocation error (which is
//! what a failed event parse would be). So parsing never fails: the typed
//! `aws_lambda_events` parse first, a lenient `serde_json::Value` walk when that refuses the
//! event, and a default request when the payload is not even an object. Sources: AWS, "Lambda
//! functions as targets" (docs.aws.amazon.com/elasticloadbalancing/latest/application/
//! lambda-functions.html) and the community reports collected in the README's "Limits".

use aws_lambda_events::alb::{AlbTargetGroupRequest, AlbTargetGroupResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use time::OffsetDateTime;

use crate::config::Site;
use crate::content::Content;
use crate::pages::reason_phrase;
use crate::request::{Request, is_read};
use crate::respond::{Response, respond};

mod plain;

/// Largest response JSON the responder ever emits (the ALB limit is 1 MB).
pub const MAX_RESPONSE_BYTES: usize = 512 * 1024;

/// Which header map the target group expects in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    /// `lambda.multi_value_headers.enabled=false` (the default): answer in `headers`.
    Single,
    /// Multi-value mode: answer in `multiValueHeaders`.
    Multi,
    /// The event does not tell: answer in both, which works in either mode.
    Unknown,
}

impl HeaderMode {
    /// The mode an event tells by which maps it fills: one of them, or it does not tell.
    fn from_maps(single: bool, multi: bool) -> Self {
        match (single, multi) {
            (true, false) => Self::Single,
            (false, true) => Self::Multi,
            _ => Self::Unknown,
        }
    }

    /// Name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Single => "Single",
            Self::Multi => "Multi",
            Self::Unknown => "Unknown",
        }
    }
}

/// How the event was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseKind {
    /// `aws_lambda_events` accepted it.
    Typed,
    /// The typed parse refused it; fields were read one by one.
    Lenient,
    /// Not a JSON object: answered as a `GET /` with no headers.
    Unreadable,
}

impl ParseKind {
    /// Name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Typed => "Typed",
            Self::Lenient => "Lenient",
            Self::Unreadable => "Unreadable",
        }
    }
}

/// An ALB event, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The request.
    pub request: Request,
    /// The header mode to answer in.
    pub mode: HeaderMode,
    /// How it was read.
    pub parse: ParseKind,
}

/// Longest path kept; the ALB itself limits the request line to 16 KiB.
const MAX_PATH: usize = 16 * 1024;
/// Most header fields kept.
const MAX_HEADERS: usize = 200;

impl Event {
    /// Reads an event. Never fails.
    pub fn parse(raw: &str) -> Self {
        Self::parse_plain(raw).unwrap_or_else(|| Self::parse_full(raw))
    }

    /// The fast path of [`Event::parse`], for the events an ALB sends (see `alb/plain.rs`):
    /// `None` when the event needs the full parse.
    pub fn parse_plain(raw: &str) -> Option<Self> {
        plain::parse(raw)
    }

    /// [`Event::parse`] without its fast path for plain events: the typed parse, then the
    /// lenient walk. Public so that tests can hold the two paths to the same answers.
    pub fn parse_full(raw: &str) -> Self {
        match serde_json::from_str::<AlbTargetGroupRequest>(raw) {
            Ok(typed) => Self::from_typed(typed),
            Err(_) => match serde_json::from_str::<Value>(raw).or_else(|e| {
                // Lone UTF-16 surrogate escapes (`"\ud800"`) are valid JSON text but not valid
                // strings; replace them with U+FFFD and try once more.
                replace_surrogate_escapes(raw)
                    .ok_or(e)
                    .and_then(|t| serde_json::from_str(&t))
            }) {
                Ok(value @ Value::Object(_)) => Self::from_value(&value),
                _ => Self {
                    request: Request::get("/"),
                    mode: HeaderMode::Unknown,
                    parse: ParseKind::Unreadable,
                },
            },
        }
    }

    fn from_typed(typed: AlbTargetGroupRequest) -> Self {
        let multi = !typed.multi_value_headers.is_empty()
            || !typed.multi_value_query_string_parameters.is_empty();
        let single = !typed.headers.is_empty() || !typed.query_string_parameters.is_empty();
        let mode = HeaderMode::from_maps(single, multi);
        let mut headers = Vec::with_capacity(typed.headers.len() + typed.multi_value_headers.len());
        for map in [&typed.headers, &typed.multi_value_headers] {
            for (name, value) in map.iter().take(MAX_HEADERS) {
                if is_read(name.as_str()) {
                    headers.push((
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    ));
                }
            }
        }
        Self {
            request: Request {
                method: typed.http_method.as_str().to_ascii_uppercase(),
                path: clean_path(typed.path.as_deref()),
                headers,
                target_group_arn: typed.request_context.elb.target_group_arn,
            },
            mode,
            parse: ParseKind::Typed,
        }
    }

    fn from_value(value: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let mut headers = Vec::new();
        let single = value.get("headers").and_then(Value::as_object);
        let multi = value.get("multiValueHeaders").and_then(Value::as_object);
        if let Some(map) = single {
            for (name, v) in map.iter().take(MAX_HEADERS).filter(|(n, _)| is_read(n)) {
                if let Some(v) = v.as_str() {
                    headers.push((name.to_ascii_lowercase(), v.to_string()));
                }
            }
        }
        if let Some(map) = multi {
            for (name, values) in map.iter().take(MAX_HEADERS).filter(|(n, _)| is_read(n)) {
                let values = values.as_array().map(Vec::as_slice).unwrap_or_default();
                for v in values.iter().filter_map(Value::as_str).take(MAX_HEADERS) {
                    headers.push((name.to_ascii_lowercase(), v.to_string()));
                }
            }
        }
        let mode = HeaderMode::from_maps(single.is_some(), multi.is_some());
        let method = text(value.get("httpMethod"))
            .filter(|m| {
                !m.is_empty() && m.len() <= 32 && m.bytes().all(|b| b.is_ascii_alphabetic())
            })
            .map_or_else(|| "GET".to_string(), |m| m.to_ascii_uppercase());
        let target_group_arn = text(value.pointer("/requestContext/elb/targetGroupArn"));
        Self {
            request: Request {
                method,
                path: clean_path(value.get("path").and_then(Value::as_str)),
                headers,
                target_group_arn,
            },
            mode,
            parse: ParseKind::Lenient,
        }
    }
}

/// Replaces every `\uD800`–`\uDFFF` escape with `\uFFFD`; `None` when there is none.
fn replace_surrogate_escapes(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut replaced = false;
    let mut rest = raw;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let escape = &rest[pos..];
        let surrogate = escape
            .get(2..6)
            .filter(|_| escape.as_bytes().get(1) == Some(&b'u'))
            .and_then(|hex| u16::from_str_radix(hex, 16).ok())
            .is_some_and(|cp| (0xD800..=0xDFFF).contains(&cp));
        if surrogate {
            out.push_str("\\ufffd");
            replaced = true;
            rest = &escape[6..];
        } else {
            // Copy the backslash and the escaped character (ASCII in valid JSON) unchanged.
            let len = escape.chars().take(2).map(char::len_utf8).sum::<usize>();
            out.push_str(&escape[..len]);
            rest = &escape[len..];
        }
    }
    out.push_str(rest);
    replaced.then_some(out)
}

fn clean_path(path: Option<&str>) -> String {
    match path {
        Some(p) if p.starts_with('/') && p.len() <= MAX_PATH => p.to_string(),
        _ => "/".to_string(),
    }
}

/// Encodes a response for the ALB: `statusDescription` always set, headers in the map the mode
/// asks for (both when unknown), string body, never `null`.
///
/// The body is moved out of `response` (it is the largest part; copying it is measurable on
/// the per-request path); status, headers and outcome stay for logging.
pub fn to_alb_response(response: &mut Response, mode: HeaderMode) -> AlbTargetGroupResponse {
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    for (name, value) in &response.headers {
        // Values are built by the core and hold no CR/LF; a value that still fails is dropped
        // rather than allowed to break the whole response.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    let mut alb = AlbTargetGroupResponse::default();
    alb.status_code = i64::from(response.status);
    alb.status_description = Some(format!(
        "{} {}",
        response.status,
        reason_phrase(response.status)
    ));
    alb.is_base64_encoded = false;
    alb.body = Some(Body::Text(std::mem::take(&mut response.body)));
    match mode {
        HeaderMode::Single => alb.headers = headers,
        HeaderMode::Multi => alb.multi_value_headers = headers,
        HeaderMode::Unknown => {
            alb.multi_value_headers = headers.clone();
            alb.headers = headers;
        }
    }
    alb
}

/// One handled event: the ALB response and what was decided.
#[derive(Debug, Clone)]
pub struct Handled {
    /// The response to return to the ALB.
    pub alb: AlbTargetGroupResponse,
    /// The core's response (status, headers, outcome) for logging; its body has moved to `alb`.
    pub response: Response,
    /// How the event was read.
    pub parse: ParseKind,
    /// Header mode answered in.
    pub mode: HeaderMode,
}

/// Event JSON in, ALB response out, through the pure core.
pub fn handle(raw: &str, content: &Content, site: &Site, now: OffsetDateTime) -> Handled {
    let event = Event::parse(raw);
    let mut response = respond(&event.request, content, site, now);
    Handled {
        alb: to_alb_response(keep_within_limit(&mut response), event.mode),
        response,
        parse: event.parse,
        mode: event.mode,
    }
}

/// The response as the JSON text returned to the ALB (the body moves out of `response`).
pub fn encode(response: &mut Response, mode: HeaderMode) -> String {
    let alb = to_alb_response(keep_within_limit(response), mode);
    // Strings, numbers and string maps only: serializing cannot fail; if it ever did, the
    // last-resort page still keeps the ALB from answering 502.
    serde_json::to_string(&alb).unwrap_or_else(|_| last_resort_json(mode))
}

/// The last-resort response as JSON text.
pub fn last_resort_json(mode: HeaderMode) -> String {
    serde_json::to_string(&last_resort_response(mode)).unwrap_or_else(|_| {
        r#"{"statusCode":503,"statusDescription":"503 Service Unavailable","isBase64Encoded":false,"headers":{},"multiValueHeaders":{},"body":""}"#.into()
    })
}

/// Replaces a body over [`MAX_RESPONSE_BYTES`] with the plain fallback text. Only a
/// pathological configuration could get there; it keeps the ALB from answering 502.
fn keep_within_limit(response: &mut Response) -> &mut Response {
    if response.body.len() > MAX_RESPONSE_BYTES {
        response.body = crate::pages::FALLBACK_BODY.to_string();
        for (name, value) in &mut response.headers {
            if *name == "Content-Type" {
                *value = "text/plain; charset=utf-8".into();
            }
        }
    }
    response
}

/// A response that an ALB would accept, in case everything else failed: 503, plain text.
pub fn last_resort_response(mode: HeaderMode) -> AlbTargetGroupResponse {
    let mut response = Response {
        status: 503,
        headers: vec![
            ("Content-Type", "text/plain; charset=utf-8".into()),
            ("Cache-Control", "no-store".into()),
            ("Retry-After", "60".into()),
            ("X-Content-Type-Options", "nosniff".into()),
        ],
        body: crate::pages::FALLBACK_BODY.into(),
        outcome: crate::respond::Outcome {
            page: crate::pages::PageKind::ServiceUnavailable,
            format: crate::negotiate::Format::Text,
            language: "en".into(),
            trace_id: None,
        },
    };
    to_alb_response(&mut response, mode)
}

/// A broken rule of the ALB response contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("response breaks the ALB contract: {0}")]
pub struct ContractViolation(pub String);

/// Checks serialized response JSON against the ALB contract, as strictly as the ALB applies it
/// (and a little stricter): see the module docs. `mode` is the event's header mode.
pub fn check_contract(json: &str, mode: HeaderMode) -> Result<(), ContractViolation> {
    let fail = |m: String| Err(ContractViolation(m));
    if json.len() >= 1_000_000 {
        return fail(format!("{} bytes of JSON, over the 1 MB limit", json.len()));
    }
    let value: Value = serde_json::from_str(json).map_err(|e| ContractViolation(e.to_string()))?;
    let Some(obj) = value.as_object() else {
        return fail("not an object".into());
    };
    if let Some((key, _)) = obj.iter().find(|(_, v)| v.is_null()) {
        return fail(format!("{key} is null"));
    }
    let Some(status) = obj.get("statusCode").and_then(Value::as_u64) else {
        return fail("statusCode missing or not an integer".into());
    };
    if !(100..=599).contains(&status) {
        return fail(format!("statusCode {status} out of range"));
    }
    let expected = format!("{status} {}", reason_phrase(status as u16));
    match obj.get("statusDescription").and_then(Value::as_str) {
        Some(d) if d == expected => {}
        other => {
            return fail(format!(
                "statusDescription {other:?}, expected {expected:?}"
            ));
        }
    }
    if !obj.get("isBase64Encoded").is_some_and(Value::is_boolean) {
        return fail("isBase64Encoded missing or not a boolean".into());
    }
    if obj.get("body").is_some_and(|b| !b.is_string()) {
        return fail("body is not a string".into());
    }
    let check_value = |name: &str, v: &Value| -> Result<(), ContractViolation> {
        let Some(s) = v.as_str() else {
            return Err(ContractViolation(format!(
                "header {name} has a non-string value"
            )));
        };
        if s.contains(['\r', '\n']) || name.contains(['\r', '\n', ':', ' ']) || name.is_empty() {
            return Err(ContractViolation(format!(
                "header {name} holds CR, LF or a bad name"
            )));
        }
        Ok(())
    };
    let single = obj.get("headers");
    let multi = obj.get("multiValueHeaders");
    if let Some(h) = single {
        let Some(map) = h.as_object() else {
            return fail("headers is not an object".into());
        };
        for (name, v) in map {
            check_value(name, v)?;
        }
    }
    if let Some(h) = multi {
        let Some(map) = h.as_object() else {
            return fail("multiValueHeaders is not an object".into());
        };
        for (name, values) in map {
            let Some(values) = values.as_array() else {
                return fail(format!("multiValueHeaders.{name} is not an array"));
            };
            for v in values {
                check_value(name, v)?;
            }
        }
    }
    let has_content_type = |h: Option<&Value>| {
        h.and_then(Value::as_object)
            .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case("content-type")))
    };
    let ok = match mode {
        HeaderMode::Single => has_content_type(single),
        HeaderMode::Multi => has_content_type(multi),
        HeaderMode::Unknown => has_content_type(single) && has_content_type(multi),
    };
    if !ok {
        return fail(format!(
            "no Content-Type in the header map for {mode:?} mode"
        ));
    }
    Ok(())
}
