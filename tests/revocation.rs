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
//! A filter revoked and then given back can be subscribed to again, and is
//! then held like any other: counted against the session's limit, and let go
//! of by an `unsubscribe`. (The late news of the revocation reaching the
//! session after the new grant cannot be brought about from outside: the
//! session handles its mailbox before its client's frames, and before the
//! notice leaves its outbox. `filters.rs`'s unit tests play that order.)
//!
//! A subscribe the broker answers only after the revocation (the broker
//! process is stopped meanwhile: [`Stalled`]) is released once granted, and
//! so is one sent again for a filter held, even if the grant came back
//! before the answer: whether the release took that hold at the app's
//! `MqttActor` cannot be told, so the client is told it holds it no more,
//! and holds it nowhere.

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
struct Setup {
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
    async fn start() -> Setup {
        Self::start_with(|_| {}).await
    }

    /// [`Setup::start`], with the app's settings changed by `configure`.
    async fn start_with(configure: impl FnOnce(&mut example_app::Settings)) -> Setup {
        let users = [("reader", "read-pass"), ("writer", "write-pass")];
        let guarded = GuardedApp::start_with(&users, Some(ACL), configure).await;
        let acl = guarded.acl_path().expect("the ACL").to_path_buf();
        Setup { guarded, acl }
    }

    /// Gives back every grant of [`ACL`] and re-reads the files.
    fn restore(&self) {
        std::fs::write(&self.acl, ACL).expect("write the ACL");
        self.reload();
    }

    /// Rewrites the ACL without the line granting `line` and re-reads the
    /// files, as SIGHUP does.
    fn revoke(&self, line: &str) {
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

    fn reader(&self) -> WebClient {
        WebClient::new(self.app.addr()).basic("reader", "read-pass")
    }

    fn writer(&self) -> WebClient {
        WebClient::new(self.app.addr()).basic("writer", "write-pass")
    }

    async fn outside(&self) -> Observer {
        Observer::connect(&self.broker.url(), &[]).await
    }
}

/// The broker's process, stopped (SIGSTOP) until this is dropped (SIGCONT):
/// meanwhile it answers nothing, so a subscribe the app sends it stays
/// unanswered for as long as the test needs.
struct Stalled(String);

impl Stalled {
    fn broker(broker: &Mosquitto) -> Stalled {
        // Its command line names its configuration, in its own folder.
        let dir = broker.dir().to_string_lossy().to_string();
        let pid = std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|line| String::from_utf8_lossy(&line).contains(&dir))
            })
            .expect("the broker's process");
        let stalled = Stalled(pid.to_string());
        stalled.signal("-STOP");
        stalled
    }

    fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([signal, &self.0])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill {signal} {}", self.0);
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        self.signal("-CONT");
    }
}

async fn socket(client: &WebClient) -> Ws {
    let mut ws = client.ws(&[]).await.expect("the upgrade is accepted");
    assert_eq!(ws.next_of("status").await["connected"], true);
    ws
}

async fn subscribe(ws: &mut Ws, filter: &str, id: u64) {
    let reply = ws
        .request(json!({"type": "subscribe", "topic": filter, "qos": 1}), id)
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
}

/// Sends a subscribe to `filter` and waits until the session has handled
/// it (asked the `MqttActor`): the answer to a ping sent after it.
async fn asked(ws: &mut Ws, filter: &str, id: u64) {
    ws.send(json!({"type": "subscribe", "topic": filter, "id": id}))
        .await;
    let pong = ws.request(json!({"type": "ping"}), id + 1000).await;
    assert_eq!(pong["type"], "pong", "{pong}");
}

/// Reads `ws` up to the reply to request `id`.
async fn reply_to(ws: &mut Ws, id: u64) -> Value {
    loop {
        let frame = ws.next().await;
        if frame["id"] == id {
            return frame;
        }
    }
}

/// `reader`, holding `plant/open/#`, no longer holds `plant/secret/#`: its
/// `unsubscribe` is refused, and no message of it comes.
async fn holds_no_secret(reader: &mut Ws, outside: &Observer, id: u64) {
    let again = reader
        .request(
            json!({"type": "unsubscribe", "topic": "plant/secret/#"}),
            id,
        )
        .await;
    assert_eq!(again["code"], "bad_request", "held no more: {again}");
    outside.publish("plant/secret/after", "2", 1, false).await;
    outside.publish("plant/open/marker", "3", 1, false).await;
    // In order from one publisher: the secret one would have come first.
    assert_eq!(
        reader.next_of("message").await["topic"],
        "plant/open/marker"
    );
}

async fn unsubscribe(ws: &mut Ws, filter: &str, id: u64) {
    let reply = ws
        .request(json!({"type": "unsubscribe", "topic": filter}), id)
        .await;
    assert_eq!(reply["type"], "unsubscribed", "{reply}");
}

/// Asks for one filter more than the session's limit lets it hold.
async fn refused_for_the_limit(ws: &mut Ws, filter: &str, id: u64) {
    let reply = ws
        .request(json!({"type": "subscribe", "topic": filter}), id)
        .await;
    assert_eq!(reply["code"], "bad_request", "{reply}");
    let message = reply["message"].as_str().unwrap_or_default();
    assert!(message.contains("WS_MAX_FILTERS"), "{reply}");
}

fn revoked(filter: &str) -> Value {
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

/// A reader holding `plant/open/#` and `plant/secret/#` in a session that
/// may hold two filters, after `plant/secret/#` was revoked (the notice
/// read).
async fn revoked_reader(setup: &Setup) -> Ws {
    let mut reader = socket(&setup.reader()).await;
    subscribe(&mut reader, "plant/open/#", 1).await;
    subscribe(&mut reader, "plant/secret/#", 2).await;
    refused_for_the_limit(&mut reader, "plant/open/a", 3).await;
    setup.revoke("topic read plant/secret/#");
    assert_eq!(
        reader.next_of("unsubscribed").await,
        revoked("plant/secret/#")
    );
    reader
}

/// `reader` (see [`revoked_reader`]) subscribes to `plant/secret/#` again,
/// given back: it gets its messages, it counts against the limit, and an
/// `unsubscribe` lets go of it (no message of it after, its place free).
async fn held_again_until_unsubscribed(reader: &mut Ws, outside: &Observer) {
    subscribe(reader, "plant/secret/#", 6).await;
    outside.publish("plant/secret/back", "1", 1, false).await;
    assert_eq!(
        reader.next_of("message").await["topic"],
        "plant/secret/back"
    );
    // Held once more: it takes its place again.
    refused_for_the_limit(reader, "plant/open/a", 7).await;

    unsubscribe(reader, "plant/secret/#", 8).await;
    outside.publish("plant/secret/gone", "2", 1, false).await;
    outside.publish("plant/open/marker", "3", 1, false).await;
    // In order from one publisher: the secret one would have come first.
    assert_eq!(
        reader.next_of("message").await["topic"],
        "plant/open/marker"
    );
    subscribe(reader, "plant/open/a", 9).await;
    let again = reader
        .request(
            json!({"type": "unsubscribe", "topic": "plant/secret/#"}),
            10,
        )
        .await;
    assert_eq!(again["code"], "bad_request", "held no more: {again}");
}

#[actix_rt::test]
async fn a_filter_given_back_right_after_its_revocation_is_held_again_until_unsubscribed() {
    let setup = Setup::start_with(|s| s.max_filters = 2).await;
    let outside = setup.outside().await;
    let mut reader = revoked_reader(&setup).await;
    setup.restore();
    held_again_until_unsubscribed(&mut reader, &outside).await;
}

#[actix_rt::test]
async fn a_revoked_filter_frees_its_place_and_once_given_back_is_held_again() {
    let setup = Setup::start_with(|s| s.max_filters = 2).await;
    let outside = setup.outside().await;
    let mut reader = revoked_reader(&setup).await;
    // Its place is free.
    subscribe(&mut reader, "plant/open/a", 4).await;
    unsubscribe(&mut reader, "plant/open/a", 5).await;
    setup.restore();
    held_again_until_unsubscribed(&mut reader, &outside).await;
}

#[actix_rt::test]
async fn a_subscribe_answered_after_its_filter_was_revoked_is_released_once_granted() {
    let setup = Setup::start().await;
    let outside = setup.outside().await;
    let mut reader = socket(&setup.reader()).await;
    subscribe(&mut reader, "plant/open/#", 1).await;
    {
        let _stalled = Stalled::broker(&setup.broker);
        asked(&mut reader, "plant/secret/#", 2).await;
        setup.revoke("topic read plant/secret/#");
    }
    assert_eq!(reply_to(&mut reader, 2).await["type"], "subscribed");
    assert_eq!(
        reader.next_of("unsubscribed").await,
        revoked("plant/secret/#")
    );
    holds_no_secret(&mut reader, &outside, 3).await;
}

#[actix_rt::test]
async fn a_subscribe_crossing_the_revocation_of_its_filter_ends_released_though_given_back() {
    let setup = Setup::start().await;
    let outside = setup.outside().await;
    let mut reader = socket(&setup.reader()).await;
    subscribe(&mut reader, "plant/open/#", 1).await;
    subscribe(&mut reader, "plant/secret/#", 2).await;
    {
        let _stalled = Stalled::broker(&setup.broker);
        // Held, and asked for again: the broker's answer waits.
        asked(&mut reader, "plant/secret/#", 3).await;
        setup.revoke("topic read plant/secret/#");
        assert_eq!(
            reader.next_of("unsubscribed").await,
            revoked("plant/secret/#")
        );
        setup.restore();
    }
    assert_eq!(reply_to(&mut reader, 3).await["type"], "subscribed");
    // Granted after the release: whether the release took it cannot be
    // told, so it goes again.
    assert_eq!(
        reader.next_of("unsubscribed").await,
        revoked("plant/secret/#")
    );
    holds_no_secret(&mut reader, &outside, 4).await;
    // Given back, it can be taken again.
    subscribe(&mut reader, "plant/secret/#", 5).await;
    outside.publish("plant/secret/back", "4", 1, false).await;
    assert_eq!(
        reader.next_of("message").await["topic"],
        "plant/secret/back"
    );
    unsubscribe(&mut reader, "plant/secret/#", 6).await;
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
