//! The options every `maintctl` subcommand understands (`Globals`: the environment, the AWS
//! profile and region (`AwsOptions`), the output format), the environment's settings they select
//! (`maintctl::environment`), and the clients they give.

use std::fmt::Display;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use maintctl::environment::{ConfigFile, ENVIRONMENT_VARIABLE, Selection};
use maintenance_engine::listeners::Aws;
use maintenance_engine::planner::environment_name;

/// Options every subcommand understands.
#[derive(Debug, Clone, clap::Args)]
pub struct Globals {
    /// The environment: its [environments.NAME] table of maintctl.toml, and the environment tag
    /// of its maintenance rules [env: MAINTCTL_ENVIRONMENT].
    #[arg(long, short = 'e', global = true, value_name = "NAME", value_parser = environment_name)]
    pub environment: Option<String>,
    #[command(flatten)]
    /// AWS profile and region.
    pub aws: AwsOptions,
    /// Output format: human-readable text, or JSON for scripts.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The environment selected and its table, once `select` has run.
    #[arg(skip)]
    pub selection: Selection,
    /// `--profile` and `--region` as given on the command line.
    #[arg(skip)]
    pub given: AwsOptions,
}

/// The process's environment variables, as the library's resolution reads them.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Globals {
    /// Selects the environment (`--environment`, else `MAINTCTL_ENVIRONMENT`) and reads its
    /// table from maintctl.toml; the profile and region then come from the flags, else the table
    /// (else the AWS SDK's own chain).
    pub fn select(&mut self) -> anyhow::Result<()> {
        let cwd = std::env::current_dir()?;
        let selected =
            self.environment.is_some() || var(ENVIRONMENT_VARIABLE).is_some_and(|v| !v.is_empty());
        let file = match selected {
            true => ConfigFile::discover(&cwd, &var)?,
            false => None,
        };
        let mut selection = Selection::new(self.environment.clone(), file.as_ref(), &var)?;
        if file.is_none() {
            selection.file = ConfigFile::locate(&cwd, &var);
        }
        self.given = self.aws.clone();
        let table = selection.table();
        self.aws.profile = self.aws.profile.take().or(table.profile.clone());
        self.aws.region = self.aws.region.take().or(table.region.clone());
        self.environment = selection.name().map(str::to_string);
        self.selection = selection;
        Ok(())
    }

    /// The ELBv2 and STS clients for the profile and region.
    pub async fn listeners(&self) -> Aws {
        Aws::new(&self.aws.load().await)
    }

    /// The listeners' clients and the SSM client (where the bypass link's token goes).
    pub async fn listeners_and_ssm(&self) -> (Aws, aws_sdk_ssm::Client) {
        let config = self.aws.load().await;
        (Aws::new(&config), aws_sdk_ssm::Client::new(&config))
    }

    /// The content prefix: `--prefix`, else the environment's `prefix`; a usage error (exit 2)
    /// naming both ways when there is neither.
    pub fn prefix(&self, flag: Option<String>) -> String {
        match self.selection.prefix(flag) {
            Some(prefix) => prefix.value,
            None => usage(
                "no content prefix: give --prefix PREFIX, or select an environment (-e NAME) \
                 whose [environments.NAME] table in maintctl.toml has prefix = \"PREFIX\"",
            ),
        }
    }
}

impl Globals {
    /// A usage error (exit 2) for `--output json` on a command that prints no report.
    pub fn text_only(&self, what: &str) {
        if self.output == Output::Json {
            usage(format!(
                "{what} prints no report: --output json does not apply (it writes {what}'s own \
                 format)"
            ));
        }
    }
}

/// Stops with clap's usage error (exit 2) saying what is missing.
pub fn usage(message: impl Display) -> ! {
    // clap's own error (its format, exit 2), without the definition: it lives in main.rs,
    // which imports this file.
    clap::Error::raw(
        clap::error::ErrorKind::MissingRequiredArgument,
        format!("{message}\n"),
    )
    .exit()
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Human-readable text.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// AWS options shared by every `maintctl` subcommand that calls AWS.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsOptions {
    /// Named profile from the AWS config files (else the environment's profile, else
    /// AWS_PROFILE, else the default chain).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Region (else the environment's region, else AWS_REGION or the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
}

impl AwsOptions {
    /// Loads the SDK configuration. Endpoints come from `AWS_ENDPOINT_URL*` as usual, which is
    /// how the tests point the SDK at the emulator.
    pub async fn load(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(maintenance_responder::aws::https_client());
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        loader.load().await
    }
}
