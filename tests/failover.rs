//! The library past one broker, against real Mosquittos: a failover list
//! (connect to the first broker that answers, move on when it is lost,
//! subscriptions re-issued there, buffered publishes to whichever comes back
//! first), and the warning about two clients with one client id.

use std::sync::{Arc, Mutex};

use actix::prelude::*;
use mqtt_actor::*;
use test_support::*;

/// A listener actor that records what it gets.
struct Collector(Recorded<MqttMessage>);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<MqttMessage> for Collector {
    type Result = ();
    fn handle(&mut self, msg: MqttMessage, _: &mut Context<Self>) {
        self.0.lock().expect("collector lock").push(msg);
    }
}

/// Waits until the actor is connected to `uri`.
async fn wait_on(mqtt: &Addr<MqttActor>, uri: &str) -> Status {
    eventually(&format!("connected to {uri}"), || async {
        let s = mqtt.send(GetStatus).await.ok()?;
        (s.connected && s.broker == uri).then_some(s)
    })
    .await
}

#[actix_rt::test]
async fn a_failover_list_uses_the_first_broker_that_answers_and_moves_on_when_it_is_lost() {
    init_logging();
    let mut a = Mosquitto::start();
    let b = Mosquitto::start();
    // Nothing listens on the first entry; the second is a bare host name
    // completed with the common port.
    let dead = format!("tcp://127.0.0.1:{}", free_port());
    let config = MqttConfig {
        broker_port: a.port,
        ..mqtt_config(&format!("{dead}, 127.0.0.1 ,{}", b.url()))
    };
    let (connects, on_connect) = recorder::<Connected>();
    let (handled, on_message) = recorder::<MqttMessage>();
    let mqtt = MqttActor::builder(config)
        .on_connect(on_connect)
        .on_message(on_message)
        .subscribe("app/#", QoS::AtLeastOnce)
        .start()
        .expect("the actor starts");
    let seen: Recorded<MqttMessage> = Default::default();
    let listener = Collector(seen.clone()).start();

    let status = wait_on(&mqtt, &a.url()).await;
    assert!(status.last_error.is_none(), "{status:?}");
    mqtt.send(Subscribe::new("web/#").listener(listener.clone().recipient()))
        .await
        .expect("the actor answers")
        .expect("the broker grants web/#");
    assert_eq!(connects.lock().unwrap()[0].broker, a.url());

    a.stop();
    wait_on(&mqtt, &b.url()).await;
    let last = connects
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("a Connected");
    assert_eq!(
        last,
        Connected {
            broker: b.url(),
            reconnect: true
        }
    );
    // Both the application's and the listener's filters were re-issued on b.
    wait_active(&mqtt, "app/#").await;
    wait_active(&mqtt, "web/#").await;
    let feed = Observer::connect(&b.url(), &[]).await;
    feed.publish("app/1", "to the handlers", 1, false).await;
    feed.publish("web/1", "to the listener", 1, false).await;
    wait_for(&handled, "app/1").await;
    wait_for(&seen, "web/1").await;
    mqtt.send(Disconnect).await.expect("the actor answers");
}

#[actix_rt::test]
async fn publishes_buffered_while_every_broker_is_down_go_to_the_first_that_comes_back() {
    init_logging();
    let mut a = Mosquitto::start();
    let mut b = Mosquitto::start();
    let mqtt = MqttActor::builder(mqtt_config(&format!("{},{}", a.url(), b.url())))
        .start()
        .expect("the actor starts");
    wait_on(&mqtt, &a.url()).await;
    a.stop();
    wait_on(&mqtt, &b.url()).await;
    b.stop();
    wait_connected(&mqtt, false).await;

    // Retained, so that the observer finds it whenever it subscribes.
    let publish = Publish::new("buffered/1", "kept while down")
        .qos(QoS::AtLeastOnce)
        .retain(true);
    let answer = mqtt.send(publish);
    eventually("the publish is buffered", || async {
        (mqtt.send(GetStatus).await.ok()?.buffered == 1).then_some(())
    })
    .await;
    a.resume();
    wait_on(&mqtt, &a.url()).await;
    answer
        .await
        .expect("the actor answers")
        .expect("the broker that came back accepted the publish");
    let mut watcher = Observer::connect(&a.url(), &["buffered/#"]).await;
    let got = watcher.next_on("buffered/1").await;
    assert_eq!(got.payload_str(), "kept while down");
    mqtt.send(Disconnect).await.expect("the actor answers");
}

#[actix_rt::test]
async fn two_clients_with_one_client_id_log_a_duplicate_id_warning() {
    init_logging();
    let broker = Mosquitto::start();
    let id = format!("same-id-{}", free_port());
    let logs: Arc<Mutex<Vec<(LogLevel, String)>>> = Default::default();
    let mut actors = Vec::new();
    for _ in 0..2 {
        let held = logs.clone();
        let config = MqttConfig {
            client_id: id.clone(),
            ..mqtt_config(&broker.url())
        };
        let mqtt = MqttActor::builder(config)
            .on_log(move |level, text| held.lock().unwrap().push((level, text.to_string())))
            .start()
            .expect("the actor starts");
        actors.push(mqtt);
    }
    let warning = eventually("a duplicate client id warning", || async {
        logs.lock()
            .unwrap()
            .iter()
            .find(|(level, text)| {
                *level == LogLevel::Warning && text.contains("duplicate client id")
            })
            .map(|(_, text)| text.clone())
    })
    .await;
    assert!(
        warning.contains(&id) && warning.contains("session taken over"),
        "the warning names the id and the cause: {warning}"
    );
    for mqtt in actors {
        mqtt.send(Disconnect).await.expect("the actor answers");
    }
}

#[actix_rt::test]
async fn the_client_id_names_the_host_and_the_process_when_asked() {
    init_logging();
    let broker = Mosquitto::start();
    let config = MqttConfig {
        client_id: "worker-{hostname}-{pid}".into(),
        ..mqtt_config(&broker.url())
    };
    let mqtt = MqttActor::builder(config)
        .start()
        .expect("the actor starts");
    let status = wait_connected(&mqtt, true).await;
    let pid = std::process::id().to_string();
    assert!(
        status.client_id.starts_with("worker-")
            && status.client_id.ends_with(&format!("-{pid}"))
            && !status.client_id.contains('{'),
        "{}",
        status.client_id
    );
    mqtt.send(Disconnect).await.expect("the actor answers");
}
