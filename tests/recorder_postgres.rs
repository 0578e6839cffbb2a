//! The recorder (feature `history`) on a real PostgreSQL that the test
//! starts (Debian's `postgresql`, as an unprivileged user): two instances
//! record each message once through a shared subscription and answer
//! alike; the database stopped in the middle of a flood and started again,
//! the recorder catches up with what it had queued and counts what it could
//! not keep, while the live subscribers lose nothing.

use std::collections::HashSet;

use mqtt_actor::recorder::{shared_filter, HistoryQuery, Recorder, RecorderConfig, RecorderStats};
use mqtt_actor::{MqttActor, MqttMessage, QoS};
use test_support::*;

fn pg_config(url: &str, filter: &str) -> RecorderConfig {
    let mut config = RecorderConfig::default();
    config.database = Some(url.to_string());
    config.filters = vec![filter.to_string()];
    config
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as i64
}

/// How many rows of `flood/#` were received before `ts_ms`, page by page.
async fn rows_before(recorder: &Recorder, ts_ms: i64) -> u64 {
    let query = HistoryQuery::new("flood/#").to_ms(ts_ms).limit(10_000);
    let mut page = recorder.history(&query).await.expect("answers");
    let mut rows = page.messages.len() as u64;
    while let Some(cursor) = page.next_cursor {
        page = recorder
            .history(&query.clone().before(cursor))
            .await
            .expect("answers");
        rows += page.messages.len() as u64;
    }
    rows
}

/// Waits until the recorders together have written or counted `n` messages
/// and hold none.
async fn settled(recorders: &[&Recorder], n: u64) -> Vec<RecorderStats> {
    eventually(&format!("{n} messages recorded or counted"), || async {
        let stats: Vec<_> = recorders.iter().map(|r| r.stats()).collect();
        let done: u64 = stats
            .iter()
            .map(|s| s.recorded + s.dropped + s.discarded)
            .sum();
        (stats.iter().all(|s| s.pending == 0) && done >= n).then_some(stats)
    })
    .await
}

#[actix_rt::test]
async fn two_instances_on_one_postgres_record_each_message_once_and_answer_alike() {
    init_logging();
    let pg = Postgres::start();
    let broker = Mosquitto::start();
    let config = pg_config(&pg.url(), "fleet/#");
    let a = Recorder::open(config.clone())
        .await
        .expect("instance a opens");
    let b = Recorder::open(config).await.expect("instance b opens");
    let mut feeds = Vec::new();
    for recorder in [&a, &b] {
        let feed = recorder
            .start_feed(&mqtt_config(&broker.url()))
            .expect("the feed starts")
            .expect("a filter is recorded");
        let shared = shared_filter(recorder.config().share_group.as_deref(), "fleet/#");
        wait_active(&feed, &shared).await;
        feeds.push(feed);
    }

    let outside = Observer::connect(&broker.url(), &[]).await;
    for i in 0..1_000 {
        let topic = format!("fleet/{}/speed", i % 10);
        outside.publish(&topic, i.to_string(), 1, false).await;
    }
    let stats = settled(&[&a, &b], 1_000).await;
    assert_eq!(
        a.count().await.expect("counts"),
        1_000,
        "exactly one row a message: {stats:?}"
    );
    assert!(
        stats.iter().all(|s| s.recorded > 0 && s.dropped == 0),
        "the broker shares the messages between both instances: {stats:?}"
    );

    for filter in ["fleet/#", "fleet/3/speed"] {
        let query = HistoryQuery::new(filter).limit(1_000);
        let from_a = a.history(&query).await.expect("a answers");
        let from_b = b.history(&query).await.expect("b answers");
        assert_eq!(
            from_a, from_b,
            "both instances read the same history of {filter}"
        );
    }
    let all = a
        .history(&HistoryQuery::new("fleet/#").limit(1_000))
        .await
        .expect("answers");
    let payloads: HashSet<_> = all.messages.iter().map(|m| m.payload.to_vec()).collect();
    let expected: HashSet<_> = (0..1_000)
        .map(|i: i32| i.to_string().into_bytes())
        .collect();
    assert_eq!(payloads, expected);
    a.close().await;
    b.close().await;
}

#[actix_rt::test]
async fn postgres_stopped_mid_flood_the_recorder_catches_up_and_counts_what_it_could_not_keep() {
    init_logging();
    let pg = SharedPostgres::start();
    let url = pg.url();
    let broker = Mosquitto::start();
    let mut config = pg_config(&url, "flood/#");
    config.queue_capacity = 200;
    config.batch_size = 50;
    let recorder = Recorder::open(config).await.expect("opens");
    let feed = recorder
        .start_feed(&mqtt_config(&broker.url()))
        .expect("the feed starts")
        .expect("a filter is recorded");
    wait_active(&feed, "$share/history/flood/#").await;
    // What the browsers stand for: an ordinary subscriber in the same process.
    let (live, on_message) = test_support::recorder::<MqttMessage>();
    let browsers = MqttActor::builder(mqtt_config(&broker.url()))
        .on_message(on_message)
        .subscribe("flood/#", QoS::AtLeastOnce)
        .start()
        .expect("the live subscriber starts");
    wait_active(&browsers, "flood/#").await;

    let flood = Flood::start(broker.url());

    eventually("the first messages recorded", || async {
        (recorder.stats().recorded >= 200).then_some(())
    })
    .await;
    pg.stop().await;
    let outage = eventually("writes failing and the queue overflowing", || async {
        let s = recorder.stats();
        (s.failed_writes > 0 && s.dropped > 0 && !s.writing).then_some(s)
    })
    .await;
    assert!(outage.pending > 0, "the queue holds messages: {outage:?}");
    let up_again = now_ms();
    pg.resume().await;
    eventually("writes succeeding again", || async {
        let s = recorder.stats();
        (s.writing && s.recorded > outage.recorded + outage.pending).then_some(())
    })
    .await;
    let total = flood.stop().await;
    let end = settled(&[&recorder], total).await.remove(0);
    assert_eq!(
        end.recorded + end.dropped + end.discarded,
        total,
        "every message is recorded or counted: {end:?}"
    );
    assert!(end.dropped > 0 && end.discarded == 0, "{end:?}");
    assert_eq!(recorder.count().await.expect("counts"), end.recorded);
    // What the recorder held when the database went down was written once
    // it came back: the rows received before the restart outnumber those
    // written before the outage by at least what was queued.
    let before_restart = rows_before(&recorder, up_again).await;
    assert!(
        before_restart >= outage.recorded + outage.pending,
        "{before_restart} rows received before the restart; at the outage: {outage:?}"
    );
    eventually("the live subscriber got every message", || async {
        (live.lock().expect("live lock").len() as u64 == total).then_some(())
    })
    .await;
    recorder.close().await;
}

#[actix_rt::test]
async fn a_topic_pruned_by_another_instance_does_not_cost_a_message_of_this_one() {
    init_logging();
    let pg = Postgres::start();
    let mut config = pg_config(&pg.url(), "unused/#");
    config.retention = std::time::Duration::from_secs(24 * 3600);
    config.retention_interval = std::time::Duration::from_secs(3_600);
    let a = Recorder::open(config.clone())
        .await
        .expect("instance a opens");
    let b = Recorder::open(config).await.expect("instance b opens");
    let msg = |topic: &str, payload: &str| {
        MqttMessage::new(topic, payload.to_string(), QoS::AtLeastOnce, false)
    };
    a.record_at(&msg("session/42", "before"), now_ms() - 2 * 24 * 3_600_000);
    a.record(&msg("kept", "kept"));
    settled(&[&a], 2).await;

    assert_eq!(b.enforce_retention().await.expect("b's retention runs"), 1);
    assert_eq!(b.stats().deleted_topics, 1);
    assert_eq!(a.count_topics().await.expect("counts"), 1, "kept is kept");

    // Instance a still holds the id b's retention deleted.
    a.record(&msg("session/42", "after"));
    let stats = settled(&[&a], 3).await.remove(0);
    assert_eq!(
        (stats.recorded, stats.discarded, stats.failed_writes),
        (3, 0, 1),
        "one try refused for the stale id, then written: {stats:?}"
    );
    let page = b.history(&HistoryQuery::new("#")).await.expect("b answers");
    let found: HashSet<_> = page
        .messages
        .iter()
        .map(|m| (m.topic.as_str(), m.payload.to_vec()))
        .collect();
    assert_eq!(
        found,
        HashSet::from([
            ("session/42", b"after".to_vec()),
            ("kept", b"kept".to_vec())
        ])
    );
    assert_eq!(b.count_topics().await.expect("counts"), 2);
    a.close().await;
    b.close().await;
}

#[actix_rt::test]
async fn a_message_written_while_its_topic_is_pruned_costs_that_pass_its_pruning_only() {
    init_logging();
    let pg = Postgres::start();
    let mut config = pg_config(&pg.url(), "unused/#");
    config.retention = std::time::Duration::from_secs(24 * 3600);
    config.retention_interval = std::time::Duration::from_secs(3_600);
    let recorder = Recorder::open(config).await.expect("opens");
    let msg = |topic: &str, payload: &str| {
        MqttMessage::new(topic, payload.to_string(), QoS::AtLeastOnce, false)
    };
    recorder.record_at(&msg("lonely", "old"), now_ms() - 2 * 24 * 3_600_000);
    settled(&[&recorder], 1).await;

    // Another instance writes a message on the topic, not yet committed,
    // while this one's retention deletes the topic's last message and
    // prunes: the pruning waits for the other transaction.
    let mut other = pg.session("other-instance");
    other.send("BEGIN;");
    other.send(&format!(
        "INSERT INTO messages (topic_id, ts_ms, payload, qos, retain) \
         SELECT id, {}, 'late'::bytea, 1, false FROM topics WHERE name = 'lonely';",
        now_ms()
    ));
    let activity = |condition: &'static str| {
        let pg = &pg;
        move || async move {
            let sql = format!("SELECT count(*) FROM pg_stat_activity WHERE {condition}");
            (pg.query(&sql) == "1").then_some(())
        }
    };
    eventually(
        "the other transaction's insert done",
        activity("state = 'idle in transaction' AND query LIKE 'INSERT INTO messages%'"),
    )
    .await;
    let pass = actix_rt::spawn({
        let recorder = recorder.clone();
        async move { recorder.enforce_retention().await }
    });
    eventually(
        "the pruning waiting for the other transaction",
        activity("wait_event_type = 'Lock' AND query LIKE 'DELETE FROM topics%'"),
    )
    .await;
    other.send("COMMIT;");
    let deleted = pass.await.expect("the pass ends");
    assert_eq!(
        deleted.expect("the pass succeeds, its pruning skipped"),
        1,
        "the old message deleted"
    );
    assert_eq!(recorder.stats().deleted_topics, 0);
    let page = recorder
        .history(&HistoryQuery::new("lonely"))
        .await
        .expect("answers");
    let payloads: Vec<_> = page.messages.iter().map(|m| m.payload.to_vec()).collect();
    assert_eq!(payloads, vec![b"late".to_vec()], "the other's message kept");

    // Retention and the writer go on.
    recorder.record_at(&msg("gone", "old"), now_ms() - 2 * 24 * 3_600_000);
    settled(&[&recorder], 2).await;
    assert_eq!(recorder.enforce_retention().await.expect("runs"), 1);
    assert_eq!(recorder.stats().deleted_topics, 1, "gone pruned");
    assert_eq!(recorder.count_topics().await.expect("counts"), 1);
    recorder.close().await;
}
