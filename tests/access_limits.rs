//! The sign-in limit against the real app (issue 17, row 1): the limiter
//! comes before the cache of verified Basic-auth credentials, so an address
//! locked out after 5 failed sign-ins learns nothing more, not even from a
//! password that was accepted before. Status codes only, never timing.

use test_support::*;

#[actix_rt::test]
async fn a_locked_out_address_gets_429_even_for_a_password_verified_before() {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let passwd = PasswordFile::create(dir.path().join("passwd"), &[("reader", "read-pass")]);
    let broker = Mosquitto::start();
    let password_file = passwd.path().to_path_buf();
    let app = App::start_with(broker.port, |s| {
        s.password_file = Some(password_file);
    })
    .await;
    let web = WebClient::new(app.addr());
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
