//! The ALB contract end to end through the library's public API: every ALB fixture of tests/fixtures/alb, odd and
//! hostile events, header modes, and a property test over generated and mutated events.

use crate::common;

use maintenance_core::content::Content;
use maintenance_core::site::Site;
use maintenance_responder::lambda::alb_event::{self, HeaderMode, ParseKind};
use maintenance_responder::lambda::alb_response::{self, check_contract};
use proptest::prelude::*;
use serde_json::{Value, json};

const NOW: jiff::Timestamp = jiff::Timestamp::constant(1_795_320_000, 0); // 2026-11-22T04:00:00Z

fn answer(raw: &str) -> (alb_response::Handled, Value) {
    static SITE: std::sync::OnceLock<Site> = std::sync::OnceLock::new();
    let site = SITE.get_or_init(Site::embedded);
    let handled = alb_response::handle(raw, &Content::default(), site, NOW);
    let json = serde_json::to_string(&handled.alb).expect("response serializes");
    if let Err(violation) = check_contract(&json, handled.mode) {
        panic!("{violation}\nevent: {raw}\nresponse: {json}");
    }
    (handled, serde_json::from_str(&json).unwrap())
}

#[test]
fn every_alb_fixture_gets_a_contract_valid_response() {
    for (name, raw) in common::request_fixtures() {
        let (handled, json) = answer(&raw);
        assert_eq!(
            handled.parse,
            ParseKind::Typed,
            "{name} should parse with aws_lambda_events"
        );
        let health = raw.contains("ELB-HealthChecker/2.0");
        let expected = if health { 200 } else { 503 };
        assert_eq!(json["statusCode"], expected, "{name}");
        let headers = if handled.mode == HeaderMode::Multi {
            &json["multiValueHeaders"]
        } else {
            &json["headers"]
        };
        let get = |h: &str| {
            let v = &headers[h];
            v.as_array().map_or_else(
                || v.as_str().map(str::to_string),
                |a| a[0].as_str().map(str::to_string),
            )
        };
        assert_eq!(get("cache-control").as_deref(), Some("no-store"), "{name}");
        assert_eq!(get("retry-after").is_some(), !health, "{name}");
        assert!(
            get("content-security-policy")
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{name}"
        );
    }
}

/// The ALB's own events take the fast path (`alb/plain.rs`) and read exactly as the typed
/// `aws_lambda_events` parse reads them.
#[test]
fn every_alb_fixture_takes_the_fast_path_and_reads_as_the_typed_parse_does() {
    use maintenance_responder::lambda::alb_event::Event;
    for (name, raw) in common::request_fixtures() {
        let plain = Event::parse_plain(&raw);
        assert!(plain.is_some(), "{name} should take the fast path");
        assert_eq!(plain, Some(Event::parse_full(&raw)), "{name}");
    }
}

/// Shapes at the edge of what the fast path takes: wherever it takes one, it reads it as the
/// full parse does; the ones it must leave to the full parse, it leaves.
#[test]
fn the_fast_path_agrees_with_the_typed_parse_at_its_edges() {
    use maintenance_responder::lambda::alb_event::Event;
    let base = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
        "httpMethod": "GET", "path": "/", "queryStringParameters": {},
        "headers": {"accept": "text/html"}, "body": "", "isBase64Encoded": false
    });
    let with = |pointer: &str, value: Value| {
        let mut event = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        event.pointer_mut(parent).unwrap()[key] = value;
        event.to_string()
    };
    let cases: Vec<(String, bool)> = vec![
        (base.to_string(), true),
        (with("/httpMethod", "get".into()), true),
        (with("/httpMethod", "".into()), false),
        (with("/httpMethod", "M-SEARCH".into()), false),
        (with("/httpMethod", Value::Null), false),
        (with("/path", Value::Null), true),
        (with("/path", "/caf\u{e9}".into()), true),
        (with("/headers", Value::Null), true),
        (
            with(
                "/headers",
                json!({"Accept": "text/html", "X-Amzn-Trace-Id": "Root=1-2-3"}),
            ),
            true,
        ),
        (
            with("/headers", json!({"accept": "a", "Accept": "b"})),
            false,
        ),
        (with("/headers", json!({"accept": ["a", "b"]})), false),
        (with("/headers", json!({"bad name": "a"})), false),
        (with("/headers", json!({"x": "tab\there"})), true),
        (with("/headers", json!({"x": "bell\u{7}"})), false),
        (with("/headers", json!({"x": "del\u{7f}"})), false),
        (with("/headers", json!({"x": "caf\u{e9} ✓"})), true),
        (with("/headers", json!({"x": 5})), false),
        (with("/queryStringParameters", Value::Null), false),
        (with("/queryStringParameters", json!({"a": "1"})), true),
        (
            with(
                "/multiValueHeaders",
                json!({"accept": ["a", "b"], "Host": ["h"]}),
            ),
            true,
        ),
        (with("/multiValueHeaders", json!({"accept": []})), false),
        (
            with(
                "/multiValueHeaders",
                json!({"accept": ["a"], "ACCEPT": ["b"]}),
            ),
            false,
        ),
        (
            with("/multiValueQueryStringParameters", json!({"a": ["1"]})),
            true,
        ),
        (with("/isBase64Encoded", Value::Null), true),
        (with("/isBase64Encoded", "true".into()), false),
        (with("/body", Value::Null), true),
        (with("/body", 5.into()), false),
        (with("/requestContext", Value::Null), false),
        (
            with("/requestContext/elb/targetGroupArn", Value::Null),
            true,
        ),
        (with("/extra", json!({"any": [1, null]})), true),
    ];
    for (raw, takes) in cases {
        let plain = Event::parse_plain(&raw);
        assert_eq!(plain.is_some(), takes, "{raw}");
        if let Some(plain) = plain {
            assert_eq!(plain, Event::parse_full(&raw), "{raw}");
        }
    }
}

/// Reading an event keeps the header fields the core reads and no other, on every path.
#[test]
fn only_the_headers_the_core_reads_are_kept() {
    use maintenance_core::respond::request::READ_HEADERS;
    use maintenance_responder::lambda::alb_event::Event;
    for (name, raw) in common::request_fixtures() {
        for event in [Event::parse(&raw), Event::parse_full(&raw)] {
            for (header, _) in &event.request.headers {
                assert!(READ_HEADERS.contains(&header.as_str()), "{name}: {header}");
            }
        }
    }
    let raw = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
        "httpMethod": "GET", "path": "/",
        "headers": {"X-Forwarded-For": "192.0.2.1", "Accept": "text/html", "cookie": "a=b", "user-agent": "curl/8"},
    })
    .to_string();
    let event = Event::parse(&raw);
    assert_eq!(
        event.request.headers,
        vec![
            ("accept".to_string(), "text/html".to_string()),
            ("user-agent".to_string(), "curl/8".to_string()),
        ]
    );
    assert_eq!(event.mode, HeaderMode::Single);
}

/// Issue #16, item 14, and its siblings: any number of other headers, before or after, in
/// either map, through every reading (fast path, typed, lenient), never hides a header the core
/// reads.
#[test]
fn headers_the_core_reads_count_whatever_stands_before_them() {
    use maintenance_responder::lambda::alb_event::Event;
    let base = || {
        json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
            "httpMethod": "GET", "path": "/shop", "body": "", "isBase64Encoded": false,
        })
    };
    let others: Vec<(String, String)> = (0..250)
        .map(|i| (format!("x-filler-{i:03}"), format!("v{i}")))
        .collect();
    // (reading, header name, value, expected page kind)
    for (lenient, name, value, status) in [
        (false, "user-agent", "ELB-HealthChecker/2.0", 200),
        (true, "user-agent", "ELB-HealthChecker/2.0", 200),
        (false, "accept", "application/json", 503),
    ] {
        for multi in [false, true] {
            let mut event = base();
            let mut map = serde_json::Map::new();
            for (n, v) in &others {
                map.insert(n.clone(), if multi { json!([v]) } else { json!(v) });
            }
            map.insert(
                name.into(),
                if multi { json!([value]) } else { json!(value) },
            );
            event[if multi {
                "multiValueHeaders"
            } else {
                "headers"
            }] = Value::Object(map);
            if lenient {
                event["queryStringParameters"] = Value::Null; // the typed parse refuses a null map
            }
            let raw = event.to_string();
            let parsed = Event::parse(&raw);
            assert_eq!(
                parsed.parse,
                if lenient {
                    ParseKind::Lenient
                } else {
                    ParseKind::Typed
                }
            );
            assert_eq!(
                parsed.request.header(name),
                Some(value),
                "{name} after 250 other headers (multi-value: {multi}, lenient: {lenient})"
            );
            let (handled, json) = answer(&raw);
            assert_eq!(json["statusCode"], status, "{name}: {value}");
            if name == "accept" {
                assert_eq!(
                    handled.response.header("content-type"),
                    Some("application/problem+json; charset=utf-8")
                );
            }
        }
    }
    // The values kept are bounded (64), counted among the headers the core reads only.
    let mut event = base();
    let values: Vec<String> = (0..500).map(|i| format!("agent-{i}")).collect();
    event["multiValueHeaders"] = json!({"user-agent": values, "x-other": ["y"]});
    let parsed = Event::parse(&event.to_string());
    assert_eq!(parsed.request.headers.len(), 64);
}

#[test]
fn multi_value_events_are_answered_in_multi_value_headers() {
    for (name, raw) in common::request_fixtures() {
        let event: Value = serde_json::from_str(&raw).unwrap();
        let non_empty = |key: &str| {
            event
                .get(key)
                .is_some_and(|h| h.as_object().is_some_and(|m| !m.is_empty()))
        };
        let (multi, single) = (non_empty("multiValueHeaders"), non_empty("headers"));
        let (handled, json) = answer(&raw);
        if multi && single {
            // A synthetic event with both maps: answer in both, which the ALB accepts in either mode.
            assert_eq!(handled.mode, HeaderMode::Unknown, "{name}");
            assert_eq!(
                json["multiValueHeaders"]["content-type"],
                json!(["text/html; charset=utf-8"]),
                "{name}"
            );
            assert_eq!(
                json["headers"]["content-type"],
                json!("text/html; charset=utf-8"),
                "{name}"
            );
        } else if multi {
            assert_eq!(handled.mode, HeaderMode::Multi, "{name}");
            assert_eq!(json["headers"], json!({}), "{name}");
            assert_eq!(
                json["multiValueHeaders"]["content-type"],
                json!(["text/html; charset=utf-8"]),
                "{name}"
            );
        } else {
            assert_eq!(handled.mode, HeaderMode::Single, "{name}");
            assert_eq!(json["multiValueHeaders"], json!({}), "{name}");
            assert!(json["headers"]["content-type"].is_string(), "{name}");
        }
    }
}

#[test]
fn odd_events_still_get_a_page() {
    let cases: &[(&str, &str, u64)] = &[
        ("empty object", "{}", 503),
        ("not an object", "[1,2,3]", 503),
        ("a string", "\"hello\"", 503),
        ("not JSON", "this is not json", 503),
        ("empty payload", "", 503),
        ("null", "null", 503),
        (
            "null fields",
            r#"{"httpMethod":null,"path":null,"headers":null,"body":null,"requestContext":null,"isBase64Encoded":null}"#,
            503,
        ),
        (
            "numbers as headers",
            r#"{"httpMethod":"GET","path":"/","headers":{"accept":5,"user-agent":true},"requestContext":{"elb":{"targetGroupArn":"x"}}}"#,
            503,
        ),
        (
            "control bytes in a header",
            "{\"httpMethod\":\"GET\",\"path\":\"/\",\"headers\":{\"accept-language\":\"ja\\u0001\",\"x\":\"\\u0000\"},\"requestContext\":{\"elb\":{}}}",
            503,
        ),
        (
            "lone surrogate",
            r#"{"httpMethod":"GET","path":"/healthz","headers":{"x":"\ud800"},"requestContext":{"elb":{}}}"#,
            200,
        ),
        (
            "API Gateway event",
            r#"{"version":"2.0","routeKey":"$default","rawPath":"/","requestContext":{"http":{"method":"GET"}}}"#,
            503,
        ),
        ("S3 event", r#"{"Records":[{"eventSource":"aws:s3"}]}"#, 503),
        (
            "weird method",
            r#"{"httpMethod":"<script>","path":"/","headers":{},"requestContext":{"elb":{}}}"#,
            503,
        ),
        (
            "relative path",
            r#"{"httpMethod":"GET","path":"healthz","headers":{},"requestContext":{"elb":{}}}"#,
            503,
        ),
        (
            "health via lenient parse",
            r#"{"httpMethod":"GET","path":"/","headers":{"user-agent":"ELB-HealthChecker/2.0","n":1},"requestContext":null}"#,
            200,
        ),
        (
            "multi-value with junk",
            r#"{"httpMethod":"GET","path":"/robots.txt","multiValueHeaders":{"accept":["text/plain",7,null],"x":"notalist"},"requestContext":{"elb":{}}}"#,
            200,
        ),
    ];
    for (what, raw, status) in cases {
        let (_, json) = answer(raw);
        assert_eq!(json["statusCode"], *status, "{what}");
    }
    let huge = format!(
        r#"{{"httpMethod":"GET","path":"/{}","headers":{{"accept":"{}"}}}}"#,
        "a".repeat(100_000),
        "b".repeat(100_000)
    );
    let (_, json) = answer(&huge);
    assert_eq!(json["statusCode"], 503);
    assert!(
        !json["body"].as_str().unwrap().contains("aaaa"),
        "the path is never echoed"
    );
}

#[test]
fn head_requests_get_headers_and_an_empty_string_body() {
    let raw = std::fs::read_to_string(common::fixture("seed-get-query.json")).unwrap();
    let mut event: Value = serde_json::from_str(&raw).unwrap();
    event["httpMethod"] = json!("HEAD");
    let (_, head) = answer(&event.to_string());
    let (_, get) = answer(&raw);
    assert_eq!(head["body"], json!(""));
    assert_eq!(head["headers"], get["headers"]);
    assert_eq!(head["statusCode"], 503);
}

#[test]
fn hostile_request_data_is_never_reflected() {
    let event = json!({
        "httpMethod": "GET",
        "path": "/<script>alert('path')</script>",
        "queryStringParameters": {"q": "<script>alert('q')</script>"},
        "headers": {
            "host": "\"><script>alert('host')</script>",
            "accept-language": "<script>",
            "x-amzn-trace-id": "Root=1-693ecb6b-09d371942facabea343507dd<script>",
            "x-forwarded-for": "<script>alert('xff')</script>"
        },
        "requestContext": {"elb": {"targetGroupArn": "<script>"}},
        "body": "", "isBase64Encoded": false
    });
    let (_, json) = answer(&event.to_string());
    let body = json["body"].as_str().unwrap();
    assert!(!body.contains("alert("), "{body}");
    assert!(!body.contains("<script"), "{body}");
    assert!(
        !body.contains("Support reference"),
        "an invalid trace id is dropped: {body}"
    );
}

/// One mutation applied to a fixture.
#[derive(Debug, Clone)]
enum Mutation {
    Remove(u32),
    Replace(u32, Value),
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("ELB-HealthChecker/2.0"),
            Just("HEAD"),
            Just("/healthz"),
            Just("/robots.txt"),
            Just("application/json;q=0.5, text/html;q=0.1"),
            Just("ja,en;q=0.1"),
            Just("\r\nX: y"),
            Just("Root=1-693ecb6b-09d371942facabea343507dd"),
            Just("text/plain"),
            Just("*/*;q=0"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z-]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<u32>().prop_map(Mutation::Remove),
        (any::<u32>(), arb_value()).prop_map(|(at, v)| Mutation::Replace(at, v)),
    ]
}

/// Every JSON pointer in a value.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

fn mutate(mut event: Value, mutations: &[Mutation]) -> Value {
    for m in mutations {
        let mut all = Vec::new();
        pointers(&event, String::new(), &mut all);
        if all.is_empty() {
            break;
        }
        match m {
            Mutation::Replace(at, v) => {
                if let Some(slot) = event.pointer_mut(&all[*at as usize % all.len()]) {
                    *slot = v.clone();
                }
            }
            Mutation::Remove(at) => {
                let p = &all[*at as usize % all.len()];
                let (parent, key) = p.rsplit_once('/').unwrap();
                let key = key.replace("~1", "/").replace("~0", "~");
                match event.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&key);
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = key.parse::<usize>()
                            && i < items.len()
                        {
                            items.remove(i);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    event
}

fn cases() -> u32 {
    std::env::var("EVENT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Over generated and mutated events (≥ 100 000 by default): no panic, and every response
    /// is contract-valid with a status the responder may send.
    #[test]
    fn generated_and_mutated_events_always_get_a_valid_response(
        which in 0usize..64,
        mutations in prop::collection::vec(arb_mutation(), 0..5),
        raw_text in ".{0,64}",
        use_raw in 0u8..16,
    ) {
        let fixtures = fixtures();
        let raw = if use_raw == 0 {
            raw_text
        } else {
            let base: Value = serde_json::from_str(&fixtures[which % fixtures.len()]).unwrap();
            mutate(base, &mutations).to_string()
        };
        let (_, json) = answer(&raw);
        let status = json["statusCode"].as_u64().unwrap();
        prop_assert!([200, 404, 500, 502, 503, 504].contains(&status), "status {status}");
        // The fast path, where it takes an event, reads it as the full parse does.
        if let Some(plain) = alb_event::Event::parse_plain(&raw) {
            prop_assert_eq!(plain, alb_event::Event::parse_full(&raw), "event: {}", raw);
        }
    }
}

/// The request fixtures' raw events, read once (this file's and `payload.rs`'s tests).
pub(crate) fn fixtures() -> &'static [String] {
    static FIXTURES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    FIXTURES.get_or_init(|| {
        common::request_fixtures()
            .into_iter()
            .map(|(_, raw)| raw)
            .collect()
    })
}

/// The content variants the kept-response property test draws from.
fn contents() -> Vec<Content> {
    use maintenance_core::content::Retry;
    use maintenance_core::content::Text;
    let mut texts = Content::default();
    texts.maintenance.insert(
        "en".into(),
        Text {
            title: "Upgrading <payments> & \"cards\"".into(),
            message: "First paragraph.\n\nSecond, with 1-00000000-000000000000000000000000 in it."
                .into(),
        },
    );
    texts.status_page = Some("https://status.example.com/".into());
    let mut until = texts.clone();
    until.retry = Some(Retry::Until(
        "2026-11-22T05:30:00Z".parse::<jiff::Timestamp>().unwrap(),
    ));
    let seconds = Content {
        retry: Some(Retry::Seconds(90)),
        ..Content::default()
    };
    // A value that holds the trace id the requests below may carry.
    let holding = Content {
        contact: Some("mailto:1-693ec9fb-4ef0a17b0db1b3fb480f31bc@example.com".into()),
        ..Content::default()
    };
    vec![Content::default(), texts, until, seconds, holding]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// A response answered from a kept rendering (`rendered::RenderedResponses`, as the Lambda
    /// answers) is byte for byte the one the core renders afresh, whatever the trace id,
    /// content, clock, method, headers and header mode; one table serves every case, so kept
    /// entries are reused across requests and content changes. The same for the decision made
    /// from kept negotiation results (`rendered::Negotiations`).
    #[test]
    fn kept_responses_are_the_responses_the_core_renders(
        which in 0usize..64,
        mutations in prop::collection::vec(arb_mutation(), 0..3),
        trace in prop_oneof![
            Just("1-693ec9fb-4ef0a17b0db1b3fb480f31bc".to_string()),
            Just("1-00000000-000000000000000000000000".to_string()),
            Just("1-ffffffff-ffffffffffffffffffffffff".to_string()),
            "1-[0-9a-f]{8}-[0-9a-f]{24}",
            "[0-9A-Za-z=;-]{0,40}",
        ],
        accept in prop::sample::select(vec!["text/html", "application/json", "text/plain", "*/*", ""]),
        language in prop::sample::select(vec!["en", "ja", "fr, ja;q=0.5", ""]),
        method in prop::sample::select(vec!["GET", "HEAD", "POST"]),
        content in 0usize..5,
        seconds in 0i64..5,
    ) {
        use maintenance_responder::lambda::alb_event::Event;
        use maintenance_responder::lambda::memo::{Negotiations, RenderedResponses};
        use maintenance_core::respond::{decide, render, select_page};
        static SITE: std::sync::OnceLock<Site> = std::sync::OnceLock::new();
        static CONTENTS: std::sync::OnceLock<Vec<std::sync::Arc<Content>>> = std::sync::OnceLock::new();
        static KEPT: std::sync::OnceLock<RenderedResponses> = std::sync::OnceLock::new();
        static NEGOTIATIONS: std::sync::OnceLock<Negotiations> = std::sync::OnceLock::new();
        let site = SITE.get_or_init(Site::embedded);
        let content = &CONTENTS.get_or_init(|| contents().into_iter().map(std::sync::Arc::new).collect())[content];
        let kept = KEPT.get_or_init(RenderedResponses::new);
        let fixtures = fixtures();
        let mut event: Value = serde_json::from_str(&fixtures[which % fixtures.len()]).unwrap();
        event = mutate(event, &mutations);
        if let Some(headers) = event.get_mut("headers").and_then(Value::as_object_mut) {
            headers.insert("x-amzn-trace-id".into(), format!("Root={trace}").into());
            headers.insert("accept".into(), accept.into());
            headers.insert("accept-language".into(), language.into());
        }
        if let Some(headers) = event.get_mut("multiValueHeaders").and_then(Value::as_object_mut) {
            headers.insert("x-amzn-trace-id".into(), json!([format!("Root={trace}")]));
            headers.insert("accept".into(), json!([accept]));
        }
        if event.is_object() {
            event["httpMethod"] = method.into();
        }
        let event = Event::parse(&event.to_string());
        let now = NOW + jiff::SignedDuration::from_secs(seconds);
        let page = select_page(&event.request, site);
        let decision = decide(&event.request, page, content, site, now);
        let negotiations = NEGOTIATIONS.get_or_init(Negotiations::new);
        prop_assert_eq!(
            &negotiations.decide(&event.request, page, content, site, now),
            &decision
        );
        let from_table = kept.response(&decision, content, site, event.mode);
        let fresh = alb_response::encode(&mut render(&decision, content, site), event.mode);
        prop_assert_eq!(from_table, fresh);
    }
}

/// The tables do keep renderings and negotiations (the property above would also pass if they
/// never did).
#[test]
fn the_lambda_keeps_renderings_of_repeated_decisions() {
    use maintctl::preview::StaticStore;
    use maintenance_responder::lambda::Function;
    let function: Function<StaticStore> = Function::new(Site::embedded(), None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let raw = std::fs::read_to_string(common::fixture("seed-get-query.json")).unwrap();
    let first = runtime.block_on(function.handle(&raw)).get().to_string();
    assert_eq!(function.rendered().len(), 1);
    assert_eq!(function.negotiations().len(), 1);
    let second = runtime.block_on(function.handle(&raw)).get().to_string();
    assert_eq!(first, second);
    assert_eq!(function.rendered().len(), 1);
    assert_eq!(function.negotiations().len(), 1);
}

/// Issue #14: the bypass link's answer keeps the ALB contract in both header modes (its
/// `Set-Cookie` in the map the target group reads), and `next` is read the same by every
/// reading of the event (fast path, typed, lenient).
#[test]
fn the_bypass_link_answer_keeps_the_contract_in_both_modes() {
    use maintenance_core::content::BypassToken;
    use maintenance_responder::lambda::alb_event::Event;
    let token = "dGVzdGVyLWxpbmstMjAyNi0xMS0yMg";
    let content = Content {
        bypass_token: Some(BypassToken::parse(token).unwrap()),
        ..Content::default()
    };
    let site = Site::embedded();
    for multi in [false, true] {
        let mut event = json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
            "httpMethod": "GET", "path": format!("/__maintenance/bypass/{token}"),
            "body": "", "isBase64Encoded": false,
        });
        let (headers, query) = if multi {
            ("multiValueHeaders", "multiValueQueryStringParameters")
        } else {
            ("headers", "queryStringParameters")
        };
        event[headers] = if multi {
            json!({"x-forwarded-proto": ["https"], "user-agent": ["Mozilla/5.0"]})
        } else {
            json!({"x-forwarded-proto": "https", "user-agent": "Mozilla/5.0"})
        };
        event[query] = if multi {
            json!({"next": ["%2Fcart", "/ignored"]})
        } else {
            json!({"next": "%2Fcart"})
        };
        let raw = event.to_string();
        let plain = Event::parse_plain(&raw).expect("an ALB-shaped event takes the fast path");
        assert_eq!(plain.request.next.as_deref(), Some("%2Fcart"));
        assert_eq!(plain, Event::parse_full(&raw));
        let mut lenient = event.clone();
        lenient["isBase64Encoded"] = json!("no"); // the typed parse refuses a non-boolean
        let lenient = Event::parse(&lenient.to_string());
        assert_eq!(lenient.parse, ParseKind::Lenient);
        assert_eq!(lenient.request.next.as_deref(), Some("%2Fcart"));

        let handled = alb_response::handle(&raw, &content, &site, NOW);
        let json = serde_json::to_string(&handled.alb).unwrap();
        check_contract(&json, handled.mode).unwrap_or_else(|v| panic!("{v}: {json}"));
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["statusCode"], 303);
        assert_eq!(value["statusDescription"], "303 See Other");
        let cookie = if multi {
            value["multiValueHeaders"]["set-cookie"][0].clone()
        } else {
            value["headers"]["set-cookie"].clone()
        };
        assert_eq!(
            cookie,
            format!("maint_bypass={token}; Path=/; Max-Age=43200; Secure; HttpOnly; SameSite=Lax")
        );
        let location = if multi {
            value["multiValueHeaders"]["location"][0].clone()
        } else {
            value["headers"]["location"].clone()
        };
        assert_eq!(location, "/cart");
        assert!(!value["body"].as_str().unwrap().contains(token));
    }
    // A wrong token: the ordinary maintenance page, nothing about a bypass.
    let raw = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
        "httpMethod": "GET", "path": "/__maintenance/bypass/dGVzdGVyLWxpbmstMjAyNi0xMS0yMx",
        "headers": {"accept": "text/html"}, "body": "", "isBase64Encoded": false,
    })
    .to_string();
    let handled = alb_response::handle(&raw, &content, &site, NOW);
    let json = serde_json::to_string(&handled.alb).unwrap();
    assert_eq!(handled.response.status, 503);
    assert!(
        !json.to_ascii_lowercase().contains("set-cookie") && !json.contains("bypass"),
        "{json}"
    );
}
