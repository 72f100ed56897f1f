//! The local preview: `maintctl serve` (an HTTP/1.1 server on loopback) and `maintctl preview`
//! (every page written to files with an `index.html` gallery).
//!
//! Both go through the very code the Lambda runs, [`Function::handle`], and add nothing to the
//! core: each HTTP request is turned into the ALB event an ALB would send ([`alb_event`]), the
//! event JSON is handed to the function, and the ALB response JSON is turned back into HTTP the
//! way an ALB does it ([`Answer::from_alb_json`]: the header map of the target group's mode only,
//! base64 bodies decoded, hop-by-hop headers dropped, a contract violation answered with 502).
//!
//! What is preview-only lives here and is reserved under [`INDEX_PATH`]: the index page, and
//! `/__preview/page?kind=…&lang=…&format=…`, which forces a page kind, a language and a format.
//! A forced kind travels the production route: the event names a synthetic target group that
//! [`site`] maps to that kind, exactly as a fallback target group is mapped in production.
//!
//! Content comes from the embedded defaults, a TOML file in the SSM layout ([`FileStore`],
//! see `config/content.example.toml`) or SSM itself; files and SSM both go through
//! [`maintenance_responder::ssm::content_from_parameters`] and the content cache, like the Lambda's
//! content.
//!
//! The parts, each in its own module:
//! - `source`: content sources and [`load`], and the preview [`site`] with its forced target
//!   groups;
//! - `emulate`: HTTP request → ALB event and ALB response → HTTP answer, and [`invoke`];
//! - `server`: [`serve`] and the routing of one request;
//! - `index`: the index page (`templates/preview_index.html`) and the stylesheet of both
//!   preview pages (`templates/preview.css`);
//! - `gallery`: [`write_gallery`] and its `index.html` (`templates/preview_gallery.html`).
//!
//! Both pages extend `templates/preview_base.html`; askama escapes every value in them.
//!
//! [`Function::handle`]: maintenance_responder::lambda::Function::handle

mod emulate;
mod gallery;
mod index;
mod options;
mod server;
mod source;

pub use emulate::{Answer, Origin, alb_event, invoke, new_trace_id};
pub use gallery::{GalleryError, extension, write_gallery};
pub use options::ServeOptions;
pub use server::serve;
pub use source::{
    ContentFileError, FileStore, LoadError, Loaded, Source, StaticStore, Store,
    forced_target_group_arn, load, parameters_from_toml, site, site_from,
};

/// The reserved index page of `maintctl serve`; every path under it is the preview's own.
pub const INDEX_PATH: &str = "/__preview/";
/// The reserved route that forces a page: `?kind=not-found&lang=ja&format=json`.
pub const PAGE_PATH: &str = "/__preview/page";
/// Default listen address of `maintctl serve`: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Synthetic SSM prefix under which a content file's keys become parameter names.
pub const FILE_PREFIX: &str = "/preview";
/// The target group named in every event that does not force a page kind.
pub const TARGET_GROUP_ARN: &str =
    "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/maintctl-preview/0000000000000000";
/// Largest request body passed on; like the ALB, a larger one is answered 413.
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;

#[cfg(test)]
mod tests {
    /// Markup and both quotes, as a file name or a configuration value may hold them.
    pub(super) const HOSTILE: &str = "\"'><script>alert(1)</script>";
    /// [`HOSTILE`] as askama escapes it.
    pub(super) const HOSTILE_ESCAPED: &str =
        "&#34;&#39;&#62;&#60;script&#62;alert(1)&#60;/script&#62;";

    /// `html` shows [`HOSTILE`] as text, nowhere as markup, in each of `slots` (`@` standing
    /// for [`HOSTILE_ESCAPED`]).
    pub(super) fn assert_escaped(html: &str, slots: &[&str]) {
        assert!(
            !html.contains("<script") && !html.contains(HOSTILE),
            "{html}"
        );
        for slot in slots {
            let slot = slot.replace('@', HOSTILE_ESCAPED);
            assert!(html.contains(&slot), "{slot} in {html}");
        }
    }
}
