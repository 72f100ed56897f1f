//! Writing a maintenance rule's tags, which every switch, undo and adoption does: tried again
//! on a passing failure ([`add_tags_retried`]), said for the operator when it fails
//! ([`tag_failure`]), and the command that clears a record by hand ([`clear_command`]).

use std::time::Duration;

use crate::listeners::{Listeners, ListenersError};
use crate::retry::Backoff;

/// The command that empties the given record keys of a rule.
pub(crate) fn clear_command(rule: &str, keys: &[String]) -> String {
    let tags: Vec<String> = keys.iter().map(|k| format!("Key={k},Value=")).collect();
    format!(
        "aws elbv2 add-tags --resource-arns {rule} --tags {}",
        tags.join(" ")
    )
}

/// Attempts at a tag write before giving up (tag writes are idempotent).
const TAG_ATTEMPTS: u32 = 3;

/// Writes tags, trying up to [`TAG_ATTEMPTS`] times, 200 ms then 400 ms apart; a full tag
/// quota or a write refused before it was sent is not tried again.
pub(crate) async fn add_tags_retried(
    client: &impl Listeners,
    arn: &str,
    tags: &[(String, String)],
) -> Result<(), ListenersError> {
    let mut backoff = Backoff::doubling(Duration::from_millis(200)).attempts(TAG_ATTEMPTS);
    loop {
        match client.add_tags(arn, tags).await {
            Ok(()) => return Ok(()),
            Err(e)
                if e.code() == Some("TooManyTags") || matches!(e, ListenersError::Invalid(_)) =>
            {
                return Err(e);
            }
            Err(e) if !backoff.wait().await => return Err(e),
            Err(_) => {}
        }
    }
}

/// A failed tag write for a message: the error, and what to do about a full tag quota.
pub(crate) fn tag_failure(e: &ListenersError) -> String {
    if e.code() == Some("TooManyTags") {
        format!(
            "{e} (the rule has as many tags as it may have: remove tags maintctl does not use; \
             its own start with maintenance-responder:)"
        )
    } else if matches!(e, ListenersError::Invalid(_)) {
        e.to_string()
    } else {
        format!("{e} (tried {TAG_ATTEMPTS} times)")
    }
}
