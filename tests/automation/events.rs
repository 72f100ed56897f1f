//! Every switch told and kept (issue #23), over the wire against moto: an EventBridge rule on
//! the bus with an SQS queue as its target (`tests/support/event_capture.py`) captures one event
//! per switch of a person (`maintctl on`/`off`), of a window's start and end delivered to the
//! real `maintenance-switch` binary, and of an alarm; each names the environment, the direction,
//! who and why, and none holds the bypass token. A bus that does not exist (a real error answer,
//! `ResourceNotFoundException`) leaves the switch done and says so. `maintctl history` lists
//! them newest first with their reasons, in text and JSON (its fields pinned), and `status`
//! shows the last one.

use crate::automation;
use crate::common;

use std::process::Command;

use automation::{
    SwitchFn, alarm_events, attached_alb_with, aws, code, consistent_state, json, maintctl, text,
};
use common::Moto;
use maintenance_core::deploy_names::events;
use maintenance_engine::planner::State;
use serde_json::{Value, json};

/// An EventBridge rule on `bus` for `environment`'s events, with a fresh SQS queue as target.
struct Capture {
    endpoint: String,
    queue: String,
}

impl Capture {
    fn new(moto: &Moto, bus: &str, environment: &str) -> Self {
        let out = capture_script(moto, &["setup", &moto.endpoint, bus, environment]);
        Self {
            endpoint: moto.endpoint.clone(),
            queue: out.trim().to_string(),
        }
    }

    /// Every event captured since the last call, in the order the queue gives them.
    fn drain(&self, moto: &Moto) -> Vec<Value> {
        let out = capture_script(moto, &["drain", &self.endpoint, &self.queue]);
        out.lines()
            .map(|l| serde_json::from_str(l).expect("an event as JSON"))
            .collect()
    }
}

fn capture_script(moto: &Moto, args: &[&str]) -> String {
    let out = Command::new(common::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/event_capture.py"
        ))
        .args(args)
        .envs(moto.env())
        .output()
        .expect("run tests/support/event_capture.py");
    assert!(
        out.status.success(),
        "event_capture.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The one event captured, checked for what every event must say.
fn one_event(captured: Vec<Value>, environment: &str, direction: &str, token: &str) -> Value {
    assert_eq!(captured.len(), 1, "one event per switch: {captured:#?}");
    let event = captured.into_iter().next().unwrap();
    assert_eq!(event["source"], events::SOURCE, "{event:#}");
    let detail = &event["detail"];
    // The schema of docs/events.md: every field there, in every event.
    for field in DETAIL_FIELDS {
        assert!(
            detail.get(field).is_some(),
            "the event lost {field}: {event:#}"
        );
    }
    assert_eq!(detail["schema_version"], 1, "{event:#}");
    assert_eq!(detail["environment"], environment, "{event:#}");
    assert_eq!(detail["direction"], direction, "{event:#}");
    assert!(
        detail["who"]["caller"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{event:#}"
    );
    assert!(
        detail["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{event:#}"
    );
    assert!(!token.is_empty());
    assert!(
        !event.to_string().contains(token),
        "the event holds the bypass token: {event:#}"
    );
    event
}

/// The fields of an event's detail (docs/events.md), pinned.
const DETAIL_FIELDS: [&str; 13] = [
    "schema_version",
    "at",
    "environment",
    "direction",
    "live",
    "outcome",
    "message",
    "who",
    "reason",
    "window",
    "alarm",
    "deadline",
    "listeners",
];

/// The bypass token as SSM holds it.
async fn token(moto: &Moto, prefix: &str) -> String {
    let ssm = automation::ssm(moto).await;
    let out = ssm
        .get_parameter()
        .name(format!("{prefix}/bypass/token"))
        .with_decryption(true)
        .send()
        .await
        .expect("the bypass token in SSM");
    out.parameter.and_then(|p| p.value).expect("a value")
}

/// The fields of `maintctl history --output json` and of each switch scripts may rely on.
const HISTORY_FIELDS: [&str; 14] = [
    "environment",
    "parameters",
    "unreadable",
    "switches",
    "switches[].schema_version",
    "switches[].at",
    "switches[].environment",
    "switches[].direction",
    "switches[].outcome",
    "switches[].who",
    "switches[].who.caller",
    "switches[].who.kind",
    "switches[].reason",
    "switches[].listeners",
];

#[tokio::test]
async fn every_switch_is_announced_once_and_listed_newest_first() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb_with(moto, "events", &[1, 2], true).await;
    let env = alb.environment.clone();
    let capture = Capture::new(moto, "default", &env);

    // A person's on and off.
    let on = maintctl(
        moto,
        &["on", "-e", &env, "--yes", "--reason", "deploy CHG-1"],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    let secret = token(moto, &alb.prefix).await;
    let e = one_event(capture.drain(moto), &env, "on", &secret);
    assert_eq!(e["detail-type"], events::SWITCHED);
    let d = &e["detail"];
    assert_eq!(
        (d["who"]["kind"].as_str(), d["live"].as_str()),
        (Some("person"), Some("responder"))
    );
    assert_eq!(d["reason"], "deploy CHG-1");
    assert_eq!(d["outcome"], "applied");
    assert_eq!(d["listeners"].as_array().unwrap().len(), 2, "{d:#}");
    assert!(
        !d["listeners"][0]["moved"].as_array().unwrap().is_empty(),
        "{d:#}"
    );
    let off = maintctl(
        moto,
        &["off", "-e", &env, "--yes", "--reason", "deploy done"],
    );
    assert_eq!(code(&off), 0, "{}", text(&off));
    let e = one_event(capture.drain(moto), &env, "off", &secret);
    assert_eq!(e["detail"]["live"], Value::Null);
    // Nothing to do and a dry run are not switches: no event.
    let again = maintctl(moto, &["off", "-e", &env, "--yes"]);
    assert_eq!(code(&again), 3, "{}", text(&again));
    let dry = maintctl(moto, &["on", "-e", &env, "--dry-run"]);
    assert_eq!(code(&dry), 0, "{}", text(&dry));
    assert_eq!(capture.drain(moto), Vec::<Value>::new());

    // A window's start and end, delivered to the switch function as Scheduler would.
    let f = SwitchFn::start(moto, &env, 1, &[]).await;
    let now = jiff::Timestamp::now();
    let end = jiff::Timestamp::from_second(now.as_second()).unwrap()
        + jiff::SignedDuration::from_hours(2);
    let end = end.to_string();
    let request = |action: &str| {
        let mut r = json!({
            "action": action, "environment": env, "reason": "upgrade CHG-42", "window": "w-7",
            "scheduled_by": "arn:aws:sts::123456789012:assumed-role/ops/ana",
        });
        if action == "on" {
            r["end"] = end.clone().into();
        }
        r.to_string()
    };
    let start = f.invoke(&request("on")).await;
    assert_eq!(start.report["outcome"], "applied", "{:#}", start.report);
    let secret = token(moto, &alb.prefix).await;
    let e = one_event(capture.drain(moto), &env, "on", &secret);
    assert_eq!(
        (
            e["detail"]["window"].as_str(),
            e["detail"]["who"]["kind"].as_str()
        ),
        (Some("w-7"), Some("window"))
    );
    assert_eq!(e["detail"]["deadline"], end.as_str());
    assert!(
        e["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("upgrade CHG-42")
    );
    let end = f.invoke(&request("off")).await;
    assert_eq!(end.report["outcome"], "applied", "{:#}", end.report);
    one_event(capture.drain(moto), &env, "off", &secret);

    // An alarm's ALARM and OK.
    let alarm = common::unique("checkout-down");
    let on = f.invoke(&alarm_events(moto, &alarm, "ALARM").0).await;
    assert_eq!(on.report["outcome"], "applied", "{:#}", on.report);
    assert_eq!(
        on.report["announcement_warnings"],
        json!([]),
        "{:#}",
        on.report
    );
    let secret = token(moto, &alb.prefix).await;
    let e = one_event(capture.drain(moto), &env, "on", &secret);
    assert_eq!(
        (
            e["detail"]["alarm"].as_str(),
            e["detail"]["who"]["kind"].as_str()
        ),
        (Some(alarm.as_str()), Some("alarm"))
    );
    assert_eq!(e["detail"]["reason"], format!("automatic: {alarm}"));
    let ok = f.invoke(&alarm_events(moto, &alarm, "OK").0).await;
    assert_eq!(ok.report["outcome"], "applied", "{:#}", ok.report);
    one_event(capture.drain(moto), &env, "off", &secret);
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::Off);
    }

    // The history: newest first, with their reasons, in text and JSON.
    let history = maintctl(moto, &["history", "-e", &env, "--output", "json"]);
    assert_eq!(code(&history), 0, "{}", text(&history));
    let doc = json(&history);
    for field in HISTORY_FIELDS {
        assert!(
            has_field(&doc, field),
            "history --output json lost {field}: {doc:#}"
        );
    }
    let listed: Vec<(String, String)> = doc["switches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["direction"].as_str().unwrap().into(),
                s["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("off", format!("automatic: {alarm} is OK")),
        ("on", format!("automatic: {alarm}")),
        ("off", "scheduled: window w-7 by arn:aws:sts::123456789012:assumed-role/ops/ana: upgrade CHG-42".into()),
        ("on", "scheduled: window w-7 by arn:aws:sts::123456789012:assumed-role/ops/ana: upgrade CHG-42".into()),
        ("off", "deploy done".into()),
        ("on", "deploy CHG-1".into()),
    ];
    let expected: Vec<(String, String)> =
        expected.into_iter().map(|(d, r)| (d.into(), r)).collect();
    assert_eq!(listed, expected);
    assert!(
        !history
            .stdout
            .windows(secret.len())
            .any(|w| w == secret.as_bytes())
    );
    let limited = json(&maintctl(
        moto,
        &["history", "-e", &env, "--limit", "2", "--output", "json"],
    ));
    assert_eq!(limited["switches"].as_array().unwrap().len(), 2);
    let shown = maintctl(moto, &["history", "-e", &env]);
    assert_eq!(code(&shown), 0, "{}", text(&shown));
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    let first = shown
        .find(&format!("why: automatic: {alarm} is OK"))
        .expect(&shown);
    let last = shown.find("why: deploy CHG-1").expect(&shown);
    assert!(first < last, "newest first:\n{shown}");

    // doctor: the bus routes the events (the capture rule), and a missing bus is a warning.
    let notifications = |bus: &str| {
        let out = maintctl(
            moto,
            &["doctor", "-e", &env, "--event-bus", bus, "--output", "json"],
        );
        let doc = json(&out);
        let checks = doc["checks"].as_array().expect("checks").clone();
        checks
            .into_iter()
            .find(|c| c["check"] == "notifications")
            .unwrap_or_else(|| panic!("no notifications check: {doc:#}"))
    };
    let routed = notifications(events::DEFAULT_BUS);
    assert_eq!(routed["status"], "pass", "{routed:#}");
    assert!(
        routed["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("capture-{env}")),
        "{routed:#}"
    );
    let missing = notifications("no-such-bus");
    assert_eq!(missing["status"], "warn", "{missing:#}");
    assert!(
        missing["summary"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{missing:#}"
    );

    // status shows the last one.
    let status = maintctl(moto, &["status", "-e", &env]);
    let status_text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(status_text.contains("last switch: "), "{status_text}");
    assert!(
        status_text.contains(&format!("why: automatic: {alarm} is OK")),
        "{status_text}"
    );
    let status = json(&maintctl(moto, &["status", "-e", &env, "--output", "json"]));
    assert_eq!(status["last_switch"]["direction"], "off", "{status:#}");
}

fn has_field(doc: &Value, path: &str) -> bool {
    let mut values = vec![doc];
    for part in path.split('.') {
        let (key, each) = match part.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (part, false),
        };
        let mut next = Vec::new();
        for v in values {
            let Some(inner) = v.get(key) else {
                return false;
            };
            match (each, inner.as_array()) {
                (true, Some(items)) if !items.is_empty() => next.extend(items.iter()),
                (true, _) => return false,
                (false, _) => next.push(inner),
            }
        }
        values = next;
    }
    true
}

#[tokio::test]
async fn a_bus_that_cannot_take_the_event_leaves_the_switch_done_and_says_so() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb_with(moto, "events-fail", &[1, 2], false).await;
    let env = alb.environment.clone();
    let missing = common::unique("no-such-bus");
    let on = maintctl(
        moto,
        &[
            "on",
            "-e",
            &env,
            "--yes",
            "--reason",
            "hotfix",
            "--event-bus",
            &missing,
        ],
    );
    assert_eq!(
        code(&on),
        0,
        "the switch's exit code is kept: {}",
        text(&on)
    );
    let stderr = String::from_utf8_lossy(&on.stderr);
    assert!(
        stderr.contains("warning: the switch's event was not put on event bus")
            && stderr.contains(&missing)
            && stderr.contains("nothing was undone"),
        "{}",
        text(&on)
    );
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
    }
    // The history still has it: a failed publish loses only the notification.
    let history = json(&maintctl(
        moto,
        &["history", "-e", &env, "--output", "json"],
    ));
    assert_eq!(history["switches"][0]["reason"], "hotfix", "{history:#}");

    // The switch function: done, its answer and log say why no one was told.
    let f = SwitchFn::start(moto, &env, 1, &[(events::SWITCH_BUS, missing.clone())]).await;
    let alarm = common::unique("db-down");
    let ok = f.invoke(&alarm_events(moto, &alarm, "ALARM").0).await;
    assert!(!ok.error, "{}", ok.raw);
    assert_eq!(ok.report["outcome"], "nothing-to-do", "{:#}", ok.report);
    let off = maintctl(moto, &["off", "-e", &env, "--yes", "--event-bus", &missing]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    let on = f.invoke(&alarm_events(moto, &alarm, "ALARM").0).await;
    assert!(!on.error, "{}", on.raw);
    assert_eq!(on.report["outcome"], "applied", "{:#}", on.report);
    let warnings = on.report["announcement_warnings"].to_string();
    assert!(
        warnings.contains(&missing) && warnings.contains("nothing was undone"),
        "{:#}",
        on.report
    );
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
    }
}

#[tokio::test]
async fn an_unattended_switch_refused_is_announced_as_refused() {
    let moto = Moto::shared();
    let alb = attached_alb_with(moto, "events-refused", &[1], false).await;
    let env = alb.environment.clone();
    let capture = Capture::new(moto, "default", &env);
    let f = SwitchFn::start(
        moto,
        &env,
        1,
        &[(
            "MAINTENANCE_SWITCH_ALARM_NAMES",
            "only-this-one".to_string(),
        )],
    )
    .await;
    let stranger = common::unique("stranger");
    let refused = f.invoke(&alarm_events(moto, &stranger, "ALARM").0).await;
    assert_eq!(refused.report["outcome"], "refused", "{:#}", refused.report);
    let captured = capture.drain(moto);
    assert_eq!(captured.len(), 1, "{captured:#?}");
    let e = &captured[0];
    assert_eq!(e["detail-type"], events::REFUSED, "{e:#}");
    assert_eq!(e["detail"]["alarm"], stranger.as_str(), "{e:#}");
    assert_eq!(e["detail"]["environment"], env.as_str(), "{e:#}");
    assert!(
        e["detail"]["message"]
            .as_str()
            .unwrap()
            .contains("not one this function acts on")
    );
}

#[tokio::test]
async fn the_history_reads_every_page_and_keeps_the_last_hundred() {
    use maintenance_engine::announce::{SwitchEvent, Who, history};
    let moto = Moto::shared();
    let ssm = automation::ssm(moto).await;
    let prefix = format!("/maintenance/{}", common::unique("history-pages"));
    let prefixes = [prefix.clone()];
    for i in 0..105 {
        let event = SwitchEvent::refused(
            Some("pages".into()),
            None,
            Who::of(
                &maintenance_engine::ops::Owner::Person,
                "arn:aws:iam::123456789012:user/ana",
            ),
            Some(format!("switch {i:03}")),
            "refused".into(),
            jiff::Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_mins(i),
        );
        assert_eq!(
            history::record(&ssm, &prefixes, &event).await,
            Vec::<String>::new()
        );
    }
    let report = history::read(&ssm, "pages", &prefixes, 100)
        .await
        .expect("read");
    let reasons: Vec<String> = report
        .switches
        .iter()
        .map(|s| s.reason.clone().unwrap())
        .collect();
    // SSM keeps the last 100 versions: 104 newest first down to 005.
    assert_eq!(reasons.len(), 100);
    assert_eq!(
        (reasons[0].as_str(), reasons[99].as_str()),
        ("switch 104", "switch 005")
    );
    // status's last switch (the parameter's current value) is the history's newest; and still
    // is when the current value is not a switch (then the versions are read, skipping it).
    let last = history::last(&ssm, &prefixes).await.expect("last");
    assert_eq!(last.as_ref(), report.switches.first());
    let name = history::parameter(&prefixes[0]);
    ssm.put_parameter()
        .name(&name)
        .value("written by hand")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .expect("overwrite by hand");
    let last = history::last(&ssm, &prefixes).await.expect("last");
    assert_eq!(last.and_then(|s| s.reason).as_deref(), Some("switch 104"));
}
