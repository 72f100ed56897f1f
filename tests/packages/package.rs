//! The Lambda packages `scripts/package` writes (issue #15: two functions × two architectures),
//! read back as Lambda reads them: every zip holds `bootstrap` (mode 0755) at its top level,
//! the switch function's nothing else, the responder's the time zone database as `zoneinfo/`
//! (what `TZDIR=/var/task/zoneinfo` in the templates points at: every zone jiff finds there,
//! no `posix/`, `right/` or non-zone file); the responder links no load balancer SDK and did not
//! grow; the packaged x86_64 responder, unzipped and run with `TZDIR` on its `zoneinfo/`, shows a
//! Japanese visitor the end time in JST; the packaged x86_64 switch function, unzipped, switches
//! a moto ALB on an alarm and off on its OK (`tests/packages/arm64.rs` does the same with the arm64
//! one under qemu).
//!
//! Each test packages first (`scripts/package`, which one test at a time runs: a few seconds
//! when the builds are fresh, as after `scripts/test`'s package step; release builds
//! otherwise). A missing tool fails them: nothing is skipped.

use crate::automation;
use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use automation::{SwitchFn, alarm_switches_on_then_off, attached_alb};
use common::Moto;
use common::runtime_api::{Answer, RuntimeApi};
use jiff::tz::{Offset, TimeZoneDatabase};
use serde_json::Value;

const ARCHES: [&str; 2] = maintenance_core::deploy_names::function::ARCHITECTURES;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `scripts/package` for every architecture and fails with its log when it fails.
fn package() {
    let output = Command::new(root().join("scripts/package"))
        .current_dir(root())
        .output()
        .expect("run scripts/package");
    assert!(
        output.status.success(),
        "scripts/package failed (run scripts/setup-tools first):\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `dist/` directory of one function and architecture (the layout scripts/package documents).
fn dist(function: &str, arch: &str) -> PathBuf {
    let mut dir = root().join("dist");
    if function != "maintenance-responder" {
        dir.push(function);
    }
    if arch != "x86_64" {
        dir.push(arch);
    }
    dir
}

/// Unzips `zip` into `into` as Lambda does (modes kept); returns every entry and its mode, in
/// the zip's order.
fn unzip(zip: &Path, into: &Path) -> Vec<(String, u32)> {
    const UNZIP: &str = r#"
import json, os, sys, zipfile
listing = []
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = os.path.join(sys.argv[2], info.filename)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(z.read(info))
        mode = (info.external_attr >> 16) & 0o7777
        os.chmod(path, mode)
        listing.append([info.filename, mode])
print(json.dumps(listing))
"#;
    let out = Command::new("python3")
        .args(["-c", UNZIP])
        .arg(zip)
        .arg(into)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "unzip {}: {}",
        zip.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let listing: Vec<(String, u32)> = serde_json::from_slice(&out.stdout).unwrap();
    listing
}

/// The responder's size ceiling per architecture, as scripts/package holds it.
fn responder_max_bytes(arch: &str) -> u64 {
    let script = std::fs::read_to_string(root().join("scripts/package")).unwrap();
    let line = script
        .lines()
        .find(|l| l.starts_with("declare -A RESPONDER_MAX_BYTES="))
        .expect("RESPONDER_MAX_BYTES in scripts/package");
    let key = format!("[{arch}]=");
    let rest = &line[line.find(&key).unwrap_or_else(|| panic!("{arch}: {line}")) + key.len()..];
    rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())]
        .parse()
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn every_zip_holds_its_bootstrap_and_the_responders_the_time_zone_database() {
    package();
    for arch in ARCHES {
        for function in ["maintenance-responder", "maintenance-switch"] {
            let dir = dist(function, arch);
            let tmp = tempfile::tempdir().unwrap();
            let listing = unzip(&dir.join("bootstrap.zip"), tmp.path());
            let what = format!("{function} {arch}");
            assert_eq!(listing[0], ("bootstrap".to_string(), 0o755), "{what}");
            assert_eq!(
                std::fs::read(tmp.path().join("bootstrap")).unwrap(),
                std::fs::read(dir.join("bootstrap")).unwrap(),
                "{what}: the zip's bootstrap is dist's"
            );
            let rest = &listing[1..];
            if function == "maintenance-switch" {
                assert!(rest.is_empty(), "{what}: {rest:?}");
                continue;
            }
            for (name, mode) in rest {
                assert!(name.starts_with("zoneinfo/"), "{what}: {name}");
                assert_eq!(*mode, 0o644, "{what}: {name}");
                for left_out in ["posix/", "right/", "localtime", "posixrules", ".tab", ".zi"] {
                    assert!(!name.contains(left_out), "{what}: {name}");
                }
            }
            // Everything under zoneinfo/ is a zone jiff reads, and the zones are all there.
            let db = TimeZoneDatabase::from_dir(tmp.path().join("zoneinfo")).unwrap();
            assert_eq!(db.available().count(), rest.len(), "{what}");
            assert!(rest.len() > 300, "{what}: {} zones", rest.len());
            let winter = "2026-01-15T12:00:00Z".parse::<jiff::Timestamp>().unwrap();
            let summer = "2026-07-15T12:00:00Z".parse::<jiff::Timestamp>().unwrap();
            for (zone, at, hours) in [
                ("Asia/Tokyo", winter, 9),
                ("Asia/Tokyo", summer, 9),
                ("Europe/Berlin", winter, 1),
                ("Europe/Berlin", summer, 2),
                ("America/New_York", summer, -4),
                ("UTC", summer, 0),
            ] {
                let tz = db
                    .get(zone)
                    .unwrap_or_else(|e| panic!("{what}: {zone}: {e}"));
                assert_eq!(tz.to_offset(at), Offset::constant(hours), "{what}: {zone}");
            }
        }
    }
}

#[test]
fn the_responder_links_no_load_balancer_sdk_and_did_not_grow() {
    package();
    for arch in ARCHES {
        let responder =
            std::fs::read(dist("maintenance-responder", arch).join("bootstrap")).unwrap();
        let switch = std::fs::read(dist("maintenance-switch", arch).join("bootstrap")).unwrap();
        let links_elbv2 = |binary: &[u8]| binary.windows(20).any(|w| w == b"elasticloadbalancing");
        // The switch function does link it: the search finds the SDK where it is.
        assert!(
            links_elbv2(&switch),
            "{arch}: the switch function without ELBv2?"
        );
        assert!(
            !links_elbv2(&responder),
            "{arch}: the responder links ELBv2"
        );
        let max = responder_max_bytes(arch);
        assert!(
            responder.len() as u64 <= max,
            "{arch}: the responder is {} bytes, more than {max}",
            responder.len()
        );
    }
}

#[tokio::test]
async fn the_packaged_switch_function_switches_on_an_alarm_and_off_on_its_ok() {
    package();
    let tmp = tempfile::tempdir().unwrap();
    unzip(
        &dist("maintenance-switch", "x86_64").join("bootstrap.zip"),
        tmp.path(),
    );
    let moto = Moto::shared();
    let alb = attached_alb(moto, "packaged", &[1, 2]).await;
    let bootstrap = tmp.path().join("bootstrap");
    let f = SwitchFn::start_program(moto, &alb.environment, 1, &[], &bootstrap, &[]).await;
    alarm_switches_on_then_off(moto, &f, &alb).await;
    // And anything else is refused, answered, not retried.
    let odd = f.invoke(r#"{"action":"on"}"#).await;
    assert!(!odd.error, "{}", odd.raw);
    assert_eq!(
        odd.report["outcome"],
        Value::from("refused"),
        "{:#}",
        odd.report
    );
}

/// A browser asking in Japanese, through the ALB.
const JAPANESE_GET: &str = r#"{
  "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/0123456789abcdef"}},
  "httpMethod": "GET", "path": "/", "queryStringParameters": {},
  "headers": {"accept": "text/html", "accept-language": "ja", "host": "shop.example.com"},
  "body": "", "isBase64Encoded": false
}"#;

#[tokio::test]
async fn the_packaged_responder_shows_the_end_time_in_jst_from_its_own_zoneinfo() {
    package();
    let tmp = tempfile::tempdir().unwrap();
    unzip(
        &dist("maintenance-responder", "x86_64").join("bootstrap.zip"),
        tmp.path(),
    );
    let moto = Moto::shared();
    let prefix = format!("/maintenance/{}", common::unique("tz"));
    // Two days ahead, on the minute: the page rounds up to the minute, so it shows this one.
    let now = jiff::Timestamp::now().as_second();
    let end = jiff::Timestamp::from_second(now - now % 60 + 2 * 86_400).unwrap();
    automation::ssm(moto)
        .await
        .put_parameter()
        .name(format!("{prefix}/retry-after"))
        .value(end.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let api = RuntimeApi::start().await;
    // As on Lambda (/var/task is the unzipped package): TZDIR on the bundled database, the
    // configured display zone of ja (Asia/Tokyo) read from it.
    let mut child = tokio::process::Command::new(tmp.path().join("bootstrap"))
        .env_clear()
        .envs(api.env())
        .envs(moto.env())
        .env("TZDIR", tmp.path().join("zoneinfo"))
        .env("MAINTENANCE_SSM_PREFIX", &prefix)
        .env("MAINTENANCE_SSM_INIT_BUDGET_MS", "10000")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let answer = tokio::time::timeout(std::time::Duration::from_secs(60), api.invoke(JAPANESE_GET))
        .await
        .expect("an answer within 60 s");
    let Answer::Response(body) = answer else {
        panic!("invocation error: {answer:?}");
    };
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["statusCode"], 503, "{body}");
    let tokyo = TimeZoneDatabase::from_dir(tmp.path().join("zoneinfo"))
        .unwrap()
        .get("Asia/Tokyo")
        .unwrap();
    let shown = format!(
        "{} JST",
        end.to_zoned_datetime(tokyo).strftime("%Y-%m-%d %H:%M")
    );
    let html = page["body"].as_str().unwrap();
    assert!(html.contains(&shown), "{shown} not in the page: {html}");
    assert!(api.init_error().is_none(), "{:?}", api.init_error());
    child.kill().await.unwrap();
}
