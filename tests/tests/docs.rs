//! The README and the pages under `docs/` against the repository: every path they name exists, every
//! relative link resolves, and the code map in `docs/architecture.md` names every source file. Fails
//! when a file is added, moved or removed and the docs do not follow.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The directories whose source files the code map must name.
const SOURCE_ROOTS: [&str; 6] =
    ["shared/src", "functions/*/src", "cli/src", "testkit/src", "testkit/local/src", "testkit/gemini/src"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `README.md` and every page under `docs/`: (path from the repository's root, text).
fn pages() -> Vec<(String, String)> {
    let mut paths = vec!["README.md".to_owned()];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            paths.push(format!("docs/{name}"));
        }
    }
    paths.sort();
    paths.into_iter().map(|path| (path.clone(), read(&path))).collect()
}

/// The text outside fenced code blocks.
fn prose(text: &str) -> String {
    let mut in_fence = false;
    let mut kept = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// What the prose puts in backticks.
fn code_spans(text: &str) -> Vec<String> {
    prose(text).split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// The section of `docs/architecture.md` headed `## Code map`, up to the next `## ` heading.
fn code_map() -> String {
    let page = read("docs/architecture.md");
    let start = page.find("\n## Code map\n").expect("docs/architecture.md has a `## Code map` section");
    let rest = &page[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 4);
    rest[..end].to_owned()
}

/// Whether a backticked span names something in this repository, rather than a URL path (`/v1beta/...`),
/// an API resource (`batches/ID`), an S3 key or a placeholder: no spaces, no URL or glob characters,
/// and its first component is at the repository's root (or it is a Rust file).
fn names_a_repository_path(span: &str) -> bool {
    let first = span.split('/').next().unwrap_or_default();
    span.contains('/')
        && !span.starts_with('/')
        && !span.contains("://")
        && !span.chars().any(|c| c.is_whitespace() || "{}<>*?=:@$,|".contains(c))
        && (span.ends_with(".rs") || (!first.is_empty() && root().join(first).exists()))
}

/// Paths the repository ignores (anchored entries of `.gitignore`): made by the commands the docs
/// describe, so named but not committed (`events/local/`, `.venv/`).
fn ignored(span: &str) -> bool {
    read(".gitignore").lines().filter_map(|line| line.strip_prefix('/')).any(|entry| {
        let span = span.trim_end_matches('/');
        span == entry || span.starts_with(&format!("{entry}/"))
    })
}

/// Every `.rs` file under the source roots, as a path from the repository's root.
fn source_files() -> Vec<String> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }
    let mut dirs = Vec::new();
    for source_root in SOURCE_ROOTS {
        match source_root.split_once("/*/") {
            Some((parent, child)) => {
                for entry in std::fs::read_dir(root().join(parent)).unwrap() {
                    let dir = entry.unwrap().path().join(child);
                    if dir.is_dir() {
                        dirs.push(dir);
                    }
                }
            }
            None => dirs.push(root().join(source_root)),
        }
    }
    let mut found = Vec::new();
    for dir in dirs {
        walk(&dir, &mut found);
    }
    let root = root();
    let mut files: Vec<String> =
        found.iter().map(|p| p.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/")).collect();
    files.sort();
    files
}

#[test]
fn every_path_the_code_map_names_exists() {
    let map = code_map();
    let missing: Vec<String> = code_spans(&map)
        .into_iter()
        .filter(|span| span.contains('/') && !span.starts_with('/') && !root().join(span).exists())
        .collect();
    assert!(missing.is_empty(), "the code map names paths that do not exist: {missing:?}");

    // A row for a directory names its files by their bare names: those must be in it.
    let mut strays = Vec::new();
    for row in map.lines().filter(|line| line.starts_with("| `")) {
        let spans = code_spans(row);
        let Some(dir) = spans.first().filter(|span| span.ends_with('/')) else { continue };
        for name in spans.iter().skip(1).filter(|span| span.ends_with(".rs") && !span.contains('/')) {
            if !root().join(dir).join(name).exists() {
                strays.push(format!("{dir}{name}"));
            }
        }
    }
    assert!(strays.is_empty(), "the code map lists files its directories do not hold: {strays:?}");
}

#[test]
fn every_source_file_is_in_the_code_map() {
    let named: BTreeSet<String> = code_spans(&code_map()).into_iter().collect();
    let covered = |file: &String| {
        let dir = format!("{}/", file.rsplit_once('/').unwrap().0);
        // A directory covers the files directly in it, except a crate's `src/`, which is never one idea.
        named.contains(file) || (named.contains(&dir) && !dir.ends_with("/src/"))
    };
    let unnamed: Vec<String> = source_files().into_iter().filter(|file| !covered(file)).collect();
    assert!(
        unnamed.is_empty(),
        "docs/architecture.md's code map names neither these files nor their directory: {unnamed:#?}"
    );
}

#[test]
fn every_repository_path_the_docs_name_exists() {
    let mut missing = Vec::new();
    for (page, text) in pages() {
        for span in code_spans(&text) {
            if names_a_repository_path(&span) && !ignored(&span) && !root().join(&span).exists() {
                missing.push(format!("{page}: `{span}`"));
            }
        }
    }
    assert!(missing.is_empty(), "the docs name paths that do not exist: {missing:#?}");
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut broken = Vec::new();
    for (page, text) in pages() {
        let dir = Path::new(&page).parent().unwrap().to_owned();
        for piece in prose(&text).split("](").skip(1) {
            let target = piece.split(')').next().unwrap_or_default();
            let file = target.split('#').next().unwrap_or_default();
            if file.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            if !root().join(&dir).join(file).exists() {
                broken.push(format!("{page}: ({target})"));
            }
        }
    }
    assert!(broken.is_empty(), "the docs link to files that do not exist: {broken:#?}");
}
