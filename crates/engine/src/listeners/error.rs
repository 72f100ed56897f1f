//! [`ListenersError`]: an ELBv2 or STS call failed, returned something unusable, or was refused
//! before it was sent. Messages name the resource. (The conversion from the SDK's errors is in
//! `api`, the one file that knows the SDK.)

use crate::planner::PlanningError;

/// An AWS call failed, or returned something unusable. Messages name the resource.
#[derive(Debug, thiserror::Error)]
pub enum ListenersError {
    /// An API call failed.
    #[error("{operation} on {resource} failed: {message}")]
    Call {
        /// API operation, e.g. `SetRulePriorities`.
        operation: &'static str,
        /// The listener, rule or other resource it was about.
        resource: String,
        /// AWS error code, e.g. `PriorityInUse`, when the service answered.
        code: Option<String>,
        /// What went wrong.
        message: String,
        /// True when the request may have been carried out despite the error (a timeout or a
        /// lost response); false when the service rejected it or it was never sent.
        outcome_unknown: bool,
    },
    /// The listener does not exist.
    #[error("listener {listener} not found: check the ARN, --region and --profile")]
    ListenerNotFound {
        /// The listener ARN.
        listener: String,
    },
    /// A listener as read that no plan can be made for (a rule this tool cannot interpret).
    #[error(transparent)]
    Planning(#[from] PlanningError),
    /// A request this tool refuses to send.
    #[error("{0}")]
    Invalid(String),
}

impl ListenersError {
    /// The AWS error code, if the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ListenersError::Call { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// True when the call may have been carried out despite the error.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            ListenersError::Call {
                outcome_unknown: true,
                ..
            }
        )
    }
}
