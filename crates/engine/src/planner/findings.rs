//! What a listener's rules do that their tags do not say ([`Finding`]). The responder's rules
//! are recognised by what they do — they forward to the responder's target group, or to a
//! `lambda` target group — and by what is left of `maintctl`'s tags, not by the role tag alone:
//! a maintenance rule that lost its role tag, an untagged rule sending requests to the
//! responder, a maintenance rule that forwards elsewhere, several maintenance rules, bypass
//! rules that let everyone in. Pure: the target groups' types come in the snapshot.
//!
//! Some findings block (`on`, `off` and `attach` refuse the listener, because what they would
//! do is not what the operator asks for); the others are warnings. Every message says what is
//! wrong, what it means for visitors and what to do.

use serde::Serialize;

use crate::planner::names::short_target_group;
use crate::planner::priorities::Role;
use maintenance_core::deploy_names::tags;

mod recognise;

/// Prefix of every tag key `maintctl` writes.
pub(crate) const TAG_PREFIX: &str = "maintenance-responder:";

/// Something a listener's rules do that their tags do not say. Displayed as one sentence that
/// names the rule and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    /// A rule with `maintctl`'s other tags but no role tag.
    LostRoleTag {
        /// Rule ARN.
        rule: String,
        /// Its priority.
        priority: u32,
        /// What it is, from what it does.
        role: Role,
        /// The `maintenance-responder:` tags it still has.
        tags: Vec<String>,
    },
    /// An untagged rule forwarding to the responder's target group.
    UntaggedResponder {
        /// Rule ARN.
        rule: String,
        /// Its priority.
        priority: u32,
        /// The responder's target group it forwards to.
        target_group: String,
        /// It comes before every application rule, so it answers every request it matches.
        first: bool,
    },
    /// An untagged rule sending every request to a `lambda` target group that is not known to
    /// be the responder's: a maintenance rule that lost all its tags, or the application's own
    /// Lambda. A warning, never a refusal.
    PossibleResponder {
        /// Rule ARN.
        rule: String,
        /// Its priority.
        priority: u32,
        /// The `lambda` target group.
        target_group: String,
        /// It comes before every other untagged rule.
        first: bool,
    },
    /// A rule (not the maintenance rule) forwarding part of its requests to the responder's
    /// target group, in a weighted forward.
    PartlyToResponder {
        /// Rule ARN.
        rule: String,
        /// Its priority.
        priority: u32,
        /// The responder's target group.
        target_group: String,
    },
    /// A rule tagged as the maintenance rule that does not forward to a `lambda` target group
    /// (alone).
    MaintenanceForwardsElsewhere {
        /// Rule ARN.
        rule: String,
        /// What it does.
        action: String,
    },
    /// More than one rule tagged as the maintenance rule.
    SeveralMaintenanceRules {
        /// Their ARNs.
        rules: Vec<String>,
    },
    /// A bypass rule that every client matches: maintenance is a no-op for them.
    BypassLetsEveryoneIn {
        /// Rule ARN.
        rule: String,
        /// Which condition.
        condition: String,
    },
    /// A bypass rule forwarding to the responder: its clients get the maintenance page too.
    BypassToResponder {
        /// Rule ARN.
        rule: String,
        /// The responder's target group.
        target_group: String,
    },
    /// A rule tagged as the fallback rule that is not a fixed-response 503 page: `on --fallback`
    /// refuses the listener. A warning (switching to the responder is not affected).
    FallbackNotFixedResponse {
        /// Rule ARN.
        rule: String,
        /// What it does.
        action: String,
    },
    /// The target groups' types could not be read, so rules are recognised by tags only.
    TargetGroupsUnread {
        /// Why.
        reason: String,
    },
}

impl Finding {
    /// True when `on`, `off` and `attach` must refuse the listener until it is fixed.
    pub fn blocks(&self) -> bool {
        matches!(
            self,
            Finding::LostRoleTag { .. }
                | Finding::UntaggedResponder { .. }
                | Finding::PartlyToResponder { .. }
                | Finding::MaintenanceForwardsElsewhere { .. }
                | Finding::SeveralMaintenanceRules { .. }
        )
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::LostRoleTag { .. }
            | Finding::UntaggedResponder { .. }
            | Finding::PossibleResponder { .. } => self.write_untagged(f),
            _ => self.write_other(f),
        }
    }
}

impl Finding {
    /// The messages about rules missing their tags.
    fn write_untagged(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::LostRoleTag {
                rule,
                priority,
                role,
                tags: left,
            } => {
                let value = match role {
                    Role::Bypass => tags::ROLE_BYPASS,
                    Role::Fallback => tags::ROLE_FALLBACK,
                    _ => tags::ROLE_MAINTENANCE,
                };
                let left: Vec<&str> = left
                    .iter()
                    .map(|k| k.strip_prefix(TAG_PREFIX).unwrap_or(k))
                    .collect();
                write!(
                    f,
                    "rule {rule} at priority {priority} lost its {} tag (its other maintctl tags \
                     are there: {}); it does what the {role} rule does, so maintctl does not \
                     move it until the tag is back: aws elbv2 add-tags --resource-arns {rule} \
                     --tags Key={},Value={value}",
                    tags::ROLE,
                    left.join(", "),
                    tags::ROLE
                )
            }
            Finding::UntaggedResponder {
                rule,
                priority,
                target_group,
                first,
            } => {
                write!(
                    f,
                    "rule {rule} at priority {priority} forwards to the responder's target \
                     group {} but has no maintctl tags, so maintctl neither moves nor counts it",
                    short_target_group(target_group)
                )?;
                if *first {
                    f.write_str(
                        "; it comes before every application rule, so visitors it matches get \
                         the maintenance page whatever maintctl says",
                    )?;
                }
                write!(
                    f,
                    ": delete it if it is a leftover (aws elbv2 delete-rule --rule-arn {rule}), \
                     or, if it is the listener's only maintenance rule, tag it: aws elbv2 \
                     add-tags --resource-arns {rule} --tags Key={},Value={} Key={},Value=50000",
                    tags::ROLE,
                    tags::ROLE_MAINTENANCE,
                    tags::PARKED_PRIORITY
                )
            }
            Finding::PossibleResponder {
                rule,
                priority,
                target_group,
                first,
            } => {
                write!(
                    f,
                    "rule {rule} at priority {priority} (no maintctl tags) sends every request to \
                     lambda target group {}",
                    short_target_group(target_group)
                )?;
                if *first {
                    f.write_str(" before every other application rule")?;
                }
                f.write_str(
                    ": if that is the responder, visitors it matches get the maintenance page \
                     whatever maintctl says (delete the rule, or tag it as the maintenance \
                     rule); if it is your application's own Lambda, ignore this warning",
                )
            }
            _ => self.write_other(f),
        }
    }

    /// The other messages.
    fn write_other(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::PartlyToResponder {
                rule,
                priority,
                target_group,
            } => write!(
                f,
                "rule {rule} at priority {priority} forwards part of its requests to the \
                 responder's target group {} (a weighted forward), so some visitors get the \
                 maintenance page whatever maintctl says: remove that target group from the \
                 rule's forward action (aws elbv2 modify-rule --rule-arn {rule} --actions …)",
                short_target_group(target_group)
            ),
            Finding::MaintenanceForwardsElsewhere { rule, action } => write!(
                f,
                "maintenance rule {rule} does {action}, not a forward to the responder's lambda \
                 target group alone, so switched on it would not show the maintenance page: \
                 point it at the responder's target group (aws elbv2 modify-rule --rule-arn \
                 {rule} --actions Type=forward,TargetGroupArn=ARN), or delete it and attach again"
            ),
            Finding::SeveralMaintenanceRules { rules } => write!(
                f,
                "several maintenance rules on this listener ({}): delete all but one (aws elbv2 \
                 delete-rule --rule-arn ARN)",
                rules.join(", ")
            ),
            Finding::BypassLetsEveryoneIn { rule, condition } => write!(
                f,
                "bypass rule {rule} matches every client ({condition}): while maintenance is \
                 on they all still reach the application; fix its condition, or delete it"
            ),
            Finding::BypassToResponder { rule, target_group } => write!(
                f,
                "bypass rule {rule} forwards to the responder's target group {}, so its clients \
                 get the maintenance page too: point it at the application's target group",
                short_target_group(target_group)
            ),
            Finding::FallbackNotFixedResponse { rule, action } => write!(
                f,
                "fallback rule {rule} does {action}, not a fixed-response 503 with a text/html \
                 page, so maintctl on --fallback refuses this listener: delete the rule (aws \
                 elbv2 delete-rule --rule-arn {rule}) and run maintctl attach again to recreate it"
            ),
            Finding::TargetGroupsUnread { reason } => write!(
                f,
                "the target groups could not be read ({reason}), so rules are recognised by \
                 their tags only: a rule sending requests to the responder without maintctl's \
                 tags goes unnoticed; allow elasticloadbalancing:DescribeTargetGroups"
            ),
            _ => self.write_untagged(f),
        }
    }
}
