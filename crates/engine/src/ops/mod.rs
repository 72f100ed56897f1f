//! `maintctl`'s workflows as library functions, the same ones any other caller (a test, a
//! Lambda) uses. Each has one shape: a validated request in; plan (pure, `crate::planner`);
//! apply through the `crate::listeners::Listeners` trait; a report out that is both
//! `Serialize` (the `--output json` document) and `Display` (the text), with an [`Outcome`]:
//!
//! - [`attach()`]: [`AttachRequest`] → [`AttachReport`];
//! - [`status()`]: `crate::listeners::Targets` → [`StatusReport`];
//! - [`switch()`] (`on`, `off`): [`SwitchRequest`] and an [`Operator`] → [`SwitchReport`]; its
//!   apply phase is [`apply()`] (with `undo` when a call fails part-way), under the lease of
//!   [`lease`], with who owns the maintenance and the window's content from [`coordinate`];
//! - [`verify()`]: [`VerifyRequest`] → [`Verification`], the live-endpoint probe;
//! - [`message::show`] and [`message::set`]: the page content in SSM (through the
//!   `maintenance_responder::ssm::ParameterStore` and
//!   `maintenance_responder::ssm::ParameterWriter` traits);
//! - [`bypass`]: the bypass link's token, which every switch sets (`on`) and rotates (`off`);
//!   [`bypass_link()`]: [`LinkRequest`] → [`LinkReport`], the current window's link again.
//! - [`doctor::doctor`]: every check a switch relies on; [`doctor::preflight`], the checks
//!   that can stop `on` (the caller's step: passed as a [`preflight::Preflight`] in
//!   [`SwitchRequest::preflight`]);
//! - [`fallback::refresh`] and [`fallback::set_message`] (`message set`): the fallback rules'
//!   page, kept up to date with the content.
//!
//! An operation that stops before changing anything returns an [`Error`], which says whether
//! that is a refusal or a failure.

pub mod apply;
pub mod attach;
pub mod bypass;
pub mod bypass_link;
pub mod coordinate;
pub mod deadline;
pub mod doctor;
pub mod fallback;
pub mod lease;
pub mod message;
pub mod owners;
pub mod preflight;
pub mod schedule;
pub mod status;
pub mod switch;
mod undo;
pub mod verify;

use serde::Serialize;

use crate::listeners::{ListenersError, Skipped};
use crate::planner::{AttachError, BypassError, PlanningError};

pub use apply::{ApplyReport, ListenerOutcome, ListenerReport, Record, RulePriority, apply};
pub use attach::{AttachReport, AttachRequest, ListenerAttach, attach};
pub use bypass::{BypassLink, BypassPlan, TokenError, TokenStore};
pub use bypass_link::{LinkReport, LinkRequest, bypass_link};
pub use coordinate::{Coordination, Owner, SwitchParameters, WindowContent};
pub use lease::{HeldLease, LeaseError, LeaseHolder, LeaseOptions};
pub use status::{ListenerStatus, MaintenanceStatus, RuleStatus, StatusReport, status};
pub use switch::{
    Confirmation, Operator, SwitchPlan, SwitchReport, SwitchRequest, Unattended, switch,
};
pub use verify::{LiveEndpoint, Verification, VerifyRequest, verify, verify_live};

/// How an operation ended: one variant per exit code of `maintctl` (2 is clap's usage error),
/// so that scripts can branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done as asked (named `applied` in the JSON documents).
    Done,
    /// 1: failed before changing anything.
    Failed,
    /// 3: nothing to do, everything was already as asked.
    NothingToDo,
    /// 4: refused, nothing changed (not confirmed, the listener changed, the plan was unsafe).
    Refused,
    /// 5: failed part-way, and every change already made was undone.
    RolledBack,
    /// 6: inconsistent: a listener is neither as before nor as planned, or the endpoint does
    /// not show the switch; it needs a person.
    Inconsistent,
}

impl Outcome {
    /// The exit code of `maintctl` for this outcome.
    pub const fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::Failed => 1,
            Outcome::NothingToDo => 3,
            Outcome::Refused => 4,
            Outcome::RolledBack => 5,
            Outcome::Inconsistent => 6,
        }
    }

    /// Its name in the JSON documents.
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Done => "applied",
            Outcome::Failed => "failed",
            Outcome::NothingToDo => "nothing-to-do",
            Outcome::Refused => "refused",
            Outcome::RolledBack => "rolled-back",
            Outcome::Inconsistent => "inconsistent",
        }
    }

    /// True when nothing went wrong (done, or nothing to do).
    pub const fn went_well(self) -> bool {
        matches!(self, Outcome::Done | Outcome::NothingToDo)
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// What every operation returns: a document for scripts (`Serialize`), a text for people
/// (`Display`, every line ending in a newline), and how it ended.
pub trait Report: Serialize + std::fmt::Display {
    /// How the operation ended.
    fn outcome(&self) -> Outcome;
}

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
    /// The time of the switch could not be written down.
    #[error("failed to format the time")]
    Clock(#[source] time::error::Format),
    /// A cookie bypass rule cannot get a token as asked.
    #[error(transparent)]
    Bypass(#[from] BypassError),
    /// The bypass token cannot be generated or stored as it must be.
    #[error(transparent)]
    Token(#[from] TokenError),
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
