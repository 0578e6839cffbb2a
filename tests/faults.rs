//! The library under faults and awkward brokers, against a real Mosquitto:
//! overlapping filters (MQTT 3.1.1 and 5), retained values for late joiners,
//! subscriptions held only once granted (refusals through Mosquitto's dynamic
//! security plugin, timeouts through a stalled connection; a stream whose
//! filter is refused after a reconnect), drops told to the listeners they
//! were for, and publishes cut off by a broker crash.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use mqtt_actor::*;
use test_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------
// A listener that records its messages and notices.

#[derive(Default)]
struct Record {
    messages: Vec<MqttMessage>,
    notices: Vec<ListenerNotice>,
}

type Shared = Arc<Mutex<Record>>;

struct Collector {
    seen: Shared,
    /// Simulates a stuck client: each message waits until the test opens the
    /// gate (drops its sending end). Such a collector runs on its own arbiter.
    gate: Option<mpsc::Receiver<()>>,
}

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<MqttMessage> for Collector {
    type Result = ();
    fn handle(&mut self, msg: MqttMessage, _: &mut Context<Self>) {
        if let Some(gate) = &self.gate {
            let _ = gate.recv();
        }
        self.seen.lock().unwrap().messages.push(msg);
    }
}

impl Handler<ListenerNotice> for Collector {
    type Result = ();
    fn handle(&mut self, notice: ListenerNotice, _: &mut Context<Self>) {
        self.seen.lock().unwrap().notices.push(notice);
    }
}

struct Listener {
    addr: Addr<Collector>,
    seen: Shared,
}

impl Listener {
    fn start() -> Listener {
        let seen = Shared::default();
        let addr = Collector {
            seen: seen.clone(),
            gate: None,
        }
        .start();
        Listener { addr, seen }
    }

    /// A listener on its own thread, stuck on each message until the returned
    /// sender is dropped.
    fn gated() -> (Listener, mpsc::Sender<()>) {
        let (open, gate) = mpsc::channel();
        let seen = Shared::default();
        let held = seen.clone();
        let addr = Collector::start_in_arbiter(&Arbiter::new().handle(), move |_| Collector {
            seen: held,
            gate: Some(gate),
        });
        (Listener { addr, seen }, open)
    }

    fn subscribe(&self, filter: &str, qos: QoS) -> Subscribe {
        Subscribe::new(filter)
            .qos(qos)
            .listener(self.addr.clone().recipient())
            .notices(self.addr.clone().recipient())
    }

    fn topics(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.messages
            .iter()
            .map(|m| m.topic().to_string())
            .collect()
    }

    fn count(&self, topic: &str) -> usize {
        self.topics().iter().filter(|t| *t == topic).count()
    }

    fn retained(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        let mut v: Vec<String> = seen
            .messages
            .iter()
            .filter(|m| m.retain())
            .map(|m| m.topic().to_string())
            .collect();
        v.sort();
        v
    }

    fn dropped(&self) -> u64 {
        let seen = self.seen.lock().unwrap();
        seen.notices
            .iter()
            .map(|n| match n {
                ListenerNotice::Dropped { count } => *count,
                _ => 0,
            })
            .sum()
    }

    fn notices(&self) -> Vec<ListenerNotice> {
        self.seen.lock().unwrap().notices.clone()
    }

    async fn wait_for(&self, topic: &str) {
        eventually(&format!("a message on {topic}"), || async {
            self.topics().iter().any(|t| t == topic).then_some(())
        })
        .await
    }
}

fn config(url: &str, version: ProtocolVersion) -> MqttConfig {
    let mut config = mqtt_config(url);
    config.protocol_version = version;
    config
}

// ---------------------------------------------------------------------------
// A relay that can hold back what the broker sends (the bytes wait, in
// order), to make the broker's answers late, and can cut every connection.

struct StallProxy {
    port: u16,
    stalled: Arc<AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl StallProxy {
    async fn start(upstream: u16) -> StallProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let port = listener.local_addr().expect("address").port();
        let stalled = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (flag, held) = (stalled.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let flag = flag.clone();
                let link = tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let (mut cr, mut cw) = inbound.into_split();
                    let (mut br, mut bw) = outbound.into_split();
                    let up = async move {
                        let _ = tokio::io::copy(&mut cr, &mut bw).await;
                    };
                    let down = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match br.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            while flag.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            if cw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                });
                held.lock().unwrap().push(link);
            }
        });
        StallProxy {
            port,
            stalled,
            accept,
            links,
        }
    }

    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// Holds back (or lets through again) what the broker sends.
    fn stall(&self, on: bool) {
        self.stalled.store(on, Ordering::SeqCst);
    }

    /// Drops every relayed connection, with whatever was held back.
    fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

// ---------------------------------------------------------------------------
// Overlapping filters.

async fn overlapping_filters_case(version: ProtocolVersion) {
    let broker = Mosquitto::start();
    let (app_seen, on_message) = recorder::<MqttMessage>();
    let mqtt = MqttActor::builder(config(&broker.url(), version))
        .subscribe("marker", QoS::AtLeastOnce)
        .on_message(on_message)
        .start()
        .unwrap();
    wait_active(&mqtt, "marker").await;
    let both = Listener::start();
    let plus = Listener::start();
    let hash = Listener::start();
    let partial = Listener::start();
    for s in [
        both.subscribe("d/#", QoS::AtMostOnce),
        both.subscribe("d/+", QoS::AtLeastOnce),
        plus.subscribe("d/+", QoS::AtLeastOnce),
        hash.subscribe("d/#", QoS::AtLeastOnce),
        hash.subscribe("p/a/#", QoS::AtLeastOnce),
        partial.subscribe("p/+/b", QoS::AtLeastOnce),
    ] {
        mqtt.send(s).await.unwrap().unwrap();
    }
    let subs = mqtt.send(GetSubscriptions).await.unwrap();
    let served: HashMap<&str, &str> = subs
        .iter()
        .map(|s| (s.filter.as_str(), s.broker_filter.as_str()))
        .collect();
    assert_eq!(served["d/+"], "d/#", "{subs:?}");
    assert_eq!(
        served["p/a/#"], "p/+/#",
        "p/a/# and p/+/b are served together: {subs:?}"
    );
    assert_eq!(served["marker"], "marker", "{subs:?}");

    let feed = Observer::connect(&broker.url(), &[]).await;
    for i in 0..20 {
        feed.publish(&format!("d/{i}"), "x", 1, false).await;
    }
    for topic in ["p/a/b", "p/a/c", "p/c/b", "p/c/d", "d/x/y"] {
        feed.publish(topic, "y", 1, false).await;
    }
    feed.publish("marker", "end", 1, false).await;
    eventually("the marker", || async {
        app_seen
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.topic() == "marker")
            .then_some(())
    })
    .await;
    // Every listener's messages came before the marker on the one connection;
    // wait for each to have handled its own last one.
    both.wait_for("d/x/y").await;
    plus.wait_for("d/19").await;
    hash.wait_for("d/x/y").await;
    partial.wait_for("p/c/b").await;

    for i in 0..20 {
        let topic = format!("d/{i}");
        assert_eq!(
            both.count(&topic),
            1,
            "d/# and d/+ deliver once ({version:?})"
        );
        assert_eq!(plus.count(&topic), 1, "{version:?}");
        assert_eq!(hash.count(&topic), 1, "{version:?}");
    }
    assert_eq!(both.count("d/x/y"), 1);
    assert_eq!(plus.count("d/x/y"), 0);
    let mut h = hash.topics();
    h.retain(|t| !t.starts_with("d/"));
    assert_eq!(h, ["p/a/b", "p/a/c"], "{version:?}");
    assert_eq!(partial.topics(), ["p/a/b", "p/c/b"], "{version:?}");
    let app: Vec<String> = app_seen
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.topic().to_string())
        .collect();
    assert_eq!(
        app,
        ["marker"],
        "the wider broker filter brings the app nothing"
    );
    assert_eq!(
        both.seen.lock().unwrap().messages[0].qos(),
        QoS::AtLeastOnce
    );

    // Letting go of p/+/b splits the broker subscription again.
    mqtt.send(Unsubscribe::new("p/+/b").listener(partial.addr.clone().recipient()))
        .await
        .unwrap()
        .unwrap();
    let subs = mqtt.send(GetSubscriptions).await.unwrap();
    let a = subs.iter().find(|s| s.filter == "p/a/#").unwrap();
    assert_eq!(
        (a.broker_filter.as_str(), a.active),
        ("p/a/#", true),
        "{subs:?}"
    );
    feed.publish("p/a/b", "again", 1, false).await;
    eventually("p/a/b again", || async {
        (hash.count("p/a/b") == 2).then_some(())
    })
    .await;
    assert_eq!(partial.topics().len(), 2);
}

#[actix_rt::test]
async fn overlapping_filters_deliver_once_per_listener_with_mqtt_3() {
    init_logging();
    overlapping_filters_case(ProtocolVersion::V311).await;
}

#[actix_rt::test]
async fn overlapping_filters_deliver_once_per_listener_with_mqtt_5() {
    init_logging();
    overlapping_filters_case(ProtocolVersion::V5).await;
}

// ---------------------------------------------------------------------------
// Retained values for late joiners.

async fn late_joiner_case(version: ProtocolVersion) {
    let broker = Mosquitto::start();
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("r/1", "one", 1, true).await;
    feed.publish("r/2", "two", 1, true).await;
    let mqtt = MqttActor::builder(config(&broker.url(), version))
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    let first = Listener::start();
    mqtt.send(first.subscribe("r/#", QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    eventually("the first holder's retained values", || async {
        (first.retained() == ["r/1", "r/2"]).then_some(())
    })
    .await;

    let second = Listener::start();
    let narrow = Listener::start();
    mqtt.send(second.subscribe("r/#", QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    mqtt.send(narrow.subscribe("r/1", QoS::AtMostOnce))
        .await
        .unwrap()
        .unwrap();
    // Published after the SUBACKs: it reaches each listener after any
    // retained message those SUBSCRIBEs brought.
    feed.publish("r/marker", "m", 1, false).await;
    for l in [&first, &second] {
        l.wait_for("r/marker").await;
    }
    assert_eq!(second.retained(), ["r/1", "r/2"], "{version:?}");
    assert_eq!(narrow.retained(), ["r/1"], "only its own filter's values");
    for topic in ["r/1", "r/2", "r/marker"] {
        assert_eq!(
            first.count(topic),
            1,
            "first, {topic}: {:?}",
            first.topics()
        );
        assert_eq!(
            second.count(topic),
            1,
            "second, {topic}: {:?}",
            second.topics()
        );
    }
    assert_eq!(
        first.topics().len(),
        3,
        "the first holder gets nothing again"
    );
}

#[actix_rt::test]
async fn a_late_joiner_gets_the_retained_values_once_with_mqtt_3() {
    init_logging();
    late_joiner_case(ProtocolVersion::V311).await;
}

#[actix_rt::test]
async fn a_late_joiner_gets_the_retained_values_once_with_mqtt_5() {
    init_logging();
    late_joiner_case(ProtocolVersion::V5).await;
}

// ---------------------------------------------------------------------------
// A filter is held only once the broker granted it.

async fn refused_case(version: ProtocolVersion) {
    let broker = DynsecBroker::start(&["secret/#", "=+/#"]);
    let mqtt = MqttActor::builder(config(&broker.url(), version))
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    let l = Listener::start();
    for _ in 0..2 {
        let err = mqtt
            .send(l.subscribe("secret/x", QoS::AtLeastOnce))
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, MqttError::Refused { .. }),
            "{version:?}: {err}"
        );
        assert!(
            mqtt.send(GetSubscriptions).await.unwrap().is_empty(),
            "a refused filter leaves nothing behind"
        );
    }
    // a/# alone is allowed; with +/b it would be served by +/#, which is not.
    mqtt.send(l.subscribe("a/#", QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    let err = mqtt
        .send(l.subscribe("+/b", QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, MqttError::Refused { .. }) && text.contains("+/#") && text.contains("+/b"),
        "the error names the wider broker subscription: {text}"
    );
    let subs = mqtt.send(GetSubscriptions).await.unwrap();
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(
        (
            subs[0].filter.as_str(),
            subs[0].broker_filter.as_str(),
            subs[0].active
        ),
        ("a/#", "a/#", true)
    );
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("a/b", "1", 1, false).await;
    l.wait_for("a/b").await;
    assert_eq!(l.topics(), ["a/b"]);
}

#[actix_rt::test]
async fn a_refused_subscribe_leaves_nothing_behind_with_mqtt_3() {
    init_logging();
    refused_case(ProtocolVersion::V311).await;
}

#[actix_rt::test]
async fn a_refused_subscribe_leaves_nothing_behind_with_mqtt_5() {
    init_logging();
    refused_case(ProtocolVersion::V5).await;
}

#[actix_rt::test]
async fn a_refused_resubscribe_after_a_reconnect_tells_each_holder() {
    init_logging();
    let mut broker = DynsecBroker::start(&[]);
    let (log, on_log) = recorder::<String>();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .subscribe("data/#", QoS::AtLeastOnce)
        .on_log(move |mqtt, _, text| on_log(mqtt, &text.to_string()))
        .start()
        .unwrap();
    wait_active(&mqtt, "data/#").await;
    let a = Listener::start();
    let b = Listener::start();
    for s in [
        a.subscribe("data/+/t", QoS::AtLeastOnce),
        a.subscribe("keep/#", QoS::AtLeastOnce),
        b.subscribe("data/x/+", QoS::AtMostOnce),
    ] {
        mqtt.send(s).await.unwrap().unwrap();
    }

    broker.stop();
    wait_connected(&mqtt, false).await;
    broker.deny(&["data/#"]);
    broker.resume();
    wait_active(&mqtt, "keep/#").await;
    eventually("both listeners told", || async {
        (a.notices().len() == 1 && b.notices().len() == 1).then_some(())
    })
    .await;
    let lost = |l: &Listener| match &l.notices()[0] {
        ListenerNotice::SubscriptionLost { filter, error } => {
            assert!(matches!(error, MqttError::Refused { .. }), "{error}");
            filter.clone()
        }
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(lost(&a), "data/+/t");
    assert_eq!(lost(&b), "data/x/+");
    eventually("the lost filters released", || async {
        let subs = mqtt.send(GetSubscriptions).await.ok()?;
        (subs.iter().map(|s| s.filter.as_str()).collect::<Vec<_>>() == ["keep/#"]).then_some(())
    })
    .await;
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("\"data/#\"") && l.contains("lost")),
        "the application's own loss is logged"
    );
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("keep/1", "k", 1, false).await;
    a.wait_for("keep/1").await;
}

#[actix_rt::test]
async fn a_stream_whose_filter_is_refused_after_a_reconnect_says_so_and_ends() {
    use futures::StreamExt;
    init_logging();
    let mut broker = DynsecBroker::start(&[]);
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    let mut stream = mqtt
        .send(SubscribeStream::new("data/#").qos(QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();

    broker.stop();
    wait_connected(&mqtt, false).await;
    broker.deny(&["data/#"]);
    broker.resume();
    let item = tokio::time::timeout(PATIENCE, stream.next()).await;
    match item {
        Ok(Some(StreamItem::SubscriptionLost(error))) => {
            assert!(matches!(error, MqttError::Refused { .. }), "{error}")
        }
        other => panic!("expected SubscriptionLost, got {other:?}"),
    }
    let end = tokio::time::timeout(PATIENCE, stream.next()).await;
    assert_eq!(end, Ok(None), "nothing comes after the loss");
    let subs = mqtt.send(GetSubscriptions).await.unwrap();
    assert!(subs.is_empty(), "{subs:?}");
}

#[actix_rt::test]
async fn a_subscribe_that_times_out_leaves_nothing_behind_and_can_be_retried() {
    init_logging();
    let broker = Mosquitto::start();
    let proxy = StallProxy::start(broker.port).await;
    let mut cfg = mqtt_config(&proxy.url());
    cfg.request_timeout = Duration::from_millis(500);
    let mqtt = MqttActor::builder(cfg).start().unwrap();
    wait_connected(&mqtt, true).await;
    let l = Listener::start();

    // The SUBSCRIBE reaches the broker; its SUBACK comes too late.
    proxy.stall(true);
    let err = mqtt
        .send(l.subscribe("late/#", QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MqttError::Timeout { .. }), "{err}");
    assert!(mqtt.send(GetSubscriptions).await.unwrap().is_empty());
    proxy.stall(false);

    // The actor took the broker subscription back (UNSUBSCRIBE); whatever
    // the late answers say, the next attempt starts from nothing.
    let feed = Observer::connect(&broker.url(), &[]).await;
    mqtt.send(l.subscribe("late/#", QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    mqtt.send(l.subscribe("late/+", QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    for i in 0..5 {
        feed.publish(&format!("late/{i}"), "x", 1, false).await;
    }
    l.wait_for("late/4").await;
    assert_eq!(
        l.topics(),
        ["late/0", "late/1", "late/2", "late/3", "late/4"],
        "once each"
    );
}

// ---------------------------------------------------------------------------
// Every drop is told.

#[actix_rt::test]
async fn messages_dropped_for_a_stuck_listener_are_told_to_it() {
    init_logging();
    let broker = Mosquitto::start();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    let (stuck, gate) = Listener::gated();
    mqtt.send(stuck.subscribe("burst/#", QoS::AtLeastOnce).capacity(10))
        .await
        .unwrap()
        .unwrap();
    let feed = Observer::connect(&broker.url(), &[]).await;
    for i in 0..200 {
        feed.publish(&format!("burst/{i}"), "x", 1, false).await;
    }
    eventually("200 messages in", || async {
        (mqtt.send(GetStatus).await.ok()?.messages_in == 200).then_some(())
    })
    .await;
    drop(gate);
    eventually("every message received or told as dropped", || async {
        let got = stuck.topics().len() as u64;
        (got + stuck.dropped() == 200).then_some(())
    })
    .await;
    assert!(stuck.dropped() > 0, "the burst overflowed the backlog");
    assert_eq!(mqtt.send(GetStatus).await.unwrap().dropped, stuck.dropped());
}

#[actix_rt::test]
async fn messages_lost_before_the_actor_are_told_to_the_listeners_they_were_for() {
    init_logging();
    let broker = Mosquitto::start();
    let url = broker.url();
    let (open, gate) = mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(Some(gate)));
    let (tx, rx) = futures::channel::oneshot::channel();
    // The actor runs on its own thread, which its `block` handler holds up.
    Arbiter::new().spawn_fn(move || {
        let mqtt = MqttActor::builder(mqtt_config(&url))
            .inbound_capacity(16)
            .subscribe("block", QoS::AtLeastOnce)
            .on_topic("block", move |_, _| {
                if let Some(g) = gate.lock().unwrap().take() {
                    let _ = g.recv();
                }
            })
            .start()
            .unwrap();
        let _ = tx.send(mqtt);
    });
    let mqtt = rx.await.unwrap();
    wait_active(&mqtt, "block").await;
    let burst = Listener::start();
    let other = Listener::start();
    mqtt.send(burst.subscribe("burst/#", QoS::AtMostOnce))
        .await
        .unwrap()
        .unwrap();
    mqtt.send(other.subscribe("other/#", QoS::AtMostOnce))
        .await
        .unwrap()
        .unwrap();

    let mut witness = Observer::connect(&broker.url(), &["burst/#"]).await;
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("block", "hold", 1, false).await;
    feed.publish_burst(
        (0..2000).map(|i| (format!("burst/{i}"), b"x".to_vec())),
        100,
    )
    .await;
    // An outside client saw the whole burst: so did the actor's Paho thread.
    for _ in 0..2000 {
        witness.next().await;
    }
    drop(open);
    eventually(
        "every burst message received or told as dropped",
        || async {
            let got = burst.topics().len() as u64;
            (got + burst.dropped() == 2000).then_some(())
        },
    )
    .await;
    assert!(burst.dropped() > 0, "the channel overflowed");
    feed.publish("other/1", "o", 0, false).await;
    other.wait_for("other/1").await;
    assert!(
        other.notices().is_empty(),
        "a listener is told only of losses under its own filters: {:?}",
        other.notices()
    );
    let status = mqtt.send(GetStatus).await.unwrap();
    assert_eq!(status.dropped, burst.dropped() + other.dropped());
}

// ---------------------------------------------------------------------------
// Publishes have a deadline.

#[actix_rt::test]
async fn publishes_cut_off_by_a_broker_crash_answer_at_once_and_are_not_sent_again() {
    init_logging();
    let mut broker = Mosquitto::start();
    let proxy = StallProxy::start(broker.port).await;
    let (published, on_publish) = recorder::<Published>();
    let mut cfg = mqtt_config(&proxy.url());
    // Long enough that an answer before it is the connection loss's doing.
    cfg.request_timeout = Duration::from_secs(60);
    let mqtt = MqttActor::builder(cfg)
        .on_publish(on_publish)
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    mqtt.send(Publish::new("p/first", "1").qos(QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();

    // The broker gets the publishes; its PUBACKs are held back, then the
    // broker dies and the connection with it.
    let mut witness = Observer::connect(&broker.url(), &["p/+"]).await;
    proxy.stall(true);
    let pending: Vec<_> = (0..50)
        .map(|i| {
            let p = Publish::new(format!("p/{i}"), "x").qos(QoS::AtLeastOnce);
            actix_rt::spawn(mqtt.send(p))
        })
        .collect();
    for _ in 0..50 {
        witness.next().await;
    }
    broker.stop();
    proxy.cut();
    proxy.stall(false);
    let answers = tokio::time::timeout(PATIENCE, futures::future::join_all(pending))
        .await
        .expect("every publish answers while the broker is down");
    for a in answers {
        let err = a.unwrap().unwrap().unwrap_err();
        assert!(matches!(err, MqttError::NotConnected { .. }), "{err}");
    }
    // The loss notice may reach the actor after the publishes' answers.
    wait_connected(&mqtt, false).await;
    assert_eq!(
        mqtt.send(GetStatus).await.unwrap().buffered,
        0,
        "nothing kept to send again"
    );

    // What the restarted broker receives, watched from outside: the broker
    // answers nothing through the proxy (so the library's reconnect waits
    // for its CONNACK, and sends nothing) until the witness is subscribed.
    proxy.stall(true);
    broker.resume();
    let mut witness = Observer::connect(&broker.url(), &["p/+"]).await;
    proxy.stall(false);
    wait_connected(&mqtt, true).await;
    mqtt.send(Publish::new("p/after", "2").qos(QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    // A re-send goes out on the new connection before `p/after`.
    let mut received = Vec::new();
    loop {
        let m = witness.next().await;
        received.push(m.topic().to_string());
        if m.topic() == "p/after" {
            break;
        }
    }
    assert_eq!(
        received,
        ["p/after"],
        "the restarted broker received none of the cut-off publishes"
    );
    let topics: Vec<String> = published
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.topic.clone())
        .collect();
    assert_eq!(
        topics,
        ["p/first", "p/after"],
        "the library sent none of them again"
    );
}
