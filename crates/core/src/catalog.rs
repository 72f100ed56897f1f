//! The built-in texts, per language ([`Catalog`]: `config/content.toml`, embedded at build
//! time): every page's title and message and the labels around them. Validated with the same
//! rules as the live content ([`crate::content`]): a catalog read from TOML when it is read, the
//! embedded one by the tests (so not again at every cold start).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::content::{Text, ValueError, check_message, check_title, is_language_tag};
use crate::page_kind::PageKind;

/// Fixed labels around the message, per language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// "Expected back", before the end time.
    pub expected_back: String,
    /// Retry hint with a `{minutes}` placeholder.
    pub retry_in: String,
    /// Retry hint with an `{hours}` placeholder, for delays of two hours or more.
    pub retry_in_hours: String,
    /// Retry hint for delays under two minutes.
    pub retry_soon: String,
    /// "Support reference", before the trace id.
    pub support_reference: String,
    /// Text of the status-page link.
    pub status_page: String,
    /// Text of the contact link.
    pub contact: String,
    /// "Error", before the status code on error pages.
    pub error_code: String,
}

/// Every built-in text of one language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguagePack {
    /// The language's own name ("English", "日本語"), for the preview index.
    pub name: String,
    /// Default maintenance title and message.
    pub maintenance: Text,
    /// 404 page.
    #[serde(rename = "not-found")]
    pub not_found: Text,
    /// 500 page.
    #[serde(rename = "internal-error")]
    pub internal_error: Text,
    /// 502 page.
    #[serde(rename = "bad-gateway")]
    pub bad_gateway: Text,
    /// Generic 503 page.
    #[serde(rename = "service-unavailable")]
    pub service_unavailable: Text,
    /// 504 page.
    #[serde(rename = "gateway-timeout")]
    pub gateway_timeout: Text,
    /// Labels.
    pub labels: Labels,
}

impl LanguagePack {
    /// The built-in text of a page kind (health and robots have none and get the maintenance text).
    pub fn text(&self, kind: PageKind) -> &Text {
        match kind {
            PageKind::NotFound => &self.not_found,
            PageKind::InternalError => &self.internal_error,
            PageKind::BadGateway => &self.bad_gateway,
            PageKind::ServiceUnavailable => &self.service_unavailable,
            PageKind::GatewayTimeout => &self.gateway_timeout,
            PageKind::Maintenance
            | PageKind::Health
            | PageKind::Robots
            | PageKind::Bypass
            | PageKind::Admit => &self.maintenance,
        }
    }
}

/// The built-in texts, by language tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    packs: BTreeMap<String, LanguagePack>,
}

/// The catalog compiled into the binary.
#[cfg(test)]
const EMBEDDED_CATALOG: &str = include_str!("../../../config/content.toml");
/// The same catalog as JSON, written by `build.rs` (read at start: faster than TOML).
const EMBEDDED_CATALOG_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/content.json"));

/// Why a catalog could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Not valid TOML, or a table has the wrong shape.
    #[error("content catalog is not valid: {0}")]
    Syntax(#[from] toml::de::Error),
    /// A table name is not a language tag.
    #[error("content catalog: {0:?} is not a language tag (expected e.g. en, ja, pt-BR)")]
    LanguageTag(String),
    /// A text fails validation.
    #[error("content catalog: {lang}: {problem}")]
    Value {
        /// Language table.
        lang: String,
        /// What is wrong.
        problem: ValueError,
    },
    /// No language at all.
    #[error("content catalog has no language")]
    Empty,
}

impl Catalog {
    /// Parses and validates a catalog from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, CatalogError> {
        Self::from_packs(toml::from_str(text)?)
    }

    fn from_packs(packs: BTreeMap<String, LanguagePack>) -> Result<Self, CatalogError> {
        if packs.is_empty() {
            return Err(CatalogError::Empty);
        }
        for (lang, pack) in &packs {
            if !is_language_tag(lang) {
                return Err(CatalogError::LanguageTag(lang.clone()));
            }
            for kind in PageKind::PAGES {
                let text = pack.text(kind);
                let checked = check_title(&text.title).and_then(|_| check_message(&text.message));
                checked.map_err(|problem| CatalogError::Value {
                    lang: lang.clone(),
                    problem,
                })?;
            }
        }
        Ok(Self { packs })
    }

    /// The catalog compiled into the binary (`config/content.toml`).
    ///
    /// Read, not validated again: it is the same text at every start, and the tests validate
    /// it (`the_embedded_json_form_reads_as_the_toml_source`: this function's result equals
    /// [`Catalog::from_toml`]'s, which checks every text). Checking its titles and messages
    /// character by character against the Unicode tables cost a cold start about 200,000
    /// instructions, two thirds of the site's preparation (issue #25). Live content from SSM is
    /// still checked on every read.
    pub fn embedded() -> Self {
        serde_json::from_str::<BTreeMap<String, LanguagePack>>(EMBEDDED_CATALOG_JSON)
            .ok()
            .filter(|packs| !packs.is_empty())
            .map(|packs| Self { packs })
            .unwrap_or_else(Self::minimal)
    }

    /// A last-resort English catalog used only if the embedded one were ever unusable.
    fn minimal() -> Self {
        let text = |title: &str, message: &str| Text {
            title: title.into(),
            message: message.into(),
        };
        let pack = LanguagePack {
            name: "English".into(),
            maintenance: text(
                "We'll be back soon",
                "We're carrying out planned maintenance.",
            ),
            not_found: text("Page not found", "The page you asked for does not exist."),
            internal_error: text("Something went wrong", "Please try again in a moment."),
            bad_gateway: text("Service temporarily unreachable", "Please try again."),
            service_unavailable: text("Service temporarily unavailable", "Please try again."),
            gateway_timeout: text("The service took too long to answer", "Please try again."),
            labels: Labels {
                expected_back: "Expected back".into(),
                retry_in: "Please try again in about {minutes} minutes.".into(),
                retry_in_hours: "Please try again in about {hours} hours.".into(),
                retry_soon: "Please try again in a minute.".into(),
                support_reference: "Support reference".into(),
                status_page: "Status page".into(),
                contact: "Contact support".into(),
                error_code: "Error".into(),
            },
        };
        Self {
            packs: BTreeMap::from([("en".to_string(), pack)]),
        }
    }

    /// The language tags, in sorted order.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.packs.keys().map(String::as_str)
    }

    /// The pack of a language tag (exact match, ASCII case-insensitive).
    pub fn pack(&self, lang: &str) -> Option<&LanguagePack> {
        self.packs.get(lang).or_else(|| {
            self.packs
                .iter()
                .find(|(tag, _)| tag.eq_ignore_ascii_case(lang))
                .map(|(_, pack)| pack)
        })
    }

    /// The canonical spelling of a tag the catalog has, if it has it.
    pub fn canonical_tag(&self, lang: &str) -> Option<&str> {
        self.packs
            .keys()
            .find(|tag| tag.eq_ignore_ascii_case(lang))
            .map(String::as_str)
    }

    /// Any pack: the first one, for the impossible case of a missing default language.
    pub fn first(&self) -> (&str, &LanguagePack) {
        let (tag, pack) = self
            .packs
            .iter()
            .next()
            .expect("a catalog always holds at least one language (checked when built)");
        (tag.as_str(), pack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_json_form_reads_as_the_toml_source() {
        let from_toml = Catalog::from_toml(EMBEDDED_CATALOG).expect("embedded catalog parses");
        assert_eq!(Catalog::embedded(), from_toml);
        assert_ne!(
            Catalog::embedded(),
            Catalog::minimal(),
            "not the last-resort catalog"
        );
    }

    #[test]
    fn embedded_catalog_is_valid_and_has_english_and_japanese() {
        let catalog = Catalog::from_toml(EMBEDDED_CATALOG).expect("embedded catalog parses");
        let langs: Vec<_> = catalog.languages().collect();
        assert_eq!(langs, ["en", "ja"]);
        assert_eq!(catalog.pack("JA").unwrap().name, "日本語");
    }
}
