//! The publisher: one raw MQTT connection on its own thread, writing QoS 0
//! PUBLISH packets at a target rate. A token bucket refilled every millisecond
//! decides how many messages are due; they go out as one write, so the
//! publisher keeps pace at hundreds of thousands of messages per second
//! without waiting for anything per message. When the broker reads slower
//! than the offered rate, the socket pushes back and the step takes longer:
//! [`Published::achieved`] shows it.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::mqtt;
use crate::payload::{self, PAYLOAD_BYTES, TOPIC};

/// What one step published.
#[derive(Debug, Clone, Copy)]
pub struct Published {
    /// Messages written.
    pub sent: u64,
    /// From the first write to the last.
    pub elapsed: Duration,
}

impl Published {
    /// Messages per second actually written.
    pub fn achieved(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Publishes `rate` messages per second for `duration` to the broker at
/// `addr`, stamped with `step`. Blocks the calling thread.
pub fn run(addr: &str, step: u32, rate: u64, duration: Duration) -> io::Result<Published> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(publish(addr, step, rate, duration))
}

async fn publish(addr: &str, step: u32, rate: u64, duration: Duration) -> io::Result<Published> {
    let (mut stream, _) = mqtt::open(addr, &format!("bench-pub-{step}"), None).await?;
    let total = ((rate as f64) * duration.as_secs_f64()).round().max(1.0) as u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = Vec::new();
    let mut sent = 0u64;
    let start = Instant::now();
    while sent < total {
        tick.tick().await;
        // The first message is due at once, the last one at `duration`.
        let due = (((rate as f64) * start.elapsed().as_secs_f64()) as u64 + 1).min(total);
        if due <= sent {
            continue;
        }
        buf.clear();
        let now = payload::now_ns();
        for seq in sent..due {
            mqtt::put_publish(&mut buf, TOPIC, PAYLOAD_BYTES, |out| {
                payload::write(out, step, seq, now)
            });
        }
        stream.write_all(&buf).await?;
        sent = due;
    }
    let elapsed = start.elapsed();
    // The broker handles what came before DISCONNECT, then closes: reading to
    // the end makes sure every message was taken in before the step is judged.
    stream.write_all(&mqtt::DISCONNECT).await?;
    let mut sink = [0u8; 256];
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    Ok(Published { sent, elapsed })
}
