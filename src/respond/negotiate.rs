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
    /// `text/plain`.
    Text,
}

impl Format {
    /// Every format, in server preference order.
    pub const ALL: [Format; 3] = [Format::Html, Format::Json, Format::Text];

    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Html => "text/html; charset=utf-8",
            Self::Json => "application/problem+json; charset=utf-8",
            Self::Text => "text/plain; charset=utf-8",
        }
    }

    /// Short name for logs and file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Json => "json",
            Self::Text => "text",
        }
    }

    /// Media types that select this format.
    fn media_types(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Html => &[("text", "html"), ("application", "xhtml+xml")],
            Self::Json => &[("application", "problem+json"), ("application", "json")],
            Self::Text => &[("text", "plain")],
        }
    }
}

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
/// Each offered format gets the q of the most specific media range that matches it
/// (`type/subtype` over `type/*` over `*/*`). The highest q wins; among equals, a format named
/// explicitly wins over one matched by a wildcard (so `application/json, */*` gets JSON), then
/// server order (HTML, JSON, text). No header, or nothing acceptable: HTML.
pub fn format(accept: Option<&str>) -> Format {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Format::Html;
    };
    // Per format, in `Format::ALL` order: (specificity, q) of the most specific matching range.
    // One pass over the header.
    let mut matched: [Option<(u8, u16)>; 3] = [None; 3];
    for element in accept.split(',') {
        let Some((range, q)) = element_q(element) else {
            continue;
        };
        let Some((ty, sub)) = range.split_once('/') else {
            continue;
        };
        let (ty, sub) = (ty.trim(), sub.trim());
        for (candidate, matched) in Format::ALL.iter().zip(&mut matched) {
            let specificity = candidate
                .media_types()
                .iter()
                .filter_map(|(cty, csub)| {
                    if ty.eq_ignore_ascii_case(cty) && sub.eq_ignore_ascii_case(csub) {
                        Some(3)
                    } else if ty.eq_ignore_ascii_case(cty) && sub == "*" {
                        Some(2)
                    } else if ty == "*" && sub == "*" {
                        Some(1)
                    } else {
                        None
                    }
                })
                .max();
            if let Some(s) = specificity
                && matched.is_none_or(|(ms, mq)| s > ms || (s == ms && q > mq))
            {
                *matched = Some((s, q));
            }
        }
    }
    let mut best: Option<(u16, u8, Format)> = None;
    for (candidate, matched) in Format::ALL.into_iter().zip(matched) {
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

/// Picks a language from `Accept-Language` among `available` tags.
///
/// Ranges are tried by descending q (stable for equal q). A range matches a tag that equals it,
/// or whose primary subtag equals the range's (`en-GB` → `en`, `zh` → `zh-Hant`); `*` matches
/// `default`. Nothing matches: `default`.
pub fn language<'a>(
    accept_language: Option<&str>,
    available: &'a [String],
    default: &'a str,
) -> &'a str {
    let Some(header) = accept_language else {
        return default;
    };
    let mut ranges: Vec<(&str, u16)> = header
        .split(',')
        .filter_map(element_q)
        .filter(|(range, q)| *q > 0 && !range.is_empty())
        .take(32)
        .collect();
    ranges.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (range, _) in ranges {
        if range == "*" {
            return default;
        }
        if let Some(tag) = available.iter().find(|t| t.eq_ignore_ascii_case(range)) {
            return tag;
        }
        let primary = range.split('-').next().unwrap_or(range);
        if let Some(tag) = available.iter().find(|t| {
            t.split('-')
                .next()
                .is_some_and(|p| p.eq_ignore_ascii_case(primary))
        }) {
            return tag;
        }
    }
    default
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
