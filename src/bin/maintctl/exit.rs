//! Exit codes of `maintctl`: one meaning each, for every command, so scripts can branch on the
//! outcome. [`TABLE`] is the one statement of them (`maintctl --help` prints it; the book's
//! on-call card repeats it, checked equal by a test). Every code but 2 is one `ops::Outcome`,
//! which carries its number because the JSON documents of the library's reports state it
//! (`exit_code`).

use std::process::ExitCode;

use maintenance_engine::ops::Outcome;

/// The exit codes and their meaning: `maintctl --help` prints this.
/// A raw string: it is a table, laid out as printed.
pub const TABLE: &str = r"Exit codes (the same meaning for every command):
  0  done as asked (doctor: no check failed; warnings are printed)
  1  failed before changing anything (bad input, an AWS error); nothing changed
  2  usage error: a flag missing, unknown or not for this command; nothing changed
  3  nothing to do: everything was already as asked
  4  refused, nothing changed: not confirmed, the listener changed since it was
     read, the lease is held, a check blocks, or there is nothing to show
  5  failed part-way, and every change already made was undone
  6  needs a person: a change was left half-made (a listener between states; a
     rule, token or schedule not put back; content written but the fallback
     page not refreshed) or bypass tokens differ; the report says where and
     what to do
  7  switched as planned, but --verify-url did not show it in time (a CDN or
     cache in front?): check the endpoint and maintctl status
  8  doctor: a check failed; nothing was changed; each failed check says its fix";

/// Failed before anything was changed.
pub const FAILED: u8 = Outcome::Failed.exit_code();

/// The exit code of an outcome.
pub fn code(outcome: Outcome) -> ExitCode {
    ExitCode::from(outcome.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes [`TABLE`] lists, in order.
    fn listed(table: &str) -> Vec<u8> {
        table
            .lines()
            .filter_map(|l| l.strip_prefix("  "))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    #[test]
    fn the_exit_code_table_gives_each_code_one_meaning_and_names_every_outcome() {
        let outcomes = [
            Outcome::Done,
            Outcome::Failed,
            Outcome::NothingToDo,
            Outcome::Refused,
            Outcome::RolledBack,
            Outcome::Inconsistent,
            Outcome::Unverified,
            Outcome::CheckFailed,
        ];
        let mut codes: Vec<u8> = outcomes.iter().map(|o| o.exit_code()).collect();
        codes.push(2); // clap's usage error
        codes.sort();
        let before = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), before, "two outcomes share an exit code");
        assert_eq!(
            listed(TABLE),
            codes,
            "the table lists other codes than the outcomes'"
        );
        assert_eq!(FAILED, 1);
        // clap's own usage errors exit 2, as the table says.
        assert_eq!(
            clap::Error::new(clap::error::ErrorKind::MissingRequiredArgument).exit_code(),
            2
        );
        // The check fails on a table that lists a code twice.
        assert_ne!(listed(&format!("{TABLE}\n  6  again")), codes);
    }
}
