//! maintenance-responder: maintenance and fallback pages for an AWS Application Load Balancer,
//! served by a Lambda target, and `maintctl`, which switches them on and off by moving the
//! listener rules' priorities. Both binaries are thin; everything is here.
//!
//! # Layout, in three bands
//!
//! **The vocabulary** (pure data and rules, shared by everything below):
//! [`page_kind`] (what a request is answered with, its status) · [`content`] (the live content
//! and the validation every value passes) · [`catalog`] (the built-in texts per language) ·
//! [`config`] (the TOML schema, environment overrides) · [`site`] (the [`Site`] prepared once:
//! stylesheet, CSP, logo) · [`deploy_names`] (names shared with `deploy/`).
//!
//! **The Lambda path** (one event in, one response out):
//!
//! ```text
//! lambda::Function::handle_invocation
//!   lambda::alb_event   raw ALB event -> respond::Request (never fails)
//!   content_cache       the live content (window, budgets, stale-if-error) over ssm::ParameterStore
//!   respond             the pure core: select_page -> decide -> render -> Response
//!   lambda::memo        negotiation results and renderings of equal decisions, kept
//!   lambda::alb_response  Response -> ALB JSON the ALB never rejects (contract check)
//! ```
//!
//! [`mod@respond`] is pure: request, content, site and the time in, response out; no I/O, clock or
//! environment (`tests/layout.rs` checks that it and everything it imports stay so).
//! Its two steps are what the Lambda's hot path calls per event: [`respond::decide`] (as
//! [`respond::decide_negotiated`], with `Accept` / `Accept-Language` negotiated once per distinct
//! pair by [`lambda::memo::Negotiations`]), then [`respond::render`] (on a miss of the kept
//! renderings, [`lambda::memo::RenderedResponses`]); [`respond()`] is the two in one call, for
//! the tests and benches. [`preview`] (`maintctl serve`, `maintctl preview`)
//! turns HTTP into ALB events and runs the same [`Function::handle`]; `maintctl invoke` builds
//! the function exactly as the Lambda does ([`Function::from_environment`]).
//!
//! **The maintctl path** (every operation: plan, pure → apply, through a trait → report,
//! `Serialize` + `Display`):
//!
//! ```text
//! ops::{attach, status, switch, verify, message, bypass_link, fallback, doctor, schedule, deadline}
//!              the workflows, one public function each
//!   ops::bypass  the bypass link's token, which every switch sets (on) and rotates (off)
//!   ops::lease, ops::coordinate  one writer at a time (the SSM lease), who owns the maintenance
//!   planner      pure: the listener as data, the priority planner, the attach planner, the cookie rule, the fallback rule
//!   listeners    the Listeners trait; listeners/api.rs is the one file that talks to ELBv2/STS
//!                (listeners/acm.rs to ACM, for the certificates' names)
//!   ssm          the parameter layout; ParameterStore / ParameterWriter over the SSM SDK
//!   probe        the ResponderProbe trait (doctor invokes the responder); probe/api.rs over Lambda
//!   schedules    the Schedules trait (maintenance windows); schedules/api.rs over EventBridge Scheduler
//! ```
//!
//! **The switch function** (`maintenance-switch`, issue #15): [`switchfn`] reads a scheduled
//! switch request or a CloudWatch alarm event, decides, and runs the same `ops::switch` with no
//! one to ask, under the lease of `ops::lease`; its report is `maintctl on`'s JSON document.
//!
//! At the edges: [`aws`] (SDK configuration), [`logging`] (JSON logs on Lambda, text for the
//! CLI). No module imports one that imports it back (`tests/layout.rs`).

pub mod aws;
pub mod catalog;
pub mod config;
pub mod content;
pub mod content_cache;
pub mod deploy_names;
pub mod lambda;
#[cfg(feature = "switching")]
pub mod listeners;
pub mod logging;
#[cfg(feature = "switching")]
pub mod ops;
pub mod page_kind;
pub mod planner;
#[cfg(feature = "preview")]
pub mod preview;
#[cfg(feature = "switching")]
pub mod probe;
pub mod respond;
#[cfg(feature = "operator")]
pub mod schedules;
pub mod site;
pub mod ssm;
#[cfg(feature = "switching")]
pub mod switchfn;

pub use lambda::Function;
#[cfg(feature = "switching")]
pub use ops::{attach, status, switch};
pub use respond::{decide, render, respond};
pub use site::Site;
