//! A rule's fixed response ([`FixedResponse`]): what the ALB answers itself, with no headers
//! of ours — the fallback rule's 503 `text/html` page of at most
//! `maintenance_core::respond::fallback::MAX_CHARS` characters.

use serde::Serialize;

use maintenance_core::deploy_names::{FALLBACK_CONTENT_TYPE, FALLBACK_STATUS};
use maintenance_core::respond::fallback::MAX_CHARS;

/// The fixed response of a rule: what the ALB answers itself, with no headers of ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixedResponse {
    /// `503`.
    pub status_code: String,
    /// `text/html`.
    pub content_type: String,
    /// The page, at most [`MAX_CHARS`] characters (not in the JSON documents).
    #[serde(skip)]
    pub body: String,
}

impl FixedResponse {
    /// The fallback page: a 503 `text/html` response with `body`.
    pub fn page(body: impl Into<String>) -> Self {
        Self {
            status_code: FALLBACK_STATUS.into(),
            content_type: FALLBACK_CONTENT_TYPE.into(),
            body: body.into(),
        }
    }

    /// Checks the body fits the fixed-response action (at most [`MAX_CHARS`] characters, not
    /// empty).
    pub fn check(&self) -> Result<(), String> {
        let chars = self.body.chars().count();
        if chars == 0 || chars > MAX_CHARS {
            return Err(format!(
                "the fallback page has {chars} characters; a fixed response takes 1 to \
                 {MAX_CHARS}"
            ));
        }
        Ok(())
    }
}
