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

#[actix_rt::test]
async fn a_publish_declaring_8_mib_costs_only_what_arrived_until_it_is_cut_off() {
    let _one = ONE_AT_A_TIME.lock().await;
    init_logging();
    let mut settings = test_support::app::test_settings();
    settings.embedded_broker_timeout_s = 1;
    let app = App::run(settings).await;
    app.wait_ready().await;
    let port = app.embedded_broker_port().expect("an embedded broker");
    let (live0, _) = measure("before 20 PUBLISH headers declaring 8 MiB");
    let mut conns = Vec::new();
    for i in 0..HOSTILE {
        let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        c.write_all(&connect_packet(&format!("hostile-{i}"), 60, None))
            .await
            .unwrap();
        let mut connack = [0u8; 4];
        c.read_exact(&mut connack).await.unwrap();
        // The broker's largest packet, of which 1 KiB is ever sent.
        let mut packet = header(3, 8 * MIB);
        packet.extend_from_slice(&[0, 1, b't']);
        packet.extend_from_slice(&[b'p'; 1024]);
        c.write_all(&packet).await.unwrap();
        conns.push(c);
    }
    // Until the guard cuts them off for being slow (1 s + 8 s at 1 MiB/s),
    // it has read their headers: the most the heap grew meanwhile is what
    // they cost.
    let deadline = Instant::now() + PATIENCE * 2;
    let mut most = 0;
    let mut closed = 0;
    for c in &mut conns {
        loop {
            most = most.max(test_support::memory::live_bytes().saturating_sub(live0));
            let wait = Instant::now() + Duration::from_millis(20);
            if closed_by(c, wait.min(deadline)).await {
                closed += 1;
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
        }
    }
    println!(
        "{HOSTILE} PUBLISH headers declaring 8 MiB (1 KiB sent): live heap at most +{:.1} MiB, {closed} closed by the guard",
        mib(most)
    );
    assert!(most < 16 * MIB, "live heap up to +{:.1} MiB", mib(most));
    assert_eq!(
        closed, HOSTILE,
        "a packet slower than its deadline is cut off"
    );
}
