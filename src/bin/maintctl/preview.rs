//! (being written: serve, preview)
use crate::Globals;
use std::process::ExitCode;
/// Serve arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}
/// Preview arguments.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {}
impl ServeArgs {
    pub async fn run(self, _g: &Globals) -> anyhow::Result<ExitCode> {
        anyhow::bail!("not built yet")
    }
}
impl PreviewArgs {
    pub async fn run(self, _g: &Globals) -> anyhow::Result<ExitCode> {
        anyhow::bail!("not built yet")
    }
}
