//! The ALB event in: turns a target-group event (raw JSON) into the core's [`Request`] and the
//! header mode the answer must use. The answer goes out through [`super::alb_response`].
//!
//! Why it is careful: a failed event parse would be an invocation error, which the ALB answers
//! with its own bare 502. So reading never fails: a one-pass fast path for the events an ALB
//! sends (`alb_event/plain.rs`), then the typed `aws_lambda_events` parse, then a lenient
//! `serde_json::Value` walk when that refuses the event, and a default request when the payload
//! is not even an object. Sources: AWS, "Lambda
//! functions as targets" (docs.aws.amazon.com/elasticloadbalancing/latest/application/
//! lambda-functions.html) and the community reports collected in the README's "Limits".

use aws_lambda_events::alb::AlbTargetGroupRequest;
use serde_json::Value;

use maintenance_core::respond::request::{READ_QUERY, Request, is_read, kept_value, query_string};

mod event;
mod plain;

pub use event::{Event, HeaderMode, ParseKind};
use event::{MAX_READ_VALUES, clean_path};

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
            Ok(typed) => {
                let mut event = Self::from_typed(typed);
                event.request.query = serde_json::from_str::<Value>(raw)
                    .ok()
                    .and_then(|value| query_of(&value));
                event
            }
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
        let headers = [&typed.headers, &typed.multi_value_headers]
            .into_iter()
            .flat_map(|map| map.iter())
            .filter(|(name, _)| is_read(name.as_str()))
            .filter_map(|(name, value)| {
                let value = kept_value(name.as_str(), &String::from_utf8_lossy(value.as_bytes()))?;
                Some((name.as_str().to_string(), value))
            })
            .take(MAX_READ_VALUES)
            .collect();
        let next = typed
            .query_string_parameters
            .first(READ_QUERY)
            .or_else(|| typed.multi_value_query_string_parameters.first(READ_QUERY))
            .map(str::to_string);
        Self {
            request: Request {
                method: typed.http_method.as_str().to_ascii_uppercase(),
                path: clean_path(typed.path.as_deref()),
                headers,
                next,
                // Filled by `parse_full` from the event's JSON: the typed parse's query maps
                // lose the order of names and panic on an empty list of values.
                query: None,
                target_group_arn: typed.request_context.elb.target_group_arn,
            },
            mode,
            parse: ParseKind::Typed,
        }
    }

    fn from_value(value: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let single = value.get("headers").and_then(Value::as_object);
        let multi = value.get("multiValueHeaders").and_then(Value::as_object);
        let single_values = single
            .into_iter()
            .flatten()
            .filter_map(|(name, v)| Some((name, v.as_str()?)));
        let multi_values = multi.into_iter().flatten().flat_map(|(name, values)| {
            let values = values.as_array().map(Vec::as_slice).unwrap_or_default();
            values.iter().filter_map(move |v| Some((name, v.as_str()?)))
        });
        let headers = single_values
            .chain(multi_values)
            .filter(|(name, _)| is_read(name))
            .filter_map(|(name, v)| Some((name.to_ascii_lowercase(), kept_value(name, v)?)))
            .take(MAX_READ_VALUES)
            .collect();
        let mode = HeaderMode::from_maps(single.is_some(), multi.is_some());
        let method = text(value.get("httpMethod"))
            .filter(|m| {
                !m.is_empty() && m.len() <= 32 && m.bytes().all(|b| b.is_ascii_alphabetic())
            })
            .map_or_else(|| "GET".to_string(), |m| m.to_ascii_uppercase());
        let target_group_arn = text(value.pointer("/requestContext/elb/targetGroupArn"));
        let next = value
            .pointer("/queryStringParameters/next")
            .and_then(Value::as_str)
            .or_else(|| {
                value
                    .pointer("/multiValueQueryStringParameters/next/0")
                    .and_then(Value::as_str)
            })
            .map(str::to_string);
        Self {
            request: Request {
                method,
                path: clean_path(value.get("path").and_then(Value::as_str)),
                headers,
                next,
                query: query_of(value),
                target_group_arn,
            },
            mode,
            parse: ParseKind::Lenient,
        }
    }
}

/// The query string of an event's query maps (`queryStringParameters`, else
/// `multiValueQueryStringParameters`), as every reader builds it ([`query_string`]).
fn query_of(value: &Value) -> Option<String> {
    let pairs = |pointer: &str| -> Vec<(&str, &str)> {
        let map = value.pointer(pointer).and_then(Value::as_object);
        map.into_iter()
            .flatten()
            .flat_map(|(name, v)| match v {
                Value::String(s) => vec![(name.as_str(), s.as_str())],
                Value::Array(values) => values
                    .iter()
                    .filter_map(|v| Some((name.as_str(), v.as_str()?)))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    let single = pairs("/queryStringParameters");
    if single.is_empty() {
        query_string(pairs("/multiValueQueryStringParameters").into_iter())
    } else {
        query_string(single.into_iter())
    }
}

/// Whether the payload is JSON at all, as the Lambda runtime needs it to be before the handler
/// runs (it captures the payload as raw JSON). Every JSON value passes — any shape, nulls, lone
/// surrogate escapes — since [`Event::parse`] answers each of them; only non-JSON text fails.
pub fn check_is_json(raw: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<serde::de::IgnoredAny>(raw).map(|_| ())
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
