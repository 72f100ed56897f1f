//! The I/O side of `maintctl schedule` and `on --until` (issue #15): EventBridge Scheduler's
//! one-time schedules and schedule groups behind the small [`Schedules`] trait.
//!
//! - [`Schedules`]: the trait; its implementation over the SDK client is maintctl's
//!   (`maintctl::schedules::Scheduler`, the only file that knows the Scheduler SDK), so
//!   neither Lambda function links it;
//! - [`SchedulesError`]: a failed call, naming the resource.
//!
//! What the schedules of a window are and how they read back is `crate::planner::window`'s;
//! the workflows are `crate::ops::schedule`'s.

use std::future::Future;

use crate::planner::window::Schedule;

/// The Scheduler operations `maintctl` uses. Implemented by `maintctl::schedules::Scheduler` (over
/// the SDK); tests wrap it.
pub trait Schedules {
    /// A schedule group with its tags; `None` when it does not exist.
    fn group(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ScheduleGroup>, SchedulesError>> + Send;
    /// The names of every schedule of a group (all pages).
    fn names(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Vec<String>, SchedulesError>> + Send;
    /// One schedule; `None` when it does not exist.
    fn get(
        &self,
        group: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<Schedule>, SchedulesError>> + Send;
    /// Creates a schedule.
    fn create(
        &self,
        schedule: &Schedule,
    ) -> impl Future<Output = Result<(), SchedulesError>> + Send;
    /// Replaces a schedule whole.
    fn update(
        &self,
        schedule: &Schedule,
    ) -> impl Future<Output = Result<(), SchedulesError>> + Send;
    /// Deletes a schedule: `false` when it did not exist.
    fn delete(
        &self,
        group: &str,
        name: &str,
    ) -> impl Future<Output = Result<bool, SchedulesError>> + Send;
}

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
