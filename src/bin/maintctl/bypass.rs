//! `maintctl bypass link`: flags → `ops::LinkRequest` → `ops::bypass_link` → the link; and the
//! link flags `on` shares (`--host`, `--bypass-path`).

use std::process::ExitCode;

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
    /// The responder's bypass_path, when it is not the default [default: the environment's
    /// bypass-path, else /__maintenance/bypass].
    #[arg(long, value_name = "PATH", value_parser = path)]
    bypass_path: Option<String>,
}

fn host(text: &str) -> Result<String, String> {
    check_host(text).map(|()| text.to_string())
}

fn path(text: &str) -> Result<String, String> {
    check_bypass_path(text).map(|()| text.to_string())
}

impl LinkArgs {
    /// The library's options (`skip`: set no link this window), the flags else the
    /// environment's host and bypass-path.
    pub fn options(&self, globals: &Globals, skip: bool) -> anyhow::Result<BypassOptions> {
        let selection = &globals.selection;
        let host = selection.pick(self.host.clone(), |t| t.host.as_ref());
        let path = selection.bypass_path(self.bypass_path.clone());
        Ok(BypassOptions::new(
            host.map(|h| h.value),
            &path.value,
            skip,
        )?)
    }
}

/// Arguments of `maintctl bypass link`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints the link only while maintenance is on, and only when the token in SSM \
    and on the cookie bypass rules agree (maintenance off or no cookie bypass rule: exit 4; the \
    two tokens differ: exit 6). Exit codes: maintctl --help lists them."
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
            targets: args.targets.required(globals),
            options: args.link.options(globals, false)?,
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
