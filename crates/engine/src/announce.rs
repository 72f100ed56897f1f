//! Telling people, and keeping the history (issue #23): every switch that changed something
//! (or tried to), and every refusal of a switch no one watched, becomes one [`SwitchEvent`]
//! built from the finished switch's report, put on an EventBridge bus ([`Publisher`],
//! [`eventbridge::EventBus`]) and appended to the environment's history in SSM ([`history`]).
//!
//! [`after_switch`] is the one place every writer calls once its switch has ended: `maintctl
//! on` and `off` (and `on --until`) and the switch function; [`after_return`] the same for a
//! gradual return's start, step and abort (`crate::ops::gradual`). What it returns are warnings, never
//! errors: an event that could not be published or a history not written never fails or undoes
//! the switch; the caller says so (maintctl on stderr, the function in its log and answer) and
//! keeps its exit code.
//!
//! The event's schema is [`event`]'s (documented in `docs/events.md`); the SSM layout of the
//! history is [`history`]'s.

pub mod event;
pub mod eventbridge;
pub mod history;
pub mod routes;

use std::collections::BTreeSet;
use std::future::Future;

use crate::ops::gradual::GradualReport;
use crate::ops::{SwitchReport, SwitchRequest};
use maintenance_responder::ssm::LockParameters;

pub use event::{SwitchEvent, Who};
pub use eventbridge::EventBus;
pub use history::HistoryReport;

/// Puts a switch's event on a bus. The EventBridge client is one ([`EventBus`]); tests inject
/// failures.
pub trait Publisher: Send + Sync {
    /// The bus's name (or ARN), as messages name it.
    fn bus(&self) -> &str;
    /// Puts `event` on the bus: the problem, when it was not.
    fn publish(&self, event: &SwitchEvent) -> impl Future<Output = Result<(), String>> + Send;
}

/// Where a switch's event goes: what [`after_switch`] calls. [`Channels`] (a bus and the
/// history) in maintctl and the function; [`Silent`] where nothing is to be told.
pub trait Announcer: Send + Sync {
    /// Announces `event` and records it under every one of `prefixes`: the warnings.
    fn announce(
        &self,
        event: &SwitchEvent,
        prefixes: &[String],
    ) -> impl Future<Output = Vec<String>> + Send;
}

/// The bus the events go on, and the SSM parameters their history is kept in.
#[derive(Debug, Clone)]
pub struct Channels<P, H> {
    /// The bus.
    pub bus: P,
    /// The history's store (the SSM client).
    pub history: H,
}

impl<P: Publisher, H: LockParameters> Announcer for Channels<P, H> {
    async fn announce(&self, event: &SwitchEvent, prefixes: &[String]) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Err(problem) = self.bus.publish(event).await {
            warnings.push(format!(
                "the switch's event was not put on event bus {:?}: {problem}. The switch itself \
                 ended as said ({}); nothing was undone, but no one was notified: tell the team \
                 yourself (the caller needs events:PutEvents on that bus; maintctl doctor checks \
                 the routes)",
                self.bus.bus(),
                event.outcome
            ));
        }
        warnings.extend(history::record(&self.history, prefixes, event).await);
        warnings
    }
}

/// Tells no one and records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Announcer for Silent {
    async fn announce(&self, _event: &SwitchEvent, _prefixes: &[String]) -> Vec<String> {
        Vec::new()
    }
}

/// Announces a finished switch and records it in its listeners' histories, when it is one to
/// announce ([`SwitchEvent::of`]): the warnings (empty when all went well or there was nothing
/// to say).
pub async fn after_switch(
    announcer: &impl Announcer,
    report: &SwitchReport,
    request: &SwitchRequest,
) -> Vec<String> {
    let Some(event) = SwitchEvent::of(report, request, jiff::Timestamp::now()) else {
        return Vec::new();
    };
    let prefixes: BTreeSet<String> = report
        .plan
        .listeners
        .iter()
        .filter_map(|p| p.snapshot.content_prefix())
        .map(str::to_string)
        .collect();
    let prefixes: Vec<String> = prefixes.into_iter().collect();
    announcer.announce(&event, &prefixes).await
}

/// Announces a gradual return's start or abort, or its final step's switch, and records it
/// (the same channels and history as [`after_switch`]): the warnings. Nothing for a dry run, a
/// step that changed nothing or only raised the share.
pub async fn after_return(announcer: &impl Announcer, report: &GradualReport) -> Vec<String> {
    if let (Some(switch), Some(request)) = (&report.switch, &report.switch_request) {
        return after_switch(announcer, switch, request).await;
    }
    let Some(event) = SwitchEvent::of_return(report, jiff::Timestamp::now()) else {
        return Vec::new();
    };
    let prefixes = report
        .announcement
        .as_ref()
        .map(|a| a.prefixes.clone())
        .unwrap_or_default();
    announcer.announce(&event, &prefixes).await
}
