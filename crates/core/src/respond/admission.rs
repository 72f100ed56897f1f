//! The responder's side of a gradual return (`maintctl off --gradual`, [`crate::admission`]):
//! who of the visitors still reaching the maintenance page is let through, and how.
//!
//! During a return (a [`ReturnState`] in the content with a share above 0), a request for the
//! maintenance page ([`decide`]) gets a [`Ticket`]: the one its ticket cookie holds, else one
//! drawn from its `X-Amzn-Trace-Id` root (no trace id, which no ALB request lacks: from the
//! moment it is answered, to the nanosecond). Then:
//!
//! - **let through** (`ticket.admitted(share)`): a `GET`/`HEAD` for HTML or text gets `307` back
//!   to the same same-origin path and query ([`safe_location`]: never an open redirect) with the
//!   admission cookie, and the admission rules above the maintenance rule now take it to the
//!   application; another method, or a JSON client, gets the ordinary 503 with the admission
//!   cookie, so that its next request goes through (a `POST` is never replayed by a redirect);
//! - **waiting**: the ordinary 503 page (its `Retry-After` spread, [`super::decision`]) with the
//!   ticket cookie when the request had none, so the visitor keeps its place and a later, larger
//!   share never sends back a visitor an earlier one let through;
//! - **already let through**: a request that carries the current admission cookie and still
//!   reached the responder gets the ordinary page, never a redirect (that would loop): the
//!   admission rules are not written yet, not yet propagated, or do not match this request.
//!
//! Rules kept here, as for the bypass link ([`super::bypass`]): the token is compared in
//! constant time and never shown (not in `Debug`, not in a body); the cookies are `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, `Secure` when the request came over HTTPS, and last until the
//! return's last step plus [`COOKIE_MARGIN_SECONDS`]; an answer that sets a cookie is never
//! cached (`Cache-Control: no-store`) and never kept by the Lambda's memo. The first
//! `Set-Cookie` is the one that matters most (the admission cookie when there is one): an ALB
//! target group without multi-value headers passes only the first.
//!
//! API clients without cookies are let through once, on the request that drew an admitted
//! ticket, and come back to the page if they do not keep the cookie: they stay on the 503 (with
//! the spread `Retry-After`) until the last step, the ordinary `off`.

use jiff::Timestamp;

use crate::admission::{ReturnState, Ticket};
use crate::content::Content;
use crate::deploy_names::{ADMIT_COOKIE, TICKET_COOKIE};
use crate::page_kind::PageKind;
use crate::respond::negotiate::Format;
use crate::respond::request::Request;
use crate::respond::response::{Response, Served, security_headers};
use crate::site::Site;

/// How long the cookies outlast the return's last step (`ends_at`): a last step delivered late
/// (EventBridge Scheduler tries for 5 minutes, Lambda retries for 10) still finds the visitors
/// it let through on the application.
pub const COOKIE_MARGIN_SECONDS: i64 = 15 * 60;
/// Longest `Location` sent; a longer path goes to `/`, a longer query is left off.
pub const MAX_LOCATION: usize = 2048;

/// What a return does to one request, decided by [`decide`]; no secret in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// No return under way, or a request admission leaves alone (not the maintenance page).
    Ordinary,
    /// Carries the current admission cookie, yet reached the responder: the ordinary page.
    AlreadyAdmitted,
    /// Not let through yet: the ordinary page, with the ticket cookie when `new_ticket`.
    Waiting {
        /// The visitor's place.
        ticket: Ticket,
        /// Drawn now (the request carried no ticket cookie): the answer sets it.
        new_ticket: bool,
        /// The cookies' terms.
        terms: CookieTerms,
    },
    /// Let through now.
    Admitted {
        /// The visitor's place.
        ticket: Ticket,
        /// Drawn now: the answer sets the ticket cookie too.
        new_ticket: bool,
        /// `307` back to the same address (`GET`/`HEAD` for HTML or text); else the ordinary
        /// 503 with the admission cookie.
        redirect: bool,
        /// The cookies' terms.
        terms: CookieTerms,
    },
}

/// How long the cookies last and whether they are `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieTerms {
    /// Seconds: until the return's last step, plus [`COOKIE_MARGIN_SECONDS`].
    pub max_age: i64,
    /// The request came over HTTPS (`X-Forwarded-Proto`).
    pub secure: bool,
}

impl Admission {
    /// Whether the answer is the ordinary page exactly, with nothing of this request in it but
    /// what any page has: the answers the Lambda may keep and share between visitors.
    pub fn is_ordinary(&self) -> bool {
        matches!(
            self,
            Self::Ordinary
                | Self::AlreadyAdmitted
                | Self::Waiting {
                    new_ticket: false,
                    ..
                }
        )
    }

    /// The answer: `ordinary` (the page [`super::render`] makes for the request's decision) as
    /// the admission changes it. `content` holds the token the admission cookie carries.
    pub fn apply(
        self,
        request: &Request,
        content: &Content,
        site: &Site,
        ordinary: impl FnOnce() -> Response,
    ) -> Response {
        let Some(state) = content.return_state.as_ref() else {
            return ordinary();
        };
        match self {
            Self::Ordinary | Self::AlreadyAdmitted => ordinary(),
            Self::Waiting {
                ticket,
                new_ticket,
                terms,
            } => {
                let mut response = ordinary();
                if new_ticket {
                    response
                        .headers
                        .insert(0, ("Set-Cookie", ticket_cookie(ticket, terms)));
                }
                response
            }
            Self::Admitted {
                ticket,
                new_ticket,
                redirect,
                terms,
            } => {
                let mut cookies = vec![("Set-Cookie", admit_cookie(state, terms))];
                if new_ticket {
                    cookies.push(("Set-Cookie", ticket_cookie(ticket, terms)));
                }
                if redirect {
                    return see_again(request, cookies, site);
                }
                let mut response = ordinary();
                response.headers.splice(0..0, cookies);
                response
            }
        }
    }
}

/// Decides what a return does to a request answered with `page` in `format`. Pure and cheap
/// when no return is under way.
pub fn decide(
    request: &Request,
    page: PageKind,
    format: Format,
    content: &Content,
    now: Timestamp,
) -> Admission {
    let Some(state) = content.return_state.as_ref() else {
        return Admission::Ordinary;
    };
    if page != PageKind::Maintenance || state.share_percent == 0 {
        return Admission::Ordinary;
    }
    if request
        .cookies(ADMIT_COOKIE)
        .any(|value| state.token.matches(value))
    {
        return Admission::AlreadyAdmitted;
    }
    let kept = request.cookies(TICKET_COOKIE).find_map(Ticket::parse);
    let ticket = kept.unwrap_or_else(|| draw(request, now));
    let terms = CookieTerms {
        max_age: state
            .ends_at
            .duration_since(now)
            .as_secs()
            .max(0)
            .saturating_add(COOKIE_MARGIN_SECONDS),
        secure: request
            .header("x-forwarded-proto")
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")),
    };
    let new_ticket = kept.is_none();
    if ticket.admitted(state.share_percent) {
        Admission::Admitted {
            ticket,
            new_ticket,
            redirect: request.is_get_or_head()
                && !matches!(format, Format::Json | Format::PlainJson),
            terms,
        }
    } else {
        Admission::Waiting {
            ticket,
            new_ticket,
            terms,
        }
    }
}

/// A new visitor's ticket: drawn from the trace id root, else from `now` to the nanosecond.
fn draw(request: &Request, now: Timestamp) -> Ticket {
    match request.trace_root() {
        Some(root) => Ticket::draw(root.as_bytes()),
        None => Ticket::draw(&now.as_nanosecond().to_be_bytes()),
    }
}

/// `307 Temporary Redirect` back to the request's own address, with the cookies.
fn see_again(request: &Request, cookies: Vec<(&'static str, String)>, site: &Site) -> Response {
    let mut headers = vec![(
        "Location",
        safe_location(&request.path, request.query.as_deref()),
    )];
    headers.extend(cookies);
    headers.push(("Content-Type", Format::Text.content_type().to_string()));
    headers.extend(security_headers(site, None));
    Response {
        status: PageKind::Admit.status(),
        headers,
        body: if request.method == "HEAD" {
            String::new()
        } else {
            "307 Temporary Redirect\n".to_string()
        },
        served: Served {
            page: PageKind::Admit,
            format: Format::Text,
            language: site.config.default_language.clone(),
            trace_id: request.trace_root().map(str::to_string),
        },
    }
}

/// The `Set-Cookie` value of the admission cookie.
fn admit_cookie(state: &ReturnState, terms: CookieTerms) -> String {
    cookie(ADMIT_COOKIE, state.token.expose(), terms)
}

/// The `Set-Cookie` value of the ticket cookie.
fn ticket_cookie(ticket: Ticket, terms: CookieTerms) -> String {
    cookie(TICKET_COOKIE, &ticket.number().to_string(), terms)
}

fn cookie(name: &str, value: &str, terms: CookieTerms) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={};{} HttpOnly; SameSite=Lax",
        terms.max_age,
        if terms.secure { " Secure;" } else { "" }
    )
}

/// The `Location` that sends a visitor back to the address it asked for, on the same origin:
/// the raw path (as the ALB passes it) and query, when the path starts with one `/` followed by
/// neither `/` nor `\` (nor their escapes `%2F`, `%5C`), and both hold only printable ASCII
/// without quotes, angle brackets, backslashes, `` ` ``, `{}|^` or `#`; else `/` (a bad path)
/// or the path alone (a bad query). At most [`MAX_LOCATION`] characters.
pub fn safe_location(path: &str, query: Option<&str>) -> String {
    let allowed = |b: u8| b.is_ascii_graphic() && !b"\"'<>\\`{}|^#".contains(&b);
    let after_slash = path.get(1..).unwrap_or("");
    let escaped_slash = after_slash
        .get(..3)
        .is_some_and(|e| e.eq_ignore_ascii_case("%2f") || e.eq_ignore_ascii_case("%5c"));
    let path_ok = path.starts_with('/')
        && path.len() <= MAX_LOCATION
        && !after_slash.starts_with(['/', '\\'])
        && !escaped_slash
        && path.bytes().all(allowed);
    if !path_ok {
        return "/".to_string();
    }
    match query.filter(|q| {
        !q.is_empty() && path.len() + 1 + q.len() <= MAX_LOCATION && q.bytes().all(allowed)
    }) {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::BypassToken;
    use crate::respond::respond;

    const NOW: Timestamp = jiff::Timestamp::constant(1_795_320_000, 0); // 2026-11-22T04:00:00Z
    const TOKEN: &str = "QWRtaXNzaW9uLXRva2VuLTIwMjY";
    const TRACE: &str = "Root=1-693ecb6b-09d371942facabea343507dd";

    fn content(share: u8) -> Content {
        Content {
            return_state: Some(ReturnState {
                id: "ret-1".into(),
                token: BypassToken::parse(TOKEN).unwrap(),
                step: 1,
                share_percent: share,
                ends_at: "2026-11-22T05:00:00Z".parse().unwrap(),
            }),
            ..Content::default()
        }
    }

    fn get(path: &str) -> Request {
        Request::get(path).with_header("X-Amzn-Trace-Id", TRACE)
    }

    fn with_ticket(request: Request, number: u16) -> Request {
        request.with_header("Cookie", &format!("session=abc; {TICKET_COOKIE}={number}"))
    }

    fn set_cookies(response: &Response) -> Vec<&str> {
        response
            .headers
            .iter()
            .filter(|(n, _)| *n == "Set-Cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn an_admitted_visitor_is_sent_back_with_the_cookie_and_keeps_its_ticket() {
        let site = Site::embedded();
        let request = with_ticket(get("/cart"), 999).with_header("X-Forwarded-Proto", "https");
        let response = respond(&request, &content(10), &site, NOW);
        assert_eq!(response.status, 307);
        assert_eq!(response.served.page, PageKind::Admit);
        assert_eq!(response.header("location"), Some("/cart"));
        assert_eq!(
            set_cookies(&response),
            [format!(
                "maint_admit={TOKEN}; Path=/; Max-Age=4500; Secure; HttpOnly; SameSite=Lax"
            )],
            "the ticket cookie the request carried is not set again"
        );
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert!(!response.body.contains(TOKEN));
        assert!(!format!("{:?}", content(10)).contains(TOKEN));
        // Over plain HTTP: not Secure; a new visitor gets its ticket cookie too, after the
        // admission cookie (the one a single-value target group passes).
        let request = Request {
            query: Some("item=7&ref=mail".into()),
            ..Request::get("/cart")
        }
        .with_header("X-Amzn-Trace-Id", TRACE);
        let ticket = Ticket::draw(b"1-693ecb6b-09d371942facabea343507dd");
        let response = respond(&request, &content(100), &site, NOW);
        assert_eq!(response.header("location"), Some("/cart?item=7&ref=mail"));
        assert_eq!(
            set_cookies(&response),
            [
                format!("maint_admit={TOKEN}; Path=/; Max-Age=4500; HttpOnly; SameSite=Lax"),
                format!(
                    "maint_ticket={}; Path=/; Max-Age=4500; HttpOnly; SameSite=Lax",
                    ticket.number()
                )
            ]
        );
        let head = Request {
            method: "HEAD".into(),
            ..request
        };
        let response = respond(&head, &content(100), &site, NOW);
        assert_eq!((response.status, response.body.as_str()), (307, ""));
    }

    #[test]
    fn a_waiting_visitor_gets_the_page_and_its_ticket_once() {
        let site = Site::embedded();
        let first = respond(&get("/"), &content(1), &site, NOW);
        let ticket = Ticket::draw(b"1-693ecb6b-09d371942facabea343507dd");
        assert!(
            !ticket.admitted(1),
            "this trace id draws a ticket above 100"
        );
        assert_eq!(first.status, 503);
        assert_eq!(first.served.page, PageKind::Maintenance);
        assert_eq!(
            set_cookies(&first),
            [format!(
                "maint_ticket={}; Path=/; Max-Age=4500; HttpOnly; SameSite=Lax",
                ticket.number()
            )]
        );
        assert!(first.header("retry-after").is_some());
        let again = respond(
            &with_ticket(get("/"), ticket.number()),
            &content(1),
            &site,
            NOW,
        );
        assert_eq!(again.status, 503);
        assert!(
            set_cookies(&again).is_empty(),
            "the place is kept by the cookie"
        );
        // The same visitor, a larger share: let through; never sent back by a larger one.
        let mut admitted_at = None;
        for share in 1..=100 {
            let response = respond(
                &with_ticket(get("/"), ticket.number()),
                &content(share),
                &site,
                NOW,
            );
            if response.status == 307 {
                admitted_at.get_or_insert(share);
            } else {
                assert!(
                    admitted_at.is_none(),
                    "share {share} sent back a visitor let through"
                );
            }
        }
        assert_eq!(
            admitted_at,
            Some(u8::try_from(ticket.number() / 100 + 1).unwrap())
        );
    }

    #[test]
    fn other_methods_and_json_clients_get_the_page_with_the_cookie() {
        let site = Site::embedded();
        let post = Request {
            method: "POST".into(),
            ..with_ticket(get("/orders"), 5)
        };
        let json = with_ticket(get("/orders"), 5).with_header("Accept", "application/json");
        for request in [post, json] {
            let response = respond(&request, &content(10), &site, NOW);
            assert_eq!(response.status, 503, "{request:?}");
            assert_eq!(response.header("location"), None);
            assert_eq!(
                set_cookies(&response),
                [format!(
                    "maint_admit={TOKEN}; Path=/; Max-Age=4500; HttpOnly; SameSite=Lax"
                )]
            );
            assert!(response.header("retry-after").is_some());
            assert!(!response.body.contains(TOKEN));
        }
    }

    #[test]
    fn the_current_admission_cookie_never_loops() {
        let site = Site::embedded();
        let carrying =
            with_ticket(get("/"), 5).with_header("Cookie", &format!("{ADMIT_COOKIE}={TOKEN}"));
        let decided = decide(
            &carrying,
            PageKind::Maintenance,
            Format::Html,
            &content(10),
            NOW,
        );
        assert_eq!(decided, Admission::AlreadyAdmitted);
        let response = respond(&carrying, &content(10), &site, NOW);
        assert_eq!(response.status, 503);
        assert!(set_cookies(&response).is_empty());
        // An old token is no admission: the visitor is decided again (and let through).
        let old = with_ticket(get("/"), 5).with_header(
            "Cookie",
            &format!("{ADMIT_COOKIE}=T2xkLXRva2VuLW9mLWFuLWFib3J0ZWQ"),
        );
        assert_eq!(respond(&old, &content(10), &site, NOW).status, 307);
    }

    #[test]
    fn only_the_maintenance_page_during_a_return_is_decided() {
        let site = Site::embedded();
        let request = with_ticket(get("/"), 0);
        for (content, page) in [
            (Content::default(), PageKind::Maintenance),
            (content(0), PageKind::Maintenance),
            (content(100), PageKind::NotFound),
            (content(100), PageKind::ServiceUnavailable),
            (content(100), PageKind::Health),
        ] {
            assert_eq!(
                decide(&request, page, Format::Html, &content, NOW),
                Admission::Ordinary,
                "{page}"
            );
        }
        let health = respond(&with_ticket(get("/healthz"), 0), &content(100), &site, NOW);
        assert_eq!(health.status, 200);
        // The bypass link keeps working during a return.
        let bypass_token = "Q2xhcmEtYW5kLUppbW15LXR3MDI2";
        let both = Content {
            bypass_token: Some(BypassToken::parse(bypass_token).unwrap()),
            ..content(100)
        };
        let link = respond(
            &with_ticket(get(&format!("/__maintenance/bypass/{bypass_token}")), 0),
            &both,
            &site,
            NOW,
        );
        assert_eq!(link.status, 303);
    }

    #[test]
    fn tickets_without_a_trace_id_come_from_the_moment() {
        let request = Request::get("/");
        let at = |nanos: i64| NOW + jiff::SignedDuration::from_nanos(nanos);
        let tickets: std::collections::BTreeSet<u16> = (0..50)
            .map(|i| {
                match decide(
                    &request,
                    PageKind::Maintenance,
                    Format::Html,
                    &content(50),
                    at(i),
                ) {
                    Admission::Admitted { ticket, .. } | Admission::Waiting { ticket, .. } => {
                        ticket.number()
                    }
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert!(tickets.len() > 40, "{tickets:?}");
    }

    #[test]
    fn the_redirect_stays_on_the_same_origin() {
        for (path, query, expected) in [
            ("/", None, "/"),
            (
                "/a/b",
                Some("x=1&y=%2F%2Fevil.example"),
                "/a/b?x=1&y=%2F%2Fevil.example",
            ),
            ("/caf%C3%A9", None, "/caf%C3%A9"),
            ("//evil.example", None, "/"),
            ("//evil.example", Some("a=b"), "/"),
            ("/\\evil.example", None, "/"),
            ("/\\/evil.example", None, "/"),
            ("/%2F%2Fevil.example", None, "/"),
            ("/%2fevil.example", None, "/"),
            ("/%5Cevil.example", None, "/"),
            ("https://evil.example", None, "/"),
            ("evil.example", None, "/"),
            ("", None, "/"),
            ("/a\r\nSet-Cookie: x=1", None, "/"),
            ("/a\"><script>", None, "/"),
            ("/ok", Some("q=<script>"), "/ok"),
            ("/ok", Some("a=1#frag"), "/ok"),
            ("/ok", Some("a=1\r\nX: y"), "/ok"),
            ("/ok", Some(""), "/ok"),
        ] {
            assert_eq!(safe_location(path, query), expected, "{path:?} {query:?}");
        }
        let long = format!("/{}", "a".repeat(MAX_LOCATION));
        assert_eq!(safe_location(&long, None), "/");
        assert_eq!(safe_location("/x", Some(&"a".repeat(MAX_LOCATION))), "/x");
        // Through the answer: a hostile path is sent home.
        let site = Site::embedded();
        for path in ["//evil.example", "/\\evil.example"] {
            let response = respond(&with_ticket(get(path), 0), &content(100), &site, NOW);
            assert_eq!(response.header("location"), Some("/"), "{path}");
        }
    }

    #[test]
    fn the_cookies_last_until_the_end_plus_the_margin() {
        let after_end: Timestamp = "2026-11-22T05:10:00Z".parse().unwrap();
        match decide(
            &with_ticket(get("/"), 0),
            PageKind::Maintenance,
            Format::Html,
            &content(10),
            after_end,
        ) {
            Admission::Admitted { terms, .. } => assert_eq!(terms.max_age, COOKIE_MARGIN_SECONDS),
            other => panic!("{other:?}"),
        }
    }
}
