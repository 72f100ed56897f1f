//! Mirror rules (pure): a copy of a listener's own routing behind one more condition, so that
//! the requests carrying it reach what they would reach without maintenance. For each
//! application rule (a rule `maintctl` does not manage, whatever it does) a rule with its
//! conditions plus the extra one and the same actions, in the same relative order, and one for
//! the listener's default action with the extra condition alone; all of them at free
//! priorities directly above a given rule (the maintenance rule), so that they are evaluated
//! before it ([`plan_mirrors`]).
//!
//! The extra condition is the caller's: a bypass condition (source-ip CIDRs, a secret header,
//! the bypass link's cookie: `crate::planner::bypass`, `crate::planner::attach`) or the gradual
//! return's admission cookie (an `http-header` `Cookie` condition). A request with it meets the
//! mirrors in the order the application rules have, so the first mirror it matches is the
//! mirror of the application rule it would have matched: same answer, same target group
//! (a weighted forward with its weights and target-group stickiness included). A request
//! without it matches no mirror.
//!
//! What is copied, and what is refused:
//! - forwards (one target group, or weighted to up to 5 with stickiness), redirects and fixed
//!   responses are copied as they are, so the mirrored routing is the application's exactly;
//!   leaving a redirect or a fixed response out would send its requests to a later mirror;
//! - authentication actions (`authenticate-oidc`, `authenticate-cognito`, `jwt-validation`) are
//!   refused: a mirror must copy them whole or it lets requests skip authentication, and
//!   DescribeRules never returns an OIDC client secret, so `maintctl` cannot copy them whole;
//! - a condition type this tool does not model (a transform, regex values) is refused;
//! - rules after one that catches every request (path `/*` only), and then the default rule,
//!   are never reached: they get no mirror.
//!
//! The ALB's quotas are checked before anything is written, and a refusal names the rule that
//! cannot be mirrored and why ([`MirrorError`]); the numbers are the AWS documentation's (the
//! docs win over what moto accepts):
//! - at most [`MAX_CONDITION_VALUES`] condition values and [`MAX_WILDCARDS`] wildcards per
//!   rule, the extra condition counted (Elastic Load Balancing, "Quotas for your Application
//!   Load Balancers": <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html>);
//! - at most one each of `host-header`, `http-request-method`, `path-pattern` and `source-ip`
//!   conditions per rule ("Listener rules", condition types:
//!   <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html>),
//!   so a source-ip bypass cannot mirror a rule that has a source-ip condition of its own;
//! - [`DEFAULT_RULES_PER_LOAD_BALANCER`] rules per load balancer, default rules excluded (the
//!   quota "Rules per Application Load Balancer", which the account can have raised through
//!   Service Quotas), given in [`MirrorLimits`]; counted: this listener's rules, the load
//!   balancer's other listeners' rules when the snapshot has read them
//!   (`ListenerSnapshot::rules_elsewhere`), and [`MirrorLimits::rules_besides`];
//! - priorities 1..=50000 ([`MIN_PRIORITY`], [`MAX_PRIORITY`]); mirrors take free priorities
//!   only, never moving a rule: with too few free ones above the given rule the planner says so
//!   ([`MirrorError::NoRoom`]).

use serde::Serialize;

use crate::planner::action::{MAX_TARGET_GROUPS, MAX_WEIGHT, RuleAction};
use crate::planner::listener::{Condition, ListenerSnapshot, NewRule, RuleView};
use crate::planner::names::short_listener;
use crate::planner::priorities::{MAX_PRIORITY, MIN_PRIORITY, Role};
use crate::planner::record::rule_id;
use maintenance_core::deploy_names::tags;

/// Most condition values in one rule, every condition counted ("Condition values per rule").
pub const MAX_CONDITION_VALUES: usize = 5;
/// Most wildcards (`*`, `?`) in one rule's conditions ("Condition wildcards per rule").
pub const MAX_WILDCARDS: usize = 5;
/// The default quota of rules per Application Load Balancer, default rules excluded.
pub const DEFAULT_RULES_PER_LOAD_BALANCER: usize = 100;
/// Where the quotas are documented.
pub const QUOTAS_DOC: &str =
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html";

/// The rule quota mirrors are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MirrorLimits {
    /// The load balancer's quota of rules, default rules excluded
    /// ([`DEFAULT_RULES_PER_LOAD_BALANCER`] unless raised).
    pub rules_per_load_balancer: usize,
    /// Rules that count against it besides this listener's own and the snapshot's
    /// `rules_elsewhere`: rules the same command creates besides these mirrors.
    pub rules_besides: usize,
}

impl Default for MirrorLimits {
    fn default() -> Self {
        Self {
            rules_per_load_balancer: DEFAULT_RULES_PER_LOAD_BALANCER,
            rules_besides: 0,
        }
    }
}

/// A mirror rule to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorRule {
    /// The rule it mirrors; `None`: the listener's default rule.
    pub source: Option<String>,
    /// That rule's priority (`None`: the default rule).
    pub source_priority: Option<u32>,
    /// Its priority.
    pub priority: u32,
    /// The mirrored rule's conditions, then the extra condition.
    pub conditions: Vec<Condition>,
    /// The mirrored rule's actions.
    pub actions: Vec<RuleAction>,
}

impl MirrorRule {
    /// The rule to create on `listener` with `tags`. A forward to one target group and a
    /// fixed response are written as such (`target_group`, `fixed_response`), anything else
    /// as the actions in full.
    pub fn new_rule(&self, listener: &str, tags: Vec<(String, String)>) -> NewRule {
        let mut rule = NewRule {
            listener: listener.to_string(),
            priority: self.priority,
            conditions: self.conditions.clone(),
            target_group: String::new(),
            fixed_response: None,
            actions: Vec::new(),
            tags,
        };
        match self.actions.as_slice() {
            [RuleAction::Forward(f)]
                if !f.weighted && f.stickiness_seconds.is_none() && f.target_groups.len() == 1 =>
            {
                rule.target_group = f.target_groups[0].arn.clone();
            }
            [RuleAction::FixedResponse(r)] => rule.fixed_response = Some(r.clone()),
            actions => {
                rule.target_group = actions
                    .iter()
                    .find_map(|a| match a {
                        RuleAction::Forward(f) => f.target_groups.first().map(|t| t.arn.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                rule.actions = actions.to_vec();
            }
        }
        rule
    }

    /// What it mirrors, for messages: `rule 123 (priority 10)` or `the default rule`.
    pub fn source_label(&self) -> String {
        match (&self.source, self.source_priority) {
            (Some(arn), Some(p)) => format!("rule {} (priority {p})", rule_id(arn)),
            (Some(arn), None) => format!("rule {}", rule_id(arn)),
            (None, _) => "the default rule".into(),
        }
    }
}

/// Why no mirror rules can be planned. Every message names the listener, and the rule that
/// cannot be mirrored when one cannot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MirrorError {
    /// One rule cannot be mirrored with the extra condition.
    #[error(
        "listener {}: {} cannot be mirrored: {reason}",
        short_listener(listener),
        what(rule.as_deref(), *priority)
    )]
    Unmirrorable {
        /// Listener ARN.
        listener: String,
        /// The rule (`None`: the default rule).
        rule: Option<String>,
        /// Its priority.
        priority: Option<u32>,
        /// Why, and the quota or rule of the ALB it would break.
        reason: String,
    },
    /// The mirrors would take the load balancer over its rule quota.
    #[error(
        "listener {}: {new} mirror rule(s) on top of the {existing} rule(s) the load balancer \
         {load_balancer} has (or gets) would make {total}, over its quota of {quota} rules \
         (\"Rules per Application Load Balancer\", default rules excluded; 100 unless raised: \
         the account's administrator can raise it in Service Quotas, {QUOTAS_DOC})",
        short_listener(listener),
        total = existing + new
    )]
    TooManyRules {
        /// Listener ARN.
        listener: String,
        /// Load balancer ARN.
        load_balancer: String,
        /// Rules counted already.
        existing: usize,
        /// Mirrors needed.
        new: usize,
        /// The quota.
        quota: usize,
    },
    /// Too few free priorities directly above the given rule: mirrors never move a rule.
    #[error(
        "listener {}: {needed} mirror rule(s) need free priorities directly above priority \
         {before}, but only {free} are free before {}; mirror rules never move other rules: \
         make room (move that rule or the ones around it to a later priority) and run again",
        short_listener(listener),
        match (blocker, blocker_priority) {
            (Some(b), Some(p)) => format!("rule {} (priority {p})", rule_id(b)),
            _ => "priority 1".to_string(),
        }
    )]
    NoRoom {
        /// Listener ARN.
        listener: String,
        /// The priority they must come before.
        before: u32,
        /// How many are needed.
        needed: usize,
        /// How many free priorities there are.
        free: usize,
        /// The application rule that stops the search (`None`: priority 1 was reached).
        blocker: Option<String>,
        /// Its priority.
        blocker_priority: Option<u32>,
    },
}

fn what(rule: Option<&str>, priority: Option<u32>) -> String {
    match (rule, priority) {
        (Some(r), Some(p)) => format!("rule {} (priority {p})", rule_id(r)),
        (Some(r), None) => format!("rule {}", rule_id(r)),
        (None, _) => "the default rule".into(),
    }
}

/// True for an application rule: not the default rule, no `maintctl` role tag (whatever its
/// value: maintenance, bypass, fallback, admission…), and not recognised as one of
/// `maintctl`'s rules by what it does.
pub fn is_application_rule(snapshot: &ListenerSnapshot, rule: &RuleView) -> bool {
    !rule.is_default()
        && !rule.tags.contains_key(tags::ROLE)
        && snapshot.recognised_role(rule) == Role::App
}

/// The application rules a mirror is needed for, in priority order, and the default rule when
/// it can be reached: the rules after one that catches every request are never reached.
pub fn mirrored_rules(snapshot: &ListenerSnapshot) -> Vec<&RuleView> {
    let mut app: Vec<&RuleView> = snapshot
        .rules
        .iter()
        .filter(|r| is_application_rule(snapshot, r))
        .collect();
    app.sort_by_key(|r| r.priority);
    let mut out = Vec::new();
    for rule in app {
        out.push(rule);
        if rule.catches_everything() {
            return out;
        }
    }
    out.extend(snapshot.rules.iter().find(|r| r.is_default()));
    out
}

/// Plans the mirror rules of `snapshot`'s routing with `extra` as one more condition, at free
/// priorities directly above `before` (the maintenance rule's priority: they are evaluated
/// before it), skipping the priorities of `maintctl`'s own rules (bypass, fallback, admission)
/// and stopping at an application rule. The mirrors come in the application rules' order, the
/// default rule's last. Nothing is written: the caller creates [`MirrorRule::new_rule`]s.
pub fn plan_mirrors(
    snapshot: &ListenerSnapshot,
    extra: &Condition,
    before: u32,
    limits: &MirrorLimits,
) -> Result<Vec<MirrorRule>, MirrorError> {
    let listener = &snapshot.listener.arn;
    let sources = mirrored_rules(snapshot);
    let mut mirrors = Vec::with_capacity(sources.len());
    for source in &sources {
        let refuse = |reason: String| MirrorError::Unmirrorable {
            listener: listener.clone(),
            rule: (!source.is_default()).then(|| source.arn.clone()),
            priority: source.priority,
            reason,
        };
        let mut conditions = source.conditions.clone();
        conditions.push(extra.clone());
        check_conditions(&conditions).map_err(refuse)?;
        let actions = copyable_actions(source).map_err(refuse)?;
        mirrors.push(MirrorRule {
            source: (!source.is_default()).then(|| source.arn.clone()),
            source_priority: source.priority,
            priority: 0,
            conditions,
            actions,
        });
    }
    let existing = snapshot.rules.iter().filter(|r| !r.is_default()).count()
        + snapshot.rules_elsewhere.unwrap_or(0)
        + limits.rules_besides;
    if existing + mirrors.len() > limits.rules_per_load_balancer {
        return Err(MirrorError::TooManyRules {
            listener: listener.clone(),
            load_balancer: snapshot.listener.load_balancer.clone(),
            existing,
            new: mirrors.len(),
            quota: limits.rules_per_load_balancer,
        });
    }
    let slots = free_priorities(snapshot, before, mirrors.len())?;
    // `slots` descend from `before`: the first mirror takes the lowest one.
    for (mirror, priority) in mirrors.iter_mut().zip(slots.iter().rev()) {
        mirror.priority = *priority;
    }
    Ok(mirrors)
}

/// The `needed` free priorities closest below `before`, highest first.
fn free_priorities(
    snapshot: &ListenerSnapshot,
    before: u32,
    needed: usize,
) -> Result<Vec<u32>, MirrorError> {
    let mut out = Vec::with_capacity(needed);
    let mut p = before.min(MAX_PRIORITY + 1);
    while out.len() < needed {
        let no_room = |blocker: Option<&RuleView>| MirrorError::NoRoom {
            listener: snapshot.listener.arn.clone(),
            before,
            needed,
            free: out.len(),
            blocker: blocker.map(|b| b.arn.clone()),
            blocker_priority: blocker.and_then(|b| b.priority),
        };
        if p <= MIN_PRIORITY {
            return Err(no_room(None));
        }
        p -= 1;
        match snapshot.rules.iter().find(|r| r.priority == Some(p)) {
            None => out.push(p),
            Some(holder) if is_application_rule(snapshot, holder) => {
                return Err(no_room(Some(holder)));
            }
            Some(_) => {}
        }
    }
    Ok(out)
}

/// The single-valued condition types: at most one of each per rule.
fn single_kind(c: &Condition) -> Option<&'static str> {
    match c {
        Condition::HostHeader { .. } => Some("host-header"),
        Condition::HttpRequestMethod { .. } => Some("http-request-method"),
        Condition::PathPattern { .. } => Some("path-pattern"),
        Condition::SourceIp { .. } => Some("source-ip"),
        _ => None,
    }
}

/// How many condition values a condition counts for (a query-string pair is one).
pub fn condition_values(c: &Condition) -> usize {
    match c {
        Condition::PathPattern { values }
        | Condition::HostHeader { values }
        | Condition::SourceIp { values }
        | Condition::HttpRequestMethod { values }
        | Condition::HttpHeader { values, .. }
        | Condition::Other { values, .. } => values.len(),
        Condition::QueryString { values } => values.len(),
    }
}

/// How many wildcards (`*`, `?`, not escaped with `\`) a condition's values hold; methods and
/// addresses have none.
pub fn condition_wildcards(c: &Condition) -> usize {
    fn count(s: &str) -> usize {
        let mut n = 0;
        let mut escaped = false;
        for ch in s.chars() {
            match ch {
                '\\' if !escaped => escaped = true,
                '*' | '?' if !escaped => n += 1,
                _ => escaped = false,
            }
            if ch != '\\' {
                escaped = false;
            }
        }
        n
    }
    match c {
        Condition::PathPattern { values }
        | Condition::HostHeader { values }
        | Condition::HttpHeader { values, .. } => values.iter().map(|v| count(v)).sum(),
        Condition::QueryString { values } => values
            .iter()
            .map(|p| count(&p.value) + p.key.as_deref().map_or(0, count))
            .sum(),
        Condition::SourceIp { .. }
        | Condition::HttpRequestMethod { .. }
        | Condition::Other { .. } => 0,
    }
}

/// Checks a mirror's conditions against the ALB's rules and quotas.
fn check_conditions(conditions: &[Condition]) -> Result<(), String> {
    if let Some(Condition::Other { name, .. }) = conditions
        .iter()
        .find(|c| matches!(c, Condition::Other { .. }))
    {
        return Err(format!(
            "its condition {name:?} is of a kind maintctl cannot copy (a transform, regex \
             values or a new condition type)"
        ));
    }
    for (i, c) in conditions.iter().enumerate() {
        if let Some(kind) = single_kind(c)
            && conditions[..i].iter().any(|o| single_kind(o) == Some(kind))
        {
            return Err(format!(
                "it has a {kind} condition of its own and the extra condition is one too; a rule \
                 takes at most one {kind} condition (ALB rule condition types, \
                 https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html)"
            ));
        }
    }
    let values: usize = conditions.iter().map(condition_values).sum();
    if values > MAX_CONDITION_VALUES {
        return Err(format!(
            "with the extra condition it would have {values} condition values; a rule takes at \
             most {MAX_CONDITION_VALUES} (\"Condition values per rule\", {QUOTAS_DOC})"
        ));
    }
    let wildcards: usize = conditions.iter().map(condition_wildcards).sum();
    if wildcards > MAX_WILDCARDS {
        return Err(format!(
            "with the extra condition it would have {wildcards} wildcards; a rule takes at most \
             {MAX_WILDCARDS} (\"Condition wildcards per rule\", {QUOTAS_DOC})"
        ));
    }
    Ok(())
}

/// The actions of `rule` a mirror copies, or why they cannot be copied whole.
fn copyable_actions(rule: &RuleView) -> Result<Vec<RuleAction>, String> {
    let actions = if rule.actions.is_empty() {
        RuleAction::from_summary(&rule.action).ok_or_else(|| {
            format!(
                "its action ({}) was not read in full, so it cannot be copied",
                rule.action
            )
        })?
    } else {
        rule.actions.clone()
    };
    for action in &actions {
        match action {
            RuleAction::Authenticate { kind } => {
                return Err(format!(
                    "it authenticates ({kind}) before it answers: a mirror must copy that \
                     whole or requests would skip authentication, and DescribeRules never \
                     returns an OIDC client secret, so maintctl cannot copy it"
                ));
            }
            RuleAction::Other { kind } => {
                return Err(format!(
                    "its action {kind:?} is of a kind maintctl cannot copy"
                ));
            }
            RuleAction::Forward(f) => {
                if f.target_groups.is_empty() || f.target_groups.len() > MAX_TARGET_GROUPS {
                    return Err(format!(
                        "it forwards to {} target groups; an action takes 1 to \
                         {MAX_TARGET_GROUPS} (\"Target groups per action\", {QUOTAS_DOC})",
                        f.target_groups.len()
                    ));
                }
                if let Some(t) = f.target_groups.iter().find(|t| t.weight > MAX_WEIGHT) {
                    return Err(format!(
                        "it gives target group {} the weight {}, above {MAX_WEIGHT}",
                        t.arn, t.weight
                    ));
                }
            }
            RuleAction::FixedResponse(_) | RuleAction::Redirect(_) => {}
        }
    }
    Ok(actions)
}

#[cfg(test)]
mod tests;
