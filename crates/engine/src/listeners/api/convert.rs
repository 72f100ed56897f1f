//! The conversions of the listeners' SDK adapter (`super`): ELBv2's rules, conditions,
//! actions, listeners and tags into `crate::planner`'s types and back. Part of the one adapter
//! that knows the SDK; what the ALB accepts and refuses is checked in `crate::planner`, not here.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2 as elbv2;
use elbv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ForwardActionConfig,
    HostHeaderConditionConfig, HttpHeaderConditionConfig, HttpRequestMethodConditionConfig,
    PathPatternConditionConfig, QueryStringConditionConfig, QueryStringKeyValuePair,
    RedirectActionConfig, RedirectActionStatusCodeEnum, RuleCondition, SourceIpConditionConfig,
    Tag, TargetGroupStickinessConfig, TargetGroupTuple,
};

use crate::listeners::ListenersError;
use crate::planner::{
    ActionSummary, Condition, FixedResponse, Forward, ListenerInfo, PlanningError, QueryPair,
    Redirect, RuleAction, RuleView, WeightedTargetGroup,
};

/// The fixed-response action of a [`FixedResponse`].
pub(super) fn fixed_response_action(response: &FixedResponse) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code(&response.status_code)
                .content_type(&response.content_type)
                .message_body(&response.body)
                .build(),
        )
        .build()
}

pub(super) fn sdk_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(super) fn listener_info(l: &elbv2::types::Listener) -> ListenerInfo {
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

/// One rule as read, without its tags.
pub(super) fn rule_view(
    listener: &str,
    rule: &elbv2::types::Rule,
) -> Result<RuleView, ListenersError> {
    let arn = rule.rule_arn().unwrap_or_default().to_string();
    let priority = match (rule.is_default(), rule.priority()) {
        (Some(true), _) | (_, Some("default")) => None,
        (_, Some(p)) => Some(p.parse::<u32>().map_err(|_| PlanningError::BadRule {
            listener: listener.to_string(),
            rule: arn.clone(),
            problem: format!("priority {p:?} is not a number"),
        })?),
        (_, None) => None,
    };
    Ok(RuleView {
        arn,
        priority,
        conditions: rule.conditions().iter().map(condition_from_sdk).collect(),
        action: action_from_sdk(rule.actions()),
        actions: actions_from_sdk(rule.actions()),
        tags: BTreeMap::new(),
    })
}

pub(super) fn condition_from_sdk(c: &RuleCondition) -> Condition {
    let field = c.field().unwrap_or_default();
    let legacy = c.values().to_vec();
    let or_legacy = |v: &[String]| {
        if v.is_empty() {
            legacy.clone()
        } else {
            v.to_vec()
        }
    };
    let regex = c
        .path_pattern_config()
        .is_some_and(|p| !p.regex_values().is_empty())
        || c.host_header_config()
            .is_some_and(|p| !p.regex_values().is_empty())
        || c.http_header_config()
            .is_some_and(|p| !p.regex_values().is_empty());
    if regex {
        // Regex values: a condition this tool does not model, shown but never copied.
        return Condition::Other {
            name: format!("{field} (regex)"),
            values: legacy,
        };
    }
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
        "http-request-method" => Condition::HttpRequestMethod {
            values: c
                .http_request_method_config()
                .map(|m| m.values().to_vec())
                .unwrap_or_default(),
        },
        "query-string" => Condition::QueryString {
            values: c
                .query_string_config()
                .map(|q| {
                    q.values()
                        .iter()
                        .map(|p| QueryPair {
                            key: p.key().map(str::to_string),
                            value: p.value().unwrap_or_default().to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        other => Condition::Other {
            name: other.to_string(),
            values: legacy,
        },
    }
}

pub(super) fn condition_to_sdk(condition: &Condition) -> Result<RuleCondition, ListenersError> {
    let b = RuleCondition::builder();
    Ok(match condition {
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
        Condition::HostHeader { values } => b.field("host-header").host_header_config(
            HostHeaderConditionConfig::builder()
                .set_values(Some(values.clone()))
                .build(),
        ),
        Condition::HttpRequestMethod { values } => {
            b.field("http-request-method").http_request_method_config(
                HttpRequestMethodConditionConfig::builder()
                    .set_values(Some(values.clone()))
                    .build(),
            )
        }
        Condition::QueryString { values } => b.field("query-string").query_string_config(
            QueryStringConditionConfig::builder()
                .set_values(Some(
                    values
                        .iter()
                        .map(|p| {
                            QueryStringKeyValuePair::builder()
                                .set_key(p.key.clone())
                                .value(&p.value)
                                .build()
                        })
                        .collect(),
                ))
                .build(),
        ),
        other => {
            return Err(ListenersError::Invalid(format!(
                "cannot create a rule with condition {other}"
            )));
        }
    }
    .build())
}

pub(super) fn action_from_sdk(actions: &[Action]) -> ActionSummary {
    // The last action decides (authentication actions come first).
    let Some(a) = actions.iter().max_by_key(|a| a.order().unwrap_or(0)) else {
        return ActionSummary::Other {
            kind: "none".into(),
        };
    };
    match a.r#type() {
        Some(ActionTypeEnum::Forward) => {
            let tuples = a
                .forward_config()
                .map(|c| c.target_groups())
                .unwrap_or_default();
            let mut target_groups: Vec<String> = a
                .target_group_arn()
                .map(str::to_string)
                .into_iter()
                .collect();
            let mut weights = Vec::new();
            if tuples.len() > 1 {
                // A weighted forward: the tuples say it all; a weight defaults to 1 (ELBv2 API,
                // TargetGroupTuple).
                target_groups.clear();
                for tg in tuples {
                    target_groups.push(tg.target_group_arn().unwrap_or_default().to_string());
                    weights.push(tg.weight().map_or(1, |w| w.max(0) as u32));
                }
            } else if let Some(arn) = tuples.first().and_then(|t| t.target_group_arn())
                && !target_groups.iter().any(|t| t == arn)
            {
                target_groups.push(arn.to_string());
            }
            ActionSummary::Forward {
                target_groups,
                weights,
            }
        }
        Some(ActionTypeEnum::FixedResponse) => {
            let config = a.fixed_response_config();
            let field = |get: fn(&FixedResponseActionConfig) -> Option<&str>| {
                config.and_then(get).unwrap_or_default().to_string()
            };
            ActionSummary::FixedResponse {
                status: field(|c| c.status_code()),
                content_type: field(|c| c.content_type()),
                body: field(|c| c.message_body()),
            }
        }
        Some(ActionTypeEnum::Redirect) => ActionSummary::Redirect,
        other => ActionSummary::Other {
            kind: other.map(|t| t.as_str().to_string()).unwrap_or_default(),
        },
    }
}

/// A rule's actions in full, in their order.
pub(super) fn actions_from_sdk(actions: &[Action]) -> Vec<RuleAction> {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order().unwrap_or(0));
    sorted.into_iter().map(rule_action_from_sdk).collect()
}

pub(super) fn rule_action_from_sdk(a: &Action) -> RuleAction {
    match a.r#type() {
        Some(ActionTypeEnum::Forward) => {
            let config = a.forward_config();
            let tuples = config.map(|c| c.target_groups()).unwrap_or_default();
            let mut target_groups: Vec<WeightedTargetGroup> = tuples
                .iter()
                .map(|t| WeightedTargetGroup {
                    arn: t.target_group_arn().unwrap_or_default().to_string(),
                    // A weight defaults to 1 (ELBv2 API, TargetGroupTuple).
                    weight: t.weight().map_or(1, |w| w.max(0) as u32),
                })
                .collect();
            if target_groups.is_empty()
                && let Some(arn) = a.target_group_arn()
            {
                target_groups.push(WeightedTargetGroup {
                    arn: arn.to_string(),
                    weight: 1,
                });
            }
            let stickiness = config
                .and_then(|c| c.target_group_stickiness_config())
                .filter(|s| s.enabled() == Some(true));
            RuleAction::Forward(Forward {
                target_groups,
                stickiness_seconds: stickiness
                    .map(|s| s.duration_seconds().unwrap_or(0).max(0) as u32),
                weighted: a.target_group_arn().is_none() || tuples.len() > 1,
            })
        }
        Some(ActionTypeEnum::FixedResponse) => {
            let config = a.fixed_response_config();
            let field = |get: fn(&FixedResponseActionConfig) -> Option<&str>| {
                config.and_then(get).unwrap_or_default().to_string()
            };
            RuleAction::FixedResponse(FixedResponse {
                status_code: field(|c| c.status_code()),
                content_type: field(|c| c.content_type()),
                body: field(|c| c.message_body()),
            })
        }
        Some(ActionTypeEnum::Redirect) => {
            let c = a.redirect_config();
            let field = |get: fn(&RedirectActionConfig) -> Option<&str>| {
                c.and_then(get).map(str::to_string)
            };
            RuleAction::Redirect(Redirect {
                protocol: field(|c| c.protocol()),
                port: field(|c| c.port()),
                host: field(|c| c.host()),
                path: field(|c| c.path()),
                query: field(|c| c.query()),
                status_code: c
                    .and_then(|c| c.status_code())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
        }
        Some(
            kind @ (ActionTypeEnum::AuthenticateOidc
            | ActionTypeEnum::AuthenticateCognito
            | ActionTypeEnum::JwtValidation),
        ) => RuleAction::Authenticate {
            kind: kind.as_str().to_string(),
        },
        other => RuleAction::Other {
            kind: other.map(|t| t.as_str().to_string()).unwrap_or_default(),
        },
    }
}

/// One action to write, at `order`.
pub(super) fn action_to_sdk(action: &RuleAction, order: i32) -> Result<Action, ListenersError> {
    let b = Action::builder().order(order);
    Ok(match action {
        RuleAction::Forward(f) if !f.weighted && f.stickiness_seconds.is_none() => b
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(f.target_groups.first().map_or("", |t| t.arn.as_str()))
            .build(),
        RuleAction::Forward(f) => {
            let mut config = ForwardActionConfig::builder().set_target_groups(Some(
                f.target_groups
                    .iter()
                    .map(|t| {
                        TargetGroupTuple::builder()
                            .target_group_arn(&t.arn)
                            .weight(t.weight as i32)
                            .build()
                    })
                    .collect(),
            ));
            if let Some(seconds) = f.stickiness_seconds {
                config = config.target_group_stickiness_config(
                    TargetGroupStickinessConfig::builder()
                        .enabled(true)
                        .duration_seconds(seconds as i32)
                        .build(),
                );
            }
            b.r#type(ActionTypeEnum::Forward)
                .forward_config(config.build())
                .build()
        }
        RuleAction::FixedResponse(r) => b
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(&r.status_code)
                    .content_type(&r.content_type)
                    .message_body(&r.body)
                    .build(),
            )
            .build(),
        RuleAction::Redirect(r) => b
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .set_protocol(r.protocol.clone())
                    .set_port(r.port.clone())
                    .set_host(r.host.clone())
                    .set_path(r.path.clone())
                    .set_query(r.query.clone())
                    .status_code(RedirectActionStatusCodeEnum::from(r.status_code.as_str()))
                    .build(),
            )
            .build(),
        RuleAction::Authenticate { kind } | RuleAction::Other { kind } => {
            return Err(ListenersError::Invalid(format!(
                "cannot create a rule with a {kind} action"
            )));
        }
    })
}
