//! Settings: the Flask-MQTT set with the same names, meanings and defaults, built
//! in code, from environment variables or from a TOML / JSON source, and validated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{MqttError, Result};
use crate::qos::QoS;

/// How to reach the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// Plain MQTT over TCP (or TLS).
    #[default]
    Tcp,
    /// MQTT over WebSocket (`ws://`, or `wss://` with TLS).
    Websockets,
}

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (Flask-MQTT's `MQTTv311`, the default).
    #[default]
    V311,
    /// MQTT 5.
    V5,
}

/// TLS protocol version to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
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
/// New settings may be added, so build it from [`Default`] (or a source)
/// and set fields:
///
/// ```
/// use std::time::Duration;
/// use mqtt_actor::MqttConfig;
/// let mut config = MqttConfig::default();
/// config.broker_url = "broker.local".into();
/// config.broker_port = 1884;
/// config.keepalive = Duration::from_secs(30);
/// assert!(config.validate().is_ok());
/// ```
///
/// `Debug` shows every field but the password, which shows as `<redacted>`.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct MqttConfig {
    /// `MQTT_CLIENT_ID`; empty means a unique id is generated. `{hostname}`
    /// and `{pid}` in it are replaced by the machine's host name and the
    /// process id, so that every instance of an application has its own id.
    pub client_id: String,
    /// `MQTT_BROKER_URL`: a host name, or a full URI (`tcp://`, `ssl://`, `ws://`, `wss://`);
    /// or a comma-separated failover list of them, tried in order.
    pub broker_url: String,
    /// `MQTT_BROKER_PORT`.
    pub broker_port: u16,
    /// `MQTT_USERNAME`.
    pub username: Option<String>,
    /// `MQTT_PASSWORD`.
    pub password: Option<String>,
    /// `MQTT_KEEPALIVE`: the keep-alive interval (given in seconds).
    pub keepalive: Duration,
    /// `MQTT_CLEAN_SESSION`.
    pub clean_session: bool,
    /// `MQTT_TLS_ENABLED`. With a plain-text `tcp://`, `mqtt://` or `ws://`
    /// broker URI, validation fails rather than connect without TLS.
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
    /// `MQTT_RETAIN_AVAILABLE`: whether the broker keeps retained messages.
    /// An MQTT 5 broker says so in CONNACK; on MQTT 3.1.1, where it says
    /// nothing, this says it. `false` refuses every retained publish with
    /// [`MqttError::RetainUnavailable`] (a broker configured with
    /// `retain_available false` would close the connection).
    pub retain_available: bool,
    /// `MQTT_MAX_QOS`: the highest QoS the broker accepts on a publish. An
    /// MQTT 5 broker announces its own in CONNACK (this can only lower it);
    /// on MQTT 3.1.1 this is all the library knows. A publish above it is
    /// refused with [`MqttError::QosNotSupported`].
    pub max_qos: QoS,
}

impl std::fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured whole, so a new field cannot be left out (or leak).
        let MqttConfig {
            client_id,
            broker_url,
            broker_port,
            username,
            password,
            keepalive,
            clean_session,
            tls_enabled,
            tls_ca_certs,
            tls_certfile,
            tls_keyfile,
            tls_insecure,
            tls_version,
            tls_ciphers,
            last_will_topic,
            last_will_message,
            last_will_qos,
            last_will_retain,
            transport,
            protocol_version,
            reconnect_min_delay,
            reconnect_max_delay,
            request_timeout,
            max_buffered_publishes,
            retain_available,
            max_qos,
        } = self;
        f.debug_struct("MqttConfig")
            .field("client_id", client_id)
            .field("broker_url", broker_url)
            .field("broker_port", broker_port)
            .field("username", username)
            .field("password", &password.as_ref().map(|_| "<redacted>"))
            .field("keepalive", keepalive)
            .field("clean_session", clean_session)
            .field("tls_enabled", tls_enabled)
            .field("tls_ca_certs", tls_ca_certs)
            .field("tls_certfile", tls_certfile)
            .field("tls_keyfile", tls_keyfile)
            .field("tls_insecure", tls_insecure)
            .field("tls_version", tls_version)
            .field("tls_ciphers", tls_ciphers)
            .field("last_will_topic", last_will_topic)
            .field("last_will_message", last_will_message)
            .field("last_will_qos", last_will_qos)
            .field("last_will_retain", last_will_retain)
            .field("transport", transport)
            .field("protocol_version", protocol_version)
            .field("reconnect_min_delay", reconnect_min_delay)
            .field("reconnect_max_delay", reconnect_max_delay)
            .field("request_timeout", request_timeout)
            .field("max_buffered_publishes", max_buffered_publishes)
            .field("retain_available", retain_available)
            .field("max_qos", max_qos)
            .finish()
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            client_id: String::new(),
            broker_url: "localhost".into(),
            broker_port: 1883,
            username: None,
            password: None,
            keepalive: Duration::from_secs(60),
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
            retain_available: true,
            max_qos: QoS::ExactlyOnce,
        }
    }
}

/// One setting: its name, the [`MqttConfig`] field it fills, its default and
/// what it means. [`SETTINGS`] lists them all; reading the environment, files
/// and `(name, value)` pairs is driven by that list, and an application can
/// derive its own flags from it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Setting {
    /// The name without prefix (`BROKER_PORT`); the environment variable is
    /// `MQTT_BROKER_PORT` (or `{prefix}_BROKER_PORT`).
    pub name: &'static str,
    /// The [`MqttConfig`] field it fills (`broker_port`), also accepted as a key
    /// in TOML / JSON sources.
    pub field: &'static str,
    /// The default, written the way the setting is given; empty means unset
    /// (for the client id: a generated one).
    pub default: &'static str,
    /// What it means, in one line.
    pub help: &'static str,
    /// Whether the value is a secret that must not be echoed (in `--help`, logs).
    pub secret: bool,
    /// Parses a value given as text into the field; the error says what was expected.
    apply: fn(&mut MqttConfig, &str) -> std::result::Result<(), &'static str>,
}

impl Setting {
    /// The full name under `prefix`: `MQTT_BROKER_PORT` for prefix `MQTT`.
    pub fn env_name(&self, prefix: &str) -> String {
        format!("{prefix}_{}", self.name)
    }
}

/// Writes the settings table once: each row names the setting, the field it
/// fills and the parser that fills it, so names, fields and parsing cannot
/// disagree.
macro_rules! settings {
    ($($name:literal => $field:ident: $parse:ident, $default:literal, $help:literal $(, $secret:ident)?;)*) => {
        /// Every setting, in the order of the README's table.
        pub const SETTINGS: &[Setting] = &[$(
            Setting {
                name: $name,
                field: stringify!($field),
                default: $default,
                help: $help,
                secret: settings!(@secret $($secret)?),
                apply: |config, value| {
                    config.$field = $parse(value)?;
                    Ok(())
                },
            },
        )*];
    };
    (@secret secret) => { true };
    (@secret) => { false };
}

settings! {
    "CLIENT_ID" => client_id: text, "",
        "Client id sent to the broker; {hostname} and {pid} are replaced; empty: mqtt-actor-<pid>-<n> is generated.";
    "BROKER_URL" => broker_url: trimmed, "localhost",
        "Broker host name, or a full URI (tcp://, ssl://, ws://, wss://) used as is; a comma-separated list is a failover list.";
    "BROKER_PORT" => broker_port: port, "1883",
        "Broker port (1-65535); not used when the broker URL is a full URI.";
    "USERNAME" => username: optional_text, "",
        "User name; none means no authentication.";
    "PASSWORD" => password: optional_text, "",
        "Password, sent with the user name.", secret;
    "KEEPALIVE" => keepalive: seconds, "60",
        "Keep-alive interval, seconds.";
    "CLEAN_SESSION" => clean_session: boolean, "true",
        "Start a clean session (MQTT 5: clean start).";
    "TLS_ENABLED" => tls_enabled: boolean, "false",
        "Connect with TLS (ssl://, or wss:// with WebSockets); an error with a tcp:// or ws:// URI.";
    "TLS_CA_CERTS" => tls_ca_certs: optional_path, "",
        "PEM file of the CA(s) to trust.";
    "TLS_CERTFILE" => tls_certfile: optional_path, "",
        "PEM client certificate (needs the key file too).";
    "TLS_KEYFILE" => tls_keyfile: optional_path, "",
        "PEM private key of the client certificate.";
    "TLS_INSECURE" => tls_insecure: boolean, "false",
        "Skip verification of the server certificate and host name.";
    "TLS_VERSION" => tls_version: tls_version, "auto",
        "TLS version: auto, tlsv1, tlsv1.1 or tlsv1.2.";
    "TLS_CIPHERS" => tls_ciphers: optional, "",
        "OpenSSL cipher list.";
    "LAST_WILL_TOPIC" => last_will_topic: optional, "",
        "Topic of the last will; none means no will.";
    "LAST_WILL_MESSAGE" => last_will_message: text, "",
        "Payload of the last will.";
    "LAST_WILL_QOS" => last_will_qos: qos, "0",
        "QoS of the last will: 0, 1 or 2.";
    "LAST_WILL_RETAIN" => last_will_retain: boolean, "false",
        "Whether the broker retains the last will.";
    "TRANSPORT" => transport: transport, "tcp",
        "tcp or websockets.";
    "PROTOCOL_VERSION" => protocol_version: protocol, "3.1.1",
        "MQTT version: 3.1.1 (also 4, MQTTv311) or 5 (also MQTTv5).";
    "RECONNECT_MIN_DELAY_MS" => reconnect_min_delay: millis, "500",
        "First wait before reconnecting, ms; doubles after each failure.";
    "RECONNECT_MAX_DELAY_MS" => reconnect_max_delay: millis, "30000",
        "Longest wait between reconnect attempts, ms.";
    "REQUEST_TIMEOUT_MS" => request_timeout: millis, "10000",
        "How long to wait for CONNACK, SUBACK, UNSUBACK, PUBACK / PUBCOMP, ms.";
    "MAX_BUFFERED_PUBLISHES" => max_buffered_publishes: count, "1000",
        "QoS 1/2 publishes kept while disconnected.";
    "RETAIN_AVAILABLE" => retain_available: boolean, "true",
        "Whether the broker keeps retained messages (MQTT 3.1.1; an MQTT 5 broker says so itself); false refuses retained publishes.";
    "MAX_QOS" => max_qos: qos, "2",
        "Highest QoS the broker accepts on a publish (MQTT 3.1.1; an MQTT 5 broker announces its own, which this can only lower).";
}

impl MqttConfig {
    /// Reads `MQTT_*` environment variables over the defaults.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with_prefix("MQTT")
    }

    /// Reads `{prefix}_*` environment variables (Flask-MQTT's `config_prefix`),
    /// e.g. `SENSORS_BROKER_URL` for prefix `SENSORS`.
    pub fn from_env_with_prefix(prefix: &str) -> Result<Self> {
        let vars = SETTINGS.iter().filter_map(|setting| {
            let key = setting.env_name(prefix);
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
        let full = format!("{prefix}_{name}");
        let setting = SETTINGS
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| MqttError::config(&full, value, "unknown setting"))?;
        (setting.apply)(self, value).map_err(|reason| MqttError::config(&full, value, reason))
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
        if let Err(reason) = crate::brokers::check(&self.broker_url)
            .and_then(|()| crate::brokers::one_transport(&self.server_uris()))
        {
            return bad("BROKER_URL", &self.broker_url, &reason);
        }
        if let Err(reason) = crate::client_id::check(&self.client_id) {
            return bad("CLIENT_ID", &self.client_id, reason);
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
        if self.tls_enabled {
            let url = self.broker_url.trim().to_ascii_lowercase();
            if let Some(scheme) = ["tcp://", "mqtt://", "ws://"]
                .into_iter()
                .find(|s| url.starts_with(s))
            {
                return bad(
                    "TLS_ENABLED",
                    &"true",
                    &format!(
                        "{prefix}_BROKER_URL {:?} is a plain-text {scheme} URI: use ssl:// \
                         or wss://, or set {prefix}_TLS_ENABLED=false",
                        self.broker_url
                    ),
                );
            }
        }
        // Strings of the CONNECT packet: a broker closes a connection whose
        // client id or user name carries a character MQTT forbids.
        if let Some(reason) = crate::strings::check(&self.client_id) {
            return bad("CLIENT_ID", &format!("{:?}", self.client_id), &reason);
        }
        if let Some(reason) = self.username.as_deref().and_then(crate::strings::check) {
            return bad("USERNAME", &"(not shown)", &reason);
        }
        if let Some(t) = &self.last_will_topic {
            if let Err(e) = crate::topic::validate_topic(t) {
                return bad("LAST_WILL_TOPIC", t, &e.to_string());
            }
            // A will past what the broker allows refuses the connection
            // itself (MQTT 5: CONNACK 0x9A, 0x9B).
            if self.last_will_retain && !self.retain_available {
                return bad(
                    "LAST_WILL_RETAIN",
                    &"true",
                    &format!(
                        "the broker has no retained messages ({prefix}_RETAIN_AVAILABLE=false)"
                    ),
                );
            }
            if self.last_will_qos > self.max_qos {
                return bad(
                    "LAST_WILL_QOS",
                    &u8::from(self.last_will_qos),
                    &format!(
                        "above the broker's maximum QoS ({prefix}_MAX_QOS={})",
                        u8::from(self.max_qos)
                    ),
                );
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

    /// The URI handed to Paho for the first broker of the list (see
    /// [`MqttConfig::server_uris`]).
    pub fn server_uri(&self) -> String {
        self.server_uris().into_iter().next().unwrap_or_default()
    }

    /// The URIs of the failover list, in order: each entry of `broker_url`
    /// as is when it has a scheme, else built from the host (and its port, or
    /// `broker_port`), the transport and TLS.
    pub fn server_uris(&self) -> Vec<String> {
        let scheme = match (self.transport, self.tls_enabled) {
            (Transport::Tcp, false) => "tcp",
            (Transport::Tcp, true) => "ssl",
            (Transport::Websockets, false) => "ws",
            (Transport::Websockets, true) => "wss",
        };
        let defaults = crate::brokers::Defaults {
            scheme,
            port: self.broker_port,
        };
        crate::brokers::uris(&self.broker_url, defaults)
    }

    /// Whether the connection uses TLS (by flag or by an `ssl://` / `wss://` /
    /// `mqtts://` URI in the list).
    pub fn uses_tls(&self) -> bool {
        self.tls_enabled
            || crate::brokers::entries(&self.broker_url)
                .iter()
                .any(|e| crate::brokers::uses_tls(e))
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

// The parsers of the settings table. Each takes the value as given; the error
// is what was expected, and `set` adds the setting's name and the value. Free
// text keeps its spaces; everything else is trimmed.

type Parsed<T> = std::result::Result<T, &'static str>;

fn text(v: &str) -> Parsed<String> {
    Ok(v.to_string())
}

fn trimmed(v: &str) -> Parsed<String> {
    Ok(v.trim().to_string())
}

fn optional_text(v: &str) -> Parsed<Option<String>> {
    Ok((!v.is_empty()).then(|| v.to_string()))
}

fn optional(v: &str) -> Parsed<Option<String>> {
    optional_text(v.trim())
}

fn optional_path(v: &str) -> Parsed<Option<PathBuf>> {
    Ok(optional(v)?.map(PathBuf::from))
}

fn number<T: std::str::FromStr>(v: &str, expected: &'static str) -> Parsed<T> {
    v.trim().parse().map_err(|_| expected)
}

fn port(v: &str) -> Parsed<u16> {
    number(v, "expected a port number 1-65535")
}

fn seconds(v: &str) -> Parsed<Duration> {
    number(v, "expected seconds as a whole number").map(Duration::from_secs)
}

fn millis(v: &str) -> Parsed<Duration> {
    number(v, "expected milliseconds").map(Duration::from_millis)
}

fn count(v: &str) -> Parsed<usize> {
    number(v, "expected a count")
}

fn one_of<T: Copy>(v: &str, words: &[(&[&str], T)], expected: &'static str) -> Parsed<T> {
    let v = v.trim().to_ascii_lowercase();
    words
        .iter()
        .find(|(spellings, _)| spellings.contains(&v.as_str()))
        .map(|(_, value)| *value)
        .ok_or(expected)
}

fn boolean(v: &str) -> Parsed<bool> {
    let words: &[(&[&str], bool)] = &[
        (&["1", "true", "yes", "on"], true),
        (&["0", "false", "no", "off"], false),
    ];
    one_of(v, words, "expected true or false")
}

fn qos(v: &str) -> Parsed<QoS> {
    let expected = "expected 0, 1 or 2";
    QoS::try_from(number::<i64>(v, expected)?).map_err(|_| expected)
}

fn transport(v: &str) -> Parsed<Transport> {
    let words: &[(&[&str], Transport)] = &[
        (&["tcp"], Transport::Tcp),
        (&["websockets", "websocket", "ws"], Transport::Websockets),
    ];
    one_of(v, words, "expected tcp or websockets")
}

fn protocol(v: &str) -> Parsed<ProtocolVersion> {
    let words: &[(&[&str], ProtocolVersion)] = &[
        (&["3.1.1", "4", "mqttv311", "v311"], ProtocolVersion::V311),
        (&["5", "5.0", "mqttv5", "v5"], ProtocolVersion::V5),
    ];
    one_of(v, words, "expected 3.1.1 or 5")
}

fn tls_version(v: &str) -> Parsed<TlsVersion> {
    let words: &[(&[&str], TlsVersion)] = &[
        (&["", "auto", "default", "tls"], TlsVersion::Auto),
        (&["tlsv1", "tlsv1.0", "1.0"], TlsVersion::V1_0),
        (&["tlsv1.1", "1.1"], TlsVersion::V1_1),
        (&["tlsv1.2", "1.2", "protocol.tlsv1.2"], TlsVersion::V1_2),
    ];
    one_of(
        &v.trim().replace(['_', ' '], "."),
        words,
        "expected auto, tlsv1, tlsv1.1 or tlsv1.2",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_flask_mqtt() {
        let c = MqttConfig::default();
        assert_eq!(
            (c.broker_url.as_str(), c.broker_port, c.keepalive),
            ("localhost", 1883, Duration::from_secs(60))
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
    fn a_failover_list_gives_one_uri_per_broker_and_a_bad_entry_names_itself() {
        let c = MqttConfig::from_pairs(
            "MQTT",
            [
                ("BROKER_URL", "node1, node2:1884,tcp://node3:1885"),
                ("BROKER_PORT", "1999"),
            ],
        )
        .unwrap();
        assert_eq!(
            c.server_uris(),
            ["tcp://node1:1999", "tcp://node2:1884", "tcp://node3:1885"]
        );
        assert_eq!(c.server_uri(), "tcp://node1:1999");
        let c = MqttConfig::from_pairs(
            "MQTT",
            [
                ("BROKER_URL", "ssl://a:8883,ssl://b:8883"),
                ("TLS_INSECURE", "true"),
            ],
        )
        .unwrap();
        assert!(c.uses_tls(), "ssl:// entries need the TLS options");
        let err = MqttConfig::from_pairs("MQTT", [("BROKER_URL", "a,ssl://b:8883")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("MQTT_BROKER_URL") && text.contains("entry 2"),
            "{text}"
        );
        let err = MqttConfig::from_pairs("MQTT", [("BROKER_URL", "node1,,node3")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid value "node1,,node3" for MQTT_BROKER_URL: entry 2 "": a broker must not be empty"#
        );
        let err =
            MqttConfig::from_pairs("MQTT", [("BROKER_URL", "node1,htp://node2")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("MQTT_BROKER_URL") && text.contains(r#"entry 2 "htp://node2""#),
            "{text}"
        );
    }

    #[test]
    fn a_client_id_may_name_the_host_and_the_process_but_nothing_else() {
        assert!(MqttConfig::from_pairs("MQTT", [("CLIENT_ID", "app-{hostname}-{pid}")]).is_ok());
        let err = MqttConfig::from_pairs("MQTT", [("CLIENT_ID", "app-{host}")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("MQTT_CLIENT_ID") && text.contains("{host}"),
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
    fn tls_with_a_plain_text_uri_is_refused_naming_the_setting() {
        for url in ["tcp://h:1883", "ws://h:9001/mqtt", "TCP://h", "mqtt://h"] {
            let err =
                MqttConfig::from_pairs("MQTT", [("TLS_ENABLED", "true"), ("BROKER_URL", url)])
                    .unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("MQTT_TLS_ENABLED")
                    && text.contains("\"true\"")
                    && text.contains(url),
                "{text}"
            );
        }
        let c = MqttConfig {
            tls_enabled: true,
            broker_url: "tcp://h".into(),
            ..MqttConfig::default()
        };
        assert!(c.validate().is_err(), "validate() checks it too");
        for url in ["ssl://h:8883", "wss://h/mqtt", "h"] {
            let c = MqttConfig::from_pairs("MQTT", [("TLS_ENABLED", "true"), ("BROKER_URL", url)])
                .unwrap();
            assert!(c.uses_tls(), "{url}");
        }
        assert!(MqttConfig::from_pairs("MQTT", [("BROKER_URL", "tcp://h")]).is_ok());
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
        assert_eq!(
            (c.broker_url.as_str(), c.keepalive),
            ("10.0.0.2", Duration::from_secs(5))
        );
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
        assert_eq!(app.mqtt.keepalive, Duration::from_secs(7));
    }

    #[test]
    fn every_field_of_the_config_is_a_setting_and_every_setting_a_field() {
        // `{:#?}` puts each field of the struct on its own line, indented once.
        let debug = format!("{:#?}", MqttConfig::default());
        let fields: Vec<&str> = debug
            .lines()
            .filter_map(|l| l.strip_prefix("    ")?.split_once(": ").map(|(f, _)| f))
            .filter(|f| !f.starts_with(' '))
            .collect();
        let table: Vec<&str> = SETTINGS.iter().map(|s| s.field).collect();
        assert_eq!(fields, table, "MqttConfig's fields, in order");
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len(), "setting names are unique");
    }

    #[test]
    fn the_table_defaults_are_the_config_defaults() {
        for s in SETTINGS {
            let mut c = MqttConfig::default();
            c.set("MQTT", s.name, s.default).unwrap();
            assert_eq!(c, MqttConfig::default(), "default of {}", s.name);
        }
    }

    #[test]
    fn booleans_read_every_spelling_and_name_the_setting_otherwise() {
        for (text, value) in [("TRUE", true), (" yes", true), ("on", true), ("0", false)] {
            for s in SETTINGS.iter().filter(|s| s.default == "false") {
                let c = MqttConfig::from_pairs("MQTT", [(s.name, text)]).unwrap();
                let debug = format!("{c:?}");
                assert!(debug.contains(&format!("{}: {value}", s.field)), "{debug}");
            }
        }
        let err = MqttConfig::from_pairs("MQTT", [("TLS_INSECURE", "maybe")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid value "maybe" for MQTT_TLS_INSECURE: expected true or false"#
        );
    }

    #[test]
    fn free_text_keeps_its_spaces_and_the_rest_is_trimmed() {
        let c = MqttConfig::from_pairs(
            "MQTT",
            [
                ("LAST_WILL_MESSAGE", " bye "),
                ("BROKER_URL", " h "),
                ("TLS_VERSION", " PROTOCOL_TLSv1_2 "),
                ("KEEPALIVE", " 7"),
            ],
        )
        .unwrap();
        assert_eq!(c.last_will_message, " bye ");
        assert_eq!(c.broker_url, "h");
        assert_eq!(
            (c.tls_version, c.keepalive),
            (TlsVersion::V1_2, Duration::from_secs(7))
        );
    }

    #[test]
    fn the_readme_table_lists_the_settings_in_order() {
        let readme = include_str!("../../README.md");
        let rows: Vec<(String, String)> = readme
            .lines()
            .skip_while(|l| !l.starts_with("| Environment variable | Field |"))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| {
                let mut cells = l.strip_prefix("| `MQTT_")?.split('|');
                let name = cells.next()?.trim().trim_end_matches('`');
                let field = cells.next()?.trim().trim_matches('`');
                Some((name.to_string(), field.to_string()))
            })
            .collect();
        let table: Vec<(String, String)> = SETTINGS
            .iter()
            .map(|s| (s.name.to_string(), s.field.to_string()))
            .collect();
        assert_eq!(rows, table);
    }

    #[test]
    fn debug_redacts_the_password() {
        let config = MqttConfig {
            username: Some("plant".into()),
            password: Some("hunter2".into()),
            ..MqttConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(
            shown.contains("plant") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn connect_strings_and_the_will_are_held_to_what_the_broker_allows() {
        let error = |pairs: &[(&str, &str)]| {
            MqttConfig::from_pairs("MQTT", pairs.iter().copied())
                .unwrap_err()
                .to_string()
        };
        let e = error(&[("CLIENT_ID", "dash\u{7}board")]);
        assert!(e.contains("MQTT_CLIENT_ID") && e.contains("U+0007"), "{e}");
        let e = error(&[("USERNAME", "al\u{1b}ice")]);
        assert!(e.contains("MQTT_USERNAME") && e.contains("U+001B"), "{e}");
        assert!(!e.contains("alice") && !e.contains("al\u{1b}ice"), "{e}");
        let e = error(&[
            ("LAST_WILL_TOPIC", "app/state"),
            ("LAST_WILL_RETAIN", "true"),
            ("RETAIN_AVAILABLE", "false"),
        ]);
        assert!(e.contains("MQTT_LAST_WILL_RETAIN"), "{e}");
        let e = error(&[
            ("LAST_WILL_TOPIC", "app/state"),
            ("LAST_WILL_QOS", "2"),
            ("MAX_QOS", "1"),
        ]);
        assert!(
            e.contains("MQTT_LAST_WILL_QOS") && e.contains("MQTT_MAX_QOS=1"),
            "{e}"
        );
        // Within the limits, or with no will at all, the same settings pass.
        MqttConfig::from_pairs(
            "MQTT",
            [
                ("LAST_WILL_TOPIC", "app/state"),
                ("LAST_WILL_QOS", "1"),
                ("MAX_QOS", "1"),
                ("RETAIN_AVAILABLE", "false"),
            ],
        )
        .unwrap();
        MqttConfig::from_pairs(
            "MQTT",
            [("LAST_WILL_RETAIN", "true"), ("RETAIN_AVAILABLE", "false")],
        )
        .unwrap();
    }
}
