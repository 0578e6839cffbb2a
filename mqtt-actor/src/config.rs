//! Settings: the Flask-MQTT set with the same names, meanings and defaults, built
//! in code, from environment variables or from a TOML / JSON source, and validated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{MqttError, Result};
use crate::messages::QoS;

/// How to reach the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// Plain MQTT over TCP (or TLS).
    #[default]
    Tcp,
    /// MQTT over WebSocket (`ws://`, or `wss://` with TLS).
    Websockets,
}

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (Flask-MQTT's `MQTTv311`, the default).
    #[default]
    V311,
    /// MQTT 5.
    V5,
}

/// TLS protocol version to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersion {
    /// Let OpenSSL negotiate the best version both sides support.
    #[default]
    Auto,
    /// TLS 1.0.
    V1_0,
    /// TLS 1.1.
    V1_1,
    /// TLS 1.2.
    V1_2,
}

/// Every setting of the MQTT connection. Field `x` is Flask-MQTT's `MQTT_X`.
///
/// ```
/// use mqtt_actor::MqttConfig;
/// let config = MqttConfig {
///     broker_url: "broker.local".into(),
///     broker_port: 1884,
///     keepalive: 30,
///     ..MqttConfig::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    /// `MQTT_CLIENT_ID`; empty means a unique id is generated.
    pub client_id: String,
    /// `MQTT_BROKER_URL`: a host name, or a full URI (`tcp://`, `ssl://`, `ws://`, `wss://`).
    pub broker_url: String,
    /// `MQTT_BROKER_PORT`.
    pub broker_port: u16,
    /// `MQTT_USERNAME`.
    pub username: Option<String>,
    /// `MQTT_PASSWORD`.
    pub password: Option<String>,
    /// `MQTT_KEEPALIVE`, seconds.
    pub keepalive: u64,
    /// `MQTT_CLEAN_SESSION`.
    pub clean_session: bool,
    /// `MQTT_TLS_ENABLED`.
    pub tls_enabled: bool,
    /// `MQTT_TLS_CA_CERTS`: PEM file of the CA(s) to trust.
    pub tls_ca_certs: Option<PathBuf>,
    /// `MQTT_TLS_CERTFILE`: PEM client certificate.
    pub tls_certfile: Option<PathBuf>,
    /// `MQTT_TLS_KEYFILE`: PEM private key of the client certificate.
    pub tls_keyfile: Option<PathBuf>,
    /// `MQTT_TLS_INSECURE`: skip verification of the server certificate and host name.
    pub tls_insecure: bool,
    /// `MQTT_TLS_VERSION`.
    pub tls_version: TlsVersion,
    /// `MQTT_TLS_CIPHERS`: an OpenSSL cipher list.
    pub tls_ciphers: Option<String>,
    /// `MQTT_LAST_WILL_TOPIC`.
    pub last_will_topic: Option<String>,
    /// `MQTT_LAST_WILL_MESSAGE`.
    pub last_will_message: String,
    /// `MQTT_LAST_WILL_QOS`.
    pub last_will_qos: QoS,
    /// `MQTT_LAST_WILL_RETAIN`.
    pub last_will_retain: bool,
    /// `MQTT_TRANSPORT`: `tcp` or `websockets`.
    pub transport: Transport,
    /// `MQTT_PROTOCOL_VERSION`: `3.1.1` (also `4`, `MQTTv311`) or `5` (`MQTTv5`).
    pub protocol_version: ProtocolVersion,
    /// `MQTT_RECONNECT_MIN_DELAY_MS`: first wait before reconnecting; doubles up to the max.
    pub reconnect_min_delay: Duration,
    /// `MQTT_RECONNECT_MAX_DELAY_MS`: longest wait between reconnect attempts.
    pub reconnect_max_delay: Duration,
    /// `MQTT_REQUEST_TIMEOUT_MS`: how long to wait for CONNACK, SUBACK, PUBACK, ...
    pub request_timeout: Duration,
    /// `MQTT_MAX_BUFFERED_PUBLISHES`: QoS 1/2 publishes kept while disconnected.
    pub max_buffered_publishes: usize,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            client_id: String::new(),
            broker_url: "localhost".into(),
            broker_port: 1883,
            username: None,
            password: None,
            keepalive: 60,
            clean_session: true,
            tls_enabled: false,
            tls_ca_certs: None,
            tls_certfile: None,
            tls_keyfile: None,
            tls_insecure: false,
            tls_version: TlsVersion::Auto,
            tls_ciphers: None,
            last_will_topic: None,
            last_will_message: String::new(),
            last_will_qos: QoS::AtMostOnce,
            last_will_retain: false,
            transport: Transport::Tcp,
            protocol_version: ProtocolVersion::V311,
            reconnect_min_delay: Duration::from_millis(500),
            reconnect_max_delay: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            max_buffered_publishes: 1000,
        }
    }
}

/// The setting names (without prefix), in the order of the README's table.
pub const SETTINGS: &[&str] = &[
    "CLIENT_ID",
    "BROKER_URL",
    "BROKER_PORT",
    "USERNAME",
    "PASSWORD",
    "KEEPALIVE",
    "CLEAN_SESSION",
    "TLS_ENABLED",
    "TLS_CA_CERTS",
    "TLS_CERTFILE",
    "TLS_KEYFILE",
    "TLS_INSECURE",
    "TLS_VERSION",
    "TLS_CIPHERS",
    "LAST_WILL_TOPIC",
    "LAST_WILL_MESSAGE",
    "LAST_WILL_QOS",
    "LAST_WILL_RETAIN",
    "TRANSPORT",
    "PROTOCOL_VERSION",
    "RECONNECT_MIN_DELAY_MS",
    "RECONNECT_MAX_DELAY_MS",
    "REQUEST_TIMEOUT_MS",
    "MAX_BUFFERED_PUBLISHES",
];

impl MqttConfig {
    /// Reads `MQTT_*` environment variables over the defaults.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with_prefix("MQTT")
    }

    /// Reads `{prefix}_*` environment variables (Flask-MQTT's `config_prefix`),
    /// e.g. `SENSORS_BROKER_URL` for prefix `SENSORS`.
    pub fn from_env_with_prefix(prefix: &str) -> Result<Self> {
        let vars = SETTINGS.iter().filter_map(|name| {
            let key = format!("{prefix}_{name}");
            std::env::var(&key).ok().map(|v| (key, v))
        });
        Self::from_pairs(prefix, vars)
    }

    /// Parses settings given as `(name, value)` strings. A name is the setting
    /// with or without `{prefix}_`, in any case (`MQTT_BROKER_PORT`, `broker_port`).
    pub fn from_pairs<I, K, V>(prefix: &str, pairs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = MqttConfig::default();
        for (key, value) in pairs {
            config.set(prefix, key.as_ref(), value.as_ref())?;
        }
        config.validate_named(prefix)?;
        Ok(config)
    }

    /// Parses a TOML document of settings (`broker_url = "..."` or `MQTT_BROKER_URL = "..."`).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let map: BTreeMap<String, toml::Value> =
            toml::from_str(text).map_err(|e| source_error("TOML", e))?;
        Self::from_pairs("MQTT", map.into_iter().map(|(k, v)| (k, toml_scalar(&v))))
    }

    /// Parses a JSON object of settings.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let map: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| source_error("JSON", e))?;
        Self::from_pairs("MQTT", map.into_iter().map(|(k, v)| (k, json_scalar(&v))))
    }

    /// Loads a `.toml` or `.json` file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| source_error(&path.display().to_string(), e))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Self::from_json_str(&text),
            _ => Self::from_toml_str(&text),
        }
    }

    /// Sets one setting from its string form; the error names the setting and value.
    pub fn set(&mut self, prefix: &str, key: &str, value: &str) -> Result<()> {
        let upper = key.to_ascii_uppercase();
        let own = format!("{}_", prefix.to_ascii_uppercase());
        let name = upper.strip_prefix(&own).unwrap_or(&upper);
        let setting = format!("{prefix}_{name}");
        let bad = |reason: &str| MqttError::config(&setting, value, reason);
        let v = value.trim();
        match name {
            "CLIENT_ID" => self.client_id = value.to_string(),
            "BROKER_URL" => self.broker_url = v.to_string(),
            "BROKER_PORT" => {
                self.broker_port =
                    parse_num(v).ok_or_else(|| bad("expected a port number 1-65535"))?
            }
            "USERNAME" => self.username = non_empty(value),
            "PASSWORD" => self.password = non_empty(value),
            "KEEPALIVE" => {
                self.keepalive =
                    parse_num(v).ok_or_else(|| bad("expected seconds as a whole number"))?
            }
            "CLEAN_SESSION" => {
                self.clean_session = parse_bool(v).ok_or_else(|| bad("expected true or false"))?
            }
            "TLS_ENABLED" => {
                self.tls_enabled = parse_bool(v).ok_or_else(|| bad("expected true or false"))?
            }
            "TLS_CA_CERTS" => self.tls_ca_certs = non_empty(v).map(PathBuf::from),
            "TLS_CERTFILE" => self.tls_certfile = non_empty(v).map(PathBuf::from),
            "TLS_KEYFILE" => self.tls_keyfile = non_empty(v).map(PathBuf::from),
            "TLS_INSECURE" => {
                self.tls_insecure = parse_bool(v).ok_or_else(|| bad("expected true or false"))?
            }
            "TLS_VERSION" => {
                self.tls_version = parse_tls_version(v)
                    .ok_or_else(|| bad("expected auto, tlsv1, tlsv1.1 or tlsv1.2"))?
            }
            "TLS_CIPHERS" => self.tls_ciphers = non_empty(v),
            "LAST_WILL_TOPIC" => self.last_will_topic = non_empty(v),
            "LAST_WILL_MESSAGE" => self.last_will_message = value.to_string(),
            "LAST_WILL_QOS" => {
                self.last_will_qos = parse_qos(v).ok_or_else(|| bad("expected 0, 1 or 2"))?
            }
            "LAST_WILL_RETAIN" => {
                self.last_will_retain =
                    parse_bool(v).ok_or_else(|| bad("expected true or false"))?
            }
            "TRANSPORT" => {
                self.transport =
                    parse_transport(v).ok_or_else(|| bad("expected tcp or websockets"))?
            }
            "PROTOCOL_VERSION" => {
                self.protocol_version =
                    parse_protocol(v).ok_or_else(|| bad("expected 3.1.1 or 5"))?
            }
            "RECONNECT_MIN_DELAY_MS" => {
                self.reconnect_min_delay =
                    parse_millis(v).ok_or_else(|| bad("expected milliseconds"))?
            }
            "RECONNECT_MAX_DELAY_MS" => {
                self.reconnect_max_delay =
                    parse_millis(v).ok_or_else(|| bad("expected milliseconds"))?
            }
            "REQUEST_TIMEOUT_MS" => {
                self.request_timeout =
                    parse_millis(v).ok_or_else(|| bad("expected milliseconds"))?
            }
            "MAX_BUFFERED_PUBLISHES" => {
                self.max_buffered_publishes = parse_num(v).ok_or_else(|| bad("expected a count"))?
            }
            _ => return Err(MqttError::config(&setting, value, "unknown setting")),
        }
        Ok(())
    }

    /// Checks the settings together: files exist, values fit, combinations make sense.
    pub fn validate(&self) -> Result<()> {
        self.validate_named("MQTT")
    }

    fn validate_named(&self, prefix: &str) -> Result<()> {
        let bad = |name: &str, value: &dyn std::fmt::Display, reason: &str| {
            Err(MqttError::config(
                &format!("{prefix}_{name}"),
                value,
                reason,
            ))
        };
        if self.broker_url.trim().is_empty() {
            return bad("BROKER_URL", &"", "the broker host must not be empty");
        }
        if self.broker_port == 0 {
            return bad("BROKER_PORT", &0, "expected a port number 1-65535");
        }
        for (name, path) in [
            ("TLS_CA_CERTS", &self.tls_ca_certs),
            ("TLS_CERTFILE", &self.tls_certfile),
            ("TLS_KEYFILE", &self.tls_keyfile),
        ] {
            if let Some(p) = path {
                if !p.is_file() {
                    return bad(name, &p.display(), "no such file");
                }
            }
        }
        if self.tls_certfile.is_some() != self.tls_keyfile.is_some() {
            return bad(
                "TLS_KEYFILE",
                &self
                    .tls_keyfile
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display(),
                "a client certificate needs both MQTT_TLS_CERTFILE and MQTT_TLS_KEYFILE",
            );
        }
        if let Some(t) = &self.last_will_topic {
            if let Err(e) = crate::topic::validate_topic(t) {
                return bad("LAST_WILL_TOPIC", t, &e.to_string());
            }
        }
        if self.reconnect_min_delay > self.reconnect_max_delay {
            return bad(
                "RECONNECT_MIN_DELAY_MS",
                &self.reconnect_min_delay.as_millis(),
                "must not exceed MQTT_RECONNECT_MAX_DELAY_MS",
            );
        }
        if self.request_timeout.is_zero() {
            return bad("REQUEST_TIMEOUT_MS", &0, "must be above zero");
        }
        Ok(())
    }

    /// The URI handed to Paho: `broker_url` as is when it has a scheme, else
    /// built from host, port, transport and TLS.
    pub fn server_uri(&self) -> String {
        if self.broker_url.contains("://") {
            return self.broker_url.clone();
        }
        let scheme = match (self.transport, self.tls_enabled) {
            (Transport::Tcp, false) => "tcp",
            (Transport::Tcp, true) => "ssl",
            (Transport::Websockets, false) => "ws",
            (Transport::Websockets, true) => "wss",
        };
        format!("{scheme}://{}:{}", self.broker_url, self.broker_port)
    }

    /// `host:port` of the broker, for a plain TCP reachability probe.
    pub(crate) fn tcp_address(&self) -> String {
        let uri = self.server_uri();
        let rest = uri.split_once("://").map_or(uri.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        if authority.contains(':') {
            authority.to_string()
        } else {
            let port = if uri.starts_with("ws://") {
                80
            } else if uri.starts_with("wss://") {
                443
            } else {
                self.broker_port
            };
            format!("{authority}:{port}")
        }
    }

    /// Whether the connection uses TLS (by flag or by an `ssl://` / `wss://` / `mqtts://` URI).
    pub fn uses_tls(&self) -> bool {
        self.tls_enabled
            || ["ssl://", "wss://", "mqtts://"]
                .iter()
                .any(|s| self.broker_url.starts_with(s))
    }
}

impl<'de> Deserialize<'de> for MqttConfig {
    /// Accepts a map of settings, as [`MqttConfig::from_json_str`] does, so the
    /// config can sit inside an application's own serde configuration.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let map = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
        MqttConfig::from_pairs("MQTT", map.into_iter().map(|(k, v)| (k, json_scalar(&v))))
            .map_err(serde::de::Error::custom)
    }
}

fn source_error(name: &str, e: impl std::fmt::Display) -> MqttError {
    MqttError::ConfigSource {
        source_name: name.to_string(),
        reason: e.to_string(),
    }
}

fn json_scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn toml_scalar(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn non_empty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
}

fn parse_num<T: std::str::FromStr>(v: &str) -> Option<T> {
    v.parse().ok()
}

fn parse_millis(v: &str) -> Option<Duration> {
    parse_num(v).map(Duration::from_millis)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_qos(v: &str) -> Option<QoS> {
    parse_num::<i64>(v).and_then(|n| QoS::try_from(n).ok())
}

fn parse_transport(v: &str) -> Option<Transport> {
    match v.to_ascii_lowercase().as_str() {
        "tcp" => Some(Transport::Tcp),
        "websockets" | "websocket" | "ws" => Some(Transport::Websockets),
        _ => None,
    }
}

fn parse_protocol(v: &str) -> Option<ProtocolVersion> {
    match v.to_ascii_lowercase().as_str() {
        "3.1.1" | "4" | "mqttv311" | "v311" => Some(ProtocolVersion::V311),
        "5" | "5.0" | "mqttv5" | "v5" => Some(ProtocolVersion::V5),
        _ => None,
    }
}

fn parse_tls_version(v: &str) -> Option<TlsVersion> {
    match v.to_ascii_lowercase().replace(['_', ' '], ".").as_str() {
        "" | "auto" | "default" | "tls" => Some(TlsVersion::Auto),
        "tlsv1" | "tlsv1.0" | "1.0" => Some(TlsVersion::V1_0),
        "tlsv1.1" | "1.1" => Some(TlsVersion::V1_1),
        "tlsv1.2" | "1.2" | "protocol.tlsv1.2" => Some(TlsVersion::V1_2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_flask_mqtt() {
        let c = MqttConfig::default();
        assert_eq!(
            (c.broker_url.as_str(), c.broker_port, c.keepalive),
            ("localhost", 1883, 60)
        );
        assert!(c.clean_session && !c.tls_enabled);
        assert_eq!(c.server_uri(), "tcp://localhost:1883");
    }

    #[test]
    fn a_bad_port_names_the_setting_and_the_value() {
        let err = MqttConfig::from_pairs("MQTT", [("MQTT_BROKER_PORT", "abc")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("MQTT_BROKER_PORT") && text.contains("abc"),
            "{text}"
        );
    }

    #[test]
    fn qos_3_is_refused() {
        let err = MqttConfig::from_pairs("MQTT", [("LAST_WILL_QOS", "3")]).unwrap_err();
        assert!(err.to_string().contains("MQTT_LAST_WILL_QOS"), "{err}");
    }

    #[test]
    fn a_missing_ca_file_is_an_error() {
        let err =
            MqttConfig::from_pairs("MQTT", [("TLS_CA_CERTS", "/nonexistent/ca.pem")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("MQTT_TLS_CA_CERTS") && text.contains("/nonexistent/ca.pem"),
            "{text}"
        );
    }

    #[test]
    fn another_prefix_reads_its_own_names() {
        let c = MqttConfig::from_pairs(
            "SENSORS",
            [
                ("SENSORS_BROKER_URL", "10.0.0.2"),
                ("SENSORS_KEEPALIVE", "5"),
            ],
        )
        .unwrap();
        assert_eq!((c.broker_url.as_str(), c.keepalive), ("10.0.0.2", 5));
        let err = MqttConfig::from_pairs("SENSORS", [("SENSORS_KEEPALIVE", "-1")]).unwrap_err();
        assert!(err.to_string().contains("SENSORS_KEEPALIVE"), "{err}");
    }

    #[test]
    fn toml_and_json_sources_accept_both_spellings() {
        let t = MqttConfig::from_toml_str("broker_url = \"h\"\nMQTT_BROKER_PORT = 1884\ntransport = \"websockets\"\nprotocol_version = 5").unwrap();
        assert_eq!(
            (t.broker_port, t.transport, t.protocol_version),
            (1884, Transport::Websockets, ProtocolVersion::V5)
        );
        assert_eq!(t.server_uri(), "ws://h:1884");
        let j =
            MqttConfig::from_json_str(r#"{"clean_session": false, "last_will_qos": 2}"#).unwrap();
        assert!(!j.clean_session && j.last_will_qos == QoS::ExactlyOnce);
        let err = MqttConfig::from_json_str(r#"{"broker_port": "abc"}"#).unwrap_err();
        assert!(err.to_string().contains("MQTT_BROKER_PORT") && err.to_string().contains("abc"));
        let err = MqttConfig::from_json_str(r#"{"brokr_url": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown setting"), "{err}");
    }

    #[test]
    fn a_config_can_sit_inside_a_serde_struct() {
        #[derive(Deserialize)]
        struct App {
            mqtt: MqttConfig,
        }
        let app: App = serde_json::from_str(r#"{"mqtt":{"keepalive":"7"}}"#).unwrap();
        assert_eq!(app.mqtt.keepalive, 7);
    }
}
