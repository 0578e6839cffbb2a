//! The embedded broker's guard holds no more than clients have sent (issue
//! 17, row 7): a packet header declaring a huge length costs nothing. Alone
//! in its test binary, one test at a time: each measures the whole process's
//! live heap (a counting allocator), where the app runs in-process.

use std::time::{Duration, Instant};

use test_support::memory::{measure, mib, Counting, MIB};
use test_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Held by each test: a measurement must not see another test's load.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How many hostile connections each test opens.
const HOSTILE: usize = 20;

/// A fixed header (5 bytes) declaring a body of `len` bytes, for a packet of
/// type `kind` (1: CONNECT, 3: PUBLISH).
fn header(kind: u8, len: usize) -> Vec<u8> {
    let mut h = vec![kind << 4];
    let mut rest = len;
    for _ in 0..4 {
        let byte = (rest & 0x7f) as u8;
        rest >>= 7;
        h.push(if h.len() < 4 { byte | 0x80 } else { byte });
    }
    h
}

/// A CONNECT (MQTT 3.1.1, clean session, keep-alive 60 s) for `client_id`.
fn connect_packet(client_id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60];
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

/// Reads until the guard closes `conn` (end of stream or reset), or the
/// deadline passes: true if it closed.
async fn closed_by(conn: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[actix_rt::test]
async fn headers_declaring_16_mib_cost_nothing_and_are_closed_at_once() {
    let _one = ONE_AT_A_TIME.lock().await;
    init_logging();
    let app = App::embedded().await;
    let port = app.embedded_broker_port().expect("an embedded broker");
    let (live0, rss0) = measure("before 20 headers declaring 16 MiB");
    let mut conns = Vec::new();
    for _ in 0..HOSTILE {
        let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        c.write_all(&header(1, 16 * MIB)).await.unwrap();
        conns.push(c);
    }
    let deadline = Instant::now() + PATIENCE;
    let mut closed = 0;
    for c in &mut conns {
        closed += usize::from(closed_by(c, deadline).await);
    }
    let (live1, rss1) = measure("after");
    let grown = live1.saturating_sub(live0);
    println!(
        "{HOSTILE} headers declaring 16 MiB: live heap +{:.1} MiB, RSS +{:.1} MiB, {closed} closed by the guard",
        mib(grown),
        mib(rss1.saturating_sub(rss0))
    );
    assert!(grown < 16 * MIB, "live heap +{:.1} MiB", mib(grown));
    assert_eq!(closed, HOSTILE, "a length above the maximum closes at once");
}
