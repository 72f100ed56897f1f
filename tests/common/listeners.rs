//! The `Listeners` side of the switching tests: the real client over the emulator, a listener's
//! rules as the library reads them, and [`Faulty`], the real client with injected faults that
//! no server produces on demand.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use maintenance_engine::listeners::{self, Aws, Listeners, ListenersError, Targets};
use maintenance_engine::ops::SwitchRequest;
use maintenance_engine::planner::{
    Condition, Direction, FixedResponse, ListenerInfo, ListenerSnapshot, Live, NewRule, RuleView,
    State, TargetGroupHealth, TargetGroupInfo,
};

use super::Moto;
use super::alb::Alb;

/// The real client, over the emulator.
pub async fn aws(moto: &Moto) -> Aws {
    Aws::new(&moto.sdk_config().await)
}

/// A listener with its rules and tags, as the library reads it.
pub async fn snapshot(client: &impl Listeners, listener: &str) -> ListenerSnapshot {
    listeners::read_listener(client, listener)
        .await
        .expect("read listener")
}

/// Maintenance state, plus the checks every listener must pass at any time: distinct
/// priorities within range and the default rule last.
pub async fn consistent_state(client: &impl Listeners, listener: &str) -> State {
    let s = snapshot(client, listener).await;
    let p: Vec<u32> = s.rules.iter().filter_map(|r| r.priority).collect();
    let mut sorted = p.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        p, sorted,
        "duplicate or unsorted priorities on {listener}: {p:?}"
    );
    assert!(
        p.iter().all(|p| (1..=50_000).contains(p)),
        "priority out of range: {p:?}"
    );
    assert!(
        s.rules.last().is_some_and(RuleView::is_default),
        "default rule not last"
    );
    s.state().expect("planner view")
}

/// Every non-default rule's priority.
pub async fn priorities(client: &impl Listeners, listener: &str) -> BTreeMap<String, u32> {
    snapshot(client, listener)
        .await
        .rules
        .iter()
        .filter_map(|r| Some((r.arn.clone(), r.priority?)))
        .collect()
}

/// [`priorities`] of both listeners of an ALB: (HTTP, HTTPS).
pub async fn both_priorities(
    client: &impl Listeners,
    alb: &Alb,
) -> (BTreeMap<String, u32>, BTreeMap<String, u32>) {
    (
        priorities(client, &alb.http).await,
        priorities(client, &alb.https).await,
    )
}

/// A confirmed `on` of `targets` through the library, the responder's page live, no preflight,
/// no verification, nothing else asked for.
pub fn switch_on(targets: Targets) -> SwitchRequest {
    SwitchRequest {
        direction: Direction::On,
        targets,
        reason: None,
        dry_run: false,
        confirmed: true,
        verify: None,
        bypass: Default::default(),
        live: Live::Responder,
        warnings: Vec::new(),
        coordination: Default::default(),
    }
}

/// The calls a test injects faults into. Each is called instead of the real client's, which it
/// is given; by default it forwards to it unchanged.
pub trait Faults: Sync {
    /// DescribeTargetGroups.
    fn target_groups(
        &self,
        real: &Aws,
        arns: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, TargetGroupInfo>, ListenersError>> + Send
    {
        real.target_groups(arns)
    }
    /// One SetRulePriorities call.
    fn set_rule_priorities(
        &self,
        real: &Aws,
        priorities: &[(String, u32)],
    ) -> impl Future<Output = Result<(), ListenersError>> + Send {
        real.set_rule_priorities(priorities)
    }
    /// AddTags on one resource.
    fn add_tags(
        &self,
        real: &Aws,
        arn: &str,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<(), ListenersError>> + Send {
        real.add_tags(arn, tags)
    }
    /// ModifyRule with conditions only.
    fn modify_rule_conditions(
        &self,
        real: &Aws,
        rule: &str,
        conditions: &[Condition],
    ) -> impl Future<Output = Result<(), ListenersError>> + Send {
        real.modify_rule_conditions(rule, conditions)
    }
    /// The caller's identity (the lease's holder).
    fn caller(&self, real: &Aws) -> impl Future<Output = Result<String, ListenersError>> + Send {
        real.caller()
    }
}

/// The real client over the emulator, except for the calls its [`Faults`] change: every other
/// call is forwarded as it is.
pub struct Faulty<F> {
    real: Aws,
    /// The faults, and whatever they count.
    pub faults: F,
}

impl<F: Faults> Faulty<F> {
    /// The real client over `moto`, with `faults`.
    pub async fn new(moto: &Moto, faults: F) -> Self {
        Self {
            real: aws(moto).await,
            faults,
        }
    }
}

impl<F: Faults> Listeners for Faulty<F> {
    async fn load_balancers(&self) -> Result<Vec<String>, ListenersError> {
        self.real.load_balancers().await
    }
    async fn listeners(&self, load_balancer: &str) -> Result<Vec<ListenerInfo>, ListenersError> {
        self.real.listeners(load_balancer).await
    }
    async fn listener(&self, listener: &str) -> Result<ListenerInfo, ListenersError> {
        self.real.listener(listener).await
    }
    async fn rules(&self, listener: &str) -> Result<Vec<RuleView>, ListenersError> {
        self.real.rules(listener).await
    }
    async fn tags(
        &self,
        arns: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, String>>, ListenersError> {
        self.real.tags(arns).await
    }
    async fn target_groups(
        &self,
        arns: &[String],
    ) -> Result<BTreeMap<String, TargetGroupInfo>, ListenersError> {
        self.faults.target_groups(&self.real, arns).await
    }
    async fn set_rule_priorities(
        &self,
        priorities: &[(String, u32)],
    ) -> Result<(), ListenersError> {
        self.faults
            .set_rule_priorities(&self.real, priorities)
            .await
    }
    async fn add_tags(&self, arn: &str, tags: &[(String, String)]) -> Result<(), ListenersError> {
        self.faults.add_tags(&self.real, arn, tags).await
    }
    async fn create_rule(&self, rule: &NewRule) -> Result<String, ListenersError> {
        self.real.create_rule(rule).await
    }
    async fn modify_rule_conditions(
        &self,
        rule: &str,
        conditions: &[Condition],
    ) -> Result<(), ListenersError> {
        self.faults
            .modify_rule_conditions(&self.real, rule, conditions)
            .await
    }
    async fn certificate_names(&self, listener: &str) -> Result<Vec<String>, ListenersError> {
        self.real.certificate_names(listener).await
    }
    async fn caller(&self) -> Result<String, ListenersError> {
        self.faults.caller(&self.real).await
    }
    async fn modify_fixed_response(
        &self,
        rule: &str,
        response: &FixedResponse,
    ) -> Result<(), ListenersError> {
        self.real.modify_fixed_response(rule, response).await
    }
    async fn listener_attributes(
        &self,
        listener: &str,
    ) -> Result<BTreeMap<String, String>, ListenersError> {
        self.real.listener_attributes(listener).await
    }
    async fn target_group_health(
        &self,
        target_group: &str,
    ) -> Result<TargetGroupHealth, ListenersError> {
        self.real.target_group_health(target_group).await
    }
}
