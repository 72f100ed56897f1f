//! Maintenance that runs itself, under disorder (issue #20): events that arrive late, twice or
//! out of order, several owners at once, windows that meet, a cancelled window, the bypass link
//! across a page swap, a lease left by a clock that ran ahead, zones in the wrong spelling,
//! what really answers a listener, and a record of displaced rules nobody should trust. Each
//! test is one class of the issue with the siblings found, driven over the wire against moto
//! with the real `maintenance-switch` (on a loopback Runtime API) and `maintctl` (as a process).
//! Killing the switch function at every step of a switch is tests/automation/crash.rs.

use std::time::Duration;

use crate::automation::{
    Alb, SwitchFn, alarm_events, all_priorities, attached_alb, attached_alb_with,
    attached_alb_with_both, attached_alb_with_fallback, aws, code, get_schedule, json, maintctl,
    owners, parameter, schedule_group, snapshot, ssm, states, text,
};
use crate::common::Moto;
use jiff::Timestamp;
use maintenance_core::deploy_names::tags;
use maintenance_engine::ops::lease::{self, LeaseOptions, LeaseValue};
use maintenance_engine::planner::{Live, State};
use maintenance_responder::ssm::{
    FetchError, LockParameters, ParameterPage, ParameterStore, ParameterWriter, StoredType, Write,
};
use serde_json::{Value, json};

const ON: [State; 2] = [State::On, State::On];
const OFF: [State; 2] = [State::Off, State::Off];

fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

fn message(report: &Value) -> String {
    report["message"].as_str().unwrap_or_default().to_string()
}

/// A window's switch request, as `maintctl schedule` writes it.
fn window(action: &str, alb: &Alb, id: &str, end: Option<Timestamp>) -> String {
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

fn in_hours(h: i64) -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap()
        + jiff::SignedDuration::from_hours(h)
}

/// Asserts how an event ended, and that the message says `says`.
fn ended(answer: &crate::automation::Answered, outcome: &str, says: &str) {
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
    let alarm = crate::common::unique("shop-down");

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
    let throttles = crate::common::unique("responder-throttles");
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
    client: &impl maintenance_engine::listeners::Listeners,
    l: &str,
) -> Option<Live> {
    maintenance_engine::planner::live(&snapshot(client, l).await.planner_rules().unwrap())
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
        Some(in_hours(0) - jiff::SignedDuration::from_mins(1)),
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
    let (a, b) = (
        crate::common::unique("db-down"),
        crate::common::unique("api-down"),
    );
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
    let c = crate::common::unique("app-down");
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
    let d = crate::common::unique("cart-down");
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

/// `maintctl schedule create` of a window from `start` to `end` minutes from now; its id.
fn create_window(moto: &Moto, env: &str, start: i64, end: i64) -> String {
    let minutes = |m: i64| rfc3339(Timestamp::now() + jiff::SignedDuration::from_mins(m));
    let (start, end) = (minutes(start), minutes(end));
    let args = [
        "schedule",
        "create",
        "--environment",
        env,
        "--start",
        &start,
        "--end",
        &end,
        "--reason",
        "planned",
        "--output",
        "json",
    ];
    let out = maintctl(moto, &args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    json(&out)["windows"][0]["id"].as_str().unwrap().to_string()
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
    let minutes = |m: i64| rfc3339(Timestamp::now() + jiff::SignedDuration::from_mins(m));
    let create = |start: i64, end: i64| create_window(moto, &env, start, end);
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
    let create = |start: i64, end: i64| create_window(moto, &env, start, end);
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
async fn cookie_conditions(client: &maintenance_engine::listeners::Aws, alb: &Alb) -> Vec<String> {
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
    let throttles = crate::common::unique("throttles");
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

/// SSM with the owner record refused (as under a policy without `{prefix}/switch/owners`):
/// everything else is the real client. Fault injection no emulator produces on demand.
struct NoOwnerRecord(aws_sdk_ssm::Client);

impl LockParameters for NoOwnerRecord {
    async fn create_new(&self, name: &str, value: &str) -> Result<bool, FetchError> {
        self.0.create_new(name, value).await
    }
    async fn read(&self, name: &str) -> Result<Option<(String, Option<i64>)>, FetchError> {
        self.0.read(name).await
    }
    async fn delete(&self, name: &str) -> Result<bool, FetchError> {
        self.0.delete(name).await
    }
    async fn overwrite(&self, name: &str, _value: &str) -> Result<(), FetchError> {
        Err(FetchError::Service(format!(
            "AccessDeniedException: not authorized to put {name}"
        )))
    }
}

impl ParameterStore for NoOwnerRecord {
    async fn parameters_page(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<ParameterPage, FetchError> {
        self.0.parameters_page(path, token).await
    }
}

impl ParameterWriter for NoOwnerRecord {
    async fn stored_types(
        &self,
        names: &[String],
    ) -> Result<std::collections::BTreeMap<String, StoredType>, FetchError> {
        self.0.stored_types(names).await
    }
    async fn put(&self, write: &Write, kind: &StoredType) -> Result<(), FetchError> {
        self.0.put(write, kind).await
    }
}

/// Item 3: the owner is recorded before any rule moves, and a failed owner write is a failure
/// a retry can fix (nothing moved, `retry: true`), not a warning after the fact; the retry then
/// switches on, owned. (A switch killed between the record and the moves: tests/automation/crash.rs.)
#[tokio::test]
async fn a_failed_owner_write_moves_nothing_and_is_retried() {
    use maintenance_switch::{Settings, SwitchFunction};
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb(moto, "no-owner", &[1, 2]).await;
    let original = all_priorities(&client, &alb).await;
    let env = alb.environment.clone();
    let settings = move || {
        let env = env.clone();
        Settings::from_lookup(&move |k| {
            (k == "MAINTENANCE_SWITCH_ENVIRONMENT").then(|| env.clone())
        })
        .0
    };
    let alarm = crate::common::unique("owner-write");
    let event = alarm_events(moto, &alarm, "ALARM").0;
    let refused = SwitchFunction::new(client.clone(), NoOwnerRecord(ssm(moto).await), settings());
    let report = refused.handle(&event).await;
    assert_eq!(report.outcome.name(), "failed", "{}", report.message);
    assert!(report.retry, "{}", report.message);
    assert!(
        report.message.contains("owner record"),
        "{}",
        report.message
    );
    assert_eq!(
        all_priorities(&client, &alb).await,
        original,
        "nothing moved"
    );
    let real = SwitchFunction::new(client.clone(), ssm(moto).await, settings());
    let retried = real.handle(&event).await;
    assert_eq!(retried.outcome.name(), "applied", "{}", retried.message);
    assert_eq!(states(&client, &alb).await, ON);
    assert_eq!(owners(moto, &alb), [format!("alarm {alarm}")]);
    let ok = real.handle(&alarm_events(moto, &alarm, "OK").0).await;
    assert_eq!(ok.outcome.name(), "applied", "{}", ok.message);
    assert_eq!(all_priorities(&client, &alb).await, original);
}

/// Writes a lease value as another writer left it.
async fn leave_lease(moto: &Moto, prefix: &str, acquired: &str, expires: &str) {
    let value = LeaseValue {
        holder: "arn:aws:sts::123456789012:assumed-role/ops/fast-clock".into(),
        id: "0fa57c10c4".into(),
        acquired_at: acquired.into(),
        expires_at: expires.into(),
        doing: "on by a person: left behind".into(),
    };
    ssm(moto)
        .await
        .put_parameter()
        .name(lease::lease_parameter(prefix))
        .value(serde_json::to_string(&value).unwrap())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

/// Item 7 and its siblings: a lease whose writer's clock ran years ahead expires by SSM's clock
/// (its own TTL after SSM wrote it); one with impossible times is held by "unknown" and can be
/// shown and broken by hand (`maintctl lease show|break`, only the lease shown); a refusal for
/// a held lease says how.
#[tokio::test]
async fn a_lease_from_a_clock_that_ran_ahead_or_with_impossible_times_does_not_block_for_ever() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb(moto, "fast-clock", &[10]).await;
    let env = alb.environment.clone();
    let prefix = alb.prefix.clone();
    // Taken "in 2031" for 3 seconds: free 3 s (and the skew) after SSM wrote it, not in 2031.
    leave_lease(
        moto,
        &prefix,
        "2031-01-01T00:00:00Z",
        "2031-01-01T00:00:03Z",
    )
    .await;
    let args = [
        "on",
        "--environment",
        &env,
        "--yes",
        "--lease-wait",
        "30",
        "--output",
        "json",
    ];
    let on = maintctl(moto, &args);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let took_over = &json(&on)["leases"][0]["took_over"];
    assert!(
        took_over["holder"]
            .as_str()
            .unwrap()
            .ends_with("/fast-clock"),
        "{took_over:#}"
    );
    assert!(
        !took_over["expires_at"]
            .as_str()
            .unwrap()
            .starts_with("2031"),
        "{took_over:#}"
    );
    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));

    // Impossible times (an expiry before the taking): unreadable, held by "unknown" for the
    // reader's TTL. It is shown, and broken by its id only.
    leave_lease(
        moto,
        &prefix,
        "2026-01-01T00:02:00Z",
        "2026-01-01T00:00:00Z",
    )
    .await;
    let show = maintctl(
        moto,
        &["lease", "show", "--prefix", &prefix, "--output", "json"],
    );
    assert_eq!(code(&show), 0, "{}", text(&show));
    let shown = json(&show);
    assert!(
        shown["lease"]["holder"]["holder"]
            .as_str()
            .unwrap()
            .starts_with("unknown"),
        "{shown:#}"
    );
    let id = shown["lease"]["id"].as_str().unwrap().to_string();
    let refused = maintctl(
        moto,
        &["on", "--environment", &env, "--yes", "--lease-wait", "1"],
    );
    assert_eq!(code(&refused), 4, "{}", text(&refused));
    assert!(
        text(&refused).contains(&format!("maintctl lease show --prefix {prefix}")),
        "{}",
        text(&refused)
    );
    let wrong = maintctl(
        moto,
        &["lease", "break", "--prefix", &prefix, "--id", "0123abcd"],
    );
    assert_eq!(code(&wrong), 4, "{}", text(&wrong));
    let broken = maintctl(moto, &["lease", "break", "--prefix", &prefix, "--id", &id]);
    assert_eq!(code(&broken), 0, "{}", text(&broken));
    let again = maintctl(moto, &["lease", "break", "--prefix", &prefix, "--id", &id]);
    assert_eq!(code(&again), 3, "{}", text(&again));
    let on = maintctl(
        moto,
        &["on", "--environment", &env, "--yes", "--lease-wait", "0"],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    assert_eq!(states(&client, &alb).await[0], State::On);
    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
}

/// Item 8 and its siblings: everywhere a zone is taken (`schedule create`, `schedule extend`,
/// `on --until`, the switch request of a window), only a name of the time zone database in its
/// spelling: not another case (which the page, reading the zone's file, would ignore), nor
/// `localtime`, `posixrules`, `Factory`, or the `posix/` and `right/` copies.
#[tokio::test]
async fn time_zones_are_taken_only_as_the_database_spells_them() {
    let moto = Moto::shared();
    let alb = attached_alb(moto, "zones", &[10]).await;
    schedule_group(moto, &alb.environment).await;
    let env = alb.environment.clone();
    let local = |m: i64| {
        let t = Timestamp::now()
            + jiff::SignedDuration::from_mins(m)
            + jiff::SignedDuration::from_hours(9);
        t.strftime("%Y-%m-%dT%H:%M").to_string()
    };
    let create = |zone: &str, dry: bool| {
        let (start, end) = (local(10), local(70));
        let mut args = vec![
            "schedule",
            "create",
            "--environment",
            &env,
            "--start",
            &start,
            "--end",
            &end,
            "--timezone",
            zone,
            "--reason",
            "zones",
            "--output",
            "json",
        ];
        if dry {
            args.push("--dry-run");
        }
        maintctl(moto, &args)
    };
    let good = create("Asia/Tokyo", false);
    assert_eq!(code(&good), 0, "{}", text(&good));
    let id = json(&good)["windows"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let f = SwitchFn::start(moto, &env, 1, &[]).await;
    for bad in [
        "asia/tokyo",
        "ASIA/TOKYO",
        "localtime",
        "posixrules",
        "Factory",
        "posix/Asia/Tokyo",
        "right/UTC",
    ] {
        let out = create(bad, true);
        assert_eq!(code(&out), 4, "{bad}: {}", text(&out));
        let until = maintctl(
            moto,
            &[
                "on",
                "--environment",
                &env,
                "--yes",
                "--until",
                &local(30),
                "--timezone",
                bad,
            ],
        );
        assert_eq!(code(&until), 4, "{bad}: {}", text(&until));
        let extend = maintctl(
            moto,
            &[
                "schedule",
                "extend",
                &id,
                "--environment",
                &env,
                "--end",
                &local(80),
                "--timezone",
                bad,
            ],
        );
        assert_eq!(code(&extend), 4, "{bad}: {}", text(&extend));
        let mut start: Value =
            serde_json::from_str(&window("on", &alb, "w-zone", Some(in_hours(1)))).unwrap();
        start["timezone"] = bad.into();
        let answer = f.invoke(&start.to_string()).await;
        assert_eq!(
            answer.report["outcome"], "refused",
            "{bad}: {:#}",
            answer.report
        );
    }
    let spelled = create("asia/tokyo", true);
    assert!(
        text(&spelled).contains("spelled \\\"Asia/Tokyo\\\"")
            || text(&spelled).contains("spelled \"Asia/Tokyo\""),
        "{}",
        text(&spelled)
    );
    assert_eq!(states(&aws(moto).await, &alb).await, OFF);
}

/// Item 2 and its siblings: `status` and `doctor` name the rule that really answers a page, a
/// path no rule names and a health check, as the ALB evaluates the listener. With
/// `--allow-fallthrough` and no catch-all, attach never parks the fallback rule where it would
/// answer (the maintenance rule answers those requests, and status says so); a fallback rule
/// parked where it answers (made before this check) is named by status and fails doctor; a
/// live fallback page answering health checks is a doctor warning.
#[tokio::test]
async fn status_and_doctor_name_the_rule_that_really_answers() {
    use aws_sdk_elasticloadbalancingv2 as elbv2;
    let moto = Moto::shared();
    let alb = crate::common::alb::build_with(moto, "answers", &[10, 20], &[10], None);
    let env = crate::common::unique("answers");
    let attach = maintctl(
        moto,
        &[
            "attach",
            "--listener",
            &alb.http,
            "--target-group",
            &alb.lambda_target_group,
            "--environment",
            &env,
            "--allow-fallthrough",
        ],
    );
    assert_eq!(code(&attach), 0, "{}", text(&attach));
    assert!(
        text(&attach).contains("not created: no fallback rule"),
        "{}",
        text(&attach)
    );
    let status = json(&maintctl(
        moto,
        &["status", "--listener", &alb.http, "--output", "json"],
    ));
    let listener = &status["listeners"][0];
    assert_eq!(listener["state"], "off", "{listener:#}");
    let answer = |kind: &str| {
        listener["answers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("{kind}: {listener:#}"))
    };
    assert_eq!(answer("unmatched")["role"], "maintenance", "{listener:#}");
    assert_eq!(
        answer("health-check")["role"],
        "maintenance",
        "{listener:#}"
    );
    assert_eq!(answer("page")["role"], "maintenance", "{listener:#}");
    let warned = listener["warnings"].to_string();
    assert!(
        warned.contains("maintenance rule")
            && warned.contains("answers GET /, a path no rule names"),
        "{warned}"
    );
    let routing = |out: &std::process::Output| {
        json(out)["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "routing")
            .cloned()
            .unwrap_or_else(|| panic!("{}", text(out)))
    };
    let doctor = maintctl(
        moto,
        &["doctor", "--listener", &alb.http, "--output", "json"],
    );
    assert_eq!(routing(&doctor)["status"], "warn", "{}", text(&doctor));

    // A fallback rule parked in front of the maintenance rule, as attach made it before.
    let elb = elbv2::Client::new(&moto.sdk_config().await);
    let tag = |k: &str, v: &str| elbv2::types::Tag::builder().key(k).value(v).build();
    elb.create_rule()
        .listener_arn(&alb.http)
        .priority(49_995)
        .conditions(
            elbv2::types::RuleCondition::builder()
                .field("path-pattern")
                .values("/*")
                .build(),
        )
        .actions(
            elbv2::types::Action::builder()
                .r#type(elbv2::types::ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    elbv2::types::FixedResponseActionConfig::builder()
                        .status_code("503")
                        .content_type("text/html")
                        .message_body("<p>down</p>")
                        .build(),
                )
                .build(),
        )
        .tags(tag(tags::ROLE, tags::ROLE_FALLBACK))
        .tags(tag(tags::PARKED_PRIORITY, "49995"))
        .tags(tag(tags::ENVIRONMENT, &env))
        .send()
        .await
        .unwrap();
    let status = maintctl(moto, &["status", "--listener", &alb.http]);
    assert!(
        text(&status).contains("fallback rule") && text(&status).contains("bare 503"),
        "{}",
        text(&status)
    );
    let doctor = maintctl(
        moto,
        &["doctor", "--listener", &alb.http, "--output", "json"],
    );
    let check = routing(&doctor);
    assert_eq!(check["status"], "fail", "{check:#}");
    assert!(
        check["summary"].as_str().unwrap().contains("health checks"),
        "{check:#}"
    );

    // The fallback page live: health checks get its 503 too (a warning).
    let live = attached_alb_with_fallback(moto, "answers-live", &[10]).await;
    let on = maintctl(
        moto,
        &[
            "on",
            "--fallback",
            "--environment",
            &live.environment,
            "--yes",
        ],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    let doctor = maintctl(
        moto,
        &["doctor", "--listener", &live.http, "--output", "json"],
    );
    let check = routing(&doctor);
    assert_eq!(check["status"], "warn", "{check:#}");
    assert!(
        check["summary"].as_str().unwrap().contains("health checks"),
        "{check:#}"
    );
    let off = maintctl(moto, &["off", "--environment", &live.environment, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
}

/// Issue #19, item 2: `off` (maintctl's, and a window's end or an alarm's OK through the same
/// planner) refuses a record of displaced rules that would move a rule where `on` never takes
/// one — after where it is, onto a parked rule's priority, two rules to one priority — and
/// says so (exit 4, the rule, the priority, the command that clears it), rather than trust it.
#[tokio::test]
async fn off_refuses_a_record_of_displaced_rules_it_cannot_believe() {
    use aws_sdk_elasticloadbalancingv2 as elbv2;
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb(moto, "steer", &[1, 2]).await;
    let original = all_priorities(&client, &alb).await;
    let env = alb.environment.clone();
    let on = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let during = all_priorities(&client, &alb).await;
    let m = snapshot(&client, &alb.http)
        .await
        .maintenance_rule()
        .unwrap()
        .clone();
    let record = m.tags[maintenance_engine::planner::DISPLACED].clone();
    let ids: Vec<&str> = record
        .split_whitespace()
        .map(|e| e.split('=').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{record}");
    let elb = elbv2::Client::new(&moto.sdk_config().await);
    let set = |value: String| {
        let elb = elb.clone();
        let rule = m.arn.clone();
        async move {
            elb.add_tags()
                .resource_arns(rule)
                .tags(
                    elbv2::types::Tag::builder()
                        .key(maintenance_engine::planner::DISPLACED)
                        .value(value)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
    };
    for (steered, says) in [
        (
            format!("{}=45000 {}=2", ids[0], ids[1]),
            "after where it is now",
        ),
        (
            format!("{}=50000 {}=2", ids[0], ids[1]),
            "after where it is now",
        ),
        (format!("{}=2 {}=2", ids[0], ids[1]), "also puts rule"),
    ] {
        set(steered.clone()).await;
        let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
        assert_eq!(code(&off), 4, "{steered}: {}", text(&off));
        for part in ["not trusted", says, "aws elbv2 add-tags"] {
            assert!(text(&off).contains(part), "{part}: {}", text(&off));
        }
        assert_eq!(all_priorities(&client, &alb).await, during, "nothing moved");
    }
    set(record).await;
    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(all_priorities(&client, &alb).await, original);
}

/// Item 2, the listener with no rule of its own: `attach` refuses it, even with
/// `--allow-fallthrough` (parked, the maintenance rule would answer every request, for good);
/// one attached by hand is named by `status` and fails `doctor`, and `on`, `on --fallback` and
/// `off` refuse it with what is wrong, instead of "nothing to do" or a message about a parked
/// rule in front.
#[tokio::test]
async fn a_listener_with_no_rule_of_its_own_is_never_said_to_switch() {
    use aws_sdk_elasticloadbalancingv2 as elbv2;
    let moto = Moto::shared();
    let alb = crate::common::alb::build_with(moto, "alone", &[], &[], None);
    let env = crate::common::unique("alone");
    let attach = maintctl(
        moto,
        &[
            "attach",
            "--listener",
            &alb.http,
            "--target-group",
            &alb.lambda_target_group,
            "--environment",
            &env,
            "--allow-fallthrough",
        ],
    );
    assert_eq!(code(&attach), 4, "{}", text(&attach));
    assert!(
        text(&attach).contains("no rule of its own"),
        "{}",
        text(&attach)
    );

    // Attached by hand: the maintenance rule and a fallback rule parked in front of it.
    let elb = elbv2::Client::new(&moto.sdk_config().await);
    let tag = |k: &str, v: &str| elbv2::types::Tag::builder().key(k).value(v).build();
    let every_path = elbv2::types::RuleCondition::builder()
        .field("path-pattern")
        .values("/*")
        .build();
    elb.create_rule()
        .listener_arn(&alb.http)
        .priority(50_000)
        .conditions(every_path.clone())
        .actions(
            elbv2::types::Action::builder()
                .r#type(elbv2::types::ActionTypeEnum::Forward)
                .target_group_arn(&alb.lambda_target_group)
                .build(),
        )
        .tags(tag(tags::ROLE, tags::ROLE_MAINTENANCE))
        .tags(tag(tags::PARKED_PRIORITY, "50000"))
        .tags(tag(tags::ENVIRONMENT, &env))
        .send()
        .await
        .unwrap();
    elb.create_rule()
        .listener_arn(&alb.http)
        .priority(49_995)
        .conditions(every_path)
        .actions(
            elbv2::types::Action::builder()
                .r#type(elbv2::types::ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    elbv2::types::FixedResponseActionConfig::builder()
                        .status_code("503")
                        .content_type("text/html")
                        .message_body("<p>down</p>")
                        .build(),
                )
                .build(),
        )
        .tags(tag(tags::ROLE, tags::ROLE_FALLBACK))
        .tags(tag(tags::PARKED_PRIORITY, "49995"))
        .tags(tag(tags::ENVIRONMENT, &env))
        .send()
        .await
        .unwrap();
    let status = maintctl(moto, &["status", "--listener", &alb.http]);
    assert!(
        text(&status).contains("no rule of its own"),
        "{}",
        text(&status)
    );
    let doctor = json(&maintctl(
        moto,
        &["doctor", "--listener", &alb.http, "--output", "json"],
    ));
    let routing = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "routing")
        .cloned()
        .unwrap();
    assert_eq!(routing["status"], "fail", "{routing:#}");
    for args in [
        vec!["on", "--listener", &alb.http, "--yes"],
        vec!["on", "--fallback", "--listener", &alb.http, "--yes"],
        vec!["off", "--listener", &alb.http, "--yes"],
    ] {
        let out = maintctl(moto, &args);
        assert_eq!(code(&out), 4, "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("no rule of its own"),
            "{args:?}: {}",
            text(&out)
        );
    }
}
