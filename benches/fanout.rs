//! Fan-out benchmark: one MQTT publisher, the app (release build, started
//! in-process), a real Mosquitto and K WebSocket clients subscribed to the
//! same filter. Prints the
//! delivered messages per second and how many were dropped for slow readers.
//!
//! `cargo bench --bench fanout` (env: `SESSIONS`, `MESSAGES`, `PAYLOAD_BYTES`).
//! Timing lives here, not in the tests.

use std::time::Instant;

use serde_json::json;
use test_support::*;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let sessions = env_or("SESSIONS", 10);
    let messages = env_or("MESSAGES", 20_000);
    let payload = "x".repeat(env_or("PAYLOAD_BYTES", 100));
    actix_rt::System::new().block_on(async move {
        let broker = Mosquitto::start();
        let app = App::start_with(broker.port, |s| s.queue_frames = 100_000).await;
        let mut clients = Vec::new();
        for _ in 0..sessions {
            let mut ws = app.ws().await;
            let reply = ws
                .request(json!({"type": "subscribe", "topic": "bench/#"}), 1)
                .await;
            assert_eq!(reply["type"], "subscribed");
            clients.push(ws);
        }
        let feed = Observer::connect(&broker.url(), &[]).await;
        let start = Instant::now();
        let publish = async {
            for i in 0..messages {
                feed.publish(&format!("bench/{}", i % 100), payload.clone(), 0, false)
                    .await;
            }
            start.elapsed()
        };
        let receive = futures::future::join_all(clients.iter_mut().map(|ws| async {
            let (mut got, mut dropped) = (0u64, 0u64);
            while got + dropped < messages as u64 {
                let v = ws.next().await;
                match v["type"].as_str() {
                    Some("message") => got += 1,
                    Some("lagged") => dropped += v["dropped"].as_u64().unwrap_or(0),
                    _ => {}
                }
            }
            (got, dropped)
        }));
        let (published_in, results) = futures::join!(publish, receive);
        let elapsed = start.elapsed();
        let delivered: u64 = results.iter().map(|r| r.0).sum();
        let dropped: u64 = results.iter().map(|r| r.1).sum();
        println!(
            "fanout: {messages} messages x {sessions} sessions, {} B payload: published in {:.2?}, \
             all delivered in {:.2?}: {:.0} frames/s to clients, {dropped} dropped",
            payload.len(),
            published_in,
            elapsed,
            delivered as f64 / elapsed.as_secs_f64()
        );
    });
}
