//! `status` ([`status`]): each selected listener's rules, whether maintenance is on (from the
//! priorities), which rule really answers a page, a path no rule names and a health check (the
//! rules evaluated as the ALB does: `crate::planner::routing`), what the maintenance rule's tags
//! record (who switched, when, why), and the warnings a person should read — rules that do
//! what their tags do not say (`crate::planner::Finding`), a switch left half-way, a state tag
//! that disagrees with the priorities, a parked rule that answers requests. Reads only.

use serde::Serialize;

use crate::listeners::{Listeners, Selection, Skipped, Targets, select};
use crate::ops::rule_tags::clear_command;
use crate::ops::{Error, Outcome, Report};
use crate::planner::bypass::hide_token;
use crate::planner::routing::KindAnswer;
use crate::planner::{
    Finding, ListenerInfo, ListenerSnapshot, Live, Role, RuleView, State, decode_displaced,
    displaced_keys, live, rule_id,
};
use maintenance_core::deploy_names::{DEFAULT_HEALTH_PATH, tags};

/// What `status` found. Displayed as one paragraph per listener (its maintenance state and
/// record, warnings, and a table of its rules), then the listeners skipped if any were named.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The selected listeners.
    pub listeners: Vec<ListenerStatus>,
    /// Listeners looked at and left out.
    pub skipped: Vec<Skipped>,
    /// Whether listeners or load balancers were named (then the skipped ones are printed).
    #[serde(skip)]
    pub named: bool,
}

/// One listener in a [`StatusReport`].
#[derive(Debug, Clone, Serialize)]
pub struct ListenerStatus {
    /// The listener.
    pub listener: ListenerInfo,
    /// Maintenance on, off, between, or not attached.
    pub state: State,
    /// The maintenance rule and its record, if attached.
    pub maintenance: Option<MaintenanceStatus>,
    /// Which page answers while maintenance is on: the responder's, or the fallback page.
    pub live: Option<Live>,
    /// The fallback rule (a fixed-response 503 that needs no Lambda), if there is one.
    pub fallback: Option<FallbackStatus>,
    /// What a person should look at.
    pub warnings: Vec<String>,
    /// Which rule answers a page request, a path no rule names and a health check, evaluated
    /// as the ALB does (`crate::planner::routing`), whatever the priorities say.
    pub answers: Vec<KindAnswer>,
    /// Every rule, default last.
    pub rules: Vec<RuleStatus>,
}

/// The maintenance rule of a listener and what its tags record.
#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceStatus {
    /// Rule ARN.
    pub rule: String,
    /// Its priority now.
    pub priority: Option<u32>,
    /// Its parked-priority tag.
    pub parked: Option<String>,
    /// Its environment tag.
    pub environment: Option<String>,
    /// Its content-prefix tag: the SSM prefix of the responder's content.
    pub content_prefix: Option<String>,
    /// Its state tag (`on` or `off`, as last set).
    pub state_tag: Option<String>,
    /// Who switched last.
    pub changed_by: Option<String>,
    /// When.
    pub changed_at: Option<String>,
    /// Why (never empty).
    pub reason: Option<String>,
}

/// The fallback rule of a listener.
#[derive(Debug, Clone, Serialize)]
pub struct FallbackStatus {
    /// Rule ARN.
    pub rule: String,
    /// Its priority now.
    pub priority: Option<u32>,
    /// Its parked-priority tag.
    pub parked: Option<String>,
    /// Characters of its page (at most 1,024).
    pub body_chars: usize,
}

/// A rule of a listener with its role.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStatus {
    /// The rule as read.
    #[serde(flatten)]
    pub rule: RuleView,
    /// Its role, from its tags and from what it does (a rule forwarding to the responder's
    /// target group is a maintenance rule, tagged or not).
    pub role: Role,
}

/// Reads the listeners `targets` name and reports on each.
pub async fn status(client: &impl Listeners, targets: &Targets) -> Result<StatusReport, Error> {
    let selection = select(client, targets).await.map_err(Error::Select)?;
    Ok(report(selection, targets))
}

/// The report on listeners already selected by `targets`.
pub fn report(selection: Selection, targets: &Targets) -> StatusReport {
    StatusReport {
        listeners: selection.listeners.iter().map(listener_status).collect(),
        skipped: selection.skipped,
        named: !targets.listeners.is_empty() || !targets.load_balancers.is_empty(),
    }
}

/// The status of one listener, with its warnings. Rules are shown as what they do: with a
/// blocking finding (a maintenance rule that lost its tags, several maintenance rules, …) the
/// state is the one routing gives, and the findings come first among the warnings.
fn listener_status(snapshot: &ListenerSnapshot) -> ListenerStatus {
    let findings = snapshot.findings();
    let blocking = findings.iter().any(Finding::blocks);
    let mut warnings: Vec<String> = findings.iter().map(ToString::to_string).collect();
    if blocking {
        warnings.push(
            "maintctl on, off and attach refuse this listener until that is fixed (nothing is \
             changed); the state shown is what routing gives"
                .into(),
        );
    }
    let state = if blocking {
        snapshot.routing_state()
    } else {
        match snapshot.state() {
            Ok(state) => state,
            Err(e) => {
                warnings.push(e.to_string());
                State::Between
            }
        }
    };
    let maintenance = snapshot.responder_rule().map(|m| {
        let tag = |k: &str| m.tags.get(k).cloned();
        MaintenanceStatus {
            rule: m.arn.clone(),
            priority: m.priority,
            parked: tag(tags::PARKED_PRIORITY),
            environment: tag(tags::ENVIRONMENT),
            content_prefix: tag(tags::CONTENT_PREFIX),
            state_tag: tag(tags::STATE),
            changed_by: tag(tags::CHANGED_BY),
            changed_at: tag(tags::CHANGED_AT),
            reason: tag(tags::REASON).filter(|r| !r.is_empty()),
        }
    });
    let answers = snapshot.answers(DEFAULT_HEALTH_PATH);
    warnings.extend(
        snapshot
            .misrouted(state, &answers)
            .into_iter()
            .map(|m| m.message),
    );
    if let Some(m) = &maintenance {
        warnings.extend(maintenance_warnings(snapshot, m, state));
    }
    if state == State::Between {
        warnings.push(
            "maintenance is neither fully on nor off: run maintctl on or maintctl off to finish"
                .into(),
        );
    }
    let rules = snapshot
        .rules
        .iter()
        .map(|r| RuleStatus {
            // The cookie rule's token is the bypass link's: never shown, text or JSON.
            rule: hide_token(r),
            role: snapshot.recognised_role(r),
        })
        .collect();
    let live = match state {
        State::On => snapshot.planner_rules().ok().and_then(|r| live(&r)),
        _ => None,
    };
    let fallback = snapshot.fallback_rule().map(|r| FallbackStatus {
        rule: r.arn.clone(),
        priority: r.priority,
        parked: r.tags.get(tags::PARKED_PRIORITY).cloned(),
        body_chars: match &r.action {
            crate::planner::ActionSummary::FixedResponse { body, .. } => body.chars().count(),
            _ => 0,
        },
    });
    ListenerStatus {
        listener: snapshot.listener.clone(),
        state,
        maintenance,
        live,
        fallback,
        warnings,
        answers,
        rules,
    }
}

/// A record of displaced rules left while off, and a state tag the priorities contradict.
fn maintenance_warnings(
    snapshot: &ListenerSnapshot,
    m: &MaintenanceStatus,
    state: State,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if state == State::Off
        && let Some(rule) = snapshot.responder_rule()
        && let Ok(record) = decode_displaced(&rule.tags)
        && !record.is_empty()
    {
        let entries: Vec<String> = record.iter().map(|(id, p)| format!("{id}={p}")).collect();
        let keys: Vec<String> = displaced_keys(&rule.tags)
            .into_iter()
            .filter(|k| rule.tags.get(k).is_some_and(|v| !v.is_empty()))
            .collect();
        warnings.push(format!(
            "maintenance is off, but the record of displaced rules still names {} rule(s) ({}): \
             clearing it failed, a switch on was interrupted, or an off was (maintctl off \
             finishes an interrupted off and puts them back); otherwise off leaves application \
             rules where they are, but the next on keeps these priorities and its off would move \
             the rules there; if they are out of date, clear the record: {}",
            record.len(),
            entries.join(" "),
            clear_command(&rule.arn, &keys)
        ));
    }
    if let Some(tagged) = &m.state_tag
        && matches!(state, State::On | State::Off)
        && tagged != &state.to_string()
    {
        warnings.push(format!(
            "the rule is tagged {}={tagged} but its priority says {state}: a switch was \
             interrupted or someone moved it by hand",
            tags::STATE
        ));
    }
    warnings
}

impl Report for StatusReport {
    fn outcome(&self) -> Outcome {
        Outcome::Done
    }
}

impl std::fmt::Display for StatusReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.listeners.is_empty() {
            writeln!(
                f,
                "no listener with a maintenance rule found (attach one with maintctl attach)"
            )?;
        }
        for (i, s) in self.listeners.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{s}")?;
        }
        if self.named {
            for s in &self.skipped {
                writeln!(f, "{s}")?;
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for ListenerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "listener {}", self.listener)?;
        let mut line = format!("  maintenance: {}", self.state.to_string().to_uppercase());
        match &self.maintenance {
            Some(m) => {
                if let Some(p) = m.priority {
                    line.push_str(&format!(" (rule {} at priority {p}", rule_id(&m.rule)));
                    if let Some(parked) = &m.parked {
                        line.push_str(&format!(", parked at {parked}"));
                    }
                    line.push(')');
                }
                writeln!(f, "{line}")?;
                write_live(f, self)?;
                write!(f, "{m}")?;
            }
            None => writeln!(
                f,
                "{line} (no maintenance rule: attach one with maintctl attach)"
            )?,
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        if !self.answers.is_empty() {
            writeln!(
                f,
                "  who answers (as the ALB evaluates the rules; any host, any client):"
            )?;
        }
        for a in &self.answers {
            writeln!(f, "    {a}")?;
        }
        writeln!(f, "  {:>8}  {:<11}  {:<16}  rule", "priority", "role", "id")?;
        for r in &self.rules {
            let priority = r.rule.priority.map_or("default".into(), |p| p.to_string());
            let role = if r.rule.is_default() {
                "default".to_string()
            } else {
                r.role.to_string()
            };
            writeln!(
                f,
                "  {priority:>8}  {role:<11}  {:<16}  {}",
                rule_id(&r.rule.arn),
                r.rule.summary()
            )?;
        }
        Ok(())
    }
}

/// Which page answers, when maintenance is on, and where the fallback rule is.
fn write_live(f: &mut std::fmt::Formatter<'_>, s: &ListenerStatus) -> std::fmt::Result {
    match s.live {
        Some(Live::Fallback) => writeln!(
            f,
            "  live: the FALLBACK page (the ALB's fixed-response 503: no Lambda, no \
             Retry-After, no no-store; health checks get 503 too)"
        )?,
        Some(Live::Responder) => {
            writeln!(f, "  live: the responder's page (503 with Retry-After)")?
        }
        None => {}
    }
    match &s.fallback {
        Some(fb) => writeln!(
            f,
            "  fallback: rule {} at priority {}{} ({} characters; maintctl on --fallback)",
            rule_id(&fb.rule),
            fb.priority.map_or("?".into(), |p| p.to_string()),
            fb.parked
                .as_deref()
                .map(|p| format!(", parked at {p}"))
                .unwrap_or_default(),
            fb.body_chars
        ),
        None => writeln!(f, "  fallback: none (maintctl attach adds it)"),
    }
}

/// The record lines: who switched last, when and why, and the environment.
impl std::fmt::Display for MaintenanceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(at) = &self.changed_at {
            writeln!(
                f,
                "  last switched {} at {at} by {}{}",
                self.state_tag.as_deref().unwrap_or("?"),
                self.changed_by.as_deref().unwrap_or("unknown"),
                self.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )?;
        }
        if let Some(env) = &self.environment {
            writeln!(f, "  environment: {env}")?;
        }
        if let Some(prefix) = &self.content_prefix {
            writeln!(f, "  content: SSM parameters under {prefix}")?;
        }
        Ok(())
    }
}
