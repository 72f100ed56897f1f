//! Maintenance that runs itself, under disorder (issue #20): events that arrive late, twice or
//! out of order, several owners at once, windows that meet, a cancelled window, the bypass link
//! across a page swap, a lease left by a clock that ran ahead, zones in the wrong spelling,
//! what really answers a listener, and a record of displaced rules nobody should trust. Each
//! test is one class of the issue with the siblings found, driven over the wire against moto
//! with the real `maintenance-switch` (on a loopback Runtime API) and `maintctl` (as a process).
//! Killing the switch function at every step of a switch is tests/crash.rs.

mod automation;
mod common;

use std::time::Duration;

use automation::{
    Alb, SwitchFn, alarm_events, all_priorities, attached_alb, attached_alb_with,
    attached_alb_with_both, attached_alb_with_fallback, aws, code, get_schedule, json, maintctl,
    owners, parameter, schedule_group, snapshot, ssm, states, text,
};
use common::Moto;
use maintenance_responder::deploy_names::tags;
use maintenance_responder::ops::lease::{self, LeaseOptions};
use maintenance_responder::planner::{Live, State};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const ON: [State; 2] = [State::On, State::On];
const OFF: [State; 2] = [State::Off, State::Off];

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

fn message(report: &Value) -> String {
    report["message"].as_str().unwrap_or_default().to_string()
}

/// A window's switch request, as `maintctl schedule` writes it.
fn window(action: &str, alb: &Alb, id: &str, end: Option<OffsetDateTime>) -> String {
    let mut v = json!({
        "action": action,
        "environment": alb.environment,
        "reason": "upgrade CHG-20",
        "window": id,
        "scheduled_by": "arn:aws:sts::123456789012:assumed-role/ops/ana",
    });
    if let Some(end) = end {
        v["end"] = rfc3339(end).into();
    }
    v.to_string()
}

fn in_hours(h: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::hours(h)
}

/// Asserts how an event ended, and that the message says `says`.
fn ended(answer: &automation::Answered, outcome: &str, says: &str) {
    assert_eq!(answer.report["outcome"], outcome, "{:#}", answer.report);
    assert!(
        message(&answer.report).contains(says),
        "{says:?} in {:#}",
        answer.report
    );
}

/// Item 1 and its siblings: an alarm event acts only when it is newer than the last one
/// handled for that alarm. The case (ALARM meets a held lease and is retried after the
/// OK that followed it), an OK and an ALARM delivered out of order, and a retried ALARM after
/// a person ended the maintenance are all stale; a new state change still acts.
#[tokio::test]
async fn a_late_or_repeated_alarm_event_is_stale_and_changes_nothing() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let store = ssm(moto).await;
    let alb = attached_alb(moto, "stale", &[1, 2]).await;
    let original = all_priorities(&client, &alb).await;
    let quick = [("MAINTENANCE_SWITCH_LEASE_WAIT_SECONDS", "1".to_string())];
    let f = SwitchFn::start(moto, &alb.environment, 1, &quick).await;
    let alarm = common::unique("shop-down");

    // ALARM(T1) finds the lease held: a retryable failure, nothing changed.
    let alarm_t1 = alarm_events(moto, &alarm, "ALARM").0;
    let wait = LeaseOptions {
        wait: Duration::ZERO,
        ..LeaseOptions::default()
    };
    let other = "arn:aws:sts::123456789012:assumed-role/ops/other";
    let held = lease::acquire(&store, &alb.prefix, other, "on by a person", &wait, |_| {})
        .await
        .unwrap();
    let first = f.invoke(&alarm_t1).await;
    assert!(first.error, "{}", first.raw);
    assert_eq!(first.report["retry"], true, "{:#}", first.report);
    lease::release(&store, &held).await.unwrap();
    // OK(T2) comes (nothing to do), then Lambda's retry of ALARM(T1): stale.
    let ok_t2 = alarm_events(moto, &alarm, "OK").0;
    ended(&f.invoke(&ok_t2).await, "nothing-to-do", "already off");
    let retried = f.invoke(&alarm_t1).await;
    assert!(!retried.error, "{}", retried.raw);
    ended(&retried, "nothing-to-do", "stale");
    assert_eq!(states(&client, &alb).await, OFF);

    // Out of order: ALARM(T3), OK(T4), ALARM(T5) delivered T5, T4, T3.
    let a3 = alarm_events(moto, &alarm, "ALARM").1;
    let o4 = alarm_events(moto, &alarm, "OK").1;
    let a5 = alarm_events(moto, &alarm, "ALARM").0;
    ended(&f.invoke(&a5).await, "applied", "maintenance is on");
    ended(&f.invoke(&o4).await, "nothing-to-do", "stale");
    ended(&f.invoke(&a3).await, "nothing-to-do", "stale");
    assert_eq!(states(&client, &alb).await, ON);
    assert_eq!(owners(moto, &alb), [format!("alarm {alarm}")]);

    // A person ends it; a retry of ALARM(T5) does not switch it on again.
    let off = maintctl(moto, &["off", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    ended(&f.invoke(&a5).await, "nothing-to-do", "stale");
    assert_eq!(states(&client, &alb).await, OFF);

    // A new state change still acts: OK(T6), then ALARM(T7) on and OK(T8) off.
    ended(
        &f.invoke(&alarm_events(moto, &alarm, "OK").0).await,
        "nothing-to-do",
        "already off",
    );
    let a7 = f.invoke(&alarm_events(moto, &alarm, "ALARM").1).await;
    ended(&a7, "applied", "maintenance is on");
    let o8 = f.invoke(&alarm_events(moto, &alarm, "OK").1).await;
    ended(&o8, "applied", "maintenance is off");
    assert_eq!(all_priorities(&client, &alb).await, original);
}

/// Item 1's sibling on the responder's own alarms (the fallback page): an ALARM delivered after
/// the OK that followed it would put the ALB's bare 503 live, health checks included, and no
/// later event would take it away. Stale instead; a new ALARM still swaps the page.
#[tokio::test]
async fn a_late_alarm_on_the_responder_does_not_put_the_fallback_page_live() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb_with_fallback(moto, "stale-fb", &[1, 2]).await;
    let throttles = common::unique("responder-throttles");
    let fallback_alarms = [("MAINTENANCE_SWITCH_FALLBACK_ALARMS", throttles.clone())];
    let f = SwitchFn::start(moto, &alb.environment, 1, &fallback_alarms).await;
    let on = maintctl(moto, &["on", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let a1 = alarm_events(moto, &throttles, "ALARM").0;
    let o2 = alarm_events(moto, &throttles, "OK").0;
    ended(&f.invoke(&o2).await, "nothing-to-do", "already live");
    ended(&f.invoke(&a1).await, "nothing-to-do", "stale");
    for l in alb.listeners() {
        assert_eq!(live_page(&client, l).await, Some(Live::Responder), "{l}");
    }
    let a3 = alarm_events(moto, &throttles, "ALARM").1;
    ended(&f.invoke(&a3).await, "applied", "fallback page");
    ended(&f.invoke(&a3).await, "nothing-to-do", "stale");
    for l in alb.listeners() {
        assert_eq!(live_page(&client, l).await, Some(Live::Fallback), "{l}");
    }
    let off = maintctl(moto, &["off", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
}

async fn live_page(
    client: &impl maintenance_responder::listeners::Listeners,
    l: &str,
) -> Option<Live> {
    maintenance_responder::planner::live(&snapshot(client, l).await.planner_rules().unwrap())
}

/// Item 1's siblings among windows: a start and an end delivered twice, a start delivered again
/// after its end or after a person ended its maintenance (stale), a start delivered after its
/// window's end (refused).
#[tokio::test]
async fn a_window_s_start_and_end_delivered_late_twice_or_out_of_order_change_nothing_more() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb(moto, "stale-w", &[1, 2]).await;
    let original = all_priorities(&client, &alb).await;
    let f = SwitchFn::start(moto, &alb.environment, 1, &[]).await;
    let start = window("on", &alb, "w-twice", Some(in_hours(2)));
    let end = window("off", &alb, "w-twice", None);
    ended(&f.invoke(&start).await, "applied", "maintenance is on");
    ended(&f.invoke(&start).await, "nothing-to-do", "among its owners");
    ended(&f.invoke(&end).await, "applied", "maintenance is off");
    ended(&f.invoke(&end).await, "nothing-to-do", "already off");
    ended(&f.invoke(&start).await, "nothing-to-do", "stale");
    assert_eq!(all_priorities(&client, &alb).await, original);

    // Its maintenance ended by a person: the start again is a repeat, stale.
    let start = window("on", &alb, "w-ended", Some(in_hours(2)));
    ended(&f.invoke(&start).await, "applied", "maintenance is on");
    let off = maintctl(moto, &["off", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    ended(&f.invoke(&start).await, "nothing-to-do", "stale");
    assert_eq!(states(&client, &alb).await, OFF);

    // Delivered after its window's end: refused (it would leave a maintenance nothing ends).
    let late = window(
        "on",
        &alb,
        "w-late",
        Some(in_hours(0) - time::Duration::minutes(1)),
    );
    ended(
        &f.invoke(&late).await,
        "refused",
        "before this start was delivered",
    );
    assert_eq!(all_priorities(&client, &alb).await, original);
}

/// Item 6 and its siblings: every owner is kept. Two alarms (the first OK leaves it on), a
/// window and an alarm (the window's end leaves it on while the alarm holds it), a person's
/// `on` during an alarm's maintenance (it joins: exit 3, no token promised, the alarm's OK
/// leaves it on), and `status` lists them; it goes off with the last owner, or a person's off.
#[tokio::test]
async fn every_owner_is_kept_and_maintenance_ends_with_the_last_or_a_person() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb_with(moto, "owners", &[1, 2], true).await;
    let original = all_priorities(&client, &alb).await;
    let f = SwitchFn::start(moto, &alb.environment, 1, &[]).await;
    let (a, b) = (common::unique("db-down"), common::unique("api-down"));
    ended(
        &f.invoke(&alarm_events(moto, &a, "ALARM").0).await,
        "applied",
        "is on",
    );
    ended(
        &f.invoke(&alarm_events(moto, &b, "ALARM").1).await,
        "nothing-to-do",
        "joins",
    );
    assert_eq!(
        owners(moto, &alb),
        [format!("alarm {a}"), format!("alarm {b}")]
    );
    ended(
        &f.invoke(&alarm_events(moto, &a, "OK").0).await,
        "nothing-to-do",
        "stays on",
    );
    assert_eq!(states(&client, &alb).await, ON);
    ended(
        &f.invoke(&alarm_events(moto, &b, "OK").1).await,
        "applied",
        "is off",
    );
    assert_eq!(all_priorities(&client, &alb).await, original);

    // A window and an alarm: the window's end lets go, the alarm still holds it.
    let c = common::unique("app-down");
    ended(
        &f.invoke(&window("on", &alb, "w-own", Some(in_hours(2))))
            .await,
        "applied",
        "is on",
    );
    ended(
        &f.invoke(&alarm_events(moto, &c, "ALARM").0).await,
        "nothing-to-do",
        "joins",
    );
    ended(
        &f.invoke(&window("off", &alb, "w-own", None)).await,
        "nothing-to-do",
        "stays on",
    );
    assert_eq!(states(&client, &alb).await, ON);
    assert_eq!(owners(moto, &alb), [format!("alarm {c}")]);
    ended(
        &f.invoke(&alarm_events(moto, &c, "OK").0).await,
        "applied",
        "is off",
    );
    assert_eq!(all_priorities(&client, &alb).await, original);

    // A person's on during an alarm's maintenance: joins, and promises no new token.
    let d = common::unique("cart-down");
    ended(
        &f.invoke(&alarm_events(moto, &d, "ALARM").0).await,
        "applied",
        "is on",
    );
    let env = alb.environment.as_str();
    let dry = maintctl(moto, &["on", "--environment", env, "--dry-run"]);
    assert_eq!(code(&dry), 3, "{}", text(&dry));
    let keep = ["on", "--environment", env, "--yes", "--reason", "keep down"];
    let joined = maintctl(moto, &keep);
    assert_eq!(code(&joined), 3, "{}", text(&joined));
    for out in [&dry, &joined] {
        let shown = text(out);
        assert!(shown.contains("now among its owners"), "{shown}");
        assert!(!shown.contains("a new token goes on"), "{shown}");
    }
    let person = owners(moto, &alb);
    assert_eq!(person.len(), 2, "{person:?}");
    assert!(person[1].starts_with("person arn:"), "{person:?}");
    ended(
        &f.invoke(&alarm_events(moto, &d, "OK").1).await,
        "nothing-to-do",
        "stays on",
    );
    assert_eq!(states(&client, &alb).await, ON);
    let status = maintctl(moto, &["status", "--environment", env]);
    assert!(
        text(&status).contains("owned by person arn:"),
        "{}",
        text(&status)
    );
    let off = maintctl(moto, &["off", "--environment", env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(all_priorities(&client, &alb).await, original);
    assert!(owners(moto, &alb).is_empty());
}

/// Item 4 and its siblings: no window or deadline is made or moved over another (`schedule
/// extend` into the next window, `on --until` over a window, as `schedule create` already
/// refused); and a window's start that joins a maintenance whose owner ends later never writes
/// its earlier end on the page, nor does its end end that maintenance.
#[tokio::test]
async fn windows_never_take_each_other_over() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let store = ssm(moto).await;
    let alb = attached_alb(moto, "overlap", &[1, 2]).await;
    let group = schedule_group(moto, &alb.environment).await;
    let env = alb.environment.clone();
    let minutes = |m: i64| rfc3339(OffsetDateTime::now_utc() + time::Duration::minutes(m));
    let create = |start: i64, end: i64| {
        let args = [
            "schedule",
            "create",
            "--environment",
            &env,
            "--start",
            &minutes(start),
            "--end",
            &minutes(end),
            "--reason",
            "nightly",
            "--output",
            "json",
        ];
        let out = maintctl(moto, &args);
        assert_eq!(code(&out), 0, "{}", text(&out));
        json(&out)["windows"][0]["id"].as_str().unwrap().to_string()
    };
    let a = create(10, 70);
    let b = create(80, 140);
    let args = [
        "schedule",
        "extend",
        &a,
        "--environment",
        &env,
        "--end",
        &minutes(100),
    ];
    let extend = maintctl(moto, &args);
    assert_eq!(code(&extend), 4, "{}", text(&extend));
    assert!(text(&extend).contains(&b), "{}", text(&extend));
    let args = [
        "on",
        "--environment",
        &env,
        "--yes",
        "--until",
        &minutes(90),
    ];
    let until = maintctl(moto, &args);
    assert_eq!(code(&until), 4, "{}", text(&until));
    assert!(text(&until).contains(&a), "{}", text(&until));
    assert_eq!(states(&client, &alb).await, OFF);
    assert!(!group.name.is_empty());

    // A start joining a longer window's maintenance: the page keeps the longer end.
    let f = SwitchFn::start(moto, &env, 1, &[]).await;
    let (long, short) = (in_hours(3), in_hours(1));
    ended(
        &f.invoke(&window("on", &alb, "w-long", Some(long))).await,
        "applied",
        "is on",
    );
    ended(
        &f.invoke(&window("on", &alb, "w-short", Some(short))).await,
        "nothing-to-do",
        "joins",
    );
    let retry_after = format!("{}/retry-after", alb.prefix);
    assert_eq!(parameter(&store, &retry_after).await, Some(rfc3339(long)));
    ended(
        &f.invoke(&window("off", &alb, "w-short", None)).await,
        "nothing-to-do",
        "stays on",
    );
    assert_eq!(states(&client, &alb).await, ON);
    ended(
        &f.invoke(&window("off", &alb, "w-long", None)).await,
        "applied",
        "is off",
    );
    assert_eq!(states(&client, &alb).await, OFF);
}

/// The `Input` a window's schedule (`start` or `end`) delivers, as moto holds it.
async fn input(group: &str, id: &str, which: &str) -> String {
    get_schedule(Moto::shared(), group, &format!("{id}-{which}"))
        .await
        .target()
        .unwrap()
        .input()
        .unwrap()
        .to_string()
}

/// Item 9 and its siblings: after `schedule cancel`, a window's events are stale — the end of
/// a running window (its maintenance stays on, owned by the person who cancelled), its start
/// again, and the start of an upcoming window cancelled while it was in flight.
#[tokio::test]
async fn a_cancelled_window_s_events_are_stale_and_its_maintenance_stays_on() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb(moto, "cancel", &[1, 2]).await;
    let original = all_priorities(&client, &alb).await;
    let group = schedule_group(moto, &alb.environment).await;
    let env = alb.environment.clone();
    let f = SwitchFn::start(moto, &env, 1, &[]).await;
    let minutes = |m: i64| rfc3339(OffsetDateTime::now_utc() + time::Duration::minutes(m));
    let create = |start: i64, end: i64| {
        let args = [
            "schedule",
            "create",
            "--environment",
            &env,
            "--start",
            &minutes(start),
            "--end",
            &minutes(end),
            "--reason",
            "db upgrade",
            "--output",
            "json",
        ];
        let out = maintctl(moto, &args);
        assert_eq!(code(&out), 0, "{}", text(&out));
        json(&out)["windows"][0]["id"].as_str().unwrap().to_string()
    };
    let w = create(5, 60);
    let (start, end) = (
        input(&group.name, &w, "start").await,
        input(&group.name, &w, "end").await,
    );
    ended(&f.invoke(&start).await, "applied", "is on");
    let cancel = maintctl(moto, &["schedule", "cancel", &w, "--environment", &env]);
    assert_eq!(code(&cancel), 0, "{}", text(&cancel));
    for says in ["maintenance stays on", "owned by you", "stale"] {
        assert!(text(&cancel).contains(says), "{says}: {}", text(&cancel));
    }
    ended(&f.invoke(&end).await, "nothing-to-do", "cancelled");
    ended(&f.invoke(&start).await, "nothing-to-do", "cancelled");
    assert_eq!(states(&client, &alb).await, ON);
    let left = owners(moto, &alb);
    assert!(
        left.len() == 1 && left[0].starts_with("person "),
        "{left:?}"
    );
    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(all_priorities(&client, &alb).await, original);

    // An upcoming window cancelled while its start was in flight.
    let u = create(70, 130);
    let start = input(&group.name, &u, "start").await;
    let cancel = maintctl(moto, &["schedule", "cancel", &u, "--environment", &env]);
    assert_eq!(code(&cancel), 0, "{}", text(&cancel));
    ended(&f.invoke(&start).await, "nothing-to-do", "cancelled");
    assert_eq!(states(&client, &alb).await, OFF);
}

/// The token the responder's content holds now (decrypted).
async fn token(moto: &Moto, prefix: &str) -> String {
    ssm(moto)
        .await
        .get_parameter()
        .name(format!("{prefix}/bypass/token"))
        .with_decryption(true)
        .send()
        .await
        .unwrap()
        .parameter
        .and_then(|p| p.value)
        .unwrap()
}

/// The cookie bypass rules' conditions (their token), listener by listener.
async fn cookie_conditions(
    client: &maintenance_responder::listeners::Aws,
    alb: &Alb,
) -> Vec<String> {
    let mut found = Vec::new();
    for l in alb.listeners() {
        let s = snapshot(client, l).await;
        for r in s
            .bypass_rules()
            .filter(|r| r.tags.contains_key(tags::BYPASS_LINK))
        {
            found.push(format!("{:?}", r.conditions));
        }
    }
    found
}

/// Item 5 and its siblings: a switch that keeps maintenance on keeps the window's bypass token
/// (the fallback page swapped in by an alarm and back, a person's `on --fallback` and `on`, a
/// person's `on` that joins); only a new window (after `off`) gets a new one.
#[tokio::test]
async fn only_a_new_window_gets_a_new_bypass_token() {
    let moto = Moto::shared();
    let alb = attached_alb_with_both(moto, "token", &[1, 2]).await;
    let env = alb.environment.as_str();
    let throttles = common::unique("throttles");
    let fallback_alarms = [("MAINTENANCE_SWITCH_FALLBACK_ALARMS", throttles.clone())];
    let f = SwitchFn::start(moto, env, 1, &fallback_alarms).await;
    let on = maintctl(moto, &["on", "--environment", env, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let window_token = token(moto, &alb.prefix).await;
    let client = aws(moto).await;
    let rules_then = cookie_conditions(&client, &alb).await;
    assert_eq!(rules_then.len(), 2, "one cookie rule per listener");
    let still = |what: String| {
        let (client, alb, expected, rules) = (
            client.clone(),
            alb.clone(),
            window_token.clone(),
            rules_then.clone(),
        );
        async move {
            assert_eq!(token(Moto::shared(), &alb.prefix).await, expected, "{what}");
            assert_eq!(cookie_conditions(&client, &alb).await, rules, "{what}");
        }
    };
    ended(
        &f.invoke(&alarm_events(moto, &throttles, "ALARM").0).await,
        "applied",
        "fallback",
    );
    still("after the alarm's ALARM".into()).await;
    ended(
        &f.invoke(&alarm_events(moto, &throttles, "OK").0).await,
        "applied",
        "is on",
    );
    still("after the alarm's OK".into()).await;
    for args in [
        vec!["on", "--fallback", "--environment", env, "--yes"],
        vec!["on", "--environment", env, "--yes"],
        vec!["on", "--environment", env, "--yes", "--reason", "me too"],
    ] {
        let out = maintctl(moto, &args);
        assert!([0, 3].contains(&code(&out)), "{}", text(&out));
        assert!(
            !text(&out).contains("a new token goes on"),
            "{}",
            text(&out)
        );
        still(args.join(" ")).await;
    }
    let off = maintctl(moto, &["off", "--environment", env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    let rotated = token(moto, &alb.prefix).await;
    assert_ne!(
        rotated, window_token,
        "off gives the rules a token nobody has"
    );
    let on = maintctl(moto, &["on", "--environment", env, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let next = token(moto, &alb.prefix).await;
    assert!(
        next != rotated && next != window_token,
        "a new window, a new token"
    );
    let off = maintctl(moto, &["off", "--environment", env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
}
