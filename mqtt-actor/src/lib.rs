//! # mqtt-actor
//!
//! MQTT for Actix applications: an [`MqttActor`] owns an Eclipse Paho client,
//! keeps track of what is subscribed and by whom, reconnects and re-subscribes,
//! dispatches incoming messages to handlers and to listener actors.
//!
//! ```no_run
//! use mqtt_actor::{MqttActor, MqttConfig, Publish, QoS, Subscribe};
//!
//! #[actix::main]
//! async fn main() -> Result<(), mqtt_actor::MqttError> {
//!     let mqtt = MqttActor::builder(MqttConfig::from_env()?)
//!         // Subscribing in on_connect re-subscribes after every reconnect, as in Flask-MQTT.
//!         .on_connect(|mqtt, _| mqtt.do_send(Subscribe::new("home/+/temperature")))
//!         .on_topic("home/+/temperature", |_, msg| {
//!             println!("{}: {:?}", msg.topic(), msg.payload_str());
//!         })
//!         .start()?;
//!     mqtt.send(Publish::new("home/kitchen/lamp", "on").qos(QoS::AtLeastOnce))
//!         .await??;
//!     Ok(())
//! }
//! ```
//!
//! Listener actors get the messages of their own filters in their mailbox:
//! `Subscribe::new(filter).listener(addr.recipient())`, once per message
//! however many of their filters match, on every broker. The actor never
//! waits on a listener; a listener whose mailbox is full has its messages
//! kept in a bounded backlog, in order, and only past it are messages dropped,
//! counted ([`Subscribe::capacity`], [`Status::dropped`]) and told to the
//! listener ([`Subscribe::notices`], [`ListenerNotice`]). A filter is held
//! once the broker granted it; a holder joining a filter the broker already
//! serves gets its retained messages too.
//!
//! Beyond handlers and listeners: typed JSON payloads ([`Publish::json`],
//! [`MqttMessage::json`], [`MqttActorBuilder::on_topic_json`]); MQTT 5
//! properties on [`Publish`] and on every [`MqttMessage`]; a
//! [`SubscribeStream`] for async code that is not an actor (an actix-web
//! response body, say), which reports what its reader lost and lets go of its
//! filter when dropped; and request/response over MQTT 5 ([`Request`],
//! [`MqttActorBuilder::on_request`]).
//!
//! # Layout
//!
//! Files form floors; a file imports only from its own floor or below, and
//! no two files import each other in a loop (a test in this file checks it,
//! for `src/` and for each directory under it):
//!
//! - bottom, the words everything shares: `error.rs` ([`MqttError`], one enum
//!   for the crate), `qos.rs` ([`QoS`]), `strings.rs` (the characters MQTT
//!   strings must not carry), `brokers.rs` (the broker list of
//!   `MQTT_BROKER_URL`: checking and completing its entries), `client_id.rs`
//!   (`{hostname}` and `{pid}` in `MQTT_CLIENT_ID`);
//! - `topic.rs` (topic and filter validation, the trie of filters, and the
//!   index of who holds which filter), `config.rs` ([`MqttConfig`], the table
//!   of settings ([`SETTINGS`]), reading them from the environment, TOML or
//!   JSON, and validation);
//! - `messages.rs` (the public vocabulary: [`Subscribe`], [`Unsubscribe`],
//!   [`Publish`], the queries and their answers, [`MqttMessage`]),
//!   `plan.rs` (which broker subscriptions serve the held filters, none
//!   overlapping), `handlers.rs` (the `on_*` callbacks and the events they
//!   get: [`Connected`], [`Subscribed`], [`Unsubscribed`], ...);
//! - `client.rs` (the Paho side: options from the configuration, callbacks
//!   that only forward, conversions), `request.rs` ([`Request`], [`Reply`]
//!   and [`IntoReply`]: request/response over MQTT 5, and the listener that
//!   hands replies to their callers), `stream.rs` ([`SubscribeStream`] and
//!   its [`MessageStream`] of [`StreamItem`]s, for async code that is not an
//!   actor: the bounded queue and the listener bridge that fills it),
//!   `broker_limits.rs` (what the broker allows a publish to be: retain,
//!   QoS, packet size, from CONNACK or the settings);
//! - `actor/`: the [`MqttActor`] and its [`MqttActorBuilder`], on floors of
//!   their own (listed in its module docs): the pure parts of its state at
//!   the bottom, the struct in `mod.rs`, and one file per job on top; the
//!   delivery policy is at the top of `actor/delivery.rs`;
//! - `web/` (feature `web`): the browser bridge, on floors of its own
//!   (listed in its module docs); `recorder/` (feature `history`): the
//!   recorder of messages into SQLite or PostgreSQL, its retention and
//!   history queries;
//! - this file: the crate docs and re-exports.
#![warn(missing_docs)]

mod actor;
mod broker_limits;
mod brokers;
mod client;
mod client_id;
mod config;
mod error;
mod handlers;
mod messages;
mod plan;
mod qos;
#[cfg(feature = "history")]
pub mod recorder;
mod request;
mod stream;
mod strings;
mod topic;
#[cfg(feature = "web")]
pub mod web;

pub use actor::builder::MqttActorBuilder;
pub use actor::MqttActor;
pub use config::{MqttConfig, ProtocolVersion, Setting, TlsVersion, Transport, SETTINGS};
pub use error::{MqttError, Result};
pub use handlers::{Connected, Disconnected, LogLevel, Published, Subscribed, Unsubscribed};
pub use messages::{
    ConnectionChanged, Disconnect, GetStatus, GetSubscriptions, ListenerNotice, MessageProperties,
    MqttMessage, Publish, Status, Subscribe, SubscriptionInfo, Unsubscribe, UnsubscribeAll,
    WaitConnected, WatchConnection,
};
pub use qos::QoS;
pub use request::{IntoReply, Reply, Request};
pub use stream::{MessageStream, StreamItem, SubscribeStream};
pub use topic::{validate_filter, validate_topic};

#[cfg(test)]
mod floors {
    //! The floors of the Layout above, checked against the imports of every
    //! file of every directory of `src/`.

    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    /// Per directory of `src/` (`""` is `src/` itself), its modules' floors,
    /// lowest first. A module is a file, or a directory of files at the
    /// crate level.
    const FLOORS: &[(&str, &[&[&str]])] = &[
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
                    "ownership",
                ],
                &["queue", "state"],
                &["admission", "fanout"],
                &["session", "stream", "api"],
                &["bridge", "mod"],
            ],
        ),
        (
            "web/records",
            &[&["cache"], &["history", "retained"], &["mod"]],
        ),
        (
            "web/mosquitto",
            &[
                &["filter", "passwd", "ratelimit"],
                &["acl"],
                &["policy"],
                &["mod"],
                &["login"],
            ],
        ),
    ];

    fn src() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    /// Where a module is, for messages: `src/topic`, `src/actor/mod`.
    fn place(dir: &str, module: &str) -> String {
        match dir {
            "" => format!("src/{module}"),
            _ => format!("src/{dir}/{module}"),
        }
    }

    fn floor(dir: &str, module: &str) -> usize {
        let (_, floors) = FLOORS
            .iter()
            .find(|(d, _)| *d == dir)
            .unwrap_or_else(|| panic!("src/{dir}/ has no floors: add it and its files to FLOORS"));
        floors
            .iter()
            .position(|f| f.contains(&module))
            .unwrap_or_else(|| {
                let at = place(dir, module);
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
        std::fs::read_dir(dir)
            .expect("a source directory")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| {
                if p.is_dir() {
                    is_module_dir(p)
                } else {
                    p.extension().is_some_and(|x| x == "rs")
                }
            })
            .map(|p| {
                let stem = p.file_stem().and_then(|s| s.to_str()).expect("a file name");
                (stem.to_string(), p)
            })
            .collect()
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
    fn imports(dir: &str) -> BTreeMap<String, Vec<String>> {
        let path = if dir.is_empty() {
            src()
        } else {
            src().join(dir)
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
    fn directories() -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            let rel = dir.strip_prefix(base).expect("under src/");
            out.push(rel.to_string_lossy().into_owned());
            for p in modules(dir).values().filter(|p| p.is_dir()) {
                walk(p, base, out);
            }
        }
        let mut out = Vec::new();
        walk(&src(), &src(), &mut out);
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

    #[test]
    fn no_file_imports_from_a_floor_above_it_nor_in_a_loop() {
        for dir in directories() {
            let graph = imports(&dir);
            for (module, used) in &graph {
                let here = floor(&dir, module);
                for other in used {
                    assert!(
                        floor(&dir, other) <= here,
                        "{} imports {other}, a floor above it",
                        place(&dir, module)
                    );
                }
            }
            for module in graph.keys() {
                assert!(
                    !reaches(&graph, module, module),
                    "{} is part of an import loop",
                    place(&dir, module)
                );
            }
        }
    }

    #[test]
    fn the_floors_test_sees_imports_of_every_kind() {
        let top = imports("");
        assert!(top["messages"].contains(&"topic".to_string()));
        assert!(top["actor"].contains(&"client".to_string()));
        let actor = imports("actor");
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
}
