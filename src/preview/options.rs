//! How `maintctl serve` builds its events and describes itself ([`ServeOptions`]): read by the
//! server, the index page and the gallery alike.

use maintenance_responder::lambda::alb_event::HeaderMode;

/// How the server builds its events and describes itself.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Single-value (default) or multi-value events.
    pub mode: HeaderMode,
    /// Where the content comes from, shown on the index page.
    pub source: String,
}

impl ServeOptions {
    /// What `maintctl serve` says it serves: `content: …; ALB events: single-value`.
    pub fn describe(&self) -> String {
        let events = match self.mode {
            HeaderMode::Multi => "multi-value",
            _ => "single-value",
        };
        format!("content: {}; ALB events: {events}", self.source)
    }
}

impl From<HeaderMode> for ServeOptions {
    fn from(mode: HeaderMode) -> Self {
        Self {
            mode,
            source: "embedded defaults".into(),
        }
    }
}
