//! A whole maintenance window with a bypass link, end to end (issue #14): `maintctl attach
//! --bypass-link`, `message set`, `on`, the link opened through the real `maintenance-responder`
//! binary (a Lambda Runtime API on loopback, its content from moto's SSM), `status`, `bypass
//! link`, `off`, the old link again. Every response passes the ALB contract check, and the
//! window's token is searched for (without case) in every log line — the responder's and
//! `maintctl`'s stdout and stderr, both at TRACE — and every page: it is found only in the two
//! outputs that must show it (the link line of `on` and of `bypass link`) and in the
//! `Set-Cookie` of the link's answer. The token `off` sets is found nowhere at all. (The SDK's
//! and the Lambda runtime's own TRACE lines, which hold raw events and SSM answers, are never
//! written: `logging::sdk_trace`.)

use crate::common;

use std::fs::File;
use std::process::{Output, Stdio};

use common::Moto;
use common::alb::{self, Preflight, code, text};
use common::runtime_api::{Answer, RuntimeApi};
use maintenance_responder::lambda::alb_event::HeaderMode;
use maintenance_responder::lambda::alb_response::check_contract;
use serde_json::{Value, json};

/// Everything the window printed, logged or answered that must not hold the token.
#[derive(Default)]
struct Seen {
    texts: Vec<(String, String)>,
}

impl Seen {
    fn add(&mut self, what: &str, text: impl Into<String>) {
        self.texts.push((what.to_string(), text.into()));
    }

    /// A `maintctl` run: its stderr, and its stdout without the lines `allowed` keeps.
    fn maintctl(&mut self, what: &str, out: &Output, allowed: impl Fn(&str) -> bool) {
        self.add(
            &format!("{what} (stderr)"),
            String::from_utf8_lossy(&out.stderr),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let kept: Vec<&str> = stdout.lines().filter(|l| !allowed(l)).collect();
        self.add(&format!("{what} (stdout)"), kept.join("\n"));
    }

    fn assert_never(&self, token: &str, name: &str) {
        let needle = token.to_ascii_lowercase();
        for (what, text) in &self.texts {
            assert!(
                !text.to_ascii_lowercase().contains(&needle),
                "the {name} shows in {what}:\n{text}"
            );
        }
    }
}

/// An ALB event for `path` in either header mode, with `x-forwarded-proto: https`.
fn event(path: &str, multi: bool, accept: &str) -> String {
    let mut e = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mr/1"}},
        "httpMethod": "GET", "path": path, "body": "", "isBase64Encoded": false,
    });
    let headers = [
        ("accept", accept),
        ("x-forwarded-proto", "https"),
        ("host", "shop.example.com"),
        ("user-agent", "Mozilla/5.0"),
        (
            "x-amzn-trace-id",
            "Root=1-693ec9fb-4ef0a17b0db1b3fb480f31bc",
        ),
    ];
    if multi {
        e["multiValueHeaders"] = headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!([v])))
            .collect();
        e["multiValueQueryStringParameters"] = json!({});
    } else {
        e["headers"] = headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        e["queryStringParameters"] = json!({});
    }
    e.to_string()
}

/// Invokes the function; checks the ALB contract in the event's header mode; returns the
/// response, and what of it must not hold the token (everything but `Set-Cookie`).
async fn invoke(api: &RuntimeApi, raw: &str, multi: bool) -> (Value, String) {
    let body = match api.invoke(raw).await {
        Answer::Response(body) => body,
        Answer::Error(e) => panic!("invocation error (the ALB would answer 502): {e}"),
    };
    let mode = if multi {
        HeaderMode::Multi
    } else {
        HeaderMode::Single
    };
    check_contract(&body, mode).unwrap_or_else(|e| panic!("{e}: {body}"));
    let json: Value = serde_json::from_str(&body).unwrap();
    let mut shown = json.clone();
    for map in ["headers", "multiValueHeaders"] {
        if let Some(m) = shown[map].as_object_mut() {
            m.remove("set-cookie");
        }
    }
    (json, shown.to_string())
}

fn header(json: &Value, name: &str) -> Option<String> {
    json["headers"][name]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            json["multiValueHeaders"][name][0]
                .as_str()
                .map(str::to_string)
        })
}

/// The stored token (decrypted) of `prefix`.
async fn stored(moto: &Moto, prefix: &str) -> String {
    aws_sdk_ssm::Client::new(&moto.sdk_config().await)
        .get_parameter()
        .name(format!("{prefix}/bypass/token"))
        .with_decryption(true)
        .send()
        .await
        .expect("the token parameter")
        .parameter
        .unwrap()
        .value
        .unwrap()
}

#[tokio::test]
async fn a_whole_window_shows_the_token_only_in_the_link() {
    let moto = Moto::shared();
    let alb = alb::build(moto, "bl-e2e", &[10], 40_000);
    let env = common::unique("env-bl-e2e");
    let prefix = format!("/maintenance/{}", common::unique("bl-e2e"));
    let verbose = [("RUST_LOG", "trace")];
    let mut seen = Seen::default();
    let run = |args: &[&str]| alb::run(alb::command(moto, args, Preflight::Forced).envs(verbose));

    let out = run(&alb::attach_args(
        &alb,
        &env,
        &["--prefix", &prefix, "--bypass-link"],
    ));
    assert_eq!(code(&out), 0, "{}", text(&out));
    seen.maintctl("attach", &out, |_| false);
    let out = run(&[
        "message",
        "set",
        "--prefix",
        &prefix,
        "--title",
        "Upgrading the shop",
        "--message",
        "Back within the hour.",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    seen.maintctl("message set", &out, |_| false);

    // The responder, reading the prefix on every page request (a freshness window of 0 s).
    let logs = tempfile::tempdir().unwrap();
    let (stdout_log, stderr_log) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let api = RuntimeApi::start().await;
    let mut responder =
        tokio::process::Command::new(common::workspace_bin("maintenance-responder"))
            .env_clear()
            .envs(api.env())
            .envs(moto.env())
            .env("MAINTENANCE_SSM_PREFIX", &prefix)
            .env("MAINTENANCE_SSM_TTL_SECONDS", "0")
            .env("MAINTENANCE_SSM_INIT_BUDGET_MS", "10000")
            .env("MAINTENANCE_SSM_REFRESH_BUDGET_MS", "10000")
            .env("AWS_LAMBDA_LOG_LEVEL", "trace")
            .stdout(Stdio::from(File::create(&stdout_log).unwrap()))
            .stderr(Stdio::from(File::create(&stderr_log).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .expect("start maintenance-responder");
    let (page, shown) = invoke(&api, &event("/", false, "text/html"), false).await;
    assert_eq!(page["statusCode"], 503);
    assert!(shown.contains("Upgrading the shop"), "{shown}");
    seen.add("a page before on", shown);

    for args in [
        vec!["on", "--environment", &env, "--dry-run"],
        vec!["on", "--environment", &env, "--dry-run", "--output", "json"],
    ] {
        let out = run(&args);
        assert_eq!(code(&out), 0, "{}", text(&out));
        seen.maintctl("on --dry-run", &out, |_| false);
    }
    let on = run(&["on", "--environment", &env, "--yes", "--reason", "e2e"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let stdout = String::from_utf8_lossy(&on.stdout).to_string();
    let link = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("https://") && l.contains("/__maintenance/bypass/"))
        .unwrap_or_else(|| panic!("on printed no link: {}", text(&on)))
        .to_string();
    let token = link.rsplit('/').next().unwrap().to_string();
    assert_eq!(
        token,
        stored(moto, &prefix).await,
        "the link holds the stored token"
    );
    assert_eq!(
        link,
        format!("https://{}/__maintenance/bypass/{token}", alb.domain)
    );
    seen.maintctl("on", &on, |l| l.trim() == link);
    let path = format!("/__maintenance/bypass/{token}");

    // The link, as the browser opens it: 303 home with the cookie, in both header modes.
    for multi in [false, true] {
        let (answer, shown) = invoke(&api, &event(&path, multi, "text/html"), multi).await;
        assert_eq!(answer["statusCode"], 303, "{answer}");
        assert_eq!(header(&answer, "location").as_deref(), Some("/"));
        let cookie = header(&answer, "set-cookie").expect("the bypass cookie");
        assert!(
            cookie.starts_with(&format!("maint_bypass={token}; Path=/;"))
                && cookie.contains("Secure")
                && cookie.contains("HttpOnly"),
            "{cookie}"
        );
        seen.add("the link's answer", shown);
    }
    // Anyone else: the page, whatever they guess.
    for guess in [
        format!("/__maintenance/bypass/{}", token.to_ascii_uppercase()),
        format!("/__maintenance/bypass/{}", &token[..42]),
        "/__maintenance/bypass/".to_string(),
        "/".to_string(),
    ] {
        let (page, shown) = invoke(&api, &event(&guess, false, "application/json"), false).await;
        assert_eq!(page["statusCode"], 503, "{guess}");
        assert!(header(&page, "set-cookie").is_none(), "{page}");
        seen.add("a page during the window", shown);
    }
    let (health, shown) = invoke(&api, &event("/healthz", true, "*/*"), true).await;
    assert_eq!(health["statusCode"], 200);
    seen.add("the health route", shown);

    for args in [
        vec!["status", "--environment", &env],
        vec!["status", "--environment", &env, "--output", "json"],
        vec!["on", "--environment", &env, "--yes"],
        vec!["off", "--environment", &env, "--dry-run"],
        vec!["message", "show", "--prefix", &prefix],
        vec!["message", "show", "--prefix", &prefix, "--output", "json"],
    ] {
        let out = run(&args);
        assert!(matches!(code(&out), 0 | 3), "{}", text(&out));
        seen.maintctl(&args.join(" "), &out, |_| false);
    }
    let again = run(&["bypass", "link", "--environment", &env]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains(&link));
    seen.maintctl("bypass link", &again, |l| l.trim() == link);

    let off = run(&["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    seen.maintctl("off", &off, |_| false);
    let rotated = stored(moto, &prefix).await;
    assert_ne!(rotated, token);
    // The old link is an ordinary path now (the responder reads the rotated token).
    let (page, shown) = invoke(&api, &event(&path, false, "text/html"), false).await;
    assert_eq!(page["statusCode"], 503, "{page}");
    assert!(header(&page, "set-cookie").is_none());
    seen.add("the old link after off", shown);
    let out = run(&["bypass", "link", "--environment", &env]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    seen.maintctl("bypass link after off", &out, |_| false);

    responder.kill().await.unwrap();
    let _ = responder.wait().await;
    let responder_stdout = std::fs::read_to_string(&stdout_log).unwrap();
    let served = responder_stdout
        .lines()
        .filter(|l| l.contains("\"message\":\"served\""))
        .count();
    assert_eq!(
        served, 9,
        "one request line per request:\n{responder_stdout}"
    );
    assert!(
        responder_stdout.contains(r#""level":"DEBUG""#),
        "the responder logs at TRACE here, more than the default INFO"
    );
    seen.add("the responder's log (stdout)", responder_stdout);
    seen.add(
        "the responder's stderr",
        std::fs::read_to_string(&stderr_log).unwrap(),
    );
    let trace_lines: usize = seen
        .texts
        .iter()
        .map(|(_, t)| t.matches("TRACE").count())
        .sum();
    assert!(trace_lines > 0, "maintctl ran at RUST_LOG=trace");
    seen.assert_never(&token, "window's token");
    seen.assert_never(&rotated, "token off set");
}
