//! Several instances of the example app on one Mosquitto: handlers that run
//! once per cluster (shared subscriptions) while every instance's clients see
//! every message; draining on shutdown; a real HAProxy in front of two
//! instances, one of which stops while 50 clients and the dashboard follow.

use std::collections::HashMap;
use std::time::Duration;

use fantoccini::Locator;
use serde_json::{json, Value};
use test_support::*;

const JOBS: usize = 1000;

/// Two instances of a cluster: their own client ids, `$share` handlers,
/// room in `/api/topics` for every job, and a drain of `drain_s`.
async fn instance(broker_port: u16, name: &str, drain_s: u64) -> App {
    instance_behind(broker_port, name, drain_s, None).await
}

/// An instance that also answers to the load balancer on 127.0.0.1:`lb_port`
/// (its name and its pages' origin), as a deployment configures it.
async fn instance_behind(broker_port: u16, name: &str, drain_s: u64, lb_port: Option<u16>) -> App {
    App::start_with(broker_port, |s| {
        if let Some(port) = lb_port {
            s.allowed_hosts = vec![format!("127.0.0.1:{port}")];
            s.allowed_origins = vec![format!("http://127.0.0.1:{port}")];
        }
        s.handle = vec!["$share/workers/jobs/#".into()];
        s.topic_cache_size = 4 * JOBS;
        s.drain_s = drain_s;
        s.mqtt
            .set("CLIENT_ID", format!("{name}-{{pid}}"))
            .expect("a setting");
    })
    .await
}

/// `/api/topics` of an instance: topic → messages its handlers handled.
async fn handled(app: &App) -> HashMap<String, u64> {
    let (status, topics) = app.http().get("/api/topics").await;
    assert_eq!(status, 200);
    topics
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| {
            let topic = t["topic"].as_str().expect("a topic").to_string();
            (topic, t["count"].as_u64().expect("a count"))
        })
        .collect()
}

fn is_job(topic: &str) -> bool {
    topic
        .strip_prefix("jobs/")
        .is_some_and(|n| n.parse::<usize>().is_ok())
}

#[actix_rt::test]
async fn shared_handlers_handle_each_message_once_between_instances_while_each_instance_shows_all()
{
    init_logging();
    let broker = Mosquitto::start();
    let (a, b) = (
        instance(broker.port, "a", 0).await,
        instance(broker.port, "b", 0).await,
    );
    let mut browsers = Vec::new();
    for app in [&a, &b] {
        let mut ws = app.ws().await;
        let reply = ws
            .request(json!({"type": "subscribe", "topic": "jobs/#", "qos": 1}), 1)
            .await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
        browsers.push(ws);
    }

    // Both instances' shares are live once each has handled a probe.
    let feed = Observer::connect(&broker.url(), &[]).await;
    let mut probe = 0;
    eventually("both instances handling their share", || {
        probe += 1;
        let topic = format!("jobs/probe-{probe}");
        let (a, b, feed) = (&a, &b, &feed);
        async move {
            feed.publish(&topic, "probe", 1, false).await;
            let (on_a, on_b) = (handled(a).await, handled(b).await);
            let probes = |h: &HashMap<String, u64>| h.keys().any(|t| t.starts_with("jobs/probe"));
            (probes(&on_a) && probes(&on_b)).then_some(())
        }
    })
    .await;

    for i in 0..JOBS {
        feed.publish(&format!("jobs/{i}"), format!("job {i}"), 1, false)
            .await;
    }
    for ws in &mut browsers {
        let mut seen = Vec::new();
        while seen.len() < JOBS {
            let v = ws.next_of("message").await;
            let topic = v["topic"].as_str().expect("a topic").to_string();
            if is_job(&topic) {
                seen.push(topic);
            }
        }
        let expected: Vec<String> = (0..JOBS).map(|i| format!("jobs/{i}")).collect();
        assert_eq!(
            seen, expected,
            "each instance's client sees every job, once, in order"
        );
    }

    let (on_a, on_b) = eventually("every job handled", || async {
        let (on_a, on_b) = (handled(&a).await, handled(&b).await);
        let total: u64 = on_a
            .iter()
            .chain(&on_b)
            .filter(|(t, _)| is_job(t))
            .map(|(_, n)| n)
            .sum();
        (total >= JOBS as u64).then_some((on_a, on_b))
    })
    .await;
    for i in 0..JOBS {
        let topic = format!("jobs/{i}");
        let times = on_a.get(&topic).unwrap_or(&0) + on_b.get(&topic).unwrap_or(&0);
        assert_eq!(
            times, 1,
            "{topic} handled {times} times between the instances"
        );
    }
    let share_a = on_a.keys().filter(|t| is_job(t)).count();
    assert!(
        share_a > 0 && share_a < JOBS,
        "both instances took a share: a handled {share_a} of {JOBS}"
    );
    a.stop().await;
    b.stop().await;
}

#[actix_rt::test]
async fn a_stopping_instance_is_not_ready_while_it_drains_then_closes_its_sockets_with_1001() {
    init_logging();
    let broker = Mosquitto::start();
    let app = instance(broker.port, "draining", 2).await;
    let http = app.http();
    let mut ws = app.ws().await;
    let reply = ws
        .request(
            json!({"type": "subscribe", "topic": "drain/#", "qos": 1}),
            1,
        )
        .await;
    assert_eq!(reply["type"], "subscribed");
    assert_eq!(http.get("/readyz").await.0, 200);

    let stopping = actix_rt::spawn(app.stop());
    let (_, body) = eventually("/readyz answers 503", || async {
        let (status, body) = http.get("/readyz").await;
        (status == 503).then_some((status, body))
    })
    .await;
    assert_eq!(body, json!({"connected": true, "draining": true}));
    // Still served while draining: health, requests and messages.
    assert_eq!(http.get("/healthz").await.0, 200);
    assert_eq!(
        ws.request(json!({"type": "ping"}), 2).await,
        json!({"type": "pong", "id": 2})
    );
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("drain/1", "still here", 1, false).await;
    assert_eq!(ws.next_of("message").await["payload"], "still here");

    match ws.closed().await {
        Closed::Frame(Some(reason)) => assert_eq!(u16::from(reason.code), 1001),
        other => panic!("expected a close frame with 1001, got {other:?}"),
    }
    stopping.await.expect("the app stopped");
}

/// `/api/publish` through HAProxy, asserting it answers 200.
async fn publish_through(lb: &HaProxy, topic: &str) {
    let body = json!({"topic": topic, "payload": "p", "qos": 1}).to_string();
    let (status, reply) = lb.http().post("/api/publish", body).await;
    assert_eq!(
        (status, reply),
        (200, json!({"ok": true})),
        "publish {topic}"
    );
}

#[actix_rt::test]
async fn behind_haproxy_fifty_clients_move_to_the_other_instance_when_one_stops() {
    init_logging();
    let broker = Mosquitto::start();
    let lb_port = free_port();
    let a = instance_behind(broker.port, "a", 1, Some(lb_port)).await;
    let b = instance_behind(broker.port, "b", 1, Some(lb_port)).await;
    let instance_of = |app: &App| {
        let http = app.http();
        async move { http.get("/api/status").await.1["client_id"].clone() }
    };
    let (id_a, id_b): (Value, Value) = (instance_of(&a).await, instance_of(&b).await);
    let lb = HaProxy::start_on(lb_port, &[a.addr(), b.addr()]);
    lb.wait_up(&["app0", "app1"]).await;

    let mut clients = Vec::new();
    for _ in 0..50 {
        clients.push(Follower::start(&lb.ws_url(), "news/#").await);
    }
    let on_a = clients.iter().filter(|c| c.seen().instance == id_a).count();
    assert!(
        on_a > 0 && on_a < 50,
        "round robin put clients on both instances ({on_a} on a)"
    );

    // Publishes through HAProxy keep answering while a drains and stops.
    let publishing = {
        let lb_port = lb.port;
        actix_rt::spawn(async move {
            let http = Http::new(format!("127.0.0.1:{lb_port}"));
            let mut n = 0;
            loop {
                n += 1;
                let body = json!({"topic": format!("during/{n}"), "payload": "p"}).to_string();
                let (status, reply) = http.post("/api/publish", body).await;
                assert_eq!((status, &reply), (200, &json!({"ok": true})), "publish {n}");
                actix_rt::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    a.stop().await;
    // Still publishing: a publish that failed would have ended the task
    // with its panic, which the await shows.
    publishing.abort();
    match publishing.await {
        Err(e) if e.is_cancelled() => {}
        Err(e) => std::panic::resume_unwind(e.into_panic()),
        Ok(()) => unreachable!("the publishing loop never ends by itself"),
    }
    lb.wait_up(&["app1"]).await;

    for (i, c) in clients.iter().enumerate() {
        c.wait(&format!("client {i} subscribed on b"), |s| {
            s.subscribed && s.instance == id_b
        })
        .await;
    }
    let moved = clients.iter().filter(|c| c.seen().reconnects > 0).count();
    assert_eq!(moved, on_a, "exactly the clients of a reconnected");
    for k in 0..10 {
        publish_through(&lb, &format!("news/after-{k}")).await;
    }
    for (i, c) in clients.iter().enumerate() {
        c.wait(
            &format!("client {i} got every message after the stop"),
            |s| (0..10).all(|k| s.topics.contains(&format!("news/after-{k}"))),
        )
        .await;
    }
    b.stop().await;
}

#[actix_rt::test]
async fn the_dashboard_behind_haproxy_says_it_reconnected_to_another_server() {
    init_logging();
    let broker = Mosquitto::start();
    let lb_port = free_port();
    let a = instance_behind(broker.port, "a", 1, Some(lb_port)).await;
    let b = instance_behind(broker.port, "b", 1, Some(lb_port)).await;
    let lb = HaProxy::start_on(lb_port, &[a.addr(), b.addr()]);
    lb.wait_up(&["app0", "app1"]).await;
    let driver = Driver::start();
    let page = driver.browser().await;
    let url = format!("http://127.0.0.1:{}/", lb.port);
    page.goto(&url).await.expect("the page loads");
    let find = |css: String| {
        let page = page.clone();
        async move { page.find(Locator::Css(&css)).await.ok() }
    };
    eventually("the page connected", || async {
        let el = find("[data-testid=\"broker-status\"]".into()).await?;
        (el.text().await.ok()? == "broker: connected").then_some(())
    })
    .await;
    let topic = find("[data-testid=\"subscribe-topic\"]".into())
        .await
        .expect("topic field");
    topic.send_keys("news/#").await.expect("type");
    find("[data-testid=\"subscribe-button\"]".into())
        .await
        .expect("subscribe button")
        .click()
        .await
        .expect("click");
    let active =
        "[data-testid=\"subscription-list\"] [data-topic=\"news/#\"][data-state=\"active\"]";
    eventually("news/# active", || find(active.into())).await;

    // Stop whichever instance serves the page; the page finds the other.
    let a_sessions = a.http().get("/api/status").await.1["sessions"].as_u64();
    let (stopped, other) = if a_sessions == Some(1) {
        (a, b)
    } else {
        (b, a)
    };
    stopped.stop().await;
    let notice = eventually("the reconnect notice", || async {
        let el = find("[data-testid=\"reconnected-notice\"]".into()).await?;
        el.text().await.ok()
    })
    .await;
    assert!(notice.contains("Reconnected to another server"), "{notice}");
    eventually("news/# active again", || find(active.into())).await;
    publish_through(&lb, "news/after").await;
    let row = "[data-testid=\"message-log\"] [data-testid=\"message\"][data-topic=\"news/after\"]";
    eventually("the row of a message published after the stop", || {
        find(row.into())
    })
    .await;
    assert_eq!(other.http().get("/api/status").await.1["sessions"], 1);
    other.stop().await;
}
