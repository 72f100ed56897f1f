//! The switch function killed at every step of a switch (issue #20): the real
//! `maintenance-switch` binary on a loopback Runtime API reaches moto through a proxy
//! (`tests/common/proxy.rs`) that stops it dead at one write — before the first, then after
//! each one in turn, deterministically — and the test kills the process there (SIGKILL, as
//! Lambda ends a sandbox). After every kill, what Lambda and a person would do next: the person
//! breaks the lease the dead function left (`maintctl lease break`), Lambda retries the same
//! event, and then the next event comes. Every time, the listeners end consistent (on or off,
//! never part-way, the application's rules in their order, every priority distinct), the
//! maintenance owned while it is on, the bypass link's token the same on every cookie rule and
//! in SSM, no lease left, and the next event ends it with every priority back.
//!
//! Four switches, on an ALB whose rules sit at the top (`on` displaces them, so the record of
//! displaced rules is written too) with a cookie bypass rule and a fallback rule on both
//! listeners: an alarm's ALARM, its OK, a window's start (its end on the page), and an alarm on
//! the responder swapping the fallback page in during a person's maintenance.

use crate::automation::{
    Alb, SwitchFn, alarm_events, all_priorities, app_order, attached_alb_with_both, aws, code,
    json, maintctl, owners, parameter, snapshot, ssm, states, text,
};
use crate::common::Moto;
use crate::common::proxy::{Proxy, Stop};
use jiff::Timestamp;
use maintenance_core::deploy_names::tags;
use maintenance_engine::listeners::Aws;
use maintenance_engine::planner::{Condition, State};
use serde_json::json;

/// An ALB ready for one crash test, and the proxy the killed function goes through.
struct Bench {
    alb: Alb,
    client: Aws,
    proxy: Proxy,
    original: [std::collections::BTreeMap<String, u32>; 2],
    order: Vec<String>,
}

impl Bench {
    async fn new(name: &str) -> Self {
        let moto = Moto::shared();
        let alb = attached_alb_with_both(moto, name, &[1, 2]).await;
        let client = aws(moto).await;
        let original = all_priorities(&client, &alb).await;
        let order = app_order(&client, &alb.http).await;
        let proxy = Proxy::start(&moto.endpoint).await;
        Self {
            alb,
            client,
            proxy,
            original,
            order,
        }
    }

    /// The real function, reaching moto directly or through the proxy; `fallback_alarms` are
    /// its alarms on the responder.
    async fn function(&self, through_proxy: bool, fallback_alarms: &str) -> SwitchFn {
        let mut env = vec![
            ("MAINTENANCE_SWITCH_LEASE_WAIT_SECONDS", "1".to_string()),
            (
                "MAINTENANCE_SWITCH_FALLBACK_ALARMS",
                fallback_alarms.to_string(),
            ),
        ];
        if through_proxy {
            env.push(("AWS_ENDPOINT_URL", self.proxy.endpoint.clone()));
        }
        SwitchFn::start(Moto::shared(), &self.alb.environment, 1, &env).await
    }

    /// One event through a function reaching moto directly; its report.
    async fn deliver(&self, payload: &str) -> serde_json::Value {
        self.deliver_with(payload, "").await
    }

    async fn deliver_with(&self, payload: &str, fallback_alarms: &str) -> serde_json::Value {
        let answer = self
            .function(false, fallback_alarms)
            .await
            .invoke(payload)
            .await;
        assert!(!answer.error, "{}", answer.raw);
        answer.report
    }

    /// Kills the function at every write the switch `event()` makes, in turn (before the first,
    /// then after each), and after each kill: the person breaks the lease it left, Lambda
    /// retries the same event, and `then` checks where that leaves the listeners and brings them
    /// back. Stops once the function runs the switch to its end without being stopped; returns
    /// the writes it was killed after, as the proxy saw them.
    async fn kill_at_every_step(
        &self,
        event: &dyn Fn(usize) -> String,
        then: impl AsyncFn(&Bench, usize),
    ) -> Vec<String> {
        self.kill_at_every_step_with(event, "", then).await
    }

    /// [`Bench::kill_at_every_step`] for a function whose alarms on the responder are
    /// `fallback_alarms`.
    async fn kill_at_every_step_with(
        &self,
        event: &dyn Fn(usize) -> String,
        fallback_alarms: &str,
        then: impl AsyncFn(&Bench, usize),
    ) -> Vec<String> {
        let mut points = Vec::new();
        for point in 0.. {
            self.proxy.arm(match point {
                0 => Stop::Before(1),
                n => Stop::After(n),
            });
            let payload = event(point);
            let mut f = self.function(true, fallback_alarms).await;
            let finished = tokio::select! {
                answer = f.invoke(&payload) => Some(answer),
                () = self.proxy.killed() => None,
            };
            f.kill_all().await;
            drop(f);
            let calls = self.proxy.calls();
            if let Some(answer) = finished {
                assert!(!answer.error, "{}", answer.raw);
                then(self, point).await;
                assert!(
                    points.len() >= 10,
                    "too few steps to be a switch: {points:?}"
                );
                return points;
            }
            let killed = match point {
                0 => format!("before {}", calls.last().unwrap()),
                _ => format!("after {}", calls.last().unwrap()),
            };
            let writes: Vec<&str> = calls
                .iter()
                .filter(|c| c.ends_with('*'))
                .map(String::as_str)
                .collect();
            eprintln!(
                "point {point}: killed {killed} (writes so far: {})",
                writes.join(" ")
            );
            self.break_lease(point);
            let retry = self.deliver_with(&payload, fallback_alarms).await;
            assert!(
                ["applied", "nothing-to-do"].contains(&retry["outcome"].as_str().unwrap()),
                "point {point} ({killed}): the retry {retry:#}"
            );
            then(self, point).await;
            points.push(killed);
        }
        unreachable!()
    }

    /// The person: `maintctl lease show`, then `lease break` of that lease, if there is one.
    fn break_lease(&self, point: usize) {
        let moto = Moto::shared();
        let prefix = self.alb.prefix.as_str();
        let show = maintctl(
            moto,
            &["lease", "show", "--prefix", prefix, "--output", "json"],
        );
        assert_eq!(code(&show), 0, "{}", text(&show));
        let doc = json(&show);
        let Some(id) = doc["lease"]["id"].as_str() else {
            return;
        };
        let broken = maintctl(moto, &["lease", "break", "--prefix", prefix, "--id", id]);
        assert_eq!(code(&broken), 0, "point {point}: {}", text(&broken));
    }

    /// Consistent: both listeners `state` (each with distinct priorities in range, the default
    /// rule last), the application's rules in their order, the cookie rules' token the one in
    /// SSM while on, and no lease left.
    async fn consistent(&self, state: State, point: usize) {
        assert_eq!(
            states(&self.client, &self.alb).await,
            [state, state],
            "point {point}"
        );
        for l in self.alb.listeners() {
            let order = app_order(&self.client, l).await;
            assert_eq!(order.len(), self.order.len(), "point {point}");
        }
        assert_eq!(
            app_order(&self.client, &self.alb.http).await,
            self.order,
            "point {point}"
        );
        if state == State::On {
            let stored = stored_token(&self.alb).await;
            for l in self.alb.listeners() {
                assert_eq!(
                    cookie_token(&self.client, l).await,
                    stored,
                    "point {point}: {l}"
                );
            }
        }
        let show = maintctl(
            Moto::shared(),
            &[
                "lease",
                "show",
                "--prefix",
                &self.alb.prefix,
                "--output",
                "json",
            ],
        );
        assert!(
            json(&show)["lease"].is_null(),
            "point {point}: {}",
            text(&show)
        );
    }

    /// Off, with every priority as it was and no owner.
    async fn back(&self, point: usize) {
        self.consistent(State::Off, point).await;
        assert_eq!(
            all_priorities(&self.client, &self.alb).await,
            self.original,
            "point {point}"
        );
        assert!(
            owners(Moto::shared(), &self.alb).is_empty(),
            "point {point}"
        );
    }
}

/// The token of a listener's cookie bypass rule.
async fn cookie_token(client: &Aws, listener: &str) -> String {
    let s = snapshot(client, listener).await;
    let rule = s
        .bypass_rules()
        .find(|r| r.tags.contains_key(tags::BYPASS_LINK))
        .expect("a cookie bypass rule");
    rule.conditions
        .iter()
        .find_map(|c| match c {
            Condition::HttpHeader { values, .. } => values.first().cloned(),
            _ => None,
        })
        .and_then(|v| {
            v.trim_matches('*')
                .strip_prefix("maint_bypass=")
                .map(str::to_string)
        })
        .expect("a cookie condition")
}

/// The token in SSM (decrypted).
async fn stored_token(alb: &Alb) -> String {
    ssm(Moto::shared())
        .await
        .get_parameter()
        .name(format!("{}/bypass/token", alb.prefix))
        .with_decryption(true)
        .send()
        .await
        .unwrap()
        .parameter
        .and_then(|p| p.value)
        .unwrap()
}

#[tokio::test]
async fn an_alarm_s_switch_on_killed_at_every_step_ends_on_and_owned_after_its_retry() {
    let bench = Bench::new("crash-on").await;
    let alarm = crate::common::unique("crash-on");
    let moto = Moto::shared();
    let event = |_: usize| alarm_events(moto, &alarm, "ALARM").0;
    let points = bench
        .kill_at_every_step(&event, async |b: &Bench, point| {
            b.consistent(State::On, point).await;
            assert_eq!(
                owners(moto, &b.alb),
                [format!("alarm {alarm}")],
                "point {point}"
            );
            // The next event: its OK ends it.
            let ok = b.deliver(&alarm_events(moto, &alarm, "OK").0).await;
            assert_eq!(ok["outcome"], "applied", "point {point}: {ok:#}");
            b.back(point).await;
        })
        .await;
    eprintln!("killed at {} points: {points:#?}", points.len());
}

#[tokio::test]
async fn an_alarm_s_switch_off_killed_at_every_step_ends_off_after_its_retry() {
    let bench = Bench::new("crash-off").await;
    let alarm = crate::common::unique("crash-off");
    let moto = Moto::shared();
    // Each point starts from the alarm's maintenance, on.
    let event = |_: usize| {
        let on = alarm_events(moto, &alarm, "ALARM").0;
        let ok = alarm_events(moto, &alarm, "OK").0;
        (on, ok)
    };
    let pending = std::sync::Mutex::new(Vec::new());
    let first = event(0);
    assert_eq!(bench.deliver(&first.0).await["outcome"], "applied");
    pending.lock().unwrap().push(first.1);
    let next = |_: usize| pending.lock().unwrap().pop().expect("an OK to deliver");
    let points = bench
        .kill_at_every_step(&next, async |b: &Bench, point| {
            b.back(point).await;
            // The next event: a new ALARM switches on again for the next point.
            let (on, ok) = event(point + 1);
            let on = b.deliver(&on).await;
            assert_eq!(on["outcome"], "applied", "point {point}: {on:#}");
            pending.lock().unwrap().push(ok);
        })
        .await;
    // The last ALARM's maintenance: a person ends it.
    let off = maintctl(
        moto,
        &["off", "--environment", &bench.alb.environment, "--yes"],
    );
    assert_eq!(code(&off), 0, "{}", text(&off));
    bench.back(points.len() + 1).await;
    eprintln!("killed at {} points: {points:#?}", points.len());
}

#[tokio::test]
async fn a_window_s_start_killed_at_every_step_ends_on_owned_with_its_end_on_the_page() {
    let bench = Bench::new("crash-w").await;
    let moto = Moto::shared();
    let end = Timestamp::from_second(Timestamp::now().as_second()).unwrap()
        + jiff::SignedDuration::from_hours(2);
    let end_text = end.to_string();
    let request = |action: &str, point: usize| {
        let mut v = json!({
            "action": action,
            "environment": bench.alb.environment,
            "reason": "crash test",
            "window": format!("w-crash-{point}"),
            "scheduled_by": "arn:aws:sts::123456789012:assumed-role/ops/ana",
        });
        if action == "on" {
            v["end"] = end_text.clone().into();
            v["timezone"] = "Asia/Tokyo".into();
        }
        v.to_string()
    };
    let start = |point: usize| request("on", point);
    let store = ssm(moto).await;
    let points = bench
        .kill_at_every_step(&start, async |b: &Bench, point| {
            b.consistent(State::On, point).await;
            assert_eq!(owners(moto, &b.alb), [format!("window w-crash-{point}")]);
            let retry_after = format!("{}/retry-after", b.alb.prefix);
            assert_eq!(
                parameter(&store, &retry_after).await,
                Some(end_text.clone())
            );
            let off = b.deliver(&request("off", point)).await;
            assert_eq!(off["outcome"], "applied", "point {point}: {off:#}");
            b.back(point).await;
        })
        .await;
    eprintln!("killed at {} points: {points:#?}", points.len());
}

/// The page live on a listener while maintenance is on.
async fn live(client: &Aws, listener: &str) -> Option<maintenance_engine::planner::Live> {
    let rules = snapshot(client, listener).await.planner_rules().unwrap();
    maintenance_engine::planner::live(&rules)
}

#[tokio::test]
async fn an_alarm_on_the_responder_killed_at_every_step_of_its_page_swap_ends_with_its_page() {
    use maintenance_engine::planner::Live;
    let bench = Bench::new("crash-fb").await;
    let moto = Moto::shared();
    let throttles = crate::common::unique("crash-throttles");
    let env = bench.alb.environment.clone();
    let on = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let person = owners(moto, &bench.alb);
    // The alarm swaps the fallback page in; its function knows it as an alarm on the responder.
    let swap = |_: usize| alarm_events(moto, &throttles, "ALARM").0;
    let points = bench
        .kill_at_every_step_with(&swap, &throttles, async |b: &Bench, point| {
            b.consistent(State::On, point).await;
            for l in b.alb.listeners() {
                assert_eq!(
                    live(&b.client, l).await,
                    Some(Live::Fallback),
                    "point {point}: {l}"
                );
            }
            assert_eq!(
                owners(moto, &b.alb),
                person,
                "point {point}: the owner stays"
            );
            // The next event: its OK puts the responder's page back.
            let ok = alarm_events(moto, &throttles, "OK").0;
            let ok = b.deliver_with(&ok, &throttles).await;
            assert_eq!(ok["outcome"], "applied", "point {point}: {ok:#}");
            for l in b.alb.listeners() {
                assert_eq!(
                    live(&b.client, l).await,
                    Some(Live::Responder),
                    "point {point}"
                );
            }
        })
        .await;
    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    bench.back(points.len() + 1).await;
    eprintln!("killed at {} points: {points:#?}", points.len());
}
