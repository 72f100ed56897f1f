//! [`Aws`], the implementation of the `crate::listeners::Listeners` trait over the ELBv2 and
//! STS SDK clients. The one adapter that knows the SDK (with its conversions of rules,
//! conditions, actions and listeners into `crate::planner`'s types, in `convert`); its errors
//! become [`ListenersError`] here.
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
use elbv2::types::{Action, ActionTypeEnum, RulePriorityPair};

use crate::listeners::ListenersError;
use crate::listeners::acm::Acm;
use crate::listeners::calls::{DESCRIBE_TAGS_BATCH, DESCRIBE_TARGET_GROUPS_BATCH, Listeners};
use crate::planner::{
    Condition, FixedResponse, ListenerInfo, MAX_PRIORITY, MIN_PRIORITY, NewRule, RuleView,
    TargetGroupHealth, TargetGroupInfo, TargetState,
};
use crate::retry::Backoff;

mod convert;
use convert::{
    action_to_sdk, condition_to_sdk, fixed_response_action, listener_info, rule_view, sdk_tags,
};

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
