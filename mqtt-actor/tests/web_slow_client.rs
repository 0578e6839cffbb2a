//! A client that stops reading is cut off once its frames wait undrained
//! past the idle timeout, and its session slot is freed: over plain TCP and
//! over TLS alike (`Bridge::on_connect` keeps the socket of both), served by
//! actix-web's `HttpServer` or by `LeanServer`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer};
use mqtt_actor::web::{AllowAll, Bridge, BridgeConfig, BridgeHandle, LeanServer};
use mqtt_actor::MqttActor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use test_support::web::WebClient;
use test_support::{mqtt_config, wait_connected, Mosquitto, Observer, TestCa, Ws, PATIENCE};

/// The server that serves the bridge.
#[derive(Debug, Clone, Copy)]
enum Server {
    ActixWeb,
    Lean,
}

/// A bridge that cuts off quickly, served by `kind` over TLS when `tls` is
/// given.
async fn serve(
    broker: &Mosquitto,
    tls: Option<&TestCa>,
    kind: Server,
) -> (SocketAddr, BridgeHandle) {
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .expect("the actor starts");
    // Subscribes fail fast while the broker is not connected.
    wait_connected(&mqtt, true).await;
    let mut config = BridgeConfig::default();
    config.heartbeat = Duration::from_millis(200);
    config.idle_timeout = Duration::from_secs(2);
    config.outbox_bytes = 1 << 20;
    let bridge = Bridge::builder(mqtt, config)
        .authenticator(AllowAll)
        .authorizer(AllowAll)
        .build()
        .expect("the bridge builds");
    let handle = bridge.handle();
    let app = move || App::new().configure(bridge.configure());
    let (addr, server) = match kind {
        Server::ActixWeb => {
            let server = HttpServer::new(app)
                .on_connect(Bridge::on_connect)
                .workers(1);
            let server = match tls {
                Some(ca) => server.bind_rustls_0_23("127.0.0.1:0", server_config(ca)),
                None => server.bind("127.0.0.1:0"),
            }
            .expect("the server binds");
            (server.addrs()[0], server.run())
        }
        Server::Lean => {
            let server = LeanServer::new(app)
                .on_connect(Bridge::on_connect)
                .workers(1);
            let server = match tls {
                Some(ca) => server.bind_rustls_0_23("127.0.0.1:0", server_config(ca)),
                None => server.bind("127.0.0.1:0"),
            }
            .expect("the server binds");
            (server.addrs()[0], server.run())
        }
    };
    actix_rt::spawn(server);
    (addr, handle)
}

fn server_config(ca: &TestCa) -> rustls::ServerConfig {
    let chain = CertificateDer::pem_file_iter(&ca.server_cert)
        .expect("the certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM certificates");
    let key = PrivateKeyDer::from_pem_file(&ca.server_key).expect("the key");
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a server configuration")
}

/// Subscribes a socket to `flood/#`, stops reading it, and floods it until
/// the bridge has no session left.
async fn a_client_that_stops_reading_is_cut_off(tls: bool, kind: Server) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ca = TestCa::generate(dir.path(), "bridge");
    let broker = Mosquitto::start();
    let (addr, handle) = serve(&broker, tls.then_some(&ca), kind).await;
    let client = match tls {
        true => WebClient::https(format!("localhost:{}", addr.port()), &ca.ca),
        false => WebClient::new(addr),
    };
    let mut stuck: Ws = client.ws(&[]).await.expect("the upgrade is accepted");
    let granted = stuck
        .request(json!({"type": "subscribe", "topic": "flood/#"}), 1)
        .await;
    assert_eq!(granted["type"], "subscribed", "{granted}");
    assert_eq!(handle.sessions(), 1);

    // From here on the client reads nothing: what the kernel's buffers do not
    // take waits in its outbox, and is cut off after the idle timeout.
    let feed = Observer::connect(&broker.url(), &[]).await;
    let payload = "p".repeat(200 * 1024);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while handle.sessions() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the client that stopped reading still holds its session (tls: {tls}, {kind:?})"
        );
        feed.publish("flood/x", payload.clone(), 0, false).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(stuck);
}

#[actix_rt::test]
async fn over_plain_tcp_a_client_that_stops_reading_is_cut_off() {
    a_client_that_stops_reading_is_cut_off(false, Server::ActixWeb).await;
}

#[actix_rt::test]
async fn over_tls_a_client_that_stops_reading_is_cut_off() {
    a_client_that_stops_reading_is_cut_off(true, Server::ActixWeb).await;
}

#[actix_rt::test]
async fn on_the_lean_server_over_plain_tcp_a_client_that_stops_reading_is_cut_off() {
    a_client_that_stops_reading_is_cut_off(false, Server::Lean).await;
}

#[actix_rt::test]
async fn on_the_lean_server_over_tls_a_client_that_stops_reading_is_cut_off() {
    a_client_that_stops_reading_is_cut_off(true, Server::Lean).await;
}
