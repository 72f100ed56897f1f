//! The index page of `maintctl serve` (at [`INDEX_PATH`](super::INDEX_PATH)): every page kind ×
//! language × format as a link that forces it, a warning for the kinds the configuration
//! shadows, and the routes, rendered from `templates/preview_index.html` (askama escapes every
//! value that reaches it).
//!
//! It also owns what the gallery index shares with it: the preview's stylesheet
//! (`templates/preview.css`, which the index's CSP allows by hash), the page-kind heading,
//! language names and the label of the event mode.

use askama::Template;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use maintenance_core::page_kind::{PageKind, reason_phrase};
use maintenance_core::respond::negotiate::Format;
use maintenance_core::respond::request::Request as CoreRequest;
use maintenance_core::respond::select_page;
use maintenance_core::site::Site;
use maintenance_responder::lambda::alb_event::HeaderMode;

use super::PAGE_PATH;
use super::emulate::Answer;
use super::options::ServeOptions;
use super::source::forced_target_group_arn;

/// The stylesheet of the index and the gallery (not of the pages: those use
/// `templates/style.css`). `templates/preview_base.html` inserts it as it is, so the hash of
/// this text is the hash of what is served.
pub(super) const PREVIEW_CSS: &str = include_str!("../../templates/preview.css");

/// A page kind as both preview pages head it: `maintenance`, `503 Service Unavailable`.
pub(super) struct KindHeading {
    /// [`PageKind::name`].
    pub(super) name: &'static str,
    /// Its status code.
    pub(super) status: u16,
    /// The status code's reason phrase.
    pub(super) reason: &'static str,
}

impl KindHeading {
    pub(super) fn new(kind: PageKind) -> Self {
        let status = kind.status();
        Self {
            name: kind.name(),
            status,
            reason: reason_phrase(status),
        }
    }
}

/// The language's own name from the catalog ("日本語"), or its tag where the catalog has none.
pub(super) fn language_name<'a>(site: &'a Site, lang: &'a str) -> &'a str {
    site.catalog.pack(lang).map_or(lang, |p| p.name.as_str())
}

/// How the pages name the event mode.
pub(super) fn mode_label(mode: HeaderMode) -> &'static str {
    match mode {
        HeaderMode::Multi => "multi-value",
        _ => "single-value",
    }
}

/// Kinds whose forced route does not reach them (the configuration maps the path `/` to a page
/// first, e.g. with a `"/*"` entry): shown as a warning rather than silently previewing another.
pub(super) fn shadowed_kinds(site: &Site) -> Vec<PageKind> {
    PageKind::PAGES
        .into_iter()
        .filter(|&kind| {
            let request = CoreRequest {
                target_group_arn: Some(forced_target_group_arn(kind)),
                ..CoreRequest::get("/")
            };
            select_page(&request, site) != kind
        })
        .collect()
}

/// A language column of the index.
struct Language<'a> {
    tag: &'a str,
    name: &'a str,
}

/// `templates/preview_index.html`.
#[derive(Template)]
#[template(path = "preview_index.html")]
struct IndexHtml<'a> {
    css: &'a str,
    /// [`super::Source::describe`].
    source: &'a str,
    mode: &'static str,
    page_path: &'static str,
    languages: Vec<Language<'a>>,
    kinds: Vec<KindHeading>,
    formats: [&'static str; 3],
    shadowed: Vec<&'static str>,
    health_path: &'a str,
    /// The bypass link of the content's current window, if it has a token.
    bypass_link: Option<String>,
}

impl<'a> IndexHtml<'a> {
    fn new(site: &'a Site, options: &'a ServeOptions, bypass_link: Option<String>) -> Self {
        Self {
            css: PREVIEW_CSS,
            source: &options.source,
            mode: mode_label(options.mode),
            page_path: PAGE_PATH,
            languages: site
                .languages
                .iter()
                .map(|tag| Language {
                    tag,
                    name: language_name(site, tag),
                })
                .collect(),
            kinds: PageKind::PAGES.into_iter().map(KindHeading::new).collect(),
            formats: Format::ALL.map(Format::name),
            shadowed: shadowed_kinds(site)
                .into_iter()
                .map(PageKind::name)
                .collect(),
            health_path: &site.config.health_path,
            bypass_link,
        }
    }
}

/// The index page of `maintctl serve`, with a CSP that allows exactly [`PREVIEW_CSS`];
/// `bypass_link`: the current window's link, when the content has a token.
pub(super) fn index_page(
    site: &Site,
    options: &ServeOptions,
    bypass_link: Option<String>,
) -> Answer {
    let html = match IndexHtml::new(site, options, bypass_link).render() {
        Ok(html) => html,
        Err(e) => {
            return Answer::text(
                500,
                format!(
                    "500 Internal Server Error\n\nmaintctl serve: the index page failed: {e}\n"
                ),
            );
        }
    };
    let hash =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(PREVIEW_CSS.as_bytes()));
    Answer {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/html; charset=utf-8".into()),
            ("Cache-Control".into(), "no-store".into()),
            ("X-Content-Type-Options".into(), "nosniff".into()),
            (
                "Content-Security-Policy".into(),
                format!(
                    "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
                ),
            ),
        ],
        body: html.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::site;
    use crate::preview::tests::{HOSTILE, assert_escaped};

    #[test]
    fn embedded_site_shadows_no_kind() {
        assert!(shadowed_kinds(&site(Site::embedded())).is_empty());
    }

    /// Every text slot of the index gets a value with markup and both quotes: it comes out as
    /// text, never as markup or the end of an attribute.
    #[test]
    fn index_escapes_every_value() {
        let mut site = site(Site::embedded());
        site.config.health_path = format!("/{HOSTILE}");
        let options = ServeOptions {
            mode: HeaderMode::Single,
            source: HOSTILE.into(),
        };
        let mut page = IndexHtml::new(&site, &options, None);
        page.languages[0].name = HOSTILE;
        page.languages[1].tag = HOSTILE;
        let html = page.render().unwrap();
        assert_escaped(
            &html,
            &[
                "Content: @. ALB events",
                "<th>@ <code>en</code></th>",
                "<code>@</code></th>",
                "&amp;lang=@&amp;format=json\">json</a>",
                "<a href=\"/@\">/@</a>: the health route",
            ],
        );
    }

    #[test]
    fn the_csp_allows_the_stylesheet_that_is_served() {
        let site = site(Site::embedded());
        let answer = index_page(&site, &ServeOptions::from(HeaderMode::Single), None);
        let html = String::from_utf8(answer.body.clone()).unwrap();
        assert!(html.contains(&format!("<style>{PREVIEW_CSS}</style>")));
        let hash = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(PREVIEW_CSS.as_bytes()));
        let csp = answer.header("content-security-policy").unwrap();
        assert!(
            csp.contains(&format!("style-src 'sha256-{hash}';")),
            "{csp}"
        );
    }
}
