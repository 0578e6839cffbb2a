//! The recorder (feature `history`) on SQLite: a real Mosquitto feeds it
//! through a shared subscription, the history survives a restart of the
//! recorder, queries by filter, time range and cursor, and retention by age
//! and by size. PostgreSQL and several instances: `recorder_postgres.rs`.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use mqtt_actor::recorder::{
    Cursor, HistoryQuery, Page, Recorder, RecorderConfig, RecorderError, RecorderStats,
    ROW_OVERHEAD,
};
use mqtt_actor::{MqttMessage, QoS};
use test_support::*;

/// A recorder's settings with its SQLite file in folders yet to be made.
fn sqlite_config(dir: &Path) -> RecorderConfig {
    let mut config = RecorderConfig::default();
    config.data_dir = dir.join("several/levels/deep");
    config
}

/// A recorder in `dir` keeping a day of messages, its retention running
/// every `every`.
async fn keeping_a_day(dir: &Path, every: Duration) -> Recorder {
    let mut config = sqlite_config(dir);
    config.retention = Duration::from_secs(24 * 3600);
    config.retention_interval = every;
    Recorder::open(config).await.expect("opens")
}

/// Two days before now, in milliseconds since the Unix epoch: past a day's retention.
fn two_days_ago() -> i64 {
    now_ms() - 2 * 24 * 3_600_000
}

/// Waits until the recorder has written or counted `n` messages and holds none.
async fn settled(recorder: &Recorder, n: u64) -> RecorderStats {
    eventually(&format!("{n} messages recorded or counted"), || async {
        let s = recorder.stats();
        (s.pending == 0 && s.recorded + s.dropped + s.discarded >= n).then_some(s)
    })
    .await
}

fn msg(topic: &str, payload: impl AsRef<[u8]>) -> MqttMessage {
    MqttMessage::new(topic, payload.as_ref().to_vec(), QoS::AtLeastOnce, false)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as i64
}

async fn history(recorder: &Recorder, query: HistoryQuery) -> Page {
    recorder.history(&query).await.expect("the query answers")
}

/// Every page of `query`, following the cursors; checks each page's order.
async fn all_pages(
    recorder: &Recorder,
    query: HistoryQuery,
    between: impl std::future::Future<Output = ()>,
) -> Vec<Cursor> {
    let mut seen = Vec::new();
    let mut page = history(recorder, query.clone()).await;
    between.await;
    loop {
        seen.extend(page.messages.iter().map(|m| m.cursor));
        let Some(next) = page.next_cursor else { break };
        assert_eq!(
            Some(next),
            seen.last().copied(),
            "a page ends at its cursor"
        );
        page = history(recorder, query.clone().before(next)).await;
    }
    seen
}

#[actix_rt::test]
async fn history_recorded_from_the_broker_survives_a_restart_of_the_recorder() {
    init_logging();
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = sqlite_config(dir.path());
    config.filters = vec!["plant/#".into()];
    let recorder = Recorder::open(config.clone())
        .await
        .expect("the recorder opens");
    let feed = recorder
        .start_feed(&mqtt_config(&broker.url()))
        .expect("the feed starts")
        .expect("a filter is recorded");
    wait_active(&feed, "$share/history/plant/#").await;

    let outside = Observer::connect(&broker.url(), &[]).await;
    for i in 0..50 {
        let topic = if i % 2 == 0 { "plant/a" } else { "plant/b" };
        outside
            .publish(topic, format!("reading {i}"), 1, false)
            .await;
    }
    outside
        .publish("elsewhere/c", "not recorded", 1, false)
        .await;
    let stats = settled(&recorder, 50).await;
    assert_eq!((stats.recorded, stats.dropped), (50, 0), "{stats:?}");
    recorder.close().await;
    assert!(
        config.default_sqlite_path().exists(),
        "the file is made with its folders"
    );

    let reopened = Recorder::open(config)
        .await
        .expect("the recorder opens again");
    let page = history(&reopened, HistoryQuery::new("#").limit(1_000)).await;
    let payloads: Vec<_> = page.messages.iter().map(|m| m.payload.to_vec()).collect();
    let expected: Vec<_> = (0..50)
        .rev()
        .map(|i| format!("reading {i}").into_bytes())
        .collect();
    assert_eq!(
        payloads, expected,
        "all 50, newest first, after the restart"
    );
    assert!(page.next_cursor.is_none());
    assert!(page
        .messages
        .iter()
        .all(|m| m.qos == QoS::AtLeastOnce && !m.retain));
    reopened.close().await;
}

#[actix_rt::test]
async fn queries_answer_by_filter_and_time_range_and_page_stably_newest_first() {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = Recorder::open(sqlite_config(dir.path()))
        .await
        .expect("opens");
    let base = now_ms() - 3_600_000;
    for i in 0..30 {
        recorder.record_at(&msg("s/1/t", format!("t1-{i}")), base + i * 10);
        recorder.record_at(&msg("s/2/t", format!("t2-{i}")), base + i * 10 + 5);
        // The same times as s/1/t: ties are ordered by id.
        recorder.record_at(&msg("s/2/h", format!("h2-{i}")), base + i * 10);
    }
    for i in 0..10 {
        recorder.record_at(&msg("other/x", format!("x-{i}")), base + i);
    }
    recorder.record_at(&msg("s", "the parent"), base);
    settled(&recorder, 101).await;

    let exact = history(&recorder, HistoryQuery::new("s/1/t").limit(1_000)).await;
    assert_eq!(exact.messages.len(), 30);
    assert_eq!(exact.messages[0].payload, "t1-29", "newest first");
    assert_eq!(exact.messages[29].payload, "t1-0");

    let plus = history(&recorder, HistoryQuery::new("s/+/t").limit(1_000)).await;
    let topics: HashSet<_> = plus.messages.iter().map(|m| m.topic.as_str()).collect();
    assert_eq!(topics, HashSet::from(["s/1/t", "s/2/t"]));
    assert_eq!(plus.messages.len(), 60);

    let hash = history(&recorder, HistoryQuery::new("s/#").limit(1_000)).await;
    assert_eq!(
        hash.messages.len(),
        91,
        "s/# covers s itself and everything under it"
    );

    let range = HistoryQuery::new("s/1/t")
        .from_ms(base + 100)
        .to_ms(base + 200);
    let ranged = history(&recorder, range).await;
    let got: Vec<_> = ranged.messages.iter().map(|m| m.payload.to_vec()).collect();
    let want: Vec<_> = (10..20)
        .rev()
        .map(|i| format!("t1-{i}").into_bytes())
        .collect();
    assert_eq!(got, want, "from included, to excluded");

    // Pages of 7 through 91 messages, with newer messages recorded after the
    // first page: each message comes once, in strictly falling order.
    let newer = async {
        for i in 0..5 {
            recorder.record(&msg("s/1/t", format!("late-{i}")));
        }
        settled(&recorder, 106).await;
    };
    let cursors = all_pages(&recorder, HistoryQuery::new("s/#").limit(7), newer).await;
    assert_eq!(cursors.len(), 91, "every message once: {cursors:?}");
    assert!(
        cursors.windows(2).all(|w| w[0] > w[1]),
        "strictly newest first"
    );

    let allowed = HistoryQuery::new("s/#")
        .limit(1_000)
        .allow(|topic| !topic.starts_with("s/2/"));
    let page = history(&recorder, allowed).await;
    let topics: HashSet<_> = page.messages.iter().map(|m| m.topic.as_str()).collect();
    assert_eq!(
        topics,
        HashSet::from(["s", "s/1/t"]),
        "forbidden topics left out"
    );

    let none = history(&recorder, HistoryQuery::new("nothing/+")).await;
    assert_eq!(none, Page::default());
    for bad in ["s/#/t", "$share/g/s/#"] {
        let err = recorder.history(&HistoryQuery::new(bad)).await;
        assert!(
            matches!(err, Err(RecorderError::Filter(_))),
            "{bad}: {err:?}"
        );
    }
    assert!("12".parse::<Cursor>().is_err());
    recorder.close().await;
}

#[actix_rt::test]
async fn retention_deletes_old_messages_in_the_background_and_the_oldest_past_the_size() {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = keeping_a_day(dir.path(), Duration::from_millis(200)).await;
    let old = two_days_ago();
    for i in 0..20 {
        recorder.record_at(&msg("r/old", vec![b'o'; 100]), old + i);
        recorder.record(&msg("r/new", vec![b'n'; 100]));
    }
    settled(&recorder, 40).await;
    let kept = eventually("the old messages deleted in the background", || async {
        let page = history(&recorder, HistoryQuery::new("r/#").limit(100)).await;
        // The counter follows the deletion's commit.
        (page.messages.len() == 20 && recorder.stats().deleted == 20).then_some(page)
    })
    .await;
    assert!(kept.messages.iter().all(|m| m.topic == "r/new"));
    recorder.close().await;

    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = sqlite_config(dir.path());
    config.max_bytes = 50 * (100 + ROW_OVERHEAD);
    config.retention_interval = Duration::from_secs(3_600);
    let recorder = Recorder::open(config).await.expect("opens");
    let base = now_ms() - 1_000;
    for i in 0..100 {
        let payload = format!("{i:0100}");
        recorder.record_at(&msg("size/x", payload), base + i);
    }
    settled(&recorder, 100).await;
    assert_eq!(
        recorder.enforce_retention().await.expect("retention runs"),
        50
    );
    let page = history(&recorder, HistoryQuery::new("size/x").limit(1_000)).await;
    let oldest_kept = page.messages.last().map(|m| m.payload.to_vec());
    assert_eq!(page.messages.len(), 50);
    assert_eq!(
        oldest_kept,
        Some(format!("{:0100}", 50).into_bytes()),
        "the oldest went"
    );
    assert_eq!(
        recorder.enforce_retention().await.expect("runs"),
        0,
        "under the size now"
    );
    recorder.close().await;
}

#[actix_rt::test]
async fn retention_deletes_the_topics_left_without_messages_and_keeps_the_others() {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = keeping_a_day(dir.path(), Duration::from_millis(200)).await;
    let old = two_days_ago();
    for i in 0..10 {
        recorder.record_at(&msg(&format!("device/{i}/seen"), "old"), old + i);
    }
    recorder.record_at(&msg("kept/a", "old"), old);
    recorder.record(&msg("kept/a", "a"));
    recorder.record(&msg("kept/b", "b"));
    settled(&recorder, 13).await;
    let stats = eventually("the topics without messages deleted", || async {
        let topics = recorder.count_topics().await.expect("counts topics");
        let s = recorder.stats();
        (topics == 2 && s.deleted == 11).then_some(s)
    })
    .await;
    // At least 10: a topic inserted by the writer may also be pruned before
    // its message is written, and is then inserted again.
    assert!(stats.deleted_topics >= 10, "{stats:?}");
    assert_eq!((stats.recorded, stats.discarded), (13, 0), "{stats:?}");
    let page = history(&recorder, HistoryQuery::new("#").limit(100)).await;
    let kept: HashSet<_> = page
        .messages
        .iter()
        .map(|m| (m.topic.as_str(), m.payload.to_vec()))
        .collect();
    assert_eq!(
        kept,
        HashSet::from([("kept/a", b"a".to_vec()), ("kept/b", b"b".to_vec())]),
        "the kept messages keep their topic"
    );
    recorder.close().await;
}

#[actix_rt::test]
async fn a_message_on_a_topic_pruned_since_the_writer_cached_it_is_recorded() {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = keeping_a_day(dir.path(), Duration::from_secs(3_600)).await;
    recorder.record_at(&msg("session/42", "before"), two_days_ago());
    settled(&recorder, 1).await;
    assert_eq!(recorder.enforce_retention().await.expect("runs"), 1);
    assert_eq!(recorder.count_topics().await.expect("counts"), 0);
    assert_eq!(recorder.stats().deleted_topics, 1);

    // The writer still holds the pruned topic's id.
    recorder.record(&msg("session/42", "after"));
    let stats = settled(&recorder, 2).await;
    assert_eq!(
        (stats.recorded, stats.discarded, stats.failed_writes),
        (2, 0, 1),
        "one try refused for the stale id, then written: {stats:?}"
    );
    let page = history(&recorder, HistoryQuery::new("session/42")).await;
    let payloads: Vec<_> = page.messages.iter().map(|m| m.payload.to_vec()).collect();
    assert_eq!(payloads, vec![b"after".to_vec()]);
    assert_eq!(recorder.count_topics().await.expect("counts"), 1);
    recorder.close().await;
}
