//! `maintctl preview --out DIR`: [`write_gallery`] renders every page kind × language × format
//! through the function, with the response head of each, plus the health and robots routes and
//! an `index.html` gallery that shows them side by side.

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use hyper::Request;
use hyper::header::HeaderValue;

use crate::lambda::Function;
use crate::page_kind::{PageKind, reason_phrase};
use crate::respond::negotiate::Format;
use crate::site::Site;
use crate::ssm::ParameterStore;

use super::TARGET_GROUP_ARN;
use super::emulate::{Origin, alb_event, invoke};
use super::index::{escape, mode_label, shell};
use super::server::{Forced, ServeOptions};

/// The trace id the gallery's events carry, so its files do not change from run to run.
const GALLERY_TRACE_ID: &str = "Root=1-67a1b2c3-0123456789abcdef01234567";

/// File extension of a format in the gallery.
pub fn extension(format: Format) -> &'static str {
    match format {
        Format::Html => "html",
        Format::Json => "json",
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
/// [`load`](super::load)), with the ALB response head of each, plus `health.txt`, `robots.txt` and an
/// `index.html` gallery. Files: `<kind>.<lang>.<html|json|txt>` and the same name plus
/// `.headers.txt`. Returns the paths written, index last.
pub async fn write_gallery<S: ParameterStore>(
    function: &Function<S>,
    dir: &Path,
    options: &ServeOptions,
) -> Result<Vec<PathBuf>, GalleryError> {
    let site = function.site();
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, GalleryError> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| GalleryError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    std::fs::create_dir_all(dir).map_err(|source| GalleryError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let origin = |arn: String| Origin {
        client: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        port: 443,
        mode: options.mode,
        target_group_arn: arn,
    };
    let base = |path: &str| {
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
    };
    let mut written = Vec::new();
    let mut entries = Vec::new();
    for kind in PageKind::PAGES {
        for lang in &site.languages {
            for format in Format::ALL {
                let mut parts = base("/");
                let forced = Forced {
                    kind,
                    lang: Some(lang),
                    format: Some(format),
                };
                let arn = forced.apply(&mut parts);
                let answer = invoke(
                    function,
                    &alb_event(&parts, b"", &origin(arn)),
                    options.mode,
                )
                .await;
                let name = format!("{}.{lang}.{}", kind.name(), extension(format));
                if answer.status == 502 && kind.status() != 502 {
                    return Err(GalleryError::Contract {
                        page: name,
                        body: String::from_utf8_lossy(&answer.body).into_owned(),
                    });
                }
                written.push(write(&name, &answer.body)?);
                written.push(write(
                    &format!("{name}.headers.txt"),
                    answer.head_text().as_bytes(),
                )?);
                entries.push((kind, lang.clone(), format, name));
            }
        }
    }
    let mut routes = Vec::new();
    for (file, path) in [
        ("health.txt", site.config.health_path.as_str()),
        ("robots.txt", "/robots.txt"),
    ] {
        let parts = base(path);
        let answer = invoke(
            function,
            &alb_event(&parts, b"", &origin(TARGET_GROUP_ARN.into())),
            options.mode,
        )
        .await;
        written.push(write(file, &answer.body)?);
        written.push(write(
            &format!("{file}.headers.txt"),
            answer.head_text().as_bytes(),
        )?);
        routes.push((path.to_string(), file, answer.status));
    }
    let index = gallery_index(site, options, &entries, &routes);
    written.push(write("index.html", index.as_bytes())?);
    Ok(written)
}

/// One rendered page of the gallery: kind, language, format, file name.
type Entry = (PageKind, String, Format, String);

fn gallery_index(
    site: &Site,
    options: &ServeOptions,
    entries: &[Entry],
    routes: &[(String, &str, u16)],
) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Maintenance pages: preview gallery</h1>\n<p class=\"meta\">Rendered by <code>maintctl preview</code> \
         through the Lambda's own code path. Content: {}. ALB events: {}. Support references show a sample trace id.</p>\n",
        escape(&options.source),
        mode_label(options.mode)
    );
    for kind in PageKind::PAGES {
        let status = kind.status();
        let _ = write!(
            body,
            "<h2 id=\"{0}\"><code>{0}</code>: {status} {1}</h2>\n<div class=\"grid\">\n",
            kind.name(),
            reason_phrase(status)
        );
        for lang in &site.languages {
            let html = format!("{}.{lang}.html", kind.name());
            let lang_name = site
                .catalog
                .pack(lang)
                .map_or(lang.as_str(), |p| p.name.as_str());
            let _ = write!(
                body,
                "<figure><iframe src=\"{0}\" title=\"{1} {2}\" sandbox loading=\"lazy\"></iframe>\n<figcaption><strong>{2}</strong> ",
                escape(&html),
                kind.name(),
                escape(lang_name)
            );
            let files: Vec<_> = entries
                .iter()
                .filter(|(k, l, _, _)| *k == kind && l == lang)
                .collect();
            for (_, _, format, name) in &files {
                let _ = write!(body, "<a href=\"{}\">{}</a>", escape(name), format.name());
            }
            body.push_str("<br>response head: ");
            for (_, _, format, name) in &files {
                let _ = write!(
                    body,
                    "<a href=\"{}.headers.txt\">{}</a>",
                    escape(name),
                    format.name()
                );
            }
            body.push_str("</figcaption></figure>\n");
        }
        body.push_str("</div>\n");
    }
    body.push_str("<h2>Routes</h2>\n<ul>\n");
    for (path, file, status) in routes {
        let _ = writeln!(
            body,
            "<li><code>{}</code> ({status}): <a href=\"{1}\">{1}</a>, <a href=\"{1}.headers.txt\">headers</a></li>",
            escape(path),
            escape(file)
        );
    }
    body.push_str("</ul>\n");
    shell("Maintenance pages: preview gallery", &body)
}
