//! The bypass link: during maintenance every request reaches the responder, so a tester who
//! opens `{bypass_path}/{token}` with the current window's token gets `303 See Other` with the
//! bypass cookie, and from then on the listener's cookie rule sends their requests to the
//! application while everyone else sees the page.
//!
//! Rules kept here: the token is compared in constant time ([`BypassToken::matches`]); a wrong,
//! old or absent token (or none configured) is an ordinary request and gets the ordinary page,
//! with nothing that tells it was close; the redirect goes to `/` or to a `next` that is a
//! same-origin path ([`safe_next`]: never an open redirect); the cookie is `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, `Secure` when the request came over HTTPS, and lasts until the
//! window's announced end (else 12 hours); the answer is never cached and never memoized.

use jiff::Timestamp;

use crate::content::{BypassToken, Content, Retry};
use crate::deploy_names::BYPASS_COOKIE;
use crate::page_kind::PageKind;
use crate::respond::negotiate::Format;
use crate::respond::request::Request;
use crate::respond::response::{Response, Served, security_headers};
use crate::site::Site;

/// How long the cookie lasts when the window has no announced end.
pub const DEFAULT_MAX_AGE_SECONDS: i64 = 12 * 3600;
/// Longest `next` kept; a longer one redirects to `/`.
const MAX_NEXT: usize = 512;

/// The answer to a bypass link, or `None` when the request is not one (the ordinary page
/// answers it then).
pub fn answer(
    request: &Request,
    content: &Content,
    site: &Site,
    now: Timestamp,
) -> Option<Response> {
    let token = content.bypass_token.as_ref()?;
    if !request.is_get_or_head() || !is_link(request, token, &site.config.bypass_path) {
        return None;
    }
    let location = request
        .next
        .as_deref()
        .and_then(safe_next)
        .unwrap_or_else(|| "/".to_string());
    let max_age = match content.retry {
        Some(Retry::Until(end)) if end > now => end.duration_since(now).as_secs().max(1),
        _ => DEFAULT_MAX_AGE_SECONDS,
    };
    let secure = request
        .header("x-forwarded-proto")
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let mut headers = vec![
        ("Location", location),
        ("Set-Cookie", set_cookie(token, max_age, secure)),
        ("Content-Type", Format::Text.content_type().to_string()),
    ];
    headers.extend(security_headers(site, None));
    let head = request.method == "HEAD";
    Some(Response {
        status: PageKind::Bypass.status(),
        headers,
        body: if head {
            String::new()
        } else {
            "303 See Other\n".to_string()
        },
        served: Served {
            page: PageKind::Bypass,
            format: Format::Text,
            language: site.config.default_language.clone(),
            trace_id: request.trace_root().map(str::to_string),
        },
    })
}

/// `{bypass_path}/{token}` exactly, the token compared in constant time.
fn is_link(request: &Request, token: &BypassToken, bypass_path: &str) -> bool {
    request
        .path
        .strip_prefix(bypass_path)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|candidate| token.matches(candidate))
}

/// The `Set-Cookie` value of the bypass cookie.
pub fn set_cookie(token: &BypassToken, max_age_seconds: i64, secure: bool) -> String {
    format!(
        "{BYPASS_COOKIE}={}; Path=/; Max-Age={max_age_seconds};{} HttpOnly; SameSite=Lax",
        token.expose(),
        if secure { " Secure;" } else { "" }
    )
}

/// The redirect target a raw `next` query value names, when it is a same-origin path: the
/// value is percent-decoded once, and must then start with a single `/` (not `//`, not `/\`),
/// hold only printable ASCII without spaces, quotes, angle brackets or backslashes, no dot
/// segments and no empty segment (`//`), and be at most 512 characters. Anything else: `None`
/// (the link redirects to `/`).
pub fn safe_next(raw: &str) -> Option<String> {
    if raw.len() > MAX_NEXT {
        return None;
    }
    let decoded = percent_decode(raw)?;
    let path_part = decoded.split(['?', '#']).next().unwrap_or("");
    let allowed = |c: char| c.is_ascii_graphic() && !"\"'<>\\`{}|^".contains(c);
    let fine = decoded.starts_with('/')
        && decoded.chars().all(allowed)
        && !path_part.contains("//")
        && !path_part
            .split('/')
            .any(|segment| segment == "." || segment == "..");
    fine.then_some(decoded)
}

/// Decodes `%XX` once; `None` for a malformed escape (a `%` not followed by two hex digits,
/// which `percent_encoding` would keep as it is) or bytes that are not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let escaped = |(i, _): (usize, &str)| {
        raw.as_bytes()
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    };
    if !raw.match_indices('%').all(escaped) {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    Some(decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = jiff::Timestamp::constant(1_795_320_000, 0); // 2026-11-22T04:00:00Z
    const TOKEN: &str = "Q2xhcmEtYW5kLUppbW15LXR3MDI2";

    fn content(retry: Option<Retry>) -> Content {
        Content {
            bypass_token: Some(BypassToken::parse(TOKEN).unwrap()),
            retry,
            ..Content::default()
        }
    }

    #[test]
    fn the_link_sets_the_cookie_and_redirects_home() {
        let site = Site::embedded();
        let request = Request::get(&format!("/__maintenance/bypass/{TOKEN}"))
            .with_header("X-Forwarded-Proto", "https");
        let response = answer(&request, &content(None), &site, NOW).expect("a bypass link");
        assert_eq!(response.status, 303);
        assert_eq!(response.header("location"), Some("/"));
        assert_eq!(
            response.header("set-cookie"),
            Some(
                "maint_bypass=Q2xhcmEtYW5kLUppbW15LXR3MDI2; Path=/; Max-Age=43200; Secure; \
                 HttpOnly; SameSite=Lax"
            )
        );
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(response.served.page, PageKind::Bypass);
        assert!(!response.body.contains(TOKEN));
    }

    #[test]
    fn the_cookie_lasts_until_the_announced_end_and_is_secure_over_https_only() {
        let site = Site::embedded();
        let end = Retry::Until("2026-11-22T06:30:00Z".parse::<jiff::Timestamp>().unwrap());
        let request = Request::get(&format!("/__maintenance/bypass/{TOKEN}"))
            .with_header("x-forwarded-proto", "http");
        let response = answer(&request, &content(Some(end)), &site, NOW).unwrap();
        assert_eq!(
            response.header("set-cookie"),
            Some(
                "maint_bypass=Q2xhcmEtYW5kLUppbW15LXR3MDI2; Path=/; Max-Age=9000; HttpOnly; SameSite=Lax"
            )
        );
        // A past end time: the default lifetime.
        let past = Retry::Until("2026-11-22T03:00:00Z".parse::<jiff::Timestamp>().unwrap());
        let response = answer(&request, &content(Some(past)), &site, NOW).unwrap();
        assert!(
            response
                .header("set-cookie")
                .unwrap()
                .contains("Max-Age=43200")
        );
        let head = Request {
            method: "HEAD".into(),
            ..request
        };
        let response = answer(&head, &content(None), &site, NOW).unwrap();
        assert!(response.body.is_empty());
        assert_eq!(response.status, 303);
    }

    #[test]
    fn anything_but_the_current_token_is_an_ordinary_request() {
        let site = Site::embedded();
        let near = format!("{}x", &TOKEN[..TOKEN.len() - 1]);
        let misses = [
            format!("/__maintenance/bypass/{near}"),
            format!("/__maintenance/bypass/{TOKEN}x"),
            format!("/__maintenance/bypass/{TOKEN}/"),
            format!("/__maintenance/bypass/{}", TOKEN.to_lowercase()),
            "/__maintenance/bypass/".to_string(),
            "/__maintenance/bypass".to_string(),
            format!("/__maintenance/bypassx/{TOKEN}"),
            format!("/x/__maintenance/bypass/{TOKEN}"),
        ];
        for path in &misses {
            assert!(
                answer(&Request::get(path), &content(None), &site, NOW).is_none(),
                "{path}"
            );
        }
        let post = Request {
            method: "POST".into(),
            ..Request::get(&format!("/__maintenance/bypass/{TOKEN}"))
        };
        assert!(answer(&post, &content(None), &site, NOW).is_none());
        // No token configured: the path is an ordinary path.
        let none = Request::get(&format!("/__maintenance/bypass/{TOKEN}"));
        assert!(answer(&none, &Content::default(), &site, NOW).is_none());
    }

    #[test]
    fn tokens_are_compared_whole_and_have_the_form_the_rule_takes() {
        let token = BypassToken::parse(TOKEN).unwrap();
        assert!(token.matches(TOKEN));
        assert!(!token.matches(&TOKEN[..TOKEN.len() - 1]));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "BypassToken(..)", "never shown");
        for bad in [
            "",
            "short",
            "has space in it-123456789",
            "üñïçødé-üñïçødé-üñïçødé",
            &"a".repeat(87),
            "a+b/c=d-e_f0123456789ab",
        ] {
            assert!(BypassToken::parse(bad).is_err(), "{bad:?}");
        }
        assert!(BypassToken::parse(&"A".repeat(86)).is_ok());
        // The cookie rule's value, *maint_bypass=TOKEN*, fits the 128 characters of an ALB
        // condition value for the longest token.
        assert!(format!("*{BYPASS_COOKIE}={}*", "A".repeat(86)).len() <= 128);
    }

    #[test]
    fn next_is_a_same_origin_path_or_nothing() {
        for (raw, expected) in [
            ("/cart", Some("/cart")),
            ("%2Fcart%3Fitem%3D7", Some("/cart?item=7")),
            ("/a/b-c_d.e~f", Some("/a/b-c_d.e~f")),
            ("/search?q=a&b=c", Some("/search?q=a&b=c")),
            ("/@user", Some("/@user")),
        ] {
            assert_eq!(safe_next(raw).as_deref(), expected, "{raw:?}");
        }
        let hostile = [
            "https://evil.example",
            "http://evil.example/",
            "//evil.example",
            "%2F%2Fevil.example",
            "/%2Fevil.example",
            "/%2F%2Fevil.example",
            "///evil.example",
            "/\\evil.example",
            "/%5Cevil.example",
            "%5C%5Cevil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,<script>",
            "evil.example",
            "./cart",
            "../cart",
            "/a/../../evil",
            "/a/./b",
            "/a/..",
            "/x\r\nSet-Cookie: a=b",
            "/x%0D%0ASet-Cookie:%20a=b",
            "/x%0a",
            "/x%00",
            "/x%09y",
            "/x y",
            "/x%20y",
            "/\"onmouseover=x",
            "/<script>",
            "/%3Cscript%3E",
            "/%E2%80%AE",
            "/%ZZ",
            "/%2",
            "/%FF",
            "",
            " /cart",
            "/ｅvil",
            &format!("/{}", "a".repeat(600)),
        ];
        for raw in hostile {
            assert_eq!(safe_next(raw), None, "{raw:?}");
        }
        // Through the link: a hostile next redirects home.
        let site = Site::embedded();
        for raw in ["//evil.example", "/x%0D%0ASet-Cookie:%20a=b", "/cart"] {
            let request = Request {
                next: Some(raw.into()),
                ..Request::get(&format!("/__maintenance/bypass/{TOKEN}"))
            };
            let response = answer(&request, &content(None), &site, NOW).unwrap();
            let location = response.header("location").unwrap();
            assert!(
                location == "/" || location == "/cart",
                "{raw:?}: {location}"
            );
        }
    }
}
