//! Exit codes of `maintctl`, distinct so scripts can branch on the outcome.

/// The command did what was asked.
pub const SUCCESS: u8 = 0;
/// Something failed before anything was changed (bad input, AWS error on a read).
pub const FAILED: u8 = 1;
// 2 is clap's usage error.
/// Nothing to do: the listener(s) were already in the requested state.
pub const NOTHING_TO_DO: u8 = 3;
/// Refused: no confirmation, the listener changed since planning, or the plan was unsafe.
pub const REFUSED: u8 = 4;
/// A write failed part-way and every change already made was undone.
pub const ROLLED_BACK: u8 = 5;
/// A write failed part-way and the undo failed too: the listener needs a person.
pub const INCONSISTENT: u8 = 6;
