//! Naming an environment once (issue #22): with `maintctl.toml` in the working directory (or
//! `MAINTCTL_ENVIRONMENT` selecting its table), `attach`, `status`, `on` and `off` take the
//! listeners and the content prefix from the file and need no flag naming them, against moto;
//! a flag still wins over the file, and `config show` names where each value came from.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::Moto;
use common::alb::{self, Preflight, code, json, text};
use common::listeners::{aws, snapshot};
use maintenance_core::deploy_names::tags;

/// The real maintctl run from `dir`, with `MAINTCTL_ENVIRONMENT` (when given) selecting the
/// environment.
fn maintctl_in(moto: &Moto, dir: &Path, environment: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = alb::command(moto, args, Preflight::Forced);
    cmd.current_dir(dir);
    if let Some(name) = environment {
        cmd.env("MAINTCTL_ENVIRONMENT", name);
    }
    alb::run(&mut cmd)
}

#[tokio::test]
async fn status_on_and_off_need_no_flag_naming_what_maintctl_toml_names() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = alb::build(moto, "named", &[10, 20], 40_000);
    let env = common::unique("env-named");
    let prefix = format!("/maintctl-test/{env}");
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().join("deploy/shop");
    std::fs::create_dir_all(&dir).unwrap();
    // The file is found in a parent of the working directory.
    std::fs::write(
        project.path().join("maintctl.toml"),
        format!(
            "[environments.other]\nprefix = \"/elsewhere\"\n\n[environments.{env}]\n\
             prefix = \"{prefix}\"\nlisteners = [\"{}\", \"{}\"]\n",
            alb.http, alb.https
        ),
    )
    .unwrap();
    let file = project.path().join("maintctl.toml");

    // attach: the listeners and the prefix from the file, the environment tag from -e.
    let attach = maintctl_in(
        moto,
        &dir,
        None,
        &[
            "-e",
            &env,
            "attach",
            "--target-group",
            &alb.lambda_target_group,
        ],
    );
    assert_eq!(code(&attach), 0, "{}", text(&attach));
    for listener in [&alb.http, &alb.https] {
        let s = snapshot(&client, listener).await;
        let rule = s
            .maintenance_rule()
            .expect("attach made the maintenance rule");
        assert_eq!(
            rule.tags.get(tags::CONTENT_PREFIX),
            Some(&prefix),
            "{rule:?}"
        );
        assert_eq!(rule.tags.get(tags::ENVIRONMENT), Some(&env), "{rule:?}");
    }

    let status = maintctl_in(moto, &dir, Some(&env), &["status", "-o", "json"]);
    assert_eq!(code(&status), 0, "{}", text(&status));
    let doc = json(&status);
    assert_eq!(doc["listeners"].as_array().unwrap().len(), 2, "{doc}");

    let on = maintctl_in(moto, &dir, Some(&env), &["on", "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let status = maintctl_in(moto, &dir, Some(&env), &["status"]);
    let shown = String::from_utf8_lossy(&status.stdout);
    assert_eq!(shown.matches("maintenance: ON").count(), 2, "{shown}");

    // A flag wins over the file: only the HTTP listener is shown.
    let one = maintctl_in(
        moto,
        &dir,
        Some(&env),
        &["status", "--listener", &alb.http, "-o", "json"],
    );
    assert_eq!(
        json(&one)["listeners"].as_array().unwrap().len(),
        1,
        "{}",
        text(&one)
    );

    let off = maintctl_in(moto, &dir, Some(&env), &["off", "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    let status = maintctl_in(moto, &dir, Some(&env), &["status"]);
    let shown = String::from_utf8_lossy(&status.stdout);
    assert_eq!(shown.matches("maintenance: OFF").count(), 2, "{shown}");

    // config show names each value's source.
    let show = maintctl_in(
        moto,
        &dir,
        Some(&env),
        &[
            "config",
            "show",
            "--verify-url",
            "https://shop.example.com/",
        ],
    );
    assert_eq!(code(&show), 0, "{}", text(&show));
    let shown = String::from_utf8_lossy(&show.stdout);
    let from_file = format!("(from {})", file.display());
    for line in [
        format!("file: {}", file.display()),
        format!("environment: {env} (from environment variable MAINTCTL_ENVIRONMENT)"),
        format!("prefix: {prefix} {from_file}"),
        format!("listeners: {}, {} {from_file}", alb.http, alb.https),
        "verify-url: https://shop.example.com/ (from flag)".to_string(),
        "bypass-path: /__maintenance/bypass (from default)".to_string(),
        "region: us-east-1 (from environment variable AWS_REGION)".to_string(),
    ] {
        assert!(shown.contains(&line), "no {line:?} in:\n{shown}");
    }

    // Without an environment nothing is read, and on asks for the listeners (usage, exit 2).
    let bare = maintctl_in(moto, &dir, None, &["on", "--yes"]);
    assert_eq!(code(&bare), 2, "{}", text(&bare));
    assert!(
        String::from_utf8_lossy(&bare.stderr).contains("--environment"),
        "{}",
        text(&bare)
    );
    // A broken file is refused before anything is called, saying where.
    std::fs::write(&file, "[environments.x]\nlistener = []\n").unwrap();
    let broken = maintctl_in(moto, &dir, Some(&env), &["status"]);
    assert_eq!(code(&broken), 1, "{}", text(&broken));
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("maintctl.toml"),
        "{}",
        text(&broken)
    );
}
