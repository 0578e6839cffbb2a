//! Files form floors, in each crate: a file imports only from its own floor
//! or below, and no two files import each other in a loop. The floors of
//! every folder of `mqtt-actor/src/` and `example-app/src/` are listed here
//! (and described in each crate's docs); a file or folder on no floor fails
//! the test, naming where to add it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Per folder of a crate's `src/` (`""` is `src/` itself), its modules'
/// floors, lowest first. A module is a file, or a folder of files.
type Floors = &'static [(&'static str, &'static [&'static [&'static str]])];

/// A crate whose files are checked.
struct Crate {
    name: &'static str,
    floors: Floors,
}

impl Crate {
    fn src(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(self.name)
            .join("src")
    }
}

const LIBRARY: Crate = Crate {
    name: "mqtt-actor",
    floors: LIBRARY_FLOORS,
};

const EXAMPLE_APP: Crate = Crate {
    name: "example-app",
    floors: &[
        (
            "",
            &[
                &["settings", "broker", "guard", "tls", "workers", "history"],
                &["pages", "signin"],
                &["lib", "main"],
            ],
        ),
        ("guard", &[&["packet"], &["mod"]]),
    ],
};

/// The library's floors (its crate docs describe them).
const LIBRARY_FLOORS: Floors = &[
    (
        "",
        &[
            &["error", "qos", "strings", "brokers", "client_id"],
            &["topic", "config"],
            &["messages", "plan", "handlers"],
            &["client", "request", "stream", "broker_limits"],
            &["actor"],
            &["recorder"],
            &["web"],
            &["lib"],
        ],
    ),
    (
        "actor",
        &[
            &[
                "connection",
                "budget",
                "failover",
                "takeover",
                "listeners",
                "retained",
                "steps",
                "buffers",
                "counters",
                "replies",
            ],
            &["mod"],
            &[
                "builder",
                "lifecycle",
                "subscriptions",
                "broker_steps",
                "publishing",
                "delivery",
                "queries",
                "requests",
                "streams",
                "sharing",
            ],
        ],
    ),
    (
        "recorder",
        &[
            &["config", "error", "range", "size"],
            &["store"],
            &["query", "retention", "writer"],
            &["mod"],
            &["feed"],
        ],
    ),
    (
        "web",
        &[
            &[
                "error",
                "config",
                "protocol",
                "http",
                "limits",
                "metrics",
                "origin",
                "access",
                "records",
                "mosquitto",
                "socket",
                "framing",
                "inflight",
                "filters",
                "releases",
                "ownership",
                "upgrade",
            ],
            &["queue", "state"],
            &["admission", "fanout"],
            &["session", "stream", "api"],
            &["bridge", "server", "mod"],
        ],
    ),
    (
        "web/records",
        &[&["cache"], &["history", "retained"], &["stored"], &["mod"]],
    ),
    (
        "web/mosquitto",
        &[
            &["filter", "passwd", "ratelimit", "signouts"],
            &["acl"],
            &["policy"],
            &["mod"],
            &["login"],
        ],
    ),
];

/// Where a module is, for messages: `mqtt-actor/src/topic`,
/// `mqtt-actor/src/actor/mod`.
fn place(c: &Crate, dir: &str, module: &str) -> String {
    match dir {
        "" => format!("{}/src/{module}", c.name),
        _ => format!("{}/src/{dir}/{module}", c.name),
    }
}

fn floor(c: &Crate, dir: &str, module: &str) -> usize {
    let (_, floors) = c
        .floors
        .iter()
        .find(|(d, _)| *d == dir)
        .unwrap_or_else(|| panic!("src/{dir}/ has no floors: add it and its files to FLOORS"));
    floors
        .iter()
        .position(|f| f.contains(&module))
        .unwrap_or_else(|| {
            let at = place(c, dir, module);
            panic!("{at} is on no floor: add it to a floor of {dir:?} in FLOORS")
        })
}

/// Whether a directory is a module (it holds Rust files), not data such
/// as the recorder's SQL migrations.
fn is_module_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "rs"))
    })
}

/// The `.rs` files and subdirectories of `dir`, as module names.
fn modules(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("a source directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| {
            if p.is_dir() {
                is_module_dir(p)
            } else {
                p.extension().is_some_and(|x| x == "rs")
            }
        })
        .collect();
    // `x.rs` beside a folder `x/` is the folder's module file: the folder
    // stands for both (its `mod`, below).
    found.retain(|p| p.is_dir() || !p.with_extension("").is_dir());
    let mut mods: BTreeMap<String, PathBuf> = found
        .into_iter()
        .map(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).expect("a file name");
            (stem.to_string(), p)
        })
        .collect();
    let own = dir.with_extension("rs");
    if own.is_file() && !mods.contains_key("mod") {
        mods.insert("mod".to_string(), own);
    }
    mods
}

/// A file's code without its comment lines, or a directory's files' code.
fn code(path: &Path) -> String {
    if path.is_dir() {
        return modules(path).values().map(|p| code(p)).collect();
    }
    std::fs::read_to_string(path)
        .expect("a source file")
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names that follow `prefix` in `code`: `crate::topic` gives
/// `topic`, `crate::{qos::QoS, topic}` gives both.
fn after(code: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        // A whole path start, not the tail of a longer one.
        let tail = code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        let rest = &code[at + prefix.len()..];
        if tail {
            continue;
        }
        let Some(group) = rest.strip_prefix('{') else {
            names.push(ident(rest));
            continue;
        };
        // The heads of the group's paths, at its top level.
        let (mut depth, mut start) = (0, 0);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    names.push(ident(&group[start..i]));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    names.push(ident(&group[start..i]));
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// For one directory, each module and the modules of the same directory
/// it imports. At the crate level an import is `crate::x`; inside a
/// directory `d/` it is `super::x` or `crate::d::x` (an item of `mod.rs`
/// when `x` is no file), and in `mod.rs` a child's name `x::`.
fn imports(c: &Crate, dir: &str) -> BTreeMap<String, Vec<String>> {
    let path = if dir.is_empty() {
        c.src()
    } else {
        c.src().join(dir)
    };
    let mods = modules(&path);
    let mut graph = BTreeMap::new();
    for (module, file) in &mods {
        let code = code(file);
        let mut used: Vec<String> = if dir.is_empty() {
            after(&code, "crate::")
        } else {
            let resolve = |name: String| {
                if mods.contains_key(&name) {
                    name
                } else {
                    "mod".to_string()
                }
            };
            let mut used: Vec<String> =
                after(&code, &format!("crate::{}::", dir.replace('/', "::")))
                    .into_iter()
                    .map(resolve)
                    .collect();
            if module == "mod" {
                for child in mods.keys() {
                    if !after(&code, &format!("{child}::")).is_empty() {
                        used.push(child.clone());
                    }
                }
            } else if !file.is_dir() {
                // In a folder's own files, `super::` is that folder.
                used.extend(after(&code, "super::").into_iter().map(resolve));
            }
            used
        };
        used.retain(|m| m != module && mods.contains_key(m));
        used.sort();
        used.dedup();
        graph.insert(module.clone(), used);
    }
    graph
}

/// Every directory under `src/` (`""` for `src/` itself).
fn directories(c: &Crate) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let rel = dir.strip_prefix(base).expect("under src/");
        out.push(rel.to_string_lossy().into_owned());
        for p in modules(dir).values().filter(|p| p.is_dir()) {
            walk(p, base, out);
        }
    }
    let mut out = Vec::new();
    walk(&c.src(), &c.src(), &mut out);
    out
}

fn reaches(graph: &BTreeMap<String, Vec<String>>, from: &str, to: &str) -> bool {
    let mut seen = Vec::new();
    let mut todo = vec![from.to_string()];
    while let Some(next) = todo.pop() {
        for m in graph.get(&next).into_iter().flatten() {
            if m == to {
                return true;
            }
            if !seen.contains(m) {
                seen.push(m.clone());
                todo.push(m.clone());
            }
        }
    }
    false
}

/// Fails naming the first file that imports from a floor above its own, or
/// that is part of an import loop.
fn check(c: &Crate) {
    for dir in directories(c) {
        let graph = imports(c, &dir);
        for (module, used) in &graph {
            let here = floor(c, &dir, module);
            for other in used {
                assert!(
                    floor(c, &dir, other) <= here,
                    "{} imports {other}, a floor above it",
                    place(c, &dir, module)
                );
            }
        }
        for module in graph.keys() {
            assert!(
                !reaches(&graph, module, module),
                "{} is part of an import loop",
                place(c, &dir, module)
            );
        }
    }
}

#[test]
fn the_floors_test_sees_imports_of_every_kind() {
    let top = imports(&LIBRARY, "");
    assert!(top["messages"].contains(&"topic".to_string()));
    assert!(top["actor"].contains(&"client".to_string()));
    let actor = imports(&LIBRARY, "actor");
    assert!(actor["mod"].contains(&"listeners".to_string()));
    assert!(actor["delivery"].contains(&"mod".to_string()));
    assert!(actor["delivery"].contains(&"listeners".to_string()));
    assert!(!actor["mod"].contains(&"builder".to_string()));
    assert_eq!(
        after("use crate::{qos::QoS, topic::{Trie, Hold}};", "crate::"),
        ["qos", "topic"]
    );
    assert_eq!(after("x::crate::topic", "crate::"), Vec::<String>::new());
}

#[test]
fn the_library_files_import_only_from_their_floor_or_below() {
    check(&LIBRARY);
}

#[test]
fn the_example_app_files_import_only_from_their_floor_or_below() {
    check(&EXAMPLE_APP);
}
