//! maintenance-responder: the Lambda behind the ALB's maintenance rule (binary
//! `maintenance-responder`, deployed as `bootstrap`): one ALB event in, one response out, the
//! content from SSM Parameter Store. The page itself is `maintenance-core`'s; this crate is the
//! Lambda path around it and the AWS edge it needs.
//!
//! # Layout
//!
//! ```text
//! lambda::Function::handle_invocation (handle_payload on Lambda: lambda::payload, one parse)
//!   lambda::alb_event     raw ALB event -> maintenance_core::respond::Request (never fails)
//!   content_cache         the live content (window, budgets, stale-if-error) over ssm::ParameterStore
//!   maintenance_core::respond   the pure core: select_page -> decide -> render -> Response
//!   lambda::memo          negotiation results and renderings of equal decisions, kept
//!   lambda::alb_response  Response -> ALB JSON the ALB never rejects (contract check)
//! ```
//!
//! At the edges: [`ssm`] (the parameter layout; the `ParameterStore`, `ParameterWriter` and
//! `LockParameters` traits over the SSM SDK, which the switching engine uses too), [`aws`]
//! (the SDK configuration of the Lambda's SSM client), [`logging`] (JSON logs on Lambda).
//!
//! What it may not touch (its `Cargo.toml`, checked by `scripts/test` on its dependency tree):
//! the load balancer, Scheduler and Lambda SDKs, a CLI parser, an HTTP server.

pub mod aws;
pub mod content_cache;
pub mod lambda;
pub mod logging;
pub mod ssm;

pub use lambda::Function;
