//! Finding what a listener's rules do that their tags do not say
//! ([`ListenerSnapshot::findings`]), by what they do: where they forward, what is left of
//! `maintctl`'s tags; and refusing a listener whose findings block
//! ([`ListenerSnapshot::refuse_unrecognised`]).

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::planner::fallback::check_fallback_action;
use crate::planner::findings::{Finding, TAG_PREFIX};
use crate::planner::listener::{
    ActionSummary, Condition, ListenerSnapshot, PlanningError, RuleView,
};
use crate::planner::priorities::{Role, State};
use maintenance_core::deploy_names::tags;

/// One rule, and what it is found to be.
struct Recognised<'a> {
    rule: &'a RuleView,
    role: Role,
    finding: Option<Finding>,
}

impl ListenerSnapshot {
    /// The findings that make switching or attaching this listener unsafe, as an error.
    pub fn refuse_unrecognised(&self) -> Result<(), PlanningError> {
        let findings: Vec<Finding> = self
            .findings()
            .into_iter()
            .filter(Finding::blocks)
            .collect();
        if findings.is_empty() {
            return Ok(());
        }
        Err(PlanningError::Unrecognised {
            listener: self.listener.arn.clone(),
            findings,
        })
    }

    /// What the rules do that their tags do not say, blocking findings first.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self.recognised().filter_map(|r| r.finding).collect();
        let tagged: Vec<String> = self
            .rules
            .iter()
            .filter(|r| !r.is_default() && r.role() == Role::Maintenance)
            .map(|r| r.arn.clone())
            .collect();
        if tagged.len() > 1 {
            out.push(Finding::SeveralMaintenanceRules { rules: tagged });
        }
        if let Some(reason) = &self.target_groups_unread {
            out.push(Finding::TargetGroupsUnread {
                reason: reason.clone(),
            });
        }
        out.sort_by_key(|f| !f.blocks());
        out
    }

    /// What a rule is, from its tags and from what it does: an untagged rule forwarding to the
    /// responder's target group is a maintenance rule; one that lost only its role tag is what
    /// it does.
    pub fn recognised_role(&self, rule: &RuleView) -> Role {
        self.recognised()
            .find(|r| r.rule.arn == rule.arn)
            .map_or(Role::App, |r| r.role)
    }

    /// The maintenance rule as tagged, else the first rule recognised as one by what it does.
    pub fn responder_rule(&self) -> Option<&RuleView> {
        self.maintenance_rule().or_else(|| {
            self.recognised()
                .find(|r| r.role == Role::Maintenance)
                .map(|r| r.rule)
        })
    }

    /// Whether maintenance is on as routing says, counting every rule recognised as a
    /// maintenance rule: on when one comes before every application rule; off when each is
    /// at its parked priority or behind an application rule that catches every request.
    pub fn routing_state(&self) -> State {
        let rules: Vec<(&RuleView, Role, u32)> = self
            .recognised()
            .filter_map(|r| Some((r.rule, r.role, r.rule.priority?)))
            .collect();
        let responders: Vec<&(&RuleView, Role, u32)> = rules
            .iter()
            .filter(|(_, role, _)| matches!(role, Role::Maintenance | Role::Fallback))
            .collect();
        if responders.is_empty() {
            return State::Unmanaged;
        }
        let apps = || rules.iter().filter(|(_, role, _)| *role == Role::App);
        let first_app = apps().map(|&(_, _, p)| p).min().unwrap_or(u32::MAX);
        if responders.iter().any(|&&(_, _, p)| p < first_app) {
            return State::On;
        }
        let parked = |r: &RuleView, p: u32| {
            r.tags
                .get(tags::PARKED_PRIORITY)
                .and_then(|t| t.parse().ok())
                == Some(p)
        };
        let caught = |p: u32| apps().any(|&(a, _, q)| q < p && a.catches_everything());
        if responders
            .iter()
            .all(|&&(r, _, p)| parked(r, p) || caught(p))
        {
            State::Off
        } else {
            State::Between
        }
    }

    /// The target groups known to be the responder's: the ones named from elsewhere, and the
    /// ones the maintenance rules (tagged, or recognised by their other tags) forward to,
    /// unless known not to be `lambda`.
    pub fn known_responder_target_groups(&self) -> BTreeSet<&str> {
        let mut known: BTreeSet<&str> = self
            .responder_target_groups
            .iter()
            .map(String::as_str)
            .collect();
        for r in self.rules.iter().filter(|r| !r.is_default()) {
            let maintenance = match r.tags.get(tags::ROLE) {
                Some(role) => role == tags::ROLE_MAINTENANCE,
                None => has_leftover_tags(r) && self.forwards_to_lambda(r),
            };
            if maintenance {
                known.extend(
                    r.action
                        .target_groups()
                        .iter()
                        .filter(|t| self.is_lambda(t) != Some(false))
                        .map(String::as_str),
                );
            }
        }
        known
    }

    fn forwards_to_lambda(&self, rule: &RuleView) -> bool {
        rule.action
            .target_groups()
            .iter()
            .any(|t| self.is_lambda(t) == Some(true))
    }

    /// Every non-default rule with what it is found to be.
    fn recognised(&self) -> impl Iterator<Item = Recognised<'_>> {
        let known = self.known_responder_target_groups();
        let first_untagged = self
            .rules
            .iter()
            .filter(|r| !r.tags.contains_key(tags::ROLE))
            .filter_map(|r| r.priority)
            .min();
        self.rules
            .iter()
            .filter(|r| !r.is_default())
            .map(move |rule| self.recognise(rule, &known, first_untagged))
    }

    fn recognise<'a>(
        &self,
        rule: &'a RuleView,
        known: &BTreeSet<&str>,
        first_untagged: Option<u32>,
    ) -> Recognised<'a> {
        let priority = rule.priority.unwrap_or_default();
        let forwards = rule.action.target_groups();
        let to_responder = forwards.iter().find(|t| known.contains(t.as_str()));
        let (role, finding) = match rule.tags.get(tags::ROLE).map(String::as_str) {
            Some(tags::ROLE_MAINTENANCE) => (
                Role::Maintenance,
                self.maintenance_elsewhere(rule, forwards),
            ),
            Some(tags::ROLE_BYPASS) => (Role::Bypass, bypass_finding(rule, to_responder)),
            Some(tags::ROLE_FALLBACK) => (Role::Fallback, fallback_finding(rule)),
            Some(_) => (Role::App, None),
            None if has_leftover_tags(rule) => {
                let role = if to_responder.is_some() || self.forwards_to_lambda(rule) {
                    Role::Maintenance
                } else if matches!(rule.action, ActionSummary::FixedResponse { .. }) {
                    Role::Fallback
                } else {
                    Role::Bypass
                };
                let left = rule
                    .tags
                    .keys()
                    .filter(|k| k.starts_with(TAG_PREFIX))
                    .cloned()
                    .collect();
                let finding = Finding::LostRoleTag {
                    rule: rule.arn.clone(),
                    priority,
                    role,
                    tags: left,
                };
                (role, Some(finding))
            }
            None => self.untagged(rule, to_responder, first_untagged == rule.priority),
        };
        Recognised {
            rule,
            role,
            finding,
        }
    }

    /// A rule without any of `maintctl`'s tags: the responder's if it forwards to its target
    /// group alone; a weighted forward with it is a finding too, and so (as a warning) is
    /// every request sent to another `lambda` target group.
    fn untagged(
        &self,
        rule: &RuleView,
        to_responder: Option<&String>,
        first: bool,
    ) -> (Role, Option<Finding>) {
        let priority = rule.priority.unwrap_or_default();
        let forwards = rule.action.target_groups();
        if let Some(tg) = to_responder {
            if forwards.len() > 1 {
                let finding = Finding::PartlyToResponder {
                    rule: rule.arn.clone(),
                    priority,
                    target_group: tg.clone(),
                };
                return (Role::App, Some(finding));
            }
            let finding = Finding::UntaggedResponder {
                rule: rule.arn.clone(),
                priority,
                target_group: tg.clone(),
                first,
            };
            return (Role::Maintenance, Some(finding));
        }
        let lambda = forwards.iter().find(|t| self.is_lambda(t) == Some(true));
        let finding =
            lambda
                .filter(|_| rule.catches_everything())
                .map(|tg| Finding::PossibleResponder {
                    rule: rule.arn.clone(),
                    priority,
                    target_group: tg.clone(),
                    first,
                });
        (Role::App, finding)
    }

    /// A maintenance rule must forward to one target group, not known to be other than
    /// `lambda`.
    fn maintenance_elsewhere(&self, rule: &RuleView, forwards: &[String]) -> Option<Finding> {
        let odd = match forwards {
            [] => true,
            [tg] => self.is_lambda(tg) == Some(false),
            _ => true,
        };
        odd.then(|| {
            let types: Vec<String> = forwards
                .iter()
                .filter_map(|t| self.target_groups.get(t))
                .map(|t| format!("{} is of type {}", t.name, t.target_type))
                .collect();
            let mut action = rule.action.to_string();
            if !types.is_empty() {
                action.push_str(&format!(" ({})", types.join(", ")));
            }
            Finding::MaintenanceForwardsElsewhere {
                rule: rule.arn.clone(),
                action,
            }
        })
    }
}

/// True when a rule without a role tag has other tags of `maintctl`'s.
fn has_leftover_tags(rule: &RuleView) -> bool {
    !rule.tags.contains_key(tags::ROLE) && rule.tags.keys().any(|k| k.starts_with(TAG_PREFIX))
}

/// A fallback rule that is not what `on --fallback` expects: a fixed-response 503.
fn fallback_finding(rule: &RuleView) -> Option<Finding> {
    check_fallback_action(rule)
        .err()
        .map(|action| Finding::FallbackNotFixedResponse {
            rule: rule.arn.clone(),
            action,
        })
}

/// A bypass rule every client matches, or one that forwards to the responder.
fn bypass_finding(rule: &RuleView, to_responder: Option<&String>) -> Option<Finding> {
    if let Some(tg) = to_responder {
        return Some(Finding::BypassToResponder {
            rule: rule.arn.clone(),
            target_group: tg.clone(),
        });
    }
    if rule.catches_everything() {
        return Some(Finding::BypassLetsEveryoneIn {
            rule: rule.arn.clone(),
            condition: "path /*".into(),
        });
    }
    rule.conditions.iter().find_map(|c| match c {
        Condition::SourceIp { values } => values
            .iter()
            .find(|v| v.parse::<IpNet>().is_ok_and(|n| n.prefix_len() == 0))
            .map(|v| Finding::BypassLetsEveryoneIn {
                rule: rule.arn.clone(),
                condition: format!("source-ip {v}"),
            }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::listener::{ListenerInfo, TargetGroupInfo};

    fn rule(
        arn: &str,
        priority: Option<u32>,
        path: &str,
        tgs: &[&str],
        t: &[(&str, &str)],
    ) -> RuleView {
        RuleView {
            arn: arn.into(),
            actions: Vec::new(),
            priority,
            conditions: vec![Condition::PathPattern {
                values: vec![path.into()],
            }],
            action: ActionSummary::Forward {
                target_groups: tgs.iter().map(|s| s.to_string()).collect(),
                weights: Vec::new(),
            },
            tags: t
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn snapshot(rules: Vec<RuleView>) -> ListenerSnapshot {
        let info = ListenerInfo {
            arn: "L".into(),
            load_balancer: "LB".into(),
            protocol: "HTTP".into(),
            port: Some(80),
        };
        let mut s = ListenerSnapshot::new(info, rules);
        for (arn, kind) in [
            ("tg-mr", "lambda"),
            ("tg-app", "instance"),
            ("tg-fn", "lambda"),
        ] {
            s.target_groups.insert(
                arn.into(),
                TargetGroupInfo {
                    arn: arn.into(),
                    name: arn.into(),
                    target_type: kind.into(),
                },
            );
        }
        s
    }

    const MAINT: &[(&str, &str)] = &[
        (tags::ROLE, "maintenance"),
        (tags::PARKED_PRIORITY, "50000"),
    ];

    #[test]
    fn a_plain_attached_listener_has_no_finding() {
        let s = snapshot(vec![
            rule("a", Some(10), "/*", &["tg-app"], &[]),
            rule("api", Some(20), "/api/*", &["tg-fn"], &[]),
            rule("m", Some(50_000), "/*", &["tg-mr"], MAINT),
        ]);
        assert_eq!(s.findings(), vec![]);
        assert_eq!(s.routing_state(), State::Off);
    }

    #[test]
    fn a_maintenance_rule_that_lost_its_role_tag_is_still_one() {
        let s = snapshot(vec![
            rule(
                "m",
                Some(5),
                "/*",
                &["tg-mr"],
                &[(tags::PARKED_PRIORITY, "50000")],
            ),
            rule("a", Some(10), "/*", &["tg-app"], &[]),
        ]);
        let f = s.findings();
        assert!(
            matches!(
                &f[..],
                [Finding::LostRoleTag {
                    role: Role::Maintenance,
                    ..
                }]
            ),
            "{f:?}"
        );
        assert!(f[0].blocks());
        assert_eq!(s.routing_state(), State::On);
        assert_eq!(s.responder_rule().unwrap().arn, "m");
        assert!(f[0].to_string().contains("Value=maintenance"), "{}", f[0]);
    }

    #[test]
    fn untagged_rules_forwarding_to_the_responder_are_found() {
        let s = snapshot(vec![
            rule("u", Some(3), "/*", &["tg-mr"], &[]),
            rule("w", Some(4), "/shop/*", &["tg-app", "tg-mr"], &[]),
            rule("a", Some(10), "/*", &["tg-app"], &[]),
            rule("m", Some(50_000), "/*", &["tg-mr"], MAINT),
        ]);
        let f = s.findings();
        assert!(
            matches!(&f[0], Finding::UntaggedResponder { first: true, .. }),
            "{f:?}"
        );
        assert!(matches!(&f[1], Finding::PartlyToResponder { .. }), "{f:?}");
        assert_eq!(
            s.routing_state(),
            State::On,
            "the untagged rule answers first"
        );
        assert_eq!(s.recognised_role(&s.rules[0]), Role::Maintenance);
        assert_eq!(s.recognised_role(&s.rules[1]), Role::App);
    }

    #[test]
    fn the_responder_is_known_from_elsewhere_and_other_lambdas_only_warn() {
        let mut s = snapshot(vec![
            rule("u", Some(3), "/*", &["tg-mr"], &[]),
            rule("a", Some(10), "/*", &["tg-app"], &[]),
        ]);
        // Not known to be the responder's: a warning only.
        let f = s.findings();
        assert!(
            matches!(&f[..], [Finding::PossibleResponder { first: true, .. }]),
            "{f:?}"
        );
        assert!(!f[0].blocks());
        assert_eq!(s.routing_state(), State::Unmanaged);
        s.responder_target_groups.insert("tg-mr".into());
        assert!(s.findings()[0].blocks());
        assert_eq!(s.routing_state(), State::On);
    }

    #[test]
    fn odd_maintenance_and_bypass_rules_are_found() {
        let bypass = &[(tags::ROLE, "bypass"), (tags::PARKED_PRIORITY, "49999")];
        let mut everyone = rule("b", Some(49_999), "/*", &["tg-app"], bypass);
        everyone.conditions = vec![Condition::SourceIp {
            values: vec!["10.0.0.0/8".into(), "::/0".into()],
        }];
        let s = snapshot(vec![
            rule("a", Some(10), "/*", &["tg-app"], &[]),
            rule("m2", Some(40_000), "/*", &["tg-app"], MAINT),
            everyone,
            rule("m", Some(50_000), "/*", &["tg-mr"], MAINT),
        ]);
        let f = s.findings();
        assert!(
            f.iter().any(
                |f| matches!(f, Finding::MaintenanceForwardsElsewhere { rule, .. } if rule == "m2")
            ),
            "{f:?}"
        );
        assert!(
            f.iter().any(
                |f| matches!(f, Finding::SeveralMaintenanceRules { rules } if rules.len() == 2)
            )
        );
        assert!(f.iter().any(|f| matches!(f, Finding::BypassLetsEveryoneIn { condition, .. } if condition.contains("::/0"))));
        assert_eq!(s.routing_state(), State::Off, "both behind the catch-all");
    }
}
