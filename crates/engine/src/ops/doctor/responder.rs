//! The doctor's checks of the responder function, through the `crate::probe::ResponderProbe`
//! trait: `responder-page` and `health-route` (a real invocation with synthetic ALB events,
//! its answer held to the ALB's contract), `health-check` (the target group's setting),
//! `reserved-concurrency` and `account-concurrency`.

use serde_json::Value;

use crate::listeners::ListenersError;
use crate::ops::preflight::{Check, Status};
use crate::planner::{TargetGroupHealth, short_target_group};
use crate::probe::{Invocation, ResponderProbe, unqualified};
use maintenance_core::deploy_names::{DEFAULT_HEALTH_PATH, HEALTH_CHECK_USER_AGENT};
use maintenance_responder::lambda::alb_event::HeaderMode;
use maintenance_responder::lambda::alb_response::check_contract;

/// One responder target group and what its functions should answer.
pub(super) struct Responder<'a> {
    pub(super) target_group: &'a str,
    pub(super) title: Option<&'a str>,
    /// The target group's settings and targets, as read (DescribeTargetGroups and
    /// DescribeTargetHealth).
    pub(super) health: &'a Result<TargetGroupHealth, ListenersError>,
    /// The health route given (`--health-path` or the environment's), if any.
    pub(super) health_path: Option<&'a str>,
    pub(super) preflight: bool,
}

/// The responder's health route, by the one rule for `doctor`, `on`'s preflight and
/// `--verify-url`: the path given (`--health-path`, else the environment's `health-path`),
/// else the path the responder's target group health-checks (when its health checks are on:
/// the route the ALB itself requests), else the responder's built-in default (`/healthz`).
pub fn health_path(given: Option<&str>, target_group: Option<&TargetGroupHealth>) -> String {
    let checked = target_group
        .filter(|h| h.health_check_enabled == Some(true))
        .and_then(|h| h.health_check_path.as_deref());
    given.or(checked).unwrap_or(DEFAULT_HEALTH_PATH).to_string()
}

impl Responder<'_> {
    pub(super) async fn checks(&self, probe: &impl ResponderProbe) -> Vec<Check> {
        let scope = short_target_group(self.target_group);
        let health = match self.health {
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
            checks.push(health_check_check(health, self.health_path));
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
        let path = health_path(self.health_path, Some(health));
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
pub(super) fn event(target_group: &str, path: &str, health_check: bool) -> String {
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
pub(super) fn read_answer(
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

pub(super) fn timing(invocation: &Invocation) -> (String, Option<f64>) {
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
pub(super) fn page_check(
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
pub(super) fn health_route_check(
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

/// The target group's health check setting: on, and on the responder's health route when one
/// is given ([`health_path`]).
pub(super) fn health_check_check(h: &TargetGroupHealth, given: Option<&str>) -> Check {
    let scope = short_target_group(&h.arn);
    let path = health_path(given, Some(h));
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
        (_, Some(p)) if given.is_some() && p != path => Check::new(
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
pub(super) async fn concurrency_check(probe: &impl ResponderProbe, function: &str) -> Check {
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
pub(super) async fn account_check(probe: &impl ResponderProbe) -> Check {
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
    use crate::ops::doctor::rules::style_hash;
    use maintenance_core::site::Site;
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
