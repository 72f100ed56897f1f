//! `maintctl config show`: the settings a command would use with these flags, each with where
//! it came from (`maintctl::environment::Selection::show`).

use std::process::ExitCode;

use anyhow::Context;
use maintctl::environment::Given;

use crate::globals::var;
use crate::{Globals, Output, output};

/// `maintctl config` subcommands.
#[derive(Debug, clap::Subcommand)]
#[command(
    after_help = "The file is the first maintctl.toml in this directory or a parent, else \
    $XDG_CONFIG_HOME/maintctl/config.toml; it is read only when an environment is selected \
    (--environment NAME, -e, or MAINTCTL_ENVIRONMENT). A flag wins over the environment's table, \
    which wins over AWS_PROFILE and AWS_REGION."
)]
pub enum ConfigCommand {
    /// Print every setting in force (with these flags) and where it came from: flag,
    /// environment variable, the file, or default.
    Show(ShowArgs),
}

/// Arguments of `maintctl config show`: the flags of the commands that take them.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// SSM parameter prefix of the content, e.g. /maintenance/shop.
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// Listener ARN (repeatable).
    #[arg(long = "listener", value_name = "ARN")]
    listeners: Vec<String>,
    /// Load balancer ARN (repeatable).
    #[arg(long = "load-balancer", value_name = "ARN")]
    load_balancers: Vec<String>,
    /// The URL on and off check after switching.
    #[arg(long, value_name = "URL")]
    verify_url: Option<String>,
    /// Host name of the bypass link.
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// The responder's bypass path.
    #[arg(long, value_name = "PATH")]
    bypass_path: Option<String>,
    /// The responder's health route.
    #[arg(long, value_name = "PATH")]
    health_path: Option<String>,
}

impl ConfigCommand {
    /// Runs the command.
    pub fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let Self::Show(args) = self;
        let given = Given {
            profile: globals.given.profile.clone(),
            region: globals.given.region.clone(),
            prefix: args.prefix,
            listeners: args.listeners,
            load_balancers: args.load_balancers,
            verify_url: args.verify_url,
            host: args.host,
            bypass_path: args.bypass_path,
            health_path: args.health_path,
        };
        let shown = globals.selection.show(given, &var);
        match globals.output {
            Output::Json => say!(
                "{}",
                serde_json::to_string_pretty(&shown).context("failed to encode JSON")?
            ),
            Output::Text => output::text(&shown),
        }
        Ok(ExitCode::SUCCESS)
    }
}
