//! The browser check: a real headless Chromium (Debian package `chromium`) loads every page kind
//! in every language from the real `maintctl serve`, at 375×667 and 1280×800, in the light and
//! the dark colour scheme, and asserts for each: the title and the message are visible (above
//! the fold, inside the viewport), legible (WCAG contrast), no console errors, no CSP
//! violations, no request leaves the page's own origin, nothing overflows horizontally; and
//! that the dark scheme is really applied. Screenshots go to `target/browser-screenshots/`.
//!
//! Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: file
//! descriptors 3 and 4, NUL-separated JSON), so no WebDriver server, websocket crate or npm
//! package is needed; the driver is `tests/common/chromium.rs`, shared with
//! `tests/browser/bypass_browser.rs`. A missing Chromium fails the test; it never skips.

use crate::chromium;

use std::path::Path;
use std::time::Instant;

use base64::Engine as _;
use chromium::{Browser, Serve, VIEWPORTS, screenshot_root};
use maintenance_core::page_kind::PageKind;
use maintenance_core::site::Site;
use serde_json::json;

/// Runs in the page: what the assertions need, measured by the browser itself.
const MEASURE: &str = r#"(() => {
  const visible = el => {
    if (!el) return false;
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
      && parseFloat(s.opacity) > 0 && r.left >= 0 && r.right <= innerWidth + 0.5 && r.top >= 0 && r.bottom <= innerHeight;
  };
  const rgb = c => {
    let m = c.match(/^rgba?\(([\d.]+),?\s*([\d.]+),?\s*([\d.]+)(?:\s*[,/]\s*([\d.]+))?\)$/);
    if (m) return [+m[1] / 255, +m[2] / 255, +m[3] / 255, m[4] === undefined ? 1 : +m[4]];
    m = c.match(/^color\(srgb ([\d.e-]+) ([\d.e-]+) ([\d.e-]+)(?: \/ ([\d.]+))?\)$/);
    if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
    return null;
  };
  const lum = ([r, g, b]) => {
    const f = v => v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const card = document.querySelector('main.card') || document.body;
  const bg = card ? rgb(getComputedStyle(card).backgroundColor) : null;
  const contrast = sel => [...document.querySelectorAll(sel)].map(el => {
    const fg = rgb(getComputedStyle(el).color);
    if (!fg || !bg || fg[3] < 1 || bg[3] < 1) return { sel, ratio: null, color: getComputedStyle(el).color };
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return { sel, ratio: (a + 0.05) / (b + 0.05), color: getComputedStyle(el).color };
  });
  const h1 = document.querySelector('h1');
  const message = document.querySelector('main h1 ~ p');
  return {
    lang: document.documentElement.lang,
    title: h1 ? h1.innerText.trim() : null,
    titleVisible: visible(h1),
    message: message ? message.innerText.trim() : null,
    messageVisible: visible(message),
    logoVisible: visible(document.querySelector('img.logo')),
    logoLoaded: !!document.querySelector('img.logo') && document.querySelector('img.logo').naturalWidth > 0,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: innerWidth,
    bodyBackground: getComputedStyle(document.body).backgroundColor,
    contrast: [...contrast('h1'), ...contrast('main p'), ...contrast('main a')],
    csp: window.__csp || null,
  };
})()"#;

/// One page to check and what it must show.
struct Page {
    path: String,
    name: String,
    title: String,
    lang: String,
    logo: bool,
}

#[derive(Default)]
struct Report {
    failures: Vec<String>,
    screenshots: usize,
}

/// Loads a page at each viewport and scheme, asserts, and saves screenshots under `dir`.
fn check_page(
    browser: &mut Browser,
    session: &str,
    serve: &Serve,
    page: &Page,
    dir: &Path,
    report: &mut Report,
) {
    let url = format!("{}{}", serve.origin, page.path);
    let mut backgrounds = Vec::new();
    for (width, height) in VIEWPORTS {
        for scheme in ["light", "dark"] {
            let at = format!("{} at {width}x{height} {scheme}", page.name);
            let mut fail = |problem: String| report.failures.push(format!("{at}: {problem}"));
            browser.call(
                Some(session),
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 }),
            );
            browser.call(
                Some(session),
                "Emulation.setEmulatedMedia",
                json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
            );
            browser.events.clear();
            browser.call(Some(session), "Page.navigate", json!({ "url": url }));
            browser.wait_for(session, "Page.loadEventFired");
            let m = browser.evaluate(session, MEASURE);

            if m["title"] != page.title.as_str() {
                fail(format!("title {} instead of {:?}", m["title"], page.title));
            }
            if m["titleVisible"] != true {
                fail("the title is not visible in the first screen".into());
            }
            if m["message"].as_str().is_none_or(str::is_empty) || m["messageVisible"] != true {
                fail(format!(
                    "the message is missing or not visible: {}",
                    m["message"]
                ));
            }
            if m["lang"] != page.lang.as_str() {
                fail(format!("<html lang> is {}", m["lang"]));
            }
            if page.logo && (m["logoVisible"] != true || m["logoLoaded"] != true) {
                fail("the logo is not shown".into());
            }
            let (scroll, inner) = (
                m["scrollWidth"].as_f64().unwrap(),
                m["innerWidth"].as_f64().unwrap(),
            );
            if scroll > inner {
                fail(format!(
                    "horizontal overflow: scrollWidth {scroll} > innerWidth {inner}"
                ));
            }
            for c in m["contrast"].as_array().unwrap() {
                let minimum = if c["sel"] == "h1" { 3.0 } else { 4.5 };
                match c["ratio"].as_f64() {
                    Some(ratio) if ratio >= minimum => {}
                    _ => fail(format!(
                        "{} colour {} has contrast {} (< {minimum})",
                        c["sel"], c["color"], c["ratio"]
                    )),
                }
            }
            if m["csp"].as_array().is_none_or(|v| !v.is_empty()) {
                fail(format!("CSP violations: {}", m["csp"]));
            }
            backgrounds.push((scheme, m["bodyBackground"].clone()));

            for event in &browser.events {
                if event["sessionId"] != session {
                    continue;
                }
                let params = &event["params"];
                match event["method"].as_str().unwrap_or("") {
                    "Runtime.consoleAPICalled" => {
                        fail(format!("console.{}: {}", params["type"], params["args"]))
                    }
                    "Runtime.exceptionThrown" => {
                        fail(format!("exception: {}", params["exceptionDetails"]))
                    }
                    "Log.entryAdded" => {
                        let entry = &params["entry"];
                        let level = entry["level"].as_str().unwrap_or("");
                        // The document itself is an error page on purpose (503, 404, …);
                        // Chromium logs its status as a network error, which is not the page's.
                        let own_status =
                            entry["source"] == "network" && entry["url"] == url.as_str();
                        if matches!(level, "error" | "warning") && !own_status {
                            fail(format!(
                                "console {level} ({}): {}",
                                entry["source"], entry["text"]
                            ));
                        }
                    }
                    "Network.requestWillBeSent" => {
                        let target = params["request"]["url"].as_str().unwrap_or("");
                        let same_origin = target == serve.origin
                            || target.starts_with(&format!("{}/", serve.origin));
                        if !same_origin && !target.starts_with("data:") {
                            fail(format!("request to another origin: {target}"));
                        }
                    }
                    "Network.loadingFailed" => fail(format!("a request failed: {params}")),
                    _ => {}
                }
            }

            let shot = browser.call(
                Some(session),
                "Page.captureScreenshot",
                json!({ "format": "png" }),
            );
            let png = base64::engine::general_purpose::STANDARD
                .decode(shot["data"].as_str().unwrap())
                .unwrap();
            std::fs::write(
                dir.join(format!("{}.{width}x{height}.{scheme}.png", page.name)),
                png,
            )
            .unwrap();
            report.screenshots += 1;
        }
    }
    if backgrounds.iter().all(|(_, b)| *b == backgrounds[0].1) {
        report.failures.push(format!(
            "{}: the dark scheme does not change the page ({backgrounds:?})",
            page.name
        ));
    }
}

/// Every page the site has, as the preview index links them, in HTML.
fn pages(site: &Site, content_title: Option<(&str, &str)>, logo: bool) -> Vec<Page> {
    let mut out = Vec::new();
    for kind in PageKind::PAGES {
        for lang in &site.languages {
            let builtin = &site.catalog.pack(lang).unwrap().text(kind).title;
            let title = match content_title {
                Some((l, t)) if kind == PageKind::Maintenance && l == lang => t.to_string(),
                _ => builtin.clone(),
            };
            out.push(Page {
                path: format!(
                    "/__preview/page?kind={}&lang={lang}&format=html",
                    kind.name()
                ),
                name: format!("{}.{lang}", kind.name()),
                title,
                lang: lang.clone(),
                logo,
            });
        }
    }
    out
}

fn example_title(lang: &str) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/content.example.toml"),
    )
    .unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table[lang]["title"].as_str().unwrap().to_string()
}

#[test]
fn every_page_in_a_real_browser() {
    let started = Instant::now();
    let root = screenshot_root();
    let mut browser = Browser::launch();
    let session = browser.new_page();
    let site = Site::embedded();
    let mut report = Report::default();

    // 1. As `maintctl serve` runs on a fresh machine: embedded configuration and content.
    {
        let serve = Serve::start(&[]);
        let dir = root.join("default");
        std::fs::create_dir_all(&dir).unwrap();
        let index = Page {
            path: "/__preview/".into(),
            name: "preview-index".into(),
            title: "maintctl serve".into(),
            lang: "en".into(),
            logo: false,
        };
        for page in std::iter::once(index).chain(pages(&site, None, false)) {
            check_page(&mut browser, &session, &serve, &page, &dir, &mut report);
        }
    }

    // 2. Branded (name, colour, SVG logo as a data: URI) with live content: links, an end time.
    {
        let work = tempfile::tempdir().unwrap();
        let config = work.path().join("responder.toml");
        std::fs::write(
            &config,
            r##"[brand]
name = "Example Shop"
color = "#0b7a5a"
logo_svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#0b7a5a"/><path d="M9 17l5 5 9-11" stroke="#fff" stroke-width="3" fill="none"/></svg>'
"##,
        )
        .unwrap();
        let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2);
        let example = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/content.example.toml"),
        )
        .unwrap();
        let content = work.path().join("content.toml");
        let end = until.to_string();
        std::fs::write(
            &content,
            example.replace(
                "retry-after = \"1800\"",
                &format!("retry-after = \"{end}\""),
            ),
        )
        .unwrap();
        let serve = Serve::start(&[
            "--config",
            config.to_str().unwrap(),
            "--content",
            content.to_str().unwrap(),
        ]);
        let dir = root.join("branded");
        std::fs::create_dir_all(&dir).unwrap();
        for lang in &site.languages {
            let title = example_title(lang);
            for page in pages(&site, Some((lang, &title)), true)
                .into_iter()
                .filter(|p| p.lang == *lang)
            {
                check_page(&mut browser, &session, &serve, &page, &dir, &mut report);
            }
        }

        // The check itself: a page that breaks its CSP must be caught (the detector works).
        browser.call(
            Some(&session),
            "Page.navigate",
            json!({ "url": format!("{}/", serve.origin) }),
        );
        browser.wait_for(&session, "Page.loadEventFired");
        let caught = browser.evaluate(
            &session,
            "new Promise(done => { document.addEventListener('securitypolicyviolation', () => done(window.__csp), { once: true }); \
             setTimeout(() => done(window.__csp), 5000); \
             const img = document.createElement('img'); img.src = 'https://example.invalid/x.png'; document.body.append(img); })",
        );
        assert!(
            caught.as_array().is_some_and(|v| v
                .iter()
                .any(|s| s.as_str().unwrap_or("").starts_with("img-src"))),
            "the CSP violation detector did not fire: {caught}"
        );
    }

    eprintln!(
        "browser check: {} screenshots in {} ({:.1} s)",
        report.screenshots,
        root.display(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        report.failures.is_empty(),
        "{} problems:\n{}",
        report.failures.len(),
        report.failures.join("\n")
    );
}
