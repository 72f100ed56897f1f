//! [`Error`]: why an operation stopped before it changed anything, and whether that is a
//! refusal or a failure; and [`select_some`], the selection the operations on attached
//! listeners start with, refused as [`Error::NoListener`] when it is empty.

use crate::listeners::{Listeners, ListenersError, Selection, Skipped, Targets, select};
use crate::ops::Outcome;
use crate::ops::token::TokenError;
use crate::planner::{AttachError, BypassError, PlanningError};

/// Why an operation stopped before it changed anything.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the listeners to select failed.
    #[error("failed to read the listeners")]
    Select(#[source] ListenersError),
    /// Reading one named listener failed. (The cause names the listener.)
    #[error("nothing was created: reading a listener failed")]
    Read {
        /// The listener ARN.
        listener: String,
        /// Why.
        #[source]
        source: ListenersError,
    },
    /// Reading the target groups `attach` was given failed.
    #[error("failed to read the target groups named by --target-group and --app-target-group")]
    TargetGroups {
        /// Why.
        #[source]
        source: ListenersError,
    },
    /// Reading the responder's target group for its health-check path failed.
    #[error(
        "nothing was changed: reading the responder's target group failed, so its health-check \
         path (the health route --verify-url checks) is unknown; pass --health-path"
    )]
    HealthRoute {
        /// Why.
        #[source]
        source: ListenersError,
    },
    /// No listener with a maintenance rule is selected.
    #[error(
        "no listener with a maintenance rule matches: check the ARNs, --environment and \
         --region, or attach first with maintctl attach"
    )]
    NoListener {
        /// The listeners looked at, and why each was left out.
        skipped: Vec<Skipped>,
    },
    /// A listener cannot be attached as asked.
    #[error(transparent)]
    Attach(#[from] AttachError),
    /// A listener cannot be switched.
    #[error(transparent)]
    Plan(#[from] PlanningError),
    /// The preflight (`crate::ops::doctor::preflight`) found what makes the switch useless:
    /// the responder does not answer as it must, or the content is invalid.
    #[error(
        "the preflight failed, so nothing was changed: {}; see maintctl doctor with the same \
         --listener/--load-balancer/--environment, fix it, or pass --force to switch anyway",
        failed.join("; and ")
    )]
    Preflight {
        /// The failed checks, one line each.
        failed: Vec<String>,
    },
    /// The `--verify-url` endpoint's certificate is not trusted: it could not be verified
    /// after the switch, so nothing was switched.
    #[error("--verify-url cannot be verified, so nothing was changed: {0}")]
    Verify(String),
    /// A cookie bypass rule cannot get a token as asked.
    #[error(transparent)]
    Bypass(#[from] BypassError),
    /// The bypass token cannot be generated or stored as it must be.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The switches' history (`crate::announce::history`) could not be read.
    #[error(
        "the switch history could not be read: {0} (the caller needs ssm:GetParameterHistory on it)"
    )]
    History(String),
}

impl Error {
    /// Refused (the request or the listeners make it unsafe) or failed.
    pub fn outcome(&self) -> Outcome {
        match self {
            Error::Attach(_) | Error::Plan(_) | Error::Bypass(_) | Error::Preflight { .. } => {
                Outcome::Refused
            }
            Error::Token(TokenError::Type { .. }) => Outcome::Refused,
            _ => Outcome::Failed,
        }
    }

    /// What else to tell the operator about a refusal.
    pub fn note(&self) -> Option<&'static str> {
        match self {
            Error::Attach(AttachError::Fallthrough { .. } | AttachError::Alone { .. }) => {
                Some("nothing was created on any listener")
            }
            Error::Plan(_)
            | Error::Bypass(_)
            | Error::Token(TokenError::Type { .. })
            | Error::Preflight { .. } => Some("nothing was changed on any listener"),
            _ => None,
        }
    }
}

/// The listeners `targets` select (`crate::listeners::select`), at least one: none is
/// [`Error::NoListener`], with the listeners looked at and why each was left out.
pub(crate) async fn select_some(
    client: &impl Listeners,
    targets: &Targets,
) -> Result<Selection, Error> {
    let selection = select(client, targets).await.map_err(Error::Select)?;
    if selection.listeners.is_empty() {
        return Err(Error::NoListener {
            skipped: selection.skipped,
        });
    }
    Ok(selection)
}
