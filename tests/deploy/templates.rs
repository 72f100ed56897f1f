//! The deployment files under `deploy/` and `scripts/`: the SAM template and the Terraform
//! module must use the names `maintenance_core::deploy_names` defines (they cannot import
//! them), create their rules on every listener of one ALB, size and watch the function the same
//! way, and split the operators' permissions into a switching and an attach policy. The SAM
//! template must pass `cfn-lint`; the Terraform module must pass `terraform validate` when
//! called with two listeners and with every option on (offline, through
//! `deploy/terraform/test/terraformrc`); `scripts/check-glibc` must tell a binary that needs a
//! newer glibc from one that does not.
//!
//! Both templates' IAM is read as AWS reads it (issue #19): the Scheduler trusts its schedule
//! group, tag-key conditions compare case-insensitively, operators record only on their
//! environment's rules, alarm permissions name exact ARNs, the responder may make only the SSM
//! call it makes, a customer key serves only the prefix's parameters; each old shape put back
//! into a copy is found. (Deploying them against moto: tests/deploy/terraform.rs.)
//!
//! These tests read files and run small tools; none needs a release build. A missing tool
//! (cfn-lint, terraform, the provider mirror) fails them: nothing is skipped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::terraform::{Root, cli_config as terraform_cli_config, terraform_bin};
use maintenance_core::deploy_names::{
    self, env as vars, events, function, parameters, switch, tags,
};
use maintenance_engine::planner::listener::{
    ActionSummary, Condition, ListenerInfo, ListenerSnapshot, RuleView,
};
use maintenance_engine::planner::priorities::{Role, State};
use maintenance_engine::planner::routing::{KindAnswer, Misroute};
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn sam_path() -> PathBuf {
    root().join("deploy/sam/template.yaml")
}

fn sam_text() -> String {
    read(&sam_path())
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

// ------------------------------------------------------------------ tools

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
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
    on_path("cfn-lint").expect(
        "cfn-lint not found: run scripts/setup-tools (it installs .venv/bin/cfn-lint) or set CFN_LINT",
    )
}

/// The Python that runs cfn-lint (its script's `#!` line), which can import `cfnlint`.
fn cfn_lint_python() -> PathBuf {
    let lint = cfn_lint();
    let first = read(&lint).lines().next().unwrap_or_default().to_string();
    match first.strip_prefix("#!").map(str::trim) {
        Some(interpreter) if Path::new(interpreter).is_absolute() && !interpreter.contains(' ') => {
            PathBuf::from(interpreter)
        }
        _ => PathBuf::from("python3"),
    }
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

// ------------------------------------------------------------ the SAM template

/// The template as CloudFormation reads it (cfn-lint's own YAML reader: `!Ref X` becomes
/// `{"Ref": "X"}`), before `Fn::ForEach` is expanded.
fn sam() -> Value {
    const DECODE: &str = "import json, sys\nfrom cfnlint.decode import decode\n\
        template, problems = decode(sys.argv[1])\n\
        if problems or template is None:\n    sys.exit('cannot read the template: %s' % problems)\n\
        print(json.dumps(template))\n";
    let output = run(Command::new(cfn_lint_python())
        .arg("-c")
        .arg(DECODE)
        .arg(sam_path()));
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The identifier and the fragment of the template's `Fn::ForEach::<loop>` in `section`.
fn sam_loop<'a>(tpl: &'a Value, section: &str, name: &str) -> (&'a str, &'a Value, &'a Value) {
    let key = format!("Fn::ForEach::{name}");
    let body = tpl[section][&key]
        .as_array()
        .unwrap_or_else(|| panic!("{section} has no {key}"));
    assert_eq!(body.len(), 3, "{key}");
    (body[0].as_str().unwrap(), &body[1], &body[2])
}

/// The per-listener resource `NAME&{Listener}` of the listener loop.
fn sam_listener_resource<'a>(tpl: &'a Value, name: &str) -> &'a Value {
    let (identifier, _, fragment) = sam_loop(tpl, "Resources", "ListenerRules");
    let key = format!("{name}&{{{identifier}}}");
    fragment
        .get(&key)
        .unwrap_or_else(|| panic!("the listener loop has no {key}"))
}

fn sam_resource<'a>(tpl: &'a Value, name: &str) -> &'a Value {
    tpl["Resources"]
        .get(name)
        .unwrap_or_else(|| panic!("SAM template: no resource {name}"))
}

fn sam_parameter<'a>(tpl: &'a Value, name: &str) -> &'a Value {
    tpl["Parameters"]
        .get(name)
        .unwrap_or_else(|| panic!("SAM template: no parameter {name}"))
}

fn r(name: &str) -> Value {
    json!({ "Ref": name })
}

/// `(key, value)` of a CloudFormation tag list.
fn sam_tags(resource: &Value) -> Vec<(String, Value)> {
    resource["Properties"]["Tags"]
        .as_array()
        .unwrap_or_else(|| panic!("no Tags list: {resource}"))
        .iter()
        .map(|tag| {
            (
                tag["Key"].as_str().unwrap().to_string(),
                tag["Value"].clone(),
            )
        })
        .collect()
}

fn has_tag(tags: &[(String, Value)], key: &str, value: Value) -> bool {
    tags.iter().any(|(k, v)| k == key && *v == value)
}

/// Every `Action` of a policy document's statements (string or list), with the statement's
/// `Sid`; `Fn::If` branches included.
fn policy_actions(document: &Value) -> Vec<(String, String)> {
    fn walk(value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) if map.contains_key("Action") => {
                let sid = map.get("Sid").and_then(Value::as_str).unwrap_or("");
                let actions = match &map["Action"] {
                    Value::String(a) => vec![a.clone()],
                    Value::Array(list) => list
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                    other => panic!("Action {other}"),
                };
                out.extend(actions.into_iter().map(|a| (sid.to_string(), a)));
            }
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            Value::Array(list) => list.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&document["Statement"], &mut out);
    out
}

// ------------------------------------------------------------ the Terraform module

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

/// The one value of `key` in `block`.
fn hcl_value(block: &str, key: &str) -> String {
    let values = hcl_values(block, key);
    assert_eq!(values.len(), 1, "{key} in {block}");
    values.into_iter().next().unwrap()
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
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

/// The quoted strings of an HCL list literal such as `["a", "b"]`.
fn hcl_strings(list: &str) -> Vec<String> {
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------- names

const ALL_ENV_VARS: [&str; 15] = [
    vars::SSM_PREFIX,
    vars::SSM_TTL_SECONDS,
    vars::SSM_INIT_BUDGET_MS,
    vars::SSM_REFRESH_BUDGET_MS,
    vars::HEALTH_PATH,
    vars::DEFAULT_PAGE,
    vars::TARGET_GROUP_PAGES,
    vars::PATH_PAGES,
    vars::CONFIG,
    switch::ENVIRONMENT,
    switch::ON_ALARM_OK,
    switch::ALARM_NAMES,
    switch::FALLBACK_ALARMS,
    switch::LEASE_WAIT_SECONDS,
    events::SWITCH_BUS,
];

const ALL_TAG_KEYS: [&str; 13] = [
    tags::ROLE,
    tags::BYPASS_LINK,
    tags::ENVIRONMENT,
    tags::PARKED_PRIORITY,
    tags::CONTENT_PREFIX,
    tags::STATE,
    tags::CHANGED_BY,
    tags::CHANGED_AT,
    tags::REASON,
    // Named (in a comment) by the Terraform module, which leaves these tags to maintctl.
    maintenance_engine::planner::DISPLACED,
    // On the schedule group (the switch function, issue #15).
    switch::GROUP_TAG_FUNCTION,
    switch::GROUP_TAG_ROLE,
    switch::GROUP_TAG_DEAD_LETTER,
];

#[test]
fn sam_function_gets_its_settings_from_the_parameters() {
    let tpl = sam();
    let function = &sam_resource(&tpl, "Function")["Properties"];
    for (name, parameter) in [
        (vars::SSM_PREFIX, "SsmPrefix"),
        (vars::SSM_TTL_SECONDS, "SsmTtlSeconds"),
        (vars::HEALTH_PATH, "HealthPath"),
    ] {
        assert_eq!(
            function["Environment"]["Variables"][name],
            r(parameter),
            "SAM Function: {name}"
        );
    }
    assert_eq!(
        function["FunctionName"],
        json!({ "Fn::Sub": format!("{}-${{Environment}}", function::NAME_PREFIX) })
    );
    assert_eq!(function["Runtime"], "provided.al2023");
    assert_eq!(function["Handler"], "bootstrap");
    assert_eq!(function["AutoPublishAlias"], function::ALIAS);
    assert_eq!(function["Architectures"], json!([r("Architecture")]));
    assert_eq!(function["MemorySize"], r("MemorySize"));
    // SAM CLI packages only a literal local path (aws/aws-sam-cli#4308): the x86_64 package.
    assert_eq!(function["CodeUri"], "../../dist/bootstrap.zip");
    assert_eq!(
        function["ReservedConcurrentExecutions"],
        json!({ "Fn::If": ["HasReservedConcurrency", r("ReservedConcurrency"), r("AWS::NoValue")] })
    );
    assert_eq!(
        function["ProvisionedConcurrencyConfig"],
        json!({ "Fn::If": [
            "HasProvisionedConcurrency",
            { "ProvisionedConcurrentExecutions": r("ProvisionedConcurrency") },
            r("AWS::NoValue"),
        ] })
    );
    // JSON is the format in which Lambda hands the level to the function (AWS_LAMBDA_LOG_LEVEL).
    assert_eq!(
        function["LoggingConfig"],
        json!({
            "LogFormat": "JSON",
            "ApplicationLogLevel": r("LogLevel"),
            "SystemLogLevel": r("SystemLogLevel"),
            "LogGroup": r("LogGroup"),
        })
    );
    assert_eq!(
        sam_resource(&tpl, "LogGroup")["Properties"]["RetentionInDays"],
        r("LogRetentionDays")
    );
    assert_eq!(
        tpl["Conditions"]["HasReservedConcurrency"],
        json!({ "Fn::Not": [{ "Fn::Equals": [r("ReservedConcurrency"), function::NO_RESERVED_CONCURRENCY] }] })
    );
    assert_eq!(
        tpl["Conditions"]["HasProvisionedConcurrency"],
        json!({ "Fn::Not": [{ "Fn::Equals": [r("ProvisionedConcurrency"), 0] }] })
    );
}

#[test]
fn terraform_function_gets_its_settings_from_the_variables() {
    let text = terraform();
    let function = hcl_block(&text, r#"resource "aws_lambda_function" "this""#);
    for (name, value) in [
        (vars::SSM_PREFIX, "var.ssm_prefix"),
        (vars::SSM_TTL_SECONDS, "tostring(var.ssm_ttl_seconds)"),
        (vars::HEALTH_PATH, "var.health_path"),
    ] {
        assert_eq!(
            hcl_value(&function, name),
            value,
            "Terraform function: {name}"
        );
    }
    assert_eq!(hcl_value(&function, "runtime"), quoted("provided.al2023"));
    assert_eq!(hcl_value(&function, "handler"), quoted("bootstrap"));
    assert_eq!(hcl_value(&function, "architectures"), "[var.architecture]");
    assert_eq!(hcl_value(&function, "memory_size"), "var.memory_size");
    assert_eq!(hcl_value(&function, "filename"), "var.package_path");
    assert_eq!(
        hcl_value(&function, "reserved_concurrent_executions"),
        "var.reserved_concurrency"
    );
    let logging = hcl_block(
        &function
            .lines()
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join("\n"),
        "logging_config {",
    );
    assert_eq!(hcl_value(&logging, "log_format"), quoted("JSON"));
    assert_eq!(
        hcl_value(&logging, "application_log_level"),
        "var.log_level"
    );
    assert_eq!(
        hcl_value(&logging, "system_log_level"),
        "var.system_log_level"
    );
    assert_eq!(
        hcl_value(&logging, "log_group"),
        "aws_cloudwatch_log_group.this.name"
    );
    let group = hcl_block(&text, r#"resource "aws_cloudwatch_log_group" "this""#);
    assert_eq!(
        hcl_value(&group, "retention_in_days"),
        "var.log_retention_days"
    );
    assert!(
        hcl_values(&text, "name").contains(&format!(
            "\"{}-${{var.environment}}\"",
            function::NAME_PREFIX
        )),
        "the function's name"
    );

    let alias = hcl_block(&text, r#"resource "aws_lambda_alias" "live""#);
    assert_eq!(hcl_value(&alias, "name"), quoted(function::ALIAS));
    let provisioned = hcl_block(
        &text,
        r#"resource "aws_lambda_provisioned_concurrency_config" "live""#,
    );
    assert_eq!(
        hcl_value(&provisioned, "count"),
        "var.provisioned_concurrency > 0 ? 1 : 0"
    );
    assert_eq!(
        hcl_value(&provisioned, "qualifier"),
        "aws_lambda_alias.live.name"
    );
    assert_eq!(
        hcl_value(&provisioned, "provisioned_concurrent_executions"),
        "var.provisioned_concurrency"
    );
}

/// The README's formula, with the assumptions behind the default (README, "Capacity"):
/// reserved concurrency = peak requests/s × seconds an environment is busy per request × headroom.
#[test]
fn the_capacity_defaults_are_the_documented_ones_in_both_templates() {
    const PEAK_REQUESTS_PER_SECOND: u32 = 1_000;
    // A cold start when maintenance is switched on: 13.2 ms measured to the first response with
    // SSM (README, Performance) plus Lambda's own environment start, taken as 50 ms in all.
    const COLD_MS: u32 = 50;
    // Warm, Lambda bills at least 1 ms per invocation (the measured p50 is 66 µs).
    const WARM_BILLED_MS: u32 = 1;
    const HEADROOM: u32 = 2;
    const fn environments(busy_ms: u32) -> u32 {
        (PEAK_REQUESTS_PER_SECOND * busy_ms * HEADROOM).div_ceil(1_000)
    }
    const {
        assert!(environments(COLD_MS) as i32 == function::DEFAULT_RESERVED_CONCURRENCY);
        // The switch-on burst, not the warm traffic (2 environments), sets the figure.
        assert!(environments(WARM_BILLED_MS) == 2);
    };

    let tpl = sam();
    let text = terraform();
    let default = |parameter: &str| sam_parameter(&tpl, parameter)["Default"].clone();
    let allowed = |parameter: &str| sam_parameter(&tpl, parameter)["AllowedValues"].clone();
    let tf_default = |variable: &str| {
        hcl_value(
            &hcl_block(&text, &format!("variable \"{variable}\" {{")),
            "default",
        )
    };

    assert_eq!(
        default("ReservedConcurrency"),
        json!(function::DEFAULT_RESERVED_CONCURRENCY)
    );
    assert_eq!(
        sam_parameter(&tpl, "ReservedConcurrency")["MinValue"],
        json!(-1)
    );
    assert_eq!(
        tf_default("reserved_concurrency"),
        function::DEFAULT_RESERVED_CONCURRENCY.to_string()
    );
    // 0 throttles every request: refused by both.
    let rule = &tpl["Rules"]["ReservedConcurrencyIsNotZero"]["Assertions"][0]["Assert"];
    assert_eq!(
        *rule,
        json!({ "Fn::Not": [{ "Fn::Equals": [r("ReservedConcurrency"), "0"] }] })
    );
    let variable = hcl_block(&text, r#"variable "reserved_concurrency" {"#);
    assert!(
        variable.contains("var.reserved_concurrency == -1 || var.reserved_concurrency >= 1"),
        "{variable}"
    );

    assert_eq!(
        default("ProvisionedConcurrency"),
        json!(function::DEFAULT_PROVISIONED_CONCURRENCY)
    );
    assert_eq!(
        tf_default("provisioned_concurrency"),
        function::DEFAULT_PROVISIONED_CONCURRENCY.to_string()
    );
    assert_eq!(default("MemorySize"), json!(function::DEFAULT_MEMORY_MB));
    assert_eq!(
        tf_default("memory_size"),
        function::DEFAULT_MEMORY_MB.to_string()
    );
    assert_eq!(
        default("LogRetentionDays"),
        json!(function::DEFAULT_LOG_RETENTION_DAYS)
    );
    assert_eq!(
        tf_default("log_retention_days"),
        function::DEFAULT_LOG_RETENTION_DAYS.to_string()
    );

    assert_eq!(default("LogLevel"), function::DEFAULT_LOG_LEVEL);
    assert_eq!(allowed("LogLevel"), json!(function::LOG_LEVELS));
    assert_eq!(tf_default("log_level"), quoted(function::DEFAULT_LOG_LEVEL));
    let levels = hcl_block(&text, r#"variable "log_level" {"#);
    let levels = hcl_strings(levels.lines().find(|l| l.contains("contains(")).unwrap());
    assert_eq!(levels, function::LOG_LEVELS);

    assert_eq!(default("Architecture"), function::ARCHITECTURES[0]);
    assert_eq!(allowed("Architecture"), json!(function::ARCHITECTURES));
    assert_eq!(
        tf_default("architecture"),
        quoted(function::ARCHITECTURES[0])
    );
    let architectures = hcl_block(&text, r#"variable "architecture" {"#);
    let architectures = hcl_strings(
        architectures
            .lines()
            .find(|l| l.contains("contains("))
            .unwrap(),
    );
    assert_eq!(architectures, function::ARCHITECTURES);
}

/// What the templates set as `ApplicationLogLevel` reaches the function as this variable, and
/// the Lambda's logging reads it (tests/responder/lambda.rs runs the binary with it set to WARN).
#[test]
fn the_lambda_reads_the_log_level_variable_lambda_sets() {
    let logging = read(&root().join("crates/responder/src/logging.rs"));
    assert!(
        logging.contains(&quoted(function::LOG_LEVEL_VAR)) || logging.contains("LOG_LEVEL_VAR"),
        "crates/responder/src/logging.rs does not read {}",
        function::LOG_LEVEL_VAR
    );
    assert!(function::LOG_LEVELS.contains(&function::DEFAULT_LOG_LEVEL));
}

#[test]
fn templates_name_only_known_environment_variables_and_tag_keys() {
    for (file, text) in [
        ("SAM template", sam_text()),
        ("Terraform module", terraform()),
    ] {
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

// ------------------------------------------------------------ the switch events (issue #23)

/// A chat notification as the rules' input transformers write it, with every placeholder
/// filled: the custom-notification format of Amazon Q Developer in chat applications.
fn assert_chat_notification(template: &str, file: &str) {
    let mut filled = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .map_or(rest.len(), |e| start + e + 1);
        filled.push_str(&rest[..start]);
        filled.push_str("value");
        rest = &rest[end..];
    }
    filled.push_str(rest);
    let doc: Value = serde_json::from_str(filled.trim())
        .unwrap_or_else(|e| panic!("{file}: the input template is not JSON ({e}): {template}"));
    assert_eq!(doc["version"], "1.0", "{file}: {doc:#}");
    assert_eq!(doc["source"], "custom", "{file}: {doc:#}");
    for field in ["textType", "title", "description"] {
        assert!(
            doc["content"][field].is_string(),
            "{file}: no content.{field}: {doc:#}"
        );
    }
}

#[test]
fn the_switch_events_routes_use_the_names_of_the_code() {
    let tpl = sam();
    assert_eq!(
        sam_parameter(&tpl, "EventBusName")["Default"],
        events::DEFAULT_BUS
    );
    let variables =
        &sam_resource(&tpl, "MaintenanceSwitch")["Properties"]["Environment"]["Variables"];
    assert_eq!(
        variables[events::SWITCH_BUS],
        json!({ "Ref": "EventBusName" })
    );
    let rule = &sam_resource(&tpl, "SwitchEventsRule")["Properties"];
    assert_eq!(rule["EventPattern"]["source"], json!([events::SOURCE]));
    assert_eq!(
        rule["EventPattern"]["detail-type"],
        json!([events::SWITCHED, events::REFUSED])
    );
    assert_eq!(rule["EventBusName"], json!({ "Ref": "EventBusName" }));
    let template = rule["Targets"][0]["InputTransformer"]["InputTemplate"]
        .as_str()
        .expect("an input template");
    assert_chat_notification(template, "SAM template");
    let policy = sam_resource(&tpl, "SwitchingPolicy").to_string();
    assert!(
        policy.contains(&format!("/{}", parameters::HISTORY)),
        "{policy}"
    );
    assert!(policy.contains("events:PutEvents"), "{policy}");
    let role = sam_resource(&tpl, "SwitchRole").to_string();
    assert!(role.contains("events:PutEvents") && role.contains("event-bus/${EventBusName}"));

    let tf = terraform();
    for name in [
        events::SOURCE,
        events::SWITCHED,
        events::REFUSED,
        events::SWITCH_BUS,
    ] {
        assert!(tf.contains(name), "Terraform module: no {name}");
    }
    assert!(tf.contains(&format!("default     = {}", quoted(events::DEFAULT_BUS))));
    assert!(tf.contains(&format!("/{}", parameters::HISTORY)));
    let template = tf
        .split("input_template = <<-EOT")
        .nth(1)
        .and_then(|t| t.split("EOT").next())
        .expect("the switch events' input template");
    assert_chat_notification(template, "Terraform module");
}

// ------------------------------------------------------------ rules on every listener

const RULES: [&str; 6] = [
    "AppCatchAllRule",
    "MaintenanceRule",
    "FallbackRule",
    "BypassSourceIpRule",
    "BypassHeaderRule",
    "BypassLinkRule",
];

#[test]
fn sam_creates_every_rule_on_every_listener_of_the_list() {
    let tpl = sam();
    let listeners = sam_parameter(&tpl, "ListenerArns");
    assert_eq!(listeners["Type"], "CommaDelimitedList");
    assert!(
        listeners["AllowedPattern"]
            .as_str()
            .unwrap()
            .contains(":listener/app/"),
        "{listeners}"
    );
    let transforms = tpl["Transform"].as_array().expect("a list of transforms");
    assert_eq!(
        transforms,
        &[
            json!("AWS::LanguageExtensions"),
            json!("AWS::Serverless-2016-10-31")
        ],
        "Fn::ForEach must be expanded before the SAM transform"
    );
    let (identifier, collection, fragment) = sam_loop(&tpl, "Resources", "ListenerRules");
    assert_eq!(*collection, r("ListenerArns"));
    let mut names: Vec<&str> = fragment
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort();
    let mut expected: Vec<String> = RULES
        .iter()
        .map(|n| format!("{n}&{{{identifier}}}"))
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    for name in RULES {
        let rule = sam_listener_resource(&tpl, name);
        assert_eq!(rule["Type"], "AWS::ElasticLoadBalancingV2::ListenerRule");
        assert_eq!(rule["Properties"]["ListenerArn"], r(identifier), "{name}");
    }
    // No listener rule outside the loop, and no single listener left anywhere.
    for (name, resource) in tpl["Resources"].as_object().unwrap() {
        assert_ne!(
            resource["Type"], "AWS::ElasticLoadBalancingV2::ListenerRule",
            "{name} is not created per listener"
        );
    }
    assert!(tpl["Parameters"].get("ListenerArn").is_none());
    // One output per listener and rule.
    let (_, collection, outputs) = sam_loop(&tpl, "Outputs", "ListenerRuleArns");
    assert_eq!(*collection, r("ListenerArns"));
    for name in RULES {
        let output = &outputs[format!("{name}Arn&{{{identifier}}}")];
        assert_eq!(
            output["Value"],
            json!({ "Ref": { "Fn::Sub": format!("{name}&{{{identifier}}}") } }),
            "{name}"
        );
    }
}

#[test]
fn terraform_creates_every_rule_on_every_listener_of_the_list() {
    let text = terraform();
    let variable = hcl_block(&text, r#"variable "listener_arns" {"#);
    assert_eq!(hcl_value(&variable, "type"), "list(string)");
    assert!(
        variable.contains("must belong to the same ALB"),
        "{variable}"
    );
    assert!(!text.contains("var.listener_arn\n") && !text.contains("var.listener_arn "));
    for (resource, count) in [
        (
            "app_catch_all",
            "local.want_app_catch_all ? length(var.listener_arns) : 0",
        ),
        ("maintenance", "length(var.listener_arns)"),
        // Behind the catch-all only (issue #20, item 2).
        (
            "fallback",
            "local.want_app_catch_all ? length(var.listener_arns) : 0",
        ),
        (
            "bypass_source_ip",
            "local.want_source_ip_bypass ? length(var.listener_arns) : 0",
        ),
        (
            "bypass_header",
            "local.want_header_bypass ? length(var.listener_arns) : 0",
        ),
        (
            "bypass_link",
            "local.want_bypass_link ? length(var.listener_arns) : 0",
        ),
    ] {
        let rule = hcl_block(
            &text,
            &format!("resource \"aws_lb_listener_rule\" \"{resource}\""),
        );
        assert_eq!(hcl_value(&rule, "count"), count, "{resource}");
        assert_eq!(
            hcl_value(&rule, "listener_arn"),
            "var.listener_arns[count.index]",
            "{resource}"
        );
    }
    // The single maintenance rule of an existing deployment becomes the first listener's.
    let moved = hcl_block(&text, "moved {");
    assert_eq!(
        hcl_value(&moved, "from"),
        "aws_lb_listener_rule.maintenance"
    );
    assert_eq!(
        hcl_value(&moved, "to"),
        "aws_lb_listener_rule.maintenance[0]"
    );
}

#[test]
fn sam_rules_carry_the_tags_maintctl_finds_them_by() {
    let tpl = sam();
    let rule = sam_listener_resource(&tpl, "MaintenanceRule");
    let rule_tags = sam_tags(rule);
    assert!(
        has_tag(&rule_tags, tags::ROLE, json!(tags::ROLE_MAINTENANCE)),
        "{rule_tags:?}"
    );
    assert!(has_tag(&rule_tags, tags::ENVIRONMENT, r("Environment")));
    assert!(has_tag(
        &rule_tags,
        tags::PARKED_PRIORITY,
        r("ParkedPriority")
    ));
    assert!(has_tag(&rule_tags, tags::CONTENT_PREFIX, r("SsmPrefix")));
    assert_eq!(rule["Properties"]["Priority"], r("ParkedPriority"));
    assert_eq!(
        rule["Properties"]["Actions"][0]["TargetGroupArn"],
        r("TargetGroup")
    );

    for (name, priority, condition) in [
        (
            "BypassSourceIpRule",
            "BypassSourceIpPriority",
            "CreateBypassSourceIpRule",
        ),
        (
            "BypassHeaderRule",
            "BypassHeaderPriority",
            "CreateBypassHeaderRule",
        ),
    ] {
        let rule = sam_listener_resource(&tpl, name);
        let rule_tags = sam_tags(rule);
        assert!(
            has_tag(&rule_tags, tags::ROLE, json!(tags::ROLE_BYPASS)),
            "{name}"
        );
        assert!(
            has_tag(&rule_tags, tags::ENVIRONMENT, r("Environment")),
            "{name}"
        );
        assert!(
            has_tag(&rule_tags, tags::PARKED_PRIORITY, r(priority)),
            "{name}"
        );
        assert_eq!(rule["Properties"]["Priority"], r(priority), "{name}");
        assert_eq!(rule["Condition"], condition, "{name} must be conditional");
    }
}

#[test]
fn terraform_rules_carry_the_tags_maintctl_finds_them_by() {
    let text = terraform();
    let roles = hcl_values(&text, tags::ROLE);
    assert!(roles.contains(&quoted(tags::ROLE_MAINTENANCE)), "{roles:?}");
    assert!(roles.contains(&quoted(tags::ROLE_BYPASS)), "{roles:?}");
    assert!(hcl_values(&text, tags::ENVIRONMENT).contains(&"var.environment".to_string()));
    assert!(
        hcl_values(&text, tags::PARKED_PRIORITY)
            .contains(&"tostring(var.parked_priority)".to_string())
    );
    assert_eq!(hcl_values(&text, tags::CONTENT_PREFIX), ["var.ssm_prefix"]);

    let rule = hcl_block(&text, r#"resource "aws_lb_listener_rule" "maintenance""#);
    assert_eq!(hcl_value(&rule, "priority"), "var.parked_priority");
    // maintctl's own tags and priority moves must survive the next apply. Its tags include a
    // varying number of `maintenance-responder:displaced*` keys and ignore_changes takes no
    // wildcard, so the module ignores the tags as a whole.
    let ignored = hcl_value(&rule, "ignore_changes");
    let ignored: Vec<&str> = ignored
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

/// The fallback rule: parked beside the maintenance rule, a fixed-response 503 `text/html`
/// page that is `deploy/fallback.html` as committed, which is what `maintctl fallback render`
/// gives for the embedded texts (so neither drifts); tagged as maintctl finds it; its page and
/// priority left to maintctl after creation.
#[test]
fn both_templates_create_the_fallback_rule_with_the_committed_page() {
    let page = read(&root().join("deploy/fallback.html"));
    let rendered =
        maintenance_engine::ops::fallback::default_page(&maintenance_core::site::Site::embedded());
    assert_eq!(
        page, rendered,
        "maintctl fallback render --out deploy/fallback.html"
    );
    let default_priority =
        deploy_names::DEFAULT_PARKED_PRIORITY - deploy_names::FALLBACK_PARKED_OFFSET;

    let tpl = sam();
    assert_eq!(
        sam_parameter(&tpl, "FallbackPriority")["Default"],
        default_priority
    );
    let rule = sam_listener_resource(&tpl, "FallbackRule");
    assert_eq!(rule["Properties"]["Priority"], r("FallbackPriority"));
    let action = &rule["Properties"]["Actions"][0];
    assert_eq!(action["Type"], "fixed-response");
    let config = &action["FixedResponseConfig"];
    assert_eq!(config["StatusCode"], deploy_names::FALLBACK_STATUS);
    assert_eq!(config["ContentType"], deploy_names::FALLBACK_CONTENT_TYPE);
    assert_eq!(
        config["MessageBody"],
        page.as_str(),
        "the SAM template's page"
    );
    assert_eq!(
        rule["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"],
        json!(["/*"])
    );
    let rule_tags = sam_tags(rule);
    assert!(has_tag(&rule_tags, tags::ROLE, json!(tags::ROLE_FALLBACK)));
    assert!(has_tag(&rule_tags, tags::ENVIRONMENT, r("Environment")));
    assert!(has_tag(
        &rule_tags,
        tags::PARKED_PRIORITY,
        r("FallbackPriority")
    ));

    let text = terraform();
    let literal = hcl_value(&text, "fallback_page");
    assert_eq!(literal, quoted(&page), "the Terraform module's page");
    assert_eq!(
        hcl_value(&text, "fallback_priority"),
        "coalesce(var.fallback_priority, var.parked_priority - 5)"
    );
    assert_eq!(deploy_names::FALLBACK_PARKED_OFFSET, 5);
    let rule = hcl_block(&text, r#"resource "aws_lb_listener_rule" "fallback""#);
    assert_eq!(hcl_value(&rule, "type"), quoted("fixed-response"));
    assert_eq!(
        hcl_value(&rule, "status_code"),
        quoted(deploy_names::FALLBACK_STATUS)
    );
    assert_eq!(
        hcl_value(&rule, "content_type"),
        quoted(deploy_names::FALLBACK_CONTENT_TYPE)
    );
    assert_eq!(hcl_value(&rule, "message_body"), "local.fallback_page");
    assert_eq!(hcl_value(&rule, "ignore_changes"), "[priority, action]");
    assert!(hcl_values(&text, tags::ROLE).contains(&quoted(tags::ROLE_FALLBACK)));
    assert!(
        hcl_values(&text, tags::PARKED_PRIORITY)
            .contains(&"tostring(local.fallback_priority)".to_string())
    );
}

/// A value of the SAM template as CloudFormation resolves it for `given` parameters (else the
/// parameter's default; `Listener`: the listener loop's ARN): `Ref` to a parameter, `Fn::Join`,
/// a literal; a `Ref` to a resource is its logical ID, any other intrinsic `null`.
fn sam_resolve(tpl: &Value, value: &Value, given: &Value, listener: &str) -> Value {
    let Some(object) = value.as_object() else {
        return value.clone();
    };
    if let Some(name) = object.get("Ref").and_then(Value::as_str) {
        if name == "Listener" {
            return json!(listener);
        }
        let Some(parameter) = tpl["Parameters"].get(name) else {
            return json!(name);
        };
        let v = given.get(name).unwrap_or(&parameter["Default"]).clone();
        return match (parameter["Type"].as_str(), &v) {
            (Some("CommaDelimitedList"), Value::String(s)) => {
                json!(s.split(',').filter(|p| !p.is_empty()).collect::<Vec<_>>())
            }
            _ => v,
        };
    }
    if let Some([separator, list]) = object
        .get("Fn::Join")
        .and_then(|j| j.as_array())
        .map(Vec::as_slice)
    {
        let items = sam_resolve(tpl, list, given, listener);
        let parts: Vec<String> = as_list(&items)
            .iter()
            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string))
            .collect();
        return json!(parts.join(separator.as_str().unwrap()));
    }
    Value::Null
}

/// A condition of the SAM template, evaluated as CloudFormation does for `given` parameters.
fn sam_condition(tpl: &Value, condition: &Value, given: &Value) -> bool {
    if let Some(name) = condition.as_str() {
        let body = tpl["Conditions"]
            .get(name)
            .unwrap_or_else(|| panic!("SAM template: no condition {name}"));
        return sam_condition(tpl, body, given);
    }
    let (function, args) = condition.as_object().unwrap().iter().next().unwrap();
    let args = as_list(args);
    match function.as_str() {
        "Condition" => sam_condition(tpl, &args[0], given),
        "Fn::Not" => !sam_condition(tpl, &args[0], given),
        "Fn::And" => args.iter().all(|c| sam_condition(tpl, c, given)),
        "Fn::Or" => args.iter().any(|c| sam_condition(tpl, c, given)),
        "Fn::Equals" => {
            let text = |v: &Value| match sam_resolve(tpl, v, given, "") {
                Value::String(s) => s,
                other => other.to_string(),
            };
            text(&args[0]) == text(&args[1])
        }
        other => panic!("SAM template: condition function {other} not evaluated here"),
    }
}

/// The listener rules the SAM template creates on `listener` for `given` parameters, as
/// `maintctl` reads them back.
fn sam_rules_created(tpl: &Value, given: &Value, listener: &str) -> Vec<RuleView> {
    let (_, _, fragment) = sam_loop(tpl, "Resources", "ListenerRules");
    let resolve = |v: &Value| sam_resolve(tpl, v, given, listener);
    let text = |v: &Value| match resolve(v) {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let mut rules = Vec::new();
    for (name, resource) in fragment.as_object().unwrap() {
        if resource["Type"] != "AWS::ElasticLoadBalancingV2::ListenerRule"
            || resource
                .get("Condition")
                .is_some_and(|c| !sam_condition(tpl, c, given))
        {
            continue;
        }
        let p = &resource["Properties"];
        assert_eq!(resolve(&p["ListenerArn"]), json!(listener), "{name}");
        let conditions = as_list(&p["Conditions"])
            .iter()
            .map(|c| {
                let strings =
                    |v: &Value| -> Vec<String> { as_list(&resolve(v)).iter().map(&text).collect() };
                match c["Field"].as_str().unwrap() {
                    "path-pattern" => Condition::PathPattern {
                        values: strings(&c["PathPatternConfig"]["Values"]),
                    },
                    "source-ip" => Condition::SourceIp {
                        values: strings(&c["SourceIpConfig"]["Values"]),
                    },
                    "http-header" => Condition::HttpHeader {
                        name: text(&c["HttpHeaderConfig"]["HttpHeaderName"]),
                        values: c["HttpHeaderConfig"]["Values"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(&text)
                            .collect(),
                    },
                    other => Condition::Other {
                        name: other.into(),
                        values: Vec::new(),
                    },
                }
            })
            .collect();
        let a = &p["Actions"][0];
        let action = match a["Type"].as_str().unwrap() {
            "forward" => ActionSummary::Forward {
                target_groups: vec![text(&a["TargetGroupArn"])],
                weights: Vec::new(),
            },
            "fixed-response" => ActionSummary::FixedResponse {
                status: text(&a["FixedResponseConfig"]["StatusCode"]),
                content_type: text(&a["FixedResponseConfig"]["ContentType"]),
                body: text(&a["FixedResponseConfig"]["MessageBody"]),
            },
            other => ActionSummary::Other { kind: other.into() },
        };
        rules.push(RuleView {
            arn: format!("{listener}/{name}"),
            actions: Vec::new(),
            priority: Some(text(&p["Priority"]).parse().unwrap()),
            conditions,
            action,
            tags: sam_tags(resource)
                .iter()
                .map(|(k, v)| (k.clone(), text(v)))
                .collect(),
        });
    }
    rules
}

/// A listener with one rule of the application's own that is no catch-all (`/app/*`) and a
/// default rule answering 404, with `created` added: what answers a page, a path no rule names
/// and a health check while maintenance is off, and what should not.
fn answers_while_off(
    created: Vec<RuleView>,
    health_path: &str,
) -> (Vec<KindAnswer>, Vec<Misroute>) {
    let listener = ListenerInfo {
        arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1/2".into(),
        load_balancer:
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/1".into(),
        protocol: "HTTP".into(),
        port: Some(80),
    };
    let mut rules = vec![RuleView {
        arn: "app-rule".into(),
        actions: Vec::new(),
        priority: Some(10),
        conditions: vec![Condition::PathPattern {
            values: vec!["/app/*".into()],
        }],
        action: ActionSummary::Forward {
            target_groups: vec!["app".into()],
            weights: Vec::new(),
        },
        tags: Default::default(),
    }];
    rules.extend(created);
    rules.sort_by_key(|r| r.priority);
    rules.push(RuleView {
        arn: "default".into(),
        actions: Vec::new(),
        priority: None,
        conditions: Vec::new(),
        action: ActionSummary::FixedResponse {
            status: "404".into(),
            content_type: "text/plain".into(),
            body: "not found".into(),
        },
        tags: Default::default(),
    });
    let snapshot = ListenerSnapshot::new(listener, rules);
    let answers = snapshot.answers(health_path);
    let misrouted = snapshot.misrouted(State::Off, &answers);
    (answers, misrouted)
}

/// Issue #20, item 2: with AllowFallthrough / allow_fallthrough and no application catch-all,
/// no rule the templates create answers a page, a path no rule names or a health check with
/// the ALB's bare 503 while maintenance is off (the parked fallback rule did, before the
/// maintenance rule): as `maintctl attach --allow-fallthrough`, the maintenance rule is created
/// (it answers what the application's rules leave over, as the option says) and the fallback
/// rule is not. The SAM template is evaluated for those parameters and its rules put on a
/// listener, evaluated as the ALB does (`planner::routing`); the Terraform module is applied in
/// tests/deploy/terraform.rs.
#[test]
fn with_fallthrough_and_no_catch_all_no_template_rule_answers_with_a_bare_503() {
    let tpl = sam();
    let health = sam_parameter(&tpl, "HealthPath")["Default"]
        .as_str()
        .unwrap()
        .to_string();
    let listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1/2";
    let roles = |rules: &[RuleView]| -> Vec<(u32, Role)> {
        rules
            .iter()
            .map(|r| (r.priority.unwrap(), r.role()))
            .collect()
    };

    // With the application's target group: the catch-all answers everything, nothing parked
    // does.
    let app = json!({ "AppTargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/1" });
    let created = sam_rules_created(&tpl, &app, listener);
    assert_eq!(
        roles(&created),
        [
            (49_990, Role::App),
            (49_995, Role::Fallback),
            (50_000, Role::Maintenance)
        ]
    );
    let (answers, misrouted) = answers_while_off(created, &health);
    assert_eq!(answers.len(), 3);
    for a in &answers {
        assert_eq!((a.priority, a.role), (Some(49_990), Role::App), "{a}");
    }
    assert_eq!(misrouted, Vec::<Misroute>::new());

    // AllowFallthrough, no application target group: the maintenance rule only; it answers the
    // page and the unknown path (the maintenance page, as the option says: a warning) and the
    // health checks (the responder's health route, 200); nothing answers with a bare 503.
    let fallthrough = json!({ "AllowFallthrough": "true" });
    let created = sam_rules_created(&tpl, &fallthrough, listener);
    assert_eq!(roles(&created), [(50_000, Role::Maintenance)]);
    let (answers, misrouted) = answers_while_off(created, &health);
    for a in &answers {
        assert_eq!(
            (a.priority, a.role),
            (Some(50_000), Role::Maintenance),
            "{a}"
        );
    }
    assert_eq!(misrouted.len(), 1, "{misrouted:?}");
    assert!(!misrouted[0].severe, "{misrouted:?}");
    assert_eq!(misrouted[0].role, Role::Maintenance);

    // The check can fail: the fallback rule created with the maintenance rule again (as it
    // was) answers every one of them with the ALB's bare 503.
    let mut old = tpl.clone();
    let key = format!(
        "FallbackRule&{{{}}}",
        sam_loop(&tpl, "Resources", "ListenerRules").0
    );
    old["Resources"]["Fn::ForEach::ListenerRules"][2][&key]["Condition"] =
        json!("CreateMaintenanceRule");
    let created = sam_rules_created(&old, &fallthrough, listener);
    let (answers, misrouted) = answers_while_off(created, &health);
    assert!(
        answers.iter().all(|a| a.role == Role::Fallback),
        "{answers:?}"
    );
    assert!(
        misrouted
            .iter()
            .any(|m| m.severe && m.role == Role::Fallback),
        "{misrouted:?}"
    );

    // The module counts its fallback rules the same way
    // (terraform_creates_every_rule_on_every_listener_of_the_list), and refuses one parked
    // before the catch-all (where it would answer what the application's rules leave over).
    let text = terraform();
    let rule = hcl_block(&text, r#"resource "aws_lb_listener_rule" "fallback""#);
    assert!(
        rule.contains("local.fallback_priority > var.app_catch_all_priority"),
        "{rule}"
    );
    assert_eq!(
        sam_listener_resource(&tpl, "FallbackRule")["Condition"],
        "HasAppTargetGroup"
    );
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

    // SAM
    let tpl = sam();
    assert_eq!(
        sam_parameter(&tpl, "AppCatchAllPriority")["Default"],
        json!(APP_CATCH_ALL_PRIORITY)
    );
    for name in ["BypassSourceIpPriority", "BypassHeaderPriority"] {
        let default = sam_parameter(&tpl, name)["Default"].as_u64().unwrap() as u32;
        assert!(
            APP_CATCH_ALL_PRIORITY < default && default < deploy_names::DEFAULT_PARKED_PRIORITY,
            "{name} default {default}"
        );
    }
    assert_eq!(sam_parameter(&tpl, "AllowFallthrough")["Default"], "false");

    let (identifier, _, _) = sam_loop(&tpl, "Resources", "ListenerRules");
    let rule = sam_listener_resource(&tpl, "AppCatchAllRule");
    let properties = &rule["Properties"];
    assert_eq!(properties["Priority"], r("AppCatchAllPriority"));
    assert_eq!(rule["Condition"], "HasAppTargetGroup");
    assert_eq!(
        properties["Conditions"][0]["PathPatternConfig"]["Values"],
        json!(["/*"])
    );
    assert_eq!(
        properties["Actions"][0]["TargetGroupArn"],
        r("AppTargetGroupArn")
    );
    let rule_tags = sam_tags(rule);
    assert!(
        has_tag(&rule_tags, "Name", json!(APP_CATCH_ALL_NAME)),
        "{rule_tags:?}"
    );
    // No maintctl tag at all: one without a role is a rule that lost its role tag to maintctl,
    // which then refuses attach and every switch (tests/deploy/terraform.rs runs it on the module's
    // rules).
    assert!(
        rule_tags
            .iter()
            .all(|(key, _)| !key.starts_with("maintenance-responder:")),
        "maintctl reads a maintctl tag without a role as a lost role tag: {rule_tags:?}"
    );

    // The maintenance rule depends on its own listener's catch-all (a Ref in its Metadata: a
    // DependsOn cannot name a resource whose condition may be false).
    let maintenance = sam_listener_resource(&tpl, "MaintenanceRule");
    assert_eq!(maintenance["Condition"], "CreateMaintenanceRule");
    assert_eq!(
        maintenance["Metadata"]["AfterAppCatchAll"],
        json!({ "Fn::If": [
            "HasAppTargetGroup",
            { "Ref": { "Fn::Sub": format!("AppCatchAllRule&{{{identifier}}}") } },
            "none",
        ] })
    );
    let rule = serde_json::to_string(&tpl["Rules"]["MaintenanceRuleNeedsAppCatchAll"]).unwrap();
    assert!(rule.contains(r#"{"Ref":"AppTargetGroupArn"}"#), "{rule}");
    assert!(rule.contains("AllowFallthrough=true"), "{rule}");

    // Terraform
    let text = terraform();
    let priority = hcl_block(&text, r#"variable "app_catch_all_priority""#);
    assert_eq!(
        hcl_value(&priority, "default"),
        APP_CATCH_ALL_PRIORITY.to_string()
    );
    let fallthrough = hcl_block(&text, r#"variable "allow_fallthrough""#);
    assert_eq!(hcl_value(&fallthrough, "default"), "false");
    assert_eq!(hcl_values(&text, "Name"), [quoted(APP_CATCH_ALL_NAME)]);

    let rule = hcl_block(&text, r#"resource "aws_lb_listener_rule" "app_catch_all""#);
    assert_eq!(hcl_value(&rule, "priority"), "var.app_catch_all_priority");
    assert_eq!(
        hcl_value(&rule, "target_group_arn"),
        "var.app_target_group_arn"
    );
    assert_eq!(hcl_value(&rule, "values"), r#"["/*"]"#);
    assert_eq!(hcl_value(&rule, "tags"), "local.app_catch_all_rule_tags");
    let rule_tags = hcl_block(&text, "  app_catch_all_rule_tags = ");
    assert!(!rule_tags.contains("maintenance-responder:"), "{rule_tags}");
    assert!(!rule_tags.contains("common_tags"), "{rule_tags}");

    let maintenance = hcl_block(&text, r#"resource "aws_lb_listener_rule" "maintenance""#);
    assert_eq!(
        hcl_value(&maintenance, "depends_on"),
        "[aws_lb_listener_rule.app_catch_all]"
    );
    assert!(
        maintenance.contains("local.want_app_catch_all || var.allow_fallthrough"),
        "{maintenance}"
    );
}

#[test]
fn templates_default_to_the_parked_priority_and_health_path() {
    let tpl = sam();
    assert_eq!(
        sam_parameter(&tpl, "ParkedPriority")["Default"],
        json!(deploy_names::DEFAULT_PARKED_PRIORITY)
    );
    assert_eq!(
        sam_parameter(&tpl, "HealthPath")["Default"],
        deploy_names::DEFAULT_HEALTH_PATH
    );
    let group = &sam_resource(&tpl, "TargetGroup")["Properties"];
    assert_eq!(group["HealthCheckPath"], r("HealthPath"));
    assert_eq!(group["TargetType"], "lambda");
    assert_eq!(
        group["Name"],
        json!({ "Fn::Sub": format!("{}-${{Environment}}", function::TARGET_GROUP_PREFIX) })
    );

    let text = terraform();
    let priority = hcl_block(&text, r#"variable "parked_priority""#);
    assert_eq!(
        hcl_value(&priority, "default"),
        deploy_names::DEFAULT_PARKED_PRIORITY.to_string()
    );
    let health = hcl_block(&text, r#"variable "health_path""#);
    assert_eq!(
        hcl_value(&health, "default"),
        quoted(deploy_names::DEFAULT_HEALTH_PATH)
    );
    let group = hcl_block(&text, r#"resource "aws_lb_target_group" "this""#);
    assert_eq!(hcl_value(&group, "path"), "var.health_path");
    assert_eq!(hcl_value(&group, "target_type"), quoted("lambda"));
    assert_eq!(
        hcl_value(&group, "name"),
        quoted(&format!(
            "{}-${{var.environment}}",
            function::TARGET_GROUP_PREFIX
        ))
    );
}

#[test]
fn invoke_permission_is_granted_before_the_target_is_registered() {
    let tpl = sam();
    let group = sam_resource(&tpl, "TargetGroup");
    assert_eq!(group["DependsOn"], "InvokePermission");
    assert_eq!(
        group["Properties"]["Targets"],
        json!([{ "Id": r("Function.Alias") }])
    );
    let permission = &sam_resource(&tpl, "InvokePermission")["Properties"];
    assert_eq!(
        permission["Principal"],
        "elasticloadbalancing.amazonaws.com"
    );
    assert_eq!(permission["FunctionName"], r("Function.Alias"));
    assert_eq!(permission["SourceAccount"], r("AWS::AccountId"));
    let source = permission["SourceArn"]["Fn::Sub"].as_str().unwrap();
    assert!(
        source.ends_with(&format!(
            ":targetgroup/{}-${{Environment}}/*",
            function::TARGET_GROUP_PREFIX
        )),
        "{source}"
    );

    let text = terraform();
    let attachment = hcl_block(&text, r#"resource "aws_lb_target_group_attachment" "this""#);
    assert_eq!(
        hcl_value(&attachment, "depends_on"),
        "[aws_lambda_permission.alb]"
    );
    let permission = hcl_block(&text, r#"resource "aws_lambda_permission" "alb""#);
    assert_eq!(
        hcl_value(&permission, "principal"),
        quoted("elasticloadbalancing.amazonaws.com")
    );
    assert_eq!(
        hcl_value(&permission, "source_arn"),
        "aws_lb_target_group.this.arn"
    );
    assert_eq!(
        hcl_value(&permission, "qualifier"),
        "aws_lambda_alias.live.name"
    );
}

// ------------------------------------------------------------------------ alarms

#[test]
fn both_templates_can_alarm_on_throttles_errors_and_the_albs_502s_off_by_default() {
    let tpl = sam();
    for parameter in ["FunctionAlarms", "AlbAlarms"] {
        assert_eq!(
            sam_parameter(&tpl, parameter)["Default"],
            "false",
            "{parameter}"
        );
        let description = sam_parameter(&tpl, parameter)["Description"]
            .as_str()
            .unwrap();
        assert!(description.contains("USD 0.10 a month"), "{description}");
    }
    assert_eq!(sam_parameter(&tpl, "AlarmTopicArn")["Default"], "");
    for (name, condition, namespace, metric, dimensions) in [
        (
            "ThrottlesAlarm",
            "CreateFunctionAlarms",
            "AWS/Lambda",
            "Throttles",
            vec!["FunctionName"],
        ),
        (
            "ErrorsAlarm",
            "CreateFunctionAlarms",
            "AWS/Lambda",
            "Errors",
            vec!["FunctionName"],
        ),
        (
            "Elb502Alarm",
            "CreateAlbAlarms",
            "AWS/ApplicationELB",
            "HTTPCode_ELB_502_Count",
            vec!["LoadBalancer"],
        ),
        (
            "LambdaUserErrorAlarm",
            "CreateAlbAlarms",
            "AWS/ApplicationELB",
            "LambdaUserError",
            vec!["TargetGroup", "LoadBalancer"],
        ),
    ] {
        let alarm = sam_resource(&tpl, name);
        assert_eq!(alarm["Type"], "AWS::CloudWatch::Alarm", "{name}");
        assert_eq!(alarm["Condition"], condition, "{name}");
        let properties = &alarm["Properties"];
        assert_eq!(properties["Namespace"], namespace, "{name}");
        assert_eq!(properties["MetricName"], metric, "{name}");
        let names: Vec<&str> = properties["Dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, dimensions, "{name}");
        // Without AutoFallback (the default): the topic only, and no data is not breaching.
        // With it: `both_templates_can_let_the_responders_alarms_swap_in_the_fallback_page`.
        let actions =
            json!({ "Fn::If": ["HasAlarmTopic", [r("AlarmTopicArn")], r("AWS::NoValue")] });
        assert_eq!(properties["AlarmActions"]["Fn::If"][2], actions, "{name}");
        assert_eq!(properties["OKActions"]["Fn::If"][2], actions, "{name}");
        assert_eq!(
            properties["TreatMissingData"]["Fn::If"][2], "notBreaching",
            "{name}"
        );
    }
    assert_eq!(
        sam_resource(&tpl, "LambdaUserErrorAlarm")["Properties"]["Dimensions"][0]["Value"],
        json!({ "Fn::GetAtt": ["TargetGroup", "TargetGroupFullName"] })
    );

    let text = terraform();
    for variable in ["function_alarms", "alb_alarms"] {
        let block = hcl_block(&text, &format!("variable \"{variable}\" {{"));
        assert_eq!(hcl_value(&block, "default"), "false", "{variable}");
        assert!(block.contains("USD 0.10 a month"), "{block}");
    }
    let function_alarms = hcl_block(&text, "  function_alarms = ");
    assert!(function_alarms.contains(r#"metric      = "Throttles""#));
    assert!(function_alarms.contains(r#"metric      = "Errors""#));
    let alarm = hcl_block(
        &text,
        r#"resource "aws_cloudwatch_metric_alarm" "function""#,
    );
    assert_eq!(hcl_value(&alarm, "namespace"), quoted("AWS/Lambda"));
    assert_eq!(
        hcl_value(&alarm, "dimensions"),
        "{ FunctionName = aws_lambda_function.this.function_name }"
    );
    let alarm = hcl_block(&text, r#"resource "aws_cloudwatch_metric_alarm" "elb_502""#);
    assert_eq!(
        hcl_value(&alarm, "metric_name"),
        quoted("HTTPCode_ELB_502_Count")
    );
    assert_eq!(hcl_value(&alarm, "count"), "var.alb_alarms ? 1 : 0");
    assert_eq!(
        hcl_value(&alarm, "dimensions"),
        "{ LoadBalancer = local.alb_arn_suffix }"
    );
    let alarm = hcl_block(
        &text,
        r#"resource "aws_cloudwatch_metric_alarm" "lambda_user_error""#,
    );
    assert_eq!(hcl_value(&alarm, "metric_name"), quoted("LambdaUserError"));
    assert_eq!(
        hcl_value(&alarm, "dimensions"),
        "{ TargetGroup = aws_lb_target_group.this.arn_suffix, LoadBalancer = local.alb_arn_suffix }"
    );
    // The topic only unless auto_fallback adds the switch function.
    assert_eq!(
        text.matches("alarm_actions       = local.responder_alarm_actions")
            .count(),
        3
    );
    assert_eq!(
        text.matches("ok_actions          = local.responder_alarm_actions")
            .count(),
        3
    );
    assert!(text.contains(
        "responder_alarm_actions = concat(local.want_fallback_alarms ? \
         aws_lambda_function.switch[*].arn : [], local.alarm_actions)"
    ));
    assert!(text.contains(
        r#"responder_missing_data  = local.want_fallback_alarms ? "missing" : "notBreaching""#
    ));
}

// ------------------------------------------------------------------ permissions

/// What `maintctl` calls on ELBv2 to read and switch, and what `doctor` reads and invokes;
/// `attach` adds CreateRule.
const SWITCHING_ACTIONS: [&str; 12] = [
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:SetRulePriorities",
    "elasticloadbalancing:AddTags",
    "lambda:InvokeFunction",
    "lambda:GetFunctionConcurrency",
    "lambda:GetAccountSettings",
];
/// Nobody needs these (README, Runbook): maintctl never removes tags or deletes rules, and
/// switching creates nothing. (ModifyRule is granted on the cookie bypass rule and the fallback
/// rules only: `the_switching_policy_modifies_the_cookie_bypass_rule_only` and below.)
const NEVER_FOR_SWITCHING: [&str; 3] = [
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:RemoveTags",
    "elasticloadbalancing:DeleteRule",
];
/// `message set` modifies the fallback rules' page, and no other rule.
const MODIFY_RULE: &str = "elasticloadbalancing:ModifyRule";
const FALLBACK_ONLY: &str = "aws:ResourceTag/maintenance-responder:role";

#[test]
fn operators_get_a_switching_policy_without_create_rule_or_remove_tags_and_an_attach_policy() {
    let tpl = sam();
    let switching = sam_resource(&tpl, "SwitchingPolicy");
    assert_eq!(switching["Type"], "AWS::IAM::ManagedPolicy");
    assert!(switching.get("Condition").is_none(), "always created");
    let actions = policy_actions(&switching["Properties"]["PolicyDocument"]);
    let names: Vec<&str> = actions.iter().map(|(_, a)| a.as_str()).collect();
    for action in SWITCHING_ACTIONS {
        assert!(
            names.contains(&action),
            "switching policy lacks {action}: {names:?}"
        );
    }
    for action in NEVER_FOR_SWITCHING {
        assert!(!names.contains(&action), "switching policy grants {action}");
    }
    assert!(
        !names
            .iter()
            .any(|a| a.ends_with(":Describe*") || a.ends_with(":*"))
    );
    // ModifyRule in two statements, each limited by a tag: the fallback rules' page here, the
    // cookie bypass rule's token in `the_switching_policy_modifies_the_cookie_bypass_rule_only`.
    let modify: Vec<&str> = actions
        .iter()
        .filter(|(_, a)| a == MODIFY_RULE)
        .map(|(sid, _)| sid.as_str())
        .collect();
    assert_eq!(
        modify,
        ["RefreshFallbackPage", "SetBypassLinkToken"],
        "{actions:?}"
    );
    let statement = switching["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "RefreshFallbackPage")
        .unwrap();
    assert_eq!(
        statement["Condition"]["StringEquals"][FALLBACK_ONLY],
        tags::ROLE_FALLBACK,
        "ModifyRule only on the fallback rules: {statement}"
    );
    let attach = sam_resource(&tpl, "AttachPolicy");
    assert_eq!(attach["Condition"], "CreateAttachPolicyResource");
    assert_eq!(
        sam_parameter(&tpl, "CreateAttachPolicy")["Default"],
        "false"
    );
    let actions = policy_actions(&attach["Properties"]["PolicyDocument"]);
    assert_eq!(
        actions,
        [
            (
                "CreateRules".to_string(),
                "elasticloadbalancing:CreateRule".to_string()
            ),
            (
                "TagOnCreate".to_string(),
                "elasticloadbalancing:AddTags".to_string()
            ),
        ]
    );
    assert!(tpl["Resources"].get("OperatorPolicy").is_none());

    let text = terraform();
    let switching = hcl_block(&text, r#"data "aws_iam_policy_document" "switching""#);
    for action in SWITCHING_ACTIONS {
        assert!(
            switching.contains(&quoted(action)),
            "switching policy lacks {action}"
        );
    }
    for action in NEVER_FOR_SWITCHING {
        assert!(
            !switching.contains(action),
            "switching policy grants {action}"
        );
    }
    assert_eq!(switching.matches(MODIFY_RULE).count(), 2);
    let modify = &switching[switching
        .find(r#""RefreshFallbackPage""#)
        .expect("RefreshFallbackPage")..];
    let modify = &modify[..modify.find("statement {").unwrap_or(modify.len())];
    assert!(
        modify.contains(&quoted(FALLBACK_ONLY)) && modify.contains(r#"["fallback"]"#),
        "ModifyRule only on the fallback rules: {modify}"
    );
    let attach = hcl_block(&text, r#"data "aws_iam_policy_document" "attach""#);
    assert!(
        attach.contains(r#"["elasticloadbalancing:CreateRule"]"#),
        "{attach}"
    );
    assert!(
        attach.contains(r#""elasticloadbalancing:CreateAction""#),
        "{attach}"
    );
    for (resource, create) in [
        ("switching", "var.create_switching_policy"),
        ("attach", "var.create_attach_policy"),
    ] {
        let policy = hcl_block(
            &text,
            &format!("resource \"aws_iam_policy\" \"{resource}\""),
        );
        assert_eq!(hcl_value(&policy, "count"), format!("{create} ? 1 : 0"));
        assert_eq!(
            hcl_value(&policy, "policy"),
            format!("data.aws_iam_policy_document.{resource}.json")
        );
    }
    let default = |variable: &str| {
        hcl_value(
            &hcl_block(&text, &format!("variable \"{variable}\" {{")),
            "default",
        )
    };
    assert_eq!(default("create_switching_policy"), "true");
    assert_eq!(default("create_attach_policy"), "false");
    assert!(!text.contains("aws_iam_policy_document\" \"operator\""));
}

/// IAM names are global to the account, so two regions' deployments of one environment must
/// not collide: Terraform puts the region in them; CloudFormation generates them.
#[test]
fn iam_names_carry_the_region() {
    let text = terraform();
    assert!(
        text.contains(r#"iam_name = "${local.name}-${local.region}""#),
        "the module's IAM name prefix"
    );
    let role = hcl_block(&text, r#"resource "aws_iam_role" "this""#);
    assert_eq!(hcl_value(&role, "name"), "local.iam_name");
    for policy in ["switching", "attach"] {
        let block = hcl_block(&text, &format!("resource \"aws_iam_policy\" \"{policy}\""));
        assert_eq!(
            hcl_value(&block, "name"),
            format!("\"${{local.iam_name}}-{policy}\"")
        );
    }
    let tpl = sam();
    for (name, key) in [
        ("ExecutionRole", "RoleName"),
        ("SwitchingPolicy", "ManagedPolicyName"),
        ("AttachPolicy", "ManagedPolicyName"),
    ] {
        assert!(
            sam_resource(&tpl, name)["Properties"].get(key).is_none(),
            "{name}: a fixed {key} collides across regions; CloudFormation generates one"
        );
    }
}

// --------------------------------------------------------------- the module from git

#[test]
fn terraform_module_is_usable_from_git() {
    let text = terraform();
    // No default that points into the ignored dist/ of the module's own checkout.
    let package = hcl_block(&text, r#"variable "package_path" {"#);
    assert!(hcl_values(&package, "default").is_empty(), "{package}");
    assert!(
        !text.contains("path.module}/../../dist"),
        "a path into the module's checkout"
    );
    for output in [
        "function_name",
        "function_arn",
        "alias_name",
        "alias_arn",
        "target_group_arn",
        "target_group_arn_suffix",
        "log_group_name",
        "maintenance_rule_arns",
        "switching_policy_json",
        "attach_policy_json",
    ] {
        hcl_block(&text, &format!("output \"{output}\" {{"));
    }
}

// ------------------------------------------------------------------- cfn-lint

#[test]
fn sam_template_passes_cfn_lint() {
    let lint = cfn_lint();
    let template = sam_path();
    let output = run(Command::new(&lint).arg("--").arg(&template));
    assert!(
        output.status.success(),
        "cfn-lint {}: {}",
        template.display(),
        describe(&output)
    );

    // The same linter must reject a broken copy, or the pass above proves nothing: once with a
    // dangling Ref inside the per-listener loop, once with one to a rule of the loop.
    let dir = tempfile::tempdir().unwrap();
    let text = sam_text();
    for (good, bad) in [
        (
            "TargetGroupArn: !Ref TargetGroup\n",
            "TargetGroupArn: !Ref NoSuchTargetGroup\n",
        ),
        (
            "Ref: !Sub AppCatchAllRule&{Listener}\n",
            "Ref: !Sub NoSuchRule&{Listener}\n",
        ),
    ] {
        assert!(text.contains(good), "{good}");
        let broken = dir.path().join("template.yaml");
        fs::write(&broken, text.replace(good, bad)).unwrap();
        let output = run(Command::new(&lint).arg("--").arg(&broken));
        assert!(
            !output.status.success(),
            "cfn-lint accepted {bad:?}: {}",
            describe(&output)
        );
    }
}

/// docs/deploy.md's arm64 recipe for SAM (which packages only the literal CodeUri): the copy it
/// makes names the arm64 packages of both functions and lints as clean as the original.
#[test]
fn sam_arm64_copy_of_the_template_lints_clean() {
    const X86: [&str; 2] = [
        "CodeUri: ../../dist/bootstrap.zip\n",
        "CodeUri: ../../dist/maintenance-switch/bootstrap.zip\n",
    ];
    const ARM: [&str; 2] = [
        "CodeUri: ../../dist/arm64/bootstrap.zip\n",
        "CodeUri: ../../dist/maintenance-switch/arm64/bootstrap.zip\n",
    ];
    let text = sam_text();
    assert_eq!(
        text.matches("CodeUri: ").count(),
        2,
        "the recipe replaces two lines"
    );
    let readme = read(&root().join("docs/deploy.md"));
    let mut copy_text = text.clone();
    for (x86, arm) in X86.iter().zip(ARM) {
        assert_eq!(text.matches(x86).count(), 1, "{x86}");
        let (x86, arm) = (x86.trim_end(), arm.trim_end());
        assert!(
            readme.contains(&format!("s|{x86}|{arm}|")),
            "docs/deploy.md's arm64 recipe: s|{x86}|{arm}|"
        );
        copy_text = copy_text.replace(x86, arm);
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("template-arm64.yaml");
    fs::write(&copy, copy_text).unwrap();
    let output = run(Command::new(cfn_lint()).arg("--").arg(&copy));
    assert!(output.status.success(), "{}", describe(&output));
}

// ------------------------------------------------------------------ terraform

/// The module and a root module of `deploy/terraform/test/` in a temporary folder, initialised
/// offline (tests/common/terraform.rs).
struct TerraformRoot(Root);

impl TerraformRoot {
    fn init(name: &str, edit: impl FnOnce(String) -> String) -> Self {
        let root = Root::copy(name, edit);
        root.init();
        Self(root)
    }

    fn validate(&self) -> Output {
        self.0.run(&["validate"])
    }
}

#[test]
fn terraform_module_validates_called_with_two_listeners() {
    let tf = TerraformRoot::init("two-listeners", |main| {
        assert_eq!(main.matches(":listener/app/shop/").count(), 2, "{main}");
        main
    });
    let output = tf.validate();
    assert!(output.status.success(), "{}", describe(&output));

    // validate must reject what the module refuses, or the pass above proves nothing.
    let tf = TerraformRoot::init("two-listeners", |main| {
        main.replacen(
            "listener/app/shop/0123456789abcdef/00000000000000b2",
            "listener/app/other/fedcba9876543210/00000000000000b2",
            1,
        )
        .replacen(
            "  ssm_prefix ",
            "  reserved_concurrency = 0\n  ssm_prefix ",
            1,
        )
    });
    let output = tf.validate();
    // terraform wraps its messages: compare with the line breaks as spaces.
    let text = describe(&output)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("must belong to the same ALB"), "{text}");
    assert!(text.contains("0 would throttle every request"), "{text}");
}

#[test]
fn terraform_module_validates_with_every_option_on() {
    let tf = TerraformRoot::init("every-option", |main| {
        for (option, value) in [
            ("architecture", r#""arm64""#),
            ("provisioned_concurrency", "5"),
            ("function_alarms", "true"),
            ("alb_alarms", "true"),
            ("create_nlb", "true"),
            ("create_attach_policy", "true"),
            ("lambda_multi_value_headers_enabled", "true"),
            ("bypass_link", "true"),
            ("auto_fallback", "true"),
        ] {
            assert_eq!(hcl_values(&main, option), [value], "every-option: {option}");
        }
        for option in [
            "alarm_topic_arn",
            "bypass_header_name",
            "bypass_source_cidrs",
            "ssm_kms_key_arn",
            "log_level",
            "tags",
        ] {
            assert_eq!(
                hcl_values(&main, option).len(),
                1,
                "every-option lacks {option}"
            );
        }
        main
    });
    let output = tf.validate();
    assert!(output.status.success(), "{}", describe(&output));
}

#[test]
fn terraform_files_are_formatted() {
    let output = run(Command::new(terraform_bin())
        .args(["fmt", "-check", "-recursive", "-no-color"])
        .arg(root().join("deploy/terraform"))
        .env("TF_CLI_CONFIG_FILE", terraform_cli_config())
        .env("CHECKPOINT_DISABLE", "1"));
    assert!(
        output.status.success(),
        "terraform fmt -check (run terraform fmt -recursive deploy/terraform): {}",
        describe(&output)
    );
}

// ----------------------------------------------------------------- check-glibc

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

/// scripts/package builds both functions for both architectures, each from its own package (so
/// with only what that package's Cargo.toml lists), and checks each one's glibc before it goes
/// to dist/; the responder's zip carries the time zone database the templates' TZDIR points at
/// (tests/packages/package.rs reads the zips).
#[test]
fn package_builds_both_architectures_and_checks_each() {
    let script = read(&root().join("scripts/package"));
    assert!(
        script.contains(r#"BINARIES=(maintenance-responder maintenance-switch)"#),
        "{script}"
    );
    assert!(
        script.contains(r#"--package "$bin""#),
        "each function from its own package (the responder's has no switching engine, the \
         switch function's no CLI)"
    );
    // One feature, the responder's `lambda-package`, and it selects no code of ours: it only
    // compiles the TRACE lines out (issue #25). What a function links is its package's.
    let features: Vec<&str> = script
        .lines()
        .filter(|line| line.contains("--features") && !line.trim_start().starts_with('#'))
        .collect();
    assert_eq!(
        features,
        [r#"    [[ "$bin" != maintenance-responder ]] || features=(--features lambda-package)"#],
        "{script}"
    );
    let responder = read(&root().join("crates/responder/Cargo.toml"));
    assert!(
        responder.contains("\nlambda-package = [\"tracing/release_max_level_debug\"]\n"),
        "{responder}"
    );
    assert!(script.contains(r#"declare -A ZONEINFO=([maintenance-responder]=1)"#));
    assert!(
        script.contains(r#"${PACKAGE_ARCHES:-x86_64 arm64}"#),
        "both architectures by default"
    );
    for arch in function::ARCHITECTURES {
        assert!(
            script.contains(&format!("    {arch})")),
            "no target triple for {arch}"
        );
        assert!(
            script.contains(&format!("[{arch}]=")),
            "no size ceiling for {arch}"
        );
    }
    assert!(script.contains("aarch64-unknown-linux-gnu"));
    assert!(script.contains(r#""$root/scripts/check-glibc" "$built" "$glibc_max""#));
    assert!(script.contains("--disable-optimizations --package"));
    assert!(script.contains("grep -q -a -F elasticloadbalancing"));
}

// ------------------------------------------------------------ the bypass link (issue #14)

/// Both templates create the cookie bypass rule of the bypass link as an option, off by default:
/// on every listener, `Cookie` matching `*maint_bypass=FIRST*`, forwarding to the application,
/// tagged as a bypass rule and as the cookie rule; its first token random and given to nobody
/// (a Secrets Manager secret in SAM, `uuid()` in Terraform, which then leaves the condition to
/// maintctl).
#[test]
fn both_templates_create_the_cookie_bypass_rule_as_an_option() {
    use maintenance_core::content::BypassToken;
    use maintenance_core::deploy_names::BYPASS_COOKIE;
    let tpl = sam();
    assert_eq!(sam_parameter(&tpl, "BypassLink")["Default"], "false");
    assert_eq!(sam_parameter(&tpl, "BypassLinkPriority")["Default"], 49_997);
    let condition = &tpl["Conditions"]["CreateBypassLinkRule"];
    assert!(
        condition.to_string().contains("HasAppTargetGroup"),
        "{condition}"
    );
    let rule = sam_listener_resource(&tpl, "BypassLinkRule");
    assert_eq!(rule["Condition"], "CreateBypassLinkRule");
    let rule_tags = sam_tags(rule);
    assert!(has_tag(&rule_tags, tags::ROLE, json!(tags::ROLE_BYPASS)));
    assert!(has_tag(
        &rule_tags,
        tags::BYPASS_LINK,
        json!(tags::BYPASS_LINK_COOKIE)
    ));
    assert!(has_tag(&rule_tags, tags::ENVIRONMENT, r("Environment")));
    assert!(has_tag(
        &rule_tags,
        tags::PARKED_PRIORITY,
        r("BypassLinkPriority")
    ));
    let properties = &rule["Properties"];
    assert_eq!(properties["Priority"], r("BypassLinkPriority"));
    assert_eq!(
        properties["Actions"][0]["TargetGroupArn"],
        r("AppTargetGroupArn")
    );
    let header = &properties["Conditions"][0]["HttpHeaderConfig"];
    assert_eq!(header["HttpHeaderName"], "Cookie");
    assert_eq!(
        header["Values"],
        json!([{ "Fn::Sub": format!("*{BYPASS_COOKIE}={{{{resolve:secretsmanager:${{BypassLinkSeed}}}}}}*") }])
    );
    let seed = sam_resource(&tpl, "BypassLinkSeed");
    assert_eq!(seed["Type"], "AWS::SecretsManager::Secret");
    assert_eq!(seed["Condition"], "CreateBypassLinkRule");
    let generated = &seed["Properties"]["GenerateSecretString"];
    let length = generated["PasswordLength"].as_u64().unwrap() as usize;
    assert!((BypassToken::MIN_CHARS..=BypassToken::MAX_CHARS).contains(&length));
    assert_eq!(
        generated["ExcludePunctuation"], true,
        "letters and digits: a token's form"
    );

    let text = terraform();
    let variable = hcl_block(&text, r#"variable "bypass_link" {"#);
    assert_eq!(hcl_value(&variable, "default"), "false");
    let rule = hcl_block(&text, r#"resource "aws_lb_listener_rule" "bypass_link""#);
    assert_eq!(hcl_value(&rule, "priority"), "var.bypass_link_priority");
    assert_eq!(
        hcl_value(&rule, "target_group_arn"),
        "var.app_target_group_arn"
    );
    assert_eq!(hcl_value(&rule, "http_header_name"), quoted("Cookie"));
    assert_eq!(
        hcl_value(&rule, "values"),
        format!(r#"["*{BYPASS_COOKIE}=${{replace("${{uuid()}}${{uuid()}}", "-", "")}}*"]"#)
    );
    assert_eq!(hcl_value(&rule, "tags"), "local.bypass_link_rule_tags");
    // maintctl's tokens and priority moves survive the next apply.
    assert_eq!(hcl_value(&rule, "ignore_changes"), "[priority, condition]");
    let rule_tags = hcl_block(&text, "  bypass_link_rule_tags = merge(");
    assert_eq!(
        hcl_value(&rule_tags, &quoted(tags::BYPASS_LINK)),
        quoted(tags::BYPASS_LINK_COOKIE)
    );
    assert_eq!(
        hcl_value(&rule_tags, &quoted(tags::ROLE)),
        quoted(tags::ROLE_BYPASS)
    );
    assert_eq!(
        hcl_value(&rule_tags, &quoted(tags::PARKED_PRIORITY)),
        "tostring(var.bypass_link_priority)"
    );
}

/// The switching policy lets maintctl modify the cookie bypass rule and no other (ModifyRule
/// only on rules tagged `bypass-link = cookie`, and neither that tag nor a role tag can be
/// added to another rule but as attach creates it), read the certificates' names for the
/// link's host and the token parameter's type.
#[test]
fn the_switching_policy_modifies_the_cookie_bypass_rule_only() {
    let tpl = sam();
    let document = &sam_resource(&tpl, "SwitchingPolicy")["Properties"]["PolicyDocument"];
    let modify: Vec<String> = policy_actions(document)
        .into_iter()
        .filter(|(_, a)| a == "elasticloadbalancing:ModifyRule")
        .map(|(sid, _)| sid)
        .collect();
    // The other ModifyRule statement is the fallback rules' page (checked above).
    assert_eq!(modify, ["RefreshFallbackPage", "SetBypassLinkToken"]);
    let statements = document["Statement"].as_array().unwrap();
    let sid = |name: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == name)
            .unwrap_or_else(|| panic!("no statement {name}"))
    };
    let set = sid("SetBypassLinkToken");
    assert_eq!(set["Effect"], "Allow");
    assert_eq!(
        set["Condition"]["StringEquals"][format!("aws:ResourceTag/{}", tags::BYPASS_LINK)],
        tags::BYPASS_LINK_COOKIE
    );
    let keep = sid("KeepTheIdentityTags");
    assert_eq!(keep["Effect"], "Deny");
    assert_eq!(keep["Action"], "elasticloadbalancing:AddTags");
    // Nor can a rule be given a role (say, tagged as a fallback rule, whose action the
    // policy lets maintctl modify) but as attach creates it, in any case of the letters.
    assert_eq!(
        keep["Condition"]["ForAnyValue:StringEqualsIgnoreCase"]["aws:TagKeys"],
        json!(IDENTITY_TAG_KEYS)
    );
    assert_eq!(
        keep["Condition"]["StringNotEquals"]["elasticloadbalancing:CreateAction"],
        "CreateRule"
    );
    let reads: Vec<(String, String)> = policy_actions(document)
        .into_iter()
        .filter(|(sid, _)| {
            [
                "BypassLinkHost",
                "BypassLinkCertificateNames",
                "ParameterTypes",
            ]
            .contains(&sid.as_str())
        })
        .collect();
    assert_eq!(
        reads,
        [
            (
                "BypassLinkHost".to_string(),
                "elasticloadbalancing:DescribeListenerCertificates".to_string()
            ),
            (
                "BypassLinkCertificateNames".to_string(),
                "acm:DescribeCertificate".to_string()
            ),
            (
                "ParameterTypes".to_string(),
                "ssm:DescribeParameters".to_string()
            ),
        ]
    );

    let text = terraform();
    let switching = hcl_block(&text, r#"data "aws_iam_policy_document" "switching""#);
    assert_eq!(
        switching.matches("elasticloadbalancing:ModifyRule").count(),
        2
    );
    let set = &switching[switching
        .find(r#""SetBypassLinkToken""#)
        .expect("SetBypassLinkToken")..];
    let set = &set[..set.find("statement {").unwrap_or(set.len())];
    assert!(
        set.contains(r#"["elasticloadbalancing:ModifyRule"]"#),
        "{set}"
    );
    assert_eq!(
        hcl_value(set, "variable"),
        quoted(&format!("aws:ResourceTag/{}", tags::BYPASS_LINK))
    );
    assert_eq!(
        hcl_value(set, "values"),
        format!("[{}]", quoted(tags::BYPASS_LINK_COOKIE))
    );
    let keep = hcl_statement(&switching, "KeepTheIdentityTags");
    assert_eq!(hcl_value(keep, "effect"), quoted("Deny"));
    assert_eq!(
        hcl_conditions(keep),
        [
            (
                "ForAnyValue:StringEqualsIgnoreCase".to_string(),
                "aws:TagKeys".to_string(),
                "local.identity_tag_keys".to_string()
            ),
            (
                "StringNotEquals".to_string(),
                "elasticloadbalancing:CreateAction".to_string(),
                r#"["CreateRule"]"#.to_string()
            ),
        ],
        "{keep}"
    );
    for action in [
        "elasticloadbalancing:DescribeListenerCertificates",
        "acm:DescribeCertificate",
        "ssm:DescribeParameters",
    ] {
        assert!(
            switching.contains(&quoted(action)),
            "switching policy lacks {action}"
        );
    }
}

// --------------------------------------------------- the switch function (issue #15)

/// A statement of a policy document by its `Sid`, and the condition it is created under (a
/// statement wrapped in `Fn::If: [condition, statement, AWS::NoValue]`).
fn sam_statement<'a>(document: &'a Value, sid: &str) -> (Option<&'a str>, &'a Value) {
    for s in document["Statement"].as_array().expect("a Statement list") {
        if s["Sid"] == sid {
            return (None, s);
        }
        if let Some([condition, inner, _]) = s["Fn::If"].as_array().map(Vec::as_slice)
            && inner["Sid"] == sid
        {
            return (condition.as_str(), inner);
        }
    }
    panic!("no statement {sid}: {document}");
}

/// The Terraform statement with `sid` of a policy document block: from its `sid` line to the
/// next statement.
fn hcl_statement<'a>(block: &'a str, sid: &str) -> &'a str {
    let at = block
        .find(&format!("= {}", quoted(sid)))
        .unwrap_or_else(|| panic!("no statement {sid} in {block}"));
    let rest = &block[at..];
    let end = ["statement {", "dynamic \"statement\""]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The `(Sid, Action)` pairs of the switch function's role: what `ops::switch` calls, with no
/// one to ask and no preflight, and nothing more.
const SWITCH_ROLE_ACTIONS: [(&str, &str); 28] = [
    ("Logs", "logs:CreateLogStream"),
    ("Logs", "logs:PutLogEvents"),
    (
        "ReadListeners",
        "elasticloadbalancing:DescribeLoadBalancers",
    ),
    ("ReadListeners", "elasticloadbalancing:DescribeListeners"),
    ("ReadListeners", "elasticloadbalancing:DescribeRules"),
    ("ReadListeners", "elasticloadbalancing:DescribeTags"),
    ("ReadListeners", "elasticloadbalancing:DescribeTargetGroups"),
    ("Switch", "elasticloadbalancing:SetRulePriorities"),
    ("Record", "elasticloadbalancing:AddTags"),
    ("KeepTheIdentityTags", "elasticloadbalancing:AddTags"),
    ("Lease", "ssm:PutParameter"),
    ("Lease", "ssm:GetParameter"),
    ("Lease", "ssm:DeleteParameter"),
    ("WindowEnd", "ssm:PutParameter"),
    ("WindowZoneRemoved", "ssm:DeleteParameter"),
    ("ParameterTypes", "ssm:DescribeParameters"),
    ("DeadLetters", "sqs:SendMessage"),
    // Every switch announced on the event bus (issue #23).
    ("AnnounceSwitches", "events:PutEvents"),
    ("SecureStrings", "kms:Encrypt"),
    ("SecureStrings", "kms:GenerateDataKey"),
    // A gradual return's state, read back decrypted (issue #24).
    ("SecureStrings", "kms:Decrypt"),
    ("ReturnState", "ssm:PutParameter"),
    ("ReturnState", "ssm:DeleteParameter"),
    ("ReadReturnState", "ssm:GetParametersByPath"),
    ("DeleteAdmissionRules", "elasticloadbalancing:DeleteRule"),
    ("SetBypassLinkToken", "elasticloadbalancing:ModifyRule"),
    ("BypassLinkToken", "ssm:PutParameter"),
    (
        "BypassLinkHost",
        "elasticloadbalancing:DescribeListenerCertificates",
    ),
];

/// Every `.operation()` the SDK client of `file` calls (`self.client.create_schedule()`,
/// `.put_parameter()`), as IAM action names of `service` (`scheduler:CreateSchedule`).
fn sdk_actions(file: &str, service: &str, calls: &[&str]) -> Vec<String> {
    let text = read(&root().join(file));
    calls
        .iter()
        .map(|call| {
            assert!(
                text.contains(&format!(".{call}()")),
                "{file} no longer calls {call}: update this test"
            );
            let pascal: String = call
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            format!("{service}:{pascal}")
        })
        .collect()
}

#[test]
fn both_templates_can_add_the_switch_function_off_by_default() {
    let tpl = sam();
    for (parameter, default) in [
        ("SwitchFunction", "false"),
        ("AutoSwitchAlarm", "false"),
        ("SwitchOnAlarmOk", "off"),
    ] {
        assert_eq!(sam_parameter(&tpl, parameter)["Default"], default);
    }
    assert_eq!(
        sam_parameter(&tpl, "SwitchOnAlarmOk")["AllowedValues"],
        json!(["off", "stay"])
    );
    let f = sam_resource(&tpl, "MaintenanceSwitch");
    assert_eq!(f["Condition"], "CreateSwitchFunction");
    let p = &f["Properties"];
    assert_eq!(
        p["FunctionName"],
        json!({ "Fn::Sub": format!("{}-${{Environment}}", switch::NAME_PREFIX) })
    );
    assert_eq!(p["CodeUri"], "../../dist/maintenance-switch/bootstrap.zip");
    assert_eq!(p["Runtime"], "provided.al2023");
    assert_eq!(p["Handler"], "bootstrap");
    assert_eq!(p["Architectures"], json!([r("Architecture")]));
    assert_eq!(p["Timeout"], json!(switch::TIMEOUT_SECONDS));
    let alarm_name = format!(
        "{}-${{Environment}}-{}",
        switch::NAME_PREFIX,
        switch::ALARM_SUFFIX
    );
    let variables = &p["Environment"]["Variables"];
    assert_eq!(variables[switch::ENVIRONMENT], r("Environment"));
    assert_eq!(variables[switch::ON_ALARM_OK], r("SwitchOnAlarmOk"));
    assert_eq!(
        variables[switch::ALARM_NAMES],
        json!({ "Fn::Sub": alarm_name })
    );
    // The switch formats no time: no zone database, no TZDIR.
    assert!(variables.get(function::TZDIR_VAR).is_none());
    let invoke = &p["EventInvokeConfig"];
    assert_eq!(
        invoke["MaximumRetryAttempts"],
        json!(switch::ASYNC_MAX_RETRY_ATTEMPTS)
    );
    assert_eq!(
        invoke["MaximumEventAgeInSeconds"],
        json!(switch::ASYNC_MAX_EVENT_AGE_SECONDS)
    );
    assert_eq!(
        invoke["DestinationConfig"]["OnFailure"],
        json!({ "Type": "SQS", "Destination": { "Fn::GetAtt": ["SwitchDeadLetterQueue", "Arn"] } })
    );
    let queue = sam_resource(&tpl, "SwitchDeadLetterQueue");
    assert_eq!(queue["Condition"], "CreateSwitchFunction");
    assert_eq!(
        queue["Properties"]["QueueName"],
        json!({ "Fn::Sub": format!("{}-${{Environment}}-{}", switch::NAME_PREFIX, switch::DEAD_LETTER_SUFFIX) })
    );
    assert_eq!(
        queue["Properties"]["MessageRetentionPeriod"],
        json!(switch::DEAD_LETTER_RETENTION_SECONDS)
    );
    // The group maintctl schedule looks for, tagged as it reads it.
    let group = sam_resource(&tpl, "ScheduleGroup");
    assert_eq!(group["Type"], "AWS::Scheduler::ScheduleGroup");
    assert_eq!(group["Condition"], "CreateSwitchFunction");
    assert_eq!(
        group["Properties"]["Name"],
        json!({ "Fn::Sub": format!("{}-${{Environment}}", switch::SCHEDULE_GROUP_PREFIX) })
    );
    let group_tags = sam_tags(group);
    let arn = |resource: &str| json!({ "Fn::GetAtt": [resource, "Arn"] });
    for (key, value) in [
        (switch::GROUP_TAG_FUNCTION, arn("MaintenanceSwitch")),
        (switch::GROUP_TAG_ROLE, arn("SchedulerRole")),
        (switch::GROUP_TAG_DEAD_LETTER, arn("SwitchDeadLetterQueue")),
        (switch::GROUP_TAG_ENVIRONMENT, r("Environment")),
    ] {
        assert!(has_tag(&group_tags, key, value), "{key}: {group_tags:?}");
    }
    // The responder reads the zone database scripts/package puts in its zip.
    let responder = &sam_resource(&tpl, "Function")["Properties"]["Environment"]["Variables"];
    assert_eq!(responder[function::TZDIR_VAR], function::BUNDLED_ZONEINFO);

    let text = terraform();
    for (variable, default) in [
        ("switch_function", "false"),
        ("auto_switch_alarm", "false"),
        ("switch_on_alarm_ok", "\"off\""),
        ("switch_package_path", "null"),
    ] {
        let block = hcl_block(&text, &format!("variable \"{variable}\" {{"));
        assert_eq!(hcl_value(&block, "default"), default, "{variable}");
    }
    assert!(
        text.contains(&format!(
            "switch_name     = \"{}-${{var.environment}}\"",
            switch::NAME_PREFIX
        )),
        "the switch function's name"
    );
    assert!(text.contains(&format!(
        "schedule_group  = \"{}-${{var.environment}}\"",
        switch::SCHEDULE_GROUP_PREFIX
    )));
    assert!(text.contains(&format!(
        "switch_alarm    = \"${{local.switch_name}}-{}\"",
        switch::ALARM_SUFFIX
    )));
    let f = hcl_block(&text, r#"resource "aws_lambda_function" "switch""#);
    assert_eq!(hcl_value(&f, "count"), "local.switch_count");
    assert_eq!(hcl_value(&f, "function_name"), "local.switch_name");
    assert_eq!(hcl_value(&f, "filename"), "var.switch_package_path");
    assert_eq!(
        hcl_value(&f, "timeout"),
        switch::TIMEOUT_SECONDS.to_string()
    );
    assert_eq!(hcl_value(&f, switch::ENVIRONMENT), "var.environment");
    assert_eq!(hcl_value(&f, switch::ON_ALARM_OK), "var.switch_on_alarm_ok");
    assert_eq!(hcl_value(&f, switch::ALARM_NAMES), "local.switch_alarm");
    assert!(!f.contains(function::TZDIR_VAR));
    let invoke = hcl_block(
        &text,
        r#"resource "aws_lambda_function_event_invoke_config" "switch""#,
    );
    assert_eq!(
        hcl_value(&invoke, "maximum_retry_attempts"),
        switch::ASYNC_MAX_RETRY_ATTEMPTS.to_string()
    );
    assert_eq!(
        hcl_value(&invoke, "maximum_event_age_in_seconds"),
        switch::ASYNC_MAX_EVENT_AGE_SECONDS.to_string()
    );
    assert_eq!(
        hcl_value(&invoke, "destination"),
        "aws_sqs_queue.switch_dead_letters[0].arn"
    );
    let queue = hcl_block(&text, r#"resource "aws_sqs_queue" "switch_dead_letters""#);
    assert_eq!(
        hcl_value(&queue, "name"),
        quoted(&format!(
            "${{local.switch_name}}-{}",
            switch::DEAD_LETTER_SUFFIX
        ))
    );
    assert_eq!(
        hcl_value(&queue, "message_retention_seconds"),
        switch::DEAD_LETTER_RETENTION_SECONDS.to_string()
    );
    let group = hcl_block(&text, r#"resource "aws_scheduler_schedule_group" "this""#);
    assert_eq!(hcl_value(&group, "name"), "local.schedule_group");
    for (key, value) in [
        (
            switch::GROUP_TAG_FUNCTION,
            "aws_lambda_function.switch[0].arn",
        ),
        (switch::GROUP_TAG_ROLE, "aws_iam_role.scheduler[0].arn"),
        (
            switch::GROUP_TAG_DEAD_LETTER,
            "aws_sqs_queue.switch_dead_letters[0].arn",
        ),
    ] {
        assert_eq!(hcl_value(&group, key), value, "{key}");
    }
    // common_tags carries the environment tag.
    assert!(group.contains("merge(local.common_tags"), "{group}");
    let responder = hcl_block(&text, r#"resource "aws_lambda_function" "this""#);
    assert_eq!(
        hcl_value(&responder, function::TZDIR_VAR),
        quoted(function::BUNDLED_ZONEINFO)
    );
}

/// The switch function's role allows what the switch calls (read from the code: the SSM calls
/// of the lease, the window's content and the token) and nothing else; the Scheduler's role
/// invokes the switch function only (and fills the dead-letter queue).
#[test]
fn the_switch_function_and_the_scheduler_may_do_what_they_do_and_no_more() {
    let lease_calls = sdk_actions(
        "crates/responder/src/ssm/sdk.rs",
        "ssm",
        &["put_parameter", "get_parameter", "delete_parameter"],
    );
    let tpl = sam();
    let role = &sam_resource(&tpl, "SwitchRole")["Properties"]["Policies"][0]["PolicyDocument"];
    let mut actions = policy_actions(role);
    actions.sort();
    let mut expected: Vec<(String, String)> = SWITCH_ROLE_ACTIONS
        .iter()
        .map(|(sid, a)| (sid.to_string(), a.to_string()))
        .chain([(
            "BypassLinkCertificateNames".to_string(),
            "acm:DescribeCertificate".to_string(),
        )])
        .collect();
    expected.sort();
    assert_eq!(actions, expected);
    let (_, lease) = sam_statement(role, "Lease");
    assert_eq!(
        lease["Action"],
        json!(lease_calls),
        "the lease's calls (crates/responder/src/ssm/sdk.rs, LockParameters)"
    );
    let parameter = |rest: &str| {
        json!({ "Fn::Sub": format!(
            "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter${{SsmPrefix}}/{rest}"
        ) })
    };
    assert_eq!(
        lease["Resource"],
        parameter(&format!("{}/*", parameters::SWITCH_DIR))
    );
    assert!(parameters::LEASE.starts_with(&format!("{}/", parameters::SWITCH_DIR)));
    assert_eq!(
        sam_statement(role, "WindowEnd").1["Resource"],
        json!([
            parameter(parameters::RETRY_AFTER),
            parameter(parameters::TIMEZONE)
        ])
    );
    assert_eq!(
        sam_statement(role, "WindowZoneRemoved").1["Resource"],
        parameter(parameters::TIMEZONE)
    );
    let (condition, token) = sam_statement(role, "BypassLinkToken");
    assert_eq!(condition, Some("SwitchSetsBypassLink"));
    assert_eq!(token["Resource"], parameter(parameters::BYPASS_TOKEN));
    let (condition, modify) = sam_statement(role, "SetBypassLinkToken");
    assert_eq!(condition, Some("SwitchSetsBypassLink"));
    assert_eq!(
        modify["Condition"]["StringEquals"][format!("aws:ResourceTag/{}", tags::BYPASS_LINK)],
        tags::BYPASS_LINK_COOKIE
    );
    let (_, record) = sam_statement(role, "Record");
    assert_eq!(
        record["Condition"]["StringEquals"][format!("aws:ResourceTag/{}", tags::ENVIRONMENT)],
        r("Environment"),
        "the record goes on the environment's rules only"
    );
    assert_eq!(
        sam_statement(role, "KeepTheIdentityTags").1["Effect"],
        "Deny"
    );

    let scheduler = sam_resource(&tpl, "SchedulerRole");
    let trust = &scheduler["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(
        trust["Principal"],
        json!({ "Service": "scheduler.amazonaws.com" })
    );
    let document = &scheduler["Properties"]["Policies"][0]["PolicyDocument"];
    assert_eq!(
        policy_actions(document),
        [
            (
                "InvokeTheSwitchFunction".to_string(),
                "lambda:InvokeFunction".to_string()
            ),
            ("DeadLetters".to_string(), "sqs:SendMessage".to_string()),
        ]
    );
    assert_eq!(
        sam_statement(document, "InvokeTheSwitchFunction").1["Resource"],
        json!({ "Fn::GetAtt": ["MaintenanceSwitch", "Arn"] })
    );

    let text = terraform();
    let role = hcl_block(&text, r#"data "aws_iam_policy_document" "switch""#);
    // Every `actions = [...]` list of the document.
    let mut found: Vec<String> = role
        .match_indices("actions")
        .filter_map(|(at, _)| {
            let rest = role[at + "actions".len()..]
                .trim_start()
                .strip_prefix('=')?;
            let list = &rest[..rest.find(']')?];
            list.trim_start()
                .starts_with('[')
                .then(|| hcl_strings(list))
        })
        .flatten()
        .collect();
    found.sort();
    found.dedup();
    let mut expected: Vec<String> = SWITCH_ROLE_ACTIONS
        .iter()
        .map(|(_, a)| a.to_string())
        .chain(["acm:DescribeCertificate".to_string()])
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(found, expected);
    let lease = hcl_statement(&role, "Lease");
    for call in &lease_calls {
        assert!(lease.contains(&quoted(call)), "{lease}");
    }
    assert!(
        lease.contains(&format!(
            "${{local.ssm_parameter}}/{}/*",
            parameters::SWITCH_DIR
        )),
        "{lease}"
    );
    let window = hcl_statement(&role, "WindowEnd");
    for p in [parameters::RETRY_AFTER, parameters::TIMEZONE] {
        assert!(
            window.contains(&format!("${{local.ssm_parameter}}/{p}")),
            "{window}"
        );
    }
    assert!(hcl_statement(&role, "BypassLinkToken").contains(&format!(
        "${{local.ssm_parameter}}/{}",
        parameters::BYPASS_TOKEN
    )));
    assert!(hcl_statement(&role, "Record").contains("[var.environment]"));
    let scheduler = hcl_block(&text, r#"data "aws_iam_policy_document" "scheduler""#);
    assert_eq!(
        tokens(&scheduler, "\"lambda:", |c| c.is_ascii_alphabetic()),
        ["\"lambda:InvokeFunction"]
    );
    assert!(scheduler.contains("[aws_lambda_function.switch[0].arn]"));
    assert_eq!(
        tokens(&scheduler, "actions", |c| c != ']').len(),
        2,
        "{scheduler}"
    );
    let trust = hcl_block(
        &text,
        r#"data "aws_iam_policy_document" "assume_scheduler""#,
    );
    assert!(trust.contains("\"scheduler.amazonaws.com\""), "{trust}");
}

/// The HealthyHostCount alarm of the application target group invokes the switch function,
/// which only that alarm may invoke as an alarm action.
#[test]
fn both_templates_can_alarm_on_the_applications_healthy_hosts_and_switch() {
    let tpl = sam();
    let description = sam_parameter(&tpl, "AutoSwitchAlarm")["Description"]
        .as_str()
        .unwrap();
    assert!(description.contains("USD 0.10 a month"), "{description}");
    let alarm = sam_resource(&tpl, "AppUnhealthyAlarm");
    assert_eq!(alarm["Condition"], "CreateAutoSwitchAlarm");
    assert_eq!(alarm["DependsOn"], "AutoSwitchAlarmInvokePermission");
    let p = &alarm["Properties"];
    let alarm_name = format!(
        "{}-${{Environment}}-{}",
        switch::NAME_PREFIX,
        switch::ALARM_SUFFIX
    );
    assert_eq!(p["AlarmName"], json!({ "Fn::Sub": alarm_name }));
    assert_eq!(p["Namespace"], "AWS/ApplicationELB");
    assert_eq!(p["MetricName"], "HealthyHostCount");
    let dimensions: Vec<&str> = p["Dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["Name"].as_str().unwrap())
        .collect();
    assert_eq!(dimensions, ["TargetGroup", "LoadBalancer"]);
    assert_eq!(
        p["Dimensions"][0]["Value"],
        json!({ "Fn::Select": [5, { "Fn::Split": [":", r("AppTargetGroupArn")] }] })
    );
    assert_eq!(p["Threshold"], r("AutoSwitchHealthyHostsBelow"));
    assert_eq!(p["Period"], r("AutoSwitchPeriodSeconds"));
    assert_eq!(p["EvaluationPeriods"], r("AutoSwitchEvaluationPeriods"));
    assert_eq!(p["ComparisonOperator"], "LessThanThreshold");
    let function = json!({ "Fn::GetAtt": ["MaintenanceSwitch", "Arn"] });
    for actions in ["AlarmActions", "OKActions"] {
        let branches = p[actions]["Fn::If"].as_array().unwrap();
        assert_eq!(branches[0], "HasAlarmTopic");
        for branch in &branches[1..] {
            assert_eq!(branch[0], function, "{actions}");
        }
    }
    let permission = &sam_resource(&tpl, "AutoSwitchAlarmInvokePermission")["Properties"];
    assert_eq!(
        permission["Principal"],
        "lambda.alarms.cloudwatch.amazonaws.com"
    );
    assert_eq!(permission["FunctionName"], r("MaintenanceSwitch"));
    assert_eq!(
        permission["SourceArn"],
        json!({ "Fn::Sub": format!(
            "arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{alarm_name}"
        ) })
    );
    assert_eq!(
        tpl["Conditions"]["CreateAutoSwitchAlarm"]["Fn::And"][0],
        json!({ "Fn::Equals": [r("AutoSwitchAlarm"), "true"] })
    );

    let text = terraform();
    let alarm = hcl_block(
        &text,
        r#"resource "aws_cloudwatch_metric_alarm" "app_unhealthy""#,
    );
    assert_eq!(hcl_value(&alarm, "count"), "local.want_alarm ? 1 : 0");
    assert_eq!(hcl_value(&alarm, "alarm_name"), "local.switch_alarm");
    assert_eq!(hcl_value(&alarm, "metric_name"), quoted("HealthyHostCount"));
    assert_eq!(hcl_value(&alarm, "namespace"), quoted("AWS/ApplicationELB"));
    assert_eq!(
        hcl_value(&alarm, "threshold"),
        "var.auto_switch_healthy_hosts_below"
    );
    assert_eq!(
        hcl_value(&alarm, "period"),
        "var.auto_switch_period_seconds"
    );
    assert_eq!(
        hcl_value(&alarm, "evaluation_periods"),
        "var.auto_switch_evaluation_periods"
    );
    assert_eq!(
        hcl_value(&alarm, "comparison_operator"),
        quoted("LessThanThreshold")
    );
    for actions in ["alarm_actions", "ok_actions"] {
        assert_eq!(
            hcl_value(&alarm, actions),
            "concat([aws_lambda_function.switch[0].arn], local.alarm_actions)"
        );
    }
    assert!(alarm.contains("TargetGroup = local.app_target_group_suffix"));
    let permission = hcl_block(&text, r#"resource "aws_lambda_permission" "alarm""#);
    assert_eq!(
        hcl_value(&permission, "principal"),
        quoted("lambda.alarms.cloudwatch.amazonaws.com")
    );
    assert!(
        hcl_value(&permission, "source_arn").ends_with(":alarm:${local.switch_alarm}\""),
        "{permission}"
    );
}

/// maintctl schedule's calls (src/schedules/api.rs) are in the switching policy, on this
/// environment's group, with the Scheduler's role to pass; on and off may delete the lease.
#[test]
fn operators_may_schedule_windows_in_their_group_and_release_the_lease() {
    let calls = sdk_actions(
        "src/schedules/api.rs",
        "scheduler",
        &[
            "get_schedule_group",
            "list_tags_for_resource",
            "list_schedules",
            "get_schedule",
            "create_schedule",
            "update_schedule",
            "delete_schedule",
        ],
    );
    let tpl = sam();
    let document = &sam_resource(&tpl, "SwitchingPolicy")["Properties"]["PolicyDocument"];
    let granted: Vec<String> = policy_actions(document)
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    for call in &calls {
        assert!(granted.contains(call), "switching policy lacks {call}");
    }
    for sid in [
        "ScheduleWindows",
        "ReadTheScheduleGroup",
        "ListWindows",
        "PassTheSchedulerRole",
    ] {
        assert_eq!(
            sam_statement(document, sid).0,
            Some("CreateSwitchFunction"),
            "{sid}"
        );
    }
    let group = format!("{}-${{Environment}}", switch::SCHEDULE_GROUP_PREFIX);
    assert!(
        sam_statement(document, "ScheduleWindows").1["Resource"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":schedule/{group}/*"))
    );
    assert!(
        sam_statement(document, "ReadTheScheduleGroup").1["Resource"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":schedule-group/{group}"))
    );
    let pass = sam_statement(document, "PassTheSchedulerRole").1;
    assert_eq!(pass["Action"], "iam:PassRole");
    assert_eq!(
        pass["Resource"],
        json!({ "Fn::GetAtt": ["SchedulerRole", "Arn"] })
    );
    assert_eq!(
        pass["Condition"]["StringEquals"]["iam:PassedToService"],
        "scheduler.amazonaws.com"
    );
    let lease = sam_statement(document, "Lease");
    assert_eq!(lease.0, None, "every switch takes the lease");
    assert_eq!(lease.1["Action"], "ssm:DeleteParameter");

    let text = terraform();
    let switching = hcl_block(&text, r#"data "aws_iam_policy_document" "switching""#);
    for call in &calls {
        assert!(
            switching.contains(&quoted(call)),
            "switching policy lacks {call}"
        );
    }
    assert!(
        switching.contains(&format!(
            ":schedule/{}-${{var.environment}}/*",
            switch::SCHEDULE_GROUP_PREFIX
        )),
        "{switching}"
    );
    let pass = hcl_statement(&switching, "PassTheSchedulerRole");
    assert!(pass.contains("\"iam:PassRole\"") && pass.contains("\"scheduler.amazonaws.com\""));
    assert!(switching.contains("for_each = aws_iam_role.scheduler[*].arn"));
    assert!(hcl_statement(&switching, "Lease").contains("\"ssm:DeleteParameter\""));
}

/// AutoFallback / auto_fallback (off by default): the responder's alarms invoke the switch
/// function too (ALARM and OK), keep their state without data, and are the switch function's
/// fallback alarms by the names the templates give them; the permission covers them.
#[test]
fn both_templates_can_let_the_responders_alarms_swap_in_the_fallback_page() {
    let tpl = sam();
    assert_eq!(sam_parameter(&tpl, "AutoFallback")["Default"], "false");
    let switch_arn = json!({ "Fn::GetAtt": ["MaintenanceSwitch", "Arn"] });
    let mut names = Vec::new();
    for alarm in [
        "ThrottlesAlarm",
        "ErrorsAlarm",
        "Elb502Alarm",
        "LambdaUserErrorAlarm",
    ] {
        let p = &sam_resource(&tpl, alarm)["Properties"];
        assert_eq!(
            p["TreatMissingData"],
            json!({ "Fn::If": ["CreateAutoFallback", "missing", "notBreaching"] }),
            "{alarm}"
        );
        for actions in ["AlarmActions", "OKActions"] {
            let a = &p[actions]["Fn::If"];
            assert_eq!(a[0], "CreateAutoFallback", "{alarm} {actions}");
            let with = a[1]["Fn::If"].as_array().expect("HasAlarmTopic");
            assert!(
                with[1..].iter().all(|list| list[0] == switch_arn),
                "{alarm} {actions}: {with:?}"
            );
        }
        names.push(p["AlarmName"]["Fn::Sub"].as_str().unwrap().to_string());
    }
    let variables =
        &sam_resource(&tpl, "MaintenanceSwitch")["Properties"]["Environment"]["Variables"];
    let listed = &variables[switch::FALLBACK_ALARMS]["Fn::If"];
    assert_eq!(listed[0], "CreateAutoFallback");
    assert_eq!(listed[1]["Fn::Sub"].as_str().unwrap(), names.join(","));
    // One permission per alarm, on its exact ARN, under the condition that makes the alarm.
    for (alarm, condition) in [
        ("ThrottlesAlarm", "CreateAutoFallbackFunctionAlarms"),
        ("ErrorsAlarm", "CreateAutoFallbackFunctionAlarms"),
        ("Elb502Alarm", "CreateAutoFallbackAlbAlarms"),
        ("LambdaUserErrorAlarm", "CreateAutoFallbackAlbAlarms"),
    ] {
        let permission = sam_resource(&tpl, &format!("{alarm}InvokePermission"));
        assert_eq!(permission["Condition"], condition, "{alarm}");
        let p = &permission["Properties"];
        assert_eq!(p["Principal"], "lambda.alarms.cloudwatch.amazonaws.com");
        let name = sam_resource(&tpl, alarm)["Properties"]["AlarmName"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            p["SourceArn"],
            json!({ "Fn::Sub": format!(
                "arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{name}"
            ) }),
            "{alarm}"
        );
    }
    assert!(
        tpl["Resources"]
            .get("AutoFallbackInvokePermission")
            .is_none()
    );

    let text = terraform();
    let block = hcl_block(&text, r#"variable "auto_fallback" {"#);
    assert_eq!(hcl_value(&block, "default"), "false");
    for header in [
        r#"resource "aws_cloudwatch_metric_alarm" "function""#,
        r#"resource "aws_cloudwatch_metric_alarm" "elb_502""#,
        r#"resource "aws_cloudwatch_metric_alarm" "lambda_user_error""#,
    ] {
        let alarm = hcl_block(&text, header);
        assert_eq!(
            hcl_value(&alarm, "alarm_actions"),
            "local.responder_alarm_actions"
        );
        assert_eq!(
            hcl_value(&alarm, "ok_actions"),
            "local.responder_alarm_actions"
        );
        assert_eq!(
            hcl_value(&alarm, "treat_missing_data"),
            "local.responder_missing_data"
        );
    }
    let f = hcl_block(&text, r#"resource "aws_lambda_function" "switch""#);
    let listed = hcl_value(&f, switch::FALLBACK_ALARMS);
    for suffix in ["throttles", "errors", "alb-502", "lambda-user-error"] {
        assert!(listed.contains(&format!("\"{suffix}\"")), "{listed}");
    }
    let permission = hcl_block(
        &text,
        r#"resource "aws_lambda_permission" "fallback_alarms""#,
    );
    assert_eq!(
        hcl_value(&permission, "for_each"),
        "toset(local.fallback_alarm_names)"
    );
    assert!(
        hcl_value(&permission, "source_arn").ends_with(":alarm:${each.value}\""),
        "{permission}"
    );
    let names = &text[text
        .find("fallback_alarm_names = ")
        .expect("fallback_alarm_names")..];
    let names = &names[..names.find(") : []").expect("the alarms' names")];
    for suffix in ["throttles", "errors", "alb-502", "lambda-user-error"] {
        assert!(
            names.contains(&format!("\"${{local.name}}-{suffix}\"")),
            "{names}"
        );
    }
}

// ------------------------------------------- what only AWS checks (issue #19)

/// The tag keys that say what a rule is and where it belongs: both templates deny adding them to
/// a rule after its creation, in any case of the letters.
const IDENTITY_TAG_KEYS: [&str; 5] = [
    tags::ROLE,
    tags::BYPASS_LINK,
    tags::ENVIRONMENT,
    tags::PARKED_PRIORITY,
    tags::CONTENT_PREFIX,
];

/// The balanced `{ … }` block that starts at the first `{` at or after `at`.
fn braced(text: &str, at: usize) -> &str {
    let open = at + text[at..].find('{').expect("a block");
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[at..open + i + 1];
                }
            }
            _ => {}
        }
    }
    panic!("unclosed block at {at}");
}

/// Every `condition { test, variable, values }` of an HCL text, in order.
fn hcl_conditions(text: &str) -> Vec<(String, String, String)> {
    text.match_indices("condition {")
        .map(|(at, _)| {
            let block = braced(text, at);
            (
                hcl_value(block, "test").trim_matches('"').to_string(),
                hcl_value(block, "variable").trim_matches('"').to_string(),
                hcl_value(block, "values"),
            )
        })
        .collect()
}

/// The statements of a Terraform policy document block: each `statement { … }` and each
/// dynamic statement's `content { … }`.
fn hcl_policy_statements(block: &str) -> Vec<&str> {
    let mut out: Vec<(usize, &str)> = Vec::new();
    for marker in ["  statement {", "content {"] {
        out.extend(
            block
                .match_indices(marker)
                .map(|(at, _)| (at, braced(block, at))),
        );
    }
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, s)| s).collect()
}

/// Every `data "aws_iam_policy_document" "NAME"` of the module: (NAME, block).
fn hcl_policy_documents(text: &str) -> Vec<(String, String)> {
    let header = "data \"aws_iam_policy_document\" \"";
    text.match_indices(header)
        .map(|(at, _)| {
            let name = text[at + header.len()..].split('"').next().unwrap();
            (name.to_string(), braced(text, at).to_string())
        })
        .collect()
}

/// Every statement of every policy document of the SAM template (role policies, trust
/// policies, managed and queue policies; both branches of an `Fn::If`), with its resource.
fn sam_policy_statements(tpl: &Value) -> Vec<(String, Value)> {
    fn walk(resource: &str, value: &Value, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(statements)) = map.get("Statement") {
                    for s in statements {
                        match s["Fn::If"].as_array() {
                            Some(branches) => branches[1..]
                                .iter()
                                .filter(|b| b.get("Effect").is_some())
                                .for_each(|b| out.push((resource.to_string(), b.clone()))),
                            None => out.push((resource.to_string(), s.clone())),
                        }
                    }
                }
                map.values().for_each(|v| walk(resource, v, out));
            }
            Value::Array(list) => list.iter().for_each(|v| walk(resource, v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (name, resource) in tpl["Resources"].as_object().unwrap() {
        walk(name, resource, &mut out);
    }
    out
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(list) => list.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// The SSM actions the responder calls: the operations of its one SSM client implementation
/// (`impl ParameterStore for aws_sdk_ssm::Client` in crates/responder/src/ssm/sdk.rs), as IAM
/// action names.
fn responder_ssm_actions() -> Vec<String> {
    let text = read(&root().join("crates/responder/src/ssm/sdk.rs"));
    let at = text
        .find("impl ParameterStore for aws_sdk_ssm::Client")
        .expect("crates/responder/src/ssm/sdk.rs: the responder's SSM client");
    let block = braced(&text, at);
    // An SDK operation is the method called on the client itself: `self` then `.operation()`.
    let lines: Vec<&str> = block.lines().map(str::trim).collect();
    let mut calls: Vec<String> = lines
        .windows(2)
        .filter(|pair| pair[0].ends_with("self"))
        .filter_map(|pair| pair[1].strip_prefix('.')?.strip_suffix("()"))
        .map(|call| {
            let pascal: String = call
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            format!("ssm:{pascal}")
        })
        .collect();
    calls.sort();
    calls.dedup();
    calls
}

/// What IAM on AWS would make of the SAM template's policies and permissions, as problems:
/// tag-key conditions compared case-sensitively, a Deny on `AddTags` that leaves an identity
/// tag key out, an `AddTags` allowed on rules of any environment, an alarm permission on a
/// wildcard, the responder allowed SSM calls it does not make, a customer key usable for any
/// parameter, `acm:DescribeCertificate` on `*`, the Scheduler's role trusting anything but its
/// schedule group.
fn sam_iam_problems(tpl: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (resource, s) in sam_policy_statements(tpl) {
        let sid = s["Sid"].as_str().unwrap_or("(no Sid)").to_string();
        let here = format!("{resource} {sid}");
        let actions: Vec<String> = as_list(&s["Action"])
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        let conditions = s["Condition"].as_object().cloned().unwrap_or_default();
        for (operator, keys) in &conditions {
            if keys.get("aws:TagKeys").is_some() && !operator.ends_with("IgnoreCase") {
                problems.push(format!("{here}: aws:TagKeys compared with {operator}"));
            }
        }
        let adds_tags = actions.iter().any(|a| a == "elasticloadbalancing:AddTags");
        if adds_tags && s["Effect"] == "Deny" {
            let keys = &conditions
                .get("ForAnyValue:StringEqualsIgnoreCase")
                .map(|c| c["aws:TagKeys"].clone())
                .unwrap_or_default();
            if *keys != json!(IDENTITY_TAG_KEYS) {
                problems.push(format!("{here}: denies {keys}, not every identity tag key"));
            }
        }
        if adds_tags && s["Effect"] == "Allow" {
            let environment = format!("aws:ResourceTag/{}", tags::ENVIRONMENT);
            let scoped = conditions.get("StringEquals").is_some_and(|c| {
                c.get(&environment) == Some(&r("Environment"))
                    || c.get("elasticloadbalancing:CreateAction") == Some(&json!("CreateRule"))
            });
            if !scoped {
                problems.push(format!("{here}: AddTags on rules of any environment"));
            }
        }
        if resource == "ExecutionRole" {
            let ssm: Vec<String> = actions
                .iter()
                .filter(|a| a.starts_with("ssm:"))
                .cloned()
                .collect();
            if !ssm.is_empty() && ssm != responder_ssm_actions() {
                problems.push(format!(
                    "{here}: the responder may {ssm:?}; it calls {:?}",
                    responder_ssm_actions()
                ));
            }
        }
        if actions.iter().any(|a| a.starts_with("kms:"))
            && conditions
                .get("StringLike")
                .and_then(|c| c.get("kms:EncryptionContext:PARAMETER_ARN"))
                .is_none()
        {
            problems.push(format!("{here}: KMS without the PARAMETER_ARN context"));
        }
        if actions.iter().any(|a| a == "acm:DescribeCertificate") && s["Resource"] == "*" {
            problems.push(format!("{here}: acm:DescribeCertificate on *"));
        }
        if as_list(&s["Principal"]["Service"]).contains(&json!("scheduler.amazonaws.com")) {
            let group = json!({ "Fn::Sub": format!(
                "arn:${{AWS::Partition}}:scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule-group/{}-${{Environment}}",
                switch::SCHEDULE_GROUP_PREFIX
            ) });
            let expected = json!({ "StringEquals": {
                "aws:SourceAccount": r("AWS::AccountId"),
                "aws:SourceArn": group,
            } });
            if s["Condition"] != expected {
                problems.push(format!(
                    "{here}: the Scheduler is trusted on {}, not its schedule group and account",
                    s["Condition"]
                ));
            }
        }
    }
    for (name, resource) in tpl["Resources"].as_object().unwrap() {
        let p = &resource["Properties"];
        if resource["Type"] == "AWS::Lambda::Permission"
            && p["Principal"] == "lambda.alarms.cloudwatch.amazonaws.com"
            && p["SourceArn"].to_string().contains('*')
        {
            problems.push(format!("{name}: alarm permission on {}", p["SourceArn"]));
        }
    }
    problems
}

/// The same questions of the Terraform module (its policy documents and permissions).
fn hcl_iam_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let keys = &text[text
        .find("identity_tag_keys = [")
        .expect("local.identity_tag_keys")..];
    let keys = hcl_strings(&keys[..keys.find(']').unwrap() + 1]);
    if keys != IDENTITY_TAG_KEYS {
        problems.push(format!("local.identity_tag_keys is {keys:?}"));
    }
    for (document, block) in hcl_policy_documents(text) {
        for s in hcl_policy_statements(&block) {
            let sid = hcl_values(s, "sid").into_iter().next().unwrap_or_default();
            let here = format!("{document} {sid}");
            let actions: Vec<String> = hcl_values(s, "actions")
                .iter()
                .flat_map(|a| hcl_strings(a))
                .collect();
            let conditions = hcl_conditions(s);
            for (test, variable, _) in &conditions {
                if variable == "aws:TagKeys" && !test.ends_with("IgnoreCase") {
                    problems.push(format!("{here}: aws:TagKeys compared with {test}"));
                }
            }
            let deny = hcl_values(s, "effect") == [quoted("Deny")];
            let adds_tags = actions.iter().any(|a| a == "elasticloadbalancing:AddTags");
            if adds_tags && deny {
                let denied = conditions.iter().any(|c| {
                    c == &(
                        "ForAnyValue:StringEqualsIgnoreCase".to_string(),
                        "aws:TagKeys".to_string(),
                        "local.identity_tag_keys".to_string(),
                    )
                });
                if !denied {
                    problems.push(format!("{here}: the Deny leaves identity tag keys out"));
                }
            }
            if adds_tags && !deny {
                let scoped = conditions.iter().any(|(test, variable, values)| {
                    test == "StringEquals"
                        && ((variable == &format!("aws:ResourceTag/{}", tags::ENVIRONMENT)
                            && values == "[var.environment]")
                            || (variable == "elasticloadbalancing:CreateAction"
                                && values == r#"["CreateRule"]"#))
                });
                if !scoped {
                    problems.push(format!("{here}: AddTags on rules of any environment"));
                }
            }
            if document == "execution" {
                let ssm: Vec<String> = actions
                    .iter()
                    .filter(|a| a.starts_with("ssm:"))
                    .cloned()
                    .collect();
                if !ssm.is_empty() && ssm != responder_ssm_actions() {
                    problems.push(format!("{here}: the responder may {ssm:?}"));
                }
            }
            if actions.iter().any(|a| a.starts_with("kms:"))
                && !conditions
                    .iter()
                    .any(|(_, v, _)| v == "kms:EncryptionContext:PARAMETER_ARN")
            {
                problems.push(format!("{here}: KMS without the PARAMETER_ARN context"));
            }
            if actions.iter().any(|a| a == "acm:DescribeCertificate")
                && hcl_values(s, "resources") == [r#"["*"]"#]
            {
                problems.push(format!("{here}: acm:DescribeCertificate on *"));
            }
            if document == "assume_scheduler" {
                let expected = [
                    (
                        "StringEquals".to_string(),
                        "aws:SourceAccount".to_string(),
                        "[local.account_id]".to_string(),
                    ),
                    (
                        "StringEquals".to_string(),
                        "aws:SourceArn".to_string(),
                        "[local.schedule_group_arn]".to_string(),
                    ),
                ];
                if conditions != expected {
                    problems.push(format!(
                        "{here}: the Scheduler is trusted on {conditions:?}"
                    ));
                }
            }
        }
    }
    let group = r#"schedule_group_arn      = "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule-group/${local.schedule_group}""#;
    if !text.contains(group) {
        problems.push("local.schedule_group_arn is not the schedule group's ARN".to_string());
    }
    for (at, _) in text.match_indices("resource \"aws_lambda_permission\"") {
        let block = braced(text, at);
        if block.contains("lambda.alarms.cloudwatch.amazonaws.com")
            && hcl_value(block, "source_arn").contains('*')
        {
            problems.push(format!("alarm permission on a wildcard: {block}"));
        }
    }
    problems
}

/// Both templates as IAM on AWS reads them: no problem; and each old shape, put back into a
/// copy, is found (the checks can fail).
#[test]
fn both_templates_policies_hold_on_aws_and_the_old_shapes_are_refused() {
    let tpl = sam();
    assert_eq!(sam_iam_problems(&tpl), Vec::<String>::new());
    let text = terraform();
    assert_eq!(hcl_iam_problems(&text), Vec::<String>::new());
    assert_eq!(responder_ssm_actions(), ["ssm:GetParametersByPath"]);

    // The shapes of main before issue #19, each put back alone.
    let sam_text = sam_text();
    let dir = tempfile::tempdir().unwrap();
    let old_sam: [(&str, &str, &str); 7] = [
        (
            "aws:SourceArn: !Sub arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule-group/maintenance-${Environment}",
            "aws:SourceArn: !Sub arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/maintenance-${Environment}/*",
            "the Scheduler is trusted",
        ),
        (
            "\"ForAnyValue:StringEqualsIgnoreCase\":\n                \"aws:TagKeys\"",
            "\"ForAnyValue:StringEquals\":\n                \"aws:TagKeys\"",
            "aws:TagKeys compared with ForAnyValue:StringEquals",
        ),
        (
            "                \"aws:ResourceTag/maintenance-responder:environment\": !Ref Environment\n          # maintctl",
            "                \"aws:ResourceTag/maintenance-responder:environment\": any\n          # maintctl",
            "AddTags on rules of any environment",
        ),
        (
            "Action: ssm:GetParametersByPath\n",
            "Action: [ssm:GetParametersByPath, ssm:GetParameters, ssm:GetParameter]\n",
            "the responder may",
        ),
        (
            "alarm:maintenance-responder-${Environment}-throttles",
            "alarm:maintenance-responder-${Environment}-*",
            "alarm permission on",
        ),
        (
            "Action: acm:DescribeCertificate\n            Resource: !Sub arn:${AWS::Partition}:acm:${AWS::Region}:${AWS::AccountId}:certificate/*",
            "Action: acm:DescribeCertificate\n            Resource: \"*\"",
            "acm:DescribeCertificate on *",
        ),
        (
            "                    StringLike:\n                      kms:EncryptionContext:PARAMETER_ARN: !Sub arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SsmPrefix}/*\n                - !Ref AWS::NoValue",
            "                - !Ref AWS::NoValue",
            "KMS without the PARAMETER_ARN context",
        ),
    ];
    for (new, old, problem) in old_sam {
        assert!(sam_text.contains(new), "{new}");
        let path = dir.path().join("template.yaml");
        fs::write(&path, sam_text.replacen(new, old, 1)).unwrap();
        let output = run(Command::new(cfn_lint_python())
            .arg("-c")
            .arg("import json, sys\nfrom cfnlint.decode import decode\nprint(json.dumps(decode(sys.argv[1])[0]))")
            .arg(&path));
        assert!(output.status.success(), "{}", describe(&output));
        let copy: Value = serde_json::from_slice(&output.stdout).unwrap();
        let found = sam_iam_problems(&copy);
        assert!(
            found.iter().any(|p| p.contains(problem)),
            "SAM with {old:?}: {found:?}"
        );
    }
    let old_hcl: [(&str, &str, &str); 8] = [
        (
            "values   = [local.schedule_group_arn]",
            "values   = [\"arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/${local.schedule_group}/*\"]",
            "the Scheduler is trusted",
        ),
        (
            "test     = \"ForAnyValue:StringEqualsIgnoreCase\"",
            "test     = \"ForAnyValue:StringEquals\"",
            "aws:TagKeys compared with ForAnyValue:StringEquals",
        ),
        (
            "    \"maintenance-responder:content-prefix\",\n  ]",
            "  ]",
            "local.identity_tag_keys is",
        ),
        (
            "actions   = [\"ssm:GetParametersByPath\"]",
            "actions   = [\"ssm:GetParametersByPath\", \"ssm:GetParameters\", \"ssm:GetParameter\"]",
            "the responder may",
        ),
        (
            ":alarm:${each.value}\"",
            ":alarm:${local.name}-*\"",
            "alarm permission on a wildcard",
        ),
        (
            "resources = [local.acm_certificates]",
            "resources = [\"*\"]",
            "acm:DescribeCertificate on *",
        ),
        (
            "variable = \"kms:EncryptionContext:PARAMETER_ARN\"",
            "variable = \"kms:EncryptionContext:aws:ssm:any\"",
            "KMS without the PARAMETER_ARN context",
        ),
        (
            "      variable = \"aws:ResourceTag/maintenance-responder:environment\"\n      values   = [var.environment]",
            "      variable = \"aws:ResourceTag/maintenance-responder:environment\"\n      values   = [\"*\"]",
            "AddTags on rules of any environment",
        ),
    ];
    for (new, old, problem) in old_hcl {
        assert!(text.contains(new), "{new}");
        let found = hcl_iam_problems(&text.replacen(new, old, 1));
        assert!(
            found.iter().any(|p| p.contains(problem)),
            "Terraform with {old:?}: {found:?}"
        );
    }
}

/// An alarm on the dead-letter queue's depth, with the switch function, on by default (it is
/// the only thing that says a window failed), notifying the topic.
#[test]
fn both_templates_alarm_on_a_switch_in_the_dead_letter_queue() {
    let tpl = sam();
    assert_eq!(sam_parameter(&tpl, "DeadLetterAlarm")["Default"], "true");
    assert!(
        sam_parameter(&tpl, "DeadLetterAlarm")["Description"]
            .as_str()
            .unwrap()
            .contains("USD 0.10 a month")
    );
    let alarm = sam_resource(&tpl, "DeadLettersAlarm");
    assert_eq!(alarm["Condition"], "CreateDeadLetterAlarm");
    assert_eq!(
        tpl["Conditions"]["CreateDeadLetterAlarm"],
        json!({ "Fn::And": [
            { "Fn::Equals": [r("DeadLetterAlarm"), "true"] },
            { "Condition": "CreateSwitchFunction" },
        ] })
    );
    let p = &alarm["Properties"];
    assert_eq!(p["Namespace"], "AWS/SQS");
    assert_eq!(p["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        p["Dimensions"],
        json!([{ "Name": "QueueName", "Value": { "Fn::GetAtt": ["SwitchDeadLetterQueue", "QueueName"] } }])
    );
    assert_eq!(
        (&p["Threshold"], &p["ComparisonOperator"]),
        (&json!(0), &json!("GreaterThanThreshold"))
    );
    assert_eq!(
        p["AlarmActions"],
        json!({ "Fn::If": ["HasAlarmTopic", [r("AlarmTopicArn")], r("AWS::NoValue")] })
    );

    let text = terraform();
    let variable = hcl_block(&text, r#"variable "dead_letter_alarm" {"#);
    assert_eq!(hcl_value(&variable, "default"), "true");
    let alarm = hcl_block(
        &text,
        r#"resource "aws_cloudwatch_metric_alarm" "dead_letters""#,
    );
    assert_eq!(
        hcl_value(&alarm, "count"),
        "var.switch_function && var.dead_letter_alarm ? 1 : 0"
    );
    assert_eq!(hcl_value(&alarm, "namespace"), quoted("AWS/SQS"));
    assert_eq!(
        hcl_value(&alarm, "metric_name"),
        quoted("ApproximateNumberOfMessagesVisible")
    );
    assert_eq!(
        hcl_value(&alarm, "dimensions"),
        "{ QueueName = aws_sqs_queue.switch_dead_letters[0].name }"
    );
    assert_eq!(hcl_value(&alarm, "threshold"), "0");
    assert_eq!(
        hcl_value(&alarm, "comparison_operator"),
        quoted("GreaterThanThreshold")
    );
    assert_eq!(hcl_value(&alarm, "alarm_actions"), "local.alarm_actions");
}

/// The switch function has a concurrency ceiling; the NLB balances across zones as the ALB
/// does and is protected from deletion by default (checkov's findings, fixed).
#[test]
fn the_switch_function_is_capped_and_the_nlb_matches_the_alb() {
    let tpl = sam();
    assert_eq!(
        sam_resource(&tpl, "MaintenanceSwitch")["Properties"]["ReservedConcurrentExecutions"],
        5
    );
    assert_eq!(
        sam_resource(&tpl, "Nlb")["Properties"]["LoadBalancerAttributes"],
        json!([
            { "Key": "load_balancing.cross_zone.enabled", "Value": "true" },
            { "Key": "deletion_protection.enabled", "Value": { "Fn::If": ["ProtectsNlb", "true", "false"] } },
        ])
    );
    assert_eq!(
        sam_parameter(&tpl, "NlbDeletionProtection")["Default"],
        "true"
    );
    let text = terraform();
    let f = hcl_block(&text, r#"resource "aws_lambda_function" "switch""#);
    assert_eq!(hcl_value(&f, "reserved_concurrent_executions"), "5");
    let nlb = hcl_block(&text, r#"resource "aws_lb" "nlb""#);
    assert_eq!(hcl_value(&nlb, "enable_cross_zone_load_balancing"), "true");
    assert_eq!(
        hcl_value(&nlb, "enable_deletion_protection"),
        "var.nlb_deletion_protection"
    );
    let variable = hcl_block(&text, r#"variable "nlb_deletion_protection" {"#);
    assert_eq!(hcl_value(&variable, "default"), "true");
}

/// The gradual return (issue #24): operators get a policy of its own (beside the switching
/// policy, which still never creates a rule) that creates and deletes admission rules only with
/// their role and environment as tags; the switch function deletes them only by those tags.
#[test]
fn a_gradual_return_creates_and_deletes_admission_rules_only_by_their_tags() {
    let tpl = sam();
    let policy = sam_resource(&tpl, "ReturnPolicy");
    assert!(policy.get("Condition").is_none(), "always created");
    let document = &policy["Properties"]["PolicyDocument"];
    let role_key = |kind: &str| format!("aws:{kind}/{}", tags::ROLE);
    let env_key = |kind: &str| format!("aws:{kind}/{}", tags::ENVIRONMENT);
    let (_, create) = sam_statement(document, "CreateAdmissionRules");
    assert_eq!(create["Action"], "elasticloadbalancing:CreateRule");
    assert_eq!(
        create["Condition"]["StringEquals"][role_key("RequestTag")],
        tags::ROLE_ADMISSION
    );
    assert_eq!(
        create["Condition"]["StringEquals"][env_key("RequestTag")],
        r("Environment")
    );
    let (_, tag) = sam_statement(document, "TagAdmissionRulesOnCreate");
    assert_eq!(
        tag["Condition"]["StringEquals"]["elasticloadbalancing:CreateAction"],
        "CreateRule"
    );
    for (name, role) in [
        ("ReturnPolicy", document),
        (
            "SwitchRole",
            &sam_resource(&tpl, "SwitchRole")["Properties"]["Policies"][0]["PolicyDocument"],
        ),
    ] {
        let (_, delete) = sam_statement(role, "DeleteAdmissionRules");
        assert_eq!(
            delete["Action"], "elasticloadbalancing:DeleteRule",
            "{name}"
        );
        assert_eq!(
            delete["Condition"]["StringEquals"][role_key("ResourceTag")],
            tags::ROLE_ADMISSION,
            "{name}"
        );
        assert_eq!(
            delete["Condition"]["StringEquals"][env_key("ResourceTag")],
            r("Environment"),
            "{name}"
        );
        let (_, state) = sam_statement(role, "ReturnState");
        assert!(
            state["Resource"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .ends_with(&format!("${{SsmPrefix}}/{}", parameters::RETURN_STATE)),
            "{name}: {state}"
        );
    }
    let text = terraform();
    let block = hcl_block(&text, r#"data "aws_iam_policy_document" "gradual_return""#);
    for sid in [
        "CreateAdmissionRules",
        "TagAdmissionRulesOnCreate",
        "DeleteAdmissionRules",
        "ReturnState",
        "ReadReturnState",
    ] {
        assert!(block.contains(&quoted(sid)), "terraform lacks {sid}");
    }
    assert_eq!(block.matches(&quoted(tags::ROLE_ADMISSION)).count(), 3);
    let switch = hcl_block(&text, r#"data "aws_iam_policy_document" "switch""#);
    assert!(switch.contains(&quoted("elasticloadbalancing:DeleteRule")));
    assert!(switch.contains(&format!("/{}", parameters::RETURN_STATE)));
}
