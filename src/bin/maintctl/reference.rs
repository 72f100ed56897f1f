//! `maintctl completions SHELL` and `maintctl man`: the shell completions (`clap_complete`) and
//! the manual pages (`clap_mangen`), generated from the same clap definition the binary parses
//! with, so neither can drift from the flags.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::{Cli, Globals};

/// Arguments of `maintctl completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Install, for example: maintctl completions bash > \
    ~/.local/share/bash-completion/completions/maintctl; zsh: into a directory of your $fpath as \
    _maintctl; fish: ~/.config/fish/completions/maintctl.fish.")]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum, value_name = "SHELL")]
    shell: CompletionShell,
}

/// The shells `maintctl completions` writes for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// Arguments of `maintctl man`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without --out-dir, prints maintctl(1) (read it with: maintctl man | man \
    -l -). With it, writes maintctl.1 and one page per subcommand (maintctl-on.1, …)."
)]
pub struct ManArgs {
    /// Write every page (maintctl.1 and one per subcommand) into this directory instead.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

impl CompletionsArgs {
    /// Prints the completion script on stdout.
    pub fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        globals.text_only("completions");
        let shell = match self.shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        };
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "maintctl", &mut out);
        crate::output::text(&String::from_utf8(out).context("the completion script is not UTF-8")?);
        Ok(ExitCode::SUCCESS)
    }
}

impl ManArgs {
    /// Prints maintctl(1), or writes every page into `--out-dir`.
    pub fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        globals.text_only("man");
        let command = Cli::command();
        match self.out_dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("failed to create {}", dir.display()))?;
                clap_mangen::generate_to(command, &dir)
                    .with_context(|| format!("failed to write the pages into {}", dir.display()))?;
                say!(
                    "maintctl man: wrote the manual pages into {}",
                    dir.display()
                );
            }
            None => {
                let mut out = Vec::new();
                clap_mangen::Man::new(command)
                    .render(&mut out)
                    .context("failed to render the manual page")?;
                crate::output::text(&String::from_utf8_lossy(&out));
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
