//! The sample demonstrates: MQTT in the pages of your own actix-web app. The
//! app has a route of its own (`/` says hello) and mounts the browser bridge
//! of `mqtt_actor::web` under `/mqtt` (WebSocket `/mqtt/ws`, Server-Sent
//! Events `/mqtt/api/stream`, the HTTP API `/mqtt/api/*`). Two closures decide
//! access: a bearer token names the user, and each user reads and writes only
//! under `users/{name}/`.
//!
//! ```sh
//! cargo run -p mqtt-actor --features web --example web_bridge  # broker: localhost:1883
//! curl -N -H 'Authorization: Bearer alice-token' \
//!     'http://127.0.0.1:8080/mqtt/api/stream?topic=users/alice/%23'
//! mosquitto_pub -t users/alice/inbox -m hello   # reaches alice's stream
//! ```

use std::error::Error;
use std::net::SocketAddr;

use actix_web::dev::Server;
use actix_web::{web, App, HttpRequest, HttpServer};
use mqtt_actor::web::{AuthError, Bridge, BridgeConfig, Operation, Principal};
use mqtt_actor::{MqttActor, MqttConfig};

/// Who each token signs in (your app would ask its own user store).
const TOKENS: &[(&str, &str)] = &[("alice-token", "alice"), ("bob-token", "bob")];

/// Who a request acts for: no `Authorization` header is nobody (401), an
/// unknown token is an error (401 too, never anonymous).
fn user_of(req: &HttpRequest) -> Result<Option<Principal>, AuthError> {
    let Some(header) = req.headers().get("authorization") else {
        return Ok(None);
    };
    let token = header.to_str().ok().and_then(|h| h.strip_prefix("Bearer "));
    let user = TOKENS.iter().find(|(known, _)| Some(*known) == token);
    match user {
        Some((_, name)) => Ok(Some(Principal::user(*name))),
        None => Err(AuthError::Invalid),
    }
}

/// What a user may do: subscribe, publish and read under `users/{name}/` only.
fn own_prefix(who: &Principal, _: Operation, topic: &str) -> bool {
    who.name()
        .is_some_and(|name| topic.starts_with(&format!("users/{name}/")))
}

/// Starts the app on `bind` over the broker of `mqtt`: the running server
/// and the addresses it listens on. Call it inside an actix system.
pub fn start(mqtt: MqttConfig, bind: &str) -> Result<(Server, Vec<SocketAddr>), Box<dyn Error>> {
    let mqtt = MqttActor::builder(mqtt).start()?;
    let bridge = Bridge::builder(mqtt, BridgeConfig::default())
        .authenticator(user_of)
        .authorizer(own_prefix)
        .build()?;
    let server = HttpServer::new(move || {
        App::new()
            .route("/", web::get().to(|| async { "hello" }))
            .service(web::scope("/mqtt").configure(bridge.configure()))
    })
    // Cuts off a client that stops reading, when its messages pile up.
    .on_connect(Bridge::on_connect)
    .bind(bind)?;
    let addrs = server.addrs();
    Ok((server.run(), addrs))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn Error>> {
    env_logger::init();
    let (server, addrs) = start(MqttConfig::from_env()?, "127.0.0.1:8080")?;
    println!("listening on http://{}", addrs[0]);
    server.await?;
    Ok(())
}
