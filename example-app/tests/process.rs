//! The `example-app` binary as a process: what it prints, its flags, its exit
//! codes, and SIGTERM. Everything else about the app is tested in-process
//! (the workspace's `tests/app.rs`).

use std::process::Stdio;

use test_support::*;

const BINARY: &str = env!("CARGO_BIN_EXE_example-app");

#[actix_rt::test]
async fn sigterm_closes_sockets_with_1001_and_exits_cleanly_without_the_will() {
    init_logging();
    let broker = Mosquitto::start();
    let mut watcher = Observer::connect(&broker.url(), &["app/will", "app/marker"]).await;
    let mut app = AppProcess::start(
        BINARY,
        broker.port,
        &[
            ("MQTT_LAST_WILL_TOPIC", "app/will"),
            ("MQTT_LAST_WILL_MESSAGE", "gone"),
        ],
    );
    let mut ws = app.ws().await;
    ws.status_connected().await;

    let status = app.terminate();
    assert!(status.success(), "exit status {status}");
    match ws.closed().await {
        Closed::Frame(Some(reason)) => assert_eq!(u16::from(reason.code), 1001),
        other => panic!("expected a 1001 close frame, got {other:?}"),
    }
    watcher.publish("app/marker", "m", 1, false).await;
    assert_eq!(
        watcher.next().await.topic(),
        "app/marker",
        "no last will after a clean shutdown"
    );
}

#[actix_rt::test]
async fn sigterm_with_a_drain_answers_readyz_503_while_serving_then_closes_and_exits_0() {
    init_logging();
    let broker = Mosquitto::start();
    let mut app = AppProcess::start(BINARY, broker.port, &[("SHUTDOWN_DRAIN_S", "2")]);
    let http = app.http();
    let mut ws = app.ws().await;
    ws.status_connected().await;
    assert_eq!(http.get("/readyz").await.0, 200);

    app.send_sigterm();
    eventually("/readyz answers 503 while draining", || async {
        (http.get("/readyz").await.0 == 503).then_some(())
    })
    .await;
    let pong = ws.request(serde_json::json!({"type": "ping"}), 1).await;
    assert_eq!(pong["type"], "pong", "open sockets are still served");
    match ws.closed().await {
        Closed::Frame(Some(reason)) => assert_eq!(u16::from(reason.code), 1001),
        other => panic!("expected a 1001 close frame, got {other:?}"),
    }
    let status = app.wait_exit();
    assert!(status.success(), "exit status {status}");
}

#[actix_rt::test]
async fn without_a_broker_url_the_binary_prints_its_embedded_broker_and_serves() {
    init_logging();
    let app = AppProcess::start_with(BINARY, &[]);
    let port = app
        .embedded_broker_port()
        .expect("the app printed its embedded broker's port");
    let mut outside = Observer::connect(&format!("tcp://127.0.0.1:{port}"), &["demo/#"]).await;
    let http = app.http();
    eventually("the app connected to its broker", || async {
        (http.get("/readyz").await.0 == 200).then_some(())
    })
    .await;
    let (code, _) = http
        .post(
            "/api/publish",
            r#"{"topic":"demo/hello","payload":"hi","qos":1}"#,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(outside.next().await.payload_str(), "hi");
}

#[test]
fn help_lists_every_setting_of_the_library_and_exits_0() {
    let out = AppProcess::command(BINARY)
        .arg("--help")
        .stdout(Stdio::piped())
        .output()
        .expect("the app runs");
    assert!(out.status.success(), "{:?}", out.status);
    let help = String::from_utf8_lossy(&out.stdout);
    for name in mqtt_actor::SETTINGS.iter().map(|s| s.name) {
        let flag = format!("--{}", name.to_ascii_lowercase().replace('_', "-"));
        assert!(help.contains(&flag), "{flag} missing from --help:\n{help}");
        let var = format!("MQTT_{name}");
        assert!(help.contains(&var), "{var} missing from --help:\n{help}");
    }
}

#[test]
fn a_bad_value_is_named_with_its_setting_and_the_exit_code_is_1() {
    let out = AppProcess::command(BINARY)
        .args(["--broker-url", "127.0.0.1", "--broker-port", "eighteen"])
        .output()
        .expect("the app runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MQTT_BROKER_PORT") && err.contains("eighteen"),
        "{err}"
    );
}

#[test]
fn an_unknown_flag_is_refused_with_usage_and_exit_code_2() {
    let out = AppProcess::command(BINARY)
        .arg("--no-such-flag")
        .output()
        .expect("the app runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--no-such-flag") && err.contains("Usage"),
        "{err}"
    );
}

#[test]
fn without_users_a_public_address_is_refused_in_one_line_before_listening() {
    // Refused from the resolved address, before anything binds it.
    let out = AppProcess::command(BINARY)
        .env("HTTP_BIND", "0.0.0.0:0")
        .output()
        .expect("the app runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.trim();
    assert_eq!(line.lines().count(), 1, "{err}");
    assert!(
        line.contains("0.0.0.0")
            && line.contains("--allow-anonymous")
            && line.contains("--password-file"),
        "{err}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening on"),
        "it never listened"
    );
}

#[actix_rt::test]
async fn sighup_rereads_the_password_file_and_acl_without_dropping_a_socket() {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let passwd = PasswordFile::create(dir.path().join("passwd"), &[("reader", "read-pass")]);
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "user reader\ntopic read plant/#\n").expect("write the ACL");
    let broker = Mosquitto::start();
    let app = AppProcess::start(
        BINARY,
        broker.port,
        &[
            (
                "AUTH_PASSWORD_FILE",
                passwd.path().to_str().expect("a UTF-8 path"),
            ),
            ("AUTH_ACL_FILE", acl.to_str().expect("a UTF-8 path")),
        ],
    );
    let web = WebClient::new(app.addr());
    let reader = web.basic("reader", "read-pass");
    let mut ws = reader.ws(&[]).await.expect("the upgrade is accepted");
    assert_eq!(ws.next_of("status").await["type"], "status");
    let publish = serde_json::json!({"topic": "plant/x", "payload": "x"});
    assert_eq!(
        reader
            .clone()
            .post_json("/api/publish", publish.clone())
            .await
            .status,
        403
    );

    passwd.add("carol", "carol-pass");
    std::fs::write(
        &acl,
        "user reader\ntopic readwrite plant/#\nuser carol\ntopic read plant/#\n",
    )
    .expect("write the ACL");
    app.signal("HUP");
    // The files are swapped as a pair: once the reader may publish, carol is
    // a user too. (Polling with carol would count as failed sign-ins.)
    eventually("the reader allowed to publish after SIGHUP", || {
        let mut reader = reader.clone();
        let publish = publish.clone();
        async move { (reader.post_json("/api/publish", publish).await.status == 200).then_some(()) }
    })
    .await;
    let carol = web.basic("carol", "carol-pass").get("/api/status").await;
    assert_eq!(carol.status, 200);
    let pong = ws.request(serde_json::json!({"type": "ping"}), 7).await;
    assert_eq!(
        pong,
        serde_json::json!({"type": "pong", "id": 7}),
        "the socket stayed open"
    );
}
