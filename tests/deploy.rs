//! The deployment files under `deploy/` and `scripts/`: the SAM template and the Terraform
//! module must use the names `maintenance_responder::deploy_names` defines (they cannot import
//! them), the SAM template must pass `cfn-lint`, and `scripts/check-glibc` must tell a binary
//! that needs a newer glibc from one that does not.
//!
//! These tests read files and run small tools; none needs a release build.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use maintenance_responder::deploy_names::{self, env as vars, tags};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn sam() -> String {
    read(&root().join("deploy/sam/template.yaml"))
}

/// All `.tf` files of the module, concatenated in name order.
fn terraform() -> String {
    let dir = root().join("deploy/terraform");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    for required in ["main.tf", "variables.tf", "outputs.tf", "versions.tf"] {
        assert!(
            files.iter().any(|p| p.ends_with(required)),
            "deploy/terraform/{required} is missing"
        );
    }
    files.iter().map(|p| read(p) + "\n").collect()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn unquote(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// The lines below the YAML key `name:` at `level` spaces of indentation, up to the next line
/// indented as little as the key (blank and comment lines included).
fn yaml_block<'a>(text: &'a str, level: usize, name: &str) -> Vec<&'a str> {
    let header = format!("{}{name}:", " ".repeat(level));
    let mut lines = text.lines();
    lines
        .by_ref()
        .find(|line| line.trim_end() == header)
        .unwrap_or_else(|| panic!("YAML key {header:?} not found"));
    lines
        .take_while(|line| {
            line.trim().is_empty() || line.trim_start().starts_with('#') || indent(line) > level
        })
        .collect()
}

/// One parameter or resource of the SAM template.
fn sam_entry(text: &str, section: &str, name: &str) -> String {
    let section = yaml_block(text, 0, section).join("\n");
    yaml_block(&section, 2, name).join("\n")
}

/// Values of every `key: value` line (a list item's leading `- ` ignored).
fn yaml_values(lines: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}:");
    lines
        .lines()
        .map(|line| line.trim().trim_start_matches("- "))
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|value| unquote(value).to_string())
        .collect()
}

/// `(key, value)` of every `- Key: K` line followed by `Value: V` (CloudFormation tag lists).
fn yaml_tags(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter_map(|pair| {
            let key = pair[0].strip_prefix("- Key:")?;
            let value = pair[1].strip_prefix("Value:")?;
            Some((unquote(key).to_string(), unquote(value).to_string()))
        })
        .collect()
}

/// The block that starts at the line beginning with `header` (e.g. `variable "x" {`), up to
/// its closing brace.
fn hcl_block(text: &str, header: &str) -> String {
    let mut depth = 0i32;
    let mut out = Vec::new();
    let mut started = false;
    for line in text.lines() {
        if !started && !line.starts_with(header) {
            continue;
        }
        started = true;
        out.push(line);
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        if depth == 0 {
            return out.join("\n");
        }
    }
    panic!("HCL block {header:?} not found or not closed");
}

/// Right-hand sides of every `key = value` line, with `key` bare or quoted.
fn hcl_values(text: &str, key: &str) -> Vec<String> {
    let quoted = format!("\"{key}\"");
    text.lines()
        .map(str::trim)
        .filter_map(|line| {
            let rest = line
                .strip_prefix(&quoted)
                .or_else(|| line.strip_prefix(key))?;
            let value = rest.trim_start().strip_prefix('=')?;
            (!value.starts_with('=')).then(|| value.trim().to_string())
        })
        .collect()
}

/// Every substring that starts with `prefix` and continues with characters in `allowed`.
fn tokens<'a>(text: &'a str, prefix: &str, allowed: fn(char) -> bool) -> Vec<&'a str> {
    text.match_indices(prefix)
        .map(|(start, _)| {
            let rest = &text[start + prefix.len()..];
            let len = rest.find(|c: char| !allowed(c)).unwrap_or(rest.len());
            &text[start..start + prefix.len() + len]
        })
        .collect()
}

const ALL_ENV_VARS: [&str; 9] = [
    vars::SSM_PREFIX,
    vars::SSM_TTL_SECONDS,
    vars::SSM_INIT_BUDGET_MS,
    vars::SSM_REFRESH_BUDGET_MS,
    vars::HEALTH_PATH,
    vars::DEFAULT_PAGE,
    vars::TARGET_GROUP_PAGES,
    vars::PATH_PAGES,
    vars::CONFIG,
];

const ALL_TAG_KEYS: [&str; 8] = [
    tags::ROLE,
    tags::ENVIRONMENT,
    tags::PARKED_PRIORITY,
    tags::STATE,
    tags::CHANGED_BY,
    tags::CHANGED_AT,
    tags::REASON,
    // Named (in a comment) by the Terraform module, which leaves these tags to maintctl.
    maintenance_responder::planner::DISPLACED,
];

#[test]
fn sam_function_gets_the_environment_variables_from_its_parameters() {
    let function = sam_entry(&sam(), "Resources", "Function");
    for (name, value) in [
        (vars::SSM_PREFIX, "!Ref SsmPrefix"),
        (vars::SSM_TTL_SECONDS, "!Ref SsmTtlSeconds"),
        (vars::HEALTH_PATH, "!Ref HealthPath"),
    ] {
        assert_eq!(
            yaml_values(&function, name),
            [value],
            "SAM Function: {name}"
        );
    }
    assert_eq!(yaml_values(&function, "Runtime"), ["provided.al2023"]);
    assert_eq!(yaml_values(&function, "Handler"), ["bootstrap"]);
    assert_eq!(yaml_values(&function, "Architectures"), ["[x86_64]"]);
    assert_eq!(yaml_values(&function, "AutoPublishAlias"), ["live"]);
}

#[test]
fn terraform_function_gets_the_environment_variables_from_its_variables() {
    let function = hcl_block(&terraform(), r#"resource "aws_lambda_function" "this""#);
    for (name, value) in [
        (vars::SSM_PREFIX, "var.ssm_prefix"),
        (vars::SSM_TTL_SECONDS, "tostring(var.ssm_ttl_seconds)"),
        (vars::HEALTH_PATH, "var.health_path"),
    ] {
        assert_eq!(
            hcl_values(&function, name),
            [value],
            "Terraform function: {name}"
        );
    }
    assert_eq!(hcl_values(&function, "runtime"), [r#""provided.al2023""#]);
    assert_eq!(hcl_values(&function, "handler"), [r#""bootstrap""#]);
}

#[test]
fn templates_name_only_known_environment_variables_and_tag_keys() {
    for (file, text) in [("SAM template", sam()), ("Terraform module", terraform())] {
        let env_names = tokens(&text, "MAINTENANCE_", |c| {
            c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
        });
        assert!(!env_names.is_empty(), "{file}: no MAINTENANCE_* variable");
        for name in env_names {
            assert!(
                ALL_ENV_VARS.contains(&name),
                "{file}: unknown variable {name}"
            );
        }
        let tag_keys = tokens(&text, "maintenance-responder:", |c| {
            c.is_ascii_lowercase() || c == '-'
        });
        assert!(
            !tag_keys.is_empty(),
            "{file}: no maintenance-responder:* tag"
        );
        // A bare `maintenance-responder:` is prose (a description), not a tag key.
        for key in tag_keys.into_iter().filter(|k| !k.ends_with(':')) {
            assert!(ALL_TAG_KEYS.contains(&key), "{file}: unknown tag key {key}");
        }
    }
}

#[test]
fn sam_rules_carry_the_tags_maintctl_finds_them_by() {
    let text = sam();
    let rule = sam_entry(&text, "Resources", "MaintenanceRule");
    let rule_tags = yaml_tags(&rule);
    let expect = |key: &str, value: &str| (key.to_string(), value.to_string());
    assert!(
        rule_tags.contains(&expect(tags::ROLE, tags::ROLE_MAINTENANCE)),
        "{rule_tags:?}"
    );
    assert!(rule_tags.contains(&expect(tags::ENVIRONMENT, "!Ref Environment")));
    assert!(rule_tags.contains(&expect(tags::PARKED_PRIORITY, "!Ref ParkedPriority")));
    assert_eq!(yaml_values(&rule, "Priority"), ["!Ref ParkedPriority"]);

    for (name, priority) in [
        ("BypassSourceIpRule", "BypassSourceIpPriority"),
        ("BypassHeaderRule", "BypassHeaderPriority"),
    ] {
        let rule = sam_entry(&text, "Resources", name);
        let rule_tags = yaml_tags(&rule);
        let parked = format!("!Ref {priority}");
        assert!(
            rule_tags.contains(&expect(tags::ROLE, tags::ROLE_BYPASS)),
            "{name}"
        );
        assert!(
            rule_tags.contains(&expect(tags::ENVIRONMENT, "!Ref Environment")),
            "{name}"
        );
        assert!(
            rule_tags.contains(&expect(tags::PARKED_PRIORITY, &parked)),
            "{name}"
        );
        assert_eq!(yaml_values(&rule, "Priority"), [parked.as_str()], "{name}");
        assert_eq!(
            yaml_values(&rule, "Condition").len(),
            1,
            "{name} must be conditional"
        );
    }
}

#[test]
fn terraform_rules_carry_the_tags_maintctl_finds_them_by() {
    let text = terraform();
    let quoted = |s: &str| format!("\"{s}\"");
    let roles = hcl_values(&text, tags::ROLE);
    assert!(roles.contains(&quoted(tags::ROLE_MAINTENANCE)), "{roles:?}");
    assert!(roles.contains(&quoted(tags::ROLE_BYPASS)), "{roles:?}");
    assert!(hcl_values(&text, tags::ENVIRONMENT).contains(&"var.environment".to_string()));
    assert!(
        hcl_values(&text, tags::PARKED_PRIORITY)
            .contains(&"tostring(var.parked_priority)".to_string())
    );

    let rule = hcl_block(&text, r#"resource "aws_lb_listener_rule" "maintenance""#);
    assert_eq!(hcl_values(&rule, "priority"), ["var.parked_priority"]);
    // maintctl's own tags and priority moves must survive the next apply. Its tags include a
    // varying number of `maintenance-responder:displaced*` keys and ignore_changes takes no
    // wildcard, so the module ignores the tags as a whole.
    let ignored = hcl_values(&rule, "ignore_changes");
    assert_eq!(ignored.len(), 1, "{rule}");
    let ignored: Vec<&str> = ignored[0]
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(str::trim)
        .collect();
    for attribute in ["priority", "tags", "tags_all"] {
        assert!(
            ignored.contains(&attribute),
            "ignore_changes lacks {attribute}: {ignored:?}"
        );
    }
}

/// Default priority of the application catch-all rule, which keeps the parked maintenance rule
/// (and the parked bypass rules) from catching what the application's own rules leave over.
const APP_CATCH_ALL_PRIORITY: u32 = 49_990;
/// How the catch-all is tagged. Not with `maintenance-responder:role`: maintctl refuses a rule
/// whose role is neither `maintenance` nor `bypass`, and needs the catch-all untagged (role
/// "other") to count it as the application's.
const APP_CATCH_ALL_NAME: &str = "app-catch-all";

#[test]
fn templates_put_an_app_catch_all_rule_before_the_parked_rules() {
    const { assert!(APP_CATCH_ALL_PRIORITY < deploy_names::DEFAULT_PARKED_PRIORITY) };
    let expect = |key: &str, value: &str| (key.to_string(), value.to_string());

    // SAM
    let text = sam();
    let priority = sam_entry(&text, "Parameters", "AppCatchAllPriority");
    assert_eq!(
        yaml_values(&priority, "Default"),
        [APP_CATCH_ALL_PRIORITY.to_string()]
    );
    for name in ["BypassSourceIpPriority", "BypassHeaderPriority"] {
        let bypass = sam_entry(&text, "Parameters", name);
        let default: u32 = yaml_values(&bypass, "Default")[0].parse().unwrap();
        assert!(
            APP_CATCH_ALL_PRIORITY < default && default < deploy_names::DEFAULT_PARKED_PRIORITY,
            "{name} default {default}"
        );
    }
    let fallthrough = sam_entry(&text, "Parameters", "AllowFallthrough");
    assert_eq!(yaml_values(&fallthrough, "Default"), ["false"]);

    let rule = sam_entry(&text, "Resources", "AppCatchAllRule");
    assert_eq!(yaml_values(&rule, "Priority"), ["!Ref AppCatchAllPriority"]);
    assert_eq!(yaml_values(&rule, "Condition"), ["HasAppTargetGroup"]);
    assert_eq!(yaml_values(&rule, "Values"), [r#"["/*"]"#]);
    assert_eq!(
        yaml_values(&rule, "TargetGroupArn"),
        ["!Ref AppTargetGroupArn"]
    );
    let rule_tags = yaml_tags(&rule);
    assert!(
        rule_tags.contains(&expect("Name", APP_CATCH_ALL_NAME)),
        "{rule_tags:?}"
    );
    assert!(rule_tags.contains(&expect(tags::ENVIRONMENT, "!Ref Environment")));
    assert!(
        rule_tags.iter().all(|(key, _)| key != tags::ROLE),
        "maintctl rejects an unknown role: {rule_tags:?}"
    );

    let maintenance = sam_entry(&text, "Resources", "MaintenanceRule");
    assert_eq!(
        yaml_values(&maintenance, "Condition"),
        ["CreateMaintenanceRule"]
    );
    assert_eq!(yaml_values(&maintenance, "DependsOn"), ["AppCatchAllReady"]);
    let ready = sam_entry(&text, "Resources", "AppCatchAllReady");
    assert!(ready.contains("!Ref AppCatchAllRule"), "{ready}");
    let rule = sam_entry(&text, "Rules", "MaintenanceRuleNeedsAppCatchAll");
    assert!(rule.contains("!Ref AppTargetGroupArn"), "{rule}");
    assert!(rule.contains("AllowFallthrough=true"), "{rule}");

    // Terraform
    let text = terraform();
    let priority = hcl_block(&text, r#"variable "app_catch_all_priority""#);
    assert_eq!(
        hcl_values(&priority, "default"),
        [APP_CATCH_ALL_PRIORITY.to_string()]
    );
    let fallthrough = hcl_block(&text, r#"variable "allow_fallthrough""#);
    assert_eq!(hcl_values(&fallthrough, "default"), ["false"]);
    assert_eq!(
        hcl_values(&text, "Name"),
        [format!("\"{APP_CATCH_ALL_NAME}\"")]
    );

    let rule = hcl_block(&text, r#"resource "aws_lb_listener_rule" "app_catch_all""#);
    assert_eq!(
        hcl_values(&rule, "priority"),
        ["var.app_catch_all_priority"]
    );
    assert_eq!(
        hcl_values(&rule, "target_group_arn"),
        ["var.app_target_group_arn"]
    );
    assert_eq!(hcl_values(&rule, "values"), [r#"["/*"]"#]);
    assert_eq!(hcl_values(&rule, "tags"), ["local.app_catch_all_rule_tags"]);
    let rule_tags = hcl_block(&text, "  app_catch_all_rule_tags = ");
    assert!(!rule_tags.contains(tags::ROLE), "{rule_tags}");

    let maintenance = hcl_block(&text, r#"resource "aws_lb_listener_rule" "maintenance""#);
    assert_eq!(
        hcl_values(&maintenance, "depends_on"),
        ["[aws_lb_listener_rule.app_catch_all]"]
    );
    assert!(
        maintenance.contains("local.want_app_catch_all || var.allow_fallthrough"),
        "{maintenance}"
    );
}

#[test]
fn templates_default_to_the_parked_priority_and_health_path() {
    let text = sam();
    let priority = sam_entry(&text, "Parameters", "ParkedPriority");
    assert_eq!(
        yaml_values(&priority, "Default"),
        [deploy_names::DEFAULT_PARKED_PRIORITY.to_string()]
    );
    let health = sam_entry(&text, "Parameters", "HealthPath");
    assert_eq!(
        yaml_values(&health, "Default"),
        [deploy_names::DEFAULT_HEALTH_PATH]
    );
    let group = sam_entry(&text, "Resources", "TargetGroup");
    assert_eq!(yaml_values(&group, "HealthCheckPath"), ["!Ref HealthPath"]);
    assert_eq!(yaml_values(&group, "TargetType"), ["lambda"]);

    let text = terraform();
    let priority = hcl_block(&text, r#"variable "parked_priority""#);
    assert_eq!(
        hcl_values(&priority, "default"),
        [deploy_names::DEFAULT_PARKED_PRIORITY.to_string()]
    );
    let health = hcl_block(&text, r#"variable "health_path""#);
    assert_eq!(
        hcl_values(&health, "default"),
        [format!("\"{}\"", deploy_names::DEFAULT_HEALTH_PATH)]
    );
    let group = hcl_block(&text, r#"resource "aws_lb_target_group" "this""#);
    assert_eq!(hcl_values(&group, "path"), ["var.health_path"]);
    assert_eq!(hcl_values(&group, "target_type"), [r#""lambda""#]);
}

#[test]
fn invoke_permission_is_granted_before_the_target_is_registered() {
    let text = sam();
    let group = sam_entry(&text, "Resources", "TargetGroup");
    assert_eq!(yaml_values(&group, "DependsOn"), ["InvokePermission"]);
    let permission = sam_entry(&text, "Resources", "InvokePermission");
    assert_eq!(
        yaml_values(&permission, "Principal"),
        ["elasticloadbalancing.amazonaws.com"]
    );
    assert_eq!(yaml_values(&permission, "SourceAccount").len(), 1);
    assert_eq!(yaml_values(&permission, "SourceArn").len(), 1);

    let text = terraform();
    let attachment = hcl_block(&text, r#"resource "aws_lb_target_group_attachment" "this""#);
    assert_eq!(
        hcl_values(&attachment, "depends_on"),
        ["[aws_lambda_permission.alb]"]
    );
    let permission = hcl_block(&text, r#"resource "aws_lambda_permission" "alb""#);
    assert_eq!(
        hcl_values(&permission, "principal"),
        [r#""elasticloadbalancing.amazonaws.com""#]
    );
    assert_eq!(
        hcl_values(&permission, "source_arn"),
        ["aws_lb_target_group.this.arn"]
    );
    assert_eq!(
        hcl_values(&permission, "qualifier"),
        ["aws_lambda_alias.live.name"]
    );
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `CFN_LINT`, else the project's `.venv/bin/cfn-lint`, else `cfn-lint` on `PATH`.
fn cfn_lint() -> PathBuf {
    if let Some(path) = std::env::var_os("CFN_LINT") {
        return PathBuf::from(path);
    }
    let venv = root().join(".venv/bin/cfn-lint");
    if is_executable(&venv) {
        return venv;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("cfn-lint"))
        .find(|p| is_executable(p))
        .expect("cfn-lint not found: run scripts/setup-tools (it installs .venv/bin/cfn-lint) or set CFN_LINT")
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"))
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn sam_template_passes_cfn_lint() {
    let lint = cfn_lint();
    let template = root().join("deploy/sam/template.yaml");
    let output = run(Command::new(&lint).arg("--").arg(&template));
    assert!(
        output.status.success(),
        "cfn-lint {}: {}",
        template.display(),
        describe(&output)
    );

    // The same linter must reject a broken copy, or the pass above proves nothing.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("template.yaml");
    let text = sam();
    let good = "TargetGroupArn: !Ref TargetGroup\n";
    assert!(text.contains(good));
    fs::write(
        &broken,
        text.replace(good, "TargetGroupArn: !Ref NoSuchTargetGroup\n"),
    )
    .unwrap();
    let output = run(Command::new(&lint).arg("--").arg(&broken));
    assert!(
        !output.status.success(),
        "cfn-lint accepted a dangling Ref: {}",
        describe(&output)
    );
}

fn check_glibc(args: &[&str]) -> Output {
    run(Command::new(root().join("scripts/check-glibc")).args(args))
}

fn parse_version(text: &str) -> Vec<u32> {
    text.split('.').map(|part| part.parse().unwrap()).collect()
}

fn join_version(version: &[u32]) -> String {
    version
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// The highest `GLIBC_x.y` named in `objdump -T` output, if objdump is installed.
fn objdump_highest_glibc(binary: &Path) -> Option<Vec<u32>> {
    let output = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .ok()?;
    assert!(output.status.success(), "objdump -T: {}", describe(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    tokens(&text, "GLIBC_", |c| c.is_ascii_digit() || c == '.')
        .into_iter()
        .filter_map(|t| {
            let v = t.trim_start_matches("GLIBC_").trim_end_matches('.');
            (!v.is_empty()).then(|| parse_version(v))
        })
        .max()
}

#[test]
fn check_glibc_fails_on_a_binary_that_needs_a_newer_glibc() {
    let scripts = [
        root().join("scripts/check-glibc"),
        root().join("scripts/package"),
    ];
    for script in &scripts {
        assert!(
            is_executable(script),
            "{} must be executable",
            script.display()
        );
    }
    let syntax = run(Command::new("bash").arg("-n").arg(&scripts[1]));
    assert!(
        syntax.status.success(),
        "bash -n scripts/package: {}",
        describe(&syntax)
    );

    // This test binary links against the build machine's glibc.
    let exe = std::env::current_exe().unwrap();
    let exe_arg = exe.to_str().unwrap();

    let lenient = check_glibc(&[exe_arg, "2.99"]);
    assert!(lenient.status.success(), "{}", describe(&lenient));
    let stdout = String::from_utf8_lossy(&lenient.stdout);
    let highest = stdout
        .split("highest required glibc version ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no highest version reported: {}", describe(&lenient)));
    let highest = parse_version(highest);
    if let Some(expected) = objdump_highest_glibc(&exe) {
        assert_eq!(highest, expected, "check-glibc and objdump -T disagree");
    }

    // One step below the highest requirement must fail and name the offending version.
    let mut below = highest.clone();
    let last = below.len() - 1;
    if below[last] > 0 {
        below[last] -= 1;
    } else {
        below.truncate(last);
        below.push(0);
        below[last - 1] -= 1;
        below[last] = 999;
    }
    let strict = check_glibc(&[exe_arg, &join_version(&below)]);
    assert_eq!(strict.status.code(), Some(1), "{}", describe(&strict));
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(
        stderr.contains(&format!("GLIBC_{}", join_version(&highest))),
        "{}",
        describe(&strict)
    );

    // The default limit is Amazon Linux 2023's glibc 2.34.
    let default = check_glibc(&[exe_arg]);
    assert_eq!(
        default.status.success(),
        highest[..] <= [2, 34][..],
        "{}",
        describe(&default)
    );
}

#[test]
fn check_glibc_rejects_files_it_cannot_read() {
    let not_elf = root().join("Cargo.toml");
    let output = check_glibc(&[not_elf.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let output = check_glibc(&["/bin/sh", "two.thirty-four"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}
