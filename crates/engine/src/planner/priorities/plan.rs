//! A plan as data ([`Plan`]): its [`Step`]s, each one `SetRulePriorities` call of [`Move`]s,
//! the app rules it displaces ([`Displaced`]) and what the operator should know ([`Notice`]).

use std::collections::HashMap;

use serde::Serialize;

use crate::planner::priorities::rules::{Role, Rule};

/// What a plan is for, which decides how it changes the rules' homes in [`Plan::simulate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanKind {
    /// Maintenance on; displaced rules get their original priority as home.
    On,
    /// Maintenance off; the displaced-rule record is cleared.
    Off,
    /// Taking back (part of) another plan; homes are left alone.
    Undo,
}

/// One rule moving from one priority to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    /// Rule ARN.
    pub rule: String,
    /// Priority before the call.
    pub from: u32,
    /// Priority after the call.
    pub to: u32,
}

/// One `SetRulePriorities` call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The rules this call moves; every target is free when the call is made.
    pub moves: Vec<Move>,
}

impl Step {
    /// `(rule ARN, new priority)` pairs, the call's arguments.
    pub fn to_rule_priorities(&self) -> Vec<(String, u32)> {
        self.moves.iter().map(|m| (m.rule.clone(), m.to)).collect()
    }

    /// The call that takes this one back.
    pub fn inverse(&self) -> Step {
        Step {
            moves: self
                .moves
                .iter()
                .map(|m| Move {
                    rule: m.rule.clone(),
                    from: m.to,
                    to: m.from,
                })
                .collect(),
        }
    }
}

/// An app rule that `on` moves out of the way, with the priority to restore on `off`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Displaced {
    /// Rule ARN.
    pub rule: String,
    /// Its priority before maintenance went on.
    pub home: u32,
}

/// Something the operator should read before applying a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Notice {
    /// `on` keeps what the displaced-rule record says about a rule that is somewhere else now,
    /// so `off` will put it back there.
    RecordKept {
        /// Rule ARN.
        rule: String,
        /// Where it is.
        priority: u32,
        /// Where the record says it belongs.
        home: u32,
    },
    /// `off` on a listener that is already off leaves a rule the record names where it is.
    StaleRecord {
        /// Rule ARN.
        rule: String,
        /// Where it is and stays.
        priority: u32,
        /// Where the record says it belongs.
        home: u32,
    },
    /// A rule displaced by `on` stays where it is (its order among the other rules, and so the
    /// routing, is the same), because going back is not possible without reordering.
    NotRestored {
        /// Rule ARN.
        rule: String,
        /// Where it is and stays.
        priority: u32,
        /// Where it was before `on`.
        home: u32,
        /// Why it cannot go back.
        reason: String,
    },
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::RecordKept {
                rule,
                priority,
                home,
            } => write!(
                f,
                "rule {rule} is at priority {priority}, but the record of displaced rules from \
                 an earlier switch says {home}, so off will put it back at {home}; if that \
                 record is out of date (the rule was moved by hand since), clear it first \
                 (maintctl status shows how)"
            ),
            Notice::StaleRecord {
                rule,
                priority,
                home,
            } => write!(
                f,
                "rule {rule} stays at priority {priority}: the record of displaced rules says \
                 {home}, but maintenance is already off, and off never moves application rules \
                 then (the record is left over from a switch that did not finish clearing it; \
                 maintctl status shows how to clear it)"
            ),
            Notice::NotRestored {
                rule,
                priority,
                home,
                reason,
            } => write!(
                f,
                "rule {rule} stays at priority {priority} instead of going back to {home} \
                 ({reason}); its order among the other rules, and so the routing, is unchanged"
            ),
        }
    }
}

/// A sequence of `SetRulePriorities` calls, plus what the caller must record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// On, off or undo.
    pub kind: PlanKind,
    /// The calls, in order.
    pub steps: Vec<Step>,
    /// Other rules this plan displaces (on) with their original priorities: record them before
    /// applying, so `off` can restore them.
    pub displaced: Vec<Displaced>,
    /// Things to tell the operator.
    pub notices: Vec<Notice>,
}

impl Plan {
    pub(super) fn new(kind: PlanKind) -> Self {
        Self {
            kind,
            steps: Vec::new(),
            displaced: Vec::new(),
            notices: Vec::new(),
        }
    }

    /// True when the plan makes no call.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Every move of every step, in order.
    pub fn moves(&self) -> impl Iterator<Item = &Move> {
        self.steps.iter().flat_map(|s| s.moves.iter())
    }

    /// The plan that takes this one back: inverse steps in reverse order. Every step of a plan
    /// moves rules into free priorities only, so their old priorities are free right after it
    /// and the inverse is valid in turn.
    pub fn inverse(&self) -> Plan {
        Plan {
            kind: PlanKind::Undo,
            steps: self.steps.iter().rev().map(Step::inverse).collect(),
            displaced: Vec::new(),
            notices: Vec::new(),
        }
    }

    /// The record changes of the final state: `on` gives displaced rules their home, `off`
    /// clears other rules' homes.
    pub(super) fn record(&self, last: &mut [Rule]) {
        match self.kind {
            PlanKind::On => {
                let homes: HashMap<&str, u32> = self
                    .displaced
                    .iter()
                    .map(|d| (d.rule.as_str(), d.home))
                    .collect();
                for rule in last.iter_mut() {
                    if let Some(&home) = homes.get(rule.arn.as_str()) {
                        rule.home = Some(home);
                    }
                }
            }
            PlanKind::Off => {
                for rule in last.iter_mut().filter(|r| r.role == Role::App) {
                    rule.home = None;
                }
            }
            PlanKind::Undo => {}
        }
    }
}
