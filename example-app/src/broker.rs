//! The embedded MQTT broker, started when `MQTT_BROKER_URL` is not set.
//!
//! It wraps [`rumqttd`] so the example app runs without an external broker:
//! an MQTT 3.1.1 (v4) listener on 127.0.0.1 only and limits that fit a laptop
//! (below). The broker runs in background threads for the rest of the
//! process's life; rumqttd offers no way to stop it. It listens on an
//! internal port and requires a login whose password is a secret made at
//! start, which only the guard of `guard.rs` knows: clients, the app's own
//! included, connect to the guard, which keeps what would crash Paho (a
//! topic with NUL or not UTF-8) away from the broker and puts the login in
//! each CONNECT. rumqttd checks the login before it reads any other packet of
//! the connection (`mqtt_connect` in its `link/remote.rs`), so a client that
//! reaches the internal port directly is cut off before it can publish.
//!
//! rumqttd reports through `tracing`, and its events would reach the app's
//! `log` logger through tracing's `log` bridge, at error level for every
//! publish and every ordinary disconnect. Starting the broker switches that
//! bridge off for the whole process (see `silence_rumqttd_logs`) without
//! installing a subscriber; nothing else in the app used `tracing` before
//! rumqttd came in, so nothing else is lost.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use rand::RngCore;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use crate::guard::{self, Login};
use crate::settings::Settings;

/// How long [`EmbeddedBroker::start`] waits for the listener to accept.
const START_DEADLINE: Duration = Duration::from_secs(10);
/// Pause between two connection attempts while the broker starts.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

// The broker's limits, sized for a laptop (README "Limits" lists them).
// rumqttd keeps messages in memory only: one log per subscribed filter, of at
// most SEGMENT_SIZE × (SEGMENT_COUNT + 1) bytes, and every retained message,
// with no bound on their number (it has no setting for one; see README).

/// Largest MQTT packet accepted: rumqttd checks the whole packet (topic and
/// headers included) against it, so it sits above the payloads the app
/// itself accepts (`WS_MAX_FRAME_BYTES`) and the dashboard's 5 MiB case.
const MAX_PACKET_SIZE: usize = 8 * 1024 * 1024;
/// Bytes per segment of each filter's in-memory log. A subscriber loses
/// messages at the broker only once it lags by more than all the segments
/// hold.
const SEGMENT_SIZE: usize = 8 * 1024 * 1024;
/// Segments kept per filter besides the active one, so a busy filter holds at
/// most about 32 MiB of messages (rumqttd's own defaults, 100 MiB × 10 as
/// this file had them, let one filter hold 1.1 GiB).
const SEGMENT_COUNT: usize = 3;
/// Connections the router holds beyond the guard's cap.
const ROUTER_SLACK: usize = 64;
/// The user name of the guard's login at the broker.
const GUARD_USER: &str = "embedded-broker-guard";
/// Time a connection to the internal port has to send a CONNECT with the
/// guard's login (the guard sends it as soon as it has connected).
const CONNECT_TIMEOUT_MS: u16 = 10_000;
/// Incoming packets rumqttd reads from one connection in one batch.
const MAX_INFLIGHT_COUNT: usize = 100;
/// Outgoing packets queued per connection before the router waits for it.
const MAX_OUTGOING_PACKETS: u64 = 200;

/// A running MQTT broker that listens on 127.0.0.1.
///
/// Dropping it does not stop the broker: its threads live as long as the
/// process, because rumqttd has no shutdown.
#[derive(Debug)]
pub struct EmbeddedBroker {
    port: u16,
    internal_port: u16,
}

impl EmbeddedBroker {
    /// Starts a broker on 127.0.0.1 behind its guard, in background threads:
    /// the guard on `EMBEDDED_BROKER_PORT` (or a port the OS picks), with the
    /// `EMBEDDED_BROKER_*` limits.
    ///
    /// Returns once the listener accepts TCP connections. Fails if no free
    /// port can be had, if the broker stops (for instance because the port
    /// is taken), or if it does not accept within about 10 seconds.
    pub fn start(settings: &Settings) -> io::Result<EmbeddedBroker> {
        let port = settings.embedded_broker_port.unwrap_or(0);
        let public = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let port = public.local_addr()?.port();
        let internal_port = check_port(0)?;
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, internal_port));
        let login = Login {
            username: GUARD_USER.to_owned(),
            password: secret(),
        };
        let max_connections = settings.embedded_broker_max_connections.max(1);
        // The guard's cap is the one that acts; the router gets room for
        // clients whose guard connection ended before the router let go of
        // them.
        let router_connections = max_connections + ROUTER_SLACK;
        let stopped = spawn_broker(config(addr, &login, router_connections))?;
        wait_until_accepting(addr, &stopped)?;
        let limits = guard::Limits {
            max_packet: MAX_PACKET_SIZE,
            max_connections,
            timeout: Duration::from_secs(settings.embedded_broker_timeout_s.max(1)),
        };
        guard::spawn(public, addr, login, limits)?;
        Ok(EmbeddedBroker {
            port,
            internal_port,
        })
    }

    /// The port clients connect to (through the guard).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's own port, behind the guard: it refuses every client
    /// without the guard's secret.
    pub fn internal_port(&self) -> u16 {
        self.internal_port
    }

    /// The address it listens on, as `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("{}:{}", Ipv4Addr::LOCALHOST, self.port)
    }
}

/// Binds and drops 127.0.0.1:`port` to learn that it is free (or, for 0,
/// which free port the OS picks), since rumqttd only takes an address.
/// Checking up front matters: if another server held the port, the polling
/// in `start` would connect to it and take it for the broker.
fn check_port(port: u16) -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    Ok(listener.local_addr()?.port())
}

/// A new random secret: 32 bytes from the OS, in hex.
fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The broker's whole configuration: one v4 listener on `addr` that only
/// `login` may use, holding `max_connections` clients.
fn config(addr: SocketAddr, login: &Login, max_connections: usize) -> Config {
    let listener = ServerSettings {
        name: "mqtt-embedded-v4".to_owned(),
        listen: addr,
        tls: None,
        // rumqttd sleeps this long after each accept; none is wanted here.
        next_connection_delay_ms: 0,
        connections: connection_settings(login),
    };
    Config {
        router: router_config(max_connections),
        v4: Some(HashMap::from([("embedded".to_owned(), listener)])),
        ..Config::default()
    }
}

/// Limits for each client connection, and the one login accepted.
fn connection_settings(login: &Login) -> ConnectionSettings {
    let only = HashMap::from([(login.username.clone(), login.password.clone())]);
    ConnectionSettings {
        connection_timeout_ms: CONNECT_TIMEOUT_MS,
        max_payload_size: MAX_PACKET_SIZE,
        // Incoming packets read in one batch before going to the router;
        // rumqttd caps outgoing in-flight QoS 1/2 messages at 100 itself.
        max_inflight_count: MAX_INFLIGHT_COUNT,
        // Compared in constant time, before any other packet is read.
        auth: Some(only),
        external_auth: None,
        // Without it, a publish to a topic nobody subscribed to is an error
        // that drops the publisher's connection.
        dynamic_filters: true,
    }
}

/// Limits for the router, which holds connections and message logs.
fn router_config(max_connections: usize) -> RouterConfig {
    RouterConfig {
        max_connections,
        max_outgoing_packet_count: MAX_OUTGOING_PACKETS,
        max_segment_size: SEGMENT_SIZE,
        max_segment_count: SEGMENT_COUNT,
        ..RouterConfig::default()
    }
}

/// Runs the broker in a named thread, since `Broker::start` blocks while the
/// listeners run. The receiver gets a message if the broker ever stops.
fn spawn_broker(config: Config) -> io::Result<Receiver<String>> {
    let (stopped_tx, stopped_rx) = mpsc::channel();
    thread::Builder::new()
        .name("mqtt-broker".to_owned())
        .spawn(move || {
            let _quiet = silence_rumqttd_logs();
            // `start` returns only once every listener has ended, e.g. when
            // binding failed; a send error means nobody waits any more.
            let reason = match Broker::new(config).start() {
                Ok(()) => "the broker's listener stopped".to_owned(),
                Err(e) => format!("the broker failed: {e}"),
            };
            let _ = stopped_tx.send(reason);
        })?;
    Ok(stopped_rx)
}

/// Stops rumqttd's `tracing` events from reaching the app's `log` logger.
///
/// tracing's `log` feature (which rumqttd turns on) forwards events to `log`
/// only while no dispatcher has ever been set in the process. Setting the
/// no-op one as this thread's default, without installing any subscriber,
/// ends that forwarding for rumqttd's own threads too. Without it the app's
/// log would get an error-level line per publish (rumqttd's spans) and per
/// ordinary disconnect. Keep the guard alive while the broker runs.
fn silence_rumqttd_logs() -> tracing::dispatcher::DefaultGuard {
    tracing::dispatcher::set_default(&tracing::Dispatch::none())
}

/// Polls `addr` until a TCP connection succeeds, the broker thread reports
/// that it stopped, or the deadline passes.
fn wait_until_accepting(addr: SocketAddr, stopped: &Receiver<String>) -> io::Result<()> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        still_running(stopped, addr)?;
        if TcpStream::connect_timeout(&addr, POLL_INTERVAL).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let msg = format!("the MQTT broker did not accept on {addr} within {START_DEADLINE:?}");
            return Err(io::Error::new(io::ErrorKind::TimedOut, msg));
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Fails if the broker thread has ended, so `start` need not wait out the
/// deadline when the broker could not start.
fn still_running(stopped: &Receiver<String>, addr: SocketAddr) -> io::Result<()> {
    let reason = match stopped.try_recv() {
        Err(TryRecvError::Empty) => return Ok(()),
        Ok(reason) => reason,
        // The thread ended without a word: it panicked.
        Err(TryRecvError::Disconnected) => "the broker thread panicked".to_owned(),
    };
    Err(io::Error::other(format!("MQTT broker on {addr}: {reason}")))
}
