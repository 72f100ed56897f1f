//! The gradual return (issue #24), end to end against moto: a listener with two application
//! target groups (`/api/*` -> tg-api, the rest -> tg-web: a `/*` rule and the default action), maintenance on, then
//! `off --gradual` (`ops::gradual::start`), its steps delivered to the switch function
//! (`maintenance_switch::SwitchFunction::handle`, as Scheduler would deliver them: in order,
//! twice, out of order, after an abort), and an abort by `maintctl on`'s engine call and by the
//! return's abort alarm.
//!
//! At each step [`VISITORS`] distinct visitors ask for a page (half of them under `/api/`)
//! through the ALB evaluator (`maintenance_engine::planner::routing::reach`) over the rules
//! moto holds. Where a rule sends a visitor to the responder's target group, the responder's
//! own answer: `maintenance_core::respond::respond` (what the Lambda runs for each event) with
//! the return state read from `{prefix}/return/state` as the content: a ticket from the
//! visitor's ticket cookie, else drawn from its trace id; a 307 back to the same address with
//! the admission cookie when let through, the 503 page with the ticket cookie otherwise.
//!
//! What it checks: each step lets through its share of distinct visitors within
//! [`TOLERANCE_PERCENT`] points (400 visitors, a share p: the binomial's standard deviation is
//! at most 2.5 points; the tickets are drawn from fixed trace ids, so the counts are the same
//! every run); shares never fall (every visitor let through stays through); every visitor let
//! through reaches the target group of its path; the last step leaves the rules exactly as
//! before `on` (every rule's ARN, priority, conditions, action and tags but the bookkeeping
//! tags of the last switch); a step delivered twice, out of order or after an abort changes
//! nothing and says why; an abort sends every visitor back to the page and no earlier
//! admission cookie lets anyone through; a start that fails part-way deletes what it wrote.

use std::collections::BTreeMap;
use std::process::Command;

use aws_sdk_elasticloadbalancingv2 as elbv2;
use maintenance_core::admission::ReturnState;
use maintenance_core::content::Content;
use maintenance_core::deploy_names::{ADMIT_COOKIE, tags};
use maintenance_core::respond::request::Request as CoreRequest;
use maintenance_core::respond::respond;
use maintenance_engine::announce::{self, Channels, EventBus, history};
use maintenance_engine::listeners::{Aws, Targets};
use maintenance_engine::ops::gradual::{self, AbortRequest, GradualRequest};
use maintenance_engine::ops::{
    self, AttachRequest, Coordination, LeaseOptions, Owner, SwitchRequest, Unattended,
};
use maintenance_engine::planner::routing::{Destination, Request, answer, reach, visitor_draw};
use maintenance_engine::planner::window::Schedule;
use maintenance_engine::planner::{AttachSpec, BypassOptions, Direction, Live, RuleView, State};
use maintenance_engine::schedules::{ScheduleGroup, Schedules, SchedulesError};
use maintenance_switch::{Settings, SwitchFunction};
use serde_json::Value;

use crate::automation::{alarm_events, aws, schedule_group, schedule_names, snapshot, ssm};
use crate::common::{self, Moto};

/// Distinct visitors sampled at each step.
const VISITORS: usize = 400;
/// How far the share let through may be from the step's, in percentage points.
const TOLERANCE_PERCENT: f64 = 8.0;

/// The listener of the test: its ARN, its target groups, the environment and prefix.
struct Site {
    listener: String,
    tg_api: String,
    tg_web: String,
    responder: String,
    environment: String,
    prefix: String,
}

/// Builds the ALB in moto (the fixture's VPC, load balancer and responder target group), then
/// two application target groups, `/api/*` -> tg-api at 10 and the rest -> tg-web (a `/*`
/// rule at 40000 and the default action),
/// and attaches maintenance with an environment and a content prefix.
async fn site(moto: &Moto, name: &str) -> Site {
    let out = Command::new(common::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/alb_fixture.py"
        ))
        .args(["--name", &common::unique(name), "--http", "", "--https", ""])
        .envs(moto.env())
        .output()
        .expect("run tests/support/alb_fixture.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("fixture prints JSON");
    let s = |v: &Value| v.as_str().expect("string").to_string();
    let elb = elbv2::Client::new(&moto.sdk_config().await);
    let short = common::unique(name);
    let short = &short[short.len().saturating_sub(20)..];
    let tg = |n: String| {
        let elb = elb.clone();
        let vpc = s(&v["vpc"]);
        async move {
            elb.create_target_group()
                .name(n)
                .protocol(elbv2::types::ProtocolEnum::Http)
                .port(8080)
                .vpc_id(vpc)
                .target_type(elbv2::types::TargetTypeEnum::Instance)
                .send()
                .await
                .expect("create target group")
                .target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_string()
        }
    };
    let tg_api = tg(format!("api-{}", short.trim_start_matches('-'))).await;
    let tg_web = tg(format!("web-{}", short.trim_start_matches('-'))).await;
    let listener = s(&v["listeners"]["http"]);
    let forward = |arn: &str| {
        elbv2::types::Action::builder()
            .r#type(elbv2::types::ActionTypeEnum::Forward)
            .target_group_arn(arn)
            .build()
    };
    elb.modify_listener()
        .listener_arn(&listener)
        .default_actions(forward(&tg_web))
        .send()
        .await
        .expect("default action -> tg-web");
    // `/api/*` -> tg-api; and `/*` -> tg-web before the parked maintenance rule (attach
    // refuses a parked rule that would catch what falls through to the default action).
    for (priority, path, group) in [(10, "/api/*", &tg_api), (40_000, "/*", &tg_web)] {
        elb.create_rule()
            .listener_arn(&listener)
            .priority(priority)
            .conditions(
                elbv2::types::RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(
                        elbv2::types::PathPatternConditionConfig::builder()
                            .values(path)
                            .build(),
                    )
                    .build(),
            )
            .actions(forward(group))
            .send()
            .await
            .expect("app rule");
    }
    let environment = common::unique(name);
    let site = Site {
        listener: listener.clone(),
        tg_api,
        tg_web: tg_web.clone(),
        responder: s(&v["lambda_target_group"]),
        prefix: format!("/maintenance/{environment}"),
        environment,
    };
    let spec = AttachSpec {
        target_group: site.responder.clone(),
        parked: 50_000,
        environment: Some(site.environment.clone()),
        content_prefix: Some(site.prefix.clone()),
        bypass_cidrs: vec!["198.51.100.0/24".parse().unwrap()],
        bypass_header: None,
        app_target_group: Some(tg_web),
        allow_fallthrough: false,
        allow_bypass_everyone: false,
        bypass_link: false,
        fallback: None,
    };
    let request = AttachRequest::new(vec![listener], spec, false).expect("valid options");
    let report = ops::attach(&aws(moto).await, &request)
        .await
        .expect("attached");
    assert!(report.error.is_none(), "{report:#?}");
    site
}

/// A switch by a person, confirmed.
fn switch_request(site: &Site, direction: Direction) -> SwitchRequest {
    SwitchRequest {
        direction,
        targets: Targets {
            environment: Some(site.environment.clone()),
            ..Targets::default()
        },
        reason: Some("gradual test".into()),
        dry_run: false,
        confirmed: true,
        verify: None,
        bypass: BypassOptions::default(),
        live: Live::Responder,
        warnings: Vec::new(),
        coordination: Coordination::default(),
    }
}

/// The rules as they are, but the bookkeeping tags of the last switch (who, when, why, the
/// state it left, the displaced record).
async fn rule_set(client: &Aws, listener: &str) -> Vec<RuleView> {
    let bookkeeping = [
        tags::STATE,
        tags::CHANGED_BY,
        tags::CHANGED_AT,
        tags::REASON,
        tags::WINDOW,
        tags::ALARM,
        tags::FALLBACK_ALARM,
    ];
    let mut rules = snapshot(client, listener).await.rules;
    for r in &mut rules {
        r.tags.retain(|k, _| {
            !bookkeeping.contains(&k.as_str()) && !maintenance_engine::planner::is_displaced_key(k)
        });
    }
    rules
}

/// One visitor: its path, its trace id (what the responder draws a ticket from), and the
/// cookies it keeps.
#[derive(Debug, Clone)]
struct Visitor {
    index: u64,
    /// False for an API client: no cookie jar, and every request has a new trace id.
    keeps_cookies: bool,
    path: String,
    trace: String,
    cookies: BTreeMap<String, String>,
}

fn visitors() -> Vec<Visitor> {
    (0..VISITORS)
        .map(|i| Visitor {
            index: i as u64,
            keeps_cookies: true,
            path: if i % 2 == 0 {
                format!("/api/orders/{i}")
            } else {
                format!("/shop/item/{i}")
            },
            trace: format!("Root=1-6751a1b0-{i:024x}"),
            cookies: BTreeMap::new(),
        })
        .collect()
}

/// Where a request ends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reached {
    /// An application target group (its ARN).
    App(String),
    /// The maintenance page.
    Page,
}

fn request(v: &Visitor) -> Request {
    let mut r = Request::get(&v.path);
    r.headers_complete = true;
    r.host = Some("shop.example.com".into());
    r.source_ip = Some("203.0.113.7".parse().unwrap());
    if let Some(cookie) = cookie_header(v) {
        r = r.header("Cookie", &cookie);
    }
    r
}

/// The visitor's cookies as one `Cookie` header.
fn cookie_header(v: &Visitor) -> Option<String> {
    let pairs: Vec<String> = v
        .cookies
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

/// The responder's site (its embedded configuration), built once.
fn responder_site() -> &'static maintenance_core::site::Site {
    static SITE: std::sync::OnceLock<maintenance_core::site::Site> = std::sync::OnceLock::new();
    SITE.get_or_init(maintenance_core::site::Site::embedded)
}

/// One page request through the rules; at the responder, its admission answer (a redirect
/// with the admission cookie, followed once; the page with the ticket cookie).
fn visit(site: &Site, rules: &[RuleView], state: Option<&ReturnState>, v: &mut Visitor) -> Reached {
    for _ in 0..2 {
        let draw = visitor_draw(v.index);
        let reached = reach(rules, &request(v), draw).expect("a default rule");
        let Destination::TargetGroup { arn: group, .. } = reached.destination else {
            panic!("visitor {} reached {:?}", v.trace, reached.destination);
        };
        if group != site.responder {
            return Reached::App(group);
        }
        // The responder: its own answer (the core the Lambda runs per event), with the return
        // state as it reads it from SSM.
        let content = Content {
            return_state: state.cloned(),
            ..Content::default()
        };
        let mut asked = CoreRequest::get(&v.path)
            .with_header("Accept", "text/html")
            .with_header("X-Amzn-Trace-Id", &v.trace);
        if let Some(cookie) = cookie_header(v) {
            asked = asked.with_header("Cookie", &cookie);
        }
        let answer = respond(&asked, &content, responder_site(), jiff::Timestamp::now());
        for (_, set) in answer
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        {
            let pair = set.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                v.cookies
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
        }
        if !v.keeps_cookies {
            v.cookies.clear();
            v.index += 1;
            v.trace = format!("Root=1-6751a1b1-{:024x}", v.index);
        }
        match answer.status {
            503 => return Reached::Page,
            307 => assert_eq!(
                answer.header("location"),
                Some(v.path.as_str()),
                "{}",
                v.trace
            ),
            other => panic!("the responder answered {other} to {}", v.trace),
        }
    }
    if !v.keeps_cookies {
        // Redirected twice without a cookie to show: still on the page.
        return Reached::Page;
    }
    panic!("visitor {} was redirected twice", v.trace);
}

fn expected_group<'a>(site: &'a Site, v: &Visitor) -> &'a str {
    if v.path.starts_with("/api/") {
        &site.tg_api
    } else {
        &site.tg_web
    }
}

/// The return state as the responder reads it (decrypted), `None` when there is none.
async fn state(moto: &Moto, site: &Site) -> Option<ReturnState> {
    let out = ssm(moto)
        .await
        .get_parameter()
        .name(gradual::state_parameter(&site.prefix))
        .with_decryption(true)
        .send()
        .await
        .ok()?;
    Some(ReturnState::parse(out.parameter()?.value()?).expect("a valid return state"))
}

/// Every visitor once: how many were let through; each let through reached its path's group.
async fn sample(moto: &Moto, site: &Site, crowd: &mut [Visitor]) -> (usize, Vec<bool>) {
    let client = aws(moto).await;
    let rules = snapshot(&client, &site.listener).await.rules;
    let state = state(moto, site).await;
    let mut through = Vec::new();
    for v in crowd.iter_mut() {
        match visit(site, &rules, state.as_ref(), v) {
            Reached::App(group) => {
                assert_eq!(
                    group,
                    expected_group(site, v),
                    "visitor {} on {}",
                    v.trace,
                    v.path
                );
                through.push(true);
            }
            Reached::Page => through.push(false),
        }
    }
    (through.iter().filter(|t| **t).count(), through)
}

fn assert_share(through: usize, share: u8) {
    let got = through as f64 * 100.0 / VISITORS as f64;
    assert!(
        (got - f64::from(share)).abs() <= TOLERANCE_PERCENT,
        "{through} of {VISITORS} visitors let through ({got:.1} %), the step's share is {share} %"
    );
}

fn settings(environment: &str) -> Settings {
    let env = environment.to_string();
    Settings::from_lookup(&move |k| (k == "MAINTENANCE_SWITCH_ENVIRONMENT").then(|| env.clone())).0
}

fn step_payload(site: &Site, id: &str, step: u32, share: u8) -> String {
    serde_json::json!({
        "action": "return-step", "environment": site.environment, "return": id,
        "step": step, "share_percent": share,
        "scheduled_by": "arn:aws:sts::123456789012:assumed-role/ops/ana"
    })
    .to_string()
}

async fn channels(moto: &Moto) -> Channels<EventBus, aws_sdk_ssm::Client> {
    let config = moto.sdk_config().await;
    Channels {
        bus: EventBus::new(&config, "default"),
        history: aws_sdk_ssm::Client::new(&config),
    }
}

fn gradual_request(site: &Site, steps: &[u8], alarm: Option<&str>) -> GradualRequest {
    GradualRequest {
        environment: site.environment.clone(),
        duration: jiff::SignedDuration::from_mins(30),
        steps: steps.to_vec(),
        abort_alarm: alarm.map(str::to_string),
        reason: Some("back after the migration".into()),
        dry_run: false,
        lease: LeaseOptions::default(),
    }
}

async fn scheduler(moto: &Moto) -> maintctl::schedules::Scheduler {
    maintctl::schedules::Scheduler::new(&moto.sdk_config().await)
}

#[tokio::test]
async fn a_gradual_return_lets_each_step_s_share_through_to_the_right_target_group_and_ends_as_before_on()
 {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let site = site(moto, "gradual").await;
    let group = schedule_group(moto, &site.environment).await;
    let before_on = rule_set(&client, &site.listener).await;
    let on = ops::switch(
        &client,
        &ssm(moto).await,
        &switch_request(&site, Direction::On),
        &mut Unattended,
    )
    .await
    .expect("on");
    assert_eq!(on.outcome.name(), "applied", "{}", on.message);
    let mut crowd = visitors();
    let (through, _) = sample(moto, &site, &mut crowd).await;
    assert_eq!(through, 0, "maintenance on: everyone gets the page");

    // A dry run plans everything and writes nothing.
    let schedules = scheduler(moto).await;
    let mut dry = gradual_request(&site, &[10, 25, 50], None);
    dry.dry_run = true;
    let plan = gradual::start(&client, &ssm(moto).await, &schedules, &dry).await;
    assert_eq!(plan.outcome.name(), "applied", "{plan}");
    let text = plan.to_string();
    assert!(
        text.contains("path /api/* and header Cookie: *maint_admit=(token)*")
            && text.contains("path /* and header Cookie"),
        "the mirrors of both application rules (the default action is never reached after /*): \
         {text}"
    );
    assert!(
        text.contains("maint_admit=(token)") && text.contains("final off"),
        "{text}"
    );
    assert!(text.contains("API clients"), "{text}");
    assert_eq!(state(moto, &site).await, None);
    assert!(schedule_names(moto, &group.name).await.is_empty());

    let started = gradual::start(
        &client,
        &ssm(moto).await,
        &schedules,
        &gradual_request(&site, &[10, 25, 50], None),
    )
    .await;
    assert_eq!(started.outcome.name(), "applied", "{started}");
    let id = started.return_id.clone().expect("an id");
    let names = schedule_names(moto, &group.name).await;
    assert_eq!(
        names,
        (2..=4)
            .map(|n| format!("{id}-step-{n}"))
            .collect::<Vec<_>>(),
        "one schedule per later step and the final off"
    );
    // A second start while this one runs is refused.
    let again = gradual::start(
        &client,
        &ssm(moto).await,
        &schedules,
        &gradual_request(&site, &[20], None),
    )
    .await;
    assert_eq!(again.outcome.name(), "refused", "{again}");
    assert!(
        again.message.contains("admission rule"),
        "{}",
        again.message
    );

    let function =
        SwitchFunction::new(client.clone(), ssm(moto).await, settings(&site.environment));
    let mut shares = Vec::new();
    let (through, first) = sample(moto, &site, &mut crowd).await;
    assert_share(through, 10);
    // status's line and schedule list's steps.
    let shown = gradual::returning(&client, &ssm(moto).await, &schedules, &site.environment)
        .await
        .unwrap()
        .expect("a return under way");
    assert_eq!((shown.share_percent, shown.step, shown.steps), (10, 1, 4));
    assert!(
        shown
            .to_string()
            .starts_with("returning: 10 % let through (step 1 of 4), next step at "),
        "{shown}"
    );
    let listed = ops::schedule::list(&schedules, &site.environment)
        .await
        .unwrap();
    let listed: Vec<(u32, u8)> = listed
        .return_steps
        .iter()
        .map(|s| (s.step, s.share_percent))
        .collect();
    assert_eq!(listed, [(2, 25), (3, 50), (4, 100)]);
    shares.push(first);
    // In order, twice, then out of order: only the steps after the one in force change it.
    let deliveries: [(u32, u8, &str); 4] = [
        (2, 25, "applied"),
        (2, 25, "nothing-to-do"),
        (3, 50, "applied"),
        (2, 25, "nothing-to-do"),
    ];
    for (step, share, outcome) in deliveries {
        let answer = function
            .handle(&step_payload(&site, &id, step, share))
            .await;
        assert_eq!(
            answer.outcome.name(),
            outcome,
            "step {step}: {}",
            answer.message
        );
        if outcome == "nothing-to-do" {
            assert!(
                answer.message.contains("delivered twice or out of order"),
                "{}",
                answer.message
            );
        }
        let now = state(moto, &site).await.expect("a return under way");
        let (through, who) = sample(moto, &site, &mut crowd).await;
        assert_share(through, now.share_percent);
        let last = shares.last().unwrap();
        assert!(
            last.iter().zip(&who).all(|(was, is)| !was || *is),
            "a visitor let through was sent back to the page at step {step}"
        );
        shares.push(who);
    }
    // API clients that keep no cookies are never let through before the end (each request a new
    // trace id, so a new ticket; a redirect followed without the cookie is the page again).
    let mut api: Vec<Visitor> = (0..50)
        .map(|i| Visitor {
            index: 1_000_000 + i * 1_000,
            keeps_cookies: false,
            path: format!("/api/health/{i}"),
            trace: format!("Root=1-6751a1b1-{:024x}", 1_000_000 + i * 1_000),
            cookies: BTreeMap::new(),
        })
        .collect();
    let (through, _) = sample(moto, &site, &mut api).await;
    assert_eq!(through, 0, "an API client without cookies was let through");

    let last = function.handle(&step_payload(&site, &id, 4, 100)).await;
    assert_eq!(last.outcome.name(), "applied", "{}", last.message);
    assert!(last.message.contains("finished"), "{}", last.message);
    assert_eq!(
        state(moto, &site).await,
        None,
        "the return state is deleted"
    );
    assert_eq!(
        rule_set(&client, &site.listener).await,
        before_on,
        "the last step leaves the rules exactly as before on"
    );
    let (through, _) = sample(moto, &site, &mut crowd).await;
    assert_eq!(
        through, VISITORS,
        "after the final off everyone reaches the application"
    );
    // A step delivered after the end changes nothing.
    let late = function.handle(&step_payload(&site, &id, 3, 50)).await;
    assert_eq!(late.outcome.name(), "nothing-to-do", "{}", late.message);
    assert!(
        late.message.contains("no return is under way"),
        "{}",
        late.message
    );
}

#[tokio::test]
async fn an_abort_sends_everyone_back_to_the_page_and_no_earlier_cookie_still_works() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let site = site(moto, "gradual-abort").await;
    let group = schedule_group(moto, &site.environment).await;
    let schedules = scheduler(moto).await;
    let on = ops::switch(
        &client,
        &ssm(moto).await,
        &switch_request(&site, Direction::On),
        &mut Unattended,
    )
    .await
    .expect("on");
    assert_eq!(on.outcome.name(), "applied", "{}", on.message);
    let alarm = common::unique("return-5xx");
    let started = gradual::start(
        &client,
        &ssm(moto).await,
        &schedules,
        &gradual_request(&site, &[30, 60], Some(&alarm)),
    )
    .await;
    assert_eq!(started.outcome.name(), "applied", "{started}");
    let id = started.return_id.clone().unwrap();
    let function =
        SwitchFunction::new(client.clone(), ssm(moto).await, settings(&site.environment));
    let raised = function.handle(&step_payload(&site, &id, 2, 60)).await;
    assert_eq!(raised.outcome.name(), "applied", "{}", raised.message);
    let mut crowd = visitors();
    let (through, _) = sample(moto, &site, &mut crowd).await;
    assert_share(through, 60);

    // maintctl on during the return: the engine call it makes first.
    let abort = gradual::abort(
        &client,
        &ssm(moto).await,
        Some(&schedules),
        &AbortRequest {
            environment: site.environment.clone(),
            owner: Owner::Person,
            reason: Some("errors".into()),
            lease: LeaseOptions::default(),
        },
    )
    .await;
    assert_eq!(abort.outcome.name(), "applied", "{abort}");
    let warnings = announce::after_return(&channels(moto).await, &abort).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(state(moto, &site).await, None);
    assert!(
        schedule_names(moto, &group.name).await.is_empty(),
        "the steps left are deleted"
    );
    let s = snapshot(&client, &site.listener).await;
    assert!(!s.rules.iter().any(RuleView::is_admission));
    assert_eq!(s.state().unwrap(), State::On);
    let (through, _) = sample(moto, &site, &mut crowd).await;
    assert_eq!(
        through, 0,
        "after the abort every visitor, cookie or not, gets the page"
    );
    let recorded = history::last(&ssm(moto).await, std::slice::from_ref(&site.prefix))
        .await
        .unwrap()
        .expect("the abort is in the history");
    assert!(
        recorded
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("aborted"),
        "{recorded:?}"
    );
    // Its step after the abort changes nothing and says why.
    let late = function.handle(&step_payload(&site, &id, 3, 100)).await;
    assert_eq!(late.outcome.name(), "nothing-to-do", "{}", late.message);

    // A new return: the cookies of the aborted one let no one through.
    let second = gradual::start(
        &client,
        &ssm(moto).await,
        &schedules,
        &gradual_request(&site, &[5], Some(&alarm)),
    )
    .await;
    assert_eq!(second.outcome.name(), "applied", "{second}");
    let rules = snapshot(&client, &site.listener).await.rules;
    let old_cookies_through = crowd
        .iter()
        .filter(|v| v.cookies.contains_key(ADMIT_COOKIE))
        .filter(|v| {
            let rule = answer(&rules, &request(v)).unwrap().rule;
            rule.action.target_groups().first() != Some(&site.responder)
        })
        .count();
    assert_eq!(
        old_cookies_through, 0,
        "an earlier admission cookie still works"
    );

    // The return's abort alarm, delivered to the switch function, aborts it too.
    let (event, _) = alarm_events(moto, &alarm, "ALARM");
    let aborted = function.handle(&event).await;
    assert_eq!(aborted.outcome.name(), "applied", "{}", aborted.message);
    assert!(aborted.message.contains("aborted"), "{}", aborted.message);
    assert_eq!(state(moto, &site).await, None);
    let s = snapshot(&client, &site.listener).await;
    assert!(!s.rules.iter().any(RuleView::is_admission));
    assert_eq!(s.state().unwrap(), State::On);
}

/// A Scheduler whose second `CreateSchedule` fails (a quota, a throttle): the rest is moto's.
struct SecondCreateFails {
    real: maintctl::schedules::Scheduler,
    creates: std::sync::atomic::AtomicUsize,
}

impl Schedules for SecondCreateFails {
    async fn group(&self, name: &str) -> Result<Option<ScheduleGroup>, SchedulesError> {
        self.real.group(name).await
    }
    async fn names(&self, group: &str) -> Result<Vec<String>, SchedulesError> {
        self.real.names(group).await
    }
    async fn get(&self, group: &str, name: &str) -> Result<Option<Schedule>, SchedulesError> {
        self.real.get(group, name).await
    }
    async fn create(&self, schedule: &Schedule) -> Result<(), SchedulesError> {
        if self
            .creates
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            return Err(SchedulesError {
                operation: "CreateSchedule",
                resource: schedule.name.clone(),
                code: Some("ServiceQuotaExceededException".into()),
                message: "injected".into(),
            });
        }
        self.real.create(schedule).await
    }
    async fn update(&self, schedule: &Schedule) -> Result<(), SchedulesError> {
        self.real.update(schedule).await
    }
    async fn delete(&self, group: &str, name: &str) -> Result<bool, SchedulesError> {
        self.real.delete(group, name).await
    }
}

#[tokio::test]
async fn a_start_that_fails_part_way_deletes_what_it_wrote_and_leaves_the_listener_as_found() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let site = site(moto, "gradual-undo").await;
    let group = schedule_group(moto, &site.environment).await;
    let on = ops::switch(
        &client,
        &ssm(moto).await,
        &switch_request(&site, Direction::On),
        &mut Unattended,
    )
    .await
    .expect("on");
    assert_eq!(on.outcome.name(), "applied", "{}", on.message);
    let before = rule_set(&client, &site.listener).await;
    let failing = SecondCreateFails {
        real: scheduler(moto).await,
        creates: Default::default(),
    };
    let started = gradual::start(
        &client,
        &ssm(moto).await,
        &failing,
        &gradual_request(&site, &[10, 25, 50], None),
    )
    .await;
    assert_eq!(started.outcome.name(), "rolled-back", "{started}");
    assert!(
        started.message.contains("deleted again"),
        "{}",
        started.message
    );
    assert_eq!(
        rule_set(&client, &site.listener).await,
        before,
        "the listener as found"
    );
    assert_eq!(state(moto, &site).await, None);
    assert!(schedule_names(moto, &group.name).await.is_empty());
    let mut crowd = visitors();
    let (through, _) = sample(moto, &site, &mut crowd).await;
    assert_eq!(through, 0, "maintenance is still on for everyone");
}
