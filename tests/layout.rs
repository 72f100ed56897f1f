//! Rules the tree keeps, checked on every run (they are cheap): the project is self-contained —
//! nothing it builds, tests, benches or scripts reads the folder beside the checkout that only
//! the developers' machines have.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file git tracks, or would track (untracked but not ignored), with its text.
fn project_files() -> Vec<(PathBuf, String)> {
    let out = std::process::Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ])
        .current_dir(root())
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git ls-files failed");
    let mut files = Vec::new();
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let path = root().join(String::from_utf8_lossy(name).as_ref());
        if let Ok(text) = std::fs::read_to_string(&path) {
            files.push((path, text));
        }
    }
    assert!(files.len() > 50, "found only {} project files", files.len());
    files
}

#[test]
fn nothing_in_the_project_reads_the_folder_beside_it() {
    // Spelled in two halves so this file does not match itself.
    let beside = format!("../{}", "shared");
    let offenders: Vec<String> = project_files()
        .iter()
        .filter(|(_, text)| {
            text.match_indices(&beside).any(|(i, _)| {
                // The folder name followed by a separator, a quote or the end of a word.
                let next = text[i + beside.len()..].chars().next();
                next.is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '-')
            })
        })
        .map(|(p, _)| p.strip_prefix(root()).unwrap_or(p).display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these files refer to {beside}, which a clone elsewhere does not have; carry what they \
         need inside the project (tests/fixtures/): {offenders:?}"
    );
}

#[test]
fn the_alb_fixtures_are_carried_with_their_sources() {
    let dir = root().join("tests/fixtures/alb");
    let readme =
        std::fs::read_to_string(dir.join("README.md")).expect("tests/fixtures/alb/README.md");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/alb")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        assert!(
            readme.contains(name.as_str()),
            "tests/fixtures/alb/README.md does not say where {name} comes from"
        );
    }
    assert!(Path::new(&dir).join("README.md").is_file());
}

// ---------------------------------------------------------------------------------------------
// The library's shape: what imports what.
// ---------------------------------------------------------------------------------------------

/// Every `.rs` file under `src/` (the library and the binaries), with its text.
fn source_files() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&root().join("src"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let rel = p.strip_prefix(root()).unwrap().display().to_string();
            (rel, text)
        })
        .collect()
}

/// The library's files (not the binaries'), as `(module path, file, text)`: `src/respond/decide.rs`
/// is `respond::decide`, `src/respond/mod.rs` is `respond`, `src/lib.rs` is the crate root `""`.
fn library_modules() -> Vec<(String, String, String)> {
    source_files()
        .into_iter()
        .filter(|(file, _)| !file.starts_with("src/bin/"))
        .map(|(file, text)| {
            let path = file.trim_start_matches("src/").trim_end_matches(".rs");
            let path = path.trim_end_matches("/mod").trim_end_matches("lib");
            (path.replace('/', "::"), file, text)
        })
        .collect()
}

/// The code of a file without its `#[cfg(test)]` modules and without comments.
fn code_outside_tests(text: &str) -> String {
    let mut out = String::new();
    let mut skip_to: Option<String> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(end) = &skip_to {
            if line == end {
                skip_to = None;
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            let indent = &line[..line.len() - trimmed.len()];
            skip_to = Some(format!("{indent}}}"));
            lines.next();
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The top-level library modules a file's code refers to through `crate::NAME`.
fn crate_references(code: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `maintenance_responder_crate::`, not ours
        }
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    // `use crate::{a, b::c}`
    for (i, _) in code.match_indices("crate::{") {
        let rest = &code[i + "crate::{".len()..];
        let group = &rest[..rest.find('}').unwrap_or(rest.len())];
        for item in group.split(',') {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Edges between top-level modules: `a -> b` when a file of `a` refers to `crate::b`.
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for (module, _, text) in library_modules() {
        let top = module.split("::").next().unwrap_or("").to_string();
        if top.is_empty() {
            continue; // the crate root declares the modules
        }
        let refs = crate_references(&code_outside_tests(&text));
        let edges = graph.entry(top.clone()).or_default();
        edges.extend(refs.into_iter().filter(|r| *r != top));
    }
    graph
}

#[test]
fn no_import_cycle_among_the_library_modules() {
    let graph = module_graph();
    assert!(graph.len() >= 10, "{graph:?}");
    // Depth-first search for a back edge; report the cycle it closes.
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = Default::default();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "import cycle among the library's modules: {} (full graph: {graph:#?})",
                cycle.join(" -> ")
            );
        }
    }
}

/// Crates and modules that mean I/O, a clock or the environment.
const IMPURE: [&str; 5] = ["tokio", "aws_", "hyper", "std::env", "lambda_runtime"];

#[test]
fn the_pure_core_and_the_planner_reach_no_io() {
    // The pure core and the planner, and every module they import, transitively.
    let graph = module_graph();
    let mut pure: Vec<String> = vec!["respond".into(), "planner".into()];
    let mut i = 0;
    while i < pure.len() {
        for next in graph.get(&pure[i]).into_iter().flatten() {
            if !pure.contains(next) {
                pure.push(next.clone());
            }
        }
        i += 1;
    }
    assert!(pure.contains(&"page_kind".to_string()), "{pure:?}");
    let mut found = Vec::new();
    for (module, file, text) in library_modules() {
        let top = module.split("::").next().unwrap_or("");
        if !pure.iter().any(|p| p == top) {
            continue;
        }
        let code = code_outside_tests(&text);
        for word in IMPURE {
            if code.contains(word) {
                found.push(format!("{file} uses {word}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the pure modules ({pure:?}) must not import tokio, aws-*, hyper, lambda_runtime or \
         std::env: {found:#?}"
    );
}

#[test]
fn exactly_one_file_talks_to_the_load_balancer_sdk() {
    let users: Vec<String> = source_files()
        .into_iter()
        .filter(|(_, text)| {
            let code = code_outside_tests(text);
            code.contains("aws_sdk_elasticloadbalancingv2") || code.contains("aws_sdk_sts")
        })
        .map(|(file, _)| file)
        .collect();
    assert_eq!(
        users,
        ["src/listeners/api.rs"],
        "only the listeners' SDK adapter may import the ELBv2 and STS SDKs"
    );
}

#[test]
fn binaries_stay_thin() {
    let mut big = Vec::new();
    for (file, text) in source_files() {
        if file.starts_with("src/bin/") && text.lines().count() >= 150 {
            big.push(format!("{file}: {} lines", text.lines().count()));
        }
    }
    assert!(
        big.is_empty(),
        "a binary parses flags, makes one library call and prints: logic belongs in the \
         library (limit: under 150 lines per file): {big:?}"
    );
}

#[test]
fn every_module_says_what_it_owns() {
    let missing: Vec<String> = source_files()
        .into_iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(file, _)| file)
        .collect();
    assert!(missing.is_empty(), "no `//!` module doc: {missing:?}");
}

#[test]
fn no_function_outside_tests_is_over_a_hundred_lines() {
    let mut long = Vec::new();
    for (file, text) in source_files() {
        let code = code_outside_tests(&text);
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let is_fn = [
                "fn ",
                "pub fn ",
                "async fn ",
                "pub async fn ",
                "pub(crate) fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p));
            if !is_fn || trimmed.ends_with(';') {
                continue;
            }
            let indent = &line[..line.len() - trimmed.len()];
            let end = format!("{indent}}}");
            if let Some(len) = lines[i..].iter().position(|l| *l == end)
                && len + 1 > 100
            {
                let name: String = trimmed
                    .split("fn ")
                    .nth(1)
                    .unwrap_or("")
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                long.push(format!("{file}: fn {name}: {} lines", len + 1));
            }
        }
    }
    assert!(long.is_empty(), "split these into named steps: {long:#?}");
}

// ---------------------------------------------------------------------------------------------
// Every message: one line of prose, however it is split in the source.

/// What is wrong with one string literal of a message, if anything: a line break in the source
/// without the `\` that continues the literal (its indentation becomes a run of spaces in the
/// message), or a run of three spaces or more between words.
fn message_problem(literal: &str) -> Option<&'static str> {
    // Raw strings (`r"…"`, `r#"…"#`) hold text as written (JSON, templates): not messages.
    let body = literal
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))?;
    let bytes = body.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        // A newline continued by `\` (an odd run of backslashes before it) is the literal's own
        // continuation; an escaped `\\` before it is not.
        let slashes = bytes[..i].iter().rev().take_while(|&&c| c == b'\\').count();
        if *b == b'\n' && slashes % 2 == 0 {
            return Some("a line break without \\ (the next line's indentation becomes spaces)");
        }
    }
    // The literal as the compiler reads it: a `\` + newline drops the newline and the
    // indentation after it.
    let mut text = String::new();
    let mut rest = body;
    while let Some(i) = rest.find("\\\n") {
        text.push_str(&rest[..i]);
        rest = rest[i + 2..].trim_start();
    }
    text.push_str(rest);
    let runs = text.split('\n').any(|line| {
        let words = line.trim();
        words.contains("   ")
    });
    runs.then_some("a run of three spaces or more between words")
}

/// `[doc = "…"]`: an attribute a doc comment becomes.
fn is_doc(group: &proc_macro2::Group) -> bool {
    group.delimiter() == proc_macro2::Delimiter::Bracket
        && matches!(
            group.stream().into_iter().next(),
            Some(proc_macro2::TokenTree::Ident(i)) if i == "doc"
        )
}

/// Every string literal of a file, with its problem.
fn message_problems(source: &str) -> Vec<(String, &'static str)> {
    fn walk(stream: proc_macro2::TokenStream, out: &mut Vec<(String, &'static str)>) {
        for tree in stream {
            match tree {
                // Documentation (`///`, `//!`) is not printed.
                proc_macro2::TokenTree::Group(g) if is_doc(&g) => {}
                proc_macro2::TokenTree::Group(g) => walk(g.stream(), out),
                proc_macro2::TokenTree::Literal(l) => {
                    let text = l.to_string();
                    if let Some(problem) = message_problem(&text) {
                        out.push((text.chars().take(100).collect(), problem));
                    }
                }
                _ => {}
            }
        }
    }
    let stream: proc_macro2::TokenStream = source.parse().expect("the source tokenizes");
    let mut out = Vec::new();
    walk(stream, &mut out);
    out
}

#[test]
fn every_message_the_cli_and_the_functions_print_is_prose_without_runs_of_spaces() {
    // The check itself can fail: a literal split without its `\`, and a run of spaces.
    let broken = "fn f() -> String { format!(\"first half,\n             second half\") }";
    assert_eq!(message_problems(broken).len(), 1, "{broken}");
    assert_eq!(message_problems("const A: &str = \"a   b\";").len(), 1);
    let fine = "const A: &str = \"one \\\n    line\"; const B: &str = r#\"{\n  \"json\": 1\n}\"#;";
    assert!(
        message_problems(fine).is_empty(),
        "{:?}",
        message_problems(fine)
    );
    // Every literal of the library and the binaries: every message the CLI and the two
    // functions can print is one of them, or made of them.
    let mut found = Vec::new();
    for (file, text) in source_files() {
        for (literal, problem) in message_problems(&text) {
            found.push(format!("{file}: {problem}: {literal}"));
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
