//! `scripts/aws-acceptance`, the run a user makes in a sandbox account, run here against moto
//! (`--emulator`): its whole control flow, with the real `maintctl` and `maintenance-switch`
//! binaries and the Terraform sandbox with every option on. What moto can do runs for real;
//! the table marks EMULATED what it cannot: doctor's invoke of the responder, the data plane
//! (the HTTP checks evaluate the listener rules instead), and the schedules and alarm actions
//! that never fire (their inputs are delivered to the real switch binary). It refuses to start
//! in another account than the one named, and its `--help` tells the cost and the safety.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::Moto;
use crate::common::terraform::{cli_config, describe};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/aws-acceptance")
}

fn stub_zip(path: &Path) {
    let out = Command::new(crate::common::python())
        .args([
            "-c",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    z.writestr('bootstrap', '#!/bin/sh\\n')",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
}

fn acceptance(moto: &Moto, account: &str, name: &str, dir: &Path) -> Output {
    let (package, switch_package) = (dir.join("responder.zip"), dir.join("switch.zip"));
    stub_zip(&package);
    stub_zip(&switch_package);
    Command::new(crate::common::python())
        .arg(script())
        .args([
            "--account-id",
            account,
            "--name",
            name,
            "--emulator",
            &moto.endpoint,
        ])
        .arg("--maintctl")
        .arg(env!("CARGO_BIN_EXE_maintctl"))
        .arg("--switch-binary")
        .arg(crate::common::workspace_bin("maintenance-switch"))
        .arg("--package")
        .arg(&package)
        .arg("--switch-package")
        .arg(&switch_package)
        .arg("--terraformrc")
        .arg(cli_config())
        .env("TF_CLI_CONFIG_FILE", cli_config())
        .output()
        .unwrap()
}

/// The table's rows: (step, result).
fn table(out: &Output) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text.rfind("\nstep ").expect("the table");
    text[at + 1..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let result = ["PASS", "FAIL", "EMULATED"]
                .into_iter()
                .find(|r| l.contains(&format!("  {r}  ")))
                .unwrap_or_else(|| panic!("no result in {l:?}"));
            let step = l[..l.find(&format!("  {result}  ")).unwrap()].trim();
            (step.to_string(), result.to_string())
        })
        .collect()
}

#[test]
fn the_acceptance_run_passes_against_the_emulator_and_says_what_it_emulated() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let name = format!("acc{}", std::process::id() % 100_000);
    let out = acceptance(&moto, "123456789012", &name, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        table(&out),
        [
            ("account", "PASS"),
            ("deploy (terraform apply)", "PASS"),
            ("attach", "PASS"),
            ("doctor", "EMULATED"),
            ("on", "PASS"),
            ("page over HTTP and HTTPS", "EMULATED"),
            ("bypass link", "EMULATED"),
            ("fallback page", "EMULATED"),
            ("scheduled window", "EMULATED"),
            ("alarm switches", "EMULATED"),
            ("on, then off", "EMULATED"),
            ("destroy", "PASS"),
        ]
        .map(|(s, r)| (s.to_string(), r.to_string())),
        "{}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("5 passed, 0 failed (7 emulated"),
        "{stdout}"
    );
    assert!(stdout.contains("time: "), "{stdout}");
}

/// In an account other than the one named, it creates nothing and says so (exit 2).
#[test]
fn the_acceptance_run_refuses_another_account() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let out = acceptance(&moto, "000000000000", "accrefuse", dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("123456789012") && stderr.contains("nothing was created"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "{}",
        describe(&out)
    );
}

#[test]
fn the_acceptance_help_tells_the_cost_and_the_safety() {
    let out = Command::new(crate::common::python())
        .arg(script())
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--account-id",
        "SANDBOX",
        "Cost:",
        "USD",
        "Safety:",
        "Ctrl-C",
        "could not delete",
        "--emulator",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}: {help}");
    }
}
