//! A clustered broker: two app instances on a real two-node RabbitMQ cluster
//! (its MQTT plugin), each with a failover list that starts with its own
//! node. A message published on one node reaches the other instance's
//! clients; when a node stops, the instance on it fails over to the other
//! node and its clients get messages again without doing anything.

use serde_json::json;
use test_support::*;

/// An instance whose failover list is `brokers` (full URIs, so the port
/// given to the harness is not used).
async fn instance(brokers: &str, name: &str) -> App {
    let brokers = brokers.to_string();
    App::start_with(1883, move |s| {
        s.mqtt.set("BROKER_URL", brokers).expect("a setting");
        s.mqtt
            .set("CLIENT_ID", format!("{name}-{{pid}}"))
            .expect("a setting");
    })
    .await
}

async fn broker_of(app: &App) -> (bool, String) {
    let (_, status) = app.http().get("/api/status").await;
    let broker = status["broker"].as_str().unwrap_or_default().to_string();
    (status["connected"] == json!(true), broker)
}

#[actix_rt::test]
async fn instances_on_a_rabbitmq_cluster_share_messages_and_fail_over_to_the_other_node() {
    init_logging();
    // Without RabbitMQ this fails, naming the package to install.
    let mut cluster = RabbitCluster::start(2);
    let (node1, node2) = (cluster.mqtt_url(0), cluster.mqtt_url(1));
    let a = instance(&format!("{node1},{node2}"), "a").await;
    let b = instance(&format!("{node2},{node1}"), "b").await;
    assert_eq!(broker_of(&a).await, (true, node1.clone()));
    assert_eq!(broker_of(&b).await, (true, node2.clone()));
    let on_a = Follower::start(&format!("ws://{}/ws", a.addr()), "plant/#").await;
    let on_b = Follower::start(&format!("ws://{}/ws", b.addr()), "plant/#").await;

    let feed1 = Observer::connect(&node1, &[]).await;
    feed1.publish("plant/before", "on node 1", 1, false).await;
    for (who, client) in [("a", &on_a), ("b", &on_b)] {
        client
            .wait(&format!("{who}'s client got the message of node 1"), |s| {
                s.topics.iter().any(|t| t == "plant/before")
            })
            .await;
    }

    // Stopping a node takes seconds, and far longer on a loaded machine
    // (rabbitmqctl boots an Erlang VM of its own): done off the test's
    // thread, where the clients answer the app's pings. Blocked there past
    // the app's idle timeout (30 s), they would be closed as silent.
    let _cluster = actix_rt::task::spawn_blocking(move || {
        cluster.stop_node(0);
        cluster
    })
    .await
    .expect("node 1 stopped");
    eventually("a failed over to node 2", || async {
        (broker_of(&a).await == (true, node2.clone())).then_some(())
    })
    .await;
    // a re-subscribes on node 2 by itself; publish until its client sees one.
    let feed2 = Observer::connect(&node2, &[]).await;
    let mut n = 0;
    eventually("a's client gets messages again", || {
        n += 1;
        let topic = format!("plant/after-{n}");
        let (feed2, on_a) = (&feed2, &on_a);
        async move {
            feed2.publish(&topic, "on node 2", 1, false).await;
            let seen = on_a.seen();
            seen.topics
                .iter()
                .any(|t| t.starts_with("plant/after-"))
                .then_some(())
        }
    })
    .await;
    assert_eq!(
        on_a.seen().reconnects,
        0,
        "a's client did nothing: its socket stayed open"
    );
    on_b.wait("b's client got node 2's messages", |s| {
        s.topics.iter().any(|t| t.starts_with("plant/after-"))
    })
    .await;
    a.stop().await;
    b.stop().await;
}
