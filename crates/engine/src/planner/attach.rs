//! The attach planner: what `maintctl attach` creates on a listener ([`AttachSpec`] in, a list of
//! [`AttachStep`]s out), and why it refuses ([`AttachError`]). Pure and idempotent: on a
//! listener attached with the same options every step is [`AttachStep::Present`]; the create
//! calls themselves are `crate::ops::attach`'s.

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::planner::bypass;
use crate::planner::listener::{
    ActionSummary, Condition, ListenerSnapshot, NewRule, PlanningError, RuleView,
};
use crate::planner::mirror::{MirrorLimits, plan_mirrors};
use crate::planner::priorities::{self, Direction, MIN_PRIORITY, Role, State};
use crate::planner::record::tag_value;
use maintenance_core::deploy_names::tags;

pub mod spec;

pub use spec::{AttachError, AttachSpec, AttachStep, FallbackSpec};

/// True when two conditions match the same requests as far as attach cares: CIDRs compared as
/// networks, header names without case.
pub fn same_condition(a: &Condition, b: &Condition) -> bool {
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
    let listener = &snapshot.listener.arn;
    // The rules are recognised by what they do, the target group asked for included: attach
    // never adds a maintenance rule next to one that lost its tags.
    let mut known = snapshot.clone();
    known
        .responder_target_groups
        .insert(spec.target_group.clone());
    if let Err(PlanningError::Unrecognised { findings, .. }) = known.refuse_unrecognised() {
        let what: Vec<String> = findings.iter().map(ToString::to_string).collect();
        return Err(conflict(
            listener,
            format!(
                "{}; attach creates nothing on a listener in this state",
                what.join("; and ")
            ),
        ));
    }
    if let Some(app) = &spec.app_target_group
        && known.known_responder_target_groups().contains(app.as_str())
    {
        return Err(conflict(
            listener,
            format!(
                "--app-target-group {app} is where this listener's maintenance rule forwards, \
                 so bypass rules would send their clients to the maintenance page: pass the \
                 application's target group"
            ),
        ));
    }
    let planner = snapshot
        .planner_rules()
        .map_err(|e| conflict(listener, e.to_string()))?;
    priorities::check(&planner).map_err(|e| conflict(listener, e.to_string()))?;
    let maintenance = snapshot.maintenance_rule();
    let mut steps = vec![match maintenance {
        Some(m) => maintenance_present(listener, m, spec)?,
        None => maintenance_to_create(snapshot, spec)?,
    }];
    steps.extend(crate::planner::fallback::attach_step(snapshot, spec)?);
    let missing = bypass_present(snapshot, spec, &mut steps);
    if missing.is_empty() {
        return Ok(steps);
    }
    if maintenance.is_some() && priorities::state(&planner) != State::Off {
        return Err(conflict(
            listener,
            "maintenance is not off; switch it off before adding bypass rules".into(),
        ));
    }
    let created = bypass_to_create(snapshot, spec, missing, &steps)?;
    steps.extend(created);
    Ok(steps)
}

fn conflict(listener: &str, detail: String) -> AttachError {
    AttachError::Conflict {
        listener: listener.to_string(),
        detail,
    }
}

fn holder(snapshot: &ListenerSnapshot, priority: u32) -> Option<&RuleView> {
    snapshot.rules.iter().find(|r| r.priority == Some(priority))
}

/// The maintenance rule already there, if it is the one `spec` asks for; attach never changes
/// an attached listener.
fn maintenance_present(
    listener: &str,
    m: &RuleView,
    spec: &AttachSpec,
) -> Result<AttachStep, AttachError> {
    let forwards = match &m.action {
        ActionSummary::Forward { target_groups, .. } => target_groups.clone(),
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
    } else if let Some(want) = &spec.content_prefix
        && m.tags.get(tags::CONTENT_PREFIX) != Some(want)
    {
        Some(format!(
            "has content prefix {:?}, not {want:?} (tag it: aws elbv2 add-tags --resource-arns {} \
             --tags Key={},Value={want})",
            m.tags
                .get(tags::CONTENT_PREFIX)
                .map_or("(none)", String::as_str),
            m.arn,
            tags::CONTENT_PREFIX
        ))
    } else {
        None
    };
    if let Some(what) = differs {
        return Err(conflict(
            listener,
            format!(
                "its maintenance rule {} {what}; attach never changes an attached listener: \
                 run it with the same options, or delete the rule (aws elbv2 delete-rule \
                 --rule-arn {}) and attach again",
                m.arn, m.arn
            ),
        ));
    }
    Ok(AttachStep::Present {
        role: Role::Maintenance,
        rule: m.arn.clone(),
        priority: m.priority.unwrap_or_default(),
    })
}

/// The maintenance rule to create, parked where it catches nothing.
fn maintenance_to_create(
    snapshot: &ListenerSnapshot,
    spec: &AttachSpec,
) -> Result<AttachStep, AttachError> {
    let listener = &snapshot.listener.arn;
    if let Some(h) = holder(snapshot, spec.parked) {
        return Err(AttachError::PriorityTaken {
            listener: listener.clone(),
            priority: spec.parked,
            holder: h.arn.clone(),
        });
    }
    if !spec.allow_fallthrough && !snapshot.caught_before(spec.parked) {
        return Err(AttachError::Fallthrough {
            listener: listener.clone(),
            priority: spec.parked,
        });
    }
    let own = snapshot
        .rules
        .iter()
        .any(|r| !r.is_default() && snapshot.recognised_role(r) == Role::App);
    if !own {
        return Err(AttachError::Alone {
            listener: listener.clone(),
        });
    }
    let mut t = spec.base_tags(tags::ROLE_MAINTENANCE, spec.parked);
    t.push((tags::STATE.to_string(), Direction::Off.to_string()));
    if let Some(prefix) = &spec.content_prefix {
        t.push((tags::CONTENT_PREFIX.to_string(), prefix.clone()));
    }
    Ok(AttachStep::Create {
        role: Role::Maintenance,
        rule: NewRule {
            listener: listener.clone(),
            priority: spec.parked,
            conditions: vec![Condition::PathPattern {
                values: vec!["/*".into()],
            }],
            target_group: spec.target_group.clone(),
            fixed_response: None,
            actions: Vec::new(),
            tags: t,
        },
    })
}

/// Adds a step for every wanted bypass rule already there (a bypass forwarding to one target
/// group, or every mirror rule of a mirrored bypass: rules whose last condition is the wanted
/// one); returns the conditions of the ones missing.
fn bypass_present(
    snapshot: &ListenerSnapshot,
    spec: &AttachSpec,
    steps: &mut Vec<AttachStep>,
) -> Vec<Condition> {
    let existing: Vec<&RuleView> = snapshot.bypass_rules().collect();
    let mut missing = Vec::new();
    for wanted in spec.bypass_rules_wanted() {
        let found: Vec<&&RuleView> = existing
            .iter()
            .filter(|r| {
                if bypass::is_cookie_condition(&wanted) {
                    bypass::is_cookie_rule(r)
                } else {
                    r.conditions
                        .last()
                        .is_some_and(|last| same_condition(last, &wanted))
                }
            })
            .collect();
        if found.is_empty() {
            missing.push(wanted);
        }
        for r in found {
            steps.push(AttachStep::Present {
                role: Role::Bypass,
                rule: r.arn.clone(),
                priority: r.priority.unwrap_or_default(),
            });
        }
    }
    missing
}

/// The missing bypass rules, directly above the parked maintenance rule, skipping priorities
/// held by bypass rules already there: one rule forwarding to `--app-target-group` per
/// condition, or, without it, the mirror rules of the listener's own rules per condition
/// ([`bypass_mirrors`]).
fn bypass_to_create(
    snapshot: &ListenerSnapshot,
    spec: &AttachSpec,
    missing: Vec<Condition>,
    planned: &[AttachStep],
) -> Result<Vec<AttachStep>, AttachError> {
    let Some(app_target_group) = &spec.app_target_group else {
        return bypass_mirrors(snapshot, spec, missing, planned);
    };
    let listener = &snapshot.listener.arn;
    let mut steps = Vec::new();
    let mut next = spec.parked;
    for wanted in missing {
        let priority = loop {
            next -= 1;
            if next < MIN_PRIORITY {
                return Err(AttachError::Invalid(format!(
                    "no room for bypass rules above parked priority {}",
                    spec.parked
                )));
            }
            match holder(snapshot, next) {
                None => break next,
                Some(h) if matches!(h.role(), Role::Bypass | Role::Fallback) => continue,
                Some(h) => {
                    return Err(AttachError::PriorityTaken {
                        listener: listener.clone(),
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
                conditions: vec![wanted.clone()],
                target_group: app_target_group.clone(),
                fixed_response: None,
                actions: Vec::new(),
                tags: bypass_tags(spec, &wanted, priority),
            },
        });
    }
    Ok(steps)
}

fn bypass_tags(spec: &AttachSpec, wanted: &Condition, priority: u32) -> Vec<(String, String)> {
    let mut rule_tags = spec.base_tags(tags::ROLE_BYPASS, priority);
    if bypass::is_cookie_condition(wanted) {
        rule_tags.push((
            tags::BYPASS_LINK.to_string(),
            tags::BYPASS_LINK_COOKIE.to_string(),
        ));
    }
    rule_tags
}

/// The mirrored bypass rules: for each missing condition, the listener's own routing copied
/// with it as one more condition (`crate::planner::mirror`), directly above the parked
/// maintenance rule (or the previous condition's mirrors), the ALB's quotas checked against
/// this listener's rules and everything this attach creates.
fn bypass_mirrors(
    snapshot: &ListenerSnapshot,
    spec: &AttachSpec,
    missing: Vec<Condition>,
    planned: &[AttachStep],
) -> Result<Vec<AttachStep>, AttachError> {
    let listener = &snapshot.listener.arn;
    // The rules this attach creates before these count and hold their priorities.
    let mut known = snapshot.clone();
    for step in planned {
        if let AttachStep::Create { rule, .. } = step {
            known.rules.push(planned_view(rule));
        }
    }
    let mut steps = Vec::new();
    let mut before = spec.parked;
    for wanted in missing {
        let mirrors = plan_mirrors(&known, &wanted, before, &MirrorLimits::default())
            .map_err(|e| conflict(listener, format!("bypass {}: {e}", shown(&wanted))))?;
        for m in mirrors {
            let rule = m.new_rule(listener, bypass_tags(spec, &wanted, m.priority));
            before = before.min(m.priority);
            known.rules.push(planned_view(&rule));
            steps.push(AttachStep::Create {
                role: Role::Bypass,
                rule,
            });
        }
    }
    Ok(steps)
}

/// A bypass condition as messages show it (a cookie's token hidden).
fn shown(condition: &Condition) -> String {
    if bypass::is_cookie_condition(condition) {
        bypass::cookie_condition(bypass::HIDDEN_TOKEN).to_string()
    } else {
        condition.to_string()
    }
}

/// A rule about to be created, as if it were there (for the mirror planner's priorities and
/// rule count).
fn planned_view(rule: &NewRule) -> RuleView {
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
    RuleView {
        arn: format!("(planned at priority {})", rule.priority),
        priority: Some(rule.priority),
        conditions: rule.conditions.clone(),
        action,
        actions: rule.actions.clone(),
        tags: rule.tags.iter().cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::listener::{ListenerInfo, TargetGroupInfo};
    use std::collections::BTreeMap;

    fn view(
        arn: &str,
        priority: Option<u32>,
        conditions: Vec<Condition>,
        tags: &[(&str, &str)],
    ) -> RuleView {
        RuleView {
            arn: arn.into(),
            actions: Vec::new(),
            priority,
            conditions,
            action: ActionSummary::Forward {
                target_groups: vec!["tg-app".into()],
                weights: Vec::new(),
            },
            tags: tags
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
        ListenerSnapshot::new(info, rules)
    }

    fn spec() -> AttachSpec {
        AttachSpec {
            target_group: "tg-mr".into(),
            parked: 50_000,
            environment: Some("prod".into()),
            content_prefix: Some("/maintenance/prod".into()),
            bypass_cidrs: vec!["203.0.113.0/24".parse().unwrap()],
            bypass_header: Some(("X-Bypass".into(), "s3cret".into())),
            bypass_link: false,
            app_target_group: Some("tg-app".into()),
            allow_fallthrough: false,
            allow_bypass_everyone: false,
            fallback: None,
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
                AttachStep::Present { .. } | AttachStep::Skipped { .. } => {
                    panic!("nothing exists yet")
                }
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
                        weights: Vec::new(),
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
    fn a_listener_with_no_rule_of_its_own_is_refused_even_with_fallthrough() {
        let mut s = spec();
        s.allow_fallthrough = true;
        assert!(matches!(
            plan_attach(&snapshot(Vec::new()), &s),
            Err(AttachError::Alone { .. })
        ));
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

        // Without --app-target-group, bypass rules mirror the listener's rules.
        let mut s = spec();
        s.app_target_group = None;
        assert_eq!(s.validate(), Ok(()));
        let mut s = spec();
        s.bypass_header = Some(("X-Bypass".into(), "a*b".into()));
        assert!(matches!(s.validate(), Err(AttachError::Invalid(_))));
        let mut s = spec();
        s.parked = 2;
        assert!(matches!(s.validate(), Err(AttachError::Invalid(_))));
    }

    fn with_cidrs(cidrs: &[&str]) -> AttachSpec {
        let mut s = spec();
        s.bypass_cidrs = cidrs.iter().map(|c| c.parse().unwrap()).collect();
        s
    }

    #[test]
    fn bypass_cidrs_that_make_maintenance_a_no_op_are_refused() {
        for everyone in ["0.0.0.0/0", "::/0"] {
            let err = with_cidrs(&[everyone]).validate().unwrap_err().to_string();
            assert!(
                err.contains("no-op") && err.contains("--allow-bypass-everyone"),
                "{err}"
            );
            let mut s = with_cidrs(&[everyone]);
            s.allow_bypass_everyone = true;
            assert_eq!(s.validate(), Ok(()), "a deliberate /0 with the flag");
        }
        let err = with_cidrs(&["10.0.0.1/8"])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did you mean 10.0.0.0/8?") && err.contains("10.0.0.1/32"),
            "{err}"
        );
        let err = with_cidrs(&["2001:db8::1/32"])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean 2001:db8::/32?"), "{err}");
        // Private, shared, documentation and single-address networks are fine.
        let fine = with_cidrs(&[
            "10.0.0.0/8",
            "100.64.0.0/10",
            "192.168.1.7/32",
            "fd00::/8",
            "2001:db8::/32",
        ]);
        assert_eq!(fine.validate(), Ok(()));
    }

    fn group(arn: &str, kind: &str) -> (String, TargetGroupInfo) {
        let info = TargetGroupInfo {
            arn: arn.into(),
            name: format!("{arn}-name"),
            target_type: kind.into(),
        };
        (arn.into(), info)
    }

    #[test]
    fn target_groups_are_checked_for_what_they_are() {
        let groups: BTreeMap<String, TargetGroupInfo> = [
            group("tg-mr", "lambda"),
            group("tg-app", "instance"),
            group("tg-fn", "lambda"),
        ]
        .into();
        assert_eq!(spec().check_target_groups(&groups), Ok(vec![]));
        // The application's target group as the responder's: refused, saying what it is.
        let mut s = spec();
        s.target_group = "tg-app".into();
        let err = s.check_target_groups(&groups).unwrap_err().to_string();
        assert!(
            err.contains("tg-app-name (type instance)") && err.contains("not a lambda"),
            "{err}"
        );
        s.target_group = "tg-gone".into();
        let err = s.check_target_groups(&groups).unwrap_err().to_string();
        assert!(err.contains("tg-gone (not found)"), "{err}");
        // Bypass to the responder itself would loop to maintenance.
        let mut s = spec();
        s.app_target_group = Some("tg-mr".into());
        let err = s.check_target_groups(&groups).unwrap_err().to_string();
        assert!(err.contains("responder's own"), "{err}");
        // An application that is a Lambda: a warning.
        s.app_target_group = Some("tg-fn".into());
        let warnings = s.check_target_groups(&groups).unwrap();
        assert!(warnings[0].contains("lambda target group"), "{warnings:?}");
    }

    #[test]
    fn attach_refuses_bypass_to_where_the_maintenance_rule_forwards() {
        let all = Condition::PathPattern {
            values: vec!["/*".into()],
        };
        let mut m = view(
            "m",
            Some(50_000),
            vec![all.clone()],
            &[
                (tags::ROLE, "maintenance"),
                (tags::PARKED_PRIORITY, "50000"),
                (tags::ENVIRONMENT, "prod"),
            ],
        );
        m.action = ActionSummary::Forward {
            target_groups: vec!["tg-old".into()],
            weights: Vec::new(),
        };
        let rules = vec![view("a", Some(10), vec![all], &[]), m];
        let mut s = spec();
        s.app_target_group = Some("tg-old".into());
        let err = plan_attach(&snapshot(rules), &s).unwrap_err().to_string();
        assert!(err.contains("maintenance page"), "{err}");
    }

    #[test]
    fn without_an_app_target_group_bypass_rules_mirror_the_listeners_routes() {
        let path = |v: &str| Condition::PathPattern {
            values: vec![v.into()],
        };
        let mut rules = vec![
            view("api", Some(10), vec![path("/api/*")], &[]),
            view("img", Some(11), vec![path("/img/*")], &[]),
            view("old", Some(12), vec![path("/old/*")], &[]),
            view("all", Some(20), vec![path("/*")], &[]),
            view("d", None, vec![], &[]),
        ];
        rules[0].action = ActionSummary::Forward {
            target_groups: vec!["tg-api".into()],
            weights: Vec::new(),
        };
        let mut s = spec();
        s.app_target_group = None;
        s.bypass_header = None;
        s.bypass_link = true;
        s.fallback = Some(crate::planner::attach::FallbackSpec {
            priority: None,
            body: "<p>back soon</p>".into(),
        });
        let steps = plan_attach(&snapshot(rules.clone()), &s).unwrap();
        let created: Vec<(Role, u32, Vec<Condition>)> = steps
            .iter()
            .filter_map(|st| match st {
                AttachStep::Create { role, rule } => {
                    Some((*role, rule.priority, rule.conditions.clone()))
                }
                _ => None,
            })
            .collect();
        let cidr = Condition::SourceIp {
            values: vec!["203.0.113.0/24".into()],
        };
        let cookie = bypass::cookie_condition(bypass::HIDDEN_TOKEN);
        let mut want = vec![(Role::Maintenance, 50_000, vec![path("/*")])];
        want.push((Role::Fallback, 49_995, vec![path("/*")]));
        // The cidr's mirrors directly above the maintenance rule, in the rules' order; the
        // cookie's above them, around the fallback rule's parked priority.
        for (p, c) in [
            (49_996, "/api/*"),
            (49_997, "/img/*"),
            (49_998, "/old/*"),
            (49_999, "/*"),
        ] {
            want.push((Role::Bypass, p, vec![path(c), cidr.clone()]));
        }
        for (p, c) in [
            (49_991, "/api/*"),
            (49_992, "/img/*"),
            (49_993, "/old/*"),
            (49_994, "/*"),
        ] {
            want.push((Role::Bypass, p, vec![path(c), cookie.clone()]));
        }
        assert_eq!(created, want);
        let api = steps
            .iter()
            .find_map(|st| match st {
                AttachStep::Create { rule, .. } if rule.priority == 49_996 => Some(rule),
                _ => None,
            })
            .unwrap();
        assert_eq!(api.target_group, "tg-api");

        // A rule that cannot take one more condition value is named, and nothing is planned.
        rules[1].conditions = vec![Condition::PathPattern {
            values: ["/a", "/b", "/c", "/d", "/e"].map(String::from).to_vec(),
        }];
        let err = plan_attach(&snapshot(rules), &s).unwrap_err().to_string();
        assert!(
            err.contains("bypass source-ip 203.0.113.0/24")
                && err.contains("rule img (priority 11) cannot be mirrored")
                && err.contains("6 condition values"),
            "{err}"
        );
    }

    /// Applies a priority plan to rules as read.
    fn apply(rules: &mut [RuleView], plan: &crate::planner::Plan) {
        for step in &plan.steps {
            for m in &step.moves {
                let r = rules.iter_mut().find(|r| r.arn == m.rule).unwrap();
                assert_eq!(r.priority, Some(m.from));
                r.priority = Some(m.to);
            }
        }
        rules.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
    }

    proptest::proptest! {
        /// Attach (mirrored bypass rules), then on: a bypassing request reaches what the
        /// listener's own rules give it, anyone else the maintenance rule; off puts every
        /// application rule back where it was.
        #[test]
        fn mirrored_bypass_rules_route_as_the_listener_through_on_and_off(
            app in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["/a/*", "/b*", "/a/b", "/*", "/?"]),
                    0u32..3,
                ),
                0..8,
            ),
            first in 1u32..4,
            paths in proptest::collection::vec(
                proptest::sample::select(vec!["/", "/a", "/a/b", "/a/x", "/bz", "/c"]),
                1..5,
            ),
        ) {
            use crate::planner::routing::{Request, reach};
            let mut rules: Vec<RuleView> = app
                .iter()
                .enumerate()
                .map(|(i, (p, tg))| {
                    let mut v = view(
                        &format!("app{i}"),
                        Some(first + i as u32),
                        vec![Condition::PathPattern { values: vec![p.to_string()] }],
                        &[],
                    );
                    v.action = ActionSummary::Forward {
                        target_groups: vec![format!("tg{tg}")],
                        weights: Vec::new(),
                    };
                    v
                })
                .collect();
            let mut default = view("default", None, vec![], &[]);
            default.action = ActionSummary::Forward {
                target_groups: vec!["tg-default".into()],
                weights: Vec::new(),
            };
            rules.push(default);
            let original = rules.clone();
            let mut s = spec();
            s.app_target_group = None;
            s.bypass_link = true;
            s.allow_fallthrough = true;
            if app.is_empty() {
                // A listener with no rule of its own is refused (AttachError::Alone).
                proptest::prop_assert!(plan_attach(&snapshot(rules), &s).is_err());
                return Ok(());
            }
            let steps = plan_attach(&snapshot(rules.clone()), &s).unwrap();
            for (i, step) in steps.iter().enumerate() {
                if let AttachStep::Create { rule, .. } = step {
                    let mut v = view(&format!("new{i}"), Some(rule.priority), rule.conditions.clone(), &[]);
                    v.tags = rule.tags.iter().cloned().collect();
                    v.action = ActionSummary::Forward {
                        target_groups: vec![rule.target_group.clone()],
                        weights: Vec::new(),
                    };
                    v.actions = rule.actions.clone();
                    rules.push(v);
                }
            }
            rules.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
            let off_state = rules.clone();
            let planner = snapshot(rules.clone()).planner_rules().unwrap();
            let on = priorities::plan_on(&planner).unwrap();
            apply(&mut rules, &on);
            // `on` records the rules it displaces on the maintenance rule, for `off`.
            let displaced: BTreeMap<String, u32> = on
                .displaced
                .iter()
                .map(|d| (crate::planner::rule_id(&d.rule).to_string(), d.home))
                .collect();
            let record = crate::planner::encode_displaced(&displaced, &[]).unwrap();
            let m = rules.iter_mut().find(|r| r.role() == Role::Maintenance).unwrap();
            m.tags.extend(record);
            proptest::prop_assert_eq!(snapshot(rules.clone()).state().unwrap(), State::On);
            let request = |path: &str, ip: &str, cookie: bool| {
                let mut r = Request::get(path);
                r.host = Some("shop.example.com".into());
                r.source_ip = Some(ip.parse().unwrap());
                r.headers_complete = true;
                if cookie {
                    r = r.header("Cookie", "maint_bypass=(hidden)");
                }
                r
            };
            for path in &paths {
                let own = reach(&original, &request(path, "192.0.2.1", false), 0).unwrap();
                for bypassing in [request(path, "203.0.113.9", false), request(path, "192.0.2.1", true)] {
                    let got = reach(&rules, &bypassing, 0).unwrap();
                    proptest::prop_assert_eq!(&got.destination, &own.destination, "{}", path);
                }
                let page = reach(&rules, &request(path, "192.0.2.1", false), 0).unwrap();
                proptest::prop_assert_eq!(page.destination.target_group(), Some("tg-mr"));
            }
            let planner = snapshot(rules.clone()).planner_rules().unwrap();
            apply(&mut rules, &priorities::plan_off(&planner).unwrap());
            let priorities_of = |rs: &[RuleView]| -> Vec<(String, Option<u32>)> {
                rs.iter().map(|r| (r.arn.clone(), r.priority)).collect()
            };
            proptest::prop_assert_eq!(priorities_of(&rules), priorities_of(&off_state));
        }
    }
}
