//! A rule's actions in full ([`RuleAction`]), as read from a listener and as written to a new
//! rule: what the mirror rules (`crate::planner::mirror`) copy, and what the ALB evaluator
//! (`crate::planner::routing`) follows to a target group. [`ActionSummary`] is
//! the one-line summary `status` shows; [`RuleAction`] is the whole of it.
//!
//! The ALB's actions (Elastic Load Balancing, "Listener rules for your Application Load
//! Balancer", action types; ELBv2 API `Action`, `ForwardActionConfig`, `RedirectActionConfig`):
//! exactly one of `forward`, `redirect` and `fixed-response`, last; before it, optionally,
//! `authenticate-oidc`, `authenticate-cognito` or `jwt-validation` (HTTPS listeners only). A
//! forward names one target group, or up to [`MAX_TARGET_GROUPS`] with weights 0–999
//! ([`MAX_WEIGHT`]) and optional target-group stickiness (1 s to 7 days).

use serde::Serialize;

use crate::planner::fixed_response::FixedResponse;
use crate::planner::names::short_target_group;

/// Most target groups one forward action names (ALB quotas: "Target groups per action").
pub const MAX_TARGET_GROUPS: usize = 5;
/// The highest weight of a target group in a weighted forward (ELBv2 API `TargetGroupTuple`).
pub const MAX_WEIGHT: u32 = 999;

/// One action of a rule, in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RuleAction {
    /// Forward to one target group or, weighted, to several.
    Forward(Forward),
    /// A fixed response.
    FixedResponse(FixedResponse),
    /// A redirect.
    Redirect(Redirect),
    /// `authenticate-oidc`, `authenticate-cognito` or `jwt-validation`: read only as its kind
    /// (an OIDC client secret is never returned by DescribeRules), so never copied.
    Authenticate {
        /// The action type.
        kind: String,
    },
    /// An action type this tool does not know.
    Other {
        /// The action type.
        kind: String,
    },
}

/// A forward action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forward {
    /// The target groups with their weights (a single forward: one group, weight 1).
    pub target_groups: Vec<WeightedTargetGroup>,
    /// Target-group stickiness: its duration in seconds when enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stickiness_seconds: Option<u32>,
    /// Whether it was written as a `ForwardConfig` (weights, stickiness) rather than a bare
    /// `TargetGroupArn`; a copy is written the same way.
    pub weighted: bool,
}

impl Forward {
    /// A forward to one target group, written as a bare `TargetGroupArn`.
    pub fn to(target_group: impl Into<String>) -> Self {
        Self {
            target_groups: vec![WeightedTargetGroup {
                arn: target_group.into(),
                weight: 1,
            }],
            stickiness_seconds: None,
            weighted: false,
        }
    }
}

/// One target group of a forward, with its weight (0–999; 0: never chosen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeightedTargetGroup {
    /// Target group ARN.
    pub arn: String,
    /// Its weight.
    pub weight: u32,
}

/// A redirect action's configuration, as read (`None`: the field was not set, so the ALB
/// keeps the request's own, `#{protocol}` and so on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    /// `HTTP`, `HTTPS` or `#{protocol}`.
    pub protocol: Option<String>,
    /// The port.
    pub port: Option<String>,
    /// The host.
    pub host: Option<String>,
    /// The path.
    pub path: Option<String>,
    /// The query (without `?`).
    pub query: Option<String>,
    /// `HTTP_301` or `HTTP_302`.
    pub status_code: String,
}

impl RuleAction {
    /// The action type as the API names it.
    pub fn kind(&self) -> &str {
        match self {
            RuleAction::Forward(_) => "forward",
            RuleAction::FixedResponse(_) => "fixed-response",
            RuleAction::Redirect(_) => "redirect",
            RuleAction::Authenticate { kind } | RuleAction::Other { kind } => kind,
        }
    }

    /// The actions a summary stands for, where it says enough to write them again: a forward
    /// (without stickiness, which the summary does not keep) and a fixed response. `None` for
    /// a redirect or another action, whose configuration the summary does not keep.
    pub fn from_summary(summary: &ActionSummary) -> Option<Vec<RuleAction>> {
        match summary {
            ActionSummary::Forward {
                target_groups,
                weights,
            } => Some(vec![RuleAction::Forward(Forward {
                target_groups: target_groups
                    .iter()
                    .enumerate()
                    .map(|(i, arn)| WeightedTargetGroup {
                        arn: arn.clone(),
                        weight: weights.get(i).copied().unwrap_or(1),
                    })
                    .collect(),
                stickiness_seconds: None,
                weighted: !weights.is_empty(),
            })]),
            ActionSummary::FixedResponse {
                status,
                content_type,
                body,
            } => Some(vec![RuleAction::FixedResponse(FixedResponse {
                status_code: status.clone(),
                content_type: content_type.clone(),
                body: body.clone(),
            })]),
            ActionSummary::Redirect | ActionSummary::Other { .. } => None,
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
        /// Their weights, in the same order, for a weighted forward (`ForwardConfig`); empty
        /// for a forward to one target group.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        weights: Vec<u32>,
    },
    /// A fixed response.
    FixedResponse {
        /// Status code.
        status: String,
        /// Its content type (`text/html`), empty when none is set.
        content_type: String,
        /// Its body (the fallback page), not in the JSON documents.
        #[serde(skip)]
        body: String,
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
    /// The target groups it forwards to (none for other actions).
    pub fn target_groups(&self) -> &[String] {
        match self {
            ActionSummary::Forward { target_groups, .. } => target_groups,
            _ => &[],
        }
    }
}

impl std::fmt::Display for ActionSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActionSummary::Forward {
                target_groups,
                weights,
            } => {
                let names: Vec<String> = target_groups
                    .iter()
                    .enumerate()
                    .map(|(i, t)| match weights.get(i) {
                        Some(w) => format!("{} (weight {w})", short_target_group(t)),
                        None => short_target_group(t).to_string(),
                    })
                    .collect();
                write!(f, "forward {}", names.join(", "))
            }
            ActionSummary::FixedResponse { status, .. } => write!(f, "fixed-response {status}"),
            ActionSummary::Redirect => f.write_str("redirect"),
            ActionSummary::Other { kind } => f.write_str(kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_gives_back_forwards_and_fixed_responses_only() {
        let weighted = ActionSummary::Forward {
            target_groups: vec!["a".into(), "b".into()],
            weights: vec![0, 7],
        };
        let read = RuleAction::from_summary(&weighted);
        let Some([RuleAction::Forward(f)]) = read.as_deref() else {
            panic!("a forward");
        };
        assert!(f.weighted);
        assert_eq!(
            f.target_groups.iter().map(|t| t.weight).collect::<Vec<_>>(),
            [0, 7]
        );
        let single = ActionSummary::Forward {
            target_groups: vec!["a".into()],
            weights: vec![],
        };
        assert_eq!(
            RuleAction::from_summary(&single),
            Some(vec![RuleAction::Forward(Forward::to("a"))])
        );
        assert_eq!(RuleAction::from_summary(&ActionSummary::Redirect), None);
    }
}
