//! What an operator installing a release meets (issue #22): the version `maintctl --version`
//! prints is the workspace's and has its CHANGELOG section, both licence files are there, the
//! shell completions and the manual page come out of the binary and are what their readers
//! accept (`bash -n`, `man -l`).

use std::process::{Command, Output, Stdio};

fn maintctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_maintctl"))
        .args(args)
        .output()
        .expect("run maintctl")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "maintctl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn repository_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `## [X.Y.Z] - YYYY-MM-DD` headings of a Keep a Changelog file, newest first.
fn changelog_versions(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .filter_map(|l| l.split_once(']'))
        .map(|(version, _)| version.to_string())
        .collect()
}

#[test]
fn the_version_is_the_workspaces_and_the_changelog_describes_it() {
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        stdout(&maintctl(&["--version"])).trim(),
        format!("maintctl {version}")
    );
    let changelog = repository_file("CHANGELOG.md");
    assert!(
        changelog.contains("Keep a Changelog"),
        "not in Keep a Changelog form"
    );
    let versions = changelog_versions(&changelog);
    let released: Vec<_> = versions.iter().filter(|v| *v != "Unreleased").collect();
    assert_eq!(
        released.first().map(|v| v.as_str()),
        Some(version),
        "the newest release in CHANGELOG.md is not the workspace's version: {versions:?}"
    );
    // The checker reads headings: a changelog without this release's heading fails it.
    assert!(
        changelog_versions("## [0.1.0] - 2026-01-01\n")
            .iter()
            .all(|v| v != version)
    );
}

#[test]
fn both_licences_cargo_names_are_in_the_repository() {
    let manifest = repository_file("Cargo.toml");
    assert!(manifest.contains(r#"license = "MIT OR Apache-2.0""#));
    assert!(repository_file("LICENSE-MIT").contains("Permission is hereby granted"));
    assert!(repository_file("LICENSE-APACHE").contains("Apache License"));
}

#[test]
fn the_bash_completion_parses_and_every_shell_gets_a_script_naming_the_subcommands() {
    let bash = stdout(&maintctl(&["completions", "bash"]));
    let mut check = Command::new("bash")
        .args(["-n", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    use std::io::Write as _;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(bash.as_bytes())
        .unwrap();
    let parsed = check.wait_with_output().unwrap();
    assert!(
        parsed.status.success(),
        "bash -n rejects the completion script: {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    // bash -n can fail: a script cut short is rejected.
    let cut = &bash[..bash.len() / 2];
    let rejected = Command::new("bash")
        .args(["-n", "-c", cut])
        .output()
        .unwrap();
    assert!(!rejected.status.success(), "bash -n accepted half a script");

    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = stdout(&maintctl(&["completions", shell]));
        for word in ["schedule", "dry-run", "load-balancer", "completions"] {
            assert!(script.contains(word), "the {shell} completion lacks {word}");
        }
    }
    let unknown = maintctl(&["completions", "tcsh"]);
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_manual_page_renders_with_man_and_each_subcommand_gets_one() {
    let page = stdout(&maintctl(&["man"]));
    assert!(
        page.starts_with(".ie") || page.contains(".TH maintctl 1"),
        "not roff: {page:.200}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("maintctl.1");
    std::fs::write(&file, &page).unwrap();
    let rendered = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man (man-db) is installed");
    let text = stdout(&rendered);
    for section in ["NAME", "SYNOPSIS", "SUBCOMMANDS", "VERSION"] {
        assert!(text.contains(section), "man -l shows no {section}:\n{text}");
    }
    assert!(
        text.contains("maintctl-on(1)") || text.contains("maintctl-on"),
        "{text}"
    );

    let pages = dir.path().join("pages");
    let out = maintctl(&["man", "--out-dir", pages.to_str().unwrap()]);
    stdout(&out);
    for name in [
        "maintctl.1",
        "maintctl-on.1",
        "maintctl-off.1",
        "maintctl-schedule-create.1",
    ] {
        assert!(
            pages.join(name).is_file(),
            "maintctl man --out-dir wrote no {name}"
        );
    }
}

/// Each flag renamed in 0.2.0 (CHANGELOG.md, "Changed"): the old spelling still parses where it
/// had one meaning in its command, and only the new one is shown.
#[test]
fn renamed_flags_keep_their_old_spelling_as_a_hidden_alias() {
    let renamed: [(&[&str], &str, &str); 4] = [
        (&["message", "set"], "--until", "--expected-back"),
        (
            &["message", "set"],
            "--no-fallback",
            "--no-fallback-refresh",
        ),
        (&["attach"], "--no-fallback", "--no-fallback-rule"),
        (&["serve"], "--from-ssm", "--prefix"),
    ];
    for (command, old, new) in renamed {
        let value: &[&str] = match old {
            "--until" | "--from-ssm" => &["X"],
            _ => &[],
        };
        // clap reads every flag before it prints the help: an unknown one is a usage error.
        let args = [command, &[old], value, &["--help"]].concat();
        let out = maintctl(&args);
        let help = stdout(&out);
        assert!(help.contains(new), "{command:?} --help does not show {new}");
        let shown_old = help
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{old} ")) || l.trim() == old);
        assert!(!shown_old, "{command:?} --help still shows {old}:\n{help}");
    }
    let made_up = maintctl(&["attach", "--no-fallbacks", "--help"]);
    assert_eq!(
        made_up.status.code(),
        Some(2),
        "the check sees an unknown flag"
    );
}

/// `off` takes only what switching off uses; `-n`, `-y`, `-e`, `-o` are the short flags.
#[test]
fn off_has_its_own_flags_and_the_short_flags_are_the_expected_ones() {
    let off = stdout(&maintctl(&["off", "--help"]));
    for on_only in [
        "--host",
        "--no-bypass-link",
        "--until",
        "--timezone",
        "--fallback",
        "--force",
    ] {
        assert!(!off.contains(on_only), "off --help lists {on_only}:\n{off}");
    }
    let on = stdout(&maintctl(&["on", "--help"]));
    for short in [
        "-n, --dry-run",
        "-y, --yes",
        "-e, --environment",
        "-o, --output",
    ] {
        assert!(on.contains(short), "on --help lacks {short}");
    }
}

/// One table of exit codes, printed by `maintctl --help`; the commands point to it.
#[test]
fn the_exit_code_table_is_in_maintctl_help() {
    let help = stdout(&maintctl(&["--help"]));
    let table: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Exit codes"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    let codes: Vec<&str> = table
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u8>().is_ok())
        .collect();
    assert_eq!(
        codes,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8"],
        "{help}"
    );
    for command in [
        &["off", "--help"][..],
        &["doctor", "--help"],
        &["bypass", "link", "--help"],
    ] {
        let text = stdout(&maintctl(command));
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains("maintctl --help lists them"), "{command:?}");
    }
}

/// The on-call card (docs/on-call.md) shows the exit codes as `maintctl --help` prints them,
/// word for word: the table is stated once, in exit.rs, and the card is checked against it.
#[test]
fn the_on_call_card_shows_the_exit_code_table_of_maintctl_help() {
    let help = stdout(&maintctl(&["--help"]));
    let table: String = help
        .lines()
        .skip_while(|l| !l.starts_with("Exit codes"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(table.lines().count() > 7, "{help}");
    let card = repository_file("docs/on-call.md");
    assert!(
        card.contains(&format!("```text\n{}\n```", table.trim_end())),
        "docs/on-call.md does not show maintctl --help's exit codes:\n{table}"
    );
    assert!(!card.contains(&format!("```text\n{}\n```", table.replace('6', "7"))));
}
