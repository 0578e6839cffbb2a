//! The receivers of both targets, as tokio tasks in the benchmark's process:
//! raw MQTT subscribers on Mosquitto (native) and WebSocket sessions through
//! the app. Each reads its socket in large chunks, finds the payloads in
//! place, and counts them on the shared [`Board`].

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
    /// Latencies of the current step.
    pub hist: Histogram,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            step: AtomicU32::new(NO_STEP),
            seen: AtomicU64::new(0),
            lagged: AtomicU64::new(0),
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
    Native(String),
    /// A WebSocket session on the app at this address.
    WebSocket(String),
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
            Kind::Native(addr) => {
                let id = format!("bench-rx-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
                let (stream, buf) = mqtt::open(addr, &id, Some(FILTER)).await?;
                tokio::spawn(read_native(stream, buf, slot, board))
            }
            Kind::WebSocket(addr) => {
                let (stream, buf) = ws::open(addr, FILTER).await?;
                tokio::spawn(read_ws(stream, buf, slot, board))
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

async fn read_native(mut stream: TcpStream, mut buf: Vec<u8>, slot: Arc<Slot>, board: Arc<Board>) {
    loop {
        let now = payload::now_ns();
        let mut pos = 0;
        loop {
            match mqtt::next_packet(&buf[pos..]) {
                Ok(Some(p)) => {
                    let body = &buf[pos + p.body_start..pos + p.len];
                    if let Some(payload) = mqtt::publish_payload(p.first, body) {
                        board.on_payload(&slot, payload, now);
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

async fn read_ws(stream: TcpStream, mut buf: Vec<u8>, slot: Arc<Slot>, board: Arc<Board>) {
    let payload_key = memmem::Finder::new(br#""payload":""#);
    let dropped_key = memmem::Finder::new(br#""dropped":"#);
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
                        ws::TEXT => {
                            if let Some(i) = payload_key.find(body) {
                                board.on_payload(
                                    &slot,
                                    &body[i + payload_key.needle().len()..],
                                    now,
                                );
                            } else if let Some(i) = dropped_key.find(body) {
                                let digits = &body[i + dropped_key.needle().len()..];
                                let n = digits
                                    .iter()
                                    .take_while(|d| d.is_ascii_digit())
                                    .fold(0u64, |a, d| a * 10 + u64::from(d - b'0'));
                                board.lagged.fetch_add(n, Ordering::Relaxed);
                            }
                        }
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
