//! A WebSocket client that behaves as the dashboard does when its server goes
//! away: it reconnects to the same URL (through a load balancer: possibly to
//! another instance) and subscribes its filter again, with no help from the
//! test. It records which instance serves it and every message it gets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::{eventually, Incoming, Ws};

/// The dashboard's first reconnect delay (`static/config.js`).
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// What a follower saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The `instance` of the last `status` frame.
    pub instance: String,
    /// Whether the filter is granted on the current socket.
    pub subscribed: bool,
    /// Topics of the `message` frames, in order, across reconnects.
    pub topics: Vec<String>,
    /// Sockets that ended (each followed by a reconnect).
    pub reconnects: u32,
}

/// The client, running on the test's actix system until dropped.
pub struct Follower {
    seen: Arc<Mutex<Seen>>,
    task: actix_rt::task::JoinHandle<()>,
}

impl Follower {
    /// Connects to `url`, subscribes to `filter` and waits until it is granted.
    pub async fn start(url: &str, filter: &str) -> Follower {
        let seen: Arc<Mutex<Seen>> = Default::default();
        let task = actix_rt::spawn(follow(url.to_string(), filter.to_string(), seen.clone()));
        let follower = Follower { seen, task };
        follower
            .wait("the first subscription", |s| s.subscribed)
            .await;
        follower
    }

    /// What it saw so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().expect("follower lock").clone()
    }

    /// Waits until `check` holds for what it saw.
    pub async fn wait(&self, what: &str, check: impl Fn(&Seen) -> bool) {
        eventually(what, || async { check(&self.seen()).then_some(()) }).await;
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn follow(url: String, filter: String, seen: Arc<Mutex<Seen>>) {
    let update = |f: &dyn Fn(&mut Seen)| f(&mut seen.lock().expect("follower lock"));
    loop {
        if let Some(mut ws) = Ws::try_connect(&url).await {
            let subscribe = json!({"type": "subscribe", "topic": filter, "qos": 1, "id": 1});
            if ws.try_send(subscribe).await {
                while let Some(Incoming::Frame(v)) = ws.next_or_end(Duration::from_secs(3600)).await
                {
                    match v["type"].as_str() {
                        Some("status") => {
                            let instance = v["instance"].as_str().unwrap_or_default().to_string();
                            update(&|s| s.instance = instance.clone());
                        }
                        Some("subscribed") => update(&|s| s.subscribed = true),
                        Some("message") => {
                            let topic = v["topic"].as_str().unwrap_or_default().to_string();
                            update(&|s| s.topics.push(topic.clone()));
                        }
                        _ => {}
                    }
                }
            }
            update(&|s| {
                s.subscribed = false;
                s.reconnects += 1;
            });
        }
        actix_rt::time::sleep(RECONNECT_DELAY).await;
    }
}
