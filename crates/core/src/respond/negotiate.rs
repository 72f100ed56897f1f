//! Content negotiation: the response format from `Accept` and the language from
//! `Accept-Language`, q-values honoured. Never refuses: when nothing acceptable is offered the
//! answer is HTML in the default language, because a maintenance page must always arrive.

/// The formats a page is offered in, in server preference order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `text/html`.
    Html,
    /// `application/problem+json` (RFC 9457).
    Json,
    /// The same problem document as `application/json`, for a client that accepts JSON but
    /// refuses `application/problem+json` explicitly (`application/problem+json;q=0`).
    PlainJson,
    /// `text/plain`.
    Text,
}

impl Format {
    /// Every format a page is offered in (the preview shows each), in server preference order.
    /// [`Format::PlainJson`] is [`Format::Json`]'s body under another media type, not a format
    /// of its own.
    pub const ALL: [Format; 3] = [Format::Html, Format::Json, Format::Text];

    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Html => "text/html; charset=utf-8",
            Self::Json => "application/problem+json; charset=utf-8",
            Self::PlainJson => "application/json; charset=utf-8",
            Self::Text => "text/plain; charset=utf-8",
        }
    }

    /// Short name for logs and file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Json => "json",
            Self::PlainJson => "plain-json",
            Self::Text => "text",
        }
    }
}

/// How well one `Accept` range matches a media type: `type/subtype` 3, `type/*` 2, `*/*` 1.
fn specificity(range: (&str, &str), media: (&str, &str)) -> Option<u8> {
    let (ty, sub) = range;
    if ty.eq_ignore_ascii_case(media.0) && sub.eq_ignore_ascii_case(media.1) {
        Some(3)
    } else if ty.eq_ignore_ascii_case(media.0) && sub == "*" {
        Some(2)
    } else if ty == "*" && sub == "*" {
        Some(1)
    } else {
        None
    }
}

/// The media types the formats are chosen by, each with its (specificity, q) in one header.
const MEDIA: [(&str, &str); 5] = [
    ("text", "html"),
    ("application", "xhtml+xml"),
    ("application", "problem+json"),
    ("application", "json"),
    ("text", "plain"),
];

/// Parses a q-value: `0`, `1`, `0.5`, at most three decimals. Invalid yields `None`.
fn parse_q(value: &str) -> Option<u16> {
    let value = value.trim();
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// Splits one list element into its value and q (in thousandths). `None` if the q is invalid.
fn element_q(element: &str) -> Option<(&str, u16)> {
    let mut parts = element.split(';');
    let value = parts.next()?.trim();
    let mut q = 1000;
    for param in parts {
        if let Some((name, v)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("q")
        {
            q = parse_q(v)?;
        }
    }
    Some((value, q))
}

/// Picks the response format from an `Accept` header.
///
/// Each media type gets the q of the most specific range that matches it (`type/subtype` over
/// `type/*` over `*/*`): a `q=0` there refuses it, whatever a wildcard says. HTML is
/// `text/html` (or `application/xhtml+xml` when the header names only that); the problem
/// document is JSON when the client asks for `application/problem+json` or `application/json`,
/// and is labelled `application/json` ([`Format::PlainJson`]) when `application/problem+json`
/// itself is refused. The highest q wins; among equals, a format named explicitly wins over one
/// matched by a wildcard (so `application/json, */*` gets JSON), then server order (HTML, JSON,
/// text). No header, or nothing acceptable: HTML.
pub fn format(accept: Option<&str>) -> Format {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Format::Html;
    };
    // Per media type of `MEDIA`: (specificity, q) of the most specific matching range. One pass.
    let mut matched: [Option<(u8, u16)>; 5] = [None; 5];
    for element in accept.split(',') {
        let Some((range, q)) = element_q(element) else {
            continue;
        };
        let Some((ty, sub)) = range.split_once('/') else {
            continue;
        };
        let range = (ty.trim(), sub.trim());
        for (media, matched) in MEDIA.iter().zip(&mut matched) {
            if let Some(s) = specificity(range, *media)
                && matched.is_none_or(|(ms, mq)| s > ms || (s == ms && q > mq))
            {
                *matched = Some((s, q));
            }
        }
    }
    let [html, xhtml, problem, json, text] = matched;
    let explicit = |m: Option<(u8, u16)>| m.is_some_and(|(s, _)| s == 3);
    // HTML by `text/html`; `application/xhtml+xml` speaks for it only when named and
    // `text/html` is not.
    let html = if !explicit(html) && explicit(xhtml) {
        xhtml
    } else {
        html
    };
    // The problem document: by whichever of its two media types the header rates higher.
    let json_family = match (problem, json) {
        (Some(p), Some(j)) => Some(if (p.1, p.0) >= (j.1, j.0) { p } else { j }),
        (p, j) => p.or(j),
    };
    let problem_refused = problem.is_some_and(|(_, q)| q == 0);
    let json_format = if problem_refused {
        Format::PlainJson
    } else {
        Format::Json
    };
    let mut best: Option<(u16, u8, Format)> = None;
    for (candidate, matched) in [
        (Format::Html, html),
        (json_format, json_family),
        (Format::Text, text),
    ] {
        if let Some((specificity, q)) = matched
            && q > 0
        {
            let explicit = u8::from(specificity == 3);
            if best.is_none_or(|(bq, bexplicit, _)| (q, explicit) > (bq, bexplicit)) {
                best = Some((q, explicit, candidate));
            }
        }
    }
    best.map_or(Format::Html, |(_, _, f)| f)
}

/// Longest `Accept-Language` value read; the ALB itself limits one header to 16 KiB.
const MAX_ACCEPT_LANGUAGE: usize = 16 * 1024;

/// Picks a language from `Accept-Language` among `available` tags.
///
/// Every available tag gets the q of the most specific range that matches it: the tag itself,
/// then a range that is a prefix of the tag (`zh` for `zh-Hant`), then a range whose primary
/// subtag is the tag (`en-GB` for `en`, lenient), then `*`. A `q=0` there refuses the tag,
/// whatever `*` says (`en;q=0, *` is any language but English). The highest q wins; among
/// equals, the range listed first, then `default`, then the order of `available`. Every range
/// counts, wherever it stands in the header. Nothing acceptable: `default`.
pub fn language<'a>(
    accept_language: Option<&str>,
    available: &'a [String],
    default: &'a str,
) -> &'a str {
    let Some(header) = accept_language else {
        return default;
    };
    let header = match header.char_indices().nth(MAX_ACCEPT_LANGUAGE) {
        Some((end, _)) => &header[..end],
        None => header,
    };
    // Per available tag: (specificity, q, position) of its most specific matching range.
    let mut matched: Vec<Option<(u8, u16, usize)>> = vec![None; available.len()];
    let ranges = header
        .split(',')
        .filter_map(element_q)
        .filter(|(range, _)| !range.is_empty());
    for (position, (range, q)) in ranges.enumerate() {
        for (tag, matched) in available.iter().zip(&mut matched) {
            if let Some(s) = language_specificity(range, tag)
                && matched.is_none_or(|(ms, _, _)| s > ms)
            {
                *matched = Some((s, q, position));
            }
        }
    }
    let mut best: Option<(u16, usize, bool, usize)> = None;
    for (index, (tag, matched)) in available.iter().zip(&matched).enumerate() {
        let Some((_, q, position)) = *matched else {
            continue;
        };
        if q == 0 {
            continue;
        }
        let is_default = tag.eq_ignore_ascii_case(default);
        let better = best.is_none_or(|(bq, bpos, bdefault, _)| {
            (q, std::cmp::Reverse(position), is_default) > (bq, std::cmp::Reverse(bpos), bdefault)
        });
        if better {
            best = Some((q, position, is_default, index));
        }
    }
    best.map_or(default, |(_, _, _, index)| available[index].as_str())
}

/// How well one `Accept-Language` range matches a tag: exactly 4, as a prefix of the tag 3, by
/// the range's primary subtag 2 (lenient: `en-GB` for `en`), `*` 1.
fn language_specificity(range: &str, tag: &str) -> Option<u8> {
    if range == "*" {
        return Some(1);
    }
    if tag.eq_ignore_ascii_case(range) {
        return Some(4);
    }
    let prefix_of = |long: &str, short: &str| {
        long.len() > short.len()
            && long.as_bytes()[short.len()] == b'-'
            && long[..short.len()].eq_ignore_ascii_case(short)
    };
    if prefix_of(tag, range) {
        return Some(3);
    }
    let primary = range.split('-').next().unwrap_or(range);
    let tag_primary = tag.split('-').next().unwrap_or(tag);
    primary.eq_ignore_ascii_case(tag_primary).then_some(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_table() {
        let cases: &[(Option<&str>, Format)] = &[
            (None, Format::Html),
            (Some(""), Format::Html),
            (Some("*/*"), Format::Html),
            (
                Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                Format::Html,
            ),
            (Some("application/json"), Format::Json),
            (Some("application/problem+json"), Format::Json),
            (Some("application/json, text/plain, */*"), Format::Json),
            (Some("text/plain"), Format::Text),
            (Some("text/*"), Format::Html),
            (
                Some("text/html;q=0.1, application/json;q=0.9"),
                Format::Json,
            ),
            (Some("text/html;q=0.5, text/plain"), Format::Text),
            (Some("application/json;q=0, */*"), Format::Html),
            (Some("text/html;q=0, */*;q=0.5"), Format::Json),
            (Some("image/png"), Format::Html),
            (Some("application/json;q=2"), Format::Html),
            (Some("application/json;q=0.0001"), Format::Html),
            (Some("APPLICATION/JSON"), Format::Json),
            (
                Some("text/html;level=1;q=0.2, text/plain;q=0.3"),
                Format::Text,
            ),
            (Some(";;,,/,*/"), Format::Html),
            // A q=0 refuses a media type whatever else matches it (issue #16, item 13, and its
            // siblings): the problem document goes out as application/json when
            // application/problem+json is refused, and JSON is not chosen when both are.
            (
                Some("application/problem+json;q=0, application/json"),
                Format::PlainJson,
            ),
            (
                Some("application/json, application/problem+json;q=0"),
                Format::PlainJson,
            ),
            (
                Some("application/*;q=0, application/json"),
                Format::PlainJson,
            ),
            (
                Some("application/json;q=0, application/problem+json"),
                Format::Json,
            ),
            (
                Some("application/json;q=0, application/problem+json;q=0, */*"),
                Format::Html,
            ),
            (
                Some("application/json;q=0, application/problem+json;q=0, text/plain;q=0.1"),
                Format::Text,
            ),
            (Some("text/html;q=0, application/xhtml+xml"), Format::Html),
            (Some("text/html;q=0, text/plain;q=0.2"), Format::Text),
            (
                Some("application/xhtml+xml, application/json;q=0.5"),
                Format::Html,
            ),
        ];
        for (accept, expected) in cases {
            assert_eq!(format(*accept), *expected, "Accept: {accept:?}");
        }
    }

    #[test]
    fn language_table() {
        let available = vec!["en".to_string(), "ja".to_string(), "pt-BR".to_string()];
        let cases: &[(Option<&str>, &str)] = &[
            (None, "en"),
            (Some("ja"), "ja"),
            (Some("ja-JP,ja;q=0.9,en;q=0.8"), "ja"),
            (Some("fr, ja;q=0.5"), "ja"),
            (Some("fr"), "en"),
            (Some("*"), "en"),
            (Some("en;q=0.1, ja;q=0.9"), "ja"),
            (Some("ja;q=0, en"), "en"),
            (Some("pt"), "pt-BR"),
            (Some("PT-br"), "pt-BR"),
            (Some("en-GB"), "en"),
            (Some("garbage;q=x, ja"), "ja"),
            (Some(""), "en"),
            // q=0 refuses a language whatever `*` says (issue #16, item 12, and its siblings).
            (Some("en;q=0, *"), "ja"),
            (Some("*, en;q=0"), "ja"),
            (Some("EN;q=0, *"), "ja"),
            (Some("ja;q=0, *"), "en"),
            (Some("*;q=0, ja"), "ja"),
            (Some("en-GB, en;q=0, ja;q=0.1"), "ja"),
            (Some("*;q=0.5, ja;q=0.4"), "en"),
            (Some("ja, en"), "ja"),
            (Some("en-GB;q=0.8, ja;q=0.8"), "en"),
            (Some("pt-BR;q=0, pt, ja;q=0.5"), "ja"),
        ];
        for (header, expected) in cases {
            assert_eq!(
                language(*header, &available, "en"),
                *expected,
                "Accept-Language: {header:?}"
            );
        }
    }

    #[test]
    fn every_range_counts_wherever_it_stands() {
        let available = vec!["en".to_string(), "ja".to_string()];
        // A q=1 `ja` after 40 other ranges (the reader used to stop at 32, before sorting).
        let mut header: Vec<String> = (0..40).map(|i| format!("x-a{i};q=0.1")).collect();
        header.push("ja".into());
        assert_eq!(language(Some(&header.join(", ")), &available, "en"), "ja");
        // Thousands of ranges are read (up to 16 KiB) without a cost worth noting.
        let long = vec!["fr;q=0.5"; 1500].join(",") + ",ja";
        assert_eq!(language(Some(&long), &available, "en"), "ja");
        // Past 16 KiB (more than an ALB passes in one header) the rest is not read.
        let huge = "fr,".repeat(6000) + "ja";
        assert_eq!(language(Some(&huge), &available, "en"), "en");
    }

    #[test]
    fn q_values() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.8"), Some(800));
        assert_eq!(parse_q("0.125"), Some(125));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("-1"), None);
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(parse_q(""), None);
    }
}
