//! `maintctl completions SHELL` and `maintctl man`: the shell completions (`clap_complete`) and
//! the manual pages (`clap_mangen`), generated from the same clap definition the binary parses
//! with, so neither can drift from the flags.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap_complete::Shell;

use crate::globals::Globals;

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
    pub fn run(self, globals: &Globals, mut cli: clap::Command) -> anyhow::Result<ExitCode> {
        globals.text_only("completions");
        let shell = match self.shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        };
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cli, "maintctl", &mut out);
        crate::output::text(&String::from_utf8(out).context("the completion script is not UTF-8")?);
        Ok(ExitCode::SUCCESS)
    }
}

impl ManArgs {
    /// Prints maintctl(1), or writes every page into `--out-dir`.
    pub fn run(self, globals: &Globals, command: clap::Command) -> anyhow::Result<ExitCode> {
        globals.text_only("man");
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

/// The book's CLI reference (`docs/cli-reference.md`) is every command's `--help`, generated:
/// this test fails when the file differs from the definition, and writes it anew with
/// `UPDATE_CLI_REFERENCE=1`.
#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    fn pages(command: &mut clap::Command, path: &str, out: &mut String) {
        let help = command.render_long_help().to_string();
        out.push_str(&format!(
            "\n## {path}\n\n```text\n{}\n```\n",
            help.trim_end()
        ));
        let mut subcommands: Vec<clap::Command> = command.get_subcommands().cloned().collect();
        for sub in subcommands.iter_mut().filter(|s| s.get_name() != "help") {
            pages(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    fn reference() -> String {
        let mut command = crate::Cli::command().term_width(100).max_term_width(100);
        command.build();
        let mut out = String::from(
            "# Every command's --help\n\nGenerated from the definition maintctl parses its flags \
             with (`src/bin/maintctl/reference.rs`), so it cannot drift; the map of the commands \
             is the [CLI reference](cli.md).\n",
        );
        pages(&mut command, "maintctl", &mut out);
        out
    }

    #[test]
    fn the_books_cli_reference_is_every_commands_help() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli-reference.md");
        let generated = reference();
        if std::env::var_os("UPDATE_CLI_REFERENCE").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let written = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            generated.contains("## maintctl schedule create\n"),
            "{generated:.300}"
        );
        assert!(
            written == generated,
            "docs/cli-reference.md is not maintctl's --help: UPDATE_CLI_REFERENCE=1 cargo test \
             --bin maintctl the_books_cli_reference writes it anew"
        );
    }
}
