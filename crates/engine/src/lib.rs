//! maintenance-engine: the switching engine behind `maintctl` and the `maintenance-switch`
//! Lambda. Every operation has one shape: plan (pure) → apply (through a trait) → report
//! (`Serialize` + `Display`).
//!
//! # Layout
//!
//! ```text
//! ops::{attach, status, switch, verify, message, bypass_link, fallback, doctor, schedule, deadline}
//!              the workflows, one public function each
//!   ops::bypass  the bypass link's token, which every switch sets (on) and rotates (off)
//!   ops::lease, ops::coordinate  one writer at a time (the SSM lease), who owns the maintenance
//!   planner      pure: the listener as data, the priority planner, the attach planner, the cookie rule, the fallback rule
//!   listeners    the Listeners trait; listeners/api.rs is the one file that talks to ELBv2/STS
//!                (listeners/acm.rs to ACM, for the certificates' names)
//!   probe        the ResponderProbe trait (doctor invokes the responder); its Lambda SDK adapter is maintctl's
//!   schedules    the Schedules trait (maintenance windows); its Scheduler SDK adapter is maintctl's
//!   retry        the one retry and back-off policy (Backoff)
//! announce       every switch told (an EventBridge event; announce/eventbridge.rs is the one
//!                file that talks to EventBridge) and kept (the history in SSM, announce::history)
//! ```
//!
//! The content and the lease live in SSM, through `maintenance_responder::ssm`'s traits; the
//! fallback rule's page and the names shared with `deploy/` are `maintenance_core`'s. The
//! live-endpoint probe after a switch (`ops::verify`) reaches the endpoint through the
//! [`ops::verify::LiveEndpoint`] trait, whose HTTP(S) client is maintctl's.
//!
//! What it may not touch (its `Cargo.toml`): the Scheduler and Lambda SDKs, a CLI parser, an
//! HTTP client or server of its own; [`planner`] stays pure (no tokio, AWS or environment).

pub mod announce;
pub mod listeners;
pub mod ops;
pub mod planner;
pub mod probe;
pub mod retry;
pub mod schedules;
#[cfg(test)]
pub(crate) mod testing;

pub use ops::{attach, status, switch};
