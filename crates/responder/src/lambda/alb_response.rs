//! The ALB response out: turns the core's [`Response`] into an `AlbTargetGroupResponse` the ALB
//! can never reject, and checks response JSON against the contract as strictly as the ALB
//! applies it: the ALB answers 502 to a response with a `null` field, a non-string header value,
//! a missing `statusCode` or more than 1 MB of JSON. Sources: AWS, "Lambda functions as targets"
//! (docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html) and the
//! community reports collected in the README's "Limits".

use aws_lambda_events::alb::AlbTargetGroupResponse;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use jiff::Timestamp;
use serde_json::Value;

use crate::lambda::alb_event::{Event, HeaderMode, ParseKind};
use maintenance_core::content::Content;
use maintenance_core::page_kind::reason_phrase;
use maintenance_core::respond::{Response, respond};
use maintenance_core::site::Site;

/// Largest response JSON the responder ever emits (the ALB limit is 1 MB).
pub const MAX_RESPONSE_BYTES: usize = 512 * 1024;

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
pub fn handle(raw: &str, content: &Content, site: &Site, now: Timestamp) -> Handled {
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
        response.body = maintenance_core::respond::pages::FALLBACK_BODY.to_string();
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
        body: maintenance_core::respond::pages::FALLBACK_BODY.into(),
        served: maintenance_core::respond::Served {
            page: maintenance_core::page_kind::PageKind::ServiceUnavailable,
            format: maintenance_core::respond::negotiate::Format::Text,
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
