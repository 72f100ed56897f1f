//! How an operation ended ([`Outcome`], one variant per exit code of `maintctl`) and what
//! every operation returns ([`Report`]).

use serde::Serialize;

/// How an operation ended: one variant per exit code of `maintctl` (2 is clap's usage error),
/// so that scripts can branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done as asked (named `applied` in the JSON documents).
    Done,
    /// 1: failed before changing anything.
    Failed,
    /// 3: nothing to do, everything was already as asked.
    NothingToDo,
    /// 4: refused, nothing changed (not confirmed, the listener changed, the plan was unsafe).
    Refused,
    /// 5: failed part-way, and every change already made was undone.
    RolledBack,
    /// 6: inconsistent, it needs a person: a change was left half-made (a listener neither as
    /// before nor as planned; a rule, token or schedule not put back; content written but the
    /// fallback page not refreshed) or two copies of one thing differ (bypass tokens).
    Inconsistent,
    /// 7: unverified: switched as planned, but the live endpoint (`--verify-url`) did not show
    /// it in time (a CDN or cache in front, DNS to another load balancer, the ALB still
    /// applying the change).
    Unverified,
    /// 8: a check failed (`doctor`): nothing was changed; each failed check says its fix.
    CheckFailed,
}

impl Outcome {
    /// The exit code of `maintctl` for this outcome.
    pub const fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::Failed => 1,
            Outcome::NothingToDo => 3,
            Outcome::Refused => 4,
            Outcome::RolledBack => 5,
            Outcome::Inconsistent => 6,
            Outcome::Unverified => 7,
            Outcome::CheckFailed => 8,
        }
    }

    /// Its name in the JSON documents.
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Done => "applied",
            Outcome::Failed => "failed",
            Outcome::NothingToDo => "nothing-to-do",
            Outcome::Refused => "refused",
            Outcome::RolledBack => "rolled-back",
            Outcome::Inconsistent => "inconsistent",
            Outcome::Unverified => "unverified",
            Outcome::CheckFailed => "check-failed",
        }
    }

    /// True when nothing went wrong (done, or nothing to do).
    pub const fn went_well(self) -> bool {
        matches!(self, Outcome::Done | Outcome::NothingToDo)
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// What every operation returns: a document for scripts (`Serialize`), a text for people
/// (`Display`, every line ending in a newline), and how it ended.
pub trait Report: Serialize + std::fmt::Display {
    /// How the operation ended.
    fn outcome(&self) -> Outcome;
}
