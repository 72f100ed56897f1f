//! The docs' `maintctl` command lines against a clap `Command` (maintctl's own: the unit test
//! in `src/bin/maintctl/doc_commands.rs` includes this file and hands it `Cli::command()`):
//! every Markdown file git tracks (README, the mdBook under `docs/`, the contributor guides), every
//! code block and inline code span; each `maintctl …` line (with its `\` continuations) must
//! name subcommands that exist and flags that exist on them (or globally). Placeholders
//! (`<ENV>`, `ENV`, `ARN…`) stand for values; `on|off` for each of the alternatives.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::{Arg, Command};

/// One `maintctl` command line found in a Markdown file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocCommand {
    /// `path:line`.
    pub at: String,
    /// The words after `maintctl`, up to a shell operator or a comment.
    pub words: Vec<String>,
}

/// Splits a shell line into words (quotes and backslashes as the shell reads them).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                started = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                started = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                started = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// The `maintctl` invocations of one line of shell (or of a code span).
fn commands_in(line: &str) -> Vec<Vec<String>> {
    let words = shell_words(line);
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        let start = if w == "maintctl" || w.ends_with("/maintctl") {
            Some(i + 1)
        } else if w == "--bin" && words.get(i + 1).map(String::as_str) == Some("maintctl") {
            // cargo run --bin maintctl [--release] -- ARGS
            words[i..].iter().position(|w| w == "--").map(|p| i + p + 1)
        } else {
            None
        };
        let Some(start) = start else {
            i += 1;
            continue;
        };
        let end = words[start..]
            .iter()
            .position(|w| {
                w.ends_with(';')
                    || ["|", "||", "&&", ";", ">", "2>", "2>&1", ")", "#"].contains(&w.as_str())
                    || w.starts_with('#')
                    || w.starts_with('>')
            })
            .map_or(words.len(), |p| start + p);
        let mut command = words[start..end].to_vec();
        if let Some(last) = words.get(end).and_then(|w| w.strip_suffix(';'))
            && !last.is_empty()
        {
            command.push(last.to_string());
        }
        out.push(command);
        i = end.max(i + 1);
    }
    out
}

/// Every `maintctl` command line of a Markdown text: in fenced code blocks (continuation lines
/// joined) and in inline code spans.
pub fn commands_in_markdown(path: &str, text: &str) -> Vec<DocCommand> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    let mut pending = String::new();
    let mut pending_at = 0;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let marker = &trimmed[..3];
            match &fence {
                Some(open) if open == marker => fence = None,
                None => fence = Some(marker.to_string()),
                _ => {}
            }
            continue;
        }
        if fence.is_some() {
            if pending.is_empty() {
                pending_at = n + 1;
            }
            let body = line.strip_prefix("$ ").unwrap_or(line);
            match body.trim_end().strip_suffix('\\') {
                Some(head) => {
                    pending.push_str(head);
                    pending.push(' ');
                }
                None => {
                    pending.push_str(body);
                    for words in commands_in(&pending) {
                        out.push(DocCommand {
                            at: format!("{path}:{pending_at}"),
                            words,
                        });
                    }
                    pending.clear();
                }
            }
            continue;
        }
        // Inline code spans of a prose line (a table cell's `\|` is a `|` to Markdown).
        let prose = line.replace("\\|", "|");
        for (i, span) in prose.split('`').enumerate() {
            if i % 2 == 1 && span.trim_start().starts_with("maintctl ") {
                for words in commands_in(span) {
                    out.push(DocCommand {
                        at: format!("{path}:{}", n + 1),
                        words,
                    });
                }
            }
        }
    }
    out
}

/// A word that stands for a value a reader fills in: `<ENV>`, `ENV`, `ARN…`, `NAME=VALUE`.
fn placeholder(word: &str) -> bool {
    let w = word.trim_matches(|c| "[]()…,.".contains(c));
    w.starts_with('<')
        || w.chars().any(|c| c.is_ascii_uppercase())
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "_-=|/".contains(c))
}

fn find_long<'a>(path: &[&'a Command], name: &str) -> Option<&'a Arg> {
    let (last, ancestors) = path.split_last()?;
    last.get_arguments()
        .find(|a| a.get_long() == Some(name))
        .or_else(|| {
            ancestors
                .iter()
                .flat_map(|c| c.get_arguments())
                .find(|a| a.is_global_set() && a.get_long() == Some(name))
        })
}

fn find_short<'a>(path: &[&'a Command], short: char) -> Option<&'a Arg> {
    let (last, ancestors) = path.split_last()?;
    last.get_arguments()
        .find(|a| a.get_short() == Some(short))
        .or_else(|| {
            ancestors
                .iter()
                .flat_map(|c| c.get_arguments())
                .find(|a| a.is_global_set() && a.get_short() == Some(short))
        })
}

/// What is wrong with one command line, by `maintctl`'s definition: an unknown subcommand, a
/// flag its subcommand (and the global flags) lacks, a subcommand missing where one is required.
pub fn problems(root: &Command, words: &[String]) -> Vec<String> {
    let mut root = root.clone();
    root.build();
    let mut problems = Vec::new();
    // Alternatives (`on|off`) give one path each.
    let mut paths: Vec<Vec<&Command>> = vec![vec![&root]];
    let mut i = 0;
    let mut open_subcommand = true;
    while i < words.len() {
        let word = words[i].trim_start_matches(['[', '(']);
        let word = word.trim_end_matches([']', ')', '…', ',']);
        i += 1;
        if let Some(flag) = word.strip_prefix("--") {
            if flag.is_empty() {
                break;
            }
            let (name, inline_value) = match flag.split_once('=') {
                Some((name, _)) => (name, true),
                None => (flag, false),
            };
            let mut takes_value = false;
            for path in &paths {
                match find_long(path, name) {
                    Some(arg) => takes_value |= arg.get_action().takes_values(),
                    None => problems.push(format!(
                        "`{}` has no flag --{name}",
                        path.iter()
                            .map(|c| c.get_name())
                            .collect::<Vec<_>>()
                            .join(" ")
                    )),
                }
            }
            if takes_value && !inline_value {
                i += 1;
            }
            open_subcommand = false;
            continue;
        }
        if let Some(shorts) = word.strip_prefix('-')
            && !shorts.is_empty()
            && shorts.chars().all(|c| c.is_ascii_alphabetic())
        {
            let mut takes_value = false;
            for path in &paths {
                for s in shorts.chars() {
                    match find_short(path, s) {
                        Some(arg) => takes_value |= arg.get_action().takes_values(),
                        None => problems.push(format!("`{}` has no flag -{s}", path[0].get_name())),
                    }
                }
            }
            // `-e NAME`: the value is the next word.
            if takes_value {
                i += 1;
            }
            continue;
        }
        let wants_subcommand =
            open_subcommand && paths.iter().all(|p| p.last().unwrap().has_subcommands());
        if !wants_subcommand {
            continue;
        }
        if placeholder(word) {
            // `maintctl <command> --help`: the path is unknown from here on.
            return problems;
        }
        let mut next = Vec::new();
        for path in &paths {
            for alternative in word.split('|') {
                let last = path.last().unwrap();
                match last.get_subcommands().find(|c| {
                    c.get_name() == alternative || c.get_all_aliases().any(|a| a == alternative)
                }) {
                    Some(sub) => {
                        let mut p = path.clone();
                        p.push(sub);
                        next.push(p);
                    }
                    None => problems.push(format!(
                        "`{}` has no subcommand {alternative}",
                        path.iter()
                            .map(|c| c.get_name())
                            .collect::<Vec<_>>()
                            .join(" ")
                    )),
                }
            }
        }
        if next.is_empty() {
            return problems;
        }
        paths = next;
    }
    problems
}

/// The repository's root, from git (the crate may sit below it, in a workspace).
pub fn repository_root() -> PathBuf {
    let out = Process::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git is needed to list the tracked Markdown files");
    assert!(out.status.success(), "not in a git checkout");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Every Markdown file git tracks, relative to the root.
pub fn tracked_markdown(root: &Path) -> Vec<String> {
    let out = Process::new("git")
        .args(["ls-files", "-z", "--", "*.md"])
        .current_dir(root)
        .output()
        .expect("git ls-files");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}
