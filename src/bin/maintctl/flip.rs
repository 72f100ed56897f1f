//! `maintctl attach`, `status`, `on` and `off`: the listener-rule side of maintenance.
//!
//! Thin by design: parse flags, read listeners and plan through `maintenance_responder::elb`
//! and `rules`, print the plan, ask for confirmation, apply, print where every listener stands
//! and turn that into an exit code (see `exit`). `--verify-url` lives here because only the CLI
//! makes HTTP requests to the live endpoint.

use std::io::{BufRead, IsTerminal, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ipnet::IpNet;
use maintenance_responder::deploy_names::{DEFAULT_HEALTH_PATH, DEFAULT_PARKED_PRIORITY, tags};
use maintenance_responder::elb::{
    self, AttachError, AttachSpec, AttachStep, Aws, ElbError, ListenerOutcome, ListenerSnapshot,
    Listeners, Outcome, Planned, Report, Selection, Skipped, Targets,
};
pub use maintenance_responder::rules::Direction;
use maintenance_responder::rules::{self, Role, State};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Globals, Output, exit};

/// Which listeners to act on. Several options add up; `--environment` also filters.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Listener ARN (repeat for several, e.g. the HTTP and the HTTPS listener).
    #[arg(long = "listener", value_name = "ARN")]
    listeners: Vec<String>,
    /// Load balancer ARN: each of its listeners that has a maintenance rule (repeatable).
    #[arg(long = "load-balancer", value_name = "ARN")]
    load_balancers: Vec<String>,
    /// Only maintenance rules tagged with this environment; on its own, searches every load
    /// balancer in the region.
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
}

impl TargetArgs {
    fn to_targets(&self) -> Targets {
        Targets {
            listeners: self.listeners.clone(),
            load_balancers: self.load_balancers.clone(),
            environment: self.environment.clone(),
        }
    }
}

/// Arguments of `maintctl attach`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Creates, on each listener, a rule forwarding every path (/*) to the \
    responder's target group, parked at --priority where it catches nothing, tagged so maintctl \
    finds it again; plus optional bypass rules directly above it that forward chosen clients to \
    the application. Running it again with the same options changes nothing."
)]
pub struct AttachArgs {
    /// Listener ARN to attach to (repeat for several, e.g. HTTP and HTTPS).
    #[arg(long = "listener", value_name = "ARN", required = true)]
    listeners: Vec<String>,
    /// The responder's target group (target type lambda).
    #[arg(long, value_name = "ARN")]
    target_group: String,
    /// Parked priority of the maintenance rule while maintenance is off; bypass rules are
    /// parked directly above it.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PARKED_PRIORITY,
          value_parser = clap::value_parser!(u32).range(1..=50_000))]
    priority: u32,
    /// Environment name, so `--environment NAME` finds these rules later.
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
    /// Clients from this address or CIDR reach the application while maintenance is on
    /// (repeatable, up to 5). Matched against the connection's real source address, which
    /// cannot be spoofed the way X-Forwarded-For can.
    #[arg(long = "bypass-cidr", value_name = "CIDR", value_parser = parse_cidr)]
    bypass_cidrs: Vec<IpNet>,
    /// Requests carrying this header reach the application while maintenance is on. Keep the
    /// value secret: anyone who knows it bypasses maintenance.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_header)]
    bypass_header: Option<(String, String)>,
    /// The application's own target group, where bypass rules forward.
    #[arg(long, value_name = "ARN")]
    app_target_group: Option<String>,
    /// Attach even though no rule catches every request before the parked priority: the
    /// maintenance rule then answers every request no other rule matches, instead of the
    /// listener's default action.
    #[arg(long)]
    allow_fallthrough: bool,
    /// Print what would be created and create nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Arguments of `maintctl status`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "With no option, shows every listener in the region that has a \
    maintenance rule."
)]
pub struct StatusArgs {
    #[command(flatten)]
    targets: TargetArgs,
}

/// Arguments of `maintctl on` and `maintctl off`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).multiple(true)
    .args(["listeners", "load_balancers", "environment"])))]
#[command(
    after_help = "Prints the plan (every rule's priority now and after) before changing \
    anything. Exit codes: 0 done, 1 failed before changing anything, 3 nothing to do, \
    4 refused (not confirmed, or the listener changed), 5 failed and rolled back, \
    6 inconsistent (needs a person; the report says where each listener stands)."
)]
pub struct SwitchArgs {
    #[command(flatten)]
    targets: TargetArgs,
    /// Why: recorded on the maintenance rule (tag) with your identity and the time.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// After switching, request this http:// URL until it answers 503 with Retry-After (on)
    /// or anything else (off), and the health route answers 200.
    #[arg(long, value_name = "URL")]
    verify_url: Option<String>,
    /// Health route checked with --verify-url (same host).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_HEALTH_PATH)]
    health_path: String,
    /// How long --verify-url keeps trying (the ALB takes a few seconds to apply changes).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    verify_timeout: u64,
}

fn parse_cidr(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR (e.g. 203.0.113.0/24)"))
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() && !value.is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

async fn client(globals: &Globals) -> Aws {
    Aws::new(&globals.aws.load().await)
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    say!(
        "{}",
        serde_json::to_string_pretty(value).context("failed to encode JSON")?
    );
    Ok(())
}

fn listener_title(l: &elb::ListenerInfo) -> String {
    match l.port {
        Some(port) => format!("{} ({}:{port})", elb::short_listener(&l.arn), l.protocol),
        None => elb::short_listener(&l.arn).to_string(),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Maintenance => "maintenance",
        Role::Bypass => "bypass",
        Role::Other => "app",
    }
}

impl AttachArgs {
    /// Runs `maintctl attach`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let spec = AttachSpec {
            target_group: self.target_group.clone(),
            parked: self.priority,
            environment: self.environment.clone(),
            bypass_cidrs: self.bypass_cidrs.clone(),
            bypass_header: self.bypass_header.clone(),
            app_target_group: self.app_target_group.clone(),
            allow_fallthrough: self.allow_fallthrough,
        };
        if let Err(e) = spec.validate() {
            eprintln!("maintctl: refused: {e}");
            return Ok(ExitCode::from(exit::REFUSED));
        }
        let aws = client(globals).await;
        // Plan every listener before creating anything on any of them.
        let mut plans: Vec<(ListenerSnapshot, Vec<AttachStep>)> = Vec::new();
        for listener in &self.listeners {
            let snapshot = elb::read_listener(&aws, listener)
                .await
                .with_context(|| format!("failed to read listener {listener}"))?;
            match elb::plan_attach(&snapshot, &spec) {
                Ok(steps) => plans.push((snapshot, steps)),
                Err(e) => {
                    eprintln!("maintctl: refused: {e}");
                    if matches!(e, AttachError::Fallthrough { .. }) {
                        eprintln!("nothing was created on any listener");
                    }
                    return Ok(ExitCode::from(exit::REFUSED));
                }
            }
        }
        let nothing = plans.iter().all(|(_, steps)| {
            steps
                .iter()
                .all(|s| matches!(s, AttachStep::Present { .. }))
        });

        #[derive(Serialize)]
        struct ListenerAttach<'a> {
            listener: &'a str,
            steps: &'a [AttachStep],
            created: Vec<String>,
        }
        let mut created: Vec<Vec<String>> = vec![Vec::new(); plans.len()];
        let mut failure = None;
        if !self.dry_run {
            'outer: for (i, (_, steps)) in plans.iter().enumerate() {
                for step in steps {
                    if let AttachStep::Create { rule, .. } = step {
                        match aws.create_rule(rule).await {
                            Ok(arn) => created[i].push(arn),
                            Err(e) => {
                                failure = Some(e);
                                break 'outer;
                            }
                        }
                    }
                }
            }
        }
        if globals.output == Output::Json {
            let listeners: Vec<ListenerAttach> = plans
                .iter()
                .zip(&created)
                .map(|((s, steps), c)| ListenerAttach {
                    listener: &s.listener.arn,
                    steps,
                    created: c.clone(),
                })
                .collect();
            print_json(&serde_json::json!({
                "command": "attach",
                "dry_run": self.dry_run,
                "nothing_to_do": nothing,
                "listeners": listeners,
                "error": failure.as_ref().map(|e| e.to_string()),
            }))?;
        } else {
            for ((snapshot, steps), c) in plans.iter().zip(&created) {
                say!("listener {}", listener_title(&snapshot.listener));
                let mut creates = 0;
                for step in steps {
                    match step {
                        AttachStep::Present {
                            role,
                            rule,
                            priority,
                        } => say!(
                            "  {:<11}  already there: rule {} at priority {priority}",
                            role_name(*role),
                            elb::rule_id(rule)
                        ),
                        AttachStep::Create { role, rule } => {
                            let conditions: Vec<String> =
                                rule.conditions.iter().map(ToString::to_string).collect();
                            let verb = if self.dry_run {
                                "would create"
                            } else if creates < c.len() {
                                "created"
                            } else {
                                "NOT created"
                            };
                            creates += 1;
                            say!(
                                "  {:<11}  {verb}: priority {}, {}, forward to {}",
                                role_name(*role),
                                rule.priority,
                                conditions.join(" and "),
                                elb::short_target_group(&rule.target_group)
                            );
                        }
                    }
                }
            }
            if self.dry_run {
                say!("dry run: nothing was created");
            } else if nothing {
                say!("already attached: nothing to do");
            }
        }
        if let Some(e) = failure {
            let done: usize = created.iter().map(Vec::len).sum();
            bail!(
                "creating a rule failed after {done} rule(s) were created: {e}; run the same \
                 attach again to finish (it skips what exists)"
            );
        }
        Ok(ExitCode::from(if nothing {
            exit::NOTHING_TO_DO
        } else {
            exit::SUCCESS
        }))
    }
}

/// One listener in `status` output.
#[derive(Debug, Serialize)]
struct ListenerStatus<'a> {
    listener: &'a elb::ListenerInfo,
    state: State,
    maintenance: Option<MaintenanceStatus>,
    warnings: Vec<String>,
    rules: Vec<RuleStatus<'a>>,
}

#[derive(Debug, Serialize)]
struct MaintenanceStatus {
    rule: String,
    priority: Option<u32>,
    parked: Option<String>,
    environment: Option<String>,
    state_tag: Option<String>,
    changed_by: Option<String>,
    changed_at: Option<String>,
    reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct RuleStatus<'a> {
    #[serde(flatten)]
    rule: &'a elb::RuleView,
    role: Role,
}

fn listener_status(snapshot: &ListenerSnapshot) -> ListenerStatus<'_> {
    let (state, mut warnings) = match snapshot.state() {
        Ok(state) => (state, Vec::new()),
        Err(e) => (State::Between, vec![e.to_string()]),
    };
    let maintenance = snapshot.maintenance_rule().map(|m| {
        let tag = |k: &str| m.tags.get(k).cloned();
        MaintenanceStatus {
            rule: m.arn.clone(),
            priority: m.priority,
            parked: tag(tags::PARKED_PRIORITY),
            environment: tag(tags::ENVIRONMENT),
            state_tag: tag(tags::STATE),
            changed_by: tag(tags::CHANGED_BY),
            changed_at: tag(tags::CHANGED_AT),
            reason: tag(tags::REASON).filter(|r| !r.is_empty()),
        }
    });
    if let Some(m) = &maintenance {
        if state == State::Off
            && let Some(p) = m.priority
            && !snapshot.caught_before(p)
        {
            warnings.push(format!(
                "no rule catches every request before the parked maintenance rule (priority \
                 {p}): it answers every request no other rule matches"
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
            rule: r,
            role: r.role(),
        })
        .collect();
    ListenerStatus {
        listener: &snapshot.listener,
        state,
        maintenance,
        warnings,
        rules,
    }
}

fn print_skipped(skipped: &[Skipped]) {
    for s in skipped {
        say!(
            "skipped listener {}: {}",
            elb::short_listener(&s.listener),
            s.reason
        );
    }
}

impl StatusArgs {
    /// Runs `maintctl status`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let aws = client(globals).await;
        let selection: Selection = elb::select(&aws, &self.targets.to_targets())
            .await
            .context("failed to read the listeners")?;
        let statuses: Vec<ListenerStatus> =
            selection.listeners.iter().map(listener_status).collect();
        if globals.output == Output::Json {
            print_json(&serde_json::json!({
                "listeners": statuses,
                "skipped": selection.skipped,
            }))?;
            return Ok(ExitCode::from(exit::SUCCESS));
        }
        if statuses.is_empty() {
            say!("no listener with a maintenance rule found (attach one with maintctl attach)");
        }
        for (i, s) in statuses.iter().enumerate() {
            if i > 0 {
                say!("");
            }
            say!("listener {}", listener_title(s.listener));
            let mut line = format!("  maintenance: {}", s.state.to_string().to_uppercase());
            if let Some(m) = &s.maintenance {
                if let Some(p) = m.priority {
                    line.push_str(&format!(" (rule {} at priority {p}", elb::rule_id(&m.rule)));
                    if let Some(parked) = &m.parked {
                        line.push_str(&format!(", parked at {parked}"));
                    }
                    line.push(')');
                }
                say!("{line}");
                if let Some(at) = &m.changed_at {
                    say!(
                        "  last switched {} at {at} by {}{}",
                        m.state_tag.as_deref().unwrap_or("?"),
                        m.changed_by.as_deref().unwrap_or("unknown"),
                        m.reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    );
                }
                if let Some(env) = &m.environment {
                    say!("  environment: {env}");
                }
            } else {
                say!("{line} (no maintenance rule: attach one with maintctl attach)");
            }
            for w in &s.warnings {
                say!("  warning: {w}");
            }
            say!("  {:>8}  {:<11}  {:<16}  rule", "priority", "role", "id");
            for r in &s.rules {
                let priority = r.rule.priority.map_or("default".into(), |p| p.to_string());
                let conditions: Vec<String> =
                    r.rule.conditions.iter().map(ToString::to_string).collect();
                let what = if conditions.is_empty() {
                    r.rule.action.to_string()
                } else {
                    format!("{} -> {}", conditions.join(" and "), r.rule.action)
                };
                let role = if r.rule.is_default() {
                    "default"
                } else {
                    role_name(r.role)
                };
                say!(
                    "  {priority:>8}  {role:<11}  {:<16}  {what}",
                    elb::rule_id(&r.rule.arn)
                );
            }
        }
        if !self.targets.listeners.is_empty() || !self.targets.load_balancers.is_empty() {
            print_skipped(&selection.skipped);
        }
        Ok(ExitCode::from(exit::SUCCESS))
    }
}

/// What `--verify-url` saw last.
#[derive(Debug, Clone, Serialize)]
struct Verification {
    url: String,
    status: Option<u16>,
    retry_after: Option<String>,
    health_url: String,
    health_status: Option<u16>,
    attempts: u32,
    ok: bool,
    error: Option<String>,
}

/// Everything `on`/`off` prints with `--output json`.
#[derive(Debug, Serialize)]
struct SwitchDocument<'a> {
    command: Direction,
    dry_run: bool,
    caller: &'a str,
    reason: Option<&'a str>,
    listeners: Vec<PlannedView<'a>>,
    skipped: &'a [Skipped],
    outcome: &'a str,
    exit_code: u8,
    message: Option<String>,
    report: Option<&'a Report>,
    verification: Option<&'a Verification>,
}

#[derive(Debug, Serialize)]
struct PlannedView<'a> {
    listener: &'a elb::ListenerInfo,
    state: State,
    plan: &'a rules::Plan,
}

fn print_plan(planned: &[Planned], direction: Direction) {
    for p in planned {
        let calls = p.plan.steps.len();
        if p.plan.is_empty() {
            say!(
                "listener {}: maintenance is already {direction}, nothing to do",
                listener_title(&p.snapshot.listener)
            );
        } else {
            say!(
                "listener {}: maintenance {} -> {direction} in {calls} call{}",
                listener_title(&p.snapshot.listener),
                p.state,
                if calls == 1 { "" } else { "s" }
            );
        }
        let after = p
            .plan
            .apply_to(&p.rules)
            .unwrap_or_else(|_| p.rules.clone());
        say!("  {:<11}  {:<16}  priority", "role", "rule");
        let mut rows: Vec<&rules::Rule> = p.rules.iter().collect();
        rows.sort_by_key(|r| r.priority);
        for r in rows {
            let to = after
                .iter()
                .find(|a| a.arn == r.arn)
                .map_or(r.priority, |a| a.priority);
            let change = if to == r.priority {
                r.priority.to_string()
            } else {
                format!("{} -> {to}", r.priority)
            };
            say!(
                "  {:<11}  {:<16}  {change}",
                role_name(r.role),
                elb::rule_id(&r.arn)
            );
        }
        for (i, step) in p.plan.steps.iter().enumerate() {
            let moves: Vec<String> = step
                .moves
                .iter()
                .map(|m| format!("{} {} -> {}", elb::rule_id(&m.rule), m.from, m.to))
                .collect();
            say!("  call {}: SetRulePriorities {}", i + 1, moves.join(", "));
        }
        if !p.plan.displaced.is_empty() {
            say!(
                "  {} app rule(s) move down to make room (same order); their priorities are \
                 recorded on the maintenance rule and restored by off",
                p.plan.displaced.len()
            );
        }
        for n in &p.plan.notices {
            say!("  note: {n}");
        }
    }
}

fn print_report(report: &Report) {
    for l in &report.listeners {
        let outcome = match l.outcome {
            ListenerOutcome::Applied => "switched and verified",
            ListenerOutcome::AlreadyDone => "already as requested, not touched",
            ListenerOutcome::NotApplied => "not changed",
            ListenerOutcome::RolledBack => "ROLLED BACK: exactly as before",
            ListenerOutcome::Inconsistent => "INCONSISTENT: needs a person",
        };
        say!("listener {}: {outcome}", elb::short_listener(&l.listener));
        if let Some(m) = &l.message {
            say!("  {m}");
        }
        if matches!(
            l.outcome,
            ListenerOutcome::Inconsistent | ListenerOutcome::RolledBack
        ) || l.priorities.iter().any(|r| r.before != r.now)
            && l.outcome != ListenerOutcome::Applied
        {
            say!("  {:<16}  {:>7}  {:>7}", "rule", "before", "now");
            for r in &l.priorities {
                let show = |p: Option<u32>| p.map_or("-".to_string(), |p| p.to_string());
                let mark = if r.before != r.now {
                    "  <- changed"
                } else {
                    ""
                };
                say!(
                    "  {:<16}  {:>7}  {:>7}{mark}",
                    elb::rule_id(&r.rule),
                    show(r.before),
                    show(r.now)
                );
            }
        }
    }
    for w in &report.warnings {
        say!("warning: {w}");
    }
}

fn outcome_code(outcome: Outcome) -> (u8, &'static str) {
    match outcome {
        Outcome::Applied => (exit::SUCCESS, "applied"),
        Outcome::NothingToDo => (exit::NOTHING_TO_DO, "nothing-to-do"),
        Outcome::Refused => (exit::REFUSED, "refused"),
        Outcome::Failed => (exit::FAILED, "failed"),
        Outcome::RolledBack => (exit::ROLLED_BACK, "rolled-back"),
        Outcome::Inconsistent => (exit::INCONSISTENT, "inconsistent"),
    }
}

/// Asks on the terminal; `None` when there is no terminal to ask on.
fn confirm(question: &str) -> Option<bool> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return Some(false);
    }
    Some(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

impl SwitchArgs {
    /// Runs `maintctl on` or `maintctl off`.
    pub async fn run(self, globals: &Globals, direction: Direction) -> anyhow::Result<ExitCode> {
        let verify_target = match &self.verify_url {
            Some(url) => Some(VerifyTarget::parse(url, &self.health_path)?),
            None => None,
        };
        let aws = client(globals).await;
        let selection = elb::select(&aws, &self.targets.to_targets())
            .await
            .context("failed to read the listeners")?;
        if selection.listeners.is_empty() {
            print_skipped(&selection.skipped);
            bail!(
                "no listener with a maintenance rule matches: check the ARNs, --environment and \
                 --region, or attach first with maintctl attach"
            );
        }
        let planned = match elb::plan_switch(selection.listeners, direction) {
            Ok(planned) => planned,
            Err(e @ (ElbError::Plan { .. } | ElbError::BadRule { .. })) => {
                eprintln!("maintctl: refused: {e}");
                eprintln!("nothing was changed on any listener");
                return Ok(ExitCode::from(exit::REFUSED));
            }
            Err(e) => return Err(e).context("failed to plan"),
        };
        let caller = match aws.caller().await {
            Ok(arn) => arn,
            Err(e) => {
                eprintln!(
                    "maintctl: warning: could not tell who you are ({e}); recording \"unknown\""
                );
                "unknown".to_string()
            }
        };
        let json = globals.output == Output::Json;
        let finish = |outcome: &str,
                      code: u8,
                      message: Option<String>,
                      report: Option<&Report>,
                      verification: Option<&Verification>|
         -> anyhow::Result<ExitCode> {
            if json {
                print_json(&SwitchDocument {
                    command: direction,
                    dry_run: self.dry_run,
                    caller: &caller,
                    reason: self.reason.as_deref(),
                    listeners: planned
                        .iter()
                        .map(|p| PlannedView {
                            listener: &p.snapshot.listener,
                            state: p.state,
                            plan: &p.plan,
                        })
                        .collect(),
                    skipped: &selection.skipped,
                    outcome,
                    exit_code: code,
                    message,
                    report,
                    verification,
                })?;
            } else if let Some(m) = message {
                if code == exit::SUCCESS || code == exit::NOTHING_TO_DO {
                    say!("{m}");
                } else {
                    eprintln!("maintctl: {m}");
                }
            }
            Ok(ExitCode::from(code))
        };

        if !json {
            print_plan(&planned, direction);
            print_skipped(&selection.skipped);
            if let Some(reason) = &self.reason
                && elb::tag_value(reason) != *reason
            {
                say!(
                    "note: the reason will be recorded as {:?} (tag values allow letters, \
                     digits, spaces and _.:/=+-@)",
                    elb::tag_value(reason)
                );
            }
        }
        if planned.iter().all(|p| p.plan.is_empty()) {
            let message =
                format!("maintenance is already {direction} for every listener: nothing to do");
            return finish(
                "nothing-to-do",
                exit::NOTHING_TO_DO,
                Some(message),
                None,
                None,
            );
        }
        if self.dry_run {
            return finish(
                "dry-run",
                exit::SUCCESS,
                Some("dry run: nothing was changed".into()),
                None,
                None,
            );
        }
        if !self.yes {
            let count = planned.iter().filter(|p| !p.plan.is_empty()).count();
            let question = format!(
                "Switch maintenance {} for {count} listener(s)?",
                direction.to_string().to_uppercase()
            );
            match confirm(&question) {
                Some(true) => {}
                Some(false) => {
                    return finish(
                        "refused",
                        exit::REFUSED,
                        Some("not confirmed: nothing was changed".into()),
                        None,
                        None,
                    );
                }
                None => {
                    let message = "refused: stdin is not a terminal, so there is no one to confirm; \
                                   pass --yes to switch without asking (nothing was changed)";
                    return finish("refused", exit::REFUSED, Some(message.into()), None, None);
                }
            }
        }
        let record = elb::Record {
            by: caller.clone(),
            at: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .context("failed to format the time")?,
            reason: self.reason.clone().unwrap_or_default(),
        };
        let report = match elb::apply(&aws, &planned, direction, &record).await {
            Ok(report) => report,
            Err(e) => {
                let message = format!("{e}; nothing was changed");
                return finish("failed", exit::FAILED, Some(message), None, None);
            }
        };
        if !json {
            print_report(&report);
        }
        let (code, name) = outcome_code(report.outcome);
        if report.outcome != Outcome::Applied {
            let message = match report.outcome {
                Outcome::Refused => "refused: nothing was changed",
                Outcome::Failed => "failed: nothing was changed",
                Outcome::RolledBack => {
                    "failed part-way: every change was undone, the listeners are as before"
                }
                Outcome::Inconsistent => {
                    "failed: at least one listener is neither as before nor as planned; see above"
                }
                Outcome::Applied | Outcome::NothingToDo => "",
            };
            return finish(name, code, Some(message.into()), Some(&report), None);
        }
        let Some(target) = verify_target else {
            return finish(
                name,
                code,
                Some(format!("maintenance is {direction}")),
                Some(&report),
                None,
            );
        };
        let verification = target
            .verify(direction, Duration::from_secs(self.verify_timeout))
            .await;
        if !json {
            say!(
                "verify: {} answered {}{}, {} answered {} after {} attempt(s)",
                verification.url,
                verification
                    .status
                    .map_or("nothing".into(), |s| s.to_string()),
                verification
                    .retry_after
                    .as_deref()
                    .map(|r| format!(" with Retry-After {r}"))
                    .unwrap_or_default(),
                verification.health_url,
                verification
                    .health_status
                    .map_or("nothing".into(), |s| s.to_string()),
                verification.attempts
            );
        }
        if verification.ok {
            finish(
                name,
                code,
                Some(format!("maintenance is {direction}, verified")),
                Some(&report),
                Some(&verification),
            )
        } else {
            let expected = match direction {
                Direction::On => "503 with Retry-After",
                Direction::Off => "no 503 with Retry-After",
            };
            let message = format!(
                "the listeners are switched, but {} did not show {expected} with a healthy {} \
                 within {} s{}: check the endpoint (a CDN or cache in front?) and maintctl status",
                verification.url,
                verification.health_url,
                self.verify_timeout,
                verification
                    .error
                    .as_deref()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            );
            finish(
                "inconsistent",
                exit::INCONSISTENT,
                Some(message),
                Some(&report),
                Some(&verification),
            )
        }
    }
}

/// The URLs `--verify-url` requests.
#[derive(Debug, Clone)]
struct VerifyTarget {
    page: hyper::Uri,
    health: hyper::Uri,
}

impl VerifyTarget {
    fn parse(url: &str, health_path: &str) -> anyhow::Result<Self> {
        let page: hyper::Uri = url
            .parse()
            .with_context(|| format!("--verify-url {url:?} is not a URL"))?;
        match page.scheme_str() {
            Some("http") => {}
            Some("https") => bail!(
                "--verify-url supports http:// only (this build has no TLS client for it); \
                 check https by hand: curl -sI {url}"
            ),
            _ => bail!("--verify-url {url:?} must start with http://"),
        }
        let authority = page
            .authority()
            .context("--verify-url needs a host")?
            .clone();
        if !health_path.starts_with('/') {
            bail!("--health-path {health_path:?} must start with /");
        }
        let health = hyper::Uri::builder()
            .scheme("http")
            .authority(authority)
            .path_and_query(health_path)
            .build()
            .with_context(|| format!("--health-path {health_path:?} is not a valid path"))?;
        Ok(Self { page, health })
    }

    /// Requests both URLs until they look right for `direction` or `timeout` passes.
    async fn verify(&self, direction: Direction, timeout: Duration) -> Verification {
        use http_body_util::Empty;
        use hyper::body::Bytes;
        use hyper_util::client::legacy::Client;
        use hyper_util::rt::TokioExecutor;

        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let get = |uri: hyper::Uri| {
            let client = client.clone();
            async move {
                let request = hyper::Request::get(uri)
                    .header(
                        "user-agent",
                        concat!("maintctl/", env!("CARGO_PKG_VERSION"), " verify"),
                    )
                    .header("cache-control", "no-cache")
                    .body(Empty::<Bytes>::new())
                    .map_err(|e| e.to_string())?;
                match tokio::time::timeout(Duration::from_secs(5), client.request(request)).await {
                    Ok(Ok(response)) => Ok((
                        response.status().as_u16(),
                        response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string),
                    )),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("no answer within 5 s".to_string()),
                }
            }
        };
        let deadline = Instant::now() + timeout;
        let mut seen = Verification {
            url: self.page.to_string(),
            status: None,
            retry_after: None,
            health_url: self.health.to_string(),
            health_status: None,
            attempts: 0,
            ok: false,
            error: None,
        };
        loop {
            seen.attempts += 1;
            seen.error = None;
            match get(self.page.clone()).await {
                Ok((status, retry_after)) => {
                    seen.status = Some(status);
                    seen.retry_after = retry_after;
                }
                Err(e) => {
                    seen.status = None;
                    seen.error = Some(e);
                }
            }
            match get(self.health.clone()).await {
                Ok((status, _)) => seen.health_status = Some(status),
                Err(e) => {
                    seen.health_status = None;
                    seen.error = Some(e);
                }
            }
            let maintenance = seen.status == Some(503) && seen.retry_after.is_some();
            let page_ok = match direction {
                Direction::On => maintenance,
                Direction::Off => seen.status.is_some() && !maintenance,
            };
            seen.ok = page_ok && seen.health_status == Some(200);
            if seen.ok || Instant::now() >= deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_secs(2).min(deadline - Instant::now())).await;
        }
    }
}
