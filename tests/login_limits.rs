//! The login form's own bounds (issue 17): the list of signed-out logins is
//! bounded (`AUTH_MAX_SIGN_OUTS`), and at the bound nothing signed out ever
//! works again (the logins made before the oldest sign-out end with it);
//! `POST /login` has a deadline for its body (`AUTH_LOGIN_BODY_TIMEOUT_S`),
//! so a client that sends the headers and then trickles the body is cut off
//! with `408`. The app runs in-process against a real Mosquitto.

use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;
use test_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Setup {
    _dir: TempDir,
    _broker: Mosquitto,
    app: App,
}

impl Setup {
    async fn start(configure: impl FnOnce(&mut example_app::Settings)) -> Setup {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let passwd = PasswordFile::create(dir.path().join("passwd"), &[("reader", "read-pass")]);
        let broker = Mosquitto::start();
        let password_file = passwd.path().to_path_buf();
        let app = App::start_with(broker.port, |s| {
            s.password_file = Some(password_file);
            configure(s);
        })
        .await;
        Setup {
            _dir: dir,
            _broker: broker,
            app,
        }
    }

    async fn signed_in(&self) -> WebClient {
        let mut browser = WebClient::new(self.app.addr());
        assert_eq!(browser.sign_in("reader", "read-pass").await.status, 200);
        browser
    }
}

async fn status(client: &WebClient) -> u16 {
    client.clone().get("/api/status").await.status
}

/// Signs `browser` out; returns a copy of the cookie it had.
async fn sign_out(browser: &WebClient) -> WebClient {
    let copy = browser.clone();
    let answer = browser.clone().post_json("/logout", json!({})).await;
    assert_eq!(answer.status, 200);
    copy
}

#[actix_rt::test]
async fn at_the_bound_of_the_sign_out_list_older_logins_end_and_none_comes_back() {
    let setup = Setup::start(|s| s.max_sign_outs = 3).await;
    let mut logins = Vec::new();
    for _ in 0..6 {
        logins.push(setup.signed_in().await);
    }
    let [a, b, c, d, e, f] = <[WebClient; 6]>::try_from(logins).ok().expect("six logins");
    let mut copies = Vec::new();
    for login in [&b, &c, &d] {
        copies.push(sign_out(login).await);
    }
    for copy in &copies {
        assert_eq!(status(copy).await, 401);
    }
    assert_eq!(status(&a).await, 200, "the list holds 3: nothing else ends");

    // The fourth sign-out: b's entry makes way, and a, older than b, ends.
    copies.push(sign_out(&e).await);
    for (i, copy) in copies.iter().enumerate() {
        assert_eq!(status(copy).await, 401, "sign-out {i}");
    }
    assert_eq!(
        status(&a).await,
        401,
        "a login older than the oldest sign-out ends"
    );
    assert_eq!(status(&f).await, 200, "a newer login goes on");
    assert_eq!(status(&setup.signed_in().await).await, 200);
}

#[actix_rt::test]
async fn a_login_body_trickled_past_the_timeout_is_cut_off_with_408() {
    let setup = Setup::start(|s| s.login_body_timeout_s = 1).await;
    let addr = setup.app.addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n\
         username=reader&password=read-pass"
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    let sent_before = head.len();
    // One byte every 100 ms, until the server answers: 1000 bytes would take
    // far longer than PATIENCE at this pace.
    let mut answer = vec![0u8; 4096];
    let mut trickled = 0;
    let read = loop {
        let wait = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut answer));
        if let Ok(read) = wait.await {
            break read.expect("an answer");
        }
        assert!(trickled < 600, "no answer to a body trickled for a minute");
        if stream.write_all(b"x").await.is_err() {
            continue;
        }
        trickled += 1;
    };
    let text = String::from_utf8_lossy(&answer[..read]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        sent_before + trickled < 1000 + 30,
        "cut off before the body was whole"
    );

    // A login that sends its body goes through.
    assert_eq!(status(&setup.signed_in().await).await, 200);
}
