//! The responder's path, one test binary (the module of each file says what it holds):
//! [`alb`] the ALB contract through the library (every fixture, hostile events, the property
//! test), [`lambda`] the real `maintenance-responder` binary against a loopback Lambda Runtime
//! API, [`preview`] the local preview (`maintctl serve` / `preview`) against the Lambda's own
//! path, [`spread`] the `Retry-After` spread's property test, [`payload`] the Lambda's payload
//! path against the runtime's raw capture it replaced.

#[path = "../common/mod.rs"]
mod common;

mod alb;
mod lambda;
mod payload;
mod preview;
mod spread;
