//! The library's `rust-version` is true: no dependency it builds with, all
//! features on, declares a newer one. (The toolchain here is newer than
//! both; clippy's `incompatible_msrv` lint checks the library's own calls
//! into the standard library against the same number.)

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// `1.80`, `1.80.0` as comparable numbers.
fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text
        .split('.')
        .map(|p| p.parse().unwrap_or_else(|_| panic!("a version: {text:?}")))
        .collect();
    parts.resize(3, 0);
    parts
}

/// `cargo metadata` of the workspace, with every feature of every member.
fn metadata() -> Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--all-features"])
        .args([
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// The packages `root` builds with (normal dependencies, transitively),
/// each with its declared `rust-version`, if any.
fn normal_dependencies(meta: &Value, root: &str) -> BTreeMap<String, Option<String>> {
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("an id"), p))
        .collect();
    let nodes: BTreeMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .expect("a resolve graph")
        .iter()
        .map(|n| (n["id"].as_str().expect("an id"), n))
        .collect();
    let mut seen = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().expect("deps") {
            let normal = dep["dep_kinds"]
                .as_array()
                .expect("dep kinds")
                .iter()
                .any(|k| k["kind"].is_null());
            if normal {
                todo.push(dep["pkg"].as_str().expect("a package id"));
            }
        }
    }
    seen.remove(root);
    seen.into_iter()
        .map(|id| {
            let p = packages[id];
            let name = format!(
                "{} {}",
                p["name"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or("?")
            );
            (name, p["rust_version"].as_str().map(str::to_string))
        })
        .collect()
}

#[test]
fn the_library_rust_version_is_no_older_than_any_dependency_needs() {
    let meta = metadata();
    let library = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "mqtt-actor")
        .expect("the mqtt-actor package");
    let declared = library["rust_version"]
        .as_str()
        .expect("mqtt-actor declares a rust-version");
    let id = library["id"].as_str().expect("an id");
    let deps = normal_dependencies(&meta, id);
    assert!(deps.keys().any(|d| d.starts_with("paho-mqtt ")), "{deps:?}");
    let newer: Vec<String> = deps
        .iter()
        .filter_map(|(name, needs)| {
            let needs = needs.as_deref()?;
            (version(needs) > version(declared)).then(|| format!("{name} needs {needs}"))
        })
        .collect();
    assert!(
        newer.is_empty(),
        "mqtt-actor declares rust-version {declared}, but: {}",
        newer.join(", ")
    );
}
