//! The sign-in limits against the real app (issue 17, row 1 and the
//! per-account limit): the limiter comes before the cache of verified
//! Basic-auth credentials, so an address locked out after 5 failed sign-ins
//! learns nothing more, not even from a password that was accepted before;
//! guesses spread over many addresses (distinct `127.x` source addresses)
//! lock the account they aim at, except where its user signed in before.
//! Status codes only, never timing.

use std::net::{IpAddr, Ipv4Addr};

use test_support::*;

#[actix_rt::test]
async fn a_locked_out_address_gets_429_even_for_a_password_verified_before() {
    let guarded = GuardedApp::start(&[("reader", "read-pass")], None).await;
    let web = guarded.web();
    let right = || web.basic("reader", "read-pass");

    // The right password is verified, and so cached.
    assert_eq!(right().get("/api/status").await.status, 200);
    assert_eq!(right().get("/api/status").await.status, 200);
    for _ in 0..5 {
        let refused = web.basic("reader", "guess").get("/api/status").await;
        assert_eq!(refused.status, 401);
    }

    // Locked out: the cached password answers 429 with Retry-After.
    let limited = right().get("/api/status").await;
    assert_eq!(limited.status, 429);
    let wait: u64 = limited
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");

    // And so does every further guess, the right password among them.
    for i in 0..50 {
        let answer = match i % 5 {
            0 => right().get("/api/status").await,
            _ => {
                let guess = format!("guess-{i}");
                web.basic("reader", &guess).get("/api/status").await
            }
        };
        assert_eq!(answer.status, 429, "guess {i}");
    }
    let form = web.clone().sign_in("reader", "read-pass").await;
    assert_eq!(form.status, 429);
}

#[actix_rt::test]
async fn guesses_from_many_addresses_lock_the_account_but_not_where_its_user_signed_in() {
    let users = [("reader", "read-pass"), ("writer", "write-pass")];
    let guarded = GuardedApp::start(&users, None).await;
    let from = |last: u8| {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
        WebClient::from_source(guarded.app.addr(), source)
    };
    async fn status(client: WebClient) -> u16 {
        client.clone().get("/api/status").await.status
    }

    // The user signs in from home first.
    assert_eq!(status(from(2).basic("reader", "read-pass")).await, 200);
    // 20 guesses, 4 from each of 5 addresses: each address stays under its
    // own limit of 5.
    for last in 10..15 {
        for i in 0..4 {
            let guess = format!("guess-{last}-{i}");
            assert_eq!(status(from(last).basic("reader", &guess)).await, 401);
        }
    }

    // The account is locked everywhere else, the right password included.
    let limited = from(20)
        .basic("reader", "read-pass")
        .get("/api/status")
        .await;
    assert_eq!(limited.status, 429);
    let wait: u64 = limited
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=600).contains(&wait), "{wait}");
    assert_eq!(from(21).sign_in("reader", "read-pass").await.status, 429);
    // Other accounts are not, from the same addresses.
    assert_eq!(status(from(20).basic("writer", "write-pass")).await, 200);
    assert_eq!(status(from(10).basic("writer", "write-pass")).await, 200);
    // Nor is the user at home, with Basic auth or the form.
    assert_eq!(status(from(2).basic("reader", "read-pass")).await, 200);
    assert_eq!(from(2).sign_in("reader", "read-pass").await.status, 200);
}
