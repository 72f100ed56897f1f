//! One switch at a time (issue #15, part 2): the lease against moto's SSM over the wire, and
//! writers racing on a moto ALB — a slow switch and another started mid-way, a switch killed
//! mid-way and the next writer taking over its expired lease, two `maintctl on` at once, a
//! listener no lease can be taken for.

use crate::automation;
use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use automation::{
    Alb, all_priorities, app_order, attached_alb, aws, code, consistent_state, json, maintctl,
    maintenance_tags, ssm, text,
};
use common::Moto;
use common::listeners::{Faults, Faulty};
use maintenance_core::deploy_names::tags;
use maintenance_engine::listeners::{Aws, Listeners, ListenersError, Targets};
use maintenance_engine::ops::lease::{self, LeaseError, LeaseValue, Released};
use maintenance_engine::ops::{
    self, Coordination, LeaseOptions, Outcome, SwitchRequest, Unattended,
};
use maintenance_engine::planner::{Direction, Live, State};
use tokio::sync::Notify;

fn options(wait_ms: u64, ttl_s: u64) -> LeaseOptions {
    LeaseOptions {
        wait: Duration::from_millis(wait_ms),
        ttl: Duration::from_secs(ttl_s),
        required: false,
    }
}

#[tokio::test]
async fn the_lease_is_taken_by_one_writer_at_a_time_and_a_refusal_names_the_holder() {
    let moto = Moto::shared();
    let store = ssm(moto).await;
    let prefix = format!("/maintenance/{}", common::unique("lease"));
    let a = lease::acquire(
        &store,
        &prefix,
        "writer-a",
        "on by a person: CHG-1",
        &options(0, 60),
        |_| {},
    )
    .await
    .expect("free lease taken");
    assert_eq!(a.parameter, format!("{prefix}/switch/lease"));
    assert!(a.took_over.is_none());
    let raw = automation::parameter(&store, &a.parameter)
        .await
        .expect("lease written");
    let value: LeaseValue = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        (value.holder.as_str(), value.id.as_str()),
        ("writer-a", a.id.as_str())
    );

    // Held: the second writer waits (and is told so once), then refuses with who and since.
    let mut told = Vec::new();
    let started = std::time::Instant::now();
    let b = lease::acquire(
        &store,
        &prefix,
        "writer-b",
        "off",
        &options(1_200, 60),
        |h| told.push(h.clone()),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(1_200));
    let Err(LeaseError::Held { holder, .. }) = &b else {
        panic!("{b:?}")
    };
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(holder.holder, "writer-a");
    assert_eq!(holder.since, value.acquired_at);
    let message = b.unwrap_err().to_string();
    for part in ["writer-a", "CHG-1", &value.acquired_at, "waited 1 s"] {
        assert!(message.contains(part), "{part:?} in {message}");
    }

    // Released: gone, and the next writer gets it at once.
    assert_eq!(
        lease::release(&store, &a).await.unwrap(),
        Released::Released
    );
    assert_eq!(automation::parameter(&store, &a.parameter).await, None);
    let b = lease::acquire(&store, &prefix, "writer-b", "off", &options(0, 60), |_| {})
        .await
        .expect("released lease taken");
    // A release of a lease that is not one's own (taken over meanwhile) leaves it alone.
    assert_eq!(lease::release(&store, &a).await.unwrap(), Released::Gone);
    assert!(automation::parameter(&store, &b.parameter).await.is_some());
    lease::release(&store, &b).await.unwrap();
}

#[tokio::test]
async fn concurrent_writers_hold_the_lease_one_at_a_time() {
    let moto = Moto::shared();
    let store = Arc::new(ssm(moto).await);
    let prefix = Arc::new(format!("/maintenance/{}", common::unique("mutex")));
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..6 {
        let (store, prefix, inside, most) =
            (store.clone(), prefix.clone(), inside.clone(), most.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                let held = lease::acquire(
                    &*store,
                    &prefix,
                    &format!("w{w}"),
                    "test",
                    &options(30_000, 60),
                    |_| {},
                )
                .await
                .expect("taken within the wait");
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                assert_eq!(
                    lease::release(&*store, &held).await.unwrap(),
                    Released::Released
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "two writers held the lease at once"
    );
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_by_exactly_one_writer() {
    let moto = Moto::shared();
    let store = Arc::new(ssm(moto).await);
    let prefix = Arc::new(format!("/maintenance/{}", common::unique("expired")));
    let crashed = LeaseValue {
        holder: "arn:aws:sts::123456789012:assumed-role/switch/crashed".into(),
        id: "deadbeef".into(),
        acquired_at: "2026-01-01T00:00:00Z".into(),
        expires_at: "2026-01-01T00:02:00Z".into(),
        doing: "on by window w-1".into(),
    };
    store
        .put_parameter()
        .name(lease::lease_parameter(&prefix))
        .value(serde_json::to_string(&crashed).unwrap())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let inside = Arc::new(AtomicUsize::new(0));
    let took_over = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..5 {
        let (store, prefix, inside, took_over) = (
            store.clone(),
            prefix.clone(),
            inside.clone(),
            took_over.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let held = lease::acquire(
                &*store,
                &prefix,
                &format!("w{w}"),
                "test",
                &options(30_000, 60),
                |_| {},
            )
            .await
            .expect("taken");
            assert_eq!(
                inside.fetch_add(1, Ordering::SeqCst),
                0,
                "two holders at once"
            );
            if let Some(old) = &held.took_over {
                took_over.lock().unwrap().push(old.clone());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            inside.fetch_sub(1, Ordering::SeqCst);
            lease::release(&*store, &held).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took_over = took_over.lock().unwrap().clone();
    assert_eq!(took_over.len(), 1, "{took_over:?}");
    assert_eq!(took_over[0].holder, crashed.holder);
    assert_eq!(took_over[0].since, crashed.acquired_at);
    // Nothing is left behind: no lease, no takeover marker.
    let left = store
        .get_parameters_by_path()
        .path(&*prefix)
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert!(left.parameters().is_empty(), "{:?}", left.parameters());
}

#[tokio::test]
async fn a_lease_value_that_is_not_ours_is_held_by_unknown_and_not_taken() {
    let moto = Moto::shared();
    let store = ssm(moto).await;
    let prefix = format!("/maintenance/{}", common::unique("garbage"));
    store
        .put_parameter()
        .name(lease::lease_parameter(&prefix))
        .value("held by hand, do not switch")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let err = lease::acquire(&store, &prefix, "w", "on", &options(300, 60), |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown"), "{err}");
}

/// What one writer did: its SetRulePriorities calls, in order, each with the writer's name.
type CallLog = Arc<Mutex<Vec<(&'static str, Vec<(String, u32)>)>>>;

/// The real client, logging each SetRulePriorities call with the writer's name, pausing after
/// each (a slow switch), telling `first_call` after the first, and hanging for ever on the
/// `hang_on`-th (a writer killed mid-way: the test drops its future). The client is
/// [`Faulty`]: every other call goes to moto unchanged.
struct Writer {
    name: &'static str,
    log: CallLog,
    calls: AtomicUsize,
    pause: Duration,
    first_call: Option<Arc<Notify>>,
    hang_on: Option<usize>,
}

impl Writer {
    async fn new(moto: &Moto, name: &'static str, log: &CallLog) -> Faulty<Self> {
        let writer = Self {
            name,
            log: log.clone(),
            calls: AtomicUsize::new(0),
            pause: Duration::ZERO,
            first_call: None,
            hang_on: None,
        };
        Faulty::new(moto, writer).await
    }
}

impl Faults for Writer {
    async fn set_rule_priorities(
        &self,
        real: &Aws,
        p: &[(String, u32)],
    ) -> Result<(), ListenersError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.hang_on == Some(n) {
            std::future::pending::<()>().await;
        }
        real.set_rule_priorities(p).await?;
        self.log.lock().unwrap().push((self.name, p.to_vec()));
        if n == 1
            && let Some(first) = &self.first_call
        {
            first.notify_one();
        }
        tokio::time::sleep(self.pause).await;
        Ok(())
    }
    /// Each writer is its own caller, so a lease names who holds it.
    async fn caller(&self, _real: &Aws) -> Result<String, ListenersError> {
        Ok(format!(
            "arn:aws:sts::123456789012:assumed-role/test/{}",
            self.name
        ))
    }
}

fn request(alb: &Alb, direction: Direction, lease: LeaseOptions) -> SwitchRequest {
    SwitchRequest {
        direction,
        targets: Targets {
            environment: Some(alb.environment.clone()),
            ..Targets::default()
        },
        reason: Some(format!("race {direction}")),
        dry_run: false,
        confirmed: true,
        verify: None,
        bypass: Default::default(),
        live: Live::Responder,
        warnings: Vec::new(),
        coordination: Coordination {
            lease,
            ..Coordination::default()
        },
    }
}

#[tokio::test]
async fn a_switch_started_while_another_runs_waits_for_it_and_never_interleaves() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let store = ssm(moto).await;
    // App rules from 1: on moves them down one call each, so it takes several slow calls.
    let alb = attached_alb(moto, "interleave", &[1, 2, 3]).await;
    let original = all_priorities(&client, &alb).await;
    let log: CallLog = Arc::default();
    let first = Arc::new(Notify::new());
    let mut slow = Writer::new(moto, "on", &log).await;
    slow.faults.pause = Duration::from_millis(400);
    slow.faults.first_call = Some(first.clone());
    let other = Writer::new(moto, "off", &log).await;
    let on = request(&alb, Direction::On, options(20_000, 60));
    let off = request(&alb, Direction::Off, options(20_000, 60));
    let (on, off) = tokio::join!(
        async {
            ops::switch(&slow, &store, &on, &mut Unattended)
                .await
                .unwrap()
        },
        async {
            // Started once the switch on is part-way: the listener is "between" now.
            first.notified().await;
            ops::switch(&other, &store, &off, &mut Unattended)
                .await
                .unwrap()
        }
    );
    assert_eq!(on.outcome, Outcome::Done, "{on}");
    assert_eq!(off.outcome, Outcome::Done, "{off}");
    assert!(off.leases[0].waited_ms > 0, "{:?}", off.leases);
    let order: Vec<&str> = log.lock().unwrap().iter().map(|(w, _)| *w).collect();
    let first_off = order
        .iter()
        .position(|w| *w == "off")
        .expect("off made calls");
    assert!(
        order[first_off..].iter().all(|w| *w == "off"),
        "the two switches interleaved: {order:?}"
    );
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::Off);
    }
    assert_eq!(
        all_priorities(&client, &alb).await,
        original,
        "nothing lost from the record"
    );
}

#[tokio::test]
async fn a_switch_killed_mid_way_is_finished_by_the_next_writer_taking_over_its_lease() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let store = ssm(moto).await;
    let alb = attached_alb(moto, "killed", &[1, 2, 3]).await;
    let original = all_priorities(&client, &alb).await;
    let order = app_order(&client, &alb.http).await;
    let log: CallLog = Arc::default();
    let mut doomed = Writer::new(moto, "doomed", &log).await;
    // HTTP takes four calls (three app rules move down one at a time, then the managed
    // rules); the fifth is the first on HTTPS.
    doomed.faults.hang_on = Some(5);
    let on = request(&alb, Direction::On, options(0, 3));
    // Killed during its fifth call: no rollback, no release, HTTP on and HTTPS not.
    let killed = tokio::time::timeout(
        Duration::from_secs(5),
        ops::switch(&doomed, &store, &on, &mut Unattended),
    )
    .await;
    assert!(killed.is_err(), "the doomed switch was meant to hang");
    assert_eq!(consistent_state(&client, &alb.http).await, State::On);
    assert_eq!(consistent_state(&client, &alb.https).await, State::Off);
    assert_eq!(log.lock().unwrap().len(), 4, "{log:?}");
    let lease_name = lease::lease_parameter(&alb.prefix);
    assert!(
        automation::parameter(&store, &lease_name).await.is_some(),
        "lease left behind"
    );

    // The next writer (the real maintctl) waits for the lease to expire, takes it over, and
    // finishes the switch from where the listeners are.
    let next = maintctl(
        moto,
        &[
            "on",
            "--environment",
            &alb.environment,
            "--yes",
            "--lease-wait",
            "30",
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&next), 0, "{}", text(&next));
    let doc = json(&next);
    let took_over = &doc["leases"][0]["took_over"];
    assert!(
        took_over["holder"]
            .as_str()
            .is_some_and(|h| h.ends_with("/doomed")),
        "{doc:#}"
    );
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
    }
    assert_eq!(app_order(&client, &alb.http).await, order);
    assert_eq!(
        automation::parameter(&store, &lease_name).await,
        None,
        "released"
    );
    // Nothing lost from the record: off puts every rule back exactly.
    let off = maintctl(moto, &["off", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(all_priorities(&client, &alb).await, original);
}

#[tokio::test]
async fn two_maintctl_on_at_the_same_moment_one_switches_the_other_finds_it_done() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = attached_alb(moto, "two-on", &[1, 2, 3, 4]).await;
    let original = all_priorities(&client, &alb).await;
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_maintctl"))
            .args([
                "on",
                "--environment",
                &alb.environment,
                "--yes",
                "--output",
                "json",
                // No responder in moto for the preflight (see automation::maintctl).
                "--force",
            ])
            .envs(moto.env())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn maintctl")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut codes = [code(&a), code(&b)];
    codes.sort();
    // With the lease the second plans only once the first is done: never "the listener
    // changed since planning" (4), always "already on" (3).
    assert_eq!(codes, [0, 3], "\n{}\n{}", text(&a), text(&b));
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
    }
    let off = maintctl(moto, &["off", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(all_priorities(&client, &alb).await, original);
}

#[tokio::test]
async fn a_listener_no_lease_can_be_taken_for_is_said_by_maintctl_and_refused_when_required() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let store = ssm(moto).await;
    let alb = attached_alb(moto, "no-prefix", &[10]).await;
    // An attach from before --prefix: the maintenance rules name no content prefix.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config().await);
    for l in alb.listeners() {
        let rule = automation::snapshot(&client, l)
            .await
            .maintenance_rule()
            .unwrap()
            .arn
            .clone();
        elb.remove_tags()
            .resource_arns(rule)
            .tag_keys(tags::CONTENT_PREFIX)
            .send()
            .await
            .unwrap();
    }
    let before = all_priorities(&client, &alb).await;
    let required = LeaseOptions {
        required: true,
        ..options(0, 60)
    };
    let refused = ops::switch(
        &client,
        &store,
        &request(&alb, Direction::On, required),
        &mut Unattended,
    )
    .await
    .unwrap();
    assert_eq!(refused.outcome, Outcome::Refused, "{refused}");
    assert!(
        refused.message.contains("no content prefix")
            && refused.message.contains("aws elbv2 add-tags"),
        "{}",
        refused.message
    );
    assert_eq!(
        all_priorities(&client, &alb).await,
        before,
        "nothing changed"
    );

    let on = maintctl(moto, &["on", "--environment", &alb.environment, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let stderr = String::from_utf8_lossy(&on.stderr);
    assert!(
        stderr.contains("no lease can be taken") && stderr.contains(tags::CONTENT_PREFIX),
        "{}",
        text(&on)
    );
    assert_eq!(
        maintenance_tags(&client, &alb.http).await[tags::STATE],
        "on"
    );
}
