//! Switching the listeners, one test binary: [`switching`] `attach`, `status`, `on`, `off`
//! against moto and the rollback, [`planner`] the priority planner's property tests,
//! [`bypass`] the bypass link's rule and token, [`fallback_rule`] the fallback rule,
//! [`doctor`] `maintctl doctor` and the preflight of `on`, [`verify_https`] `--verify-url
//! https://` against a local TLS server, [`environment`] an environment named once in
//! `maintctl.toml`.

#[path = "../common/mod.rs"]
mod common;

mod bypass;
mod doctor;
mod environment;
mod fallback_rule;
mod planner;
mod switching;
mod verify_https;
