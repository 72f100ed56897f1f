//! Who owns the maintenance, as a switch decides it (`crate::ops::owners`): the records of the
//! plan's content prefixes and what the switch's owner decides ([`owners`]), and, for a switch
//! that asked its operator before it took the lease, the same again under the lease ([`again`]).

use jiff::Timestamp;

use crate::ops::Outcome;
use crate::ops::coordinate::SwitchParameters;
use crate::ops::owners::{self, Decision, Records};
use crate::ops::switch::plan::{SwitchPlan, SwitchRequest};

/// The owner records of the plan's prefixes and what the switch's owner decides.
pub(super) async fn owners(
    parameters: &impl SwitchParameters,
    plan: &SwitchPlan,
    request: &SwitchRequest,
) -> Result<(Records, Decision), (Outcome, String)> {
    let records = owners::read(parameters, plan)
        .await
        .map_err(|e| (Outcome::Failed, format!("{e}; nothing was changed")))?;
    let decision = owners::decide(plan, &request.coordination, &records, Timestamp::now());
    Ok((records, decision))
}

/// For a switch that asked its operator before it took the lease: the records again, under
/// the lease, and the decision, refused if it is not the one shown.
pub(super) async fn again(
    parameters: &impl SwitchParameters,
    plan: &SwitchPlan,
    request: &SwitchRequest,
    shown: &Decision,
) -> Result<(Records, Decision), (Outcome, String)> {
    let (records, decision) = owners(parameters, plan, request).await?;
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
