//! Fuzz run of the WebSocket API (issue 8): 10,000 generated frames (proptest
//! strategies, a fixed seed so a failure replays) from one hostile client —
//! text that is not JSON, control characters, wrong types, huge numbers, deep
//! nesting, long strings, and well-formed requests with hostile topics —
//! against the real app and Mosquitto. Every frame gets exactly one answer
//! (paired by `id` where the frame can carry one), the server stays healthy,
//! and a well-behaved client on the same server gets all of its messages.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};
use test_support::*;

const FRAMES: usize = 10_000;
/// Frames sent before their answers are read.
const WINDOW: usize = 50;

/// Text of a few kinds: any characters, control characters, MQTT's special ones.
fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter),
        proptest::collection::vec(
            prop_oneof![
                Just('/'),
                Just('+'),
                Just('#'),
                Just('$'),
                Just('\0'),
                Just('\u{1}'),
                Just('\u{7f}'),
                Just('\u{9f}'),
                Just('\u{feff}'),
                Just('\u{ffff}'),
                Just('a'),
                Just(' '),
            ],
            0..max
        )
        .prop_map(String::from_iter),
    ]
}

/// Topics and filters a hostile client might try: empty, wildcards in the
/// wrong places, `$` and `$share`, NUL and control characters, very deep or
/// very long, or plain ones (never under `good/`, the bystander's).
fn hostile_topic() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => hostile_text(24),
        4 => "[a-c+#/$]{0,12}",
        3 => "[a-z]{1,6}(/[a-z]{1,6}){0,4}",
        1 => (1usize..70_000).prop_map(|n| format!("d/{}", "/".repeat(n))),
        1 => (1usize..70_000).prop_map(|n| "x".repeat(n)),
        1 => "(\\$share/[a-z]{0,3}/)?[a-z]{1,4}(/[a-z+#]{1,3}){0,3}",
        1 => Just("#".to_string()),
        1 => Just("$SYS/#".to_string()),
    ]
    .prop_map(|t| {
        if t.starts_with("good") {
            format!("x{t}")
        } else {
            t
        }
    })
}

/// Any JSON value, nested a few levels, with numbers at their extremes.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        hostile_text(40).prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,8}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value for a request field: mostly of the right type, sometimes not.
fn field(right: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![8 => right, 1 => any_json()].boxed()
}

/// A request object of a known type with fields of any sort.
fn request() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        4 => Just("subscribe"),
        2 => Just("unsubscribe"),
        4 => Just("publish"),
        1 => Just("ping"),
        1 => prop_oneof![Just("dance"), Just(""), Just("SUBSCRIBE")],
    ];
    let qos = field(prop_oneof![
        (0i64..3).prop_map(Value::from),
        (-5i64..10).prop_map(Value::from)
    ]);
    let payload = field(prop_oneof![
        8 => hostile_text(64).prop_map(Value::from),
        1 => (200_000usize..300_000).prop_map(|n| Value::from("p".repeat(n))),
    ]);
    let encoding = field(prop_oneof![
        Just(json!("utf8")),
        Just(json!("base64")),
        Just(json!("hex"))
    ]);
    let retain = field(any::<bool>().prop_map(Value::from));
    (
        kind,
        proptest::option::weighted(0.95, field(hostile_topic().prop_map(Value::from))),
        proptest::option::of(qos),
        proptest::option::of(payload),
        proptest::option::of(encoding),
        proptest::option::of(retain),
    )
        .prop_map(|(kind, topic, qos, payload, encoding, retain)| {
            let mut object = Map::new();
            object.insert("type".into(), kind.into());
            for (name, value) in [
                ("topic", topic),
                ("qos", qos),
                ("payload", payload),
                ("encoding", encoding),
                ("retain", retain),
            ] {
                if let Some(v) = value {
                    object.insert(name.into(), v);
                }
            }
            Value::Object(object)
        })
}

/// One frame: its text, and whether it is a JSON object (which gets our `id`).
#[derive(Debug, Clone)]
enum Frame {
    /// Text sent as it is (its answer has no `id`).
    Raw(String),
    /// An object; the run gives it an `id` before sending.
    Object(Map<String, Value>),
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        3 => hostile_text(200).prop_map(Frame::Raw),
        1 => (1usize..5_000).prop_map(|n| Frame::Raw(format!("{}{}", "[".repeat(n), "]".repeat(n)))),
        1 => Just(Frame::Raw("1e400".to_string())),
        1 => Just(Frame::Raw(r#"{"type":"ping","id":1e400}"#.to_string())),
        1 => any_json().prop_map(|v| match v {
            Value::Object(m) => Frame::Object(m),
            other => Frame::Raw(other.to_string()),
        }),
        6 => request().prop_map(|v| match v {
            Value::Object(m) => Frame::Object(m),
            other => Frame::Raw(other.to_string()),
        }),
    ]
}

/// The frame's text, with `id` set on objects; `None` for frames whose answer
/// carries no id.
fn text_of(frame: Frame, id: u64) -> (String, Option<u64>) {
    match frame {
        Frame::Raw(text) => {
            // Raw text that happens to be an object with an id would be
            // answered with that id; the strategies make none, check it.
            let parsed: Option<Value> = serde_json::from_str(&text).ok();
            assert!(
                parsed.as_ref().and_then(|v| v.get("id")).is_none(),
                "raw frames carry no id: {text}"
            );
            (text, None)
        }
        Frame::Object(mut object) => {
            object.insert("id".into(), id.into());
            (Value::Object(object).to_string(), Some(id))
        }
    }
}

/// What a frame from the server was, for the count of answers.
enum Answer {
    /// Not an answer: a message, a status or a `lagged` notice.
    Other,
    /// The answer to the request with this id.
    Id(u64),
    /// An error without an id (for a frame that could not carry one).
    WithoutId,
}

/// Counts `v` as an answer: per id in `answered`, or in `without_id`; and
/// its code (or type) in `codes`.
fn count_answer(
    v: &Value,
    answered: &mut BTreeMap<u64, usize>,
    without_id: &mut usize,
    codes: &mut BTreeMap<String, usize>,
) -> Answer {
    let kind = v["type"].as_str().unwrap_or_default().to_string();
    if matches!(kind.as_str(), "message" | "status" | "lagged") {
        return Answer::Other;
    }
    let code = v["code"].as_str().unwrap_or(&kind).to_string();
    *codes.entry(code).or_default() += 1;
    match v.get("id") {
        Some(id) => {
            let id = id.as_u64().expect("our ids are numbers");
            *answered.entry(id).or_default() += 1;
            Answer::Id(id)
        }
        None => {
            assert_eq!(kind, "error", "an answer without id is an error: {v}");
            *without_id += 1;
            Answer::WithoutId
        }
    }
}

#[actix_rt::test]
async fn ten_thousand_hostile_frames_each_get_one_answer_and_harm_nobody() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let http = app.http();
    let mut good = app.ws().await;
    let reply = good
        .request(json!({"type": "subscribe", "topic": "good/#", "qos": 1}), 1)
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    let feed = Observer::connect(&broker.url(), &[]).await;

    let (mut tx, mut rx) = app.ws().await.split();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[8; 32]),
    );
    let strategy = frame();
    let mut published = 0u64;
    // Answers counted per request id over the whole run, and the answers
    // without an id, so that a duplicate or a missing answer fails at the end
    // whichever batch it falls in.
    let mut answered = BTreeMap::<u64, usize>::new();
    let (mut sent_without_id, mut answered_without_id) = (0usize, 0usize);
    let mut codes = BTreeMap::<String, usize>::new();
    let mut sent_with_id = HashSet::new();
    for batch in 0..FRAMES / WINDOW {
        let mut ids = HashSet::new();
        let mut anonymous = 0usize;
        for i in 0..WINDOW {
            let id = (batch * WINDOW + i) as u64;
            let frame = strategy.new_tree(&mut runner).expect("a frame").current();
            let (text, id) = text_of(frame, id);
            match id {
                Some(id) => {
                    ids.insert(id);
                    sent_with_id.insert(id);
                }
                None => anonymous += 1,
            }
            tx.send_text(&text).await;
        }
        sent_without_id += anonymous;
        // Exactly one answer per frame: by id, or (for frames that cannot
        // carry one) an error without one.
        while !ids.is_empty() || anonymous > 0 {
            let v = rx.next_within(PATIENCE).await.unwrap_or_else(|| {
                panic!(
                    "batch {batch}: no answer for ids {ids:?} and {anonymous} frames without one"
                )
            });
            match count_answer(&v, &mut answered, &mut answered_without_id, &mut codes) {
                Answer::Other => {}
                Answer::Id(id) => {
                    ids.remove(&id);
                }
                Answer::WithoutId => anonymous = anonymous.saturating_sub(1),
            }
        }
        // The bystander's traffic goes on meanwhile.
        feed.publish(
            &format!("good/{published}"),
            format!("{published}"),
            1,
            false,
        )
        .await;
        let v = good.next_of("message").await;
        assert_eq!(v["topic"], format!("good/{published}"), "{v}");
        assert_eq!(v["payload"], format!("{published}"));
        published += 1;
        if batch % 20 == 0 {
            assert_eq!(http.get("/healthz").await.0, 200);
        }
    }
    assert_eq!(http.get("/healthz").await.0, 200);
    assert_eq!(
        http.get("/readyz").await.0,
        200,
        "still connected to the broker"
    );
    // The hostile socket is still open and answers; what comes before the
    // last pong (answers come in order) still counts: a late duplicate of
    // the last batch shows here.
    tx.send(json!({"type": "ping", "id": "last"})).await;
    loop {
        let v = rx
            .next_within(PATIENCE)
            .await
            .expect("the hostile socket is open");
        if v["id"] == "last" {
            assert_eq!(v["type"], "pong");
            break;
        }
        count_answer(&v, &mut answered, &mut answered_without_id, &mut codes);
    }
    let answers = answered.values().sum::<usize>() + answered_without_id;
    println!("{answers} answers: {codes:?}");
    let wrong: Vec<(u64, usize)> = (0..FRAMES as u64)
        .filter(|id| sent_with_id.contains(id))
        .map(|id| (id, answered.get(&id).copied().unwrap_or(0)))
        .filter(|(_, n)| *n != 1)
        .collect();
    assert!(
        wrong.is_empty(),
        "every frame with an id gets exactly one answer; (id, answers) otherwise: {wrong:?}"
    );
    let strangers: Vec<&u64> = answered
        .keys()
        .filter(|id| !sent_with_id.contains(id))
        .collect();
    assert!(
        strangers.is_empty(),
        "answers for ids never sent: {strangers:?}"
    );
    assert_eq!(
        answered_without_id, sent_without_id,
        "every frame that cannot carry an id gets exactly one error"
    );
    assert_eq!(answers, FRAMES);
    println!("the bystander got all {published} of its messages, in order");
}

/// What the fuzz run found first: a session that releases `#` must leave
/// every other session's filters delivering. (Paho's `TopicMatcher` left an
/// empty `#` node behind, and its match iterator stops at an empty `#` node,
/// so every topic under it stopped matching anything.)
#[actix_rt::test]
async fn releasing_a_wildcard_leaves_other_sessions_receiving() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let mut good = app.ws().await;
    let mut other = app.ws().await;
    let feed = Observer::connect(&broker.url(), &[]).await;
    for (filter, id) in [("good/#", 1), ("good/+", 2)] {
        let reply = good
            .request(json!({"type": "subscribe", "topic": filter}), id)
            .await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
    }
    for (n, wildcard) in ["#", "good/#", "+/#", "+"].into_iter().enumerate() {
        let reply = other
            .request(json!({"type": "subscribe", "topic": wildcard}), 10)
            .await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
        let reply = other
            .request(json!({"type": "unsubscribe", "topic": wildcard}), 11)
            .await;
        assert_eq!(reply["type"], "unsubscribed", "{reply}");
        feed.publish(&format!("good/{n}"), "still here", 1, false)
            .await;
        let v = good.next_of("message").await;
        assert_eq!(
            v["topic"],
            format!("good/{n}"),
            "after {wildcard} was released: {v}"
        );
    }
}
