//! The switch function's cold start for `benches/compare.rs` (issue #15): process start → its
//! first report, through the same loopback Runtime API, against the same moto. The event is a
//! CloudWatch alarm action entering ALARM, so the first report is a whole switch on: two
//! listeners read (DescribeListeners, DescribeRules, DescribeTags, DescribeTargetGroups), the
//! caller, the lease taken and released (SSM), the plan made twice (before and under the
//! lease), the record, the SetRulePriorities calls and the read-back. Between runs `maintctl
//! off` switches it back (not timed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::moto;
use crate::runtime_api::{Answer, RuntimeApi};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What was measured.
pub struct SwitchCold {
    /// The binary measured.
    pub binary: PathBuf,
    /// Spawn → first report, sorted.
    pub cold: Vec<Duration>,
}

/// `BENCH_SWITCH`, else the packaged `dist/maintenance-switch/bootstrap`, else a release build.
fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BENCH_SWITCH") {
        return Some(PathBuf::from(p));
    }
    [
        Path::new(ROOT).join("dist/maintenance-switch/bootstrap"),
        Path::new(ROOT).join("target/release/maintenance-switch"),
    ]
    .into_iter()
    .find(|p| p.exists())
}

fn maintctl(env: &[(String, String)], args: &[&str]) -> Result<(), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_maintctl"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("maintctl: {e}"))?;
    match out.status.code() {
        Some(0 | 3) => Ok(()),
        code => Err(format!(
            "maintctl {args:?} exited {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// An ALB in moto (HTTP and HTTPS, app rules from priority 1 so that on moves them), attached
/// to environment `bench-switch` with a content prefix.
fn attached(env: &[(String, String)]) -> Result<(), String> {
    let out = Command::new(moto::python()?)
        .arg(Path::new(ROOT).join("tests/support/alb_fixture.py"))
        .args([
            "--name",
            "bench-switch",
            "--http",
            "1,2",
            "--https",
            "10",
            "--catch-all",
            "40000",
        ])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|e| format!("alb_fixture.py: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "alb_fixture.py: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    maintctl(
        env,
        &[
            "attach",
            "--listener",
            &s(&v["listeners"]["http"]),
            "--listener",
            &s(&v["listeners"]["https"]),
            "--target-group",
            &s(&v["lambda_target_group"]),
            "--app-target-group",
            &s(&v["app_target_group"]),
            "--environment",
            "bench-switch",
            "--prefix",
            "/maintenance/bench-switch",
        ],
    )
}

const ALARM: &str = r#"{"source":"aws.cloudwatch","alarmArn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:bench-app-down","accountId":"123456789012","time":"TIME","region":"us-east-1","alarmData":{"alarmName":"bench-app-down","state":{"value":"ALARM","reason":"Threshold Crossed","timestamp":"TIME"},"previousState":{"value":"OK","reason":"ok"}}}"#;

/// The alarm event of a state change now: an event not newer than the last one handled is
/// stale, and every run is a new state change.
fn alarm_now() -> String {
    let now = jiff::Timestamp::now().to_string();
    ALARM.replace("TIME", &now)
}

/// One cold start: the event queued, the process spawned, its first report awaited.
async fn once(binary: &Path, env: &[(String, String)]) -> Result<Duration, String> {
    let api = RuntimeApi::start().await;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(api.env())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("MAINTENANCE_SWITCH_ENVIRONMENT", "bench-switch")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let answer = tokio::time::timeout(Duration::from_secs(60), api.invoke(&alarm_now())).await;
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let body = match answer {
        Ok(Answer::Response(body)) => body,
        Ok(Answer::Error(body)) => {
            return Err(format!("switch function: invocation error: {body}"));
        }
        Err(_) => return Err("switch function: no report within 60 s".into()),
    };
    let report: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    if report["outcome"] != "applied" || report["command"] != "on" {
        return Err(format!("switch function: not switched on: {body}"));
    }
    maintctl(env, &["off", "--environment", "bench-switch", "--yes"])?;
    Ok(elapsed)
}

/// Measures `n` cold starts (after one unmeasured), or `None` when the binary is not built.
pub async fn measure(moto_endpoint: &str, n: usize) -> Result<Option<SwitchCold>, String> {
    let Some(binary) = binary() else {
        return Ok(None);
    };
    let env = moto::aws_env(moto_endpoint);
    attached(&env)?;
    once(&binary, &env).await?;
    let mut cold = Vec::with_capacity(n);
    for _ in 0..n {
        cold.push(once(&binary, &env).await?);
    }
    cold.sort();
    Ok(Some(SwitchCold { binary, cold }))
}
