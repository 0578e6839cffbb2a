//! The end-to-end test harness: real Mosquitto brokers on free ports with
//! generated configs (plain, password file, TLS, websockets), generated
//! certificates, an outside MQTT client, and polling helpers.
#![allow(missing_docs)]

pub mod app;
pub mod certs;
pub mod mosquitto;
pub mod observer;
pub mod proxy;

pub use app::{App, Closed, Http, Ws};
pub use certs::TestCa;
pub use mosquitto::{Mosquitto, MosquittoOptions};
pub use observer::Observer;
pub use proxy::Proxy;

use std::future::Future;
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// How long a condition may take before a test gives up. Generous: these
/// machines are shared and slow; a passing test never waits this long.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A TCP port on 127.0.0.1 that the OS reported free.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the OS gives a free port")
}

/// Polls `check` until it yields `Some`, or panics with `what` after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > PATIENCE {
            panic!("timed out after {PATIENCE:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Initialises logging once (`RUST_LOG` shows the actor's log lines in failing tests).
pub fn init_logging() {
    let _ = env_logger::builder().is_test(true).try_init();
}

/// Actor settings for tests: the given broker, quick reconnects.
pub fn mqtt_config(url: &str) -> mqtt_actor::MqttConfig {
    mqtt_actor::MqttConfig {
        broker_url: url.to_string(),
        reconnect_min_delay: Duration::from_millis(100),
        reconnect_max_delay: Duration::from_millis(500),
        request_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

/// Waits until the actor reports the connection state `connected`.
pub async fn wait_connected(
    mqtt: &actix::Addr<mqtt_actor::MqttActor>,
    connected: bool,
) -> mqtt_actor::Status {
    eventually(&format!("connected == {connected}"), || async {
        let s = mqtt.send(mqtt_actor::GetStatus).await.ok()?;
        (s.connected == connected).then_some(s)
    })
    .await
}

/// Waits until `filter` is acknowledged by the broker on the current connection.
pub async fn wait_active(mqtt: &actix::Addr<mqtt_actor::MqttActor>, filter: &str) {
    eventually(&format!("{filter} active"), || async {
        let subs = mqtt.send(mqtt_actor::GetSubscriptions).await.ok()?;
        subs.iter()
            .any(|s| s.filter == filter && s.active)
            .then_some(())
    })
    .await
}

/// What a handler recorded.
pub type Recorded<T> = std::sync::Arc<std::sync::Mutex<Vec<T>>>;

/// A handler that records every value it is called with, and the list it fills.
pub fn recorder<T: Clone + 'static>() -> (
    Recorded<T>,
    impl Fn(&actix::Addr<mqtt_actor::MqttActor>, &T) + 'static,
) {
    let list: Recorded<T> = Default::default();
    let held = list.clone();
    (
        list,
        move |_: &actix::Addr<mqtt_actor::MqttActor>, v: &T| {
            held.lock().expect("recorder lock").push(v.clone())
        },
    )
}
