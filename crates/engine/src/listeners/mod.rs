//! The I/O side of `maintctl`: reading and changing listeners through ELBv2, and the caller's
//! identity through STS, behind the small [`Listeners`] trait.
//!
//! - [`calls`]: the [`Listeners`] trait, every call the engine makes (no SDK type);
//! - [`api`]: [`Aws`], its implementation over the SDK clients — the only file that knows the
//!   ELBv2 and STS SDKs;
//! - [`acm`]: the names on a listener's certificates, from ACM (the only file that knows its
//!   SDK), for the bypass link's host;
//! - [`read`]: a listener with its rules and tags as a `crate::planner::ListenerSnapshot`, and
//!   the listeners a command is about ([`select`]);
//! - [`error`]: [`ListenersError`], which names the resource of every failed call.
//!
//! What the listeners mean and every plan made from them is `crate::planner`'s; applying plans
//! safely (re-check, roll back, record) is `crate::ops`'.

pub mod acm;
pub mod api;
pub mod calls;
pub mod error;
pub mod read;

pub use api::Aws;
pub use calls::{DESCRIBE_TAGS_BATCH, DESCRIBE_TARGET_GROUPS_BATCH, Listeners};
pub use error::ListenersError;
pub use read::{
    Selection, Skipped, Targets, read_listener, read_rules, rules_elsewhere, select, tags_of,
    target_groups_of,
};
