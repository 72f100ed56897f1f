//! The fixed-response fallback page (`respond::fallback::body`): for every language and every
//! content that validates — titles, messages and end times generated — at most 1,024
//! characters (the ALB's limit), escaped, well-formed HTML with the title, and the end time
//! when one is ahead.

use std::collections::BTreeMap;

use jiff::Timestamp;
use maintenance_core::content::{Content, Retry, Text, check_message, check_title};
use maintenance_core::respond::fallback::{MAX_CHARS, body};
use maintenance_core::site::Site;
use maintenance_engine::planner::FixedResponse;
use proptest::prelude::*;

const NOW: Timestamp = jiff::Timestamp::constant(1_795_320_000, 0); // 2026-11-22T04:00:00Z

/// The elements the template writes; void elements have no end tag.
const ELEMENTS: [&str; 10] = [
    "html", "meta", "title", "style", "h1", "p", "b", "time", "!doctype", "br",
];
const VOID: [&str; 3] = ["meta", "!doctype", "br"];

/// Checks the page is well-formed HTML of the template's own elements only: every `<` opens or
/// closes one of them (so nothing from the content became markup), end tags balance, and the
/// text of `<style>` is the template's.
fn check_well_formed(page: &str) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find('<') {
        let tag_end = rest[at..].find('>').ok_or("unclosed <")? + at;
        let tag = &rest[at + 1..tag_end];
        let (closing, tag) = match tag.strip_prefix('/') {
            Some(t) => (true, t),
            None => (false, tag),
        };
        let name = tag
            .split([' ', '\''])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if !ELEMENTS.contains(&name.as_str()) {
            return Err(format!("unexpected element <{tag}>"));
        }
        if closing {
            if open.pop().as_deref() != Some(name.as_str()) {
                return Err(format!("</{name}> closes nothing open"));
            }
        } else if !VOID.contains(&name.as_str()) && name != "html" {
            open.push(name);
        }
        rest = &rest[tag_end + 1..];
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("left open: {open:?}"))
    }
}

fn visible_text() -> impl Strategy<Value = String> {
    // Letters of several scripts, markup characters, quotes, ampersands, spaces.
    prop::collection::vec(
        prop_oneof![
            Just("a".to_string()),
            Just("Z".to_string()),
            Just(" ".to_string()),
            Just("<".to_string()),
            Just(">".to_string()),
            Just("&".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("メ".to_string()),
            Just("é".to_string()),
            Just("</title>".to_string()),
            Just("<script>".to_string()),
            Just("😀".to_string()),
        ],
        1..120,
    )
    .prop_map(|parts| parts.concat())
}

fn title() -> impl Strategy<Value = String> {
    visible_text().prop_map(|t| {
        let t: String = t.chars().take(199).collect();
        format!("T{}", t.trim())
    })
}

fn message() -> impl Strategy<Value = String> {
    prop::collection::vec(visible_text(), 1..20).prop_map(|paragraphs| {
        let m: String = paragraphs.join("\n\n").chars().take(1999).collect();
        format!("M{}", m.trim())
    })
}

fn cases() -> u32 {
    std::env::var("FALLBACK_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn every_valid_content_fits_escaped_and_well_formed(
        titles in prop::collection::vec(title(), 2),
        messages in prop::collection::vec(message(), 2),
        end_minutes in prop::option::of(-600i64..=10_080),
        lang in prop_oneof![Just("en"), Just("ja"), Just("JA"), Just("de")],
    ) {
        let site = Site::embedded();
        let mut maintenance = BTreeMap::new();
        for ((tag, title), message) in ["en", "ja"].iter().zip(&titles).zip(&messages) {
            prop_assert_eq!(check_title(title), Ok(()));
            prop_assert_eq!(check_message(message), Ok(()));
            maintenance.insert(tag.to_string(), Text { title: title.clone(), message: message.clone() });
        }
        let end = end_minutes.map(|m| NOW + jiff::SignedDuration::from_mins(m));
        let content = Content {
            maintenance,
            retry: end.map(Retry::Until),
            ..Content::default()
        };
        let page = body(&content, &site, lang, NOW);
        prop_assert!(page.chars().count() <= MAX_CHARS, "{} chars: {}", page.chars().count(), page);
        check_well_formed(&page).map_err(|e| TestCaseError::fail(format!("{e}: {page}")))?;
        prop_assert!(!page.contains("<script"), "{}", page);
        let served = if lang == "de" { "en" } else { "ja" }.to_string();
        let served = if lang == "en" { "en".to_string() } else { served };
        prop_assert!(page.starts_with(&format!("<!doctype html><html lang='{served}'>")), "{}", page);
        // The title starts the heading, whole or cut.
        prop_assert!(page.contains("<h1>T"), "{}", page);
        match end {
            Some(end) if end > NOW => prop_assert!(page.contains("<time datetime="), "{}", page),
            _ => prop_assert!(!page.contains("<time"), "{}", page),
        }
        // The fallback rule answers with it as a fixed-response 503 text/html the ALB accepts.
        let rule = FixedResponse::page(page.as_str());
        prop_assert_eq!((rule.status_code.as_str(), rule.content_type.as_str()), ("503", "text/html"));
        prop_assert_eq!(rule.check(), Ok(()));
    }
}

#[test]
fn the_checker_finds_what_it_is_for() {
    assert!(check_well_formed("<!doctype html><html lang='en'><title>x</title><p>a</p>").is_ok());
    assert!(check_well_formed("<p><script>alert(1)</script></p>").is_err());
    assert!(check_well_formed("<p><b>x</p>").is_err());
    assert!(check_well_formed("<p>x").is_err());
}
