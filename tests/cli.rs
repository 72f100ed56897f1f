//! The real `maintctl` binary: `invoke` on files and stdin, and `message set|show` against the
//! moto emulator (validation before any write, dry-run, the round trip through the layout).

mod common;

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
            "--until",
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
