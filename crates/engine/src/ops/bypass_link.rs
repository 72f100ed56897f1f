//! `maintctl bypass link` ([`bypass_link`]): the current window's bypass link again, for the
//! listeners where maintenance is on. Reads only: the token from SSM (where the responder reads
//! it) and from every cookie rule of those listeners (what the ALB matches); the link is given
//! only when they agree, since otherwise it would set a cookie the ALB does not let through.
//! While maintenance is off there is no window and no link: the token then is one nobody is
//! given, and `on` replaces it before it moves any rule.

use serde::Serialize;

use crate::listeners::{Listeners, Skipped, Targets};
use crate::ops::bypass::{BypassLink, group_link, stored_token, write_links};
use crate::ops::error::select_some;
use crate::ops::token::TokenStore;
use crate::ops::{Error, Outcome, Report};
use crate::planner::{BypassOptions, ListenerSnapshot, State, plan_tokens, rule_id};

/// Which listeners, and how to print the link.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    /// The listeners.
    pub targets: Targets,
    /// The link's host and path.
    pub options: BypassOptions,
}

/// The links, or why there is none. Displayed as the links (text) or nothing; the reason
/// otherwise is [`LinkReport::complaint`]. Serialized as the `--output json` document.
#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    command: &'static str,
    /// How it ended.
    #[serde(serialize_with = "outcome_name")]
    pub outcome: Outcome,
    /// The exit code.
    exit_code: u8,
    /// What that means.
    pub message: String,
    /// One link per content prefix.
    pub links: Vec<BypassLink>,
    /// Listeners looked at and left out.
    pub skipped: Vec<Skipped>,
}

fn outcome_name<S: serde::Serializer>(outcome: &Outcome, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(outcome.name())
}

impl LinkReport {
    fn new(outcome: Outcome, message: String, skipped: Vec<Skipped>) -> Self {
        Self {
            command: "bypass link",
            outcome,
            exit_code: outcome.exit_code(),
            message,
            links: Vec::new(),
            skipped,
        }
    }

    /// The message when there is no link.
    pub fn complaint(&self) -> Option<&str> {
        (self.outcome != Outcome::Done).then_some(self.message.as_str())
    }
}

/// Finds the current window's token of the selected listeners and prints its link. `Err` when
/// the listeners could not be read or a cookie rule is not as `maintctl` set it.
pub async fn bypass_link(
    client: &impl Listeners,
    store: &impl TokenStore,
    request: &LinkRequest,
) -> Result<LinkReport, Error> {
    let selection = select_some(client, &request.targets).await?;
    let skipped = selection.skipped.clone();
    if plan_tokens(&selection.listeners, false)?.is_empty() {
        return Ok(LinkReport::new(
            Outcome::Refused,
            "no cookie bypass rule on the selected listeners: create one with maintctl attach \
             --bypass-link"
                .into(),
            skipped,
        ));
    }
    let on: Vec<&ListenerSnapshot> = selection
        .listeners
        .iter()
        .filter(|s| s.state() == Ok(State::On))
        .collect();
    let tokens = plan_tokens(on.iter().copied(), true)?;
    if tokens.is_empty() {
        return Ok(LinkReport::new(
            Outcome::Refused,
            "maintenance is not on for the selected listeners, so there is no window and no \
             link (the token now is one nobody is given): maintctl on sets a new token and \
             prints the link"
                .into(),
            skipped,
        ));
    }
    let mut report = LinkReport::new(Outcome::Done, String::new(), skipped);
    for group in &tokens.groups {
        let stored = stored_token(store, group).await.map_err(|source| {
            Error::Token(crate::ops::TokenError::Read {
                parameter: group.parameter.clone(),
                source,
            })
        })?;
        let differs: Vec<&str> = group
            .rules
            .iter()
            .filter(|r| stored.as_ref() != Some(&r.previous))
            .map(|r| rule_id(&r.rule))
            .collect();
        let token = match stored {
            Some(token) if differs.is_empty() => token,
            Some(_) => {
                return Ok(inconsistent(
                    report,
                    format!(
                        "the token in {} and the one on cookie bypass rule(s) {} differ",
                        group.parameter,
                        differs.join(", ")
                    ),
                ));
            }
            None => {
                return Ok(inconsistent(
                    report,
                    format!("{} holds no bypass token", group.parameter),
                ));
            }
        };
        report
            .links
            .push(group_link(client, group, &token, &request.options).await);
    }
    report.message = "the current window's bypass link".into();
    Ok(report)
}

/// No link: the token in SSM and on the rules do not agree.
fn inconsistent(mut report: LinkReport, what: String) -> LinkReport {
    report.outcome = Outcome::Inconsistent;
    report.exit_code = Outcome::Inconsistent.exit_code();
    report.message = format!(
        "{what}, so a link would set a cookie the listener does not let through: switch \
         maintenance off and on again to set a new token on both"
    );
    report.links.clear();
    report
}

impl Report for LinkReport {
    fn outcome(&self) -> Outcome {
        self.outcome
    }
}

impl std::fmt::Display for LinkReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_links(f, &self.links)
    }
}
