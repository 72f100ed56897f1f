//! Rules the tree keeps that the compiler cannot say, checked on every run (they are cheap): the
//! project is self-contained — nothing it builds, tests, benches or scripts reads the folder
//! beside the checkout that only the developers' machines have; every module says what it owns;
//! binaries stay thin, functions short and files under 800 lines; inside a crate, no two
//! top-level modules import each other and no two files either (`layout/imports.rs`), the
//! planner stays pure and one file talks to the load balancer SDK; and each Lambda function's
//! dependency tree holds only what it uses. (What each crate may touch at all is its
//! `Cargo.toml`: the compiler keeps that.)

#[path = "layout/imports.rs"]
mod imports;

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
// The crates' shape: what imports what.
// ---------------------------------------------------------------------------------------------

/// The source directories of the workspace: the root package's (`src/`, maintctl) and each
/// member crate's (`crates/NAME/src/`).
fn source_roots() -> Vec<String> {
    let mut roots = vec!["src".to_string()];
    let crates = std::fs::read_dir(root().join("crates")).expect("crates/");
    let mut members: Vec<String> = crates
        .map(|e| format!("crates/{}/src", e.unwrap().file_name().to_string_lossy()))
        .filter(|dir| root().join(dir).is_dir())
        .collect();
    members.sort();
    roots.extend(members);
    assert!(roots.len() >= 5, "{roots:?}");
    roots
}

/// Every `.rs` file of every crate (the libraries and the binaries), with its text.
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
    for dir in source_roots() {
        walk(&root().join(dir), &mut paths);
    }
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

/// Whether a file is (part of) a binary: `src/bin/…` (maintctl) or a crate's `src/main.rs`.
fn is_binary(file: &str) -> bool {
    file.starts_with("src/bin/") || file.ends_with("/src/main.rs")
}

/// The libraries' files (not the binaries'), as `(crate source dir, module path, file, text)`:
/// `crates/core/src/respond/decision.rs` is `respond::decision` of `crates/core/src`,
/// `…/respond/mod.rs` is `respond`, a `lib.rs` is the crate root `""`.
fn library_modules() -> Vec<(String, String, String, String)> {
    let roots = source_roots();
    source_files()
        .into_iter()
        .filter(|(file, _)| !is_binary(file))
        .map(|(file, text)| {
            let krate = roots
                .iter()
                .find(|r| file.starts_with(&format!("{r}/")))
                .expect("under a source root")
                .clone();
            let path = file[krate.len() + 1..].trim_end_matches(".rs");
            let path = path.trim_end_matches("/mod").trim_end_matches("lib");
            (krate, path.replace('/', "::"), file, text)
        })
        .collect()
}

/// The lines of a file outside its `#[cfg(test)]` modules (comments and docs included).
fn lines_outside_test_modules(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
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
        out.push(line);
    }
    out
}

/// The code of a file without its `#[cfg(test)]` modules and without comments.
fn code_outside_tests(text: &str) -> String {
    let mut out = String::new();
    for line in lines_outside_test_modules(text) {
        if !line.trim_start().starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// How many lines of a file are outside its `#[cfg(test)]` modules (comments and docs count).
fn lines_outside_tests(text: &str) -> usize {
    lines_outside_test_modules(text).len()
}

/// Most lines a source file may have outside its tests.
const MAX_FILE_LINES: usize = 800;

/// The files over [`MAX_FILE_LINES`] outside their tests, with their counts.
fn big_files(files: &[(String, String)]) -> Vec<String> {
    files
        .iter()
        .map(|(file, text)| (file, lines_outside_tests(text)))
        .filter(|(_, n)| *n > MAX_FILE_LINES)
        .map(|(file, n)| format!("{file}: {n} lines outside its tests"))
        .collect()
}

/// A file holds one job, read whole: past 800 lines (its tests not counted) a file has always
/// held several (issue #21: the priority planner's types, errors, algorithms and simulator in
/// one file of 1,600 lines; the doctor's four data sources in one). Split it along its jobs.
#[test]
fn no_source_file_is_over_eight_hundred_lines_outside_its_tests() {
    let tests = format!(
        "#[cfg(test)]\nmod tests {{\n{}}}\n",
        "    // t\n".repeat(900)
    );
    let fine = format!("{}{tests}", "fn f() {}\n".repeat(MAX_FILE_LINES));
    let big = format!("{}{tests}", "fn f() {}\n".repeat(MAX_FILE_LINES + 1));
    assert_eq!(lines_outside_tests(&fine), MAX_FILE_LINES);
    let sample = [("fine.rs".to_string(), fine), ("big.rs".to_string(), big)];
    assert_eq!(big_files(&sample), ["big.rs: 801 lines outside its tests"]);
    let found = big_files(&source_files());
    assert!(found.is_empty(), "split these along their jobs: {found:#?}");
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

/// Edges between the top-level modules of one crate (its source dir): `a -> b` when a file of
/// `a` refers to `crate::b`.
fn module_graph(
    krate: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for (_, module, _, text) in library_modules().into_iter().filter(|m| m.0 == krate) {
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

/// Between crates the compiler refuses a cycle; inside one, this test does (top-level modules).
#[test]
fn no_import_cycle_among_the_modules_of_a_crate() {
    let mut modules = 0;
    for krate in source_roots() {
        let graph = module_graph(&krate);
        modules += graph.len();
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "import cycle among the modules of {krate}: {} (full graph: {graph:#?})",
                cycle.join(" -> ")
            );
        }
    }
    assert!(modules >= 15, "found only {modules} top-level modules");
}

/// The files of each crate, for [`imports::file_graph`]: the libraries' (by source dir) and
/// maintctl's binary (`src/bin/maintctl`, a crate of its own).
fn crates_files() -> Vec<(String, Vec<imports::SourceFile>)> {
    let mut crates: std::collections::BTreeMap<String, Vec<imports::SourceFile>> =
        Default::default();
    for (krate, module, _, text) in library_modules() {
        let module = module
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        crates
            .entry(krate)
            .or_default()
            .push(imports::SourceFile { module, text });
    }
    let bin = "src/bin/maintctl";
    for (file, text) in source_files() {
        if let Some(rel) = file.strip_prefix(&format!("{bin}/")) {
            let name = rel.trim_end_matches(".rs");
            let module = if name == "main" {
                Vec::new()
            } else {
                name.split('/').map(String::from).collect()
            };
            crates
                .entry(bin.to_string())
                .or_default()
                .push(imports::SourceFile { module, text });
        }
    }
    crates.into_iter().collect()
}

/// No two files of a crate import each other, directly or around a cycle: what two files
/// share goes down into a third that both import (the issue #21 bar). Paths are resolved as
/// the compiler does, through the re-exports of a module's front door (`imports`).
#[test]
fn no_import_cycle_among_the_files_of_a_crate() {
    let (mut files, mut found) = (0, Vec::new());
    for (krate, sources) in crates_files() {
        files += sources.len();
        let graph = imports::file_graph(&sources);
        for cycle in imports::cycles(&graph) {
            let edges: Vec<String> = cycle
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|b| cycle.contains(b))
                        .map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            found.push(format!("{krate}: {}", edges.join(", ")));
        }
    }
    assert!(files >= 80, "found only {files} files");
    assert!(
        found.is_empty(),
        "files that import each other (move what they share into a file both import): \
         {found:#?}"
    );
}

/// The file graph follows `super::`, `crate::` and a front door's re-exports, leaves out
/// `#[cfg(test)]` items, and finds the cycle they make.
#[test]
fn the_file_graph_sees_a_cycle_through_reexports() {
    let crate_of = |ops_mod: &str| {
        [
            ("", "pub mod ops; pub mod planner;"),
            ("ops", ops_mod),
            (
                "ops::a",
                "use super::Error; use crate::planner::Plan; pub struct Alpha; \
                 #[cfg(test)] mod tests { use crate::ops::b::Beta; }",
            ),
            (
                "ops::b",
                "use crate::ops::Alpha; pub struct Beta; \
                 fn g() -> super::super::planner::plan::Plan { todo!() }",
            ),
            ("planner", "mod plan; pub use plan::Plan;"),
            ("planner::plan", "pub struct Plan;"),
        ]
        .map(|(module, text)| imports::SourceFile {
            module: module
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            text: text.to_string(),
        })
    };
    let knotted = crate_of(
        "pub mod a; pub mod b; pub use a::Alpha; pub use b::Beta; pub enum Error { X(Beta) }",
    );
    let graph = imports::file_graph(&knotted);
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    assert_eq!(graph["ops::a"], set(&["ops", "planner::plan"]));
    assert_eq!(graph["ops::b"], set(&["ops::a", "planner::plan"]));
    assert_eq!(graph["ops"], set(&["ops::b"]));
    assert_eq!(graph["planner"], set(&[]));
    assert_eq!(graph["crate"], set(&[]));
    assert_eq!(imports::cycles(&graph), [vec!["ops", "ops::a", "ops::b"]]);
    let untied =
        crate_of("pub mod a; pub mod b; pub use a::Alpha; pub use b::Beta; pub enum Error { X }");
    assert_eq!(
        imports::cycles(&imports::file_graph(&untied)),
        Vec::<Vec<String>>::new()
    );
}

/// A cycle of `graph`, if it has one.
fn find_cycle(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
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
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .into_iter()
        .fold(
            std::collections::BTreeMap::new(),
            |mut g: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
             (a, b)| {
                g.entry(a.to_string()).or_default().insert(b.to_string());
                g
            },
        );
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let mut dag = graph.clone();
    dag.get_mut("c").unwrap().remove("a");
    assert_eq!(find_cycle(&dag), None);
}

/// Crates and modules that mean I/O, a clock or the environment.
const IMPURE: [&str; 6] = [
    "tokio",
    "aws_",
    "hyper",
    "std::env",
    "lambda_runtime",
    "maintenance_responder",
];

/// The planner is pure although its crate (the engine) may do I/O: it and every module of the
/// engine it imports, transitively, use none of [`IMPURE`]. The core crate cannot reach tokio,
/// the SDKs or hyper (its `Cargo.toml`), and reads no environment variable.
#[test]
fn the_planner_reaches_no_io_and_the_core_no_environment() {
    let engine = "crates/engine/src";
    let graph = module_graph(engine);
    let mut pure: Vec<String> = vec!["planner".into()];
    let mut i = 0;
    while i < pure.len() {
        for next in graph.get(&pure[i]).into_iter().flatten() {
            if !pure.contains(next) {
                pure.push(next.clone());
            }
        }
        i += 1;
    }
    let (mut found, mut checked) = (Vec::new(), 0);
    for (krate, module, file, text) in library_modules() {
        let top = module.split("::").next().unwrap_or("");
        let code = code_outside_tests(&text);
        if krate == engine && pure.iter().any(|p| p == top) {
            checked += 1;
            for word in IMPURE {
                if code.contains(word) {
                    found.push(format!("{file} uses {word}"));
                }
            }
        }
        if krate == "crates/core/src" && code.contains("std::env") {
            found.push(format!("{file} uses std::env"));
        }
    }
    assert!(checked >= 10, "checked only {checked} files of {pure:?}");
    assert!(
        found.is_empty(),
        "the planner ({pure:?}) must not import tokio, aws-*, hyper, lambda_runtime, std::env or \
         maintenance_responder, nor the core read the environment: {found:#?}"
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
    // The adapter is `listeners/api.rs` and its own submodules (its conversions).
    assert!(
        users
            .iter()
            .any(|f| f == "crates/engine/src/listeners/api.rs")
            && users
                .iter()
                .all(|f| f == "crates/engine/src/listeners/api.rs"
                    || f.starts_with("crates/engine/src/listeners/api/")),
        "only the listeners' SDK adapter (listeners/api.rs and listeners/api/) may import the \
         ELBv2 and STS SDKs: {users:?}"
    );
}

#[test]
fn binaries_stay_thin() {
    let mut big = Vec::new();
    let mut binaries = 0;
    for (file, text) in source_files() {
        if is_binary(&file) {
            binaries += 1;
            if text.lines().count() >= 150 {
                big.push(format!("{file}: {} lines", text.lines().count()));
            }
        }
    }
    assert!(binaries >= 3, "found {binaries} binary files");
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

// ---------------------------------------------------------------------------------------------
// What each Lambda function links.
// ---------------------------------------------------------------------------------------------

/// What one Lambda function's dependency tree may not hold: packages, features of a package
/// (`hyper feature "server"`), and crates that none of the workspace's own crates in its tree may
/// depend on directly (they may still come in through the AWS SDK's own HTTPS client, which
/// links hyper and rustls: what is kept out is our code that uses them).
struct Forbidden {
    packages: &'static [&'static str],
    features: &'static [&'static str],
    direct: &'static [&'static str],
}

/// No HTTP server and no CLI parser in either function.
const SERVER: [&str; 2] = [
    r#"hyper feature "server""#,
    r#"hyper-util feature "server""#,
];

/// The responder: no load balancer, ACM, EventBridge, Scheduler or Lambda SDK, no CLI parser,
/// no HTTP server, no switching engine; and not aws-config's standard chain with the STS and SSO
/// SDKs it brings (its SSM client is configured from the Lambda environment,
/// `aws::lambda_environment`: issue #25, BENCHMARKS-coldstart.md). The switch function does put
/// events on EventBridge (issue #23: its switches are announced), so only the responder is kept
/// from that SDK. Neither function links aws-lc: one crypto provider, ring, under rustls
/// (`aws::https_client`; issue #25).
const RESPONDER: Forbidden = Forbidden {
    packages: &[
        "aws-lc-rs",
        "aws-lc-sys",
        "aws-config",
        "aws-sdk-sts",
        "aws-sdk-sso",
        "aws-sdk-ssooidc",
        "aws-sdk-elasticloadbalancingv2",
        "aws-sdk-acm",
        "aws-sdk-eventbridge",
        "aws-sdk-scheduler",
        "aws-sdk-lambda",
        "clap",
        "maintenance-engine",
        "maintenance-switch",
        "maintctl",
    ],
    features: &SERVER,
    direct: &[],
};

/// The switch function: the engine, but no Scheduler or Lambda SDK, no CLI parser, no HTTP
/// server, and not the HTTPS client of `--verify-url` (maintctl's).
const SWITCH: Forbidden = Forbidden {
    packages: &[
        "aws-sdk-scheduler",
        "aws-sdk-lambda",
        "clap",
        "maintctl",
        "aws-lc-rs",
        "aws-lc-sys",
    ],
    features: &SERVER,
    direct: &[
        "hyper",
        "hyper-util",
        "http-body-util",
        "rustls",
        "tokio-rustls",
        "rustls-native-certs",
        "rustls-pki-types",
    ],
};

/// `cargo tree -p PACKAGE -e normal,features --prefix depth`: one node a line, its depth first.
fn dependency_tree(package: &str) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "--locked", "-p", package])
        .args(["-e", "normal,features", "--prefix", "depth"])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// What of `forbidden` a tree of [`dependency_tree`] holds, one line each.
fn violations(tree: &str, forbidden: &Forbidden) -> Vec<String> {
    let mut found = std::collections::BTreeSet::new();
    // The workspace's crates (path dependencies) above the current line, with their depths.
    let mut members: Vec<(usize, String)> = Vec::new();
    for line in tree.lines() {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        let depth: usize = line[..digits].parse().unwrap_or(0);
        let node = line[digits..].trim_end_matches(" (*)");
        let name = node.split(' ').next().unwrap_or_default();
        if forbidden.packages.contains(&name) {
            found.insert(format!("links {name}"));
        }
        if let Some(feature) = forbidden.features.iter().find(|f| node == **f) {
            found.insert(format!("links {feature}"));
        }
        while members.last().is_some_and(|(d, _)| *d >= depth) {
            members.pop();
        }
        if let Some((d, member)) = members.last()
            && depth == d + 1
            && forbidden.direct.contains(&name)
        {
            found.insert(format!("{member} depends on {name} itself"));
        }
        if node.contains(" (/") {
            members.push((depth, name.to_string()));
        }
    }
    found.into_iter().collect()
}

/// Each Lambda function's dependency tree holds only what it uses (the issue's bar: the
/// responder has no ELBv2, Scheduler or Lambda SDK, no clap, no HTTP server; the switch
/// function no Scheduler or Lambda SDK, no clap, no verify stack of its own).
#[test]
fn each_lambda_function_links_only_what_it_uses() {
    for (package, forbidden) in [
        ("maintenance-responder", &RESPONDER),
        ("maintenance-switch", &SWITCH),
    ] {
        let tree = dependency_tree(package);
        assert!(tree.lines().count() > 100, "{package}: {tree}");
        assert!(tree.contains("aws-sdk-ssm v"), "{package}: {tree}");
        let found = violations(&tree, forbidden);
        assert!(
            found.is_empty(),
            "{package} must not link these (its Cargo.toml, or a crate it depends on, asks for \
             them; cargo tree -p {package} -e normal,features -i NAME says which): {found:#?}"
        );
    }
}

/// The check above fails on what it is there to catch.
#[test]
fn the_dependency_check_sees_what_it_forbids() {
    let tree = "0maintenance-switch v0.1.0 (/w/crates/switch)
1clap feature \"default\"
2clap v4.6.0
1maintenance-engine feature \"default\"
2maintenance-engine v0.1.0 (/w/crates/engine)
3hyper feature \"client\"
4hyper v1.12.0
3aws-config v1.13.0
4aws-smithy-http-client v1.1.0
5hyper feature \"server\"
6hyper v1.12.0 (*)
5rustls v0.23.46
1aws-sdk-ssm v1.133.0
";
    assert_eq!(
        violations(tree, &SWITCH),
        [
            "links clap",
            r#"links hyper feature "server""#,
            "maintenance-engine depends on hyper itself",
        ]
    );
    assert_eq!(
        violations(tree, &RESPONDER).len(),
        5,
        "the switch function itself, clap, the engine, the server, aws-config"
    );
    let clean =
        "0maintenance-switch v0.1.0 (/w/crates/switch)\n1aws-config v1.13.0\n2rustls v0.23.46\n";
    assert!(violations(clean, &SWITCH).is_empty());
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

/// The anchor a Markdown heading gets (GitHub's and mdBook's rule: lower case, letters, digits,
/// `-` and `_` kept, spaces to `-`, everything else dropped; a repeated one gets `-1`, `-2`…).
fn heading_anchors(text: &str) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut anchors = std::collections::BTreeSet::new();
    let mut fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
        }
        let Some(title) = line.strip_prefix('#').filter(|_| !fence) else {
            continue;
        };
        let title = title.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        anchors.insert(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    anchors
}

/// The relative link targets of a Markdown text (`[text](target)`), outside code, with their
/// line numbers.
fn relative_links(text: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    let mut fence = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        // Drop inline code spans.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        for (i, _) in prose.match_indices("](") {
            let rest = &prose[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            let external = ["http://", "https://", "mailto:"]
                .iter()
                .any(|s| target.starts_with(s));
            if !target.is_empty() && !external {
                links.push((n + 1, target.to_string()));
            }
        }
    }
    links
}

/// `a/b/../c` as `a/c`, without asking the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// What is wrong with the relative links of the Markdown files: a file that does not exist, an
/// anchor no heading of its file has.
fn broken_links(files: &[(PathBuf, String)]) -> Vec<String> {
    let texts: std::collections::BTreeMap<&Path, &String> =
        files.iter().map(|(p, t)| (p.as_path(), t)).collect();
    let mut broken = Vec::new();
    for (path, text) in files {
        for (line, target) in relative_links(text) {
            let (file, anchor) = match target.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (target.as_str(), None),
            };
            let resolved = match file {
                "" => path.clone(),
                file => path.parent().unwrap().join(file),
            };
            let at = format!("{}:{line}: {target}", path.display());
            let resolved = lexical(&resolved);
            let known = texts.get(resolved.as_path());
            if known.is_none() && !resolved.exists() {
                broken.push(format!("{at}: no such file"));
                continue;
            }
            if let Some(anchor) = anchor {
                match known {
                    Some(t) if heading_anchors(t).contains(anchor) => {}
                    Some(_) => broken.push(format!("{at}: no heading #{anchor}")),
                    None => broken.push(format!("{at}: not a Markdown file of the project")),
                }
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_of_the_docs_resolves() {
    let markdown: Vec<(PathBuf, String)> = project_files()
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "md"))
        .collect();
    let links: usize = markdown.iter().map(|(_, t)| relative_links(t).len()).sum();
    assert!(links > 20, "only {links} relative links found");
    let broken = broken_links(&markdown);
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_check_finds_a_missing_file_and_a_missing_heading() {
    let dir = root().join("docs");
    let page = (
        dir.join("page.md"),
        "# A page\n## Once: attach\n[ok](#once-attach) [x](#nope) [y](missing.md) `[z](no.md)`\n"
            .to_string(),
    );
    let broken = broken_links(&[page]);
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert!(broken[0].ends_with("#nope: no heading #nope"), "{broken:?}");
    assert!(
        broken[1].ends_with("missing.md: no such file"),
        "{broken:?}"
    );
}
