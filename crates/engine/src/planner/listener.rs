//! A listener as data: its identity ([`ListenerInfo`]), its rules as read ([`RuleView`], with
//! their [`Condition`]s, [`ActionSummary`](crate::planner::action::ActionSummary) and tags), the target groups they forward to
//! ([`TargetGroupInfo`]), a rule to create ([`NewRule`]), and the [`ListenerSnapshot`] of one
//! moment with what can be read off it without I/O: the maintenance and bypass rules, the
//! environment, the planner's view of the rules and the state. No SDK types:
//! `crate::listeners` converts to and from them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use crate::planner::action::ActionSummary;
use crate::planner::action::RuleAction;
use crate::planner::findings::Finding;
use crate::planner::fixed_response::FixedResponse;
use crate::planner::names::short_listener;
use crate::planner::priorities::{self, MAX_PRIORITY, PlanError, Role, Rule, State};
use crate::planner::record::{decode_displaced, rule_id};
use maintenance_core::deploy_names::tags;

/// Why no plan can be made for a listener as it was read. Messages name the listener and the
/// rule, and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanningError {
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
    /// The priority planner found no plan for the listener. (The message carries the cause,
    /// so it is not also a `source`: it would be printed twice.)
    #[error("listener {listener}: {cause}")]
    Plan {
        /// The listener ARN.
        listener: String,
        /// Why.
        cause: PlanError,
    },
    /// The listener's rules do something their tags do not say (see [`Finding`]), so
    /// switching or attaching would not do what is asked.
    #[error("listener {listener}: {}", findings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; and "))]
    Unrecognised {
        /// The listener ARN.
        listener: String,
        /// The blocking findings.
        findings: Vec<Finding>,
    },
}

/// A listener's identity. Displayed as its short name with protocol and port, e.g.
/// `app/shop/0123/4567 (HTTPS:443)`.
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

impl std::fmt::Display for ListenerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = short_listener(&self.arn);
        match self.port {
            Some(port) => write!(f, "{name} ({}:{port})", self.protocol),
            None => f.write_str(name),
        }
    }
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
    /// The request method, one of the values (exact, case-sensitive).
    HttpRequestMethod {
        /// Methods (OR).
        values: Vec<String>,
    },
    /// A query parameter matching one of the pairs.
    QueryString {
        /// Key/value patterns (OR).
        values: Vec<QueryPair>,
    },
    /// Anything else (a condition type this tool does not know), shown but never created.
    Other {
        /// The condition's field name.
        name: String,
        /// Its values as far as known.
        values: Vec<String>,
    },
}

/// One key/value pattern of a `query-string` condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryPair {
    /// The key pattern; `None`: any key.
    pub key: Option<String>,
    /// The value pattern.
    pub value: String,
}

impl std::fmt::Display for QueryPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{key}={}", self.value),
            None => f.write_str(&self.value),
        }
    }
}

impl Condition {
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
            Condition::HttpRequestMethod { values } => write!(f, "method {}", values.join(" | ")),
            Condition::QueryString { values } => {
                let pairs: Vec<String> = values.iter().map(ToString::to_string).collect();
                write!(f, "query {}", pairs.join(" | "))
            }
            Condition::Other { name, values } => write!(f, "{name} {}", values.join(" | ")),
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
    /// Its actions in full, in order (authentication first), as read; empty when not read
    /// (then [`RuleAction::from_summary`] says what can be known from `action`).
    #[serde(skip)]
    pub actions: Vec<RuleAction>,
    /// Tags (empty for the default rule, whose tags are never read).
    pub tags: BTreeMap<String, String>,
}

impl RuleView {
    /// The `maintenance-responder:role` of this rule.
    pub fn role(&self) -> Role {
        match self.tags.get(tags::ROLE).map(String::as_str) {
            Some(tags::ROLE_MAINTENANCE) => Role::Maintenance,
            Some(tags::ROLE_BYPASS) => Role::Bypass,
            Some(tags::ROLE_FALLBACK) => Role::Fallback,
            _ => Role::App,
        }
    }

    /// True for an admission rule of a gradual return (role `admission`): a rule the return
    /// creates and deletes, never moved by a switch, so no plan of `on` or `off` counts it.
    pub fn is_admission(&self) -> bool {
        self.tags.get(tags::ROLE).map(String::as_str) == Some(tags::ROLE_ADMISSION)
    }

    /// True for the listener's default rule.
    pub fn is_default(&self) -> bool {
        self.priority.is_none()
    }

    /// True when the rule matches every request (its only conditions are `/*` path patterns).
    pub fn catches_everything(&self) -> bool {
        !self.conditions.is_empty() && self.conditions.iter().all(Condition::matches_every_path)
    }

    /// Its conditions and action in one line, e.g. `path /* -> forward shop/0123`.
    pub fn summary(&self) -> String {
        let conditions: Vec<String> = self.conditions.iter().map(ToString::to_string).collect();
        if conditions.is_empty() {
            self.action.to_string()
        } else {
            format!("{} -> {}", conditions.join(" and "), self.action)
        }
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
    /// Target group it forwards to (empty for a fixed response).
    pub target_group: String,
    /// A fixed response to answer with instead of forwarding (the fallback rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_response: Option<FixedResponse>,
    /// The actions in full, when they are not one forward or fixed response (a mirror rule,
    /// `crate::planner::mirror`): written instead of `target_group` and `fixed_response`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<RuleAction>,
    /// Tags set at creation.
    pub tags: Vec<(String, String)>,
}

/// A target group as read: what kind of targets it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetGroupInfo {
    /// Target group ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// `lambda`, `instance`, `ip` or `alb`.
    pub target_type: String,
}

impl TargetGroupInfo {
    /// True for a target group whose target is a Lambda function (the responder's kind).
    pub fn is_lambda(&self) -> bool {
        self.target_type == "lambda"
    }
}

/// A listener and its rules (with tags), as read at one moment, with the facts about its
/// target groups that tell what the rules do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerSnapshot {
    /// The listener.
    pub listener: ListenerInfo,
    /// Its rules by priority, the default rule last.
    pub rules: Vec<RuleView>,
    /// The target groups its rules forward to, by ARN (empty when they could not be read).
    pub target_groups: BTreeMap<String, TargetGroupInfo>,
    /// Why the target groups could not be read, if they could not.
    pub target_groups_unread: Option<String>,
    /// Target groups known to be the responder's from elsewhere: another listener's
    /// maintenance rule in the same selection, or `attach --target-group`.
    pub responder_target_groups: BTreeSet<String>,
    /// Rules counted against the load balancer's rule quota besides this listener's own (its
    /// other listeners' rules, default rules excluded, and rules a command plans there), when
    /// read (`crate::listeners::rules_elsewhere`); `None`: not read. The mirror planner
    /// (`crate::planner::mirror`) counts them.
    #[serde(skip)]
    pub rules_elsewhere: Option<usize>,
}

impl ListenerSnapshot {
    /// A snapshot of `rules` with no target group read and none known.
    pub fn new(listener: ListenerInfo, rules: Vec<RuleView>) -> Self {
        Self {
            listener,
            rules,
            target_groups: BTreeMap::new(),
            target_groups_unread: None,
            responder_target_groups: BTreeSet::new(),
            rules_elsewhere: None,
        }
    }

    /// Every target group ARN the rules forward to (default rule included), each once.
    pub fn forwarded_target_groups(&self) -> Vec<String> {
        let all: BTreeSet<&String> = self
            .rules
            .iter()
            .flat_map(|r| r.action.target_groups())
            .collect();
        all.into_iter().cloned().collect()
    }

    /// Whether a target group is of type `lambda`; `None` when its type is not known.
    pub fn is_lambda(&self, target_group: &str) -> Option<bool> {
        self.target_groups
            .get(target_group)
            .map(TargetGroupInfo::is_lambda)
    }

    /// The maintenance rule, if attached (the first one, should there be several).
    pub fn maintenance_rule(&self) -> Option<&RuleView> {
        self.rules.iter().find(|r| r.role() == Role::Maintenance)
    }

    /// The bypass rules.
    pub fn bypass_rules(&self) -> impl Iterator<Item = &RuleView> {
        self.rules.iter().filter(|r| r.role() == Role::Bypass)
    }

    /// The environment the maintenance rule belongs to (the tagged one, else the one
    /// recognised by what it does, if its environment tag is left).
    pub fn environment(&self) -> Option<&str> {
        self.responder_rule()
            .and_then(|r| r.tags.get(tags::ENVIRONMENT))
            .map(String::as_str)
    }

    /// The SSM prefix of the responder's content, as its maintenance rule is tagged.
    pub fn content_prefix(&self) -> Option<&str> {
        self.responder_rule()
            .and_then(|r| r.tags.get(tags::CONTENT_PREFIX))
            .map(String::as_str)
    }

    fn bad_rule(&self, rule: &str, problem: String) -> PlanningError {
        PlanningError::BadRule {
            listener: self.listener.arn.clone(),
            rule: rule.to_string(),
            problem,
        }
    }

    /// The rules other than the default one, as the planner sees them: roles from tags, the
    /// parked priority of managed rules, and the recorded original priority of displaced rules.
    pub fn planner_rules(&self) -> Result<Vec<Rule>, PlanningError> {
        let displaced = match self.maintenance_rule() {
            Some(m) => decode_displaced(&m.tags).map_err(|p| self.bad_rule(&m.arn, p))?,
            None => BTreeMap::new(),
        };
        let mut out = Vec::new();
        // Admission rules sit above the managed rules for a return's length and are deleted
        // before any switch moves a rule (`crate::ops::gradual`): not the planner's to move.
        for view in self
            .rules
            .iter()
            .filter(|r| !r.is_default() && !r.is_admission())
        {
            let role = self.tagged_role(view)?;
            let home = match role {
                Role::App => displaced.get(rule_id(&view.arn)).copied(),
                _ => self.parked_priority(view)?,
            };
            out.push(Rule {
                arn: view.arn.clone(),
                priority: view.priority.expect("non-default rules have a priority"),
                role,
                home,
            });
        }
        Ok(out)
    }

    /// The role tag of a rule, refusing a value that is neither role.
    fn tagged_role(&self, view: &RuleView) -> Result<Role, PlanningError> {
        match view.tags.get(tags::ROLE).map(String::as_str) {
            None => Ok(Role::App),
            Some(tags::ROLE_MAINTENANCE) => Ok(Role::Maintenance),
            Some(tags::ROLE_BYPASS) => Ok(Role::Bypass),
            Some(tags::ROLE_FALLBACK) => Ok(Role::Fallback),
            Some(other) => Err(self.bad_rule(
                &view.arn,
                format!(
                    "tag {}={other:?} is none of {:?}, {:?} and {:?}: fix or remove the tag",
                    tags::ROLE,
                    tags::ROLE_MAINTENANCE,
                    tags::ROLE_BYPASS,
                    tags::ROLE_FALLBACK
                ),
            )),
        }
    }

    /// The parked-priority tag of a managed rule, if it has one.
    fn parked_priority(&self, view: &RuleView) -> Result<Option<u32>, PlanningError> {
        let Some(p) = view.tags.get(tags::PARKED_PRIORITY) else {
            return Ok(None);
        };
        p.parse::<u32>()
            .ok()
            .filter(|p| (1..=MAX_PRIORITY).contains(p))
            .map(Some)
            .ok_or_else(|| {
                self.bad_rule(
                    &view.arn,
                    format!(
                        "tag {}={p:?} is not a priority in 1..=50000: set it to \
                                     where the rule should be parked",
                        tags::PARKED_PRIORITY
                    ),
                )
            })
    }

    /// On, off, between, or not attached (from priorities, not from the state tag).
    pub fn state(&self) -> Result<State, PlanningError> {
        Ok(priorities::state(&self.planner_rules()?))
    }

    /// A rule catching every request sits before `priority`, so a parked rule there catches
    /// nothing.
    pub fn caught_before(&self, priority: u32) -> bool {
        self.rules.iter().any(|r| {
            r.role() == Role::App
                && r.priority.is_some_and(|p| p < priority)
                && r.catches_everything()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planning_error_says_its_cause_once() {
        let err = PlanningError::Plan {
            listener: "L".into(),
            cause: PlanError::NoMaintenanceRule,
        };
        assert!(std::error::Error::source(&err).is_none());
        let chain = format!("{:#}", anyhow::Error::from(err));
        assert_eq!(chain.matches("no maintenance rule").count(), 1, "{chain}");
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
}
