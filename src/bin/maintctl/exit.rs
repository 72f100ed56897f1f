//! Exit codes of `maintctl`, distinct so scripts can branch on the outcome:
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | done |
//! | 1 | failed before changing anything (bad input, AWS error on a read) |
//! | 2 | usage error (clap) |
//! | 3 | nothing to do: already in the requested state |
//! | 4 | refused, nothing changed: not confirmed, the listener changed, the plan was unsafe |
//! | 5 | failed part-way, and every change already made was undone |
//! | 6 | inconsistent: a listener (or the endpoint) needs a person |
//!
//! Every code but 2 is one `ops::Outcome`, which carries its number because the JSON documents
//! of the library's reports state it (`exit_code`).

use std::process::ExitCode;

use maintenance_engine::ops::Outcome;

/// Failed before anything was changed.
pub const FAILED: u8 = Outcome::Failed.exit_code();

/// The exit code of an outcome.
pub fn code(outcome: Outcome) -> ExitCode {
    ExitCode::from(outcome.exit_code())
}
