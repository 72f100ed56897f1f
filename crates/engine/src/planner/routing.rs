//! Which rule of a listener answers a request, evaluated as the ALB does (pure): the rules in
//! priority order, each matching when all its conditions do, the listener's default rule when
//! none does ([`answer`]).
//!
//! The conditions, as the ALB documents them (Elastic Load Balancing, "Listener rules for your
//! Application Load Balancer", condition types): `path-pattern` (case-sensitive, against the
//! path without its query), `host-header` (case-insensitive, the port left out),
//! `http-header` (the name case-insensitive, the values case-insensitive; every field of a
//! repeated header is tried), `http-request-method` (case-sensitive, exact),
//! `query-string` (key/value pairs, case-insensitive, the key optional), `source-ip` (CIDRs).
//! Values are OR-ed; `*` matches any run of characters, `?` exactly one (not for methods or
//! addresses). A condition this model does not know (a transform, `RegexValues`) is
//! undecided.
//!
//! A [`Request`] may leave parts unknown (any host, any client, other headers): a condition on
//! an unknown part is then undecided ([`Match::Maybe`]) unless it matches every value (`*`).
//! The [`Answer`] is the first rule that surely matches, with the rules before it that may
//! match part of such requests (a bypass rule for some clients). That is how `maintctl status`
//! and `doctor` name what answers a page request, a path no rule names and a health check,
//! whatever the priorities say.
//!
//! Where the answering rule sends the request ([`reach`], [`Destination`]): its last action
//! (authentication actions before it are passed, as for a signed-in visitor). A forward to
//! several target groups picks one by weight (0–999; a weight-0 group is never chosen) with a
//! caller-given draw, so a test samples distinct visitors deterministically ([`visitor_draw`]);
//! with target-group stickiness on, a visitor whose `AWSALBTG` cookie names one of the
//! action's groups with a weight above 0 stays on it. The ALB's cookie value is opaque
//! (encrypted); this model takes the target group's ARN as its value
//! ([`STICKINESS_COOKIE`]), which is what a [`Destination::TargetGroup`] says to set.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::planner::action::ActionSummary;
use crate::planner::action::{Forward, RuleAction};
use crate::planner::listener::{Condition, ListenerSnapshot, RuleView};
use crate::planner::priorities::{Role, State};
use crate::planner::record::rule_id;
use maintenance_core::deploy_names::HEALTH_CHECK_USER_AGENT;

/// How a condition (or a rule) matches a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// It matches.
    Yes,
    /// It does not.
    No,
    /// It depends on what the request leaves unknown.
    Maybe,
}

impl Match {
    /// All of them (a rule's conditions are AND-ed).
    fn all(matches: impl IntoIterator<Item = Match>) -> Match {
        let mut out = Match::Yes;
        for m in matches {
            match m {
                Match::No => return Match::No,
                Match::Maybe => out = Match::Maybe,
                Match::Yes => {}
            }
        }
        out
    }

    fn known(yes: bool) -> Match {
        if yes { Match::Yes } else { Match::No }
    }
}

/// A request, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The `Host` header (a port is left out); `None`: any host.
    pub host: Option<String>,
    /// The query's pairs, decoded; `None`: any query.
    pub query: Option<Vec<(String, String)>>,
    /// Header fields, in order (names in any case).
    pub headers: Vec<(String, String)>,
    /// Whether `headers` are all the request's headers (false: it may carry others).
    pub headers_complete: bool,
    /// The connection's source address; `None`: any client.
    pub source_ip: Option<IpAddr>,
}

impl Request {
    /// `GET path`, from any host and client, with no query and possibly other headers.
    pub fn get(path: &str) -> Self {
        Self {
            method: "GET".into(),
            path: path.into(),
            host: None,
            query: Some(Vec::new()),
            headers: Vec::new(),
            headers_complete: false,
            source_ip: None,
        }
    }

    /// The same request with one more header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The kinds of request `status` and `doctor` ask a listener about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    /// A visitor's page: `GET /`.
    Page,
    /// A path no rule is likely to name.
    Unmatched,
    /// The load balancer's (or an NLB's) health check of the health route.
    HealthCheck,
}

/// A path that no rule is likely to name, for [`RequestKind::Unmatched`].
pub const UNMATCHED_PATH: &str = "/__maintctl-no-such-path";

impl RequestKind {
    /// Every kind, in the order they are shown.
    pub const ALL: [RequestKind; 3] = [
        RequestKind::Page,
        RequestKind::Unmatched,
        RequestKind::HealthCheck,
    ];

    /// The request of this kind (`health_path`: the responder's health route).
    pub fn request(self, health_path: &str) -> Request {
        match self {
            RequestKind::Page => Request::get("/").header("Accept", "text/html"),
            RequestKind::Unmatched => Request::get(UNMATCHED_PATH),
            RequestKind::HealthCheck => {
                Request::get(health_path).header("User-Agent", HEALTH_CHECK_USER_AGENT)
            }
        }
    }

    /// How it is shown: `GET /`, `a path no rule names`, `health checks (GET /healthz)`.
    pub fn label(self, health_path: &str) -> String {
        match self {
            RequestKind::Page => "GET /".into(),
            RequestKind::Unmatched => format!("a path no rule names (GET {UNMATCHED_PATH})"),
            RequestKind::HealthCheck => format!("health checks (GET {health_path})"),
        }
    }
}

/// What answers one kind of request on a listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindAnswer {
    /// The kind of request.
    pub kind: RequestKind,
    /// The request, as shown (`GET /`, …).
    pub request: String,
    /// The rule that answers (its ARN).
    pub rule: String,
    /// Its priority (`None`: the listener's default rule).
    pub priority: Option<u32>,
    /// What it is (from its tags and what it does; `other` for the default rule too).
    pub role: Role,
    /// What it does.
    pub action: String,
    /// Rules before it that answer part of such requests (some clients, hosts or headers).
    pub before: Vec<String>,
}

impl std::fmt::Display for KindAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = match self.priority {
            Some(p) => format!("{} rule {} (priority {p})", self.role, rule_id(&self.rule)),
            None => "the default rule".into(),
        };
        write!(f, "{}: {who}: {}", self.request, self.action)?;
        if !self.before.is_empty() {
            write!(
                f,
                " (before it, rule(s) {} answer some of these requests)",
                self.before.join(", ")
            )?;
        }
        Ok(())
    }
}

/// A managed rule that answers requests it should not, with the maintenance `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Misroute {
    /// The rule.
    pub rule: String,
    /// Its role.
    pub role: Role,
    /// The kinds of request it answers.
    pub kinds: Vec<RequestKind>,
    /// It makes visitors or health checks get a bare 503: a failure, not a warning.
    pub severe: bool,
    /// What it means and what to do.
    pub message: String,
}

impl ListenerSnapshot {
    /// Which rule answers each [`RequestKind`] (`health_path`: the responder's health route).
    pub fn answers(&self, health_path: &str) -> Vec<KindAnswer> {
        RequestKind::ALL
            .iter()
            .filter_map(|&kind| {
                let a = answer(&self.rules, &kind.request(health_path))?;
                Some(KindAnswer {
                    kind,
                    request: kind.label(health_path),
                    rule: a.rule.arn.clone(),
                    priority: a.rule.priority,
                    role: match a.rule.is_default() {
                        true => Role::App,
                        false => self.recognised_role(a.rule),
                    },
                    action: a.rule.action.to_string(),
                    before: a
                        .before
                        .iter()
                        .map(|r| rule_id(&r.arn).to_string())
                        .collect(),
                })
            })
            .collect()
    }

    /// The managed rules that answer what they should not while maintenance is `state`: a
    /// parked fallback rule anything (the ALB's bare 503), a parked maintenance rule anything
    /// (the maintenance page for the requests no rule of the application takes), the fallback
    /// page the health checks while it is live.
    pub fn misrouted(&self, state: State, answers: &[KindAnswer]) -> Vec<Misroute> {
        let mut out: Vec<Misroute> = Vec::new();
        let own = self
            .rules
            .iter()
            .any(|r| !r.is_default() && self.recognised_role(r) == Role::App);
        if let (false, Some(m)) = (own, self.responder_rule()) {
            out.push(Misroute {
                rule: m.arn.clone(),
                role: Role::Maintenance,
                kinds: RequestKind::ALL.to_vec(),
                severe: true,
                message: format!(
                    "maintenance rule {} answers every request: the listener has no rule of \
                     its own, so maintenance is on for good and neither on nor off changes \
                     that; add the application's rules before it (a catch-all, path /*, \
                     forwarding to the application)",
                    rule_id(&m.arn)
                ),
            });
            return out;
        }
        for a in answers {
            let (severe, what) = match (a.role, state) {
                (Role::Fallback, State::Off | State::Between) => (true, PARKED_FALLBACK),
                (Role::Maintenance, State::Off | State::Between) => (false, PARKED_MAINTENANCE),
                (Role::Fallback, State::On) if a.kind == RequestKind::HealthCheck => {
                    (false, LIVE_FALLBACK)
                }
                _ => continue,
            };
            match out.iter_mut().find(|m| m.rule == a.rule) {
                Some(m) => m.kinds.push(a.kind),
                None => out.push(Misroute {
                    rule: a.rule.clone(),
                    role: a.role,
                    kinds: vec![a.kind],
                    severe,
                    message: what.into(),
                }),
            }
        }
        for m in &mut out {
            let kinds: Vec<String> = answers
                .iter()
                .filter(|a| m.kinds.contains(&a.kind))
                .map(|a| a.request.clone())
                .collect();
            m.message = format!(
                "{} rule {} answers {}: {}",
                m.role,
                rule_id(&m.rule),
                kinds.join(", "),
                m.message
            );
        }
        out
    }
}

const PARKED_FALLBACK: &str = "parked, it gives them the ALB's bare 503 (no Retry-After) while \
    maintenance is off, and an NLB in front takes the whole ALB out of service when its health \
    checks get a 503: add a catch-all rule for the application (path /*) before it, or delete \
    the fallback rule (aws elbv2 delete-rule --rule-arn ARN; maintctl attach adds it again \
    where it catches nothing)";

const PARKED_MAINTENANCE: &str = "parked, it gives them the maintenance page while maintenance \
    is off (no rule of the application catches them before it; attach --allow-fallthrough \
    allows that): add a catch-all rule for the application (path /*) before it if they should \
    get the listener's default action";

const LIVE_FALLBACK: &str = "the fallback page is live, so health checks get its 503 too and an \
    NLB in front takes the ALB out of service: maintctl on puts the responder's page (health \
    route 200) back once it answers";

/// Which rule answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<'a> {
    /// The first rule that surely matches (the default rule when none does before it).
    pub rule: &'a RuleView,
    /// Rules before it that match part of such requests (a client, a host, a header).
    pub before: Vec<&'a RuleView>,
}

/// The rule that answers `request` on a listener with `rules` (the default rule among them),
/// evaluated in priority order; `None` only for a listener without a default rule.
pub fn answer<'a>(rules: &'a [RuleView], request: &Request) -> Option<Answer<'a>> {
    let mut ordered: Vec<&RuleView> = rules.iter().collect();
    ordered.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
    let mut before = Vec::new();
    for rule in ordered {
        match rule_matches(rule, request) {
            Match::Yes => return Some(Answer { rule, before }),
            Match::Maybe => before.push(rule),
            Match::No => {}
        }
    }
    None
}

/// Whether a rule matches: the default rule always, any other when all its conditions do.
pub fn rule_matches(rule: &RuleView, request: &Request) -> Match {
    if rule.is_default() {
        return Match::Yes;
    }
    Match::all(
        rule.conditions
            .iter()
            .map(|c| condition_matches(c, request)),
    )
}

/// Whether one condition matches.
pub fn condition_matches(condition: &Condition, request: &Request) -> Match {
    match condition {
        Condition::PathPattern { values } => Match::known(
            values
                .iter()
                .any(|v| wildcard(v.as_bytes(), request.path.as_bytes())),
        ),
        Condition::HostHeader { values } => match &request.host {
            Some(host) => {
                let host = host
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                Match::known(values.iter().any(|v| wildcard_nocase(v, &host)))
            }
            None => unknown(values),
        },
        Condition::HttpHeader { name, values } => header_matches(name, values, request),
        Condition::HttpRequestMethod { values } => Match::known(values.contains(&request.method)),
        Condition::QueryString { values } => match &request.query {
            Some(query) => Match::known(values.iter().any(|pair| {
                query.iter().any(|(k, v)| {
                    pair.key
                        .as_deref()
                        .is_none_or(|key| wildcard_nocase(key, k))
                        && wildcard_nocase(&pair.value, v)
                })
            })),
            None => Match::Maybe,
        },
        Condition::SourceIp { values } => source_matches(values, request.source_ip),
        Condition::Other { .. } => Match::Maybe,
    }
}

/// An unknown part of the request: `*` matches it, anything else may.
fn unknown(values: &[String]) -> Match {
    if values
        .iter()
        .any(|v| v.bytes().all(|b| b == b'*') && !v.is_empty())
    {
        Match::Yes
    } else {
        Match::Maybe
    }
}

fn header_matches(name: &str, values: &[String], request: &Request) -> Match {
    let fields: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    let found = Match::known(
        fields
            .iter()
            .any(|field| values.iter().any(|v| wildcard_nocase(v, field))),
    );
    match found {
        Match::No if !request.headers_complete => Match::Maybe,
        other => other,
    }
}

fn source_matches(values: &[String], source: Option<IpAddr>) -> Match {
    let nets: Vec<IpNet> = values.iter().filter_map(|v| v.parse().ok()).collect();
    match source {
        Some(ip) => Match::known(nets.iter().any(|n| n.contains(&ip))),
        None => {
            let everyone = |v4: bool| {
                nets.iter()
                    .any(|n| n.prefix_len() == 0 && n.addr().is_ipv4() == v4)
            };
            if everyone(true) && everyone(false) {
                Match::Yes
            } else if nets.is_empty() {
                Match::No
            } else {
                Match::Maybe
            }
        }
    }
}

/// The ALB's target-group stickiness cookie.
pub const STICKINESS_COOKIE: &str = "AWSALBTG";

/// Where a request ends up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "to", rename_all = "kebab-case")]
pub enum Destination {
    /// A target group.
    TargetGroup {
        /// Its ARN.
        arn: String,
        /// With target-group stickiness on: the `AWSALBTG` value the answer sets (the ARN in
        /// this model) and for how many seconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        sticky_seconds: Option<u32>,
    },
    /// The ALB answers itself.
    FixedResponse {
        /// Its status code.
        status: String,
    },
    /// A redirect.
    Redirect,
    /// A forward whose every target group has weight 0 (the ALB refuses such an action; a
    /// listener as read never has one).
    NoTargetGroup,
    /// An action this model does not follow.
    Other {
        /// Its type.
        kind: String,
    },
}

impl Destination {
    /// The target group, if it is one.
    pub fn target_group(&self) -> Option<&str> {
        match self {
            Destination::TargetGroup { arn, .. } => Some(arn),
            _ => None,
        }
    }
}

/// The rule that answers a request and where it sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached<'a> {
    /// The rule (see [`answer`]).
    pub answer: Answer<'a>,
    /// Where its action sends the request.
    pub destination: Destination,
}

/// Where `request` ends up on a listener with `rules`: the rule that answers ([`answer`]) and
/// its last action; `draw` (any `u64`, uniform over visitors: [`visitor_draw`]) picks the
/// target group of a weighted forward. `None` only for a listener without a default rule.
pub fn reach<'a>(rules: &'a [RuleView], request: &Request, draw: u64) -> Option<Reached<'a>> {
    let answer = answer(rules, request)?;
    let actions = if answer.rule.actions.is_empty() {
        RuleAction::from_summary(&answer.rule.action).unwrap_or_default()
    } else {
        answer.rule.actions.clone()
    };
    let destination = match actions.last() {
        Some(RuleAction::Forward(f)) => match pick(f, draw, sticky_group(request).as_deref()) {
            Some(arn) => Destination::TargetGroup {
                arn: arn.to_string(),
                sticky_seconds: f.stickiness_seconds,
            },
            None => Destination::NoTargetGroup,
        },
        Some(RuleAction::FixedResponse(r)) => Destination::FixedResponse {
            status: r.status_code.clone(),
        },
        Some(RuleAction::Redirect(_)) => Destination::Redirect,
        Some(other) => Destination::Other {
            kind: other.kind().to_string(),
        },
        None => match &answer.rule.action {
            ActionSummary::Redirect => Destination::Redirect,
            other => Destination::Other {
                kind: other.to_string(),
            },
        },
    };
    Some(Reached {
        answer,
        destination,
    })
}

/// The target group a forward sends a visitor to: the one its stickiness cookie names (with
/// stickiness on, among the action's groups of weight above 0), else by weight with `draw`.
/// `None` when every weight is 0.
pub fn pick<'f>(forward: &'f Forward, draw: u64, sticky: Option<&str>) -> Option<&'f str> {
    let live = || forward.target_groups.iter().filter(|t| t.weight > 0);
    if forward.stickiness_seconds.is_some()
        && let Some(stuck) = sticky
        && let Some(t) = live().find(|t| t.arn == stuck)
    {
        return Some(&t.arn);
    }
    let total: u64 = live().map(|t| u64::from(t.weight)).sum();
    if total == 0 {
        return None;
    }
    // `draw` scaled to 0..total: uniform when `draw` is uniform over u64.
    let mut point = ((u128::from(draw) * u128::from(total)) >> 64) as u64;
    for t in live() {
        let w = u64::from(t.weight);
        if point < w {
            return Some(&t.arn);
        }
        point -= w;
    }
    None
}

/// The target group the request's `AWSALBTG` cookie names, if it carries one.
fn sticky_group(request: &Request) -> Option<String> {
    request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == STICKINESS_COOKIE).then(|| value.to_string())
        })
}

/// A visitor's draw from its number (SplitMix64): distinct, evenly spread draws for
/// visitors 0, 1, 2, …
pub fn visitor_draw(visitor: u64) -> u64 {
    let mut z = visitor.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `pattern` (`*` any run, `?` one character) against `text`, case-insensitively.
fn wildcard_nocase(pattern: &str, text: &str) -> bool {
    wildcard(
        pattern.to_ascii_lowercase().as_bytes(),
        text.to_ascii_lowercase().as_bytes(),
    )
}

/// `pattern` (`*` any run of bytes, `?` one character) against `text`, exactly.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let text: Vec<char> = String::from_utf8_lossy(text).chars().collect();
    let pattern: Vec<char> = String::from_utf8_lossy(pattern).chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::action::ActionSummary;
    use crate::planner::listener::QueryPair;
    use std::collections::BTreeMap;

    fn rule(id: &str, priority: Option<u32>, conditions: Vec<Condition>) -> RuleView {
        RuleView {
            arn: id.into(),
            actions: Vec::new(),
            priority,
            conditions,
            action: ActionSummary::Redirect,
            tags: BTreeMap::new(),
        }
    }

    fn path(v: &[&str]) -> Condition {
        Condition::PathPattern {
            values: v.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn wildcards_match_as_the_alb_documents() {
        assert!(wildcard(b"/api/*", b"/api/v1/x"));
        assert!(wildcard(b"/img/?.png", b"/img/a.png"));
        assert!(!wildcard(b"/img/?.png", b"/img/ab.png"));
        assert!(wildcard(b"*", b""));
        assert!(!wildcard(b"/API/*", b"/api/x"), "paths are case-sensitive");
        assert!(wildcard_nocase("*.Example.com", "shop.example.COM"));
        assert!(wildcard(b"*a*b*", b"xxaxxbxx"));
        assert!(!wildcard(b"*a*b", b"xxaxxbxxc"));
    }

    #[test]
    fn the_first_rule_that_surely_matches_answers_in_priority_order() {
        let rules = vec![
            rule("default", None, vec![]),
            rule("api", Some(5), vec![path(&["/api/*"])]),
            rule(
                "office",
                Some(1),
                vec![Condition::SourceIp {
                    values: vec!["198.51.100.0/24".into()],
                }],
            ),
            rule("all", Some(10), vec![path(&["/*"])]),
        ];
        let a = answer(&rules, &Request::get("/api/x")).unwrap();
        assert_eq!(a.rule.arn, "api");
        assert_eq!(
            a.before.iter().map(|r| r.arn.as_str()).collect::<Vec<_>>(),
            ["office"]
        );
        let a = answer(&rules, &Request::get("/")).unwrap();
        assert_eq!(a.rule.arn, "all");
        let mut known = Request::get("/");
        known.source_ip = Some("198.51.100.7".parse().unwrap());
        assert_eq!(answer(&rules, &known).unwrap().rule.arn, "office");
        let only_default = vec![rule("default", None, vec![])];
        assert_eq!(
            answer(&only_default, &Request::get("/")).unwrap().rule.arn,
            "default"
        );
    }

    #[test]
    fn every_condition_type_is_evaluated() {
        let mut r = Request::get("/x").header("X-Secret", "Open-Sesame");
        r.host = Some("Shop.Example.com:443".into());
        r.query = Some(vec![("Lang".into(), "JA".into())]);
        r.headers_complete = true;
        let yes = [
            Condition::HostHeader {
                values: vec!["*.example.com".into()],
            },
            Condition::HttpHeader {
                name: "x-secret".into(),
                values: vec!["open-*".into()],
            },
            Condition::HttpRequestMethod {
                values: vec!["GET".into(), "HEAD".into()],
            },
            Condition::QueryString {
                values: vec![QueryPair {
                    key: Some("lang".into()),
                    value: "ja".into(),
                }],
            },
            Condition::QueryString {
                values: vec![QueryPair {
                    key: None,
                    value: "j?".into(),
                }],
            },
        ];
        for c in &yes {
            assert_eq!(condition_matches(c, &r), Match::Yes, "{c:?}");
        }
        let no = [
            Condition::HttpRequestMethod {
                values: vec!["get".into()],
            },
            Condition::HttpHeader {
                name: "Cookie".into(),
                values: vec!["*maint_bypass=*".into()],
            },
            Condition::SourceIp {
                values: vec!["10.0.0.0/8".into()],
            },
        ];
        r.source_ip = Some("192.0.2.1".parse().unwrap());
        for c in &no {
            assert_eq!(condition_matches(c, &r), Match::No, "{c:?}");
        }
        // Unknown parts are undecided, unless the condition takes every value.
        let open = Request::get("/x");
        assert_eq!(condition_matches(&no[1], &open), Match::Maybe);
        assert_eq!(condition_matches(&yes[0], &open), Match::Maybe);
        let any_host = Condition::HostHeader {
            values: vec!["*".into()],
        };
        assert_eq!(condition_matches(&any_host, &open), Match::Yes);
        let everyone = Condition::SourceIp {
            values: vec!["0.0.0.0/0".into(), "::/0".into()],
        };
        assert_eq!(condition_matches(&everyone, &open), Match::Yes);
        let other = Condition::Other {
            name: "transform".into(),
            values: vec![],
        };
        assert_eq!(condition_matches(&other, &r), Match::Maybe);
    }

    fn weighted(groups: &[(&str, u32)], sticky: Option<u32>) -> Forward {
        Forward {
            target_groups: groups
                .iter()
                .map(
                    |(arn, weight)| crate::planner::action::WeightedTargetGroup {
                        arn: arn.to_string(),
                        weight: *weight,
                    },
                )
                .collect(),
            stickiness_seconds: sticky,
            weighted: true,
        }
    }

    #[test]
    fn a_weighted_forward_splits_visitors_by_weight_and_never_picks_weight_zero() {
        let f = weighted(&[("a", 1), ("zero", 0), ("b", 3)], None);
        let mut counts = BTreeMap::new();
        for v in 0..40_000 {
            *counts
                .entry(pick(&f, visitor_draw(v), None).unwrap())
                .or_insert(0u32) += 1;
        }
        assert!(!counts.contains_key("zero"), "{counts:?}");
        let a = f64::from(counts["a"]) / 40_000.0;
        assert!((a - 0.25).abs() < 0.01, "share of a {a}");
        assert_eq!(pick(&weighted(&[("z", 0)], None), 7, None), None);
        // The extremes of the draw land in the first and last groups.
        assert_eq!(pick(&f, 0, None), Some("a"));
        assert_eq!(pick(&f, u64::MAX, None), Some("b"));
    }

    #[test]
    fn target_group_stickiness_keeps_a_visitor_on_its_group() {
        let sticky = weighted(&[("a", 1), ("b", 1), ("off", 0)], Some(3600));
        let draw_b = (0..)
            .map(visitor_draw)
            .find(|d| pick(&sticky, *d, None) == Some("b"));
        let draw_b = draw_b.unwrap();
        assert_eq!(pick(&sticky, draw_b, Some("a")), Some("a"));
        assert_eq!(
            pick(&sticky, draw_b, Some("off")),
            Some("b"),
            "weight 0: not kept"
        );
        let loose = weighted(&[("a", 1), ("b", 1)], None);
        assert_eq!(pick(&loose, draw_b, Some("a")), Some("b"), "no stickiness");

        let mut rule = rule("r", Some(1), vec![path(&["/*"])]);
        rule.actions = vec![RuleAction::Forward(sticky)];
        let rules = vec![
            rule,
            RuleView {
                actions: Vec::new(),
                ..rule_default()
            },
        ];
        let request = Request::get("/").header("Cookie", "x=1; AWSALBTG=a; y=2");
        let reached = reach(&rules, &request, draw_b).unwrap();
        assert_eq!(
            reached.destination,
            Destination::TargetGroup {
                arn: "a".into(),
                sticky_seconds: Some(3600)
            }
        );
        assert_eq!(reached.answer.rule.arn, "r");
    }

    fn rule_default() -> RuleView {
        let mut d = rule("default", None, vec![]);
        d.action = ActionSummary::FixedResponse {
            status: "404".into(),
            content_type: "text/plain".into(),
            body: String::new(),
        };
        d
    }

    #[test]
    fn a_request_reaches_the_target_group_of_its_path() {
        let mut api = rule("api", Some(1), vec![path(&["/api/*"])]);
        api.action = ActionSummary::Forward {
            target_groups: vec!["tg-api".into()],
            weights: vec![],
        };
        let mut cookie = rule(
            "cookie",
            Some(2),
            vec![Condition::HttpHeader {
                name: "cookie".into(),
                values: vec!["*maint_admit=t0k*".into()],
            }],
        );
        cookie.action = ActionSummary::Forward {
            target_groups: vec!["tg-web".into()],
            weights: vec![],
        };
        let rules = vec![api, cookie, rule_default()];
        let to = |r: &Request| reach(&rules, r, 0).unwrap().destination;
        assert_eq!(to(&Request::get("/api/x")).target_group(), Some("tg-api"));
        let mut admitted = Request::get("/shop").header("Cookie", "a=b; maint_admit=t0k");
        admitted.headers_complete = true;
        assert_eq!(to(&admitted).target_group(), Some("tg-web"));
        let mut other = Request::get("/shop").header("Cookie", "maint_admit=old");
        other.headers_complete = true;
        assert_eq!(
            to(&other),
            Destination::FixedResponse {
                status: "404".into()
            }
        );
        let mut redirect = rule("r", Some(1), vec![path(&["/*"])]);
        redirect.action = ActionSummary::Redirect;
        assert_eq!(
            reach(&[redirect], &Request::get("/"), 0)
                .unwrap()
                .destination,
            Destination::Redirect
        );
    }
}
