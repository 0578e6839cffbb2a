//! What the end-to-end tests share. Everything here starts real parts and
//! cleans them up on drop:
//!
//! * `mosquitto`: a real Mosquitto per test on free ports, with generated
//!   configs (plain, password file, TLS, websockets) and `certs`: a CA and
//!   certificates made for the run;
//! * `dynsec`: a Mosquitto whose dynamic-security roles refuse chosen
//!   filters (and refuse re-SUBSCRIBEs after a restart with other roles);
//! * `observer`: an outside MQTT client (plain Paho) that watches or feeds a
//!   broker; `packets`: MQTT packets written by hand; `proxy`: a TCP relay a test can cut like a network fault;
//! * `mqtt`: helpers for tests of the `MqttActor` (settings, waits, handlers
//!   that record what they get);
//! * `app`: the example app started in-process on port 0, stopped through
//!   its shutdown future; `process`: the real `example-app` binary, for the
//!   tests about the process itself; `client`: HTTP and WebSocket clients
//!   speaking the web API contract to either; `follower`: a WebSocket client
//!   that reconnects and re-subscribes by itself, as the dashboard does;
//!   `sse`: a client of `/api/stream` that reads only when asked;
//! * `web`: password files made by `mosquitto_passwd`, and a client that
//!   sets credentials, cookie and headers itself, over HTTP or HTTPS;
//!   `guarded`: the app behind a password file and a Mosquitto ACL, with its
//!   broker;
//! * `browser`: ChromeDriver and a headless Chromium session (with its
//!   downloads going to a directory of the test's, when asked); `page`: the
//!   dashboard's page in it (elements by `data-testid`, fill, click, waits);
//! * `haproxy`: a real HAProxy in front of app instances; `rabbitmq`: a
//!   two-node RabbitMQ cluster with its MQTT plugin; `postgres`: a PostgreSQL
//!   server run as an unprivileged user, which a test can stop and start;
//!   `flood`: numbered messages published until the test says stop;
//! * `memory`: live heap bytes (a counting allocator) and RSS of the test process;
//! * `programs`: the outside programs the tests start, each checked once
//!   where it is started (a missing one fails the test naming its package);
//! * `wait`: polling with one generous deadline, and waiting for ports.
#![allow(missing_docs)]

pub mod app;
pub mod browser;
pub mod certs;
pub mod client;
pub mod dynsec;
pub mod flood;
pub mod follower;
pub mod guarded;
pub mod haproxy;
pub mod memory;
pub mod mosquitto;
pub mod mqtt;
pub mod observer;
pub mod packets;
pub mod page;
pub mod postgres;
pub mod process;
pub mod programs;
pub mod proxy;
pub mod rabbitmq;
pub mod raw_ws;
pub mod sse;
pub mod wait;
pub mod web;

pub use app::App;
/// The HTTP client the helpers use, for tests that need one directly
/// ([`WebClient::http2_client`]).
pub use awc;
pub use browser::Driver;
pub use certs::TestCa;
pub use client::{Closed, Http, Incoming, Ws, WsReceiver, WsSender};
pub use dynsec::DynsecBroker;
pub use flood::Flood;
pub use follower::Follower;
pub use guarded::GuardedApp;
pub use haproxy::HaProxy;
pub use mosquitto::{Mosquitto, MosquittoOptions, Stalled};
pub use mqtt::{
    collector, collector_with_mailbox, mqtt_config, recorder, topics, wait_active, wait_connected,
    wait_for, Collector, Recorded,
};
pub use observer::Observer;
pub use packets::{connect_packet, publish_packet};
pub use postgres::{Postgres, PsqlSession, SharedPostgres};
pub use process::AppProcess;
pub use proxy::Proxy;
pub use rabbitmq::RabbitCluster;
pub use sse::{Sse, SseEvent};
pub use wait::{
    eventually, eventually_within, free_port, wait_listening, wait_listening_within, PATIENCE,
};
pub use web::{Answer, PasswordFile, WebClient};

/// Initialises logging once (`RUST_LOG` shows the actor's and the app's log
/// lines in failing tests).
pub fn init_logging() {
    let _ = env_logger::builder().is_test(true).try_init();
}
