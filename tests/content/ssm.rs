//! Content from SSM Parameter Store over the wire: the layout against the moto emulator, the
//! cache's freshness window against it, and faults through real sockets (connection refused,
//! an endpoint that never answers, throttling and server errors from a loopback server that
//! speaks SSM's error shape).

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::alb::AlbTargetGroupResponse;
use aws_sdk_ssm::types::ParameterType;
use common::{FakeServer, Moto, sdk_config_for, unique};
use maintenance_core::catalog::Catalog;
use maintenance_core::content::{ContentState, FailureKind, Retry};
use maintenance_core::site::Site;
use maintenance_responder::aws::lambda_ssm_client;
use maintenance_responder::content_cache::{CacheSettings, ContentCache, Refresh};
use maintenance_responder::lambda::{Function, FunctionSettings};
use maintenance_responder::ssm::{FetchError, ParameterStore};
use tokio::time::Instant;

async fn moto_client() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&Moto::shared().sdk_config().await)
}

async fn put(client: &aws_sdk_ssm::Client, name: &str, value: &str, kind: ParameterType) {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {name}: {e:?}"));
}

fn catalog() -> Arc<Catalog> {
    Arc::new(Catalog::embedded())
}

fn settings() -> CacheSettings {
    // Generous budgets: moto loads its SSM backend lazily (about a second on the first call,
    // more on a loaded machine), and these tests are about the content, not the budget.
    CacheSettings {
        init_budget: Duration::from_secs(15),
        refresh_budget: Duration::from_secs(15),
        ..CacheSettings::default()
    }
}

#[tokio::test]
async fn layout_is_read_in_one_pass_with_pagination_decryption_and_per_value_validation() {
    let client = moto_client().await;
    let prefix = format!("/maintenance/{}", unique("layout"));
    put(
        &client,
        &format!("{prefix}/en/title"),
        "Database upgrade",
        ParameterType::String,
    )
    .await;
    put(
        &client,
        &format!("{prefix}/en/message"),
        "We are upgrading.\n\nBack soon.",
        ParameterType::SecureString,
    )
    .await;
    put(
        &client,
        &format!("{prefix}/ja/title"),
        "データベース更新中",
        ParameterType::String,
    )
    .await;
    put(
        &client,
        &format!("{prefix}/retry-after"),
        "1800",
        ParameterType::String,
    )
    .await;
    put(
        &client,
        &format!("{prefix}/links/status-page"),
        "https://status.example.com",
        ParameterType::String,
    )
    .await;
    put(
        &client,
        &format!("{prefix}/links/contact"),
        "mailto:help@example.com",
        ParameterType::String,
    )
    .await;
    put(
        &client,
        &format!("{prefix}/ja/message"),
        &"長".repeat(3000),
        ParameterType::String,
    )
    .await;
    put(
        &client,
        &format!("{prefix}/fr/title"),
        "Maintenance",
        ParameterType::String,
    )
    .await;
    // More than 10 parameters in all, so the read must follow NextToken.
    for i in 0..8 {
        put(
            &client,
            &format!("{prefix}/extra/unused-{i}"),
            "x",
            ParameterType::String,
        )
        .await;
    }
    let params = client.parameters_by_path(&prefix).await.expect("read");
    assert_eq!(params.len(), 16, "every page read");
    let (content, warnings) = maintenance_responder::ssm::content_from_parameters(
        &prefix,
        &params,
        &catalog(),
        jiff::Timestamp::now(),
    );
    assert_eq!(content.maintenance["en"].title, "Database upgrade");
    assert_eq!(
        content.maintenance["en"].message, "We are upgrading.\n\nBack soon.",
        "SecureString decrypted"
    );
    assert_eq!(content.maintenance["ja"].title, "データベース更新中");
    assert_eq!(content.retry, Some(Retry::Seconds(1800)));
    assert_eq!(
        content.status_page.as_deref(),
        Some("https://status.example.com")
    );
    assert_eq!(content.contact.as_deref(), Some("mailto:help@example.com"));
    let ignored: Vec<_> = warnings
        .iter()
        .map(|w| w.parameter.trim_start_matches(&prefix))
        .collect();
    assert!(ignored.contains(&"/ja/message"), "{ignored:?}");
    assert!(ignored.contains(&"/fr/title"), "{ignored:?}");
    assert_eq!(ignored.len(), 10, "{ignored:?}");
}

#[tokio::test]
async fn missing_parameters_mean_built_in_texts() {
    let client = moto_client().await;
    let prefix = format!("/maintenance/{}", unique("empty"));
    let cache = ContentCache::new(client, prefix, catalog(), settings());
    // An empty (or mistyped) prefix is said, not passed over (issue #16, item 8; this line
    // used to expect no warning at all).
    let Refresh::Fetched(warnings) = cache.init(Instant::now()).await else {
        panic!("SSM answered");
    };
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .problem
            .contains("no parameter under this prefix")
    );
    let content = cache.peek(Instant::now()).await;
    assert!(content.maintenance.is_empty());
    assert!(matches!(
        content.state,
        ContentState::Fresh { parameters: 0, .. }
    ));
}

#[tokio::test]
async fn a_change_in_ssm_shows_within_one_freshness_window_and_not_before() {
    let client = moto_client().await;
    let prefix = format!("/maintenance/{}", unique("window"));
    put(
        &client,
        &format!("{prefix}/en/title"),
        "First",
        ParameterType::String,
    )
    .await;
    let cache = ContentCache::new(client.clone(), prefix.clone(), catalog(), settings());
    let t0 = Instant::now();
    cache.init(t0).await;
    put(
        &client,
        &format!("{prefix}/en/title"),
        "Second",
        ParameterType::String,
    )
    .await;
    let (inside, refresh) = cache.get(t0 + Duration::from_secs(29)).await;
    assert_eq!(refresh, None);
    assert_eq!(inside.maintenance["en"].title, "First");
    let (after, refresh) = cache.get(t0 + Duration::from_secs(30)).await;
    assert!(matches!(refresh, Some(Refresh::Fetched(_))));
    assert_eq!(after.maintenance["en"].title, "Second");
    assert_eq!(cache.calls(), 2);
}

/// The figure the issue asks for: SSM calls over 10 000 invocations spread over 95 s of a
/// controlled clock, with the default 30 s window, counted at the (loopback) server.
#[tokio::test]
async fn ssm_calls_over_10000_invocations_are_one_per_window() {
    let server = FakeServer::start(|_, _| {
        Some((
            200,
            r#"{"Parameters":[{"Name":"/p/en/title","Value":"Hi","Type":"String"}]}"#.into(),
        ))
    })
    .await;
    let client = lambda_ssm_client(
        (&sdk_config_for(&server.endpoint).await).into(),
        &settings(),
    );
    let cache = ContentCache::new(
        client,
        "/p".into(),
        catalog(),
        CacheSettings {
            ttl: Duration::from_secs(30),
            ..settings()
        },
    );
    let t0 = Instant::now();
    cache.init(t0).await;
    for i in 0..10_000u64 {
        let at = t0 + Duration::from_millis(i * 95_000 / 10_000);
        let (content, _) = cache.get(at).await;
        assert_eq!(content.maintenance["en"].title, "Hi");
    }
    println!(
        "ssm calls over 10000 invocations across 95 s (30 s window): {} (server saw {})",
        cache.calls(),
        server.hits()
    );
    // init at 0 s, then one refresh each at >= 30 s, >= 60 s, >= 90 s
    assert_eq!(server.hits(), 4);
    assert_eq!(cache.calls(), 4);
}

#[tokio::test]
async fn connection_refused_serves_defaults_then_the_page() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = lambda_ssm_client((&sdk_config_for(&endpoint).await).into(), &settings());
    let cache = ContentCache::new(client, "/p".into(), catalog(), settings());
    let refresh = cache.init(Instant::now()).await;
    assert!(
        matches!(refresh, Refresh::Failed(FetchError::Unreachable(_))),
        "{refresh:?}"
    );
    assert_eq!(
        cache.peek(Instant::now()).await.state,
        ContentState::Unreached {
            failures: 1,
            last: FailureKind::Unreachable
        }
    );
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_cut_at_the_budget_and_the_page_still_arrives() {
    let server = FakeServer::start(|_, _| None).await;
    let budget = Duration::from_millis(200);
    let cache_settings = CacheSettings {
        init_budget: budget,
        refresh_budget: Duration::from_millis(100),
        ..CacheSettings::default()
    };
    let client = lambda_ssm_client(
        (&sdk_config_for(&server.endpoint).await).into(),
        &cache_settings,
    );
    let function = Function::with_store(
        Site::embedded(),
        &FunctionSettings {
            ssm_prefix: Some("/p".into()),
            cache: cache_settings,
        },
        Some(client),
    );
    let started = std::time::Instant::now();
    function.init().await;
    let init = started.elapsed();
    let raw = std::fs::read_to_string(common::fixture("seed-get-query.json")).unwrap();
    let response: AlbTargetGroupResponse =
        serde_json::from_str(function.handle(&raw).await.get()).unwrap();
    let total = started.elapsed();
    println!(
        "hanging ssm: init took {init:?}, init + first response {total:?} (init budget {budget:?}, refresh budget 100 ms)"
    );
    assert_eq!(response.status_code, 503);
    assert!(init >= budget, "the budget is used, not skipped: {init:?}");
    // The first request is inside the back-off window, so it does not wait again.
    assert!(total < budget + Duration::from_millis(400), "{total:?}");
    assert_eq!(
        server.hits(),
        1,
        "no second attempt inside the back-off window"
    );
}

#[tokio::test]
async fn throttling_and_server_errors_keep_the_last_good_content_and_back_off() {
    let good = r#"{"Parameters":[{"Name":"/p/en/title","Value":"From SSM","Type":"String"}]}"#;
    let server = FakeServer::start(move |n, _| match n {
        0 => Some((200, good.into())),
        1 => Some((
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
        )),
        2 => Some((
            500,
            r#"{"__type":"InternalServerError","message":"boom"}"#.into(),
        )),
        3 => Some((200, "{\"Parameters\": [ this is not json".into())),
        _ => Some((200, good.replace("From SSM", "Recovered"))),
    })
    .await;
    let client = lambda_ssm_client(
        (&sdk_config_for(&server.endpoint).await).into(),
        &settings(),
    );
    let cache = ContentCache::new(client, "/p".into(), catalog(), settings());
    let t0 = Instant::now();
    assert!(matches!(cache.init(t0).await, Refresh::Fetched(_)));
    let at = |s: u64| t0 + Duration::from_secs(s);

    let (content, refresh) = cache.get(at(30)).await;
    assert!(
        matches!(refresh, Some(Refresh::Failed(FetchError::Throttled(_)))),
        "{refresh:?}"
    );
    assert_eq!(content.maintenance["en"].title, "From SSM");
    assert_eq!(
        content.state,
        ContentState::Stale {
            age_seconds: 30,
            parameters: 1,
            failures: 1,
            last: FailureKind::Throttled
        }
    );
    // backing off: 30 s after the first failure
    for s in 31..60 {
        assert_eq!(cache.get(at(s)).await.1, None);
    }
    let (content, refresh) = cache.get(at(60)).await;
    assert!(
        matches!(refresh, Some(Refresh::Failed(FetchError::Service(_)))),
        "{refresh:?}"
    );
    assert_eq!(content.maintenance["en"].title, "From SSM");
    // 60 s after the second failure
    assert_eq!(cache.get(at(119)).await.1, None);
    let (content, refresh) = cache.get(at(120)).await;
    assert!(
        matches!(refresh, Some(Refresh::Failed(_))),
        "garbage answer: {refresh:?}"
    );
    assert_eq!(content.maintenance["en"].title, "From SSM");
    // 120 s after the third failure
    let (content, refresh) = cache.get(at(240)).await;
    assert!(matches!(refresh, Some(Refresh::Fetched(_))), "{refresh:?}");
    assert_eq!(content.maintenance["en"].title, "Recovered");
    assert_eq!(
        server.hits(),
        5,
        "one request per attempt: the SDK does not retry on its own"
    );
}

#[tokio::test]
async fn hostile_values_in_ssm_are_harmless_on_every_format() {
    let client = moto_client().await;
    let prefix = format!("/maintenance/{}", unique("hostile"));
    put(
        &client,
        &format!("{prefix}/en/title"),
        "<img src=x onerror=alert(1)>",
        ParameterType::String,
    )
    .await;
    put(
        &client,
        &format!("{prefix}/en/message"),
        "</p><script>alert(2)</script>\u{202e}",
        ParameterType::String,
    )
    .await;
    put(
        &client,
        &format!("{prefix}/links/status-page"),
        "https://x.example/\"><script>",
        ParameterType::String,
    )
    .await;
    put(
        &client,
        &format!("{prefix}/retry-after"),
        "Thu, 01 Jan 2099 00:00:00 GMT\r\nSet-Cookie: a=b",
        ParameterType::String,
    )
    .await;
    let function = Function::with_store(
        Site::embedded(),
        &FunctionSettings {
            ssm_prefix: Some(prefix.clone()),
            cache: settings(),
        },
        Some(client),
    );
    function.init().await;
    for accept in ["text/html", "application/json", "text/plain"] {
        let event = serde_json::json!({
            "httpMethod": "GET", "path": "/", "headers": {"accept": accept},
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
            "body": "", "isBase64Encoded": false
        });
        let json = function.handle(&event.to_string()).await.get().to_string();
        let response: AlbTargetGroupResponse = serde_json::from_str(&json).unwrap();
        maintenance_responder::lambda::alb_response::check_contract(
            &json,
            maintenance_responder::lambda::alb_event::HeaderMode::Single,
        )
        .unwrap();
        let body = match &response.body {
            Some(aws_lambda_events::encodings::Body::Text(t)) => t.clone(),
            other => panic!("{other:?}"),
        };
        if accept == "text/html" {
            assert!(
                !body.contains("<script") && !body.contains("<img"),
                "{body}"
            );
        }
        assert!(
            !body.contains("\"><script>"),
            "the bad link is dropped: {body}"
        );
        let retry = response
            .headers
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(retry, "300", "the bad retry value is ignored");
    }
}
