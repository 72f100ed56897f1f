//! `maintctl bypass link`: flags → `ops::LinkRequest` → `ops::bypass_link` → the link; and the
//! link flags `on` shares (`--host`, `--bypass-path`).

use std::process::ExitCode;

use maintenance_core::deploy_names::DEFAULT_BYPASS_PATH;
use maintenance_engine::ops::{self, LinkRequest};
use maintenance_engine::planner::BypassOptions;
use maintenance_engine::planner::bypass::{check_bypass_path, check_host};

use crate::status::TargetArgs;
use crate::{Globals, Output, output};

/// `maintctl bypass` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BypassCommand {
    /// Print the current window's bypass link again (maintctl on printed it first).
    Link(BypassLinkArgs),
}

/// How the bypass link is printed.
#[derive(Debug, Clone, clap::Args)]
pub struct LinkArgs {
    /// Host name of the link (e.g. shop.example.com); else the first name on the HTTPS
    /// listener's certificate that is not a wildcard.
    #[arg(long, value_name = "HOST", value_parser = host)]
    host: Option<String>,
    /// The responder's bypass_path, when it is not the default.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_BYPASS_PATH, value_parser = path)]
    bypass_path: String,
}

fn host(text: &str) -> Result<String, String> {
    check_host(text).map(|()| text.to_string())
}

fn path(text: &str) -> Result<String, String> {
    check_bypass_path(text).map(|()| text.to_string())
}

impl LinkArgs {
    /// The library's options (`skip`: set no link this window).
    pub fn options(&self, skip: bool) -> anyhow::Result<BypassOptions> {
        Ok(BypassOptions::new(
            self.host.clone(),
            &self.bypass_path,
            skip,
        )?)
    }
}

/// Arguments of `maintctl bypass link`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).multiple(true)
    .args(["listeners", "load_balancers", "environment"])))]
#[command(
    after_help = "Prints the link only while maintenance is on, and only when the token in SSM \
    and on the cookie bypass rules agree. Exit codes: 0 printed, 1 failed to read, 4 no link \
    (maintenance is off, or no cookie bypass rule), 6 the token in SSM and on the rules differ."
)]
pub struct BypassLinkArgs {
    #[command(flatten)]
    targets: TargetArgs,
    #[command(flatten)]
    link: LinkArgs,
}

impl BypassCommand {
    /// Runs the command.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let Self::Link(args) = self;
        let request = LinkRequest {
            targets: args.targets.into_targets(),
            options: args.link.options(false)?,
        };
        let (listeners, ssm) = globals.listeners_and_ssm().await;
        let report = match ops::bypass_link(&listeners, &ssm, &request).await {
            Ok(report) => report,
            Err(e) => return output::stopped(e),
        };
        let code = output::emit(globals.output, &report)?;
        if globals.output == Output::Text
            && let Some(message) = report.complaint()
        {
            eprintln!("maintctl: {message}");
        }
        Ok(code)
    }
}
