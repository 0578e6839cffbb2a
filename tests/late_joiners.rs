//! Late joiners get the retained values of their own filter, and only that
//! costs: a holder joining a filter under one the actor already holds at the
//! broker (`d/none`, `d/5` while `d/#` is held) makes the actor ask the
//! broker for its own filter alone (a SUBSCRIBE of it, undone once
//! answered), not re-subscribe the wider filter, which would make the broker
//! resend every retained message under it. Against Mosquitto, with 2,000
//! retained messages under `d/`.

use actix::prelude::*;
use mqtt_actor::*;
use test_support::*;

const RETAINED: usize = 2000;

fn collector() -> (Addr<Collector>, Recorded<MqttMessage>) {
    // Room for every retained message a late joiner may get at once.
    collector_with_mailbox(RETAINED * 2)
}

async fn messages_in(mqtt: &Addr<MqttActor>) -> u64 {
    mqtt.send(GetStatus).await.expect("status").messages_in
}

/// Publishes a marker under `d/` and waits until the application got it:
/// whatever the broker sent the actor before it has arrived too.
async fn barrier(publisher: &Addr<MqttActor>, app_seen: &Recorded<MqttMessage>, n: usize) {
    let topic = format!("d/marker/{n}");
    publisher
        .send(Publish::new(topic.clone(), "").qos(QoS::AtLeastOnce))
        .await
        .expect("the publisher answers")
        .expect("published");
    wait_for(app_seen, &topic).await;
}

#[actix_rt::test]
async fn a_late_joiner_costs_only_what_matches_its_own_filter() {
    init_logging();
    let broker = Mosquitto::start();
    let publisher = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .expect("the publisher starts");
    wait_connected(&publisher, true).await;
    // In batches: Paho buffers a bounded number of publishes in flight.
    for batch in (0..RETAINED).collect::<Vec<_>>().chunks(100) {
        let sends = batch.iter().map(|i| {
            publisher.send(
                Publish::new(format!("d/{i}"), format!("v{i}"))
                    .qos(QoS::AtLeastOnce)
                    .retain(true),
            )
        });
        for res in futures::future::join_all(sends).await {
            res.expect("the publisher answers").expect("retained");
        }
    }

    let (unsubacks, on_unsubscribe) = recorder::<Unsubscribed>();
    let (app_seen, on_message) = recorder::<MqttMessage>();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .subscribe("d/#", QoS::AtMostOnce)
        .on_unsubscribe(on_unsubscribe)
        .on_message(on_message)
        .start()
        .expect("the actor starts");
    wait_active(&mqtt, "d/#").await;
    eventually("the retained messages of d/#", || async {
        (messages_in(&mqtt).await == RETAINED as u64).then_some(())
    })
    .await;

    // Newcomers on a filter without retained messages, in rounds.
    const ROUNDS: usize = 5;
    let (none, none_seen) = collector();
    for round in 1..=ROUNDS {
        let granted = mqtt
            .send(Subscribe::new("d/none").listener(none.clone().recipient()))
            .await
            .expect("the actor answers");
        assert_eq!(granted, Ok(QoS::AtMostOnce));
        mqtt.send(Unsubscribe::new("d/none").listener(none.clone().recipient()))
            .await
            .expect("the actor answers")
            .expect("released");
        barrier(&publisher, &app_seen, round).await;
    }
    let cost = messages_in(&mqtt).await - (RETAINED + ROUNDS) as u64;
    assert_eq!(cost, 0, "{ROUNDS} rounds of d/none cost {cost} messages");
    assert!(none_seen.lock().unwrap().is_empty());
    eventually("each newcomer's SUBSCRIBE undone", || async {
        let undone = unsubacks
            .lock()
            .unwrap()
            .iter()
            .filter(|u| u.filter == "d/none")
            .count();
        (undone == ROUNDS).then_some(())
    })
    .await;

    // A newcomer on d/5 gets d/5's retained value, once; the application,
    // which had it already, gets nothing again, and only that one message
    // came in.
    let (five, five_seen) = collector();
    let before = messages_in(&mqtt).await;
    mqtt.send(Subscribe::new("d/5").listener(five.clone().recipient()))
        .await
        .expect("the actor answers")
        .expect("granted");
    barrier(&publisher, &app_seen, ROUNDS + 1).await;
    let got: Vec<(String, bool)> = five_seen
        .lock()
        .unwrap()
        .iter()
        .map(|m| (m.payload_str().unwrap_or("").to_string(), m.retain()))
        .collect();
    assert_eq!(got, [("v5".to_string(), true)]);
    let app_fives = topics(&app_seen).iter().filter(|t| *t == "d/5").count();
    assert_eq!(
        app_fives, 1,
        "the application got d/5 once, at its own SUBSCRIBE"
    );
    assert_eq!(
        messages_in(&mqtt).await,
        before + 2,
        "only d/5 came in (and the marker)"
    );
}

/// On MQTT 5, Mosquitto sends one PUBLISH per matching subscription, so
/// while a newcomer's filter is asked for, a live message under it comes
/// twice: the copy through the newcomer's SUBSCRIBE alone (told by its
/// Subscription Identifier) is dropped, and every holder gets each message
/// once. (On MQTT 3.1.1 Mosquitto sends one PUBLISH per client.)
#[actix_rt::test]
async fn on_mqtt5_live_messages_during_a_newcomers_subscribe_come_once() {
    live_messages_come_once(ProtocolVersion::V5).await;
}

#[actix_rt::test]
async fn on_mqtt311_live_messages_during_a_newcomers_subscribe_come_once() {
    live_messages_come_once(ProtocolVersion::V311).await;
}

async fn live_messages_come_once(version: ProtocolVersion) {
    init_logging();
    let broker = Mosquitto::start();
    let mut config = mqtt_config(&broker.url());
    config.protocol_version = version;
    let publisher = MqttActor::builder(config.clone())
        .start()
        .expect("the publisher starts");
    let (app_seen, on_message) = recorder::<MqttMessage>();
    let mqtt = MqttActor::builder(config)
        .subscribe("d/#", QoS::AtMostOnce)
        .on_message(on_message)
        .start()
        .expect("the actor starts");
    wait_active(&mqtt, "d/#").await;
    wait_connected(&publisher, true).await;

    const SENT: usize = 3000;
    let flood = {
        let publisher = publisher.clone();
        actix_rt::spawn(async move {
            for i in 0..SENT {
                let p = Publish::new("d/live", i.to_string());
                publisher.send(p).await.expect("answers").expect("sent");
            }
        })
    };
    let (newcomer, _) = collector();
    let mut rounds = 0;
    while !flood.is_finished() {
        rounds += 1;
        mqtt.send(Subscribe::new("d/live").listener(newcomer.clone().recipient()))
            .await
            .expect("the actor answers")
            .expect("granted");
        mqtt.send(Unsubscribe::new("d/live").listener(newcomer.clone().recipient()))
            .await
            .expect("the actor answers")
            .expect("released");
    }
    flood.await.expect("the flood ends");
    barrier(&publisher, &app_seen, 0).await;
    let live: Vec<String> = app_seen
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.topic() == "d/live")
        .map(|m| m.payload_str().unwrap_or("").to_string())
        .collect();
    let distinct: std::collections::HashSet<&String> = live.iter().collect();
    assert_eq!(
        live.len(),
        distinct.len(),
        "{} duplicates over {rounds} newcomers",
        live.len() - distinct.len()
    );
    assert_eq!(distinct.len(), SENT, "every message came");
}
