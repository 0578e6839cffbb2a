//! Access control end to end (issue 9, `docs/protocol.md` "Access"): users
//! from a password file made by the real `mosquitto_passwd`, a Mosquitto ACL
//! file, the same-origin rules, HTTPS with an rcgen certificate, and the login
//! page in headless Chromium. The app runs in-process against a real
//! Mosquitto; SIGHUP and the refusal to start are tested on the binary in
//! `example-app/tests/process.rs`.

use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;
use test_support::app::test_settings;
use test_support::web::Method;
use test_support::*;

/// Everyone signed in gets their own corner; `reader` may read line 1 and
/// has a shared line for line 2 but no read of it, `writer` may use the whole
/// plant and one shared group.
const ACL: &str = "\
pattern readwrite users/%u/#

user reader
topic read plant/line1/#
topic read $share/line2/plant/line2/#

user writer
topic readwrite plant/#
topic read $share/workers/plant/#
";

/// A broker, the access files and the app using them.
struct Setup {
    _dir: TempDir,
    passwd: PasswordFile,
    broker: Mosquitto,
    app: App,
}

impl Setup {
    /// Users `reader` and `writer`, with the ACL when `acl`; heartbeats every
    /// second, so that ended logins close their sockets promptly.
    async fn start(acl: bool) -> Setup {
        Self::start_with(acl, |_| {}).await
    }

    async fn start_with(acl: bool, configure: impl FnOnce(&mut example_app::Settings)) -> Setup {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let passwd = PasswordFile::create(
            dir.path().join("passwd"),
            &[("reader", "read-pass"), ("writer", "write-pass")],
        );
        let acl_path = dir.path().join("acl");
        std::fs::write(&acl_path, ACL).expect("write the ACL");
        let broker = Mosquitto::start();
        let password_file = passwd.path().to_path_buf();
        let app = App::start_with(broker.port, |s| {
            s.password_file = Some(password_file);
            s.acl_file = acl.then_some(acl_path);
            s.heartbeat_s = 1;
            configure(s);
        })
        .await;
        Setup {
            _dir: dir,
            passwd,
            broker,
            app,
        }
    }

    fn web(&self) -> WebClient {
        WebClient::new(self.app.addr())
    }

    fn reader(&self) -> WebClient {
        self.web().basic("reader", "read-pass")
    }

    fn writer(&self) -> WebClient {
        self.web().basic("writer", "write-pass")
    }
}

async fn socket(client: &WebClient) -> Ws {
    let mut ws = client.ws(&[]).await.expect("the upgrade is accepted");
    assert_eq!(ws.next_of("status").await["connected"], true);
    ws
}

/// The reply to a request (its `id` added).
async fn ask(ws: &mut Ws, request: Value, id: u64) -> Value {
    ws.request(request, id).await
}

async fn subscribe(ws: &mut Ws, filter: &str, id: u64) -> Value {
    ask(ws, json!({"type": "subscribe", "topic": filter}), id).await
}

async fn publish(ws: &mut Ws, topic: &str, id: u64) -> Value {
    let request = json!({"type": "publish", "topic": topic, "payload": "x", "qos": 1});
    ask(ws, request, id).await
}

fn assert_forbidden(reply: &Value) {
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "forbidden", "{reply}");
}

fn assert_closed_with_1008(closed: Closed) {
    match closed {
        Closed::Frame(Some(reason)) => assert_eq!(u16::from(reason.code), 1008, "{reason:?}"),
        other => panic!("expected a 1008 close frame, got {other:?}"),
    }
}

#[actix_rt::test]
async fn basic_auth_and_the_login_cookie_work_and_every_failure_is_one_401() {
    let setup = Setup::start(false).await;
    let web = setup.web();

    let missing = web.clone().get("/api/status").await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (401, "unauthorized")
    );
    assert!(missing
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Basic")));
    let message = missing.json()["error"]["message"].clone();
    for (user, password) in [("reader", "wrong"), ("nobody", "read-pass")] {
        let refused = web.basic(user, password).get("/api/status").await;
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (401, "unauthorized")
        );
        assert_eq!(
            refused.json()["error"]["message"],
            message,
            "one message for every cause"
        );
    }
    let status = setup.reader().get("/api/status").await;
    assert_eq!(status.status, 200);
    assert_eq!(status.json()["connected"], true);
    let mut ws = socket(&setup.reader()).await;
    assert_eq!(subscribe(&mut ws, "plant/#", 1).await["type"], "subscribed");

    // Health, readiness and the login page with its assets are open; the
    // rest needs a user, the upgrade and the metrics included.
    for open in [
        "/healthz",
        "/readyz",
        "/login",
        "/static/style.css",
        "/static/favicon.svg",
    ] {
        assert_eq!(web.clone().get(open).await.status, 200, "{open}");
    }
    for closed in [
        "/metrics",
        "/static/app.js",
        "/api/topics",
        "/api/subscriptions",
    ] {
        assert_eq!(web.clone().get(closed).await.status, 401, "{closed}");
    }
    assert_eq!(web.ws(&[]).await.err(), Some(401));
    let page = web
        .clone()
        .send(Method::GET, "/", &[("accept", "text/html")], "")
        .await;
    assert_eq!(
        (page.status, page.header("location")),
        (303, Some("/login"))
    );

    // The login form, as a program sends it.
    let mut browser = web.clone();
    let refused = browser.sign_in("reader", "read-passX").await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (401, "unauthorized")
    );
    assert_eq!(refused.json()["error"]["message"], message);
    assert_eq!(browser.cookie(), None);
    let signed_in = browser.sign_in("reader", "read-pass").await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    assert_eq!(signed_in.json(), json!({"user": "reader"}));
    let cookie = signed_in.header("set-cookie").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "no Secure over plain HTTP: {cookie}"
    );
    assert_eq!(browser.get("/api/status").await.status, 200);
    let dashboard = browser
        .send(Method::GET, "/", &[("accept", "text/html")], "")
        .await;
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.text().contains("data-testid=\"current-user\""));
    assert!(dashboard.text().contains(">reader<"));
    let mut cookie_ws = socket(&browser).await;

    // Signing out ends the login wherever its cookie went, and its sockets.
    let copy = browser.clone();
    assert_eq!(browser.post_json("/logout", json!({})).await.status, 200);
    assert_eq!(copy.clone().get("/api/status").await.status, 401);
    assert_eq!(copy.ws(&[]).await.err(), Some(401));
    assert_closed_with_1008(cookie_ws.closed().await);
    // Basic auth is untouched by it.
    assert_eq!(
        ask(&mut ws, json!({"type": "ping"}), 2).await,
        json!({"type": "pong", "id": 2})
    );
}

#[actix_rt::test]
async fn more_than_five_failed_sign_ins_a_minute_are_answered_429() {
    let setup = Setup::start(false).await;
    let web = setup.web();
    for _ in 0..5 {
        let refused = web.basic("reader", "guess").get("/api/status").await;
        assert_eq!(refused.status, 401);
    }
    // Even the right password waits for the minute to end.
    let limited = setup.reader().get("/api/status").await;
    assert_eq!(
        (limited.status, limited.code().as_str()),
        (429, "unauthorized")
    );
    let wait: u64 = limited
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    let form = web.clone().sign_in("reader", "read-pass").await;
    assert_eq!(form.status, 429);
    assert_eq!(web.clone().get("/healthz").await.status, 200);
}

#[actix_rt::test]
async fn an_expired_login_is_refused_and_closes_its_socket_with_1008() {
    let setup = Setup::start_with(false, |s| s.session_ttl_s = 2).await;
    // The cookie's end is checked by the server, whatever the client keeps:
    // this client sends the cookie after its Max-Age too.
    let mut opened = None;
    for _ in 0..10 {
        let mut browser = setup.web();
        assert_eq!(browser.sign_in("reader", "read-pass").await.status, 200);
        // On a slow machine the login may already have ended: sign in again.
        if let Ok(ws) = browser.ws(&[]).await {
            opened = Some((ws, browser));
            break;
        }
    }
    let (mut ws, mut browser) = opened.expect("a socket opened within a login's 2 s");
    assert_closed_with_1008(ws.closed().await);
    assert_eq!(browser.get("/api/status").await.status, 401);
}

#[actix_rt::test]
async fn metrics_need_a_user_unless_made_public() {
    let setup = Setup::start_with(false, |s| s.metrics_public = true).await;
    let metrics = setup.web().get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().contains("# TYPE"), "{}", metrics.text());
    assert_eq!(setup.web().get("/api/status").await.status, 401);
}

#[actix_rt::test]
async fn a_reload_adds_a_user_keeps_sockets_open_and_closes_a_removed_users_with_1008() {
    let setup = Setup::start(false).await;
    let outside = Observer::connect(&setup.broker.url(), &[]).await;
    let mut reader_ws = socket(&setup.reader()).await;
    assert_eq!(
        subscribe(&mut reader_ws, "plant/#", 1).await["type"],
        "subscribed"
    );
    let mut writer_ws = socket(&setup.writer()).await;
    let carol = setup.web().basic("carol", "carol-pass");
    assert_eq!(carol.clone().get("/api/status").await.status, 401);

    setup.passwd.add("carol", "carol-pass");
    setup.passwd.remove("writer");
    let reloaded = setup.app.reloader().reload().expect("the files reload");
    assert_eq!(reloaded.users, Some(2));

    assert_eq!(carol.clone().get("/api/status").await.status, 200);
    assert_eq!(setup.writer().get("/api/status").await.status, 401);
    assert_closed_with_1008(writer_ws.closed().await);
    // The reader's socket is the same socket, still subscribed.
    outside.publish("plant/after", "reload", 1, false).await;
    let message = reader_ws.next_of("message").await;
    assert_eq!(message["topic"], "plant/after");
    assert_eq!(
        ask(&mut reader_ws, json!({"type": "ping"}), 2).await,
        json!({"type": "pong", "id": 2})
    );

    // A broken file keeps the files in force.
    std::fs::write(setup.passwd.path(), "carol:not-a-hash\n").expect("write");
    assert!(setup.app.reloader().reload().is_err());
    assert_eq!(carol.clone().get("/api/status").await.status, 200);
}

#[actix_rt::test]
async fn a_read_only_user_subscribes_within_its_filter_and_is_refused_the_rest() {
    let setup = Setup::start(true).await;
    let mut outside = Observer::connect(&setup.broker.url(), &["plant/#"]).await;
    let mut ws = socket(&setup.reader()).await;

    assert_eq!(
        subscribe(&mut ws, "plant/line1/+/temp", 1).await["type"],
        "subscribed"
    );
    assert_forbidden(&subscribe(&mut ws, "plant/#", 2).await);
    assert_forbidden(&subscribe(&mut ws, "#", 3).await);
    assert_forbidden(&publish(&mut ws, "plant/line1/x", 4).await);
    let http = setup
        .reader()
        .post_json(
            "/api/publish",
            json!({"topic": "plant/line1/x", "payload": "x"}),
        )
        .await;
    assert_eq!((http.status, http.code().as_str()), (403, "forbidden"));
    // Nothing was published: the first message seen outside is the marker.
    outside.publish("plant/marker", "m", 1, false).await;
    assert_eq!(outside.next().await.topic(), "plant/marker");

    // %u: each user's own corner, and nobody else's.
    assert_eq!(
        subscribe(&mut ws, "users/reader/#", 5).await["type"],
        "subscribed"
    );
    assert_eq!(
        publish(&mut ws, "users/reader/note", 6).await["type"],
        "published"
    );
    assert_forbidden(&subscribe(&mut ws, "users/writer/#", 7).await);
    assert_forbidden(&subscribe(&mut ws, "users/+/note", 8).await);

    // $share only where an ACL line names that exact shared filter.
    assert_forbidden(&subscribe(&mut ws, "$share/workers/plant/line1/#", 9).await);
    let mut writer = socket(&setup.writer()).await;
    assert_eq!(
        subscribe(&mut writer, "$share/workers/plant/#", 1).await["type"],
        "subscribed"
    );
    assert_forbidden(&subscribe(&mut writer, "$share/others/plant/#", 2).await);
    assert_eq!(
        publish(&mut writer, "plant/line2/y", 3).await["type"],
        "published"
    );
}

#[actix_rt::test]
async fn a_shared_line_alone_grants_neither_its_inner_filter_nor_the_share() {
    let setup = Setup::start(true).await;
    let mut ws = socket(&setup.reader()).await;
    assert_forbidden(&subscribe(&mut ws, "plant/line2/#", 1).await);
    assert_forbidden(&subscribe(&mut ws, "plant/line2/a", 2).await);
    // The app cannot tell a share's copies apart, so the shared filter
    // also needs read access to its inner filter.
    assert_forbidden(&subscribe(&mut ws, "$share/line2/plant/line2/#", 3).await);
    let http = setup
        .reader()
        .post_json("/api/subscriptions", json!({"topic": "plant/line2/#"}))
        .await;
    assert_eq!((http.status, http.code().as_str()), (403, "forbidden"));
}

#[actix_rt::test]
async fn listings_show_each_user_only_what_it_may_read() {
    let setup = Setup::start(true).await;
    let added = setup
        .writer()
        .post_json("/api/subscriptions", json!({"topic": "plant/#", "qos": 1}))
        .await;
    assert_eq!(added.status, 200, "{}", added.text());
    let refused = setup
        .reader()
        .post_json("/api/subscriptions", json!({"topic": "plant/#"}))
        .await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "forbidden")
    );
    let refused = setup
        .reader()
        .delete("/api/subscriptions?topic=plant/%23")
        .await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "forbidden")
    );
    let mut reader_ws = socket(&setup.reader()).await;
    assert_eq!(
        subscribe(&mut reader_ws, "plant/line1/+/temp", 1).await["type"],
        "subscribed"
    );

    let outside = Observer::connect(&setup.broker.url(), &[]).await;
    outside.publish("plant/line1/a", "1", 1, false).await;
    outside.publish("plant/line2/b", "2", 1, false).await;
    let topics_of = |answer: Answer| -> Vec<String> {
        let mut topics: Vec<String> = answer
            .json()
            .as_array()
            .expect("a list")
            .iter()
            .map(|row| row["topic"].as_str().unwrap_or_default().to_string())
            .collect();
        topics.sort();
        topics
    };
    let writer = setup.writer();
    eventually("the writer sees both topics", || {
        let mut writer = writer.clone();
        async move {
            let topics = topics_of(writer.get("/api/topics").await);
            (topics == ["plant/line1/a", "plant/line2/b"]).then_some(())
        }
    })
    .await;
    assert_eq!(
        topics_of(setup.reader().get("/api/topics").await),
        ["plant/line1/a"]
    );
    assert_eq!(
        topics_of(setup.reader().get("/api/subscriptions").await),
        ["plant/line1/+/temp"]
    );
    assert_eq!(
        topics_of(setup.writer().get("/api/subscriptions").await),
        ["plant/#", "plant/line1/+/temp"]
    );
}

#[actix_rt::test]
async fn shared_subscriptions_are_refused_to_web_clients_without_an_acl() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let web = WebClient::new(app.addr());
    let mut ws = socket(&web).await;
    assert_forbidden(&subscribe(&mut ws, "$share/group/plant/#", 1).await);
    let refused = web
        .clone()
        .post_json(
            "/api/subscriptions",
            json!({"topic": "$share/group/plant/#"}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "forbidden")
    );
    assert_eq!(subscribe(&mut ws, "plant/#", 2).await["type"], "subscribed");
}

#[actix_rt::test]
async fn cross_origin_requests_and_foreign_hosts_are_refused_and_same_origin_ones_pass() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| {
        s.allowed_origins = vec!["https://dash.example".into()];
    })
    .await;
    let own = format!("http://{}", app.addr());
    let foreign_host = format!("evil.example:{}", app.addr().port());
    let mut web = WebClient::new(app.addr());

    // The WebSocket upgrade.
    assert_eq!(
        web.ws(&[("origin", "http://evil.example")]).await.err(),
        Some(403)
    );
    assert_eq!(web.ws(&[("origin", "null")]).await.err(), Some(403));
    assert_eq!(
        web.ws(&[("host", foreign_host.as_str())]).await.err(),
        Some(421)
    );
    for origin in [own.as_str(), "https://dash.example"] {
        let mut ws = socket_with(&web, &[("origin", origin)]).await;
        assert_eq!(subscribe(&mut ws, "plant/#", 1).await["type"], "subscribed");
    }

    // POST and DELETE.
    let body = json!({"topic": "plant/x", "payload": "x"}).to_string();
    let json_from =
        |origin: &'static str| [("content-type", "application/json"), ("origin", origin)];
    let refused = web
        .send(
            Method::POST,
            "/api/publish",
            &json_from("http://evil.example"),
            body.clone(),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "forbidden")
    );
    let refused = web
        .send(
            Method::DELETE,
            "/api/subscriptions?topic=plant/%23",
            &[("origin", "http://evil.example")],
            "",
        )
        .await;
    assert_eq!(refused.status, 403);
    let own_origin = [
        ("content-type", "application/json"),
        ("origin", own.as_str()),
    ];
    let sent = web
        .send(Method::POST, "/api/publish", &own_origin, body.clone())
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text());

    // Only JSON bodies: a plain HTML form cannot publish.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let refused = web
            .send(
                Method::POST,
                "/api/publish",
                &[("content-type", content_type)],
                body.clone(),
            )
            .await;
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (415, "bad_request"),
            "{content_type}"
        );
    }
    let refused = web
        .send(Method::POST, "/api/publish", &[], body.clone())
        .await;
    assert_eq!(refused.status, 415, "a body without a type");
    assert_eq!(
        web.post_json("/api/publish", serde_json::from_str(&body).unwrap())
            .await
            .status,
        200
    );

    // Host: no DNS rebinding.
    let refused = web
        .send(
            Method::GET,
            "/api/status",
            &[("host", foreign_host.as_str())],
            "",
        )
        .await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (421, "bad_request")
    );
    let localhost = format!("localhost:{}", app.addr().port());
    let served = web
        .send(
            Method::GET,
            "/api/status",
            &[("host", localhost.as_str())],
            "",
        )
        .await;
    assert_eq!(served.status, 200);

    // The page's headers.
    let page = web.get("/").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-security-policy"),
        Some("default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    // HSTS only where the app serves HTTPS itself.
    assert_eq!(page.header("strict-transport-security"), None);
}

async fn socket_with(client: &WebClient, headers: &[(&str, &str)]) -> Ws {
    let mut ws = client.ws(headers).await.expect("the upgrade is accepted");
    assert_eq!(ws.next_of("status").await["connected"], true);
    ws
}

#[actix_rt::test]
async fn https_and_wss_serve_the_api_and_the_socket_with_a_secure_cookie() {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::generate(dir.path(), "app");
    let passwd = PasswordFile::create(dir.path().join("passwd"), &[("reader", "read-pass")]);
    let broker = Mosquitto::start();
    let mut settings = test_settings();
    settings.mqtt.set("BROKER_URL", "127.0.0.1").unwrap();
    settings
        .mqtt
        .set("BROKER_PORT", broker.port.to_string())
        .unwrap();
    settings.password_file = Some(passwd.path().to_path_buf());
    settings.tls_cert = Some(ca.server_cert.clone());
    settings.tls_key = Some(ca.server_key.clone());
    let app = App::run(settings).await;
    let web = WebClient::https(format!("localhost:{}", app.addr().port()), &ca.ca);
    eventually("the app ready over HTTPS", || {
        let mut web = web.clone();
        async move { (web.get("/readyz").await.status == 200).then_some(()) }
    })
    .await;

    let mut browser = web.clone();
    let signed_in = browser.sign_in("reader", "read-pass").await;
    assert_eq!(signed_in.status, 200);
    assert_eq!(
        signed_in.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let cookie = signed_in.header("set-cookie").expect("a session cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let mut ws = socket(&browser).await;
    assert_eq!(subscribe(&mut ws, "plant/#", 1).await["type"], "subscribed");
    let published = web
        .basic("reader", "read-pass")
        .post_json(
            "/api/publish",
            json!({"topic": "plant/tls", "payload": "over https"}),
        )
        .await;
    assert_eq!(published.status, 200);
    let message = ws.next_of("message").await;
    assert_eq!(
        (message["topic"].as_str(), message["payload"].as_str()),
        (Some("plant/tls"), Some("over https"))
    );
    app.stop().await;
}

fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

async fn text_of(page: &Client, id: &str) -> Option<String> {
    let el = page.find(Locator::Css(&testid(id))).await.ok()?;
    el.text().await.ok()
}

async fn wait_for_text(page: &Client, id: &str, want: &str) {
    eventually(&format!("{id} to contain {want:?}"), || async {
        text_of(page, id)
            .await
            .filter(|t| t.contains(want))
            .map(|_| ())
    })
    .await;
}

async fn fill(page: &Client, id: &str, value: &str) {
    let el = page.find(Locator::Css(&testid(id))).await.expect(id);
    el.clear().await.expect("clear");
    el.send_keys(value).await.expect("type");
}

async fn click(page: &Client, id: &str) {
    let el = page.find(Locator::Css(&testid(id))).await.expect(id);
    el.click().await.expect("click");
}

async fn wait_for_login_page(page: &Client) {
    eventually("the login page", || async {
        let url = page.current_url().await.ok()?;
        let form = page.find(Locator::Css(&testid("login-username"))).await;
        (url.path() == "/login" && form.is_ok()).then_some(())
    })
    .await;
}

async fn sign_in_on_page(page: &Client, user: &str, password: &str) {
    fill(page, "login-username", user).await;
    fill(page, "login-password", password).await;
    click(page, "login-button").await;
}

#[actix_rt::test]
async fn the_login_page_signs_in_shows_refusals_inline_and_signs_out() {
    let setup = Setup::start(true).await;
    let driver = Driver::start();
    let page = driver.browser().await;

    page.goto(&setup.app.url("/"))
        .await
        .expect("the page loads");
    wait_for_login_page(&page).await;
    let error = page
        .find(Locator::Css(&testid("login-error")))
        .await
        .expect("login-error");
    assert!(!error.is_displayed().await.expect("visibility"));

    sign_in_on_page(&page, "reader", "wrong").await;
    wait_for_text(&page, "login-error", "valid user name and password").await;

    sign_in_on_page(&page, "reader", "read-pass").await;
    wait_for_text(&page, "current-user", "reader").await;
    wait_for_text(&page, "broker-status", "broker: connected").await;

    fill(&page, "publish-topic", "plant/line1/x").await;
    fill(&page, "publish-payload", "not mine to send").await;
    click(&page, "publish-button").await;
    wait_for_text(&page, "publish-error", "forbidden").await;

    click(&page, "logout-button").await;
    wait_for_login_page(&page).await;
    page.goto(&setup.app.url("/"))
        .await
        .expect("the page loads");
    wait_for_login_page(&page).await;

    // Signed in again, the user is removed: the socket closes with 1008 and
    // the page goes back to the login form by itself.
    sign_in_on_page(&page, "reader", "read-pass").await;
    wait_for_text(&page, "current-user", "reader").await;
    wait_for_text(&page, "socket-status", "open").await;
    setup.passwd.remove("reader");
    setup.app.reloader().reload().expect("the files reload");
    wait_for_login_page(&page).await;
}

/// Sends `request` as raw bytes (no client adds a `Host`) and returns the
/// status line's code.
async fn raw_status(addr: std::net::SocketAddr, request: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

#[actix_rt::test]
async fn health_checks_without_a_host_are_answered_and_other_routes_are_not() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    // HAProxy's `option httpchk` sends HTTP/1.0 without a Host header.
    for path in ["/healthz", "/readyz"] {
        let request = format!("GET {path} HTTP/1.0\r\n\r\n");
        assert_eq!(raw_status(app.addr(), &request).await, 200, "{path}");
    }
    let request = "GET /api/status HTTP/1.0\r\n\r\n";
    assert_eq!(raw_status(app.addr(), request).await, 421);
    let request = "GET /api/status HTTP/1.0\r\nHost: evil.example\r\n\r\n";
    assert_eq!(raw_status(app.addr(), request).await, 421);
}
