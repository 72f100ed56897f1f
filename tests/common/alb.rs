//! An ALB in the emulator for the bypass-link tests (`tests/support/alb_fixture.py`: a VPC, an
//! ALB with an HTTP:80 and an HTTPS:443 listener whose certificate comes from ACM, an
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
    /// The domain name of the HTTPS listener's certificate.
    pub domain: String,
}

/// Builds an ALB with app rules at the given priorities on both listeners and a catch-all.
pub fn build(moto: &Moto, name: &str, app: &[u32], catch_all: u32) -> Alb {
    let join = app.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let out = Command::new(super::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/alb_fixture.py"
        ))
        .args([
            "--name",
            &super::unique(name),
            "--http",
            &join,
            "--https",
            &join,
        ])
        .args(["--catch-all", &catch_all.to_string()])
        .envs(moto.env())
        .output()
        .expect("failed to run tests/support/alb_fixture.py");
    assert!(
        out.status.success(),
        "alb_fixture.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("fixture prints JSON");
    let s = |v: &Value| v.as_str().expect("string").to_string();
    let certificate = s(&v["certificate"]);
    Alb {
        load_balancer: s(&v["load_balancer"]),
        app_target_group: s(&v["app_target_group"]),
        lambda_target_group: s(&v["lambda_target_group"]),
        http: s(&v["listeners"]["http"]),
        https: s(&v["listeners"]["https"]),
        domain: certificate_domain(moto, &certificate),
    }
}

/// The certificate's domain name, as the fixture requested it (`NAME.example.com`).
fn certificate_domain(moto: &Moto, certificate: &str) -> String {
    let script = "import boto3, os, sys\n\
        acm = boto3.client('acm', endpoint_url=os.environ['AWS_ENDPOINT_URL'])\n\
        print(acm.describe_certificate(CertificateArn=sys.argv[1])['Certificate']['DomainName'])\n";
    let out = Command::new(super::python())
        .args(["-c", script, certificate])
        .envs(moto.env())
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Runs the real `maintctl` against the emulator (stdin not a terminal), with `extra`
/// environment variables. The emulator cannot run the responder (its Lambda Invoke needs
/// Docker, and these target groups have no function registered), so the preflight of `on`
/// fails here: every `on` is forced (`--force`); the preflight itself is tested in
/// tests/doctor.rs.
pub fn maintctl(moto: &Moto, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let force: &[&str] = if args.first() == Some(&"on") {
        &["--force"]
    } else {
        &[]
    };
    Command::new(env!("CARGO_BIN_EXE_maintctl"))
        .args(args)
        .args(force)
        .envs(moto.env())
        .envs(extra.iter().copied())
        .env_remove("MAINTENANCE_SSM_PREFIX")
        .stdin(Stdio::null())
        .output()
        .expect("failed to run maintctl")
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
