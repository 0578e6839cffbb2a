//! The README's "Layout" section matches the tree: every source file of the
//! workspace is named there (by its path, or by its name in the line of its
//! folder), and every path it names exists.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The README's Layout section.
fn layout() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let start = readme.find("\n## Layout\n").expect("a Layout section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_string()
}

/// Source files under `dir` (recursively), relative to the workspace root.
fn sources(dir: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let rel = path
            .strip_prefix(root())
            .expect("under the root")
            .to_path_buf();
        if path.is_dir() {
            sources(rel.to_str().expect("a UTF-8 path"), out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("rs" | "js" | "html" | "css")
        ) {
            out.push(rel);
        }
    }
}

/// The paths the section names between backticks (those with a `/` or an
/// extension), each with the folder of the list item it sits under.
fn named_paths(layout: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (i, part) in layout.split('`').enumerate() {
        let looks_like_path = part.contains('/') || part.ends_with(".rs") || part.ends_with(".js");
        if i % 2 == 1 && looks_like_path && !part.contains(' ') && !part.contains('(') {
            names.push(part.to_string());
        }
    }
    names
}

/// Whether `file` is named in the section: by its path, by its path under a
/// crate folder named in the same line's parent item, or, for files in a
/// folder named as a whole (`src/access/`, `examples/`), by that folder.
fn is_named(layout: &str, file: &Path) -> bool {
    let path = file.to_str().expect("a UTF-8 path");
    let mut parts: Vec<&str> = path.split('/').collect();
    // `mqtt-actor/src/actor/mod.rs` is written `src/actor/mod.rs` under `mqtt-actor/`.
    let mut candidates = vec![path.to_string()];
    if parts.len() > 1 {
        candidates.push(parts[1..].join("/"));
    }
    if let Some(name) = parts.last() {
        if path.starts_with("static/") {
            candidates.push(name.to_string());
        }
    }
    while parts.len() > 1 {
        parts.pop();
        let folder = format!("{}/", parts.join("/"));
        candidates.push(folder.clone());
        if parts.len() > 1 {
            candidates.push(format!("{}/", parts[1..].join("/")));
        }
    }
    // A crate's or a top folder's own line does not name every file in it.
    let too_wide = [
        "mqtt-actor/",
        "example-app/",
        "static/",
        "templates/",
        "src/",
        "tests/",
        "bench/",
    ];
    candidates.retain(|c| !too_wide.contains(&c.as_str()));
    candidates
        .iter()
        .any(|c| layout.contains(&format!("`{c}`")))
}

#[test]
fn every_source_file_is_in_the_readme_layout() {
    let layout = layout();
    let mut files = Vec::new();
    for dir in [
        "mqtt-actor",
        "example-app",
        "tests",
        "static",
        "templates",
        "bench",
    ] {
        sources(dir, &mut files);
    }
    assert!(files.len() > 30, "found only {files:?}");
    let missing: Vec<_> = files.iter().filter(|f| !is_named(&layout, f)).collect();
    assert!(
        missing.is_empty(),
        "files missing from the README's Layout section: {missing:?}"
    );
}

#[test]
fn every_path_in_the_readme_layout_exists() {
    let layout = layout();
    let crates = [
        "",
        "tests/",
        "mqtt-actor/",
        "example-app/",
        "tests/support/",
        "bench/",
    ];
    let missing: Vec<_> = named_paths(&layout)
        .into_iter()
        .filter(|p| !p.starts_with("--") && !p.starts_with('/'))
        .filter(|p| {
            let static_file = root().join("static").join(p);
            !static_file.exists() && !crates.iter().any(|c| root().join(c).join(p).exists())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the README's Layout names paths that do not exist: {missing:?}"
    );
}

/// The `[[test]]` paths of the root `Cargo.toml` (it turns `autotests` off).
fn test_targets() -> Vec<String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Table = manifest.parse().expect("Cargo.toml is TOML");
    manifest
        .get("test")
        .and_then(|t| t.as_array())
        .expect("[[test]] targets in the root Cargo.toml")
        .iter()
        .map(|t| t["path"].as_str().expect("a test's path").to_string())
        .collect()
}

/// The modules `tests/e2e.rs` declares.
fn e2e_modules() -> Vec<String> {
    let e2e = std::fs::read_to_string(root().join("tests/e2e.rs")).expect("tests/e2e.rs");
    e2e.lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .map(|m| format!("tests/{m}.rs"))
        .collect()
}

/// With `autotests` off, a file of `tests/` runs only if a `[[test]]` or a
/// `mod` line of `tests/e2e.rs` names it: a forgotten one would never fail.
#[test]
fn every_test_file_runs_once_in_one_binary() {
    let entries = std::fs::read_dir(root().join("tests")).expect("tests/");
    let mut files: Vec<String> = entries
        .map(|e| e.expect("a directory entry").file_name())
        .filter_map(|n| {
            n.to_str()
                .filter(|n| n.ends_with(".rs"))
                .map(str::to_string)
        })
        .map(|n| format!("tests/{n}"))
        .collect();
    files.sort();
    let mut run: Vec<String> = test_targets().into_iter().chain(e2e_modules()).collect();
    run.sort();
    assert_eq!(
        files, run,
        "each file of tests/ is a [[test]] of the root Cargo.toml or a `mod` of tests/e2e.rs, once"
    );
}
