//! An ALB in the emulator for the tests that switch listeners (`tests/support/alb_fixture.py`:
//! a VPC, an ALB with an HTTP:80 and an HTTPS:443 listener whose certificate comes from ACM, an
//! application and a Lambda target group, app rules), the real `maintctl` run against it, and
//! the ALB's own matching of an `http-header` condition.
#![allow(dead_code)]

use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::Moto;

/// One ALB built by the fixture script.
#[derive(Debug, Clone)]
pub struct Alb {
    /// Load balancer ARN.
    pub load_balancer: String,
    /// The application's target group (type instance).
    pub app_target_group: String,
    /// The responder's target group (type lambda).
    pub lambda_target_group: String,
    /// The HTTP:80 listener.
    pub http: String,
    /// The HTTPS:443 listener.
    pub https: String,
    /// The domain name of the HTTPS listener's certificate, as ACM describes it.
    pub domain: String,
}

/// Builds an ALB with app rules at the given priorities on both listeners and a catch-all.
pub fn build(moto: &Moto, name: &str, app: &[u32], catch_all: u32) -> Alb {
    build_with(moto, name, app, app, Some(catch_all))
}

/// Builds an ALB with app rules at `http` and `https` priorities on each listener and, if
/// given, a catch-all app rule (path `/*`) on both.
pub fn build_with(
    moto: &Moto,
    name: &str,
    http: &[u32],
    https: &[u32],
    catch_all: Option<u32>,
) -> Alb {
    let join = |p: &[u32]| p.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let mut cmd = Command::new(super::python());
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/alb_fixture.py"
    ))
    .args([
        "--name",
        &super::unique(name),
        "--http",
        &join(http),
        "--https",
        &join(https),
    ])
    .envs(moto.env());
    if let Some(p) = catch_all {
        cmd.args(["--catch-all", &p.to_string()]);
    }
    let out = cmd
        .output()
        .expect("failed to run tests/support/alb_fixture.py");
    assert!(
        out.status.success(),
        "alb_fixture.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("fixture prints JSON");
    let s = |v: &Value| v.as_str().expect("string").to_string();
    Alb {
        load_balancer: s(&v["load_balancer"]),
        app_target_group: s(&v["app_target_group"]),
        lambda_target_group: s(&v["lambda_target_group"]),
        http: s(&v["listeners"]["http"]),
        https: s(&v["listeners"]["https"]),
        domain: s(&v["certificate_domain"]),
    }
}

/// The arguments of `maintctl attach` on both listeners of `alb`, in environment `env`, with
/// the application's target group, then `options` (a prefix, bypass rules, …).
pub fn attach_args<'a>(alb: &'a Alb, env: &'a str, options: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "attach",
        "--listener",
        &alb.http,
        "--listener",
        &alb.https,
        "--target-group",
        &alb.lambda_target_group,
        "--environment",
        env,
        "--app-target-group",
        &alb.app_target_group,
    ];
    args.extend_from_slice(options);
    args
}

/// What `maintctl on` does about its preflight (invoking the responder) in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preflight {
    /// `on` is forced past it (`--force`), unless it is `on --fallback`, which has none: the
    /// emulator cannot run the responder (its Lambda Invoke needs Docker, and these target
    /// groups have no function registered), so the preflight fails here.
    Forced,
    /// The arguments as given: the preflight runs and may refuse (tests/switching/doctor.rs).
    Run,
}

/// The real `maintctl` against the emulator, stdin not a terminal, `MAINTENANCE_SSM_PREFIX`,
/// `MAINTCTL_ENVIRONMENT` and the user's maintctl configuration not inherited; `on` forced past its preflight or not, as `preflight` says.
pub fn command(moto: &Moto, args: &[&str], preflight: Preflight) -> Command {
    let forced = preflight == Preflight::Forced
        && args.first() == Some(&"on")
        && !args.contains(&"--fallback")
        && !args.contains(&"--force");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maintctl"));
    cmd.args(args)
        .args(if forced { &["--force"][..] } else { &[] })
        .envs(moto.env())
        .env_remove("MAINTENANCE_SSM_PREFIX")
        // No environment from the caller's shell or maintctl.toml in their config directory.
        .env_remove("MAINTCTL_ENVIRONMENT")
        .env("XDG_CONFIG_HOME", "/nonexistent/maintctl-tests")
        .stdin(Stdio::null());
    cmd
}

/// Runs a [`command`] to its end.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("failed to run maintctl")
}

/// Runs the real `maintctl` against the emulator, every `on` that has a preflight forced past
/// it ([`Preflight::Forced`]; the preflight itself is tested in tests/switching/doctor.rs).
pub fn maintctl(moto: &Moto, args: &[&str]) -> Output {
    run(&mut command(moto, args, Preflight::Forced))
}

/// [`maintctl`] against the shared emulator on a blocking thread, for a test whose own runtime
/// serves what `maintctl` talks to (a loopback server it verifies, a page under load).
pub async fn maintctl_blocking(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        maintctl(Moto::shared(), &args)
    })
    .await
    .expect("the maintctl thread")
}

/// Runs the real `maintctl` against the emulator with the arguments as given: `on` runs its
/// preflight ([`Preflight::Run`]).
pub fn maintctl_with_preflight(moto: &Moto, args: &[&str]) -> Output {
    run(&mut command(moto, args, Preflight::Run))
}

/// Exit code, stdout, stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The exit code.
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("maintctl exited normally")
}

/// Stdout as a JSON document (`--output json`).
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

/// Whether an ALB `http-header` condition value matches a header value: the whole value,
/// without case, `*` any run of characters, `?` one character.
pub fn alb_matches(pattern: &str, value: &str) -> bool {
    fn go(p: &[u8], v: &[u8]) -> bool {
        match (p.first(), v.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], v) || (!v.is_empty() && go(p, &v[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &v[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &v[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), value.as_bytes())
}
