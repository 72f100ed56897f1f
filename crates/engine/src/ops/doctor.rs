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
//! - `health-check`: the target group's health check setting.
//!
//! The checks marked blocking (the content, the page, the health route, a target registered)
//! are the preflight: `on` refuses (nothing changed) while one fails, unless forced.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::listeners::{Listeners, Skipped, Targets, select};
use crate::ops::preflight::{Check, Preflight, Status};
use crate::ops::{Error, Outcome, Report};
use crate::planner::{
    ListenerInfo, ListenerSnapshot, State, TargetGroupHealth, plan_on, rule_id, short_target_group,
};
use crate::probe::{Invocation, ResponderProbe, unqualified};
use maintenance_core::deploy_names::{DEFAULT_HEALTH_PATH, HEALTH_CHECK_USER_AGENT};
use maintenance_core::site::Site;
use maintenance_responder::lambda::alb_event::HeaderMode;
use maintenance_responder::lambda::alb_response::check_contract;
use maintenance_responder::ssm::{self, ParameterStore};

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct DoctorRequest {
    /// The listeners (as `on` selects them).
    pub targets: Targets,
    /// The responder's health route; `None`: the target group's health-check path, else
    /// `/healthz`.
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

/// 0 when nothing failed (warnings are printed), 6 (needs a person) when a check failed.
impl Report for DoctorReport {
    fn outcome(&self) -> Outcome {
        if self.count(Status::Fail) > 0 {
            Outcome::Inconsistent
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
    let selection = select(listeners, &request.targets)
        .await
        .map_err(Error::Select)?;
    if selection.listeners.is_empty() {
        return Err(Error::NoListener {
            skipped: selection.skipped,
        });
    }
    let site = Site::embedded();
    let now = OffsetDateTime::now_utc();
    let mut checks = Vec::new();
    // The content of each prefix, and the title the responder should show from it.
    let mut titles: BTreeMap<String, Option<String>> = BTreeMap::new();
    for prefix in prefixes(&selection.listeners) {
        let (check, title) = content_check(ssm, &prefix, &site, now).await;
        checks.push(check);
        titles.insert(prefix, title);
    }
    for s in &selection.listeners {
        if s.maintenance_rule().is_some() && s.content_prefix().is_none() && !preflight {
            checks.push(no_prefix_check(s));
        }
        if !preflight {
            checks.push(managed_rules_check(s));
            checks.push(room_check(s));
            let health = request
                .health_path
                .as_deref()
                .unwrap_or(DEFAULT_HEALTH_PATH);
            checks.push(routing_check(s, health));
            checks.push(headers_check(listeners, s, &site).await);
        }
    }
    let mut seen = BTreeSet::new();
    for (tg, prefix) in responders(&selection.listeners) {
        if !seen.insert(tg.clone()) {
            continue;
        }
        let title = prefix.and_then(|p| titles.get(&p).cloned().flatten());
        let responder = Responder {
            target_group: &tg,
            title: title.as_deref(),
            health_path: request.health_path.as_deref(),
            preflight,
        };
        checks.extend(responder.checks(listeners, probe).await);
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
        .filter_map(|s| {
            let m = s.maintenance_rule()?;
            let tg = m.action.target_groups().first()?;
            Some((tg.clone(), s.content_prefix().map(str::to_string)))
        })
        .collect()
}

/// The content under `prefix`, validated as the responder reads it; the title in the default
/// language the page should show.
async fn content_check(
    ssm: &impl ParameterStore,
    prefix: &str,
    site: &Site,
    now: OffsetDateTime,
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

fn no_prefix_check(s: &ListenerSnapshot) -> Check {
    let m = s.maintenance_rule().expect("checked");
    Check::new(
        "content",
        &s.listener.to_string(),
        Status::Warn,
        "the maintenance rule has no content-prefix tag, so the content and whether the \
         responder shows it are not checked"
            .into(),
    )
    .fix(format!(
        "tag it with the responder's MAINTENANCE_SSM_PREFIX: aws elbv2 add-tags --resource-arns \
         {} --tags Key={},Value=/maintenance/APP",
        m.arn,
        maintenance_core::deploy_names::tags::CONTENT_PREFIX
    ))
}

/// The maintenance, bypass and fallback rules, and anything their tags do not account for.
fn managed_rules_check(s: &ListenerSnapshot) -> Check {
    let scope = s.listener.to_string();
    let blocking: Vec<String> = s
        .findings()
        .iter()
        .filter(|f| f.blocks())
        .map(ToString::to_string)
        .collect();
    if !blocking.is_empty() {
        return Check::new("managed-rules", &scope, Status::Fail, blocking.join("; "))
            .fix("on and off refuse this listener until that is fixed (see maintctl status)");
    }
    let Some(m) = s.maintenance_rule() else {
        return Check::new(
            "managed-rules",
            &scope,
            Status::Fail,
            "no maintenance rule".into(),
        )
        .fix("attach one: maintctl attach --listener ARN --target-group ARN");
    };
    let bypass = s.bypass_rules().count();
    let mut summary = format!(
        "maintenance rule {} at {}; {bypass} bypass rule(s)",
        rule_id(&m.arn),
        m.priority.unwrap_or_default()
    );
    match s.fallback_rule() {
        Some(f) => {
            summary.push_str(&format!(
                "; fallback rule {} at {}",
                rule_id(&f.arn),
                f.priority.unwrap_or_default()
            ));
            match crate::planner::fallback::check_fallback_action(f) {
                Ok(()) => Check::new("managed-rules", &scope, Status::Pass, summary),
                Err(action) => Check::new(
                    "managed-rules",
                    &scope,
                    Status::Warn,
                    format!("{summary}, but it does {action}, not a fixed-response 503 page"),
                )
                .fix("delete the fallback rule and run maintctl attach again"),
            }
        }
        None => Check::new(
            "managed-rules",
            &scope,
            Status::Warn,
            format!("{summary}; no fallback rule (for when the Lambda cannot answer)"),
        )
        .fix("maintctl attach with the same options adds it"),
    }
}

/// Whether `on` has room at the top, or which rules it moves.
fn room_check(s: &ListenerSnapshot) -> Check {
    let scope = s.listener.to_string();
    let plan = s
        .planner_rules()
        .map_err(|e| e.to_string())
        .and_then(|rules| plan_on(&rules).map_err(|e| e.to_string()));
    match plan {
        Err(e) => Check::new("room", &scope, Status::Fail, format!("on cannot plan: {e}")),
        Ok(plan) if plan.is_empty() => Check::new(
            "room",
            &scope,
            Status::Pass,
            "maintenance is on already".into(),
        ),
        Ok(plan) if plan.displaced.is_empty() => Check::new(
            "room",
            &scope,
            Status::Pass,
            format!(
                "on has room above the first rule ({} call(s))",
                plan.steps.len()
            ),
        ),
        Ok(plan) => {
            let moved: Vec<String> = plan
                .displaced
                .iter()
                .map(|d| format!("{} from {}", rule_id(&d.rule), d.home))
                .collect();
            Check::new(
                "room",
                &scope,
                Status::Warn,
                format!(
                    "no free priority above your first rule: on moves {} of your rule(s) down \
                     to make room ({}), and off puts them back",
                    moved.len(),
                    moved.join(", ")
                ),
            )
            .fix("leave a few free priorities at the top (start your own rules at 10)")
        }
    }
}

/// Which rule answers a page, a path no rule names and a health check, as the ALB evaluates the
/// rules: a parked fallback rule that answers fails (visitors and health checks get the ALB's
/// bare 503), a parked maintenance rule that answers warns (`attach --allow-fallthrough`), and
/// so do health checks answered by a live fallback page.
fn routing_check(s: &ListenerSnapshot, health_path: &str) -> Check {
    let scope = s.listener.to_string();
    let state = s.state().unwrap_or(State::Between);
    let answers = s.answers(health_path);
    let said: Vec<String> = answers.iter().map(ToString::to_string).collect();
    let misroutes = s.misrouted(state, &answers);
    if misroutes.is_empty() {
        return Check::new("routing", &scope, Status::Pass, said.join("; "));
    }
    let status = if misroutes.iter().any(|m| m.severe) {
        Status::Fail
    } else {
        Status::Warn
    };
    let found: Vec<String> = misroutes.into_iter().map(|m| m.message).collect();
    Check::new("routing", &scope, status, found.join("; ")).fix(format!(
        "maintctl status shows who answers what: {}",
        said.join("; ")
    ))
}

/// Listener attributes that make the ALB overwrite the page's own headers.
async fn headers_check(listeners: &impl Listeners, s: &ListenerSnapshot, site: &Site) -> Check {
    let scope = s.listener.to_string();
    let attributes = match listeners.listener_attributes(&s.listener.arn).await {
        Ok(a) => a,
        Err(e) => {
            return Check::new(
                "listener-headers",
                &scope,
                Status::Warn,
                format!("could not read the listener attributes: {e}"),
            )
            .fix("allow elasticloadbalancing:DescribeListenerAttributes");
        }
    };
    let set: Vec<(&String, &String)> = attributes
        .iter()
        .filter(|(k, v)| k.starts_with("routing.http.response.") && !v.is_empty())
        .filter(|(k, v)| !(k.ends_with(".enabled") && v.as_str() == "true"))
        .collect();
    if set.is_empty() {
        return Check::new(
            "listener-headers",
            &scope,
            Status::Pass,
            "the ALB leaves the page's response headers alone".into(),
        );
    }
    let hash = style_hash(&site.csp);
    let csp_breaks = set.iter().any(|(k, v)| {
        k.contains("content_security_policy")
            && !v.contains("'unsafe-inline'")
            && !hash.is_some_and(|h| v.contains(h))
    });
    let named: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    let status = if csp_breaks {
        Status::Fail
    } else {
        Status::Warn
    };
    Check::new(
        "listener-headers",
        &scope,
        status,
        format!(
            "the ALB overwrites the responder's headers with {}{}",
            named.join(", "),
            if csp_breaks {
                ": that Content-Security-Policy blocks the page's inline stylesheet, so \
                 visitors get an unstyled page"
            } else {
                ""
            }
        ),
    )
    .fix(format!(
        "remove them from the listener (aws elbv2 modify-listener-attributes --listener-arn {} \
         --attributes Key=KEY,Value=), or allow the page's stylesheet in the policy ({})",
        s.listener.arn,
        hash.unwrap_or("its style-src hash")
    ))
}

/// The `'sha256-…'` of the page's stylesheet in a Content-Security-Policy.
fn style_hash(csp: &str) -> Option<&str> {
    let at = csp.find("'sha256-")?;
    let end = csp[at + 1..].find('\'')? + at + 2;
    Some(&csp[at..end])
}

/// One responder target group and what its functions should answer.
struct Responder<'a> {
    target_group: &'a str,
    title: Option<&'a str>,
    health_path: Option<&'a str>,
    preflight: bool,
}

impl Responder<'_> {
    async fn checks(&self, listeners: &impl Listeners, probe: &impl ResponderProbe) -> Vec<Check> {
        let scope = short_target_group(self.target_group);
        let health = match listeners.target_group_health(self.target_group).await {
            Ok(h) => h,
            Err(e) => {
                let check = Check::new(
                    "responder-page",
                    scope,
                    Status::Fail,
                    format!("could not read the target group's targets: {e}"),
                )
                .fix("allow elasticloadbalancing:DescribeTargetHealth and DescribeTargetGroups")
                .blocking();
                return vec![check];
            }
        };
        let mut checks = Vec::new();
        if !self.preflight {
            checks.push(health_check_check(&health, self.health_path));
        }
        if health.targets.is_empty() {
            checks.push(
                Check::new(
                    "responder-page",
                    scope,
                    Status::Fail,
                    "no function is registered in the maintenance target group: the ALB \
                     answers every request with its own bare 503"
                        .into(),
                )
                .fix(format!(
                    "register the responder's alias: aws elbv2 register-targets \
                     --target-group-arn {} --targets Id=FUNCTION_ALIAS_ARN",
                    self.target_group
                ))
                .blocking(),
            );
        }
        // The target group's path, when it health-checks at all (its default path is `/`).
        let checked_path = health
            .health_check_path
            .clone()
            .filter(|_| health.health_check_enabled == Some(true));
        let path = self
            .health_path
            .map(str::to_string)
            .or(checked_path)
            .unwrap_or_else(|| DEFAULT_HEALTH_PATH.to_string());
        for target in &health.targets {
            let page = probe
                .invoke(&target.id, &event(self.target_group, "/", false))
                .await;
            checks.push(page_check(&target.id, page, self.title));
            let health = probe
                .invoke(&target.id, &event(self.target_group, &path, true))
                .await;
            checks.push(health_route_check(&target.id, &path, health));
            if !self.preflight {
                checks.push(concurrency_check(probe, &target.id).await);
            }
        }
        checks
    }
}

/// A synthetic ALB event: a visitor's request for the maintenance page (asking for the JSON
/// page, so the title can be read back), or the ALB's health check.
fn event(target_group: &str, path: &str, health_check: bool) -> String {
    let headers = if health_check {
        serde_json::json!({ "user-agent": HEALTH_CHECK_USER_AGENT })
    } else {
        serde_json::json!({
            "accept": "application/problem+json",
            "host": "maintctl-doctor.invalid",
            "user-agent": concat!("maintctl/", env!("CARGO_PKG_VERSION"), " doctor"),
            "x-forwarded-proto": "https",
        })
    };
    serde_json::json!({
        "requestContext": { "elb": { "targetGroupArn": target_group } },
        "httpMethod": "GET",
        "path": path,
        "queryStringParameters": {},
        "headers": headers,
        "body": "",
        "isBase64Encoded": false,
    })
    .to_string()
}

/// The response of an invocation, checked against the ALB contract; its status and headers.
fn read_answer(
    invocation: &Invocation,
) -> Result<(u64, serde_json::Map<String, Value>, String), String> {
    if let Some(error) = &invocation.function_error {
        let head: String = invocation.payload.chars().take(200).collect();
        return Err(format!(
            "the function failed ({error}): {head} — the ALB answers that with its own 502"
        ));
    }
    check_contract(&invocation.payload, HeaderMode::Single).map_err(|v| {
        format!(
            "its answer breaks the ALB contract ({}), so the ALB answers with its own 502",
            v.0
        )
    })?;
    let value: Value = serde_json::from_str(&invocation.payload).map_err(|e| e.to_string())?;
    let status = value["statusCode"].as_u64().unwrap_or_default();
    let headers = value["headers"].as_object().cloned().unwrap_or_default();
    let body = value["body"].as_str().unwrap_or_default().to_string();
    Ok((status, headers, body))
}

fn timing(invocation: &Invocation) -> (String, Option<f64>) {
    let round_trip = invocation.round_trip.as_secs_f64() * 1000.0;
    match invocation.reported {
        Some(d) => {
            let ms = d.as_secs_f64() * 1000.0;
            (
                format!("in {ms:.2} ms (Lambda's REPORT; {round_trip:.0} ms round trip)"),
                Some(ms),
            )
        }
        None => (format!("in {round_trip:.1} ms round trip"), None),
    }
}

/// The maintenance event's answer: a contract-valid 503 with `Retry-After`, and the title of the
/// live content.
fn page_check(
    function: &str,
    answer: Result<Invocation, crate::probe::ProbeError>,
    title: Option<&str>,
) -> Check {
    let fail = |summary: String, fix: &str| {
        Check::new("responder-page", function, Status::Fail, summary)
            .fix(fix)
            .blocking()
    };
    let invocation = match answer {
        Ok(i) => i,
        Err(e) => {
            return fail(
                format!(
                    "the responder did not answer: {} failed: {}",
                    e.operation, e.message
                ),
                "check the function exists and you may invoke it (lambda:InvokeFunction on the \
                 alias); its log group says why it fails",
            );
        }
    };
    let (when, ms) = timing(&invocation);
    let (status, headers, body) = match read_answer(&invocation) {
        Ok(a) => a,
        Err(e) => return fail(e, "see the function's log group"),
    };
    let retry_after = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| v.as_str());
    let mut check = match (status, retry_after) {
        (503, Some(retry)) => {
            let shown: Option<String> = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["title"].as_str().map(str::to_string));
            match (title, shown.as_deref()) {
                (Some(want), Some(got)) if want != got => Check::new(
                    "responder-page",
                    function,
                    Status::Warn,
                    format!(
                        "answered 503 with Retry-After {retry} {when}, but with the title {got:?}, \
                         not {want:?} from the content"
                    ),
                )
                .fix(
                    "content written in the last 30 s shows after the responder's next refresh; \
                     otherwise its MAINTENANCE_SSM_PREFIX differs from the rule's content-prefix \
                     tag, or it cannot read SSM (its health route says which)",
                )
                .blocking(),
                _ => Check::new(
                    "responder-page",
                    function,
                    Status::Pass,
                    format!(
                        "answered 503 with Retry-After {retry} and the live content ({:?}) {when}",
                        shown.unwrap_or_default()
                    ),
                )
                .blocking(),
            }
        }
        (503, None) => fail(
            format!("answered 503 without Retry-After {when}"),
            "its configuration sends another page than maintenance (MAINTENANCE_DEFAULT_PAGE, \
             MAINTENANCE_TARGET_GROUP_PAGES)",
        ),
        (other, _) => fail(
            format!("answered {other}, not the maintenance page's 503 {when}"),
            "its configuration sends another page than maintenance (MAINTENANCE_DEFAULT_PAGE, \
             MAINTENANCE_TARGET_GROUP_PAGES, MAINTENANCE_PATH_PAGES)",
        ),
    };
    check.duration_ms = ms;
    check
}

/// The health event's answer: 200 (the content's state in its body).
fn health_route_check(
    function: &str,
    path: &str,
    answer: Result<Invocation, crate::probe::ProbeError>,
) -> Check {
    let fail = |summary: String| {
        Check::new("health-route", function, Status::Fail, summary)
            .fix(format!(
                "the health route must answer 200, or an NLB in front takes the ALB out of \
                 service during maintenance: check MAINTENANCE_HEALTH_PATH is {path}"
            ))
            .blocking()
    };
    let invocation = match answer {
        Ok(i) => i,
        Err(e) => {
            return fail(format!(
                "the responder did not answer: {} failed: {}",
                e.operation, e.message
            ));
        }
    };
    let (when, ms) = timing(&invocation);
    let mut check = match read_answer(&invocation) {
        Err(e) => fail(e),
        Ok((200, _, body)) => Check::new(
            "health-route",
            function,
            Status::Pass,
            format!("{path} answered 200 {when}: {}", body.trim()),
        )
        .blocking(),
        Ok((status, _, _)) => fail(format!("{path} answered {status}, not 200 {when}")),
    };
    check.duration_ms = ms;
    check
}

/// The target group's health check setting.
fn health_check_check(h: &TargetGroupHealth, health_path: Option<&str>) -> Check {
    let scope = short_target_group(&h.arn);
    let path = health_path.unwrap_or(DEFAULT_HEALTH_PATH);
    match (h.health_check_enabled, h.health_check_path.as_deref()) {
        (Some(false), _) => Check::new(
            "health-check",
            scope,
            Status::Warn,
            "health checks are off: the target shows as unavailable, and Route 53 cannot fail \
             over on it"
                .into(),
        )
        .fix("turn them on with the responder's health path (HealthCheckEnabled in the templates)"),
        (_, Some(p)) if health_path.is_some() && p != path => Check::new(
            "health-check",
            scope,
            Status::Warn,
            format!("the health check requests {p}, not the responder's health route {path}"),
        )
        .fix(format!(
            "aws elbv2 modify-target-group --target-group-arn {} --health-check-path {path}",
            h.arn
        )),
        (_, p) => Check::new(
            "health-check",
            scope,
            Status::Pass,
            format!(
                "health checks on {}{}; {} target(s): {}",
                p.unwrap_or("(default path)"),
                h.health_check_interval_seconds
                    .map(|s| format!(" every {s} s"))
                    .unwrap_or_default(),
                h.targets.len(),
                h.targets
                    .iter()
                    .map(|t| format!("{} {}", t.id, t.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

/// The function's reserved concurrency.
async fn concurrency_check(probe: &impl ResponderProbe, function: &str) -> Check {
    let name = unqualified(function);
    match probe.reserved_concurrency(name).await {
        Err(e) => Check::new(
            "reserved-concurrency",
            name,
            Status::Warn,
            format!("could not read it: {e}"),
        )
        .fix("allow lambda:GetFunctionConcurrency on the function"),
        Ok(None) => Check::new(
            "reserved-concurrency",
            name,
            Status::Warn,
            "none reserved: when other functions use up the account's concurrency, visitors \
             get the ALB's bare 502 instead of the page"
                .into(),
        )
        .fix(format!(
            "reserve it (README, Capacity; the templates reserve 100): aws lambda \
             put-function-concurrency --function-name {name} --reserved-concurrent-executions 100"
        )),
        Ok(Some(0)) => Check::new(
            "reserved-concurrency",
            name,
            Status::Fail,
            "reserved concurrency is 0: every invocation is throttled (the ALB answers 502)".into(),
        )
        .fix(format!(
            "aws lambda put-function-concurrency --function-name {name} \
             --reserved-concurrent-executions 100"
        )),
        Ok(Some(n)) => Check::new(
            "reserved-concurrency",
            name,
            Status::Pass,
            format!("{n} reserved (README, Capacity: peak requests/s x busy s x headroom)"),
        ),
    }
}

/// The account's concurrency: its limit and what is left unreserved.
async fn account_check(probe: &impl ResponderProbe) -> Check {
    match probe.account_concurrency().await {
        Err(e) => Check::new(
            "account-concurrency",
            "the account",
            Status::Warn,
            format!("could not read it: {e}"),
        )
        .fix("allow lambda:GetAccountSettings"),
        Ok(a) => {
            let unreserved = a
                .unreserved
                .map_or("unknown".to_string(), |u| u.to_string());
            let summary = format!("limit {}, unreserved {unreserved}", a.limit);
            if a.limit < 1000 {
                Check::new("account-concurrency", "the account", Status::Warn, summary).fix(
                    "new accounts start below the default 1,000: ask for a quota increase \
                     (Service Quotas, Lambda concurrent executions)",
                )
            } else {
                Check::new("account-concurrency", "the account", Status::Pass, summary)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn answered(payload: &str) -> Result<Invocation, crate::probe::ProbeError> {
        Ok(Invocation {
            payload: payload.into(),
            function_error: None,
            reported: Some(Duration::from_micros(1500)),
            round_trip: Duration::from_millis(30),
        })
    }

    #[test]
    fn the_page_must_be_a_contract_valid_503_with_retry_after() {
        let ok = r#"{"statusCode":503,"statusDescription":"503 Service Unavailable","isBase64Encoded":false,"headers":{"content-type":"application/problem+json","retry-after":"300"},"body":"{\"title\":\"Back soon\"}"}"#;
        let c = page_check("f", answered(ok), Some("Back soon"));
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert_eq!(c.duration_ms, Some(1.5));
        let c = page_check("f", answered(ok), Some("Other"));
        assert_eq!(c.status, Status::Warn, "an older title only warns: {c:?}");
        let no_retry = ok.replace(r#","retry-after":"300""#, "");
        let c = page_check("f", answered(&no_retry), None);
        assert!(
            c.blocks() && c.summary.contains("without Retry-After"),
            "{c:?}"
        );
        let null_body = ok.replace(r#""body":"{\"title\":\"Back soon\"}""#, r#""body":null"#);
        let c = page_check("f", answered(&null_body), None);
        assert!(c.blocks() && c.summary.contains("ALB contract"), "{c:?}");
        let c = page_check(
            "f",
            Err(crate::probe::ProbeError {
                operation: "Invoke",
                resource: "f".into(),
                message: "ResourceNotFoundException: nope".into(),
            }),
            None,
        );
        assert!(c.blocks() && c.summary.contains("did not answer"), "{c:?}");
    }

    #[test]
    fn the_style_hash_is_found_in_the_policy() {
        let site = Site::embedded();
        let hash = style_hash(&site.csp).unwrap();
        assert!(
            hash.starts_with("'sha256-") && hash.ends_with('\''),
            "{hash}"
        );
    }
}
