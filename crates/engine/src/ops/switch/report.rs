//! How a switch ended ([`SwitchReport`]): the plan, the outcome and its message, the apply
//! report, the probe, the bypass link, the leases held. Displayed as what follows the plan;
//! serialized as the `--output json` document of `maintctl on` and `off`. Made once, at the
//! end, from what happened ([`Happened`]: the plan shown, what the steps did ([`Steps`]), the
//! leases and the probe).

use serde::Serialize;

use crate::listeners::Skipped;
use crate::ops::apply::ApplyReport;
use crate::ops::bypass::BypassReport;
use crate::ops::coordinate::LeaseStop;
use crate::ops::lease::{HeldLease, LeaseHolder};
use crate::ops::preflight::Check;
use crate::ops::switch::plan::{SwitchPlan, SwitchRequest};
use crate::ops::verify::{Verification, VerifyRequest};
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
    /// The preflight's checks, when the caller ran one (`maintctl on` puts them here: they
    /// are its step, not the switch's).
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

    fn outcome_name(&self) -> &'static str {
        if self.dry_run && self.outcome == Outcome::Done && self.applied.is_none() {
            "dry-run"
        } else {
            self.outcome.name()
        }
    }
}

/// How the last step of a switch ended it: the outcome, what it means, and who held a lease
/// it needed when that is why.
pub(super) struct Ending {
    outcome: Outcome,
    message: String,
    held_by: Option<LeaseHolder>,
}

impl From<(Outcome, String)> for Ending {
    fn from((outcome, message): (Outcome, String)) -> Self {
        Self {
            outcome,
            message,
            held_by: None,
        }
    }
}

impl From<LeaseStop> for Ending {
    fn from(stop: LeaseStop) -> Self {
        Self {
            outcome: stop.outcome,
            message: stop.message,
            held_by: stop.held_by,
        }
    }
}

/// What the steps of a switch did once its plan was shown: how they ended it, the apply report
/// and the bypass link when the rules were switched, and the warnings found on the way.
pub(super) struct Steps {
    pub(super) ending: Ending,
    pub(super) applied: Option<ApplyReport>,
    pub(super) bypass: Option<BypassReport>,
    pub(super) warnings: Vec<String>,
}

impl Steps {
    /// Steps that ended the switch as `ending` says, having switched nothing.
    pub(super) fn ended(ending: impl Into<Ending>) -> Self {
        Self {
            ending: ending.into(),
            applied: None,
            bypass: None,
            warnings: Vec::new(),
        }
    }
}

/// Everything a switch did: the plan shown, what its steps did, the leases it held, what the
/// probe saw. Turned into the [`SwitchReport`] at the end ([`Happened::report`]).
pub(super) struct Happened {
    pub(super) plan: SwitchPlan,
    pub(super) steps: Steps,
    pub(super) leases: Vec<HeldLease>,
    pub(super) verification: Option<Verification>,
}

impl Happened {
    pub(super) fn new(plan: SwitchPlan, steps: Steps) -> Self {
        Self {
            plan,
            steps,
            leases: Vec::new(),
            verification: None,
        }
    }

    /// Whether the rules were switched as planned: what the probe then checks.
    pub(super) fn switched(&self) -> bool {
        self.steps.applied.is_some() && self.steps.ending.outcome == Outcome::Done
    }

    /// The report: the outcome and message of the last step, or of the probe when there was
    /// one; the warnings found after the plan was shown go with the apply report, printed after
    /// it, when there is one.
    pub(super) fn report(self, request: &SwitchRequest) -> SwitchReport {
        let Happened {
            mut plan,
            steps,
            leases,
            verification,
        } = self;
        let (outcome, message) = match (&verification, &request.verify) {
            (Some(v), Some(probe)) => verified_message(v, probe, plan.direction, request.live),
            _ => (steps.ending.outcome, steps.ending.message),
        };
        let mut applied = steps.applied;
        match &mut applied {
            Some(applied) => applied.warnings.extend(steps.warnings),
            None => plan.warnings.extend(steps.warnings),
        }
        SwitchReport {
            plan,
            dry_run: request.dry_run,
            outcome,
            message,
            applied,
            verification,
            bypass: steps.bypass,
            preflight: None,
            leases,
            lease_held_by: steps.ending.held_by,
        }
    }
}

/// The outcome and message of a switch probed on the live endpoint: what the endpoint kept
/// answering, said as it was seen.
fn verified_message(
    verification: &Verification,
    probe: &VerifyRequest,
    direction: Direction,
    live: Live,
) -> (Outcome, String) {
    if verification.ok {
        return (
            Outcome::Done,
            format!("maintenance is {direction}, verified"),
        );
    }
    let v = verification;
    let message = format!(
        "the listeners are switched {direction}, but after {} s ({} attempt(s)) {}{}: check the \
         endpoint (a CDN or cache in front?) and maintctl status",
        probe.timeout.as_secs(),
        v.attempts,
        v.seen(direction, live).join(" and "),
        v.error
            .as_deref()
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default()
    );
    (Outcome::Unverified, message)
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
