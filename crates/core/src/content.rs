//! The live content that operators change without a deploy ([`Content`]: maintenance title and
//! message per language, the retry value, links), and the validation rules for every value that
//! reaches a page, so SSM, the local preview, the built-in catalog and `maintctl message set` all
//! accept and refuse the same things.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::admission::ReturnState;
use crate::rfc3339::Rfc3339Error;

pub use crate::value::{BypassToken, MAX_RETRY_SECONDS, ValueError};

use serde::Deserialize;

/// Longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2_000;
/// Longest link accepted, in characters.
pub const MAX_LINK_CHARS: usize = 500;

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
    Until(Timestamp),
}

impl Retry {
    /// Parses `{prefix}/retry-after`: a number of seconds, or an RFC 3339 end time, both within
    /// one week ([`MAX_RETRY_SECONDS`]) — a delay of at most a week, an end time at most a week
    /// after `now` (a mistyped year must not send crawlers away for decades). An end time
    /// already past is accepted: the page then falls back to the configured delay.
    pub fn parse(value: &str, now: Timestamp) -> Result<Self, ValueError> {
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
        let until = crate::rfc3339::parse(value).map_err(|e| match e {
            // Past 9999-12-30: surely more than a week ahead.
            Rfc3339Error::OutOfRange => ValueError::EndTooFar,
            Rfc3339Error::Invalid => ValueError::Retry(value.chars().take(40).collect()),
        })?;
        if until.duration_since(now) > jiff::SignedDuration::from_secs(MAX_RETRY_SECONDS as i64) {
            return Err(ValueError::EndTooFar);
        }
        Ok(Self::Until(until))
    }

    /// The canonical text form, as `maintctl` writes it.
    pub fn to_parameter_value(&self) -> String {
        match self {
            Self::Seconds(s) => s.to_string(),
            Self::Until(t) => crate::rfc3339::format(*t),
        }
    }
}

/// Where the live content came from, as the health route reports it to an operator: whether
/// the live content is loaded, and if not, why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentState {
    /// The embedded texts, by configuration: no SSM prefix is configured.
    Embedded,
    /// An SSM prefix is configured but SSM has not answered yet: the embedded texts meanwhile.
    Unreached {
        /// Attempts that failed so far.
        failures: u32,
        /// How the last one failed.
        last: FailureKind,
    },
    /// Fetched from SSM within the freshness window, and no refresh has failed since.
    Fresh {
        /// Seconds since the fetch.
        age_seconds: u64,
        /// Parameters found under the prefix (0: a prefix with nothing under it, so the
        /// built-in texts — a mistyped prefix looks like this).
        parameters: usize,
    },
    /// Fetched from SSM; the window has passed, and no page request has asked for it since
    /// (the health route never fetches). Not a failure: the next page request refreshes it.
    Due {
        /// Seconds since the fetch.
        age_seconds: u64,
        /// Parameters found under the prefix.
        parameters: usize,
    },
    /// The last good SSM content, kept because refreshing it failed (stale-if-error).
    Stale {
        /// Seconds since the fetch.
        age_seconds: u64,
        /// Parameters found under the prefix.
        parameters: usize,
        /// Refreshes that failed in a row.
        failures: u32,
        /// How the last one failed.
        last: FailureKind,
    },
}

/// How a fetch failed, as far as the (public) health route tells it: the kind only, never the
/// error's text (it may name the account or the role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// SSM throttled the request.
    Throttled,
    /// No connection, DNS, TLS or I/O failure.
    Unreachable,
    /// No answer within the time budget.
    TimedOut,
    /// Another error answer (access denied, internal error, …).
    ErrorAnswer,
}

impl FailureKind {
    /// Words for the health route.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::Unreachable => "unreachable",
            Self::TimedOut => "timed out",
            Self::ErrorAnswer => "an error answer",
        }
    }
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
    /// The bypass link's token of the current window, if one is set.
    pub bypass_token: Option<BypassToken>,
    /// The time zone the page shows the end time in (a scheduled window's `--timezone`); when
    /// none, the configuration's zone for the page's language, else UTC.
    pub time_zone: Option<DisplayZone>,
    /// The gradual return under way (`{prefix}/return/state`), if one is: who is let through
    /// ([`crate::respond::admission`]).
    pub return_state: Option<ReturnState>,
    /// Where this content came from.
    pub state: ContentState,
}

/// Where the system keeps its zone files, when `TZDIR` does not say.
pub const SYSTEM_ZONEINFO: &str = "/usr/share/zoneinfo";

/// The zone files' directory from the value of `TZDIR` (the Lambda package's `zoneinfo/`):
/// that, unless unset or blank, else [`SYSTEM_ZONEINFO`].
pub fn zoneinfo_dir(tzdir: Option<String>) -> String {
    tzdir
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| SYSTEM_ZONEINFO.to_string())
}

/// Files of a zone directory that are not IANA time zones: the system's own zone, the rules
/// file `zic -p` writes, and the placeholder zone of a system whose zone is not set (its times
/// show as `-00`). A page must never show an end time in them.
pub const NOT_ZONES: [&str; 3] = ["localtime", "posixrules", "Factory"];

/// Checks that `name` names an IANA time zone, not one of the zone directory's other files
/// ([`NOT_ZONES`], the `posix/` and `right/` copies).
pub fn check_zone_name(name: &str) -> Result<(), String> {
    let first = name.split('/').next().unwrap_or_default();
    if NOT_ZONES.contains(&name) || ["posix", "right"].contains(&first) {
        return Err(format!(
            "{name:?} is a file of the time zone database, not an IANA time zone (e.g. \
             Asia/Tokyo, Europe/Berlin, UTC)"
        ));
    }
    Ok(())
}

/// Checks that the time zone database holds `name` in that very spelling (`found`: the name of
/// the zone it found). The time zone crate finds `asia/tokyo` as `Asia/Tokyo`, but the page
/// reads the zone's file by its name, which on Lambda is case-sensitive: a name in another
/// case would be taken, then ignored by the page.
pub fn check_zone_spelling(name: &str, found: Option<&str>) -> Result<(), String> {
    match found {
        Some(found) if found != name => Err(format!(
            "time zone {name:?} is spelled {found:?} in the time zone database: use that spelling"
        )),
        _ => Ok(()),
    }
}

/// A time zone an end time is shown in: an IANA name (`Asia/Tokyo`) resolved once, when the
/// content or the configuration is read (from the time zone database, `TZDIR` or
/// `/usr/share/zoneinfo`), so that showing a time is arithmetic only. Equal by name.
#[derive(Clone)]
pub struct DisplayZone {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl DisplayZone {
    /// Looks a zone up by its IANA name (case as the database has it, e.g. `Europe/Berlin`)
    /// in the time zone database as the time zone crate finds it (`TZDIR`, else the system's).
    /// That indexes the whole directory on first use (tens of directory reads): the Lambda's
    /// start uses [`DisplayZone::load`] instead.
    pub fn resolve(name: &str) -> Result<Self, ValueError> {
        let name = Self::check_form(name)?;
        let zone =
            jiff::tz::TimeZone::get(name).map_err(|_| ValueError::TimeZone(name.to_string()))?;
        check_zone_spelling(name, zone.iana_name())
            .map_err(|_| ValueError::TimeZone(name.to_string()))?;
        Ok(Self {
            name: name.to_string(),
            zone,
        })
    }

    /// Like [`DisplayZone::resolve`], reading only the zone's own file under `zoneinfo` (the
    /// directory `TZDIR` names, else [`SYSTEM_ZONEINFO`]): one file, where the database would
    /// index the whole directory first. A name without a zone file there is not a zone.
    pub fn load(name: &str, zoneinfo: &str) -> Result<Self, ValueError> {
        let name = Self::check_form(name)?;
        let file = format!("{}/{name}", zoneinfo.trim_end_matches('/'));
        match std::fs::read(file).map(|data| jiff::tz::TimeZone::tzif(name, &data)) {
            Ok(Ok(zone)) => Ok(Self {
                name: name.to_string(),
                zone,
            }),
            _ => Err(ValueError::TimeZone(name.to_string())),
        }
    }

    /// The name, trimmed, if it has the form of an IANA name: letters, digits and `/_-+`, not
    /// starting with `/` (so that it stays a path below the zone directory), at most 64.
    fn check_form(name: &str) -> Result<&str, ValueError> {
        let name = name.trim();
        let form = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('/')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b));
        match form && check_zone_name(name).is_ok() {
            true => Ok(name),
            false => Err(ValueError::TimeZone(name.chars().take(64).collect())),
        }
    }

    /// The zone's IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `2026-11-22 16:39 JST`: the time in this zone, to the minute, with the zone's
    /// abbreviation (or its offset, where the database has no abbreviation).
    pub fn show(&self, at: Timestamp) -> Option<String> {
        Some(
            at.to_zoned_datetime(self.zone.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string(),
        )
    }
}

impl PartialEq for DisplayZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for DisplayZone {}

impl std::fmt::Debug for DisplayZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DisplayZone({})", self.name)
    }
}

impl Default for Content {
    fn default() -> Self {
        Self {
            maintenance: BTreeMap::new(),
            retry: None,
            status_page: None,
            contact: None,
            bypass_token: None,
            time_zone: None,
            return_state: None,
            state: ContentState::Embedded,
        }
    }
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

/// Checks a title: non-empty, at most [`MAX_TITLE_CHARS`], one line, no control characters,
/// only visible text ([`check_visible`]).
pub fn check_title(value: &str) -> Result<(), ValueError> {
    check_len(value, MAX_TITLE_CHARS)?;
    if value.chars().any(char::is_control) {
        return Err(ValueError::ControlCharacters);
    }
    check_visible(value)
}

/// Checks a message: non-empty, at most [`MAX_MESSAGE_CHARS`], no control characters but
/// newlines and tabs, only visible text ([`check_visible`]).
pub fn check_message(value: &str) -> Result<(), ValueError> {
    check_len(value, MAX_MESSAGE_CHARS)?;
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValueError::ControlCharacters);
    }
    check_visible(value)
}

/// Checks that text shows what it says, for every text that must be visible (titles,
/// messages, the brand name): no Unicode format character (general category Cf: zero-width
/// spaces, bidirectional overrides and isolates, word joiners, soft hyphens, the byte order
/// mark, …) but the zero-width joiner and non-joiner that emoji sequences and some scripts need;
/// no line or paragraph separator (U+2028, U+2029: a line break must be a newline); and at least
/// one visible character (not only spaces, marks or blank fillers such as U+3164).
pub fn check_visible(value: &str) -> Result<(), ValueError> {
    use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};
    const JOINERS: [char; 2] = ['\u{200C}', '\u{200D}'];
    const BLANK_FILLERS: [char; 5] = ['\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}', '\u{2800}'];
    let hidden = value.chars().find(|&c| {
        let category = c.general_category();
        (category == GeneralCategory::Format && !JOINERS.contains(&c))
            || matches!(
                category,
                GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
            )
    });
    if let Some(c) = hidden {
        return Err(ValueError::Invisible(format!("U+{:04X}", u32::from(c))));
    }
    let visible = value.chars().any(|c| {
        !c.is_whitespace()
            && !BLANK_FILLERS.contains(&c)
            && !matches!(
                c.general_category_group(),
                GeneralCategoryGroup::Other
                    | GeneralCategoryGroup::Separator
                    | GeneralCategoryGroup::Mark
            )
    });
    if visible {
        Ok(())
    } else {
        Err(ValueError::NothingVisible)
    }
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
    fn a_zone_is_only_a_name_of_the_database_in_its_spelling() {
        let system = SYSTEM_ZONEINFO;
        assert_eq!(
            DisplayZone::load("Asia/Tokyo", system).unwrap().name(),
            "Asia/Tokyo"
        );
        assert_eq!(
            DisplayZone::resolve("Asia/Tokyo").unwrap().name(),
            "Asia/Tokyo"
        );
        for bad in [
            "asia/tokyo",
            "localtime",
            "posixrules",
            "Factory",
            "posix/Asia/Tokyo",
        ] {
            assert!(DisplayZone::load(bad, system).is_err(), "{bad}");
            assert!(DisplayZone::resolve(bad).is_err(), "{bad}");
        }
        assert!(check_zone_spelling("asia/tokyo", Some("Asia/Tokyo")).is_err());
        assert!(check_zone_name("right/UTC").is_err());
        assert!(check_zone_name("Etc/GMT+9").is_ok());
    }

    #[test]
    fn retry_parse_table() {
        let until = "2026-11-22T06:00:00Z".parse::<jiff::Timestamp>().unwrap();
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
            // The end time within the same week as the delay (issue #16, item 6).
            (
                "2026-11-29T04:00:00Z",
                Ok(Retry::Until(
                    "2026-11-29T04:00:00Z".parse::<jiff::Timestamp>().unwrap(),
                )),
            ),
            ("2026-11-29T04:00:01Z", Err(ValueError::EndTooFar)),
            ("9999-12-31T23:59:59Z", Err(ValueError::EndTooFar)),
            ("2062-11-22T06:00:00+09:00", Err(ValueError::EndTooFar)),
            // Past end times are accepted (the page falls back to the configured delay).
            (
                "2001-01-01T00:00:00Z",
                Ok(Retry::Until(
                    "2001-01-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap(),
                )),
            ),
        ];
        let now = "2026-11-22T04:00:00Z".parse::<jiff::Timestamp>().unwrap();
        for (input, expected) in cases {
            assert_eq!(&Retry::parse(input, now), expected, "input {input:?}");
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

    /// Issue #16, item 11, and its siblings: text that would not show what it says is refused
    /// wherever text must be visible; the joiners real text needs are kept.
    #[test]
    fn invisible_and_direction_changing_characters_are_refused() {
        let refused: &[(&str, ValueError)] = &[
            ("\u{200B}", ValueError::Invisible("U+200B".into())),
            ("Back soon\u{200B}", ValueError::Invisible("U+200B".into())),
            ("\u{202E}noos kcaB", ValueError::Invisible("U+202E".into())),
            ("Back\u{2028}soon", ValueError::Invisible("U+2028".into())),
            ("Back\u{2029}soon", ValueError::Invisible("U+2029".into())),
            ("\u{FEFF}Back soon", ValueError::Invisible("U+FEFF".into())),
            ("Back\u{00AD}soon", ValueError::Invisible("U+00AD".into())),
            ("Back\u{2060}soon", ValueError::Invisible("U+2060".into())),
            (
                "\u{2066}Back soon\u{2069}",
                ValueError::Invisible("U+2066".into()),
            ),
            ("Back\u{061C}soon", ValueError::Invisible("U+061C".into())),
            ("\u{E0041}", ValueError::Invisible("U+E0041".into())),
            ("\u{0301}\u{0301}", ValueError::NothingVisible),
            ("\u{3164}", ValueError::NothingVisible),
            ("\u{2800}\u{2800}", ValueError::NothingVisible),
            ("\u{3000}", ValueError::Empty),
        ];
        for (value, expected) in refused {
            assert_eq!(
                check_title(value).as_ref(),
                Err(expected),
                "title {value:?}"
            );
            assert_eq!(
                check_message(value).as_ref(),
                Err(expected),
                "message {value:?}"
            );
        }
        for fine in [
            "Back soon",
            "ただいまメンテナンス中です",
            "👨\u{200D}👩\u{200D}👧 family",
            "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}",
            "العودة قريبا",
            "Café — ünïcode",
        ] {
            assert_eq!(check_title(fine), Ok(()), "{fine:?}");
            assert_eq!(check_message(fine), Ok(()), "{fine:?}");
        }
        assert_eq!(check_message("one\n\ntwo\tthree"), Ok(()));
        assert!(
            ValueError::Invisible("U+202E".into())
                .to_string()
                .contains("U+202E"),
            "the message names the character"
        );
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
