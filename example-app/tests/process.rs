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
    assert_eq!(ws.next_of("status").await["connected"], true);

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
    assert_eq!(ws.next_of("status").await["connected"], true);
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
