//! What `maintctl attach` is asked to create on a listener ([`AttachSpec`], with the fallback
//! rule's [`FallbackSpec`]), the steps it makes ([`AttachStep`]), and why it refuses
//! ([`AttachError`]): the attach planner's vocabulary, shared with the fallback rule's step.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::Serialize;

use crate::planner::bypass;
use crate::planner::fixed_response::FixedResponse;
use crate::planner::listener::{Condition, NewRule, TargetGroupInfo};
use crate::planner::priorities::{MAX_PRIORITY, MIN_PRIORITY, Role};
use crate::planner::record::{environment_name, tag_value};
use maintenance_core::deploy_names::{FALLBACK_PARKED_OFFSET, tags};

/// What `maintctl attach` should create on one listener.
#[derive(Debug, Clone)]
pub struct AttachSpec {
    /// The responder's (Lambda) target group.
    pub target_group: String,
    /// Parked priority of the maintenance rule.
    pub parked: u32,
    /// Environment name tag.
    pub environment: Option<String>,
    /// The SSM prefix of the responder's content (tagged on the maintenance rule).
    pub content_prefix: Option<String>,
    /// Bypass by source address (at most 5 CIDRs).
    pub bypass_cidrs: Vec<IpNet>,
    /// Bypass by a secret request header: name and value.
    pub bypass_header: Option<(String, String)>,
    /// Bypass by link: the cookie rule, created with a fresh token nobody is given
    /// (`crate::planner::bypass`); `on` sets the window's token.
    pub bypass_link: bool,
    /// The application's target group, where bypass rules forward; `None`: each bypass is a
    /// set of mirror rules of the listener's own rules (`crate::planner::mirror`), so that a
    /// bypassing request reaches the target group its path would reach.
    pub app_target_group: Option<String>,
    /// Attach even when no rule catches every request before the parked priority.
    pub allow_fallthrough: bool,
    /// Accept a `/0` bypass CIDR, which lets every client of that address family through.
    pub allow_bypass_everyone: bool,
    /// The fallback rule to create beside the maintenance rule (`crate::planner::fallback`).
    pub fallback: Option<FallbackSpec>,
}

/// Why `attach` refuses. Messages say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// The options make no sense on their own.
    #[error("{0}")]
    Invalid(String),
    /// The listener already has a maintenance rule that differs.
    #[error("listener {listener}: {detail}")]
    Conflict {
        /// Listener ARN.
        listener: String,
        /// What differs and what to do.
        detail: String,
    },
    /// A priority the new rules need is held by another rule.
    #[error(
        "listener {listener}: priority {priority} is held by rule {holder}; choose another \
         parked priority with --priority"
    )]
    PriorityTaken {
        /// Listener ARN.
        listener: String,
        /// The priority.
        priority: u32,
        /// Its holder.
        holder: String,
    },
    /// The listener has no rule of its own: parked anywhere, the maintenance rule would answer
    /// every request, for good (even with `--allow-fallthrough`).
    #[error(
        "listener {listener}: it has no rule of its own (only its default rule), so the \
         maintenance rule, parked, would answer every request: maintenance would be on for good \
         and off could not end it; add the application's rules first (a catch-all, path /*, \
         forwarding to the application), then attach"
    )]
    Alone {
        /// Listener ARN.
        listener: String,
    },
    /// Parked there, the maintenance rule would catch real traffic.
    #[error(
        "listener {listener}: no rule catches every request before priority {priority}, so the \
         parked maintenance rule would answer every request the other rules do not match \
         (instead of the listener's default action); add a catch-all rule for the application \
         (path /*) before it, or pass --allow-fallthrough if that is what you want"
    )]
    Fallthrough {
        /// Listener ARN.
        listener: String,
        /// The parked priority.
        priority: u32,
    },
}

/// One thing `attach` does, or found already done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum AttachStep {
    /// A rule to create.
    Create {
        /// What it is for.
        role: Role,
        /// The rule.
        rule: NewRule,
    },
    /// Already there.
    Present {
        /// What it is for.
        role: Role,
        /// Its ARN.
        rule: String,
        /// Its priority.
        priority: u32,
    },
    /// Not created: parked, it would answer requests (a rule is never parked where it
    /// answers).
    Skipped {
        /// What it is for.
        role: Role,
        /// Why, and what to do.
        reason: String,
    },
}

impl AttachSpec {
    /// Checks the options on their own (before any listener is read).
    pub fn validate(&self) -> Result<(), AttachError> {
        let bypass_count = self.bypass_rules_wanted().len() as u32;
        if !(MIN_PRIORITY + bypass_count..=MAX_PRIORITY).contains(&self.parked) {
            return Err(AttachError::Invalid(format!(
                "--priority {} must be within {}..=50000 (room for the bypass rules directly above it)",
                self.parked,
                1 + bypass_count
            )));
        }
        if let Some(env) = &self.environment {
            environment_name(env).map_err(AttachError::Invalid)?;
        }
        if let Some(prefix) = &self.content_prefix {
            maintenance_core::deploy_names::parameters::check_prefix(prefix)
                .map_err(|p| AttachError::Invalid(format!("--prefix: {p}")))?;
        } else if self.bypass_link {
            return Err(AttachError::Invalid(
                "--bypass-link needs --prefix, the responder's content prefix (its \
                 MAINTENANCE_SSM_PREFIX): on stores the window's token there"
                    .into(),
            ));
        }
        if let Some(fallback) = &self.fallback {
            fallback.validate(self.parked)?;
        }
        self.validate_cidrs()?;
        self.validate_header()
    }

    fn validate_cidrs(&self) -> Result<(), AttachError> {
        if self.bypass_cidrs.len() > 5 {
            return Err(AttachError::Invalid(format!(
                "at most 5 --bypass-cidr values (one source-ip condition), not {}",
                self.bypass_cidrs.len()
            )));
        }
        for c in &self.bypass_cidrs {
            if c.to_string() == "255.255.255.255/32" {
                return Err(AttachError::Invalid(format!(
                    "--bypass-cidr {c} is not allowed by ELBv2"
                )));
            }
            if c.trunc() != *c {
                let single = IpNet::from(c.addr());
                return Err(AttachError::Invalid(format!(
                    "--bypass-cidr {c} has bits set after its /{} prefix: did you mean {}? \
                     (or {single} for that one address)",
                    c.prefix_len(),
                    c.trunc()
                )));
            }
            if c.prefix_len() == 0 && !self.allow_bypass_everyone {
                return Err(AttachError::Invalid(format!(
                    "--bypass-cidr {c} matches every {} client, so maintenance would be a no-op \
                     for all of them: name the networks that should bypass, or pass \
                     --allow-bypass-everyone if that is really what you want",
                    if c.addr().is_ipv4() { "IPv4" } else { "IPv6" }
                )));
            }
        }
        Ok(())
    }

    /// Checks the target groups named against what they are (`groups`, by ARN, as read): the
    /// responder's must be of type `lambda`, the application's must not be the responder's.
    /// Returns what is worth a warning (an application target group of type `lambda`).
    pub fn check_target_groups(
        &self,
        groups: &BTreeMap<String, TargetGroupInfo>,
    ) -> Result<Vec<String>, AttachError> {
        let describe = |arn: &str| {
            groups.get(arn).map_or_else(
                || format!("{arn} (not found)"),
                |g| format!("{} (type {})", g.name, g.target_type),
            )
        };
        if !groups
            .get(&self.target_group)
            .is_some_and(TargetGroupInfo::is_lambda)
        {
            return Err(AttachError::Invalid(format!(
                "--target-group {} is not a lambda target group, so the maintenance rule would \
                 not reach the responder: pass the responder's own target group (target type \
                 lambda; the TargetGroupArn output of the deploy/ templates)",
                describe(&self.target_group)
            )));
        }
        let Some(app) = &self.app_target_group else {
            return Ok(Vec::new());
        };
        if *app == self.target_group {
            return Err(AttachError::Invalid(
                "--app-target-group is the responder's own target group, so bypass rules would \
                 send their clients to the maintenance page: pass the application's target group"
                    .into(),
            ));
        }
        Ok(match groups.get(app) {
            Some(g) if g.is_lambda() => vec![format!(
                "--app-target-group {} is a lambda target group: bypass clients reach that \
                 Lambda; right if it is your application, wrong if it is a maintenance responder",
                describe(app)
            )],
            _ => Vec::new(),
        })
    }

    fn validate_header(&self) -> Result<(), AttachError> {
        let Some((name, value)) = &self.bypass_header else {
            return Ok(());
        };
        let name_ok = !name.is_empty()
            && name.len() <= 40
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            && !name.eq_ignore_ascii_case("host");
        if !name_ok {
            return Err(AttachError::Invalid(format!(
                "--bypass-header name {name:?} must be 1-40 letters, digits, - or _ (and not Host)"
            )));
        }
        if value.is_empty() || value.len() > 128 || value.contains(['*', '?']) || !value.is_ascii()
        {
            return Err(AttachError::Invalid(
                "--bypass-header value must be 1-128 ASCII characters without * or ? \
                 (which ELBv2 treats as wildcards)"
                    .into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn bypass_rules_wanted(&self) -> Vec<Condition> {
        let mut out = Vec::new();
        if !self.bypass_cidrs.is_empty() {
            out.push(Condition::SourceIp {
                values: self.bypass_cidrs.iter().map(|c| c.to_string()).collect(),
            });
        }
        if let Some((name, value)) = &self.bypass_header {
            out.push(Condition::HttpHeader {
                name: name.clone(),
                values: vec![value.clone()],
            });
        }
        if self.bypass_link {
            // The token is generated when the rule is created, and never shown.
            out.push(bypass::cookie_condition(bypass::HIDDEN_TOKEN));
        }
        out
    }

    pub(crate) fn base_tags(&self, role: &str, parked: u32) -> Vec<(String, String)> {
        let mut t = vec![
            (tags::ROLE.to_string(), role.to_string()),
            (tags::PARKED_PRIORITY.to_string(), parked.to_string()),
        ];
        if let Some(env) = &self.environment {
            t.push((tags::ENVIRONMENT.to_string(), tag_value(env)));
        }
        t
    }
}

/// The fallback rule `attach` creates: where it is parked and the page it answers with.
#[derive(Debug, Clone)]
pub struct FallbackSpec {
    /// Its parked priority; `None`: `FALLBACK_PARKED_OFFSET` above the maintenance rule.
    pub priority: Option<u32>,
    /// The page (`maintenance_core::respond::fallback::body`).
    pub body: String,
}

impl FallbackSpec {
    /// The parked priority beside a maintenance rule parked at `parked`.
    pub fn parked(&self, parked: u32) -> Option<u32> {
        self.priority
            .or_else(|| parked.checked_sub(FALLBACK_PARKED_OFFSET))
            .filter(|p| (MIN_PRIORITY..=MAX_PRIORITY).contains(p))
    }

    /// Checks the priority (in range, not the maintenance rule's, not among the four directly
    /// above it where bypass rules go) and the body.
    pub fn validate(&self, parked: u32) -> Result<(), AttachError> {
        let Some(p) = self.parked(parked) else {
            return Err(AttachError::Invalid(format!(
                "no room for the fallback rule {FALLBACK_PARKED_OFFSET} priorities above \
                 --priority {parked}: pass --fallback-priority N, or --no-fallback"
            )));
        };
        if (parked.saturating_sub(FALLBACK_PARKED_OFFSET - 1)..=parked).contains(&p) {
            return Err(AttachError::Invalid(format!(
                "--fallback-priority {p} is the maintenance rule's priority or one of the {} \
                 directly above it, where bypass rules go: choose another",
                FALLBACK_PARKED_OFFSET - 1
            )));
        }
        FixedResponse::page(self.body.as_str())
            .check()
            .map_err(AttachError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maintenance_core::respond::fallback::MAX_CHARS;

    #[test]
    fn the_default_priority_leaves_room_for_bypass_rules() {
        let spec = FallbackSpec {
            priority: None,
            body: "<p>x</p>".into(),
        };
        assert_eq!(spec.parked(50_000), Some(49_995));
        assert_eq!(spec.validate(50_000), Ok(()));
        assert!(spec.validate(5).is_err(), "no room above priority 5");
        for taken in 49_996..=50_000 {
            let spec = FallbackSpec {
                priority: Some(taken),
                body: "<p>x</p>".into(),
            };
            assert!(spec.validate(50_000).is_err(), "{taken}");
        }
        let long = FallbackSpec {
            priority: None,
            body: "é".repeat(MAX_CHARS + 1),
        };
        assert!(long.validate(50_000).is_err());
    }
}
