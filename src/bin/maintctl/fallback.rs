//! `maintctl fallback render|refresh`: the fallback rule's page — rendered from the embedded
//! texts (what `deploy/fallback.html` holds for the templates), or refreshed on every fallback
//! rule of a content prefix from the content in SSM (`ops::fallback::refresh`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;
use maintenance_core::site::Site;
use maintenance_engine::ops::fallback;

use crate::{Globals, output};

/// `maintctl fallback` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum FallbackCommand {
    /// Print (or write) the fallback page of the embedded texts: the body the templates create
    /// the fallback rule with (deploy/fallback.html).
    Render(RenderArgs),
    /// Render the fallback page from the content under a prefix and put it on every fallback
    /// rule of that prefix (the listeners whose maintenance rule is tagged with it).
    Refresh(RefreshArgs),
}

/// Arguments of `maintctl fallback render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Write the page to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Arguments of `maintctl fallback refresh`.
#[derive(Debug, clap::Args)]
pub struct RefreshArgs {
    /// SSM parameter prefix, e.g. /maintenance/shop [default: the environment's prefix].
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// Print the page and the rules it would go on, and modify nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
}

impl FallbackCommand {
    /// Runs the command.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let site = Site::embedded();
        match self {
            Self::Render(args) => {
                globals.text_only("fallback render");
                let page = fallback::default_page(&site);
                match args.out {
                    Some(path) => std::fs::write(&path, &page)
                        .with_context(|| format!("failed to write {}", path.display()))?,
                    None => say!("{page}"),
                }
                Ok(ExitCode::SUCCESS)
            }
            Self::Refresh(args) => {
                let ssm = aws_sdk_ssm::Client::new(&globals.aws.load().await);
                let listeners = globals.listeners().await;
                let now = Timestamp::now();
                let report = fallback::refresh(
                    &listeners,
                    &ssm,
                    &globals.prefix(args.prefix),
                    &[],
                    args.dry_run,
                    &site,
                    now,
                )
                .await?;
                output::emit(globals.output, &report)
            }
        }
    }
}
