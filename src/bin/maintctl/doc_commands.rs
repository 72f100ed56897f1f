//! The unit tests that keep the docs' `maintctl` command lines true, and clap's definition
//! consistent: the first walks clap's own definition (`Cli::command()`), so no copy of it and no hidden subcommand is needed. The
//! checker (extracting the command lines of every tracked Markdown file, walking the
//! definition) is test support, `tests/support/doc_commands.rs`, included here by path.

#[path = "../../../tests/support/doc_commands.rs"]
mod check;

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::check::*;
    use crate::Cli;

    fn check(markdown: &str) -> Vec<String> {
        let root = Cli::command();
        commands_in_markdown("doc.md", markdown)
            .iter()
            .flat_map(|c| {
                problems(&root, &c.words)
                    .into_iter()
                    .map(move |p| format!("{}: {p}", c.at))
            })
            .collect()
    }

    #[test]
    fn every_maintctl_command_line_in_the_docs_exists() {
        let root = repository_root();
        let cli = Cli::command();
        let mut found = 0;
        let mut wrong = Vec::new();
        // The book's CLI reference is clap's own --help, checked equal to the definition by
        // reference.rs: its prose is not command lines.
        let generated = "docs/cli-reference.md";
        for path in tracked_markdown(&root)
            .into_iter()
            .filter(|p| p != generated)
        {
            let text = std::fs::read_to_string(root.join(&path)).unwrap();
            for c in commands_in_markdown(&path, &text) {
                found += 1;
                wrong.extend(
                    problems(&cli, &c.words)
                        .into_iter()
                        .map(|p| format!("{}: maintctl {}: {p}", c.at, c.words.join(" "))),
                );
            }
        }
        assert!(
            found > 100,
            "only {found} maintctl command lines found in the docs"
        );
        assert!(
            wrong.is_empty(),
            "the docs name what maintctl lacks:\n{}",
            wrong.join("\n")
        );
    }

    #[test]
    fn the_check_fails_on_a_made_up_flag_or_subcommand() {
        assert_eq!(
            check(
                "Run `maintctl attach --adopt` then\n```sh\nmaintctl on --environment shop \\\n  --made-up yes\nmaintctl frobnicate\nmaintctl schedule extend W1 --end T --environment shop | tee x\n```\n"
            ),
            [
                "doc.md:1: `maintctl attach` has no flag --adopt",
                "doc.md:3: `maintctl on` has no flag --made-up",
                "doc.md:5: `maintctl` has no subcommand frobnicate",
            ]
        );
        // Alternatives are each checked; placeholders are values; a table cell's \| is a |.
        assert_eq!(
            check(
                "| `maintctl on\\|off --environment NAME --fallback` |\n`maintctl <command> --help`, `maintctl message show|set --prefix PREFIX …`"
            ),
            ["doc.md:1: `maintctl off` has no flag --fallback"]
        );
        assert_eq!(
            check(
                "```\ncargo run --bin maintctl -- serve --listen 127.0.0.1:8080 # comment --nope\n$ maintctl status --load-balancer ARN --output json\n```"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            check("```\ncargo run --bin maintctl -- serv\n```"),
            ["doc.md:2: `maintctl` has no subcommand serv"]
        );
        // A short flag's value is a value: `-e shop` names no subcommand.
        assert_eq!(
            check("`maintctl -e shop statu -n`, `maintctl -o json -e shop on -x`"),
            [
                "doc.md:1: `maintctl` has no subcommand statu",
                "doc.md:1: `maintctl` has no flag -x"
            ]
        );
    }
}

#[test]
fn cli_definition_is_consistent() {
    <crate::Cli as clap::CommandFactory>::command().debug_assert();
}
