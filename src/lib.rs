//! maintctl: the operators' CLI of maintenance-responder (binary `maintctl`, `src/bin/maintctl`)
//! and what only it uses. Every operation is `maintenance_engine`'s (plan, pure → apply, through
//! a trait → report); the page is `maintenance_core`'s and the Lambda path
//! `maintenance_responder`'s. This library holds maintctl's own parts:
//!
//! - [`environment`]: `maintctl.toml`, the environment selected and every setting in force
//!   with where it came from (`maintctl config show`);
//! - [`preview`] (`maintctl serve`, `maintctl preview`): turns HTTP into ALB events and runs the
//!   responder's own `Function::handle`, so the preview cannot drift from the Lambda;
//! - [`probe::api`]: the responder probe of `maintctl doctor` over the Lambda SDK;
//! - [`schedules::api`]: maintenance windows over the EventBridge Scheduler SDK;
//! - [`verify`]: the live-endpoint probe of `--verify-url` over HTTP(S) (hyper, rustls).
//!
//! Neither Lambda function links any of these: the responder's and the switch function's
//! dependency trees have no Lambda or Scheduler SDK, no CLI parser, no HTTP server, and no
//! HTTP client of ours (`scripts/test` checks).

pub mod environment;
pub mod preview;
pub mod verify;

/// The responder's function as `maintctl doctor` reaches it: `maintenance_engine::probe`'s
/// trait over the Lambda SDK.
pub mod probe {
    pub mod api;
}

/// Maintenance windows (`maintctl schedule`, `on --until`): `maintenance_engine::schedules`'
/// trait over the EventBridge Scheduler SDK.
pub mod schedules {
    pub mod api;

    pub use api::Scheduler;
}
