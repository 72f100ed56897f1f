//! The fallback page on the listeners: the page itself ([`page`], [`default_page`]: the
//! fixed-response body of the fallback rule, `maintenance_core::respond::fallback::body` in the
//! site's default language), and keeping every fallback rule of a content prefix up to date with
//! the content under it ([`refresh`]: the fallback rules are found through the content-prefix tag
//! of their listener's maintenance rule, the page is rendered from the parameters as read, with the
//! writes about to be made laid over them, and only the rule's action is modified).
//!
//! `maintctl message set` is [`set_message`]: the SSM write (`crate::ops::message::set`), then
//! the refresh. `maintctl fallback refresh` is [`refresh`] alone, `maintctl fallback render`
//! prints [`default_page`] (what `deploy/fallback.html` holds for the templates).

use jiff::Timestamp;
use serde::Serialize;

use crate::listeners::{Listeners, ListenersError, Targets, select};
use crate::ops::message::{self, MessageError, SetReport, SetRequest};
use crate::ops::{Outcome, Report};
use crate::planner::{ActionSummary, FixedResponse, rule_id, short_listener};
use maintenance_core::content::Content;
use maintenance_core::site::Site;
use maintenance_responder::ssm::{
    self, FetchError, Parameter, ParameterStore, ParameterWriter, Write,
};

/// The fallback page for `content` as of `now`, in the site's default language.
pub fn page(content: &Content, site: &Site, now: Timestamp) -> String {
    maintenance_core::respond::fallback::body(content, site, &site.config.default_language, now)
}

/// The fallback page of the embedded texts (no end time): what `attach` and the templates
/// create the rule with, until `maintctl message set` puts the live content in.
pub fn default_page(site: &Site) -> String {
    page(&Content::default(), site, Timestamp::UNIX_EPOCH)
}

/// Why the fallback rules could not be refreshed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The prefix is not a parameter path.
    #[error("{0}")]
    Prefix(String),
    /// Reading the listeners failed.
    #[error("failed to read the listeners to find the fallback rules")]
    Listeners(#[source] ListenersError),
    /// Reading the content failed.
    #[error("failed to read the content under {prefix}")]
    Content {
        /// The prefix.
        prefix: String,
        /// Why.
        #[source]
        source: FetchError,
    },
}

/// What happened to one fallback rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleOutcome {
    /// Its page was replaced.
    Updated,
    /// Its page would be replaced (dry run).
    WouldUpdate,
    /// It already had this page.
    UpToDate,
    /// ModifyRule failed (see `error`).
    Failed,
}

/// One fallback rule refreshed.
#[derive(Debug, Clone, Serialize)]
pub struct RuleRefresh {
    /// Listener ARN.
    pub listener: String,
    /// Rule ARN.
    pub rule: String,
    /// What happened.
    pub outcome: RuleOutcome,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// The fallback rules of a prefix, refreshed (or, on a dry run, what would be).
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    /// The content prefix.
    pub prefix: String,
    /// Nothing was modified because it was a dry run.
    pub dry_run: bool,
    /// The page, as the rules answer with it (or will).
    pub page: String,
    /// Its length in characters (at most 1,024).
    pub page_chars: usize,
    /// Every fallback rule whose listener's maintenance rule is tagged with the prefix.
    pub rules: Vec<RuleRefresh>,
}

/// Renders the fallback page from the content under `prefix` (with `pending` writes laid over
/// what is read) and puts it on every fallback rule of that prefix whose page differs.
pub async fn refresh(
    listeners: &impl Listeners,
    store: &impl ParameterStore,
    prefix: &str,
    pending: &[Write],
    dry_run: bool,
    site: &Site,
    now: Timestamp,
) -> Result<RefreshReport, RefreshError> {
    maintenance_core::deploy_names::parameters::check_prefix(prefix)
        .map_err(RefreshError::Prefix)?;
    let mut parameters =
        store
            .parameters_by_path(prefix)
            .await
            .map_err(|source| RefreshError::Content {
                prefix: prefix.to_string(),
                source,
            })?;
    for w in pending {
        parameters.retain(|p| p.name != w.name);
        parameters.push(Parameter {
            name: w.name.clone(),
            value: w.value.clone(),
        });
    }
    let (content, _ignored) = ssm::content_from_parameters(prefix, &parameters, &site.catalog, now);
    let body = page(&content, site, now);
    let selection = select(listeners, &Targets::default())
        .await
        .map_err(RefreshError::Listeners)?;
    let mut rules = Vec::new();
    for snapshot in &selection.listeners {
        if snapshot.content_prefix() != Some(prefix) {
            continue;
        }
        let Some(rule) = snapshot.fallback_rule() else {
            continue;
        };
        let current = match &rule.action {
            ActionSummary::FixedResponse { body, .. } => Some(body.as_str()),
            _ => None,
        };
        let (outcome, error) = if current == Some(body.as_str()) {
            (RuleOutcome::UpToDate, None)
        } else if dry_run {
            (RuleOutcome::WouldUpdate, None)
        } else {
            match listeners
                .modify_fixed_response(&rule.arn, &FixedResponse::page(body.as_str()))
                .await
            {
                Ok(()) => (RuleOutcome::Updated, None),
                Err(e) => (RuleOutcome::Failed, Some(e.to_string())),
            }
        };
        rules.push(RuleRefresh {
            listener: snapshot.listener.arn.clone(),
            rule: rule.arn.clone(),
            outcome,
            error,
        });
    }
    Ok(RefreshReport {
        prefix: prefix.to_string(),
        dry_run,
        page_chars: body.chars().count(),
        page: body,
        rules,
    })
}

impl Report for RefreshReport {
    fn outcome(&self) -> Outcome {
        if self.rules.iter().any(|r| r.outcome == RuleOutcome::Failed) {
            Outcome::Inconsistent
        } else if self
            .rules
            .iter()
            .all(|r| r.outcome == RuleOutcome::UpToDate)
        {
            Outcome::NothingToDo
        } else {
            Outcome::Done
        }
    }
}

impl std::fmt::Display for RefreshReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.rules.is_empty() {
            return writeln!(
                f,
                "fallback: no fallback rule belongs to {} (no listener's maintenance rule is \
                 tagged with it, or none has a fallback rule: maintctl attach adds one)",
                self.prefix
            );
        }
        for r in &self.rules {
            let what = match r.outcome {
                RuleOutcome::Updated => "page replaced",
                RuleOutcome::WouldUpdate => "page would be replaced",
                RuleOutcome::UpToDate => "page already up to date",
                RuleOutcome::Failed => "FAILED to replace the page",
            };
            writeln!(
                f,
                "fallback rule {} on {}: {what} ({} characters){}",
                rule_id(&r.rule),
                short_listener(&r.listener),
                self.page_chars,
                r.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            )?;
        }
        if self.dry_run {
            writeln!(f, "the fallback page would be:\n{}", self.page)?;
        }
        Ok(())
    }
}

/// `maintctl message set`: the SSM write, then the fallback rules' refresh. A refresh that
/// fails leaves the content written: the report says so, and how to finish.
#[derive(Debug, Clone, Serialize)]
pub struct MessageReport {
    /// What was written (the `message set` document's own fields).
    #[serde(flatten)]
    pub set: SetReport,
    /// The fallback rules of the prefix, if they were refreshed.
    pub fallback: Option<RefreshReport>,
    /// Why the fallback rules could not be refreshed, if they could not.
    pub fallback_error: Option<String>,
    /// The content prefix.
    #[serde(skip)]
    pub prefix: String,
}

/// Writes the content (`crate::ops::message::set`), then, unless `refresh_fallback` is false or
/// nothing was to be written, refreshes the fallback rules of the prefix ([`refresh`]).
pub async fn set_message(
    ssm: &(impl ParameterWriter + ParameterStore),
    listeners: &impl Listeners,
    request: &SetRequest,
    refresh_fallback: bool,
    site: &Site,
    now: Timestamp,
) -> Result<MessageReport, MessageError> {
    let set = message::set(ssm, request).await?;
    let mut report = MessageReport {
        set,
        fallback: None,
        fallback_error: None,
        prefix: request.prefix().to_string(),
    };
    if !refresh_fallback || request.writes().is_empty() {
        return Ok(report);
    }
    let refreshed = refresh(
        listeners,
        ssm,
        request.prefix(),
        request.writes(),
        request.dry_run(),
        site,
        now,
    )
    .await;
    match refreshed {
        Ok(r) => report.fallback = Some(r),
        Err(e) => report.fallback_error = Some(maintenance_core::causes::chain(&e)),
    }
    Ok(report)
}

impl MessageReport {
    /// What is left to do, when the fallback rules could not all be refreshed.
    pub fn problem(&self) -> Option<String> {
        let failed = match (&self.fallback_error, &self.fallback) {
            (Some(e), _) => e.clone(),
            (None, Some(r)) if r.outcome() == Outcome::Inconsistent => {
                "ModifyRule failed on at least one fallback rule (see above)".into()
            }
            _ => return None,
        };
        Some(format!(
            "the content is written, but the fallback page is not refreshed: {failed}; the \
             fallback rules still answer with the page they had: run maintctl fallback refresh \
             --prefix {} once the cause is fixed (it needs elasticloadbalancing:ModifyRule on \
             the fallback rules), or pass --no-fallback if you use none",
            self.prefix
        ))
    }
}

impl Report for MessageReport {
    fn outcome(&self) -> Outcome {
        if self.problem().is_some() {
            Outcome::Inconsistent
        } else {
            self.set.outcome()
        }
    }
}

impl std::fmt::Display for MessageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.set)?;
        if let Some(r) = &self.fallback {
            write!(f, "{r}")?;
        }
        Ok(())
    }
}
