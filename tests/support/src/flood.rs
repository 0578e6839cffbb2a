//! A flood of numbered messages from an outside MQTT client: what the tests
//! of the recorder and of the history throw at an app while its database
//! goes down and comes back.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use actix_rt::task::JoinHandle;

use crate::Observer;

/// Publishes `0`, `1`, `2`, … (QoS 1, not retained) on `flood/0` to
/// `flood/4` in turn, one after the other, until [`Flood::stop`].
pub struct Flood {
    /// Set by [`Flood::stop`]; the publishing task checks it before each message.
    stop: Arc<AtomicBool>,
    /// How many messages the broker has acknowledged so far.
    published: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Flood {
    /// Starts publishing to the broker at `broker_url` (on the test's actix
    /// system, from a client of its own).
    pub fn start(broker_url: String) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let published = Arc::new(AtomicU64::new(0));
        let (stop2, published2) = (stop.clone(), published.clone());
        let task = actix_rt::spawn(async move {
            let outside = Observer::connect(&broker_url, &[]).await;
            let mut i = 0u64;
            while !stop2.load(SeqCst) {
                outside
                    .publish(&format!("flood/{}", i % 5), i.to_string(), 1, false)
                    .await;
                i += 1;
                published2.store(i, SeqCst);
            }
        });
        Flood {
            stop,
            published,
            task,
        }
    }

    /// Stops after the message on its way, and returns how many were published.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, SeqCst);
        self.task.await.expect("the flood ends");
        self.published.load(SeqCst)
    }
}
