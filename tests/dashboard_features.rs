//! The dashboard's tools beyond the live view, in a real headless Chromium
//! against a real Mosquitto: a topic's history with the diff of each JSON
//! value, exports downloaded by the browser and read back from disk, saved
//! subscriptions and templates that come back after a reload, several series
//! on one chart, the payload views, and clearing a retained message after a
//! confirmation.

use std::path::{Path, PathBuf};

use fantoccini::{elements::Element, Client, Locator};
use serde_json::Value;
use test_support::page::*;
use test_support::*;

async fn subscribe_on_page(page: &Client, filter: &str, save: bool) {
    fill(page, "subscribe-topic", filter).await;
    let save_box = find(page, &testid("subscribe-save")).await;
    if save_box.is_selected().await.expect("checkbox state") != save {
        save_box.click().await.expect("toggle save");
    }
    click(page, &testid("subscribe-button")).await;
    wait_active_on_page(page, filter).await;
}

/// How many log rows on `topic` the page shows.
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

async fn wait_rows(page: &Client, topic: &str, n: usize) {
    eventually(&format!("{n} rows on {topic}"), || async {
        (rows_on(page, topic).await == n).then_some(())
    })
    .await;
}

/// Waits for a finished download whose name ends with `ext` and that is not
/// in `seen`; returns its path (and adds it to `seen`).
async fn downloaded(dir: &Path, ext: &str, seen: &mut Vec<PathBuf>) -> PathBuf {
    let path = eventually(
        &format!("a downloaded {ext} file in {}", dir.display()),
        || async {
            let entries = std::fs::read_dir(dir).ok()?;
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.to_string_lossy().ends_with(ext) && !seen.contains(p))
        },
    )
    .await;
    seen.push(path.clone());
    path
}

#[actix_rt::test]
async fn a_topics_history_shows_each_json_change_and_exports_download_as_files() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let driver = Driver::start();
    let downloads = tempfile::tempdir().expect("a download directory");
    let page = driver.browser_downloading_to(downloads.path()).await;
    open_page(&page, &app).await;
    subscribe_on_page(&page, "dev/#", false).await;

    let outside = Observer::connect(&broker.url(), &[]).await;
    let values = [
        r#"{"temp":20,"mode":"auto"}"#,
        r#"{"temp":21,"mode":"auto","fan":true}"#,
        r#"{"temp":21,"fan":true}"#,
    ];
    for v in values {
        outside.publish("dev/a", v, 1, false).await;
    }
    outside
        .publish("dev/b", "plain, \"quoted\"", 1, false)
        .await;
    wait_rows(&page, "dev/a", 3).await;
    wait_rows(&page, "dev/b", 1).await;

    // The history of dev/a, newest first: each value against the one before.
    select_in_tree(&page, "dev/a").await;
    let entries_css = format!("{} [data-testid=\"history-entry\"]", testid("history-list"));
    let entries = eventually("three values in the history", || async {
        let found = page.find_all(Locator::Css(&entries_css)).await.ok()?;
        (found.len() == 3).then_some(found)
    })
    .await;
    let counts = |e: Element| async move {
        let mut out = Vec::new();
        for name in ["data-added", "data-removed", "data-changed"] {
            out.push(e.attr(name).await.expect("attribute").unwrap_or_default());
        }
        out
    };
    assert_eq!(counts(entries[0].clone()).await, ["0", "1", "0"]);
    assert_eq!(counts(entries[1].clone()).await, ["1", "0", "1"]);
    let line = |entry: &Element, mark: &'static str| {
        let entry = entry.clone();
        async move {
            let css = format!("[data-testid=\"diff-line\"][data-diff=\"{mark}\"]");
            let el = entry
                .find(Locator::Css(&css))
                .await
                .unwrap_or_else(|_| panic!("a {mark} line"));
            assert!(
                el.is_displayed().await.expect("displayed"),
                "{mark} line shown"
            );
            el.text().await.expect("text")
        }
    };
    assert!(line(&entries[0], "removed").await.contains("\"mode\""));
    let changed = line(&entries[1], "changed").await;
    assert!(
        changed.contains("\"temp\": 21") && changed.contains("was 20"),
        "{changed}"
    );
    assert!(line(&entries[1], "added").await.contains("\"fan\": true"));
    screenshot(&page, "dashboard-history").await;

    // The history as JSON Lines, read back from the download directory.
    let mut seen = Vec::new();
    click(&page, &testid("history-export-jsonl")).await;
    let file = downloaded(downloads.path(), ".jsonl", &mut seen).await;
    let text = std::fs::read_to_string(&file).expect("the export reads");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let payloads: Vec<&str> = records
        .iter()
        .map(|r| r["payload"].as_str().expect("a payload"))
        .collect();
    assert_eq!(payloads, values, "oldest first, byte for byte");
    assert!(records
        .iter()
        .all(|r| r["topic"] == "dev/a" && r["qos"] == 0 && r["retain"] == false));

    // The log filtered to "fan", as CSV: two rows, quotes doubled.
    fill(&page, "log-filter", "fan").await;
    wait_rows(&page, "dev/a", 2).await;
    click(&page, &testid("log-export-toggle")).await;
    choose(&page, "log-export-scope", "shown").await;
    click(&page, &testid("log-export-csv")).await;
    let file = downloaded(downloads.path(), ".csv", &mut seen).await;
    let csv = std::fs::read_to_string(&file).expect("the export reads");
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "time,ts_ms,topic,qos,retain,encoding,size,truncated,payload"
    );
    assert_eq!(lines.len(), 3, "a header and two rows: {csv}");
    assert!(lines[1].ends_with(r#","{""temp"":21,""mode"":""auto"",""fan"":true}""#));
    assert!(lines[2].ends_with(r#","{""temp"":21,""fan"":true}""#));

    // The whole log, filter ignored, as JSON Lines: all four messages.
    choose(&page, "log-export-scope", "all").await;
    click(&page, &testid("log-export-jsonl")).await;
    let file = downloaded(downloads.path(), ".jsonl", &mut seen).await;
    let text = std::fs::read_to_string(&file).expect("the export reads");
    let topics: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["topic"].to_string())
        .collect();
    assert_eq!(topics, ["\"dev/a\"", "\"dev/a\"", "\"dev/a\"", "\"dev/b\""]);
    assert!(text.contains(r#""payload":"plain, \"quoted\"""#));
    page.close().await.expect("browser closes");
}

#[actix_rt::test]
async fn saved_subscriptions_and_templates_come_back_after_a_reload() {
    let (page, _driver, _app, broker) = Dashboard::open().await.parts();
    subscribe_on_page(&page, "home/#", true).await;
    subscribe_on_page(&page, "scratch/#", false).await;

    // A template of the publish form.
    fill(&page, "publish-topic", "home/lamp").await;
    fill(&page, "publish-payload", r#"{"on": true}"#).await;
    choose(&page, "publish-qos", "1").await;
    click(&page, &testid("publish-templates-toggle")).await;
    fill(&page, "template-name", "lamp on").await;
    click(&page, &testid("template-save")).await;
    wait_text_contains(&page, "template-status", "lamp on").await;

    page.refresh().await.expect("the page reloads");
    wait_text_contains(&page, "socket-status", "socket: open").await;
    wait_active_on_page(&page, "home/#").await;
    let listed = js(
        &page,
        "return Array.from(document.querySelectorAll('[data-testid=\"subscription\"]'), \
         (e) => [e.dataset.topic, e.dataset.saved])",
    )
    .await;
    assert_eq!(listed, serde_json::json!([["home/#", "true"]]));

    // The server holds the filter again: a message under it arrives.
    let outside = Observer::connect(&broker.url(), &[]).await;
    outside.publish("home/door", "open", 1, false).await;
    wait_rows(&page, "home/door", 1).await;

    // The template fills the form again.
    click(&page, &testid("publish-templates-toggle")).await;
    choose(&page, "publish-template", "lamp on").await;
    let form = js(
        &page,
        "const v = (id) => document.querySelector(`[data-testid=\"${id}\"]`).value; \
         return [v('publish-topic'), v('publish-payload'), v('publish-qos')]",
    )
    .await;
    assert_eq!(
        form,
        serde_json::json!(["home/lamp", r#"{"on": true}"#, "1"])
    );

    // Unsubscribing forgets a saved filter.
    click(
        &page,
        &format!(
            "{} [data-topic=\"home/#\"] [data-testid=\"unsubscribe-button\"]",
            testid("subscription-list")
        ),
    )
    .await;
    eventually("home/# forgotten", || async {
        let saved = js(
            &page,
            "return localStorage.getItem('mqtt-actor.subscriptions')",
        )
        .await;
        saved.is_null().then_some(())
    })
    .await;
    page.close().await.expect("browser closes");
}

#[actix_rt::test]
async fn two_topics_share_the_chart_each_in_its_own_colour() {
    let (page, _driver, _app, broker) = Dashboard::open().await.parts();
    subscribe_on_page(&page, "line/#", false).await;
    let outside = Observer::connect(&broker.url(), &[]).await;
    for i in 0..5 {
        outside
            .publish("line/a", format!("{}", 20 + i), 1, false)
            .await;
        outside
            .publish(
                "line/b",
                format!(r#"{{"rpm": {}}}"#, 1000 + 10 * i),
                1,
                false,
            )
            .await;
    }
    wait_rows(&page, "line/a", 5).await;
    wait_rows(&page, "line/b", 5).await;

    let option = |topic: &'static str| {
        let page = page.clone();
        async move {
            find(
                &page,
                &format!("{} option[value=\"{topic}\"]", testid("chart-topic")),
            )
            .await;
        }
    };
    option("line/a").await;
    choose(&page, "chart-topic", "line/a").await;
    click(&page, &testid("chart-add-series")).await;
    option("line/b").await;
    choose(&page, "chart-topic", "line/b").await;

    let series = eventually("two series with points", || async {
        let s = js(
            &page,
            "return window.mqttActor.state.chart.series.map((s) => [s.topic, s.field, s.points.length, s.color])",
        )
        .await;
        let all = s.as_array()?.clone();
        (all.len() == 2 && all.iter().all(|x| x[2].as_u64() > Some(0))).then_some(all)
    })
    .await;
    assert_eq!(series[0][0], "line/a");
    assert_eq!(series[1][0], "line/b");
    assert_eq!(series[1][1], "rpm", "the field of a JSON topic");
    assert_ne!(series[0][3], series[1][3], "each series its own colour");

    let legend = js(
        &page,
        "return Array.from(document.querySelectorAll('[data-testid=\"chart-series\"]'), (e) => \
         [e.dataset.topic, getComputedStyle(e.querySelector('.swatch')).backgroundColor])",
    )
    .await;
    let legend = legend.as_array().expect("legend items");
    assert_eq!(legend.len(), 2);
    assert_ne!(legend[0][1], legend[1][1], "the legend's swatches differ");
    wait_text_contains(&page, "chart-status", "2 series").await;
    screenshot(&page, "dashboard-chart").await;

    // Removing one leaves the other.
    click(
        &page,
        &format!(
            "{} [data-topic=\"line/a\"] [data-testid=\"chart-series-remove\"]",
            testid("chart-legend")
        ),
    )
    .await;
    let left = js(
        &page,
        "return window.mqttActor.state.chart.series.map((s) => s.topic)",
    )
    .await;
    assert_eq!(left, serde_json::json!(["line/b"]));
    page.close().await.expect("browser closes");
}

#[actix_rt::test]
async fn the_detail_pane_shows_a_payload_as_text_json_tree_hex_and_base64() {
    // MQTT 5 between the app and the broker, so that properties reach the page.
    let (page, _driver, _app, broker) = Dashboard::open_with(|s| {
        s.mqtt.set("PROTOCOL_VERSION", "5").expect("a setting");
    })
    .await
    .parts();
    subscribe_on_page(&page, "view/#", false).await;
    let outside = Observer::connect(&broker.url(), &[]).await;
    outside
        .publish("view/json", r#"{"a":{"b":[1,2]},"s":"AB"}"#, 1, false)
        .await;
    wait_rows(&page, "view/json", 1).await;
    select_in_tree(&page, "view/json").await;

    click(&page, &testid("payload-view-hex")).await;
    wait_text_contains(&page, "detail-payload", "7b 22 61 22").await;
    click(&page, &testid("payload-view-base64")).await;
    wait_text_contains(
        &page,
        "detail-payload",
        "eyJhIjp7ImIiOlsxLDJdfSwicyI6IkFCIn0=",
    )
    .await;
    click(&page, &testid("payload-view-text")).await;
    wait_text_contains(&page, "detail-payload", r#"{"a":{"b":[1,2]},"s":"AB"}"#).await;

    // The JSON tree: nodes open and close (from the keyboard too).
    click(&page, &testid("payload-view-json")).await;
    let tree = find(&page, &testid("detail-json-tree")).await;
    assert!(tree.is_displayed().await.expect("displayed"));
    let open_nodes = "return document.querySelectorAll('[data-testid=\"detail-json-tree\"] details[open]').length";
    assert_eq!(
        js(&page, open_nodes).await,
        2,
        "the root and a open, b (deeper) closed"
    );
    let summary = tree
        .find(Locator::Css("details details > summary"))
        .await
        .expect("the node of a");
    // WebDriver's Enter key, on the focused summary.
    summary
        .send_keys("\u{e007}")
        .await
        .expect("Enter closes it");
    eventually("the node of a closed", || async {
        (js(&page, open_nodes).await == 1).then_some(())
    })
    .await;

    // Auto stays what it was: pretty JSON.
    click(&page, &testid("payload-view-auto")).await;
    wait_text_contains(&page, "detail-payload", "\n  \"s\": \"AB\"").await;

    // MQTT 5 properties, published through Mosquitto by an outside MQTT 5
    // client: broker, app and page carry them to the detail pane.
    publish_with_properties(&broker).await;
    find(
        &page,
        "[data-testid=\"tree-node\"][data-topic=\"view/props\"]",
    )
    .await;
    select_in_tree(&page, "view/props").await;
    let props = find(&page, &testid("detail-properties")).await;
    assert!(props.is_displayed().await.expect("displayed"));
    let text = props.text().await.expect("text");
    for want in ["text/plain", "view/reply", "site = north", "<b>x</b> = y"] {
        assert!(text.contains(want), "{want:?} in {text:?}");
    }
    // Mosquitto forwards what is left of the expiry, in whole seconds.
    assert!(
        ["3600 s", "3599 s", "3598 s"]
            .iter()
            .any(|left| text.contains(left)),
        "the expiry (an hour, less what the broker held it) in {text:?}"
    );
    click(&page, &testid("publish-properties-toggle")).await;
    click(&page, &testid("publish-user-property-add")).await;
    click(&page, &testid("publish-templates-toggle")).await;
    screenshot(&page, "dashboard-properties").await;
    page.close().await.expect("browser closes");
}

/// Publishes `21.5` on `view/props` over MQTT 5 with a content type, an
/// expiry of an hour, a response topic and two user properties (one of them
/// markup, which the page must show as text).
async fn publish_with_properties(broker: &Mosquitto) {
    use paho_mqtt::{MessageBuilder, Properties, PropertyCode};
    let sender = Observer::connect_v5(&broker.url()).await;
    let mut props = Properties::new();
    props
        .push_string(PropertyCode::ContentType, "text/plain")
        .expect("a property");
    props
        .push_int(PropertyCode::MessageExpiryInterval, 3600)
        .expect("a property");
    props
        .push_string(PropertyCode::ResponseTopic, "view/reply")
        .expect("a property");
    for (k, v) in [("site", "north"), ("<b>x</b>", "y")] {
        props
            .push_string_pair(PropertyCode::UserProperty, k, v)
            .expect("a property");
    }
    let message = MessageBuilder::new()
        .topic("view/props")
        .payload("21.5")
        .qos(1)
        .properties(props);
    sender.publish_with(message).await;
}

/// The retained messages a fresh subscriber to `filter` gets: everything that
/// arrives before a marker (a topic under `filter`) published after the
/// subscription.
async fn retained_now(broker: &Mosquitto, filter: &str, marker: &str) -> Vec<(String, String)> {
    let mut probe = Observer::connect(&broker.url(), &[filter]).await;
    probe.publish(marker, "marker", 1, false).await;
    let mut got = Vec::new();
    loop {
        let m = probe.next().await;
        if m.topic() == marker {
            return got;
        }
        if m.retained() {
            got.push((m.topic().to_string(), m.payload_str().to_string()));
        }
    }
}

#[actix_rt::test]
async fn a_retained_message_is_cleared_only_after_the_confirmation() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let outside = Observer::connect(&broker.url(), &[]).await;
    outside.publish("keep/a", "A1", 1, true).await;
    outside.publish("keep/b", "B1", 1, true).await;
    let driver = Driver::start();
    let page = driver.browser().await;
    open_page(&page, &app).await;
    subscribe_on_page(&page, "keep/#", false).await;
    wait_rows(&page, "keep/a", 1).await;
    wait_rows(&page, "keep/b", 1).await;

    fill(&page, "retained-filter", "keep/#").await;
    click(&page, &testid("retained-list-button")).await;
    let item = |topic: &str| {
        format!(
            "{} [data-testid=\"retained-item\"][data-topic=\"{topic}\"]",
            testid("retained-list")
        )
    };
    find(&page, &item("keep/a")).await;
    find(&page, &item("keep/b")).await;

    // Cancel leaves it; the confirmation clears it.
    click(
        &page,
        &format!("{} {}", item("keep/a"), testid("retained-clear")),
    )
    .await;
    click(
        &page,
        &format!("{} {}", item("keep/a"), testid("retained-cancel")),
    )
    .await;
    find(
        &page,
        &format!("{} {}", item("keep/a"), testid("retained-clear")),
    )
    .await;
    assert_eq!(
        retained_now(&broker, "keep/#", "keep/marker-1").await.len(),
        2,
        "nothing cleared by a cancel"
    );
    click(
        &page,
        &format!("{} {}", item("keep/a"), testid("retained-clear")),
    )
    .await;
    click(
        &page,
        &format!("{} {}", item("keep/a"), testid("retained-confirm")),
    )
    .await;
    eventually("keep/a gone from the list", || async {
        page.find(Locator::Css(&item("keep/a")))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    wait_text_contains(&page, "retained-status", "Cleared").await;
    assert_eq!(
        retained_now(&broker, "keep/#", "keep/marker-2").await,
        [("keep/b".to_string(), "B1".to_string())]
    );
    page.close().await.expect("browser closes");
}

#[actix_rt::test]
async fn clearing_a_retained_message_without_write_access_is_refused_inline() {
    let users = [("reader", "read-pass")];
    let guarded = GuardedApp::start(&users, Some("user reader\ntopic read keep/#\n")).await;
    let outside = Observer::connect(&guarded.broker.url(), &[]).await;
    outside.publish("keep/locked", "L1", 1, true).await;

    let driver = Driver::start();
    let page = driver.browser().await;
    page.goto(&guarded.app.url("/login"))
        .await
        .expect("the login page");
    fill(&page, "login-username", "reader").await;
    fill(&page, "login-password", "read-pass").await;
    click(&page, &testid("login-button")).await;
    wait_text_contains(&page, "current-user", "reader").await;
    wait_text_contains(&page, "socket-status", "socket: open").await;
    subscribe_on_page(&page, "keep/#", false).await;
    wait_rows(&page, "keep/locked", 1).await;

    fill(&page, "retained-filter", "keep/#").await;
    click(&page, &testid("retained-list-button")).await;
    let item = format!(
        "{} [data-testid=\"retained-item\"][data-topic=\"keep/locked\"]",
        testid("retained-list")
    );
    click(&page, &format!("{item} {}", testid("retained-clear"))).await;
    click(&page, &format!("{item} {}", testid("retained-confirm"))).await;
    let error = find(&page, &format!("{item} {}", testid("retained-item-error"))).await;
    eventually("the refusal in the item", || async {
        let text = error.text().await.ok()?;
        text.contains("forbidden").then_some(())
    })
    .await;
    // Still there, and still retained at the broker.
    find(&page, &format!("{item} {}", testid("retained-clear"))).await;
    assert_eq!(
        retained_now(&guarded.broker, "keep/#", "keep/marker").await,
        [("keep/locked".to_string(), "L1".to_string())]
    );
    page.close().await.expect("browser closes");
}
