//! The fallback rule against the moto emulator in server mode, through the real `maintctl`:
//! `attach` creates it parked as a fixed-response 503 `text/html` page; `on --fallback` puts it
//! live in the maintenance rule's place (and `on` puts the responder back), `off` parks it;
//! `status` says which page is live; `message set` renders the page from the content just
//! written and modifies only the rule's action; `fallback render` is `deploy/fallback.html`.

use crate::common;

use std::process::{Command, Output};

use aws_sdk_elasticloadbalancingv2 as elbv2;
use common::Moto;
use common::alb::{self, Alb, code, json, maintctl, text};
use common::listeners::{aws, both_priorities, priorities, snapshot};
use maintenance_core::deploy_names::tags;
use maintenance_core::site::Site;
use maintenance_engine::ops::fallback;
use maintenance_engine::planner::{ActionSummary, ListenerSnapshot, Live, Role, State};
use serde_json::Value;

/// An ALB (HTTP and HTTPS listeners) with app rules at `http` on HTTP, at 10, 20 on HTTPS and a
/// catch-all at 40000.
fn build_alb(moto: &Moto, name: &str, http: &[u32]) -> Alb {
    alb::build_with(moto, name, http, &[10, 20], Some(40_000))
}

/// `attach` on both listeners, content under `prefix`, with a source-IP bypass rule, then
/// `extra`.
fn attach(moto: &Moto, alb: &Alb, env: &str, prefix: &str, extra: &[&str]) -> Output {
    let mut options = vec!["--prefix", prefix, "--bypass-cidr", "203.0.113.0/24"];
    options.extend(extra);
    maintctl(moto, &alb::attach_args(alb, env, &options))
}

/// The fallback rule's fixed response as ELBv2 itself describes it (status, type, body).
async fn fixed_response(moto: &Moto, rule: &str) -> (String, String, String) {
    let elb = elbv2::Client::new(&moto.sdk_config().await);
    let out = elb.describe_rules().rule_arns(rule).send().await.unwrap();
    let action = &out.rules()[0].actions()[0];
    assert_eq!(action.r#type().unwrap().as_str(), "fixed-response");
    let c = action.fixed_response_config().unwrap();
    (
        c.status_code().unwrap_or_default().to_string(),
        c.content_type().unwrap_or_default().to_string(),
        c.message_body().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn attach_parks_a_fixed_response_503_page_beside_the_maintenance_rule() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = build_alb(moto, "fb-attach", &[10, 20]);
    let env = common::unique("env-fb");
    let out = attach(moto, &alb, &env, "/maintenance/fb-attach", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("fallback     created: priority 49995"))
        .unwrap_or_else(|| panic!("{}", text(&out)));
    // The rule forwards nowhere: its action is said as what it is.
    assert!(
        line.contains("fixed response 503 text/html (") && !line.contains("forward to"),
        "{line}"
    );
    for listener in [&alb.http, &alb.https] {
        let s = snapshot(&client, listener).await;
        let rule = s.fallback_rule().expect("a fallback rule");
        assert_eq!(rule.priority, Some(49_995));
        assert_eq!(rule.tags[tags::ROLE], tags::ROLE_FALLBACK);
        assert_eq!(rule.tags[tags::PARKED_PRIORITY], "49995");
        assert_eq!(rule.tags[tags::ENVIRONMENT], env);
        let (status, content_type, body) = fixed_response(moto, &rule.arn).await;
        assert_eq!(
            (status.as_str(), content_type.as_str()),
            ("503", "text/html")
        );
        assert_eq!(body, fallback::default_page(&Site::embedded()));
        assert!(body.chars().count() <= 1024);
        assert_eq!(s.state().unwrap(), State::Off);
    }
    // Again: nothing to do.
    let again = attach(moto, &alb, &env, "/maintenance/fb-attach", &[]);
    assert_eq!(code(&again), 3, "{}", text(&again));
    // status shows it, parked, and no page live.
    let status = maintctl(
        moto,
        &["status", "--listener", &alb.http, "--output", "json"],
    );
    let doc = json(&status);
    assert_eq!(doc["listeners"][0]["fallback"]["priority"], 49_995);
    assert_eq!(doc["listeners"][0]["live"], Value::Null);
    let roles: Vec<&str> = doc["listeners"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles.iter().filter(|r| **r == "fallback").count(), 1);
}

#[tokio::test]
async fn on_fallback_takes_the_maintenance_rules_place_and_off_parks_both() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    // HTTP crowded at the top (1, 2, 3): switching pages has to make room there too.
    let alb = build_alb(moto, "fb-switch", &[1, 2, 3]);
    let env = common::unique("env-fbs");
    assert_eq!(code(&attach(moto, &alb, &env, "/maintenance/fbs", &[])), 0);
    let original = both_priorities(&client, &alb).await;

    let dry = maintctl(
        moto,
        &["on", "--fallback", "--environment", &env, "--dry-run"],
    );
    assert_eq!(code(&dry), 0, "{}", text(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("the FALLBACK page"),
        "{}",
        text(&dry)
    );
    assert_eq!(priorities(&client, &alb.http).await, original.0, "dry run");

    for (args, live) in [
        (vec!["on", "--fallback"], Live::Fallback),
        (vec!["on"], Live::Responder),
        (vec!["on", "--fallback"], Live::Fallback),
    ] {
        let mut all = args.clone();
        all.extend(["--environment", &env, "--yes", "--output", "json"]);
        let out = maintctl(moto, &all);
        assert_eq!(code(&out), 0, "{args:?}: {}", text(&out));
        assert_eq!(json(&out)["live"], serde_json::to_value(live).unwrap());
        for listener in [&alb.http, &alb.https] {
            let s = snapshot(&client, listener).await;
            assert_eq!(s.state().unwrap(), State::On, "{args:?}");
            let rules = s.planner_rules().unwrap();
            assert_eq!(maintenance_engine::planner::live(&rules), Some(live));
            // The page rule not live is parked.
            let parked = match live {
                Live::Fallback => s.maintenance_rule().unwrap(),
                Live::Responder => s.fallback_rule().unwrap(),
            };
            assert_eq!(
                parked.priority.map(|p| p.to_string()).as_ref(),
                parked.tags.get(tags::PARKED_PRIORITY),
                "{args:?}"
            );
        }
    }
    let status = maintctl(moto, &["status", "--listener", &alb.http]);
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(
        out.contains("maintenance: ON") && out.contains("live: the FALLBACK page"),
        "{out}"
    );
    // on --fallback again: nothing to do.
    let again = maintctl(moto, &["on", "--fallback", "--environment", &env, "--yes"]);
    assert_eq!(code(&again), 3, "{}", text(&again));

    let off = maintctl(moto, &["off", "--environment", &env, "--yes"]);
    assert_eq!(code(&off), 0, "{}", text(&off));
    assert_eq!(
        both_priorities(&client, &alb).await,
        original,
        "every rule back exactly"
    );
}

#[tokio::test]
async fn on_fallback_without_a_fallback_rule_is_refused_and_changes_nothing() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let alb = build_alb(moto, "fb-none", &[10, 20]);
    let env = common::unique("env-fbn");
    let out = attach(
        moto,
        &alb,
        &env,
        "/maintenance/fbn",
        &["--no-fallback-rule"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(snapshot(&client, &alb.http).await.fallback_rule().is_none());
    let before = priorities(&client, &alb.http).await;
    let on = maintctl(moto, &["on", "--fallback", "--environment", &env, "--yes"]);
    assert_eq!(code(&on), 4, "{}", text(&on));
    let err = String::from_utf8_lossy(&on.stderr);
    assert!(
        err.contains("no fallback rule") && err.contains("maintctl attach"),
        "{}",
        text(&on)
    );
    assert_eq!(priorities(&client, &alb.http).await, before);
    // attach without --no-fallback-rule adds it to the attached listener.
    let out = attach(moto, &alb, &env, "/maintenance/fbn", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let s = snapshot(&client, &alb.http).await;
    assert_eq!(s.fallback_rule().unwrap().priority, Some(49_995));
    assert_eq!(
        s.rules
            .iter()
            .filter(|r| r.role() == Role::Maintenance)
            .count(),
        1
    );
}

#[tokio::test]
async fn message_set_puts_the_new_content_on_the_fallback_rules_of_its_prefix() {
    let moto = Moto::shared();
    let client = aws(moto).await;
    let prefix = format!("/maintenance/{}", common::unique("fbm"));
    let other = format!("/maintenance/{}", common::unique("fbo"));
    let mine = build_alb(moto, "fb-msg", &[10]);
    let theirs = build_alb(moto, "fb-other", &[10]);
    assert_eq!(
        code(&attach(moto, &mine, &common::unique("e1"), &prefix, &[])),
        0
    );
    assert_eq!(
        code(&attach(moto, &theirs, &common::unique("e2"), &other, &[])),
        0
    );
    let rule = |s: &ListenerSnapshot| s.fallback_rule().unwrap().arn.clone();
    let mine_rule = rule(&snapshot(&client, &mine.http).await);
    let theirs_rule = rule(&snapshot(&client, &theirs.http).await);
    let default = fallback::default_page(&Site::embedded());
    let title = "Checkout <upgrade> & more";

    // A dry run prints the page and changes nothing.
    let dry = maintctl(
        moto,
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--title",
            title,
            "--dry-run",
        ],
    );
    assert_eq!(code(&dry), 0, "{}", text(&dry));
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        out.contains("page would be replaced")
            && out.contains("Checkout &#60;upgrade&#62; &#38; more"),
        "{out}"
    );
    assert_eq!(fixed_response(moto, &mine_rule).await.2, default);

    let set = maintctl(
        moto,
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--title",
            title,
            "--expected-back",
            &until(),
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&set), 0, "{}", text(&set));
    let doc = json(&set);
    assert_eq!(doc["writes"].as_array().unwrap().len(), 2, "{doc}");
    let refreshed = doc["fallback"]["rules"].as_array().unwrap();
    assert_eq!(
        refreshed.len(),
        2,
        "HTTP and HTTPS of this prefix only: {doc}"
    );
    assert!(refreshed.iter().all(|r| r["outcome"] == "updated"), "{doc}");
    let (status, content_type, body) = fixed_response(moto, &mine_rule).await;
    assert_eq!(
        (status.as_str(), content_type.as_str()),
        ("503", "text/html")
    );
    assert!(
        body.contains("<h1>Checkout &#60;upgrade&#62; &#38; more</h1>"),
        "{body}"
    );
    assert!(
        body.contains("<time"),
        "the end time is on the page: {body}"
    );
    assert!(body.chars().count() <= 1024);
    assert_eq!(doc["fallback"]["page"], body.as_str());
    // Only the action changed: priority, conditions and tags are as they were.
    let s = snapshot(&client, &mine.http).await;
    let r = s.fallback_rule().unwrap();
    assert_eq!(r.priority, Some(49_995));
    assert_eq!(r.tags[tags::ROLE], tags::ROLE_FALLBACK);
    assert!(r.catches_everything());
    assert!(matches!(&r.action, ActionSummary::FixedResponse { status, .. } if status == "503"));
    // The other prefix's fallback rule is not touched.
    assert_eq!(fixed_response(moto, &theirs_rule).await.2, default);

    // The same again: already up to date, exit 3 is not used (the parameters are written).
    let same = maintctl(
        moto,
        &["message", "set", "--prefix", &prefix, "--title", title],
    );
    assert_eq!(code(&same), 0, "{}", text(&same));
    assert!(
        String::from_utf8_lossy(&same.stdout).contains("page already up to date"),
        "{}",
        text(&same)
    );
    // --no-fallback-refresh leaves the rules alone.
    let skip = maintctl(
        moto,
        &[
            "message",
            "set",
            "--prefix",
            &prefix,
            "--title",
            "Other",
            "--no-fallback-refresh",
        ],
    );
    assert_eq!(code(&skip), 0, "{}", text(&skip));
    assert_eq!(fixed_response(moto, &mine_rule).await.2, body);
    // fallback refresh brings it up to date with what is in SSM now.
    let refresh = maintctl(moto, &["fallback", "refresh", "--prefix", &prefix]);
    assert_eq!(code(&refresh), 0, "{}", text(&refresh));
    assert!(
        fixed_response(moto, &mine_rule)
            .await
            .2
            .contains("<h1>Other</h1>")
    );
}

/// An end time two hours ahead, RFC 3339.
fn until() -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2);
    t.to_string()
}

#[test]
fn the_committed_fallback_page_is_what_the_renderer_gives() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/fallback.html"))
            .expect("deploy/fallback.html");
    assert_eq!(
        committed,
        fallback::default_page(&Site::embedded()),
        "deploy/fallback.html is out of date: maintctl fallback render --out deploy/fallback.html"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_maintctl"))
        .args(["fallback", "render"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), committed);
}
