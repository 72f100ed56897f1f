//! The pure side of `maintctl`: the listener as data and every plan made from it. No I/O, no
//! clock, no environment, no SDK types: `crate::listeners` reads the listeners into these types,
//! `crate::ops` applies the plans through them, and the tests call them with plain data.
//!
//! - [`listener`]: a listener and its rules as read ([`ListenerSnapshot`]), and what can be read
//!   off them: the maintenance and bypass rules, the environment, the state;
//! - [`findings`]: what the rules do that their tags do not say (a maintenance rule that lost
//!   its tag, an untagged rule forwarding to the responder, …), recognised by what they do;
//! - [`names`]: the short names of ARNs in messages; [`fixed_response`]: a rule's fixed
//!   response (the fallback page) as data;
//! - [`record`]: what the tags mean — the displaced-priority record, safe tag values;
//! - [`priorities`]: the priority planner behind `on` and `off` (every plan a list of valid
//!   `SetRulePriorities` calls, app rules never reordered);
//! - [`switch`]: one [`Planned`] switch per listener, from snapshots and a [`Direction`];
//! - [`attach`]: what `attach` creates on a listener, or why it refuses ([`attach::spec`]: what
//!   it is asked, its steps, its refusals);
//! - [`bypass`]: the cookie bypass rule (the bypass link's token on the listener), the tokens a
//!   switch sets and the link it prints;
//! - [`doctor`]: the target group facts `maintctl doctor` reads, as data;
//! - [`fallback`]: the fallback rule (a fixed-response 503): its page, where `attach` parks it,
//!   whether it can go live;
//! - [`return_plan`]: a gradual return's steps, schedules and admission rules;
//! - [`window`]: maintenance windows as one-time EventBridge Scheduler schedules, and back;
//! - [`owners`]: who owns a maintenance and which switch events were handled (the record kept
//!   beside the lease);
//! - [`action`]: a rule's actions in full (forwards with weights and stickiness, redirects,
//!   fixed responses), what mirror rules copy;
//! - [`mirror`]: mirror rules, a copy of the listener's routing behind one more condition (the
//!   bypass rules on listeners with several target groups, the gradual return's admission);
//! - [`routing`]: which rule answers a request and which target group it reaches, evaluated as
//!   the ALB does.

pub mod action;
pub mod attach;
pub mod bypass;
pub mod doctor;
pub mod fallback;
pub mod findings;
pub mod fixed_response;
pub mod listener;
pub mod mirror;
pub mod names;
pub mod owners;
pub mod priorities;
pub mod record;
pub mod return_plan;
pub mod routing;
pub mod switch;
pub mod window;

pub use action::{ActionSummary, Forward, Redirect, RuleAction, WeightedTargetGroup};
pub use attach::FallbackSpec;
pub use attach::{AttachError, AttachSpec, AttachStep, plan_attach, same_condition};
pub use bypass::{BypassError, BypassOptions, CookieRule, TokenGroup, TokenPlan, plan_tokens};
pub use doctor::{TargetGroupHealth, TargetState};
pub use findings::Finding;
pub use fixed_response::FixedResponse;
pub use listener::{
    Condition, ListenerInfo, ListenerSnapshot, NewRule, PlanningError, QueryPair, RuleView,
    TargetGroupInfo,
};
pub use mirror::{MirrorError, MirrorLimits, MirrorRule, plan_mirrors};
pub use names::{short_listener, short_target_group};
pub use priorities::{
    Direction, Displaced, Live, MAX_PRIORITY, MIN_PRIORITY, Move, Notice, Plan, PlanError,
    PlanKind, Role, Rule, State, Step, check, live, plan_off, plan_off_finishing, plan_on,
    plan_on_live, plan_undo, state,
};
pub use record::{
    DISPLACED, MAX_TAG_VALUE, TAG_VALUE_ALPHABET, TooManyDisplaced, decode_displaced,
    displaced_keys, encode_displaced, environment_name, is_displaced_key, rule_id, tag_value,
};
pub use switch::{Planned, plan_switch, plan_switch_finishing, plan_switch_live};
