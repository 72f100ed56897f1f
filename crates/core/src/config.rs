//! Responder configuration: the TOML schema (`config/responder.toml`, embedded at build time),
//! the environment overrides read once at start, and validation. [`crate::site::Site`] is the
//! prepared form the pure core uses.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::catalog::Catalog;
use crate::content::is_language_tag;
use crate::deploy_names::env;
use crate::page_kind::PageKind;

/// The configuration compiled into the binary.
pub const EMBEDDED_CONFIG: &str = include_str!("../../../config/responder.toml");
/// The same configuration as JSON, written by `build.rs` (read at start: faster than TOML).
const EMBEDDED_CONFIG_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/responder.json"));

/// Responder configuration, validated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Page served when nothing more specific matches.
    pub default_page: PageKind,
    /// Path of the health route.
    pub health_path: String,
    /// Path of the bypass link: `{bypass_path}/{token}`.
    pub bypass_path: String,
    /// Body of `/robots.txt`.
    pub robots_txt: String,
    /// Language used when negotiation finds none.
    pub default_language: String,
    /// `Retry-After` seconds when the content gives no retry value.
    pub retry_after_seconds: u64,
    /// `Retry-After` seconds when the content's end time has passed.
    pub past_end_retry_after_seconds: u64,
    /// Base of the problem `type` URI.
    pub problem_type_base: String,
    /// Branding.
    pub brand: Brand,
    /// Page by invoking target group name or ARN.
    pub target_groups: BTreeMap<String, PageKind>,
    /// Page by exact path or `prefix*`.
    pub paths: BTreeMap<String, PageKind>,
    /// The time zone (IANA name) each language's pages show the end time in, when the window
    /// names none; a language not listed shows UTC.
    pub display_time_zones: BTreeMap<String, String>,
}

/// Branding shown on every HTML page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Brand {
    /// Name shown above the title; empty hides it.
    pub name: String,
    /// Accent colour, `#rgb` or `#rrggbb`.
    pub color: String,
    /// SVG markup of the logo; empty hides it.
    pub logo_svg: String,
}

impl Default for Brand {
    fn default() -> Self {
        Self {
            name: String::new(),
            color: "#2f5fd0".into(),
            logo_svg: String::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            default_page: PageKind::Maintenance,
            health_path: crate::deploy_names::DEFAULT_HEALTH_PATH.into(),
            bypass_path: crate::deploy_names::DEFAULT_BYPASS_PATH.into(),
            robots_txt: "User-agent: *\nAllow: /\n".into(),
            default_language: "en".into(),
            retry_after_seconds: 300,
            past_end_retry_after_seconds: 60,
            problem_type_base: "urn:maintenance-responder:problem:".into(),
            brand: Brand::default(),
            target_groups: BTreeMap::new(),
            paths: BTreeMap::from([("/favicon.ico".to_string(), PageKind::NotFound)]),
            display_time_zones: BTreeMap::from([("ja".to_string(), "Asia/Tokyo".to_string())]),
        }
    }
}

/// Why a configuration was refused. Each message names the key or variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// TOML syntax or shape.
    #[error("configuration is not valid TOML for this schema: {0}")]
    Syntax(#[from] toml::de::Error),
    /// A key holds a bad value.
    #[error("configuration key {key}: {problem}")]
    Value {
        /// The key, e.g. `brand.color`.
        key: String,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// An environment variable holds a bad value.
    #[error("environment variable {var}: {problem}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
}

fn bad(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Value {
        key: key.into(),
        problem: problem.into(),
    }
}

impl Config {
    /// Parses and validates TOML text against `catalog` (the default language must exist there).
    pub fn from_toml(text: &str, catalog: &Catalog) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text)?;
        config.validate(catalog)?;
        Ok(config)
    }

    /// The embedded configuration, or the built-in defaults if it were ever invalid (the tests
    /// make sure it is not).
    pub fn embedded(catalog: &Catalog) -> Self {
        Self::embedded_checked(catalog).unwrap_or_default()
    }

    /// The embedded configuration, read from its JSON form and validated.
    fn embedded_checked(catalog: &Catalog) -> Result<Self, ConfigError> {
        let config: Self = serde_json::from_str(EMBEDDED_CONFIG_JSON)
            .map_err(|e| bad("(embedded)", e.to_string()))?;
        config.validate(catalog)?;
        Ok(config)
    }

    /// Builds the configuration from the environment: `MAINTENANCE_CONFIG` (whole TOML) or the
    /// embedded file, then the single-key overrides. `lookup` reads one variable, so tests pass a
    /// map instead of touching the process environment.
    ///
    /// Never fails: a bad value is left out on its own and returned as a problem, and every good
    /// one still applies — an invalid `MAINTENANCE_CONFIG` gives the embedded file (the overrides
    /// still apply on top), a bad override keeps the value it would have replaced, and a bad pair
    /// of a list leaves the list's other pairs in place. (One typo in `MAINTENANCE_HEALTH_PATH`
    /// used to discard every override, so a fallback listener's 404s became 503s.)
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        catalog: &Catalog,
    ) -> (Self, Vec<ConfigError>) {
        let mut problems = Vec::new();
        let mut config = match lookup(env::CONFIG) {
            Some(text) => Self::from_toml(&text, catalog).unwrap_or_else(|e| {
                problems.push(ConfigError::Env {
                    var: env::CONFIG,
                    problem: format!("{e}; using the embedded configuration"),
                });
                Self::embedded(catalog)
            }),
            None => Self::embedded(catalog),
        };
        let mut apply = |var: &'static str, change: &dyn Fn(&mut Self) -> Result<(), String>| {
            let mut candidate = config.clone();
            let checked = change(&mut candidate).and_then(|()| {
                candidate.validate(catalog).map_err(|e| match e {
                    ConfigError::Value { key, problem } => format!("{key}: {problem}"),
                    other => other.to_string(),
                })
            });
            match checked {
                Ok(()) => config = candidate,
                Err(problem) => problems.push(ConfigError::Env {
                    var,
                    problem: format!("{problem}; this value is ignored"),
                }),
            }
        };
        if let Some(path) = lookup(env::HEALTH_PATH) {
            apply(env::HEALTH_PATH, &|c| {
                c.health_path = path.clone();
                Ok(())
            });
        }
        if let Some(page) = lookup(env::DEFAULT_PAGE) {
            apply(env::DEFAULT_PAGE, &|c| {
                c.default_page = page.parse()?;
                Ok(())
            });
        }
        for (var, list) in [
            (env::TARGET_GROUP_PAGES, ConfigList::TargetGroups),
            (env::PATH_PAGES, ConfigList::Paths),
        ] {
            let Some(text) = lookup(var) else { continue };
            for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                apply(var, &|c| {
                    let (key, page) = parse_pair(pair)?;
                    list.of(c).insert(key, page);
                    Ok(())
                });
            }
        }
        (config, problems)
    }

    /// Checks every value; the first problem is returned.
    pub fn validate(&self, catalog: &Catalog) -> Result<(), ConfigError> {
        self.validate_routes()?;
        if self.robots_txt.len() > 16 * 1024 {
            return Err(bad("robots_txt", "must be at most 16 KiB"));
        }
        if !is_language_tag(&self.default_language)
            || catalog.pack(&self.default_language).is_none()
        {
            let known: Vec<_> = catalog.languages().collect();
            return Err(bad(
                "default_language",
                format!(
                    "{:?} is not a language of the catalog ({})",
                    self.default_language,
                    known.join(", ")
                ),
            ));
        }
        if self.retry_after_seconds > crate::content::MAX_RETRY_SECONDS
            || self.past_end_retry_after_seconds > crate::content::MAX_RETRY_SECONDS
        {
            return Err(bad(
                "retry_after_seconds",
                "must be at most one week (604800)",
            ));
        }
        if !self.problem_type_base.contains(':')
            || !self
                .problem_type_base
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"')
        {
            return Err(bad(
                "problem_type_base",
                "must be a URI prefix such as urn:example:problem:",
            ));
        }
        self.brand.validate()?;
        for (lang, zone) in &self.display_time_zones {
            if catalog.pack(lang).is_none() {
                return Err(bad(
                    &format!("display_time_zones.{lang}"),
                    "not a language of the catalog",
                ));
            }
            let form = !zone.is_empty()
                && zone.len() <= 64
                && zone
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b));
            if !form || crate::content::check_zone_name(zone).is_err() {
                return Err(bad(
                    &format!("display_time_zones.{lang}"),
                    "must be an IANA time zone name such as Asia/Tokyo",
                ));
            }
        }
        self.validate_pages()
    }

    /// The health route and the bypass link: paths that do not overlap.
    fn validate_routes(&self) -> Result<(), ConfigError> {
        if !self.health_path.starts_with('/')
            || self.health_path.len() > 200
            || !self.health_path.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(bad(
                "health_path",
                "must be a path starting with / (e.g. /healthz)",
            ));
        }
        let path_chars = |p: &str| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
        };
        if !self.bypass_path.starts_with('/')
            || self.bypass_path.ends_with('/')
            || self.bypass_path.len() > 100
            || !path_chars(&self.bypass_path)
            || self.bypass_path.contains("//")
        {
            return Err(bad(
                "bypass_path",
                "must be a path of letters, digits and / - _ . ~, starting with / and not ending \
                 with / (e.g. /__maintenance/bypass)",
            ));
        }
        if self.health_path == self.bypass_path
            || self
                .health_path
                .starts_with(&format!("{}/", self.bypass_path))
        {
            return Err(bad("bypass_path", "must not hold the health route"));
        }
        Ok(())
    }

    /// The page by path and by target group, and the default page: pages, not routes.
    fn validate_pages(&self) -> Result<(), ConfigError> {
        for path in self.paths.keys() {
            if !path.starts_with('/') {
                return Err(bad(&format!("paths.{path:?}"), "a path must start with /"));
            }
        }
        for key in self.target_groups.keys() {
            if key.is_empty() {
                return Err(bad(
                    "target_groups",
                    "a target group name must not be empty",
                ));
            }
        }
        for (key, page) in self.paths.iter().chain(&self.target_groups) {
            if !page.is_page() {
                return Err(bad(
                    &format!("{key:?}"),
                    "health and robots are routes, not pages",
                ));
            }
        }
        if !self.default_page.is_page() {
            return Err(bad(
                "default_page",
                "must be a page, not the health or robots route",
            ));
        }
        Ok(())
    }
}

impl Brand {
    /// Colour, name and logo.
    fn validate(&self) -> Result<(), ConfigError> {
        if !is_css_color(&self.color) {
            return Err(bad("brand.color", "must be #rgb or #rrggbb"));
        }
        let name = &self.name;
        let invisible = !name.is_empty() && crate::content::check_visible(name).is_err();
        if name.chars().count() > 100 || name.chars().any(char::is_control) || invisible {
            return Err(bad(
                "brand.name",
                "must be one line of at most 100 visible characters (no zero-width or \
                 direction-changing characters)",
            ));
        }
        if self.logo_svg.len() > 32 * 1024 {
            return Err(bad("brand.logo_svg", "must be at most 32 KiB"));
        }
        if !self.logo_svg.is_empty() && !self.logo_svg.trim_start().starts_with("<svg") {
            return Err(bad(
                "brand.logo_svg",
                "must be SVG markup starting with <svg",
            ));
        }
        Ok(())
    }
}

/// The two `KEY=PAGE` lists an environment variable extends.
#[derive(Clone, Copy)]
enum ConfigList {
    TargetGroups,
    Paths,
}

impl ConfigList {
    fn of(self, config: &mut Config) -> &mut BTreeMap<String, PageKind> {
        match self {
            Self::TargetGroups => &mut config.target_groups,
            Self::Paths => &mut config.paths,
        }
    }
}

/// Parses one `key=page` pair of a list.
fn parse_pair(pair: &str) -> Result<(String, PageKind), String> {
    let (key, page) = pair
        .rsplit_once('=')
        .ok_or_else(|| format!("{pair:?} is not KEY=PAGE"))?;
    Ok((key.trim().to_string(), page.trim().parse()?))
}

fn is_css_color(value: &str) -> bool {
    value
        .strip_prefix('#')
        .is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn embedded_config_parses_and_equals_the_built_in_defaults() {
        let catalog = Catalog::embedded();
        let parsed = Config::from_toml(EMBEDDED_CONFIG, &catalog).expect("embedded config parses");
        assert_eq!(parsed, Config::default());
        // What a cold start reads: the JSON form build.rs wrote from the same file.
        assert_eq!(Config::embedded_checked(&catalog).unwrap(), parsed);
    }

    #[test]
    fn env_overrides_apply() {
        let catalog = Catalog::embedded();
        let (config, problems) = Config::from_env(
            lookup(&[
                (env::HEALTH_PATH, "/ping"),
                (env::DEFAULT_PAGE, "404"),
                (
                    env::TARGET_GROUP_PAGES,
                    "shop-fallback=bad-gateway, arn:aws:x:targetgroup/a/b=504",
                ),
                (env::PATH_PAGES, "/api/*=service-unavailable"),
            ]),
            &catalog,
        );
        assert!(problems.is_empty(), "valid overrides: {problems:?}");
        assert_eq!(config.health_path, "/ping");
        assert_eq!(config.default_page, PageKind::NotFound);
        assert_eq!(config.target_groups["shop-fallback"], PageKind::BadGateway);
        assert_eq!(
            config.target_groups["arn:aws:x:targetgroup/a/b"],
            PageKind::GatewayTimeout
        );
        assert_eq!(config.paths["/api/*"], PageKind::ServiceUnavailable);
    }

    #[test]
    fn a_display_zone_that_is_no_iana_zone_is_refused() {
        let catalog = Catalog::embedded();
        for bad in ["localtime", "posixrules", "Factory", "posix/Asia/Tokyo"] {
            let toml = format!("[display_time_zones]\nja = \"{bad}\"\n");
            let err = Config::from_toml(&toml, &catalog).unwrap_err().to_string();
            assert!(err.contains("display_time_zones.ja"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_values_name_the_key_or_variable() {
        let catalog = Catalog::embedded();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[(env::DEFAULT_PAGE, "teapot")], "MAINTENANCE_DEFAULT_PAGE"),
            (
                &[(env::TARGET_GROUP_PAGES, "no-equals-sign")],
                "MAINTENANCE_TARGET_GROUP_PAGES",
            ),
            (&[(env::HEALTH_PATH, "healthz")], "health_path"),
            (&[(env::CONFIG, "default_page = 12")], "MAINTENANCE_CONFIG"),
            (
                &[(env::CONFIG, "[brand]\ncolor = \"red;}body{display:none\"")],
                "brand.color",
            ),
            (
                &[(env::CONFIG, "default_language = \"de\"")],
                "default_language",
            ),
            (&[(env::CONFIG, "unknown_key = 1")], "unknown field"),
            (&[(env::CONFIG, "bypass_path = \"/b/\"")], "bypass_path"),
            (&[(env::CONFIG, "bypass_path = \"b\"")], "bypass_path"),
            (&[(env::CONFIG, "bypass_path = \"/b?x\"")], "bypass_path"),
            (
                &[(env::CONFIG, "bypass_path = \"/healthz\"")],
                "bypass_path",
            ),
            (
                &[(env::CONFIG, "[brand]\nname = \"\u{202E}pohS\"")],
                "brand.name",
            ),
            (
                &[(env::CONFIG, "default_page = \"health\"")],
                "default_page",
            ),
        ];
        for (vars, needle) in cases {
            let (_, problems) = Config::from_env(lookup(vars), &catalog);
            let err = problems.first().expect("must be refused").to_string();
            assert!(err.contains(needle), "{vars:?}: {err}");
        }
    }

    /// Issue #16, item 16, and its siblings: one bad override leaves every good one in place —
    /// another variable, another pair of the same list, and the overrides on top of an invalid
    /// `MAINTENANCE_CONFIG`.
    #[test]
    fn a_bad_override_drops_only_itself() {
        let catalog = Catalog::embedded();
        let (config, problems) = Config::from_env(
            lookup(&[
                (env::HEALTH_PATH, "healthz"),
                (env::DEFAULT_PAGE, "not-found"),
                (
                    env::TARGET_GROUP_PAGES,
                    "shop-fallback=404, broken, =500, other=teapot, gw=504",
                ),
                (env::PATH_PAGES, "/api/*=503, nopath=404, /x=health"),
            ]),
            &catalog,
        );
        assert_eq!(
            config.health_path, "/healthz",
            "the bad one keeps the default"
        );
        assert_eq!(config.default_page, PageKind::NotFound);
        assert_eq!(config.target_groups.len(), 2, "{:?}", config.target_groups);
        assert_eq!(config.target_groups["shop-fallback"], PageKind::NotFound);
        assert_eq!(config.target_groups["gw"], PageKind::GatewayTimeout);
        assert_eq!(config.paths["/api/*"], PageKind::ServiceUnavailable);
        assert!(!config.paths.contains_key("nopath") && !config.paths.contains_key("/x"));
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 6, "{text:#?}");
        assert!(text[0].contains("MAINTENANCE_HEALTH_PATH"), "{text:#?}");
        assert!(text[1].contains("\"broken\" is not KEY=PAGE"), "{text:#?}");
        assert!(
            text[2].contains("target group name must not be empty"),
            "{text:#?}"
        );
        assert!(text[3].contains("teapot"), "{text:#?}");
        assert!(text[4].contains("a path must start with /"), "{text:#?}");
        assert!(text[5].contains("routes, not pages"), "{text:#?}");
        assert!(text.iter().all(|t| t.contains("ignored")), "{text:#?}");

        let (config, problems) = Config::from_env(
            lookup(&[
                (env::CONFIG, "default_page = 12"),
                (env::DEFAULT_PAGE, "bad-gateway"),
            ]),
            &catalog,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].to_string().contains("MAINTENANCE_CONFIG"));
        assert_eq!(config.default_page, PageKind::BadGateway);
        assert_eq!(
            config.paths,
            Config::default().paths,
            "the embedded file underneath"
        );
    }
}
