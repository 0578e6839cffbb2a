//! The embedded MQTT broker, started when `MQTT_BROKER_URL` is not set.
//!
//! It wraps [`rumqttd`] so the example app runs without an external broker:
//! an MQTT 3.1.1 (v4) listener on 127.0.0.1 only, anonymous access and
//! limits that fit a laptop (below). The broker runs in background threads for
//! the rest of the process's life; rumqttd offers no way to stop it. It
//! listens on an internal port; clients reach it through the guard of
//! `guard.rs`, which keeps topics that would crash Paho (NUL, not UTF-8) away
//! from it.
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

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

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
/// Client connections at once (the app's own is one; each web session shares it).
const MAX_CONNECTIONS: usize = 1_000;
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
    /// Starts a broker on 127.0.0.1 on a port the OS picks (or `port` if
    /// `Some`), in background threads.
    ///
    /// Returns once the listener accepts TCP connections. Fails if no free
    /// port can be had, if the broker stops (for instance because the port
    /// is taken), or if it does not accept within about 10 seconds.
    pub fn start(port: Option<u16>) -> io::Result<EmbeddedBroker> {
        let public = TcpListener::bind((Ipv4Addr::LOCALHOST, port.unwrap_or(0)))?;
        let port = public.local_addr()?.port();
        let internal_port = check_port(0)?;
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, internal_port));
        let stopped = spawn_broker(config(addr))?;
        wait_until_accepting(addr, &stopped)?;
        crate::guard::spawn(public, addr)?;
        Ok(EmbeddedBroker {
            port,
            internal_port,
        })
    }

    /// The port clients connect to (through the guard).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's own port, behind the guard: for a client whose topics are
    /// known to be valid (the app's `MqttActor`).
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

/// The broker's whole configuration: one anonymous v4 listener on `addr`.
fn config(addr: SocketAddr) -> Config {
    let listener = ServerSettings {
        name: "mqtt-embedded-v4".to_owned(),
        listen: addr,
        tls: None,
        // rumqttd sleeps this long after each accept; none is wanted here.
        next_connection_delay_ms: 0,
        connections: connection_settings(),
    };
    Config {
        router: router_config(),
        v4: Some(HashMap::from([("embedded".to_owned(), listener)])),
        ..Config::default()
    }
}

/// Limits for each client connection.
fn connection_settings() -> ConnectionSettings {
    ConnectionSettings {
        // Time a client has to send CONNECT (the field is a u16).
        connection_timeout_ms: 60_000,
        max_payload_size: MAX_PACKET_SIZE,
        // Incoming packets read in one batch before going to the router;
        // rumqttd caps outgoing in-flight QoS 1/2 messages at 100 itself.
        max_inflight_count: MAX_INFLIGHT_COUNT,
        auth: None,
        external_auth: None,
        // Without it, a publish to a topic nobody subscribed to is an error
        // that drops the publisher's connection.
        dynamic_filters: true,
    }
}

/// Limits for the router, which holds connections and message logs.
fn router_config() -> RouterConfig {
    RouterConfig {
        max_connections: MAX_CONNECTIONS,
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
