//! The bypass link on the switching side (issue #14), against the moto emulator in server mode
//! over the wire (ELBv2, SSM, ACM): `attach --bypass-link` creates the cookie rule; `on` sets a
//! new token (SSM `SecureString` and the rule's condition) and moves the rule above the
//! maintenance rule; `off` parks it and rotates the token, so the old one no longer matches;
//! `status` and `--dry-run` never show it; `bypass link` prints it again; a failure part-way
//! puts every rule back, and a concurrent switch's token is never overwritten. Faults that no
//! server produces on demand are injected through the `Listeners` and SSM traits.

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_elasticloadbalancingv2 as elbv2;
use common::Moto;
use common::alb::{self, Alb, alb_matches, code, maintctl, text};
use common::listeners::{Faults, Faulty, aws, both_priorities, priorities, snapshot, switch_on};
use maintenance_core::content::BypassToken;
use maintenance_core::deploy_names::{BYPASS_COOKIE, tags};
use maintenance_engine::listeners::{Aws, Listeners, ListenersError, Targets};
use maintenance_engine::ops::{self, Outcome, SwitchRequest};
use maintenance_engine::planner::bypass::{is_cookie_rule, rule_token};
use maintenance_engine::planner::{self, Condition, RuleView, State};
use maintenance_responder::ssm::{
    FetchError, LockParameters, ParameterPage, ParameterStore, ParameterWriter, StoredType, Write,
};
use serde_json::Value;

async fn ssm(moto: &Moto) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&moto.sdk_config().await)
}

/// The cookie rule of a listener and the token its condition holds.
async fn cookie_rule(client: &impl Listeners, listener: &str) -> (RuleView, String) {
    let s = snapshot(client, listener).await;
    let rules: Vec<&RuleView> = s.rules.iter().filter(|r| is_cookie_rule(r)).collect();
    assert_eq!(rules.len(), 1, "one cookie rule on {listener}: {rules:?}");
    let token = rule_token(rules[0]).expect("a cookie condition maintctl set");
    (rules[0].clone(), token.expose().to_string())
}

/// The token in SSM and its type, if the parameter exists.
async fn stored(moto: &Moto, prefix: &str) -> Option<(String, String)> {
    let out = ssm(moto)
        .await
        .get_parameter()
        .name(format!("{prefix}/bypass/token"))
        .with_decryption(true)
        .send()
        .await;
    match out {
        Ok(out) => {
            let p = out.parameter.unwrap();
            Some((p.value.unwrap(), p.r#type.unwrap().as_str().to_string()))
        }
        Err(e) if format!("{e:?}").contains("ParameterNotFound") => None,
        Err(e) => panic!("GetParameter: {e:?}"),
    }
}

/// `attach` on both listeners with a source-IP and a cookie bypass rule, content under `prefix`.
fn attach_args<'a>(alb: &'a Alb, env: &'a str, prefix: &'a str) -> Vec<&'a str> {
    let options = [
        "--prefix",
        prefix,
        "--bypass-cidr",
        "203.0.113.0/24",
        "--bypass-link",
    ];
    alb::attach_args(alb, env, &options)
}

/// Attaches both listeners with a source-IP and a cookie bypass rule; returns the initial
/// tokens (HTTP, HTTPS).
async fn attached(moto: &Moto, alb: &Alb, env: &str, prefix: &str) -> (String, String) {
    let out = maintctl(moto, &attach_args(alb, env, prefix));
    assert_eq!(code(&out), 0, "{}", text(&out));
    let client = aws(moto).await;
    let http = cookie_rule(&client, &alb.http).await.1;
    let https = cookie_rule(&client, &alb.https).await.1;
    let printed = text(&out);
    assert!(
        !printed.contains(&http) && !printed.contains(&https),
        "attach printed the token: {printed}"
    );
    (http, https)
}

/// What the ALB does with a `Cookie` header on the cookie rule's condition.
fn rule_lets_through(rule: &RuleView, cookie: &str) -> bool {
    rule.conditions.iter().all(|c| match c {
        Condition::HttpHeader { name, values } if name.eq_ignore_ascii_case("cookie") => {
            values.iter().any(|v| alb_matches(v, cookie))
        }
        _ => false,
    })
}

#[tokio::test]
async fn attach_creates_the_cookie_rule_beside_the_bypass_rules_with_a_fresh_unshown_token() {
    let moto = Moto::shared();
    let alb = alb::build(moto, "bl-attach", &[10, 20], 40_000);
    let env = common::unique("env-bl-attach");
    let prefix = format!("/maintenance/{}", common::unique("bl-attach"));
    let client = aws(moto).await;

    // The dry run shows the rule with its token hidden, and creates nothing.
    let mut dry = attach_args(&alb, &env, &prefix);
    dry.extend(["--dry-run", "--output", "json"]);
    let out = maintctl(moto, &dry);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = doc["listeners"][0]["steps"].as_array().unwrap();
    let cookie = steps
        .iter()
        .find(|s| s["rule"]["conditions"][0]["name"] == "Cookie")
        .unwrap_or_else(|| panic!("no cookie rule planned: {doc}"));
    assert_eq!(
        cookie["rule"]["conditions"][0]["values"],
        serde_json::json!(["*maint_bypass=(hidden)*"])
    );
    assert_eq!(cookie["rule"]["priority"], 49_998);
    assert!(
        snapshot(&client, &alb.http)
            .await
            .maintenance_rule()
            .is_none()
    );

    let (http, https) = attached(moto, &alb, &env, &prefix).await;
    for (listener, token) in [(&alb.http, &http), (&alb.https, &https)] {
        let (rule, _) = cookie_rule(&client, listener).await;
        // Beside the other bypass rules: directly above the source-IP rule, parked.
        assert_eq!(rule.priority, Some(49_998));
        assert_eq!(rule.tags[tags::PARKED_PRIORITY], "49998");
        assert_eq!(rule.tags[tags::ROLE], tags::ROLE_BYPASS);
        assert_eq!(rule.tags[tags::BYPASS_LINK], tags::BYPASS_LINK_COOKIE);
        assert_eq!(rule.tags[tags::ENVIRONMENT], env);
        assert_eq!(
            rule.action.target_groups(),
            std::slice::from_ref(&alb.app_target_group),
            "the cookie rule forwards to the application"
        );
        assert_eq!(token.len(), 43, "32 random bytes as URL-safe base64");
        let Condition::HttpHeader { values, .. } = &rule.conditions[0] else {
            panic!("{rule:?}")
        };
        assert!(values[0].len() <= 128, "{}", values[0]);
        assert!(rule_lets_through(
            &rule,
            &format!("theme=dark; {BYPASS_COOKIE}={token}")
        ));
    }
    assert_ne!(http, https, "every rule gets its own fresh token");
    assert_eq!(stored(moto, &prefix).await, None, "attach stores no token");
    assert_eq!(
        snapshot(&client, &alb.http).await.state().unwrap(),
        State::Off
    );

    // Again: nothing to do, whatever token the rule holds now.
    let again = maintctl(moto, &attach_args(&alb, &env, &prefix));
    assert_eq!(code(&again), 3, "{}", text(&again));

    // A cookie rule without a content prefix would have nowhere to keep the token.
    let mut no_prefix = attach_args(&alb, &env, &prefix);
    no_prefix.retain(|a| *a != "--prefix" && *a != prefix.as_str());
    let out = maintctl(moto, &no_prefix);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(
        text(&out).contains("--bypass-link needs --prefix"),
        "{}",
        text(&out)
    );
}

/// One window, end to end through `maintctl`: the token of `on` is in SSM (SecureString) and on
/// both cookie rules, which move above the maintenance rule; it shows only in `on`'s link and
/// in `bypass link`; `off` parks the rules and rotates the token, so the old one matches no
/// more; the next `on` sets yet another.
#[tokio::test]
async fn on_sets_a_new_token_off_rotates_it_and_only_the_link_shows_it() {
    let moto = Moto::shared();
    let alb = alb::build(moto, "bl-window", &[1, 2], 40_000);
    let env = common::unique("env-bl-window");
    let prefix = format!("/maintenance/{}", common::unique("bl-window"));
    let client = aws(moto).await;
    let initial = attached(moto, &alb, &env, &prefix).await;
    let before = priorities(&client, &alb.http).await;

    // The dry run says what will happen to the token, and does none of it.
    let dry = maintctl(moto, &["on", "--environment", &env, "--dry-run"]);
    assert_eq!(code(&dry), 0, "{}", text(&dry));
    assert!(
        text(&dry).contains("bypass link: a new token goes on 2 cookie bypass rule(s)"),
        "{}",
        text(&dry)
    );
    assert_eq!(cookie_rule(&client, &alb.http).await.1, initial.0);
    assert_eq!(stored(moto, &prefix).await, None);

    let on = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let (token, kind) = stored(moto, &prefix).await.expect("on stored the token");
    assert_eq!(kind, "SecureString");
    assert!(BypassToken::parse(&token).is_ok() && token.len() == 43);
    assert!(token != initial.0 && token != initial.1);
    for listener in [&alb.http, &alb.https] {
        let s = snapshot(&client, listener).await;
        assert_eq!(s.state().unwrap(), State::On);
        let (rule, on_rule) = cookie_rule(&client, listener).await;
        assert_eq!(on_rule, token, "the rule and SSM hold the same token");
        let maintenance = s.maintenance_rule().unwrap().priority.unwrap();
        assert!(
            rule.priority.unwrap() < maintenance,
            "the cookie rule is above the maintenance rule: {:?} vs {maintenance}",
            rule.priority
        );
        assert!(rule_lets_through(
            &rule,
            &format!("{BYPASS_COOKIE}={token}")
        ));
    }
    // The link, from the HTTPS listener's certificate, once; nowhere else.
    let stdout = String::from_utf8_lossy(&on.stdout);
    let link = format!("https://{}/__maintenance/bypass/{token}", alb.domain);
    assert_eq!(stdout.matches(&token).count(), 1, "{}", text(&on));
    assert!(stdout.contains(&format!("  {link}\n")), "{}", text(&on));
    assert!(
        stdout.contains("within one content freshness window of maintctl on (30 s"),
        "{stdout}"
    );
    assert!(!String::from_utf8_lossy(&on.stderr).contains(&token));

    // status never shows it, text or JSON; bypass link does, exactly as on did.
    for output in ["text", "json"] {
        let status = maintctl(moto, &["status", "--environment", &env, "--output", output]);
        assert_eq!(code(&status), 0, "{}", text(&status));
        assert!(
            !text(&status)
                .to_ascii_lowercase()
                .contains(&token.to_ascii_lowercase())
        );
    }
    let status = maintctl(moto, &["status", "--environment", &env, "--output", "json"]);
    assert!(
        text(&status).contains("*maint_bypass=(hidden)*"),
        "{}",
        text(&status)
    );
    let again = maintctl(moto, &["bypass", "link", "--environment", &env]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains(&format!("  {link}\n")));
    let host = maintctl(
        moto,
        &[
            "bypass",
            "link",
            "--listener",
            &alb.https,
            "--host",
            "testers.example.org",
            "--output",
            "json",
        ],
    );
    let doc: Value =
        serde_json::from_slice(&host.stdout).unwrap_or_else(|_| panic!("{}", text(&host)));
    assert_eq!(
        doc["links"][0]["url"],
        format!("https://testers.example.org/__maintenance/bypass/{token}")
    );

    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert!(!text(&off).contains(&token));
    let (rotated, kind) = stored(moto, &prefix).await.unwrap();
    assert_eq!(kind, "SecureString");
    assert_ne!(rotated, token);
    assert!(!text(&off).contains(&rotated), "off never shows its token");
    assert_eq!(
        priorities(&client, &alb.http).await,
        before,
        "parked exactly"
    );
    for listener in [&alb.http, &alb.https] {
        let (rule, now) = cookie_rule(&client, listener).await;
        assert_eq!(now, rotated);
        assert_eq!(rule.priority, Some(49_998));
        // The old link's cookie no longer gets through, in any case; the new one would.
        for old in [token.clone(), token.to_ascii_uppercase()] {
            assert!(!rule_lets_through(
                &rule,
                &format!("a=1; {BYPASS_COOKIE}={old}; b=2")
            ));
        }
        assert!(rule_lets_through(
            &rule,
            &format!("{BYPASS_COOKIE}={rotated}")
        ));
    }
    // No window, no link.
    let none = maintctl(moto, &["bypass", "link", "--environment", &env]);
    assert_eq!(code(&none), 4, "{}", text(&none));
    assert!(!text(&none).contains(&rotated));
    assert!(
        text(&none).contains("maintenance is not on"),
        "{}",
        text(&none)
    );

    // The next window gets a token of its own, printed in the JSON document too.
    let on = maintctl(
        moto,
        &["on", "--environment", &env, "--yes", "--output", "json"],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    let doc: Value = serde_json::from_slice(&on.stdout).unwrap();
    let (third, _) = stored(moto, &prefix).await.unwrap();
    assert!(third != token && third != rotated);
    assert_eq!(doc["bypass"]["links"][0]["prefix"], prefix);
    assert_eq!(
        doc["bypass"]["links"][0]["url"],
        format!("https://{}/__maintenance/bypass/{third}", alb.domain)
    );
    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
}

#[tokio::test]
async fn on_refuses_a_cookie_rule_without_a_content_prefix_and_changes_nothing() {
    let moto = Moto::shared();
    let alb = alb::build(moto, "bl-noprefix", &[10], 40_000);
    let env = common::unique("env-bl-noprefix");
    let prefix = format!("/maintenance/{}", common::unique("bl-noprefix"));
    let client = aws(moto).await;
    let initial = attached(moto, &alb, &env, &prefix).await;
    let elb = elbv2::Client::new(&moto.sdk_config().await);
    for listener in [&alb.http, &alb.https] {
        let m = snapshot(&client, listener)
            .await
            .maintenance_rule()
            .unwrap()
            .arn
            .clone();
        elb.remove_tags()
            .resource_arns(&m)
            .tag_keys(tags::CONTENT_PREFIX)
            .send()
            .await
            .unwrap();
    }
    let before = priorities(&client, &alb.http).await;
    let on = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 4, "{}", text(&on));
    let err = String::from_utf8_lossy(&on.stderr);
    assert!(
        err.contains("needs the responder's content prefix")
            && err.contains(tags::CONTENT_PREFIX)
            && err.contains("aws elbv2 add-tags"),
        "{err}"
    );
    assert_eq!(priorities(&client, &alb.http).await, before);
    assert_eq!(cookie_rule(&client, &alb.http).await.1, initial.0);

    // Without a link this window, no prefix is needed: the rules get a token nobody knows.
    let on = maintctl(
        moto,
        &["on", "--environment", &env, "--yes", "--no-bypass-link"],
    );
    assert_eq!(code(&on), 0, "{}", text(&on));
    let (rule, hidden) = cookie_rule(&client, &alb.http).await;
    assert_ne!(hidden, initial.0);
    assert!(!text(&on).contains(&hidden));
    assert!(
        text(&on).contains("no bypass link this window"),
        "{}",
        text(&on)
    );
    assert_eq!(
        snapshot(&client, &alb.http).await.state().unwrap(),
        State::On
    );
    assert!(rule.priority.unwrap() < 10);
    assert_eq!(stored(moto, &prefix).await, None);
    // Off parks and rotates the rules, and says it stores nothing.
    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_ne!(cookie_rule(&client, &alb.http).await.1, hidden);
    assert!(text(&off).contains("stores none"), "{}", text(&off));
}

// ------------------------------------------------------------------- injected faults

/// ModifyRule fails on its `fail_on`-th call (counting from 1).
struct ModifyFault {
    modify_calls: AtomicUsize,
    fail_on: usize,
}

impl Faults for ModifyFault {
    async fn modify_rule_conditions(
        &self,
        real: &Aws,
        rule: &str,
        conditions: &[Condition],
    ) -> Result<(), ListenersError> {
        let n = self.modify_calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_on {
            // Echoes the value, as a service error might: the message must not repeat it.
            let echoed = format!("{conditions:?}");
            return Err(ListenersError::Call {
                operation: "ModifyRule",
                resource: rule.to_string(),
                code: Some("InjectedFailure".into()),
                message: format!("injected failure for {echoed}"),
                outcome_unknown: false,
            });
        }
        real.modify_rule_conditions(rule, conditions).await
    }
}

/// The real SSM client, except that PutParameter of a value fails. The lease (issue #15) is
/// still taken and released through the real client, as under a policy that allows writing
/// `{prefix}/switch/*` and not the token: this is about the token step.
struct FailingPut(aws_sdk_ssm::Client);

impl LockParameters for FailingPut {
    async fn create_new(&self, name: &str, value: &str) -> Result<bool, FetchError> {
        self.0.create_new(name, value).await
    }
    async fn read(&self, name: &str) -> Result<Option<(String, Option<i64>)>, FetchError> {
        self.0.read(name).await
    }
    async fn delete(&self, name: &str) -> Result<bool, FetchError> {
        self.0.delete(name).await
    }
    async fn overwrite(&self, name: &str, value: &str) -> Result<(), FetchError> {
        self.0.overwrite(name, value).await
    }
}

impl ParameterStore for FailingPut {
    async fn parameters_page(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<ParameterPage, FetchError> {
        self.0.parameters_page(path, token).await
    }
}

impl ParameterWriter for FailingPut {
    async fn stored_types(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, StoredType>, FetchError> {
        self.0.stored_types(names).await
    }
    async fn put(&self, write: &Write, _kind: &StoredType) -> Result<(), FetchError> {
        Err(FetchError::Service(format!(
            "AccessDeniedException: not authorized to put {} = {}",
            write.name, write.value
        )))
    }
}

fn on_request(alb: &Alb) -> SwitchRequest {
    switch_on(Targets {
        listeners: vec![alb.http.clone(), alb.https.clone()],
        ..Default::default()
    })
}

#[tokio::test]
async fn a_failure_setting_the_token_puts_every_cookie_rule_back_and_moves_nothing() {
    let moto = Moto::shared();
    let alb = alb::build(moto, "bl-fault", &[10], 40_000);
    let env = common::unique("env-bl-fault");
    let prefix = format!("/maintenance/{}", common::unique("bl-fault"));
    let client = aws(moto).await;
    let initial = attached(moto, &alb, &env, &prefix).await;
    let before = both_priorities(&client, &alb).await;

    // The second cookie rule refuses its token: the first gets its own back.
    let faulty = Faulty::new(
        moto,
        ModifyFault {
            modify_calls: AtomicUsize::new(0),
            fail_on: 2,
        },
    )
    .await;
    let report = ops::switch(
        &faulty,
        &ssm(moto).await,
        &on_request(&alb),
        &mut ops::Unattended,
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.message);
    assert!(
        report.message.contains("previous token back"),
        "{}",
        report.message
    );
    assert!(report.applied.is_none(), "no rule moved");
    let shown = format!(
        "{report}{}{}",
        report.message,
        serde_json::to_string(&report).unwrap()
    );
    assert_eq!(
        cookie_rule(&client, &alb.http).await.1,
        initial.0,
        "put back"
    );
    assert_eq!(
        cookie_rule(&client, &alb.https).await.1,
        initial.1,
        "never changed"
    );
    assert!(!shown.contains(&initial.0) && !shown.contains(&initial.1));
    assert!(
        shown.contains("*maint_bypass=(token)*"),
        "the echoed value is scrubbed: {shown}"
    );
    assert_eq!(
        report.message.matches("listener-rule/").count(),
        1,
        "the rule is named once: {}",
        report.message
    );
    assert_eq!(
        faulty.faults.modify_calls.load(Ordering::SeqCst),
        3,
        "set, fail, put back"
    );
    assert_eq!(stored(moto, &prefix).await, None, "SSM is written last");
    assert_eq!(both_priorities(&client, &alb).await, before);

    // SSM refuses the token: both rules get theirs back, and the message does not repeat it.
    let report = ops::switch(
        &client,
        &FailingPut(ssm(moto).await),
        &on_request(&alb),
        &mut ops::Unattended,
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.message);
    assert!(
        report.message.contains("storing the bypass token in"),
        "{}",
        report.message
    );
    assert!(
        report.message.contains("= (token)"),
        "scrubbed: {}",
        report.message
    );
    assert_eq!(cookie_rule(&client, &alb.http).await.1, initial.0);
    assert_eq!(cookie_rule(&client, &alb.https).await.1, initial.1);
    assert_eq!(priorities(&client, &alb.http).await, before.0);
}

/// Another switch that wrote its token between this one's plan and its writes (and may have
/// handed out its link): this one refuses and overwrites nothing.
#[tokio::test]
async fn a_token_written_by_a_concurrent_switch_is_never_overwritten() {
    let moto = Moto::shared();
    let alb = alb::build(moto, "bl-race", &[10], 40_000);
    let env = common::unique("env-bl-race");
    let prefix = format!("/maintenance/{}", common::unique("bl-race"));
    let client = aws(moto).await;
    attached(moto, &alb, &env, &prefix).await;
    let (rule, _) = cookie_rule(&client, &alb.https).await;
    let theirs = "TheOtherSwitchsToken_0123456789abcdefghijk";

    /// Says yes, after another writer set its token on the cookie rule.
    struct Racer {
        endpoint: String,
        rule: String,
        token: &'static str,
    }
    impl ops::Operator for Racer {
        fn confirm(&mut self, _plan: &ops::SwitchPlan) -> ops::Confirmation {
            let (endpoint, rule, token) = (self.endpoint.clone(), self.rule.clone(), self.token);
            std::thread::spawn(move || {
                tokio::runtime::Runtime::new()
                    .unwrap()
                    .block_on(async move {
                        let config = common::sdk_config_for(&endpoint).await;
                        let client = Aws::new(&config);
                        let condition = planner::bypass::cookie_condition(token);
                        client
                            .modify_rule_conditions(&rule, &[condition])
                            .await
                            .unwrap();
                    })
            })
            .join()
            .unwrap();
            ops::Confirmation::Confirmed
        }
    }
    let mut request = on_request(&alb);
    request.confirmed = false;
    let mut racer = Racer {
        endpoint: moto.endpoint.clone(),
        rule: rule.arn.clone(),
        token: theirs,
    };
    let before = priorities(&client, &alb.http).await;
    let report = ops::switch(&client, &ssm(moto).await, &request, &mut racer)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Refused, "{}", report.message);
    assert!(
        report.message.contains("changed since planning"),
        "{}",
        report.message
    );
    assert_eq!(cookie_rule(&client, &alb.https).await.1, theirs);
    assert_eq!(priorities(&client, &alb.http).await, before);
    assert_eq!(stored(moto, &prefix).await, None);
}

/// A listener routing `/api/*` to a second target group (a weighted forward: the API's group
/// weight 5, the application's weight 0, with target-group stickiness) and the rest to the
/// application's (the fixture's catch-all): returns the API's target group.
async fn add_api_route(moto: &Moto, alb: &Alb) -> String {
    let elb = elbv2::Client::new(&moto.sdk_config().await);
    let app = elb
        .describe_target_groups()
        .target_group_arns(&alb.app_target_group)
        .send()
        .await
        .unwrap();
    let vpc = app.target_groups()[0].vpc_id().unwrap().to_string();
    let name = common::unique("api");
    let api = elb
        .create_target_group()
        .name(&name[name.len().saturating_sub(30)..])
        .protocol(elbv2::types::ProtocolEnum::Http)
        .port(9090)
        .vpc_id(vpc)
        .target_type(elbv2::types::TargetTypeEnum::Instance)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    let tuple = |arn: &str, weight| {
        elbv2::types::TargetGroupTuple::builder()
            .target_group_arn(arn)
            .weight(weight)
            .build()
    };
    elb.create_rule()
        .listener_arn(&alb.http)
        .priority(10)
        .conditions(
            elbv2::types::RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    elbv2::types::PathPatternConditionConfig::builder()
                        .values("/api/*")
                        .build(),
                )
                .build(),
        )
        .actions(
            elbv2::types::Action::builder()
                .r#type(elbv2::types::ActionTypeEnum::Forward)
                .forward_config(
                    elbv2::types::ForwardActionConfig::builder()
                        .target_groups(tuple(&api, 5))
                        .target_groups(tuple(&alb.app_target_group, 0))
                        .target_group_stickiness_config(
                            elbv2::types::TargetGroupStickinessConfig::builder()
                                .enabled(true)
                                .duration_seconds(600)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    api
}

/// Where the rules of `listener`, as the emulator holds them, send `GET path` from `ip` with
/// `cookie` (if any), for each of 20 distinct visitors (the target groups, each once).
async fn destinations(
    client: &impl Listeners,
    listener: &str,
    path: &str,
    ip: &str,
    cookie: Option<&str>,
) -> Vec<String> {
    let s = snapshot(client, listener).await;
    let mut request = planner::routing::Request::get(path);
    request.host = Some("shop.example.com".into());
    request.source_ip = Some(ip.parse().unwrap());
    request.headers_complete = true;
    if let Some(c) = cookie {
        request = request.header("Cookie", c);
    }
    let mut out: Vec<String> = (0..20)
        .map(|v| {
            let reached =
                planner::routing::reach(&s.rules, &request, planner::routing::visitor_draw(v))
                    .expect("a default rule");
            match reached.destination.target_group() {
                Some(tg) => tg.to_string(),
                None => format!("{:?}", reached.destination),
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The application rules of a listener as they route: priority, conditions, actions.
async fn routing_rules(
    client: &impl Listeners,
    listener: &str,
) -> Vec<(Option<u32>, Vec<Condition>, Vec<planner::RuleAction>)> {
    snapshot(client, listener)
        .await
        .rules
        .iter()
        .filter(|r| !r.tags.contains_key(tags::ROLE))
        .map(|r| (r.priority, r.conditions.clone(), r.actions.clone()))
        .collect()
}

#[tokio::test]
async fn bypass_on_a_listener_with_two_target_groups_reaches_the_group_of_each_path() {
    let moto = Moto::shared();
    let alb = alb::build(moto, "bl-mirror", &[], 40_000);
    let api = add_api_route(moto, &alb).await;
    let env = common::unique("env-bl-mirror");
    let prefix = format!("/maintenance/{}", common::unique("bl-mirror"));
    let client = aws(moto).await;
    let before = routing_rules(&client, &alb.http).await;
    // The weighted forward and its stickiness, as the emulator holds them, are read in full.
    let Some((_, _, actions)) = before.iter().find(|r| r.0 == Some(10)) else {
        panic!("the /api/* rule: {before:?}")
    };
    let [planner::RuleAction::Forward(f)] = actions.as_slice() else {
        panic!("a forward: {actions:?}")
    };
    assert_eq!(
        (f.target_groups.len(), f.stickiness_seconds),
        (2, Some(600))
    );
    let attach = [
        "attach",
        "--listener",
        &alb.http,
        "--target-group",
        &alb.lambda_target_group,
        "--environment",
        &env,
        "--prefix",
        &prefix,
        "--bypass-cidr",
        "203.0.113.0/24",
        "--bypass-link",
    ];

    // The dry run shows the mirrored rules (token hidden) and creates nothing.
    let mut dry = attach.to_vec();
    dry.push("--dry-run");
    let out = maintctl(moto, &dry);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("path /api/* and source-ip 203.0.113.0/24, forward to")
            && shown.contains("(weight 5)")
            && shown.contains("sticky 600 s")
            && shown.contains("path /* and header Cookie: (value hidden)"),
        "{shown}"
    );
    assert!(
        snapshot(&client, &alb.http)
            .await
            .maintenance_rule()
            .is_none()
    );

    let out = maintctl(moto, &attach);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let s = snapshot(&client, &alb.http).await;
    // Per bypass, a mirror of /api/* and one of the catch-all (the default rule after it is
    // never reached): 4 bypass rules, parked above the maintenance rule.
    assert_eq!(s.bypass_rules().count(), 4, "{:#?}", s.rules);
    assert_eq!(s.rules.iter().filter(|r| is_cookie_rule(r)).count(), 2);
    assert_eq!(routing_rules(&client, &alb.http).await, before);
    // Parked, they change nothing: every path goes where it went.
    let tester = "203.0.113.7";
    let visitor = "192.0.2.1";
    for ip in [tester, visitor] {
        assert_eq!(
            destinations(&client, &alb.http, "/api/x", ip, None).await,
            vec![api.clone()]
        );
        assert_eq!(
            destinations(&client, &alb.http, "/shop", ip, None).await,
            vec![alb.app_target_group.clone()]
        );
    }

    let on = maintctl(moto, &["on", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 0, "{}", text(&on));
    let (token, _) = stored(moto, &prefix).await.expect("on stored the token");
    // The token rotation reaches every cookie rule it owns.
    let s = snapshot(&client, &alb.http).await;
    for rule in s.rules.iter().filter(|r| is_cookie_rule(r)) {
        assert_eq!(rule_token(rule).unwrap().expose(), token, "{rule:?}");
    }
    let admitted = format!("a=b; {BYPASS_COOKIE}={token}");
    for (ip, cookie) in [(tester, None), (visitor, Some(admitted.as_str()))] {
        assert_eq!(
            destinations(&client, &alb.http, "/api/x", ip, cookie).await,
            vec![api.clone()],
            "{ip} {cookie:?}"
        );
        assert_eq!(
            destinations(&client, &alb.http, "/shop", ip, cookie).await,
            vec![alb.app_target_group.clone()]
        );
    }
    let stale = format!("{BYPASS_COOKIE}=not-the-token");
    for cookie in [None, Some(stale.as_str())] {
        for path in ["/api/x", "/shop", "/"] {
            assert_eq!(
                destinations(&client, &alb.http, path, visitor, cookie).await,
                vec![alb.lambda_target_group.clone()],
                "everyone else gets the maintenance rule: {path} {cookie:?}"
            );
        }
    }

    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(
        routing_rules(&client, &alb.http).await,
        before,
        "off leaves the application's rules as before"
    );
    let s = snapshot(&client, &alb.http).await;
    assert_eq!(s.state().unwrap(), State::Off);
    let rotated: Vec<String> = s
        .rules
        .iter()
        .filter(|r| is_cookie_rule(r))
        .map(|r| rule_token(r).unwrap().expose().to_string())
        .collect();
    assert_eq!(rotated.len(), 2);
    assert!(
        rotated[0] == rotated[1] && rotated[0] != token,
        "rotated once, together"
    );
    assert_eq!(
        destinations(&client, &alb.http, "/shop", visitor, Some(&admitted)).await,
        vec![alb.app_target_group.clone()]
    );
    // Attaching again finds every mirror and creates nothing.
    let again = maintctl(moto, &attach);
    assert_eq!(code(&again), 3, "nothing to do: {}", text(&again));
    assert!(
        text(&again).contains("already attached"),
        "{}",
        text(&again)
    );
}
