//! Maintenance that runs itself (issues #14, #15), one test binary: [`lease`] one writer at a
//! time, [`schedule`] scheduled windows and deadlines, [`switch_function`] the real
//! `maintenance-switch` binary on alarms and schedules, [`bypass_window`] a whole window with a
//! bypass link through the real responder; [`disorder`] late, repeated and out-of-order events,
//! several owners, windows that meet (issue #20); [`crash`] the switch function killed at every
//! write of a switch; [`events`] every switch announced on EventBridge and kept in
//! `maintctl history` (issue #23); [`gradual`] a gradual return, its steps and its aborts
//! (issue #24). Their helpers are [`automation`] (`mod.rs` here).

#[path = "mod.rs"]
mod automation;
#[path = "../common/mod.rs"]
mod common;

mod bypass_window;
mod crash;
mod disorder;
mod events;
mod gradual;
mod lease;
mod schedule;
mod switch_function;
