//! [`Site`]: everything the pure core needs that does not change per request, prepared once at
//! start from the validated configuration and the catalog — the inline stylesheet (rendered from
//! `templates/style.css` with the brand colour) and its hash for the CSP, the logo as a data URI,
//! the languages offered to negotiation. Two ways to build it from the environment, for the two
//! kinds of caller: the Lambda (and `maintctl invoke`, which runs the Lambda's own start) never
//! refuses to start ([`Site::from_env_or_embedded`]); the preview refuses a bad configuration
//! ([`Site::from_env_strict`]).

use askama::Template;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::catalog::Catalog;
use crate::config::{Config, ConfigError};
use crate::content::{DisplayZone, SYSTEM_ZONEINFO, zoneinfo_dir};
use crate::deploy_names::{env, function};

/// Everything the pure core needs that does not change per request: the validated
/// configuration, the catalog, and what is derived from them once (stylesheet, its CSP hash,
/// the logo as a data URI). Built at start; shared by reference.
#[derive(Debug, Clone)]
pub struct Site {
    /// Validated configuration.
    pub config: Config,
    /// Built-in texts.
    pub catalog: Catalog,
    /// The inline stylesheet, brand colour filled in.
    pub css: String,
    /// The `Content-Security-Policy` header value, allowing exactly that stylesheet.
    pub csp: String,
    /// The logo as a `data:image/svg+xml;base64,…` URI, if any.
    pub logo_data_uri: Option<String>,
    /// Languages offered to negotiation, in catalog order.
    pub languages: Vec<String>,
    /// The configured display time zone of each language that has one
    /// (`display_time_zones`), resolved once; a zone the database does not have is left out
    /// (see [`Site::zone_problems`]).
    pub display_zones: std::collections::BTreeMap<String, DisplayZone>,
}

impl Site {
    /// Prepares a site from a validated configuration and catalog, with the display zones from
    /// the system's zone files.
    pub fn new(config: Config, catalog: Catalog) -> Self {
        Self::with_zoneinfo(config, catalog, SYSTEM_ZONEINFO)
    }

    /// [`Site::new`], with the display zones read from the zone files in `zoneinfo` (one file
    /// each: [`DisplayZone::load`]).
    pub fn with_zoneinfo(config: Config, catalog: Catalog, zoneinfo: &str) -> Self {
        let css = stylesheet(&config.brand.color);
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css.as_bytes()));
        let csp = format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        );
        let logo_data_uri = (!config.brand.logo_svg.is_empty()).then(|| {
            format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(config.brand.logo_svg.as_bytes())
            )
        });
        let languages = catalog.languages().map(str::to_string).collect();
        let display_zones = config
            .display_time_zones
            .iter()
            .filter_map(|(lang, zone)| {
                Some((lang.clone(), DisplayZone::load(zone, zoneinfo).ok()?))
            })
            .collect();
        Self {
            config,
            catalog,
            css,
            csp,
            logo_data_uri,
            languages,
            display_zones,
        }
    }

    /// The configured display time zones the database does not have (the pages of those
    /// languages show UTC), as configuration problems to report at start.
    pub fn zone_problems(&self) -> Vec<ConfigError> {
        self.config
            .display_time_zones
            .iter()
            .filter(|(lang, _)| !self.display_zones.contains_key(*lang))
            .map(|(lang, zone)| ConfigError::Value {
                key: format!("display_time_zones.{lang}"),
                problem: format!(
                    "{zone:?} is not in the time zone database (TZDIR or /usr/share/zoneinfo); \
                     its pages show UTC"
                ),
            })
            .collect()
    }

    /// The zone the pages in `lang` show the end time in: the window's (from the content),
    /// else the configured one, else none (UTC).
    pub fn display_zone<'a>(
        &'a self,
        window: Option<&'a DisplayZone>,
        lang: &str,
    ) -> Option<&'a DisplayZone> {
        window.or_else(|| self.display_zones.get(lang))
    }

    /// The site built from the embedded catalog and configuration.
    pub fn embedded() -> Self {
        let catalog = Catalog::embedded();
        Self::new(Config::embedded(&catalog), catalog)
    }

    /// The site as the Lambda builds it from its environment (`MAINTENANCE_CONFIG`,
    /// `MAINTENANCE_DEFAULT_PAGE`, …; `lookup` reads one variable). Each bad value is left out on
    /// its own and returned beside the site ([`Config::from_env`]): the function logs them and
    /// serves rather than crash-loop.
    pub fn from_env_or_embedded(
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> (Self, Vec<ConfigError>) {
        let catalog = Catalog::embedded();
        let (config, mut problems) = Config::from_env(lookup, &catalog);
        let site = Self::with_zoneinfo(config, catalog, &zoneinfo_dir(lookup(function::TZDIR_VAR)));
        problems.extend(site.zone_problems());
        (site, problems)
    }

    /// The site as the Lambda would build it from this environment, with `config_toml` (a
    /// `--config` file's text) in place of `MAINTENANCE_CONFIG` when given. Unlike
    /// [`Site::from_env_or_embedded`], a bad value is an error: a preview of a configuration
    /// the Lambda would not use would mislead.
    pub fn from_env_strict(
        lookup: &impl Fn(&str) -> Option<String>,
        config_toml: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let catalog = Catalog::embedded();
        let lookup = |name: &str| match (name, config_toml) {
            (env::CONFIG, Some(text)) => Some(text.to_string()),
            _ => lookup(name),
        };
        let (config, mut problems) = Config::from_env(lookup, &catalog);
        let site = Self::with_zoneinfo(config, catalog, &zoneinfo_dir(lookup(function::TZDIR_VAR)));
        problems.extend(site.zone_problems());
        match problems.is_empty() {
            true => Ok(site),
            false => Err(problems.remove(0)),
        }
    }
}

#[derive(Template)]
#[template(path = "style.css")]
struct Stylesheet<'a> {
    color: &'a str,
}

/// Renders the inline stylesheet for a (validated) brand colour.
///
/// Line breaks are dropped (none is significant in it): the stylesheet is inline in every HTML
/// page, and each one would otherwise be a `\n` escape in the response JSON.
pub fn stylesheet(color: &str) -> String {
    Stylesheet { color }
        .render()
        .map(|css| css.lines().map(str::trim).collect())
        .unwrap_or_else(|_| String::from("body{font-family:sans-serif}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_hash_matches_the_stylesheet() {
        let site = Site::embedded();
        let hash =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(site.css.as_bytes()));
        assert!(site.csp.contains(&format!("'sha256-{hash}'")));
        assert!(site.csp.contains("frame-ancestors 'none'"));
        assert!(site.csp.starts_with("default-src 'none'"));
    }

    /// A configured display zone the database does not have is a problem named by its key, and
    /// its language shows UTC; the other zones still apply.
    #[test]
    fn an_unknown_display_zone_is_reported_and_shows_utc() {
        let lookup = |name: &str| {
            (name == env::CONFIG).then(|| {
                "[display_time_zones]\nen = \"Mars/Olympus_Mons\"\nja = \"Asia/Tokyo\"\n"
                    .to_string()
            })
        };
        let (site, problems) = Site::from_env_or_embedded(&lookup);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].to_string().contains("display_time_zones.en"),
            "{}",
            problems[0]
        );
        assert!(site.display_zone(None, "en").is_none());
        assert_eq!(
            site.display_zone(None, "ja").map(|z| z.name()),
            Some("Asia/Tokyo")
        );
        assert!(Site::from_env_strict(&lookup, None).is_err());
    }
}
