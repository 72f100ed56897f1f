//! The real `maintenance-switch` binary (issue #15) against a loopback Lambda Runtime API and a
//! moto ALB, SSM and CloudWatch over the wire: alarm events in both shapes (built from the
//! alarm moto holds, since moto never runs alarm actions), OK after a manual on, flapping, two
//! alarms at once, a scheduled switch and `maintctl on` at the same moment, the bypass link's
//! token set and rotated as by `maintctl` but never in the answer, and 20+ malformed or hostile
//! events, each refused with its reason and nothing changed.

use crate::automation;
use crate::common;

use std::time::Duration;

use automation::{
    SwitchFn, alarm_events, all_priorities, app_order, attached_alb, attached_alb_with,
    attached_alb_with_fallback, aws, code, consistent_state, maintctl, maintenance_tags, parameter,
    snapshot, ssm, text,
};
use common::Moto;
use jiff::Timestamp;
use maintenance_core::deploy_names::tags;
use maintenance_engine::listeners::Listeners;
use maintenance_engine::planner::{Live, State};
use serde_json::{Value, json};

fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

/// A schedule's switch request, as `maintctl schedule` writes it.
fn switch_request(action: &str, environment: &str, window: &str, end: Option<Timestamp>) -> Value {
    let mut v = json!({
        "action": action,
        "environment": environment,
        "reason": "upgrade CHG-42",
        "window": window,
        "scheduled_by": "arn:aws:sts::123456789012:assumed-role/ops/ana",
    });
    if let Some(end) = end {
        v["end"] = rfc3339(end).into();
    }
    v
}

#[tokio::test]
async fn alarm_then_ok_switch_on_and_off_in_both_event_shapes() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb(moto, "alarm", &[1, 2]).await;
    let original = all_priorities(&client, &alb).await;
    let f = SwitchFn::start(moto, &alb.environment, 1, &[]).await;
    for (shape, name) in [(0, "alarm-action"), (1, "eventbridge")] {
        let alarm = common::unique("shop-down");
        let pick = |(direct, bridge): (String, String)| if shape == 0 { direct } else { bridge };
        let on = f.invoke(&pick(alarm_events(moto, &alarm, "ALARM"))).await;
        assert!(!on.error, "{}", on.raw);
        let r = &on.report;
        assert_eq!(
            (r["outcome"].as_str(), r["command"].as_str()),
            (Some("applied"), Some("on")),
            "{r:#}"
        );
        assert_eq!(r["event"]["kind"], "alarm");
        assert_eq!(r["event"]["shape"], name);
        assert_eq!(r["exit_code"], 0);
        for l in alb.listeners() {
            assert_eq!(consistent_state(&client, l).await, State::On);
        }
        let t = maintenance_tags(&client, &alb.http).await;
        assert_eq!(t[tags::REASON], format!("automatic: {alarm}"));
        assert_eq!(t[tags::ALARM], alarm);
        assert_eq!(t[tags::CHANGED_BY], r["caller"].as_str().unwrap());
        assert!(
            r["leases"][0]["parameter"]
                .as_str()
                .unwrap()
                .ends_with("/switch/lease")
        );

        let off = f.invoke(&pick(alarm_events(moto, &alarm, "OK"))).await;
        assert!(!off.error, "{}", off.raw);
        assert_eq!(off.report["outcome"], "applied", "{:#}", off.report);
        assert_eq!(off.report["command"], "off");
        for l in alb.listeners() {
            assert_eq!(consistent_state(&client, l).await, State::Off);
        }
        assert_eq!(maintenance_tags(&client, &alb.http).await[tags::ALARM], "");
        assert_eq!(all_priorities(&client, &alb).await, original);
    }
}

#[tokio::test]
async fn an_alarm_never_ends_a_maintenance_a_person_switched_on() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb(moto, "manual", &[1, 2]).await;
    let original = all_priorities(&client, &alb).await;
    let f = SwitchFn::start(moto, &alb.environment, 1, &[]).await;
    let on = maintctl(
        moto,
        &[
            "on",
            "--environment",
            &alb.environment,
            "--yes",
            "--reason",
            "by hand",
        ],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    let during = all_priorities(&client, &alb).await;
    let alarm = common::unique("flaky");
    // ALARM while a person's maintenance is on: nothing to do, and the alarm does not take it over.
    let a = f.invoke(&alarm_events(moto, &alarm, "ALARM").0).await;
    assert_eq!(a.report["outcome"], "nothing-to-do", "{:#}", a.report);
    assert!(
        a.report["message"]
            .as_str()
            .unwrap()
            .contains("does not take it over")
    );
    // OK: not this alarm's maintenance, left on.
    let ok = f.invoke(&alarm_events(moto, &alarm, "OK").1).await;
    assert_eq!(ok.report["outcome"], "nothing-to-do", "{:#}", ok.report);
    let message = ok.report["message"].as_str().unwrap();
    assert!(
        message.contains("did not switch it on") && message.contains("by hand"),
        "{message}"
    );
    assert_eq!(all_priorities(&client, &alb).await, during, "nothing moved");
    let t = maintenance_tags(&client, &alb.http).await;
    assert_eq!(
        (t[tags::STATE].as_str(), t[tags::REASON].as_str()),
        ("on", "by hand")
    );
    assert!(t.get(tags::ALARM).is_none_or(String::is_empty), "{t:?}");
    let off = maintctl(moto, &["off", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));

    // Configured to stay on: the alarm's own maintenance waits for a person.
    let stay = SwitchFn::start(
        moto,
        &alb.environment,
        1,
        &[("MAINTENANCE_SWITCH_ON_ALARM_OK", "stay".into())],
    )
    .await;
    let a = stay.invoke(&alarm_events(moto, &alarm, "ALARM").1).await;
    assert_eq!(a.report["outcome"], "applied", "{:#}", a.report);
    let ok = stay.invoke(&alarm_events(moto, &alarm, "OK").0).await;
    assert_eq!(ok.report["outcome"], "nothing-to-do", "{:#}", ok.report);
    assert!(
        ok.report["message"]
            .as_str()
            .unwrap()
            .contains("stays on until a person ends it")
    );
    assert_eq!(consistent_state(&client, &alb.http).await, State::On);
    let off = maintctl(moto, &["off", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(all_priorities(&client, &alb).await, original);
}

/// The page live on a listener, if maintenance is on there.
async fn live_page(client: &impl Listeners, listener: &str) -> Option<Live> {
    let rules = snapshot(client, listener)
        .await
        .planner_rules()
        .expect("planner view");
    maintenance_engine::planner::live(&rules)
}

/// An alarm on the responder (issue #13: "an alarm on the responder failing can move traffic
/// to the fallback on its own"): ALARM during maintenance puts the fallback page live in the
/// responder's place and keeps the maintenance's owner; OK puts the responder's page back,
/// only where that alarm put the fallback; while maintenance is off it changes nothing; a
/// person's `on --fallback` is not undone by its OK.
#[tokio::test]
async fn an_alarm_on_the_responder_swaps_the_fallback_page_in_and_back_only_during_maintenance() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb_with_fallback(moto, "fb-alarm", &[1, 2]).await;
    let original = all_priorities(&client, &alb).await;
    let throttled = common::unique("responder-throttles");
    let f = SwitchFn::start(
        moto,
        &alb.environment,
        1,
        &[
            (
                "MAINTENANCE_SWITCH_FALLBACK_ALARMS",
                format!("other, {throttled}"),
            ),
            // Not in the list of alarms that switch maintenance: a fallback alarm acts anyway.
            ("MAINTENANCE_SWITCH_ALARM_NAMES", "shop-down".into()),
        ],
    )
    .await;

    // Maintenance off: the responder serves no page, nothing to do.
    let a = f.invoke(&alarm_events(moto, &throttled, "ALARM").0).await;
    assert!(!a.error, "{}", a.raw);
    assert_eq!(a.report["outcome"], "nothing-to-do", "{:#}", a.report);
    assert!(
        message(&a.report).contains("maintenance is off"),
        "{:#}",
        a.report
    );
    assert_eq!(
        all_priorities(&client, &alb).await,
        original,
        "nothing moved"
    );

    // A person's maintenance, on with the responder's page. (Not a window's: moto allows 10
    // tags on a rule, AWS 50, and a window's tag would make the alarm's the eleventh; that an
    // alarm on the responder keeps a window's or an alarm's tag is
    // `owner_tags_of_an_alarm_on_the_responder_touch_only_its_own_tag`.)
    let on = maintctl(
        moto,
        &[
            "on",
            "--environment",
            &alb.environment,
            "--yes",
            "--reason",
            "upgrade",
        ],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    for l in alb.listeners() {
        assert_eq!(live_page(&client, l).await, Some(Live::Responder));
    }

    // ALARM (EventBridge shape): the fallback page; the person still owns the maintenance.
    let a = f.invoke(&alarm_events(moto, &throttled, "ALARM").1).await;
    assert_eq!(a.report["outcome"], "applied", "{:#}", a.report);
    assert_eq!(a.report["command"], "on");
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
        assert_eq!(live_page(&client, l).await, Some(Live::Fallback), "{l}");
        let t = maintenance_tags(&client, l).await;
        assert_eq!(t[tags::FALLBACK_ALARM], throttled, "{t:?}");
        assert!(t.get(tags::ALARM).is_none_or(String::is_empty), "{t:?}");
    }
    // Again: already live.
    let again = f.invoke(&alarm_events(moto, &throttled, "ALARM").0).await;
    assert_eq!(
        again.report["outcome"], "nothing-to-do",
        "{:#}",
        again.report
    );
    assert!(message(&again.report).contains("already live"));

    // OK: the responder's page again, the alarm's tag emptied, the window still in charge.
    let ok = f.invoke(&alarm_events(moto, &throttled, "OK").0).await;
    assert_eq!(ok.report["outcome"], "applied", "{:#}", ok.report);
    for l in alb.listeners() {
        assert_eq!(live_page(&client, l).await, Some(Live::Responder), "{l}");
        let t = maintenance_tags(&client, l).await;
        assert_eq!(t[tags::FALLBACK_ALARM], "", "{t:?}");
    }

    // A person puts the fallback page live: the alarm's OK leaves it.
    let by_hand = maintctl(
        moto,
        &[
            "on",
            "--fallback",
            "--environment",
            &alb.environment,
            "--yes",
        ],
    );
    assert_eq!(code(&by_hand), 0, "{}", text(&by_hand));
    let during = all_priorities(&client, &alb).await;
    let ok = f.invoke(&alarm_events(moto, &throttled, "OK").1).await;
    assert_eq!(ok.report["outcome"], "nothing-to-do", "{:#}", ok.report);
    assert!(
        message(&ok.report).contains("did not put the fallback page live"),
        "{:#}",
        ok.report
    );
    assert_eq!(all_priorities(&client, &alb).await, during, "nothing moved");

    // Off parks both pages.
    let off = maintctl(moto, &["off", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(all_priorities(&client, &alb).await, original);
}

fn message(report: &Value) -> String {
    report["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_flapping_alarm_and_two_alarms_at_once_end_consistent() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb(moto, "flap", &[1, 2, 3]).await;
    let original = all_priorities(&client, &alb).await;
    let order = app_order(&client, &alb.http).await;
    // Three sandboxes of the function: events that arrive together run at once.
    let f = SwitchFn::start(moto, &alb.environment, 3, &[]).await;
    let alarm = common::unique("flap");
    let flaps: Vec<String> = ["ALARM", "OK", "ALARM"]
        .iter()
        .map(|s| alarm_events(moto, &alarm, s).0)
        .collect();
    // In order: on, off, on.
    for (event, want) in flaps.iter().zip(["on", "off", "on"]) {
        let a = f.invoke(event).await;
        assert_eq!(
            (a.report["outcome"].as_str(), a.report["command"].as_str()),
            (Some("applied"), Some(want)),
            "{:#}",
            a.report
        );
    }
    assert_eq!(consistent_state(&client, &alb.http).await, State::On);
    // All at once: whatever order the lease gives them, every listener ends on or off,
    // never between, and the app rules keep their order.
    let answers = futures_all(&f, &flaps).await;
    for a in &answers {
        assert!(!a.error, "{}", a.raw);
        assert!(
            ["applied", "nothing-to-do"].contains(&a.report["outcome"].as_str().unwrap()),
            "{:#}",
            a.report
        );
    }
    let states = [
        consistent_state(&client, &alb.http).await,
        consistent_state(&client, &alb.https).await,
    ];
    assert!(
        states[0] == states[1] && states[0] != State::Between,
        "{states:?}"
    );
    assert_eq!(app_order(&client, &alb.http).await, order);

    // Two alarms at once: one switches on, the other finds it on.
    let off = maintctl(moto, &["off", "--environment", &alb.environment, "--yes"]);
    assert!([0, 3].contains(&code(&off)), "{}", text(&off));
    let (a, b) = (common::unique("db-down"), common::unique("api-down"));
    let events = [
        alarm_events(moto, &a, "ALARM").0,
        alarm_events(moto, &b, "ALARM").1,
    ];
    let answers = futures_all(&f, &events).await;
    let mut outcomes: Vec<&str> = answers
        .iter()
        .map(|x| x.report["outcome"].as_str().unwrap())
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["applied", "nothing-to-do"], "{answers:#?}");
    let winner = if answers[0].report["outcome"] == "applied" {
        &a
    } else {
        &b
    };
    let loser = if winner == &a { &b } else { &a };
    assert_eq!(
        &maintenance_tags(&client, &alb.http).await[tags::ALARM],
        winner
    );
    let ok = f.invoke(&alarm_events(moto, loser, "OK").0).await;
    assert_eq!(ok.report["outcome"], "nothing-to-do", "{:#}", ok.report);
    assert_eq!(consistent_state(&client, &alb.https).await, State::On);
    let ok = f.invoke(&alarm_events(moto, winner, "OK").1).await;
    assert_eq!(ok.report["outcome"], "applied", "{:#}", ok.report);
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::Off);
    }
    assert_eq!(
        all_priorities(&client, &alb).await,
        original,
        "nothing lost from the record"
    );
}

/// Delivers every payload at once and waits for every answer, in the payloads' order.
async fn futures_all(f: &SwitchFn, payloads: &[String]) -> Vec<automation::Answered> {
    futures_join(payloads.iter().map(|p| f.invoke(p)).collect()).await
}

/// Polls every future together (they share the test's one task) until all are ready.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
/// A window's start and a person's `on` at the same moment: whichever comes first switches, the
/// other joins the owners (issue #20, items 4 and 6: a start never takes a person's
/// maintenance over, and the window's end does not end what a person still holds). The window
/// is tagged and its end is on the page; its end lets go, the person's `off` ends it.
async fn a_scheduled_switch_and_maintctl_on_at_the_same_moment_both_own_the_maintenance() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let store = ssm(moto).await;
    let alb = attached_alb(moto, "sched-race", &[1, 2, 3]).await;
    let original = all_priorities(&client, &alb).await;
    let f = SwitchFn::start(moto, &alb.environment, 1, &[]).await;
    let end = Timestamp::from_second(Timestamp::now().as_second()).unwrap()
        + jiff::SignedDuration::from_hours(2);
    let start = switch_request("on", &alb.environment, "w-race", Some(end)).to_string();
    let env = alb.environment.clone();
    let person = tokio::task::spawn_blocking(move || {
        maintctl(
            Moto::shared(),
            &["on", "--environment", &env, "--yes", "--reason", "by hand"],
        )
    });
    let scheduled = f.invoke(&start).await;
    let person = person.await.unwrap();
    assert!(!scheduled.error, "{}", scheduled.raw);
    let outcomes = (scheduled.report["outcome"].as_str().unwrap(), code(&person));
    assert!(
        outcomes == ("applied", 3) || outcomes == ("nothing-to-do", 0),
        "{outcomes:?}: {:#}\n{}",
        scheduled.report,
        text(&person)
    );
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
    }
    // Whoever switched, the window is among the owners now and its end is on the page.
    assert_eq!(
        maintenance_tags(&client, &alb.https).await[tags::WINDOW],
        "w-race"
    );
    assert_eq!(
        parameter(&store, &format!("{}/retry-after", alb.prefix))
            .await
            .as_deref(),
        Some(rfc3339(end).as_str())
    );
    let status = automation::json(&maintctl(
        moto,
        &[
            "status",
            "--environment",
            &alb.environment,
            "--output",
            "json",
        ],
    ));
    let owners = &status["owners"][&alb.environment];
    let kinds: Vec<&str> = owners
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"window") && kinds.contains(&"person"),
        "{status:#}"
    );
    // The window's end lets go: the person still holds the maintenance.
    let stop = switch_request("off", &alb.environment, "w-race", None).to_string();
    let ended = f.invoke(&stop).await;
    assert_eq!(
        ended.report["outcome"], "nothing-to-do",
        "{:#}",
        ended.report
    );
    assert!(
        message(&ended.report).contains("stays on for its other owners"),
        "{:#}",
        ended.report
    );
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
    }
    let off = maintctl(moto, &["off", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(all_priorities(&client, &alb).await, original);
    // Its end again (a retried delivery): already off, said so.
    let again = f.invoke(&stop).await;
    assert_eq!(again.report["outcome"], "nothing-to-do");
    assert!(
        again.report["message"]
            .as_str()
            .unwrap()
            .contains("already off"),
        "{:#}",
        again.report
    );
}

#[tokio::test]
async fn malformed_and_hostile_events_are_refused_with_their_reason_and_change_nothing() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let store = ssm(moto).await;
    let alb = attached_alb(moto, "hostile", &[1, 2]).await;
    let env = alb.environment.as_str();
    let before = all_priorities(&client, &alb).await;
    let tags_before = [
        maintenance_tags(&client, &alb.http).await,
        maintenance_tags(&client, &alb.https).await,
    ];
    let mut f = SwitchFn::start(
        moto,
        env,
        1,
        &[("MAINTENANCE_SWITCH_ALARM_NAMES", "app-healthy-hosts".into())],
    )
    .await;
    let now = Timestamp::now();
    let good_end = Some(now + jiff::SignedDuration::from_hours(1));
    let with = |change: &dyn Fn(&mut Value)| {
        let mut v = switch_request("on", env, "w-1", good_end);
        change(&mut v);
        v.to_string()
    };
    let alarm = |name: &str, state: &str| {
        json!({"source": "aws.cloudwatch", "alarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x",
               "alarmData": {"alarmName": name, "state": {"value": state}}})
        .to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        ("{}".into(), "neither a switch request"),
        ("[]".into(), "not an object"),
        ("\"on\"".into(), "not an object"),
        ("null".into(), "not an object"),
        ("42".into(), "not an object"),
        (r#"{"action":"on"}"#.into(), "missing field"),
        (with(&|v| v["action"] = "reboot".into()), "neither \"on\" nor \"off\""),
        (with(&|v| v["action"] = 1.into()), "invalid type"),
        (with(&|v| v["priority"] = 1.into()), "unknown field `priority`"),
        (with(&|v| v["environment"] = "shop-other".into()), "switches environment"),
        (with(&|v| v["environment"] = "x; rm -rf /".into()), "cannot be stored as a tag"),
        (with(&|v| { v.as_object_mut().unwrap().remove("end"); }), "needs the window's \"end\""),
        (with(&|v| v["end"] = rfc3339(now - jiff::SignedDuration::from_mins(5)).into()), "before this start was delivered"),
        (with(&|v| v["end"] = rfc3339(now + jiff::SignedDuration::from_hours(24 * 30)).into()), "more than 7 days"),
        (with(&|v| v["end"] = "tomorrow".into()), "not an RFC 3339"),
        (switch_request("off", env, "w-1", good_end).to_string(), "takes no \"end\""),
        (with(&|v| v["timezone"] = "Mars/Olympus_Mons".into()), "not in the time zone database"),
        (with(&|v| v["timezone"] = "../../etc/passwd".into()), "not an IANA time zone"),
        (with(&|v| v["window"] = "../../switch/lease".into()), "window id"),
        (with(&|v| v["reason"] = "a\u{0}b".into()), "control character"),
        (with(&|v| v["reason"] = "x".repeat(10_000).into()), "longer than 256"),
        (with(&|v| v["scheduled_by"] = "  ".into()), "scheduled_by is empty"),
        (alarm("app-healthy-hosts", "PANIC"), "none of ALARM, OK"),
        (alarm("", "ALARM"), "alarm name is empty"),
        (alarm("intruder", "ALARM"), "not one this function acts on"),
        (
            json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm Configuration Change", "detail": {}}).to_string(),
            "not \"CloudWatch Alarm State Change\"",
        ),
        (json!({"source": "aws.ec2", "alarmData": {"alarmName": "x", "state": {"value": "ALARM"}}}).to_string(), "neither a switch request"),
        (json!({"source": "aws.cloudwatch", "alarmData": {"state": {"value": "ALARM"}}}).to_string(), "missing field `alarmName`"),
        (format!(r#"{{"padding":"{}"}}"#, "x".repeat(100_000)), "more than any switch request"),
    ];
    assert!(cases.len() >= 20);
    for (payload, reason) in &cases {
        let a = f.invoke(payload).await;
        assert!(!a.error, "answered, not an invocation error: {}", a.raw);
        assert_eq!(
            a.report["outcome"], "refused",
            "{payload:.200}: {:#}",
            a.report
        );
        assert_eq!(a.report["exit_code"], 4);
        assert_eq!(a.report["retry"], false);
        let message = a.report["message"].as_str().unwrap();
        assert!(
            message.contains(reason),
            "{payload:.200}: {message:?} should say {reason:?}"
        );
        assert!(message.contains("nothing was changed"), "{message}");
    }
    // Not JSON at all: the Lambda runtime refuses it before the handler (an invocation error);
    // the function lives on and answers the next event.
    for junk in ["not json", "{\"action\":", "\u{feff}{}"] {
        let a = f.invoke(junk).await;
        assert!(a.error, "{}", a.raw);
    }
    let insufficient = f
        .invoke(&alarm("app-healthy-hosts", "INSUFFICIENT_DATA"))
        .await;
    assert_eq!(insufficient.report["outcome"], "nothing-to-do");
    assert!(f.all_alive(), "a process died");
    // Nothing changed: priorities, tags, and nothing written under the prefix.
    assert_eq!(all_priorities(&client, &alb).await, before);
    assert_eq!(
        [
            maintenance_tags(&client, &alb.http).await,
            maintenance_tags(&client, &alb.https).await
        ],
        tags_before
    );
    let written = store
        .get_parameters_by_path()
        .path(&alb.prefix)
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert!(
        written.parameters().is_empty(),
        "{:?}",
        written.parameters()
    );

    // An environment with no maintenance rule, and a function that does not know its own.
    let nowhere = common::unique("nowhere");
    let g = SwitchFn::start(moto, &nowhere, 1, &[]).await;
    let a = g
        .invoke(&switch_request("on", &nowhere, "w-1", good_end).to_string())
        .await;
    assert_eq!(a.report["outcome"], "refused", "{:#}", a.report);
    assert!(
        a.report["message"]
            .as_str()
            .unwrap()
            .contains("no listener with a maintenance rule")
    );
    let h = SwitchFn::start(moto, "", 1, &[]).await;
    let a = h
        .invoke(&switch_request("on", env, "w-1", good_end).to_string())
        .await;
    assert_eq!(a.report["outcome"], "refused", "{:#}", a.report);
    assert_eq!(all_priorities(&client, &alb).await, before);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// The token as SSM holds it (decrypted), if the parameter exists.
async fn stored_token(moto: &Moto, prefix: &str) -> Option<String> {
    let out = ssm(moto)
        .await
        .get_parameter()
        .name(format!("{prefix}/bypass/token"))
        .with_decryption(true)
        .send()
        .await;
    match out {
        Ok(out) => out.parameter.and_then(|p| p.value),
        Err(e) if format!("{e:?}").contains("ParameterNotFound") => None,
        Err(e) => panic!("GetParameter: {e:?}"),
    }
}

#[tokio::test]
async fn an_alarm_sets_the_bypass_token_like_maintctl_and_its_answer_holds_no_link() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb_with(moto, "alarm-link", &[1, 2], true).await;
    let f = SwitchFn::start(moto, &alb.environment, 1, &[]).await;
    let alarm = common::unique("shop-down");
    let on = f.invoke(&alarm_events(moto, &alarm, "ALARM").0).await;
    assert!(!on.error, "{}", on.raw);
    assert_eq!(on.report["outcome"], "applied", "{:#}", on.report);
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
    }
    // The window's token is in SSM (as maintctl on stores it), and nowhere in the answer.
    let token = stored_token(moto, &alb.prefix)
        .await
        .expect("a token in SSM");
    assert!(token.len() >= 40, "{token}");
    assert!(
        !on.raw.contains(&token),
        "the answer holds the token: {}",
        on.raw
    );
    let bypass = &on.report["bypass"];
    assert_eq!(bypass["links"], json!([]), "{bypass:#}");
    assert!(
        text_of(&bypass["notes"]).contains("maintctl bypass link"),
        "{bypass:#}"
    );
    // OK switches off and rotates the token: the window's link is dead.
    let off = f.invoke(&alarm_events(moto, &alarm, "OK").0).await;
    assert!(!off.error, "{}", off.raw);
    assert_eq!(off.report["outcome"], "applied", "{:#}", off.report);
    let rotated = stored_token(moto, &alb.prefix).await;
    assert_ne!(rotated.as_deref(), Some(token.as_str()));
    assert!(!off.raw.contains(&token), "{}", off.raw);
}

fn text_of(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}
