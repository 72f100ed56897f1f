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
//! (`crate::ops::coordinate`, `crate::ops::lease`): one with no one to ask (`--yes`, the
//! switch function) takes it before it plans, and plans from the listeners as they are once
//! it holds it; one that asks takes it after the answer, and its apply then re-reads the
//! listeners under the lease and refuses if they changed since the plan shown.

use time::OffsetDateTime;

use crate::listeners::{Listeners, select};
use crate::ops::apply::{Record, apply};
use crate::ops::bypass;
use crate::ops::coordinate::{self, LeaseStop, SwitchParameters, release_leases, take_leases};
use crate::ops::lease::HeldLease;
use crate::ops::owner::Owner;
use crate::ops::owners::{self, Decision, Records};
use crate::ops::verify::{Verification, VerifyRequest, verify_live};
use crate::ops::{Error, Outcome};

use crate::planner::{Direction, Live, plan_switch_finishing, plan_switch_live};

pub mod plan;
pub mod report;
#[cfg(test)]
mod tests;

pub use plan::{
    Confirmation, Coordination, Operator, SwitchPlan, SwitchRequest, Unattended, WindowContent,
};
pub use report::SwitchReport;

/// Selects, plans, asks, applies, probes: the whole of `maintctl on` and `off`. `Err` when
/// nothing was changed because the listeners could not be read or planned.
pub async fn switch(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    operator: &mut impl Operator,
) -> Result<SwitchReport, Error> {
    let forced = preflight_warnings(request)?;
    if let Some(probe) = &request.verify {
        probe.check_certificate().await.map_err(Error::Verify)?;
    }
    if request.dry_run || !request.confirmed {
        return switch_planned(client, parameters, request, operator, None, forced).await;
    }
    // No one to ask: everything is decided under the lease, planned again once it is held.
    let found = plan(client, parameters, request).await?;
    let leases = match take_leases(parameters, &found, &request.coordination, operator).await {
        Ok(leases) => leases,
        Err(stop) => {
            let mut found = found;
            found.warnings.extend(forced);
            operator.planned(&found);
            let mut report = SwitchReport::stopped(found, request, (Outcome::Done, String::new()));
            report.stopped_by_lease(stop);
            return Ok(report);
        }
    };
    let result = switch_planned(client, parameters, request, operator, Some(&leases), forced);
    let result = result.await;
    let warnings = release_leases(parameters, &leases).await;
    result.map(|mut report| {
        report.warn(warnings);
        report.leases.splice(0..0, leases);
        report
    })
}

/// Plans, asks, applies and probes; `held` are the leases already taken (else they are taken
/// after the operator's answer, and released before the probe); `forced` the preflight's
/// failures a forced switch warns about.
async fn switch_planned(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    operator: &mut impl Operator,
    held: Option<&[HeldLease]>,
    forced: Vec<String>,
) -> Result<SwitchReport, Error> {
    let mut plan = plan(client, parameters, request).await?;
    plan.warnings.extend(forced);
    if request.dry_run {
        plan.warnings
            .extend(coordinate::held_notes(parameters, &plan, &request.coordination).await);
    }
    let owned = decide_owners(parameters, &plan, request).await;
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
    operator.planned(&plan);
    let mut report = SwitchReport::stopped(plan, request, (Outcome::Done, String::new()));
    let (records, decision) = match owned {
        Ok(owned) => owned,
        Err(stop) => {
            (report.outcome, report.message) = stop;
            return Ok(report);
        }
    };
    if let Some(stop) = held.and_then(|held| coordinate::uncovered(&report.plan, held)) {
        (report.outcome, report.message) = stop;
        return Ok(report);
    }
    if let Decision::Stay { .. } = &decision {
        no_move(
            client,
            parameters,
            request,
            operator,
            held,
            &decision,
            &mut report,
        )
        .await;
        return Ok(report);
    }
    let stop = match report.plan.changing() {
        0 => Some((
            Outcome::NothingToDo,
            format!(
                "maintenance is already {} for every listener: nothing to do",
                report.plan.direction
            ),
        )),
        _ if request.dry_run => Some((Outcome::Done, "dry run: nothing was changed".into())),
        _ if request.confirmed => None,
        _ => refusal(operator.confirm(&report.plan)),
    };
    if let Some((outcome, message)) = stop {
        (report.outcome, report.message) = (outcome, message);
        return Ok(report);
    }
    let leases = match Leases::held_or_take(parameters, &report.plan, request, operator, held).await
    {
        Ok(leases) => leases,
        Err(stop) => {
            report.stopped_by_lease(stop);
            return Ok(report);
        }
    };
    let decided = match leases.taken.is_empty() {
        true => Ok((records, decision)),
        false => redecide(parameters, &report.plan, request, &decision).await,
    };
    match decided {
        Ok((records, decision)) => {
            apply_planned(client, parameters, request, &mut report, &records, decision).await?
        }
        Err(stop) => (report.outcome, report.message) = stop,
    }
    report.warn(release_leases(parameters, &leases.taken).await);
    report.leases = leases.taken;
    let direction = report.plan.direction;
    if report.outcome == Outcome::Done
        && let Some(probe) = &request.verify
    {
        let verification = verify_live(probe, direction, request.live).await;
        (report.outcome, report.message) =
            verified_message(&verification, probe, direction, request.live);
        report.verification = Some(verification);
    }
    Ok(report)
}

/// A switch its owners decided moves no rule: its outcome and message; under the lease (taken
/// here unless held), the owner record when it changes (not on a dry run, which says so).
async fn no_move(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    operator: &mut impl Operator,
    held: Option<&[HeldLease]>,
    decision: &Decision,
    report: &mut SwitchReport,
) {
    let Decision::Stay {
        outcome,
        message,
        record,
    } = decision
    else {
        return;
    };
    (report.outcome, report.message) = (*outcome, message.clone());
    report.settle();
    if record.is_none() {
        return;
    }
    if request.dry_run {
        report.message = format!("dry run, nothing was written: {message}");
        return;
    }
    let leases = Leases::held_or_take(parameters, &report.plan, request, operator, held).await;
    stay(client, parameters, request, leases, report).await;
}

/// The owner records of the plan's prefixes and what the switch's owner decides.
async fn decide_owners(
    parameters: &impl SwitchParameters,
    plan: &SwitchPlan,
    request: &SwitchRequest,
) -> Result<(Records, Decision), (Outcome, String)> {
    let records = owners::read(parameters, plan)
        .await
        .map_err(|e| (Outcome::Failed, format!("{e}; nothing was changed")))?;
    let decision = owners::decide(
        plan,
        &request.coordination,
        &records,
        OffsetDateTime::now_utc(),
    );
    Ok((records, decision))
}

/// For a switch that asked its operator before it took the lease: the records again, under
/// the lease, and the decision, refused if it is not the one shown.
async fn redecide(
    parameters: &impl SwitchParameters,
    plan: &SwitchPlan,
    request: &SwitchRequest,
    shown: &Decision,
) -> Result<(Records, Decision), (Outcome, String)> {
    let (records, decision) = decide_owners(parameters, plan, request).await?;
    let same = match (shown, &decision) {
        (Decision::Switch { direction: a, .. }, Decision::Switch { direction: b, .. }) => a == b,
        _ => false,
    };
    if !same {
        return Err((
            Outcome::Refused,
            "refused: who owns the maintenance changed since planning (another switch?); \
             nothing was changed: run the command again to plan from the current state"
                .into(),
        ));
    }
    Ok((records, decision))
}

/// The leases a switch holds: the ones it was given, or the ones it took (and releases).
struct Leases {
    taken: Vec<HeldLease>,
}

impl Leases {
    /// Nothing to take when the caller holds them; else taken now.
    async fn held_or_take(
        parameters: &impl SwitchParameters,
        plan: &SwitchPlan,
        request: &SwitchRequest,
        operator: &mut impl Operator,
        held: Option<&[HeldLease]>,
    ) -> Result<Leases, LeaseStop> {
        if held.is_some() {
            return Ok(Leases { taken: Vec::new() });
        }
        let taken = take_leases(parameters, plan, &request.coordination, operator).await?;
        Ok(Leases { taken })
    }
}

/// A switch that moves no rule but changes who owns the maintenance (an owner joins or lets
/// go, an event is noted as handled): under the lease, the record decided again and written;
/// a window that joins is tagged on the rules, and its end goes on the page unless a longer
/// window's is there.
async fn stay(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    leases: Result<Leases, LeaseStop>,
    report: &mut SwitchReport,
) {
    let leases = match leases {
        Ok(leases) => leases,
        Err(stop) => return report.stopped_by_lease(stop),
    };
    let mut warnings = Vec::new();
    match decide_owners(parameters, &report.plan, request).await {
        Ok((
            records,
            Decision::Stay {
                record: Some(record),
                outcome,
                message,
            },
        )) => {
            (report.outcome, report.message) = (outcome, message);
            let now = OffsetDateTime::now_utc();
            if let Err(e) = owners::write(parameters, &records, &record, now).await {
                (report.outcome, report.message) =
                    (Outcome::Failed, format!("{e}; nothing was changed"));
            } else {
                warnings = joined_window(client, parameters, request, &records, report).await;
            }
        }
        Ok((
            _,
            Decision::Stay {
                record: None,
                outcome,
                message,
            },
        )) => {
            (report.outcome, report.message) = (outcome, message);
        }
        Ok((_, Decision::Switch { .. })) => {
            (report.outcome, report.message) = (
                Outcome::Refused,
                "refused: the listeners changed while the lease was taken; nothing was changed: \
                 run again"
                    .into(),
            );
        }
        Err(stop) => (report.outcome, report.message) = stop,
    }
    warnings.extend(release_leases(parameters, &leases.taken).await);
    report.warn(warnings);
    report.leases = leases.taken;
}

/// A window that joined a maintenance on everywhere: its tag on the rules, and its end on the
/// page unless another owner's window ends later.
async fn joined_window(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    records: &Records,
    report: &SwitchReport,
) -> Vec<String> {
    let owner = &request.coordination.owner;
    let Owner::Window(window) = owner else {
        return Vec::new();
    };
    if report.plan.direction != Direction::On {
        return Vec::new();
    }
    let mut warnings = coordinate::adopt(client, &report.plan, owner).await;
    warnings.extend(window_content(parameters, request, records, &report.plan, window).await);
    warnings
}

/// Writes a window's end and zone for the page, unless an owner's longer window's is there.
async fn window_content(
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    records: &Records,
    plan: &SwitchPlan,
    window: &str,
) -> Vec<String> {
    let Some(content) = &request.coordination.content else {
        return Vec::new();
    };
    if !owners::end_is_latest(&records.merged, window, &content.end) {
        return vec![format!(
            "the page keeps the end time it has: another owner's window ends after {} (a \
             start never shortens the end a longer maintenance announces)",
            content.end
        )];
    }
    coordinate::write_content(parameters, plan, content).await
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

/// Under the lease: the owner record before any rule moves (a switch on), the bypass link's
/// token (a new window only, before any rule moves), the window's content; then the calls,
/// the record once done, and the link or a new token.
async fn apply_planned(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    report: &mut SwitchReport,
    records: &Records,
    decision: Decision,
) -> Result<(), Error> {
    let Decision::Switch {
        direction,
        before,
        after,
        note,
        ..
    } = decision
    else {
        return Ok(());
    };
    let now = OffsetDateTime::now_utc();
    let reason = request.reason.as_deref().unwrap_or_default();
    let record = Record {
        owner: request.coordination.owner.clone(),
        ..Record::now(&report.plan.caller, reason).map_err(Error::Clock)?
    };
    if let Some(before) = &before
        && let Err(e) = owners::write(parameters, records, before, now).await
    {
        (report.outcome, report.message) = (Outcome::Failed, format!("{e}; nothing was changed"));
        return Ok(());
    }
    // A new window's token goes on the cookie rules and into SSM before any rule moves.
    let token = match direction {
        Direction::On => {
            match bypass::start_window(client, parameters, &report.plan.bypass).await {
                Ok(token) => token,
                Err(stopped) => {
                    (report.outcome, report.message) = (stopped.outcome, stopped.message);
                    return Ok(());
                }
            }
        }
        Direction::Off => None,
    };
    let mut warnings = Vec::new();
    if direction == Direction::On
        && let Owner::Window(window) = &request.coordination.owner
    {
        warnings = window_content(parameters, request, records, &report.plan, window).await;
    }
    match apply(client, &report.plan.listeners, direction, &record).await {
        Ok(applied) => {
            (report.outcome, report.message) = applied_message(applied.outcome, direction);
            if report.outcome == Outcome::Done
                && direction == Direction::On
                && report.plan.live == Live::Fallback
            {
                report.message = format!("{}, with {}", report.message, report.plan.live);
            }
            report.applied = Some(applied);
        }
        Err(e) => {
            report.outcome = Outcome::Failed;
            report.message = format!("{e}; nothing was changed");
        }
    }
    if report.outcome == Outcome::Done {
        if let Err(e) = owners::write(parameters, records, &after, now).await {
            warnings.push(format!(
                "maintenance is {direction}, but {e}: who owns it is as the record said before \
                 this switch (maintctl status)"
            ));
        }
        if let Some(note) = note {
            report.message = format!("{note}: {}", report.message);
        }
    }
    let (bypass_plan, outcome) = (&report.plan.bypass, report.outcome);
    report.bypass =
        bypass::finish(client, parameters, bypass_plan, direction, token, outcome).await;
    report.warn(warnings);
    Ok(())
}

/// Refuses when the preflight failed (and the switch is not forced); the failures as warnings
/// when it is.
fn preflight_warnings(request: &SwitchRequest) -> Result<Vec<String>, Error> {
    let Some(preflight) = &request.preflight else {
        return Ok(Vec::new());
    };
    let failed: Vec<String> = preflight
        .blocking_failures()
        .iter()
        .map(|c| c.line())
        .collect();
    if failed.is_empty() {
        return Ok(Vec::new());
    }
    if !request.force {
        return Err(Error::Preflight { failed });
    }
    Ok(failed
        .into_iter()
        .map(|f| format!("preflight failed: {f} (switching anyway: --force)"))
        .collect())
}

/// Selects the listeners, plans every switch (and its bypass token) and finds out who is asking.
async fn plan(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
) -> Result<SwitchPlan, Error> {
    let selection = select(client, &request.targets)
        .await
        .map_err(Error::Select)?;
    if selection.listeners.is_empty() {
        return Err(Error::NoListener {
            skipped: selection.skipped,
        });
    }
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
        warnings: [warnings, bypass.warnings.clone()].concat(),
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

/// The outcome → message table of an applied switch.
fn applied_message(outcome: Outcome, direction: Direction) -> (Outcome, String) {
    let message = match outcome {
        Outcome::Done | Outcome::NothingToDo => {
            return (outcome, format!("maintenance is {direction}"));
        }
        Outcome::Refused => "refused: nothing was changed",
        Outcome::Failed => "failed: nothing was changed",
        Outcome::RolledBack => {
            "failed part-way: every change was undone, the listeners are as before"
        }
        Outcome::Inconsistent => {
            "failed: at least one listener is neither as before nor as planned; see above"
        }
        Outcome::Unverified | Outcome::CheckFailed => "see above",
    };
    (outcome, message.into())
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
