//! The dashboard's page in a headless Chromium (a [`Client`] of
//! [`crate::Driver`]): elements found by their `data-testid`, text waited
//! for, fields filled, buttons clicked, selects chosen, scripts run, the
//! page opened until it says it is connected, topics picked in the tree,
//! screenshots; and [`Dashboard`], a broker, the app and a browser on its page. Every wait is for the page's state, with the one deadline of
//! [`crate::eventually`].

use std::path::Path;

use fantoccini::{elements::Element, Client, Locator};
use serde_json::Value;

use example_app::Settings;

use crate::{eventually, init_logging, App, Driver, Mosquitto};

/// The CSS selector of the element whose `data-testid` is `id`.
pub fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// Waits until an element matches `css`, and returns it.
pub async fn find(page: &Client, css: &str) -> Element {
    eventually(&format!("{css} on the page"), || async {
        page.find(Locator::Css(css)).await.ok()
    })
    .await
}

/// The text of the element `id` now (empty when there is none).
pub async fn text_of(page: &Client, id: &str) -> String {
    match page.find(Locator::Css(&testid(id))).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the text of the element `id` contains `want`.
pub async fn wait_text_contains(page: &Client, id: &str, want: &str) {
    eventually(&format!("{id} to contain {want:?}"), || async {
        text_of(page, id).await.contains(want).then_some(())
    })
    .await;
}

/// Replaces what the field `id` holds with `value`, typed.
pub async fn fill(page: &Client, id: &str, value: &str) {
    let el = find(page, &testid(id)).await;
    el.clear().await.expect("clear");
    el.send_keys(value).await.expect("type");
}

/// Clicks the element matching `css`, once there is one.
pub async fn click(page: &Client, css: &str) {
    find(page, css).await.click().await.expect("click");
}

/// Chooses `value` in the select `id`, once it has that option. The page
/// rebuilds some selects as topics arrive (the chart's): an element found
/// just before it was replaced is stale, and is looked up again.
pub async fn choose(page: &Client, id: &str, value: &str) {
    eventually(&format!("{value:?} chosen in {id}"), || async {
        let el = page.find(Locator::Css(&testid(id))).await.ok()?;
        el.select_by_value(value).await.ok()
    })
    .await;
}

/// Runs `script` (a function body) in the page and returns what it returns.
pub async fn js(page: &Client, script: &str) -> Value {
    js_with(page, script, vec![]).await
}

/// Runs `script` (a function body reading `arguments`) in the page with
/// `args`, and returns what it returns.
pub async fn js_with(page: &Client, script: &str, args: Vec<Value>) -> Value {
    page.execute(script, args)
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// Opens the dashboard of `app` and waits until it says that the app is
/// connected to its broker and its WebSocket is open.
pub async fn open_page(page: &Client, app: &App) {
    page.goto(&app.url("/")).await.expect("the page loads");
    wait_text_contains(page, "broker-status", "broker: connected").await;
    wait_text_contains(page, "socket-status", "socket: open").await;
}

/// Waits until the subscription list shows `filter` as active.
pub async fn wait_active_on_page(page: &Client, filter: &str) {
    find(
        page,
        &format!(
            "{} [data-topic=\"{filter}\"][data-state=\"active\"]",
            testid("subscription-list")
        ),
    )
    .await;
}

/// Clicks `topic` in the topic tree and waits until the detail pane shows it.
pub async fn select_in_tree(page: &Client, topic: &str) {
    let row = format!("[data-testid=\"tree-node\"][data-topic=\"{topic}\"] > .tnode-row");
    click(page, &row).await;
    eventually(&format!("{topic} in the detail pane"), || async {
        (text_of(page, "detail-topic").await == topic).then_some(())
    })
    .await;
}

/// Saves a screenshot of the page as `target/screenshots/NAME.png` of the
/// workspace (to look at, not checked).
pub async fn screenshot(page: &Client, name: &str) {
    let png = page.screenshot().await.expect("a screenshot");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = workspace.join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot saved");
}

/// A broker, the app connected to it, ChromeDriver and one headless browser
/// with the dashboard open: the start of most browser tests. Destructure it
/// with a name for every field (`driver: _driver`): a field left as `_` would
/// be dropped at once, and with the driver the browser.
pub struct Dashboard {
    /// The browser, on the dashboard (see [`open_page`]).
    pub page: Client,
    /// ChromeDriver; dropping it ends the browser.
    pub driver: Driver,
    /// The app the page is from.
    pub app: App,
    /// The broker the app is connected to.
    pub broker: Mosquitto,
}

impl Dashboard {
    /// Starts a broker, the app with the test settings, ChromeDriver and a
    /// browser, and opens the dashboard.
    pub async fn open() -> Dashboard {
        Self::open_with(|_| {}).await
    }

    /// As [`Dashboard::open`], with the app's test settings changed by `configure`.
    pub async fn open_with(configure: impl FnOnce(&mut Settings)) -> Dashboard {
        init_logging();
        let broker = Mosquitto::start();
        let app = App::start_with(broker.port, configure).await;
        let driver = Driver::start();
        let page = driver.browser().await;
        open_page(&page, &app).await;
        Dashboard {
            page,
            driver,
            app,
            broker,
        }
    }

    /// The parts, to bind in one line: `let (page, _driver, app, broker) = …`.
    pub fn parts(self) -> (Client, Driver, App, Mosquitto) {
        (self.page, self.driver, self.app, self.broker)
    }
}
