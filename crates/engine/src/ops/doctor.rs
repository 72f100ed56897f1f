//! `maintctl doctor` ([`doctor`]) and the preflight of `maintctl on` ([`preflight`]): checks of
//! everything a switch relies on, each a [`Check`] that passes, warns or fails and says what to
//! do:
//!
//! - `content`: the SSM content under the maintenance rule's content prefix validates (every
//!   value the responder would ignore is named);
//! - `responder-page` and `health-route`: a real invocation of every function registered in the
//!   maintenance target group (`crate::probe::ResponderProbe`) with a synthetic ALB maintenance
//!   event — a contract-valid 503 with `Retry-After` and the live content — and a health event —
//!   200 — with the duration Lambda reported;
//! - `reserved-concurrency`, `account-concurrency`: the function's reservation and the
//!   account's unreserved concurrency;
//! - `listener-headers`: listener attributes that overwrite the page's headers
//!   (`routing.http.response.*`: a site-wide CSP, X-Frame-Options, …);
//! - `managed-rules`, `room`: the maintenance, bypass and fallback rules are in place, and `on`
//!   has room at the top or says which rules move;
//! - `routing`: which rule answers a page, a path no rule names and a health check, evaluated
//!   as the ALB does (`crate::planner::routing`): no parked rule may answer;
//! - `health-check`: the target group's health check setting;
//! - `gradual-return` (only while a return has left something): its state and its admission
//!   rules go together; one without the other is a return left part-way (fix: `maintctl on`).
//!
//! The checks marked blocking (the content, the page, the health route, a target registered)
//! are the preflight: `on` refuses (nothing changed) while one fails, unless forced.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;

use crate::listeners::{Listeners, ListenersError, Skipped, Targets, select};
use crate::ops::error::select_some;
use crate::ops::preflight::{Check, Preflight, Status};
use crate::ops::{Error, Outcome, Report};
use crate::planner::{ListenerInfo, ListenerSnapshot, TargetGroupHealth};
use crate::probe::ResponderProbe;
use maintenance_core::site::Site;
use maintenance_responder::ssm::{self, ParameterStore};

mod responder;
mod rules;

pub use responder::health_path;
use responder::{Responder, account_check};
use rules::{headers_check, managed_rules_check, no_prefix_check, room_check, routing_check};

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct DoctorRequest {
    /// The listeners (as `on` selects them).
    pub targets: Targets,
    /// The responder's health route given (`--health-path`, the environment's); `None`: the
    /// rule of [`health_path`] picks it.
    pub health_path: Option<String>,
}

/// Every check, in order: content, listeners, responders. Displayed as one line per check
/// (its fix below it), then a count.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The listeners checked.
    pub listeners: Vec<ListenerInfo>,
    /// Listeners looked at and left out.
    pub skipped: Vec<Skipped>,
    /// The checks.
    pub checks: Vec<Check>,
    /// Only the checks that can block `on` were run.
    pub preflight: bool,
}

impl DoctorReport {
    /// The checks that stop `on`.
    pub fn blocking_failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.blocks()).collect()
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

/// What `on` is given of a preflight: its checks.
impl From<DoctorReport> for Preflight {
    fn from(report: DoctorReport) -> Self {
        Self {
            checks: report.checks,
        }
    }
}

/// 0 when nothing failed (warnings are printed), 8 (a check failed) when one did.
impl Report for DoctorReport {
    fn outcome(&self) -> Outcome {
        if self.count(Status::Fail) > 0 {
            Outcome::CheckFailed
        } else {
            Outcome::Done
        }
    }
}

impl std::fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.checks {
            writeln!(
                f,
                "{:<4}  {:<20}  {}: {}",
                c.status, c.check, c.scope, c.summary
            )?;
            if let Some(fix) = &c.fix {
                writeln!(f, "      fix: {fix}")?;
            }
        }
        for s in &self.skipped {
            writeln!(f, "{s}")?;
        }
        writeln!(
            f,
            "doctor: {} listener(s), {} check(s): {} passed, {} warned, {} failed",
            self.listeners.len(),
            self.checks.len(),
            self.count(Status::Pass),
            self.count(Status::Warn),
            self.count(Status::Fail)
        )
    }
}

/// Runs every check on the listeners `request` names.
pub async fn doctor(
    listeners: &impl Listeners,
    probe: &impl ResponderProbe,
    ssm: &impl ParameterStore,
    request: &DoctorRequest,
) -> Result<DoctorReport, Error> {
    run(listeners, probe, ssm, request, false).await
}

/// Runs the checks that can block `on`: the content validates, and every responder answers
/// the maintenance event with a contract-valid 503 with `Retry-After` and its health route
/// with 200.
pub async fn preflight(
    listeners: &impl Listeners,
    probe: &impl ResponderProbe,
    ssm: &impl ParameterStore,
    request: &DoctorRequest,
) -> Result<DoctorReport, Error> {
    run(listeners, probe, ssm, request, true).await
}

async fn run(
    listeners: &impl Listeners,
    probe: &impl ResponderProbe,
    ssm: &impl ParameterStore,
    request: &DoctorRequest,
    preflight: bool,
) -> Result<DoctorReport, Error> {
    let selection = select_some(listeners, &request.targets).await?;
    let site = Site::embedded();
    let now = Timestamp::now();
    let mut checks = Vec::new();
    // The content of each prefix, and the title the responder should show from it.
    let mut titles: BTreeMap<String, Option<String>> = BTreeMap::new();
    for prefix in prefixes(&selection.listeners) {
        let (check, title) = content_check(ssm, &prefix, &site, now).await;
        checks.push(check);
        titles.insert(prefix, title);
    }
    // Each responder target group, read once: its health-check path is the health route
    // ([`health_path`]) of the routing check and the health-route check.
    let mut groups: BTreeMap<String, Result<TargetGroupHealth, ListenersError>> = BTreeMap::new();
    for (tg, _) in responders(&selection.listeners) {
        if let std::collections::btree_map::Entry::Vacant(entry) = groups.entry(tg) {
            let health = listeners.target_group_health(entry.key()).await;
            entry.insert(health);
        }
    }
    if !preflight {
        for prefix in prefixes(&selection.listeners) {
            checks.extend(return_check(ssm, &prefix, &selection.listeners).await);
        }
    }
    let given = request.health_path.as_deref();
    for s in &selection.listeners {
        if s.maintenance_rule().is_some() && s.content_prefix().is_none() && !preflight {
            checks.push(no_prefix_check(s));
        }
        if !preflight {
            checks.push(managed_rules_check(s));
            checks.push(room_check(s));
            let group = responder_group(s).and_then(|tg| groups.get(&tg)?.as_ref().ok());
            checks.push(routing_check(s, &health_path(given, group)));
            checks.push(headers_check(listeners, s, &site).await);
        }
    }
    let mut seen = BTreeSet::new();
    for (tg, prefix) in responders(&selection.listeners) {
        let Some(health) = groups.get(&tg).filter(|_| seen.insert(tg.clone())) else {
            continue;
        };
        let title = prefix.and_then(|p| titles.get(&p).cloned().flatten());
        let responder = Responder {
            target_group: &tg,
            title: title.as_deref(),
            health,
            health_path: given,
            preflight,
        };
        checks.extend(responder.checks(probe).await);
    }
    if !preflight && !seen.is_empty() {
        checks.push(account_check(probe).await);
    }
    Ok(DoctorReport {
        listeners: selection
            .listeners
            .iter()
            .map(|s| s.listener.clone())
            .collect(),
        skipped: selection.skipped,
        checks,
        preflight,
    })
}

/// `gradual-return`, when a gradual return has left anything under `prefix` or on its
/// listeners: its state and its admission rules go together (`crate::ops::gradual`); one
/// without the other is a return left part-way, and the fix is `maintctl on`, which deletes
/// both (maintenance stays on).
async fn return_check(
    ssm: &impl ParameterStore,
    prefix: &str,
    snapshots: &[ListenerSnapshot],
) -> Option<Check> {
    let name = crate::ops::gradual::state_parameter(prefix);
    let dir = name.rsplit_once('/').map_or(name.as_str(), |(d, _)| d);
    let state = match ssm.parameters_by_path(dir).await {
        Ok(found) => found.into_iter().find(|p| p.name == name),
        Err(e) => {
            return Some(Check::new(
                "gradual-return",
                prefix,
                Status::Warn,
                format!("reading {name} failed: {e}"),
            ));
        }
    };
    let mine: Vec<&ListenerSnapshot> = snapshots
        .iter()
        .filter(|s| s.content_prefix() == Some(prefix))
        .collect();
    let rules = mine
        .iter()
        .flat_map(|s| s.rules.iter())
        .filter(|r| r.is_admission())
        .count();
    let environment = mine.iter().find_map(|s| s.environment()).unwrap_or("NAME");
    let state = state.map(|p| maintenance_core::admission::ReturnState::parse(&p.value));
    let fix = format!(
        "maintctl on --environment {environment} deletes the admission rules and the return \
         state (maintenance stays on); then maintctl off, or off --gradual again"
    );
    match (state, rules) {
        (None, 0) => None,
        (Some(Ok(s)), n) if n > 0 => Some(Check::new(
            "gradual-return",
            prefix,
            Status::Pass,
            format!(
                "return {} under way: {} % let through (step {}), {n} admission rule(s)",
                s.id, s.share_percent, s.step
            ),
        )),
        (Some(Ok(s)), _) => Some(
            Check::new(
                "gradual-return",
                prefix,
                Status::Fail,
                format!(
                    "{name} holds return {} but no listener has an admission rule: visitors the \
                     responder lets through are sent back to the page",
                    s.id
                ),
            )
            .fix(fix),
        ),
        (Some(Err(e)), _) => {
            Some(Check::new("gradual-return", prefix, Status::Fail, e.to_string()).fix(fix))
        }
        (None, n) => Some(
            Check::new(
                "gradual-return",
                prefix,
                Status::Fail,
                format!(
                    "{n} admission rule(s) but no {name}: a gradual return was left part-way \
                     (their cookie may still let visitors through)"
                ),
            )
            .fix(fix),
        ),
    }
}

/// The content prefixes the maintenance rules are tagged with, each once.
fn prefixes(snapshots: &[ListenerSnapshot]) -> BTreeSet<String> {
    snapshots
        .iter()
        .filter_map(|s| s.content_prefix().map(str::to_string))
        .collect()
}

/// The responders' target groups (where the maintenance rules forward), with their prefix.
fn responders(snapshots: &[ListenerSnapshot]) -> Vec<(String, Option<String>)> {
    snapshots
        .iter()
        .filter_map(|s| Some((responder_group(s)?, s.content_prefix().map(str::to_string))))
        .collect()
}

/// The responder's target group on a listener: the one its maintenance rule forwards to.
fn responder_group(s: &ListenerSnapshot) -> Option<String> {
    let m = s.maintenance_rule()?;
    m.action.target_groups().first().cloned()
}

/// The responder's health route on the listeners `request` names, by the rule of
/// [`health_path`]: the path given, else the health-check path of the first responder target
/// group (read with DescribeTargetGroups and DescribeTargetHealth), else `/healthz`. What
/// `--verify-url` checks: the route `doctor` and the preflight check.
pub async fn health_route(
    listeners: &impl Listeners,
    request: &DoctorRequest,
) -> Result<String, Error> {
    if let Some(given) = &request.health_path {
        return Ok(given.clone());
    }
    let selection = select(listeners, &request.targets)
        .await
        .map_err(Error::Select)?;
    let Some(tg) = selection.listeners.iter().find_map(responder_group) else {
        return Ok(health_path(None, None));
    };
    let group = listeners
        .target_group_health(&tg)
        .await
        .map_err(|source| Error::HealthRoute { source })?;
    Ok(health_path(None, Some(&group)))
}

/// The content under `prefix`, validated as the responder reads it; the title in the default
/// language the page should show.
async fn content_check(
    ssm: &impl ParameterStore,
    prefix: &str,
    site: &Site,
    now: Timestamp,
) -> (Check, Option<String>) {
    let params = match ssm.parameters_by_path(prefix).await {
        Ok(params) => params,
        Err(e) => {
            let check = Check::new(
                "content",
                prefix,
                Status::Fail,
                format!("could not read the content: {e}"),
            )
            .fix(format!(
                "allow ssm:GetParametersByPath on {prefix} (the switching policy has it), then \
                 maintctl message show --prefix {prefix}"
            ))
            .blocking();
            return (check, None);
        }
    };
    let (content, ignored) = ssm::content_from_parameters(prefix, &params, &site.catalog, now);
    let lang = &site.config.default_language;
    let title = content
        .maintenance
        .get(lang)
        .map(|t| t.title.clone())
        .or_else(|| site.catalog.pack(lang).map(|p| p.maintenance.title.clone()));
    if !ignored.is_empty() {
        let what: Vec<String> = ignored
            .iter()
            .map(|w| format!("{}: {}", w.parameter, w.problem))
            .collect();
        let check = Check::new(
            "content",
            prefix,
            Status::Fail,
            format!(
                "{} value(s) the responder ignores (visitors get the built-in text instead): {}",
                ignored.len(),
                what.join("; ")
            ),
        )
        .fix(format!(
            "set them again with maintctl message set --prefix {prefix} … (it validates before \
             writing), or delete them (aws ssm delete-parameter --name NAME)"
        ))
        .blocking();
        return (check, title);
    }
    if params.is_empty() {
        let check = Check::new(
            "content",
            prefix,
            Status::Warn,
            format!(
                "no parameter under {prefix}: visitors get the built-in texts and the configured \
                 Retry-After"
            ),
        )
        .fix(format!(
            "write yours with maintctl message set --prefix {prefix} --title … --message … \
             --until …"
        ))
        .blocking();
        return (check, title);
    }
    let retry = content
        .retry
        .map_or("the configured default".to_string(), |r| {
            r.to_parameter_value()
        });
    let check = Check::new(
        "content",
        prefix,
        Status::Pass,
        format!(
            "{} parameter(s), all valid; title {:?}; Retry-After {retry}",
            params.len(),
            title.as_deref().unwrap_or("")
        ),
    )
    .blocking();
    (check, title)
}
