//! `attach` ([`attach`]): check the target groups named (the responder's is of type `lambda`),
//! plan every listener first (`crate::planner::plan_attach`), refuse before creating anything
//! if any listener cannot be attached, then create the missing rules
//! listener by listener, stopping at the first failure; the report says what was created,
//! what was already there and what was not created. Running it again finishes the job.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::listeners::{Listeners, read_listener, rules_elsewhere, target_groups_of};
use crate::ops::{Error, Outcome, Report};
use crate::planner::{
    AttachError, AttachSpec, AttachStep, ListenerInfo, RuleAction, plan_attach, rule_id,
    short_target_group,
};

/// What to attach, and where: a validated [`AttachSpec`] for every listener named.
#[derive(Debug, Clone)]
pub struct AttachRequest {
    listeners: Vec<String>,
    spec: AttachSpec,
    dry_run: bool,
}

impl AttachRequest {
    /// Checks the options on their own (before any listener is read).
    pub fn new(
        listeners: Vec<String>,
        spec: AttachSpec,
        dry_run: bool,
    ) -> Result<Self, AttachError> {
        spec.validate()?;
        Ok(Self {
            listeners,
            spec,
            dry_run,
        })
    }
}

/// What `attach` did, or would do. Displayed as one paragraph per listener, a line per rule
/// (`created`, `would create`, `NOT created`, `already there`), then `dry run: …` or
/// `already attached: …` where that is so.
#[derive(Debug, Clone, Serialize)]
pub struct AttachReport {
    command: &'static str,
    /// Nothing was created because it was a dry run.
    pub dry_run: bool,
    /// Every listener already had every rule.
    pub nothing_to_do: bool,
    /// Per listener, in the order named.
    pub listeners: Vec<ListenerAttach>,
    /// What does not stop the attach but is worth reading (a rule sending every request to a
    /// lambda target group, an application target group of type lambda).
    pub warnings: Vec<String>,
    /// The create call that failed, if one did (the rules after it were not created).
    pub error: Option<String>,
}

/// One listener in an [`AttachReport`].
#[derive(Debug, Clone, Serialize)]
pub struct ListenerAttach {
    /// The listener (its ARN in the JSON document).
    #[serde(serialize_with = "arn_only")]
    pub listener: ListenerInfo,
    /// What is there and what to create, in order.
    pub steps: Vec<AttachStep>,
    /// ARNs of the rules created, in the order of the `Create` steps.
    pub created: Vec<String>,
}

fn arn_only<S: Serializer>(listener: &ListenerInfo, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&listener.arn)
}

impl AttachReport {
    /// The line that says what went wrong and what to do, if a create call failed.
    pub fn problem(&self) -> Option<String> {
        let error = self.error.as_ref()?;
        let done: usize = self.listeners.iter().map(|l| l.created.len()).sum();
        Some(format!(
            "creating a rule failed after {done} rule(s) were created: {error}; run the same \
             attach again to finish (it skips what exists)"
        ))
    }
}

/// Plans every listener, then (unless it is a dry run) creates the missing rules. `Err` when
/// nothing was created: a listener could not be read, or cannot be attached as asked.
pub async fn attach(
    client: &impl Listeners,
    request: &AttachRequest,
) -> Result<AttachReport, Error> {
    let mut warnings = check_target_groups(client, &request.spec).await?;
    // Plan every listener before creating anything on any of them.
    let mut listeners = Vec::new();
    // Rules planned on each load balancer so far: they count against its rule quota when the
    // next listener's bypass rules are mirrored.
    let mut planned: BTreeMap<String, usize> = BTreeMap::new();
    let mirrored =
        request.spec.app_target_group.is_none() && !request.spec.bypass_rules_wanted().is_empty();
    for listener in &request.listeners {
        let read_error = |source| Error::Read {
            listener: listener.clone(),
            source,
        };
        let mut snapshot = read_listener(client, listener).await.map_err(read_error)?;
        if mirrored {
            let lb = snapshot.listener.load_balancer.clone();
            let elsewhere = rules_elsewhere(client, &snapshot.listener)
                .await
                .map_err(read_error)?;
            snapshot.rules_elsewhere = Some(elsewhere + planned.get(&lb).copied().unwrap_or(0));
        }
        let steps = plan_attach(&snapshot, &request.spec)?;
        *planned
            .entry(snapshot.listener.load_balancer.clone())
            .or_default() += steps
            .iter()
            .filter(|s| matches!(s, AttachStep::Create { .. }))
            .count();
        let mut known = snapshot.clone();
        known
            .responder_target_groups
            .insert(request.spec.target_group.clone());
        let name = snapshot.listener.to_string();
        warnings.extend(
            known
                .findings()
                .iter()
                .map(|f| format!("listener {name}: {f}")),
        );
        listeners.push(ListenerAttach {
            steps,
            listener: snapshot.listener,
            created: Vec::new(),
        });
    }
    let nothing_to_do = listeners.iter().all(|l| {
        l.steps
            .iter()
            .all(|s| matches!(s, AttachStep::Present { .. } | AttachStep::Skipped { .. }))
    });
    let mut report = AttachReport {
        command: "attach",
        dry_run: request.dry_run,
        nothing_to_do,
        listeners,
        warnings,
        error: None,
    };
    if !request.dry_run {
        report.error = create(client, &mut report.listeners)
            .await
            .err()
            .map(|e| e.to_string());
    }
    Ok(report)
}

/// Reads the target groups `spec` names, each on its own so that a missing one is named, and
/// checks them (`crate::planner::AttachSpec::check_target_groups`); returns the warnings.
async fn check_target_groups(
    client: &impl Listeners,
    spec: &AttachSpec,
) -> Result<Vec<String>, Error> {
    let mut groups = BTreeMap::new();
    for arn in std::iter::once(&spec.target_group).chain(&spec.app_target_group) {
        match target_groups_of(client, std::slice::from_ref(arn)).await {
            Ok(found) => groups.extend(found),
            Err(e) if e.code() == Some("TargetGroupNotFound") => {}
            Err(source) => return Err(Error::TargetGroups { source }),
        }
    }
    Ok(spec.check_target_groups(&groups)?)
}

/// Creates the rules of every `Create` step, in order, until one fails. The cookie bypass
/// rule is created with a fresh token nobody is given (`on` sets the window's).
async fn create(
    client: &impl Listeners,
    listeners: &mut [ListenerAttach],
) -> Result<(), crate::listeners::ListenersError> {
    for l in listeners {
        for step in &l.steps {
            if let AttachStep::Create { rule, .. } = step {
                let rule = crate::ops::bypass::with_fresh_token(rule)?;
                l.created.push(client.create_rule(&rule).await?);
            }
        }
    }
    Ok(())
}

/// One action of a mirrored rule, in a line: `forward to a (weight 1), b (weight 3), sticky
/// 600 s`, `redirect HTTP_301 to HTTPS:443`, `fixed response 404`.
fn action_text(action: &RuleAction) -> String {
    match action {
        RuleAction::Forward(f) => {
            let groups: Vec<String> = f
                .target_groups
                .iter()
                .map(|t| match f.weighted {
                    true => format!("{} (weight {})", short_target_group(&t.arn), t.weight),
                    false => short_target_group(&t.arn).to_string(),
                })
                .collect();
            let sticky = f
                .stickiness_seconds
                .map(|s| format!(", sticky {s} s"))
                .unwrap_or_default();
            format!("forward to {}{sticky}", groups.join(", "))
        }
        RuleAction::FixedResponse(r) => format!("fixed response {}", r.status_code),
        RuleAction::Redirect(r) => format!(
            "redirect {} to {}:{}{}",
            r.status_code,
            r.protocol.as_deref().unwrap_or("#{protocol}"),
            r.port.as_deref().unwrap_or("#{port}"),
            r.path.as_deref().unwrap_or("#{path}")
        ),
        other => other.kind().to_string(),
    }
}

impl Report for AttachReport {
    fn outcome(&self) -> Outcome {
        if self.error.is_some() {
            Outcome::Failed
        } else if self.nothing_to_do {
            Outcome::NothingToDo
        } else {
            Outcome::Done
        }
    }
}

impl std::fmt::Display for AttachReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for l in &self.listeners {
            writeln!(f, "listener {}", l.listener)?;
            let mut creates = 0;
            for step in &l.steps {
                match step {
                    AttachStep::Present {
                        role,
                        rule,
                        priority,
                    } => writeln!(
                        f,
                        "  {role:<11}  already there: rule {} at priority {priority}",
                        rule_id(rule)
                    )?,
                    AttachStep::Skipped { role, reason } => {
                        writeln!(f, "  {role:<11}  not created: {reason}")?
                    }
                    AttachStep::Create { role, rule } => {
                        let conditions: Vec<String> =
                            rule.conditions.iter().map(ToString::to_string).collect();
                        let verb = if self.dry_run {
                            "would create"
                        } else if creates < l.created.len() {
                            "created"
                        } else {
                            "NOT created"
                        };
                        creates += 1;
                        let action = match &rule.fixed_response {
                            Some(page) => format!(
                                "fixed response {} {} ({} characters)",
                                page.status_code,
                                page.content_type,
                                page.body.chars().count()
                            ),
                            None if !rule.actions.is_empty() => {
                                let all: Vec<String> =
                                    rule.actions.iter().map(action_text).collect();
                                all.join(", then ")
                            }
                            None => {
                                format!("forward to {}", short_target_group(&rule.target_group))
                            }
                        };
                        writeln!(
                            f,
                            "  {role:<11}  {verb}: priority {}, {}, {action}",
                            rule.priority,
                            conditions.join(" and "),
                        )?;
                    }
                }
            }
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        if self.dry_run {
            writeln!(f, "dry run: nothing was created")?;
        } else if self.nothing_to_do {
            writeln!(f, "already attached: nothing to do")?;
        }
        Ok(())
    }
}
