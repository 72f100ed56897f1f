//! `maintctl preview --out DIR`: [`write_gallery`] renders every page kind × language × format
//! through the function, with the response head of each, plus the health and robots routes, and
//! the answers of a gradual return when the content holds one (a visitor let through, one
//! waiting), and an `index.html` that shows them side by side, rendered from `templates/preview_gallery.html`
//! (askama escapes every value that reaches it). Also [`extension`] and [`GalleryError`].

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use askama::Template;
use hyper::Request;
use hyper::header::HeaderValue;
use hyper::http::request::Parts;

use maintenance_core::admission::Ticket;
use maintenance_core::deploy_names::TICKET_COOKIE;
use maintenance_core::page_kind::PageKind;
use maintenance_core::respond::negotiate::Format;
use maintenance_responder::lambda::Function;
use maintenance_responder::ssm::ParameterStore;

use super::TARGET_GROUP_ARN;
use super::emulate::{Answer, Origin, alb_event, invoke};
use super::index::{KindHeading, PREVIEW_CSS, language_name, mode_label};
use super::options::ServeOptions;
use super::server::{Forced, current_return};

/// The trace id the gallery's events carry, so its files do not change from run to run.
const GALLERY_TRACE_ID: &str = "Root=1-67a1b2c3-0123456789abcdef01234567";

/// File extension of a format in the gallery.
pub fn extension(format: Format) -> &'static str {
    match format {
        Format::Html => "html",
        Format::Json | Format::PlainJson => "json",
        Format::Text => "txt",
    }
}

/// Why the gallery could not be written.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// A file could not be written.
    #[error("failed to write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The gallery's `index.html` could not be rendered.
    #[error("failed to render index.html: {0}")]
    Render(askama::Error),
    /// A response broke the ALB contract (the ALB would answer 502 to it).
    #[error("{page}: {body}")]
    Contract {
        /// Which page.
        page: String,
        /// The preview's 502 text.
        body: String,
    },
}

/// Writes every page kind × language × format to `dir` through `function` (build it with
/// [`load`](super::load)), with the ALB response head of each, plus `health.txt`, `robots.txt`
/// and an `index.html` gallery. Files: `<kind>.<lang>.<html|json|txt>` and the same name plus
/// `.headers.txt`. Returns the paths written, index last.
pub async fn write_gallery<S: ParameterStore>(
    function: &Function<S>,
    dir: &Path,
    options: &ServeOptions,
) -> Result<Vec<PathBuf>, GalleryError> {
    let site = function.site();
    std::fs::create_dir_all(dir).map_err(|source| GalleryError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = Files {
        dir,
        written: Vec::new(),
    };
    let ask = |parts: Parts, arn: String| {
        let origin = Origin {
            client: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            port: 443,
            mode: options.mode,
            target_group_arn: arn,
        };
        async move { invoke(function, &alb_event(&parts, b"", &origin), options.mode).await }
    };
    let mut sections = Vec::new();
    for kind in PageKind::PAGES {
        let mut cards = Vec::new();
        for lang in &site.languages {
            let mut files = Vec::new();
            for format in Format::ALL {
                let mut parts = request("/");
                let forced = Forced {
                    kind,
                    lang: Some(lang),
                    format: Some(format),
                };
                let arn = forced.apply(&mut parts);
                let answer = ask(parts, arn).await;
                let name = file_name(kind, lang, format);
                if answer.status == 502 && kind.status() != 502 {
                    return Err(GalleryError::Contract {
                        page: name,
                        body: String::from_utf8_lossy(&answer.body).into_owned(),
                    });
                }
                out.answer(&name, &answer)?;
                files.push(File {
                    format: format.name(),
                    name,
                });
            }
            cards.push(Card {
                lang: language_name(site, lang),
                html: file_name(kind, lang, Format::Html),
                files,
            });
        }
        sections.push(Section {
            kind: KindHeading::new(kind),
            cards,
        });
    }
    let mut routes = Vec::new();
    for (file, path) in [
        ("health.txt", site.config.health_path.as_str()),
        ("robots.txt", "/robots.txt"),
    ] {
        let answer = ask(request(path), TARGET_GROUP_ARN.into()).await;
        out.answer(file, &answer)?;
        routes.push(Route {
            path,
            file,
            status: answer.status,
        });
    }
    routes.extend(return_answers(function, &ask, &mut out).await?);
    let index = GalleryHtml {
        css: PREVIEW_CSS,
        source: &options.source,
        mode: mode_label(options.mode),
        sections,
        routes,
    }
    .render()
    .map_err(GalleryError::Render)?;
    out.file("index.html", index.as_bytes())?;
    Ok(out.written)
}

/// A gradual return's answers, when the content holds one: a visitor let through (ticket 0, in
/// every share) and one still waiting (the last ticket, in every share but 100).
async fn return_answers<S: ParameterStore, F: Future<Output = Answer>>(
    function: &Function<S>,
    ask: &impl Fn(Parts, String) -> F,
    out: &mut Files<'_>,
) -> Result<Vec<Route<'static>>, GalleryError> {
    let Some(state) = current_return(function).await else {
        return Ok(Vec::new());
    };
    let mut routes = Vec::new();
    for (file, ticket, label) in [
        (
            "return-let-through.txt",
            0,
            "/ (a gradual return: a visitor let through)",
        ),
        (
            "return-waiting.html",
            Ticket::COUNT - 1,
            "/ (a gradual return: a visitor waiting)",
        ),
    ] {
        let mut parts = request("/");
        let cookie = format!("{TICKET_COOKIE}={ticket}");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            parts.headers.insert(hyper::header::COOKIE, value);
        }
        let mut answer = ask(parts, TARGET_GROUP_ARN.into()).await;
        // The files show where the token goes, not the token.
        for (_, value) in &mut answer.headers {
            *value = value.replace(state.token.expose(), "TOKEN");
        }
        out.answer(file, &answer)?;
        routes.push(Route {
            path: label,
            file,
            status: answer.status,
        });
    }
    Ok(routes)
}

/// The gallery's file of a page: `<kind>.<lang>.<html|json|txt>`.
fn file_name(kind: PageKind, lang: &str, format: Format) -> String {
    format!("{}.{lang}.{}", kind.name(), extension(format))
}

/// The request behind a gallery file: `GET path` with a fixed host and trace id.
fn request(path: &str) -> Parts {
    let mut parts = Request::new(()).into_parts().0;
    parts.uri = hyper::Uri::try_from(path).unwrap_or_else(|_| hyper::Uri::from_static("/"));
    parts.headers.insert(
        hyper::header::HOST,
        HeaderValue::from_static("preview.invalid"),
    );
    parts.headers.insert(
        "x-amzn-trace-id",
        HeaderValue::from_static(GALLERY_TRACE_ID),
    );
    parts
}

/// The gallery's directory and the paths written to it so far, in order.
struct Files<'a> {
    dir: &'a Path,
    written: Vec<PathBuf>,
}

impl Files<'_> {
    fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), GalleryError> {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| GalleryError::Write {
            path: path.clone(),
            source,
        })?;
        self.written.push(path);
        Ok(())
    }

    /// The body as `name`, the response head as `name.headers.txt`.
    fn answer(&mut self, name: &str, answer: &Answer) -> Result<(), GalleryError> {
        self.file(name, &answer.body)?;
        self.file(
            &format!("{name}.headers.txt"),
            answer.head_text().as_bytes(),
        )
    }
}

/// `templates/preview_gallery.html`.
#[derive(Template)]
#[template(path = "preview_gallery.html")]
struct GalleryHtml<'a> {
    css: &'a str,
    /// [`super::Source::describe`].
    source: &'a str,
    mode: &'static str,
    sections: Vec<Section<'a>>,
    routes: Vec<Route<'a>>,
}

/// One page kind: a card per language.
struct Section<'a> {
    kind: KindHeading,
    cards: Vec<Card<'a>>,
}

/// One language of a page kind: the HTML page framed, and every file linked.
struct Card<'a> {
    /// The language's own name.
    lang: &'a str,
    /// The HTML file, shown in the frame.
    html: String,
    files: Vec<File>,
}

/// One file of a card.
struct File {
    /// [`Format::name`].
    format: &'static str,
    name: String,
}

/// A route the gallery requested: health and robots, and a gradual return's answers.
struct Route<'a> {
    path: &'a str,
    file: &'static str,
    status: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::tests::{HOSTILE, assert_escaped};

    /// Every text slot of the gallery index gets a value with markup and both quotes: it comes
    /// out as text, never as markup or the end of an attribute.
    #[test]
    fn gallery_index_escapes_every_value() {
        let file = || File {
            format: "html",
            name: HOSTILE.into(),
        };
        let html = GalleryHtml {
            css: PREVIEW_CSS,
            source: HOSTILE,
            mode: "single-value",
            sections: vec![Section {
                kind: KindHeading::new(PageKind::Maintenance),
                cards: vec![Card {
                    lang: HOSTILE,
                    html: HOSTILE.into(),
                    files: vec![file()],
                }],
            }],
            routes: vec![Route {
                path: HOSTILE,
                file: "health.txt",
                status: 200,
            }],
        }
        .render()
        .unwrap();
        assert_escaped(
            &html,
            &[
                "Content: @. ALB events",
                "<iframe src=\"@\" title=\"maintenance @\" sandbox",
                "<strong>@</strong> <a href=\"@\">html</a>",
                "<a href=\"@.headers.txt\">html</a>",
                "<li><code>@</code> (200)",
            ],
        );
    }
}
