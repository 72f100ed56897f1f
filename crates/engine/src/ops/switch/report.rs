//! How a switch ended ([`SwitchReport`]): the plan, the outcome and its message, the apply
//! report, the probe, the bypass link, the leases held. Displayed as what follows the plan;
//! serialized as the `--output json` document of `maintctl on` and `off`.

use serde::Serialize;

use crate::listeners::Skipped;
use crate::ops::apply::ApplyReport;
use crate::ops::bypass::BypassReport;
use crate::ops::coordinate::LeaseStop;
use crate::ops::lease::{HeldLease, LeaseHolder};
use crate::ops::preflight::Check;
use crate::ops::switch::plan::{SwitchPlan, SwitchRequest};
use crate::ops::verify::Verification;
use crate::ops::{Outcome, Report};
use crate::planner::{Direction, ListenerInfo, Live, Plan, State};

/// How a switch ended. Displayed as what follows the plan: the apply report, the probe, and
/// the closing message when it went well (else the message is [`SwitchReport::complaint`]).
/// Serialized as the `--output json` document of `maintctl on` and `off`.
#[derive(Debug, Clone)]
pub struct SwitchReport {
    /// The plan.
    pub plan: SwitchPlan,
    /// It was a dry run.
    pub dry_run: bool,
    /// How it ended.
    pub outcome: Outcome,
    /// What that means, in one sentence.
    pub message: String,
    /// The apply report, if anything was applied.
    pub applied: Option<ApplyReport>,
    /// What the live endpoint showed, if it was probed.
    pub verification: Option<Verification>,
    /// The bypass link (`on`) and what happened to the token, if a listener has a cookie rule.
    /// The link holds the token: a caller that logs the report (a Lambda) sets this to `None`
    /// first.
    pub bypass: Option<BypassReport>,
    /// The preflight's checks, if it was run.
    pub preflight: Option<Vec<Check>>,
    /// The leases this switch held.
    pub leases: Vec<HeldLease>,
    /// Who held a lease this switch needed, when that is why it stopped.
    pub lease_held_by: Option<LeaseHolder>,
}

impl SwitchReport {
    /// The closing message when the switch did not go well.
    pub fn complaint(&self) -> Option<&str> {
        (!self.outcome.went_well()).then_some(self.message.as_str())
    }

    /// A report of a switch that stopped before it applied anything.
    pub(super) fn stopped(
        plan: SwitchPlan,
        request: &SwitchRequest,
        stop: (Outcome, String),
    ) -> Self {
        Self {
            plan,
            dry_run: request.dry_run,
            outcome: stop.0,
            message: stop.1,
            applied: None,
            verification: None,
            bypass: None,
            preflight: request.preflight.as_ref().map(|p| p.checks.clone()),
            leases: Vec::new(),
            lease_held_by: None,
        }
    }

    pub(super) fn stopped_by_lease(&mut self, stop: LeaseStop) {
        (self.outcome, self.message) = (stop.outcome, stop.message);
        self.lease_held_by = stop.held_by;
    }

    /// Adds warnings found after the plan was shown: to the apply report, which is printed
    /// after it, when there is one.
    pub(super) fn warn(&mut self, warnings: Vec<String>) {
        match &mut self.applied {
            Some(applied) => applied.warnings.extend(warnings),
            None => self.plan.warnings.extend(warnings),
        }
    }

    /// A switch that moves no rule after all (who owns the maintenance decided so): its plans
    /// make no call.
    pub(super) fn settle(&mut self) {
        for p in &mut self.plan.listeners {
            p.plan.steps.clear();
            p.plan.displaced.clear();
        }
    }

    fn outcome_name(&self) -> &'static str {
        if self.dry_run && self.outcome == Outcome::Done && self.applied.is_none() {
            "dry-run"
        } else {
            self.outcome.name()
        }
    }
}

impl Report for SwitchReport {
    fn outcome(&self) -> Outcome {
        self.outcome
    }
}

/// The `--output json` document of `on` and `off`.
#[derive(Serialize)]
struct Document<'a> {
    command: Direction,
    live: Option<Live>,
    dry_run: bool,
    caller: &'a str,
    reason: Option<&'a str>,
    notes: Vec<String>,
    warnings: &'a [String],
    listeners: Vec<PlannedView<'a>>,
    skipped: &'a [Skipped],
    outcome: &'a str,
    exit_code: u8,
    message: &'a str,
    report: Option<&'a ApplyReport>,
    verification: Option<&'a Verification>,
    leases: &'a [HeldLease],
    lease_held_by: Option<&'a LeaseHolder>,
    bypass: Option<&'a BypassReport>,
    preflight: Option<&'a [Check]>,
}

#[derive(Serialize)]
struct PlannedView<'a> {
    listener: &'a ListenerInfo,
    state: State,
    plan: &'a Plan,
}

impl Serialize for SwitchReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let plan = &self.plan;
        Document {
            command: plan.direction,
            live: (plan.direction == Direction::On).then_some(plan.live),
            dry_run: self.dry_run,
            caller: &plan.caller,
            reason: plan.reason.as_deref(),
            notes: plan.notes(),
            warnings: &plan.warnings,
            listeners: plan
                .listeners
                .iter()
                .map(|p| PlannedView {
                    listener: &p.snapshot.listener,
                    state: p.state,
                    plan: &p.plan,
                })
                .collect(),
            skipped: &plan.skipped,
            outcome: self.outcome_name(),
            exit_code: self.outcome.exit_code(),
            message: &self.message,
            report: self.applied.as_ref(),
            verification: self.verification.as_ref(),
            leases: &self.leases,
            lease_held_by: self.lease_held_by.as_ref(),
            bypass: self.bypass.as_ref(),
            preflight: self.preflight.as_deref(),
        }
        .serialize(s)
    }
}

impl std::fmt::Display for SwitchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(applied) = &self.applied {
            write!(f, "{applied}")?;
        }
        if let Some(verification) = &self.verification {
            write!(f, "{verification}")?;
        }
        if self.outcome.went_well() {
            writeln!(f, "{}", self.message)?;
        }
        if let Some(bypass) = &self.bypass {
            write!(f, "{bypass}")?;
        }
        Ok(())
    }
}
