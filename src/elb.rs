//! `elb`: reading and changing listeners through ELBv2, and the caller's identity through STS.
//!
//! Everything that talks to AWS for `maintctl attach`, `status`, `on` and `off` sits behind the
//! small [`Listeners`] trait, implemented by [`Aws`] (the SDK clients) and, in tests, by
//! wrappers that inject failures. The planning itself is pure and lives in [`crate::rules`];
//! this module turns listeners into snapshots, snapshots into plans, and applies plans safely:
//!
//! 1. re-read every listener and refuse if it changed since the plan was made;
//! 2. record the rules `on` displaces (a tag on the maintenance rule), then make the calls;
//! 3. if a call fails, undo this run's calls (only while they are intact, see
//!    [`rules::plan_undo`]) on this listener and on every listener already switched, and
//!    report exactly where each listener stands;
//! 4. re-read and verify, then record who switched, when and why (tags).
//!
//! AWS and emulator quirks handled here rather than trusted: rules come back in any order
//! (sorted by priority here), the default rule reports the priority `"default"`, DescribeTags
//! takes at most 20 ARNs per call, priorities must stay within 1..=50000 and tag values may
//! only use a restricted character set of at most 256 characters.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2 as elbv2;
use elbv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use elbv2::types::{
    Action, ActionTypeEnum, HttpHeaderConditionConfig, PathPatternConditionConfig, RuleCondition,
    RulePriorityPair, SourceIpConditionConfig, Tag,
};
use ipnet::IpNet;
use serde::Serialize;

use crate::deploy_names::tags;
use crate::rules::{self, Direction, Plan, PlanError, Role, State, Step};

/// Tag key (and prefix of its overflow keys `…-2`, `…-3`, …) on the maintenance rule recording
/// the rules `on` displaced: space-separated `RULE_ID=PRIORITY` pairs, where `RULE_ID` is the
/// last segment of the rule's ARN. Empty when nothing is displaced.
pub const DISPLACED: &str = "maintenance-responder:displaced";
/// Longest tag value ELBv2 accepts.
pub const MAX_TAG_VALUE: usize = 256;
/// Most ARNs DescribeTags accepts in one call.
pub const DESCRIBE_TAGS_BATCH: usize = 20;
/// Most overflow keys used for [`DISPLACED`] (well inside the 50 tags a resource may have).
const MAX_DISPLACED_KEYS: usize = 30;

/// An AWS call failed, or returned something unusable. Messages name the resource.
#[derive(Debug, thiserror::Error)]
pub enum ElbError {
    /// An API call failed.
    #[error("{operation} on {resource} failed: {message}")]
    Call {
        /// API operation, e.g. `SetRulePriorities`.
        operation: &'static str,
        /// The listener, rule or other resource it was about.
        resource: String,
        /// AWS error code, e.g. `PriorityInUse`, when the service answered.
        code: Option<String>,
        /// What went wrong.
        message: String,
        /// True when the request may have been carried out despite the error (a timeout or a
        /// lost response); false when the service rejected it or it was never sent.
        outcome_unknown: bool,
    },
    /// The listener does not exist.
    #[error("listener {listener} not found: check the ARN, --region and --profile")]
    ListenerNotFound {
        /// The listener ARN.
        listener: String,
    },
    /// A rule with a priority or tag this tool cannot interpret.
    #[error("rule {rule} on listener {listener}: {problem}")]
    BadRule {
        /// The listener ARN.
        listener: String,
        /// The rule ARN.
        rule: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// No plan can be made for a listener.
    #[error("listener {listener}: {source}")]
    Plan {
        /// The listener ARN.
        listener: String,
        /// Why.
        #[source]
        source: PlanError,
    },
    /// A request this tool refuses to send.
    #[error("{0}")]
    Invalid(String),
}

impl ElbError {
    /// The AWS error code, if the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ElbError::Call { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            ElbError::Call {
                outcome_unknown: true,
                ..
            }
        )
    }

    fn from_sdk<E, R>(operation: &'static str, resource: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let outcome_unknown = !matches!(
            err,
            SdkError::ServiceError(_) | SdkError::ConstructionFailure(_)
        );
        let code = err.code().map(str::to_string);
        let message = match (&code, err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.clone(),
            _ => DisplayErrorContext(&err).to_string(),
        };
        ElbError::Call {
            operation,
            resource: resource.to_string(),
            code,
            message,
            outcome_unknown,
        }
    }
}

/// A listener's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerInfo {
    /// Listener ARN.
    pub arn: String,
    /// Its load balancer's ARN.
    pub load_balancer: String,
    /// `HTTP`, `HTTPS`, …
    pub protocol: String,
    /// Port.
    pub port: Option<i32>,
}

/// A rule condition, as far as `maintctl` needs to understand it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "field", rename_all = "kebab-case")]
pub enum Condition {
    /// Path patterns (OR).
    PathPattern {
        /// Patterns.
        values: Vec<String>,
    },
    /// Host patterns (OR).
    HostHeader {
        /// Patterns.
        values: Vec<String>,
    },
    /// A request header matching one of the values.
    HttpHeader {
        /// Header name.
        name: String,
        /// Values (OR).
        values: Vec<String>,
    },
    /// The connection's source address in one of the CIDRs.
    SourceIp {
        /// CIDRs (OR).
        values: Vec<String>,
    },
    /// Anything else (method, query string, …), shown but never created.
    Other {
        /// The condition's field name.
        name: String,
        /// Its values as far as known.
        values: Vec<String>,
    },
}

impl Condition {
    fn from_sdk(c: &RuleCondition) -> Self {
        let field = c.field().unwrap_or_default();
        let legacy = c.values().to_vec();
        let or_legacy = |v: &[String]| {
            if v.is_empty() {
                legacy.clone()
            } else {
                v.to_vec()
            }
        };
        match field {
            "path-pattern" => Condition::PathPattern {
                values: or_legacy(
                    c.path_pattern_config()
                        .map(|p| p.values())
                        .unwrap_or_default(),
                ),
            },
            "host-header" => Condition::HostHeader {
                values: or_legacy(
                    c.host_header_config()
                        .map(|p| p.values())
                        .unwrap_or_default(),
                ),
            },
            "http-header" => {
                let h = c.http_header_config();
                Condition::HttpHeader {
                    name: h
                        .and_then(|h| h.http_header_name())
                        .unwrap_or_default()
                        .to_string(),
                    values: h.map(|h| h.values().to_vec()).unwrap_or_default(),
                }
            }
            "source-ip" => Condition::SourceIp {
                values: c
                    .source_ip_config()
                    .map(|s| s.values().to_vec())
                    .unwrap_or_default(),
            },
            other => Condition::Other {
                name: other.to_string(),
                values: legacy,
            },
        }
    }

    fn to_sdk(&self) -> Result<RuleCondition, ElbError> {
        let b = RuleCondition::builder();
        Ok(match self {
            Condition::PathPattern { values } => b.field("path-pattern").path_pattern_config(
                PathPatternConditionConfig::builder()
                    .set_values(Some(values.clone()))
                    .build(),
            ),
            Condition::HttpHeader { name, values } => b.field("http-header").http_header_config(
                HttpHeaderConditionConfig::builder()
                    .http_header_name(name)
                    .set_values(Some(values.clone()))
                    .build(),
            ),
            Condition::SourceIp { values } => b.field("source-ip").source_ip_config(
                SourceIpConditionConfig::builder()
                    .set_values(Some(values.clone()))
                    .build(),
            ),
            other => {
                return Err(ElbError::Invalid(format!(
                    "cannot create a rule with condition {other}"
                )));
            }
        }
        .build())
    }

    /// True for a condition that matches every request path (`*` or `/*`).
    fn matches_every_path(&self) -> bool {
        matches!(self, Condition::PathPattern { values } if values.iter().any(|v| v == "*" || v == "/*"))
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::PathPattern { values } => write!(f, "path {}", values.join(" | ")),
            Condition::HostHeader { values } => write!(f, "host {}", values.join(" | ")),
            // Header values may be a bypass secret: never printed in text.
            Condition::HttpHeader { name, .. } => write!(f, "header {name}: (value hidden)"),
            Condition::SourceIp { values } => write!(f, "source-ip {}", values.join(" | ")),
            Condition::Other { name, values } => write!(f, "{name} {}", values.join(" | ")),
        }
    }
}

/// What a rule does, summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ActionSummary {
    /// Forward to target groups.
    Forward {
        /// Target group ARNs.
        target_groups: Vec<String>,
    },
    /// A fixed response.
    FixedResponse {
        /// Status code.
        status: String,
    },
    /// A redirect.
    Redirect,
    /// Something else.
    Other {
        /// The action type.
        kind: String,
    },
}

impl ActionSummary {
    fn from_sdk(actions: &[Action]) -> Self {
        // The last action decides (authentication actions come first).
        let Some(a) = actions.iter().max_by_key(|a| a.order().unwrap_or(0)) else {
            return ActionSummary::Other {
                kind: "none".into(),
            };
        };
        match a.r#type() {
            Some(ActionTypeEnum::Forward) => {
                let mut target_groups: Vec<String> = a
                    .target_group_arn()
                    .map(str::to_string)
                    .into_iter()
                    .collect();
                if let Some(config) = a.forward_config() {
                    for tg in config.target_groups() {
                        if let Some(arn) = tg.target_group_arn()
                            && !target_groups.iter().any(|t| t == arn)
                        {
                            target_groups.push(arn.to_string());
                        }
                    }
                }
                ActionSummary::Forward { target_groups }
            }
            Some(ActionTypeEnum::FixedResponse) => ActionSummary::FixedResponse {
                status: a
                    .fixed_response_config()
                    .and_then(|c| c.status_code())
                    .unwrap_or_default()
                    .to_string(),
            },
            Some(ActionTypeEnum::Redirect) => ActionSummary::Redirect,
            other => ActionSummary::Other {
                kind: other.map(|t| t.as_str().to_string()).unwrap_or_default(),
            },
        }
    }
}

impl std::fmt::Display for ActionSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActionSummary::Forward { target_groups } => {
                let names: Vec<&str> = target_groups
                    .iter()
                    .map(|t| short_target_group(t))
                    .collect();
                write!(f, "forward {}", names.join(", "))
            }
            ActionSummary::FixedResponse { status } => write!(f, "fixed-response {status}"),
            ActionSummary::Redirect => f.write_str("redirect"),
            ActionSummary::Other { kind } => f.write_str(kind),
        }
    }
}

/// A rule as read from a listener, with its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleView {
    /// Rule ARN.
    pub arn: String,
    /// Priority; `None` for the listener's default rule.
    pub priority: Option<u32>,
    /// Conditions (empty for the default rule).
    pub conditions: Vec<Condition>,
    /// What it does.
    pub action: ActionSummary,
    /// Tags (empty for the default rule, whose tags are never read).
    pub tags: BTreeMap<String, String>,
}

impl RuleView {
    /// The `maintenance-responder:role` of this rule.
    pub fn role(&self) -> Role {
        match self.tags.get(tags::ROLE).map(String::as_str) {
            Some(tags::ROLE_MAINTENANCE) => Role::Maintenance,
            Some(tags::ROLE_BYPASS) => Role::Bypass,
            _ => Role::Other,
        }
    }

    /// True for the listener's default rule.
    pub fn is_default(&self) -> bool {
        self.priority.is_none()
    }

    /// True when the rule matches every request (its only conditions are `/*` path patterns).
    pub fn catches_everything(&self) -> bool {
        !self.conditions.is_empty() && self.conditions.iter().all(Condition::matches_every_path)
    }
}

/// A new rule to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewRule {
    /// Listener ARN.
    pub listener: String,
    /// Priority.
    pub priority: u32,
    /// Conditions (AND).
    pub conditions: Vec<Condition>,
    /// Target group it forwards to.
    pub target_group: String,
    /// Tags set at creation.
    pub tags: Vec<(String, String)>,
}

/// The ELBv2 (and STS) operations `maintctl` uses. Implemented by [`Aws`]; tests wrap it to
/// inject failures.
pub trait Listeners {
    /// ARNs of every load balancer in the region.
    fn load_balancers(&self) -> impl Future<Output = Result<Vec<String>, ElbError>> + Send;
    /// Every listener of a load balancer.
    fn listeners(
        &self,
        load_balancer: &str,
    ) -> impl Future<Output = Result<Vec<ListenerInfo>, ElbError>> + Send;
    /// One listener ([`ElbError::ListenerNotFound`] if it does not exist).
    fn listener(
        &self,
        listener: &str,
    ) -> impl Future<Output = Result<ListenerInfo, ElbError>> + Send;
    /// Every rule of a listener (all pages), without tags, sorted by priority, default last.
    fn rules(&self, listener: &str)
    -> impl Future<Output = Result<Vec<RuleView>, ElbError>> + Send;
    /// Tags of at most [`DESCRIBE_TAGS_BATCH`] resources.
    fn tags(
        &self,
        arns: &[String],
    ) -> impl Future<Output = Result<HashMap<String, BTreeMap<String, String>>, ElbError>> + Send;
    /// One SetRulePriorities call.
    fn set_rule_priorities(
        &self,
        priorities: &[(String, u32)],
    ) -> impl Future<Output = Result<(), ElbError>> + Send;
    /// Adds (or overwrites) tags on one resource.
    fn add_tags(
        &self,
        arn: &str,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<(), ElbError>> + Send;
    /// Creates a forwarding rule; returns its ARN.
    fn create_rule(&self, rule: &NewRule) -> impl Future<Output = Result<String, ElbError>> + Send;
    /// The caller's identity (STS ARN).
    fn caller(&self) -> impl Future<Output = Result<String, ElbError>> + Send;
}

/// The real thing: ELBv2 and STS SDK clients.
#[derive(Debug, Clone)]
pub struct Aws {
    elb: elbv2::Client,
    sts: aws_sdk_sts::Client,
}

impl Aws {
    /// Clients from one SDK configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            elb: elbv2::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
        }
    }
}

fn listener_info(l: &elbv2::types::Listener) -> ListenerInfo {
    ListenerInfo {
        arn: l.listener_arn().unwrap_or_default().to_string(),
        load_balancer: l.load_balancer_arn().unwrap_or_default().to_string(),
        protocol: l
            .protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        port: l.port(),
    }
}

impl Listeners for Aws {
    async fn load_balancers(&self) -> Result<Vec<String>, ElbError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .elb
                .describe_load_balancers()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| ElbError::from_sdk("DescribeLoadBalancers", "the region", e))?;
            out.extend(
                page.load_balancers()
                    .iter()
                    .filter_map(|lb| lb.load_balancer_arn())
                    .map(str::to_string),
            );
            match page.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn listeners(&self, load_balancer: &str) -> Result<Vec<ListenerInfo>, ElbError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .elb
                .describe_listeners()
                .load_balancer_arn(load_balancer)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| ElbError::from_sdk("DescribeListeners", load_balancer, e))?;
            out.extend(page.listeners().iter().map(listener_info));
            match page.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn listener(&self, listener: &str) -> Result<ListenerInfo, ElbError> {
        let out = self
            .elb
            .describe_listeners()
            .listener_arns(listener)
            .send()
            .await;
        match out {
            Ok(out) => out.listeners().first().map(listener_info).ok_or_else(|| {
                ElbError::ListenerNotFound {
                    listener: listener.to_string(),
                }
            }),
            Err(e) if e.code() == Some("ListenerNotFound") => Err(ElbError::ListenerNotFound {
                listener: listener.to_string(),
            }),
            Err(e) => Err(ElbError::from_sdk("DescribeListeners", listener, e)),
        }
    }

    async fn rules(&self, listener: &str) -> Result<Vec<RuleView>, ElbError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .elb
                .describe_rules()
                .listener_arn(listener)
                .page_size(100)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| match e.code() {
                    Some("ListenerNotFound") => ElbError::ListenerNotFound {
                        listener: listener.to_string(),
                    },
                    _ => ElbError::from_sdk("DescribeRules", listener, e),
                })?;
            for rule in page.rules() {
                let arn = rule.rule_arn().unwrap_or_default().to_string();
                let priority = match (rule.is_default(), rule.priority()) {
                    (Some(true), _) | (_, Some("default")) => None,
                    (_, Some(p)) => Some(p.parse::<u32>().map_err(|_| ElbError::BadRule {
                        listener: listener.to_string(),
                        rule: arn.clone(),
                        problem: format!("priority {p:?} is not a number"),
                    })?),
                    (_, None) => None,
                };
                out.push(RuleView {
                    arn,
                    priority,
                    conditions: rule.conditions().iter().map(Condition::from_sdk).collect(),
                    action: ActionSummary::from_sdk(rule.actions()),
                    tags: BTreeMap::new(),
                });
            }
            match page.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        // The API does not promise an order (the emulator returns insertion order).
        out.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
        Ok(out)
    }

    async fn tags(
        &self,
        arns: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, String>>, ElbError> {
        if arns.len() > DESCRIBE_TAGS_BATCH {
            return Err(ElbError::Invalid(format!(
                "DescribeTags takes at most {DESCRIBE_TAGS_BATCH} ARNs, not {}",
                arns.len()
            )));
        }
        if arns.is_empty() {
            return Ok(HashMap::new());
        }
        let out = self
            .elb
            .describe_tags()
            .set_resource_arns(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|e| ElbError::from_sdk("DescribeTags", &arns.join(", "), e))?;
        Ok(out
            .tag_descriptions()
            .iter()
            .map(|d| {
                let tags = d
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.key()?.to_string(),
                            t.value().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect();
                (d.resource_arn().unwrap_or_default().to_string(), tags)
            })
            .collect())
    }

    async fn set_rule_priorities(&self, priorities: &[(String, u32)]) -> Result<(), ElbError> {
        let resource = priorities
            .iter()
            .map(|(a, p)| format!("{a} -> {p}"))
            .collect::<Vec<_>>()
            .join(", ");
        if priorities.is_empty() {
            return Err(ElbError::Invalid("SetRulePriorities with no rules".into()));
        }
        for (arn, p) in priorities {
            if !(rules::MIN_PRIORITY..=rules::MAX_PRIORITY).contains(p) {
                return Err(ElbError::Invalid(format!(
                    "refusing to move rule {arn} to priority {p}, outside 1..=50000"
                )));
            }
        }
        let pairs: Vec<RulePriorityPair> = priorities
            .iter()
            .map(|(arn, p)| {
                RulePriorityPair::builder()
                    .rule_arn(arn)
                    .priority(*p as i32)
                    .build()
            })
            .collect();
        // No SDK retries here: a retry after a timeout could re-send a call that was carried
        // out, and its answer would hide that. Throttling (a rejected call) is retried here;
        // anything else goes back to `apply`, which finds out what happened by re-reading.
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            let result = self
                .elb
                .set_rule_priorities()
                .set_rule_priorities(Some(pairs.clone()))
                .customize()
                .config_override(
                    elbv2::config::Builder::default()
                        .retry_config(elbv2::config::retry::RetryConfig::disabled()),
                )
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(e) if attempt < 6 && is_throttling(e.code()) => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(ElbError::from_sdk("SetRulePriorities", &resource, e)),
            }
        }
    }

    async fn add_tags(&self, arn: &str, tags: &[(String, String)]) -> Result<(), ElbError> {
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        self.elb
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ElbError::from_sdk("AddTags", arn, e))
    }

    async fn create_rule(&self, rule: &NewRule) -> Result<String, ElbError> {
        if !(rules::MIN_PRIORITY..=rules::MAX_PRIORITY).contains(&rule.priority) {
            return Err(ElbError::Invalid(format!(
                "refusing to create a rule at priority {}, outside 1..=50000",
                rule.priority
            )));
        }
        let conditions = rule
            .conditions
            .iter()
            .map(Condition::to_sdk)
            .collect::<Result<Vec<_>, _>>()?;
        let action = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(&rule.target_group)
            .build();
        let tags = rule
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let out = self
            .elb
            .create_rule()
            .listener_arn(&rule.listener)
            .priority(rule.priority as i32)
            .set_conditions(Some(conditions))
            .actions(action)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| ElbError::from_sdk("CreateRule", &rule.listener, e))?;
        out.rules()
            .first()
            .and_then(|r| r.rule_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                ElbError::Invalid(format!("CreateRule on {} returned no rule", rule.listener))
            })
    }

    async fn caller(&self) -> Result<String, ElbError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| ElbError::from_sdk("GetCallerIdentity", "the caller", e))?;
        Ok(out.arn().unwrap_or("unknown").to_string())
    }
}

fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
        )
    )
}

/// Tags of any number of resources, [`DESCRIBE_TAGS_BATCH`] per call.
pub async fn tags_of(
    client: &impl Listeners,
    arns: &[String],
) -> Result<HashMap<String, BTreeMap<String, String>>, ElbError> {
    let mut out = HashMap::new();
    for chunk in arns.chunks(DESCRIBE_TAGS_BATCH) {
        out.extend(client.tags(chunk).await?);
    }
    Ok(out)
}

/// A listener and its rules (with tags), as read at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerSnapshot {
    /// The listener.
    pub listener: ListenerInfo,
    /// Its rules by priority, the default rule last.
    pub rules: Vec<RuleView>,
}

/// Reads a listener, its rules and their tags.
pub async fn read_listener(
    client: &impl Listeners,
    listener: &str,
) -> Result<ListenerSnapshot, ElbError> {
    let info = client.listener(listener).await?;
    let mut rules = client.rules(listener).await?;
    let arns: Vec<String> = rules
        .iter()
        .filter(|r| !r.is_default())
        .map(|r| r.arn.clone())
        .collect();
    let mut tags = tags_of(client, &arns).await?;
    for rule in &mut rules {
        if let Some(t) = tags.remove(&rule.arn) {
            rule.tags = t;
        }
    }
    Ok(ListenerSnapshot {
        listener: info,
        rules,
    })
}

impl ListenerSnapshot {
    /// The maintenance rule, if attached (the first one, should there be several).
    pub fn maintenance_rule(&self) -> Option<&RuleView> {
        self.rules.iter().find(|r| r.role() == Role::Maintenance)
    }

    /// The bypass rules.
    pub fn bypass_rules(&self) -> impl Iterator<Item = &RuleView> {
        self.rules.iter().filter(|r| r.role() == Role::Bypass)
    }

    /// The environment the maintenance rule belongs to.
    pub fn environment(&self) -> Option<&str> {
        self.maintenance_rule()
            .and_then(|r| r.tags.get(tags::ENVIRONMENT))
            .map(String::as_str)
    }

    fn bad_rule(&self, rule: &str, problem: String) -> ElbError {
        ElbError::BadRule {
            listener: self.listener.arn.clone(),
            rule: rule.to_string(),
            problem,
        }
    }

    /// The rules other than the default one, as the planner sees them: roles from tags, the
    /// parked priority of managed rules, and the recorded original priority of displaced rules.
    pub fn planner_rules(&self) -> Result<Vec<rules::Rule>, ElbError> {
        let displaced = match self.maintenance_rule() {
            Some(m) => decode_displaced(&m.tags).map_err(|p| self.bad_rule(&m.arn, p))?,
            None => BTreeMap::new(),
        };
        let mut out = Vec::new();
        for view in self.rules.iter().filter(|r| !r.is_default()) {
            let priority = view.priority.expect("non-default rules have a priority");
            let role = match view.tags.get(tags::ROLE).map(String::as_str) {
                None => Role::Other,
                Some(tags::ROLE_MAINTENANCE) => Role::Maintenance,
                Some(tags::ROLE_BYPASS) => Role::Bypass,
                Some(other) => {
                    return Err(self.bad_rule(
                        &view.arn,
                        format!(
                            "tag {}={other:?} is neither {:?} nor {:?}: fix or remove the tag",
                            tags::ROLE,
                            tags::ROLE_MAINTENANCE,
                            tags::ROLE_BYPASS
                        ),
                    ));
                }
            };
            let home = match role {
                Role::Other => displaced.get(rule_id(&view.arn)).copied(),
                _ => match view.tags.get(tags::PARKED_PRIORITY) {
                    None => None,
                    Some(p) => Some(
                        p.parse::<u32>()
                            .ok()
                            .filter(|p| (1..=rules::MAX_PRIORITY).contains(p))
                            .ok_or_else(|| {
                                self.bad_rule(
                                    &view.arn,
                                    format!(
                                        "tag {}={p:?} is not a priority in 1..=50000: set it to \
                                     where the rule should be parked",
                                        tags::PARKED_PRIORITY
                                    ),
                                )
                            })?,
                    ),
                },
            };
            out.push(rules::Rule {
                arn: view.arn.clone(),
                priority,
                role,
                home,
            });
        }
        Ok(out)
    }

    /// On, off, between, or not attached (from priorities, not from the state tag).
    pub fn state(&self) -> Result<State, ElbError> {
        Ok(rules::state(&self.planner_rules()?))
    }

    /// A rule catching every request sits before `priority`, so a parked rule there catches
    /// nothing.
    pub fn caught_before(&self, priority: u32) -> bool {
        self.rules.iter().any(|r| {
            r.role() == Role::Other
                && r.priority.is_some_and(|p| p < priority)
                && r.catches_everything()
        })
    }
}

/// The last segment of a rule ARN (its id).
pub fn rule_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A listener ARN without the `arn:…:listener/` prefix: `app/NAME/LB_ID/LISTENER_ID`.
pub fn short_listener(arn: &str) -> &str {
    arn.split_once(":listener/").map_or(arn, |(_, rest)| rest)
}

/// A target group ARN without the `arn:…:targetgroup/` prefix: `NAME/ID`.
pub fn short_target_group(arn: &str) -> &str {
    arn.split_once(":targetgroup/")
        .map_or(arn, |(_, rest)| rest)
}

fn displaced_key(n: usize) -> String {
    if n == 0 {
        DISPLACED.to_string()
    } else {
        format!("{DISPLACED}-{}", n + 1)
    }
}

/// Encodes a displaced-rule record as tags: [`DISPLACED`], then `…-2`, `…-3`, … as needed so
/// that each value stays within [`MAX_TAG_VALUE`]. Keys listed in `clear` and not needed now
/// are set to the empty string.
pub fn encode_displaced(
    entries: &BTreeMap<String, u32>,
    clear: &[String],
) -> Result<Vec<(String, String)>, ElbError> {
    let mut values: Vec<String> = vec![String::new()];
    for (id, home) in entries {
        let item = format!("{id}={home}");
        let current = values.last_mut().expect("one value");
        if current.is_empty() {
            current.push_str(&item);
        } else if current.len() + 1 + item.len() <= MAX_TAG_VALUE {
            current.push(' ');
            current.push_str(&item);
        } else {
            values.push(item);
        }
    }
    if values.len() > MAX_DISPLACED_KEYS {
        return Err(ElbError::Invalid(format!(
            "too many displaced rules to record ({}): make room above the existing rules instead",
            entries.len()
        )));
    }
    let mut out: Vec<(String, String)> = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (displaced_key(i), v))
        .collect();
    for key in clear {
        if !out.iter().any(|(k, _)| k == key) {
            out.push((key.clone(), String::new()));
        }
    }
    Ok(out)
}

/// Decodes the displaced-rule record from the maintenance rule's tags: rule id → priority.
pub fn decode_displaced(tags: &BTreeMap<String, String>) -> Result<BTreeMap<String, u32>, String> {
    let mut out = BTreeMap::new();
    for (key, value) in tags.iter().filter(|(k, _)| is_displaced_key(k)) {
        for item in value.split_whitespace() {
            let parsed = item
                .split_once('=')
                .and_then(|(id, p)| Some((id, p.parse::<u32>().ok()?)))
                .filter(|(id, p)| !id.is_empty() && (1..=rules::MAX_PRIORITY).contains(p));
            let Some((id, p)) = parsed else {
                return Err(format!(
                    "tag {key} has {item:?}, not RULE_ID=PRIORITY: fix the tag, or set it to \
                     the empty string to forget the record"
                ));
            };
            out.insert(id.to_string(), p);
        }
    }
    Ok(out)
}

fn is_displaced_key(key: &str) -> bool {
    key == DISPLACED
        || key
            .strip_prefix(DISPLACED)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| n.parse::<u32>().is_ok())
}

/// Makes free text safe as an ELBv2 tag value: characters outside letters, digits, spaces and
/// `_ . : / = + - @` become `_`, and the result is cut to [`MAX_TAG_VALUE`] characters.
pub fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(MAX_TAG_VALUE)
        .collect()
}

/// Which listeners a command is about.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Listener ARNs named explicitly.
    pub listeners: Vec<String>,
    /// Load balancer ARNs: their listeners with a maintenance rule.
    pub load_balancers: Vec<String>,
    /// Environment name: only maintenance rules tagged with it. Alone, it searches every load
    /// balancer in the region.
    pub environment: Option<String>,
}

impl Targets {
    /// True when nothing was named.
    pub fn is_empty(&self) -> bool {
        self.listeners.is_empty() && self.load_balancers.is_empty() && self.environment.is_none()
    }
}

/// A listener left out of a selection, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Listener ARN.
    pub listener: String,
    /// Why.
    pub reason: String,
}

/// The listeners a command acts on.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    /// Snapshots of the selected listeners.
    pub listeners: Vec<ListenerSnapshot>,
    /// Listeners looked at and left out.
    pub skipped: Vec<Skipped>,
}

/// Resolves [`Targets`] into listener snapshots. Named listeners are always kept (so a missing
/// maintenance rule is reported, not skipped); listeners found through a load balancer or the
/// environment are kept only if they have a maintenance rule (of that environment). With no
/// targets at all, every attached listener in the region is selected.
pub async fn select(client: &impl Listeners, targets: &Targets) -> Result<Selection, ElbError> {
    let mut candidates: Vec<(String, bool)> = targets
        .listeners
        .iter()
        .map(|l| (l.clone(), true))
        .collect();
    let mut load_balancers = targets.load_balancers.clone();
    if targets.listeners.is_empty() && targets.load_balancers.is_empty() {
        load_balancers = client.load_balancers().await?;
    }
    for lb in &load_balancers {
        for l in client.listeners(lb).await? {
            candidates.push((l.arn, false));
        }
    }
    let mut seen = BTreeSet::new();
    let mut selection = Selection {
        listeners: Vec::new(),
        skipped: Vec::new(),
    };
    for (arn, named) in candidates {
        if !seen.insert(arn.clone()) {
            continue;
        }
        let snapshot = read_listener(client, &arn).await?;
        let skip = match (snapshot.maintenance_rule(), &targets.environment) {
            (None, _) if !named => Some("no maintenance rule".to_string()),
            (Some(_), Some(env)) if snapshot.environment() != Some(env.as_str()) => Some(format!(
                "its maintenance rule belongs to environment {:?}, not {env:?}",
                snapshot.environment().unwrap_or("(none)")
            )),
            (None, Some(env)) => Some(format!("no maintenance rule of environment {env:?}")),
            _ => None,
        };
        match skip {
            Some(reason) => selection.skipped.push(Skipped {
                listener: arn,
                reason,
            }),
            None => selection.listeners.push(snapshot),
        }
    }
    Ok(selection)
}

/// A listener, its planner view and the plan for one switch.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// The listener as read when planning.
    pub snapshot: ListenerSnapshot,
    /// The planner's view of it.
    pub rules: Vec<rules::Rule>,
    /// Its state when planning.
    pub state: State,
    /// The plan (empty: nothing to do).
    pub plan: Plan,
}

/// Plans one switch for every listener; an error names the listener and what to do.
pub fn plan_switch(
    snapshots: Vec<ListenerSnapshot>,
    direction: Direction,
) -> Result<Vec<Planned>, ElbError> {
    snapshots
        .into_iter()
        .map(|snapshot| {
            let rules = snapshot.planner_rules()?;
            let plan = match direction {
                Direction::On => rules::plan_on(&rules),
                Direction::Off => rules::plan_off(&rules),
            }
            .map_err(|source| ElbError::Plan {
                listener: snapshot.listener.arn.clone(),
                source,
            })?;
            Ok(Planned {
                state: rules::state(&rules),
                snapshot,
                rules,
                plan,
            })
        })
        .collect()
}

/// Who switched, when and why: written as tags on each maintenance rule switched.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Caller identity (STS ARN).
    pub by: String,
    /// RFC 3339 time.
    pub at: String,
    /// Free-text reason (may be empty).
    pub reason: String,
}

/// How a switch ended, over all listeners. Each maps to its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every listener is switched and verified.
    Applied,
    /// Every listener was already in the requested state.
    NothingToDo,
    /// Nothing was changed: a listener changed since planning, or while applying.
    Refused,
    /// The first write failed and nothing was changed.
    Failed,
    /// A write failed part-way and everything this run changed was undone.
    RolledBack,
    /// A listener is not where it should be and needs a person (see its report).
    Inconsistent,
}

/// How one listener ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListenerOutcome {
    /// Switched and verified.
    Applied,
    /// Already in the requested state; not touched.
    AlreadyDone,
    /// Not touched by this run.
    NotApplied,
    /// Switched (part-way), then put back exactly as it was.
    RolledBack,
    /// Neither as planned nor as before: see the priorities.
    Inconsistent,
}

/// A rule's priority before the run and as last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulePriority {
    /// Rule ARN.
    pub rule: String,
    /// Priority when planned (`None`: the rule did not exist).
    pub before: Option<u32>,
    /// Priority as last read (`None`: the rule is gone, or the listener could not be read).
    pub now: Option<u32>,
}

/// Where one listener stands after a switch.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerReport {
    /// Listener ARN.
    pub listener: String,
    /// How it ended.
    pub outcome: ListenerOutcome,
    /// What happened, when anything went wrong.
    pub message: Option<String>,
    /// Every rule's priority, before and now.
    pub priorities: Vec<RulePriority>,
}

/// The result of [`apply`].
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Overall outcome.
    pub outcome: Outcome,
    /// Per listener, in plan order.
    pub listeners: Vec<ListenerReport>,
    /// Problems that did not change the outcome (e.g. recording the reason failed).
    pub warnings: Vec<String>,
}

fn priorities_table(before: &[rules::Rule], now: Option<&[rules::Rule]>) -> Vec<RulePriority> {
    let mut out: Vec<RulePriority> = before
        .iter()
        .map(|r| RulePriority {
            rule: r.arn.clone(),
            before: Some(r.priority),
            now: now
                .and_then(|n| n.iter().find(|x| x.arn == r.arn))
                .map(|x| x.priority),
        })
        .collect();
    for r in now.unwrap_or_default() {
        if !before.iter().any(|b| b.arn == r.arn) {
            out.push(RulePriority {
                rule: r.arn.clone(),
                before: None,
                now: Some(r.priority),
            });
        }
    }
    out.sort_by_key(|r| (r.before.or(r.now), r.now));
    out
}

/// The first differences between two views of a listener, for messages.
fn describe_change(before: &[rules::Rule], now: &[rules::Rule]) -> Option<String> {
    let mut diffs = Vec::new();
    for b in before {
        match now.iter().find(|n| n.arn == b.arn) {
            None => diffs.push(format!("rule {} was deleted", b.arn)),
            Some(n) if n.priority != b.priority => diffs.push(format!(
                "rule {} moved from {} to {}",
                b.arn, b.priority, n.priority
            )),
            Some(n) if n != b => diffs.push(format!("rule {} was re-tagged", b.arn)),
            Some(_) => {}
        }
    }
    for n in now
        .iter()
        .filter(|n| !before.iter().any(|b| b.arn == n.arn))
    {
        diffs.push(format!("rule {} was created at {}", n.arn, n.priority));
    }
    if diffs.is_empty() {
        return None;
    }
    let more = diffs.len().saturating_sub(3);
    diffs.truncate(3);
    let mut text = diffs.join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    Some(text)
}

/// Progress of the apply phase on one listener.
struct Progress {
    index: usize,
    /// Steps completed.
    completed: usize,
    /// The displaced-record tags as they were, if this run overwrote them.
    old_tags: Option<(String, Vec<(String, String)>)>,
}

/// Applies planned switches: re-check, record, call, and on failure undo; then verify and
/// record who, when and why. Returns `Err` only when a read fails before anything was written.
pub async fn apply(
    client: &impl Listeners,
    planned: &[Planned],
    direction: Direction,
    record: &Record,
) -> Result<Report, ElbError> {
    let mut reports: Vec<ListenerReport> = planned
        .iter()
        .map(|p| ListenerReport {
            listener: p.snapshot.listener.arn.clone(),
            outcome: if p.plan.is_empty() {
                ListenerOutcome::AlreadyDone
            } else {
                ListenerOutcome::NotApplied
            },
            message: None,
            priorities: priorities_table(&p.rules, Some(&p.rules)),
        })
        .collect();
    let mut warnings = Vec::new();
    let active: Vec<usize> = (0..planned.len())
        .filter(|&i| !planned[i].plan.is_empty())
        .collect();
    if active.is_empty() {
        return Ok(Report {
            outcome: Outcome::NothingToDo,
            listeners: reports,
            warnings,
        });
    }

    // 1. Nothing is written unless every listener is exactly as planned.
    for &i in &active {
        let p = &planned[i];
        let now = read_listener(client, &p.snapshot.listener.arn)
            .await?
            .planner_rules()?;
        if let Some(change) = describe_change(&p.rules, &now) {
            reports[i].message = Some(format!(
                "the listener changed since planning ({change}); nothing was changed: run the \
                 command again to plan from the current state"
            ));
            reports[i].priorities = priorities_table(&p.rules, Some(&now));
            return Ok(Report {
                outcome: Outcome::Refused,
                listeners: reports,
                warnings,
            });
        }
    }

    // 2. Apply, listener by listener.
    let mut done: Vec<Progress> = Vec::new();
    // The progress where it stopped, the error, and whether it was the record (not a call).
    let mut failure: Option<(Progress, ElbError, bool)> = None;
    'listeners: for &i in &active {
        let p = &planned[i];
        let mut progress = Progress {
            index: i,
            completed: 0,
            old_tags: None,
        };
        if direction == Direction::On && !p.plan.displaced.is_empty() {
            let m = p
                .snapshot
                .maintenance_rule()
                .expect("a plan implies a maintenance rule");
            // Keep what an interrupted switch recorded: those rules' first homes win.
            let mut entries: BTreeMap<String, u32> = decode_displaced(&m.tags).unwrap_or_default();
            entries.retain(|id, _| p.rules.iter().any(|r| rule_id(&r.arn) == id));
            for d in &p.plan.displaced {
                entries
                    .entry(rule_id(&d.rule).to_string())
                    .or_insert(d.home);
            }
            let existing: Vec<String> = m
                .tags
                .keys()
                .filter(|k| is_displaced_key(k))
                .cloned()
                .collect();
            let new_tags = match encode_displaced(&entries, &existing) {
                Ok(t) => t,
                Err(e) => {
                    failure = Some((progress, e, true));
                    break 'listeners;
                }
            };
            let old: Vec<(String, String)> = new_tags
                .iter()
                .map(|(k, _)| (k.clone(), m.tags.get(k).cloned().unwrap_or_default()))
                .collect();
            if let Err(e) = client.add_tags(&m.arn, &new_tags).await {
                failure = Some((progress, e, true));
                break 'listeners;
            }
            progress.old_tags = Some((m.arn.clone(), old));
        }
        for step in &p.plan.steps {
            if let Err(e) = client.set_rule_priorities(&step.to_rule_priorities()).await {
                failure = Some((progress, e, false));
                break 'listeners;
            }
            progress.completed += 1;
        }
        done.push(progress);
    }
    if let Some((progress, error, at_record)) = failure {
        let outcome = roll_back(
            client,
            planned,
            done,
            progress,
            (error, at_record),
            &mut reports,
            &mut warnings,
        )
        .await;
        return Ok(Report {
            outcome,
            listeners: reports,
            warnings,
        });
    }

    // 3. Verify, 4. record.
    let mut outcome = Outcome::Applied;
    for &i in &active {
        let p = &planned[i];
        // Plans are checked by simulation when made, so this does not fail; were it to, the
        // state check below still decides.
        let expected = p.plan.apply_to(&p.rules).unwrap_or_default();
        let now = match read_rules(client, &p.snapshot.listener.arn).await {
            Ok(now) => now,
            Err(e) => {
                reports[i].outcome = ListenerOutcome::Applied;
                warnings.push(format!(
                    "listener {}: switched, but reading it back to verify failed: {e}; check it \
                     with maintctl status",
                    p.snapshot.listener.arn
                ));
                continue;
            }
        };
        reports[i].priorities = priorities_table(&p.rules, Some(&now));
        let moved_ok = expected.iter().all(|e| {
            now.iter()
                .any(|n| n.arn == e.arn && n.priority == e.priority)
        });
        let wanted = match direction {
            Direction::On => State::On,
            Direction::Off => State::Off,
        };
        let state = rules::state(&now);
        if !moved_ok || state != wanted {
            outcome = Outcome::Inconsistent;
            reports[i].outcome = ListenerOutcome::Inconsistent;
            reports[i].message = Some(format!(
                "every call succeeded, but reading the listener back shows maintenance {state} \
                 and {}: someone else is changing it; check with maintctl status and switch \
                 again",
                describe_change(&expected, &now).unwrap_or_else(|| "the rules as planned".into())
            ));
            continue;
        }
        reports[i].outcome = ListenerOutcome::Applied;
        let m = p
            .snapshot
            .maintenance_rule()
            .expect("a plan implies a maintenance rule");
        let mut record_tags = vec![
            (tags::STATE.to_string(), direction.to_string()),
            (tags::CHANGED_BY.to_string(), tag_value(&record.by)),
            (tags::CHANGED_AT.to_string(), tag_value(&record.at)),
            (tags::REASON.to_string(), tag_value(&record.reason)),
        ];
        if direction == Direction::Off {
            record_tags.extend(
                m.tags
                    .keys()
                    .filter(|k| is_displaced_key(k))
                    .map(|k| (k.clone(), String::new())),
            );
        }
        if let Err(e) = client.add_tags(&m.arn, &record_tags).await {
            warnings.push(format!(
                "listener {}: maintenance is {direction}, but recording who, when and why on \
                 rule {} failed: {e}",
                p.snapshot.listener.arn, m.arn
            ));
        }
    }
    Ok(Report {
        outcome,
        listeners: reports,
        warnings,
    })
}

/// Undoes this run's changes after `error` stopped `failed`: first on the failed listener,
/// then on the listeners already switched, newest first. Returns the overall outcome and fills
/// each listener's report with where it stands.
async fn roll_back(
    client: &impl Listeners,
    planned: &[Planned],
    done: Vec<Progress>,
    failed: Progress,
    (error, at_record): (ElbError, bool),
    reports: &mut [ListenerReport],
    warnings: &mut Vec<String>,
) -> Outcome {
    let p = &planned[failed.index];
    let total = p.plan.steps.len();
    let failed_step = p.plan.steps.get(failed.completed).filter(|_| !at_record);
    let what = match failed_step {
        Some(step) => format!(
            "call {} of {total} (moving {}) failed: {error}",
            failed.completed + 1,
            step.moves
                .iter()
                .map(|m| format!("rule {} from {} to {}", m.rule, m.from, m.to))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!("recording the displaced rules before the first call failed: {error}"),
    };
    // A rejected call changed nothing; one with an unknown outcome counts if it shows.
    let maybe_applied = failed_step.filter(|_| error.outcome_unknown());
    let undone = undo_listener(client, p, &failed, maybe_applied, warnings).await;
    let touched = undone.moved;
    let concurrent = undone.priorities.iter().any(|r| r.before != r.now);
    let report = &mut reports[failed.index];
    report.priorities = undone.priorities;
    if touched {
        report.outcome = undone.outcome;
        report.message = Some(match undone.problem {
            None => format!("{what}; every change on this listener was undone"),
            Some(problem) => format!("{what}; {problem}"),
        });
    } else {
        report.outcome = ListenerOutcome::NotApplied;
        report.message = Some(if concurrent {
            format!(
                "{what}; this run moved no rule, but the listener changed meanwhile (another \
                 switch at the same time?): check with maintctl status"
            )
        } else {
            format!("{what}; no rule was moved on this listener")
        });
    }
    let mut inconsistent = touched && undone.outcome == ListenerOutcome::Inconsistent;

    for progress in done.iter().rev() {
        let undone =
            undo_listener(client, &planned[progress.index], progress, None, warnings).await;
        let report = &mut reports[progress.index];
        report.outcome = undone.outcome;
        report.priorities = undone.priorities;
        report.message = Some(match undone.problem {
            None => format!(
                "switched, then undone because listener {} failed",
                p.snapshot.listener.arn
            ),
            Some(problem) => format!(
                "switched, but undoing it after listener {} failed did not work: {problem}",
                p.snapshot.listener.arn
            ),
        });
        inconsistent |= undone.outcome == ListenerOutcome::Inconsistent;
    }
    if inconsistent {
        Outcome::Inconsistent
    } else if touched || !done.is_empty() {
        Outcome::RolledBack
    } else if concurrent {
        Outcome::Refused
    } else {
        Outcome::Failed
    }
}

/// Where one listener stands after an undo.
struct Undone {
    /// True when this run had moved rules on the listener (so there was something to undo).
    moved: bool,
    outcome: ListenerOutcome,
    priorities: Vec<RulePriority>,
    /// Why it is not back as it was, if it is not.
    problem: Option<String>,
}

async fn read_rules(client: &impl Listeners, listener: &str) -> Result<Vec<rules::Rule>, ElbError> {
    read_listener(client, listener).await?.planner_rules()
}

/// Undoes one listener's applied steps (see [`rules::plan_undo`]) and its record tags.
async fn undo_listener(
    client: &impl Listeners,
    p: &Planned,
    progress: &Progress,
    maybe_applied: Option<&Step>,
    warnings: &mut Vec<String>,
) -> Undone {
    let listener = &p.snapshot.listener.arn;
    let needs_person = |why: String| {
        format!(
            "{why}; the listener needs a person: compare the priorities below with maintctl \
             status, then switch on or off again"
        )
    };
    let now = match read_rules(client, listener).await {
        Ok(now) => now,
        Err(e) => {
            return Undone {
                moved: progress.completed > 0,
                outcome: ListenerOutcome::Inconsistent,
                priorities: priorities_table(&p.rules, None),
                problem: Some(needs_person(format!(
                    "reading the listener to undo failed: {e}"
                ))),
            };
        }
    };
    let mut applied: Vec<Step> = p.plan.steps[..progress.completed].to_vec();
    // A call whose outcome is unknown counts as applied if all its rules are at its targets.
    if let Some(step) = maybe_applied
        && step
            .moves
            .iter()
            .all(|m| now.iter().any(|r| r.arn == m.rule && r.priority == m.to))
    {
        applied.push(step.clone());
    }
    let mut problem = match rules::plan_undo(&p.rules, &applied, &now) {
        Ok(undo) => {
            let mut failed = None;
            for step in &undo.steps {
                if let Err(e) = client.set_rule_priorities(&step.to_rule_priorities()).await {
                    failed = Some(format!("undoing failed too: {e}"));
                    break;
                }
            }
            failed
        }
        Err(e) => Some(format!("not undone: {e}")),
    };
    // Nobody, not even this run, has moved anything yet.
    let untouched = p.rules.iter().all(|r| {
        now.iter()
            .any(|n| n.arn == r.arn && n.priority == r.priority)
    });
    let now = match read_rules(client, listener).await {
        Ok(now) => now,
        Err(e) => {
            return Undone {
                moved: !applied.is_empty(),
                outcome: ListenerOutcome::Inconsistent,
                priorities: priorities_table(&p.rules, None),
                problem: Some(needs_person(format!(
                    "reading the listener after undoing failed: {e}"
                ))),
            };
        }
    };
    // Every rule that still exists must be where it was, not only the ones this run knows it
    // moved: a call reported as failed may still have been carried out.
    let astray: Vec<String> = p
        .rules
        .iter()
        .filter_map(|r| {
            let n = now.iter().find(|n| n.arn == r.arn)?;
            (n.priority != r.priority)
                .then(|| format!("rule {} is at {}, was {}", r.arn, n.priority, r.priority))
        })
        .collect();
    if !astray.is_empty() && problem.is_none() {
        problem = Some(format!("not back as it was: {}", astray.join("; ")));
    }
    // The displaced-rule record goes back when the listener is back as it was. It stays when
    // the undo did not work (it is what lets a later `off` put the displaced rules back), and
    // when this run moved nothing but someone else did (a concurrent switch of the listener
    // wrote the same record and relies on it).
    let restore = if applied.is_empty() {
        untouched
    } else {
        problem.is_none()
    };
    if let Some((arn, old)) = &progress.old_tags
        && restore
        && let Err(e) = client.add_tags(arn, old).await
    {
        warnings.push(format!(
            "listener {listener}: restoring the displaced-rule record on rule {arn} failed: {e}"
        ));
    }
    Undone {
        moved: !applied.is_empty(),
        outcome: if problem.is_none() {
            ListenerOutcome::RolledBack
        } else {
            ListenerOutcome::Inconsistent
        },
        priorities: priorities_table(&p.rules, Some(&now)),
        problem: problem.map(needs_person),
    }
}

/// What `maintctl attach` should create on one listener.
#[derive(Debug, Clone)]
pub struct AttachSpec {
    /// The responder's (Lambda) target group.
    pub target_group: String,
    /// Parked priority of the maintenance rule.
    pub parked: u32,
    /// Environment name tag.
    pub environment: Option<String>,
    /// Bypass by source address (at most 5 CIDRs).
    pub bypass_cidrs: Vec<IpNet>,
    /// Bypass by a secret request header: name and value.
    pub bypass_header: Option<(String, String)>,
    /// The application's target group, where bypass rules forward.
    pub app_target_group: Option<String>,
    /// Attach even when no rule catches every request before the parked priority.
    pub allow_fallthrough: bool,
}

/// Why `attach` refuses. Messages say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// The options make no sense on their own.
    #[error("{0}")]
    Invalid(String),
    /// The listener already has a maintenance rule that differs.
    #[error("listener {listener}: {detail}")]
    Conflict {
        /// Listener ARN.
        listener: String,
        /// What differs and what to do.
        detail: String,
    },
    /// A priority the new rules need is held by another rule.
    #[error(
        "listener {listener}: priority {priority} is held by rule {holder}; choose another \
         parked priority with --priority"
    )]
    PriorityTaken {
        /// Listener ARN.
        listener: String,
        /// The priority.
        priority: u32,
        /// Its holder.
        holder: String,
    },
    /// Parked there, the maintenance rule would catch real traffic.
    #[error(
        "listener {listener}: no rule catches every request before priority {priority}, so the \
         parked maintenance rule would answer every request the other rules do not match \
         (instead of the listener's default action); add a catch-all rule for the application \
         (path /*) before it, or pass --allow-fallthrough if that is what you want"
    )]
    Fallthrough {
        /// Listener ARN.
        listener: String,
        /// The parked priority.
        priority: u32,
    },
}

/// One thing `attach` does, or found already done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum AttachStep {
    /// A rule to create.
    Create {
        /// What it is for.
        role: Role,
        /// The rule.
        rule: NewRule,
    },
    /// Already there.
    Present {
        /// What it is for.
        role: Role,
        /// Its ARN.
        rule: String,
        /// Its priority.
        priority: u32,
    },
}

impl AttachSpec {
    /// Checks the options on their own (before any listener is read).
    pub fn validate(&self) -> Result<(), AttachError> {
        let bypass_count = self.bypass_rules_wanted().len() as u32;
        if !(rules::MIN_PRIORITY + bypass_count..=rules::MAX_PRIORITY).contains(&self.parked) {
            return Err(AttachError::Invalid(format!(
                "--priority {} must be within {}..=50000 (room for the bypass rules directly above it)",
                self.parked,
                1 + bypass_count
            )));
        }
        if bypass_count > 0 && self.app_target_group.is_none() {
            return Err(AttachError::Invalid(
                "bypass rules forward to the application: pass --app-target-group ARN".into(),
            ));
        }
        if self.bypass_cidrs.len() > 5 {
            return Err(AttachError::Invalid(format!(
                "at most 5 --bypass-cidr values (one source-ip condition), not {}",
                self.bypass_cidrs.len()
            )));
        }
        if let Some(c) = self
            .bypass_cidrs
            .iter()
            .find(|c| c.to_string() == "255.255.255.255/32")
        {
            return Err(AttachError::Invalid(format!(
                "--bypass-cidr {c} is not allowed by ELBv2"
            )));
        }
        if let Some((name, value)) = &self.bypass_header {
            let name_ok = !name.is_empty()
                && name.len() <= 40
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
                && !name.eq_ignore_ascii_case("host");
            if !name_ok {
                return Err(AttachError::Invalid(format!(
                    "--bypass-header name {name:?} must be 1-40 letters, digits, - or _ (and not Host)"
                )));
            }
            if value.is_empty()
                || value.len() > 128
                || value.contains(['*', '?'])
                || !value.is_ascii()
            {
                return Err(AttachError::Invalid(
                    "--bypass-header value must be 1-128 ASCII characters without * or ? \
                     (which ELBv2 treats as wildcards)"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    fn bypass_rules_wanted(&self) -> Vec<Condition> {
        let mut out = Vec::new();
        if !self.bypass_cidrs.is_empty() {
            out.push(Condition::SourceIp {
                values: self.bypass_cidrs.iter().map(|c| c.to_string()).collect(),
            });
        }
        if let Some((name, value)) = &self.bypass_header {
            out.push(Condition::HttpHeader {
                name: name.clone(),
                values: vec![value.clone()],
            });
        }
        out
    }

    fn base_tags(&self, role: &str, parked: u32) -> Vec<(String, String)> {
        let mut t = vec![
            (tags::ROLE.to_string(), role.to_string()),
            (tags::PARKED_PRIORITY.to_string(), parked.to_string()),
        ];
        if let Some(env) = &self.environment {
            t.push((tags::ENVIRONMENT.to_string(), tag_value(env)));
        }
        t
    }
}

fn same_condition(a: &Condition, b: &Condition) -> bool {
    match (a, b) {
        (Condition::SourceIp { values: x }, Condition::SourceIp { values: y }) => {
            let norm = |v: &[String]| -> BTreeSet<String> {
                v.iter()
                    .map(|s| {
                        s.parse::<IpNet>()
                            .map(|n| n.trunc().to_string())
                            .unwrap_or_else(|_| s.clone())
                    })
                    .collect()
            };
            norm(x) == norm(y)
        }
        (
            Condition::HttpHeader {
                name: n1,
                values: v1,
            },
            Condition::HttpHeader {
                name: n2,
                values: v2,
            },
        ) => n1.eq_ignore_ascii_case(n2) && v1 == v2,
        _ => a == b,
    }
}

/// Plans `attach` on one listener: what to create, what is already there. Idempotent: on a
/// listener attached with the same options, every step is [`AttachStep::Present`].
pub fn plan_attach(
    snapshot: &ListenerSnapshot,
    spec: &AttachSpec,
) -> Result<Vec<AttachStep>, AttachError> {
    spec.validate()?;
    let listener = snapshot.listener.arn.clone();
    let conflict = |detail: String| AttachError::Conflict {
        listener: listener.clone(),
        detail,
    };
    let planner = snapshot
        .planner_rules()
        .map_err(|e| conflict(e.to_string()))?;
    rules::check(&planner).map_err(|e| conflict(e.to_string()))?;
    let holder = |p: u32| snapshot.rules.iter().find(|r| r.priority == Some(p));
    let mut steps = Vec::new();

    let maintenance = snapshot.maintenance_rule();
    match maintenance {
        Some(m) => {
            let forwards = match &m.action {
                ActionSummary::Forward { target_groups } => target_groups.clone(),
                _ => Vec::new(),
            };
            let parked = m
                .tags
                .get(tags::PARKED_PRIORITY)
                .cloned()
                .unwrap_or_default();
            let env = m.tags.get(tags::ENVIRONMENT);
            let differs = if forwards != [spec.target_group.clone()] {
                Some(format!(
                    "forwards to {}, not {}",
                    forwards.join(", "),
                    spec.target_group
                ))
            } else if parked != spec.parked.to_string() {
                Some(format!("is parked at {parked:?}, not {}", spec.parked))
            } else if let Some(want) = &spec.environment
                && env != Some(&tag_value(want))
            {
                Some(format!(
                    "belongs to environment {:?}, not {want:?}",
                    env.map_or("(none)", |e| e)
                ))
            } else {
                None
            };
            if let Some(what) = differs {
                return Err(conflict(format!(
                    "its maintenance rule {} {what}; attach never changes an attached listener: \
                     run it with the same options, or delete the rule (aws elbv2 delete-rule \
                     --rule-arn {}) and attach again",
                    m.arn, m.arn
                )));
            }
            steps.push(AttachStep::Present {
                role: Role::Maintenance,
                rule: m.arn.clone(),
                priority: m.priority.unwrap_or_default(),
            });
        }
        None => {
            if let Some(h) = holder(spec.parked) {
                return Err(AttachError::PriorityTaken {
                    listener,
                    priority: spec.parked,
                    holder: h.arn.clone(),
                });
            }
            if !spec.allow_fallthrough && !snapshot.caught_before(spec.parked) {
                return Err(AttachError::Fallthrough {
                    listener,
                    priority: spec.parked,
                });
            }
            let mut t = spec.base_tags(tags::ROLE_MAINTENANCE, spec.parked);
            t.push((tags::STATE.to_string(), Direction::Off.to_string()));
            steps.push(AttachStep::Create {
                role: Role::Maintenance,
                rule: NewRule {
                    listener: listener.clone(),
                    priority: spec.parked,
                    conditions: vec![Condition::PathPattern {
                        values: vec!["/*".into()],
                    }],
                    target_group: spec.target_group.clone(),
                    tags: t,
                },
            });
        }
    }

    let existing: Vec<&RuleView> = snapshot.bypass_rules().collect();
    let mut missing = Vec::new();
    for wanted in spec.bypass_rules_wanted() {
        let found = existing
            .iter()
            .find(|r| r.conditions.len() == 1 && same_condition(&r.conditions[0], &wanted));
        match found {
            Some(r) => steps.push(AttachStep::Present {
                role: Role::Bypass,
                rule: r.arn.clone(),
                priority: r.priority.unwrap_or_default(),
            }),
            None => missing.push(wanted),
        }
    }
    if missing.is_empty() {
        return Ok(steps);
    }
    if maintenance.is_some() && rules::state(&planner) != State::Off {
        return Err(conflict(
            "maintenance is not off; switch it off before adding bypass rules".into(),
        ));
    }
    // New bypass rules go directly above the parked maintenance rule, skipping priorities
    // held by bypass rules already there.
    let mut next = spec.parked;
    for wanted in missing {
        let priority = loop {
            next -= 1;
            if next < rules::MIN_PRIORITY {
                return Err(AttachError::Invalid(format!(
                    "no room for bypass rules above parked priority {}",
                    spec.parked
                )));
            }
            match holder(next) {
                None => break next,
                Some(h) if h.role() == Role::Bypass => continue,
                Some(h) => {
                    return Err(AttachError::PriorityTaken {
                        listener,
                        priority: next,
                        holder: h.arn.clone(),
                    });
                }
            }
        };
        steps.push(AttachStep::Create {
            role: Role::Bypass,
            rule: NewRule {
                listener: listener.clone(),
                priority,
                conditions: vec![wanted],
                target_group: spec.app_target_group.clone().expect("validated"),
                tags: spec.base_tags(tags::ROLE_BYPASS, priority),
            },
        });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displaced_record_round_trips_and_spills_over() {
        let entries: BTreeMap<String, u32> = (0..40)
            .map(|i| (format!("{:016x}", 0xabc000 + i), 1 + i as u32))
            .collect();
        let tags = encode_displaced(&entries, &[]).unwrap();
        assert!(tags.len() > 1, "40 entries need several tags");
        assert!(tags.iter().all(|(_, v)| v.len() <= MAX_TAG_VALUE));
        assert_eq!(tags[0].0, DISPLACED);
        assert_eq!(tags[1].0, format!("{DISPLACED}-2"));
        let map: BTreeMap<String, String> = tags.into_iter().collect();
        assert_eq!(decode_displaced(&map).unwrap(), entries);
    }

    #[test]
    fn clearing_the_record_empties_every_key() {
        let clear = vec![DISPLACED.to_string(), format!("{DISPLACED}-2")];
        let tags = encode_displaced(&BTreeMap::new(), &clear).unwrap();
        assert_eq!(
            tags,
            vec![
                (DISPLACED.into(), String::new()),
                (format!("{DISPLACED}-2"), String::new())
            ]
        );
        let map: BTreeMap<String, String> = tags.into_iter().collect();
        assert!(decode_displaced(&map).unwrap().is_empty());
    }

    #[test]
    fn bad_record_is_reported() {
        let map = BTreeMap::from([(DISPLACED.to_string(), "abc=x".to_string())]);
        assert!(
            decode_displaced(&map)
                .unwrap_err()
                .contains("RULE_ID=PRIORITY")
        );
        assert!(!is_displaced_key("maintenance-responder:displaced-x"));
    }

    #[test]
    fn tag_values_are_made_safe() {
        assert_eq!(
            tag_value("deploy v2, DB (ticket #12)"),
            "deploy v2_ DB _ticket _12_"
        );
        assert_eq!(
            tag_value("arn:aws:sts::1:assumed-role/ops/jane@example.com"),
            "arn:aws:sts::1:assumed-role/ops/jane@example.com"
        );
        assert_eq!(tag_value(&"x".repeat(300)).len(), MAX_TAG_VALUE);
        assert_eq!(tag_value("Wartung für Käse"), "Wartung für Käse");
    }

    #[test]
    fn short_names() {
        let l = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/lb/abc/def";
        assert_eq!(short_listener(l), "app/lb/abc/def");
        assert_eq!(
            rule_id("arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/lb/abc/def/123"),
            "123"
        );
    }

    fn view(
        arn: &str,
        priority: Option<u32>,
        conditions: Vec<Condition>,
        tags: &[(&str, &str)],
    ) -> RuleView {
        RuleView {
            arn: arn.into(),
            priority,
            conditions,
            action: ActionSummary::Forward {
                target_groups: vec!["tg-app".into()],
            },
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn snapshot(rules: Vec<RuleView>) -> ListenerSnapshot {
        ListenerSnapshot {
            listener: ListenerInfo {
                arn: "L".into(),
                load_balancer: "LB".into(),
                protocol: "HTTP".into(),
                port: Some(80),
            },
            rules,
        }
    }

    fn spec() -> AttachSpec {
        AttachSpec {
            target_group: "tg-mr".into(),
            parked: 50_000,
            environment: Some("prod".into()),
            bypass_cidrs: vec!["203.0.113.0/24".parse().unwrap()],
            bypass_header: Some(("X-Bypass".into(), "s3cret".into())),
            app_target_group: Some("tg-app".into()),
            allow_fallthrough: false,
        }
    }

    #[test]
    fn attach_creates_parked_rules_then_finds_them_again() {
        let all = Condition::PathPattern {
            values: vec!["/*".into()],
        };
        let base = vec![
            view("a", Some(10), vec![all.clone()], &[]),
            view("d", None, vec![], &[]),
        ];
        let steps = plan_attach(&snapshot(base.clone()), &spec()).unwrap();
        let created: Vec<(Role, u32)> = steps
            .iter()
            .map(|s| match s {
                AttachStep::Create { role, rule } => (*role, rule.priority),
                AttachStep::Present { .. } => panic!("nothing exists yet"),
            })
            .collect();
        assert_eq!(
            created,
            vec![
                (Role::Maintenance, 50_000),
                (Role::Bypass, 49_999),
                (Role::Bypass, 49_998)
            ]
        );

        // Pretend they were created: the second attach changes nothing.
        let mut rules = base;
        for (i, s) in steps.iter().enumerate() {
            if let AttachStep::Create { rule, .. } = s {
                let mut v = view(
                    &format!("new{i}"),
                    Some(rule.priority),
                    rule.conditions.clone(),
                    &[],
                );
                v.tags = rule.tags.iter().cloned().collect();
                if i == 0 {
                    v.action = ActionSummary::Forward {
                        target_groups: vec!["tg-mr".into()],
                    };
                }
                rules.push(v);
            }
        }
        rules.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
        let again = plan_attach(&snapshot(rules), &spec()).unwrap();
        assert!(
            again
                .iter()
                .all(|s| matches!(s, AttachStep::Present { .. })),
            "{again:?}"
        );
    }

    #[test]
    fn attach_refuses_what_would_hurt() {
        let some = Condition::PathPattern {
            values: vec!["/api/*".into()],
        };
        let base = vec![view("a", Some(10), vec![some], &[])];
        assert!(matches!(
            plan_attach(&snapshot(base.clone()), &spec()),
            Err(AttachError::Fallthrough { .. })
        ));
        let mut s = spec();
        s.allow_fallthrough = true;
        assert!(plan_attach(&snapshot(base), &s).is_ok());

        let all = Condition::PathPattern {
            values: vec!["/*".into()],
        };
        let taken = vec![
            view("a", Some(10), vec![all.clone()], &[]),
            view("b", Some(50_000), vec![all.clone()], &[]),
        ];
        assert!(matches!(
            plan_attach(&snapshot(taken), &spec()),
            Err(AttachError::PriorityTaken {
                priority: 50_000,
                ..
            })
        ));

        let other_tg = vec![
            view("a", Some(10), vec![all.clone()], &[]),
            view(
                "m",
                Some(50_000),
                vec![all],
                &[
                    (tags::ROLE, "maintenance"),
                    (tags::PARKED_PRIORITY, "50000"),
                ],
            ),
        ];
        assert!(matches!(
            plan_attach(&snapshot(other_tg), &spec()),
            Err(AttachError::Conflict { .. })
        ));

        let mut s = spec();
        s.app_target_group = None;
        assert!(matches!(s.validate(), Err(AttachError::Invalid(_))));
        let mut s = spec();
        s.bypass_header = Some(("X-Bypass".into(), "a*b".into()));
        assert!(matches!(s.validate(), Err(AttachError::Invalid(_))));
        let mut s = spec();
        s.parked = 2;
        assert!(matches!(s.validate(), Err(AttachError::Invalid(_))));
    }
}
