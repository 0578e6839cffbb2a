//! How the revocation of a filter (see `revocation.rs`) meets a subscribe of
//! the same filter by the same WebSocket session, against the real broker
//! and the app in-process.
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

use serde_json::{json, Value};
use test_support::*;

use crate::revocation::{revoked, socket, subscribe, Setup};

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
