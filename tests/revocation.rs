//! A reload takes effect on what is open (issue 17, row 4): after the ACL
//! file loses a read grant and the app re-reads it (what SIGHUP does), every
//! open WebSocket, event stream and server-side subscription is checked
//! again. A filter no longer readable is released, and its client is told
//! with `{"type":"unsubscribed","topic":…,"reason":"revoked"}`; it gets no
//! more of that filter's messages and goes on getting the rest. The app runs
//! in-process against a real Mosquitto, with a password file made by
//! `mosquitto_passwd` and a Mosquitto ACL file.
//!
//! "No more" holds even for messages the app was already delivering when the
//! filter went: under a flood of them, not one follows the notice (nor the
//! reply to the client's own `unsubscribe`).
//!
//! How a revocation meets a subscribe of the same filter: `revocation_races.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use test_support::*;

/// `reader` may read both halves of the plant; `writer` all of it.
const ACL: &str = "\
user reader
topic read plant/open/#
topic read plant/secret/#

user writer
topic readwrite plant/#
";

/// A broker, the access files and the app using them ([`GuardedApp`]), and
/// where its ACL is.
pub(crate) struct Setup {
    guarded: GuardedApp,
    acl: std::path::PathBuf,
}

impl std::ops::Deref for Setup {
    type Target = GuardedApp;

    fn deref(&self) -> &GuardedApp {
        &self.guarded
    }
}

impl Setup {
    pub(crate) async fn start() -> Setup {
        Self::start_with(|_| {}).await
    }

    /// [`Setup::start`], with the app's settings changed by `configure`.
    pub(crate) async fn start_with(configure: impl FnOnce(&mut example_app::Settings)) -> Setup {
        let users = [("reader", "read-pass"), ("writer", "write-pass")];
        let guarded = GuardedApp::start_with(&users, Some(ACL), configure).await;
        let acl = guarded.acl_path().expect("the ACL").to_path_buf();
        Setup { guarded, acl }
    }

    /// Gives back every grant of [`ACL`] and re-reads the files.
    pub(crate) fn restore(&self) {
        std::fs::write(&self.acl, ACL).expect("write the ACL");
        self.reload();
    }

    /// Rewrites the ACL without the line granting `line` and re-reads the
    /// files, as SIGHUP does.
    pub(crate) fn revoke(&self, line: &str) {
        Self::revoke_in(&self.acl, line, &self.app.reloader());
    }

    /// [`Setup::revoke`] from any thread: the ACL at `acl`, re-read by
    /// `reloader`.
    fn revoke_in(acl: &std::path::Path, line: &str, reloader: &example_app::Reloader) {
        let text = std::fs::read_to_string(acl).expect("read the ACL");
        assert!(text.contains(line), "{line:?} in {text:?}");
        std::fs::write(acl, text.replace(&format!("{line}\n"), "")).expect("write");
        reloader.reload().expect("the files reload");
    }

    pub(crate) fn reader(&self) -> WebClient {
        WebClient::new(self.app.addr()).basic("reader", "read-pass")
    }

    fn writer(&self) -> WebClient {
        WebClient::new(self.app.addr()).basic("writer", "write-pass")
    }

    pub(crate) async fn outside(&self) -> Observer {
        Observer::connect(&self.broker.url(), &[]).await
    }
}

pub(crate) async fn socket(client: &WebClient) -> Ws {
    let mut ws = client.ws(&[]).await.expect("the upgrade is accepted");
    assert_eq!(ws.next_of("status").await["connected"], true);
    ws
}

pub(crate) async fn subscribe(ws: &mut Ws, filter: &str, id: u64) {
    let reply = ws
        .request(json!({"type": "subscribe", "topic": filter, "qos": 1}), id)
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
}

pub(crate) fn revoked(filter: &str) -> Value {
    json!({"type": "unsubscribed", "topic": filter, "reason": "revoked"})
}

#[actix_rt::test]
async fn a_websocket_loses_a_revoked_filter_with_a_notice_and_keeps_the_others() {
    let setup = Setup::start().await;
    let outside = setup.outside().await;
    let mut reader = socket(&setup.reader()).await;
    subscribe(&mut reader, "plant/open/#", 1).await;
    subscribe(&mut reader, "plant/secret/#", 2).await;
    // The writer keeps the broker sending the secret half to the app.
    let mut writer = socket(&setup.writer()).await;
    subscribe(&mut writer, "plant/secret/#", 1).await;
    outside.publish("plant/secret/before", "1", 1, false).await;
    assert_eq!(
        reader.next_of("message").await["topic"],
        "plant/secret/before"
    );

    setup.revoke("topic read plant/secret/#");
    assert_eq!(
        reader.next_of("unsubscribed").await,
        revoked("plant/secret/#")
    );

    outside.publish("plant/secret/after", "2", 1, false).await;
    outside.publish("plant/open/marker", "3", 1, false).await;
    // In order from one publisher: the secret one would have come first.
    assert_eq!(
        reader.next_of("message").await["topic"],
        "plant/open/marker"
    );
    assert_eq!(
        writer.next_of("message").await["topic"],
        "plant/secret/before"
    );
    assert_eq!(
        writer.next_of("message").await["topic"],
        "plant/secret/after"
    );
    // The session no longer holds it, and may not take it again.
    let again = reader
        .request(json!({"type": "unsubscribe", "topic": "plant/secret/#"}), 3)
        .await;
    assert_eq!(again["code"], "bad_request", "{again}");
    let again = reader
        .request(json!({"type": "subscribe", "topic": "plant/secret/#"}), 4)
        .await;
    assert_eq!(again["code"], "forbidden", "{again}");
}

#[actix_rt::test]
async fn an_event_stream_is_told_of_a_revoked_filter_and_ends_with_its_last() {
    let setup = Setup::start().await;
    let outside = setup.outside().await;
    let base = setup.app.url("");
    let reader = Some(("reader", "read-pass"));
    let both = "/api/stream?topic=plant/open/%23&topic=plant/secret/%23";
    let mut stream = Sse::open(&base, both, reader).await.expect("stream");
    let mut secret_only = Sse::open(&base, "/api/stream?topic=plant/secret/%23", reader)
        .await
        .expect("stream");
    outside.publish("plant/secret/before", "1", 1, false).await;
    let first = stream.next_named("message").await.json();
    assert_eq!(first["topic"], "plant/secret/before");

    setup.revoke("topic read plant/secret/#");
    let notice = stream.next_named("unsubscribed").await.json();
    assert_eq!(notice, revoked("plant/secret/#"));
    let notice = secret_only.next_named("unsubscribed").await.json();
    assert_eq!(notice, revoked("plant/secret/#"));
    assert!(
        secret_only.ended().await,
        "a stream left with no filter ends"
    );

    outside.publish("plant/secret/after", "2", 1, false).await;
    outside.publish("plant/open/marker", "3", 1, false).await;
    let next = stream.next_named("message").await.json();
    assert_eq!(next["topic"], "plant/open/marker");

    setup.revoke("topic read plant/open/#");
    assert_eq!(
        stream.next_named("unsubscribed").await.json(),
        revoked("plant/open/#")
    );
    assert!(stream.ended().await, "a stream left with no filter ends");
}

#[actix_rt::test]
async fn a_server_side_subscription_whose_owner_lost_the_grant_is_dropped() {
    let setup = Setup::start().await;
    let added = setup
        .reader()
        .post_json("/api/subscriptions", json!({"topic": "plant/secret/#"}))
        .await;
    assert_eq!(added.status, 200, "{}", added.text());
    let added = setup
        .reader()
        .post_json("/api/subscriptions", json!({"topic": "plant/open/#"}))
        .await;
    assert_eq!(added.status, 200, "{}", added.text());
    let held = |answer: Answer| -> Vec<String> {
        let rows = answer.json();
        let mut held: Vec<String> = rows
            .as_array()
            .expect("a list")
            .iter()
            .filter(|row| row["server"] == true)
            .map(|row| row["topic"].as_str().unwrap_or_default().to_string())
            .collect();
        held.sort();
        held
    };
    let listed = held(setup.writer().get("/api/subscriptions").await);
    assert_eq!(listed, ["plant/open/#", "plant/secret/#"]);

    setup.revoke("topic read plant/secret/#");
    let writer = setup.writer();
    eventually("the server lets go of plant/secret/#", || {
        let mut writer = writer.clone();
        async move {
            let listed = held(writer.get("/api/subscriptions").await);
            (listed == ["plant/open/#"]).then_some(())
        }
    })
    .await;
}

/// Where the flood goes, and the topic of the markers that follow it.
const FLOODED: &str = "plant/secret/flood";
const MARKER: &str = "plant/open/marker";

/// A publisher sending QoS 0 bursts to [`FLOODED`] as fast as the broker
/// takes them, until stopped, on a thread of its own: faster than the app
/// delivers them, so that its `MqttActor` is always busy with them.
struct Flood {
    stop: Arc<AtomicBool>,
    /// Messages sent so far, and a signal at each burst.
    sent: Arc<(Mutex<u64>, Condvar)>,
    done: tokio::sync::oneshot::Receiver<Observer>,
}

impl Flood {
    /// Starts it at the broker of `url`, once the client subscribed: the
    /// app's `MqttActor`, busy with the flood, would answer nothing else.
    fn start(url: String) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new((Mutex::new(0u64), Condvar::new()));
        let (stopped, count) = (stop.clone(), sent.clone());
        let (done, finished) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            futures::executor::block_on(async move {
                let outside = Observer::connect(&url, &[]).await;
                let payload = "x".repeat(100);
                while !stopped.load(Ordering::Relaxed) {
                    let burst = (0..50).map(|_| (FLOODED.to_string(), payload.clone().into()));
                    outside.publish_burst(burst, 50).await;
                    *count.0.lock().expect("the count") += 50;
                    count.1.notify_all();
                }
                let _ = done.send(outside);
            })
        });
        Flood {
            stop,
            sent,
            done: finished,
        }
    }

    /// Waits, on any thread, until `more` messages went out from now.
    fn wait_for(sent: &(Mutex<u64>, Condvar), more: u64) {
        let (count, signal) = sent;
        let guard = count.lock().expect("the count");
        let start = *guard;
        let (guard, waited) = signal
            .wait_timeout_while(guard, PATIENCE, |sent| *sent < start + more)
            .expect("the count");
        drop(guard);
        assert!(!waited.timed_out(), "the flood sent {more} within PATIENCE");
    }

    /// Stops it, from a thread of its own, once another `more` messages
    /// went out: the app's `MqttActor` may then catch up.
    fn stop_after(&self, more: u64) {
        let (sent, stop) = (self.sent.clone(), self.stop.clone());
        std::thread::spawn(move || {
            Flood::wait_for(&sent, more);
            stop.store(true, Ordering::Relaxed);
        });
    }

    /// Stops it once its bursts went out; gives back its publisher, so
    /// that what it publishes next comes after the whole flood, and how
    /// many it sent.
    async fn stop(self) -> (Observer, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let outside = self.done.await.expect("the flood ends");
        let sent = *self.sent.0.lock().expect("the count");
        (outside, sent)
    }
}

/// A client's frames, WebSocket or event stream alike: the type (event
/// name) and the JSON of the next one, or `None` after `wait`.
trait Frames {
    async fn frame_within(&mut self, wait: Duration) -> Option<(String, Value)>;

    async fn frame(&mut self) -> (String, Value) {
        self.frame_within(PATIENCE)
            .await
            .expect("a frame within PATIENCE")
    }
}

impl Frames for Ws {
    async fn frame_within(&mut self, wait: Duration) -> Option<(String, Value)> {
        let value = self.next_within(wait).await?;
        Some((
            value["type"].as_str().unwrap_or_default().to_string(),
            value,
        ))
    }
}

impl Frames for Sse {
    async fn frame_within(&mut self, wait: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next_within(left).await?;
            // Comments (the stream's opening, heartbeats) are no frames.
            if !event.event.is_empty() {
                return Some((event.event.clone(), event.json()));
            }
        }
    }
}

fn is_flooded(kind: &str, frame: &Value) -> bool {
    kind == "message" && frame["topic"] == FLOODED
}

/// Reads `client` until it got `count` flooded messages: the flood is
/// reaching it.
async fn until_flooded(client: &mut impl Frames, count: usize) {
    let mut got = 0;
    while got < count {
        let (kind, frame) = client.frame().await;
        got += usize::from(is_flooded(&kind, &frame));
    }
}

/// Reads `client` until `is_notice` says a frame is the notice that the
/// flooded filter is gone; the flooded messages it got before it.
async fn until_notice(client: &mut impl Frames, is_notice: impl Fn(&str, &Value) -> bool) -> usize {
    let mut before = 0;
    loop {
        let (kind, frame) = client.frame().await;
        if is_notice(&kind, &frame) {
            return before;
        }
        before += usize::from(is_flooded(&kind, &frame));
    }
}

/// Stops the flood, then has its publisher send markers on a filter the
/// client still holds until one reaches it (the first may be lost to a
/// full queue on the way); the flooded messages the client got meanwhile.
/// The flood went out before the markers, from the same connection, so
/// whatever the app still had of it arrives before the first marker.
async fn flooded_until_marker(client: &mut impl Frames, flood: Flood) -> (usize, u64) {
    let (outside, sent) = flood.stop().await;
    let mut after = 0;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message on {MARKER} within PATIENCE: the filter still held stopped"
        );
        outside.publish(MARKER, "marker", 1, false).await;
        // Not a wait for the marker (that is the deadline's): the period of
        // sending another.
        while let Some((kind, frame)) = client.frame_within(Duration::from_millis(500)).await {
            if kind == "message" && frame["topic"] == MARKER {
                return (after, sent);
            }
            after += usize::from(is_flooded(&kind, &frame));
        }
    }
}

fn is_revoked_notice(kind: &str, frame: &Value) -> bool {
    kind == "unsubscribed" && *frame == revoked("plant/secret/#")
}

/// Runs `client` on a thread of its own (with its own actix system), so
/// that it reads, asks and reloads while the app's `MqttActor`, which runs
/// on the test's thread (the app is in-process), is busy with the flood;
/// what it returns, within twice [`PATIENCE`].
async fn on_its_own_thread<T, Fut>(client: impl FnOnce() -> Fut + Send + 'static) -> T
where
    T: Send + 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let value = actix_rt::System::new().block_on(client());
        let _ = done.send(value);
    });
    tokio::time::timeout(2 * PATIENCE, result)
        .await
        .expect("the client is done within twice PATIENCE")
        .expect("the client's thread ends well")
}

#[actix_rt::test]
async fn no_message_of_a_revoked_filter_follows_its_notice_under_a_flood() {
    let setup = Setup::start().await;
    let (addr, acl, reloader) = (setup.app.addr(), setup.acl.clone(), setup.app.reloader());
    let url = setup.broker.url();
    let (before, after, sent) = on_its_own_thread(move || async move {
        let client = WebClient::new(addr).basic("reader", "read-pass");
        let mut reader = socket(&client).await;
        subscribe(&mut reader, "plant/open/#", 1).await;
        subscribe(&mut reader, "plant/secret/#", 2).await;
        let flood = Flood::start(url);
        until_flooded(&mut reader, 2000).await;

        Setup::revoke_in(&acl, "topic read plant/secret/#", &reloader);
        flood.stop_after(2000);
        let before = until_notice(&mut reader, is_revoked_notice).await;
        let (after, sent) = flooded_until_marker(&mut reader, flood).await;
        (before, after, sent)
    })
    .await;
    eprintln!("flood of {sent}: {before} before the notice, {after} after it");
    assert_eq!(after, 0, "flooded messages after the `unsubscribed` notice");
}

#[actix_rt::test]
async fn no_message_of_a_revoked_filter_follows_its_event_under_a_flood() {
    let setup = Setup::start().await;
    let (base, acl, reloader) = (setup.app.url(""), setup.acl.clone(), setup.app.reloader());
    let url = setup.broker.url();
    let (before, after, sent) = on_its_own_thread(move || async move {
        let reader = Some(("reader", "read-pass"));
        let both = "/api/stream?topic=plant/open/%23&topic=plant/secret/%23";
        let mut stream = Sse::open(&base, both, reader).await.expect("stream");
        let flood = Flood::start(url);
        until_flooded(&mut stream, 2000).await;

        Setup::revoke_in(&acl, "topic read plant/secret/#", &reloader);
        flood.stop_after(2000);
        let before = until_notice(&mut stream, is_revoked_notice).await;
        let (after, sent) = flooded_until_marker(&mut stream, flood).await;
        (before, after, sent)
    })
    .await;
    eprintln!("flood of {sent}: {before} before the event, {after} after it");
    assert_eq!(after, 0, "flooded messages after `event: unsubscribed`");
}

#[actix_rt::test]
async fn no_message_of_a_filter_follows_the_reply_to_its_unsubscribe_under_a_flood() {
    let setup = Setup::start().await;
    let (addr, url) = (setup.app.addr(), setup.broker.url());
    let (before, after, sent) = on_its_own_thread(move || async move {
        let client = WebClient::new(addr).basic("reader", "read-pass");
        let mut reader = socket(&client).await;
        subscribe(&mut reader, "plant/open/#", 1).await;
        subscribe(&mut reader, "plant/secret/#", 2).await;
        let flood = Flood::start(url);
        until_flooded(&mut reader, 2000).await;

        let unsubscribe = json!({"type": "unsubscribe", "topic": "plant/secret/#", "id": 3});
        reader.send(unsubscribe).await;
        flood.stop_after(2000);
        let before = until_notice(&mut reader, |kind, frame| {
            kind == "unsubscribed" && frame["id"] == 3
        })
        .await;
        let (after, sent) = flooded_until_marker(&mut reader, flood).await;
        (before, after, sent)
    })
    .await;
    eprintln!("flood of {sent}: {before} before the reply, {after} after it");
    assert_eq!(after, 0, "flooded messages after the `unsubscribed` reply");
}
