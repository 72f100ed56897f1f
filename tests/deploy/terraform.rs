//! The templates deployed, not only validated (issue #19), against moto on loopback:
//!
//! - the Terraform module applied with `terraform apply` (the provider's endpoints pointed at
//!   the emulator, fake credentials, the account checks skipped, providers from the offline
//!   mirror) through `deploy/terraform/test/sandbox` (a VPC, an ALB with an HTTP and an HTTPS
//!   listener, a tiny application, the module on both listeners), then `maintctl attach`,
//!   `status`, `on` and `off` on what it made, then `terraform destroy`; the every-option apply
//!   is `scripts/aws-acceptance`'s emulator run (tests/deploy/acceptance.rs);
//! - every IAM policy the docs print is the one the module rendered in that apply;
//! - the SAM template expanded (`Fn::ForEach`) and translated (aws-sam-translator) as
//!   CloudFormation would, created in moto's CloudFormation with every condition true, and what
//!   moto cannot create named (docs/deploy.md keeps the same list);
//! - checkov on the module with every option on and on the translated template, clean but for
//!   the skips with their reasons in `deploy/.checkov.yaml`, and failing on a finding put back.
//!
//! moto does not evaluate IAM, run Lambda code or alarm actions, or fire schedules: what only a
//! real account shows is `scripts/aws-acceptance`'s.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::Moto;
use crate::common::alb::{code, maintctl, text};
use crate::common::terraform::{Root, describe};
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A zip holding one file.
fn zip_with(path: &Path, name: &str, body: &str) {
    let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    z.writestr(sys.argv[2], sys.argv[3])\n";
    let out = Command::new(crate::common::python())
        .args(["-c", script])
        .arg(path)
        .args([name, body])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
}

/// A self-signed certificate and its key (PEM) for the sandbox's HTTPS listener.
fn certificate() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["maint.test".to_string()]).unwrap();
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

/// The sandbox applied against `moto`: packages (stubs: moto stores Lambda code but never runs
/// it), the certificate and the variables written, then `terraform apply` in two steps.
fn apply_sandbox(moto: &Moto, name: &str, every_option: bool, fallthrough: bool) -> Root {
    let mut tf = Root::copy("sandbox", |main| main);
    tf.against_moto(&moto.endpoint, moto.env());
    let scratch = tf.scratch();
    let package = |file: &str| scratch.join(file).display().to_string();
    zip_with(&scratch.join("responder.zip"), "bootstrap", "#!/bin/sh\n");
    zip_with(&scratch.join("switch.zip"), "bootstrap", "#!/bin/sh\n");
    zip_with(
        &scratch.join("app.zip"),
        "app.py",
        "def handler(event, context):\n    return {'statusCode': 200, 'body': 'application'}\n",
    );
    let (cert, key) = certificate();
    let vars = json!({
        "region": "us-east-1",
        "name": name,
        "every_option": every_option,
        "fallthrough": fallthrough,
        "package_path": package("responder.zip"),
        "switch_package_path": package("switch.zip"),
        "app_package_path": package("app.zip"),
        "certificate_pem": cert,
        "private_key_pem": key,
    });
    fs::write(tf.path.join("terraform.tfvars.json"), vars.to_string()).unwrap();
    tf.init();
    // The module's rule counts depend on app_target_group_arn being known at plan time (see
    // docs/deploy.md, Terraform): the application's target group comes first.
    for args in [
        &[
            "apply",
            "-auto-approve",
            "-input=false",
            "-target=aws_lb_target_group.app",
        ][..],
        &["apply", "-auto-approve", "-input=false"][..],
    ] {
        let out = tf.run(args);
        assert!(
            out.status.success(),
            "terraform {args:?}: {}",
            describe(&out)
        );
    }
    tf
}

fn outputs(tf: &Root) -> Value {
    let out = tf.run(&["output", "-json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    all.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["value"].clone()))
        .collect()
}

// -------------------------------------------------------------------- policies

fn strings(value: &Value) -> Vec<String> {
    let mut list: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        Value::String(s) => vec![s.clone()],
        Value::Null => Vec::new(),
        other => panic!("not a string or a list: {other}"),
    };
    list.sort();
    list
}

/// A statement with its lists as sorted lists (IAM reads `"a"` and `["a"]` alike, and order
/// means nothing).
fn normalized(statement: &Value) -> Value {
    let mut condition = BTreeMap::new();
    for (operator, keys) in statement["Condition"].as_object().into_iter().flatten() {
        let keys: BTreeMap<String, Vec<String>> = keys
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), strings(v)))
            .collect();
        condition.insert(operator.clone(), keys);
    }
    json!({
        "Sid": statement["Sid"],
        "Effect": statement["Effect"],
        "Action": strings(&statement["Action"]),
        "Resource": strings(&statement["Resource"]),
        "Condition": condition,
    })
}

fn by_sid(document: &Value) -> BTreeMap<String, Value> {
    document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["Sid"].as_str().unwrap_or("").to_string(), normalized(s)))
        .collect()
}

/// Every JSON block of the tracked Markdown files that holds IAM statements: (where, JSON).
fn policy_blocks_in_docs() -> Vec<(String, String)> {
    let out = Command::new("git")
        .args(["ls-files", "-z", "--", "*.md"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut blocks = Vec::new();
    for path in String::from_utf8(out.stdout).unwrap().split('\0') {
        if path.is_empty() {
            continue;
        }
        let text = fs::read_to_string(root().join(path)).unwrap();
        let mut inside: Option<(usize, String)> = None;
        for (n, line) in text.lines().enumerate() {
            match (&mut inside, line.trim()) {
                (None, "```json") => inside = Some((n + 1, String::new())),
                (Some((at, body)), "```") => {
                    if body.contains("\"Effect\"") {
                        blocks.push((format!("{path}:{at}"), body.clone()));
                    }
                    inside = None;
                }
                (Some((_, body)), _) => {
                    body.push_str(line);
                    body.push('\n');
                }
                _ => {}
            }
        }
    }
    blocks
}

/// What is wrong with the docs' policies against the rendered ones: a whole document (with
/// `Version`) must be one rendered policy exactly; a list of statements, each a rendered
/// statement of the same Sid.
fn docs_policy_problems(
    blocks: &[(String, String)],
    placeholders: &[(&str, String)],
    rendered: &[(&str, Value)],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (at, body) in blocks {
        let mut body = body.clone();
        for (placeholder, value) in placeholders {
            body = body.replace(placeholder, value);
        }
        let doc: Value = match serde_json::from_str(&body) {
            Ok(doc) => doc,
            Err(e) => {
                problems.push(format!("{at}: not JSON: {e}"));
                continue;
            }
        };
        let statements = if doc.get("Version").is_some() {
            let shown = by_sid(&doc);
            match rendered.iter().find(|(_, r)| by_sid(r) == shown) {
                Some(_) => continue,
                None => {
                    let nearest = rendered
                        .iter()
                        .max_by_key(|(_, r)| {
                            by_sid(r).keys().filter(|k| shown.contains_key(*k)).count()
                        })
                        .unwrap();
                    let want = by_sid(&nearest.1);
                    for sid in want.keys().chain(shown.keys()) {
                        if want.get(sid) != shown.get(sid) {
                            problems.push(format!(
                                "{at}: statement {sid}: the docs print {}, the {} policy is {}",
                                shown
                                    .get(sid)
                                    .map_or("nothing".to_string(), Value::to_string),
                                nearest.0,
                                want.get(sid)
                                    .map_or("nothing".to_string(), Value::to_string),
                            ));
                        }
                    }
                    continue;
                }
            }
        } else {
            doc.as_array().cloned().unwrap_or_default()
        };
        for s in statements {
            let sid = s["Sid"].as_str().unwrap_or("").to_string();
            let found = rendered
                .iter()
                .find_map(|(_, r)| by_sid(r).get(&sid).cloned());
            if found.as_ref() != Some(&normalized(&s)) {
                problems.push(format!(
                    "{at}: statement {sid} is not the templates': {found:?}"
                ));
            }
        }
    }
    problems
}

// ------------------------------------------------------------------ the module

/// The module with its defaults (the HTTP and the HTTPS listener, the bypass link) applied
/// against moto; maintctl finds what it made as its own (attach has nothing to do), switches
/// it on and off; the docs' policies are the ones it rendered; destroy removes everything.
#[test]
fn terraform_applies_the_module_and_maintctl_switches_what_it_made() {
    let moto = Moto::start();
    let name = format!("tl{}", std::process::id() % 100_000);
    let tf = apply_sandbox(&moto, &name, false, false);
    let out = outputs(&tf);
    let m = &out["maintenance"];
    let listeners: Vec<String> = strings(&out["listener_arns"]);
    let lb = out["load_balancer_arn"].as_str().unwrap();
    let (lb_name, lb_id) = lb.rsplit_once("/app/").unwrap().1.split_once('/').unwrap();

    // The docs print the module's policies, as it rendered them here.
    let placeholders = [
        ("REGION", "us-east-1".to_string()),
        ("ACCOUNT", "123456789012".to_string()),
        ("LB_NAME", lb_name.to_string()),
        ("LB_ID", lb_id.to_string()),
        ("PREFIX", format!("maintenance/{name}")),
        ("ENV", name.clone()),
    ];
    let parse = |key: &str| -> Value { serde_json::from_str(m[key].as_str().unwrap()).unwrap() };
    let rendered = [
        ("switching", parse("switching_policy_json")),
        ("attach", parse("attach_policy_json")),
    ];
    let blocks = policy_blocks_in_docs();
    assert!(blocks.len() >= 2, "{blocks:?}");
    assert_eq!(
        docs_policy_problems(&blocks, &placeholders, &rendered),
        Vec::<String>::new()
    );
    // The check can fail: a statement the template no longer has, a changed condition.
    let stale = vec![(
        "doc.md:1".to_string(),
        blocks[0]
            .1
            .replacen("\"Sid\": \"Switch\"", "\"Sid\": \"SwitchAndRecord\"", 1),
    )];
    assert!(!docs_policy_problems(&stale, &placeholders, &rendered).is_empty());
    let loosened = vec![(
        "doc.md:1".to_string(),
        blocks[0]
            .1
            .replacen("StringEqualsIgnoreCase", "StringEquals", 1),
    )];
    assert!(!docs_policy_problems(&loosened, &placeholders, &rendered).is_empty());

    // maintctl: the rules are exactly what attach would make (nothing to do), off; on; off.
    let target_group = m["target_group_arn"].as_str().unwrap();
    let app = out["app_target_group_arn"].as_str().unwrap();
    let prefix = format!("/maintenance/{name}");
    let mut attach = vec![
        "attach",
        "--target-group",
        target_group,
        "--environment",
        &name,
    ];
    for l in &listeners {
        attach.extend(["--listener", l.as_str()]);
    }
    attach.extend([
        "--app-target-group",
        app,
        "--bypass-link",
        "--prefix",
        &prefix,
    ]);
    let out = maintctl(&moto, &attach);
    assert_eq!(
        code(&out),
        3,
        "attach on the module's rules: {}",
        text(&out)
    );
    let state = |expected: &str| {
        let out = maintctl(
            &moto,
            &["status", "--environment", &name, "--output", "json"],
        );
        assert_eq!(code(&out), 0, "{}", text(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let states: Vec<&str> = doc["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, [expected, expected], "{doc:#}");
    };
    state("off");
    let on = maintctl(
        &moto,
        &[
            "on",
            "--environment",
            &name,
            "--reason",
            "apply test",
            "--yes",
        ],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    state("on");
    let off = maintctl(&moto, &["off", "--environment", &name, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    state("off");

    let destroyed = tf.run(&["destroy", "-auto-approve", "-input=false"]);
    assert!(destroyed.status.success(), "{}", describe(&destroyed));
    let left = tf.run(&["state", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&left.stdout).trim(),
        "",
        "{}",
        describe(&left)
    );
}

/// `maintctl status --output json` of an environment.
fn status_json(moto: &Moto, env: &str) -> Value {
    let out = maintctl(moto, &["status", "--environment", env, "--output", "json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every rule of every listener in a status document: (rule ARN, priority).
fn rule_priorities(doc: &Value) -> Vec<(String, Value)> {
    let mut rules: Vec<(String, Value)> = doc["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["rules"].as_array().unwrap())
        .map(|r| {
            (
                r["arn"].as_str().unwrap().to_string(),
                r["priority"].clone(),
            )
        })
        .collect();
    rules.sort_by(|a, b| a.0.cmp(&b.0));
    rules
}

/// Issue #20, item 2, in the module: with allow_fallthrough and no application target group
/// (the application answering /app/* through a rule of its own, no catch-all), the module makes
/// no fallback rule (parked at 49995 it answered `/`, every path the application leaves over
/// and the health checks with the ALB's bare 503 while status said off); the maintenance rule
/// answers them while off, as allow_fallthrough says (the responder: its health route answers
/// 200). status and doctor say so and name it; on and off switch, and leave every rule where
/// it was.
#[test]
fn terraform_with_fallthrough_and_no_catch_all_parks_no_rule_answering_a_bare_503() {
    let moto = Moto::start();
    let name = format!("tf{}", std::process::id() % 100_000);
    let tf = apply_sandbox(&moto, &name, false, true);
    let out = outputs(&tf);
    let m = &out["maintenance"];
    assert_eq!(m["fallback_rule_arns"], json!({}), "{m:#}");
    assert_eq!(m["app_catch_all_rule_arns"], json!({}), "{m:#}");
    let maintenance_rules = m["maintenance_rule_arns"].as_object().unwrap();
    assert_eq!(maintenance_rules.len(), 2, "{m:#}");

    let before = status_json(&moto, &name);
    let listeners = before["listeners"].as_array().unwrap();
    assert_eq!(listeners.len(), 2, "{before:#}");
    for l in listeners {
        assert_eq!(l["state"], "off", "{l:#}");
        assert_eq!(l["fallback"], Value::Null, "{l:#}");
        let arn = l["listener"]["arn"].as_str().unwrap();
        let kinds: Vec<(&str, &str, &Value)> = l["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["kind"].as_str().unwrap(),
                    a["role"].as_str().unwrap(),
                    &a["rule"],
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("page", "maintenance", &maintenance_rules[arn]),
                ("unmatched", "maintenance", &maintenance_rules[arn]),
                ("health-check", "maintenance", &maintenance_rules[arn]),
            ],
            "{l:#}"
        );
        let warnings = l["warnings"].to_string();
        assert!(
            warnings.contains("--allow-fallthrough") && !warnings.contains("bare 503"),
            "{warnings}"
        );
    }
    // doctor: the routing check warns (allow-fallthrough), naming the maintenance rule; it
    // fails on nothing routing (the responder cannot be invoked on moto: that check fails).
    let doctor = maintctl(
        &moto,
        &["doctor", "--environment", &name, "--output", "json"],
    );
    let doc: Value = serde_json::from_slice(&doctor.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&doctor)));
    let routing: Vec<&Value> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == "routing")
        .collect();
    assert_eq!(routing.len(), 2, "{doc:#}");
    for c in routing {
        assert_eq!(c["status"], "warn", "{c:#}");
        let summary = c["summary"].as_str().unwrap();
        assert!(summary.contains("maintenance rule"), "{c:#}");
        assert!(!summary.contains("fallback"), "{c:#}");
    }

    let on = maintctl(
        &moto,
        &[
            "on",
            "--environment",
            &name,
            "--reason",
            "fallthrough test",
            "--yes",
        ],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    let during = status_json(&moto, &name);
    for l in during["listeners"].as_array().unwrap() {
        assert_eq!(l["state"], "on", "{l:#}");
    }
    let off = maintctl(&moto, &["off", "--environment", &name, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    let after = status_json(&moto, &name);
    for l in after["listeners"].as_array().unwrap() {
        assert_eq!(l["state"], "off", "{l:#}");
    }
    assert_eq!(rule_priorities(&after), rule_priorities(&before));

    let destroyed = tf.run(&["destroy", "-auto-approve", "-input=false"]);
    assert!(destroyed.status.success(), "{}", describe(&destroyed));
}

// ----------------------------------------------------------------------- SAM

/// What moto 5.2's CloudFormation cannot create of the translated template (docs/deploy.md,
/// "Checking the templates against moto", lists the same), and why.
const MOTO_CANNOT_CREATE: [&str; 7] = [
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::Alias",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::Scheduler::ScheduleGroup",
    "AWS::SecretsManager::Secret",
];

fn sam_deploy(moto: &Moto, stack: &str, parameters: &Value) -> Value {
    let out = Command::new(crate::common::python())
        .arg(root().join("tests/support/sam_deploy.py"))
        .arg(root().join("deploy/sam/template.yaml"))
        .arg(stack)
        .arg(parameters.to_string())
        .envs(moto.env())
        .output()
        .unwrap();
    assert!(out.status.success(), "sam_deploy.py: {}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The SAM template, expanded and translated as CloudFormation would, with every condition
/// true, created in moto's CloudFormation: what moto can create exists (the rules on both
/// listeners with their tags, the roles with their rendered policies), and what it cannot is
/// exactly the documented list.
#[tokio::test]
async fn sam_template_translates_and_moto_creates_what_it_can() {
    let moto = Moto::start();
    let alb = crate::common::alb::build_with(&moto, "samstack", &[], &[], Some(100));
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config().await);
    let described = elb
        .describe_load_balancers()
        .load_balancer_arns(&alb.load_balancer)
        .send()
        .await
        .unwrap();
    let lb = &described.load_balancers()[0];
    let subnets: Vec<&str> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id())
        .collect();
    let parameters = json!({
        "Environment": "shop",
        "ListenerArns": [alb.http, alb.https],
        "SsmPrefix": "/maintenance/shop",
        "SsmKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "AppTargetGroupArn": alb.app_target_group,
        "BypassSourceCidrs": "203.0.113.0/24",
        "BypassHeaderName": "X-Maintenance-Bypass",
        "BypassHeaderValue": "a-long-random-secret",
        "BypassLink": "true",
        "CreateNlb": "true",
        "AlbArn": alb.load_balancer,
        "VpcId": lb.vpc_id().unwrap(),
        "NlbSubnetIds": subnets.join(","),
        "ProvisionedConcurrency": "2",
        "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:ops",
        "FunctionAlarms": "true",
        "AlbAlarms": "true",
        "CreateAttachPolicy": "true",
        "SwitchFunction": "true",
        "AutoFallback": "true",
        "AutoSwitchAlarm": "true",
    });
    let report = sam_deploy(&moto, "maint-shop", &parameters);
    assert_eq!(report["stack_status"], "CREATE_COMPLETE", "{report:#}");
    assert_eq!(report["unsupported_types"], json!(MOTO_CANNOT_CREATE));
    let readme = fs::read_to_string(root().join("docs/deploy.md")).unwrap();
    for t in MOTO_CANNOT_CREATE {
        assert!(
            readme.contains(&format!("`{t}`")),
            "docs/deploy.md does not name {t}"
        );
    }
    // Every resource type of the translated template is created or named as left out.
    let translated = report["translated_types"].as_object().unwrap();
    assert!(translated.len() >= 16, "{translated:?}");
    // What moto could create: the rules of both listeners that do not forward to the
    // responder's target group (which forwards to the alias moto cannot create).
    for listener in [&alb.http, &alb.https] {
        let rules: Vec<(u64, String)> = report["rules"][listener.as_str()]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["priority"].as_u64().unwrap(),
                    r["action"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            rules,
            [
                (100, "forward".to_string()),
                (49_990, "forward".to_string()),
                (49_995, "fixed-response".to_string()),
                (49_998, "forward".to_string()),
                (49_999, "forward".to_string()),
            ]
        );
    }
    // The roles' policies as CloudFormation resolved them: the Scheduler trusts its group.
    let trust = &report["policies"]["SchedulerRole/trust"]["Statement"][0];
    assert_eq!(
        trust["Condition"],
        json!({ "StringEquals": {
            "aws:SourceAccount": "123456789012",
            "aws:SourceArn": "arn:aws:scheduler:us-east-1:123456789012:schedule-group/maintenance-shop",
        } })
    );
    // The attach policy the README prints is SAM's too (moto cannot create SAM's switching
    // policy, which names the alias: the Terraform test compares that one).
    let (lb_name, lb_id) = alb
        .load_balancer
        .rsplit_once("/app/")
        .unwrap()
        .1
        .split_once('/')
        .unwrap();
    let placeholders = [
        ("REGION", "us-east-1".to_string()),
        ("ACCOUNT", "123456789012".to_string()),
        ("LB_NAME", lb_name.to_string()),
        ("LB_ID", lb_id.to_string()),
        ("PREFIX", "maintenance/shop".to_string()),
        ("ENV", "shop".to_string()),
    ];
    let attach = report["policies"]["AttachPolicy"].clone();
    let attach_sids = by_sid(&attach);
    let blocks: Vec<(String, String)> = policy_blocks_in_docs()
        .into_iter()
        .filter(|(_, body)| {
            attach_sids
                .keys()
                .all(|sid| body.contains(&format!("\"Sid\": \"{sid}\"")))
        })
        .collect();
    assert_eq!(blocks.len(), 1, "the README's attach policy: {blocks:?}");
    assert_eq!(
        docs_policy_problems(&blocks, &placeholders, &[("attach", attach)]),
        Vec::<String>::new()
    );
    let responder = &report["policies"]["ExecutionRole/maintenance-responder"];
    let read = responder["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ReadContent")
        .unwrap();
    assert_eq!(read["Action"], "ssm:GetParametersByPath");
}

// ------------------------------------------------------------------- checkov

/// `CHECKOV`, else the project's `.venv/checkov/bin/checkov` (scripts/setup-tools).
fn checkov() -> PathBuf {
    if let Some(path) = std::env::var_os("CHECKOV") {
        return PathBuf::from(path);
    }
    let venv = root().join(".venv/checkov/bin/checkov");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/setup-tools (it installs checkov); this test does not skip",
        venv.display()
    );
    venv
}

/// checkov with the project's configuration (`deploy/.checkov.yaml`: the skips and their
/// reasons); its failed checks as `(check, resource)`, and its summary line.
fn checkov_findings(args: &[&str], target: &Path) -> (Vec<(String, String)>, String) {
    let out = Command::new(checkov())
        .args(args)
        .arg(target)
        .arg("--config-file")
        .arg(root().join("deploy/.checkov.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("Passed checks:"))
        .unwrap_or_else(|| panic!("checkov printed no summary: {}", describe(&out)))
        .to_string();
    let mut findings = Vec::new();
    let mut check = String::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("Check: ") {
            check = rest.split(':').next().unwrap().to_string();
        } else if let Some(resource) = line.trim().strip_prefix("FAILED for resource: ") {
            findings.push((check.clone(), resource.to_string()));
        }
    }
    assert_eq!(
        out.status.success(),
        findings.is_empty(),
        "checkov's status and findings disagree: {}",
        describe(&out)
    );
    (findings, summary)
}

/// checkov on the module with every option on and on the SAM template translated with every
/// condition true: nothing but the skips of deploy/.checkov.yaml (each with its reason); and a
/// fixed finding put back (the switch function's reserved concurrency, the NLB's deletion
/// protection) is found again.
#[test]
fn checkov_finds_nothing_in_either_template_but_the_reasoned_skips() {
    let terraform = ["--framework", "terraform", "-d"];
    let tf = Root::copy("every-option", |main| main);
    let (findings, summary) = checkov_findings(&terraform, &tf.path);
    assert_eq!(findings, [], "{summary}");
    assert!(summary.starts_with("Passed checks: 1"), "{summary}");

    let switch_tf = tf.path.join("../../switch.tf");
    let text = fs::read_to_string(&switch_tf).unwrap();
    let capped = "  reserved_concurrent_executions = 5\n";
    assert!(text.contains(capped));
    fs::write(&switch_tf, text.replace(capped, "")).unwrap();
    let main_tf = tf.path.join("../../main.tf");
    let text = fs::read_to_string(&main_tf).unwrap();
    let protected = "enable_deletion_protection       = var.nlb_deletion_protection";
    assert!(text.contains(protected));
    fs::write(
        &main_tf,
        text.replace(protected, "enable_deletion_protection = false"),
    )
    .unwrap();
    let (findings, _) = checkov_findings(&terraform, &tf.path);
    let checks: Vec<&str> = findings.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(checks, ["CKV_AWS_150", "CKV_AWS_115"], "{findings:?}");

    let dir = tempfile::tempdir().unwrap();
    let translated = dir.path().join("template.json");
    let parameters = json!({
        "Environment": "shop",
        "ListenerArns": [
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/0123456789abcdef/00000000000000a1",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/0123456789abcdef/00000000000000b2",
        ],
        "SsmPrefix": "/maintenance/shop",
        "AppTargetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-app/0123456789abcdef",
    });
    let out = Command::new(crate::common::python())
        .arg(root().join("tests/support/sam_deploy.py"))
        .arg("--every-condition-true")
        .arg(root().join("deploy/sam/template.yaml"))
        .arg(parameters.to_string())
        .arg(&translated)
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let cloudformation = ["--framework", "cloudformation", "-f"];
    let (findings, summary) = checkov_findings(&cloudformation, &translated);
    assert_eq!(findings, [], "{summary}");
    let text = fs::read_to_string(&translated).unwrap();
    let capped = "\"ReservedConcurrentExecutions\": 5";
    assert!(text.contains(capped), "the switch function's concurrency");
    fs::write(&translated, text.replace(&format!("{capped},"), "")).unwrap();
    let (findings, _) = checkov_findings(&cloudformation, &translated);
    assert_eq!(
        findings,
        [(
            "CKV_AWS_115".to_string(),
            "AWS::Lambda::Function.MaintenanceSwitch".to_string()
        )]
    );
}
