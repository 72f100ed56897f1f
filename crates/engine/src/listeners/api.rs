//! [`Aws`], the implementation of the `crate::listeners::Listeners` trait over the ELBv2 and
//! STS SDK clients. The only file that knows the SDK: conditions,
//! actions, listeners and errors are converted here into `crate::planner`'s types and
//! [`ListenersError`].
//!
//! AWS and emulator quirks handled here rather than trusted: rules come back in any order
//! (sorted by priority here), the default rule reports the priority `"default"`, DescribeTags
//! takes at most [`DESCRIBE_TAGS_BATCH`] ARNs per call, priorities must stay within 1..=50000,
//! and SetRulePriorities is never retried by the SDK (a retry after a timeout could re-send a
//! call that was carried out); throttling, a rejected call, is retried here.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2 as elbv2;
use elbv2::error::{ProvideErrorMetadata, SdkError};
use elbv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ForwardActionConfig,
    HostHeaderConditionConfig, HttpHeaderConditionConfig, HttpRequestMethodConditionConfig,
    PathPatternConditionConfig, QueryStringConditionConfig, QueryStringKeyValuePair,
    RedirectActionConfig, RedirectActionStatusCodeEnum, RuleCondition, RulePriorityPair,
    SourceIpConditionConfig, Tag, TargetGroupStickinessConfig, TargetGroupTuple,
};

use crate::listeners::ListenersError;
use crate::listeners::acm::Acm;
use crate::listeners::calls::{DESCRIBE_TAGS_BATCH, DESCRIBE_TARGET_GROUPS_BATCH, Listeners};
use crate::planner::{
    ActionSummary, Condition, FixedResponse, Forward, ListenerInfo, MAX_PRIORITY, MIN_PRIORITY,
    NewRule, PlanningError, QueryPair, Redirect, RuleAction, RuleView, TargetGroupHealth,
    TargetGroupInfo, TargetState, WeightedTargetGroup,
};
use crate::retry::Backoff;

/// The real thing: ELBv2 and STS SDK clients (and ACM's, for the certificates' names).
#[derive(Debug, Clone)]
pub struct Aws {
    elb: elbv2::Client,
    sts: aws_sdk_sts::Client,
    acm: Acm,
}

impl Aws {
    /// Clients from one SDK configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            elb: elbv2::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            acm: Acm::new(config),
        }
    }
}

impl Listeners for Aws {
    async fn load_balancers(&self) -> Result<Vec<String>, ListenersError> {
        all_pages(|marker| async move {
            let page = self
                .elb
                .describe_load_balancers()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| call_error("DescribeLoadBalancers", "the region", e))?;
            let arns = page
                .load_balancers()
                .iter()
                .filter_map(|lb| lb.load_balancer_arn())
                .map(str::to_string)
                .collect();
            Ok((arns, page.next_marker))
        })
        .await
    }

    async fn listeners(&self, load_balancer: &str) -> Result<Vec<ListenerInfo>, ListenersError> {
        all_pages(|marker| async move {
            let page = self
                .elb
                .describe_listeners()
                .load_balancer_arn(load_balancer)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| call_error("DescribeListeners", load_balancer, e))?;
            let listeners = page.listeners().iter().map(listener_info).collect();
            Ok((listeners, page.next_marker))
        })
        .await
    }

    async fn listener(&self, listener: &str) -> Result<ListenerInfo, ListenersError> {
        let out = self
            .elb
            .describe_listeners()
            .listener_arns(listener)
            .send()
            .await;
        let not_found = || ListenersError::ListenerNotFound {
            listener: listener.to_string(),
        };
        match out {
            Ok(out) => out
                .listeners()
                .first()
                .map(listener_info)
                .ok_or_else(not_found),
            Err(e) if e.code() == Some("ListenerNotFound") => Err(not_found()),
            Err(e) => Err(call_error("DescribeListeners", listener, e)),
        }
    }

    async fn rules(&self, listener: &str) -> Result<Vec<RuleView>, ListenersError> {
        let mut out = all_pages(|marker| async move {
            let page = self
                .elb
                .describe_rules()
                .listener_arn(listener)
                .page_size(100)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| match e.code() {
                    Some("ListenerNotFound") => ListenersError::ListenerNotFound {
                        listener: listener.to_string(),
                    },
                    _ => call_error("DescribeRules", listener, e),
                })?;
            let rules = page
                .rules()
                .iter()
                .map(|rule| rule_view(listener, rule))
                .collect::<Result<_, _>>()?;
            Ok((rules, page.next_marker))
        })
        .await?;
        // The API does not promise an order (the emulator returns insertion order).
        out.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
        Ok(out)
    }

    async fn tags(
        &self,
        arns: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, String>>, ListenersError> {
        if arns.len() > DESCRIBE_TAGS_BATCH {
            return Err(ListenersError::Invalid(format!(
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
            .map_err(|e| call_error("DescribeTags", &arns.join(", "), e))?;
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

    async fn target_groups(
        &self,
        arns: &[String],
    ) -> Result<BTreeMap<String, TargetGroupInfo>, ListenersError> {
        if arns.len() > DESCRIBE_TARGET_GROUPS_BATCH {
            return Err(ListenersError::Invalid(format!(
                "DescribeTargetGroups is asked about at most {DESCRIBE_TARGET_GROUPS_BATCH} ARNs \
                 at a time, not {}",
                arns.len()
            )));
        }
        if arns.is_empty() {
            return Ok(BTreeMap::new());
        }
        let resource = arns.join(", ");
        let groups = all_pages(|marker| {
            let resource = &resource;
            async move {
                let page = self
                    .elb
                    .describe_target_groups()
                    .set_target_group_arns(Some(arns.to_vec()))
                    .set_marker(marker)
                    .send()
                    .await
                    .map_err(|e| call_error("DescribeTargetGroups", resource, e))?;
                let groups = page
                    .target_groups()
                    .iter()
                    .map(|tg| TargetGroupInfo {
                        arn: tg.target_group_arn().unwrap_or_default().to_string(),
                        name: tg.target_group_name().unwrap_or_default().to_string(),
                        target_type: tg
                            .target_type()
                            .map(|t| t.as_str().to_string())
                            .unwrap_or_default(),
                    })
                    .collect();
                Ok((groups, page.next_marker))
            }
        })
        .await?;
        Ok(groups.into_iter().map(|g| (g.arn.clone(), g)).collect())
    }

    async fn set_rule_priorities(
        &self,
        priorities: &[(String, u32)],
    ) -> Result<(), ListenersError> {
        let resource = priorities
            .iter()
            .map(|(a, p)| format!("{a} -> {p}"))
            .collect::<Vec<_>>()
            .join(", ");
        if priorities.is_empty() {
            return Err(ListenersError::Invalid(
                "SetRulePriorities with no rules".into(),
            ));
        }
        for (arn, p) in priorities {
            if !(MIN_PRIORITY..=MAX_PRIORITY).contains(p) {
                return Err(ListenersError::Invalid(format!(
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
        // anything else goes back to the caller, which finds out what happened by re-reading.
        let mut backoff = Backoff::doubling(Duration::from_millis(200)).attempts(6);
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
                Err(e) if is_throttling(e.code()) && backoff.wait().await => {}
                Err(e) => return Err(call_error("SetRulePriorities", &resource, e)),
            }
        }
    }

    async fn add_tags(&self, arn: &str, tags: &[(String, String)]) -> Result<(), ListenersError> {
        self.elb
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("AddTags", arn, e))
    }

    async fn create_rule(&self, rule: &NewRule) -> Result<String, ListenersError> {
        if !(MIN_PRIORITY..=MAX_PRIORITY).contains(&rule.priority) {
            return Err(ListenersError::Invalid(format!(
                "refusing to create a rule at priority {}, outside 1..=50000",
                rule.priority
            )));
        }
        let conditions = rule
            .conditions
            .iter()
            .map(condition_to_sdk)
            .collect::<Result<Vec<_>, _>>()?;
        let actions = if !rule.actions.is_empty() {
            rule.actions
                .iter()
                .enumerate()
                .map(|(i, a)| action_to_sdk(a, i as i32 + 1))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![match &rule.fixed_response {
                Some(response) => fixed_response_action(response),
                None => Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(&rule.target_group)
                    .build(),
            }]
        };
        let out = self
            .elb
            .create_rule()
            .listener_arn(&rule.listener)
            .priority(rule.priority as i32)
            .set_conditions(Some(conditions))
            .set_actions(Some(actions))
            .set_tags(Some(sdk_tags(&rule.tags)))
            .send()
            .await
            .map_err(|e| call_error("CreateRule", &rule.listener, e))?;
        out.rules()
            .first()
            .and_then(|r| r.rule_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                ListenersError::Invalid(format!("CreateRule on {} returned no rule", rule.listener))
            })
    }

    async fn delete_rule(&self, rule: &str) -> Result<(), ListenersError> {
        self.elb
            .delete_rule()
            .rule_arn(rule)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("DeleteRule", rule, e))
    }

    async fn modify_rule_conditions(
        &self,
        rule: &str,
        conditions: &[Condition],
    ) -> Result<(), ListenersError> {
        let conditions = conditions
            .iter()
            .map(condition_to_sdk)
            .collect::<Result<Vec<_>, _>>()?;
        self.elb
            .modify_rule()
            .rule_arn(rule)
            .set_conditions(Some(conditions))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("ModifyRule", rule, e))
    }

    async fn certificate_names(&self, listener: &str) -> Result<Vec<String>, ListenersError> {
        let mut certificates = all_pages(|marker| async move {
            let page = self
                .elb
                .describe_listener_certificates()
                .listener_arn(listener)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| call_error("DescribeListenerCertificates", listener, e))?;
            let certificates = page
                .certificates()
                .iter()
                .filter_map(|c| {
                    let arn = c.certificate_arn()?.to_string();
                    Some((!c.is_default().unwrap_or(false), arn))
                })
                .collect();
            Ok((certificates, page.next_marker))
        })
        .await?;
        // The default certificate first (false sorts before true).
        certificates.sort();
        let mut names = Vec::new();
        for (_, arn) in certificates {
            for name in self.acm.names(&arn).await? {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    async fn caller(&self) -> Result<String, ListenersError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| call_error("GetCallerIdentity", "the caller", e))?;
        Ok(out.arn().unwrap_or("unknown").to_string())
    }

    async fn modify_fixed_response(
        &self,
        rule: &str,
        response: &FixedResponse,
    ) -> Result<(), ListenersError> {
        self.elb
            .modify_rule()
            .rule_arn(rule)
            .actions(fixed_response_action(response))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("ModifyRule", rule, e))
    }

    async fn listener_attributes(
        &self,
        listener: &str,
    ) -> Result<BTreeMap<String, String>, ListenersError> {
        let out = self
            .elb
            .describe_listener_attributes()
            .listener_arn(listener)
            .send()
            .await
            .map_err(|e| call_error("DescribeListenerAttributes", listener, e))?;
        Ok(out
            .attributes()
            .iter()
            .filter_map(|a| {
                Some((
                    a.key()?.to_string(),
                    a.value().unwrap_or_default().to_string(),
                ))
            })
            .collect())
    }

    async fn target_group_health(
        &self,
        target_group: &str,
    ) -> Result<TargetGroupHealth, ListenersError> {
        let groups = self
            .elb
            .describe_target_groups()
            .target_group_arns(target_group)
            .send()
            .await
            .map_err(|e| call_error("DescribeTargetGroups", target_group, e))?;
        let group = groups.target_groups().first();
        let health = self
            .elb
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await
            .map_err(|e| call_error("DescribeTargetHealth", target_group, e))?;
        Ok(TargetGroupHealth {
            arn: target_group.to_string(),
            health_check_enabled: group.and_then(|g| g.health_check_enabled()),
            health_check_path: group
                .and_then(|g| g.health_check_path())
                .map(str::to_string),
            health_check_interval_seconds: group.and_then(|g| g.health_check_interval_seconds()),
            matcher: group
                .and_then(|g| g.matcher())
                .and_then(|m| m.http_code())
                .map(str::to_string),
            targets: health
                .target_health_descriptions()
                .iter()
                .map(|d| TargetState {
                    id: d
                        .target()
                        .and_then(|t| t.id())
                        .unwrap_or_default()
                        .to_string(),
                    state: d
                        .target_health()
                        .and_then(|h| h.state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    reason: d
                        .target_health()
                        .and_then(|h| h.reason())
                        .map(|r| r.as_str().to_string()),
                })
                .collect(),
        })
    }
}

/// The fixed-response action of a [`FixedResponse`].
fn fixed_response_action(response: &FixedResponse) -> Action {
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

/// Every page of a `Marker`/`NextMarker` listing: `page(marker)` reads one page and gives its
/// items and the next marker; a missing or empty marker ends the listing.
async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, ListenersError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), ListenersError>>,
{
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let (items, next) = page(marker).await?;
        out.extend(items);
        match next {
            Some(m) if !m.is_empty() => marker = Some(m),
            _ => return Ok(out),
        }
    }
}

/// A failed SDK call as a [`ListenersError::Call`]: the AWS code and message when the service
/// answered (else the error's causes, each once), and whether the call may have been carried
/// out anyway.
fn call_error<E, R>(operation: &'static str, resource: &str, err: SdkError<E, R>) -> ListenersError
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
        _ => maintenance_core::causes::chain(&err),
    };
    ListenersError::Call {
        operation,
        resource: resource.to_string(),
        code,
        message,
        outcome_unknown,
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

fn sdk_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
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

/// One rule as read, without its tags.
fn rule_view(listener: &str, rule: &elbv2::types::Rule) -> Result<RuleView, ListenersError> {
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

fn condition_from_sdk(c: &RuleCondition) -> Condition {
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

fn condition_to_sdk(condition: &Condition) -> Result<RuleCondition, ListenersError> {
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

fn action_from_sdk(actions: &[Action]) -> ActionSummary {
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
fn actions_from_sdk(actions: &[Action]) -> Vec<RuleAction> {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order().unwrap_or(0));
    sorted.into_iter().map(rule_action_from_sdk).collect()
}

fn rule_action_from_sdk(a: &Action) -> RuleAction {
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
fn action_to_sdk(action: &RuleAction, order: i32) -> Result<Action, ListenersError> {
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
