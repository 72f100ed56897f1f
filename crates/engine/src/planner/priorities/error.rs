//! Why the priority planner found no plan ([`PlanError`]): every message says what is wrong
//! on the listener and what to do.

/// Why no plan could be made (or taken back). Messages name the rule and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The listener has no rule tagged as the maintenance rule.
    #[error("no maintenance rule on this listener: attach one first with `maintctl attach`")]
    NoMaintenanceRule,
    /// More than one rule is tagged as the maintenance rule.
    #[error(
        "several maintenance rules on this listener ({}): delete all but one \
         (aws elbv2 delete-rule --rule-arn ARN) and try again",
        rules.join(", ")
    )]
    SeveralMaintenanceRules {
        /// Their ARNs.
        rules: Vec<String>,
    },
    /// A bypass rule on a listener without a maintenance rule.
    #[error(
        "bypass rule {rule} has no maintenance rule on its listener: attach the maintenance \
         rule, or delete the bypass rule"
    )]
    BypassWithoutMaintenance {
        /// The bypass rule.
        rule: String,
    },
    /// A listener with no rule of the application's (only its default rule beside the
    /// managed rules): the parked maintenance rule answers every request, so maintenance is on
    /// for good and no switch changes that.
    #[error(
        "this listener has no rule of its own (only its default rule): the parked maintenance \
         rule answers every request, so maintenance is on for good here and neither on nor off \
         changes that; add the application's rules before the parked ones (a catch-all, path \
         /*, forwarding to the application), or delete the maintenance rule (aws elbv2 \
         delete-rule --rule-arn ARN) if this listener is not to be switched"
    )]
    NoApplicationRule,
    /// `on --fallback` on a listener without a fallback rule.
    #[error(
        "no fallback rule on this listener: create it with maintctl attach (it adds the parked \
         fallback rule to an attached listener), or switch on without --fallback"
    )]
    NoFallbackRule,
    /// The page rule that is not to go live is parked before the place of the one that is, so
    /// that one could never answer (or the place is taken).
    #[error(
        "rule {rule} is parked at priority {home}, in front of where the page going live must \
         be (directly above your first rule), so it would keep answering: park it after your \
         rules (set its maintenance-responder:parked-priority tag to a free priority after \
         them, and move it there with aws elbv2 set-rule-priorities)"
    )]
    ParkedInFront {
        /// The parked rule.
        rule: String,
        /// Its parked priority.
        home: u32,
    },
    /// More than one rule is tagged as the fallback rule.
    #[error(
        "several fallback rules on this listener ({}): delete all but one \
         (aws elbv2 delete-rule --rule-arn ARN) and try again",
        rules.join(", ")
    )]
    SeveralFallbackRules {
        /// Their ARNs.
        rules: Vec<String>,
    },
    /// A fallback rule on a listener without a maintenance rule.
    #[error(
        "fallback rule {rule} has no maintenance rule on its listener: attach the maintenance \
         rule, or delete the fallback rule"
    )]
    FallbackWithoutMaintenance {
        /// The fallback rule.
        rule: String,
    },
    /// The same rule twice in a snapshot.
    #[error("rule {rule} appears twice in the listener snapshot")]
    DuplicateRule {
        /// The rule.
        rule: String,
    },
    /// Two rules with the same priority in a snapshot.
    #[error("rules {first} and {second} both have priority {priority}")]
    DuplicatePriority {
        /// The priority.
        priority: u32,
        /// One rule.
        first: String,
        /// The other rule.
        second: String,
    },
    /// A priority outside 1..=50000.
    #[error("rule {rule} has priority {priority}, outside 1..=50000")]
    OutOfRange {
        /// The rule.
        rule: String,
        /// The priority.
        priority: u32,
    },
    /// A managed rule without a parked priority, so `off` does not know where it goes.
    #[error(
        "rule {rule} has no parked priority: tag it with the priority it returns to, e.g. aws \
         elbv2 add-tags --resource-arns {rule} --tags \
         Key=maintenance-responder:parked-priority,Value=50000"
    )]
    NotParked {
        /// The rule.
        rule: String,
    },
    /// Two managed rules parked at the same priority.
    #[error(
        "rules {first} and {second} are both parked at priority {priority}: fix the \
         maintenance-responder:parked-priority tag of one of them"
    )]
    DuplicateHome {
        /// The priority.
        priority: u32,
        /// One rule.
        first: String,
        /// The other rule.
        second: String,
    },
    /// A managed rule's parked priority is held by an app rule.
    #[error(
        "cannot park rule {rule} at its priority {home}: rule {holder} holds it now; move \
         {holder} to a free priority (aws elbv2 set-rule-priorities) and switch off again"
    )]
    HomeTaken {
        /// The managed rule.
        rule: String,
        /// Its parked priority.
        home: u32,
        /// The rule holding it.
        holder: String,
    },
    /// The record of displaced rules would move a rule where it never was (see
    /// `trust_record`): `off` refuses it rather than trust it.
    #[error(
        "the record of displaced rules (tag maintenance-responder:displaced on the maintenance \
         rule) would move rule {rule} to priority {home}, {reason}: it is not trusted, and \
         nothing was changed; check where the rule belongs, then fix the record or clear it \
         and switch off again"
    )]
    UntrustedRecord {
        /// The rule it would move.
        rule: String,
        /// Where.
        home: u32,
        /// Why that is not believed, and the command that clears the record.
        reason: String,
    },
    /// No free priority to move through: the listener is full.
    #[error(
        "no free priority left to move {rules} rules through within 1..=50000: delete a rule \
         and try again"
    )]
    NoRoom {
        /// Rules on the listener.
        rules: usize,
    },
    /// A call that would be rejected (the planner's own check; also used to validate undo).
    #[error("invalid move of rule {rule} from {from} to {to}: {reason}")]
    InvalidMove {
        /// The rule.
        rule: String,
        /// From.
        from: u32,
        /// To.
        to: u32,
        /// Why it is invalid.
        reason: String,
    },
    /// Undo refused: a rule this run moved is no longer where this run put it.
    #[error(
        "rule {rule} is at priority {actual}, not {expected} where this run put it: someone \
         else changed the listener meanwhile, so nothing is undone automatically"
    )]
    Diverged {
        /// The rule.
        rule: String,
        /// Where this run put it.
        expected: u32,
        /// Where it is.
        actual: u32,
    },
}
