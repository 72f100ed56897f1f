//! Helpers of the tests of issue #15 (the lease, the switch function, scheduled windows): an
//! ALB in moto attached with a content prefix and an environment, the real binaries
//! (`maintctl`, `maintenance-switch`) run against it, and reading the listeners back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use maintenance_engine::listeners::{Aws, Listeners};
use maintenance_engine::ops::{self, AttachRequest};
use maintenance_engine::planner::{AttachSpec, FallbackSpec, Role, State};
use serde_json::Value;

pub use crate::common::listeners::{consistent_state, priorities, snapshot};
use crate::common::{self, Moto};

/// One ALB built by `tests/support/alb_fixture.py`, attached with a content prefix.
#[derive(Debug, Clone)]
pub struct Alb {
    pub load_balancer: String,
    pub app_target_group: String,
    pub lambda_target_group: String,
    pub http: String,
    pub https: String,
    /// The environment its maintenance rules are tagged with.
    pub environment: String,
    /// The content prefix its maintenance rules name.
    pub prefix: String,
}

impl Alb {
    /// Both listeners.
    pub fn listeners(&self) -> [&str; 2] {
        [&self.http, &self.https]
    }
}

/// Builds an ALB (HTTP and HTTPS listeners, app rules at the given priorities on both and a
/// catch-all at 40000) and attaches maintenance to both listeners through the library, with a
/// fresh environment (letters, digits and `-` only: it names a schedule group) and prefix.
pub async fn attached_alb(moto: &Moto, name: &str, app: &[u32]) -> Alb {
    attached_alb_with(moto, name, app, false).await
}

/// [`attached_alb`], with the cookie bypass rule (`attach --bypass-link`) when `bypass_link`.
pub async fn attached_alb_with(moto: &Moto, name: &str, app: &[u32], bypass_link: bool) -> Alb {
    attach_alb(moto, name, app, bypass_link, None).await
}

/// [`attached_alb`], with the fallback rule (the page of the built-in texts, parked 49995) as
/// `maintctl attach` creates it.
pub async fn attached_alb_with_fallback(moto: &Moto, name: &str, app: &[u32]) -> Alb {
    let fallback = FallbackSpec {
        priority: None,
        body: ops::fallback::default_page(&maintenance_core::site::Site::embedded()),
    };
    attach_alb(moto, name, app, false, Some(fallback)).await
}

/// [`attached_alb`], with the cookie bypass rule and the fallback rule both.
pub async fn attached_alb_with_both(moto: &Moto, name: &str, app: &[u32]) -> Alb {
    let fallback = FallbackSpec {
        priority: None,
        body: ops::fallback::default_page(&maintenance_core::site::Site::embedded()),
    };
    attach_alb(moto, name, app, true, Some(fallback)).await
}

async fn attach_alb(
    moto: &Moto,
    name: &str,
    app: &[u32],
    bypass_link: bool,
    fallback: Option<FallbackSpec>,
) -> Alb {
    let join = app.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let out = Command::new(common::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/alb_fixture.py"
        ))
        .args([
            "--name",
            &common::unique(name),
            "--http",
            &join,
            "--https",
            &join,
        ])
        .args(["--catch-all", "40000"])
        .envs(moto.env())
        .output()
        .expect("run tests/support/alb_fixture.py");
    assert!(
        out.status.success(),
        "alb_fixture.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("fixture prints JSON");
    let s = |v: &Value| v.as_str().expect("string").to_string();
    let environment = common::unique(name);
    let alb = Alb {
        load_balancer: s(&v["load_balancer"]),
        app_target_group: s(&v["app_target_group"]),
        lambda_target_group: s(&v["lambda_target_group"]),
        http: s(&v["listeners"]["http"]),
        https: s(&v["listeners"]["https"]),
        prefix: format!("/maintenance/{environment}"),
        environment,
    };
    let spec = AttachSpec {
        target_group: alb.lambda_target_group.clone(),
        parked: 50_000,
        environment: Some(alb.environment.clone()),
        content_prefix: Some(alb.prefix.clone()),
        bypass_cidrs: vec!["198.51.100.0/24".parse().unwrap()],
        bypass_header: None,
        app_target_group: Some(alb.app_target_group.clone()),
        allow_fallthrough: false,
        allow_bypass_everyone: false,
        bypass_link,
        fallback,
    };
    let request = AttachRequest::new(vec![alb.http.clone(), alb.https.clone()], spec, false)
        .expect("valid options");
    let report = ops::attach(&aws(moto).await, &request)
        .await
        .expect("attached");
    assert!(report.error.is_none(), "{report:#?}");
    alb
}

pub async fn aws(moto: &Moto) -> Aws {
    Aws::new(&moto.sdk_config().await)
}

pub async fn ssm(moto: &Moto) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&moto.sdk_config().await)
}

/// Both listeners' priorities.
pub async fn all_priorities(client: &impl Listeners, alb: &Alb) -> [BTreeMap<String, u32>; 2] {
    [
        priorities(client, &alb.http).await,
        priorities(client, &alb.https).await,
    ]
}

/// App rules' ARNs in priority order.
pub async fn app_order(client: &impl Listeners, listener: &str) -> Vec<String> {
    snapshot(client, listener)
        .await
        .rules
        .iter()
        .filter(|r| !r.is_default() && r.role() == Role::App)
        .map(|r| r.arn.clone())
        .collect()
}

/// The maintenance rule's tags.
pub async fn maintenance_tags(client: &impl Listeners, listener: &str) -> BTreeMap<String, String> {
    snapshot(client, listener)
        .await
        .maintenance_rule()
        .expect("attached")
        .tags
        .clone()
}

/// The real `maintctl` against moto, and what it printed: the helpers every test binary
/// shares (tests/common/alb.rs); `on` is forced past its preflight, which the emulator cannot
/// pass (tested in tests/switching/doctor.rs). (tests/packages includes this file and uses
/// only some of them.)
#[allow(unused_imports)]
pub use crate::common::alb::{code, json, maintctl, text};

/// The value of one SSM parameter, if it exists.
pub async fn parameter(ssm: &aws_sdk_ssm::Client, name: &str) -> Option<String> {
    match ssm.get_parameter().name(name).send().await {
        Ok(out) => out.parameter.and_then(|p| p.value),
        Err(e) => {
            let text = format!("{e:?}");
            assert!(text.contains("ParameterNotFound"), "{text}");
            None
        }
    }
}

/// The real `maintenance-switch` binary: `processes` copies polling one loopback Runtime API
/// (several sandboxes of the function, as Lambda runs them when events arrive together), with
/// moto's endpoint and the function's settings.
pub struct SwitchFn {
    pub api: common::runtime_api::RuntimeApi,
    children: Vec<tokio::process::Child>,
}

/// What the function answered for one event.
#[derive(Debug)]
pub struct Answered {
    /// The report (the response, or the report an invocation error carries).
    pub report: Value,
    /// It came as an invocation error (Lambda would retry it).
    pub error: bool,
    /// The raw answer.
    pub raw: String,
}

impl SwitchFn {
    /// `processes` instances of the binary this checkout builds, switching `environment`.
    pub async fn start(
        moto: &Moto,
        environment: &str,
        processes: usize,
        extra: &[(&str, String)],
    ) -> Self {
        let binary = &common::workspace_bin("maintenance-switch");
        Self::start_program(moto, environment, processes, extra, binary, &[]).await
    }

    /// Like [`SwitchFn::start`], with another program (a packaged `bootstrap`, or qemu running
    /// one: `program args…`).
    pub async fn start_program(
        moto: &Moto,
        environment: &str,
        processes: usize,
        extra: &[(&str, String)],
        program: &std::path::Path,
        args: &[std::ffi::OsString],
    ) -> Self {
        let api = common::runtime_api::RuntimeApi::start().await;
        let mut children = Vec::new();
        for _ in 0..processes {
            children.push(
                tokio::process::Command::new(program)
                    .args(args)
                    .env_clear()
                    .envs(api.env())
                    .envs(moto.env())
                    .env("MAINTENANCE_SWITCH_ENVIRONMENT", environment)
                    .env("AWS_LAMBDA_LOG_LEVEL", "info")
                    .envs(extra.iter().cloned())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .unwrap_or_else(|e| panic!("start {}: {e}", program.display())),
            );
        }
        Self { api, children }
    }

    /// Delivers one payload and waits for the answer.
    pub async fn invoke(&self, payload: &str) -> Answered {
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            self.api.invoke(payload),
        )
        .await
        .expect("the function answered within 120 s");
        match answer {
            common::runtime_api::Answer::Response(raw) => Answered {
                report: serde_json::from_str(&raw)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {raw}")),
                error: false,
                raw,
            },
            common::runtime_api::Answer::Error(raw) => {
                let body: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
                let report = body["errorMessage"]
                    .as_str()
                    .and_then(|m| serde_json::from_str(m).ok())
                    .unwrap_or(Value::Null);
                Answered {
                    report,
                    error: true,
                    raw,
                }
            }
        }
    }

    /// Kills every process at once (SIGKILL): a sandbox that dies mid-way, as Lambda's does at
    /// a timeout or a crash.
    pub async fn kill_all(&mut self) {
        for c in &mut self.children {
            let _ = c.kill().await;
        }
    }

    /// Whether every process is still running (none panicked or exited).
    pub fn all_alive(&mut self) -> bool {
        self.children
            .iter_mut()
            .all(|c| matches!(c.try_wait(), Ok(None)))
    }
}

/// Moves alarm `name` in moto's CloudWatch to `state` and returns the events AWS would send
/// for it: the Lambda alarm action payload and the EventBridge event.
pub fn alarm_events(moto: &Moto, name: &str, state: &str) -> (String, String) {
    let out = Command::new(common::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/alarm_event.py"
        ))
        .args(["--name", name, "--state", state])
        .envs(moto.env())
        .output()
        .expect("run tests/support/alarm_event.py");
    assert!(
        out.status.success(),
        "alarm_event.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("alarm_event.py prints JSON");
    (v["alarm_action"].to_string(), v["eventbridge"].to_string())
}

/// Where an environment's windows send their switches, as the templates tag the group.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub function: String,
    pub role: String,
    pub dead_letter: String,
}

/// Creates the environment's schedule group in moto, tagged as the templates tag it.
pub async fn schedule_group(moto: &Moto, environment: &str) -> Group {
    use maintenance_core::deploy_names::switch as names;
    let client = aws_sdk_scheduler::Client::new(&moto.sdk_config().await);
    let group = Group {
        name: names::schedule_group(environment).unwrap(),
        function: format!(
            "arn:aws:lambda:us-east-1:123456789012:function:maintenance-switch-{environment}"
        ),
        role: format!("arn:aws:iam::123456789012:role/maintenance-scheduler-{environment}"),
        dead_letter: format!(
            "arn:aws:sqs:us-east-1:123456789012:maintenance-switch-dlq-{environment}"
        ),
    };
    let tag = |k: &str, v: &str| {
        aws_sdk_scheduler::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    client
        .create_schedule_group()
        .name(&group.name)
        .tags(tag(names::GROUP_TAG_FUNCTION, &group.function))
        .tags(tag(names::GROUP_TAG_ROLE, &group.role))
        .tags(tag(names::GROUP_TAG_DEAD_LETTER, &group.dead_letter))
        .tags(tag(names::GROUP_TAG_ENVIRONMENT, environment))
        .send()
        .await
        .expect("create schedule group");
    group
}

/// The names of a group's schedules in moto.
pub async fn schedule_names(moto: &Moto, group: &str) -> Vec<String> {
    let client = aws_sdk_scheduler::Client::new(&moto.sdk_config().await);
    let out = client
        .list_schedules()
        .group_name(group)
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = out
        .schedules()
        .iter()
        .filter_map(|s| s.name().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// One schedule as moto holds it, raw.
pub async fn get_schedule(
    moto: &Moto,
    group: &str,
    name: &str,
) -> aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput {
    aws_sdk_scheduler::Client::new(&moto.sdk_config().await)
        .get_schedule()
        .group_name(group)
        .name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get schedule {group}/{name}: {e:?}"))
}

/// One alarm's ALARM then OK through `f` (the alarm action shape): maintenance on every
/// listener of `alb` with the alarm's reason and tag, then off with the priorities as they
/// were. For the packaged binaries (tests/packages/package.rs, tests/packages/arm64.rs).
pub async fn alarm_switches_on_then_off(moto: &Moto, f: &SwitchFn, alb: &Alb) {
    let client = aws(moto).await;
    let original = all_priorities(&client, alb).await;
    let alarm = common::unique("packaged-down");
    let on = f.invoke(&alarm_events(moto, &alarm, "ALARM").0).await;
    assert!(!on.error, "{}", on.raw);
    assert_eq!(
        (on.report["outcome"].as_str(), on.report["command"].as_str()),
        (Some("applied"), Some("on")),
        "{:#}",
        on.report
    );
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::On);
    }
    let t = maintenance_tags(&client, &alb.http).await;
    assert_eq!(
        t[maintenance_core::deploy_names::tags::REASON],
        format!("automatic: {alarm}")
    );
    let off = f.invoke(&alarm_events(moto, &alarm, "OK").0).await;
    assert!(!off.error, "{}", off.raw);
    assert_eq!(
        (
            off.report["outcome"].as_str(),
            off.report["command"].as_str()
        ),
        (Some("applied"), Some("off")),
        "{:#}",
        off.report
    );
    for l in alb.listeners() {
        assert_eq!(consistent_state(&client, l).await, State::Off);
    }
    assert_eq!(all_priorities(&client, alb).await, original);
}

/// Who owns the maintenance of `alb`'s environment, as `maintctl status --output json` lists
/// them: `kind name` each, in the order they came.
pub fn owners(moto: &Moto, alb: &Alb) -> Vec<String> {
    let out = maintctl(
        moto,
        &[
            "status",
            "--environment",
            &alb.environment,
            "--output",
            "json",
        ],
    );
    let doc = json(&out);
    doc["owners"][&alb.environment]
        .as_array()
        .map(|owners| {
            owners
                .iter()
                .map(|o| {
                    format!(
                        "{} {}",
                        o["kind"].as_str().unwrap(),
                        o["name"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Both listeners' maintenance state, each checked as [`consistent_state`] does.
pub async fn states(client: &impl Listeners, alb: &Alb) -> [State; 2] {
    [
        consistent_state(client, &alb.http).await,
        consistent_state(client, &alb.https).await,
    ]
}
