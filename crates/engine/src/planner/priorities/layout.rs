//! The listener simulated while a plan is built and checked ([`Layout`]): who holds which
//! priority, every call checked as strictly as the API could ([`Layout::apply`]); and a plan
//! played on a snapshot ([`Plan::simulate`], [`Plan::apply_to`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::planner::priorities::error::PlanError;
use crate::planner::priorities::plan::{Move, Plan, Step};
use crate::planner::priorities::rules::{MAX_PRIORITY, MIN_PRIORITY, Rule};

impl Plan {
    /// Runs the plan on a snapshot and returns the rules after each step (the last entry is
    /// the final state; with no steps, the snapshot itself). Every call is checked as the
    /// strictest reading of the API would check it. The final state also carries the record
    /// changes: `on` gives displaced rules their home, `off` clears other rules' homes.
    pub fn simulate(&self, rules: &[Rule]) -> Result<Vec<Vec<Rule>>, PlanError> {
        let mut layout = Layout::new(rules, MAX_PRIORITY)?;
        let mut states = Vec::with_capacity(self.steps.len() + 1);
        if self.steps.is_empty() {
            states.push(layout.rules.clone());
        }
        for step in &self.steps {
            layout.apply(step)?;
            states.push(layout.rules.clone());
        }
        self.record(states.last_mut().expect("at least one state"));
        Ok(states)
    }
    /// The rules after the whole plan (the last state of [`Plan::simulate`]).
    pub fn apply_to(&self, rules: &[Rule]) -> Result<Vec<Rule>, PlanError> {
        let mut layout = Layout::new(rules, MAX_PRIORITY)?;
        for step in &self.steps {
            layout.apply(step)?;
        }
        self.record(&mut layout.rules);
        Ok(layout.rules)
    }
}

/// A listener being simulated: who holds which priority. Every change goes through
/// [`Layout::apply`], which checks each call as strictly as the API could.
pub(super) struct Layout {
    rules: Vec<Rule>,
    index: HashMap<String, usize>,
    held: BTreeMap<u32, usize>,
    pub(super) max: u32,
}

impl Layout {
    pub(super) fn new(rules: &[Rule], max: u32) -> Result<Self, PlanError> {
        let mut index = HashMap::new();
        let mut held = BTreeMap::new();
        for (i, rule) in rules.iter().enumerate() {
            if !(MIN_PRIORITY..=max).contains(&rule.priority) {
                return Err(PlanError::OutOfRange {
                    rule: rule.arn.clone(),
                    priority: rule.priority,
                });
            }
            if index.insert(rule.arn.clone(), i).is_some() {
                return Err(PlanError::DuplicateRule {
                    rule: rule.arn.clone(),
                });
            }
            if let Some(first) = held.insert(rule.priority, i) {
                return Err(PlanError::DuplicatePriority {
                    priority: rule.priority,
                    first: rules[first].arn.clone(),
                    second: rule.arn.clone(),
                });
            }
        }
        Ok(Self {
            rules: rules.to_vec(),
            index,
            held,
            max,
        })
    }

    pub(super) fn priority(&self, arn: &str) -> u32 {
        self.rules[self.index[arn]].priority
    }

    pub(super) fn is_free(&self, priority: u32) -> bool {
        (MIN_PRIORITY..=self.max).contains(&priority) && !self.held.contains_key(&priority)
    }

    /// The highest free priority that `ok` accepts.
    pub(super) fn highest_free(&self, ok: impl Fn(u32) -> bool) -> Option<u32> {
        (MIN_PRIORITY..=self.max)
            .rev()
            .find(|&p| self.is_free(p) && ok(p))
    }

    pub(super) fn single(&mut self, arn: &str, to: u32) -> Result<Step, PlanError> {
        let step = Step {
            moves: vec![Move {
                rule: arn.to_string(),
                from: self.priority(arn),
                to,
            }],
        };
        self.apply(&step)?;
        Ok(step)
    }

    pub(super) fn apply(&mut self, step: &Step) -> Result<(), PlanError> {
        let invalid = |m: &Move, reason: &str| PlanError::InvalidMove {
            rule: m.rule.clone(),
            from: m.from,
            to: m.to,
            reason: reason.to_string(),
        };
        if step.moves.is_empty() {
            return Err(PlanError::InvalidMove {
                rule: String::new(),
                from: 0,
                to: 0,
                reason: "empty call".into(),
            });
        }
        let mut seen_rules = HashSet::new();
        let mut seen_targets = HashSet::new();
        for m in &step.moves {
            let Some(&i) = self.index.get(&m.rule) else {
                return Err(invalid(m, "no such rule on the listener"));
            };
            if self.rules[i].priority != m.from {
                return Err(invalid(
                    m,
                    &format!("the rule is at {}", self.rules[i].priority),
                ));
            }
            if !(MIN_PRIORITY..=self.max).contains(&m.to) {
                return Err(invalid(m, "target outside the priority range"));
            }
            if let Some(&holder) = self.held.get(&m.to) {
                return Err(invalid(
                    m,
                    &format!("target held by {}", self.rules[holder].arn),
                ));
            }
            if !seen_rules.insert(&m.rule) {
                return Err(invalid(m, "rule moved twice in one call"));
            }
            if !seen_targets.insert(m.to) {
                return Err(invalid(
                    m,
                    "two rules moved to the same priority in one call",
                ));
            }
        }
        for m in &step.moves {
            let i = self.index[&m.rule];
            self.held.remove(&m.from);
            self.held.insert(m.to, i);
            self.rules[i].priority = m.to;
        }
        Ok(())
    }
}
