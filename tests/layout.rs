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
