//! Scheduled windows and deadlines (issue #15, part 3): the real `maintctl schedule
//! create|list|cancel|extend` and `on --until` against moto's EventBridge Scheduler, ELBv2 and
//! SSM over the wire. moto never fires a schedule, so each test reads the schedule's `Input`
//! back from moto and delivers exactly those bytes to the real `maintenance-switch` binary
//! through the loopback Runtime API, then checks the listeners. moto ignores
//! `ActionAfterCompletion` on `UpdateSchedule`: what `extend` sends is checked on the wire.

use crate::automation;
use crate::common;

use automation::{
    SwitchFn, all_priorities, attached_alb, aws, code, consistent_state, get_schedule, json,
    maintctl, maintenance_tags, parameter, schedule_group, schedule_names, ssm, text,
};
use common::Moto;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use maintctl::schedules::Scheduler;
use maintenance_core::deploy_names::tags;
use maintenance_engine::planner::State;
use maintenance_engine::planner::window::Schedule;
use maintenance_engine::schedules::Schedules;
use serde_json::Value;

/// Now, to the minute, plus `minutes`.
fn in_minutes(minutes: i64) -> Timestamp {
    let now = Timestamp::now().as_second() / 60 * 60;
    Timestamp::from_second(now + minutes * 60).unwrap()
}

/// A time as a local time in `zone`, the way an operator types it (`2026-11-22T13:00:00`).
fn local(t: Timestamp, zone: &str) -> String {
    let dt = TimeZone::get(zone).unwrap().to_datetime(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn run(moto: &Moto, args: &[String]) -> std::process::Output {
    maintctl(moto, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[tokio::test]
async fn schedule_create_makes_exactly_the_documented_schedules_and_their_inputs_switch_through_the_function()
 {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let store = ssm(moto).await;
    let alb = attached_alb(moto, "window", &[1, 2, 3]).await;
    let group = schedule_group(moto, &alb.environment).await;
    let original = all_priorities(&client, &alb).await;
    let (start, end) = (in_minutes(10), in_minutes(70));
    let mut args = s(&["schedule", "create", "--environment", &alb.environment]);
    args.extend(s(&[
        "--start",
        &local(start, "Asia/Tokyo"),
        "--end",
        &local(end, "Asia/Tokyo"),
    ]));
    args.extend(s(&[
        "--timezone",
        "Asia/Tokyo",
        "--reason",
        "DB upgrade CHG-7",
    ]));
    // A dry run shows the schedules and creates none.
    let dry: Vec<String> = args
        .iter()
        .cloned()
        .chain(s(&["--dry-run", "--output", "json"]))
        .collect();
    let out = run(moto, &dry);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(json(&out)["schedules"].as_array().unwrap().len(), 2);
    assert!(schedule_names(moto, &group.name).await.is_empty());

    let out = run(
        moto,
        &args
            .iter()
            .cloned()
            .chain(s(&["--output", "json"]))
            .collect::<Vec<_>>(),
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    let id = doc["windows"][0]["id"].as_str().unwrap().to_string();
    let (start_name, end_name) = (format!("{id}-start"), format!("{id}-end"));
    assert_eq!(
        schedule_names(moto, &group.name).await,
        [end_name.clone(), start_name.clone()]
    );
    let caller = client_caller(moto).await;
    for (name, at, action) in [(&start_name, start, "on"), (&end_name, end, "off")] {
        let got = get_schedule(moto, &group.name, name).await;
        assert_eq!(
            got.schedule_expression(),
            Some(format!("at({})", local(at, "Asia/Tokyo")).as_str())
        );
        assert_eq!(got.schedule_expression_timezone(), Some("Asia/Tokyo"));
        assert_eq!(got.flexible_time_window().unwrap().mode().as_str(), "OFF");
        assert_eq!(
            got.action_after_completion().map(|a| a.as_str()),
            Some("DELETE")
        );
        assert_eq!(got.state().map(|s| s.as_str()), Some("ENABLED"));
        let target = got.target().unwrap();
        assert_eq!(target.arn(), group.function);
        assert_eq!(target.role_arn(), group.role);
        let retry = target.retry_policy().unwrap();
        assert_eq!(
            (
                retry.maximum_event_age_in_seconds(),
                retry.maximum_retry_attempts()
            ),
            (Some(300), Some(3))
        );
        assert_eq!(
            target.dead_letter_config().and_then(|d| d.arn()),
            Some(group.dead_letter.as_str())
        );
        let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
        let mut want = serde_json::json!({
            "action": action, "environment": alb.environment, "reason": "DB upgrade CHG-7",
            "window": id, "scheduled_by": caller,
        });
        if action == "on" {
            want["end"] = end.to_string().into();
            want["timezone"] = "Asia/Tokyo".into();
        }
        assert_eq!(input, want, "{name}");
    }

    // moto never fires a schedule: deliver each Input's bytes to the real function.
    let f = SwitchFn::start(moto, &alb.environment, 1, &[]).await;
    let group_name = group.name.clone();
    let input = |name: String| {
        let group = group_name.clone();
        async move {
            get_schedule(Moto::shared(), &group, &name)
                .await
                .target()
                .unwrap()
                .input()
                .unwrap()
                .to_string()
        }
    };
    let on = f.invoke(&input(start_name.clone()).await).await;
    assert_eq!(on.report["outcome"], "applied", "{:#}", on.report);
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
    }
    assert_eq!(maintenance_tags(&client, &alb.http).await[tags::WINDOW], id);
    assert_eq!(
        parameter(&store, &format!("{}/retry-after", alb.prefix)).await,
        Some(end.to_string())
    );
    assert_eq!(
        parameter(&store, &format!("{}/timezone", alb.prefix))
            .await
            .as_deref(),
        Some("Asia/Tokyo")
    );
    let status = maintctl(moto, &["status", "--environment", &alb.environment]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains(&format!("next window {id}")),
        "{}",
        text(&status)
    );
    let off = f.invoke(&input(end_name.clone()).await).await;
    assert_eq!(off.report["outcome"], "applied", "{:#}", off.report);
    assert_eq!(all_priorities(&client, &alb).await, original);
    // Ended by hand before its end: the end does nothing and says so.
    let again = f.invoke(&input(end_name).await).await;
    assert_eq!(again.report["outcome"], "nothing-to-do");
    assert!(
        again.report["message"]
            .as_str()
            .unwrap()
            .contains("already off")
    );
}

async fn client_caller(moto: &Moto) -> String {
    use maintenance_engine::listeners::Listeners;
    aws(moto).await.caller().await.unwrap()
}

#[tokio::test]
async fn schedule_list_cancel_and_extend_keep_the_schedules_and_the_page_together() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let store = ssm(moto).await;
    let alb = attached_alb(moto, "extend", &[10]).await;
    let group = schedule_group(moto, &alb.environment).await;
    let env = alb.environment.clone();
    let create = |start: Timestamp, end: Timestamp| {
        run(
            moto,
            &s(&[
                "schedule",
                "create",
                "--environment",
                &env,
                "--start",
                &start.to_string(),
                "--end",
                &end.to_string(),
                "--reason",
                "patching",
                "--output",
                "json",
            ]),
        )
    };
    let out = create(in_minutes(30), in_minutes(90));
    assert_eq!(code(&out), 0, "{}", text(&out));
    let a = json(&out)["windows"][0]["id"].as_str().unwrap().to_string();
    let list = json(&run(
        moto,
        &s(&[
            "schedule",
            "list",
            "--environment",
            &env,
            "--output",
            "json",
        ]),
    ));
    assert_eq!(list["windows"].as_array().unwrap().len(), 1, "{list:#}");
    assert_eq!(list["windows"][0]["id"], a.as_str());
    assert_eq!(list["windows"][0]["status"], "upcoming");
    // Refusals change nothing: an overlap, a window too long, an end before the start, a
    // time zone that does not exist, an environment with no schedule group.
    let overlap = create(in_minutes(60), in_minutes(120));
    assert_eq!(code(&overlap), 4, "{}", text(&overlap));
    assert!(
        String::from_utf8_lossy(&overlap.stderr).contains(&a),
        "{}",
        text(&overlap)
    );
    for bad in [
        s(&[
            "--start",
            &in_minutes(30).to_string(),
            "--end",
            &in_minutes(30 + 8 * 24 * 60).to_string(),
        ]),
        s(&[
            "--start",
            &in_minutes(200).to_string(),
            "--end",
            &in_minutes(150).to_string(),
        ]),
        s(&[
            "--start",
            &in_minutes(-10).to_string(),
            "--end",
            &in_minutes(150).to_string(),
        ]),
        s(&[
            "--start",
            "2026-13-01T00:00",
            "--end",
            &in_minutes(150).to_string(),
        ]),
        s(&[
            "--start",
            &in_minutes(300).to_string(),
            "--end",
            &in_minutes(400).to_string(),
            "--timezone",
            "Mars/Olympus",
        ]),
    ] {
        let mut args = s(&["schedule", "create", "--environment", &env, "--reason", "x"]);
        args.extend(bad);
        let out = run(moto, &args);
        assert_eq!(code(&out), 4, "{args:?}: {}", text(&out));
    }
    // --reason follows the rule of on and off (tests/switching/switching.rs): optional, its
    // absence recorded, an empty one a usage error.
    let window = |reason: &[&str]| {
        let mut args = s(&["schedule", "create", "--environment", &env, "--dry-run"]);
        args.extend(s(&["--start", &in_minutes(300).to_string()]));
        args.extend(s(&[
            "--end",
            &in_minutes(400).to_string(),
            "--output",
            "json",
        ]));
        args.extend(s(reason));
        run(moto, &args)
    };
    let unsaid = window(&[]);
    assert_eq!(code(&unsaid), 0, "{}", text(&unsaid));
    assert_eq!(
        json(&unsaid)["windows"][0]["reason"],
        "no reason given",
        "{}",
        text(&unsaid)
    );
    let empty = window(&["--reason", " "]);
    assert_eq!(code(&empty), 2, "{}", text(&empty));
    let elsewhere = run(
        moto,
        &s(&["schedule", "list", "--environment", "no-such-env"]),
    );
    assert_eq!(code(&elsewhere), 4, "{}", text(&elsewhere));
    assert!(String::from_utf8_lossy(&elsewhere.stderr).contains("no schedule group"));
    assert_eq!(schedule_names(moto, &group.name).await.len(), 2);

    // Extend an upcoming window: the end schedule moves, and so does the end in the start's Input.
    let later = in_minutes(150);
    let out = run(
        moto,
        &s(&[
            "schedule",
            "extend",
            &a,
            "--environment",
            &env,
            "--end",
            &later.to_string(),
        ]),
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let end_s = get_schedule(moto, &group.name, &format!("{a}-end")).await;
    assert_eq!(
        end_s.schedule_expression(),
        Some(format!("at({})", local(later, "UTC")).as_str())
    );
    let start_input: Value = serde_json::from_str(
        get_schedule(moto, &group.name, &format!("{a}-start"))
            .await
            .target()
            .unwrap()
            .input()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(start_input["end"], later.to_string());
    let too_far = run(
        moto,
        &s(&[
            "schedule",
            "extend",
            &a,
            "--environment",
            &env,
            "--end",
            &in_minutes(9 * 24 * 60).to_string(),
        ]),
    );
    assert_eq!(code(&too_far), 4, "{}", text(&too_far));

    // Cancel: a dry run deletes nothing, then both schedules go.
    let dry = run(
        moto,
        &s(&["schedule", "cancel", &a, "--environment", &env, "--dry-run"]),
    );
    assert_eq!(code(&dry), 0, "{}", text(&dry));
    assert_eq!(schedule_names(moto, &group.name).await.len(), 2);
    let out = run(moto, &s(&["schedule", "cancel", &a, "--environment", &env]));
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(schedule_names(moto, &group.name).await.is_empty());
    let unknown = run(moto, &s(&["schedule", "cancel", &a, "--environment", &env]));
    assert_eq!(code(&unknown), 4, "{}", text(&unknown));

    // A running window: its start delivered (and its schedule deleted after completion, as
    // Scheduler does); extend moves the end schedule and the page's end time together.
    let out = create(in_minutes(20), in_minutes(80));
    let b = json(&out)["windows"][0]["id"].as_str().unwrap().to_string();
    let f = SwitchFn::start(moto, &env, 1, &[]).await;
    let start_input = get_schedule(moto, &group.name, &format!("{b}-start"))
        .await
        .target()
        .unwrap()
        .input()
        .unwrap()
        .to_string();
    assert_eq!(f.invoke(&start_input).await.report["outcome"], "applied");
    aws_sdk_scheduler::Client::new(&moto.sdk_config().await)
        .delete_schedule()
        .group_name(&group.name)
        .name(format!("{b}-start"))
        .send()
        .await
        .unwrap();
    let later = in_minutes(120);
    let out = run(
        moto,
        &s(&[
            "schedule",
            "extend",
            &b,
            "--environment",
            &env,
            "--end",
            &later.to_string(),
        ]),
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        parameter(&store, &format!("{}/retry-after", alb.prefix)).await,
        Some(later.to_string())
    );
    let status = maintctl(moto, &["status", "--environment", &env, "--output", "json"]);
    assert_eq!(
        json(&status)["windows"][&env][0]["status"],
        "running",
        "{}",
        text(&status)
    );
    let status = maintctl(moto, &["status", "--environment", &env]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains(&format!("deadline {later}")),
        "{}",
        text(&status)
    );
    let out = run(moto, &s(&["schedule", "cancel", &b, "--environment", &env]));
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("maintenance stays on"),
        "{}",
        text(&out)
    );
    assert_eq!(consistent_state(&client, &alb.http).await, State::On);
}

#[tokio::test]
async fn on_until_schedules_the_end_and_its_input_ends_the_maintenance() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let store = ssm(moto).await;
    let alb = attached_alb(moto, "until", &[1, 2]).await;
    let group = schedule_group(moto, &alb.environment).await;
    let original = all_priorities(&client, &alb).await;
    let env = alb.environment.clone();
    let until = in_minutes(45);
    // Refused or declined: nothing stays scheduled.
    let past = run(
        moto,
        &s(&[
            "on",
            "--environment",
            &env,
            "--yes",
            "--until",
            &in_minutes(-5).to_string(),
        ]),
    );
    assert_eq!(code(&past), 4, "{}", text(&past));
    let unconfirmed = run(
        moto,
        &s(&["on", "--environment", &env, "--until", &until.to_string()]),
    );
    assert_eq!(code(&unconfirmed), 4, "{}", text(&unconfirmed));
    let dry = run(
        moto,
        &s(&[
            "on",
            "--environment",
            &env,
            "--dry-run",
            "--until",
            &until.to_string(),
        ]),
    );
    assert_eq!(code(&dry), 0, "{}", text(&dry));
    assert!(schedule_names(moto, &group.name).await.is_empty());
    assert_eq!(all_priorities(&client, &alb).await, original);

    let on = run(
        moto,
        &s(&[
            "on",
            "--environment",
            &env,
            "--yes",
            "--reason",
            "hotfix",
            "--until",
            &local(until, "Europe/Berlin"),
            "--timezone",
            "Europe/Berlin",
            "--output",
            "json",
        ]),
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    let doc = json(&on);
    let w = doc["deadline"]["window"].as_str().unwrap().to_string();
    assert_eq!(doc["deadline"]["scheduled"], true);
    assert_eq!(doc["outcome"], "applied");
    assert_eq!(
        schedule_names(moto, &group.name).await,
        [format!("{w}-end")]
    );
    let end_s = get_schedule(moto, &group.name, &format!("{w}-end")).await;
    assert_eq!(end_s.schedule_expression_timezone(), Some("Europe/Berlin"));
    assert_eq!(
        end_s.schedule_expression(),
        Some(format!("at({})", local(until, "Europe/Berlin")).as_str())
    );
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
    }
    assert_eq!(maintenance_tags(&client, &alb.http).await[tags::WINDOW], w);
    assert_eq!(
        parameter(&store, &format!("{}/retry-after", alb.prefix)).await,
        Some(until.to_string())
    );
    assert_eq!(
        parameter(&store, &format!("{}/timezone", alb.prefix))
            .await
            .as_deref(),
        Some("Europe/Berlin")
    );
    let status = maintctl(moto, &["status", "--environment", &env]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains(&format!("deadline {until}")),
        "{}",
        text(&status)
    );
    // The deadline: its Input, delivered to the function, ends the maintenance.
    let f = SwitchFn::start(moto, &env, 1, &[]).await;
    let off = f.invoke(end_s.target().unwrap().input().unwrap()).await;
    assert_eq!(off.report["outcome"], "applied", "{:#}", off.report);
    assert_eq!(all_priorities(&client, &alb).await, original);
}

/// `UpdateSchedule` replaces a schedule whole; moto keeps the old `ActionAfterCompletion`
/// whatever is sent, so what `extend` sends is read off the wire here.
#[tokio::test]
async fn an_update_sends_the_whole_schedule() {
    let captured = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let keep = captured.clone();
    let server = common::FakeServer::start(move |_, body| {
        *keep.lock().unwrap() = body.to_string();
        Some((
            200,
            r#"{"ScheduleArn":"arn:aws:scheduler:us-east-1:123456789012:schedule/g/w-end"}"#.into(),
        ))
    })
    .await;
    let scheduler = Scheduler::new(&common::sdk_config_for(&server.endpoint).await);
    let schedule = Schedule {
        group: "maintenance-shop".into(),
        name: "w-1-end".into(),
        description: "maintenance window w-1 of shop: end (x)".into(),
        expression: "at(2026-11-22T06:00:00)".into(),
        timezone: "Asia/Tokyo".into(),
        flexible_window: "OFF".into(),
        action_after_completion: "DELETE".into(),
        state: "ENABLED".into(),
        target: "arn:aws:lambda:us-east-1:123456789012:function:maintenance-switch-shop".into(),
        role: "arn:aws:iam::123456789012:role/r".into(),
        input: r#"{"action":"off"}"#.into(),
        retry_max_event_age_seconds: Some(300),
        retry_max_attempts: Some(3),
        dead_letter: Some("arn:aws:sqs:us-east-1:123456789012:q".into()),
    };
    scheduler.update(&schedule).await.expect("update sent");
    let sent: Value = serde_json::from_str(&captured.lock().unwrap()).unwrap();
    assert_eq!(sent["ActionAfterCompletion"], "DELETE", "{sent:#}");
    assert_eq!(sent["FlexibleTimeWindow"]["Mode"], "OFF");
    assert_eq!(sent["ScheduleExpression"], "at(2026-11-22T06:00:00)");
    assert_eq!(sent["ScheduleExpressionTimezone"], "Asia/Tokyo");
    assert_eq!(sent["State"], "ENABLED");
    assert_eq!(sent["GroupName"], "maintenance-shop");
    assert_eq!(sent["Target"]["Input"], r#"{"action":"off"}"#);
    assert_eq!(
        sent["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"],
        300
    );
    assert_eq!(sent["Target"]["RetryPolicy"]["MaximumRetryAttempts"], 3);
    assert_eq!(
        sent["Target"]["DeadLetterConfig"]["Arn"],
        "arn:aws:sqs:us-east-1:123456789012:q"
    );
    assert_eq!(
        sent["Target"]["RoleArn"],
        "arn:aws:iam::123456789012:role/r"
    );
}
