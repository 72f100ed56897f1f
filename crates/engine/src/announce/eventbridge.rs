//! The [`Publisher`] over EventBridge ([`EventBus`]): one `PutEvents` entry per switch, on the
//! default bus or a named one: the only file of the crate that knows the EventBridge SDK.
//!
//! `PutEvents` can answer 200 and still fail an entry (`FailedEntryCount`, each entry's
//! `ErrorCode`; docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html): that
//! is a failure here too. A bus that does not exist is an error answer
//! (`ResourceNotFoundException`), on AWS as on moto. The call has its own short timeout: a
//! slow bus must not hold up the switch's report at 3 a.m.

use std::time::Duration;

use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::announce::Publisher;
use crate::announce::event::SwitchEvent;
use crate::announce::routes::Routes;
use maintenance_core::deploy_names::events;

/// How long one `PutEvents` may take, retries included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An EventBridge bus the events are put on.
#[derive(Debug, Clone)]
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBus {
    /// The bus `bus` (a name or an ARN; `default` is the account's default bus).
    pub fn new(config: &aws_config::SdkConfig, bus: &str) -> Self {
        let timeouts = TimeoutConfig::builder().operation_timeout(TIMEOUT).build();
        let config = aws_sdk_eventbridge::config::Builder::from(config)
            .timeout_config(timeouts)
            .build();
        Self {
            client: aws_sdk_eventbridge::Client::from_conf(config),
            bus: bus.to_string(),
        }
    }
}

impl Publisher for EventBus {
    fn bus(&self) -> &str {
        &self.bus
    }

    async fn publish(&self, event: &SwitchEvent) -> Result<(), String> {
        let detail = serde_json::to_string(event).map_err(|e| e.to_string())?;
        let entry = PutEventsRequestEntry::builder()
            .source(events::SOURCE)
            .detail_type(event.detail_type())
            .detail(detail)
            .event_bus_name(&self.bus)
            .set_resources(Some(event.resources()))
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| match (e.code(), e.message()) {
                (Some(code), message) => format!("{code}: {}", message.unwrap_or_default()),
                (None, _) => maintenance_core::causes::chain(&e),
            })?;
        if out.failed_entry_count() > 0 {
            let entry = out.entries().first();
            return Err(format!(
                "{}: {}",
                entry.and_then(|e| e.error_code()).unwrap_or("Unknown"),
                entry.and_then(|e| e.error_message()).unwrap_or_default()
            ));
        }
        Ok(())
    }
}

impl Routes for EventBus {
    fn bus(&self) -> &str {
        &self.bus
    }

    async fn routes(&self) -> Result<Option<Vec<String>>, String> {
        let describe = self
            .client
            .describe_event_bus()
            .name(&self.bus)
            .send()
            .await;
        match describe {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(maintenance_core::causes::chain(&e)),
        }
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..20 {
            let page = (self.client.list_rules())
                .event_bus_name(&self.bus)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| maintenance_core::causes::chain(&e))?;
            names.extend(page.rules().iter().filter_map(|r| {
                let pattern = r.event_pattern()?;
                let name = r.name()?;
                pattern.contains(events::SOURCE).then(|| name.to_string())
            }));
            match page.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        Ok(Some(names))
    }
}
