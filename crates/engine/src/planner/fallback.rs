//! The fallback rule as data and plans: the fixed response it answers with
//! (`crate::planner::fixed_response::FixedResponse`:
//! a 503 `text/html` page of at most `maintenance_core::respond::fallback::MAX_CHARS` characters,
//! rendered by `maintenance_core::respond::fallback`), where `attach` parks it (`crate::planner::attach::spec::FallbackSpec`:
//! by default `FALLBACK_PARKED_OFFSET` above the maintenance rule, 49995 beside 50000, which leaves
//! room for four bypass rules in between) and the step that creates it ([`attach_step`]), and
//! whether a listener's fallback rule can go live ([`refuse_unusable_fallback`]).
//!
//! The rule is a managed rule like the bypass rules: tagged `maintenance-responder:role =
//! fallback` with its parked priority, moved only by `on --fallback` (instead of the
//! maintenance rule) and `off`; its body is refreshed by `maintctl message set`.

use crate::planner::attach::spec::{AttachError, AttachSpec, AttachStep};
use crate::planner::fixed_response::FixedResponse;
use crate::planner::listener::{
    ActionSummary, Condition, ListenerSnapshot, NewRule, PlanningError, RuleView,
};
use crate::planner::priorities::Role;
use maintenance_core::deploy_names::{FALLBACK_CONTENT_TYPE, FALLBACK_STATUS, tags};

impl ListenerSnapshot {
    /// The fallback rule, if there is one (the first, should there be several).
    pub fn fallback_rule(&self) -> Option<&RuleView> {
        self.rules
            .iter()
            .find(|r| !r.is_default() && r.role() == Role::Fallback)
    }
}

/// The fallback rule's step of `attach` on one listener: already there, or to create parked
/// where it answers nothing (else refused, or skipped with `--allow-fallthrough`); `None` when
/// none is asked for.
pub fn attach_step(
    snapshot: &ListenerSnapshot,
    spec: &AttachSpec,
) -> Result<Option<AttachStep>, AttachError> {
    let Some(fallback) = &spec.fallback else {
        return Ok(None);
    };
    if let Some(rule) = snapshot.fallback_rule() {
        return Ok(Some(AttachStep::Present {
            role: Role::Fallback,
            rule: rule.arn.clone(),
            priority: rule.priority.unwrap_or_default(),
        }));
    }
    let listener = &snapshot.listener.arn;
    let priority = fallback
        .parked(spec.parked)
        .ok_or_else(|| AttachError::Invalid("no fallback priority".into()))?;
    if let Some(holder) = snapshot.rules.iter().find(|r| r.priority == Some(priority)) {
        return Err(AttachError::PriorityTaken {
            listener: listener.clone(),
            priority,
            holder: holder.arn.clone(),
        });
    }
    // Never parked where it answers: the ALB's bare 503 for requests no rule takes, health
    // checks included. Behind the maintenance rule (`/*`) or an application catch-all it
    // answers nothing; with --allow-fallthrough and neither, it is not created.
    if !snapshot.caught_before(priority) && spec.parked > priority {
        if !spec.allow_fallthrough {
            return Err(AttachError::Fallthrough {
                listener: listener.clone(),
                priority,
            });
        }
        return Ok(Some(AttachStep::Skipped {
            role: Role::Fallback,
            reason: format!(
                "no fallback rule: no rule catches every request before priority {priority}, so \
                 parked there it would answer them (health checks included) with the ALB's bare \
                 503 while maintenance is off; add a catch-all rule for the application (path /*) \
                 before it and run maintctl attach again, or pass --fallback-priority N after \
                 the maintenance rule's priority (on --fallback needs the fallback rule)"
            ),
        }));
    }
    Ok(Some(AttachStep::Create {
        role: Role::Fallback,
        rule: NewRule {
            listener: listener.clone(),
            priority,
            conditions: vec![Condition::PathPattern {
                values: vec!["/*".into()],
            }],
            target_group: String::new(),
            fixed_response: Some(FixedResponse::page(fallback.body.as_str())),
            actions: Vec::new(),
            tags: spec.base_tags(tags::ROLE_FALLBACK, priority),
        },
    }))
}

/// Whether a fallback rule does what `on --fallback` needs: every path (`/*`) answered with a
/// fixed-response 503 `text/html` page; else what it does instead.
pub fn check_fallback_action(rule: &RuleView) -> Result<(), String> {
    match &rule.action {
        ActionSummary::FixedResponse {
            status,
            content_type,
            ..
        } if status == FALLBACK_STATUS
            && content_type == FALLBACK_CONTENT_TYPE
            && rule.catches_everything() =>
        {
            Ok(())
        }
        ActionSummary::FixedResponse {
            status,
            content_type,
            ..
        } => Err(format!(
            "{} with status {status} and content type {content_type:?}",
            rule.summary()
        )),
        _ => Err(rule.summary()),
    }
}

/// Refuses `on --fallback` on a listener whose fallback rule is missing or not a
/// fixed-response 503 page.
pub fn refuse_unusable_fallback(snapshot: &ListenerSnapshot) -> Result<(), PlanningError> {
    let listener = snapshot.listener.arn.clone();
    let Some(rule) = snapshot.fallback_rule() else {
        return Err(PlanningError::Plan {
            listener,
            cause: crate::planner::PlanError::NoFallbackRule,
        });
    };
    check_fallback_action(rule).map_err(|action| PlanningError::BadRule {
        listener,
        rule: rule.arn.clone(),
        problem: format!(
            "the fallback rule does {action}, not a fixed-response 503 page for every path: \
             delete it (aws elbv2 delete-rule --rule-arn {}) and run maintctl attach again",
            rule.arn
        ),
    })
}
