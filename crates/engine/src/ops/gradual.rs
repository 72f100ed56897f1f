//! The gradual return (issue #24): maintenance ends in steps, each letting a larger share of
//! visitors through, then the ordinary `off`. The mechanism is `maintenance_core::admission`'s
//! (read its module doc); the pure plan is `crate::planner::return_plan`'s. Here, the I/O:
//!
//! - [`start`] (`maintctl off --gradual`): checks (steps, length, the environment's schedule
//!   group, maintenance on everywhere with a content prefix, no return under way), plans the
//!   admission rules of every listener, the steps and their schedules; on a dry run stops
//!   there; else, under the lease, creates the admission rules (tagged role `admission`),
//!   writes `{prefix}/return/state` (`SecureString`) with step 1's share, creates one one-time
//!   schedule per later step and one for the final `off`, and announces the switch. Should a
//!   write fail, what was written is undone (the listener is left as found) and the report
//!   says so;
//! - [`step`] (the switch function, a step's schedule): under the lease, raises the share
//!   only for the return under way and only upward ([`StepDecision`]); its last step is
//!   [`finish`]'s;
//! - [`finish`]: the ordinary `off` (`crate::ops::switch`, rules exactly as before `on`) under
//!   the same lease, then the admission rules, `return/state` and any step schedule left
//!   deleted;
//! - [`abort`] (`maintctl on` during a return, or the return's abort alarm delivered to the
//!   switch function): the admission rules first (no cookie given before lets anyone through),
//!   then `return/state` and the remaining schedules; maintenance stays on for everyone;
//!   announced and recorded like any switch;
//! - [`under_way`]: the return of an environment, for `status` and `doctor`.
//!
//! The switch function has no Scheduler client: an abort by alarm leaves the remaining step
//! schedules, which fire, find no return under way and change nothing (and delete themselves,
//! `ActionAfterCompletion = DELETE`).

mod abort;
mod report;
mod start;
mod state;
mod step;

pub use abort::{AbortRequest, abort};
pub use report::{API_CLIENTS, Announcement, GradualReport, ListenerAdmission};
pub use start::{GradualRequest, start};
pub use state::{
    NoSchedules, Returning, UnderWay, read_state, returning, returning_all, state_parameter,
    steps_of, under_way,
};
pub use step::step;
