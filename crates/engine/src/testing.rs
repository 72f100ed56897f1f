//! In-memory stand-ins for the engine's edges, for its unit tests (built only under `cfg(test)`):
//! [`FakeListeners`], one listener whose rules live in memory and whose `SetRulePriorities` is
//! checked as strictly as the API checks it (priorities in 1..=50000, none held by a rule the
//! call does not move), with a failure injected on demand; and [`FakeParameters`], SSM as a
//! map (the lease, the owner record, the bypass token). The wire itself is tested against moto
//! (tests/switching, tests/automation); these are for the logic, fast and without a server.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::listeners::{Listeners, ListenersError};
use crate::planner::{
    ActionSummary, Condition, ListenerInfo, MAX_PRIORITY, MIN_PRIORITY, NewRule, RuleView,
    TargetGroupInfo,
};
use maintenance_responder::ssm::{
    FetchError, LockParameters, Parameter, ParameterPage, ParameterStore, ParameterWriter,
    StoredType, Write,
};

/// The load balancer of the fake listener.
pub const LOAD_BALANCER: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188";
/// The fake listener.
pub const LISTENER: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2";
/// The application's target group (instances).
pub const APP_TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-app/73e2d6bc24d8a067";
/// The responder's target group (a Lambda function).
pub const RESPONDER_TARGET_GROUP: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-maintenance/0ff4d6bc24d8a068";

#[derive(Default)]
struct Rules {
    /// Every rule, the default rule last, with its tags.
    rules: Vec<RuleView>,
    created: u32,
    /// SetRulePriorities calls made so far.
    priority_calls: usize,
    /// The SetRulePriorities call (1-based, counted from the start) that fails.
    failing_call: Option<usize>,
}

/// One HTTPS listener in memory (see the module doc).
pub struct FakeListeners {
    listener: ListenerInfo,
    groups: BTreeMap<String, TargetGroupInfo>,
    state: Mutex<Rules>,
}

impl FakeListeners {
    /// A listener with application rules at `priorities` forwarding to the application, the
    /// last one catching every path (`/*`), and its default rule.
    pub fn with_app_rules(priorities: &[u32]) -> Self {
        let group = |arn: &str, name: &str, kind: &str| {
            let info = TargetGroupInfo {
                arn: arn.into(),
                name: name.into(),
                target_type: kind.into(),
            };
            (arn.to_string(), info)
        };
        let fake = Self {
            listener: ListenerInfo {
                arn: LISTENER.into(),
                load_balancer: LOAD_BALANCER.into(),
                protocol: "HTTPS".into(),
                port: Some(443),
            },
            groups: [
                group(APP_TARGET_GROUP, "shop-app", "instance"),
                group(RESPONDER_TARGET_GROUP, "shop-maintenance", "lambda"),
            ]
            .into(),
            state: Mutex::default(),
        };
        let last = priorities.len().saturating_sub(1);
        for (i, p) in priorities.iter().enumerate() {
            let path = if i == last {
                "/*".to_string()
            } else {
                format!("/app{i}/*")
            };
            fake.insert(
                Some(*p),
                path,
                ActionSummary::Forward {
                    target_groups: vec![APP_TARGET_GROUP.into()],
                    weights: Vec::new(),
                },
                BTreeMap::new(),
            );
        }
        fake.insert(
            None,
            String::new(),
            ActionSummary::Forward {
                target_groups: vec![APP_TARGET_GROUP.into()],
                weights: Vec::new(),
            },
            BTreeMap::new(),
        );
        fake
    }

    fn insert(
        &self,
        priority: Option<u32>,
        path: String,
        action: ActionSummary,
        tags: BTreeMap<String, String>,
    ) -> String {
        let mut state = self.state.lock().unwrap();
        state.created += 1;
        let arn = format!(
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/{:016x}",
            state.created
        );
        let conditions = match priority {
            Some(_) => vec![Condition::PathPattern { values: vec![path] }],
            None => Vec::new(),
        };
        let rule = RuleView {
            arn: arn.clone(),
            actions: Vec::new(),
            priority,
            conditions,
            action,
            tags,
        };
        let at = state.rules.iter().position(|r| r.priority.is_none());
        match at {
            Some(default) => state.rules.insert(default, rule),
            None => state.rules.push(rule),
        }
        arn
    }

    /// Every rule but the default, as (ARN, priority), in priority order.
    pub fn priorities(&self) -> Vec<(String, u32)> {
        let state = self.state.lock().unwrap();
        let mut out: Vec<(String, u32)> = state
            .rules
            .iter()
            .filter_map(|r| Some((r.arn.clone(), r.priority?)))
            .collect();
        out.sort_by_key(|r| r.1);
        out
    }

    /// The `n`th SetRulePriorities call from now (1: the next one) fails, as a throttled
    /// service would refuse it (nothing done).
    pub fn fail_priorities_call(&self, n: usize) {
        let mut state = self.state.lock().unwrap();
        state.failing_call = Some(state.priority_calls + n);
    }

    fn invalid(operation: &'static str, resource: &str, message: String) -> ListenersError {
        ListenersError::Call {
            operation,
            resource: resource.to_string(),
            code: Some("ValidationError".into()),
            message,
            outcome_unknown: false,
        }
    }
}

impl Listeners for FakeListeners {
    async fn load_balancers(&self) -> Result<Vec<String>, ListenersError> {
        Ok(vec![LOAD_BALANCER.into()])
    }

    async fn listeners(&self, load_balancer: &str) -> Result<Vec<ListenerInfo>, ListenersError> {
        let mine = load_balancer == self.listener.load_balancer;
        Ok(mine.then(|| self.listener.clone()).into_iter().collect())
    }

    async fn listener(&self, listener: &str) -> Result<ListenerInfo, ListenersError> {
        match listener == self.listener.arn {
            true => Ok(self.listener.clone()),
            false => Err(ListenersError::ListenerNotFound {
                listener: listener.into(),
            }),
        }
    }

    async fn rules(&self, listener: &str) -> Result<Vec<RuleView>, ListenersError> {
        self.listener(listener).await?;
        let state = self.state.lock().unwrap();
        let mut rules: Vec<RuleView> = state
            .rules
            .iter()
            .map(|r| RuleView {
                tags: BTreeMap::new(),
                ..r.clone()
            })
            .collect();
        rules.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
        Ok(rules)
    }

    async fn tags(
        &self,
        arns: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, String>>, ListenersError> {
        let state = self.state.lock().unwrap();
        Ok(arns
            .iter()
            .map(|arn| {
                let tags = state.rules.iter().find(|r| r.arn == *arn);
                (
                    arn.clone(),
                    tags.map(|r| r.tags.clone()).unwrap_or_default(),
                )
            })
            .collect())
    }

    async fn target_groups(
        &self,
        arns: &[String],
    ) -> Result<BTreeMap<String, TargetGroupInfo>, ListenersError> {
        Ok(arns
            .iter()
            .filter_map(|arn| Some((arn.clone(), self.groups.get(arn)?.clone())))
            .collect())
    }

    async fn set_rule_priorities(
        &self,
        priorities: &[(String, u32)],
    ) -> Result<(), ListenersError> {
        let mut state = self.state.lock().unwrap();
        state.priority_calls += 1;
        if state.failing_call == Some(state.priority_calls) {
            return Err(ListenersError::Call {
                operation: "SetRulePriorities",
                resource: LISTENER.into(),
                code: Some("Throttling".into()),
                message: "Rate exceeded (injected)".into(),
                outcome_unknown: false,
            });
        }
        for (arn, to) in priorities {
            if !(MIN_PRIORITY..=MAX_PRIORITY).contains(to) {
                return Err(Self::invalid(
                    "SetRulePriorities",
                    arn,
                    format!("{to} out of range"),
                ));
            }
            let held = state
                .rules
                .iter()
                .find(|r| r.priority == Some(*to) && !priorities.iter().any(|(a, _)| *a == r.arn));
            if let Some(holder) = held {
                return Err(Self::invalid(
                    "SetRulePriorities",
                    arn,
                    format!("PriorityInUse: {to} is held by {}", holder.arn),
                ));
            }
            if !state
                .rules
                .iter()
                .any(|r| r.arn == *arn && r.priority.is_some())
            {
                return Err(Self::invalid(
                    "SetRulePriorities",
                    arn,
                    "no such rule".into(),
                ));
            }
        }
        for (arn, to) in priorities {
            let rule = state
                .rules
                .iter_mut()
                .find(|r| r.arn == *arn)
                .expect("checked");
            rule.priority = Some(*to);
        }
        Ok(())
    }

    async fn add_tags(&self, arn: &str, tags: &[(String, String)]) -> Result<(), ListenersError> {
        let mut state = self.state.lock().unwrap();
        let Some(rule) = state.rules.iter_mut().find(|r| r.arn == arn) else {
            return Err(Self::invalid("AddTags", arn, "no such resource".into()));
        };
        rule.tags.extend(tags.iter().cloned());
        Ok(())
    }

    async fn create_rule(&self, rule: &NewRule) -> Result<String, ListenersError> {
        if self.priorities().iter().any(|(_, p)| *p == rule.priority) {
            return Err(Self::invalid(
                "CreateRule",
                &rule.listener,
                format!("PriorityInUse: {}", rule.priority),
            ));
        }
        let action = match &rule.fixed_response {
            Some(f) => ActionSummary::FixedResponse {
                status: f.status_code.clone(),
                content_type: f.content_type.clone(),
                body: f.body.clone(),
            },
            None => ActionSummary::Forward {
                target_groups: vec![rule.target_group.clone()],
                weights: Vec::new(),
            },
        };
        let arn = self.insert(
            Some(rule.priority),
            String::new(),
            action,
            rule.tags.iter().cloned().collect(),
        );
        let mut state = self.state.lock().unwrap();
        let created = state
            .rules
            .iter_mut()
            .find(|r| r.arn == arn)
            .expect("inserted");
        created.conditions = rule.conditions.clone();
        created.actions = rule.actions.clone();
        Ok(arn)
    }

    async fn modify_rule_conditions(
        &self,
        rule: &str,
        conditions: &[Condition],
    ) -> Result<(), ListenersError> {
        let mut state = self.state.lock().unwrap();
        let Some(found) = state.rules.iter_mut().find(|r| r.arn == rule) else {
            return Err(Self::invalid("ModifyRule", rule, "no such rule".into()));
        };
        found.conditions = conditions.to_vec();
        Ok(())
    }

    async fn certificate_names(&self, _listener: &str) -> Result<Vec<String>, ListenersError> {
        Ok(vec!["shop.example.com".into()])
    }

    async fn caller(&self) -> Result<String, ListenersError> {
        Ok("arn:aws:sts::123456789012:assumed-role/ops/alice".into())
    }
}

/// SSM as a map of parameters and their types (see the module doc).
#[derive(Default)]
pub struct FakeParameters {
    values: Mutex<BTreeMap<String, (String, StoredType)>>,
}

impl FakeParameters {
    /// The value of `name`, if it is set.
    pub fn value(&self, name: &str) -> Option<String> {
        self.values.lock().unwrap().get(name).map(|v| v.0.clone())
    }
}

impl ParameterStore for FakeParameters {
    async fn parameters_page(
        &self,
        path: &str,
        _token: Option<&str>,
    ) -> Result<ParameterPage, FetchError> {
        let under = format!("{}/", path.trim_end_matches('/'));
        let values = self.values.lock().unwrap();
        let parameters = values
            .iter()
            .filter(|(name, _)| name.starts_with(&under))
            .map(|(name, (value, _))| Parameter {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        Ok(ParameterPage {
            parameters,
            next_token: None,
        })
    }
}

impl ParameterWriter for FakeParameters {
    async fn stored_types(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, StoredType>, FetchError> {
        let values = self.values.lock().unwrap();
        Ok(names
            .iter()
            .filter_map(|n| Some((n.clone(), values.get(n)?.1.clone())))
            .collect())
    }

    async fn put(&self, write: &Write, kind: &StoredType) -> Result<(), FetchError> {
        let entry = (write.value.clone(), kind.clone());
        self.values
            .lock()
            .unwrap()
            .insert(write.name.clone(), entry);
        Ok(())
    }
}

impl LockParameters for FakeParameters {
    async fn create_new(&self, name: &str, value: &str) -> Result<bool, FetchError> {
        let mut values = self.values.lock().unwrap();
        if values.contains_key(name) {
            return Ok(false);
        }
        values.insert(name.into(), (value.into(), StoredType::String));
        Ok(true)
    }

    async fn read(&self, name: &str) -> Result<Option<(String, Option<i64>)>, FetchError> {
        Ok(self.value(name).map(|v| (v, None)))
    }

    async fn delete(&self, name: &str) -> Result<bool, FetchError> {
        Ok(self.values.lock().unwrap().remove(name).is_some())
    }

    async fn overwrite(&self, name: &str, value: &str) -> Result<(), FetchError> {
        let entry = (value.to_string(), StoredType::String);
        self.values.lock().unwrap().insert(name.into(), entry);
        Ok(())
    }
}
