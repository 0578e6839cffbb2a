//! `SubscribeStream` against a real Mosquitto: a `futures::Stream` of the
//! messages of a filter, read from another thread; the filter let go when
//! the stream is dropped; a reader that falls behind told how many it lost;
//! the stream ending with the actor.

use futures::StreamExt;
use mqtt_actor::*;
use test_support::*;

/// The next item, or a panic after the harness's patience.
async fn next(stream: &mut MessageStream) -> StreamItem {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("an item within the patience")
        .expect("the stream has not ended")
}

fn message_topic(item: StreamItem) -> String {
    match item {
        StreamItem::Message(m) => m.topic().to_string(),
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn held(mqtt: &actix::Addr<MqttActor>, filter: &str) -> Option<SubscriptionInfo> {
    let subs = mqtt.send(GetSubscriptions).await.unwrap();
    subs.into_iter().find(|s| s.filter == filter)
}

#[actix_rt::test]
async fn a_stream_read_on_another_thread_gets_its_messages_and_dropping_it_releases_the_filter() {
    init_logging();
    let broker = Mosquitto::start();
    let (unsubacks, on_unsubscribe) = recorder::<Unsubscribed>();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .on_unsubscribe(on_unsubscribe)
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;

    let mut stream = mqtt
        .send(SubscribeStream::new("s/+").qos(QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stream.topic_filter(), "s/+");
    assert_eq!(stream.granted(), QoS::AtLeastOnce);
    let info = held(&mqtt, "s/+")
        .await
        .expect("the stream holds its filter");
    assert!(info.active && info.listeners == 1 && !info.app, "{info:?}");

    // The reader is plain async code on a thread of its own, as an
    // actix-web worker would be.
    let reader = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime for the reader");
        runtime.block_on(async move {
            let mut got = Vec::new();
            while got.len() < 3 {
                match tokio::time::timeout(PATIENCE, stream.next()).await {
                    Ok(Some(item)) => got.push(message_topic(item)),
                    other => panic!("the reader got {other:?}"),
                }
            }
            (got, stream)
        })
    });
    let feed = Observer::connect(&broker.url(), &[]).await;
    for t in ["s/a", "other", "s/b", "s/c"] {
        feed.publish(t, "x", 1, false).await;
    }
    let (got, stream) = tokio::task::spawn_blocking(move || reader.join())
        .await
        .unwrap()
        .expect("the reader thread finished");
    assert_eq!(got, ["s/a", "s/b", "s/c"]);
    assert_eq!(stream.lagged(), 0);

    drop(stream);
    eventually("the filter is let go", || async {
        held(&mqtt, "s/+").await.is_none().then_some(())
    })
    .await;
    eventually("the broker's UNSUBACK", || async {
        let u = unsubacks.lock().unwrap();
        u.iter().any(|u| u.filter == "s/+").then_some(())
    })
    .await;
    assert_eq!(mqtt.send(GetStatus).await.unwrap().listeners, 0);
}

#[actix_rt::test]
async fn a_reader_that_falls_behind_is_told_where_and_how_many_it_lost() {
    init_logging();
    let broker = Mosquitto::start();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;
    let mut stream = mqtt
        .send(SubscribeStream::new("burst/#").capacity(5))
        .await
        .unwrap()
        .unwrap();

    let feed = Observer::connect(&broker.url(), &[]).await;
    for i in 0..50 {
        feed.publish(&format!("burst/{i}"), "x", 1, false).await;
    }
    // Nobody reads until every message is either queued or counted lost.
    eventually("50 messages queued or counted", || async {
        (stream.queued() as u64 + stream.lagged() == 50).then_some(())
    })
    .await;
    assert_eq!(stream.queued(), 5, "the queue holds its capacity");
    assert_eq!(stream.lagged(), 45);

    for i in 0..5 {
        assert_eq!(message_topic(next(&mut stream).await), format!("burst/{i}"));
    }
    assert_eq!(next(&mut stream).await, StreamItem::Lagged(45));
    feed.publish("burst/after", "x", 1, false).await;
    assert_eq!(message_topic(next(&mut stream).await), "burst/after");
    assert_eq!(stream.lagged(), 45, "the count is the total so far");
}

#[actix_rt::test]
async fn a_stream_ends_when_the_actor_stops_and_bad_requests_fail_clearly() {
    init_logging();
    let broker = Mosquitto::start();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .unwrap();
    wait_connected(&mqtt, true).await;

    let err = mqtt
        .send(SubscribeStream::new("bad/#/filter"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MqttError::InvalidFilter { .. }), "{err}");
    assert_eq!(mqtt.send(GetStatus).await.unwrap().listeners, 0);

    let mut stream = mqtt
        .send(SubscribeStream::new("end/#"))
        .await
        .unwrap()
        .unwrap();
    mqtt.send(Disconnect).await.unwrap();
    let end = tokio::time::timeout(PATIENCE, stream.next()).await;
    assert_eq!(end, Ok(None), "the stream ends with the actor");
}
