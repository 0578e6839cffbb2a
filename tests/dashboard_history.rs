//! The dashboard on the server's history (range form of `GET /api/history`,
//! protocol 2.1), in a real headless Chromium against a real Mosquitto: the
//! History panel pages back with "Older" until the server has no older page,
//! and the Chart loads "last hour" from history, then goes on with a live
//! value after the last history point (none twice at the seam).

use fantoccini::{elements::Element, Client, Locator};
use serde_json::Value;
use test_support::*;

/// Values published before the page looks: more than one page (the page
/// asks 50 at a time, static/config.js HISTORY_FETCH_LIMIT).
const VALUES: usize = 60;
const PAGE: usize = 50;

fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

async fn find(page: &Client, css: &str) -> Element {
    eventually(&format!("{css} on the page"), || async {
        page.find(Locator::Css(css)).await.ok()
    })
    .await
}

async fn text_of(page: &Client, id: &str) -> String {
    match page.find(Locator::Css(&testid(id))).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn wait_text_contains(page: &Client, id: &str, want: &str) {
    eventually(&format!("{id} to contain {want:?}"), || async {
        text_of(page, id).await.contains(want).then_some(())
    })
    .await;
}

async fn fill(page: &Client, id: &str, value: &str) {
    let el = find(page, &testid(id)).await;
    el.clear().await.expect("clear");
    el.send_keys(value).await.expect("type");
}

async fn click(page: &Client, css: &str) {
    find(page, css).await.click().await.expect("click");
}

async fn choose(page: &Client, id: &str, value: &str) {
    eventually(&format!("{value:?} chosen in {id}"), || async {
        let el = page.find(Locator::Css(&testid(id))).await.ok()?;
        el.select_by_value(value).await.ok()
    })
    .await;
}

async fn js(page: &Client, script: &str) -> Value {
    page.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// Waits until `script` (a function body) returns `want`.
async fn wait_js(page: &Client, what: &str, script: &str, want: Value) {
    eventually(what, || async {
        let got = page.execute(script, vec![]).await.ok()?;
        (got == want).then_some(())
    })
    .await;
}

async fn open_page(page: &Client, app: &App) {
    page.goto(&app.url("/")).await.expect("the page loads");
    wait_text_contains(page, "broker-status", "broker: connected").await;
    wait_text_contains(page, "socket-status", "socket: open").await;
}

async fn subscribe_on_page(page: &Client, filter: &str) {
    fill(page, "subscribe-topic", filter).await;
    click(page, &testid("subscribe-button")).await;
    find(
        page,
        &format!(
            "{} [data-topic=\"{filter}\"][data-state=\"active\"]",
            testid("subscription-list")
        ),
    )
    .await;
}

async fn select_in_tree(page: &Client, topic: &str) {
    click(
        page,
        &format!("[data-testid=\"tree-node\"][data-topic=\"{topic}\"] > .tnode-row"),
    )
    .await;
    eventually(&format!("{topic} in the detail pane"), || async {
        (text_of(page, "detail-topic").await == topic).then_some(())
    })
    .await;
}

/// The payloads the History panel holds, oldest first.
const SHOWN: &str = "const h = window.mqttActor.state.history; \
     return (h.source === 'server' && h.server ? h.server : []).map((e) => e.payload)";

/// Needs the server side of protocol 2.1 (the range form of /api/history).
#[actix_rt::test]
async fn history_pages_back_with_older_and_the_chart_loads_the_last_hour_then_goes_live() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| s.history_per_topic = 500).await;
    let driver = Driver::start();
    let page = driver.browser().await;
    open_page(&page, &app).await;
    subscribe_on_page(&page, "hist/#").await;

    let outside = Observer::connect(&broker.url(), &[]).await;
    for i in 0..VALUES {
        outside.publish("hist/a", format!("{i}"), 1, false).await;
    }
    // All of them kept by the server before the page asks.
    let http = app.http();
    eventually("the values in the server's history", || async {
        let (status, body) = http.get("/api/history?topic=hist/a&limit=500").await;
        (status == 200 && body.as_array().map(Vec::len) == Some(VALUES)).then_some(())
    })
    .await;

    // The newest page, then "Older" until the server has no older page.
    select_in_tree(&page, "hist/a").await;
    let newest: Vec<Value> = (VALUES - PAGE..VALUES).map(|i| i.to_string().into()).collect();
    wait_js(&page, "the newest page in the History panel", SHOWN, newest.into()).await;
    find(&page, &format!("{}[data-more=\"true\"]", testid("history-list"))).await;
    click(&page, &testid("history-older")).await;
    let all: Vec<Value> = (0..VALUES).map(|i| i.to_string().into()).collect();
    wait_js(&page, "every value after Older", SHOWN, all.into()).await;
    find(&page, &format!("{}[data-more=\"false\"]", testid("history-list"))).await;
    wait_text_contains(&page, "history-count", &VALUES.to_string()).await;
    let older_hidden = js(
        &page,
        "return document.querySelector('[data-testid=\"history-older\"]').hidden",
    )
    .await;
    assert_eq!(older_hidden, Value::Bool(true), "no Older without an older page");
    let error = text_of(&page, "history-error").await;
    assert!(error.is_empty(), "no error shown: {error:?}");

    // The chart: the last hour from the server's history, then live.
    find(
        &page,
        &format!("{} option[value=\"hist/a\"]", testid("chart-topic")),
    )
    .await;
    choose(&page, "chart-topic", "hist/a").await;
    choose(&page, "chart-range", "hour").await;
    let done = format!(
        "{}[data-state=\"done\"][data-points=\"{VALUES}\"]",
        testid("chart-range-status")
    );
    find(&page, &done).await;
    let values = "return window.mqttActor.state.chart.series[0].points.map((p) => p.v)";
    let history: Vec<Value> = (0..VALUES).map(|i| (i as u64).into()).collect();
    wait_js(&page, "the last hour drawn from history", values, history.clone().into()).await;

    outside.publish("hist/a", "1000", 1, false).await;
    let mut with_live = history;
    with_live.push(1000u64.into());
    wait_js(&page, "a live point after the history", values, with_live.into()).await;
    page.close().await.expect("browser closes");
}
