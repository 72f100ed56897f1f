//! Printing: every report once, as its JSON document (`--output json`) or its text; and why an
//! operation stopped before it changed anything.

use std::fmt::Display;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use maintenance_engine::ops::{self, Outcome, Report};

use crate::{Output, exit};

/// Prints a report (JSON or text, as `output` says) and gives its exit code.
pub fn emit(output: Output, report: &impl Report) -> anyhow::Result<ExitCode> {
    match output {
        Output::Json => say!(
            "{}",
            serde_json::to_string_pretty(report).context("failed to encode JSON")?
        ),
        Output::Text => text(report),
    }
    Ok(exit::code(report.outcome()))
}

/// Prints the report once, and the complaint on stderr in text mode.
pub fn finish(
    out: Output,
    report: &impl Report,
    complaint: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let code = emit(out, report)?;
    if out == Output::Text
        && let Some(message) = complaint
    {
        eprintln!("maintctl: {message}");
    }
    Ok(code)
}

/// Prints what went wrong after the switch without changing its outcome (its event not
/// published, its history not written), on stderr, after the report.
pub fn warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("maintctl: warning: {w}");
    }
}

/// Prints text whose every line ends in a newline; nothing at all for none. A closed stdout
/// (`maintctl status | head`) is not an error.
pub fn text(shown: &impl Display) {
    let text = shown.to_string();
    if !text.is_empty() {
        let _ = write!(std::io::stdout(), "{text}");
    }
}

/// Says why an operation stopped before changing anything: a refusal here (exit 4), a failure
/// through `main` (exit 1), after the listeners looked at when none matched.
pub fn stopped(error: ops::Error) -> anyhow::Result<ExitCode> {
    if error.outcome() == Outcome::Refused {
        eprintln!("maintctl: refused: {error}");
        if let Some(note) = error.note() {
            eprintln!("{note}");
        }
        return Ok(exit::code(Outcome::Refused));
    }
    if let ops::Error::NoListener { skipped } = &error {
        for s in skipped {
            say!("{s}");
        }
    }
    Err(error.into())
}
