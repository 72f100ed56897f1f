//! The real `maintctl` binary: `invoke` on files and stdin, and `message set|show` against the
//! moto emulator (validation before any write, dry-run, the round trip through the layout).

use crate::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{Moto, unique};
use serde_json::Value;

fn maintctl(args: &[&str], env: &[(&'static str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_maintctl"))
        .args(args)
        .envs(env.iter().cloned())
        .env_remove("MAINTENANCE_SSM_PREFIX")
        .output()
        .expect("run maintctl")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn invoke_prints_the_alb_response_for_an_event_file_and_for_stdin() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sample-event.json");
    let out = maintctl(&["invoke", "--event", sample], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["statusCode"], 503);
    assert_eq!(json["statusDescription"], "503 Service Unavailable");
    assert_eq!(
        json["headers"]["content-language"], "ja",
        "the sample asks for Japanese"
    );
    assert!(
        json["body"]
            .as_str()
            .unwrap()
            .contains("ただいまメンテナンス中です")
    );

    let health = std::fs::read(common::fixture("rust-runtime-alb_health_check.json")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_maintctl"))
        .args(["invoke", "--event", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&health).unwrap();
    let out = child.wait_with_output().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["statusCode"], 200);

    let missing = maintctl(&["invoke", "--event", "/nonexistent/event.json"], &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("/nonexistent/event.json"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn message_set_validates_first_then_writes_and_show_reads_it_back() {
    let moto = Moto::shared();
    let env = moto.env();
    let prefix = format!("/maintenance/{}", unique("cli"));

    // A bad value anywhere: nothing is written at all.
    let refused = maintctl(
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--title",
            "Fine title",
            "--status-page",
            "http://not-https.example",
        ],
        &env,
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("links/status-page"),
        "{}",
        text(&refused.stderr)
    );
    let past = maintctl(
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--expected-back",
            "2001-01-01T00:00:00Z",
        ],
        &env,
    );
    assert_eq!(past.status.code(), Some(1));
    assert!(
        text(&past.stderr).contains("in the past"),
        "{}",
        text(&past.stderr)
    );

    // Dry run: prints, writes nothing.
    let dry = maintctl(
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--title",
            "Dry",
            "--dry-run",
        ],
        &env,
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(
        text(&dry.stdout).contains(&format!("would write {prefix}/en/title")),
        "{}",
        text(&dry.stdout)
    );
    let shown = maintctl(
        &["message", "show", "--prefix", &prefix, "--output", "json"],
        &env,
    );
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let json: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(
        json["maintenance"],
        serde_json::json!({}),
        "dry run wrote nothing"
    );

    let set = maintctl(
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--lang",
            "ja",
            "--title",
            "決済システム更新中",
            "--message",
            "ただいま更新中です。",
            "--retry-after",
            "900",
            "--contact",
            "mailto:ops@example.com",
        ],
        &env,
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    let shown = maintctl(
        &["message", "show", "--prefix", &prefix, "--output", "json"],
        &env,
    );
    let json: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(json["maintenance"]["ja"]["title"], "決済システム更新中");
    assert_eq!(json["maintenance"]["ja"]["message"], "ただいま更新中です。");
    assert_eq!(json["retry_after"], "900");
    assert_eq!(json["contact"], "mailto:ops@example.com");
    assert_eq!(json["ignored"], serde_json::json!([]));

    let nothing = maintctl(&["message", "set", "--prefix", &prefix], &env);
    assert_eq!(nothing.status.code(), Some(3), "nothing to do");
}

/// Issue #16, item 10, and its siblings: `message set` keeps each parameter's type — a
/// SecureString stays a SecureString under its own KMS key, a String stays a String — and
/// refuses a StringList before it writes anything.
#[test]
fn message_set_keeps_each_parameters_type_and_checks_them_all_first() {
    let moto = Moto::shared();
    let env = moto.env();
    let prefix = format!("/maintenance/{}", unique("types"));
    let python = |script: &str| {
        let out = Command::new(common::python())
            .args(["-c", script])
            .envs(env.iter().cloned())
            .output()
            .expect("python");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let boto = format!(
        "import boto3, json, sys; ssm = boto3.client('ssm'); p = '{prefix}'; {}",
        "ssm.put_parameter(Name=p + '/en/title', Value='Secret title', Type='SecureString', KeyId='alias/custom'); \
         ssm.put_parameter(Name=p + '/en/message', Value='Plain', Type='String')"
    );
    python(&boto);
    let set = maintctl(
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--title",
            "New title",
            "--message",
            "New message",
            "--contact",
            "mailto:ops@example.com",
            "--output",
            "json",
        ],
        &env,
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    let doc: Value = serde_json::from_slice(&set.stdout).unwrap();
    let kinds: Vec<(&str, &str, bool)> = doc["writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap(),
                w["type"].as_str().unwrap(),
                w["new"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (format!("{prefix}/en/title").as_str(), "SecureString", false),
            (format!("{prefix}/en/message").as_str(), "String", false),
            (format!("{prefix}/links/contact").as_str(), "String", true),
        ]
    );
    let stored = python(&format!(
        "import boto3, json; ssm = boto3.client('ssm'); p = '{prefix}'; \
         r = ssm.describe_parameters(ParameterFilters=[{{'Key': 'Name', 'Option': 'BeginsWith', 'Values': [p]}}])['Parameters']; \
         print(json.dumps(sorted([[x['Name'][len(p):], x['Type'], x.get('KeyId', '')] for x in r])))"
    ));
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        stored,
        serde_json::json!([
            ["/en/message", "String", ""],
            ["/en/title", "SecureString", "alias/custom"],
            ["/links/contact", "String", ""],
        ]),
        "types and the key kept"
    );
    // A StringList anywhere in the plan: nothing is written, not even the values before it.
    python(&format!(
        "import boto3; boto3.client('ssm').put_parameter(Name='{prefix}/ja/message', Value='a,b', Type='StringList')"
    ));
    let refused = maintctl(
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--lang",
            "ja",
            "--title",
            "タイトル",
            "--message",
            "本文",
        ],
        &env,
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("StringList")
            && text(&refused.stderr).contains("nothing was written"),
        "{}",
        text(&refused.stderr)
    );
    let shown = maintctl(
        &["message", "show", "--prefix", &prefix, "--output", "json"],
        &env,
    );
    let json: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert!(
        json["maintenance"]
            .get("ja")
            .is_none_or(|ja| ja["title"] != "タイトル"),
        "{json}"
    );
    // New parameters with --secure are SecureString.
    let secure = maintctl(
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--status-page",
            "https://status.example.com",
            "--secure",
            "--output",
            "json",
        ],
        &env,
    );
    let doc: Value = serde_json::from_slice(&secure.stdout).unwrap();
    assert_eq!(doc["writes"][0]["type"], "SecureString");
}

/// Issue #16, items 6, 11 and 15 at the command line: each bad value gets one clear message
/// and nothing is written.
#[test]
fn message_set_refuses_with_one_clear_message() {
    let moto = Moto::shared();
    let env = moto.env();
    let prefix = format!("/maintenance/{}", unique("refusals"));
    for (args, needle) in [
        (
            vec!["--retry-after", "-5"],
            "--retry-after: retry-after must not be negative",
        ),
        (vec!["--retry-after", "604801"], "more than 604800 seconds"),
        (
            vec!["--expected-back", "9999-12-31T23:59:59Z"],
            "--expected-back: retry-after end time is more than one week ahead",
        ),
        (
            vec!["--expected-back", "900"],
            "--expected-back: \"900\" is not an RFC 3339 time",
        ),
        (vec!["--title", "\u{202E}noos kcab"], "U+202E"),
        (vec!["--title", "\u{200B}"], "U+200B"),
        (vec!["--message", "line\u{2028}break"], "U+2028"),
    ] {
        let mut all = vec!["message", "set", "--prefix", prefix.as_str()];
        all.extend(args.iter().copied());
        let out = maintctl(&all, &env);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.contains("nothing was written"), "{args:?}: {err}");
        assert_eq!(err.matches(needle).count(), 1, "said once: {err}");
    }
    let shown = maintctl(
        &["message", "show", "--prefix", &prefix, "--output", "json"],
        &env,
    );
    let json: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(json["parameters"], 0, "nothing was written: {json}");
}

/// Issue #16, item 17: a payload that is not JSON gets no page from `maintctl invoke`, because
/// the deployed Lambda would not give one either: it says so and exits 1.
#[test]
fn invoke_refuses_what_the_runtime_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    for (name, payload) in [
        ("text", "GET / HTTP/1.1"),
        ("empty", ""),
        ("truncated", "{\"httpMethod\": \"GET\""),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, payload).unwrap();
        let out = maintctl(&["invoke", "--event", path.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(out.stdout.is_empty(), "{name}: no page");
        let err = text(&out.stderr);
        assert!(
            err.contains("not JSON") && err.contains("502"),
            "{name}: {err}"
        );
    }
    // Any JSON at all is answered with a page, as on Lambda.
    for (name, payload) in [
        ("null", "null"),
        ("array", "[1, 2]"),
        ("odd", "{\"path\": 7}"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, payload).unwrap();
        let out = maintctl(&["invoke", "--event", path.to_str().unwrap()], &[]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["statusCode"], 503, "{name}");
    }
}

/// The README's exit codes: 2 is a usage error, as clap reports it, before any AWS call (no
/// endpoint is reachable here). `schedule extend` without `--end` is one, and so is `--end` on
/// `schedule cancel`, which has no end to move.
#[test]
fn a_command_line_clap_refuses_exits_2_before_any_aws_call() {
    let nowhere = vec![("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_string())];
    for args in [
        &["schedule", "extend", "w-1", "--environment", "shop"][..],
        &[
            "schedule",
            "cancel",
            "w-1",
            "--environment",
            "shop",
            "--end",
            "2030-01-01T00:00:00Z",
        ][..],
        &["on", "--environment", "shop", "--no-such-flag"][..],
    ] {
        let out = maintctl(args, &nowhere);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("Usage:"),
            "{}",
            text(&out.stderr)
        );
    }
}
