//! The embedded broker (rumqttd, in the app's process) holds what it is sent
//! within the bound the README's "Limits" section states. Alone in its test
//! binary: the broker lives as long as the process, and the test measures the
//! whole process's heap.

use test_support::memory::{live_within, measure, mib, Counting, MIB};
use test_support::*;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[actix_rt::test]
async fn retained_messages_at_the_embedded_broker_cost_about_their_bytes() {
    init_logging();
    let app = App::embedded().await;
    let port = app.embedded_broker_port().expect("an embedded broker");
    let url = format!("tcp://127.0.0.1:{port}");
    let (live0, rss0) = measure("before 5000 retained messages of 256 KiB");
    const N: usize = 5000;
    const SIZE: usize = 256 * 1024;
    let feed = Observer::connect(&url, &[]).await;
    let payload = vec![b'r'; SIZE];
    for i in 0..N {
        feed.publish(&format!("keep/{i}"), payload.clone(), 1, true)
            .await;
    }
    // The last one is stored once a new subscriber gets it.
    let mut check = Observer::connect(&url, &[&format!("keep/{}", N - 1)]).await;
    assert!(check.next().await.retained());
    let (live1, rss1) = measure("after");
    let stored = (N * SIZE) as f64;
    let grown = live1.saturating_sub(live0) as f64;
    println!(
        "5000 retained messages of 256 KiB ({:.0} MiB of payload): live heap +{:.0} MiB ({:.2}× the payload), RSS +{:.0} MiB",
        stored / MIB as f64,
        grown / MIB as f64,
        grown / stored,
        mib(rss1.saturating_sub(rss0))
    );
    // The stated bound (README "Limits"): rumqttd keeps every retained
    // message, and each costs about 1.5 times its payload (measured: the
    // buffers it reads packets into stay attached to the payloads).
    assert!(
        grown <= 1.75 * stored + (64 * MIB) as f64,
        "retained messages cost {:.2}× their payload",
        grown / stored
    );
    // Clearing them gives the memory back.
    for i in 0..N {
        feed.publish(&format!("keep/{i}"), Vec::new(), 1, true)
            .await;
    }
    check.disconnect().await;
    feed.disconnect().await;
    live_within("retained messages cleared", live0, 64 * MIB).await;
}
