//! The arm64 (Graviton) Lambda package, run here: the `bootstrap` that `scripts/package` writes to
//! `dist/arm64/` runs under Debian's qemu-user-static (`qemu-aarch64-static`, with the arm64
//! glibc and libgcc of `libc6-arm64-cross` / `libgcc-s1-arm64-cross` as its sysroot) against the
//! loopback Runtime API, on every request fixture of `tests/fixtures/alb/`. Each response must
//! pass the ALB contract check and carry the expected status, and each request must log its JSON
//! line. The arm64 switch function (`dist/maintenance-switch/arm64/bootstrap`, issue #15) runs
//! the same way against a moto ALB: an alarm's ALARM switches it on and its OK off. This is
//! about correctness only: the speed of an emulated binary means nothing.
//!
//! The test packages the arm64 function itself first (`PACKAGE_ARCHES=arm64 scripts/package`: a
//! release build the first time, a few seconds when it is fresh — `scripts/test` packages before
//! the tests run), so it always runs the binary of this checkout. A missing tool (qemu, the
//! arm64 sysroot, the Rust target, cargo-lambda) fails it: nothing is skipped.

use crate::automation;
use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::runtime_api::{Answer, RuntimeApi};
use maintenance_responder::lambda::alb_event::HeaderMode;
use maintenance_responder::lambda::alb_response::check_contract;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// ELF `e_machine` of AArch64.
const EM_AARCH64: u16 = 183;

/// Builds (or finds fresh) `dist/arm64/bootstrap` and the switch function's
/// `dist/maintenance-switch/arm64/bootstrap`, checks that both are AArch64 executables, and
/// returns the responder's.
fn package_arm64() -> PathBuf {
    let started = Instant::now();
    let output = std::process::Command::new(root().join("scripts/package"))
        .env("PACKAGE_ARCHES", "arm64")
        .current_dir(root())
        .output()
        .expect("run scripts/package");
    let log = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "PACKAGE_ARCHES=arm64 scripts/package failed (run scripts/setup-tools for the Rust \
         target and cargo-lambda): {log}"
    );
    println!(
        "PACKAGE_ARCHES=arm64 scripts/package: {:?}\n{}",
        started.elapsed(),
        String::from_utf8_lossy(&output.stdout)
    );
    for binary in [switch_arm64(), root().join("dist/arm64/bootstrap")] {
        let head = std::fs::read(&binary).unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        assert_eq!(&head[..4], b"\x7fELF", "{} is not ELF", binary.display());
        assert_eq!(
            u16::from_le_bytes([head[18], head[19]]),
            EM_AARCH64,
            "{} is not an AArch64 binary",
            binary.display()
        );
    }
    root().join("dist/arm64/bootstrap")
}

fn switch_arm64() -> PathBuf {
    root().join("dist/maintenance-switch/arm64/bootstrap")
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `QEMU_AARCH64`, else `qemu-aarch64-static` on `PATH` (Debian's qemu-user-static).
fn qemu() -> PathBuf {
    if let Some(path) = std::env::var_os("QEMU_AARCH64") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("qemu-aarch64-static"))
        .find(|p| is_executable(p))
        .expect(
            "qemu-aarch64-static not found: run scripts/setup-tools (apt-get install \
             qemu-user-static) or set QEMU_AARCH64; this test does not skip",
        )
}

/// The arm64 glibc the binary loads under qemu: `QEMU_LD_PREFIX`, else Debian's cross sysroot.
fn sysroot() -> PathBuf {
    let sysroot = std::env::var_os("QEMU_LD_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/aarch64-linux-gnu"));
    for file in [
        "lib/ld-linux-aarch64.so.1",
        "lib/libc.so.6",
        "lib/libgcc_s.so.1",
    ] {
        assert!(
            sysroot.join(file).exists(),
            "{} is missing: run scripts/setup-tools (apt-get install libc6-arm64-cross \
             libgcc-s1-arm64-cross) or set QEMU_LD_PREFIX; this test does not skip",
            sysroot.join(file).display()
        );
    }
    sysroot
}

fn response(answer: Answer) -> Value {
    match answer {
        Answer::Response(body) => {
            let json: Value = serde_json::from_str(&body).unwrap();
            let multi = json["multiValueHeaders"].as_object();
            let single = json["headers"].as_object();
            let mode =
                if multi.is_some_and(|m| !m.is_empty()) && single.is_some_and(|m| m.is_empty()) {
                    HeaderMode::Multi
                } else if multi.is_some_and(|m| m.is_empty()) {
                    HeaderMode::Single
                } else {
                    HeaderMode::Unknown
                };
            check_contract(&body, mode).unwrap_or_else(|e| panic!("{e}: {body}"));
            json
        }
        Answer::Error(body) => panic!("invocation error (the ALB would answer 502): {body}"),
    }
}

#[tokio::test]
async fn the_arm64_package_answers_every_fixture_under_qemu() {
    let binary = package_arm64();
    let (qemu, sysroot) = (qemu(), sysroot());
    let api = RuntimeApi::start().await;
    let started = Instant::now();
    let mut child = Command::new(&qemu)
        .arg("-L")
        .arg(&sysroot)
        .arg(&binary)
        .env_clear()
        .envs(api.env())
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {} under {}: {e}", binary.display(), qemu.display()));
    let mut logs = BufReader::new(child.stdout.take().unwrap()).lines();

    let fixtures = common::request_fixtures();
    for (name, raw) in &fixtures {
        let answer = tokio::time::timeout(Duration::from_secs(60), api.invoke(raw))
            .await
            .unwrap_or_else(|_| panic!("{name}: no answer within 60 s under qemu"));
        let json = response(answer);
        let expected = if raw.contains(maintenance_core::deploy_names::HEALTH_CHECK_USER_AGENT) {
            200
        } else {
            503
        };
        assert_eq!(json["statusCode"], expected, "{name}");
    }
    // An event no ALB sends still gets a page.
    assert_eq!(response(api.invoke("{}").await)["statusCode"], 503);
    assert!(api.init_error().is_none(), "{:?}", api.init_error());

    let mut served = 0;
    while served < fixtures.len() + 1 {
        let line = tokio::time::timeout(Duration::from_secs(10), logs.next_line())
            .await
            .expect("a request log line")
            .unwrap()
            .expect("stdout open");
        let entry: Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if entry["fields"]["message"] == "served" {
            served += 1;
        }
    }
    println!(
        "arm64 bootstrap under {}: {} fixtures and one odd event answered in {:?} (emulated: \
         correctness only)",
        qemu.display(),
        fixtures.len(),
        started.elapsed()
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_arm64_switch_function_switches_a_moto_alb_under_qemu() {
    package_arm64();
    let (qemu, sysroot) = (qemu(), sysroot());
    let moto = common::Moto::shared();
    let alb = automation::attached_alb(moto, "arm64", &[1, 2]).await;
    let args = [
        "-L".into(),
        sysroot.into_os_string(),
        switch_arm64().into_os_string(),
    ];
    let started = Instant::now();
    let f = automation::SwitchFn::start_program(moto, &alb.environment, 1, &[], &qemu, &args).await;
    automation::alarm_switches_on_then_off(moto, &f, &alb).await;
    println!(
        "arm64 maintenance-switch under {}: ALARM on and OK off in {:?} (emulated: correctness \
         only)",
        qemu.display(),
        started.elapsed()
    );
}
