//! The dashboard's forms and rules, in a real headless Chromium against a
//! real Mosquitto: what the publish form sends (MQTT 5 properties, a bad
//! expiry refused before anything is sent), the colour scheme following the
//! system's, and the page's own rules for JSON diffs, CSV cells, JSON Lines,
//! topic filters and properties.

use serde_json::Value;
use test_support::page::*;
use test_support::*;

/// Records in the page every frame it sends over its WebSocket.
const RECORD_SENT: &str = r#"
  window.__sent = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__sent.push(data);
    return send.call(this, data);
  };
  return true;
"#;

#[actix_rt::test]
async fn the_publish_form_sends_mqtt5_properties_and_refuses_a_bad_expiry() {
    // Properties need MQTT 5 between the app and the broker (over 3.1.1 the
    // server refuses such a publish rather than send it without them).
    let (page, _driver, _app, broker) = Dashboard::open_with(|s| {
        s.mqtt.set("PROTOCOL_VERSION", "5").expect("a setting");
    })
    .await
    .parts();
    let mut outside = Observer::connect(&broker.url(), &["props/#"]).await;
    js(&page, RECORD_SENT).await;

    fill(&page, "publish-topic", "props/a").await;
    fill(&page, "publish-payload", r#"{"v": 1}"#).await;
    click(&page, &testid("publish-properties-toggle")).await;
    fill(&page, "publish-content-type", "application/json").await;
    fill(&page, "publish-expiry", "1.5").await;
    click(&page, &testid("publish-user-property-add")).await;
    fill(&page, "publish-user-property-key", "origin").await;
    fill(&page, "publish-user-property-value", "dashboard").await;
    click(&page, &testid("publish-button")).await;
    wait_text_contains(&page, "publish-error", "Message expiry").await;

    fill(&page, "publish-expiry", "60").await;
    click(&page, &testid("publish-button")).await;
    wait_text_contains(&page, "publish-status", "Published to \"props/a\"").await;
    assert_eq!(
        outside.next_on("props/a").await.payload_str(),
        r#"{"v": 1}"#
    );
    let sent = js(
        &page,
        "return window.__sent.map((d) => JSON.parse(d)).filter((f) => f.type === 'publish')",
    )
    .await;
    let sent = sent.as_array().expect("frames");
    assert_eq!(sent.len(), 1, "the bad expiry sent nothing: {sent:?}");
    assert_eq!(
        sent[0]["properties"],
        serde_json::json!({
            "content_type": "application/json",
            "message_expiry_interval": 60,
            "user_properties": [["origin", "dashboard"]],
        })
    );
    page.close().await.expect("browser closes");
}

#[actix_rt::test]
async fn the_page_is_dark_when_the_system_is_and_light_when_it_is_light() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let driver = Driver::start();
    let looks = "return [matchMedia('(prefers-color-scheme: dark)').matches, \
                 getComputedStyle(document.body).backgroundColor, \
                 getComputedStyle(document.documentElement).getPropertyValue('--series-0').trim()]";
    let mut seen = Vec::new();
    for flags in [
        &["--blink-settings=preferredColorScheme=0"][..],
        &["--blink-settings=preferredColorScheme=1"][..],
    ] {
        let page = driver.browser_with(flags).await;
        open_page(&page, &app).await;
        seen.push(js(&page, looks).await);
        page.close().await.expect("browser closes");
    }
    assert_eq!(seen[0][0], true, "the first browser prefers dark: {seen:?}");
    assert_eq!(seen[1][0], false, "the second prefers light: {seen:?}");
    assert_eq!(seen[0][1], "rgb(11, 15, 20)", "a dark page");
    assert_eq!(seen[1][1], "rgb(243, 245, 248)", "a light page");
    assert_ne!(seen[0][2], seen[1][2], "chart colours follow the scheme");
}

#[actix_rt::test]
async fn diffs_csv_cells_topic_filters_and_properties_follow_their_rules() {
    let (page, _driver, _app, _broker) = Dashboard::open().await.parts();
    let got = js(
        &page,
        r#"
        const h = window.mqttActor.helpers;
        const marks = (a, b) => h.jsonDiff(a, b, {}).lines.filter((l) => l.mark).map((l) => [l.mark, l.path]);
        const row = (payload, topic = 't') => h.toCsv([{ t: 0, topic, payload, encoding: 'utf8', qos: 0, retain: false, size: 1 }])
          .split('\r\n')[1];
        return {
          nested: marks({ a: { b: 1, c: 2 }, d: [1, 2, 3] }, { a: { b: 1, c: 3 }, d: [1, 2], e: null }),
          typeChange: marks({ a: [1] }, { a: { x: 1 } }),
          same: h.jsonDiff({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }, {}).lines.length,
          clipped: h.jsonDiff({}, Object.fromEntries(Array.from({ length: 50 }, (_, i) => ['k' + i, i])), { maxLines: 10 }).clipped,
          csv: [row('a,b'), row('say "hi"'), row('two\nlines'), row('=1+1'), row('-3.5'), row('-x'), row('p', '@t')],
          jsonl: h.toJsonLines([{ t: 0, topic: 't', payload: 'x\ny', encoding: 'utf8', qos: 1, retain: true, size: 3 }]),
          filters: [h.filterProblem('a/#'), h.filterProblem('a/#/b'), h.filterProblem('a+/b'), h.filterProblem('+/+')],
          matches: [h.topicMatches('a/#', 'a'), h.topicMatches('+/b', 'a/b'), h.topicMatches('#', '$SYS/x'), h.topicMatches('a/+', 'a/b/c')],
          props: [
            h.normaliseProperties({ user_properties: { k: 'v' }, contentType: 'x' }),
            h.normaliseProperties({ user_properties: [{ key: 'a', value: 'b' }, ['c', 'd']] }),
            h.normaliseProperties({}),
            h.normaliseProperties('nonsense'),
          ],
        };
        "#,
    )
    .await;
    assert_eq!(
        got["nested"],
        serde_json::json!([["changed", "a.c"], ["removed", "d[2]"], ["added", "e"]])
    );
    assert_eq!(got["typeChange"], serde_json::json!([["changed", "a"]]));
    assert_eq!(got["same"], 1, "an unchanged value is one line");
    assert_eq!(got["clipped"], true);
    let cells: Vec<String> = got["csv"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let r = r.as_str().expect("a row");
            // time,ts_ms,topic,qos,retain,encoding,size,truncated,payload
            let topic_and_rest = r.splitn(3, ',').nth(2).expect("a topic cell");
            topic_and_rest.to_string()
        })
        .collect();
    assert_eq!(
        cells,
        [
            "t,0,false,utf8,1,false,\"a,b\"",
            "t,0,false,utf8,1,false,\"say \"\"hi\"\"\"",
            "t,0,false,utf8,1,false,\"two\nlines\"",
            "t,0,false,utf8,1,false,'=1+1",
            "t,0,false,utf8,1,false,-3.5",
            "t,0,false,utf8,1,false,'-x",
            "'@t,0,false,utf8,1,false,p",
        ]
    );
    let line: Value = serde_json::from_str(
        got["jsonl"]
            .as_str()
            .expect("text")
            .strip_suffix('\n')
            .expect("one line, ended"),
    )
    .expect("JSON");
    assert_eq!(line["payload"], "x\ny");
    assert_eq!(line["time"], "1970-01-01T00:00:00.000Z");
    assert_eq!(
        got["filters"],
        serde_json::json!([
            null,
            "\"#\" must be a whole level, and the last one",
            "\"+\" must be a whole level",
            null
        ])
    );
    assert_eq!(
        got["matches"],
        serde_json::json!([true, true, false, false])
    );
    assert_eq!(
        got["props"],
        serde_json::json!([
            {"content_type": "x", "user_properties": [["k", "v"]]},
            {"user_properties": [["a", "b"], ["c", "d"]]},
            null,
            null
        ])
    );
    page.close().await.expect("browser closes");
}
