//! What the pages say: the built-in texts per language ([`Catalog`]) and the live content that
//! operators change without a deploy ([`Content`]: maintenance title and message per language,
//! the retry value, links). Owns the validation rules for every value that reaches a page, so SSM,
//! the local preview and `maintctl message set` all accept and refuse the same things.

use std::collections::BTreeMap;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::pages::PageKind;

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

/// Fixed labels around the message, per language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// "Expected back", before the end time.
    pub expected_back: String,
    /// Retry hint with a `{minutes}` placeholder.
    pub retry_in: String,
    /// Retry hint with an `{hours}` placeholder, for delays of two hours or more.
    pub retry_in_hours: String,
    /// Retry hint for delays under two minutes.
    pub retry_soon: String,
    /// "Support reference", before the trace id.
    pub support_reference: String,
    /// Text of the status-page link.
    pub status_page: String,
    /// Text of the contact link.
    pub contact: String,
    /// "Error", before the status code on error pages.
    pub error_code: String,
}

/// Every built-in text of one language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguagePack {
    /// The language's own name ("English", "日本語"), for the preview index.
    pub name: String,
    /// Default maintenance title and message.
    pub maintenance: Text,
    /// 404 page.
    #[serde(rename = "not-found")]
    pub not_found: Text,
    /// 500 page.
    #[serde(rename = "internal-error")]
    pub internal_error: Text,
    /// 502 page.
    #[serde(rename = "bad-gateway")]
    pub bad_gateway: Text,
    /// Generic 503 page.
    #[serde(rename = "service-unavailable")]
    pub service_unavailable: Text,
    /// 504 page.
    #[serde(rename = "gateway-timeout")]
    pub gateway_timeout: Text,
    /// Labels.
    pub labels: Labels,
}

impl LanguagePack {
    /// The built-in text of a page kind (health and robots have none and get the maintenance text).
    pub fn text(&self, kind: PageKind) -> &Text {
        match kind {
            PageKind::NotFound => &self.not_found,
            PageKind::InternalError => &self.internal_error,
            PageKind::BadGateway => &self.bad_gateway,
            PageKind::ServiceUnavailable => &self.service_unavailable,
            PageKind::GatewayTimeout => &self.gateway_timeout,
            PageKind::Maintenance | PageKind::Health | PageKind::Robots => &self.maintenance,
        }
    }
}

/// The built-in texts, by language tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    packs: BTreeMap<String, LanguagePack>,
}

/// The catalog compiled into the binary.
#[cfg(test)]
const EMBEDDED_CATALOG: &str = include_str!("../config/content.toml");
/// The same catalog as JSON, written by `build.rs` (read at start: faster than TOML).
const EMBEDDED_CATALOG_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/content.json"));

/// Why a catalog could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Not valid TOML, or a table has the wrong shape.
    #[error("content catalog is not valid: {0}")]
    Syntax(#[from] toml::de::Error),
    /// A table name is not a language tag.
    #[error("content catalog: {0:?} is not a language tag (expected e.g. en, ja, pt-BR)")]
    LanguageTag(String),
    /// A text fails validation.
    #[error("content catalog: {lang}: {problem}")]
    Value {
        /// Language table.
        lang: String,
        /// What is wrong.
        problem: ValueError,
    },
    /// No language at all.
    #[error("content catalog has no language")]
    Empty,
}

impl Catalog {
    /// Parses and validates a catalog from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, CatalogError> {
        Self::from_packs(toml::from_str(text)?)
    }

    fn from_packs(packs: BTreeMap<String, LanguagePack>) -> Result<Self, CatalogError> {
        if packs.is_empty() {
            return Err(CatalogError::Empty);
        }
        for (lang, pack) in &packs {
            if !is_language_tag(lang) {
                return Err(CatalogError::LanguageTag(lang.clone()));
            }
            for kind in PageKind::PAGES {
                let text = pack.text(kind);
                let checked = check_title(&text.title).and_then(|_| check_message(&text.message));
                checked.map_err(|problem| CatalogError::Value {
                    lang: lang.clone(),
                    problem,
                })?;
            }
        }
        Ok(Self { packs })
    }

    /// The catalog compiled into the binary (`config/content.toml`), validated by the tests.
    pub fn embedded() -> Self {
        serde_json::from_str(EMBEDDED_CATALOG_JSON)
            .ok()
            .and_then(|packs| Self::from_packs(packs).ok())
            .unwrap_or_else(Self::minimal)
    }

    /// A last-resort English catalog used only if the embedded one were ever unusable.
    fn minimal() -> Self {
        let text = |title: &str, message: &str| Text {
            title: title.into(),
            message: message.into(),
        };
        let pack = LanguagePack {
            name: "English".into(),
            maintenance: text(
                "We'll be back soon",
                "We're carrying out planned maintenance.",
            ),
            not_found: text("Page not found", "The page you asked for does not exist."),
            internal_error: text("Something went wrong", "Please try again in a moment."),
            bad_gateway: text("Service temporarily unreachable", "Please try again."),
            service_unavailable: text("Service temporarily unavailable", "Please try again."),
            gateway_timeout: text("The service took too long to answer", "Please try again."),
            labels: Labels {
                expected_back: "Expected back".into(),
                retry_in: "Please try again in about {minutes} minutes.".into(),
                retry_in_hours: "Please try again in about {hours} hours.".into(),
                retry_soon: "Please try again in a minute.".into(),
                support_reference: "Support reference".into(),
                status_page: "Status page".into(),
                contact: "Contact support".into(),
                error_code: "Error".into(),
            },
        };
        Self {
            packs: BTreeMap::from([("en".to_string(), pack)]),
        }
    }

    /// The language tags, in sorted order.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.packs.keys().map(String::as_str)
    }

    /// The pack of a language tag (exact match, ASCII case-insensitive).
    pub fn pack(&self, lang: &str) -> Option<&LanguagePack> {
        self.packs.get(lang).or_else(|| {
            self.packs
                .iter()
                .find(|(tag, _)| tag.eq_ignore_ascii_case(lang))
                .map(|(_, pack)| pack)
        })
    }

    /// The canonical spelling of a tag the catalog has, if it has it.
    pub fn canonical_tag(&self, lang: &str) -> Option<&str> {
        self.packs
            .keys()
            .find(|tag| tag.eq_ignore_ascii_case(lang))
            .map(String::as_str)
    }

    /// Any pack: the first one, for the impossible case of a missing default language.
    pub fn first(&self) -> (&str, &LanguagePack) {
        let (tag, pack) = self
            .packs
            .iter()
            .next()
            .expect("a catalog always holds at least one language (checked when built)");
        (tag.as_str(), pack)
    }
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
    fn the_embedded_json_form_reads_as_the_toml_source() {
        let from_toml = Catalog::from_toml(EMBEDDED_CATALOG).expect("embedded catalog parses");
        assert_eq!(Catalog::embedded(), from_toml);
        assert_ne!(
            Catalog::embedded(),
            Catalog::minimal(),
            "not the last-resort catalog"
        );
    }

    #[test]
    fn embedded_catalog_is_valid_and_has_english_and_japanese() {
        let catalog = Catalog::from_toml(EMBEDDED_CATALOG).expect("embedded catalog parses");
        let langs: Vec<_> = catalog.languages().collect();
        assert_eq!(langs, ["en", "ja"]);
        assert_eq!(catalog.pack("JA").unwrap().name, "日本語");
    }

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
