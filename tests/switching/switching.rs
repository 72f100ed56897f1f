//! `maintctl attach`, `status`, `on` and `off` against the moto emulator in server mode, and
//! `ops::apply`'s rollback with injected failures.
//!
//! Each test builds its own VPC, ALB (HTTP and HTTPS listeners) and rules with
//! `tests/support/alb_fixture.py`, and uses its own environment name, so tests share one
//! emulator without seeing each other. Nothing here is skipped when moto is missing: the
//! harness fails loudly.

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_elasticloadbalancingv2 as elbv2;
use common::Moto;
use common::alb::{self, Alb, Preflight, code, json, maintctl, text};
use common::listeners::{
    Faults, Faulty, aws, both_priorities, consistent_state, priorities, snapshot, switch_on,
};
use maintenance_core::deploy_names::tags;
use maintenance_engine::listeners::{self, Aws, Listeners, ListenersError};
use maintenance_engine::ops::{self, AttachRequest, ListenerOutcome, Outcome, Record};
use maintenance_engine::planner::{
    self, AttachSpec, Direction, ListenerSnapshot, Role, State, TargetGroupInfo,
};
use serde_json::Value;

/// `maintctl attach` on both listeners with a bypass CIDR and header, in `environment`.
fn attach(moto: &Moto, alb: &Alb, environment: &str) -> Output {
    maintctl(
        moto,
        &alb::attach_args(
            alb,
            environment,
            &[
                "--bypass-cidr",
                "203.0.113.0/24",
                "--bypass-header",
                "X-Maintenance-Bypass=s3cret-token",
            ],
        ),
    )
}

async fn raw_elb(moto: &Moto) -> elbv2::Client {
    elbv2::Client::new(&moto.sdk_config().await)
}

/// App rules' ARNs in priority order.
async fn app_order(client: &impl Listeners, listener: &str) -> Vec<String> {
    snapshot(client, listener)
        .await
        .rules
        .iter()
        .filter(|r| !r.is_default() && r.role() == Role::App)
        .map(|r| r.arn.clone())
        .collect()
}

async fn maintenance_tags(client: &impl Listeners, listener: &str) -> BTreeMap<String, String> {
    snapshot(client, listener)
        .await
        .maintenance_rule()
        .expect("attached")
        .tags
        .clone()
}

#[tokio::test]
async fn attach_is_idempotent_and_status_shows_the_rules() {
    let moto = Moto::shared();
    let alb = alb::build_with(moto, "attach", &[10, 20, 30], &[10, 20], Some(40_000));
    let env = common::unique("env-attach");
    let client = aws(moto).await;
    let before_http = priorities(&client, &alb.http).await;

    let first = attach(moto, &alb, &env);
    assert_eq!(code(&first), 0, "{}", text(&first));
    let after_first = priorities(&client, &alb.http).await;
    assert_eq!(
        after_first.len(),
        before_http.len() + 4,
        "maintenance, fallback and 2 bypass rules"
    );

    // Parked at the end, bypass rules directly above, tagged.
    let s = snapshot(&client, &alb.http).await;
    let m = s.maintenance_rule().expect("maintenance rule");
    assert_eq!(m.priority, Some(50_000));
    assert_eq!(m.tags[tags::PARKED_PRIORITY], "50000");
    assert_eq!(m.tags[tags::ENVIRONMENT], env);
    assert_eq!(m.tags[tags::STATE], "off");
    let bypass: Vec<u32> = s.bypass_rules().filter_map(|r| r.priority).collect();
    assert_eq!(bypass, vec![49_998, 49_999]);
    assert_eq!(s.state().unwrap(), State::Off);

    // A second attach changes nothing and says so.
    let second = attach(moto, &alb, &env);
    assert_eq!(code(&second), 3, "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("already"),
        "{}",
        text(&second)
    );
    assert_eq!(priorities(&client, &alb.http).await, after_first);

    // Status by environment finds both listeners; text and JSON.
    let status = maintctl(moto, &["status", "--environment", &env]);
    assert_eq!(code(&status), 0, "{}", text(&status));
    let out = String::from_utf8_lossy(&status.stdout);
    assert_eq!(
        out.matches("maintenance: OFF").count(),
        2,
        "{}",
        text(&status)
    );
    assert!(
        out.contains("(HTTPS:443)") && out.contains("(HTTP:80)"),
        "{out}"
    );
    assert!(
        !out.contains("s3cret-token"),
        "status must not print the bypass secret: {out}"
    );
    let status = maintctl(
        moto,
        &[
            "status",
            "--load-balancer",
            &alb.load_balancer,
            "--output",
            "json",
        ],
    );
    let doc = json(&status);
    let listeners = doc["listeners"].as_array().unwrap();
    assert_eq!(listeners.len(), 2);
    for l in listeners {
        assert_eq!(l["state"], "off");
        let roles: Vec<&str> = l["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles.iter().filter(|r| **r == "maintenance").count(), 1);
        assert_eq!(roles.iter().filter(|r| **r == "bypass").count(), 2);
    }
}

#[tokio::test]
async fn attach_refuses_to_catch_traffic_or_take_a_priority() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    // No catch-all rule: the parked rule would answer everything the app rules do not match.
    let alb = alb::build_with(moto, "fallthrough", &[10, 20], &[10], None);
    let before = priorities(&client, &alb.http).await;
    let out = attach(moto, &alb, &common::unique("env-ft"));
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--allow-fallthrough"),
        "{}",
        text(&out)
    );
    assert_eq!(
        priorities(&client, &alb.http).await,
        before,
        "nothing may be created"
    );

    let ok = maintctl(
        moto,
        &[
            "attach",
            "--listener",
            &alb.http,
            "--target-group",
            &alb.lambda_target_group,
            "--allow-fallthrough",
        ],
    );
    assert_eq!(code(&ok), 0, "{}", text(&ok));

    // The parked priority is taken by an app rule.
    let alb = alb::build_with(moto, "taken", &[10], &[10], Some(40_000));
    let out = maintctl(
        moto,
        &[
            "attach",
            "--listener",
            &alb.https,
            "--target-group",
            &alb.lambda_target_group,
            "--priority",
            "40000",
        ],
    );
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("held by rule"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn on_and_off_across_listeners_restore_every_priority_exactly() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    // HTTP is crowded at the top (no free priority above the app rules); HTTPS has room.
    let alb = alb::build_with(moto, "flip", &[1, 2, 3, 5], &[10, 20, 30], Some(40_000));
    let env = common::unique("env-flip");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let original_http = priorities(&client, &alb.http).await;
    let original_https = priorities(&client, &alb.https).await;
    let order_http = app_order(&client, &alb.http).await;

    let on = maintctl(
        moto,
        &[
            "on",
            "--load-balancer",
            &alb.load_balancer,
            "--reason",
            "DB migration, ticket #42",
            "--yes",
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    let doc = json(&on);
    assert_eq!(doc["outcome"], "applied");
    assert_eq!(doc["listeners"].as_array().unwrap().len(), 2);
    for listener in [&alb.http, &alb.https] {
        assert_eq!(consistent_state(&client, listener).await, State::On);
        let t = maintenance_tags(&client, listener).await;
        assert_eq!(t[tags::STATE], "on");
        assert_eq!(t[tags::CHANGED_BY], "arn:aws:sts::123456789012:user/moto");
        assert_eq!(
            t[tags::REASON],
            "DB migration_ ticket _42",
            "reason made tag-safe"
        );
        assert!(t[tags::CHANGED_AT].starts_with("20"), "{t:?}");
    }
    assert_eq!(
        app_order(&client, &alb.http).await,
        order_http,
        "app rules keep their order"
    );
    // HTTP had to displace app rules (1, 2, 3 and 5 make room for 2 bypass rules and the
    // maintenance rule); the record says where they were.
    let record = maintenance_tags(&client, &alb.http).await;
    assert_eq!(
        planner::decode_displaced(&record).unwrap().len(),
        4,
        "{record:?}"
    );

    // On again: nothing to do, nothing written.
    let again = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&again), 3, "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already on"),
        "{}",
        text(&again)
    );

    let status = maintctl(moto, &["status", "--listener", &alb.http]);
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(out.contains("maintenance: ON"), "{out}");
    assert!(
        out.contains("DB migration_ ticket _42") && out.contains("user/moto"),
        "{out}"
    );

    let off = maintctl(
        moto,
        &[
            "off",
            "--listener",
            &alb.http,
            "--listener",
            &alb.https,
            "--yes",
        ],
    );
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(
        priorities(&client, &alb.http).await,
        original_http,
        "HTTP restored exactly"
    );
    assert_eq!(
        priorities(&client, &alb.https).await,
        original_https,
        "HTTPS restored exactly"
    );
    let record = maintenance_tags(&client, &alb.http).await;
    assert!(
        planner::decode_displaced(&record).unwrap().is_empty(),
        "record cleared: {record:?}"
    );
    assert_eq!(record[tags::STATE], "off");

    let again = maintctl(
        moto,
        &["off", "--load-balancer", &alb.load_balancer, "--yes"],
    );
    assert_eq!(code(&again), 3, "{}", text(&again));
}

#[tokio::test]
async fn environment_selects_only_its_own_rules() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let a = alb::build_with(moto, "env-a", &[10], &[10], Some(40_000));
    let b = alb::build_with(moto, "env-b", &[10], &[10], Some(40_000));
    let (env_a, env_b) = (common::unique("env-a"), common::unique("env-b"));
    assert_eq!(code(&attach(moto, &a, &env_a)), 0);
    assert_eq!(code(&attach(moto, &b, &env_b)), 0);
    let on = maintctl(moto, &["on", "--environment", &env_a, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    assert_eq!(consistent_state(&client, &a.http).await, State::On);
    assert_eq!(consistent_state(&client, &a.https).await, State::On);
    assert_eq!(consistent_state(&client, &b.http).await, State::Off);
    assert_eq!(consistent_state(&client, &b.https).await, State::Off);
}

#[tokio::test]
async fn dry_run_and_missing_confirmation_change_nothing() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build_with(moto, "dry", &[1, 2], &[10], Some(40_000));
    let env = common::unique("env-dry");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let before = (
        snapshot(&client, &alb.http).await,
        snapshot(&client, &alb.https).await,
    );

    let dry = maintctl(moto, &["on", "--environment", &env, "--dry-run"]);
    assert_eq!(code(&dry), 0, "{}", text(&dry));
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(out.contains("dry run: nothing was changed"), "{out}");
    assert!(
        out.contains("call 1: SetRulePriorities"),
        "the plan is printed: {out}"
    );
    assert!(
        out.contains("50000 -> "),
        "current and planned priorities: {out}"
    );

    let json_dry = maintctl(
        moto,
        &["on", "--environment", &env, "--dry-run", "--output", "json"],
    );
    let doc = json(&json_dry);
    assert_eq!(doc["outcome"], "dry-run");
    assert!(
        !doc["listeners"][0]["plan"]["steps"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Without --yes and without a terminal: refused.
    let unconfirmed = maintctl(moto, &["on", "--environment", &env]);
    assert_eq!(code(&unconfirmed), 4, "{}", text(&unconfirmed));
    assert!(
        String::from_utf8_lossy(&unconfirmed.stderr).contains("--yes"),
        "{}",
        text(&unconfirmed)
    );

    // Provably unchanged: every rule, priority and tag on both listeners.
    let after = (
        snapshot(&client, &alb.http).await,
        snapshot(&client, &alb.https).await,
    );
    assert_eq!(after, before);
}

#[tokio::test]
async fn errors_name_the_listener_and_what_to_do() {
    let moto = Moto::shared();
    let alb = alb::build_with(moto, "errors", &[10], &[10], Some(40_000));
    // A listener without a maintenance rule.
    let out = maintctl(moto, &["on", "--listener", &alb.http, "--yes"]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&alb.http) && err.contains("maintctl attach"),
        "{err}"
    );
    // A listener that does not exist.
    let missing = format!("{}0", alb.http);
    let out = maintctl(moto, &["status", "--listener", &missing]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not found"),
        "{}",
        text(&out)
    );
    // No target at all is a usage error.
    let out = maintctl(moto, &["off", "--yes"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}

/// How the injected SetRulePriorities failure behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The call is rejected and changes nothing.
    Reject,
    /// The first rule the call moves is deleted right before it is sent, so the emulator
    /// itself rejects the call (RuleNotFound).
    DeleteRule,
    /// The call is carried out, but the answer is lost (a timeout).
    ApplyThenTimeout,
    /// The call is carried out, but reported as rejected (a lying or confused endpoint).
    ApplyThenReject,
}

/// The `fail_on`-th SetRulePriorities call (1-based) fails as `fault` says.
struct PriorityFault {
    raw: elbv2::Client,
    calls: AtomicUsize,
    fail_on: usize,
    fault: Fault,
}

/// The real client, except that the `fail_on`-th SetRulePriorities call fails as `fault` says.
async fn priority_faults(moto: &Moto, fail_on: usize, fault: Fault) -> Faulty<PriorityFault> {
    let faults = PriorityFault {
        raw: raw_elb(moto).await,
        calls: AtomicUsize::new(0),
        fail_on,
        fault,
    };
    Faulty::new(moto, faults).await
}

impl Faults for PriorityFault {
    async fn set_rule_priorities(
        &self,
        real: &Aws,
        priorities: &[(String, u32)],
    ) -> Result<(), ListenersError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n != self.fail_on {
            return real.set_rule_priorities(priorities).await;
        }
        let injected = |outcome_unknown| ListenersError::Call {
            operation: "SetRulePriorities",
            resource: priorities[0].0.clone(),
            code: Some("InjectedFailure".into()),
            message: "injected failure".into(),
            outcome_unknown,
        };
        match self.fault {
            Fault::Reject => Err(injected(false)),
            Fault::DeleteRule => {
                self.raw
                    .delete_rule()
                    .rule_arn(&priorities[0].0)
                    .send()
                    .await
                    .expect("delete rule");
                real.set_rule_priorities(priorities).await
            }
            Fault::ApplyThenTimeout => {
                real.set_rule_priorities(priorities).await?;
                Err(injected(true))
            }
            Fault::ApplyThenReject => {
                real.set_rule_priorities(priorities).await?;
                Err(injected(false))
            }
        }
    }
}

fn record() -> Record {
    Record {
        by: "tests".into(),
        at: "2026-11-22T00:00:00Z".into(),
        reason: "rollback test".into(),
        ..Record::default()
    }
}

/// Attaches through the library (parked at 50000, one bypass rule, no environment).
async fn attach_lib(client: &impl Listeners, alb: &Alb) {
    let spec = AttachSpec {
        target_group: alb.lambda_target_group.clone(),
        parked: 50_000,
        environment: None,
        content_prefix: None,
        bypass_cidrs: vec!["198.51.100.0/24".parse().unwrap()],
        bypass_header: None,
        bypass_link: false,
        app_target_group: Some(alb.app_target_group.clone()),
        allow_fallthrough: false,
        allow_bypass_everyone: false,
        fallback: Some(planner::FallbackSpec {
            priority: None,
            body: ops::fallback::default_page(&maintenance_core::Site::embedded()),
        }),
    };
    let request = AttachRequest::new(vec![alb.http.clone(), alb.https.clone()], spec, false)
        .expect("valid options");
    let report = ops::attach(client, &request).await.expect("attached");
    assert!(report.error.is_none(), "{report:#?}");
}

async fn plan(client: &impl Listeners, alb: &Alb, direction: Direction) -> Vec<planner::Planned> {
    let snapshots = vec![
        snapshot(client, &alb.http).await,
        snapshot(client, &alb.https).await,
    ];
    planner::plan_switch(snapshots, direction).unwrap()
}

#[tokio::test]
async fn a_failure_part_way_undoes_every_listener() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    // HTTP: 3 app rules displaced one call each, then the managed rules: 4 calls. HTTPS: 1.
    let alb = alb::build_with(moto, "rollback", &[1, 2, 3], &[10, 20], Some(40_000));
    attach_lib(&client, &alb).await;
    let before = both_priorities(&client, &alb).await;
    let record_before = maintenance_tags(&client, &alb.http).await;
    let planned = plan(&client, &alb, Direction::On).await;
    assert_eq!(planned[0].plan.steps.len(), 4, "{:?}", planned[0].plan);
    assert_eq!(planned[1].plan.steps.len(), 1);

    // Fail in the middle of HTTP: calls 1 and 2 were made and must be undone.
    let faulty = priority_faults(moto, 3, Fault::Reject).await;
    let report = ops::apply(&faulty, &planned, Direction::On, &record())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack, "{report:#?}");
    assert_eq!(report.listeners[0].outcome, ListenerOutcome::RolledBack);
    assert_eq!(report.listeners[1].outcome, ListenerOutcome::NotApplied);
    assert!(
        report.listeners[0]
            .message
            .as_deref()
            .unwrap()
            .contains("call 3 of 4"),
        "{report:#?}"
    );
    // The failed call's rule and cause, each said once.
    let message = report.listeners[0].message.clone().unwrap();
    let moved = &planned[0].plan.steps[2].moves[0].rule;
    assert_eq!(message.matches(moved.as_str()).count(), 1, "{message}");
    assert_eq!(message.matches("injected failure").count(), 1, "{message}");
    assert_eq!(both_priorities(&client, &alb).await, before);
    let record_after = maintenance_tags(&client, &alb.http).await;
    assert!(
        planner::decode_displaced(&record_after).unwrap().is_empty(),
        "record restored: {record_after:?}"
    );
    assert_eq!(record_after[tags::STATE], record_before[tags::STATE]);

    // Fail on HTTPS, after HTTP was fully switched: HTTP is switched back too.
    let faulty = priority_faults(moto, 5, Fault::Reject).await;
    let report = ops::apply(&faulty, &planned, Direction::On, &record())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack, "{report:#?}");
    assert_eq!(report.listeners[0].outcome, ListenerOutcome::RolledBack);
    assert_eq!(both_priorities(&client, &alb).await, before);
    for l in &report.listeners {
        assert!(
            l.priorities.iter().all(|r| r.before == r.now),
            "report shows the state: {l:#?}"
        );
    }

    // The first call failing on a listener with nothing to record changes nothing: failed,
    // not rolled back.
    let faulty = priority_faults(moto, 1, Fault::Reject).await;
    let report = ops::apply(&faulty, &planned[1..], Direction::On, &record())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(report.listeners[0].outcome, ListenerOutcome::NotApplied);
    assert_eq!(both_priorities(&client, &alb).await, before);
    // Also when the displaced-rule record was already written: it is put back.
    let faulty = priority_faults(moto, 1, Fault::Reject).await;
    let report = ops::apply(&faulty, &planned, Direction::On, &record())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    let record_after = maintenance_tags(&client, &alb.http).await;
    assert!(
        planner::decode_displaced(&record_after).unwrap().is_empty(),
        "record restored: {record_after:?}"
    );

    // And with no failure the same plan applies.
    let report = ops::apply(&client, &planned, Direction::On, &record())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Done, "{report:#?}");
    assert_eq!(consistent_state(&client, &alb.http).await, State::On);
}

#[tokio::test]
async fn a_call_carried_out_despite_an_error_is_found_and_reported() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build_with(moto, "unknown", &[1, 2, 3], &[10], Some(40_000));
    attach_lib(&client, &alb).await;
    let before = priorities(&client, &alb.http).await;
    let planned = plan(&client, &alb, Direction::On).await;

    // A timeout on call 3 after it was carried out: it is found by re-reading and undone too.
    let faulty = priority_faults(moto, 3, Fault::ApplyThenTimeout).await;
    let report = ops::apply(&faulty, &planned, Direction::On, &record())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack, "{report:#?}");
    assert_eq!(priorities(&client, &alb.http).await, before);

    // Reported as rejected although carried out: the undo of calls 1-2 cannot make the
    // listener as it was, and the report says so, rule by rule, instead of claiming success.
    let faulty = priority_faults(moto, 3, Fault::ApplyThenReject).await;
    let report = ops::apply(&faulty, &planned, Direction::On, &record())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Inconsistent, "{report:#?}");
    let http = &report.listeners[0];
    assert_eq!(http.outcome, ListenerOutcome::Inconsistent);
    assert!(
        http.message.as_deref().unwrap().contains("needs a person"),
        "{http:#?}"
    );
    let now = priorities(&client, &alb.http).await;
    for row in &http.priorities {
        assert_eq!(
            row.now,
            now.get(&row.rule).copied(),
            "the report shows the real state"
        );
    }
    // The displaced-rule record was kept, so the listener recovers exactly: on from wherever
    // it is, then off, puts every rule back where it was before the failed switch.
    let record = maintenance_tags(&client, &alb.http).await;
    assert_eq!(
        planner::decode_displaced(&record).unwrap().len(),
        3,
        "{record:?}"
    );
    let on = maintctl(moto, &["on", "--listener", &alb.http, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let off = maintctl(moto, &["off", "--listener", &alb.http, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(consistent_state(&client, &alb.http).await, State::Off);
    assert_eq!(priorities(&client, &alb.http).await, before);
}

#[tokio::test]
async fn a_rule_deleted_between_plan_and_apply_is_refused() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build_with(moto, "deleted", &[1, 2, 3], &[10], Some(40_000));
    attach_lib(&client, &alb).await;
    let planned = plan(&client, &alb, Direction::On).await;
    let victim = app_order(&client, &alb.http).await[1].clone();
    raw_elb(moto)
        .await
        .delete_rule()
        .rule_arn(&victim)
        .send()
        .await
        .unwrap();
    let before = both_priorities(&client, &alb).await;

    let report = ops::apply(&client, &planned, Direction::On, &record())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Refused, "{report:#?}");
    assert!(
        report.listeners[0]
            .message
            .as_deref()
            .unwrap()
            .contains("deleted"),
        "{report:#?}"
    );
    assert_eq!(both_priorities(&client, &alb).await, before);
}

#[tokio::test]
async fn a_rule_deleted_during_apply_rolls_back_the_rest() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build_with(moto, "deleted-mid", &[1, 2, 3], &[10], Some(40_000));
    attach_lib(&client, &alb).await;
    let before = priorities(&client, &alb.http).await;
    let planned = plan(&client, &alb, Direction::On).await;
    // Call 2 moves an app rule; it is deleted just before, so the emulator rejects the call.
    let victim = planned[0].plan.steps[1].moves[0].rule.clone();
    let faulty = priority_faults(moto, 2, Fault::DeleteRule).await;
    let report = ops::apply(&faulty, &planned, Direction::On, &record())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack, "{report:#?}");
    assert!(
        report.listeners[0]
            .message
            .as_deref()
            .unwrap()
            .contains("RuleNotFound"),
        "{report:#?}"
    );
    let mut expected = before;
    expected.remove(&victim);
    assert_eq!(
        priorities(&client, &alb.http).await,
        expected,
        "every remaining rule is back"
    );
}

#[tokio::test]
async fn two_ons_at_the_same_time_leave_a_consistent_listener() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build_with(moto, "race", &[1, 2, 3, 4], &[10], Some(40_000));
    let env = common::unique("env-race");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let order = app_order(&client, &alb.http).await;
    let original = priorities(&client, &alb.http).await;
    let spawn = || {
        let args = ["on", "--listener", &alb.http, "--yes", "--output", "json"];
        alb::command(moto, &args, Preflight::Forced)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn maintctl")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut codes = [code(&a), code(&b)];
    codes.sort();
    assert_eq!(
        codes[0],
        0,
        "one of them switched:\n{}\n{}",
        text(&a),
        text(&b)
    );
    assert!(
        [3, 4].contains(&codes[1]),
        "the other did nothing:\n{}\n{}",
        text(&a),
        text(&b)
    );
    assert_eq!(consistent_state(&client, &alb.http).await, State::On);
    assert_eq!(app_order(&client, &alb.http).await, order);
    // The loser did not clobber the winner's record: off restores every priority exactly.
    let off = maintctl(moto, &["off", "--listener", &alb.http, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(consistent_state(&client, &alb.http).await, State::Off);
    assert_eq!(priorities(&client, &alb.http).await, original);
}

/// A loopback HTTP server answering like the ALB in maintenance: 503 with Retry-After and
/// `Cache-Control: no-store` on every path but the health route (`/healthz`), which answers 200.
fn maintenance_endpoint() -> String {
    maintenance_endpoint_at("/healthz")
}

/// [`maintenance_endpoint`] with its health route at `health_path`.
fn maintenance_endpoint_at(health_path: &'static str) -> String {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", server.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in server.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let response = if line.starts_with(&format!("GET {health_path} ")) {
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            } else {
                "HTTP/1.1 503 Service Unavailable\r\nretry-after: 120\r\ncache-control: no-store\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

#[tokio::test]
async fn verify_url_checks_the_live_endpoint() {
    let moto = Moto::shared();
    let alb = alb::build_with(moto, "verify", &[10], &[10], Some(40_000));
    let env = common::unique("env-verify");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let url = maintenance_endpoint();
    let on = maintctl(
        moto,
        &["on", "--environment", &env, "--yes", "--verify-url", &url],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    assert!(
        String::from_utf8_lossy(&on.stdout).contains("verified"),
        "{}",
        text(&on)
    );
    // The endpoint still says maintenance after off: switched, but not verified. Credentials
    // in the URL are never printed (nor sent).
    let with_credentials = url.replace("http://", "http://ops:s3cret-pw@");
    let off = maintctl(
        moto,
        &[
            "off",
            "--environment",
            &env,
            "--yes",
            "--verify-url",
            &with_credentials,
            "--verify-timeout",
            "1",
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&off), 7, "{}", text(&off));
    let doc = json(&off);
    assert_eq!(doc["verification"]["status"], 503);
    assert_eq!(doc["verification"]["ok"], false);
    assert_eq!(doc["report"]["outcome"], "applied");
    assert!(!text(&off).contains("s3cret-pw"), "{}", text(&off));
    assert_eq!(doc["verification"]["url"], url.as_str());
    let message = doc["message"].as_str().unwrap();
    assert!(
        message.contains("still answered with the maintenance page") && !message.contains("no 503"),
        "said as seen, no double negative: {message}"
    );
    // The same in text, where the message goes to stderr.
    let on = maintctl(
        moto,
        &[
            "on",
            "--environment",
            &env,
            "--yes",
            "--verify-url",
            &with_credentials,
        ],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    let off = maintctl(
        moto,
        &[
            "off",
            "--environment",
            &env,
            "--yes",
            "--verify-url",
            &with_credentials,
            "--verify-timeout",
            "1",
        ],
    );
    assert_eq!(code(&off), 7, "{}", text(&off));
    assert!(!text(&off).contains("s3cret-pw"), "{}", text(&off));
    assert!(
        stderr(&off).contains("still answered with the maintenance page"),
        "{}",
        text(&off)
    );
    // A CA for an http:// URL is refused before anything is read or changed (https itself:
    // tests/switching/verify_https.rs).
    let https = maintctl(
        moto,
        &[
            "on",
            "--environment",
            &env,
            "--yes",
            "--verify-url",
            &url,
            "--verify-ca",
            "/dev/null",
        ],
    );
    assert_eq!(code(&https), 1, "{}", text(&https));
    assert!(
        String::from_utf8_lossy(&https.stderr).contains("--verify-ca is for https://"),
        "{}",
        text(&https)
    );
}

/// `--reason` is one rule for every command that changes production: optional, recorded as
/// "no reason given" when absent, and a usage error (exit 2, nothing changed) when it is empty
/// or unfit (schedule create: tests/automation/schedule.rs).
#[tokio::test]
async fn reason_is_optional_and_its_absence_is_recorded() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build_with(moto, "reason", &[10], &[10], Some(40_000));
    let env = common::unique("env-reason");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let before = priorities(&client, &alb.http).await;
    for bad in ["", "   ", "two\nlines"] {
        for command in ["on", "off"] {
            let out = maintctl(
                moto,
                &[command, "--environment", &env, "--yes", "--reason", bad],
            );
            assert_eq!(code(&out), 2, "{command} --reason {bad:?}: {}", text(&out));
            assert!(stderr(&out).contains("--reason"), "{}", text(&out));
        }
    }
    assert_eq!(
        priorities(&client, &alb.http).await,
        before,
        "nothing changed"
    );
    let on = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let t = maintenance_tags(&client, &alb.http).await;
    assert_eq!(t[tags::REASON], "no reason given");
    let status = maintctl(moto, &["status", "--environment", &env]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains(": no reason given"),
        "{}",
        text(&status)
    );
    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(
        maintenance_tags(&client, &alb.http).await[tags::REASON],
        "no reason given"
    );
}

/// `--verify-url` checks the health route `doctor` and the preflight check, by one rule: the
/// path given, else the responder target group's health-check path (read from ELBv2), else
/// `/healthz` (the rule itself: tests/switching/doctor.rs).
#[tokio::test]
async fn verify_url_checks_the_target_groups_health_check_path_unless_one_is_given() {
    let moto = Moto::shared();
    let alb = alb::build_with(moto, "verify-hp", &[10], &[10], Some(40_000));
    let env = common::unique("env-verify-hp");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let client = aws(moto).await;
    let elb = elbv2::Client::new(&moto.sdk_config().await);
    elb.modify_target_group()
        .target_group_arn(&alb.lambda_target_group)
        .health_check_enabled(true)
        .health_check_path("/status")
        .send()
        .await
        .unwrap();
    // The endpoint's health route is /status: /healthz answers 503 like every other page.
    let url = maintenance_endpoint_at("/status");
    let on = |extra: &[&str]| {
        let mut args = vec!["on", "--environment", &env, "--yes", "--verify-url", &url];
        args.extend(["--verify-timeout", "1", "--output", "json"]);
        args.extend(extra);
        maintctl(moto, &args)
    };
    let picked = on(&[]);
    assert_eq!(code(&picked), 0, "{}", text(&picked));
    let doc = json(&picked);
    assert_eq!(doc["verification"]["ok"], true, "{}", text(&picked));
    assert!(
        doc["verification"]["health_url"]
            .as_str()
            .unwrap()
            .ends_with("/status"),
        "{}",
        text(&picked)
    );
    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    // A path given wins over the target group's: /healthz answers 503 here, so the probe
    // (run after the switch) does not see the switch.
    let given = on(&["--health-path", "/healthz"]);
    assert_eq!(code(&given), 7, "{}", text(&given));
    let doc = json(&given);
    assert_eq!(doc["verification"]["ok"], false, "{}", text(&given));
    assert!(
        doc["verification"]["health_url"]
            .as_str()
            .unwrap()
            .ends_with("/healthz"),
        "{}",
        text(&given)
    );
    assert_eq!(consistent_state(&client, &alb.http).await, State::On);
}

/// The flip under load (issue #7): `maintctl on` and `off` against the emulator, twice, while
/// a client hammers the preview server (the Lambda's own handler behind HTTP) from another
/// thread. No request may fail or get anything but the maintenance page or the health answer,
/// and after each command the listener is consistent, in the state asked for, with the app
/// rules in their order. Bounded: at most 20 s or 200 000 requests of load, loopback only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipping_under_load_serves_every_request_and_leaves_consistent_listeners() {
    use maintctl::preview::{self, StaticStore};
    use maintenance_core::site::Site;
    use maintenance_responder::lambda::Function;
    use maintenance_responder::lambda::alb_event::HeaderMode;
    use std::io::Read;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build_with(moto, "load", &[1, 2, 3], &[5, 6], Some(40_000));
    let env = common::unique("env-load");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let order = app_order(&client, &alb.http).await;
    let original = priorities(&client, &alb.http).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let function: Function<StaticStore> = Function::new(Site::embedded(), None);
    let server = tokio::spawn(preview::serve(
        listener,
        async move {
            let _ = stopped.await;
        },
        Arc::new(function),
        HeaderMode::Single,
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let hammer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let (mut ok, mut bad) = (0usize, Vec::new());
            for n in 0..200_000usize {
                if stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(20) {
                    break;
                }
                let (path, expected) = if n % 10 == 0 {
                    ("/healthz", "200")
                } else {
                    ("/", "503")
                };
                let answer = std::net::TcpStream::connect(addr).and_then(|mut s| {
                    write!(
                        s,
                        "GET {path} HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n"
                    )?;
                    let mut text = String::new();
                    s.read_to_string(&mut text)?;
                    Ok(text)
                });
                match answer {
                    Ok(text) if text.split(' ').nth(1) == Some(expected) => ok += 1,
                    Ok(text) => bad.push(format!("{path}: {}", text.lines().next().unwrap_or(""))),
                    Err(e) => bad.push(format!("{path}: {e}")),
                }
            }
            (ok, bad)
        })
    };

    for round in 0..2 {
        for (direction, state) in [("on", State::On), ("off", State::Off)] {
            let args = [
                direction,
                "--environment",
                env.as_str(),
                "--yes",
                "--reason",
                "load test",
            ];
            let out = alb::maintctl_blocking(args.map(str::to_string).to_vec()).await;
            assert_eq!(code(&out), 0, "round {round} {direction}: {}", text(&out));
            for listener in [&alb.http, &alb.https] {
                assert_eq!(
                    consistent_state(&client, listener).await,
                    state,
                    "round {round} {direction}"
                );
            }
            assert_eq!(app_order(&client, &alb.http).await, order);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (ok, bad) = hammer.join().unwrap();
    let _ = stop_server.send(());
    server.await.unwrap().unwrap();
    println!("flip under load: 2 on/off rounds on 2 listeners while {ok} requests were served");
    assert!(
        bad.is_empty(),
        "{} failed requests, first: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    assert!(ok > 100, "the load ran: {ok} requests");
    assert_eq!(
        priorities(&client, &alb.http).await,
        original,
        "off restored every priority"
    );
}

/// Every key path of a JSON document (`a.b[].c`), array elements merged: the shape scripts
/// rely on.
fn key_paths(value: &Value) -> std::collections::BTreeSet<String> {
    fn walk(v: &Value, at: &str, out: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    out.insert(path.clone());
                    walk(v, &path, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{at}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(value, "", &mut out);
    out
}

/// Fails if a document lost a field scripts rely on (adding fields is fine; renaming is not).
fn assert_keeps_fields(name: &str, doc: &Value, pinned: &[&str]) {
    let have = key_paths(doc);
    let lost: Vec<&&str> = pinned.iter().filter(|p| !have.contains(**p)).collect();
    assert!(
        lost.is_empty(),
        "{name}: the JSON document lost {lost:?}; it has {have:#?}"
    );
}

#[tokio::test]
async fn json_documents_keep_the_fields_scripts_rely_on() {
    let moto = Moto::shared();
    let alb = alb::build_with(moto, "json-docs", &[1, 2], &[10], Some(40_000));
    let env = common::unique("env-json");
    let attach_args = [
        "attach",
        "--listener",
        &alb.http,
        "--target-group",
        &alb.lambda_target_group,
        "--environment",
        &env,
        "--bypass-cidr",
        "203.0.113.0/24",
        "--app-target-group",
        &alb.app_target_group,
        "--output",
        "json",
    ];
    let dry: Vec<&str> = attach_args.iter().copied().chain(["--dry-run"]).collect();
    let doc = json(&maintctl(moto, &dry));
    assert_keeps_fields(
        "attach --dry-run",
        &doc,
        &[
            "command",
            "dry_run",
            "error",
            "nothing_to_do",
            "listeners",
            "listeners[].listener",
            "listeners[].created",
            "listeners[].steps",
            "listeners[].steps[].action",
            "listeners[].steps[].role",
            "listeners[].steps[].rule",
            "listeners[].steps[].rule.listener",
            "listeners[].steps[].rule.priority",
            "listeners[].steps[].rule.conditions",
            "listeners[].steps[].rule.conditions[].field",
            "listeners[].steps[].rule.conditions[].values",
            "listeners[].steps[].rule.target_group",
            "listeners[].steps[].rule.tags",
        ],
    );
    let out = maintctl(moto, &attach_args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_keeps_fields(
        "attach",
        &json(&out),
        &["command", "dry_run", "nothing_to_do", "listeners[].created"],
    );
    let again = json(&maintctl(moto, &attach_args));
    assert_keeps_fields(
        "attach (already attached)",
        &again,
        &[
            "listeners[].steps[].action",
            "listeners[].steps[].role",
            "listeners[].steps[].rule",
            "listeners[].steps[].priority",
        ],
    );

    let status = json(&maintctl(
        moto,
        &["status", "--environment", &env, "--output", "json"],
    ));
    let listener_fields = [
        "listeners[].listener",
        "listeners[].listener.arn",
        "listeners[].listener.load_balancer",
        "listeners[].listener.protocol",
        "listeners[].listener.port",
    ];
    let mut pinned = vec![
        "listeners",
        "skipped",
        "listeners[].state",
        "listeners[].warnings",
        "listeners[].maintenance",
        "listeners[].maintenance.rule",
        "listeners[].maintenance.priority",
        "listeners[].maintenance.parked",
        "listeners[].maintenance.environment",
        "listeners[].maintenance.state_tag",
        "listeners[].maintenance.changed_by",
        "listeners[].maintenance.changed_at",
        "listeners[].maintenance.reason",
        "listeners[].rules",
        "listeners[].rules[].arn",
        "listeners[].rules[].priority",
        "listeners[].rules[].conditions",
        "listeners[].rules[].action",
        "listeners[].rules[].action.type",
        "listeners[].rules[].tags",
        "listeners[].rules[].role",
    ];
    pinned.extend(listener_fields);
    assert_keeps_fields("status", &status, &pinned);

    let switch_fields = [
        "command",
        "dry_run",
        "caller",
        "reason",
        "listeners",
        "listeners[].state",
        "listeners[].plan",
        "listeners[].plan.kind",
        "listeners[].plan.steps",
        "listeners[].plan.displaced",
        "listeners[].plan.notices",
        "skipped",
        "outcome",
        "exit_code",
        "message",
        "report",
        "verification",
    ];
    let on_dry = json(&maintctl(
        moto,
        &["on", "--environment", &env, "--dry-run", "--output", "json"],
    ));
    let mut pinned: Vec<&str> = switch_fields.to_vec();
    pinned.extend(listener_fields);
    pinned.extend([
        "listeners[].plan.steps[].moves",
        "listeners[].plan.steps[].moves[].rule",
        "listeners[].plan.steps[].moves[].from",
        "listeners[].plan.steps[].moves[].to",
        "listeners[].plan.displaced[].rule",
        "listeners[].plan.displaced[].home",
    ]);
    assert_keeps_fields("on --dry-run", &on_dry, &pinned);
    let on = maintctl(
        moto,
        &[
            "on",
            "--environment",
            &env,
            "--yes",
            "--reason",
            "pinning",
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    let mut pinned: Vec<&str> = switch_fields.to_vec();
    pinned.extend([
        "report.outcome",
        "report.listeners",
        "report.listeners[].listener",
        "report.listeners[].outcome",
        "report.listeners[].message",
        "report.listeners[].priorities",
        "report.listeners[].priorities[].rule",
        "report.listeners[].priorities[].before",
        "report.listeners[].priorities[].now",
        "report.warnings",
    ]);
    assert_keeps_fields("on", &json(&on), &pinned);
    let again = json(&maintctl(
        moto,
        &["on", "--environment", &env, "--yes", "--output", "json"],
    ));
    assert_eq!(again["outcome"], "nothing-to-do");
    assert_keeps_fields("on (nothing to do)", &again, &switch_fields);
    let off = maintctl(
        moto,
        &["off", "--environment", &env, "--yes", "--output", "json"],
    );
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_keeps_fields("off", &json(&off), &pinned);
    let refused = maintctl(moto, &["on", "--environment", &env, "--output", "json"]);
    assert_eq!(code(&refused), 4, "{}", text(&refused));
    assert_keeps_fields("on (not confirmed)", &json(&refused), &switch_fields);
}

// ---------------------------------------------------------------------------------------------
// Rules that do what their tags do not say (issue #16, items 1 and 2): recognised by what they
// do, shown by status with the state routing gives, refused by on, off and attach.

/// A rule made behind maintctl's back: `path` forwarding to the target groups (weights when
/// more than one), with the given tags.
async fn create_rule(
    elb: &elbv2::Client,
    listener: &str,
    priority: i32,
    path: &str,
    forward: &[&str],
    tags: &[(&str, &str)],
) -> String {
    use elbv2::types::{
        Action, ActionTypeEnum, ForwardActionConfig, PathPatternConditionConfig, RuleCondition,
        Tag, TargetGroupTuple,
    };
    let action = match forward {
        [one] => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(*one)
            .build(),
        many => {
            let mut config = ForwardActionConfig::builder();
            for tg in many {
                config = config.target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(*tg)
                        .weight(50)
                        .build(),
                );
            }
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .forward_config(config.build())
                .build()
        }
    };
    let condition = RuleCondition::builder()
        .field("path-pattern")
        .path_pattern_config(PathPatternConditionConfig::builder().values(path).build())
        .build();
    let mut call = elb
        .create_rule()
        .listener_arn(listener)
        .priority(priority)
        .conditions(condition)
        .actions(action);
    for (k, v) in tags {
        call = call.tags(Tag::builder().key(*k).value(*v).build());
    }
    call.send().await.expect("create rule").rules()[0]
        .rule_arn()
        .unwrap()
        .to_string()
}

/// Removes tags from a rule, as a console edit or IaC drift would.
async fn remove_tags(elb: &elbv2::Client, rule: &str, keys: &[&str]) {
    elb.remove_tags()
        .resource_arns(rule)
        .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
        .send()
        .await
        .expect("remove tags");
}

/// A second lambda target group (another Lambda: the application's, or a second responder).
async fn other_lambda_target_group(elb: &elbv2::Client, name: &str) -> String {
    elb.create_target_group()
        .name(
            common::unique(name)
                .chars()
                .rev()
                .take(28)
                .collect::<String>(),
        )
        .target_type(elbv2::types::TargetTypeEnum::Lambda)
        .send()
        .await
        .expect("create target group")
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every rule, priority and tag of both listeners.
async fn both(client: &impl Listeners, alb: &Alb) -> (ListenerSnapshot, ListenerSnapshot) {
    (
        snapshot(client, &alb.http).await,
        snapshot(client, &alb.https).await,
    )
}

#[tokio::test]
async fn a_maintenance_rule_that_lost_its_tags_is_still_the_maintenance_rule() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let elb = raw_elb(moto).await;
    let alb = alb::build_with(moto, "lost-tag", &[10, 20], &[10], Some(40_000));
    let env = common::unique("env-lost");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let on = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let http_rule = snapshot(&client, &alb.http)
        .await
        .maintenance_rule()
        .unwrap()
        .arn
        .clone();
    // The role tag goes (a console edit): every visitor still gets the 503.
    remove_tags(&elb, &http_rule, &[tags::ROLE]).await;

    let status = maintctl(moto, &["status", "--listener", &alb.http]);
    let out = stdout(&status);
    assert!(out.contains("maintenance: ON"), "{}", text(&status));
    assert!(!out.contains("NOT ATTACHED"), "{out}");
    assert!(
        out.contains("lost its maintenance-responder:role tag")
            && out.contains("Value=maintenance"),
        "says what is wrong and what to do: {out}"
    );
    let doc = json(&maintctl(
        moto,
        &["status", "--listener", &alb.http, "--output", "json"],
    ));
    assert_eq!(doc["listeners"][0]["state"], "on");
    let role = doc["listeners"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["arn"] == http_rule.as_str())
        .unwrap()["role"]
        .clone();
    assert_eq!(
        role, "maintenance",
        "listed as what it is, not as an app rule"
    );

    // off, on and attach refuse, and nothing changes on either listener.
    let before = both(&client, &alb).await;
    for args in [
        vec!["off", "--environment", env.as_str(), "--yes"],
        vec!["off", "--listener", alb.http.as_str(), "--yes"],
        vec!["on", "--load-balancer", alb.load_balancer.as_str(), "--yes"],
    ] {
        let out = maintctl(moto, &args);
        assert_eq!(code(&out), 4, "{args:?}: {}", text(&out));
        assert!(
            stderr(&out).contains("Value=maintenance")
                && stderr(&out).contains("nothing was changed"),
            "{}",
            text(&out)
        );
    }
    let again = attach(moto, &alb, &env);
    assert_eq!(code(&again), 4, "{}", text(&again));
    assert!(
        stderr(&again).contains("attach creates nothing"),
        "{}",
        text(&again)
    );
    assert_eq!(both(&client, &alb).await, before, "nothing changed");

    // Every tag gone on HTTPS too: recognised by its target group, which HTTP's rule names.
    let https_rule = snapshot(&client, &alb.https)
        .await
        .maintenance_rule()
        .unwrap()
        .arn
        .clone();
    let keys: Vec<String> = maintenance_tags(&client, &alb.https)
        .await
        .into_keys()
        .collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    remove_tags(&elb, &https_rule, &keys).await;
    let status = maintctl(
        moto,
        &[
            "status",
            "--load-balancer",
            &alb.load_balancer,
            "--output",
            "json",
        ],
    );
    let doc = json(&status);
    let https = doc["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["listener"]["arn"] == alb.https.as_str())
        .unwrap_or_else(|| panic!("HTTPS is still shown: {}", text(&status)));
    assert_eq!(https["state"], "on", "{https:#}");
    assert!(
        https["warnings"][0]
            .as_str()
            .unwrap()
            .contains("forwards to the responder's target group"),
        "{https:#}"
    );
    let off = maintctl(
        moto,
        &["off", "--load-balancer", &alb.load_balancer, "--yes"],
    );
    assert_eq!(code(&off), 4, "{}", text(&off));
    assert_eq!(both(&client, &alb).await.0, before.0, "HTTP untouched");

    // Tagged again as the message says: off works.
    elb.add_tags()
        .resource_arns(&http_rule)
        .tags(
            elbv2::types::Tag::builder()
                .key(tags::ROLE)
                .value("maintenance")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let off = maintctl(moto, &["off", "--listener", &alb.http, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(consistent_state(&client, &alb.http).await, State::Off);
}

#[tokio::test]
async fn two_maintenance_rules_are_said_first_by_status() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let elb = raw_elb(moto).await;
    let alb = alb::build_with(moto, "two-m", &[10], &[10], Some(40_000));
    let env = common::unique("env-two");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let second = create_rule(
        &elb,
        &alb.http,
        45_000,
        "/*",
        &[&alb.lambda_target_group],
        &[
            (tags::ROLE, "maintenance"),
            (tags::PARKED_PRIORITY, "45000"),
            (tags::ENVIRONMENT, &env),
        ],
    )
    .await;

    let status = maintctl(moto, &["status", "--listener", &alb.http]);
    let out = stdout(&status);
    assert!(out.contains("maintenance: OFF"), "{}", text(&status));
    assert!(
        out.contains("several maintenance rules") && out.contains(&second),
        "{out}"
    );
    let doc = json(&maintctl(
        moto,
        &["status", "--environment", &env, "--output", "json"],
    ));
    let http = doc["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["listener"]["arn"] == alb.http.as_str())
        .unwrap();
    assert_eq!(http["state"], "off", "{http:#}");
    assert!(
        http["warnings"][0]
            .as_str()
            .unwrap()
            .contains("several maintenance rules"),
        "{http:#}"
    );
    let before = both(&client, &alb).await;
    let on = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 4, "{}", text(&on));
    assert!(
        stderr(&on).contains("several maintenance rules"),
        "{}",
        text(&on)
    );
    assert_eq!(both(&client, &alb).await, before);
}

#[tokio::test]
async fn rules_forwarding_to_the_responder_without_its_tags_are_refused() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let elb = raw_elb(moto).await;
    let alb = alb::build_with(moto, "untagged", &[10, 20], &[10], Some(40_000));
    let env = common::unique("env-untagged");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    // HTTP: an untagged copy of the maintenance rule above every app rule, so maintenance is
    // effectively on while every tag says off. HTTPS: a weighted forward that sends part of
    // an app rule's requests to the responder.
    let untagged = create_rule(&elb, &alb.http, 5, "/*", &[&alb.lambda_target_group], &[]).await;
    let weighted = create_rule(
        &elb,
        &alb.https,
        15,
        "/shop/*",
        &[&alb.app_target_group, &alb.lambda_target_group],
        &[],
    )
    .await;

    let doc = json(&maintctl(
        moto,
        &["status", "--environment", &env, "--output", "json"],
    ));
    for l in doc["listeners"].as_array().unwrap() {
        let warnings = l["warnings"].to_string();
        if l["listener"]["arn"] == alb.http.as_str() {
            assert_eq!(l["state"], "on", "what visitors get: {l:#}");
            assert!(
                warnings.contains(&untagged) && warnings.contains("before every application rule"),
                "{warnings}"
            );
        } else {
            assert!(
                warnings.contains(&weighted) && warnings.contains("weighted"),
                "{warnings}"
            );
        }
    }
    let before = both(&client, &alb).await;
    for direction in ["off", "on"] {
        let out = maintctl(moto, &[direction, "--environment", &env, "--yes"]);
        assert_eq!(code(&out), 4, "{direction}: {}", text(&out));
        assert!(
            stderr(&out).contains(&untagged) && stderr(&out).contains("delete-rule"),
            "{}",
            text(&out)
        );
    }
    let again = attach(moto, &alb, &env);
    assert_eq!(code(&again), 4, "{}", text(&again));
    assert_eq!(both(&client, &alb).await, before, "nothing changed");
}

#[tokio::test]
async fn odd_managed_rules_and_other_lambdas_are_told() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let elb = raw_elb(moto).await;

    // A bypass rule that lost its role tag (its parked priority is left): refused.
    let alb = alb::build_with(moto, "odd-bypass", &[10], &[10], Some(40_000));
    let env = common::unique("env-odd");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let bypass = snapshot(&client, &alb.http)
        .await
        .bypass_rules()
        .next()
        .unwrap()
        .arn
        .clone();
    remove_tags(&elb, &bypass, &[tags::ROLE]).await;
    let status = stdout(&maintctl(moto, &["status", "--listener", &alb.http]));
    assert!(status.contains("Value=bypass"), "{status}");
    let on = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 4, "{}", text(&on));
    assert!(stderr(&on).contains(&bypass), "{}", text(&on));

    // A maintenance-tagged rule that forwards to the application: refused.
    let alb = alb::build_with(moto, "odd-maint", &[10], &[10], Some(40_000));
    let rule = create_rule(
        &elb,
        &alb.http,
        50_000,
        "/*",
        &[&alb.app_target_group],
        &[
            (tags::ROLE, "maintenance"),
            (tags::PARKED_PRIORITY, "50000"),
        ],
    )
    .await;
    let status = stdout(&maintctl(moto, &["status", "--listener", &alb.http]));
    assert!(
        status.contains(&rule) && status.contains("type instance"),
        "{status}"
    );
    let on = maintctl(moto, &["on", "--listener", &alb.http, "--yes"]);
    assert_eq!(code(&on), 4, "{}", text(&on));
    assert!(stderr(&on).contains("modify-rule"), "{}", text(&on));

    // Another Lambda's catch-all above the app rules: a warning (it may be the application's
    // own), shown by status and by on, which still switches.
    let alb = alb::build_with(moto, "odd-lambda", &[10], &[10], Some(40_000));
    let env = common::unique("env-other");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    let other = other_lambda_target_group(&elb, "fn").await;
    let rule = create_rule(&elb, &alb.http, 5, "/*", &[&other], &[]).await;
    let status = stdout(&maintctl(moto, &["status", "--listener", &alb.http]));
    assert!(
        status.contains(&rule) && status.contains("ignore this warning"),
        "{status}"
    );
    assert!(status.contains("maintenance: OFF"), "{status}");
    let on = maintctl(moto, &["on", "--listener", &alb.http, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    assert!(stderr(&on).contains("ignore this warning"), "{}", text(&on));
    assert_eq!(consistent_state(&client, &alb.http).await, State::On);
}

// ---------------------------------------------------------------------------------------------
// Settings that would make maintenance a no-op (issue #16, item 4): refused before anything is
// created.

#[tokio::test]
async fn attach_refuses_settings_that_make_maintenance_a_no_op() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let elb = raw_elb(moto).await;
    let alb = alb::build_with(moto, "no-op", &[10], &[10], Some(40_000));
    let before = both(&client, &alb).await;
    let base = |tg: &str, app: &str, cidr: &str| -> Vec<String> {
        [
            "attach",
            "--listener",
            &alb.http,
            "--target-group",
            tg,
            "--app-target-group",
            app,
            "--bypass-cidr",
            cidr,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        maintctl(moto, &args)
    };
    let (lambda, app) = (
        alb.lambda_target_group.as_str(),
        alb.app_target_group.as_str(),
    );
    let refused = [
        (base(lambda, app, "0.0.0.0/0"), "--allow-bypass-everyone"),
        (base(lambda, app, "::/0"), "every IPv6 client"),
        (base(lambda, app, "10.0.0.1/8"), "did you mean 10.0.0.0/8?"),
        // The application's instance target group given as the responder's.
        (base(app, app, "10.0.0.0/8"), "type instance"),
        // Bypass to the responder itself: its clients would get the maintenance page.
        (
            base(lambda, lambda, "10.0.0.0/8"),
            "responder's own target group",
        ),
    ];
    for (args, says) in &refused {
        let out = run(args);
        assert_eq!(code(&out), 4, "{args:?}: {}", text(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", text(&out));
    }
    assert_eq!(both(&client, &alb).await, before, "nothing was created");

    // A deliberate /0 with the flag, and an application that is a Lambda (a warning).
    let other = other_lambda_target_group(&elb, "appfn").await;
    let mut args = base(lambda, &other, "::/0");
    args.push("--allow-bypass-everyone".into());
    args.push("--dry-run".into());
    let out = run(&args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        stdout(&out).contains("warning: --app-target-group"),
        "{}",
        text(&out)
    );
    // Private and unusual but valid networks are accepted as given.
    let out = run(&base(lambda, app, "100.64.0.0/10"));
    assert_eq!(code(&out), 0, "{}", text(&out));
}

// ---------------------------------------------------------------------------------------------
// The displaced-rule record (issue #16, item 3): written before any rule moves, cleared in a
// call of its own, and never acted on by an off on a listener that is already off.

/// Tags a rule with keys of the operator's own until it has `total` tags (moto, like ELBv2,
/// refuses new keys on a rule that already has its quota: 10 there).
async fn fill_tags(elb: &elbv2::Client, client: &impl Listeners, listener: &str, total: usize) {
    let rule = snapshot(client, listener)
        .await
        .maintenance_rule()
        .unwrap()
        .clone();
    for n in rule.tags.len()..total {
        elb.add_tags()
            .resource_arns(&rule.arn)
            .tags(
                elbv2::types::Tag::builder()
                    .key(format!("team-{n}"))
                    .value("shop")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    assert_eq!(maintenance_tags(client, listener).await.len(), total);
}

#[tokio::test]
async fn a_record_left_over_never_moves_rules_on_a_later_off() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let elb = raw_elb(moto).await;
    let alb = alb::build_with(moto, "stale", &[1, 2, 3], &[10], Some(40_000));
    let env = common::unique("env-stale");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    // One tag short of the quota: on can write its record of displaced rules, not who/when/why.
    fill_tags(&elb, &client, &alb.http, 9).await;
    let on = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    assert!(
        stdout(&on).contains("recording who, when and why")
            && stdout(&on).contains("as many tags as it may have"),
        "{}",
        text(&on)
    );
    // off's who/when/why fails the same way, but the record is cleared on its own.
    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    let record = maintenance_tags(&client, &alb.http).await;
    assert!(
        planner::decode_displaced(&record).unwrap().is_empty(),
        "record cleared: {record:?}"
    );
    assert_eq!(consistent_state(&client, &alb.http).await, State::Off);

    // The operator moves a rule by hand; a record left over (written here as a failed clear
    // would leave it) names its old priority.
    let first = app_order(&client, &alb.http).await[0].clone();
    client
        .set_rule_priorities(&[(first.clone(), 7)])
        .await
        .unwrap();
    let m = snapshot(&client, &alb.http)
        .await
        .maintenance_rule()
        .unwrap()
        .arn
        .clone();
    client
        .add_tags(
            &m,
            &[(
                planner::DISPLACED.to_string(),
                format!("{}=1", planner::rule_id(&first)),
            )],
        )
        .await
        .unwrap();
    let status = stdout(&maintctl(moto, &["status", "--listener", &alb.http]));
    assert!(
        status.contains("record of displaced rules still names 1 rule(s)")
            && status.contains("add-tags"),
        "{status}"
    );
    let before = priorities(&client, &alb.http).await;
    let off = maintctl(moto, &["off", "--listener", &alb.http, "--yes"]);
    assert_eq!(code(&off), 3, "{}", text(&off));
    assert!(
        stdout(&off).contains("stays at priority 7"),
        "{}",
        text(&off)
    );
    assert_eq!(
        priorities(&client, &alb.http).await,
        before,
        "nothing moved"
    );
    // on says, before anything moves, that its off would honour the record.
    let dry = maintctl(moto, &["on", "--listener", &alb.http, "--dry-run"]);
    assert!(
        stdout(&dry).contains("off will put it back at 1"),
        "{}",
        text(&dry)
    );
}

#[tokio::test]
async fn a_record_that_cannot_be_written_stops_on_before_any_rule_moves() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let elb = raw_elb(moto).await;
    let alb = alb::build_with(moto, "full-tags", &[1, 2, 3], &[10], Some(40_000));
    let env = common::unique("env-full");
    assert_eq!(code(&attach(moto, &alb, &env)), 0);
    fill_tags(&elb, &client, &alb.http, 10).await;
    let before = both(&client, &alb).await;
    let on = maintctl(moto, &["on", "--listener", &alb.http, "--yes"]);
    assert_eq!(
        code(&on),
        1,
        "failed before changing anything: {}",
        text(&on)
    );
    let out = stdout(&on);
    assert!(
        out.contains("writing the record of displaced rules")
            && out.contains("as many tags as it may have")
            && out.contains("no rule was moved"),
        "{}",
        text(&on)
    );
    assert_eq!(both(&client, &alb).await, before, "nothing changed");
}

/// AddTags calls clearing the displaced-rule record fail while `failures` lasts.
struct TagFaults {
    failures: AtomicUsize,
    clears: AtomicUsize,
    /// DescribeTargetGroups is denied (an operator policy without it).
    deny_target_groups: bool,
}

impl Faults for TagFaults {
    async fn target_groups(
        &self,
        real: &Aws,
        arns: &[String],
    ) -> Result<BTreeMap<String, TargetGroupInfo>, ListenersError> {
        if self.deny_target_groups {
            return Err(ListenersError::Call {
                operation: "DescribeTargetGroups",
                resource: arns.join(", "),
                code: Some("AccessDenied".into()),
                message: "AccessDenied: not authorized".into(),
                outcome_unknown: false,
            });
        }
        real.target_groups(arns).await
    }
    async fn add_tags(
        &self,
        real: &Aws,
        arn: &str,
        tags: &[(String, String)],
    ) -> Result<(), ListenersError> {
        let clears = tags
            .iter()
            .any(|(k, v)| planner::is_displaced_key(k) && v.is_empty());
        if clears {
            self.clears.fetch_add(1, Ordering::SeqCst);
            let left = self.failures.load(Ordering::SeqCst);
            if left > 0 {
                self.failures.store(left - 1, Ordering::SeqCst);
                return Err(ListenersError::Call {
                    operation: "AddTags",
                    resource: arn.to_string(),
                    code: Some("Throttling".into()),
                    message: "Throttling: Rate exceeded".into(),
                    outcome_unknown: false,
                });
            }
        }
        real.add_tags(arn, tags).await
    }
}

#[tokio::test]
async fn off_clears_the_record_on_its_own_retries_and_says_when_it_cannot() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build_with(moto, "clear", &[1, 2, 3], &[10], Some(40_000));
    attach_lib(&client, &alb).await;
    let faulty = |failures| {
        let faults = TagFaults {
            failures: AtomicUsize::new(failures),
            clears: AtomicUsize::new(0),
            deny_target_groups: false,
        };
        Faulty::new(moto, faults)
    };
    for (failures, cleared) in [(1, true), (usize::MAX, false)] {
        let on = ops::apply(
            &client,
            &plan(&client, &alb, Direction::On).await,
            Direction::On,
            &record(),
        )
        .await
        .unwrap();
        assert_eq!(on.outcome, Outcome::Done, "{on:#?}");
        assert!(
            !planner::decode_displaced(&maintenance_tags(&client, &alb.http).await)
                .unwrap()
                .is_empty()
        );
        let tags = faulty(failures).await;
        let off = ops::apply(
            &tags,
            &plan(&client, &alb, Direction::Off).await,
            Direction::Off,
            &record(),
        )
        .await
        .unwrap();
        assert_eq!(off.outcome, Outcome::Done, "{off:#?}");
        let record = maintenance_tags(&client, &alb.http).await;
        // Who, when and why are recorded whatever happened to the record (their own call).
        assert_eq!(record[tags::STATE], "off");
        if cleared {
            assert!(
                off.warnings.is_empty(),
                "cleared on the second try: {off:#?}"
            );
            assert_eq!(tags.faults.clears.load(Ordering::SeqCst), 2);
            assert!(planner::decode_displaced(&record).unwrap().is_empty());
        } else {
            let warning = off.warnings.join("\n");
            assert!(
                warning.contains("clearing the record of displaced rules")
                    && warning.contains("tried 3 times")
                    && warning.contains("aws elbv2 add-tags"),
                "{warning}"
            );
            assert_eq!(tags.faults.clears.load(Ordering::SeqCst), 3);
            assert!(!planner::decode_displaced(&record).unwrap().is_empty());
            // status says so while it lasts, and off leaves every rule where it is.
            let status = stdout(&maintctl(moto, &["status", "--listener", &alb.http]));
            assert!(
                status.contains("record of displaced rules still names"),
                "{status}"
            );
            let again = maintctl(moto, &["off", "--listener", &alb.http, "--yes"]);
            assert_eq!(code(&again), 3, "{}", text(&again));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Names stored as tags (issue #16, item 5): an environment is stored as given or refused; a
// reason that is changed says so in every output mode.

#[tokio::test]
async fn an_environment_outside_the_tag_alphabet_is_refused_everywhere() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build_with(moto, "env-name", &[10], &[10], Some(40_000));
    let before = both(&client, &alb).await;
    let bad = "prod/eu (blue)*";
    let refused = [
        attach(moto, &alb, bad),
        attach(moto, &alb, ""),
        maintctl(moto, &["status", "--environment", bad]),
        maintctl(moto, &["on", "--environment", bad, "--yes"]),
        maintctl(moto, &["off", "--environment", bad, "--yes"]),
    ];
    for out in &refused {
        assert_eq!(code(out), 2, "a usage error: {}", text(out));
        assert!(
            stderr(out).contains("cannot be stored as a tag")
                && stderr(out).contains("_ . : / = + - @"),
            "says what is allowed: {}",
            text(out)
        );
    }
    // The library refuses it too, for callers other than maintctl.
    let targets = listeners::Targets {
        environment: Some(bad.into()),
        ..Default::default()
    };
    let err = anyhow::Error::from(ops::status(&client, &targets).await.unwrap_err());
    assert!(format!("{err:#}").contains("cannot be stored"), "{err:#}");
    let spec = AttachSpec {
        target_group: alb.lambda_target_group.clone(),
        parked: 50_000,
        environment: Some(bad.into()),
        content_prefix: None,
        bypass_cidrs: Vec::new(),
        bypass_header: None,
        bypass_link: false,
        app_target_group: None,
        allow_fallthrough: false,
        allow_bypass_everyone: false,
        fallback: None,
    };
    assert!(AttachRequest::new(vec![alb.http.clone()], spec, false).is_err());
    assert_eq!(both(&client, &alb).await, before, "nothing was created");

    // A name in the alphabet (Unicode letters and spaces too) is stored exactly as given and
    // finds the rules again.
    let good = format!("{} Käse/eu", common::unique("prod"));
    assert_eq!(code(&attach(moto, &alb, &good)), 0);
    assert_eq!(
        maintenance_tags(&client, &alb.http).await[tags::ENVIRONMENT],
        good
    );
    let status = maintctl(moto, &["status", "--environment", &good]);
    assert_eq!(
        stdout(&status).matches("maintenance: OFF").count(),
        2,
        "{}",
        text(&status)
    );

    // The reason as recorded, when it differs from what was given: in the plan and in JSON.
    let reason = "DB (ticket #42)";
    let dry = maintctl(
        moto,
        &[
            "on",
            "--environment",
            &good,
            "--reason",
            reason,
            "--dry-run",
        ],
    );
    assert!(
        stdout(&dry).contains("recorded as \"DB _ticket _42_\""),
        "{}",
        text(&dry)
    );
    let doc = json(&maintctl(
        moto,
        &[
            "on",
            "--environment",
            &good,
            "--reason",
            reason,
            "--dry-run",
            "--output",
            "json",
        ],
    ));
    assert!(
        doc["notes"][0]
            .as_str()
            .unwrap()
            .contains("DB _ticket _42_"),
        "{doc:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors said once (issue #16, item 15).

#[tokio::test]
async fn errors_say_each_cause_once() {
    // No endpoint: the SDK's causes, each once, not again in Debug form.
    let closed = Aws::new(&common::sdk_config_for("http://127.0.0.1:1").await);
    let err = closed.load_balancers().await.unwrap_err().to_string();
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
    assert!(!err.contains("DispatchFailure("), "{err}");

    // A listener that does not exist: its ARN once.
    let moto = Moto::shared();
    let alb = alb::build_with(moto, "once", &[10], &[10], Some(40_000));
    let missing = format!("{}0", alb.http);
    let out = maintctl(
        moto,
        &[
            "attach",
            "--listener",
            &missing,
            "--target-group",
            &alb.lambda_target_group,
        ],
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(stderr(&out).matches(&missing).count(), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("nothing was created"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn without_describe_target_groups_status_warns_and_switching_still_works() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build_with(moto, "no-tg-read", &[10], &[10], Some(40_000));
    attach_lib(&client, &alb).await;
    let denied = Faulty::new(
        moto,
        TagFaults {
            failures: AtomicUsize::new(0),
            clears: AtomicUsize::new(0),
            deny_target_groups: true,
        },
    )
    .await;
    let targets = listeners::Targets {
        listeners: vec![alb.http.clone()],
        ..Default::default()
    };
    let report = ops::status(&denied, &targets).await.unwrap();
    let warnings = report.listeners[0].warnings.join("\n");
    assert!(
        warnings.contains("DescribeTargetGroups") && warnings.contains("AccessDenied"),
        "{warnings}"
    );
    assert_eq!(report.listeners[0].state, State::Off);
    let request = switch_on(targets);
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
    let on = ops::switch(&denied, &ssm, &request, &mut ops::Unattended)
        .await
        .unwrap();
    assert_eq!(on.outcome, Outcome::Done, "{on}");
    assert!(
        on.plan
            .warnings
            .iter()
            .any(|w| w.contains("DescribeTargetGroups"))
    );
    assert_eq!(consistent_state(&client, &alb.http).await, State::On);
}

/// The maintenance rule carries the SSM prefix of the responder's content (`attach --prefix`),
/// which `status` shows and switching reads; a different prefix on an attached listener is a
/// conflict, as a different environment is.
#[tokio::test]
async fn attach_tags_the_content_prefix_and_status_shows_it() {
    let moto = Moto::shared();
    let alb = alb::build_with(moto, "prefix", &[10], &[10], Some(40_000));
    let prefix = format!("/maintenance/{}", common::unique("shop"));
    let args = |p: &str| {
        vec![
            "attach".to_string(),
            "--listener".into(),
            alb.http.clone(),
            "--target-group".into(),
            alb.lambda_target_group.clone(),
            "--prefix".into(),
            p.to_string(),
        ]
    };
    let run = |a: Vec<String>| maintctl(moto, &a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(args(&prefix));
    assert_eq!(code(&out), 0, "{}", text(&out));
    let client = aws(moto).await;
    assert_eq!(
        maintenance_tags(&client, &alb.http).await[tags::CONTENT_PREFIX],
        prefix
    );
    let status = maintctl(moto, &["status", "--listener", &alb.http]);
    assert!(
        String::from_utf8_lossy(&status.stdout)
            .contains(&format!("content: SSM parameters under {prefix}")),
        "{}",
        text(&status)
    );
    let doc = json(&maintctl(
        moto,
        &["status", "--listener", &alb.http, "--output", "json"],
    ));
    assert_eq!(
        doc["listeners"][0]["maintenance"]["content_prefix"],
        prefix.as_str()
    );
    let again = run(args(&prefix));
    assert_eq!(code(&again), 3, "{}", text(&again));
    let other = run(args("/maintenance/other"));
    assert_eq!(code(&other), 4, "{}", text(&other));
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("content prefix"),
        "{}",
        text(&other)
    );
    let bad = run(args("not/a/prefix"));
    assert_eq!(code(&bad), 4, "{}", text(&bad));
}
