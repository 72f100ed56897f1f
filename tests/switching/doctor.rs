//! `maintctl doctor` and the preflight of `maintctl on`: each check passes, and fails (or
//! warns) for the right reason — the responder not answering, invalid content, a listener's
//! CSP override, no reserved concurrency, no room at the top.
//!
//! Everything but the invocation runs against the moto emulator over the wire: the ALB, its
//! rules, target group and listener attributes (ELBv2), the content (SSM). moto's Lambda
//! Invoke needs Docker, which is not here: the responder is invoked through [`InProcess`], a
//! `ResponderProbe` that runs the responder's own per-event code (`Function::handle`, reading
//! its content from moto's SSM as the Lambda does). The real binary, whose probe is the Lambda
//! SDK, is run too: against moto its invocation fails, which is the "responder does not
//! answer" case end to end, and `on` refuses on it.

use crate::common;

use std::time::Instant;

use aws_sdk_elasticloadbalancingv2 as elbv2;
use common::Moto;
use common::alb::{self, Alb, maintctl_with_preflight, text};
use common::listeners::{aws, priorities, switch_on};
use maintenance_core::site::Site;
use maintenance_engine::listeners::{self, Aws, Targets};
use maintenance_engine::ops::doctor::{self, DoctorReport, DoctorRequest};
use maintenance_engine::ops::preflight::{Check, Preflight, Status};
use maintenance_engine::ops::{self, Outcome};
use maintenance_engine::planner::State;
use maintenance_engine::probe::{AccountConcurrency, Invocation, ProbeError, ResponderProbe};
use maintenance_responder::content_cache::CacheSettings;
use maintenance_responder::lambda::{Function, FunctionSettings};
use serde_json::Value;

/// The function registered in the maintenance target group (moto does not run it).
const FUNCTION: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:maintenance-responder-doc:live";

/// The responder, in-process: its own per-event code over moto's SSM, or not answering.
struct InProcess {
    function: Option<Function<aws_sdk_ssm::Client>>,
    reserved: Option<i32>,
}

impl InProcess {
    async fn new(moto: &Moto, prefix: &str, reserved: Option<i32>) -> Self {
        let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
        let settings = FunctionSettings {
            ssm_prefix: Some(prefix.to_string()),
            cache: CacheSettings::default(),
        };
        let function = Function::with_store(Site::embedded(), &settings, Some(ssm));
        function.init().await;
        Self {
            function: Some(function),
            reserved,
        }
    }

    fn not_answering() -> Self {
        Self {
            function: None,
            reserved: Some(100),
        }
    }
}

impl ResponderProbe for InProcess {
    async fn invoke(&self, function: &str, event: &str) -> Result<Invocation, ProbeError> {
        assert_eq!(function, FUNCTION, "doctor invokes the registered target");
        let Some(f) = &self.function else {
            return Err(ProbeError {
                operation: "Invoke",
                resource: function.into(),
                message: "ResourceNotFoundException: Function not found".into(),
            });
        };
        let started = Instant::now();
        let payload = f.handle(event).await.get().to_string();
        Ok(Invocation {
            payload,
            function_error: None,
            reported: Some(started.elapsed()),
            round_trip: started.elapsed(),
        })
    }

    async fn reserved_concurrency(&self, function: &str) -> Result<Option<i32>, ProbeError> {
        assert!(
            !function.ends_with(":live"),
            "the function, not the alias: {function}"
        );
        Ok(self.reserved)
    }

    async fn account_concurrency(&self) -> Result<AccountConcurrency, ProbeError> {
        Ok(AccountConcurrency {
            limit: 1000,
            unreserved: Some(900),
        })
    }
}

/// An attached ALB whose responder target group has the function registered and health
/// checks on the responder's route, with content under its own prefix.
async fn setup(moto: &Moto, name: &str, http: &[u32]) -> (Alb, String, String) {
    let alb = alb::build_with(moto, name, http, &[10, 20], Some(40_000));
    let env = common::unique("env-doc");
    let prefix = format!("/maintenance/{}", common::unique("doc"));
    let options = ["--prefix", &prefix, "--bypass-cidr", "203.0.113.0/24"];
    let out = maintctl_with_preflight(moto, &alb::attach_args(&alb, &env, &options));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let elb = elb(moto).await;
    elb.register_targets()
        .target_group_arn(&alb.lambda_target_group)
        .targets(
            elbv2::types::TargetDescription::builder()
                .id(FUNCTION)
                .build(),
        )
        .send()
        .await
        .unwrap();
    elb.modify_target_group()
        .target_group_arn(&alb.lambda_target_group)
        .health_check_enabled(true)
        .health_check_path("/healthz")
        .send()
        .await
        .unwrap();
    let set = maintctl_with_preflight(
        moto,
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--title",
            "Upgrading checkout",
        ],
    );
    assert_eq!(set.status.code(), Some(0), "{}", text(&set));
    (alb, env, prefix)
}

async fn elb(moto: &Moto) -> elbv2::Client {
    elbv2::Client::new(&moto.sdk_config().await)
}

fn request(env: &str) -> DoctorRequest {
    DoctorRequest {
        targets: Targets {
            environment: Some(env.into()),
            ..Targets::default()
        },
        health_path: None,
    }
}

async fn run(moto: &Moto, probe: &InProcess, env: &str) -> DoctorReport {
    let aws = Aws::new(&moto.sdk_config().await);
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
    doctor::doctor(&aws, probe, &ssm, &request(env))
        .await
        .unwrap()
}

/// The checks named `name`.
fn named<'a>(report: &'a DoctorReport, name: &str) -> Vec<&'a Check> {
    report.checks.iter().filter(|c| c.check == name).collect()
}

fn only<'a>(report: &'a DoctorReport, name: &str) -> &'a Check {
    let found = named(report, name);
    assert!(!found.is_empty(), "no {name} check: {report}");
    found[0]
}

#[tokio::test]
async fn a_sound_setup_passes_every_check() {
    let moto = Moto::shared();
    let (_alb, env, prefix) = setup(moto, "doc-ok", &[10, 20]).await;
    let report = run(moto, &InProcess::new(moto, &prefix, Some(100)).await, &env).await;
    for check in &report.checks {
        assert_eq!(check.status, Status::Pass, "{check:?}\n{report}");
    }
    for name in [
        "content",
        "managed-rules",
        "room",
        "listener-headers",
        "health-check",
        "responder-page",
        "health-route",
        "reserved-concurrency",
        "account-concurrency",
    ] {
        only(&report, name);
    }
    assert_eq!(named(&report, "room").len(), 2, "both listeners");
    let page = only(&report, "responder-page");
    assert!(
        page.summary.contains("503 with Retry-After")
            && page.summary.contains("Upgrading checkout"),
        "{page:?}"
    );
    assert!(page.duration_ms.is_some());
    assert!(
        only(&report, "health-route")
            .summary
            .contains("/healthz answered 200")
    );
    assert_eq!(
        maintenance_engine::ops::Report::outcome(&report),
        Outcome::Done
    );
    assert!(report.to_string().contains("0 failed"), "{report}");
}

#[tokio::test]
async fn a_responder_that_does_not_answer_fails_and_on_refuses_unless_forced() {
    let moto = Moto::shared();
    let (alb, env, _prefix) = setup(moto, "doc-down", &[10, 20]).await;
    let probe = InProcess::not_answering();
    let report = run(moto, &probe, &env).await;
    for name in ["responder-page", "health-route"] {
        let c = only(&report, name);
        assert!(c.blocks(), "{c:?}");
        assert!(c.summary.contains("did not answer") && c.summary.contains("ResourceNotFound"));
    }
    assert_eq!(
        maintenance_engine::ops::Report::outcome(&report),
        Outcome::CheckFailed
    );
    // The preflight holds only the checks that can block, and switch refuses on it.
    let aws = Aws::new(&moto.sdk_config().await);
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
    let preflight = doctor::preflight(&aws, &probe, &ssm, &request(&env))
        .await
        .unwrap();
    assert!(preflight.checks.iter().all(|c| c.blocking), "{preflight}");
    assert_eq!(preflight.blocking_failures().len(), 2, "{preflight}");
    // maintctl on refuses on it before it switches (Preflight::gate), and goes past it forced.
    let before = priorities(&aws, &alb.http).await;
    let preflight: Preflight = preflight.into();
    let err = preflight.gate(false).unwrap_err();
    assert_eq!(err.outcome(), Outcome::Refused);
    let message = err.to_string();
    assert!(
        message.contains("preflight failed")
            && message.contains("responder-page")
            && message.contains("--force"),
        "{message}"
    );
    assert_eq!(priorities(&aws, &alb.http).await, before, "nothing changed");
    let mut switch = switch_on(request(&env).targets);
    switch.warnings = preflight.gate(true).unwrap();
    let report = ops::switch(&aws, &ssm, &switch, &mut ops::Unattended)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Done, "{report}");
    assert!(
        report
            .plan
            .warnings
            .iter()
            .any(|w| w.contains("switching anyway")),
        "{:?}",
        report.plan.warnings
    );
}

#[tokio::test]
async fn the_real_binary_finds_the_responder_missing_and_on_refuses() {
    // The binary's probe is the Lambda SDK: against moto the function cannot be invoked.
    let moto = Moto::shared();
    let (alb, env, _prefix) = setup(moto, "doc-cli", &[10, 20]).await;
    let out = maintctl_with_preflight(moto, &["doctor", "--environment", &env]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL  responder-page") && stdout.contains("fix: "),
        "{}",
        text(&out)
    );
    let json_out =
        maintctl_with_preflight(moto, &["doctor", "--environment", &env, "--output", "json"]);
    let doc: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let page = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "responder-page")
        .unwrap();
    assert_eq!(page["status"], "fail");
    assert_eq!(page["blocking"], true);
    assert_eq!(page["scope"], FUNCTION);

    let before = priorities(&aws(moto).await, &alb.http).await;
    let on = maintctl_with_preflight(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(on.status.code(), Some(4), "{}", text(&on));
    let stderr = String::from_utf8_lossy(&on.stderr);
    assert!(
        stderr.contains("preflight failed")
            && stderr.contains("maintctl doctor")
            && stderr.contains("nothing was changed"),
        "{}",
        text(&on)
    );
    assert_eq!(priorities(&aws(moto).await, &alb.http).await, before);
    let forced = maintctl_with_preflight(moto, &["on", "--environment", &env, "--yes", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert!(
        String::from_utf8_lossy(&forced.stderr).contains("switching anyway"),
        "{}",
        text(&forced)
    );
    // The fallback page needs no Lambda: on --fallback runs no preflight.
    let off = maintctl_with_preflight(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(off.status.code(), Some(0), "{}", text(&off));
    let fallback =
        maintctl_with_preflight(moto, &["on", "--fallback", "--environment", &env, "--yes"]);
    assert_eq!(fallback.status.code(), Some(0), "{}", text(&fallback));
    let aws = Aws::new(&moto.sdk_config().await);
    let s = listeners::read_listener(&aws, &alb.https).await.unwrap();
    assert_eq!(s.state().unwrap(), State::On);
}

#[tokio::test]
async fn invalid_content_fails_naming_the_parameter_and_blocks_on() {
    let moto = Moto::shared();
    let (_alb, env, prefix) = setup(moto, "doc-content", &[10, 20]).await;
    // Written past message set's validation: the responder would ignore it.
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
    ssm.put_parameter()
        .name(format!("{prefix}/retry-after"))
        .value("next tuesday")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let report = run(moto, &InProcess::new(moto, &prefix, Some(100)).await, &env).await;
    let c = only(&report, "content");
    assert!(c.blocks(), "{c:?}");
    assert!(
        c.summary.contains(&format!("{prefix}/retry-after")),
        "names the parameter: {c:?}"
    );
    assert!(c.fix.as_deref().unwrap().contains("maintctl message set"));
    // The responder itself still answers (it ignores the value).
    assert_eq!(only(&report, "responder-page").status, Status::Pass);
}

#[tokio::test]
async fn a_listener_csp_override_fails_and_other_header_overrides_warn() {
    let moto = Moto::shared();
    let (alb, env, prefix) = setup(moto, "doc-csp", &[10, 20]).await;
    let elb = elb(moto).await;
    let attribute = |k: &str, v: &str| {
        elbv2::types::ListenerAttribute::builder()
            .key(k)
            .value(v)
            .build()
    };
    elb.modify_listener_attributes()
        .listener_arn(&alb.http)
        .attributes(attribute(
            "routing.http.response.content_security_policy.header_value",
            "default-src 'self'",
        ))
        .send()
        .await
        .unwrap();
    elb.modify_listener_attributes()
        .listener_arn(&alb.https)
        .attributes(attribute(
            "routing.http.response.x_frame_options.header_value",
            "SAMEORIGIN",
        ))
        .send()
        .await
        .unwrap();
    let report = run(moto, &InProcess::new(moto, &prefix, Some(100)).await, &env).await;
    let headers = named(&report, "listener-headers");
    let on = |listener: &str| {
        let id = listener.rsplit('/').next().unwrap();
        *headers.iter().find(|c| c.scope.contains(id)).unwrap()
    };
    let http = on(&alb.http);
    assert_eq!(http.status, Status::Fail, "{http:?}");
    assert!(http.summary.contains("inline stylesheet"), "{http:?}");
    assert!(
        !http.blocks(),
        "the page still answers 503: on is not stopped"
    );
    let https = on(&alb.https);
    assert_eq!(https.status, Status::Warn, "{https:?}");
    assert!(https.summary.contains("x_frame_options"), "{https:?}");
}

#[tokio::test]
async fn no_reserved_concurrency_warns_and_zero_fails() {
    let moto = Moto::shared();
    let (_alb, env, prefix) = setup(moto, "doc-conc", &[10, 20]).await;
    let none = run(moto, &InProcess::new(moto, &prefix, None).await, &env).await;
    let c = only(&none, "reserved-concurrency");
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(c.summary.contains("none reserved") && c.summary.contains("502"));
    assert!(
        c.fix
            .as_deref()
            .unwrap()
            .contains("put-function-concurrency")
    );
    assert_eq!(
        c.scope,
        "arn:aws:lambda:us-east-1:123456789012:function:maintenance-responder-doc"
    );
    let zero = run(moto, &InProcess::new(moto, &prefix, Some(0)).await, &env).await;
    assert_eq!(only(&zero, "reserved-concurrency").status, Status::Fail);
}

#[tokio::test]
async fn no_room_at_the_top_says_which_rules_move() {
    let moto = Moto::shared();
    // HTTP: app rules at 1, 2, 3 — no free priority above them.
    let (alb, env, prefix) = setup(moto, "doc-room", &[1, 2, 3]).await;
    let report = run(moto, &InProcess::new(moto, &prefix, Some(100)).await, &env).await;
    let rooms = named(&report, "room");
    let http_id = alb.http.rsplit('/').next().unwrap();
    let http = rooms.iter().find(|c| c.scope.contains(http_id)).unwrap();
    assert_eq!(http.status, Status::Warn, "{http:?}");
    assert!(
        http.summary.contains("moves 3 of your rule(s)") && http.summary.contains("from 1"),
        "{http:?}"
    );
    let https = rooms.iter().find(|c| !c.scope.contains(http_id)).unwrap();
    assert_eq!(https.status, Status::Pass, "{https:?}");
}

/// One rule for the responder's health route in `doctor`, the preflight and `--verify-url`
/// (`doctor::health_route`): the path given, else the target group's health-check path (read
/// from moto's ELBv2) while its health checks are on, else `/healthz`.
#[tokio::test]
async fn the_health_route_is_the_path_given_else_the_target_groups_else_healthz() {
    let moto = Moto::shared();
    let (alb, env, prefix) = setup(moto, "doc-hp", &[10]).await;
    let aws = Aws::new(&moto.sdk_config().await);
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
    let probe = InProcess::new(moto, &prefix, Some(100)).await;
    let checks_on = |path: &'static str, enabled: bool| {
        let alb = &alb;
        async move {
            elb(moto)
                .await
                .modify_target_group()
                .target_group_arn(&alb.lambda_target_group)
                .health_check_enabled(enabled)
                .health_check_path(path)
                .send()
                .await
                .unwrap();
        }
    };
    let given = |path: Option<&str>| DoctorRequest {
        health_path: path.map(str::to_string),
        ..request(&env)
    };
    // Nothing given: the target group's path, in every check that requests it.
    checks_on("/status", true).await;
    assert_eq!(
        doctor::health_route(&aws, &request(&env)).await.unwrap(),
        "/status"
    );
    let report = run(moto, &probe, &env).await;
    let route = only(&report, "health-route");
    assert!(route.summary.contains("/status answered 200"), "{route:?}");
    assert_eq!(only(&report, "health-check").status, Status::Pass);
    let routing = only(&report, "routing");
    assert!(routing.summary.contains("GET /status"), "{routing:?}");
    let preflight = doctor::preflight(&aws, &probe, &ssm, &request(&env))
        .await
        .unwrap();
    assert!(
        only(&preflight, "health-route")
            .summary
            .contains("/status answered 200"),
        "{preflight}"
    );
    // A path given wins everywhere, and the health check on another path warns.
    let ping = given(Some("/ping"));
    assert_eq!(doctor::health_route(&aws, &ping).await.unwrap(), "/ping");
    let report = doctor::doctor(&aws, &probe, &ssm, &ping).await.unwrap();
    assert!(
        only(&report, "health-route")
            .summary
            .contains("/ping answered 200")
    );
    let check = only(&report, "health-check");
    assert_eq!(check.status, Status::Warn, "{check:?}");
    assert!(
        check
            .summary
            .contains("requests /status, not the responder's health route /ping")
    );
    // Health checks off: their path is not the route; the built-in default is.
    checks_on("/status", false).await;
    assert_eq!(
        doctor::health_route(&aws, &request(&env)).await.unwrap(),
        "/healthz"
    );
    let report = run(moto, &probe, &env).await;
    assert!(
        only(&report, "health-route")
            .summary
            .contains("/healthz answered 200")
    );
}
