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
//!   that can stop `on` (the caller's step, before the switch: [`preflight::Preflight::gate`]
//!   refuses, or gives the switch its failures as [`SwitchRequest::warnings`]);
//! - [`gradual`]: the gradual return (`off --gradual`, its scheduled steps, its abort);
//! - [`fallback::refresh`] and [`fallback::set_message`] (`message set`): the fallback rules'
//!   page, kept up to date with the content.
//!
//! An operation that stops before changing anything returns an [`Error`], which says whether
//! that is a refusal or a failure.
//!
//! Beside the workflows, the pieces they share, each in a file below its users: [`outcome`]
//! ([`Outcome`], [`Report`]), [`error`] ([`Error`]), [`token`] (the bypass token itself),
//! [`owner`] (who a switch is for, and its tags), `rule_tags` (a rule's tags written, retried).

pub mod apply;
pub mod attach;
pub mod bypass;
pub mod bypass_link;
pub mod coordinate;
pub mod deadline;
pub mod doctor;
pub mod error;
pub mod fallback;
pub mod gradual;
pub mod lease;
pub mod message;
pub mod outcome;
pub mod owner;
pub mod owners;
pub mod preflight;
mod rule_tags;
pub mod schedule;
pub mod status;
pub mod switch;
pub mod token;
mod undo;
pub mod verify;

pub use apply::{ApplyReport, ListenerOutcome, ListenerReport, Record, RulePriority, apply};
pub use attach::{AttachReport, AttachRequest, ListenerAttach, attach};
pub use bypass::{BypassLink, BypassPlan};
pub use bypass_link::{LinkReport, LinkRequest, bypass_link};
pub use coordinate::SwitchParameters;
pub use error::Error;
pub use lease::{HeldLease, LeaseError, LeaseHolder, LeaseOptions};
pub use outcome::{Outcome, Report};
pub use owner::Owner;
pub use status::{ListenerStatus, MaintenanceStatus, RuleStatus, StatusReport, status};
pub use switch::{
    Confirmation, Coordination, Operator, SwitchPlan, SwitchReport, SwitchRequest, Unattended,
    WindowContent, switch,
};
pub use token::{TokenError, TokenStore};
pub use verify::{LiveEndpoint, Verification, VerifyRequest, verify, verify_live};
