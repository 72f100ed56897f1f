//! Whether anyone hears the switch events (`maintctl doctor`'s `notifications` check): the bus
//! exists, and a rule on it routes the events somewhere. Only a warning either way: a switch
//! never depends on it.

use std::future::Future;

use crate::ops::preflight::{Check, Status};
use maintenance_core::deploy_names::events;

/// The rules of a bus that match the switch events. The EventBridge client is one
/// (`EventBus`).
pub trait Routes: Send + Sync {
    /// The bus's name, as messages name it.
    fn bus(&self) -> &str;
    /// The names of the bus's rules whose pattern names [`events::SOURCE`]; `None` when the
    /// bus does not exist.
    fn routes(&self) -> impl Future<Output = Result<Option<Vec<String>>, String>> + Send;
}

/// The `notifications` check of `maintctl doctor`.
pub async fn check(bus: &impl Routes) -> Check {
    let name = bus.bus();
    let (status, summary, fix) = match bus.routes().await {
        Ok(Some(rules)) if !rules.is_empty() => (
            Status::Pass,
            format!(
                "event bus {name:?} routes the switch events: rule(s) {}",
                rules.join(", ")
            ),
            None,
        ),
        Ok(Some(_)) => (
            Status::Warn,
            format!("no rule on event bus {name:?} matches source {}: no one is told of a switch", events::SOURCE),
            Some("deploy with Notifications=true (SAM) or notifications = true (Terraform), or add a rule of your own (docs/events.md)".to_string()),
        ),
        Ok(None) => (
            Status::Warn,
            format!("event bus {name:?} does not exist: every switch will warn that its event was not published"),
            Some("name the bus with --event-bus or MAINTCTL_EVENT_BUS (default: the account's default bus)".to_string()),
        ),
        Err(problem) => (
            Status::Warn,
            format!("the rules of event bus {name:?} could not be read: {problem}"),
            Some("the caller needs events:DescribeEventBus and events:ListRules to check this".to_string()),
        ),
    };
    let mut check = Check::new("notifications", name, status, summary);
    check.fix = fix;
    check
}
