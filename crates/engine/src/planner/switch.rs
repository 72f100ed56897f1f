//! The switch planner: one [`Planned`] switch per listener snapshot (its planner view, its
//! state and the priority plan for `on` or `off`), or the [`PlanningError`] that names the
//! listener that cannot be switched. Applying the plans is `crate::ops::apply`'s.

use serde::Serialize;

use crate::planner::listener::{ListenerSnapshot, PlanningError};
use crate::planner::priorities::{self, Direction, Live, Plan, Role, Rule, State};

/// A listener, its planner view and the plan for one switch.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// The listener as read when planning.
    pub snapshot: ListenerSnapshot,
    /// The planner's view of it.
    pub rules: Vec<Rule>,
    /// Its state when planning.
    pub state: State,
    /// The plan (empty: nothing to do).
    pub plan: Plan,
}

impl Planned {
    /// The rules as the plan leaves them (as they are, should the plan not simulate).
    pub fn after(&self) -> Vec<Rule> {
        self.plan
            .apply_to(&self.rules)
            .unwrap_or_else(|_| self.rules.clone())
    }
}

/// Plans one switch for every listener; an error names the listener and what to do. A listener
/// whose rules do what their tags do not say (a blocking [`crate::planner::Finding`]) is
/// refused before anything is planned.
pub fn plan_switch(
    snapshots: Vec<ListenerSnapshot>,
    direction: Direction,
) -> Result<Vec<Planned>, PlanningError> {
    plan_switch_live(snapshots, direction, Live::Responder)
}

/// `off` for listeners whose `off` was interrupted after their managed rules were parked
/// ([`priorities::plan_off_finishing`]): the displaced rules go back too.
pub fn plan_switch_finishing(
    snapshots: Vec<ListenerSnapshot>,
) -> Result<Vec<Planned>, PlanningError> {
    plan_switch_with(snapshots, Direction::Off, Live::Responder, true)
}

/// [`plan_switch`] with the page `on` puts live: with [`Live::Fallback`], every listener's
/// fallback rule must be a fixed-response 503 (`crate::planner::fallback`).
pub fn plan_switch_live(
    snapshots: Vec<ListenerSnapshot>,
    direction: Direction,
    live: Live,
) -> Result<Vec<Planned>, PlanningError> {
    plan_switch_with(snapshots, direction, live, false)
}

fn plan_switch_with(
    snapshots: Vec<ListenerSnapshot>,
    direction: Direction,
    live: Live,
    finishing: bool,
) -> Result<Vec<Planned>, PlanningError> {
    snapshots
        .into_iter()
        .map(|snapshot| {
            snapshot.refuse_unrecognised()?;
            let rules = snapshot.planner_rules()?;
            // Nothing of the application's: the maintenance rule (or a page parked in front of
            // it) answers every request wherever it is, so no switch does what it says.
            if !rules.iter().any(|r| r.role == Role::App)
                && rules.iter().any(|r| r.role == Role::Maintenance)
            {
                return Err(PlanningError::Plan {
                    listener: snapshot.listener.arn.clone(),
                    cause: priorities::PlanError::NoApplicationRule,
                });
            }
            if direction == Direction::On && live == Live::Fallback {
                crate::planner::fallback::refuse_unusable_fallback(&snapshot)?;
            }
            let plan = match direction {
                Direction::On => priorities::plan_on_live(&rules, live),
                Direction::Off if finishing => priorities::plan_off_finishing(&rules),
                Direction::Off => priorities::plan_off(&rules),
            }
            .map_err(|cause| PlanningError::Plan {
                listener: snapshot.listener.arn.clone(),
                cause,
            })?;
            Ok(Planned {
                state: priorities::state(&rules),
                snapshot,
                rules,
                plan,
            })
        })
        .collect()
}
