//! The local preview against the Lambda's own path: `preview::serve` started in-process on port
//! 0 must answer every ALB fixture (tests/fixtures/alb) exactly as `Function::handle` answers the event, the
//! events it builds must match the ALB's, and the real `maintctl serve` / `maintctl preview`
//! binaries must work with no AWS account and no files (and with a content file or SSM).

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use maintctl::preview::{self, Answer, Origin, ServeOptions, Source, StaticStore};
use maintenance_core::page_kind::PageKind;
use maintenance_core::respond::negotiate::Format;
use maintenance_core::site::Site;
use maintenance_responder::lambda::Function;
use maintenance_responder::lambda::alb_event::HeaderMode;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// An HTTP response as a client saw it.
#[derive(Debug)]
struct Http {
    status: u16,
    /// Lower-case names, in wire order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Http {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one HTTP/1.1 request on a new connection.
async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Http {
    let stream = TcpStream::connect(addr)
        .await
        .expect("connect to the preview server");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("http handshake");
    tokio::spawn(connection);
    let mut request = hyper::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = sender
        .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap_or_else(|e| panic!("{method} {target}: {e}"));
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Http {
        status,
        headers,
        body,
    }
}

async fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Http {
    let headers: Vec<_> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    send(addr, "GET", target, &headers, Vec::new()).await
}

/// A preview server running in this process.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(mode: HeaderMode) -> Self {
        let loaded = preview::load(Site::embedded(), Source::Embedded)
            .await
            .expect("embedded content");
        Self::start_with(loaded.function, mode).await
    }

    async fn start_with(
        function: Function<preview::Store>,
        options: impl Into<ServeOptions>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(preview::serve(
            listener,
            shutdown,
            Arc::new(function),
            options.into(),
        ));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .expect("serve returns promptly after shutdown")
            .unwrap()
            .unwrap();
    }
}

/// The fixture's header mode: multi-value when it carries `multiValueHeaders`.
fn fixture_mode(event: &Value) -> HeaderMode {
    if event
        .get("multiValueHeaders")
        .is_some_and(|m| m.as_object().is_some_and(|m| !m.is_empty()))
    {
        HeaderMode::Multi
    } else {
        HeaderMode::Single
    }
}

/// `(name, value)` pairs of a fixture's header or query map in its mode.
fn pairs(event: &Value, single: &str, multi: &str, mode: HeaderMode) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let key = if mode == HeaderMode::Multi {
        multi
    } else {
        single
    };
    for (name, value) in event
        .get(key)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        match value {
            Value::Array(values) => out.extend(
                values
                    .iter()
                    .map(|v| (name.clone(), v.as_str().unwrap().to_string())),
            ),
            Value::String(v) => out.push((name.clone(), v.clone())),
            _ => panic!("{key}.{name}: unexpected {value}"),
        }
    }
    out
}

/// The HTTP request a client made for this event: method, request target, headers, body.
fn request_for(event: &Value) -> (String, String, Vec<(String, String)>, Vec<u8>) {
    let mode = fixture_mode(event);
    let query: Vec<String> = pairs(
        event,
        "queryStringParameters",
        "multiValueQueryStringParameters",
        mode,
    )
    .into_iter()
    .map(|(k, v)| format!("{k}={v}"))
    .collect();
    let mut target = event["path"].as_str().unwrap().to_string();
    if !query.is_empty() {
        target = format!("{target}?{}", query.join("&"));
    }
    let headers = pairs(event, "headers", "multiValueHeaders", mode);
    let body = event["body"].as_str().unwrap_or("");
    let body = if event["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    } else {
        body.as_bytes().to_vec()
    };
    (
        event["httpMethod"].as_str().unwrap().to_string(),
        target,
        headers,
        body,
    )
}

/// Replaces X-Ray roots (`1-` 8 hex `-` 24 hex) with a placeholder.
fn without_trace_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let is_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let candidate = bytes.get(i..i + 35);
        if let Some(c) = candidate
            && c.starts_with(b"1-")
            && c[10] == b'-'
            && c[2..10].iter().all(is_hex)
            && c[11..].iter().all(is_hex)
        {
            out.push_str("1-TRACE");
            i += 35;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Every ALB fixture, sent over HTTP/1.1 to `preview::serve` in the fixture's header mode,
/// gets the status, headers and body that `Function::handle` returns to the ALB for the event.
#[tokio::test]
async fn serve_answers_every_fixture_as_the_lambda_answers_the_alb() {
    let lambda: Function<StaticStore> = Function::new(Site::embedded(), None);
    let single = Server::start(HeaderMode::Single).await;
    let multi = Server::start(HeaderMode::Multi).await;
    for (name, raw) in common::request_fixtures() {
        let event: Value = serde_json::from_str(&raw).unwrap();
        let mode = fixture_mode(&event);
        let alb: aws_lambda_events::alb::AlbTargetGroupResponse =
            serde_json::from_str(lambda.handle(&raw).await.get()).unwrap();
        let map = if mode == HeaderMode::Multi {
            &alb.multi_value_headers
        } else {
            &alb.headers
        };
        let mut expected_headers: Vec<(String, String)> = map
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let expected_body = match &alb.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => text.clone(),
            other => panic!("{name}: unexpected body {other:?}"),
        };
        assert!(!alb.is_base64_encoded, "{name}");

        let (method, target, headers, body) = request_for(&event);
        let server = if mode == HeaderMode::Multi {
            &multi
        } else {
            &single
        };
        let http = send(server.addr, &method, &target, &headers, body).await;
        let mut got_headers: Vec<(String, String)> = http
            .headers
            .iter()
            .filter(|(n, _)| n != "date" && n != "content-length")
            .cloned()
            .collect();
        expected_headers.sort();
        got_headers.sort();

        assert_eq!(i64::from(http.status), alb.status_code, "{name}: status");
        assert_eq!(got_headers, expected_headers, "{name}: headers");
        let has_trace = headers.iter().any(|(n, _)| n == "x-amzn-trace-id");
        if has_trace {
            // The fixture's trace id was sent along, so even the support reference is identical.
            assert_eq!(http.text(), expected_body, "{name}: body");
        } else {
            assert_eq!(
                without_trace_ids(&http.text()),
                without_trace_ids(&expected_body),
                "{name}: body"
            );
        }
        assert_eq!(
            http.header("content-length"),
            Some(expected_body.len().to_string().as_str()),
            "{name}"
        );
    }
    single.stop().await;
    multi.stop().await;
}

/// The event `alb_event` builds for a fixture's request equals the fixture: the preview sends
/// the function what the ALB sent it.
#[test]
fn events_match_the_albs() {
    for (name, raw) in common::request_fixtures() {
        let fixture: Value = serde_json::from_str(&raw).unwrap();
        let mode = fixture_mode(&fixture);
        let (method, target, mut headers, body) = request_for(&fixture);
        // What the client sent before the ALB added its headers: X-Forwarded-For without the
        // last hop (the client address), and no X-Forwarded-Port/-Proto.
        let mut client: IpAddr = "203.0.113.9".parse().unwrap();
        let mut port = 80;
        headers.retain(|(n, v)| match n.as_str() {
            "x-forwarded-port" => {
                port = v.parse().unwrap();
                false
            }
            "x-forwarded-proto" => false,
            _ => true,
        });
        for (n, v) in &mut headers {
            if n == "x-forwarded-for" {
                let (rest, last) = v
                    .rsplit_once(", ")
                    .map_or((None, v.as_str()), |(r, l)| (Some(r.to_string()), l));
                client = last.trim().parse().unwrap();
                *v = rest.unwrap_or_default();
            }
        }
        headers.retain(|(n, v)| n != "x-forwarded-for" || !v.is_empty());
        let mut request = hyper::Request::builder()
            .method(method.as_str())
            .uri(target.as_str());
        for (n, v) in &headers {
            request = request.header(n.as_str(), v.as_str());
        }
        let (parts, ()) = request.body(()).unwrap().into_parts();
        let origin = Origin {
            client,
            port,
            mode,
            target_group_arn: fixture["requestContext"]["elb"]["targetGroupArn"]
                .as_str()
                .unwrap()
                .into(),
        };
        let event = preview::alb_event(&parts, &body, &origin);

        for key in ["httpMethod", "path", "requestContext"] {
            assert_eq!(event[key], fixture[key], "{name}: {key}");
        }
        let (query_key, header_key) = match mode {
            HeaderMode::Multi => ("multiValueQueryStringParameters", "multiValueHeaders"),
            _ => ("queryStringParameters", "headers"),
        };
        let fixture_query = fixture
            .get(query_key)
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        assert_eq!(event[query_key], fixture_query, "{name}: {query_key}");
        let fixture_headers = fixture[header_key].as_object().unwrap();
        let event_headers = event[header_key].as_object().unwrap();
        for (n, v) in fixture_headers {
            if n == "x-forwarded-proto" {
                continue; // the preview listens on plain HTTP; some fixtures came through HTTPS
            }
            assert_eq!(event_headers.get(n), Some(v), "{name}: header {n}");
        }
        // Health-check events carry only the user agent; the preview adds what an ALB adds to a
        // client's request, nothing else.
        for n in event_headers
            .keys()
            .filter(|n| !fixture_headers.contains_key(*n))
        {
            assert!(
                [
                    "x-forwarded-for",
                    "x-forwarded-port",
                    "x-forwarded-proto",
                    "x-amzn-trace-id"
                ]
                .contains(&n.as_str()),
                "{name}: unexpected header {n}"
            );
        }
        // A body without Content-Type is base64 under the ALB's rules; the one fixture with such
        // a body (hand-written upstream) says otherwise, so it is left out of this comparison.
        if fixture_headers.contains_key("content-type") || body.is_empty() {
            assert_eq!(
                event["body"],
                fixture.get("body").cloned().unwrap_or(Value::from("")),
                "{name}: body"
            );
            assert_eq!(
                event["isBase64Encoded"], fixture["isBase64Encoded"],
                "{name}: isBase64Encoded"
            );
        }
        assert_eq!(
            event.get("headers").is_some(),
            mode != HeaderMode::Multi,
            "{name}: one header map per mode"
        );
    }
}

/// In single-value mode the ALB passes the last of repeated headers, in multi-value mode all of
/// them, and the answer differs accordingly.
#[tokio::test]
async fn header_modes_differ_as_on_the_alb() {
    let headers = [("accept-language", "ja"), ("accept-language", "en")];
    for (mode, expected) in [(HeaderMode::Single, "en"), (HeaderMode::Multi, "ja")] {
        let server = Server::start(mode).await;
        let http = get(server.addr, "/", &headers).await;
        assert_eq!(http.status, 503, "{mode:?}");
        assert_eq!(http.header("content-language"), Some(expected), "{mode:?}");
        server.stop().await;
    }
}

/// The index links every page kind × language × format, and each link answers that page.
#[tokio::test]
async fn index_links_every_page_and_the_links_force_it() {
    let server = Server::start(HeaderMode::Single).await;
    let site = Site::embedded();
    let index = get(server.addr, preview::INDEX_PATH, &[]).await;
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        index
            .header("content-security-policy")
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let html = index.text();
    for kind in PageKind::PAGES {
        for lang in &site.languages {
            let pack = site.catalog.pack(lang).unwrap();
            for format in Format::ALL {
                let link = format!(
                    "{}?kind={}&amp;lang={lang}&amp;format={}",
                    preview::PAGE_PATH,
                    kind.name(),
                    format.name()
                );
                assert!(html.contains(&link), "index lacks {link}");
                let target = link.replace("&amp;", "&");
                let page = get(
                    server.addr,
                    &target,
                    &[("accept", "text/html"), ("accept-language", "en")],
                )
                .await;
                assert_eq!(page.status, kind.status(), "{target}");
                assert_eq!(
                    page.header("content-language"),
                    Some(lang.as_str()),
                    "{target}"
                );
                assert_eq!(
                    page.header("content-type"),
                    Some(format.content_type()),
                    "{target}"
                );
                let title = &pack.text(kind).title;
                let body = page.text();
                match format {
                    Format::Json | Format::PlainJson => {
                        let json: Value = serde_json::from_str(&body).unwrap();
                        assert_eq!(json["title"], title.as_str(), "{target}");
                    }
                    // HTML escapes the apostrophe in "We'll"; compare the text before it.
                    _ => assert!(
                        body.contains(title.split('\'').next().unwrap()),
                        "{target}: {body}"
                    ),
                }
            }
        }
    }
    for bad in ["kind=teapot", "kind=health", "lang=xx", "format=xml"] {
        let page = get(server.addr, &format!("{}?{bad}", preview::PAGE_PATH), &[]).await;
        assert_eq!(page.status, 400, "{bad}");
    }
    assert_eq!(
        get(server.addr, "/__preview/nothing", &[]).await.status,
        404
    );
    server.stop().await;
}

/// ALB behaviour the preview reproduces at its edge: 413 over 1 MB, 405 for TRACE, and the
/// header map of the other mode is ignored (so the response breaks the contract: 502).
#[tokio::test]
async fn alb_edge_behaviour() {
    let server = Server::start(HeaderMode::Single).await;
    let big = vec![b'x'; preview::MAX_REQUEST_BODY + 1];
    let http = send(
        server.addr,
        "POST",
        "/",
        &[("content-type".into(), "text/plain".into())],
        big,
    )
    .await;
    assert_eq!(http.status, 413);
    let http = send(server.addr, "TRACE", "/", &[], Vec::new()).await;
    assert_eq!(http.status, 405);
    let http = send(
        server.addr,
        "POST",
        "/orders",
        &[("content-type".into(), "application/json".into())],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(http.status, 503);
    server.stop().await;

    let only_multi = r#"{"statusCode":503,"statusDescription":"503 Service Unavailable","isBase64Encoded":false,
        "headers":{},"multiValueHeaders":{"content-type":["text/plain"]},"body":"x"}"#;
    assert!(Answer::from_alb_json(only_multi, HeaderMode::Single).is_err());
    let answer = Answer::from_alb_json(only_multi, HeaderMode::Multi).unwrap();
    assert_eq!(answer.header("content-type"), Some("text/plain"));
    let null_body = r#"{"statusCode":200,"statusDescription":"200 OK","isBase64Encoded":false,"headers":{"content-type":"text/plain"},"body":null}"#;
    assert!(Answer::from_alb_json(null_body, HeaderMode::Single).is_err());
    let binary = r#"{"statusCode":200,"statusDescription":"200 OK","isBase64Encoded":true,"headers":{"content-type":"image/png","connection":"close"},"body":"AAEC"}"#;
    let answer = Answer::from_alb_json(binary, HeaderMode::Single).unwrap();
    assert_eq!(answer.body, [0, 1, 2]);
    assert_eq!(
        answer.header("connection"),
        None,
        "hop-by-hop headers are the ALB's"
    );
}

/// Shutdown stops accepting, lets a request in flight finish, and closes idle connections.
#[tokio::test]
async fn shutdown_is_graceful() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start(HeaderMode::Single).await;
    let addr = server.addr;
    // An idle keep-alive connection, and a request whose body is still arriving.
    let idle = send(addr, "GET", "/healthz", &[], Vec::new()).await;
    assert_eq!(idle.status, 200);
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\nhello")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Server { stop, task, .. } = server;
    stop.unwrap().send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
    slow.write_all(b"world").await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut response))
        .await
        .expect("the in-flight request is answered and the connection closed")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
}

/// The content of a file goes through the SSM validation: bad values are ignored by name,
/// good ones are served.
#[tokio::test]
async fn content_file_is_validated_like_ssm() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("content.toml");
    // An end time two days ahead (at most a week is accepted).
    let end = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 2)).to_string();
    std::fs::write(
        &file,
        format!("retry-after = \"{end}\"\n[links]\ncontact = \"javascript:alert(1)\"\n[en]\ntitle = \"Database <upgrade>\"\n[de]\ntitle = \"Wartung\"\n"),
    )
    .unwrap();
    let loaded = preview::load(Site::embedded(), Source::File(file.clone()))
        .await
        .unwrap();
    let ignored: Vec<_> = loaded
        .warnings
        .iter()
        .map(|w| w.parameter.as_str())
        .collect();
    assert_eq!(
        ignored,
        ["/preview/de/title", "/preview/links/contact"],
        "{:?}",
        loaded.warnings
    );
    let server = Server::start_with(loaded.function, HeaderMode::Single).await;
    let page = get(server.addr, "/", &[("accept", "text/html")]).await;
    assert!(
        page.text().contains("Database &#60;upgrade&#62;"),
        "{}",
        page.text()
    );
    assert!(!page.text().contains("javascript:"));
    // An edit shows once the file's short cache window has passed.
    std::fs::write(&file, "[en]\ntitle = \"Edited title\"\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let page = get(server.addr, "/", &[("accept", "text/plain")]).await;
    assert!(
        page.text().starts_with("503 Edited title"),
        "{}",
        page.text()
    );
    server.stop().await;

    let missing = preview::load(Site::embedded(), Source::File(dir.path().join("nope.toml"))).await;
    assert!(missing.unwrap_err().to_string().contains("nope.toml"));
    std::fs::write(&file, "[en]\ntitle = true\n").unwrap();
    let bad = preview::load(Site::embedded(), Source::File(file))
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("en.title"), "{bad}");
}

/// Text from outside reaches the index and the gallery's index.html as text: a content file
/// whose path holds markup and both quotes, and a health path (valid configuration) likewise.
#[tokio::test]
async fn index_and_gallery_escape_the_content_path_and_the_health_path() {
    let hostile = "\"'><script>alert(1)</script>";
    let escaped = "&#34;&#39;&#62;&#60;script&#62;alert(1)&#60;/script&#62;";
    let dir = tempfile::tempdir().unwrap();
    // `</script>` makes `"'><script>alert(1)<` a directory.
    let file = dir.path().join(format!("{hostile}.toml"));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "[en]\ntitle = \"Hostile path\"\n").unwrap();
    let config = "health_path = \"/\\\"'><script>alert(1)</script>\"\n";
    let site = Site::from_env_strict(&|_: &str| None, Some(config)).unwrap();
    assert_eq!(site.config.health_path, format!("/{hostile}"));
    let loaded = preview::load(site, Source::File(file)).await.unwrap();
    let options = ServeOptions {
        mode: HeaderMode::Single,
        source: loaded.source.clone(),
    };
    let out = dir.path().join("gallery");
    preview::write_gallery(&loaded.function, &out, &options)
        .await
        .unwrap();
    let gallery = read(&out.join("index.html"));
    let server = Server::start_with(loaded.function, options).await;
    let index = get(server.addr, preview::INDEX_PATH, &[]).await;
    assert_eq!(index.status, 200);
    let index = index.text();
    server.stop().await;
    let source = format!("Content: file {}/{escaped}.toml. ", dir.path().display());
    for (page, html, health) in [
        (
            "index",
            &index,
            format!("<a href=\"/{escaped}\">/{escaped}</a>"),
        ),
        (
            "gallery",
            &gallery,
            format!("<li><code>/{escaped}</code> ("),
        ),
    ] {
        assert!(!html.contains("<script"), "{page}: {html}");
        assert!(!html.contains(hostile), "{page}: {html}");
        assert!(html.contains(&source), "{page} lacks {source}: {html}");
        assert!(html.contains(&health), "{page} lacks {health}: {html}");
    }
}

// ---------------------------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------------------------

fn maintctl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_maintctl"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // No AWS account: nothing may be read from the developer's own configuration.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("MAINTENANCE_CONFIG");
    command
}

/// `maintctl serve` started on a free port; stopped with SIGINT (Ctrl-C) when dropped.
struct Serve {
    child: Child,
    addr: SocketAddr,
    stdout: BufReader<ChildStdout>,
}

impl Serve {
    fn start(args: &[&str]) -> Self {
        let mut child = maintctl()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start maintctl serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        // maintctl serve: http://127.0.0.1:PORT/ (index: http://127.0.0.1:PORT/__preview/)
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        assert!(
            line.contains("(index: http://") && line.contains(preview::INDEX_PATH),
            "{line}"
        );
        Self {
            child,
            addr,
            stdout,
        }
    }

    /// Sends SIGINT, as Ctrl-C does, and returns the exit status and the rest of stdout.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-s", "INT", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut rest = String::new();
                self.stdout.read_to_string(&mut rest).unwrap();
                return (status, rest);
            }
            assert!(
                Instant::now() < deadline,
                "maintctl serve did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The README's first command: with no AWS account and no files, `maintctl serve` serves the
/// maintenance page, the health route and the index, and stops cleanly on Ctrl-C.
#[tokio::test]
async fn maintctl_serve_runs_with_nothing_configured() {
    let serve = Serve::start(&[]);
    let page = get(serve.addr, "/", &[("accept", "text/html")]).await;
    assert_eq!(page.status, 503);
    // The default 300 s, spread for the request's trace id by at most 30 s (issue #24; this line
    // expected 300).
    let retry: u64 = page.header("retry-after").unwrap().parse().unwrap();
    assert!((300..=330).contains(&retry), "{retry}");
    assert!(page.text().contains("<html lang='en'>"));
    let health = get(serve.addr, "/healthz", &[]).await;
    assert_eq!(health.status, 200);
    assert_eq!(
        health.text(),
        "ok\ncontent: defaults (no SSM prefix configured)\n"
    );
    let index = get(serve.addr, preview::INDEX_PATH, &[]).await;
    assert_eq!(index.status, 200);
    assert!(index.text().contains("embedded defaults") && index.text().contains("single-value"));
    assert!(
        index
            .text()
            .contains("kind=gateway-timeout&amp;lang=ja&amp;format=json")
    );
    let (status, rest) = serve.interrupt();
    assert!(status.success(), "{status:?}");
    assert!(rest.contains("stopped"), "{rest}");
}

#[tokio::test]
async fn maintctl_serve_with_the_example_content_and_multi_value_events() {
    let serve = Serve::start(&["--content", "config/content.example.toml", "--multi-value"]);
    let page = get(
        serve.addr,
        "/",
        &[("accept-language", "ja"), ("accept-language", "en")],
    )
    .await;
    assert_eq!(page.status, 503);
    assert_eq!(
        page.header("content-language"),
        Some("ja"),
        "multi-value events carry both values"
    );
    assert!(
        page.text().contains("計画メンテナンスのお知らせ"),
        "{}",
        page.text()
    );
    let page = get(serve.addr, "/", &[("accept-language", "en")]).await;
    assert!(
        page.text()
            .contains("Scheduled maintenance: checkout upgrade")
    );
    assert!(page.text().contains("https://status.example.com/"));
    // The example's 1800 s, spread by at most 120 s (issue #24; this line expected 1800).
    let retry: u64 = page.header("retry-after").unwrap().parse().unwrap();
    assert!((1800..=1920).contains(&retry), "{retry}");
    let index = get(serve.addr, preview::INDEX_PATH, &[]).await;
    assert!(index.text().contains("multi-value"));
    assert!(index.text().contains("content.example.toml"));
}

#[test]
fn maintctl_serve_refuses_bad_input_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[en]\ntitle = 3.5\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--content", bad.to_str().unwrap()], "en.title"),
        (
            &["--content", "/nonexistent/content.toml"],
            "/nonexistent/content.toml",
        ),
        (&["--from-ssm", "not-a-prefix"], "not-a-prefix"),
        (&["--listen", "nonsense"], "nonsense"),
    ];
    for (args, needle) in cases {
        let output = maintctl().arg("serve").args(*args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `maintctl preview --out DIR` writes every page kind × language × format, each with its
/// response head, the health and robots routes, and an index linking them all.
#[test]
fn maintctl_preview_writes_the_gallery() {
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("gallery");
    let output = maintctl()
        .args([
            "preview",
            "--out",
            out.to_str().unwrap(),
            "--content",
            "config/content.example.toml",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let site = Site::embedded();
    let index = read(&out.join("index.html"));
    let mut expected = 1;
    for kind in PageKind::PAGES {
        for lang in &site.languages {
            for format in Format::ALL {
                let name = format!("{}.{lang}.{}", kind.name(), preview::extension(format));
                let body = read(&out.join(&name));
                let head = read(&out.join(format!("{name}.headers.txt")));
                assert!(
                    head.starts_with(&format!("HTTP/1.1 {} ", kind.status())),
                    "{name}: {head}"
                );
                assert!(
                    head.contains(&format!("content-type: {}", format.content_type())),
                    "{name}: {head}"
                );
                assert!(
                    head.contains(&format!("content-language: {lang}")),
                    "{name}: {head}"
                );
                assert!(
                    index.contains(&format!("href=\"{name}\"")),
                    "index lacks {name}"
                );
                match format {
                    Format::Json | Format::PlainJson => {
                        let json: Value = serde_json::from_str(&body).unwrap();
                        assert_eq!(json["status"], kind.status(), "{name}");
                    }
                    Format::Html => assert!(body.starts_with("<!doctype html>"), "{name}"),
                    Format::Text => assert!(body.starts_with(&kind.status().to_string()), "{name}"),
                }
                expected += 2;
            }
        }
    }
    assert!(
        read(&out.join("maintenance.en.html")).contains("Scheduled maintenance: checkout upgrade")
    );
    assert!(read(&out.join("maintenance.ja.txt")).contains("計画メンテナンスのお知らせ"));
    assert!(read(&out.join("health.txt")).starts_with("ok\n"));
    assert!(read(&out.join("health.txt.headers.txt")).starts_with("HTTP/1.1 200 OK"));
    assert_eq!(read(&out.join("robots.txt")), "User-agent: *\nAllow: /\n");
    expected += 4;
    let files = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files, expected, "files in {}", out.display());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("wrote {expected} files")),
        "{stdout}"
    );
}

/// `--from-ssm PREFIX` reads the live content through the SSM loader (moto stands in for SSM).
#[tokio::test]
async fn maintctl_preview_reads_live_content_from_ssm() {
    let moto = common::Moto::shared();
    let client = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
    let prefix = format!("/maintenance/{}", common::unique("preview"));
    for (key, value) in [("en/title", "Live from SSM"), ("retry-after", "1200")] {
        client
            .put_parameter()
            .name(format!("{prefix}/{key}"))
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let output = maintctl()
        .args([
            "preview",
            "--out",
            dir.path().to_str().unwrap(),
            "--from-ssm",
            &prefix,
        ])
        .envs(moto.env())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(read(&dir.path().join("maintenance.en.html")).contains("Live from SSM"));
    // 1200 s, spread for the gallery's fixed trace id (issue #24; this line expected 1200).
    let spread = maintenance_core::respond::RetryAfter {
        seconds: 1200,
        expected_back: None,
        spread: 0,
    }
    .spread_by(Some("1-67a1b2c3-0123456789abcdef01234567"));
    assert!(spread.spread > 0 && spread.spread <= 120, "{spread:?}");
    assert!(
        read(&dir.path().join("maintenance.en.html.headers.txt"))
            .contains(&format!("retry-after: {}", spread.header()))
    );

    // SSM unreachable: an error, not a gallery of defaults.
    let output = maintctl()
        .args([
            "preview",
            "--out",
            dir.path().to_str().unwrap(),
            "--from-ssm",
            &prefix,
        ])
        .envs(common::aws_env("http://127.0.0.1:9"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains(&prefix));
}

/// Kept in one place so a change of layout shows as one failing test.
#[test]
fn example_content_file_is_valid() {
    let text = read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/content.example.toml"));
    let params = preview::parameters_from_toml(&text, "/x").unwrap();
    let catalog = maintenance_core::catalog::Catalog::embedded();
    let (content, warnings) = maintenance_responder::ssm::content_from_parameters(
        "/x",
        &params,
        &catalog,
        jiff::Timestamp::now(),
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let languages: BTreeMap<_, _> = content.maintenance.iter().collect();
    assert_eq!(
        languages.len(),
        catalog.languages().count(),
        "every language has example texts"
    );
    assert!(content.status_page.is_some() && content.contact.is_some() && content.retry.is_some());
}

/// Issue #24: a gradual return in the preview's content. `maintctl serve` answers as the Lambda
/// does (307 + admission cookie for a visitor let through, the page + ticket cookie for the
/// others), emulates the admission rules (the cookie reaches "the application"), and the
/// gallery lists both answers without the token.
#[tokio::test]
async fn the_preview_shows_a_visitor_being_let_through() {
    let token = "UHJldmlldy1yZXR1cm4tdG9rZW4";
    let ends_at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("returning.toml");
    std::fs::write(
        &file,
        format!(
            "retry-after = \"600\"\n\n[return]\nstate = '{{\"id\":\"ret-preview\",\"token\":\"{token}\",\"step\":1,\"share_percent\":30,\"ends_at\":\"{ends_at}\"}}'\n"
        ),
    )
    .unwrap();
    let loaded = preview::load(Site::embedded(), Source::File(file))
        .await
        .unwrap();
    let options = ServeOptions {
        mode: HeaderMode::Single,
        source: loaded.source.clone(),
    };
    let out = dir.path().join("gallery");
    preview::write_gallery(&loaded.function, &out, &options)
        .await
        .unwrap();
    let server = Server::start_with(loaded.function, options).await;
    let mut let_through = 0;
    for i in 0..300u32 {
        let trace = format!("Root=1-693ecb6b-{i:024x}");
        let answer = get(
            server.addr,
            "/shop?item=7",
            &[("x-amzn-trace-id", &trace), ("accept", "text/html")],
        )
        .await;
        let cookie = answer.header("set-cookie").unwrap_or_default().to_string();
        match answer.status {
            307 => {
                let_through += 1;
                assert_eq!(answer.header("location"), Some("/shop?item=7"));
                assert!(
                    cookie.starts_with(&format!("maint_admit={token}; Path=/; Max-Age=")),
                    "{cookie}"
                );
                assert!(cookie.ends_with("HttpOnly; SameSite=Lax"), "{cookie}");
            }
            503 => {
                assert!(cookie.starts_with("maint_ticket="), "{cookie}");
                assert!(answer.header("retry-after").is_some());
            }
            other => panic!("{other}: {}", answer.text()),
        }
    }
    // 30 % of 300 is 90; a binomial's standard deviation here is about 8.
    assert!(
        (60..=120).contains(&let_through),
        "{let_through} of 300 let through"
    );
    // Let through: the admission rule takes the cookie to the application.
    let cookie = format!("maint_admit={token}");
    let through = get(server.addr, "/shop?item=7", &[("cookie", &cookie)]).await;
    assert_eq!(through.status, 200);
    assert!(
        through.text().contains("admission cookie"),
        "{}",
        through.text()
    );
    // Waiting with a ticket: the page, the place kept, no new cookie.
    let waiting = get(server.addr, "/", &[("cookie", "maint_ticket=9999")]).await;
    assert_eq!(waiting.status, 503);
    assert_eq!(waiting.header("set-cookie"), None);
    server.stop().await;
    // The gallery lists both answers, the token left out.
    let gallery = read(&out.join("index.html"));
    assert!(
        gallery.contains("a visitor let through") && gallery.contains("a visitor waiting"),
        "{gallery}"
    );
    let head = read(&out.join("return-let-through.txt.headers.txt"));
    assert!(
        head.starts_with("HTTP/1.1 307 Temporary Redirect"),
        "{head}"
    );
    assert!(
        head.contains("set-cookie: maint_admit=TOKEN; Path=/;"),
        "{head}"
    );
    assert!(head.contains("location: /"), "{head}");
    assert!(read(&out.join("return-waiting.html.headers.txt")).starts_with("HTTP/1.1 503"));
    for entry in std::fs::read_dir(&out).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(token), "the gallery holds the token");
    }
}
