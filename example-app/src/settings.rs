//! Command-line flags and environment variables (clap): every `MQTT_*` setting of
//! the library plus the app's own limits.

use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use mqtt_actor::{MqttConfig, MqttError};

/// The example app: a live MQTT dashboard and web API over mqtt-actor.
///
/// Every flag can also be given as the environment variable shown. When
/// MQTT_BROKER_URL is not set, an embedded broker is started on 127.0.0.1.
#[derive(Debug, Clone, Parser)]
#[command(version, about, long_about = None)]
pub struct Settings {
    /// Address to serve HTTP on (port 0: any free port).
    #[arg(long = "bind", env = "HTTP_BIND", default_value = "127.0.0.1:5000")]
    pub bind: String,
    /// Largest WebSocket frame / HTTP body accepted, in bytes (larger: `too_large`).
    #[arg(long, env = "WS_MAX_FRAME_BYTES", default_value_t = 256 * 1024)]
    pub max_frame_bytes: usize,
    /// Most filters one WebSocket session may hold.
    #[arg(long, env = "WS_MAX_FILTERS", default_value_t = 100)]
    pub max_filters: usize,
    /// Outbound frames queued per session before the oldest messages are dropped (`lagged`).
    #[arg(long, env = "WS_QUEUE_FRAMES", default_value_t = 1000)]
    pub queue_frames: usize,
    /// Seconds between heartbeat pings to each WebSocket client.
    #[arg(long, env = "WS_HEARTBEAT_S", default_value_t = 5)]
    pub heartbeat_s: u64,
    /// Seconds without any frame from a client before its session is closed.
    #[arg(long, env = "WS_IDLE_TIMEOUT_S", default_value_t = 30)]
    pub idle_timeout_s: u64,
    /// Topics kept in the last-value cache of `/api/topics`.
    #[arg(long, env = "TOPIC_CACHE_SIZE", default_value_t = 1000)]
    pub topic_cache_size: usize,
    /// Port for the embedded broker (default: any free port).
    #[arg(long, env = "EMBEDDED_BROKER_PORT")]
    pub embedded_broker_port: Option<u16>,
    /// The library's `MQTT_*` settings.
    #[command(flatten)]
    pub mqtt: MqttArgs,
}

/// The library's settings, as flags / `MQTT_*` variables. Kept as text and
/// handed to `MqttConfig::from_pairs`, so a bad value gets the library's error
/// naming the setting and the value.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MqttArgs {
    /// Client id (default: generated).
    #[arg(long, env = "MQTT_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Broker host or URI (tcp://, ssl://, ws://, wss://). Unset: embedded broker.
    #[arg(long, env = "MQTT_BROKER_URL")]
    pub broker_url: Option<String>,
    /// Broker port [default: 1883].
    #[arg(long, env = "MQTT_BROKER_PORT")]
    pub broker_port: Option<String>,
    /// User name.
    #[arg(long, env = "MQTT_USERNAME")]
    pub username: Option<String>,
    /// Password.
    #[arg(long, env = "MQTT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Keep-alive, seconds [default: 60].
    #[arg(long, env = "MQTT_KEEPALIVE")]
    pub keepalive: Option<String>,
    /// Clean session [default: true].
    #[arg(long, env = "MQTT_CLEAN_SESSION")]
    pub clean_session: Option<String>,
    /// Use TLS [default: false].
    #[arg(long, env = "MQTT_TLS_ENABLED")]
    pub tls_enabled: Option<String>,
    /// CA certificates (PEM file).
    #[arg(long, env = "MQTT_TLS_CA_CERTS")]
    pub tls_ca_certs: Option<String>,
    /// Client certificate (PEM file).
    #[arg(long, env = "MQTT_TLS_CERTFILE")]
    pub tls_certfile: Option<String>,
    /// Client key (PEM file).
    #[arg(long, env = "MQTT_TLS_KEYFILE")]
    pub tls_keyfile: Option<String>,
    /// Skip server certificate verification [default: false].
    #[arg(long, env = "MQTT_TLS_INSECURE")]
    pub tls_insecure: Option<String>,
    /// TLS version: auto, tlsv1, tlsv1.1, tlsv1.2 [default: auto].
    #[arg(long, env = "MQTT_TLS_VERSION")]
    pub tls_version: Option<String>,
    /// OpenSSL cipher list.
    #[arg(long, env = "MQTT_TLS_CIPHERS")]
    pub tls_ciphers: Option<String>,
    /// Last will topic.
    #[arg(long, env = "MQTT_LAST_WILL_TOPIC")]
    pub last_will_topic: Option<String>,
    /// Last will payload.
    #[arg(long, env = "MQTT_LAST_WILL_MESSAGE")]
    pub last_will_message: Option<String>,
    /// Last will QoS [default: 0].
    #[arg(long, env = "MQTT_LAST_WILL_QOS")]
    pub last_will_qos: Option<String>,
    /// Last will retain flag [default: false].
    #[arg(long, env = "MQTT_LAST_WILL_RETAIN")]
    pub last_will_retain: Option<String>,
    /// tcp or websockets [default: tcp].
    #[arg(long, env = "MQTT_TRANSPORT")]
    pub transport: Option<String>,
    /// 3.1.1 or 5 [default: 3.1.1].
    #[arg(long, env = "MQTT_PROTOCOL_VERSION")]
    pub protocol_version: Option<String>,
    /// First reconnect delay, ms; doubles up to the max [default: 500].
    #[arg(long, env = "MQTT_RECONNECT_MIN_DELAY_MS")]
    pub reconnect_min_delay_ms: Option<String>,
    /// Longest reconnect delay, ms [default: 30000].
    #[arg(long, env = "MQTT_RECONNECT_MAX_DELAY_MS")]
    pub reconnect_max_delay_ms: Option<String>,
    /// Wait for broker acknowledgements, ms [default: 10000].
    #[arg(long, env = "MQTT_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: Option<String>,
    /// QoS 1/2 publishes kept while disconnected [default: 1000].
    #[arg(long, env = "MQTT_MAX_BUFFERED_PUBLISHES")]
    pub max_buffered_publishes: Option<String>,
}

impl MqttArgs {
    /// The library configuration; `broker_override` replaces the broker URL
    /// (the embedded broker's address).
    pub fn to_config(
        &self,
        broker_override: Option<(String, u16)>,
    ) -> Result<MqttConfig, MqttError> {
        let a = self;
        let mut pairs: Vec<(&str, String)> = [
            ("CLIENT_ID", &a.client_id),
            ("BROKER_URL", &a.broker_url),
            ("BROKER_PORT", &a.broker_port),
            ("USERNAME", &a.username),
            ("PASSWORD", &a.password),
            ("KEEPALIVE", &a.keepalive),
            ("CLEAN_SESSION", &a.clean_session),
            ("TLS_ENABLED", &a.tls_enabled),
            ("TLS_CA_CERTS", &a.tls_ca_certs),
            ("TLS_CERTFILE", &a.tls_certfile),
            ("TLS_KEYFILE", &a.tls_keyfile),
            ("TLS_INSECURE", &a.tls_insecure),
            ("TLS_VERSION", &a.tls_version),
            ("TLS_CIPHERS", &a.tls_ciphers),
            ("LAST_WILL_TOPIC", &a.last_will_topic),
            ("LAST_WILL_MESSAGE", &a.last_will_message),
            ("LAST_WILL_QOS", &a.last_will_qos),
            ("LAST_WILL_RETAIN", &a.last_will_retain),
            ("TRANSPORT", &a.transport),
            ("PROTOCOL_VERSION", &a.protocol_version),
            ("RECONNECT_MIN_DELAY_MS", &a.reconnect_min_delay_ms),
            ("RECONNECT_MAX_DELAY_MS", &a.reconnect_max_delay_ms),
            ("REQUEST_TIMEOUT_MS", &a.request_timeout_ms),
            ("MAX_BUFFERED_PUBLISHES", &a.max_buffered_publishes),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect();
        if let Some((host, port)) = broker_override {
            pairs.retain(|(k, _)| *k != "BROKER_URL" && *k != "BROKER_PORT");
            pairs.push(("BROKER_URL", host));
            pairs.push(("BROKER_PORT", port.to_string()));
        }
        MqttConfig::from_pairs("MQTT", pairs)
    }
}

impl Default for Settings {
    /// Every setting at its default, whatever the environment says (for
    /// tests and for embedding the app; `main` reads flags and environment).
    fn default() -> Self {
        let command = Settings::command().mut_args(|arg| arg.env(None::<&str>));
        let matches = command
            .try_get_matches_from(["example-app"])
            .expect("every setting has a default or is optional");
        Settings::from_arg_matches(&matches).expect("defaults are valid settings")
    }
}

impl Settings {
    /// Heartbeat interval.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_s.max(1))
    }

    /// Idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_s.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_reach_the_library_config_and_bad_values_name_the_setting() {
        let s = Settings::parse_from([
            "app",
            "--broker-url",
            "h",
            "--broker-port",
            "1884",
            "--bind",
            "127.0.0.1:0",
        ]);
        let c = s.mqtt.to_config(None).unwrap();
        assert_eq!((c.broker_url.as_str(), c.broker_port), ("h", 1884));
        let s = Settings::parse_from(["app", "--broker-port", "abc"]);
        let err = s.mqtt.to_config(None).unwrap_err().to_string();
        assert!(
            err.contains("MQTT_BROKER_PORT") && err.contains("abc"),
            "{err}"
        );
        let c = s.mqtt.to_config(Some(("127.0.0.1".into(), 4000))).unwrap();
        assert_eq!(c.broker_port, 4000);
    }

    #[test]
    fn the_default_settings_are_the_flags_defaults() {
        let s = Settings::default();
        assert_eq!(s.bind, "127.0.0.1:5000");
        assert_eq!((s.max_filters, s.queue_frames), (100, 1000));
        assert!(s.mqtt.broker_url.is_none());
    }
}
