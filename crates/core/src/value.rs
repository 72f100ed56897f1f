//! Why a value of the content is refused ([`ValueError`]) and the secret of a bypass link
//! ([`BypassToken`]), a leaf apart from the rest of the content (`crate::content` re-exports
//! both) so that the gradual return's state (`crate::admission`, which holds a token of the same
//! form) can be part of the content without an import cycle.

/// Largest retry delay accepted: one week. Longer than that is not maintenance.
pub const MAX_RETRY_SECONDS: u64 = 7 * 24 * 3600;

/// The secret of a bypass link: URL-safe base64 (`A-Z a-z 0-9 - _`), 22 to 86 characters
/// (128 to 512 bits), so that it fits an ALB cookie condition (`*maint_bypass=TOKEN*`, at most
/// 128 characters). It is never shown: its `Debug` says `BypassToken(..)`, and it has no
/// `Display`; [`BypassToken::matches`] compares in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct BypassToken(String);

impl BypassToken {
    /// Shortest token: 22 characters of base64, 132 bits.
    pub const MIN_CHARS: usize = 22;
    /// Longest token: the cookie condition `*maint_bypass=TOKEN*` stays within 128 characters.
    pub const MAX_CHARS: usize = 86;

    /// Checks a token's form.
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        let value = value.trim();
        let form = value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if form && (Self::MIN_CHARS..=Self::MAX_CHARS).contains(&value.len()) {
            Ok(Self(value.to_string()))
        } else {
            Err(ValueError::BypassToken)
        }
    }

    /// Whether `candidate` is this token, in time that does not depend on where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        // The length is no secret (every token of a deployment has the same); the bytes are.
        self.0.len() == candidate.len() && bool::from(self.0.as_bytes().ct_eq(candidate.as_bytes()))
    }

    /// The token itself, for the cookie the responder sets and the rule `maintctl` writes.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BypassToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BypassToken(..)")
    }
}

/// Why one value was refused. The message names the rule, never echoes the whole value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Nothing but white space.
    #[error("value is empty")]
    Empty,
    /// Longer than allowed.
    #[error("value is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// Characters in the value.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Holds control characters (other than newlines and tabs in messages).
    #[error("value holds control characters")]
    ControlCharacters,
    /// Holds a character that is invisible or changes the text's direction (Unicode format
    /// characters such as U+200B or U+202E, line and paragraph separators): what the page shows
    /// would not be what the operator reads.
    #[error(
        "value holds {0}, an invisible or direction-changing character; use plain text (a blank \
         line separates paragraphs)"
    )]
    Invisible(String),
    /// Nothing in it would be visible on the page.
    #[error("value has no visible character")]
    NothingVisible,
    /// Not seconds and not an RFC 3339 time.
    #[error(
        "retry-after {0:?} is neither seconds (e.g. 900) nor an RFC 3339 time (e.g. 2026-11-22T06:00:00Z)"
    )]
    Retry(String),
    /// A negative delay.
    #[error("retry-after must not be negative")]
    NegativeRetry,
    /// More than a week.
    #[error("retry-after is more than {MAX_RETRY_SECONDS} seconds (one week)")]
    RetryTooLarge,
    /// An end time more than a week ahead.
    #[error(
        "retry-after end time is more than one week ahead (the longest delay accepted); check the \
         year"
    )]
    EndTooFar,
    /// Not an acceptable link.
    #[error("link must be an https:// URL (or mailto: for contact) without spaces or quotes")]
    Link,
    /// Not a time zone of the database.
    #[error(
        "{0:?} is not a time zone the time zone database knows (an IANA name such as \
         Asia/Tokyo or Europe/Berlin)"
    )]
    TimeZone(String),
    /// Not a bypass token (the value is never repeated).
    #[error(
        "bypass token must be 22 to 86 URL-safe base64 characters (A-Z a-z 0-9 - _); set it with \
         maintctl on, not by hand"
    )]
    BypassToken,
    /// Not a language tag.
    #[error("{0:?} is not a language tag")]
    LanguageTag(String),
    /// A language the catalog has no texts for.
    #[error("language {0:?} has no built-in texts; known languages: {1}")]
    UnknownLanguage(String, String),
}
