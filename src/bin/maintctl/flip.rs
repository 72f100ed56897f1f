//! (being written: attach, status, on, off)
use crate::Globals;
use std::process::ExitCode;
/// Direction of a switch.
#[derive(Debug, Clone, Copy)]
pub enum Direction {
    /// On
    On,
    /// Off
    Off,
}
/// Attach arguments.
#[derive(Debug, clap::Args)]
pub struct AttachArgs {}
/// Status arguments.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {}
/// Switch arguments.
#[derive(Debug, clap::Args)]
pub struct SwitchArgs {}
impl AttachArgs {
    pub async fn run(self, _g: &Globals) -> anyhow::Result<ExitCode> {
        anyhow::bail!("not built yet")
    }
}
impl StatusArgs {
    pub async fn run(self, _g: &Globals) -> anyhow::Result<ExitCode> {
        anyhow::bail!("not built yet")
    }
}
impl SwitchArgs {
    pub async fn run(self, _g: &Globals, _d: Direction) -> anyhow::Result<ExitCode> {
        anyhow::bail!("not built yet")
    }
}
