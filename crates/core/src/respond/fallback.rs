//! The last-resort page: the body of the ALB's own `fixed-response` action (a parked second
//! maintenance rule that needs no Lambda), rendered from `templates/fallback.html` with the
//! live content. The ALB sends it with no headers of ours (no `Retry-After`, no CSP) and allows
//! at most [`MAX_CHARS`] characters, so the page is compact — title, message, "expected back" —
//! self-contained, and cut to fit: the message first, then the title, each ending in "…".
//! Everything from the content is escaped by askama, and the cut is measured after escaping.

use askama::Template;
use jiff::Timestamp;

use crate::content::{Content, Retry};
use crate::respond::pages::ExpectedBack;
use crate::site::Site;

/// Longest `MessageBody` of a fixed-response action, in characters (API_FixedResponseActionConfig).
pub const MAX_CHARS: usize = 1024;

#[derive(Template)]
#[template(path = "fallback.html")]
struct FallbackHtml<'a> {
    lang: &'a str,
    title: &'a str,
    paragraphs: Vec<&'a str>,
    label: &'a str,
    back: Option<ExpectedBack>,
    color: &'a str,
}

/// The fallback page in `lang` (a language of the catalog; else the first one), from the live
/// content as of `now`: at most [`MAX_CHARS`] characters, whatever the content holds.
pub fn body(content: &Content, site: &Site, lang: &str, now: Timestamp) -> String {
    let (lang, pack) = match site.catalog.pack(lang) {
        Some(pack) => (site.catalog.canonical_tag(lang).unwrap_or(lang), pack),
        None => site.catalog.first(),
    };
    let text = content.maintenance.get(lang).unwrap_or(&pack.maintenance);
    let back = match content.retry {
        Some(Retry::Until(until)) if until > now => Some(ExpectedBack::new(
            until,
            site.display_zone(content.time_zone.as_ref(), lang),
        )),
        _ => None,
    };
    let render = |title: &str, message: &str| {
        FallbackHtml {
            lang,
            title,
            paragraphs: message
                .split("\n\n")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect(),
            label: &pack.labels.expected_back,
            back: back.clone(),
            color: &site.config.brand.color,
        }
        .render()
        .unwrap_or_default()
    };
    let fits = |page: &str| !page.is_empty() && page.chars().count() <= MAX_CHARS;
    let whole = render(&text.title, &text.message);
    if fits(&whole) {
        return whole;
    }
    // Cut the message, then (if even none of it fits) the title: the longest prefix that fits.
    if let Some(page) = longest_fitting(&text.message, |m| render(&text.title, m), fits) {
        return page;
    }
    longest_fitting(&text.title, |t| render(t, ""), fits)
        .unwrap_or_else(|| render("503 Service Unavailable", ""))
}

/// The rendering of the longest prefix of `text` (whole characters, then "…") that `fits`, by
/// binary search (a longer prefix never renders shorter); `None` when not even "…" fits.
fn longest_fitting(
    text: &str,
    render: impl Fn(&str) -> String,
    fits: impl Fn(&str) -> bool,
) -> Option<String> {
    let ends: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let cut = |n: usize| {
        format!(
            "{}…",
            text[..ends.get(n).copied().unwrap_or(text.len())].trim_end()
        )
    };
    let (mut low, mut high) = (0, ends.len());
    if !fits(&render(&cut(0))) {
        return None;
    }
    while low < high {
        let mid = (low + high).div_ceil(2);
        if fits(&render(&cut(mid))) {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Some(render(&cut(low)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Text;

    const NOW: Timestamp = jiff::Timestamp::constant(1_795_320_000, 0); // 2026-11-22T04:00:00Z

    #[test]
    fn the_default_content_fits_whole_in_every_language() {
        let site = Site::embedded();
        for lang in &site.languages {
            let page = body(&Content::default(), &site, lang, NOW);
            assert!(page.chars().count() <= MAX_CHARS, "{lang}: {page}");
            let pack = site.catalog.pack(lang).unwrap();
            assert!(
                page.contains(&format!(
                    "<h1>{}</h1>",
                    askama_escape(&pack.maintenance.title)
                )),
                "{page}"
            );
            assert!(
                page.starts_with(&format!("<!doctype html><html lang='{lang}'>")),
                "{page}"
            );
            assert!(!page.contains('…'), "nothing cut: {page}");
        }
    }

    fn askama_escape(text: &str) -> String {
        text.replace('&', "&#38;")
            .replace('<', "&#60;")
            .replace('>', "&#62;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;")
    }

    #[test]
    fn long_and_hostile_content_is_cut_to_fit_and_escaped() {
        let site = Site::embedded();
        let content = Content {
            maintenance: [(
                "en".to_string(),
                Text {
                    title: "\"<script>".repeat(22).chars().take(200).collect(),
                    message: "<b>&'\"</b> ".repeat(180).chars().take(2000).collect(),
                },
            )]
            .into(),
            retry: Some(Retry::Until(
                "2026-11-22T06:00:30Z".parse::<jiff::Timestamp>().unwrap(),
            )),
            ..Content::default()
        };
        let page = body(&content, &site, "en", NOW);
        assert!(
            page.chars().count() <= MAX_CHARS,
            "{} chars",
            page.chars().count()
        );
        assert!(
            !page.contains("<script") && !page.contains("<b>&"),
            "{page}"
        );
        assert!(page.contains('…'), "{page}");
        assert!(
            page.contains("2026-11-22 06:01 UTC"),
            "the end time, rounded up: {page}"
        );
    }
}
