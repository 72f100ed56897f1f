//! The mirror planner's tests: the two-target-group listener, each refusal, and properties
//! (relative order kept, quotas never exceeded, the mirrored routing equal to the listener's
//! own for requests with the extra condition).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::planner::action::ActionSummary;
use crate::planner::action::{Forward, Redirect, WeightedTargetGroup};
use crate::planner::listener::ListenerInfo;
use crate::planner::routing::{Request, reach, visitor_draw};

fn info() -> ListenerInfo {
    ListenerInfo {
        arn: "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/shop/1/2".into(),
        load_balancer: "LB".into(),
        protocol: "HTTP".into(),
        port: Some(80),
    }
}

fn forward(tg: &str) -> ActionSummary {
    ActionSummary::Forward {
        target_groups: vec![tg.into()],
        weights: vec![],
    }
}

fn app(id: &str, priority: u32, conditions: Vec<Condition>, tg: &str) -> RuleView {
    RuleView {
        arn: format!("listener-rule/app/shop/1/2/{id}"),
        actions: Vec::new(),
        priority: Some(priority),
        conditions,
        action: forward(tg),
        tags: BTreeMap::new(),
    }
}

fn maintenance(priority: u32) -> RuleView {
    let mut m = app("maint", priority, vec![path(&["/*"])], "tg-mr");
    m.tags
        .insert(tags::ROLE.into(), tags::ROLE_MAINTENANCE.into());
    m
}

fn default_rule(tg: &str) -> RuleView {
    RuleView {
        arn: "listener-rule/app/shop/1/2/default".into(),
        actions: Vec::new(),
        priority: None,
        conditions: vec![],
        action: forward(tg),
        tags: BTreeMap::new(),
    }
}

fn path(v: &[&str]) -> Condition {
    Condition::PathPattern {
        values: v.iter().map(|s| s.to_string()).collect(),
    }
}

fn cookie(token: &str) -> Condition {
    Condition::HttpHeader {
        name: "Cookie".into(),
        values: vec![format!("*maint_admit={token}*")],
    }
}

fn cidr() -> Condition {
    Condition::SourceIp {
        values: vec!["203.0.113.0/24".into()],
    }
}

fn snapshot(mut rules: Vec<RuleView>) -> ListenerSnapshot {
    rules.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
    ListenerSnapshot::new(info(), rules)
}

#[test]
fn two_target_groups_are_mirrored_in_order_above_the_maintenance_rule() {
    let s = snapshot(vec![
        app("api", 10, vec![path(&["/api/*"])], "tg-api"),
        app("web", 20, vec![path(&["/*"])], "tg-web"),
        maintenance(50_000),
        default_rule("tg-web"),
    ]);
    let mirrors = plan_mirrors(&s, &cidr(), 50_000, &MirrorLimits::default()).unwrap();
    // The default rule comes after a catch-all: never reached, not mirrored.
    let got: Vec<(u32, Vec<Condition>, String)> = mirrors
        .iter()
        .map(|m| (m.priority, m.conditions.clone(), m.source_label()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                49_998,
                vec![path(&["/api/*"]), cidr()],
                "rule api (priority 10)".into()
            ),
            (
                49_999,
                vec![path(&["/*"]), cidr()],
                "rule web (priority 20)".into()
            ),
        ]
    );
    let created = mirrors[0].new_rule(&s.listener.arn, vec![]);
    assert_eq!(created.target_group, "tg-api");
    assert!(
        created.actions.is_empty(),
        "a single forward is written as such"
    );
}

#[test]
fn the_default_rule_is_mirrored_with_the_extra_condition_alone() {
    let s = snapshot(vec![
        app("api", 10, vec![path(&["/api/*"])], "tg-api"),
        maintenance(100),
        default_rule("tg-web"),
    ]);
    let mirrors = plan_mirrors(&s, &cookie("t"), 100, &MirrorLimits::default()).unwrap();
    assert_eq!(mirrors.len(), 2);
    assert_eq!(mirrors[1].source, None);
    assert_eq!(mirrors[1].conditions, vec![cookie("t")]);
    assert_eq!(mirrors[1].priority, 99);
    assert_eq!(mirrors[0].priority, 98);
}

#[test]
fn weighted_sticky_forwards_and_redirects_are_copied_whole() {
    let mut weighted = app("w", 10, vec![path(&["/shop/*"])], "x");
    weighted.actions = vec![RuleAction::Forward(Forward {
        target_groups: vec![
            WeightedTargetGroup {
                arn: "blue".into(),
                weight: 0,
            },
            WeightedTargetGroup {
                arn: "green".into(),
                weight: 999,
            },
        ],
        stickiness_seconds: Some(600),
        weighted: true,
    })];
    let mut redirect = app("r", 11, vec![path(&["/old"])], "x");
    redirect.action = ActionSummary::Redirect;
    redirect.actions = vec![RuleAction::Redirect(Redirect {
        protocol: Some("HTTPS".into()),
        port: Some("443".into()),
        host: None,
        path: Some("/new".into()),
        query: None,
        status_code: "HTTP_301".into(),
    })];
    let s = snapshot(vec![
        weighted.clone(),
        redirect.clone(),
        maintenance(9),
        default_rule("tg"),
    ]);
    let mirrors = plan_mirrors(&s, &cookie("t"), 9, &MirrorLimits::default()).unwrap();
    assert_eq!(mirrors[0].actions, weighted.actions);
    assert_eq!(mirrors[1].actions, redirect.actions);
    let created = mirrors[0].new_rule("L", vec![]);
    assert_eq!(created.actions, weighted.actions);
    assert_eq!(created.target_group, "blue");
    // A redirect known only by its summary cannot be written again.
    let mut unread = redirect;
    unread.actions.clear();
    let s = snapshot(vec![unread, maintenance(9), default_rule("tg")]);
    let err = plan_mirrors(&s, &cookie("t"), 9, &MirrorLimits::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("rule r (priority 11) cannot be mirrored"),
        "{err}"
    );
}

fn refusal(rule: RuleView, extra: &Condition) -> String {
    let s = snapshot(vec![rule, maintenance(50_000), default_rule("tg")]);
    plan_mirrors(&s, extra, 50_000, &MirrorLimits::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn every_quota_refusal_names_the_rule_and_why() {
    let five = app(
        "five",
        10,
        vec![
            path(&["/a", "/b", "/c"]),
            Condition::HostHeader {
                values: vec!["a.example.com".into(), "b.example.com".into()],
            },
        ],
        "tg",
    );
    let msg = refusal(five, &cidr());
    assert!(
        msg.contains("rule five (priority 10) cannot be mirrored"),
        "{msg}"
    );
    assert!(
        msg.contains("6 condition values") && msg.contains("at most 5"),
        "{msg}"
    );
    assert!(msg.contains("load-balancer-limits.html"), "{msg}");

    let wild = app("wild", 12, vec![path(&["/*/x/*", "*.png?"])], "tg");
    let msg = refusal(wild, &cookie("t"));
    assert!(
        msg.contains("rule wild (priority 12)") && msg.contains("6 wildcards"),
        "{msg}"
    );

    let office = app("office", 13, vec![cidr()], "tg");
    let msg = refusal(office, &cidr());
    assert!(msg.contains("at most one source-ip condition"), "{msg}");
    // A header extra condition is fine on a rule with a source-ip condition.
    let office = app("office", 13, vec![cidr()], "tg");
    let s = snapshot(vec![office, maintenance(50_000), default_rule("tg")]);
    assert!(plan_mirrors(&s, &cookie("t"), 50_000, &MirrorLimits::default()).is_ok());

    let mut oidc = app("login", 14, vec![path(&["/account/*"])], "tg");
    oidc.actions = vec![
        RuleAction::Authenticate {
            kind: "authenticate-oidc".into(),
        },
        RuleAction::Forward(Forward::to("tg")),
    ];
    let msg = refusal(oidc, &cookie("t"));
    assert!(
        msg.contains("rule login (priority 14)") && msg.contains("authenticate-oidc"),
        "{msg}"
    );

    let regex = app(
        "re",
        15,
        vec![Condition::Other {
            name: "path-pattern (regex)".into(),
            values: vec![],
        }],
        "tg",
    );
    assert!(refusal(regex, &cookie("t")).contains("rule re (priority 15)"));

    let mut bad_default = default_rule("tg");
    bad_default.action = ActionSummary::Other {
        kind: "authenticate-cognito".into(),
    };
    let s = snapshot(vec![
        maintenance(50_000),
        app("a", 1, vec![path(&["/a"])], "tg"),
        bad_default,
    ]);
    let msg = plan_mirrors(&s, &cookie("t"), 50_000, &MirrorLimits::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("the default rule cannot be mirrored"), "{msg}");
}

#[test]
fn the_rule_quota_counts_the_load_balancer_and_says_who_can_raise_it() {
    let mut rules: Vec<RuleView> = (0..60)
        .map(|i| {
            app(
                &format!("r{i}"),
                100 + i,
                vec![path(&[&format!("/p{i}/*")])],
                "tg",
            )
        })
        .collect();
    rules.push(maintenance(50));
    rules.push(default_rule("tg"));
    let s = snapshot(rules);
    let err = plan_mirrors(&s, &cookie("t"), 50, &MirrorLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MirrorError::TooManyRules {
                existing: 61,
                new: 61,
                quota: 100,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("Service Quotas") && msg.contains("122"),
        "{msg}"
    );
    // Raised, it fits, but not with the other listeners' rules counted.
    let raised = MirrorLimits {
        rules_per_load_balancer: 150,
        rules_besides: 0,
    };
    assert!(
        plan_mirrors(&s, &cookie("t"), 50, &raised).is_err(),
        "49 free priorities"
    );
    let s2 = {
        let mut s2 = s.clone();
        for r in &mut s2.rules {
            if let Some(p) = r.priority.as_mut() {
                *p += 100;
            }
        }
        s2
    };
    assert!(plan_mirrors(&s2, &cookie("t"), 150, &raised).is_ok());
    let crowded = MirrorLimits {
        rules_per_load_balancer: 150,
        rules_besides: 40,
    };
    assert!(matches!(
        plan_mirrors(&s2, &cookie("t"), 150, &crowded),
        Err(MirrorError::TooManyRules { existing: 101, .. })
    ));
    // The load balancer's other listeners count too.
    let mut shared = s2.clone();
    shared.rules_elsewhere = Some(29);
    assert!(matches!(
        plan_mirrors(&shared, &cookie("t"), 150, &raised),
        Err(MirrorError::TooManyRules {
            existing: 90,
            new: 61,
            ..
        })
    ));
    shared.rules_elsewhere = Some(28);
    assert!(plan_mirrors(&shared, &cookie("t"), 150, &raised).is_ok());
}

#[test]
fn without_free_priorities_it_says_so_and_names_the_rule_in_the_way() {
    let s = snapshot(vec![
        app("first", 1, vec![path(&["/a"])], "tg"),
        maintenance(3),
        app("web", 4, vec![path(&["/*"])], "tg"),
        default_rule("tg"),
    ]);
    let err = plan_mirrors(&s, &cookie("t"), 3, &MirrorLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MirrorError::NoRoom {
                needed: 2,
                free: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("rule first (priority 1)") && msg.contains("never move"),
        "{msg}"
    );
    // Managed rules between are skipped, not a blocker; priority 1 ends the search.
    let mut bypass = app("bypass", 2, vec![cidr()], "tg");
    bypass
        .tags
        .insert(tags::ROLE.into(), tags::ROLE_BYPASS.into());
    let s = snapshot(vec![
        bypass,
        maintenance(4),
        app("web", 5, vec![path(&["/*"])], "tg"),
        default_rule("tg"),
    ]);
    let mirrors = plan_mirrors(&s, &cookie("t"), 4, &MirrorLimits::default()).unwrap();
    assert_eq!(mirrors.iter().map(|m| m.priority).collect::<Vec<_>>(), [3]);
    for before in [0, 1] {
        assert!(matches!(
            plan_mirrors(&s, &cookie("t"), before, &MirrorLimits::default()),
            Err(MirrorError::NoRoom {
                free: 0,
                blocker: None,
                ..
            })
        ));
    }
}

/// A random listener: application rules with path, host, method and query conditions on a
/// small alphabet (so requests match some), forwarding to one of three target groups or
/// weighted; the maintenance rule on at priority 60, every application rule after it.
fn listener_strategy() -> impl Strategy<Value = (Vec<RuleView>, usize)> {
    let pattern = prop::sample::select(vec![
        "/a", "/a/*", "/b*", "/*", "*", "/?", "/a/b", "/b/*/c", "*a*",
    ]);
    let condition = prop_oneof![
        prop::collection::vec(pattern, 1..4).prop_map(|v| path(&v)),
        prop::collection::vec(prop::sample::select(vec!["GET", "POST", "HEAD"]), 1..3).prop_map(
            |v| Condition::HttpRequestMethod {
                values: v.into_iter().map(str::to_string).collect()
            }
        ),
        prop::sample::select(vec!["a", "b*", "*"]).prop_map(|v| Condition::QueryString {
            values: vec![crate::planner::listener::QueryPair {
                key: Some("q".into()),
                value: v.into()
            }]
        }),
    ];
    let rule = (
        prop::collection::vec(condition, 1..3),
        0u32..3,
        prop::option::of((0u32..4, 0u32..4)),
    );
    (prop::collection::vec(rule, 0..12), 20usize..60).prop_map(|(rules, quota)| {
        let mut out = vec![maintenance(60)];
        for (i, (mut conditions, tg, weights)) in rules.into_iter().enumerate() {
            // At most one condition of each single kind, as the ALB takes them.
            let mut seen = Vec::new();
            conditions.retain(|c| {
                let k = std::mem::discriminant(c);
                !seen.contains(&k) && {
                    seen.push(k);
                    true
                }
            });
            let mut r = app(
                &format!("r{i}"),
                100 + 3 * i as u32,
                conditions,
                &format!("tg{tg}"),
            );
            if let Some((w1, w2)) = weights.filter(|(a, b)| a + b > 0) {
                r.actions = vec![RuleAction::Forward(Forward {
                    target_groups: vec![
                        WeightedTargetGroup {
                            arn: "tg0".into(),
                            weight: w1,
                        },
                        WeightedTargetGroup {
                            arn: "tg1".into(),
                            weight: w2,
                        },
                    ],
                    stickiness_seconds: None,
                    weighted: true,
                })];
            }
            out.push(r);
        }
        out.push(default_rule("tg-default"));
        (out, quota)
    })
}

fn request(path: &str, method: &str, q: &str, with_cookie: bool) -> Request {
    let mut r = Request::get(path);
    r.method = method.into();
    r.query = Some(vec![("q".into(), q.into())]);
    r.host = Some("shop.example.com".into());
    r.source_ip = Some("192.0.2.1".parse().unwrap());
    r.headers_complete = true;
    if with_cookie {
        r.headers
            .push(("Cookie".into(), "x=1; maint_admit=tok".into()));
    }
    r
}

proptest! {
    #[test]
    fn mirrors_keep_order_and_quotas_and_route_as_the_listener_does(
        (rules, quota) in listener_strategy(),
        paths in prop::collection::vec(
            prop::sample::select(vec!["/", "/a", "/a/x", "/b", "/bx", "/b/y/c", "/c", "/za"]),
            1..6,
        ),
        method in prop::sample::select(vec!["GET", "POST", "HEAD"]),
        q in prop::sample::select(vec!["a", "bb", "c"]),
        visitor in 0u64..1000,
    ) {
        let s = snapshot(rules.clone());
        let extra = cookie("tok");
        let limits = MirrorLimits { rules_per_load_balancer: quota, rules_besides: 0 };
        match plan_mirrors(&s, &extra, 60, &limits) {
            Ok(mirrors) => {
                // Relative order: the sources' order, priorities increasing, free, below 60.
                let sources: Vec<Option<u32>> = mirrors.iter().map(|m| m.source_priority).collect();
                let mut sorted = sources.clone();
                sorted.sort_by_key(|p| p.unwrap_or(u32::MAX));
                prop_assert_eq!(&sources, &sorted);
                for w in mirrors.windows(2) {
                    prop_assert!(w[0].priority < w[1].priority);
                }
                for m in &mirrors {
                    prop_assert!((MIN_PRIORITY..60).contains(&m.priority));
                    prop_assert!(s.rules.iter().all(|r| r.priority != Some(m.priority)));
                    let values: usize = m.conditions.iter().map(condition_values).sum();
                    let wildcards: usize = m.conditions.iter().map(condition_wildcards).sum();
                    prop_assert!(values <= MAX_CONDITION_VALUES && wildcards <= MAX_WILDCARDS);
                }
                let total = s.rules.iter().filter(|r| !r.is_default()).count() + mirrors.len();
                prop_assert!(total <= quota);
                // With maintenance on: the cookie takes a request where the listener's own
                // rules would; without it, the maintenance rule answers.
                let mut on: Vec<RuleView> = s.rules.clone();
                for (i, m) in mirrors.iter().enumerate() {
                    let mut v = app(&format!("m{i}"), m.priority, m.conditions.clone(), "");
                    v.actions = m.actions.clone();
                    on.push(v);
                }
                let without: Vec<RuleView> =
                    s.rules.iter().filter(|r| r.role() != Role::Maintenance).cloned().collect();
                for p in &paths {
                    let draw = visitor_draw(visitor);
                    let expected = reach(&without, &request(p, method, q, true), draw).unwrap();
                    let got = reach(&on, &request(p, method, q, true), draw).unwrap();
                    prop_assert_eq!(&got.destination, &expected.destination, "path {}", p);
                    let page = reach(&on, &request(p, method, q, false), draw).unwrap();
                    prop_assert_eq!(page.destination.target_group(), Some("tg-mr"));
                }
            }
            Err(MirrorError::TooManyRules { existing, new, quota: q2, .. }) => {
                prop_assert!(existing + new > q2);
            }
            Err(MirrorError::Unmirrorable { rule, reason, .. }) => {
                let r = s.rules.iter().find(|r| Some(&r.arn) == rule.as_ref()).unwrap();
                let values: usize = r.conditions.iter().map(condition_values).sum::<usize>() + 1;
                let wildcards: usize = r.conditions.iter().map(condition_wildcards).sum::<usize>() + 2;
                prop_assert!(values > MAX_CONDITION_VALUES || wildcards > MAX_WILDCARDS, "{}", reason);
            }
            Err(other) => prop_assert!(false, "unexpected {}", other),
        }
    }
}
