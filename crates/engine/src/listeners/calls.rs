//! The ELBv2 (and STS) operations the engine uses, as the small [`Listeners`] trait: what a
//! client must answer, with no SDK type in sight (`super::api::Aws` is the SDK's), so that a test
//! can fake or wrap it.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use crate::listeners::ListenersError;
use crate::planner::{
    Condition, FixedResponse, ListenerInfo, NewRule, RuleView, TargetGroupHealth, TargetGroupInfo,
};

/// Most ARNs DescribeTags accepts in one call.
pub const DESCRIBE_TAGS_BATCH: usize = 20;
/// Most ARNs [`Listeners::target_groups`] asks DescribeTargetGroups about in one call (the API
/// states no limit on ARNs; its pages hold up to 400 target groups).
pub const DESCRIBE_TARGET_GROUPS_BATCH: usize = 20;

/// The ELBv2 (and STS) operations `maintctl` uses. Implemented by [`Aws`]; tests wrap it to
/// inject failures.
pub trait Listeners {
    /// ARNs of every load balancer in the region.
    fn load_balancers(&self) -> impl Future<Output = Result<Vec<String>, ListenersError>> + Send;
    /// Every listener of a load balancer.
    fn listeners(
        &self,
        load_balancer: &str,
    ) -> impl Future<Output = Result<Vec<ListenerInfo>, ListenersError>> + Send;
    /// One listener ([`ListenersError::ListenerNotFound`] if it does not exist).
    fn listener(
        &self,
        listener: &str,
    ) -> impl Future<Output = Result<ListenerInfo, ListenersError>> + Send;
    /// Every rule of a listener (all pages), without tags, sorted by priority, default last.
    fn rules(
        &self,
        listener: &str,
    ) -> impl Future<Output = Result<Vec<RuleView>, ListenersError>> + Send;
    /// Tags of at most [`DESCRIBE_TAGS_BATCH`] resources.
    fn tags(
        &self,
        arns: &[String],
    ) -> impl Future<Output = Result<HashMap<String, BTreeMap<String, String>>, ListenersError>> + Send;
    /// What kind of target group each of at most [`DESCRIBE_TARGET_GROUPS_BATCH`] ARNs is
    /// (DescribeTargetGroups), by ARN.
    fn target_groups(
        &self,
        arns: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, TargetGroupInfo>, ListenersError>> + Send;
    /// One SetRulePriorities call.
    fn set_rule_priorities(
        &self,
        priorities: &[(String, u32)],
    ) -> impl Future<Output = Result<(), ListenersError>> + Send;
    /// Adds (or overwrites) tags on one resource.
    fn add_tags(
        &self,
        arn: &str,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<(), ListenersError>> + Send;
    /// Creates a forwarding rule; returns its ARN.
    fn create_rule(
        &self,
        rule: &NewRule,
    ) -> impl Future<Output = Result<String, ListenersError>> + Send;
    /// Replaces one rule's conditions (ModifyRule with conditions only: its actions stay). Used
    /// on the cookie bypass rule only, to set the bypass link's token.
    fn modify_rule_conditions(
        &self,
        rule: &str,
        conditions: &[Condition],
    ) -> impl Future<Output = Result<(), ListenersError>> + Send;
    /// The names on a listener's certificates, the default certificate's first
    /// (DescribeListenerCertificates, then ACM's DescribeCertificate); none for a listener
    /// without certificates.
    fn certificate_names(
        &self,
        listener: &str,
    ) -> impl Future<Output = Result<Vec<String>, ListenersError>> + Send;
    /// The caller's identity (STS ARN).
    fn caller(&self) -> impl Future<Output = Result<String, ListenersError>> + Send;
    /// Replaces a rule's actions with one fixed response (ModifyRule; its conditions, priority
    /// and tags stay): how `maintctl message set` refreshes the fallback page.
    fn modify_fixed_response(
        &self,
        _rule: &str,
        _response: &FixedResponse,
    ) -> impl Future<Output = Result<(), ListenersError>> + Send {
        async { Err(unsupported("ModifyRule")) }
    }
    /// Deletes one rule (DeleteRule): a gradual return's admission rules at its end or abort.
    fn delete_rule(&self, _rule: &str) -> impl Future<Output = Result<(), ListenersError>> + Send {
        async { Err(unsupported("DeleteRule")) }
    }
    /// A listener's attributes, by key (DescribeListenerAttributes): `maintctl doctor` looks
    /// for the response headers the ALB would overwrite.
    fn listener_attributes(
        &self,
        _listener: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, ListenersError>> + Send {
        async { Err(unsupported("DescribeListenerAttributes")) }
    }
    /// A target group's health check settings and its targets' health (DescribeTargetGroups,
    /// DescribeTargetHealth): the responder's function is the target of its target group.
    fn target_group_health(
        &self,
        _target_group: &str,
    ) -> impl Future<Output = Result<TargetGroupHealth, ListenersError>> + Send {
        async { Err(unsupported("DescribeTargetHealth")) }
    }
}

/// What a client that does not implement an operation answers.
fn unsupported(operation: &str) -> ListenersError {
    ListenersError::Invalid(format!("this client does not implement {operation}"))
}
