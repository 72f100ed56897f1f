//! `on` and `off` ([`switch`]): select the listeners, plan every switch
//! (`crate::planner::plan_switch`), show the plan to the [`Operator`], stop there when nothing
//! is to be done, on a dry run, or when the operator does not confirm; else apply
//! (`crate::ops::apply`: re-check, record, call, roll back, read back), optionally probe the
//! live endpoint (`crate::ops::verify`), and say how it ended ([`SwitchReport`]). Listeners with
//! a cookie bypass rule get the bypass link's token on the way (`crate::ops::bypass`): `on` sets
//! a new one before any rule moves and gives the link, `off` rotates it once the rules are
//! parked; every caller gets that, a scheduled switch included.
//!
//! The operator is whoever runs the switch: `maintctl` prints the plan and asks on the
//! terminal; [`Unattended`] (a test, a Lambda) says yes.
//!
//! Every switch that writes holds the lease of its listeners' content prefixes while it does
//! (`crate::ops::coordinate::LeaseGuard`, `crate::ops::lease`), taken once and released once,
//! before the probe: one with no one to ask (`--yes`, the switch function) takes it before it
//! plans, and plans from the listeners as they are once it holds it; one that asks takes it
//! after the answer, and its apply then re-reads the listeners under the lease and refuses if
//! they changed since the plan shown.
//!
//! The steps do not share a report to fill in: each returns what it did (`report::Steps`), and
//! the report is made from that, the leases and the probe at the end (`report::Happened`).
//! Checks that are the caller's (`maintctl on`'s preflight) are not a step: their warnings
//! come in [`SwitchRequest::warnings`].

use crate::listeners::Listeners;
use crate::ops::bypass;
use crate::ops::coordinate::{self, LeaseGuard, LeaseStop, SwitchParameters};
use crate::ops::error::select_some;
use crate::ops::owners::{Decision, Records};
use crate::ops::verify::verify_live;
use crate::ops::{Error, Outcome};
use crate::planner::{Direction, Live, plan_switch_finishing, plan_switch_live};

mod decide;
pub mod plan;
pub mod report;
#[cfg(test)]
mod tests;
mod write;

pub use plan::{
    Confirmation, Coordination, Operator, SwitchPlan, SwitchRequest, Unattended, WindowContent,
};
pub use report::SwitchReport;
use report::{Happened, Steps};

/// Selects, plans, asks, applies, probes: the whole of `maintctl on` and `off`. `Err` when
/// nothing was changed because the listeners could not be read or planned.
pub async fn switch(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    operator: &mut impl Operator,
) -> Result<SwitchReport, Error> {
    if let Some(probe) = &request.verify {
        probe.check_certificate().await.map_err(Error::Verify)?;
    }
    let mut run = Run {
        client,
        parameters,
        request,
        operator,
        lease: None,
    };
    // No one to ask: everything is decided under the lease, planned again once it is held.
    if request.confirmed && !request.dry_run {
        let found = plan(client, parameters, request).await?;
        if let Err(stop) = run.hold(&found).await {
            run.operator.planned(&found);
            return Ok(Happened::new(found, Steps::ended(stop)).report(request));
        }
    }
    let result = run.steps().await;
    // The one place the leases are given back, whatever the steps did.
    let (leases, warnings) = match run.lease.take() {
        Some(guard) => guard.release(parameters).await,
        None => Default::default(),
    };
    let (plan, mut steps) = result?;
    steps.warnings.extend(warnings);
    let mut happened = Happened::new(plan, steps);
    happened.leases = leases;
    if let Some(probe) = &request.verify
        && happened.switched()
    {
        let direction = happened.plan.direction;
        happened.verification = Some(verify_live(probe, direction, request.live).await);
    }
    Ok(happened.report(request))
}

/// One switch under way: what it was asked, whom it asks, and the leases once taken (held to
/// its end, where [`switch`] releases them).
struct Run<'a, C, P, O> {
    client: &'a C,
    parameters: &'a P,
    request: &'a SwitchRequest,
    operator: &'a mut O,
    lease: Option<LeaseGuard>,
}

impl<C: Listeners, P: SwitchParameters, O: Operator> Run<'_, C, P, O> {
    /// The lease the writes need: held already, or taken now. True when it was taken now
    /// (and holds a prefix): what was decided before must be decided again under it.
    async fn hold(&mut self, plan: &SwitchPlan) -> Result<bool, LeaseStop> {
        if self.lease.is_some() || self.request.coordination.lease_held {
            return Ok(false);
        }
        let coordination = &self.request.coordination;
        let guard = LeaseGuard::take(self.parameters, plan, coordination, self.operator).await?;
        let taken = !guard.is_empty();
        self.lease = Some(guard);
        Ok(taken)
    }

    /// Plans, shows the plan, then moves the rules or the owner record only, or stops: the
    /// plan as shown (settled when no rule moves) and what the steps did.
    async fn steps(&mut self) -> Result<(SwitchPlan, Steps), Error> {
        let (client, parameters, request) = (self.client, self.parameters, self.request);
        let mut plan = plan(client, parameters, request).await?;
        if request.dry_run {
            let notes = coordinate::held_notes(parameters, &plan, &request.coordination).await;
            plan.warnings.extend(notes);
        }
        let owned = decide::owners(parameters, &plan, request).await;
        // An owner letting go may leave others who want the listeners on: plan that way.
        if let Ok((
            _,
            Decision::Switch {
                direction, finish, ..
            },
        )) = &owned
            && (*direction != plan.direction || *finish)
        {
            plan = replan(parameters, plan, *direction, *finish, request).await?;
        }
        self.operator.planned(&plan);
        let (records, decision) = match owned {
            Ok(owned) => owned,
            Err(stop) => return Ok((plan, Steps::ended(stop))),
        };
        if let Some(stop) = self.lease.as_ref().and_then(|l| l.uncovered(&plan)) {
            return Ok((plan, Steps::ended(stop)));
        }
        match decision {
            Decision::Stay {
                outcome,
                message,
                record,
            } => {
                let plan = plan.settled();
                let steps = self.stay(&plan, outcome, message, record.is_some()).await;
                Ok((plan, steps))
            }
            decision => {
                let steps = self.move_rules(&plan, records, decision).await?;
                Ok((plan, steps))
            }
        }
    }

    /// A switch its owners decided moves no rule: its outcome and message; under the lease,
    /// the owner record when it changes (not on a dry run, which says so).
    async fn stay(
        &mut self,
        plan: &SwitchPlan,
        outcome: Outcome,
        message: String,
        record: bool,
    ) -> Steps {
        if !record {
            return Steps::ended((outcome, message));
        }
        if self.request.dry_run {
            let message = format!("dry run, nothing was written: {message}");
            return Steps::ended((outcome, message));
        }
        if let Err(stop) = self.hold(plan).await {
            return Steps::ended(stop);
        }
        write::stay(self.client, self.parameters, self.request, plan).await
    }

    /// A switch that moves rules: stops when there is nothing to do, on a dry run, or without
    /// a yes; else, under the lease (decided again if it was taken after the answer), applies.
    async fn move_rules(
        &mut self,
        plan: &SwitchPlan,
        records: Records,
        decision: Decision,
    ) -> Result<Steps, Error> {
        let stop = match plan.changing() {
            0 => Some((
                Outcome::NothingToDo,
                format!(
                    "maintenance is already {} for every listener: nothing to do",
                    plan.direction
                ),
            )),
            _ if self.request.dry_run => {
                Some((Outcome::Done, "dry run: nothing was changed".into()))
            }
            _ if self.request.confirmed => None,
            _ => refusal(self.operator.confirm(plan)),
        };
        if let Some(stop) = stop {
            return Ok(Steps::ended(stop));
        }
        let (records, decision) = match self.hold(plan).await {
            Err(stop) => return Ok(Steps::ended(stop)),
            Ok(false) => (records, decision),
            Ok(true) => match decide::again(self.parameters, plan, self.request, &decision).await {
                Ok(decided) => decided,
                Err(stop) => return Ok(Steps::ended(stop)),
            },
        };
        let (client, parameters) = (self.client, self.parameters);
        write::switch_rules(client, parameters, self.request, plan, &records, decision).await
    }
}

/// Plans the switch again in another direction (an owner's end that leaves others), or to
/// finish an off that was interrupted, from the listeners as they were read.
async fn replan(
    parameters: &impl SwitchParameters,
    plan: SwitchPlan,
    direction: Direction,
    finish: bool,
    request: &SwitchRequest,
) -> Result<SwitchPlan, Error> {
    let snapshots = plan.listeners.into_iter().map(|p| p.snapshot).collect();
    let listeners = match finish {
        true => plan_switch_finishing(snapshots)?,
        false => plan_switch_live(snapshots, direction, Live::Responder)?,
    };
    let bypass = bypass::plan(parameters, &listeners, direction, &request.bypass).await?;
    Ok(SwitchPlan {
        direction,
        live: Live::Responder,
        listeners,
        bypass,
        ..plan
    })
}

/// Selects the listeners, plans every switch (and its bypass token) and finds out who is
/// asking; the caller's warnings ([`SwitchRequest::warnings`]) close the plan's.
async fn plan(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
) -> Result<SwitchPlan, Error> {
    let selection = select_some(client, &request.targets).await?;
    let listeners = plan_switch_live(selection.listeners, request.direction, request.live)?;
    let bypass = bypass::plan(parameters, &listeners, request.direction, &request.bypass).await?;
    // What does not stop the switch is still said: rules the tags do not account for, and
    // listeners no lease can be taken for.
    let unleased = coordinate::unleased_warnings(&listeners, &request.coordination.lease);
    let mut warnings: Vec<String> = listeners
        .iter()
        .flat_map(|p| {
            let name = p.snapshot.listener.to_string();
            p.snapshot
                .findings()
                .into_iter()
                .map(move |f| format!("listener {name}: {f}"))
        })
        .chain(unleased)
        .collect();
    let caller = match client.caller().await {
        Ok(arn) => arn,
        Err(e) => {
            warnings.push(format!(
                "could not tell who you are ({e}); recording \"unknown\""
            ));
            "unknown".to_string()
        }
    };
    Ok(SwitchPlan {
        direction: request.direction,
        live: request.live,
        reason: request.reason.clone(),
        caller,
        listeners,
        skipped: selection.skipped,
        warnings: [warnings, bypass.warnings.clone(), request.warnings.clone()].concat(),
        bypass,
    })
}

/// The outcome and message of an answer other than yes.
fn refusal(answer: Confirmation) -> Option<(Outcome, String)> {
    let message = match answer {
        Confirmation::Confirmed => return None,
        Confirmation::Declined => "not confirmed: nothing was changed",
        Confirmation::NoOneToAsk => {
            "refused: stdin is not a terminal, so there is no one to confirm; pass --yes to \
             switch without asking (nothing was changed)"
        }
    };
    Some((Outcome::Refused, message.into()))
}
