//! A login is tied to the credential it was issued for (issue 17, row 5):
//! when the operator changes a user's password with `mosquitto_passwd` and
//! the app re-reads its files (what SIGHUP does), that user's login cookies
//! are refused at once (`401`, a page request is sent to `/login`) and their
//! open WebSockets (close `1008`) and event streams end, whether they signed
//! in with the cookie or with Basic auth. Other users are untouched, and the
//! new password signs in. The app runs in-process against a real Mosquitto.

use test_support::web::Method;
use test_support::*;

const USERS: [(&str, &str); 2] = [("reader", "read-pass"), ("writer", "write-pass")];

/// A broker, the password file (no ACL) and the app using it.
async fn start() -> GuardedApp {
    GuardedApp::start(&USERS, None).await
}

/// A client holding `user`'s login cookie.
async fn signed_in(setup: &GuardedApp, user: &str, password: &str) -> WebClient {
    let mut browser = setup.web();
    assert_eq!(browser.sign_in(user, password).await.status, 200);
    assert!(browser.cookie().is_some());
    browser
}

async fn socket(client: &WebClient) -> Ws {
    let mut ws = client.ws(&[]).await.expect("the upgrade is accepted");
    assert_eq!(ws.next_of("status").await["connected"], true);
    ws
}

fn assert_closed_with_1008(closed: Closed) {
    match closed {
        Closed::Frame(Some(reason)) => assert_eq!(u16::from(reason.code), 1008, "{reason:?}"),
        other => panic!("expected a 1008 close frame, got {other:?}"),
    }
}

async fn status(client: &WebClient) -> u16 {
    client.clone().get("/api/status").await.status
}

/// Where a browser asking for the dashboard is sent (`None`: it is served).
async fn page_redirect(client: &WebClient) -> Option<String> {
    let answer = client
        .clone()
        .send(Method::GET, "/", &[("accept", "text/html")], "")
        .await;
    match answer.status {
        200 => None,
        303 => answer.header("location").map(str::to_string),
        other => panic!("GET / answered {other}"),
    }
}

async fn assert_ping(ws: &mut Ws, id: u64) {
    let pong = ws.request(serde_json::json!({"type": "ping"}), id).await;
    assert_eq!(pong["type"], "pong", "{pong}");
}

#[actix_rt::test]
async fn a_changed_password_signs_that_user_out_everywhere_and_nobody_else() {
    let setup = start().await;
    let reader_cookie = signed_in(&setup, "reader", "read-pass").await;
    let writer_cookie = signed_in(&setup, "writer", "write-pass").await;
    let reader_basic = setup.web().basic("reader", "read-pass");
    let mut cookie_ws = socket(&reader_cookie).await;
    let mut basic_ws = socket(&reader_basic).await;
    let mut writer_ws = socket(&writer_cookie).await;
    let base = setup.app.url("");
    let basic = Some(("reader", "read-pass"));
    let mut stream = Sse::open(&base, "/api/stream?topic=plant/%23", basic)
        .await
        .expect("the stream opens");
    assert_eq!(status(&reader_cookie).await, 200);
    assert_eq!(page_redirect(&reader_cookie).await, None);

    setup.passwd.add("reader", "new-pass");
    setup.reload();

    assert_eq!(status(&reader_cookie).await, 401);
    assert_eq!(
        page_redirect(&reader_cookie).await.as_deref(),
        Some("/login")
    );
    assert_closed_with_1008(cookie_ws.closed().await);
    assert_closed_with_1008(basic_ws.closed().await);
    assert!(stream.ended().await, "the reader's event stream ends");
    assert_eq!(status(&reader_basic).await, 401);
    assert_eq!(reader_cookie.ws(&[]).await.err(), Some(401));

    // The writer's cookie and socket go on.
    assert_eq!(status(&writer_cookie).await, 200);
    assert_ping(&mut writer_ws, 1).await;
    // The new password signs in, both ways.
    let renewed = setup.web().basic("reader", "new-pass");
    assert_eq!(status(&renewed).await, 200);
    let mut fresh = signed_in(&setup, "reader", "new-pass").await;
    assert_eq!(fresh.get("/api/status").await.status, 200);
    let mut fresh_ws = socket(&fresh).await;
    assert_ping(&mut fresh_ws, 2).await;
}

#[actix_rt::test]
async fn a_removed_users_cookie_is_refused_and_their_sockets_close() {
    let setup = start().await;
    let writer_cookie = signed_in(&setup, "writer", "write-pass").await;
    let reader_cookie = signed_in(&setup, "reader", "read-pass").await;
    let mut writer_ws = socket(&writer_cookie).await;
    let mut reader_ws = socket(&reader_cookie).await;

    setup.passwd.remove("writer");
    setup.reload();

    assert_eq!(status(&writer_cookie).await, 401);
    assert_closed_with_1008(writer_ws.closed().await);
    assert_eq!(status(&reader_cookie).await, 200);
    assert_ping(&mut reader_ws, 1).await;

    // Added back with the same password: a new hash line, so the old
    // cookie stays refused and a new sign-in works.
    setup.passwd.add("writer", "write-pass");
    setup.reload();
    assert_eq!(status(&writer_cookie).await, 401);
    let mut again = signed_in(&setup, "writer", "write-pass").await;
    assert_eq!(again.get("/api/status").await.status, 200);
}
