//! Naming an environment once (issue #22): the `maintctl.toml` file, which environment is
//! selected, and every setting in force with where it came from.
//!
//! The file is the first `maintctl.toml` in the working directory or one of its parents, else
//! `$XDG_CONFIG_HOME/maintctl/config.toml` (`~/.config/maintctl/config.toml` without
//! `XDG_CONFIG_HOME`). It holds one `[environments.NAME]` table per deployment:
//!
//! ```toml
//! [environments.shop]
//! profile = "shop-prod"
//! region = "eu-west-1"
//! prefix = "/maintenance/shop"
//! load-balancers = ["arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/shop/50dc6c495c0c9188"]
//! verify-url = "https://shop.example.com/"
//! ```
//!
//! An environment is selected only on purpose: `--environment NAME` (`-e`), else
//! `MAINTCTL_ENVIRONMENT`; with none selected the file is not read at all. The name is also the
//! maintenance rules' environment tag (what `attach --environment` wrote), so the listeners of
//! the file are still filtered by it. Each value comes from the first of: its flag, the
//! selected environment's table, the variable the AWS SDK reads itself (`AWS_PROFILE`,
//! `AWS_REGION`: the table wins over them, since selecting an environment is the more deliberate
//! choice), its default. The content prefix comes from `--prefix` or the table only: never from
//! the responder's own `MAINTENANCE_SSM_PREFIX` in the operator's shell.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use maintenance_core::deploy_names::DEFAULT_BYPASS_PATH;
use serde::{Deserialize, Serialize};

/// The file's name in a working directory or one of its parents.
pub const PROJECT_FILE: &str = "maintctl.toml";

/// The variable that selects an environment when `--environment` is not given.
pub const ENVIRONMENT_VARIABLE: &str = "MAINTCTL_ENVIRONMENT";

/// What can be wrong with the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("failed to read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid: TOML, an unknown key, a wrong type.
    #[error("{path} is not a valid maintctl configuration: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message (line, column, what it expected).
        message: String,
    },
    /// `MAINTCTL_ENVIRONMENT` names what cannot be an environment.
    #[error("{ENVIRONMENT_VARIABLE}: {0}")]
    BadVariable(String),
}

/// One environment's table: every key is optional, each the flag of the same name.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EnvironmentTable {
    /// `--profile`: the AWS profile.
    pub profile: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--prefix`: the SSM prefix of the content, the lease and the bypass token.
    pub prefix: Option<String>,
    /// `--listener`, repeated.
    #[serde(default)]
    pub listeners: Vec<String>,
    /// `--load-balancer`, repeated.
    #[serde(default)]
    pub load_balancers: Vec<String>,
    /// `--verify-url` of `on` and `off`.
    pub verify_url: Option<String>,
    /// `--host` of the bypass link.
    pub host: Option<String>,
    /// `--bypass-path`: the responder's bypass path, when it is not the default.
    pub bypass_path: Option<String>,
    /// `--health-path`: the responder's health route, when it is not the default.
    pub health_path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    environments: BTreeMap<String, EnvironmentTable>,
}

/// A configuration file, read.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it was found.
    pub path: PathBuf,
    /// Its `[environments.NAME]` tables.
    pub environments: BTreeMap<String, EnvironmentTable>,
}

impl ConfigFile {
    /// Parses a file's text.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let shape: FileShape = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        for name in shape.environments.keys() {
            maintenance_engine::planner::environment_name(name).map_err(|message| {
                ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("[environments.{name:?}]: {message}"),
                }
            })?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            environments: shape.environments,
        })
    }

    /// Where the file is: the first `maintctl.toml` from `cwd` up, else the user's
    /// `$XDG_CONFIG_HOME/maintctl/config.toml` (`$HOME/.config/…`); `None` when there is none.
    pub fn locate(cwd: &Path, var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
        let project = cwd
            .ancestors()
            .map(|dir| dir.join(PROJECT_FILE))
            .find(|p| p.is_file());
        let user = || {
            let base = var("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| Path::new(&h).join(".config")))?;
            Some(base.join("maintctl").join("config.toml")).filter(|p| p.is_file())
        };
        project.or_else(user)
    }

    /// Finds and reads the file, if there is one.
    pub fn discover(
        cwd: &Path,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(path) = Self::locate(cwd, var) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(&path, &text).map(Some)
    }
}

/// Where a value in force came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable (its name).
    Variable(String),
    /// The selected environment's table in this file.
    File(PathBuf),
    /// maintctl's default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => write!(f, "flag"),
            Source::Variable(name) => write!(f, "environment variable {name}"),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Default => write!(f, "default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    /// The value in force.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

/// The environment selected (if any), its table, and the file it came from.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The environment's name, from `--environment` or `MAINTCTL_ENVIRONMENT`.
    pub environment: Option<Sourced<String>>,
    /// The file found, selected environment or not.
    pub file: Option<PathBuf>,
    /// Whether the file has a table for the environment.
    pub has_table: bool,
    table: EnvironmentTable,
}

impl Selection {
    /// Selects the environment: `flag`, else `MAINTCTL_ENVIRONMENT`; reads its table from
    /// `file` when there is one (a name the file lacks is still the rules' tag filter).
    pub fn new(
        flag: Option<String>,
        file: Option<&ConfigFile>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let environment = match flag {
            Some(name) => Some(Sourced {
                value: name,
                source: Source::Flag,
            }),
            None => match var(ENVIRONMENT_VARIABLE).filter(|v| !v.is_empty()) {
                Some(name) => Some(Sourced {
                    value: maintenance_engine::planner::environment_name(&name)
                        .map_err(ConfigError::BadVariable)?,
                    source: Source::Variable(ENVIRONMENT_VARIABLE.into()),
                }),
                None => None,
            },
        };
        let table = environment
            .as_ref()
            .and_then(|e| file?.environments.get(&e.value).cloned());
        Ok(Self {
            environment,
            file: file.map(|f| f.path.clone()),
            has_table: table.is_some(),
            table: table.unwrap_or_default(),
        })
    }

    /// The environment's name, if one is selected.
    pub fn name(&self) -> Option<&str> {
        self.environment.as_ref().map(|e| e.value.as_str())
    }

    /// The selected environment's table (empty when none is selected or the file lacks it).
    pub fn table(&self) -> &EnvironmentTable {
        &self.table
    }

    fn in_file<T>(&self, value: Option<T>) -> Option<Sourced<T>> {
        let path = self.file.clone()?;
        value.map(|value| Sourced {
            value,
            source: Source::File(path),
        })
    }

    /// The flag's value, else the table's.
    pub fn pick(
        &self,
        flag: Option<String>,
        key: fn(&EnvironmentTable) -> Option<&String>,
    ) -> Option<Sourced<String>> {
        flag.map(|value| Sourced {
            value,
            source: Source::Flag,
        })
        .or_else(|| self.in_file(key(&self.table).cloned()))
    }

    /// The flag's value, else the table's, else the variable the AWS SDK reads itself.
    fn pick_aws(
        &self,
        flag: Option<String>,
        key: fn(&EnvironmentTable) -> Option<&String>,
        variable: &str,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Sourced<String>> {
        self.pick(flag, key).or_else(|| {
            var(variable)
                .filter(|v| !v.is_empty())
                .map(|value| Sourced {
                    value,
                    source: Source::Variable(variable.into()),
                })
        })
    }

    /// `--profile`, the table's `profile`, `AWS_PROFILE`; `None`: the SDK's default chain.
    pub fn profile(
        &self,
        flag: Option<String>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Sourced<String>> {
        self.pick_aws(flag, |t| t.profile.as_ref(), "AWS_PROFILE", var)
    }

    /// `--region`, the table's `region`, `AWS_REGION`; `None`: the profile's region.
    pub fn region(
        &self,
        flag: Option<String>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Sourced<String>> {
        self.pick_aws(flag, |t| t.region.as_ref(), "AWS_REGION", var)
    }

    /// The content prefix: `--prefix`, else the table's `prefix`.
    pub fn prefix(&self, flag: Option<String>) -> Option<Sourced<String>> {
        self.pick(flag, |t| t.prefix.as_ref())
    }

    /// The listeners and load balancers: the flags' when any was given (both then come from
    /// the command line), else the table's.
    pub fn targets(
        &self,
        listeners: Vec<String>,
        load_balancers: Vec<String>,
    ) -> (Sourced<Vec<String>>, Sourced<Vec<String>>) {
        let source = match (
            &self.file,
            listeners.is_empty() && load_balancers.is_empty(),
        ) {
            (Some(path), true) => Source::File(path.clone()),
            (None, true) => Source::Default,
            (_, false) => Source::Flag,
        };
        let (listeners, load_balancers) = match source {
            Source::File(_) => (
                self.table.listeners.clone(),
                self.table.load_balancers.clone(),
            ),
            _ => (listeners, load_balancers),
        };
        let sourced = |value: Vec<String>| Sourced {
            source: if value.is_empty() {
                Source::Default
            } else {
                source.clone()
            },
            value,
        };
        (sourced(listeners), sourced(load_balancers))
    }

    fn or_default(&self, picked: Option<Sourced<String>>, default: &str) -> Sourced<String> {
        picked.unwrap_or_else(|| Sourced {
            value: default.to_string(),
            source: Source::Default,
        })
    }

    /// The responder's health route given: `--health-path`, else the table's. Without one,
    /// commands follow the rule of `ops::doctor::health_path`: the responder target group's
    /// health-check path, else `/healthz`.
    pub fn health_path(&self, flag: Option<String>) -> Option<Sourced<String>> {
        self.pick(flag, |t| t.health_path.as_ref())
    }

    /// The responder's bypass path: `--bypass-path`, the table's, else the default.
    pub fn bypass_path(&self, flag: Option<String>) -> Sourced<String> {
        let picked = self.pick(flag, |t| t.bypass_path.as_ref());
        self.or_default(picked, DEFAULT_BYPASS_PATH)
    }
}

/// The flags `maintctl config show` was given: what a command with the same flags would use.
#[derive(Debug, Clone, Default)]
pub struct Given {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--prefix`.
    pub prefix: Option<String>,
    /// `--listener`.
    pub listeners: Vec<String>,
    /// `--load-balancer`.
    pub load_balancers: Vec<String>,
    /// `--verify-url`.
    pub verify_url: Option<String>,
    /// `--host`.
    pub host: Option<String>,
    /// `--bypass-path`.
    pub bypass_path: Option<String>,
    /// `--health-path`.
    pub health_path: Option<String>,
}

/// One setting in force.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// Its key in the table (and its flag without the dashes).
    pub name: &'static str,
    /// Its value; `None`: not set, and what then happens is `unset`.
    pub value: Option<String>,
    /// Where the value came from (`None` when it is not set).
    pub source: Option<Source>,
    /// What happens without a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unset: Option<&'static str>,
}

/// `maintctl config show`: the file, the environment and every setting with its source.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    /// The file found (read only when an environment is selected).
    pub file: Option<PathBuf>,
    /// The environment selected and where the choice came from.
    pub environment: Option<Sourced<String>>,
    /// Whether the file has the environment's table.
    pub has_table: bool,
    /// Every setting.
    pub settings: Vec<Setting>,
}

impl Selection {
    /// Every setting in force with these flags, and where each came from.
    pub fn show(&self, given: Given, var: &dyn Fn(&str) -> Option<String>) -> Shown {
        let one = |name, picked: Option<Sourced<String>>, unset| Setting {
            name,
            source: picked.as_ref().map(|p| p.source.clone()),
            value: picked.map(|p| p.value),
            unset: Some(unset),
        };
        let list = |name, picked: Sourced<Vec<String>>| Setting {
            name,
            value: (!picked.value.is_empty()).then(|| picked.value.join(", ")),
            source: (!picked.value.is_empty()).then_some(picked.source),
            unset: Some("none named"),
        };
        let (listeners, load_balancers) = self.targets(given.listeners, given.load_balancers);
        let path = |name, picked: Sourced<String>| Setting {
            name,
            value: Some(picked.value),
            source: Some(picked.source),
            unset: None,
        };
        let settings = vec![
            one(
                "profile",
                self.profile(given.profile, var),
                "the AWS SDK's default chain",
            ),
            one(
                "region",
                self.region(given.region, var),
                "the profile's region",
            ),
            one(
                "prefix",
                self.prefix(given.prefix),
                "none: commands that need one ask for --prefix",
            ),
            list("listeners", listeners),
            list("load-balancers", load_balancers),
            one(
                "verify-url",
                self.pick(given.verify_url, |t| t.verify_url.as_ref()),
                "no live check after a switch",
            ),
            one(
                "host",
                self.pick(given.host, |t| t.host.as_ref()),
                "the HTTPS listener certificate's first name",
            ),
            path("bypass-path", self.bypass_path(given.bypass_path)),
            one(
                "health-path",
                self.health_path(given.health_path),
                "the responder target group's health-check path (when its health checks are \
                 on), else /healthz",
            ),
        ];
        Shown {
            file: self.file.clone(),
            environment: self.environment.clone(),
            has_table: self.has_table,
            settings,
        }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, &self.environment, self.has_table) {
            (None, _, _) => writeln!(
                f,
                "file: none ({PROJECT_FILE} in this directory or a parent, else \
                 $XDG_CONFIG_HOME/maintctl/config.toml)"
            )?,
            (Some(path), None, _) => writeln!(
                f,
                "file: {} (not read: no environment selected)",
                path.display()
            )?,
            (Some(path), Some(e), false) => writeln!(
                f,
                "file: {} (it has no [environments.{}] table)",
                path.display(),
                e.value
            )?,
            (Some(path), Some(_), true) => writeln!(f, "file: {}", path.display())?,
        }
        match &self.environment {
            Some(e) => writeln!(f, "environment: {} (from {})", e.value, e.source)?,
            None => writeln!(
                f,
                "environment: none (select one with --environment NAME, -e, or \
                 {ENVIRONMENT_VARIABLE})"
            )?,
        }
        for s in &self.settings {
            match (&s.value, &s.source, s.unset) {
                (Some(value), Some(source), _) => {
                    writeln!(f, "{}: {value} (from {source})", s.name)?
                }
                (_, _, Some(unset)) => writeln!(f, "{}: not set ({unset})", s.name)?,
                _ => writeln!(f, "{}: not set", s.name)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    const FILE: &str = r#"
[environments.shop]
profile = "shop-prod"
prefix = "/maintenance/shop"
listeners = ["arn:listener/1"]
health-path = "/status"

[environments.staging]
region = "eu-west-1"
"#;

    fn file() -> ConfigFile {
        ConfigFile::parse(Path::new("/etc/maintctl.toml"), FILE).unwrap()
    }

    #[test]
    fn a_flag_wins_over_the_table_which_wins_over_the_sdks_variables() {
        let file = file();
        let env = vars(&[("AWS_PROFILE", "dev"), ("AWS_REGION", "us-east-1")]);
        let s = Selection::new(Some("shop".into()), Some(&file), &env).unwrap();
        let in_file = Source::File("/etc/maintctl.toml".into());
        assert_eq!(s.profile(None, &env).unwrap().source, in_file);
        assert_eq!(s.profile(None, &env).unwrap().value, "shop-prod");
        assert_eq!(
            s.profile(Some("x".into()), &env).unwrap().source,
            Source::Flag
        );
        let region = s.region(None, &env).unwrap();
        assert_eq!(
            (region.value.as_str(), region.source),
            ("us-east-1", Source::Variable("AWS_REGION".into()))
        );
        assert_eq!(s.prefix(None).unwrap().value, "/maintenance/shop");
        assert_eq!(s.health_path(None).unwrap().value, "/status");
        assert_eq!(s.bypass_path(None).source, Source::Default);
        let (listeners, lbs) = s.targets(vec![], vec![]);
        assert_eq!(listeners.value, ["arn:listener/1"]);
        assert_eq!(listeners.source, in_file);
        assert_eq!(lbs.source, Source::Default);
        // A target flag replaces the file's targets, both kinds.
        let (listeners, lbs) = s.targets(vec![], vec!["arn:lb".into()]);
        assert!(listeners.value.is_empty());
        assert_eq!(lbs.source, Source::Flag);
    }

    #[test]
    fn an_environment_is_selected_only_on_purpose() {
        let file = file();
        let none = Selection::new(None, Some(&file), &vars(&[])).unwrap();
        assert_eq!(none.name(), None);
        assert_eq!(none.prefix(None), None, "no environment, no table read");
        let env = vars(&[(ENVIRONMENT_VARIABLE, "staging")]);
        let by_var = Selection::new(None, Some(&file), &env).unwrap();
        assert_eq!(
            by_var.environment.unwrap().source,
            Source::Variable(ENVIRONMENT_VARIABLE.into())
        );
        let flag_wins = Selection::new(Some("shop".into()), Some(&file), &env).unwrap();
        assert_eq!(flag_wins.name(), Some("shop"));
        // A name the file lacks is still the rules' tag, with nothing from the file.
        let other = Selection::new(Some("blog".into()), Some(&file), &vars(&[])).unwrap();
        assert!(!other.has_table);
        assert_eq!(other.prefix(None), None);
        assert!(Selection::new(None, None, &vars(&[(ENVIRONMENT_VARIABLE, "a\tb")])).is_err());
    }

    #[test]
    fn config_show_names_each_values_source() {
        let file = file();
        let env = vars(&[(ENVIRONMENT_VARIABLE, "shop"), ("AWS_REGION", "us-east-1")]);
        let s = Selection::new(None, Some(&file), &env).unwrap();
        let given = Given {
            verify_url: Some("https://shop.example.com/".into()),
            ..Given::default()
        };
        let text = s.show(given, &env).to_string();
        for line in [
            "file: /etc/maintctl.toml\n",
            "environment: shop (from environment variable MAINTCTL_ENVIRONMENT)\n",
            "profile: shop-prod (from /etc/maintctl.toml)\n",
            "region: us-east-1 (from environment variable AWS_REGION)\n",
            "prefix: /maintenance/shop (from /etc/maintctl.toml)\n",
            "listeners: arn:listener/1 (from /etc/maintctl.toml)\n",
            "load-balancers: not set (none named)\n",
            "verify-url: https://shop.example.com/ (from flag)\n",
            "bypass-path: /__maintenance/bypass (from default)\n",
            "health-path: /status (from /etc/maintctl.toml)\n",
        ] {
            assert!(text.contains(line), "no {line:?} in:\n{text}");
        }
    }

    #[test]
    fn a_file_with_an_unknown_key_or_a_bad_name_is_refused_with_where() {
        let typo = ConfigFile::parse(Path::new("m.toml"), "[environments.shop]\nprefx = \"/a\"\n");
        let message = typo.unwrap_err().to_string();
        assert!(
            message.contains("m.toml") && message.contains("prefx"),
            "{message}"
        );
        let name = ConfigFile::parse(Path::new("m.toml"), "[environments.\"a\tb\"]\n");
        assert!(name.is_err());
        assert!(
            ConfigFile::parse(Path::new("m.toml"), "")
                .unwrap()
                .environments
                .is_empty()
        );
    }

    #[test]
    fn the_file_is_the_nearest_maintctl_toml_up_from_the_working_directory_else_the_users() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        let xdg = root.path().join("xdg");
        std::fs::create_dir_all(xdg.join("maintctl")).unwrap();
        let user = xdg.join("maintctl/config.toml");
        std::fs::write(&user, "").unwrap();
        let env = vars(&[("XDG_CONFIG_HOME", xdg.to_str().unwrap())]);
        assert_eq!(ConfigFile::locate(&deep, &env), Some(user.clone()));
        let project = root.path().join("a/maintctl.toml");
        std::fs::write(&project, "").unwrap();
        assert_eq!(ConfigFile::locate(&deep, &env), Some(project));
        let home = vars(&[("HOME", root.path().to_str().unwrap())]);
        assert_eq!(ConfigFile::locate(&xdg, &home), None);
    }
}
