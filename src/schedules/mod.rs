//! The I/O side of `maintctl schedule` and `on --until` (issue #15): EventBridge Scheduler's
//! one-time schedules and schedule groups behind the small [`Schedules`] trait.
//!
//! - [`api`]: the trait and [`Scheduler`], its implementation over the SDK client — the only
//!   file that knows the Scheduler SDK;
//! - [`SchedulesError`]: a failed call, naming the resource.
//!
//! What the schedules of a window are and how they read back is `crate::planner::window`'s;
//! the workflows are `crate::ops::schedule`'s.

pub mod api;

pub use api::{Scheduler, Schedules};

/// A Scheduler call failed. Messages name the operation and the resource.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} on {resource} failed: {message}")]
pub struct SchedulesError {
    /// API operation, e.g. `CreateSchedule`.
    pub operation: &'static str,
    /// The schedule or group.
    pub resource: String,
    /// AWS error code, when the service answered with one.
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
}

/// A schedule group as read: its ARN and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleGroup {
    /// Its ARN.
    pub arn: String,
    /// Its tags.
    pub tags: std::collections::BTreeMap<String, String>,
}
