//! The dashboard in a real headless Chromium (Debian's chromium and
//! chromium-driver, over WebDriver): subscribe and publish through the forms,
//! see rows arrive, follow a broker outage without reloading the page.

use std::time::Duration;

use fantoccini::{Client, Locator};
use test_support::*;

fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

async fn text_of(page: &Client, id: &str) -> String {
    match page.find(Locator::Css(&testid(id))).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn wait_text(page: &Client, id: &str, want: &str) {
    eventually(&format!("{id} to read {want:?}"), || async {
        (text_of(page, id).await == want).then_some(())
    })
    .await;
}

/// Waits for a row on `topic` whose text contains `payload`.
async fn wait_row(page: &Client, topic: &str, payload: &str) {
    let css = format!(
        "{} [data-testid=\"message\"][data-topic=\"{topic}\"]",
        testid("message-log")
    );
    eventually(&format!("a row on {topic} with {payload:?}"), || async {
        for row in page.find_all(Locator::Css(&css)).await.ok()? {
            if row.text().await.ok()?.contains(payload) {
                return Some(());
            }
        }
        None
    })
    .await;
}

async fn fill(page: &Client, id: &str, value: &str) {
    let el = page.find(Locator::Css(&testid(id))).await.expect(id);
    el.clear().await.expect("clear");
    el.send_keys(value).await.expect("type");
}

async fn click(page: &Client, id: &str) {
    page.find(Locator::Css(&testid(id)))
        .await
        .expect(id)
        .click()
        .await
        .expect("click");
}

/// Subscribes through the form and waits until the page lists the filter as active.
async fn subscribe_on_page(page: &Client, filter: &str, qos: &str) {
    fill(page, "subscribe-topic", filter).await;
    choose(page, "subscribe-qos", qos).await;
    click(page, "subscribe-button").await;
    wait_active_on_page(page, filter).await;
}

async fn wait_active_on_page(page: &Client, filter: &str) {
    let css = format!(
        "{} [data-topic=\"{filter}\"][data-state=\"active\"]",
        testid("subscription-list")
    );
    eventually(&format!("{filter} active on the page"), || async {
        page.find(Locator::Css(&css)).await.ok().map(|_| ())
    })
    .await;
}

/// Chooses `value` in the select `id`, once it has that option. The page
/// rebuilds some selects as topics arrive (the chart's): an element found
/// just before it was replaced is stale, and is looked up again.
async fn choose(page: &Client, id: &str, value: &str) {
    eventually(&format!("{value:?} chosen in {id}"), || async {
        let el = page.find(Locator::Css(&testid(id))).await.ok()?;
        el.select_by_value(value).await.ok()
    })
    .await;
}

#[actix_rt::test]
async fn the_dashboard_subscribes_publishes_and_rides_out_a_broker_restart() {
    init_logging();
    let mut broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let driver = Driver::start();
    let page = driver.browser().await;
    page.goto(&app.url("/")).await.expect("the page loads");
    wait_text(&page, "broker-status", "broker: connected").await;

    subscribe_on_page(&page, "plant/#", "1").await;

    let mut outside = Observer::connect(&broker.url(), &["plant/line2/#"]).await;
    outside
        .publish("plant/line1/temperature", "42.5", 1, false)
        .await;
    wait_row(&page, "plant/line1/temperature", "42.5").await;

    fill(&page, "publish-topic", "plant/line2/status").await;
    fill(
        &page,
        "publish-payload",
        r#"{"ok": true, "note": "<b>\"quoted\"</b>"}"#,
    )
    .await;
    choose(&page, "publish-qos", "1").await;
    click(&page, "publish-retain").await;
    click(&page, "publish-button").await;
    let seen = outside.next().await;
    assert_eq!(
        seen.payload_str(),
        r#"{"ok": true, "note": "<b>\"quoted\"</b>"}"#
    );
    assert_eq!(seen.qos() as i32, 1, "published with the QoS chosen");
    wait_row(&page, "plant/line2/status", "quoted").await;

    // The same form with Retain unticked: a plain publish.
    let retain_box = page
        .find(Locator::Css(&testid("publish-retain")))
        .await
        .expect("publish-retain");
    if retain_box.is_selected().await.expect("a checkbox state") {
        retain_box.click().await.expect("click");
    }
    fill(&page, "publish-topic", "plant/line2/note").await;
    fill(&page, "publish-payload", "not kept").await;
    click(&page, "publish-button").await;
    assert_eq!(outside.next().await.topic(), "plant/line2/note");
    // A subscriber that joins afterwards gets the retained message, flagged,
    // and not the other one: what the broker sends on the subscription comes
    // before a marker published after it.
    let mut late = Observer::connect(&broker.url(), &["plant/line2/#"]).await;
    late.publish("plant/line2/marker", "", 1, false).await;
    let mut kept = Vec::new();
    loop {
        let m = late.next().await;
        if m.topic() == "plant/line2/marker" {
            break;
        }
        kept.push((
            m.topic().to_string(),
            m.retained(),
            m.payload_str().into_owned(),
        ));
    }
    assert_eq!(
        kept,
        [(
            "plant/line2/status".to_string(),
            true,
            r#"{"ok": true, "note": "<b>\"quoted\"</b>"}"#.to_string()
        )],
        "with Retain ticked the broker keeps the message; without, it does not"
    );
    eventually("both lines in the topic tree", || async {
        let tree = text_of(&page, "topic-tree").await;
        (tree.contains("line1") && tree.contains("line2")).then_some(())
    })
    .await;

    broker.stop();
    wait_text(&page, "broker-status", "broker: disconnected").await;
    broker.resume();
    wait_text(&page, "broker-status", "broker: connected").await;
    let outside = Observer::connect(&broker.url(), &[]).await;
    eventually("a row after the restart", || async {
        outside
            .publish("plant/line1/temperature", "43.75", 1, false)
            .await;
        let css = "[data-testid=\"message\"][data-topic=\"plant/line1/temperature\"]";
        for row in page.find_all(Locator::Css(css)).await.ok()? {
            if row.text().await.ok()?.contains("43.75") {
                return Some(());
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        None
    })
    .await;

    // A JSON reading for the detail pane, and a series for the chart (spread
    // out a little so the screenshot shows a curve, not a spike).
    let reading = r#"{"celsius": 44.5, "sensor": "line1-t3", "ok": true}"#;
    outside
        .publish("plant/line1/reading", reading, 1, false)
        .await;
    for i in 0..30u32 {
        let value = 40.0 + 4.0 * (f64::from(i) / 4.0).sin();
        outside
            .publish("plant/line1/temperature", format!("{value:.2}"), 0, false)
            .await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    outside
        .publish("plant/line1/temperature", "46", 0, false)
        .await;
    wait_row(&page, "plant/line1/temperature", "46").await;
    let reading_row =
        "[data-testid=\"tree-node\"][data-topic=\"plant/line1/reading\"] > .tnode-row";
    let node = eventually("the reading in the tree", || async {
        page.find(Locator::Css(reading_row)).await.ok()
    })
    .await;
    node.click().await.expect("select the reading");
    choose(&page, "chart-topic", "plant/line1/temperature").await;
    eventually("the chart drawn", || async {
        let status = text_of(&page, "chart-status").await;
        status.contains("points").then_some(())
    })
    .await;
    let png = page.screenshot().await.expect("a screenshot");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    std::fs::write(dir.join("dashboard.png"), png).expect("screenshot saved");
    page.close().await.expect("browser closes");
}

#[actix_rt::test]
async fn the_page_reconnects_its_socket_and_restores_its_subscriptions() {
    init_logging();
    let broker = Mosquitto::start();
    let bind = format!("127.0.0.1:{}", free_port());
    let app = App::start_with(broker.port, |s| s.bind = bind.clone()).await;
    let driver = Driver::start();
    let page = driver.browser().await;
    page.goto(&app.url("/")).await.expect("the page loads");
    wait_text(&page, "socket-status", "socket: open").await;
    subscribe_on_page(&page, "line/+/speed", "0").await;

    app.stop().await;
    wait_text(&page, "socket-status", "socket: closed").await;
    wait_text(&page, "broker-status", "broker: disconnected").await;
    let _app = App::start_with(broker.port, |s| s.bind = bind).await;
    wait_text(&page, "socket-status", "socket: open").await;
    wait_active_on_page(&page, "line/+/speed").await;
    let outside = Observer::connect(&broker.url(), &[]).await;
    outside.publish("line/4/speed", "1200", 1, false).await;
    wait_row(&page, "line/4/speed", "1200").await;
    page.close().await.expect("browser closes");
}

/// How many rows on `topic` the log shows (hidden rows do not count).
async fn rows_on(page: &Client, topic: &str) -> usize {
    let css = format!(
        "{} [data-testid=\"message\"][data-topic=\"{topic}\"]",
        testid("message-log")
    );
    let mut shown = 0;
    for row in page.find_all(Locator::Css(&css)).await.unwrap_or_default() {
        if row.is_displayed().await.unwrap_or(false) {
            shown += 1;
        }
    }
    shown
}

#[actix_rt::test]
async fn the_page_shows_errors_hints_and_topic_details_and_its_log_pauses_and_filters() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let driver = Driver::start();
    let page = driver.browser().await;
    page.goto(&app.url("/")).await.expect("the page loads");
    wait_text(&page, "broker-status", "broker: connected").await;

    // The server's error for a bad filter appears next to the subscribe form.
    fill(&page, "subscribe-topic", "bad/#/filter").await;
    click(&page, "subscribe-button").await;
    eventually("the subscribe error", || async {
        let text = text_of(&page, "subscribe-error").await;
        text.contains("bad/#/filter").then_some(())
    })
    .await;

    // JSON that does not parse gets a hint before anything is sent.
    fill(&page, "publish-payload", r#"{"celsius": 21.5,}"#).await;
    eventually("the JSON hint", || async {
        let text = text_of(&page, "publish-hint").await;
        text.to_lowercase().contains("json").then_some(())
    })
    .await;

    subscribe_on_page(&page, "log/#", "0").await;
    let outside = Observer::connect(&broker.url(), &[]).await;
    outside.publish("log/a", "first", 1, false).await;
    wait_row(&page, "log/a", "first").await;

    // The topic tree's detail pretty-prints JSON and shows binary as hex.
    outside
        .publish("log/json", r#"{"a":1,"b":[1,2]}"#, 1, false)
        .await;
    outside
        .publish("log/raw", vec![0xdeu8, 0xad, 0xbe, 0xef, 0x00], 1, false)
        .await;
    for (topic, kind, shown) in [
        ("log/json", "JSON", "\n  \"a\": 1,"),
        ("log/raw", "hex", "de ad be ef 00"),
    ] {
        let row = format!("[data-testid=\"tree-node\"][data-topic=\"{topic}\"] > .tnode-row");
        let node = eventually(&format!("{topic} in the tree"), || async {
            page.find(Locator::Css(&row)).await.ok()
        })
        .await;
        node.click().await.expect("select the topic");
        eventually(&format!("the detail of {topic}"), || async {
            let payload = text_of(&page, "detail-payload").await;
            let detail_kind = text_of(&page, "detail-kind").await;
            (payload.contains(shown) && detail_kind.contains(kind)).then_some(())
        })
        .await;
    }

    // Paused: nothing new shows; resumed: it all arrives.
    click(&page, "log-pause").await;
    outside.publish("log/b", "while paused", 1, false).await;
    eventually("the message held while paused", || async {
        text_of(&page, "log-stats")
            .await
            .contains("1 held")
            .then_some(())
    })
    .await;
    assert_eq!(
        rows_on(&page, "log/b").await,
        0,
        "a paused log shows nothing new"
    );
    click(&page, "log-pause").await;
    wait_row(&page, "log/b", "while paused").await;

    // The text filter hides rows that do not match.
    fill(&page, "log-filter", "paused").await;
    eventually("only matching rows", || async {
        (rows_on(&page, "log/a").await == 0 && rows_on(&page, "log/b").await == 1).then_some(())
    })
    .await;
    page.close().await.expect("browser closes");
}
