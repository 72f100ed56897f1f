//! The doctor's checks of a listener's own rules and attributes, read through the
//! `crate::listeners::Listeners` trait: `content-prefix`, `managed-rules`, `room`, `routing`
//! and `listener-headers`.

use crate::listeners::Listeners;
use crate::ops::preflight::{Check, Status};
use crate::planner::{ListenerSnapshot, State, plan_on, rule_id};
use maintenance_core::site::Site;

pub(super) fn no_prefix_check(s: &ListenerSnapshot) -> Check {
    let m = s.maintenance_rule().expect("checked");
    Check::new(
        "content",
        &s.listener.to_string(),
        Status::Warn,
        "the maintenance rule has no content-prefix tag, so the content and whether the \
         responder shows it are not checked"
            .into(),
    )
    .fix(format!(
        "tag it with the responder's MAINTENANCE_SSM_PREFIX: aws elbv2 add-tags --resource-arns \
         {} --tags Key={},Value=/maintenance/APP",
        m.arn,
        maintenance_core::deploy_names::tags::CONTENT_PREFIX
    ))
}

/// The maintenance, bypass and fallback rules, and anything their tags do not account for.
pub(super) fn managed_rules_check(s: &ListenerSnapshot) -> Check {
    let scope = s.listener.to_string();
    let blocking: Vec<String> = s
        .findings()
        .iter()
        .filter(|f| f.blocks())
        .map(ToString::to_string)
        .collect();
    if !blocking.is_empty() {
        return Check::new("managed-rules", &scope, Status::Fail, blocking.join("; "))
            .fix("on and off refuse this listener until that is fixed (see maintctl status)");
    }
    let Some(m) = s.maintenance_rule() else {
        return Check::new(
            "managed-rules",
            &scope,
            Status::Fail,
            "no maintenance rule".into(),
        )
        .fix("attach one: maintctl attach --listener ARN --target-group ARN");
    };
    let bypass = s.bypass_rules().count();
    let mut summary = format!(
        "maintenance rule {} at {}; {bypass} bypass rule(s)",
        rule_id(&m.arn),
        m.priority.unwrap_or_default()
    );
    match s.fallback_rule() {
        Some(f) => {
            summary.push_str(&format!(
                "; fallback rule {} at {}",
                rule_id(&f.arn),
                f.priority.unwrap_or_default()
            ));
            match crate::planner::fallback::check_fallback_action(f) {
                Ok(()) => Check::new("managed-rules", &scope, Status::Pass, summary),
                Err(action) => Check::new(
                    "managed-rules",
                    &scope,
                    Status::Warn,
                    format!("{summary}, but it does {action}, not a fixed-response 503 page"),
                )
                .fix("delete the fallback rule and run maintctl attach again"),
            }
        }
        None => Check::new(
            "managed-rules",
            &scope,
            Status::Warn,
            format!("{summary}; no fallback rule (for when the Lambda cannot answer)"),
        )
        .fix("maintctl attach with the same options adds it"),
    }
}

/// Whether `on` has room at the top, or which rules it moves.
pub(super) fn room_check(s: &ListenerSnapshot) -> Check {
    let scope = s.listener.to_string();
    let plan = s
        .planner_rules()
        .map_err(|e| e.to_string())
        .and_then(|rules| plan_on(&rules).map_err(|e| e.to_string()));
    match plan {
        Err(e) => Check::new("room", &scope, Status::Fail, format!("on cannot plan: {e}")),
        Ok(plan) if plan.is_empty() => Check::new(
            "room",
            &scope,
            Status::Pass,
            "maintenance is on already".into(),
        ),
        Ok(plan) if plan.displaced.is_empty() => Check::new(
            "room",
            &scope,
            Status::Pass,
            format!(
                "on has room above the first rule ({} call(s))",
                plan.steps.len()
            ),
        ),
        Ok(plan) => {
            let moved: Vec<String> = plan
                .displaced
                .iter()
                .map(|d| format!("{} from {}", rule_id(&d.rule), d.home))
                .collect();
            Check::new(
                "room",
                &scope,
                Status::Warn,
                format!(
                    "no free priority above your first rule: on moves {} of your rule(s) down \
                     to make room ({}), and off puts them back",
                    moved.len(),
                    moved.join(", ")
                ),
            )
            .fix("leave a few free priorities at the top (start your own rules at 10)")
        }
    }
}

/// Which rule answers a page, a path no rule names and a health check, as the ALB evaluates the
/// rules: a parked fallback rule that answers fails (visitors and health checks get the ALB's
/// bare 503), a parked maintenance rule that answers warns (`attach --allow-fallthrough`), and
/// so do health checks answered by a live fallback page.
pub(super) fn routing_check(s: &ListenerSnapshot, health_path: &str) -> Check {
    let scope = s.listener.to_string();
    let state = s.state().unwrap_or(State::Between);
    let answers = s.answers(health_path);
    let said: Vec<String> = answers.iter().map(ToString::to_string).collect();
    let misroutes = s.misrouted(state, &answers);
    if misroutes.is_empty() {
        return Check::new("routing", &scope, Status::Pass, said.join("; "));
    }
    let status = if misroutes.iter().any(|m| m.severe) {
        Status::Fail
    } else {
        Status::Warn
    };
    let found: Vec<String> = misroutes.into_iter().map(|m| m.message).collect();
    Check::new("routing", &scope, status, found.join("; ")).fix(format!(
        "maintctl status shows who answers what: {}",
        said.join("; ")
    ))
}

/// Listener attributes that make the ALB overwrite the page's own headers.
pub(super) async fn headers_check(
    listeners: &impl Listeners,
    s: &ListenerSnapshot,
    site: &Site,
) -> Check {
    let scope = s.listener.to_string();
    let attributes = match listeners.listener_attributes(&s.listener.arn).await {
        Ok(a) => a,
        Err(e) => {
            return Check::new(
                "listener-headers",
                &scope,
                Status::Warn,
                format!("could not read the listener attributes: {e}"),
            )
            .fix("allow elasticloadbalancing:DescribeListenerAttributes");
        }
    };
    let set: Vec<(&String, &String)> = attributes
        .iter()
        .filter(|(k, v)| k.starts_with("routing.http.response.") && !v.is_empty())
        .filter(|(k, v)| !(k.ends_with(".enabled") && v.as_str() == "true"))
        .collect();
    if set.is_empty() {
        return Check::new(
            "listener-headers",
            &scope,
            Status::Pass,
            "the ALB leaves the page's response headers alone".into(),
        );
    }
    let hash = style_hash(&site.csp);
    let csp_breaks = set.iter().any(|(k, v)| {
        k.contains("content_security_policy")
            && !v.contains("'unsafe-inline'")
            && !hash.is_some_and(|h| v.contains(h))
    });
    let named: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    let status = if csp_breaks {
        Status::Fail
    } else {
        Status::Warn
    };
    Check::new(
        "listener-headers",
        &scope,
        status,
        format!(
            "the ALB overwrites the responder's headers with {}{}",
            named.join(", "),
            if csp_breaks {
                ": that Content-Security-Policy blocks the page's inline stylesheet, so \
                 visitors get an unstyled page"
            } else {
                ""
            }
        ),
    )
    .fix(format!(
        "remove them from the listener (aws elbv2 modify-listener-attributes --listener-arn {} \
         --attributes Key=KEY,Value=), or allow the page's stylesheet in the policy ({})",
        s.listener.arn,
        hash.unwrap_or("its style-src hash")
    ))
}

/// The `'sha256-…'` of the page's stylesheet in a Content-Security-Policy.
pub(super) fn style_hash(csp: &str) -> Option<&str> {
    let at = csp.find("'sha256-")?;
    let end = csp[at + 1..].find('\'')? + at + 2;
    Some(&csp[at..end])
}
