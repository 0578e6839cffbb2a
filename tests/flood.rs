//! A flood that outpaces the `MqttActor` on one topic does not stall its other
//! work: requests in its mailbox (`GetStatus`, `Subscribe`) are answered
//! while the flood goes on, not after it ends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix::prelude::*;
use mqtt_actor::*;
use test_support::*;

/// Publishes QoS 0 messages on `flood/x` as fast as a Paho client on its own
/// thread can, until stopped.
struct FastFlood {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl FastFlood {
    fn start(url: &str) -> FastFlood {
        let client = paho_mqtt::Client::new(url).expect("a flooding client");
        client.connect(None).expect("the flooding client connects");
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (stop2, sent2) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(SeqCst) {
                let msg = paho_mqtt::Message::new("flood/x", vec![0u8; 32], 0);
                if client.publish(msg).is_ok() {
                    sent2.fetch_add(1, SeqCst);
                }
            }
            let _ = client.disconnect(None);
        });
        FastFlood {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn running(&self) -> bool {
        !self.stop.load(SeqCst)
    }
}

impl Drop for FastFlood {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An actor on a thread of its own whose `on_message` handler is slower than
/// the flood (the inbound stream never runs dry), counting what it handled.
/// Its own thread keeps the test's thread free to time out if it stalls.
fn slow_actor(url: String, handled: Arc<AtomicU64>) -> Addr<MqttActor> {
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Arbiter::new().spawn_fn(move || {
        let mqtt = MqttActor::builder(mqtt_config(&url))
            .subscribe("flood/#", QoS::AtMostOnce)
            .on_message(move |_, _| {
                handled.fetch_add(1, SeqCst);
                std::thread::sleep(Duration::from_micros(300));
            })
            .start()
            .expect("the actor starts");
        let _ = tx.send(mqtt);
    });
    assert!(started, "a thread for the actor");
    rx.recv().expect("the actor's address")
}

/// `mqtt`'s answer to `request`, if it comes within [`PATIENCE`].
async fn answer<M>(mqtt: &Addr<MqttActor>, request: M) -> Option<M::Result>
where
    M: actix::Message + Send + 'static,
    M::Result: Send,
    MqttActor: actix::Handler<M>,
{
    tokio::time::timeout(PATIENCE, mqtt.send(request))
        .await
        .ok()?
        .ok()
}

#[actix_rt::test]
async fn requests_are_answered_while_a_flood_outpaces_the_actor() {
    init_logging();
    let broker = Mosquitto::start();
    let handled = Arc::new(AtomicU64::new(0));
    let mqtt = slow_actor(broker.url(), handled.clone());
    wait_active(&mqtt, "flood/#").await;

    let flood = FastFlood::start(&broker.url());
    // The flood is on once the handler has had more than a few budgets' worth,
    // and the flood has sent more than twice what the handler took.
    eventually("the flood to outpace the handler", || async {
        let (h, s) = (handled.load(SeqCst), flood.sent.load(SeqCst));
        (h > 2_000 && s > 2 * h).then_some(())
    })
    .await;

    let status = answer(&mqtt, GetStatus)
        .await
        .expect("GetStatus answered while the flood goes on");
    assert!(status.connected);
    assert!(flood.running());
    let granted = answer(&mqtt, Subscribe::new("other/#"))
        .await
        .expect("Subscribe answered while the flood goes on");
    assert_eq!(granted.expect("granted"), QoS::AtMostOnce);
    assert!(flood.running());
}
