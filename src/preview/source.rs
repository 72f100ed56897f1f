//! Content sources of the preview, and the preview site: where the live content comes from
//! (the embedded defaults, a TOML file in the SSM layout, SSM itself), the [`ParameterStore`]s
//! behind them, [`load`] which builds the preview's [`Function`] and fetches the content once,
//! and [`site`], which adds the synthetic target groups that force a page kind.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use maintenance_core::deploy_names::parameters::check_prefix;
use maintenance_core::page_kind::PageKind;
use maintenance_core::site::Site;
use maintenance_responder::content_cache::{CacheSettings, Refresh};
use maintenance_responder::lambda::{Function, FunctionSettings};
use maintenance_responder::ssm::{FetchError, Parameter, ParameterPage, ParameterStore, Warning};

use super::FILE_PREFIX;

/// The target-group name that [`site`] maps to a page kind (`preview-not-found`).
fn forced_group_name(kind: PageKind) -> String {
    format!("preview-{}", kind.name())
}

/// The synthetic target-group ARN of a forced page kind.
pub fn forced_target_group_arn(kind: PageKind) -> String {
    format!(
        "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/{}/0000000000000000",
        forced_group_name(kind)
    )
}

/// The preview's site: `site` plus one synthetic target group per page kind, so a forced page
/// is selected by the same rule that maps a fallback target group in production. Nothing else
/// changes; the Lambda never sees these entries.
pub fn site(mut site: Site) -> Site {
    for kind in PageKind::PAGES {
        site.config
            .target_groups
            .insert(forced_group_name(kind), kind);
    }
    site
}

/// Why a content file could not be read as the SSM layout.
#[derive(Debug, thiserror::Error)]
pub enum ContentFileError {
    /// Not TOML.
    #[error("not valid TOML: {0}")]
    Syntax(#[from] toml::de::Error),
    /// A key holds an array, a boolean or a float; SSM values are strings.
    #[error("key {key}: expected a string (SSM parameter values are text), found {found}")]
    Value {
        /// Dotted key, e.g. `en.title`.
        key: String,
        /// TOML type found.
        found: &'static str,
    },
}

/// Turns a content file (see `config/content.example.toml`) into the parameters SSM would hold
/// under `prefix`: `[en] title = "…"` becomes `{prefix}/en/title`. Integers and TOML date-times
/// are taken as their text (`retry-after = 900`). Nothing is validated here: that is
/// [`maintenance_responder::ssm::content_from_parameters`]' job, exactly as for SSM.
pub fn parameters_from_toml(text: &str, prefix: &str) -> Result<Vec<Parameter>, ContentFileError> {
    fn walk(
        base: &str,
        dotted: &str,
        table: &toml::Table,
        out: &mut Vec<Parameter>,
    ) -> Result<(), ContentFileError> {
        for (key, value) in table {
            let name = format!("{base}/{key}");
            let dotted = if dotted.is_empty() {
                key.clone()
            } else {
                format!("{dotted}.{key}")
            };
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Datetime(d) => d.to_string(),
                toml::Value::Table(t) => {
                    walk(&name, &dotted, t, out)?;
                    continue;
                }
                other => {
                    return Err(ContentFileError::Value {
                        key: dotted,
                        found: other.type_str(),
                    });
                }
            };
            out.push(Parameter { name, value: text });
        }
        Ok(())
    }
    let table: toml::Table = toml::from_str(text)?;
    let mut out = Vec::new();
    walk(prefix, "", &table, &mut out)?;
    Ok(out)
}

/// A fixed list of parameters: a [`ParameterStore`] for tests and one-shot renders.
#[derive(Debug, Clone, Default)]
pub struct StaticStore {
    /// The parameters, full names.
    pub parameters: Vec<Parameter>,
}

impl ParameterStore for StaticStore {
    /// Everything under `path` on one page.
    async fn parameters_page(
        &self,
        path: &str,
        _token: Option<&str>,
    ) -> Result<ParameterPage, FetchError> {
        let base = format!("{path}/");
        Ok(ParameterPage {
            parameters: self
                .parameters
                .iter()
                .filter(|p| p.name.starts_with(&base))
                .cloned()
                .collect(),
            next_token: None,
        })
    }
}

/// A content file read on every fetch, so an edit shows on the next reload once the cache
/// window (a couple of seconds for files) has passed. A file that has become unreadable is a
/// failed fetch: the last good content stays, as with SSM.
#[derive(Debug, Clone)]
pub struct FileStore {
    /// The TOML file.
    pub path: PathBuf,
}

impl ParameterStore for FileStore {
    /// The whole file on one page, as a [`StaticStore`] of what it holds now.
    async fn parameters_page(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<ParameterPage, FetchError> {
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map_err(|e| FetchError::Unreachable(format!("{}: {e}", self.path.display())))?;
        let parameters = parameters_from_toml(&text, path)
            .map_err(|e| FetchError::Service(format!("{}: {e}", self.path.display())))?;
        StaticStore { parameters }
            .parameters_page(path, token)
            .await
    }
}

/// The store behind a preview: one type for every source, so the server is built once.
#[derive(Debug, Clone)]
pub enum Store {
    /// A fixed list.
    Static(StaticStore),
    /// A content file.
    File(FileStore),
    /// SSM Parameter Store, through the AWS SDK.
    Ssm(aws_sdk_ssm::Client),
}

impl ParameterStore for Store {
    async fn parameters_page(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<ParameterPage, FetchError> {
        match self {
            Self::Static(s) => s.parameters_page(path, token).await,
            Self::File(f) => f.parameters_page(path, token).await,
            Self::Ssm(c) => c.parameters_page(path, token).await,
        }
    }
}

/// Where the preview takes the live content from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The embedded defaults, as a Lambda without `MAINTENANCE_SSM_PREFIX` serves them.
    Embedded,
    /// A TOML file in the SSM layout (`--content FILE`).
    File(PathBuf),
    /// SSM Parameter Store under a prefix (`--prefix PREFIX`, or the environment's).
    Ssm {
        /// SDK client.
        client: aws_sdk_ssm::Client,
        /// Parameter prefix, e.g. `/maintenance/shop`.
        prefix: String,
    },
}

impl Source {
    /// SSM Parameter Store under `prefix`, through a client of `config`.
    pub fn ssm(config: &aws_config::SdkConfig, prefix: String) -> Self {
        Self::Ssm {
            client: aws_sdk_ssm::Client::new(config),
            prefix,
        }
    }

    /// One line for the console and the index page.
    pub fn describe(&self) -> String {
        match self {
            Self::Embedded => "embedded defaults".into(),
            Self::File(path) => format!("file {}", path.display()),
            Self::Ssm { prefix, .. } => format!("SSM parameters under {prefix}"),
        }
    }
}

/// Why the preview could not load its configuration or content. Each message holds its cause
/// and none is a `source`, so a printed chain says it once.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The `--config` file could not be read.
    #[error("failed to read the configuration {path}: {error}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// The configuration (the file, or a `MAINTENANCE_*` variable) is not valid.
    #[error("the responder configuration is not valid: {0}")]
    Config(maintenance_core::config::ConfigError),
    /// The content file could not be read.
    #[error("failed to read the content file {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// The content file is not in the SSM layout.
    #[error("content file {path}: {error}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: ContentFileError,
    },
    /// The SSM prefix is malformed.
    #[error("--from-ssm: {0}")]
    Prefix(String),
    /// The first fetch failed.
    #[error("failed to read the content ({source_label}): {error}")]
    Fetch {
        /// [`Source::describe`].
        source_label: String,
        /// The fetch error.
        error: FetchError,
    },
}

/// A function ready to serve previews, and the values its content ignored.
pub struct Loaded {
    /// The function, over the preview [`site`].
    pub function: Function<Store>,
    /// Values that were ignored (named as parameters, `/preview/en/title` for a file).
    pub warnings: Vec<Warning>,
    /// [`Source::describe`].
    pub source: String,
    /// The content is a file: warnings name its keys, not parameters.
    from_file: bool,
}

impl Loaded {
    /// The warnings as an operator reads them: `name: problem`, where a content file's value
    /// is named by its key as written in the file (`en.title`), SSM's by the parameter.
    pub fn warning_lines(&self) -> Vec<String> {
        self.warnings
            .iter()
            .map(|w| {
                let key = w
                    .parameter
                    .strip_prefix(&format!("{FILE_PREFIX}/"))
                    .filter(|_| self.from_file);
                let name = key.map_or_else(|| w.parameter.clone(), |k| k.replace('/', "."));
                format!("{name}: {}", w.problem)
            })
            .collect()
    }
}

/// The preview's site as the Lambda would build it from this environment (`lookup`), with the
/// text of `config_file` (`--config`) in place of `MAINTENANCE_CONFIG` when given; a bad
/// value is an error ([`Site::from_env_strict`]). Pass it to [`load`].
pub fn site_from(
    config_file: Option<&Path>,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Site, LoadError> {
    let text = match config_file {
        Some(path) => {
            Some(
                std::fs::read_to_string(path).map_err(|error| LoadError::ConfigRead {
                    path: path.to_path_buf(),
                    error,
                })?,
            )
        }
        None => None,
    };
    Site::from_env_strict(lookup, text.as_deref()).map_err(LoadError::Config)
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("warnings", &self.warnings)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Builds the preview's [`Function`] over `site` (made a preview site here) and fetches the
/// content once. A failed first fetch is an error: a preview that silently showed the defaults
/// would mislead. Files are re-read every 2 s at most; SSM follows the Lambda's 30 s window.
pub async fn load(site: Site, source: Source) -> Result<Loaded, LoadError> {
    let site = self::site(site);
    let label = source.describe();
    let from_file = matches!(source, Source::File(_));
    let (prefix, store, ttl) = match source {
        Source::Embedded => {
            return Ok(Loaded {
                function: Function::new(site, None),
                warnings: Vec::new(),
                source: label,
                from_file: false,
            });
        }
        Source::File(path) => {
            let text = std::fs::read_to_string(&path).map_err(|error| LoadError::Read {
                path: path.clone(),
                error,
            })?;
            parameters_from_toml(&text, FILE_PREFIX).map_err(|error| LoadError::File {
                path: path.clone(),
                error,
            })?;
            let store = Store::File(FileStore { path });
            (FILE_PREFIX.to_string(), store, Duration::from_secs(2))
        }
        Source::Ssm { client, prefix } => {
            check_prefix(&prefix).map_err(LoadError::Prefix)?;
            (prefix, Store::Ssm(client), Duration::from_secs(30))
        }
    };
    let settings = FunctionSettings {
        ssm_prefix: Some(prefix),
        cache: CacheSettings {
            ttl,
            // A laptop is farther from SSM than a Lambda; the preview may wait for the answer.
            init_budget: Duration::from_secs(10),
            refresh_budget: Duration::from_secs(5),
            ..CacheSettings::default()
        },
    };
    let function = Function::with_store(site, &settings, Some(store));
    let refresh = match function.cache() {
        Some(cache) => cache.init(tokio::time::Instant::now()).await,
        None => Refresh::Fetched(Vec::new()),
    };
    match refresh {
        Refresh::Fetched(warnings) => Ok(Loaded {
            function,
            warnings,
            source: label,
            from_file,
        }),
        Refresh::Failed(error) => Err(LoadError::Fetch {
            source_label: label,
            error,
        }),
        // Only a prefix of thousands of parameters gets here within the preview's 10 s.
        Refresh::Partial { .. } => Err(LoadError::Fetch {
            source_label: label,
            error: FetchError::Timeout(10_000),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_file_maps_one_to_one_to_parameter_names() {
        let text = "retry-after = 900\n[links]\nstatus-page = \"https://s.example\"\n[en]\ntitle = \"T\"\n";
        let params = parameters_from_toml(text, "/p").unwrap();
        let names: Vec<_> = params
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("/p/en/title", "T"),
                ("/p/links/status-page", "https://s.example"),
                ("/p/retry-after", "900")
            ]
        );
        let err = parameters_from_toml("[en]\ntitle = [1]\n", "/p").unwrap_err();
        assert!(err.to_string().contains("en.title"), "{err}");
    }
}
