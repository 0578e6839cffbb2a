//! The browser bridge (cargo feature `web`): MQTT messages in the pages of
//! your own actix-web app, as the web API contract `docs/protocol.md` says.
//!
//! A [`Bridge`] serves WebSocket sessions (`/ws`), Server-Sent Events
//! (`/api/stream`) and an HTTP API (`/api/*`, `/healthz`, `/readyz`,
//! `/metrics`) under whatever scope the application mounts it in. Each
//! client has a bounded outbox: when it reads too slowly, its oldest
//! messages are dropped and it is told how many (`lagged`), and a client that
//! stops reading is cut off after [`BridgeConfig::idle_timeout`]. Every
//! request passes the same-origin rules ([`BridgeConfig::same_origin`]) and an
//! [`Authenticator`]; every subscribe, publish and read passes an
//! [`Authorizer`]. Closures implement both, [`AllowAll`] opens the bridge, and
//! [`MosquittoAuth`] reads Mosquitto's password and ACL files.
//!
//! ```no_run
//! use actix_web::{web, App, HttpRequest, HttpServer};
//! use mqtt_actor::web::{AuthError, Bridge, BridgeConfig, Operation, Principal};
//! use mqtt_actor::{MqttActor, MqttConfig};
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let mqtt = MqttActor::builder(MqttConfig::from_env()?).start()?;
//!     let bridge = Bridge::builder(mqtt, BridgeConfig::default())
//!         // Who: the user a header names (behind a proxy that sets it).
//!         .authenticator(|req: &HttpRequest| -> Result<Option<Principal>, AuthError> {
//!             let user = req.headers().get("x-user").and_then(|v| v.to_str().ok());
//!             Ok(user.map(Principal::user))
//!         })
//!         // What: only under their own prefix.
//!         .authorizer(|who: &Principal, _: Operation, topic: &str| {
//!             who.name().is_some_and(|name| topic.starts_with(&format!("users/{name}/")))
//!         })
//!         .build()?;
//!     HttpServer::new(move || App::new().service(web::scope("/mqtt").configure(bridge.configure())))
//!         .on_connect(Bridge::on_connect)
//!         .bind("127.0.0.1:8080")?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! # Layout
//!
//! Files form floors; a file imports only from its own floor or below, and
//! never in a loop (a test below checks it against `FLOORS`, which the
//! library-wide test of floors can take as `crate::web::FLOORS`):
//!
//! * bottom: `error` (the contract's error codes and their HTTP form;
//!   [`BridgeError`]), `config` ([`BridgeConfig`]), `protocol` (the
//!   contract's serde types), `http` (request headers, refused sign-ins),
//!   `limits` (filter shape, session slots), `metrics` (Prometheus),
//!   `origin` (the `Host` / `Origin` rules), `access` (the access traits,
//!   [`Principal`], [`AllowAll`]), `records/` (last values, history, retained
//!   messages), `mosquitto/` (password file, ACL, login cookie, sign-in
//!   limits: [`MosquittoAuth`]), `socket` (a connection's socket, to cut off
//!   a client), `framing` (WebSocket or Server-Sent Events on the wire),
//!   `inflight` (a session's requests in flight, and the valve on its
//!   socket), `filters` (a session's held and pending filters);
//! * `queue` (one client's bounded outbox), `state` (what handlers and
//!   sessions share);
//! * `admission` (the checks of every request), `fanout` (every client's
//!   listener: fills its outbox, cuts it off when it stops reading);
//! * `session` (one WebSocket client), `stream` (one event stream), `api`
//!   (the HTTP API);
//! * `bridge` ([`Bridge`], [`BridgeHandle`]), and this file.

mod access;
mod admission;
mod api;
mod bridge;
mod config;
mod error;
mod fanout;
mod filters;
mod framing;
mod http;
mod inflight;
mod limits;
mod metrics;
mod mosquitto;
mod origin;
mod protocol;
mod queue;
mod records;
mod session;
mod socket;
mod state;
mod stream;

pub use access::{Access, AllowAll, AuthError, Authenticator, Authorizer, Operation, Principal};
pub use bridge::{Bridge, BridgeBuilder, BridgeHandle};
pub use config::BridgeConfig;
pub use error::{ApiError, BridgeError, ErrorCode};
pub use mosquitto::{LoginPage, MosquittoAuth, Reloaded};
pub use records::Records;

/// The floors of the Layout above, lowest first: the modules of `src/web/`
/// (a folder counts as one), for the library's test of floors.
#[cfg(test)]
pub(crate) const FLOORS: &[&[&str]] = &[
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
    ],
    &["queue", "state"],
    &["admission", "fanout"],
    &["session", "stream", "api"],
    &["bridge", "mod"],
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::FLOORS;

    fn floor(module: &str) -> usize {
        FLOORS
            .iter()
            .position(|f| f.contains(&module))
            .unwrap_or_else(|| panic!("src/web/{module} is on no floor: add it to FLOORS"))
    }

    /// A file's code (comments left out), or for a folder its files' code.
    fn code(path: &Path) -> String {
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .expect("a module folder")
                .map(|e| e.expect("an entry").path())
                .collect();
            files.sort();
            return files.iter().map(|f| code(f)).collect();
        }
        let text = std::fs::read_to_string(path).expect("a source file");
        text.lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Each module of `src/web/` and the modules of `src/web/` its code names.
    fn imports() -> BTreeMap<String, Vec<String>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let mut graph = BTreeMap::new();
        for entry in std::fs::read_dir(dir).expect("src/web is readable") {
            let path = entry.expect("an entry").path();
            let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let mut used: Vec<String> = code(&path)
                .split("crate::web::")
                .skip(1)
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect()
                })
                .filter(|m: &String| !m.is_empty() && m != module)
                .filter(|m: &String| m.chars().next().is_some_and(char::is_lowercase))
                .collect();
            used.sort();
            used.dedup();
            graph.insert(module.to_string(), used);
        }
        graph
    }

    fn reaches(
        graph: &BTreeMap<String, Vec<String>>,
        from: &str,
        to: &str,
        seen: &mut Vec<String>,
    ) -> bool {
        graph.get(from).into_iter().flatten().any(|next| {
            if next == to {
                return true;
            }
            if seen.contains(next) {
                return false;
            }
            seen.push(next.clone());
            reaches(graph, next, to, seen)
        })
    }

    #[test]
    fn no_web_file_imports_from_a_floor_above_it_nor_in_a_loop() {
        let graph = imports();
        for (module, used) in &graph {
            for other in used {
                assert!(
                    floor(other) <= floor(module),
                    "src/web/{module} imports crate::web::{other}, a floor above it"
                );
            }
        }
        for module in graph.keys() {
            assert!(
                !reaches(&graph, module, module, &mut Vec::new()),
                "src/web/{module} is part of an import loop"
            );
        }
    }
}
