//! What the checks before a switch found, as the switch takes them: a [`Preflight`], the
//! checks (each a [`Check`] that passes, warns or fails and says what to do) whose blocking
//! failures stop `on`. Running them is the caller's step, before the switch (`maintctl on` runs
//! `crate::ops::doctor::preflight`, which makes these checks, then [`Preflight::gate`]): it
//! refuses on a blocking failure, or, forced, gives `crate::ops::switch` the failures as
//! warnings (`SwitchRequest::warnings`), and puts the checks in the switch's report.

use serde::Serialize;

use crate::ops::Error;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Pass,
    /// Works, but worth a look.
    Warn,
    /// Broken: visitors would not get the maintenance page as intended.
    Fail,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Status::Pass => "pass",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        })
    }
}

/// One check: what was looked at, how it came out, and what to do.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Which check (`content`, `responder-page`, `health-route`, …).
    pub check: &'static str,
    /// What it looked at: a listener, a function, a prefix.
    pub scope: String,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub summary: String,
    /// What to do about it, when it is not a pass.
    pub fix: Option<String>,
    /// `on` refuses while this check fails (unless `--force`).
    pub blocking: bool,
    /// The duration Lambda reported, for an invocation (milliseconds).
    pub duration_ms: Option<f64>,
}

impl Check {
    pub(crate) fn new(check: &'static str, scope: &str, status: Status, summary: String) -> Self {
        Self {
            check,
            scope: scope.to_string(),
            status,
            summary,
            fix: None,
            blocking: false,
            duration_ms: None,
        }
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub(crate) fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// True when this check stops `on`.
    pub fn blocks(&self) -> bool {
        self.blocking && self.status == Status::Fail
    }

    /// The check in one line, for a refusal.
    pub fn line(&self) -> String {
        format!("{} ({}): {}", self.check, self.scope, self.summary)
    }
}

/// The checks run before a switch: a blocking failure refuses it, nothing changed, unless it is
/// forced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Preflight {
    /// The checks, in the order they were run.
    pub checks: Vec<Check>,
}

impl Preflight {
    /// The checks that stop `on`.
    pub fn blocking_failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.blocks()).collect()
    }

    /// Whether a switch may go ahead: refused (nothing changed) on a blocking failure unless
    /// `force`; forced, the failures as the warnings the switch shows
    /// (`crate::ops::SwitchRequest::warnings`).
    pub fn gate(&self, force: bool) -> Result<Vec<String>, Error> {
        let failed: Vec<String> = self.blocking_failures().iter().map(|c| c.line()).collect();
        if failed.is_empty() {
            return Ok(Vec::new());
        }
        if !force {
            return Err(Error::Preflight { failed });
        }
        Ok(failed
            .into_iter()
            .map(|f| format!("preflight failed: {f} (switching anyway: --force)"))
            .collect())
    }
}
