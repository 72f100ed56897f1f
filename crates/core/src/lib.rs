//! maintenance-core: the pure core of maintenance-responder — what a request to the
//! maintenance endpoint is answered with, from plain data. The request, the content, the site
//! and the time go in; the response comes out. No I/O, no clock, no environment of its own: its
//! `Cargo.toml` names no tokio, AWS SDK, Lambda runtime or HTTP crate, so the compiler keeps it
//! so.
//!
//! # Layout
//!
//! **The vocabulary** (pure data and rules, shared by every other crate of the workspace):
//! [`page_kind`] (what a request is answered with, its status) · [`content`] (the live content
//! and the validation every value passes; [`value`]: why a value is refused, the bypass token) · [`catalog`] (the built-in texts per language) ·
//! [`config`] (the TOML schema, the overrides the environment may give) · [`causes`] (an
//! error and its causes on one line, the one printer of error chains) · [`site`] (the
//! [`Site`] prepared once: stylesheet, CSP, logo) · [`deploy_names`] (names shared with
//! `deploy/`: environment variables, tags, SSM parameters) · [`admission`] (a gradual return's
//! state, tickets and who is let through).
//!
//! **The response** ([`mod@respond`]): `select_page` -> `decide` -> `render` -> `Response`.
//! [`respond::decide`] and [`respond::render`] are the two steps the responder Lambda's hot path
//! calls per event (`maintenance-responder`, which keeps negotiations and renderings between
//! events); [`respond()`] is the two in one call, for the tests and benches. The fallback rule's
//! fixed-response page ([`respond::fallback`]) is rendered here too, for the switching engine.
//!
//! What it may not touch: the AWS SDKs, tokio, the Lambda runtime, hyper, `std::env`; it is
//! used by `maintenance-responder` (the Lambda), `maintenance-engine` (the fallback rule's page,
//! the bypass token, the names of the tags) and `maintctl` (the preview).

pub mod admission;
pub mod catalog;
pub mod causes;
pub mod config;
pub mod content;
pub mod deploy_names;
pub mod page_kind;
pub mod respond;
pub mod rfc3339;
pub mod site;
pub mod value;

pub use respond::{decide, render, respond};
pub use site::Site;
