//! The live content that operators change without a deploy ([`Content`]: maintenance title and
//! message per language, the retry value, links), and the validation rules for every value that
//! reaches a page, so SSM, the local preview, the built-in catalog and `maintctl message set` all
//! accept and refuse the same things.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use serde::Deserialize;

/// Longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2_000;
/// Longest link accepted, in characters.
pub const MAX_LINK_CHARS: usize = 500;
/// Largest retry delay accepted: one week. Longer than that is not maintenance.
pub const MAX_RETRY_SECONDS: u64 = 7 * 24 * 3600;

/// A title and a message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Short heading.
    pub title: String,
    /// One or more paragraphs, separated by blank lines.
    pub message: String,
}

/// When the service is expected back, as the content states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A delay in seconds from any moment the page is served.
    Seconds(u64),
    /// A fixed end time.
    Until(OffsetDateTime),
}

impl Retry {
    /// Parses `{prefix}/retry-after`: a number of seconds, or an RFC 3339 end time.
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ValueError::Empty);
        }
        if value.bytes().all(|b| b.is_ascii_digit()) {
            let seconds: u64 = value.parse().map_err(|_| ValueError::RetryTooLarge)?;
            if seconds > MAX_RETRY_SECONDS {
                return Err(ValueError::RetryTooLarge);
            }
            return Ok(Self::Seconds(seconds));
        }
        if value.starts_with('-') {
            return Err(ValueError::NegativeRetry);
        }
        OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
            .map(Self::Until)
            .map_err(|_| ValueError::Retry(value.chars().take(40).collect()))
    }

    /// The canonical text form, as `maintctl` writes it.
    pub fn to_parameter_value(&self) -> String {
        match self {
            Self::Seconds(s) => s.to_string(),
            Self::Until(t) => t
                .to_offset(time::UtcOffset::UTC)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}

/// Where the live content came from, reported by the health route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentState {
    /// Embedded defaults: no SSM prefix configured, or SSM never answered yet.
    Defaults,
    /// Fetched from SSM within the freshness window.
    Fresh {
        /// Seconds since the fetch.
        age_seconds: u64,
    },
    /// Last good SSM content, kept because refreshing failed (stale-if-error).
    Stale {
        /// Seconds since the fetch.
        age_seconds: u64,
    },
}

/// The live content of the pages, as operators set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// Maintenance title and message overrides, by language tag.
    pub maintenance: BTreeMap<String, Text>,
    /// When the service is expected back.
    pub retry: Option<Retry>,
    /// Status page URL (`https://`).
    pub status_page: Option<String>,
    /// Support contact URL (`https://` or `mailto:`).
    pub contact: Option<String>,
    /// Where this content came from.
    pub state: ContentState,
}

impl Default for Content {
    fn default() -> Self {
        Self {
            maintenance: BTreeMap::new(),
            retry: None,
            status_page: None,
            contact: None,
            state: ContentState::Defaults,
        }
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
    /// Not an acceptable link.
    #[error("link must be an https:// URL (or mailto: for contact) without spaces or quotes")]
    Link,
    /// Not a language tag.
    #[error("{0:?} is not a language tag")]
    LanguageTag(String),
    /// A language the catalog has no texts for.
    #[error("language {0:?} has no built-in texts; known languages: {1}")]
    UnknownLanguage(String, String),
}

fn check_len(value: &str, max: usize) -> Result<(), ValueError> {
    let len = value.chars().count();
    if value.trim().is_empty() {
        Err(ValueError::Empty)
    } else if len > max {
        Err(ValueError::TooLong { len, max })
    } else {
        Ok(())
    }
}

/// Checks a title: non-empty, at most [`MAX_TITLE_CHARS`], one line, no control characters.
pub fn check_title(value: &str) -> Result<(), ValueError> {
    check_len(value, MAX_TITLE_CHARS)?;
    if value.chars().any(char::is_control) {
        return Err(ValueError::ControlCharacters);
    }
    Ok(())
}

/// Checks a message: non-empty, at most [`MAX_MESSAGE_CHARS`], no control characters but
/// newlines and tabs.
pub fn check_message(value: &str) -> Result<(), ValueError> {
    check_len(value, MAX_MESSAGE_CHARS)?;
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValueError::ControlCharacters);
    }
    Ok(())
}

/// Checks a link: `https://…` (or `mailto:…` when `allow_mailto`), no white space, quotes or
/// angle brackets, at most [`MAX_LINK_CHARS`].
pub fn check_link(value: &str, allow_mailto: bool) -> Result<(), ValueError> {
    check_len(value, MAX_LINK_CHARS)?;
    let scheme_ok = value.len() > "https://".len() && value.starts_with("https://")
        || allow_mailto && value.len() > "mailto:".len() && value.starts_with("mailto:");
    let chars_ok = value
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`'));
    if scheme_ok && chars_ok {
        Ok(())
    } else {
        Err(ValueError::Link)
    }
}

/// True for a plausible BCP 47 tag: 2–3 letter primary subtag, then `-`-separated alphanumeric
/// subtags of 1–8 characters (`en`, `ja`, `pt-BR`, `zh-Hant-TW`).
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok
        && tag.len() <= 35
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Normalises message text for display: CRLF and CR become LF, trailing white space goes.
pub fn normalize_message(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_parse_table() {
        let until = time::macros::datetime!(2026-11-22 06:00 UTC);
        let cases: &[(&str, Result<Retry, ValueError>)] = &[
            ("900", Ok(Retry::Seconds(900))),
            (" 0 ", Ok(Retry::Seconds(0))),
            ("2026-11-22T06:00:00Z", Ok(Retry::Until(until))),
            ("2026-11-22T15:00:00+09:00", Ok(Retry::Until(until))),
            ("-5", Err(ValueError::NegativeRetry)),
            ("", Err(ValueError::Empty)),
            ("604801", Err(ValueError::RetryTooLarge)),
            ("99999999999999999999999", Err(ValueError::RetryTooLarge)),
            ("soon", Err(ValueError::Retry("soon".into()))),
            ("12.5", Err(ValueError::Retry("12.5".into()))),
        ];
        for (input, expected) in cases {
            assert_eq!(&Retry::parse(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn value_checks_table() {
        assert!(check_title("Back soon").is_ok());
        assert_eq!(check_title("a\nb"), Err(ValueError::ControlCharacters));
        assert_eq!(check_title("  "), Err(ValueError::Empty));
        assert!(matches!(
            check_title(&"x".repeat(201)),
            Err(ValueError::TooLong { .. })
        ));
        assert!(check_message("line one\n\nline two").is_ok());
        assert_eq!(
            check_message("bell\u{7}"),
            Err(ValueError::ControlCharacters)
        );
        assert!(check_link("https://status.example.com/", false).is_ok());
        assert_eq!(
            check_link("mailto:ops@example.com", false),
            Err(ValueError::Link)
        );
        assert!(check_link("mailto:ops@example.com", true).is_ok());
        for bad in [
            "javascript:alert(1)",
            "http://x.example",
            "https://a b",
            "https://x\"onmouseover=",
            "https://",
        ] {
            assert_eq!(check_link(bad, true), Err(ValueError::Link), "link {bad:?}");
        }
    }

    #[test]
    fn language_tags_table() {
        for good in ["en", "ja", "pt-BR", "zh-Hant-TW", "fil"] {
            assert!(is_language_tag(good), "{good}");
        }
        for bad in [
            "",
            "e",
            "english",
            "en_US",
            "en-",
            "../x",
            "en-toolongsubtag",
            "<b>",
        ] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }
}
