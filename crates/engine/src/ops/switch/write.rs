//! The steps of a switch that write, under the lease: moving the rules ([`switch_rules`]: the
//! owner record before and after, the bypass link's token, the window's content, the calls
//! through `crate::ops::apply`), or only the owner record when no rule moves ([`stay`]). Each
//! returns what it did as [`Steps`].

use jiff::Timestamp;

use crate::listeners::Listeners;
use crate::ops::apply::{Record, apply};
use crate::ops::bypass;
use crate::ops::coordinate::{self, SwitchParameters};
use crate::ops::owner::Owner;
use crate::ops::owners::{self, Decision, Records};
use crate::ops::switch::decide;
use crate::ops::switch::plan::{SwitchPlan, SwitchRequest};
use crate::ops::switch::report::Steps;
use crate::ops::{Error, Outcome};
use crate::planner::{Direction, Live};

/// A switch that moves no rule but changes who owns the maintenance (an owner joins or lets
/// go, an event is noted as handled): under the lease, the record decided again and written;
/// a window that joins is tagged on the rules, and its end goes on the page unless a longer
/// window's is there.
pub(super) async fn stay(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    plan: &SwitchPlan,
) -> Steps {
    match decide::owners(parameters, plan, request).await {
        Ok((
            records,
            Decision::Stay {
                record: Some(record),
                outcome,
                message,
            },
        )) => {
            let now = Timestamp::now();
            if let Err(e) = owners::write(parameters, &records, &record, now).await {
                return Steps::ended((Outcome::Failed, format!("{e}; nothing was changed")));
            }
            let warnings = joined_window(client, parameters, request, &records, plan).await;
            Steps {
                warnings,
                ..Steps::ended((outcome, message))
            }
        }
        Ok((
            _,
            Decision::Stay {
                record: None,
                outcome,
                message,
            },
        )) => Steps::ended((outcome, message)),
        Ok((_, Decision::Switch { .. })) => Steps::ended((
            Outcome::Refused,
            "refused: the listeners changed while the lease was taken; nothing was changed: run \
             again"
                .to_string(),
        )),
        Err(stop) => Steps::ended(stop),
    }
}

/// A window that joined a maintenance on everywhere: its tag on the rules, and its end on the
/// page unless another owner's window ends later.
async fn joined_window(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    records: &Records,
    plan: &SwitchPlan,
) -> Vec<String> {
    let owner = &request.coordination.owner;
    let Owner::Window(window) = owner else {
        return Vec::new();
    };
    if plan.direction != Direction::On {
        return Vec::new();
    }
    let mut warnings = coordinate::adopt(client, plan, owner).await;
    warnings.extend(window_content(parameters, request, records, plan, window).await);
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

/// Under the lease: the owner record before any rule moves (a switch on), the bypass link's
/// token (a new window only, before any rule moves), the window's content; then the calls,
/// the record once done, and the link or a new token.
pub(super) async fn switch_rules(
    client: &impl Listeners,
    parameters: &impl SwitchParameters,
    request: &SwitchRequest,
    plan: &SwitchPlan,
    records: &Records,
    decision: Decision,
) -> Result<Steps, Error> {
    let Decision::Switch {
        direction,
        before,
        after,
        note,
        ..
    } = decision
    else {
        return Ok(Steps::ended((Outcome::Done, String::new())));
    };
    let now = Timestamp::now();
    let reason = request.reason.as_deref().unwrap_or_default();
    let record = Record {
        owner: request.coordination.owner.clone(),
        ..Record::now(&plan.caller, reason)
    };
    if let Some(before) = &before
        && let Err(e) = owners::write(parameters, records, before, now).await
    {
        return Ok(Steps::ended((
            Outcome::Failed,
            format!("{e}; nothing was changed"),
        )));
    }
    // A new window's token goes on the cookie rules and into SSM before any rule moves.
    let token = match direction {
        Direction::On => match bypass::start_window(client, parameters, &plan.bypass).await {
            Ok(token) => token,
            Err(stopped) => return Ok(Steps::ended((stopped.outcome, stopped.message))),
        },
        Direction::Off => None,
    };
    let mut warnings = Vec::new();
    if direction == Direction::On
        && let Owner::Window(window) = &request.coordination.owner
    {
        warnings = window_content(parameters, request, records, plan, window).await;
    }
    let (applied, (outcome, mut message)) =
        match apply(client, &plan.listeners, direction, &record).await {
            Ok(applied) => {
                let ended = applied_message(applied.outcome, direction, plan.live);
                (Some(applied), ended)
            }
            Err(e) => (None, (Outcome::Failed, format!("{e}; nothing was changed"))),
        };
    if outcome == Outcome::Done {
        if let Err(e) = owners::write(parameters, records, &after, now).await {
            warnings.push(format!(
                "maintenance is {direction}, but {e}: who owns it is as the record said before \
                 this switch (maintctl status)"
            ));
        }
        if let Some(note) = note {
            message = format!("{note}: {message}");
        }
    }
    let bypass = bypass::finish(client, parameters, &plan.bypass, direction, token, outcome).await;
    Ok(Steps {
        applied,
        bypass,
        warnings,
        ..Steps::ended((outcome, message))
    })
}

/// The outcome → message table of an applied switch (the page said when the fallback's went
/// live).
fn applied_message(outcome: Outcome, direction: Direction, live: Live) -> (Outcome, String) {
    let message = match outcome {
        Outcome::Done if direction == Direction::On && live == Live::Fallback => {
            return (outcome, format!("maintenance is {direction}, with {live}"));
        }
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
