//! `maintctl lease show|break`: the switching lease of a content prefix (`ops::lease::show`,
//! `ops::lease::break_lease`) → the report.

use std::process::ExitCode;

use maintenance_core::deploy_names::parameters::check_prefix;
use maintenance_engine::ops::lease::{self, LeaseOptions};

use crate::{Globals, output};

/// `maintctl lease` subcommands.
#[derive(Debug, clap::Subcommand)]
#[command(
    after_help = "Every switch (maintctl on/off, the switch function) holds the lease \
    PREFIX/switch/lease while it plans and writes. A lease left by a writer that crashed is \
    taken over by the next writer once it expires (2 minutes after SSM wrote it, at most). \
    Break it by hand only when its holder is surely gone."
)]
pub enum LeaseCommand {
    /// Show who holds the lease, since when, doing what, until when, and its id.
    Show(PrefixArg),
    /// Delete the lease, but only if it is still the one `show` printed (--id).
    Break(BreakArgs),
}

/// The content prefix.
#[derive(Debug, clap::Args)]
pub struct PrefixArg {
    /// SSM parameter prefix of the content (the maintenance rule's content-prefix tag), e.g.
    /// /maintenance/shop [default: the environment's prefix].
    #[arg(long, value_name = "PREFIX", value_parser = prefix)]
    prefix: Option<String>,
}

fn prefix(text: &str) -> Result<String, String> {
    check_prefix(text).map(|()| text.to_string())
}

/// `--prefix`, else the environment's (checked like the flag).
fn content_prefix(globals: &Globals, arg: PrefixArg) -> anyhow::Result<String> {
    let prefix = globals.prefix(arg.prefix);
    check_prefix(&prefix)
        .map_err(|problem| anyhow::anyhow!("the environment's prefix: {problem}"))?;
    Ok(prefix)
}

/// Arguments of `maintctl lease break`.
#[derive(Debug, clap::Args)]
pub struct BreakArgs {
    #[command(flatten)]
    prefix: PrefixArg,
    /// The lease's id, as maintctl lease show printed it.
    #[arg(long, value_name = "ID")]
    id: String,
}

impl LeaseCommand {
    /// Runs the command.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let ssm = aws_sdk_ssm::Client::new(&globals.aws.load().await);
        let ttl = LeaseOptions::default().ttl;
        let report = match self {
            Self::Show(a) => lease::show(&ssm, &content_prefix(globals, a)?, ttl).await?,
            Self::Break(a) => {
                let prefix = content_prefix(globals, a.prefix)?;
                lease::break_lease(&ssm, &prefix, &a.id, ttl).await?
            }
        };
        output::emit(globals.output, &report)
    }
}
