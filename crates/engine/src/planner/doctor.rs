//! What `maintctl doctor` reads about a listener beyond its rules, as plain data (no SDK types):
//! the responder's target group with its health check settings and its targets' health
//! ([`TargetGroupHealth`]). `crate::listeners` reads them; `crate::ops::doctor` judges them.

use serde::Serialize;

/// A target group's health check settings and the health of its targets
/// (DescribeTargetGroups, DescribeTargetHealth).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetGroupHealth {
    /// Target group ARN.
    pub arn: String,
    /// Whether health checks are on (`None`: not said).
    pub health_check_enabled: Option<bool>,
    /// The path they request.
    pub health_check_path: Option<String>,
    /// Seconds between checks.
    pub health_check_interval_seconds: Option<i32>,
    /// The status codes that count as healthy (`200`).
    pub matcher: Option<String>,
    /// Every registered target.
    pub targets: Vec<TargetState>,
}

/// One registered target and its health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetState {
    /// The target: for a `lambda` target group, the function's (or alias') ARN.
    pub id: String,
    /// `healthy`, `unhealthy`, `unavailable` (health checks off), …
    pub state: String,
    /// Why, as ELB says it (`Target.HealthCheckDisabled`), if it says.
    pub reason: Option<String>,
}
