//! maintenance-responder: maintenance and fallback pages for an AWS Application Load Balancer,
//! served by a Lambda target, and the `maintctl` library side (planning and applying listener
//! rule changes, content in SSM, the local preview).
//!
//! # Layout
//!
//! The core is pure: [`respond::respond`] takes a [`request::Request`], the live
//! [`content::Content`], the prepared [`config::Site`] and the time, and returns a
//! [`respond::Response`]. Everything with I/O sits at the edges, behind small traits.
//!
//! - [`config`]: the TOML configuration (embedded), environment overrides, [`config::Site`].
//! - [`content`]: built-in texts per language, live content, value validation.
//! - [`request`], [`negotiate`], [`pages`], [`respond`]: the pure core.
//! - [`alb`]: ALB event in, ALB response out, lenient parsing, the contract check.
//! - [`function`]: the Lambda handler glue (content cache, request log, panic guard);
//!   [`rendered`]: responses already rendered, kept per decision.
//! - [`ssm`]: the SSM parameter layout and the `ParameterStore` trait; [`cache`]: the content
//!   cache with its freshness window, time budgets and back-off.
//! - [`rules`]: the pure listener-rule priority planner; [`elb`]: reading and changing
//!   listeners through ELBv2.
//! - [`preview`]: the local HTTP server and the file gallery, both through
//!   [`function::Function::handle`], the Lambda's own per-event code.
//! - [`aws`], [`logging`], [`deployment`]: SDK setup, log setup, names shared with the
//!   infrastructure templates.

pub mod aws;
pub mod catalog;
pub mod config;
pub mod content;
pub mod content_cache;
pub mod deploy_names;
pub mod lambda;
pub mod listeners;
pub mod logging;
pub mod ops;
pub mod page_kind;
pub mod planner;
pub mod preview;
pub mod respond;
pub mod site;
pub mod ssm;
