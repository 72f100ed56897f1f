//! `attach`, `on` and `off` on the in-memory listener and SSM of `crate::testing`: the logic
//! of the workflows without a server (the same workflows meet moto in tests/switching).

use crate::listeners::Targets;
use crate::ops::{self, AttachRequest, Coordination, Outcome, SwitchRequest, Unattended, switch};
use crate::planner::{AttachSpec, Direction, Live};
use crate::testing::{FakeListeners, FakeParameters, LISTENER, RESPONDER_TARGET_GROUP};

fn spec() -> AttachSpec {
    AttachSpec {
        target_group: RESPONDER_TARGET_GROUP.into(),
        parked: 50_000,
        environment: Some("shop".into()),
        content_prefix: Some("/maintenance/shop".into()),
        bypass_cidrs: Vec::new(),
        bypass_header: None,
        bypass_link: false,
        app_target_group: None,
        allow_fallthrough: false,
        allow_bypass_everyone: false,
        fallback: None,
    }
}

/// A listener with application rules at `apps`, attached.
async fn attached(apps: &[u32]) -> FakeListeners {
    let fake = FakeListeners::with_app_rules(apps);
    let request = AttachRequest::new(vec![LISTENER.into()], spec(), false).expect("valid");
    let report = ops::attach(&fake, &request).await.expect("attached");
    assert!(report.error.is_none(), "{report:#?}");
    fake
}

fn request(direction: Direction) -> SwitchRequest {
    SwitchRequest {
        direction,
        targets: Targets {
            listeners: vec![LISTENER.into()],
            ..Targets::default()
        },
        reason: Some("unit test".into()),
        dry_run: false,
        confirmed: true,
        verify: None,
        bypass: Default::default(),
        live: Live::Responder,
        warnings: Vec::new(),
        coordination: Coordination::default(),
    }
}

#[tokio::test]
async fn attach_parks_the_maintenance_rule_and_a_second_attach_creates_nothing() {
    let fake = attached(&[10, 20]).await;
    let after = fake.priorities();
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(after[2].1, 50_000, "parked at --priority: {after:?}");
    let request = AttachRequest::new(vec![LISTENER.into()], spec(), false).unwrap();
    ops::attach(&fake, &request).await.expect("attached again");
    assert_eq!(fake.priorities(), after, "idempotent");
}

#[tokio::test]
async fn on_then_off_puts_every_rule_back_where_it_was() {
    let fake = attached(&[1, 2, 3]).await;
    let store = FakeParameters::default();
    let before = fake.priorities();
    let on = switch(&fake, &store, &request(Direction::On), &mut Unattended)
        .await
        .expect("on");
    assert_eq!(on.outcome, Outcome::Done, "{}", on.message);
    assert_eq!(
        on.leases.len(),
        1,
        "the content prefix's lease, held for the switch"
    );
    let during = fake.priorities();
    let maintenance = &before[3].0;
    assert_eq!(
        &during[0].0, maintenance,
        "the maintenance rule first: {during:?}"
    );
    let order = |p: &[(String, u32)]| {
        p.iter()
            .map(|r| r.0.clone())
            .filter(|a| a != maintenance)
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&during), order(&before), "app rules keep their order");
    let off = switch(&fake, &store, &request(Direction::Off), &mut Unattended)
        .await
        .expect("off");
    assert_eq!(off.outcome, Outcome::Done, "{}", off.message);
    assert_eq!(fake.priorities(), before, "every priority restored");
    assert_eq!(
        store.value("/maintenance/shop/switch/lease"),
        None,
        "lease released"
    );
}

#[tokio::test]
async fn a_call_that_fails_part_way_is_rolled_back() {
    let fake = attached(&[1, 2, 3]).await;
    let store = FakeParameters::default();
    let before = fake.priorities();
    fake.fail_priorities_call(2);
    let report = switch(&fake, &store, &request(Direction::On), &mut Unattended)
        .await
        .expect("a report");
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.message);
    assert_eq!(fake.priorities(), before, "the listener as it was");
    let applied = report.applied.expect("the apply report");
    assert!(
        applied.listeners[0]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("injected")),
        "{applied:#?}"
    );
    // The displaced-rule record written for the switch is cleared again.
    let snapshot = crate::listeners::read_listener(&fake, LISTENER)
        .await
        .unwrap();
    let rule = snapshot.responder_rule().expect("maintenance rule");
    assert!(
        rule.tags
            .iter()
            .all(|(k, v)| !crate::planner::is_displaced_key(k) || v.is_empty()),
        "{:?}",
        rule.tags
    );
}
