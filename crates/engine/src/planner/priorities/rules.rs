//! The rules as the priority planner sees them ([`Rule`]: ARN, priority, [`Role`], the
//! priority it returns to), the priority range, which way a switch goes ([`Direction`]), which
//! page `on` puts live ([`Live`]) and the state a listener is in ([`State`]).

use serde::Serialize;

/// Lowest (most urgent) priority a listener rule can have.
pub const MIN_PRIORITY: u32 = 1;
/// Highest (least urgent) priority a listener rule can have.
pub const MAX_PRIORITY: u32 = 50_000;

/// What a rule is to `maintctl`, from its `maintenance-responder:role` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The rule forwarding to the responder's target group.
    Maintenance,
    /// A rule that lets chosen clients reach the application while maintenance is on.
    Bypass,
    /// The fixed-response 503 that needs no Lambda, parked unless `on --fallback` selects it.
    Fallback,
    /// Any other rule: the application's own, never reordered relative to each other. Printed
    /// as `app`; the JSON documents scripts read have always called it `other`.
    #[serde(rename = "other")]
    App,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Role::Maintenance => "maintenance",
            Role::Bypass => "bypass",
            Role::Fallback => "fallback",
            Role::App => "app",
        })
    }
}

/// One non-default rule of a listener, as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Rule ARN.
    pub arn: String,
    /// Current priority (1..=50000).
    pub priority: u32,
    /// Maintenance, bypass or app.
    pub role: Role,
    /// Where the rule goes when maintenance is switched off: the parked priority of a managed
    /// rule, or, for an app rule that `on` displaced, the priority it had before. `None` for
    /// an app rule that was not displaced (and for a managed rule missing its parked tag).
    pub home: Option<u32>,
}

impl Rule {
    /// A rule without a home.
    pub fn new(arn: impl Into<String>, priority: u32, role: Role) -> Self {
        Self {
            arn: arn.into(),
            priority,
            role,
            home: None,
        }
    }

    /// The same rule with a home priority.
    pub fn with_home(mut self, home: u32) -> Self {
        self.home = Some(home);
        self
    }
}

/// Which way a switch goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Maintenance on: the managed rules above every other rule.
    On,
    /// Maintenance off: the managed rules back at their parked priorities.
    Off,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::On => "on",
            Direction::Off => "off",
        })
    }
}

/// Which page `on` puts in front of every other rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Live {
    /// The maintenance rule: the responder's page (503 with `Retry-After`, `no-store`).
    #[default]
    Responder,
    /// The fallback rule: the ALB's own fixed-response 503, no Lambda involved.
    Fallback,
}

impl std::fmt::Display for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Live::Responder => "the responder's page",
            Live::Fallback => "the fallback page",
        })
    }
}

/// Whether maintenance is on, as the priorities say (tags are only a record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The bypass rules, then the maintenance rule, come before every other rule.
    On,
    /// Every managed rule is at its parked priority.
    Off,
    /// Neither: a switch was interrupted or someone moved rules by hand.
    Between,
    /// No maintenance rule on the listener.
    Unmanaged,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::On => "on",
            State::Off => "off",
            State::Between => "between on and off",
            State::Unmanaged => "not attached",
        })
    }
}
