//! The example app's history on a real PostgreSQL that the test starts
//! (issue 18): two instances on one database and one Mosquitto record each
//! of 1,000 messages once and answer alike; the database stopped in the
//! middle of a flood and started again, a WebSocket client of the app gets
//! every message, the recorder catches up with what it had queued and
//! `/metrics` counts what it could not keep.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use mqtt_actor::recorder::{Recorder, RecorderConfig};
use serde_json::{json, Value};
use test_support::*;

/// An app recording `filters` into the PostgreSQL at `url`, with a client
/// id of its own (`name`).
async fn instance(
    broker: &Mosquitto,
    url: &str,
    name: &str,
    filters: &[&str],
    queue: usize,
) -> App {
    App::start_with(broker.port, |s| {
        s.history.no_record = false;
        s.history.database_url = Some(url.to_string());
        s.history.record = filters.iter().map(|f| f.to_string()).collect();
        s.history.queue = queue;
        s.mqtt
            .set("CLIENT_ID", format!("{name}-{{pid}}"))
            .expect("a setting of the library");
    })
    .await
}

/// The recorder's figures in `/metrics`.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    recorded: u64,
    dropped: u64,
    discarded: u64,
    failed_writes: u64,
    topics_deleted: u64,
    queue_depth: u64,
    writing: bool,
}

async fn figures(http: &Http) -> Figures {
    let (status, text) = http.get_text("/metrics").await;
    assert_eq!(status, 200, "{text}");
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics:\n{text}"))
    };
    Figures {
        recorded: value("history_recorded_total"),
        dropped: value("history_dropped_total"),
        discarded: value("history_discarded_total"),
        failed_writes: value("history_failed_writes_total"),
        topics_deleted: value("history_topics_deleted_total"),
        queue_depth: value("history_queue_depth"),
        writing: value("history_writing") == 1,
    }
}

/// Every page of the range form of `filter` (`#` and `+` escaped here).
async fn all_pages(http: &Http, filter: &str) -> Vec<Value> {
    let topic = filter.replace('#', "%23").replace('+', "%2B");
    let query = format!("/api/history?topic={topic}&from=0&limit=1000");
    let mut out = Vec::new();
    let mut path = query.clone();
    loop {
        let (status, page) = http.get(&path).await;
        assert_eq!(status, 200, "{path}: {page}");
        out.extend(page["messages"].as_array().expect("messages").clone());
        match page["next"].as_str() {
            Some(next) => path = format!("{query}&before={next}"),
            None => return out,
        }
    }
}

/// Publishes on `warm/N` until every app in `apps` has recorded one: their
/// shared subscriptions are active from then on. (Those published before
/// that are not recorded: the tests count the `warm/#` rows instead.)
async fn warm_up(feed: &Observer, apps: &[&App]) {
    let sent = AtomicU64::new(0);
    eventually("every instance's recorder subscribed", || async {
        let n = sent.fetch_add(1, SeqCst);
        feed.publish(&format!("warm/{n}"), "warm", 1, false).await;
        for app in apps {
            if figures(&app.http()).await.recorded == 0 {
                return None;
            }
        }
        Some(())
    })
    .await;
}

#[actix_rt::test]
async fn two_app_instances_on_one_postgres_record_each_message_once_and_answer_alike() {
    init_logging();
    let pg = Postgres::start();
    let broker = Mosquitto::start();
    let filters = ["fleet/#", "warm/#"];
    let a = instance(&broker, &pg.url(), "hist-a", &filters, 100_000).await;
    let b = instance(&broker, &pg.url(), "hist-b", &filters, 100_000).await;
    let feed = Observer::connect(&broker.url(), &[]).await;
    warm_up(&feed, &[&a, &b]).await;

    for i in 0..1_000 {
        let topic = format!("fleet/{}/speed", i % 10);
        feed.publish(&topic, i.to_string(), 1, false).await;
    }
    let (http_a, http_b) = (a.http(), b.http());
    eventually("1,000 messages written", || async {
        (all_pages(&http_a, "fleet/#").await.len() >= 1_000).then_some(())
    })
    .await;
    let (fa, fb) = eventually("both queues empty", || async {
        let (fa, fb) = (figures(&http_a).await, figures(&http_b).await);
        (fa.queue_depth + fb.queue_depth == 0).then_some((fa, fb))
    })
    .await;
    let warm = all_pages(&http_a, "warm/#").await.len() as u64;
    assert_eq!(fa.recorded + fb.recorded, 1_000 + warm, "{fa:?} {fb:?}");
    assert!(
        fa.recorded > 0 && fb.recorded > 0 && fa.dropped + fb.dropped == 0,
        "the broker shares the messages between both instances: {fa:?} {fb:?}"
    );
    // Retention keeps everything here: no topic is left without messages.
    assert_eq!(fa.topics_deleted + fb.topics_deleted, 0, "{fa:?} {fb:?}");

    // Exactly one row a message, in the database itself.
    let mut config = RecorderConfig::default();
    config.database = Some(pg.url());
    let db = Recorder::open(config).await.expect("the database opens");
    let rows = db.count().await.expect("counts");
    db.close().await;
    assert_eq!(rows, 1_000 + warm, "1,000 rows and {warm} of the warm-up");

    let from_a = all_pages(&http_a, "fleet/#").await;
    assert_eq!(from_a.len(), 1_000);
    let payloads: HashSet<&str> = from_a
        .iter()
        .map(|m| m["payload"].as_str().expect("text"))
        .collect();
    let expected: Vec<String> = (0..1_000).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected.iter().map(String::as_str).collect());
    assert_eq!(
        from_a,
        all_pages(&http_b, "fleet/#").await,
        "the same history on both"
    );
    let one = all_pages(&http_a, "fleet/3/speed").await;
    assert_eq!(one.len(), 100);
    assert_eq!(one, all_pages(&http_b, "fleet/3/speed").await);
    let plus = all_pages(&http_b, "fleet/+/speed").await;
    assert_eq!(plus, from_a, "every fleet topic through a `+` filter");
    a.stop().await;
    b.stop().await;
}

/// Counts the WebSocket's `flood/...` messages (their payloads, to see none
/// twice or missing) and whether it was ever told `lagged`.
#[derive(Default)]
struct Seen {
    payloads: Mutex<HashSet<u64>>,
    lagged: AtomicBool,
}

#[actix_rt::test]
async fn postgres_stopped_mid_flood_browsers_lose_nothing_and_the_recorder_catches_up() {
    init_logging();
    let pg = SharedPostgres::start();
    let url = pg.url();
    let broker = Mosquitto::start();
    let app = instance(&broker, &url, "hist-flood", &["flood/#", "warm/#"], 300).await;
    let http = app.http();
    let feed = Observer::connect(&broker.url(), &[]).await;
    warm_up(&feed, &[&app]).await;

    // A browser: a WebSocket client of the app, read all along.
    let mut ws = app.ws().await;
    let reply = ws
        .request(json!({"type": "subscribe", "topic": "flood/#"}), 1)
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    let seen = Arc::new(Seen::default());
    let reading = seen.clone();
    let reader = actix_rt::spawn(async move {
        while let Some(frame) = ws.next_within(PATIENCE * 3).await {
            match frame["type"].as_str() {
                Some("message") => {
                    let n: Option<u64> = frame["payload"].as_str().and_then(|p| p.parse().ok());
                    reading.payloads.lock().expect("seen lock").extend(n);
                }
                Some("lagged") => reading.lagged.store(true, SeqCst),
                _ => {}
            }
        }
    });

    let flood = Flood::start(broker.url());

    eventually("the first messages recorded", || async {
        (figures(&http).await.recorded >= 200).then_some(())
    })
    .await;
    pg.stop().await;
    let outage = eventually("writes failing and the queue overflowing", || async {
        let f = figures(&http).await;
        (f.failed_writes > 0 && f.dropped > 0 && !f.writing).then_some(f)
    })
    .await;
    assert!(
        outage.queue_depth > 0,
        "the queue holds messages: {outage:?}"
    );
    pg.resume().await;
    eventually(
        "the recorder writing again, past what it had queued",
        || async {
            let f = figures(&http).await;
            (f.writing && f.recorded >= outage.recorded + outage.queue_depth).then_some(())
        },
    )
    .await;
    let total = flood.stop().await;

    // Browsers lose nothing.
    eventually(
        &format!("all {total} messages on the WebSocket"),
        || async { (seen.payloads.lock().expect("seen lock").len() as u64 == total).then_some(()) },
    )
    .await;
    assert!(
        !seen.lagged.load(SeqCst),
        "the WebSocket was never told lagged"
    );
    reader.abort();

    // The recorder wrote or counted every message, and the database holds
    // exactly what it says it wrote.
    let warm = all_pages(&http, "warm/#").await.len() as u64;
    let end = eventually("every message written or counted", || async {
        let f = figures(&http).await;
        let done = f.recorded + f.dropped + f.discarded;
        (f.queue_depth == 0 && done >= total + warm).then_some(f)
    })
    .await;
    assert_eq!(
        end.recorded + end.dropped + end.discarded,
        total + warm,
        "{end:?}"
    );
    assert!(end.dropped > 0, "the outage outlasted the queue: {end:?}");
    let rows = all_pages(&http, "flood/#").await.len() as u64;
    assert_eq!(rows + warm, end.recorded, "{end:?}");
    println!("{total} published, {rows} of them recorded; at the end: {end:?}");
    app.stop().await;
}
