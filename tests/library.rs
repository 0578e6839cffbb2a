//! The library against a real Mosquitto: Flask-MQTT's usage sections (connect,
//! subscribe from on_connect, on_message, on_topic, unsubscribe, unsubscribe_all,
//! publish, logging), QoS and retain, listener counting, dedupe and clean-up.

use std::sync::{mpsc, Arc, Mutex};

use actix::prelude::*;
use mqtt_actor::*;
use test_support::*;

/// A listener actor that records what it gets.
struct Collector {
    got: Arc<Mutex<Vec<MqttMessage>>>,
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
        self.got.lock().unwrap().push(msg);
    }
}

/// A collector on its own thread, stuck on each message until the returned
/// sender is dropped.
fn gated_collector() -> (Addr<Collector>, Seen, mpsc::Sender<()>) {
    let (open, gate) = mpsc::channel();
    let got = Seen::default();
    let held = got.clone();
    let addr = Collector::start_in_arbiter(&Arbiter::new().handle(), move |_| Collector {
        got: held,
        gate: Some(gate),
    });
    (addr, got, open)
}

/// The numbers `i` of the `prefix/{i}` topics seen, in order of arrival.
fn numbers(seen: &Seen, prefix: &str) -> Vec<usize> {
    topics(seen)
        .iter()
        .filter_map(|t| t.strip_prefix(prefix)?.parse().ok())
        .collect()
}

async fn wait_messages_in(mqtt: &Addr<MqttActor>, n: u64) {
    eventually(&format!("{n} messages received"), || async {
        let status = mqtt.send(GetStatus).await.ok()?;
        (status.messages_in >= n).then_some(())
    })
    .await
}

type Seen = Arc<Mutex<Vec<MqttMessage>>>;

fn collector() -> (Addr<Collector>, Seen) {
    let got = Seen::default();
    let addr = Collector {
        got: got.clone(),
        gate: None,
    }
    .start();
    (addr, got)
}

#[actix_rt::test]
async fn subscribe_in_on_connect_feeds_on_topic_and_on_message() {
    init_logging();
    let broker = Mosquitto::start();
    let (by_topic, on_topic) = recorder::<MqttMessage>();
    let (all, on_message) = recorder::<MqttMessage>();
    let (subacks, on_subscribe) = recorder::<Subscribed>();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .on_connect(|mqtt, _| mqtt.do_send(Subscribe::new("home/#").qos(QoS::AtLeastOnce)))
        .on_subscribe(on_subscribe)
        .on_topic("home/+/temperature", on_topic)
        .on_message(on_message)
        .start()
        .unwrap();
    wait_active(&mqtt, "home/#").await;
    let subacks: Vec<_> = subacks
        .lock()
        .unwrap()
        .iter()
        .map(|s| (s.filter.clone(), s.granted))
        .collect();
    assert_eq!(subacks, [("home/#".to_string(), QoS::AtLeastOnce)]);

    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("home/kitchen/temperature", "21.5", 1, false)
        .await;
    feed.publish("home/door", "open", 1, false).await;
    wait_for(&all, "home/door").await;

    assert_eq!(topics(&by_topic), ["home/kitchen/temperature"]);
    assert_eq!(topics(&all), ["home/kitchen/temperature", "home/door"]);
    let first = all.lock().unwrap()[0].clone();
    assert_eq!(first.payload_str(), Some("21.5"));
    assert_eq!(first.qos(), QoS::AtLeastOnce);
}

#[actix_rt::test]
async fn publish_reaches_an_outside_client_with_each_qos_and_retain() {
    init_logging();
    let broker = Mosquitto::start();
    let (published, on_publish) = recorder::<Published>();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .on_publish(on_publish)
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    let mut watcher = Observer::connect(&broker.url(), &["out/#"]).await;

    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let topic = format!("out/q{qos}");
        mqtt.send(Publish::new(topic.clone(), format!("payload {qos}")).qos(qos))
            .await
            .unwrap()
            .unwrap();
        let m = watcher.next_on(&topic).await;
        assert_eq!(m.payload_str(), format!("payload {qos}"));
        assert_eq!(m.qos() as i32, i32::from(qos));
    }
    assert_eq!(published.lock().unwrap().len(), 3);

    mqtt.send(
        Publish::new("out/kept", vec![0u8, 255, 1])
            .qos(QoS::AtLeastOnce)
            .retain(true),
    )
    .await
    .unwrap()
    .unwrap();
    let mut late = Observer::connect(&broker.url(), &["out/kept"]).await;
    let kept = late.next().await;
    assert!(kept.retained());
    assert_eq!(kept.payload(), &[0u8, 255, 1]);

    let status = mqtt.send(GetStatus).await.unwrap();
    assert_eq!(status.messages_out, 4);
}

#[actix_rt::test]
async fn unsubscribe_and_unsubscribe_all_stop_the_flow() {
    init_logging();
    let broker = Mosquitto::start();
    let (all, on_message) = recorder::<MqttMessage>();
    let (unsubs, on_unsubscribe) = recorder::<Unsubscribed>();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .subscribe("keep/#", QoS::AtLeastOnce)
        .on_message(on_message)
        .on_unsubscribe(on_unsubscribe)
        .start()
        .unwrap();
    wait_active(&mqtt, "keep/#").await;
    mqtt.send(Subscribe::new("drop/#").qos(QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    mqtt.send(Subscribe::new("gone/+")).await.unwrap().unwrap();

    mqtt.send(Unsubscribe::new("drop/#"))
        .await
        .unwrap()
        .unwrap();
    let unsubs: Vec<_> = unsubs
        .lock()
        .unwrap()
        .iter()
        .map(|u| u.filter.clone())
        .collect();
    assert_eq!(unsubs, ["drop/#"]);
    let err = mqtt
        .send(Unsubscribe::new("drop/#"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MqttError::NotSubscribed { .. }), "{err}");

    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("drop/1", "x", 1, false).await;
    feed.publish("keep/1", "y", 1, false).await;
    wait_for(&all, "keep/1").await;
    assert_eq!(
        topics(&all),
        ["keep/1"],
        "nothing arrives for a released filter"
    );

    mqtt.send(UnsubscribeAll::new()).await.unwrap().unwrap();
    assert!(mqtt.send(GetSubscriptions).await.unwrap().is_empty());
    mqtt.send(Subscribe::new("marker")).await.unwrap().unwrap();
    feed.publish("keep/2", "z", 1, false).await;
    feed.publish("gone/2", "z", 1, false).await;
    feed.publish("marker", "m", 1, false).await;
    wait_for(&all, "marker").await;
    assert_eq!(topics(&all), ["keep/1", "marker"]);
}

#[actix_rt::test]
async fn log_handlers_get_flask_mqtt_levels() {
    init_logging();
    assert_eq!(
        [
            LogLevel::Info,
            LogLevel::Notice,
            LogLevel::Warning,
            LogLevel::Err,
            LogLevel::Debug
        ]
        .map(|l| l as u8),
        [0x01, 0x02, 0x04, 0x08, 0x10]
    );
    let broker = Mosquitto::start();
    let lines: Arc<Mutex<Vec<(LogLevel, String)>>> = Arc::default();
    let held = lines.clone();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .subscribe("log/#", QoS::AtMostOnce)
        .on_log(move |_, level, text| held.lock().unwrap().push((level, text.to_string())))
        .start()
        .unwrap();
    wait_active(&mqtt, "log/#").await;
    Observer::connect(&broker.url(), &[])
        .await
        .publish("log/x", "1", 1, false)
        .await;
    eventually("a debug line for the message", || async {
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|(l, t)| *l == LogLevel::Debug && t.contains("log/x"))
            .then_some(())
    })
    .await;
    let lines = lines.lock().unwrap();
    assert!(lines
        .iter()
        .any(|(l, t)| *l == LogLevel::Info && t.contains("connected to")));
}

#[actix_rt::test]
async fn listeners_share_a_broker_subscription_until_the_last_lets_go() {
    init_logging();
    let broker = Mosquitto::start();
    let (app_seen, on_message) = recorder::<MqttMessage>();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .on_message(on_message)
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    let (a, a_seen) = collector();
    let (b, b_seen) = collector();
    for l in [&a, &b] {
        let granted = mqtt
            .send(
                Subscribe::new("shared/#")
                    .qos(QoS::AtLeastOnce)
                    .listener(l.clone().recipient()),
            )
            .await
            .unwrap();
        assert_eq!(granted.unwrap(), QoS::AtLeastOnce);
    }
    // Overlapping filters of one listener: still one delivery per message.
    mqtt.send(Subscribe::new("shared/+/t").listener(a.clone().recipient()))
        .await
        .unwrap()
        .unwrap();
    mqtt.send(Subscribe::new("marker")).await.unwrap().unwrap();

    let subs = mqtt.send(GetSubscriptions).await.unwrap();
    let shared = subs.iter().find(|s| s.filter == "shared/#").unwrap();
    assert_eq!(
        (shared.listeners, shared.app, shared.active),
        (2, false, true)
    );

    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("shared/x/t", "1", 1, false).await;
    wait_for(&a_seen, "shared/x/t").await;
    wait_for(&b_seen, "shared/x/t").await;
    feed.publish("marker", "1", 1, false).await;
    wait_for(&app_seen, "marker").await;
    assert_eq!(
        topics(&a_seen),
        ["shared/x/t"],
        "overlapping filters deliver once"
    );
    assert_eq!(topics(&b_seen), ["shared/x/t"]);
    assert_eq!(
        topics(&app_seen),
        ["marker"],
        "handlers see only the application's filters"
    );

    mqtt.send(UnsubscribeAll::of(a.clone().recipient()))
        .await
        .unwrap()
        .unwrap();
    let subs = mqtt.send(GetSubscriptions).await.unwrap();
    assert_eq!(
        subs.iter()
            .find(|s| s.filter == "shared/#")
            .unwrap()
            .listeners,
        1
    );
    assert!(subs.iter().all(|s| s.filter != "shared/+/t"));

    // A listener whose actor stopped is dropped, and the filter with it.
    b.do_send(StopNow);
    eventually("the stopped listener's filter released", || async {
        let subs = mqtt.send(GetSubscriptions).await.ok()?;
        subs.iter().all(|s| s.filter != "shared/#").then_some(())
    })
    .await;
    feed.publish("shared/y/t", "2", 1, false).await;
    feed.publish("marker", "2", 1, false).await;
    eventually("the second marker", || async {
        (app_seen.lock().unwrap().len() == 2).then_some(())
    })
    .await;
    let status = mqtt.send(GetStatus).await.unwrap();
    assert_eq!(
        status.messages_in, 3,
        "the released filter brings nothing more from the broker"
    );
}

#[derive(Message)]
#[rtype(result = "()")]
struct StopNow;

impl Handler<StopNow> for Collector {
    type Result = ();
    fn handle(&mut self, _: StopNow, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[actix_rt::test]
async fn a_stuck_listener_loses_messages_but_delays_nobody() {
    init_logging();
    let broker = Mosquitto::start();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    let (stuck, stuck_seen, gate) = gated_collector();
    let (fast, fast_seen) = collector();
    let subscribe = Subscribe::new("burst/#").qos(QoS::AtLeastOnce);
    let subscriptions = [
        subscribe.clone().listener(stuck.recipient()).capacity(10),
        subscribe.listener(fast.recipient()),
    ];
    for s in subscriptions {
        mqtt.send(s).await.unwrap().unwrap();
    }
    let feed = Observer::connect(&broker.url(), &[]).await;
    for i in 0..200 {
        feed.publish(&format!("burst/{i}"), "x", 1, false).await;
    }
    wait_for(&fast_seen, "burst/199").await;
    assert_eq!(
        numbers(&fast_seen, "burst/"),
        (0..200).collect::<Vec<_>>(),
        "the fast listener gets everything, in order, while the other is stuck"
    );
    let dropped = mqtt.send(GetStatus).await.unwrap().dropped;
    assert!(dropped > 0, "the stuck listener's overflow is counted");

    drop(gate);
    eventually("every message delivered or counted as dropped", || async {
        let got = stuck_seen.lock().unwrap().len() as u64;
        (got + dropped == 200).then_some(())
    })
    .await;
    let got = numbers(&stuck_seen, "burst/");
    assert!(got.len() < 200);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
}

#[actix_rt::test]
async fn a_listener_that_is_briefly_slow_loses_nothing_in_a_burst() {
    init_logging();
    let broker = Mosquitto::start();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    // Its actix mailbox holds 16 messages: the burst is ten times that.
    let (slow, slow_seen, gate) = gated_collector();
    mqtt.send(
        Subscribe::new("burst/#")
            .qos(QoS::AtLeastOnce)
            .listener(slow.recipient()),
    )
    .await
    .unwrap()
    .unwrap();
    let feed = Observer::connect(&broker.url(), &[]).await;
    for i in 0..160 {
        feed.publish(&format!("burst/{i}"), "x", 1, false).await;
    }
    wait_messages_in(&mqtt, 160).await;

    drop(gate);
    wait_for(&slow_seen, "burst/159").await;
    assert_eq!(numbers(&slow_seen, "burst/"), (0..160).collect::<Vec<_>>());
    assert_eq!(mqtt.send(GetStatus).await.unwrap().dropped, 0);
}

#[actix_rt::test]
async fn invalid_topics_filters_and_settings_are_refused_with_their_value() {
    init_logging();
    let broker = Mosquitto::start();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    for topic in ["a/+", "a/#", "", "nul\0"] {
        let err = mqtt
            .send(Publish::new(topic, "x"))
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, MqttError::InvalidTopic { .. }),
            "{topic:?}: {err}"
        );
    }
    for filter in ["a/#/b", "a+", ""] {
        let err = mqtt
            .send(Subscribe::new(filter))
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, MqttError::InvalidFilter { .. }),
            "{filter:?}: {err}"
        );
    }
    assert!(mqtt.send(GetSubscriptions).await.unwrap().is_empty());

    let mut bad = mqtt_config(&broker.url());
    bad.tls_ca_certs = Some("/no/such/ca.pem".into());
    let err = MqttActor::builder(bad).start().unwrap_err();
    assert!(
        err.to_string().contains("MQTT_TLS_CA_CERTS")
            && err.to_string().contains("/no/such/ca.pem"),
        "{err}"
    );
    let err = MqttActor::builder(mqtt_config(&broker.url()))
        .subscribe("x/#/y", QoS::AtMostOnce)
        .start()
        .unwrap_err();
    assert!(matches!(err, MqttError::InvalidFilter { .. }));
}

/// Set in the environment of the child process that runs
/// [`settings_come_from_prefixed_environment_variables`]'s checks: what the
/// child must find (`error` or `connect`).
const ENV_CHILD: &str = "LIBTEST_CHILD_EXPECTS";

/// The settings are read from the process environment, which the other
/// tests of this binary share (and `set_var` beside running threads is a
/// data race): each case runs in a child process of this test binary, this
/// test alone, with the variables set when it is spawned.
#[actix_rt::test]
async fn settings_come_from_prefixed_environment_variables() {
    init_logging();
    if let Ok(expects) = std::env::var(ENV_CHILD) {
        return env_child(&expects).await;
    }
    let broker = Mosquitto::start();
    let port = broker.port.to_string();
    // The test's name as the harness knows it: its module path without the
    // crate's name.
    let this_test = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::settings_come_from_prefixed_environment_variables"),
        None => "settings_come_from_prefixed_environment_variables".to_string(),
    };
    for (expects, vars) in [
        ("error", vec![("LIBTEST_BROKER_PORT", "abc")]),
        (
            "connect",
            vec![
                ("LIBTEST_BROKER_PORT", port.as_str()),
                ("LIBTEST_BROKER_URL", "127.0.0.1"),
                ("LIBTEST_CLIENT_ID", "configured-id"),
            ],
        ),
    ] {
        let exe = std::env::current_exe().expect("the test binary's path");
        let out = std::process::Command::new(exe)
            .args([this_test.as_str(), "--exact", "--nocapture"])
            .env(ENV_CHILD, expects)
            .envs(vars)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the test binary runs");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "the {expects} case failed:\n{said}");
        assert!(
            said.contains("1 passed"),
            "the {expects} case ran its test:\n{said}"
        );
    }
}

/// The checks, in the child process whose environment the parent set.
async fn env_child(expects: &str) {
    if expects == "error" {
        let err = MqttConfig::from_env_with_prefix("LIBTEST").unwrap_err();
        assert!(
            err.to_string().contains("LIBTEST_BROKER_PORT") && err.to_string().contains("abc"),
            "{err}"
        );
        return;
    }
    let config = MqttConfig::from_env_with_prefix("LIBTEST").unwrap();
    let from_env = MqttActor::builder(config).start().unwrap();
    let status = wait_connected(&from_env, true).await;
    assert_eq!(
        status.client_id, "configured-id",
        "a set client id is honoured"
    );
}

#[actix_rt::test]
async fn a_shared_subscription_hands_each_message_to_one_instance() {
    init_logging();
    let broker = Mosquitto::start();
    let mut instances = Vec::new();
    for _ in 0..2 {
        let (seen, on_message) = recorder::<MqttMessage>();
        let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
            .subscribe("$share/workers/jobs/#", QoS::AtLeastOnce)
            .on_message(on_message)
            .start()
            .unwrap();
        wait_active(&mqtt, "$share/workers/jobs/#").await;
        instances.push((mqtt, seen));
    }
    let feed = Observer::connect(&broker.url(), &[]).await;
    for i in 0..20 {
        feed.publish(&format!("jobs/{i}"), "work", 1, false).await;
    }
    let counts = || {
        instances
            .iter()
            .map(|(_, s)| s.lock().unwrap().len())
            .collect::<Vec<_>>()
    };
    eventually("all 20 jobs handled", || async {
        (counts().iter().sum::<usize>() == 20).then_some(())
    })
    .await;
    let mut all: Vec<String> = instances.iter().flat_map(|(_, s)| topics(s)).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20, "each job handled once across the instances");
    assert!(
        counts().iter().all(|&c| c > 0),
        "the broker shares the work: {:?}",
        counts()
    );
}
