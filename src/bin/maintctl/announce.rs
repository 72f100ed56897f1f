//! Where `maintctl on` and `off` (and `on --until`) announce and record their switches
//! (`maintenance_engine::announce`): the EventBridge bus `--event-bus` names, and the history
//! in SSM.

use aws_config::SdkConfig;
use maintenance_engine::announce::{Channels, EventBus};

/// Where maintctl's switches are announced and recorded: the bus, and SSM.
pub type MaintctlChannels = Channels<EventBus, aws_sdk_ssm::Client>;

/// The channels of a switch: the bus named, and the history in SSM.
pub fn channels(config: &SdkConfig, bus: &str) -> MaintctlChannels {
    Channels {
        bus: EventBus::new(config, bus),
        history: aws_sdk_ssm::Client::new(config),
    }
}
