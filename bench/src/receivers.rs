//! The receivers of both targets, as tokio tasks in the benchmark's process:
//! raw MQTT subscribers on Mosquitto (native) and WebSocket sessions through
//! the app. Each reads its socket in large chunks and counts what it got on
//! the shared [`Board`]. How much work a receiver does per message is the
//! [`Decode`] setting: find the timestamp in place, or decode the whole
//! message as a client library or a browser would.

use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::hist::Histogram;
use crate::payload::{self, FILTER};
use crate::{mqtt, ws};

/// Sockets opened at once while connecting receivers.
const CONNECT_CONCURRENCY: usize = 128;
/// Step id that no message carries: nothing counts between steps.
const NO_STEP: u32 = u32::MAX;

/// How much a receiver does with each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decode {
    /// Find the payload in the raw bytes and read the timestamp from it; no
    /// JSON parser, no allocation per message.
    Stamp,
    /// Decode every message whole: each WebSocket frame parsed by serde_json
    /// into the message object and its payload decoded (as a browser does);
    /// each MQTT PUBLISH into an owned message (as a client library does).
    Full,
}

impl Decode {
    /// How the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            Decode::Stamp => "receivers find the timestamp in place",
            Decode::Full => {
                "receivers decode every message whole (WebSocket: serde_json of the frame \
                 and payload decoding; MQTT: the PUBLISH as a client library hands it over)"
            }
        }
    }
}

/// What one receiver got in the current step.
#[derive(Default)]
pub struct Slot {
    got: AtomicU64,
}

impl Slot {
    /// Messages of the current step received.
    pub fn got(&self) -> u64 {
        self.got.load(Ordering::Relaxed)
    }
}

/// Shared by every receiver: which step counts, the latencies, and counters
/// that tell the harness when the pipes are quiet.
pub struct Board {
    step: AtomicU32,
    /// Payloads of any step seen, to tell when old traffic has drained.
    seen: AtomicU64,
    /// Sum of the app's `lagged.dropped` notices in the current step.
    lagged: AtomicU64,
    /// Messages decoded whole ([`Decode::Full`]), of any step: shows the
    /// setting took effect.
    decoded: AtomicU64,
    /// Latencies of the current step.
    pub hist: Histogram,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            step: AtomicU32::new(NO_STEP),
            seen: AtomicU64::new(0),
            lagged: AtomicU64::new(0),
            decoded: AtomicU64::new(0),
            hist: Histogram::default(),
        }
    }
}

impl Board {
    /// Starts counting messages of `step` (and only those) from zero.
    pub fn begin(&self, step: u32, slots: &[Arc<Slot>]) {
        self.step.store(NO_STEP, Ordering::SeqCst);
        for s in slots {
            s.got.store(0, Ordering::Relaxed);
        }
        self.hist.reset();
        self.lagged.store(0, Ordering::Relaxed);
        self.step.store(step, Ordering::SeqCst);
    }

    /// Stops counting.
    pub fn end(&self) {
        self.step.store(NO_STEP, Ordering::SeqCst);
    }

    /// Payloads seen so far, of any step.
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    /// Messages the app reported dropped (`lagged`) during the step.
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    /// Messages decoded whole so far, of any step.
    pub fn decoded(&self) -> u64 {
        self.decoded.load(Ordering::Relaxed)
    }

    fn on_payload(&self, slot: &Slot, payload: &[u8], now_ns: u64) {
        self.seen.fetch_add(1, Ordering::Relaxed);
        let Some(stamp) = payload::read(payload) else {
            return;
        };
        if stamp.step != self.step.load(Ordering::Relaxed) {
            return;
        }
        slot.got.fetch_add(1, Ordering::Relaxed);
        self.hist
            .record(now_ns.saturating_sub(stamp.sent_ns) / 1000);
    }
}

/// Which kind of receiver, and where it connects.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A raw MQTT subscriber on the broker at this address.
    Native(String, Decode),
    /// A WebSocket session on the app at this address.
    WebSocket(String, Decode),
}

/// A set of connected receivers; dropping it closes their sockets.
pub struct Receivers {
    kind: Kind,
    board: Arc<Board>,
    /// One per receiver, in the same order as `tasks`.
    pub slots: Vec<Arc<Slot>>,
    tasks: Vec<JoinHandle<()>>,
    /// How long connecting (and subscribing) all of them took.
    pub connect_time: Duration,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Receivers {
    /// Connects `n` receivers of `kind`, each subscribed to [`FILTER`].
    pub async fn connect(kind: Kind, n: usize, board: Arc<Board>) -> io::Result<Receivers> {
        let start = Instant::now();
        let slots: Vec<Arc<Slot>> = (0..n).map(|_| Arc::default()).collect();
        let mut set = Receivers {
            kind,
            board,
            slots,
            tasks: Vec::new(),
            connect_time: Duration::ZERO,
        };
        let indices: Vec<usize> = (0..n).collect();
        let tasks = set.spawn_all(&indices).await?;
        set.tasks = tasks;
        set.connect_time = start.elapsed();
        Ok(set)
    }

    /// Reconnects the receivers whose socket has closed; returns how many.
    pub async fn revive(&mut self) -> io::Result<usize> {
        let dead: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].is_finished())
            .collect();
        let fresh = self.spawn_all(&dead).await?;
        for (i, task) in dead.iter().zip(fresh) {
            self.tasks[*i] = task;
        }
        Ok(dead.len())
    }

    async fn spawn_all(&self, indices: &[usize]) -> io::Result<Vec<JoinHandle<()>>> {
        let opened: Vec<io::Result<JoinHandle<()>>> =
            futures::stream::iter(indices.iter().copied())
                .map(|i| self.spawn_one(i))
                .buffered(CONNECT_CONCURRENCY)
                .collect()
                .await;
        opened.into_iter().collect()
    }

    async fn spawn_one(&self, i: usize) -> io::Result<JoinHandle<()>> {
        let slot = self.slots[i].clone();
        let board = self.board.clone();
        Ok(match &self.kind {
            Kind::Native(addr, decode) => {
                let id = format!("bench-rx-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
                let (stream, buf) = mqtt::open(addr, &id, Some(FILTER)).await?;
                tokio::spawn(read_native(stream, buf, *decode, slot, board))
            }
            Kind::WebSocket(addr, decode) => {
                let (stream, buf) = ws::open(addr, FILTER).await?;
                tokio::spawn(read_ws(stream, buf, *decode, slot, board))
            }
        })
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Room kept free in a receiver's buffer before each read.
const READ_ROOM: usize = 16 * 1024;

async fn read_native(
    mut stream: TcpStream,
    mut buf: Vec<u8>,
    decode: Decode,
    slot: Arc<Slot>,
    board: Arc<Board>,
) {
    loop {
        let now = payload::now_ns();
        let mut pos = 0;
        loop {
            match mqtt::next_packet(&buf[pos..]) {
                Ok(Some(p)) => {
                    let body = &buf[pos + p.body_start..pos + p.len];
                    match decode {
                        Decode::Stamp => {
                            if let Some(payload) = mqtt::publish_payload(p.first, body) {
                                board.on_payload(&slot, payload, now);
                            }
                        }
                        Decode::Full => {
                            if let Some(m) = mqtt::Message::decode(p.first, body) {
                                board.decoded.fetch_add(1, Ordering::Relaxed);
                                board.on_payload(&slot, &m.payload, now);
                            }
                        }
                    }
                    pos += p.len;
                }
                Ok(None) => break,
                Err(e) => return eprintln!("native receiver: {e}"),
            }
        }
        buf.drain(..pos);
        buf.reserve(READ_ROOM);
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Finds a `message` frame's payload, or a `lagged` frame's count, in place.
struct Finder {
    payload_key: memmem::Finder<'static>,
    dropped_key: memmem::Finder<'static>,
}

impl Finder {
    fn new() -> Finder {
        Finder {
            payload_key: memmem::Finder::new(br#""payload":""#),
            dropped_key: memmem::Finder::new(br#""dropped":"#),
        }
    }

    fn on_text(&self, text: &[u8], decode: Decode, slot: &Slot, board: &Board, now: u64) {
        if decode == Decode::Full {
            return on_text_decoded(text, slot, board, now);
        }
        if let Some(i) = self.payload_key.find(text) {
            board.on_payload(slot, &text[i + self.payload_key.needle().len()..], now);
        } else if let Some(i) = self.dropped_key.find(text) {
            let digits = &text[i + self.dropped_key.needle().len()..];
            let n = digits
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .fold(0u64, |a, d| a * 10 + u64::from(d - b'0'));
            board.lagged.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// A text frame as a browser client handles it: the whole JSON parsed into
/// the message object, then its payload decoded.
fn on_text_decoded(text: &[u8], slot: &Slot, board: &Board, now: u64) {
    let frame = match ws::ServerFrame::parse(text) {
        Ok(frame) => frame,
        Err(e) => return eprintln!("WebSocket receiver: a frame that is not JSON: {e}"),
    };
    if let Some(dropped) = frame.dropped.filter(|_| frame.kind == "lagged") {
        board.lagged.fetch_add(dropped, Ordering::Relaxed);
    } else if let Some(payload) = frame.payload_bytes() {
        board.decoded.fetch_add(1, Ordering::Relaxed);
        board.on_payload(slot, &payload, now);
    }
}

async fn read_ws(
    stream: TcpStream,
    mut buf: Vec<u8>,
    decode: Decode,
    slot: Arc<Slot>,
    board: Arc<Board>,
) {
    let finder = Finder::new();
    let (mut rd, mut wr) = stream.into_split();
    let mut pongs = Vec::new();
    loop {
        let now = payload::now_ns();
        let mut pos = 0;
        loop {
            match ws::next_frame(&buf[pos..]) {
                Ok(Some(f)) => {
                    let body = &buf[pos + f.start..pos + f.len];
                    match f.opcode {
                        ws::TEXT => finder.on_text(body, decode, &slot, &board, now),
                        ws::PING => pongs.push(ws::client_frame(ws::PONG, body)),
                        ws::CLOSE => return,
                        _ => {}
                    }
                    pos += f.len;
                }
                Ok(None) => break,
                Err(e) => return eprintln!("WebSocket receiver: {e}"),
            }
        }
        buf.drain(..pos);
        for pong in pongs.drain(..) {
            if wr.write_all(&pong).await.is_err() {
                return;
            }
        }
        buf.reserve(READ_ROOM);
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
