//! The cookie bypass rule as data: the rule `maintctl attach --bypass-link` creates beside the
//! other bypass rules (an `http-header` condition on `Cookie` matching `*maint_bypass=TOKEN*`,
//! forwarding to the application, tagged [`tags::BYPASS_LINK`]); the token its condition holds;
//! what a switch does with it ([`plan_tokens`]: the cookie rules of the selected listeners by
//! content prefix, or why none can get a new token); the link handed to testers
//! ([`BypassOptions`], [`link_host`], [`link_url`]); and the condition as `status` shows it
//! ([`hide_token`]). Pure: generating the token and writing it are `crate::ops::bypass`'s.
//!
//! An ALB `http-header` condition matches case-insensitively, with `*` and `?` as wildcards, and
//! holds at most 128 characters: `*maint_bypass=` and `*` with the longest token
//! ([`BypassToken::MAX_CHARS`]) is 101; the token alphabet (URL-safe base64) has no wildcard.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::planner::listener::{Condition, ListenerInfo, ListenerSnapshot, RuleView};
use crate::planner::priorities::Role;
use maintenance_core::content::BypassToken;
use maintenance_core::deploy_names::{BYPASS_COOKIE, DEFAULT_BYPASS_PATH, parameters, tags};

/// The request header the cookie rule matches.
pub const COOKIE_HEADER: &str = "Cookie";
/// What is shown (and planned, before `attach` generates it) in place of a cookie rule's token.
pub const HIDDEN_TOKEN: &str = "(hidden)";

/// Why the bypass link cannot be planned as asked. Messages name the rule and say what to do;
/// they never hold a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BypassError {
    /// A cookie rule on a listener whose maintenance rule does not say where the content is.
    #[error(
        "listener {listener}: cookie bypass rule {rule} needs the responder's content prefix \
         (where the token is stored), but maintenance rule {maintenance} has no {tag} tag: tag it \
         (aws elbv2 add-tags --resource-arns {maintenance} --tags Key={tag},Value=/maintenance/APP, \
         the function's MAINTENANCE_SSM_PREFIX) and run the command again"
    )]
    NoPrefix {
        /// Listener ARN.
        listener: String,
        /// The cookie rule.
        rule: String,
        /// The maintenance rule to tag.
        maintenance: String,
        /// The tag key.
        tag: &'static str,
    },
    /// A cookie rule whose conditions are not the one cookie condition `maintctl` sets.
    #[error(
        "listener {listener}: cookie bypass rule {rule} {problem}, which maintctl did not set; \
         maintctl never overwrites a change it did not make: delete the rule (aws elbv2 \
         delete-rule --rule-arn {rule}) and attach again with --bypass-link"
    )]
    Changed {
        /// Listener ARN.
        listener: String,
        /// The rule.
        rule: String,
        /// What is odd about it.
        problem: String,
    },
    /// An option of the link that is not usable.
    #[error("{option}: {problem}")]
    Option {
        /// The option.
        option: &'static str,
        /// Why.
        problem: String,
    },
}

/// The condition of a cookie rule holding `token`: `Cookie` matches `*maint_bypass=TOKEN*`.
pub fn cookie_condition(token: &str) -> Condition {
    Condition::HttpHeader {
        name: COOKIE_HEADER.to_string(),
        values: vec![format!("*{BYPASS_COOKIE}={token}*")],
    }
}

/// True for a condition on the `Cookie` header naming the bypass cookie (with a token or
/// [`HIDDEN_TOKEN`]).
pub fn is_cookie_condition(condition: &Condition) -> bool {
    matches!(condition, Condition::HttpHeader { name, values }
        if name.eq_ignore_ascii_case(COOKIE_HEADER)
            && values.iter().any(|v| v.contains(&format!("{BYPASS_COOKIE}="))))
}

/// True for the cookie bypass rule: a bypass rule tagged [`tags::BYPASS_LINK`] `cookie`.
pub fn is_cookie_rule(rule: &RuleView) -> bool {
    rule.role() == Role::Bypass
        && rule.tags.get(tags::BYPASS_LINK).map(String::as_str) == Some(tags::BYPASS_LINK_COOKIE)
}

/// The token a cookie rule's condition holds; `Err` says what is odd about its conditions. The
/// cookie condition is the rule's last; a mirrored cookie rule (on a listener with several
/// application target groups, `crate::planner::mirror`) has the mirrored rule's conditions
/// before it, none of them on the bypass cookie.
pub fn rule_token(rule: &RuleView) -> Result<BypassToken, String> {
    let Some((Condition::HttpHeader { name, values }, others)) = rule.conditions.split_last()
    else {
        return Err(format!(
            "has {} condition(s), the last not the Cookie condition",
            rule.conditions.len()
        ));
    };
    if others.iter().any(is_cookie_condition) {
        return Err("has more than one condition on the bypass cookie".into());
    }
    if !name.eq_ignore_ascii_case(COOKIE_HEADER) {
        return Err(format!("matches header {name}, not {COOKIE_HEADER}"));
    }
    let [value] = values.as_slice() else {
        return Err(format!(
            "matches {} values, not one cookie value",
            values.len()
        ));
    };
    value
        .strip_prefix(&format!("*{BYPASS_COOKIE}="))
        .and_then(|rest| rest.strip_suffix('*'))
        .and_then(|token| BypassToken::parse(token).ok())
        .ok_or_else(|| format!("matches a value other than *{BYPASS_COOKIE}=TOKEN*"))
}

/// The rule as `status` and `attach` show it: the value of a cookie condition replaced by
/// `*maint_bypass=(hidden)*`, whatever the rule's tags say.
pub fn hide_token(rule: &RuleView) -> RuleView {
    let mut shown = rule.clone();
    for c in &mut shown.conditions {
        if is_cookie_condition(c) {
            *c = cookie_condition(HIDDEN_TOKEN);
        }
    }
    shown
}

/// A cookie rule a switch gives a new token, with the one it holds now (never shown: kept to
/// put back should the switch be undone).
#[derive(Debug, Clone, Serialize)]
pub struct CookieRule {
    /// Its listener.
    pub listener: ListenerInfo,
    /// Rule ARN.
    pub rule: String,
    /// Its priority when planned.
    pub priority: u32,
    /// The token it holds now.
    #[serde(skip)]
    pub previous: BypassToken,
    /// Its conditions before the cookie condition (a mirrored rule's own; none for a cookie
    /// rule forwarding to one target group): kept as they are when the token changes.
    pub others: Vec<Condition>,
}

impl CookieRule {
    /// Its conditions with `token` in the cookie condition.
    pub fn conditions(&self, token: &str) -> Vec<Condition> {
        let mut out = self.others.clone();
        out.push(cookie_condition(token));
        out
    }
}

/// The cookie rules of one content prefix: they share one token, stored at `parameter`.
#[derive(Debug, Clone, Serialize)]
pub struct TokenGroup {
    /// The content prefix (the maintenance rules' tag; empty when it is not known).
    pub prefix: String,
    /// `{prefix}/bypass/token` (empty when the prefix is not known).
    pub parameter: String,
    /// The cookie rules.
    pub rules: Vec<CookieRule>,
}

impl TokenGroup {
    /// True when one of the group's listeners is plain HTTP.
    pub fn has_plain_http(&self) -> bool {
        self.rules.iter().any(|r| r.listener.protocol == "HTTP")
    }
}

/// The cookie rules of a switch, by content prefix (empty: no selected listener has one).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenPlan {
    /// One group per content prefix.
    pub groups: Vec<TokenGroup>,
}

impl TokenPlan {
    /// True when no listener has a cookie rule.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// How many cookie rules there are.
    pub fn rules(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }

    /// The SSM parameters the tokens go to, comma separated.
    pub fn parameters(&self) -> String {
        let names: Vec<&str> = self
            .groups
            .iter()
            .map(|g| g.parameter.as_str())
            .filter(|p| !p.is_empty())
            .collect();
        if names.is_empty() {
            "no SSM parameter (no content prefix known)".into()
        } else {
            names.join(", ")
        }
    }
}

/// The cookie rules of `snapshots`, grouped by their maintenance rules' content prefix; refuses
/// a cookie rule with conditions `maintctl` did not set, and one without a known prefix when
/// `need_prefix` (else such rules form a group whose `prefix` and `parameter` are empty: a token
/// for the rules only).
pub fn plan_tokens<'a>(
    snapshots: impl IntoIterator<Item = &'a ListenerSnapshot>,
    need_prefix: bool,
) -> Result<TokenPlan, BypassError> {
    let mut groups: BTreeMap<String, Vec<CookieRule>> = BTreeMap::new();
    for s in snapshots {
        for rule in s.rules.iter().filter(|r| is_cookie_rule(r)) {
            let listener = s.listener.arn.clone();
            let prefix = s.content_prefix().unwrap_or_default();
            if prefix.is_empty() && need_prefix {
                return Err(BypassError::NoPrefix {
                    listener,
                    rule: rule.arn.clone(),
                    maintenance: s
                        .responder_rule()
                        .map_or_else(|| "(none)".to_string(), |m| m.arn.clone()),
                    tag: tags::CONTENT_PREFIX,
                });
            }
            let previous = rule_token(rule).map_err(|problem| BypassError::Changed {
                listener,
                rule: rule.arn.clone(),
                problem,
            })?;
            groups
                .entry(prefix.to_string())
                .or_default()
                .push(CookieRule {
                    listener: s.listener.clone(),
                    rule: rule.arn.clone(),
                    priority: rule.priority.unwrap_or_default(),
                    previous,
                    others: rule.conditions[..rule.conditions.len() - 1].to_vec(),
                });
        }
    }
    Ok(TokenPlan {
        groups: groups
            .into_iter()
            .map(|(prefix, rules)| TokenGroup {
                parameter: if prefix.is_empty() {
                    String::new()
                } else {
                    token_parameter(&prefix)
                },
                prefix,
                rules,
            })
            .collect(),
    })
}

/// `{prefix}/bypass/token`: where the responder reads the window's token.
pub fn token_parameter(prefix: &str) -> String {
    format!("{prefix}/{}", parameters::BYPASS_TOKEN)
}

/// How the link is printed: the host (else the listeners' certificates' names) and the
/// responder's `bypass_path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BypassOptions {
    /// The site's host name (`shop.example.com`, optionally with `:port`).
    pub host: Option<String>,
    /// The responder's `bypass_path`.
    pub bypass_path: String,
    /// Set no link this window: the cookie rules get a token that is neither stored nor shown.
    pub skip: bool,
}

impl Default for BypassOptions {
    fn default() -> Self {
        Self {
            host: None,
            bypass_path: DEFAULT_BYPASS_PATH.to_string(),
            skip: false,
        }
    }
}

impl BypassOptions {
    /// Checks the options.
    pub fn new(host: Option<String>, bypass_path: &str, skip: bool) -> Result<Self, BypassError> {
        if let Some(host) = &host {
            check_host(host).map_err(|problem| BypassError::Option {
                option: "--host",
                problem,
            })?;
        }
        check_bypass_path(bypass_path).map_err(|problem| BypassError::Option {
            option: "--bypass-path",
            problem,
        })?;
        Ok(Self {
            host,
            bypass_path: bypass_path.to_string(),
            skip,
        })
    }
}

/// A host name with an optional port: letters, digits, `-` and `.`, no scheme, no path.
pub fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && !name.starts_with(['.', '-'])
        && !name.ends_with(['.', '-'])
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if name_ok && port_ok {
        Ok(())
    } else {
        Err(format!(
            "{host:?} is not a host name (expected e.g. shop.example.com, without https:// or a path)"
        ))
    }
}

/// The responder's `bypass_path` rules: starts with `/`, does not end with `/`, letters, digits
/// and `/ - _ . ~`, no `//`, at most 100 characters.
pub fn check_bypass_path(path: &str) -> Result<(), String> {
    let ok = path.starts_with('/')
        && !path.ends_with('/')
        && path.len() <= 100
        && !path.contains("//")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{path:?} is not a bypass path (the responder's bypass_path: starts with /, does not \
             end with /, letters, digits and / - _ . ~, e.g. {DEFAULT_BYPASS_PATH})"
        ))
    }
}

/// The host of the link among a certificate's names: the first that is not a wildcard.
pub fn link_host(names: &[String]) -> Option<String> {
    names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .find(|n| !n.contains('*') && check_host(n).is_ok())
}

/// The link: `SCHEME://HOST{bypass_path}/TOKEN`, or the path alone when no host is known.
pub fn link_url(https: bool, host: Option<&str>, bypass_path: &str, token: &BypassToken) -> String {
    match host {
        Some(host) => format!(
            "{}://{host}{bypass_path}/{}",
            if https { "https" } else { "http" },
            token.expose()
        ),
        None => format!("{bypass_path}/{}", token.expose()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::action::ActionSummary;

    const TOKEN: &str = "mKz3Q7p0x1X2c3V4b5N6m7L8k9J0h1G2f3D4s5A6q7W";

    fn cookie_rule(conditions: Vec<Condition>) -> RuleView {
        RuleView {
            arn: "rule/c".into(),
            actions: Vec::new(),
            priority: Some(49_997),
            conditions,
            action: ActionSummary::Forward {
                target_groups: vec!["tg-app".into()],
                weights: Vec::new(),
            },
            tags: [
                (tags::ROLE, tags::ROLE_BYPASS),
                (tags::BYPASS_LINK, tags::BYPASS_LINK_COOKIE),
                (tags::PARKED_PRIORITY, "49997"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }
    }

    #[test]
    fn the_cookie_condition_fits_the_alb_limit_and_reads_back() {
        let longest = "A".repeat(BypassToken::MAX_CHARS);
        let Condition::HttpHeader { values, .. } = cookie_condition(&longest) else {
            panic!("an http-header condition")
        };
        assert!(values[0].len() <= 128, "{}", values[0]);
        let rule = cookie_rule(vec![cookie_condition(TOKEN)]);
        assert!(is_cookie_rule(&rule));
        assert_eq!(rule_token(&rule).unwrap().expose(), TOKEN);
        // What maintctl did not set is refused, and the reason holds no token.
        for odd in [
            vec![],
            vec![cookie_condition(TOKEN), cookie_condition(TOKEN)],
            vec![Condition::HttpHeader {
                name: "X-Other".into(),
                values: vec![format!("*maint_bypass={TOKEN}*")],
            }],
            vec![Condition::HttpHeader {
                name: "cookie".into(),
                values: vec!["*".into()],
            }],
            vec![Condition::HttpHeader {
                name: "Cookie".into(),
                values: vec![format!("*maint_bypass={TOKEN}*"), "*x*".into()],
            }],
            vec![cookie_condition("short")],
        ] {
            let problem = rule_token(&cookie_rule(odd.clone())).unwrap_err();
            assert!(!problem.contains(TOKEN), "{problem}");
        }
        // A rule without the tag is no cookie rule, whatever its condition.
        let mut untagged = cookie_rule(vec![cookie_condition(TOKEN)]);
        untagged.tags.remove(tags::BYPASS_LINK);
        assert!(!is_cookie_rule(&untagged));
    }

    #[test]
    fn shown_rules_hide_the_token_tagged_or_not() {
        let mut rule = cookie_rule(vec![
            Condition::PathPattern {
                values: vec!["/*".into()],
            },
            cookie_condition(TOKEN),
        ]);
        rule.tags.clear();
        let shown = hide_token(&rule);
        let json = serde_json::to_string(&shown).unwrap();
        assert!(!json.contains(TOKEN), "{json}");
        assert!(json.contains("*maint_bypass=(hidden)*"), "{json}");
        assert_eq!(shown.conditions[0], rule.conditions[0]);
        // Other header rules keep their values (the secret-header rule's JSON is documented).
        let header = Condition::HttpHeader {
            name: "X-Bypass".into(),
            values: vec!["s3cret".into()],
        };
        assert!(!is_cookie_condition(&header));
    }

    fn snapshot(rules: Vec<RuleView>, prefix: Option<&str>) -> ListenerSnapshot {
        let mut m = cookie_rule(vec![Condition::PathPattern {
            values: vec!["/*".into()],
        }]);
        m.arn = "rule/m".into();
        m.priority = Some(50_000);
        m.action = ActionSummary::Forward {
            target_groups: vec!["tg-mr".into()],
            weights: Vec::new(),
        };
        m.tags = [
            (tags::ROLE, tags::ROLE_MAINTENANCE),
            (tags::PARKED_PRIORITY, "50000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if let Some(p) = prefix {
            m.tags.insert(tags::CONTENT_PREFIX.into(), p.into());
        }
        let mut all = vec![RuleView {
            arn: "rule/catch-all".into(),
            actions: Vec::new(),
            priority: Some(10),
            conditions: vec![Condition::PathPattern {
                values: vec!["/*".into()],
            }],
            action: ActionSummary::Forward {
                target_groups: vec!["tg-app".into()],
                weights: Vec::new(),
            },
            tags: Default::default(),
        }];
        all.extend(rules);
        all.push(m);
        let info = ListenerInfo {
            arn: "L".into(),
            load_balancer: "LB".into(),
            protocol: "HTTPS".into(),
            port: Some(443),
        };
        ListenerSnapshot::new(info, all)
    }

    #[test]
    fn attach_plans_the_cookie_rule_beside_the_others_and_finds_it_by_its_tag() {
        use crate::planner::attach::{AttachError, AttachSpec, AttachStep, plan_attach};
        let spec = AttachSpec {
            target_group: "tg-mr".into(),
            parked: 50_000,
            environment: None,
            content_prefix: Some("/maintenance/shop".into()),
            bypass_cidrs: vec!["203.0.113.0/24".parse().unwrap()],
            bypass_header: Some(("X-Bypass".into(), "s3cret".into())),
            bypass_link: true,
            app_target_group: Some("tg-app".into()),
            allow_fallthrough: false,
            allow_bypass_everyone: false,
            fallback: None,
        };
        let mut bare = snapshot(vec![], Some("/maintenance/shop"));
        bare.rules.retain(|r| r.arn != "rule/m");
        let steps = plan_attach(&bare, &spec).unwrap();
        let AttachStep::Create { rule, .. } = &steps[3] else {
            panic!("{steps:?}")
        };
        assert_eq!(
            rule.priority, 49_997,
            "directly above the other bypass rules"
        );
        assert_eq!(rule.conditions, vec![cookie_condition(HIDDEN_TOKEN)]);
        assert!(rule.tags.contains(&(
            tags::BYPASS_LINK.to_string(),
            tags::BYPASS_LINK_COOKIE.to_string()
        )));
        assert_eq!(rule.target_group, "tg-app");
        // Attached, with whatever token on: found again by its tag, nothing to create.
        let mut spec = spec;
        spec.bypass_cidrs.clear();
        spec.bypass_header = None;
        let on_listener = snapshot(
            vec![cookie_rule(vec![cookie_condition(TOKEN)])],
            Some("/maintenance/shop"),
        );
        let again = plan_attach(&on_listener, &spec).unwrap();
        assert!(
            again
                .iter()
                .all(|s| matches!(s, AttachStep::Present { .. })),
            "{again:?}"
        );
        spec.content_prefix = None;
        assert!(matches!(spec.validate(), Err(AttachError::Invalid(m)) if m.contains("--prefix")));
    }

    #[test]
    fn a_switch_groups_cookie_rules_by_prefix_and_refuses_what_it_cannot_set() {
        let ok = snapshot(
            vec![cookie_rule(vec![cookie_condition(TOKEN)])],
            Some("/maintenance/shop"),
        );
        let plan = plan_tokens([&ok, &ok], true).unwrap();
        assert_eq!(plan.groups.len(), 1);
        assert_eq!(plan.rules(), 2);
        assert_eq!(plan.groups[0].parameter, "/maintenance/shop/bypass/token");
        assert_eq!(plan.groups[0].rules[0].previous.expose(), TOKEN);
        assert!(!serde_json::to_string(&plan).unwrap().contains(TOKEN));
        assert!(!format!("{plan:?}").contains(TOKEN));

        let no_prefix = snapshot(vec![cookie_rule(vec![cookie_condition(TOKEN)])], None);
        let err = plan_tokens([&no_prefix], true).unwrap_err().to_string();
        assert!(
            err.contains(tags::CONTENT_PREFIX) && err.contains("add-tags --resource-arns rule/m"),
            "{err}"
        );
        let rules_only = plan_tokens([&no_prefix], false).unwrap();
        assert_eq!(rules_only.groups[0].parameter, "");
        assert!(rules_only.parameters().contains("no SSM parameter"));

        let edited = snapshot(
            vec![cookie_rule(vec![Condition::HttpHeader {
                name: "Cookie".into(),
                values: vec!["*".into()],
            }])],
            Some("/m"),
        );
        let err = plan_tokens([&edited], false).unwrap_err().to_string();
        assert!(
            err.contains("maintctl did not set") && err.contains("delete-rule"),
            "{err}"
        );
        // No cookie rule, nothing to do.
        assert!(
            plan_tokens([&snapshot(vec![], Some("/m"))], true)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn hosts_and_paths_are_checked() {
        for good in ["shop.example.com", "a", "shop.example.com:8443", "10.0.0.1"] {
            assert_eq!(check_host(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "https://shop.example.com",
            "shop.example.com/",
            "shop example",
            "*.example.com",
            "shop..example.com",
            ".example.com",
            "shop.example.com:0",
            "shop.example.com:99999",
            "evil.com/@shop.example.com",
            "shop.example.com\r\nX: y",
        ] {
            assert!(check_host(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_bypass_path(DEFAULT_BYPASS_PATH), Ok(()));
        for bad in ["", "/", "bypass", "/b/", "/a//b", "/a b", "/a?b"] {
            assert!(check_bypass_path(bad).is_err(), "{bad:?}");
        }
        let names = ["*.example.com", "Shop.Example.com", "www.example.com"].map(String::from);
        assert_eq!(link_host(&names).as_deref(), Some("shop.example.com"));
        assert_eq!(link_host(&["*.example.com".to_string()]), None);
    }

    #[test]
    fn the_link_names_the_host_the_path_and_the_token() {
        let token = BypassToken::parse(TOKEN).unwrap();
        assert_eq!(
            link_url(
                true,
                Some("shop.example.com"),
                "/__maintenance/bypass",
                &token
            ),
            format!("https://shop.example.com/__maintenance/bypass/{TOKEN}")
        );
        assert_eq!(link_url(false, None, "/b", &token), format!("/b/{TOKEN}"));
        assert!(BypassOptions::new(Some("https://x".into()), "/b", false).is_err());
        assert!(BypassOptions::new(None, "b", false).is_err());
    }
}
