//! The index page of `maintctl serve` (at [`INDEX_PATH`](super::INDEX_PATH)): every page kind × language ×
//! format as a link that forces it, the kinds the configuration shadows, and the routes.

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::lambda::alb_event::HeaderMode;
use crate::page_kind::{PageKind, reason_phrase};
use crate::respond::negotiate::Format;
use crate::respond::request::Request as CoreRequest;
use crate::respond::select_page;
use crate::site::Site;

use super::PAGE_PATH;
use super::emulate::Answer;
use super::server::ServeOptions;
use super::source::forced_target_group_arn;

/// Link to a forced page.
fn page_link(kind: PageKind, lang: &str, format: Format) -> String {
    format!(
        "{PAGE_PATH}?kind={}&lang={lang}&format={}",
        kind.name(),
        format.name()
    )
}

/// Escapes text for HTML text and double-quoted attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The stylesheet of the index and the gallery (not of the pages: those use `templates/`).
const PREVIEW_CSS: &str = "\
:root{color-scheme:light dark;--fg:#1d2330;--muted:#5a6272;--line:#d9dde3;--bg:#f5f6f8;--card:#fff}\
@media (prefers-color-scheme:dark){:root{--fg:#e8eaee;--muted:#a4abb8;--line:#2e333c;--bg:#14171c;--card:#1d2128}}\
body{margin:0;padding:24px 16px;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\"Noto Sans CJK JP\",sans-serif}\
main{max-width:1100px;margin:0 auto}\
h1{font-size:1.4rem;margin:0 0 4px}h2{font-size:1.1rem;margin:28px 0 8px}\
.meta{color:var(--muted);margin:0 0 16px}\
.scroll{overflow-x:auto}\
table{border-collapse:collapse;background:var(--card);min-width:100%}\
th,td{border:1px solid var(--line);padding:6px 10px;text-align:left;vertical-align:top}\
td a{margin-right:10px}\
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\
.warn{color:#b3261e}\
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px}\
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}\
iframe{display:block;width:100%;height:460px;border:0;border-bottom:1px solid var(--line);background:#fff}\
figcaption{padding:8px 10px;font-size:.9rem}figcaption a{margin-right:10px}";

/// Wraps a body in the preview's page shell.
pub(super) fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{}</title>\n<style>{PREVIEW_CSS}</style>\n\
         </head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

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

/// The index page of `maintctl serve`.
pub(super) fn index_page(site: &Site, options: &ServeOptions) -> Answer {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>maintctl serve</h1>\n<p class=\"meta\">Every page through the Lambda's own code path. \
         Content: {}. ALB events: {}.</p>\n",
        escape(&options.source),
        mode_label(options.mode)
    );
    body.push_str(
        "<h2>Pages</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th>Page</th><th>Status</th>",
    );
    for lang in &site.languages {
        let name = site
            .catalog
            .pack(lang)
            .map_or(lang.as_str(), |p| p.name.as_str());
        let _ = write!(
            body,
            "<th>{} <code>{}</code></th>",
            escape(name),
            escape(lang)
        );
    }
    body.push_str("</tr></thead>\n<tbody>\n");
    for kind in PageKind::PAGES {
        let status = kind.status();
        let _ = write!(
            body,
            "<tr><th><code>{}</code></th><td>{status} {}</td>",
            kind.name(),
            reason_phrase(status)
        );
        for lang in &site.languages {
            body.push_str("<td>");
            for format in Format::ALL {
                let _ = write!(
                    body,
                    "<a href=\"{}\">{}</a>",
                    escape(&page_link(kind, lang, format)),
                    format.name()
                );
            }
            body.push_str("</td>");
        }
        body.push_str("</tr>\n");
    }
    body.push_str("</tbody></table></div>\n");
    let shadowed = shadowed_kinds(site);
    if !shadowed.is_empty() {
        let names: Vec<_> = shadowed.iter().map(|k| k.name()).collect();
        let _ = writeln!(
            body,
            "<p class=\"warn\">The configuration's <code>paths</code> map <code>/</code> to a page, so these links show that page instead: {}.</p>",
            escape(&names.join(", "))
        );
    }
    let _ = write!(
        body,
        "<h2>Routes</h2>\n<ul>\n<li><a href=\"/\">/</a>: what your browser gets (page, language and format negotiated)</li>\n\
         <li><a href=\"{0}\">{0}</a>: the health route (200 during maintenance)</li>\n\
         <li><a href=\"/robots.txt\">/robots.txt</a></li>\n</ul>\n",
        escape(&site.config.health_path)
    );
    let html = shell("maintctl serve: preview", &body);
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

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
