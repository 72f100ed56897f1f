//! The bypass link's token as a switch sets it (issue #14). Every caller of
//! `crate::ops::switch` (maintctl, a scheduled switch) goes through here:
//!
//! - [`plan`], with the switch's plan: the cookie rules of the selected listeners by content
//!   prefix (`crate::planner::plan_tokens`) and how each prefix's token parameter is stored;
//! - [`start_window`], for `on`, after the confirmation and before any rule moves: a new token
//!   (`crate::ops::token::new_token`) on every cookie rule (ModifyRule, conditions only),
//!   then in SSM (`SecureString`). Each cookie rule is re-read first, and the switch is
//!   refused if one changed since planning (another switch wrote its token), so a concurrent
//!   `on` does not overwrite a link already handed out. If a write fails, the rules already changed get
//!   their previous token back; the link is printed only once everything is in place;
//! - [`rotate`], for `off`, after the rules are parked: a new token nobody is given, on the
//!   rules and in SSM, so an old link never works in a later window. A failure there is a
//!   warning: the rules are parked (the cookie catches nothing), and the next `on` sets a new
//!   token before it moves any rule;
//! - [`links`]: the link for each prefix, `https://HOST{bypass_path}/TOKEN`, the host from
//!   `--host` or the HTTPS listeners' certificates.
//!
//! The token is never in a plan, an error message or a log line: errors are scrubbed of it
//! (`crate::ops::token::scrub`), and [`BypassLink`], the only thing that holds it in a
//! report, hides it from `Debug`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::listeners::{Listeners, ListenersError};
use crate::ops::Outcome;
use crate::ops::token::{TokenError, TokenStore, new_token, scrub};
use crate::planner::bypass::{
    cookie_condition, is_cookie_condition, link_host, link_url, rule_token,
};
use crate::planner::{
    BypassOptions, CookieRule, Direction, NewRule, Planned, TokenGroup, TokenPlan, plan_tokens,
    rule_id,
};
use maintenance_core::content::BypassToken;
use maintenance_core::deploy_names::tags;
use maintenance_responder::content_cache::CacheSettings;
use maintenance_responder::ssm::{FetchError, StoredType, Write};

/// The token step of one switch: the cookie rules, how each prefix's parameter is stored, and
/// how the link is printed. Shown with the switch's plan (never a token).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BypassPlan {
    /// The cookie rules by content prefix.
    pub tokens: TokenPlan,
    /// How each group's parameter is to be written (an existing `SecureString` keeps its key);
    /// `None`: not written (`--no-bypass-link`, or an `off` that could not read it).
    #[serde(skip)]
    kinds: Vec<Option<StoredType>>,
    /// The link's host and path; `skip`: no link this window.
    pub options: BypassOptions,
    /// What stops the token step without stopping the switch (an `off` whose cookie rules
    /// cannot be planned).
    pub warnings: Vec<String>,
    /// `on` where maintenance is on already (the page changes, or a switch left part-way is
    /// finished): the window goes on, so its token and link stay. Only a new window gets a
    /// new token.
    #[serde(skip)]
    pub keep: bool,
}

impl BypassPlan {
    /// The lines the plan shows about the bypass link, for the text and the JSON `notes`.
    pub fn notes(&self, direction: Direction) -> Vec<String> {
        let t = &self.tokens;
        if t.is_empty() {
            return Vec::new();
        }
        let rules = t.rules();
        let where_to = t.parameters();
        if self.keep && direction == Direction::On {
            return vec![format!(
                "bypass link: maintenance is on already, so the {rules} cookie bypass rule(s) and \
                 {where_to} keep this window's token (a new link comes with a new window; \
                 maintctl bypass link prints this one)"
            )];
        }
        vec![match (direction, self.options.skip) {
            (Direction::On, false) => format!(
                "bypass link: a new token goes on {rules} cookie bypass rule(s), then into {where_to} \
                 (SecureString), before any rule moves; the link is printed once maintenance is on"
            ),
            (Direction::On, true) => format!(
                "bypass link: --no-bypass-link: {rules} cookie bypass rule(s) get a new token that \
                 is neither stored nor shown (no link this window; {where_to} is not written)"
            ),
            (Direction::Off, _) => format!(
                "bypass link: once the rules are parked, {rules} cookie bypass rule(s) and \
                 {where_to} get a new token nobody is given, so the link of this window stops \
                 working for good"
            ),
        }]
    }
}

/// Plans the token step of a switch of `listeners`. `on` refuses a cookie rule it cannot give a
/// token (no content prefix, conditions changed by hand, a parameter that is not a
/// `SecureString`); `off` never stops for the bypass link (what it cannot do is a warning).
pub async fn plan(
    store: &impl TokenStore,
    listeners: &[Planned],
    direction: Direction,
    options: &BypassOptions,
) -> Result<BypassPlan, crate::ops::Error> {
    let mut plan = BypassPlan {
        options: options.clone(),
        ..BypassPlan::default()
    };
    // Off always rotates; on without a link (--no-bypass-link) writes no parameter, so needs
    // no content prefix.
    let skip = options.skip && direction == Direction::On;
    plan.options.skip = skip;
    plan.keep = direction == Direction::On
        && listeners
            .iter()
            .all(|p| p.state == crate::planner::State::On);
    let need_prefix = direction == Direction::On && !skip;
    plan.tokens = match plan_tokens(listeners.iter().map(|p| &p.snapshot), need_prefix) {
        Ok(tokens) => tokens,
        Err(e) if direction == Direction::Off => {
            plan.warnings.push(format!(
                "{e} (off parks the rules anyway; their token is left as it is)"
            ));
            return Ok(plan);
        }
        Err(e) => return Err(e.into()),
    };
    for group in &plan.tokens.groups {
        if skip || group.parameter.is_empty() {
            if !skip {
                plan.warnings.push(format!(
                    "{} cookie bypass rule(s) on listeners whose maintenance rule has no {} tag: \
                     off sets a new token on them, but stores none",
                    group.rules.len(),
                    tags::CONTENT_PREFIX
                ));
            }
            plan.kinds.push(None);
            continue;
        }
        let kind = match stored_kind(store, &group.parameter).await {
            Ok(kind) => Some(kind),
            Err(e) if direction == Direction::Off => {
                plan.warnings.push(format!(
                    "{e}; off sets a new token on the cookie rules only, {} keeps its value",
                    group.parameter
                ));
                None
            }
            Err(e) => return Err(e.into()),
        };
        plan.kinds.push(kind);
    }
    Ok(plan)
}

/// How `parameter` is to be written: as it is stored (a `SecureString` keeps its key), or a
/// new `SecureString` under the account's `aws/ssm` key.
async fn stored_kind(store: &impl TokenStore, parameter: &str) -> Result<StoredType, TokenError> {
    let names = [parameter.to_string()];
    let found = store
        .stored_types(&names)
        .await
        .map_err(|source| TokenError::Read {
            parameter: parameter.to_string(),
            source,
        })?;
    match found.get(parameter) {
        None => Ok(StoredType::SecureString { key_id: None }),
        Some(kind @ StoredType::SecureString { .. }) => Ok(kind.clone()),
        Some(kind) => Err(TokenError::Type {
            parameter: parameter.to_string(),
            kind: kind.clone(),
        }),
    }
}

/// Why the token step of `on` stopped, and where it left the cookie rules.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// Failed (nothing written), refused (a cookie rule changed), rolled back, or inconsistent.
    pub outcome: Outcome,
    /// What happened, for the switch's closing message.
    pub message: String,
}

/// `on`: sets a new token on every cookie rule, then in SSM, before any rule moves; returns it
/// (`None` without cookie rules, or with `--no-bypass-link`, whose token is not kept).
pub async fn start_window(
    client: &impl Listeners,
    store: &impl TokenStore,
    plan: &BypassPlan,
) -> Result<Option<BypassToken>, Stopped> {
    if plan.tokens.is_empty() || plan.keep {
        return Ok(None);
    }
    let token = new_token().map_err(|e| Stopped {
        outcome: Outcome::Failed,
        message: format!("{e}; nothing was changed"),
    })?;
    unchanged_since_planning(client, &plan.tokens).await?;
    let rules: Vec<&CookieRule> = plan.tokens.groups.iter().flat_map(|g| &g.rules).collect();
    let mut changed: Vec<&CookieRule> = Vec::new();
    for rule in &rules {
        let set = client
            .modify_rule_conditions(&rule.rule, &rule.conditions(token.expose()))
            .await;
        if let Err(e) = set {
            if e.outcome_unknown() {
                changed.push(rule);
            }
            // The error names the rule.
            let what = format!(
                "setting the bypass token on a cookie rule failed: {}",
                scrub(&e.to_string(), &token)
            );
            return Err(undo(client, &changed, what).await);
        }
        changed.push(rule);
    }
    if plan.options.skip {
        return Ok(None);
    }
    for (group, kind) in plan.tokens.groups.iter().zip(&plan.kinds) {
        let Some(kind) = kind else { continue };
        if let Err(e) = put(store, group, kind, &token).await {
            let what = format!(
                "storing the bypass token in {} failed: {}{}",
                group.parameter,
                scrub(&e.to_string(), &token),
                if is_unknown(&e) {
                    " (it may have been stored: a token nobody was given)"
                } else {
                    ""
                }
            );
            return Err(undo(client, &changed, what).await);
        }
    }
    Ok(Some(token))
}

/// Re-reads every listener with a cookie rule: refused when one is not as planned (moved, or
/// holding another token: another switch may have handed out its link).
async fn unchanged_since_planning(
    client: &impl Listeners,
    tokens: &TokenPlan,
) -> Result<(), Stopped> {
    let mut by_listener: BTreeMap<&str, Vec<&CookieRule>> = BTreeMap::new();
    for rule in tokens.groups.iter().flat_map(|g| &g.rules) {
        by_listener
            .entry(rule.listener.arn.as_str())
            .or_default()
            .push(rule);
    }
    for (listener, planned) in by_listener {
        let now = client.rules(listener).await.map_err(|e| Stopped {
            outcome: Outcome::Failed,
            message: format!("re-reading listener {listener} failed: {e}; nothing was changed"),
        })?;
        for rule in planned {
            let same = now.iter().any(|r| {
                r.arn == rule.rule
                    && r.priority == Some(rule.priority)
                    && rule_token(r).is_ok_and(|t| t == rule.previous)
            });
            if !same {
                return Err(Stopped {
                    outcome: Outcome::Refused,
                    message: format!(
                        "refused: cookie bypass rule {} changed since planning (another switch?); \
                         nothing was changed: run the command again to plan from the current state",
                        rule.rule
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Writes the token of one prefix.
async fn put(
    store: &impl TokenStore,
    group: &TokenGroup,
    kind: &StoredType,
    token: &BypassToken,
) -> Result<(), FetchError> {
    let write = Write {
        name: group.parameter.clone(),
        value: token.expose().to_string(),
    };
    store.put(&write, kind).await
}

fn is_unknown(e: &FetchError) -> bool {
    matches!(e, FetchError::Timeout(_) | FetchError::SdkTimeout(_))
}

/// Puts each changed cookie rule's previous token back, and says how the step ended.
async fn undo(client: &impl Listeners, changed: &[&CookieRule], what: String) -> Stopped {
    if changed.is_empty() {
        return Stopped {
            outcome: Outcome::Failed,
            message: format!("{what}; nothing was changed"),
        };
    }
    let mut left = Vec::new();
    for rule in changed.iter().rev() {
        let back = client
            .modify_rule_conditions(&rule.rule, &rule.conditions(rule.previous.expose()))
            .await;
        if back.is_err() {
            left.push(rule_id(&rule.rule).to_string());
        }
    }
    if left.is_empty() {
        Stopped {
            outcome: Outcome::RolledBack,
            message: format!(
                "{what}; every cookie rule has its previous token back, no rule was moved: the \
                 listeners are as before"
            ),
        }
    } else {
        Stopped {
            outcome: Outcome::Inconsistent,
            message: format!(
                "{what}; putting the previous token back failed on cookie rule(s) {}: they hold a \
                 token nobody was given (the last link does not reach the application); no rule was \
                 moved: run maintctl on again",
                left.join(", ")
            ),
        }
    }
}

/// `off`, once the rules are parked: a new token nobody is given on every cookie rule and in
/// SSM. Returns the warnings (a failure does not undo the switch).
pub async fn rotate(
    client: &impl Listeners,
    store: &impl TokenStore,
    plan: &BypassPlan,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if plan.tokens.is_empty() {
        return warnings;
    }
    let token = match new_token() {
        Ok(token) => token,
        Err(e) => {
            warnings.push(format!("{e}; {}", AFTER_OFF));
            return warnings;
        }
    };
    for (group, kind) in plan.tokens.groups.iter().zip(&plan.kinds) {
        for rule in &group.rules {
            if let Err(e) = client
                .modify_rule_conditions(&rule.rule, &rule.conditions(token.expose()))
                .await
            {
                warnings.push(format!(
                    "maintenance is off, but setting a new token on cookie bypass rule {} failed: \
                     {}; {AFTER_OFF}",
                    rule.rule,
                    scrub(&e.to_string(), &token)
                ));
            }
        }
        if let Some(kind) = kind
            && let Err(e) = put(store, group, kind, &token).await
        {
            warnings.push(format!(
                "maintenance is off, but storing a new token in {} failed: {}; {AFTER_OFF}",
                group.parameter,
                scrub(&e.to_string(), &token)
            ));
        }
    }
    warnings
}

/// What a switch did with the bypass link: the links (`on`), and what went wrong or is worth
/// knowing. Displayed as the links, then `warning:` and `note:` lines.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BypassReport {
    /// One link per content prefix, once maintenance is on.
    pub links: Vec<BypassLink>,
    /// What failed without changing the outcome (a rotation at `off`).
    pub warnings: Vec<String>,
    /// What else to know.
    pub notes: Vec<String>,
}

impl std::fmt::Display for BypassReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_links(f, &self.links)?;
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

/// After the rules moved (or did not): `on` done gives the links; `on` not done says the token
/// it set is one nobody was given; `off` done rotates the token. `None` without cookie rules.
pub async fn finish(
    client: &impl Listeners,
    store: &impl TokenStore,
    plan: &BypassPlan,
    direction: Direction,
    token: Option<BypassToken>,
    outcome: Outcome,
) -> Option<BypassReport> {
    if plan.tokens.is_empty() {
        return None;
    }
    let mut report = BypassReport::default();
    match (direction, token) {
        (Direction::On, Some(token)) if outcome == Outcome::Done => {
            report.links = links(client, &plan.tokens, &token, &plan.options).await;
        }
        (Direction::On, Some(_)) => report.notes.push(format!(
            "the cookie bypass rules and {} hold a new token nobody was given; the next on sets \
             another",
            plan.tokens.parameters()
        )),
        (Direction::On, None) if plan.keep => report.notes.push(
            "the bypass link of this window is unchanged (maintctl bypass link prints it)".into(),
        ),
        (Direction::On, None) if plan.options.skip => report.notes.push(
            "no bypass link this window (--no-bypass-link): the cookie bypass rules hold a token \
             nobody was given"
                .into(),
        ),
        (Direction::Off, _) if outcome == Outcome::Done => {
            report.warnings = rotate(client, store, plan).await;
            if report.warnings.is_empty() {
                report.notes.push(
                    "the bypass token was replaced by one nobody is given: this window's link \
                     and cookies no longer let anyone through"
                        .into(),
                );
            }
        }
        _ => {}
    }
    Some(report)
}

/// What a failed rotation at `off` leaves, said once.
const AFTER_OFF: &str = "the rules are parked, so the old link reaches nothing now, and the next \
    maintctl on sets a new token before it moves any rule";

/// A bypass link for one content prefix. Holds the token: `Debug` does not show it; it is
/// printed by `on` and `maintctl bypass link` only.
#[derive(Clone, Serialize)]
pub struct BypassLink {
    /// The content prefix.
    pub prefix: String,
    /// The link.
    url: String,
    /// What to know before handing it out (no host known, plain HTTP).
    pub notes: Vec<String>,
}

impl BypassLink {
    /// The link itself.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Debug for BypassLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BypassLink")
            .field("prefix", &self.prefix)
            .field("url", &"(hidden)")
            .finish()
    }
}

/// The link of every prefix of `tokens` holding `token`: `https://HOST{path}/TOKEN`, the host
/// from `options` or the first certificate name of the group's HTTPS listeners that is not a
/// wildcard (without one, the path alone).
pub async fn links(
    client: &impl Listeners,
    tokens: &TokenPlan,
    token: &BypassToken,
    options: &BypassOptions,
) -> Vec<BypassLink> {
    let mut out = Vec::new();
    for group in &tokens.groups {
        out.push(group_link(client, group, token, options).await);
    }
    out
}

/// The link of one prefix holding `token`.
pub async fn group_link(
    client: &impl Listeners,
    group: &TokenGroup,
    token: &BypassToken,
    options: &BypassOptions,
) -> BypassLink {
    let mut notes = Vec::new();
    let https = group.rules.iter().any(|r| r.listener.protocol == "HTTPS");
    let mut host = options.host.clone();
    if host.is_none() {
        for rule in group
            .rules
            .iter()
            .filter(|r| r.listener.protocol == "HTTPS")
        {
            match client.certificate_names(&rule.listener.arn).await {
                Ok(names) => host = link_host(&names),
                Err(e) => notes.push(format!("the certificate's names could not be read: {e}")),
            }
            if host.is_some() {
                break;
            }
        }
    }
    if host.is_none() {
        notes.push(
            "no host name known (no --host, and no HTTPS listener certificate names one that is \
             not a wildcard): open it on the site's own host, or pass --host"
                .into(),
        );
    }
    if !https {
        notes.push(
            "only plain-HTTP listeners: the link and the cookie travel in clear, anyone on the \
             path can copy them"
                .into(),
        );
    } else if group.has_plain_http() {
        notes.push(
            "the site also has a plain-HTTP listener: opened over http://, the link and its \
             cookie travel in clear"
                .into(),
        );
    }
    BypassLink {
        prefix: group.prefix.clone(),
        url: link_url(https, host.as_deref(), &options.bypass_path, token),
        notes,
    }
}

/// The lines that print links, for `on` and `maintctl bypass link`.
pub fn write_links(f: &mut std::fmt::Formatter<'_>, links: &[BypassLink]) -> std::fmt::Result {
    let seconds = CacheSettings::default().ttl.as_secs();
    for link in links {
        writeln!(
            f,
            "bypass link for testers ({}): opening it sets a cookie that lets them through until \
             maintctl off; hand it out only to them",
            link.prefix
        )?;
        writeln!(f, "  {}", link.url)?;
        writeln!(
            f,
            "  it works within one content freshness window of maintctl on ({seconds} s unless \
             the responder's MAINTENANCE_SSM_TTL_SECONDS says otherwise)"
        )?;
        for note in &link.notes {
            writeln!(f, "  note: {note}")?;
        }
    }
    Ok(())
}

/// Reads the current window's token of `group` from SSM (`None`: there is none).
pub async fn stored_token(
    store: &impl TokenStore,
    group: &TokenGroup,
) -> Result<Option<BypassToken>, FetchError> {
    let dir = group
        .parameter
        .rsplit_once('/')
        .map_or(group.parameter.as_str(), |(dir, _)| dir);
    let found = store.parameters_by_path(dir).await?;
    Ok(found
        .iter()
        .find(|p| p.name == group.parameter)
        .and_then(|p| BypassToken::parse(&p.value).ok()))
}

/// The rule `attach` creates: a cookie bypass rule gets a fresh token nobody is given in place
/// of the planned `(hidden)`; any other rule is as planned.
pub fn with_fresh_token(rule: &NewRule) -> Result<NewRule, ListenersError> {
    let mut rule = rule.clone();
    if rule
        .tags
        .iter()
        .any(|(k, v)| k == tags::BYPASS_LINK && v == tags::BYPASS_LINK_COOKIE)
    {
        let token = new_token().map_err(|e| ListenersError::Invalid(e.to_string()))?;
        for c in &mut rule.conditions {
            if is_cookie_condition(c) {
                *c = cookie_condition(token.expose());
            }
        }
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_fit_the_cookie_condition() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let token = new_token().unwrap();
            let text = token.expose();
            assert_eq!(text.len(), 43, "{text}");
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "URL-safe base64 only: {text}"
            );
            // The ALB compares without case: tokens must differ even so.
            assert!(seen.insert(text.to_ascii_lowercase()), "a repeated token");
            assert!(!format!("{token:?}").contains(text));
        }
        // Every base64 symbol turns up: the bytes are not, say, all zero or ASCII.
        let all: String = seen.iter().cloned().collect();
        for c in "abcdefghijklmnopqrstuvwxyz0123456789-_".chars() {
            assert!(all.contains(c), "{c} never appeared in 1000 tokens");
        }
    }

    #[test]
    fn errors_are_scrubbed_of_the_token_in_any_case() {
        let token = BypassToken::parse("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_aBcDe").unwrap();
        let echoed = format!(
            "ValidationError: value '*maint_bypass={}*' and {} again",
            token.expose(),
            token.expose().to_ascii_lowercase()
        );
        let clean = scrub(&echoed, &token);
        assert_eq!(
            clean,
            "ValidationError: value '*maint_bypass=(token)*' and (token) again"
        );
        let link = BypassLink {
            prefix: "/m".into(),
            url: format!("https://h/b/{}", token.expose()),
            notes: vec![],
        };
        assert!(!format!("{link:?}").contains(token.expose()));
    }
}
