//! The library past one broker and one instance, against real Mosquittos: a
//! failover list (connect to the first broker that answers, move on when it
//! is lost, subscriptions re-issued there, buffered publishes to whichever
//! comes back first), the warning about two clients with one client id, and
//! handlers that run once per cluster on a shared subscription.

use std::sync::{Arc, Mutex};

use actix::prelude::*;
use mqtt_actor::*;
use test_support::*;

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
    let mut config = mqtt_config(&format!("{dead}, 127.0.0.1 ,{}", b.url()));
    config.broker_port = a.port;
    let (connects, on_connect) = recorder::<Connected>();
    let (handled, on_message) = recorder::<MqttMessage>();
    let mqtt = MqttActor::builder(config)
        .on_connect(on_connect)
        .on_message(on_message)
        .subscribe("app/#", QoS::AtLeastOnce)
        .start()
        .expect("the actor starts");
    let (listener, seen) = collector();

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
    assert_eq!((last.broker, last.reconnect), (b.url(), true));
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
        let mut config = mqtt_config(&broker.url());
        config.client_id = id.clone();
        let mqtt = MqttActor::builder(config)
            .on_log(move |_, level, text| held.lock().unwrap().push((level, text.to_string())))
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
    let mut config = mqtt_config(&broker.url());
    config.client_id = "worker-{hostname}-{pid}".into();
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

#[actix_rt::test]
async fn handlers_on_a_shared_subscription_of_their_own_run_once_per_cluster() {
    init_logging();
    const JOBS: usize = 200;
    let broker = Mosquitto::start();
    let mut instances = Vec::new();
    for _ in 0..2 {
        // As the README shows: browsers' listeners on one actor, the
        // handlers' shared subscription on another.
        let web = MqttActor::builder(mqtt_config(&broker.url()))
            .start()
            .expect("the actor starts");
        let (handled, on_message) = recorder::<MqttMessage>();
        let workers = MqttActor::builder(mqtt_config(&broker.url()))
            .subscribe("$share/workers/jobs/#", QoS::AtLeastOnce)
            .on_message(on_message)
            .start()
            .expect("the actor starts");
        wait_connected(&web, true).await;
        wait_active(&workers, "$share/workers/jobs/#").await;
        let (listener, seen) = collector();
        web.send(Subscribe::new("jobs/#").listener(listener.recipient()))
            .await
            .expect("the actor answers")
            .expect("the broker grants jobs/#");
        instances.push((web, workers, handled, seen));
    }
    let feed = Observer::connect(&broker.url(), &[]).await;
    for i in 0..JOBS {
        feed.publish(&format!("jobs/{i}"), "job", 1, false).await;
    }
    let all: Vec<String> = (0..JOBS).map(|i| format!("jobs/{i}")).collect();
    for (_, _, _, seen) in &instances {
        eventually("every job reached each instance's listener", || async {
            (topics(seen) == all).then_some(())
        })
        .await;
    }
    let handled = eventually("every job handled", || async {
        let mut handled: Vec<String> = instances.iter().flat_map(|i| topics(&i.2)).collect();
        (handled.len() >= JOBS).then(|| {
            handled.sort();
            handled
        })
    })
    .await;
    let mut once = all.clone();
    once.sort();
    assert_eq!(
        handled, once,
        "each job handled exactly once between the instances"
    );
    for (web, workers, _, _) in instances {
        web.send(Disconnect).await.expect("the actor answers");
        workers.send(Disconnect).await.expect("the actor answers");
    }
}

#[actix_rt::test]
async fn a_shared_and_an_overlapping_ordinary_filter_on_one_connection_log_a_warning() {
    init_logging();
    let broker = Mosquitto::start();
    let logs: Arc<Mutex<Vec<String>>> = Default::default();
    let held = logs.clone();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .subscribe("$share/workers/jobs/#", QoS::AtLeastOnce)
        .subscribe("news/#", QoS::AtLeastOnce)
        .on_log(move |_, _, text| held.lock().unwrap().push(text.to_string()))
        .start()
        .expect("the actor starts");
    wait_active(&mqtt, "news/#").await;
    let warned = |logs: &Arc<Mutex<Vec<String>>>| {
        logs.lock()
            .unwrap()
            .iter()
            .filter(|t| t.contains("shared subscription"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(warned(&logs).is_empty(), "news/# does not overlap jobs/#");
    let (listener, _) = collector();
    mqtt.send(Subscribe::new("jobs/+").listener(listener.recipient()))
        .await
        .expect("the actor answers")
        .expect("the broker grants jobs/+");
    let warnings = warned(&logs);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("$share/workers/jobs/#") && warnings[0].contains("jobs/+"),
        "{}",
        warnings[0]
    );
    mqtt.send(Disconnect).await.expect("the actor answers");
}
