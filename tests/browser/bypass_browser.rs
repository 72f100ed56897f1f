//! The bypass link in a real headless Chromium (issue #14), on `maintctl serve --content FILE`
//! with a token in the file: opening the link is answered `303` with the bypass cookie
//! (`HttpOnly`, `SameSite=Lax`, `Path=/`, not readable by the page's scripts), the browser
//! follows to the `next` path and sends the cookie with that request and every later one, and
//! the preview answers them as the ALB's cookie rule would ("would reach the application"). A
//! browser without the cookie, or with a wrong token, gets the maintenance page. Driven over
//! the DevTools protocol on a pipe, as `tests/browser/browser.rs` is.

use crate::chromium;

use chromium::{Browser, Serve};
use serde_json::{Value, json};

const TOKEN: &str = "Hq3vT0bZ7yLw2kPn9sXc4dRf6gJm1aUe8iOo5tYhB_-";

/// Navigates a tab and waits for the page to load; returns the document's text.
fn open(browser: &mut Browser, session: &str, url: &str) -> String {
    browser.events.clear();
    browser.call(Some(session), "Page.navigate", json!({ "url": url }));
    browser.wait_for(session, "Page.loadEventFired");
    browser
        .evaluate(session, "document.body.innerText")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The network events of `session` seen since the last navigation, by method.
fn events<'a>(browser: &'a Browser, session: &str, method: &str) -> Vec<&'a Value> {
    browser
        .events
        .iter()
        .filter(|e| e["method"] == method && e["sessionId"] == session)
        .map(|e| &e["params"])
        .collect()
}

/// A header's value in a DevTools header map (names in any case).
fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a str> {
    headers
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

#[test]
fn the_link_sets_the_cookie_and_the_next_requests_carry_it() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content.toml");
    std::fs::write(
        &content,
        format!(
            "retry-after = 900\n[en]\ntitle = \"Upgrading the shop\"\n[bypass]\ntoken = \"{TOKEN}\"\n"
        ),
    )
    .unwrap();
    let serve = Serve::start(&["--content", content.to_str().unwrap()]);
    let mut browser = Browser::launch();
    let session = browser.new_page();

    // Without the cookie: the maintenance page.
    let page = open(&mut browser, &session, &format!("{}/cart", serve.origin));
    assert!(page.contains("Upgrading the shop"), "{page}");

    let link = format!("{}/__maintenance/bypass/{TOKEN}?next=%2Fcart", serve.origin);
    let page = open(&mut browser, &session, &link);
    assert!(page.contains("would reach the application"), "{page}");
    assert!(page.contains("/cart"), "followed to next: {page}");

    // The redirect, as the browser saw it: 303 to /cart with the cookie.
    let sent = events(&browser, &session, "Network.requestWillBeSent");
    let redirect = sent
        .iter()
        .find_map(|p| p.get("redirectResponse"))
        .unwrap_or_else(|| panic!("no redirect: {sent:#?}"));
    assert_eq!(redirect["status"], 303, "{redirect}");
    assert_eq!(header(&redirect["headers"], "location"), Some("/cart"));
    let raw: Vec<&Value> = events(&browser, &session, "Network.responseReceivedExtraInfo");
    let set_cookie = raw
        .iter()
        .find_map(|p| header(&p["headers"], "set-cookie"))
        .unwrap_or_else(|| panic!("no Set-Cookie seen: {raw:#?}"));
    assert!(
        set_cookie.starts_with(&format!("maint_bypass={TOKEN}; Path=/; Max-Age="))
            && set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    // The request that followed carried it.
    let extra = events(&browser, &session, "Network.requestWillBeSentExtraInfo");
    let carried = extra.iter().any(|p| {
        header(&p["headers"], "cookie")
            .is_some_and(|c| c.contains(&format!("maint_bypass={TOKEN}")))
    });
    assert!(
        carried,
        "the request after the redirect sent no cookie: {extra:#?}"
    );

    // The browser keeps it: HttpOnly (no script reads it), Lax, for the whole site.
    let cookies = browser.call(
        Some(&session),
        "Network.getCookies",
        json!({ "urls": [serve.origin.clone()] }),
    );
    let cookie = cookies["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "maint_bypass")
        .unwrap_or_else(|| panic!("{cookies}"));
    assert_eq!(cookie["value"], TOKEN);
    assert_eq!(cookie["httpOnly"], true);
    assert_eq!(cookie["sameSite"], "Lax");
    assert_eq!(cookie["path"], "/");
    assert_eq!(cookie["secure"], false, "plain HTTP here: no Secure");
    let script_sees = browser.evaluate(&session, "document.cookie");
    assert!(
        !script_sees
            .as_str()
            .unwrap_or_default()
            .contains("maint_bypass"),
        "{script_sees}"
    );

    // Every later page of the site carries it too.
    let page = open(&mut browser, &session, &format!("{}/", serve.origin));
    assert!(page.contains("would reach the application"), "{page}");

    // Another browser (a fresh context: no cookie), and a wrong token: the maintenance page,
    // and no cookie.
    let context = browser.call(None, "Target.createBrowserContext", json!({}));
    let target = browser.call(
        None,
        "Target.createTarget",
        json!({ "url": "about:blank", "browserContextId": context["browserContextId"] }),
    );
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
    );
    let other = attached["sessionId"].as_str().unwrap().to_string();
    for domain in ["Page.enable", "Runtime.enable", "Network.enable"] {
        browser.call(Some(&other), domain, json!({}));
    }
    let wrong = format!(
        "{}/__maintenance/bypass/{}",
        serve.origin,
        TOKEN.to_ascii_lowercase()
    );
    for url in [format!("{}/", serve.origin), wrong] {
        let page = open(&mut browser, &other, &url);
        assert!(page.contains("Upgrading the shop"), "{url}: {page}");
        assert!(!page.contains("would reach"), "{url}: {page}");
    }
    let cookies = browser.call(
        Some(&other),
        "Network.getCookies",
        json!({ "urls": [serve.origin.clone()] }),
    );
    assert_eq!(cookies["cookies"], json!([]), "{cookies}");
}
