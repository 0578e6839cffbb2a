//! The connection against a real Mosquitto: credentials, TLS, websockets,
//! MQTT 5, the last will, unreachable brokers, and a broker restart with
//! subscriptions restored and buffered publishes delivered.

use std::sync::{Arc, Mutex};

use mqtt_actor::*;
use test_support::*;

fn credentials() -> MosquittoOptions {
    MosquittoOptions {
        credentials: Some(("sensor".into(), "s3cret".into())),
        ..Default::default()
    }
}

async fn last_error(mqtt: &actix::Addr<MqttActor>) -> MqttError {
    eventually("a connection error", || async {
        mqtt.send(GetStatus).await.ok()?.last_error
    })
    .await
}

#[actix_rt::test]
async fn credentials_are_accepted_and_wrong_ones_refused() {
    init_logging();
    let broker = Mosquitto::with(credentials());
    let mut good = mqtt_config(&broker.url());
    good.username = Some("sensor".into());
    good.password = Some("s3cret".into());
    let mqtt = MqttActor::builder(good.clone()).start().unwrap();
    let wait = WaitConnected(PATIENCE);
    mqtt.send(wait)
        .await
        .unwrap()
        .expect("connects with the right password");

    good.password = Some("wrong".into());
    let refused = MqttActor::builder(good).start().unwrap();
    let err = last_error(&refused).await;
    assert!(matches!(err, MqttError::ConnectionRefused { .. }), "{err}");
    assert!(!refused.send(GetStatus).await.unwrap().connected);
    let err = refused
        .send(Publish::new("a", "b"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MqttError::NotConnected { .. }), "{err}");
}

#[actix_rt::test]
async fn an_unreachable_broker_is_reported_and_retried() {
    init_logging();
    let port = free_port();
    let mqtt = MqttActor::builder(mqtt_config(&format!("tcp://127.0.0.1:{port}")))
        .start()
        .unwrap();
    let err = last_error(&mqtt).await;
    assert!(matches!(err, MqttError::Unreachable { .. }), "{err}");
    let err = mqtt.send(Subscribe::new("x")).await.unwrap().unwrap_err();
    assert!(matches!(err, MqttError::NotConnected { .. }), "{err}");
    let wait = WaitConnected(std::time::Duration::from_millis(300));
    let err = mqtt.send(wait).await.unwrap().unwrap_err();
    assert!(matches!(err, MqttError::Unreachable { .. }), "{err}");
}

fn tls_config(broker: &Mosquitto) -> MqttConfig {
    let mut c = mqtt_config("localhost");
    c.broker_port = broker.tls_port.unwrap();
    c.tls_enabled = true;
    c
}

#[actix_rt::test]
async fn tls_verifies_the_server_and_refuses_a_wrong_ca() {
    init_logging();
    let broker = Mosquitto::with(MosquittoOptions {
        tls: true,
        ..Default::default()
    });
    let ca = broker.ca.as_ref().unwrap();

    let mut verified = tls_config(&broker);
    verified.tls_ca_certs = Some(ca.ca.clone());
    let mqtt = MqttActor::builder(verified)
        .subscribe("tls/#", QoS::AtLeastOnce)
        .start()
        .unwrap();
    wait_active(&mqtt, "tls/#").await;
    mqtt.send(Publish::new("tls/x", "secure").qos(QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();

    let mut insecure = tls_config(&broker);
    insecure.tls_insecure = true;
    let mqtt = MqttActor::builder(insecure).start().unwrap();
    wait_connected(&mqtt, true).await;

    let other = TestCa::generate(broker.dir(), "other");
    let mut wrong = tls_config(&broker);
    wrong.tls_ca_certs = Some(other.ca.clone());
    let mqtt = MqttActor::builder(wrong).start().unwrap();
    let err = last_error(&mqtt).await;
    assert!(matches!(err, MqttError::Tls { .. }), "{err}");
    assert!(!mqtt.send(GetStatus).await.unwrap().connected);
}

#[actix_rt::test]
async fn tls_client_certificates_are_presented() {
    init_logging();
    let broker = Mosquitto::with(MosquittoOptions {
        tls: true,
        require_client_cert: true,
        ..Default::default()
    });
    let ca = broker.ca.as_ref().unwrap();
    let mut without = tls_config(&broker);
    without.tls_ca_certs = Some(ca.ca.clone());
    let mut with = without.clone();
    with.tls_certfile = Some(ca.client_cert.clone());
    with.tls_keyfile = Some(ca.client_key.clone());

    let mqtt = MqttActor::builder(with).start().unwrap();
    wait_connected(&mqtt, true).await;
    let refused = MqttActor::builder(without).start().unwrap();
    let err = last_error(&refused).await;
    assert!(
        matches!(err, MqttError::Tls { .. }),
        "refused for TLS reasons: {err}"
    );
}

#[actix_rt::test]
async fn websockets_with_and_without_tls_and_mqtt_5_carry_messages() {
    init_logging();
    let broker = Mosquitto::with(MosquittoOptions {
        websockets: true,
        tls: true,
        ..Default::default()
    });
    let mut ws = mqtt_config("127.0.0.1");
    ws.broker_port = broker.ws_port.unwrap();
    ws.transport = Transport::Websockets;
    let mut wss = mqtt_config("localhost");
    wss.broker_port = broker.wss_port.unwrap();
    wss.transport = Transport::Websockets;
    wss.tls_enabled = true;
    wss.tls_ca_certs = Some(broker.ca.as_ref().unwrap().ca.clone());
    let mut v5 = mqtt_config(&broker.url());
    v5.protocol_version = ProtocolVersion::V5;

    for config in [ws, wss, v5] {
        let (seen, on_message) = recorder::<MqttMessage>();
        let mqtt = MqttActor::builder(config)
            .subscribe("t/#", QoS::ExactlyOnce)
            .on_message(on_message)
            .start()
            .unwrap();
        wait_active(&mqtt, "t/#").await;
        mqtt.send(Publish::new("t/loop", "round trip").qos(QoS::ExactlyOnce))
            .await
            .unwrap()
            .unwrap();
        let m = eventually("the message back", || async {
            seen.lock().unwrap().first().cloned()
        })
        .await;
        assert_eq!((m.topic(), m.payload_str()), ("t/loop", Some("round trip")));
        assert_eq!(m.qos(), QoS::ExactlyOnce);
        mqtt.send(Disconnect).await.unwrap();
    }
}

#[actix_rt::test]
async fn mqtt_5_properties_reach_the_handlers() {
    init_logging();
    let broker = Mosquitto::start();
    let mut v5 = mqtt_config(&broker.url());
    v5.protocol_version = ProtocolVersion::V5;
    let (seen, on_message) = recorder::<MqttMessage>();
    let mqtt = MqttActor::builder(v5)
        .subscribe("props/#", QoS::AtLeastOnce)
        .on_message(on_message)
        .start()
        .unwrap();
    wait_active(&mqtt, "props/#").await;

    let sender = Observer::connect_v5(&broker.url()).await;
    let mut props = paho_mqtt::Properties::new();
    props
        .push_string(paho_mqtt::PropertyCode::ContentType, "application/json")
        .unwrap();
    props
        .push_string(paho_mqtt::PropertyCode::ResponseTopic, "props/reply")
        .unwrap();
    props
        .push_string_pair(paho_mqtt::PropertyCode::UserProperty, "site", "plant-7")
        .unwrap();
    sender
        .publish_with(
            paho_mqtt::MessageBuilder::new()
                .topic("props/x")
                .payload("{}")
                .qos(1)
                .properties(props),
        )
        .await;

    let m = eventually("the v5 message", || async {
        seen.lock().unwrap().first().cloned()
    })
    .await;
    let p = m.properties().expect("MQTT 5 properties");
    assert_eq!(p.content_type.as_deref(), Some("application/json"));
    assert_eq!(p.response_topic.as_deref(), Some("props/reply"));
    assert_eq!(
        p.user_properties,
        [("site".to_string(), "plant-7".to_string())]
    );
}

#[actix_rt::test]
async fn the_last_will_is_published_when_the_connection_is_cut() {
    init_logging();
    let broker = Mosquitto::start();
    let proxy = Proxy::start(broker.port).await;
    let mut watcher = Observer::connect(&broker.url(), &["status/app"]).await;
    let mut config = mqtt_config(&proxy.url());
    config.last_will_topic = Some("status/app".into());
    config.last_will_message = "offline".into();
    config.last_will_qos = QoS::AtLeastOnce;
    config.keepalive = std::time::Duration::from_secs(2);
    let mqtt = MqttActor::builder(config.clone()).start().unwrap();
    wait_connected(&mqtt, true).await;

    proxy.cut();
    let will = watcher.next_on("status/app").await;
    assert_eq!(will.payload_str(), "offline");

    // A clean disconnect sends no will.
    let clean = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .unwrap();
    wait_connected(&clean, true).await;
    let mut quiet = mqtt_config(&broker.url());
    quiet.last_will_topic = Some("status/quiet".into());
    quiet.last_will_message = "should not appear".into();
    let mut watcher = Observer::connect(&broker.url(), &["status/quiet", "status/marker"]).await;
    let polite = MqttActor::builder(quiet).start().unwrap();
    wait_connected(&polite, true).await;
    polite.send(Disconnect).await.unwrap();
    clean
        .send(Publish::new("status/marker", "m").qos(QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    let next = watcher.next().await;
    assert_eq!(
        next.topic(),
        "status/marker",
        "no will after a clean disconnect"
    );
}

#[actix_rt::test]
async fn a_broker_restart_restores_subscriptions_and_delivers_buffered_publishes() {
    init_logging();
    restart_case(true).await;
}

#[actix_rt::test]
async fn a_broker_restart_restores_subscriptions_without_a_clean_session_too() {
    init_logging();
    restart_case(false).await;
}

async fn restart_case(clean_session: bool) {
    let mut broker = Mosquitto::start();
    let events: Arc<Mutex<Vec<String>>> = Arc::default();
    let (on_conn, on_disc, on_msg) = (events.clone(), events.clone(), events.clone());
    let mut config = mqtt_config(&broker.url());
    config.max_buffered_publishes = 2;
    config.clean_session = clean_session;
    config.client_id = format!("restart-{clean_session}");
    let mqtt = MqttActor::builder(config)
        .subscribe("r/#", QoS::AtLeastOnce)
        .on_connect(move |_, c| {
            on_conn
                .lock()
                .unwrap()
                .push(format!("connect reconnect={}", c.reconnect))
        })
        .on_disconnect(move |_, _| on_disc.lock().unwrap().push("disconnect".into()))
        .on_message(move |_, m| {
            on_msg
                .lock()
                .unwrap()
                .push(format!("message {}", m.topic()))
        })
        .start()
        .unwrap();
    wait_active(&mqtt, "r/#").await;

    broker.stop();
    wait_connected(&mqtt, false).await;
    let err = mqtt
        .send(Publish::new("r/zero", "x"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, MqttError::NotConnected { .. }),
        "QoS 0 while down: {err}"
    );
    let first = mqtt.send(
        Publish::new("kept/1", "while down")
            .qos(QoS::AtLeastOnce)
            .retain(true),
    );
    let second = mqtt.send(
        Publish::new("kept/2", "also")
            .qos(QoS::ExactlyOnce)
            .retain(true),
    );
    let first = actix_rt::spawn(first);
    let second = actix_rt::spawn(second);
    eventually("two buffered publishes", || async {
        (mqtt.send(GetStatus).await.ok()?.buffered == 2).then_some(())
    })
    .await;
    let err = mqtt
        .send(Publish::new("kept/3", "no room").qos(QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, MqttError::BufferFull { capacity: 2, .. }),
        "{err}"
    );

    broker.resume();
    wait_active(&mqtt, "r/#").await;
    first.await.unwrap().unwrap().unwrap();
    second.await.unwrap().unwrap().unwrap();
    let mut watcher = Observer::connect(&broker.url(), &["kept/#"]).await;
    let mut got = [watcher.next().await, watcher.next().await];
    got.sort_by(|a, b| a.topic().cmp(b.topic()));
    assert_eq!(got[0].payload_str(), "while down");
    assert_eq!(got[1].payload_str(), "also");

    watcher.publish("r/after", "1", 1, false).await;
    eventually("a message after the restart", || async {
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e == "message r/after")
            .then_some(())
    })
    .await;
    let events = events.lock().unwrap();
    let order: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|e| e.starts_with("connect") || *e == "disconnect")
        .collect();
    assert_eq!(
        order,
        [
            "connect reconnect=false",
            "disconnect",
            "connect reconnect=true"
        ]
    );
}
