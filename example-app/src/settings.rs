//! Command-line flags and environment variables (clap): the app's own limits,
//! who may use it (`AUTH_*`, `SESSION_KEY`, `HTTP_*`; see the README's "Access
//! control"), and one flag per setting of the library, generated from its
//! table. `Debug` of the settings never shows a secret.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use mqtt_actor::web::{BridgeConfig, TrustedProxies};
use mqtt_actor::{MqttConfig, MqttError};

use crate::history::HistoryArgs;

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
    /// Most filters one WebSocket session may hold, counting those still
    /// waiting for the broker's answer (`bad_request` beyond).
    #[arg(long, env = "WS_MAX_FILTERS", default_value_t = 100)]
    pub max_filters: usize,
    /// Most levels in a filter or topic from the web (`invalid_topic` beyond).
    #[arg(long, env = "WS_MAX_FILTER_LEVELS", default_value_t = 32)]
    pub max_filter_levels: usize,
    /// Longest filter or topic from the web, in bytes (`invalid_topic` beyond).
    #[arg(long, env = "WS_MAX_FILTER_BYTES", default_value_t = 1024)]
    pub max_filter_bytes: usize,
    /// Outbound frames queued per session before the oldest messages are dropped
    /// (`lagged`). High enough that `WS_QUEUE_BYTES` is the bound that acts:
    /// a client that keeps up must not lose a burst of small messages.
    #[arg(long, env = "WS_QUEUE_FRAMES", default_value_t = 65536)]
    pub queue_frames: usize,
    /// Outbound bytes queued per session before the oldest messages are dropped (`lagged`).
    #[arg(long, env = "WS_QUEUE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub queue_bytes: usize,
    /// Requests of one WebSocket session answered at once; further frames
    /// are not read until one is answered.
    #[arg(long, env = "WS_MAX_INFLIGHT", default_value_t = 64)]
    pub max_inflight: usize,
    /// Open WebSocket sessions at most (`503` for the next upgrade).
    #[arg(long, env = "WS_MAX_SESSIONS", default_value_t = 10_000)]
    pub max_sessions: usize,
    /// Open WebSocket sessions from one IP address at most (`429` for the next upgrade).
    #[arg(long, env = "WS_MAX_SESSIONS_PER_IP", default_value_t = 100)]
    pub max_sessions_per_ip: usize,
    /// Seconds between heartbeat pings to each WebSocket client.
    #[arg(long, env = "WS_HEARTBEAT_S", default_value_t = 5)]
    pub heartbeat_s: u64,
    /// Seconds a session may go without a frame from its client, or with
    /// frames waiting that its client does not read, before it is closed.
    #[arg(long, env = "WS_IDLE_TIMEOUT_S", default_value_t = 30)]
    pub idle_timeout_s: u64,
    /// Topics kept in the last-value cache of `/api/topics`.
    #[arg(long, env = "TOPIC_CACHE_SIZE", default_value_t = 1000)]
    pub topic_cache_size: usize,
    /// Payload bytes kept in the last-value cache of `/api/topics`; the least
    /// recently seen topics go first.
    #[arg(long, env = "TOPIC_CACHE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub topic_cache_bytes: usize,
    /// Messages kept per topic for `/api/history` (and the most it answers).
    #[arg(long, env = "HISTORY_PER_TOPIC", default_value_t = 100)]
    pub history_per_topic: usize,
    /// Bytes of topics and payloads kept for `/api/history`, all topics
    /// together; the oldest messages go first.
    #[arg(long, env = "HISTORY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub history_bytes: usize,
    /// Port for the embedded broker (default: any free port).
    #[arg(long, env = "EMBEDDED_BROKER_PORT")]
    pub embedded_broker_port: Option<u16>,
    /// Connections the embedded broker holds at once, the app's own included
    /// (more are closed at once, counted in the log).
    #[arg(long, env = "EMBEDDED_BROKER_MAX_CONNECTIONS", default_value_t = 1024)]
    pub embedded_broker_max_connections: usize,
    /// Seconds a client of the embedded broker has to send its CONNECT, and
    /// to finish a packet it began (plus a second per MiB of it).
    #[arg(long, env = "EMBEDDED_BROKER_TIMEOUT_S", default_value_t = 10)]
    pub embedded_broker_timeout_s: u64,
    /// Mosquitto password file (made by mosquitto_passwd): every route but
    /// /healthz, /readyz and the login page then needs a user. Re-read on SIGHUP.
    #[arg(long, env = "AUTH_PASSWORD_FILE", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Mosquitto ACL file: what each web client may subscribe to and publish.
    /// Re-read on SIGHUP.
    #[arg(long, env = "AUTH_ACL_FILE", value_name = "FILE")]
    pub acl_file: Option<PathBuf>,
    /// Key that signs and encrypts the login cookie, at least 32 bytes
    /// (e.g. `openssl rand -base64 48`); unset: a random key per process, so
    /// logins end when it restarts.
    #[arg(long, env = "SESSION_KEY", value_name = "KEY", hide_env_values = true)]
    pub session_key: Option<SessionKey>,
    /// Seconds a login through the login page lasts.
    #[arg(long, env = "AUTH_SESSION_TTL_S", default_value_t = 12 * 3600)]
    pub session_ttl_s: u64,
    /// Signed-out logins remembered until they would expire; at the bound,
    /// logins ending before the oldest one end too.
    #[arg(long, env = "AUTH_MAX_SIGN_OUTS", default_value_t = 10_000)]
    pub max_sign_outs: usize,
    /// Seconds `POST /login` may take to send its body (`408` beyond).
    #[arg(long, env = "AUTH_LOGIN_BODY_TIMEOUT_S", default_value_t = 10)]
    pub login_body_timeout_s: u64,
    /// Serve anonymous clients on a non-loopback address (without a password
    /// file the app otherwise refuses to start there).
    #[arg(long, env = "AUTH_ALLOW_ANONYMOUS", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_anonymous: bool,
    /// More origins whose pages may open WebSockets and POST/DELETE here
    /// (comma-separated `SCHEME://HOST[:PORT]`, e.g. `https://dash.example`).
    #[arg(
        long,
        env = "HTTP_ALLOWED_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// More names this server answers to in the Host header (comma-separated
    /// HOST or HOST:PORT); others get 421.
    #[arg(
        long,
        env = "HTTP_ALLOWED_HOSTS",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Reverse proxies whose X-Forwarded-For / Forwarded and
    /// X-Forwarded-Proto are believed (comma-separated addresses or CIDR
    /// blocks, e.g. `10.0.0.0/8,127.0.0.1`); from other peers those headers
    /// are ignored.
    #[arg(long, env = "HTTP_TRUSTED_PROXIES", value_name = "ADDRS")]
    pub trusted_proxies: Option<TrustedProxies>,
    /// PEM certificate chain: serve HTTPS and WSS (needs --tls-key).
    #[arg(long, env = "HTTP_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "HTTP_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Server-side subscriptions (`POST /api/subscriptions`) one user may own;
    /// anonymous clients count as one user (`429` beyond).
    #[arg(
        long,
        env = "API_MAX_SERVER_SUBSCRIPTIONS_PER_USER",
        default_value_t = 100
    )]
    pub max_server_subscriptions_per_user: usize,
    /// Server-side subscriptions all users may own together (`429` beyond).
    #[arg(long, env = "API_MAX_SERVER_SUBSCRIPTIONS", default_value_t = 1000)]
    pub max_server_subscriptions: usize,
    /// A user the ACL lets publish to this topic may remove anyone's
    /// server-side subscription; empty: nobody may.
    #[arg(long, env = "AUTH_ADMIN_TOPIC", default_value = "$admin/subscriptions")]
    pub admin_topic: String,
    /// Serve /metrics without a user even when a password file is set.
    #[arg(long, env = "METRICS_PUBLIC", value_parser = clap::builder::BoolishValueParser::new())]
    pub metrics_public: bool,
    /// A filter the server handles (feeding `/api/topics`), held on a broker
    /// connection of its own; repeat the flag, or separate filters with
    /// commas in the variable. With several instances, use a shared
    /// subscription (`$share/workers/jobs/#`) to handle each message once
    /// between them.
    #[arg(
        long = "handle",
        env = "HANDLE_FILTERS",
        value_name = "FILTER",
        value_delimiter = ','
    )]
    pub handle: Vec<String>,
    /// Seconds between SIGTERM and closing the sockets: `/readyz` answers 503
    /// meanwhile (so a load balancer stops sending new clients) while open
    /// sockets are still served.
    #[arg(long, env = "SHUTDOWN_DRAIN_S", default_value_t = 0)]
    pub drain_s: u64,
    /// What is recorded in the history database, where, for how long.
    #[command(flatten)]
    pub history: HistoryArgs,
    /// The library's `MQTT_*` settings.
    #[command(flatten)]
    pub mqtt: MqttArgs,
}

/// The key of the login cookie (`SESSION_KEY`): at least 32 bytes, never shown
/// by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(String);

impl SessionKey {
    /// The fewest bytes a key may have (what the cookie crate's key
    /// derivation requires).
    pub const MIN_BYTES: usize = 32;

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl FromStr for SessionKey {
    type Err = String;
    fn from_str(text: &str) -> Result<SessionKey, String> {
        if text.len() < SessionKey::MIN_BYTES {
            return Err(format!(
                "a session key needs at least {} bytes, this one has {} (make one with `openssl rand -base64 48`)",
                SessionKey::MIN_BYTES,
                text.len()
            ));
        }
        Ok(SessionKey(text.to_string()))
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// The library's settings as given by flags or `MQTT_*` variables: one flag
/// per row of the library's table (`mqtt_actor::SETTINGS`), generated from it,
/// so `BROKER_PORT` is `--broker-port` or `MQTT_BROKER_PORT`. Values are kept
/// as text and handed to `MqttConfig::from_pairs`, so a bad value gets the
/// library's error naming the setting and the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MqttArgs {
    /// Setting name (`BROKER_PORT`) to the value given; unset ones are absent,
    /// so the library's defaults apply.
    given: BTreeMap<&'static str, String>,
}

/// Secret settings (`PASSWORD`) show as `<redacted>`.
impl fmt::Debug for MqttArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = |name: &str| library_settings().any(|s| s.name == name && s.secret);
        let shown = self.given.iter().map(|(name, value)| {
            let value = if secret(name) { "<redacted>" } else { value };
            (name, value)
        });
        f.debug_map().entries(shown).finish()
    }
}

impl MqttArgs {
    /// The value given for the setting `name` (`BROKER_URL`), if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.given.get(name).map(String::as_str)
    }

    /// Gives the setting `name` (`LAST_WILL_TOPIC`) a value, as its flag would.
    /// The value is checked by [`MqttArgs::to_config`]; a name that is not one
    /// of the library's settings is refused here.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> Result<(), MqttError> {
        let value = value.into();
        match library_settings().find(|s| s.name == name) {
            Some(setting) => {
                self.given.insert(setting.name, value);
                Ok(())
            }
            None => Err(MqttError::Config {
                setting: format!("{PREFIX}_{name}"),
                value,
                reason: "unknown setting".into(),
            }),
        }
    }

    /// The library configuration; `broker_override` replaces the broker URL
    /// and port (the embedded broker's address).
    pub fn to_config(
        &self,
        broker_override: Option<(String, u16)>,
    ) -> Result<MqttConfig, MqttError> {
        let mut given = self.given.clone();
        if let Some((host, port)) = broker_override {
            given.insert("BROKER_URL", host);
            given.insert("BROKER_PORT", port.to_string());
        }
        // In the table's order, so the first bad value reported is the first listed.
        let pairs = library_settings()
            .filter_map(|setting| given.get(setting.name).map(|v| (setting.name, v.as_str())));
        MqttConfig::from_pairs(PREFIX, pairs.collect::<Vec<_>>())
    }
}

/// The prefix of the library's setting names in the environment.
const PREFIX: &str = "MQTT";

/// What a flag needs to know of one setting of the library.
struct LibrarySetting {
    name: &'static str,
    help: &'static str,
    /// The default, as the setting is written; empty: none or generated.
    default: &'static str,
    /// Its value is never shown (in `--help`).
    secret: bool,
}

/// The library's settings table, as the flags need it. The broker URL's
/// default differs: unset, the app runs its own broker.
fn library_settings() -> impl Iterator<Item = LibrarySetting> {
    mqtt_actor::SETTINGS.iter().map(|s| {
        let (help, default) = match s.name {
            "BROKER_URL" => (
                "Broker host or URI (tcp://, ssl://, ws://, wss://), or a comma-separated failover list of them; unset: the embedded broker",
                "",
            ),
            _ => (s.help, s.default),
        };
        LibrarySetting {
            name: s.name,
            help,
            default,
            secret: s.secret,
        }
    })
}

/// `BROKER_PORT` → `broker-port`.
fn flag_name(setting: &str) -> String {
    setting.to_ascii_lowercase().replace('_', "-")
}

impl clap::Args for MqttArgs {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for setting in library_settings() {
            let mut help = setting.help.to_string();
            if !setting.default.is_empty() {
                help += &format!(" [default: {}]", setting.default);
            }
            let arg = clap::Arg::new(setting.name)
                .long(flag_name(setting.name))
                .env(format!("{PREFIX}_{}", setting.name))
                .value_name(setting.name)
                .help(help)
                .hide_env_values(setting.secret);
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for MqttArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut args = MqttArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        for setting in library_settings() {
            if let Some(value) = matches.get_one::<String>(setting.name) {
                self.given.insert(setting.name, value.clone());
            }
        }
        Ok(())
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
    /// The bridge's limits and same-origin rules, as these settings say.
    pub fn bridge_config(&self) -> BridgeConfig {
        let mut c = BridgeConfig::default();
        c.max_frame_bytes = self.max_frame_bytes;
        c.max_filters = self.max_filters;
        c.max_filter_levels = self.max_filter_levels;
        c.max_filter_bytes = self.max_filter_bytes;
        c.outbox_frames = self.queue_frames;
        c.outbox_bytes = self.queue_bytes;
        c.max_inflight = self.max_inflight;
        c.max_sessions = self.max_sessions;
        c.max_sessions_per_address = self.max_sessions_per_ip;
        c.heartbeat = Duration::from_secs(self.heartbeat_s.max(1));
        c.idle_timeout = Duration::from_secs(self.idle_timeout_s.max(1));
        c.topic_cache_size = self.topic_cache_size;
        c.topic_cache_bytes = self.topic_cache_bytes;
        c.history_per_topic = self.history_per_topic;
        c.history_bytes = self.history_bytes;
        c.allowed_origins = self.allowed_origins.clone();
        c.allowed_hosts = self.allowed_hosts.clone();
        c.trusted_proxies = self.trusted_proxies.clone().unwrap_or_default();
        c.metrics_public = self.metrics_public;
        c.max_server_subscriptions_per_user = self.max_server_subscriptions_per_user;
        c.max_server_subscriptions = self.max_server_subscriptions;
        c.admin_topic = Some(self.admin_topic.clone()).filter(|t| !t.is_empty());
        c
    }

    /// How long `POST /login` may take to send its body.
    pub fn login_body_timeout(&self) -> Duration {
        Duration::from_secs(self.login_body_timeout_s.max(1))
    }

    /// How long a login through the login page lasts.
    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_s.max(1))
    }

    /// How long shutdown drains before closing the sockets.
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_s)
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
    fn every_library_setting_has_its_flag_and_variable_and_help() {
        let command = Settings::command();
        for name in mqtt_actor::SETTINGS.iter().map(|s| s.name) {
            let arg = command
                .get_arguments()
                .find(|a| a.get_id() == name)
                .unwrap_or_else(|| panic!("no flag for {name}"));
            assert_eq!(arg.get_long(), Some(flag_name(name).as_str()));
            let env = arg.get_env().and_then(|e| e.to_str());
            assert_eq!(env, Some(format!("MQTT_{name}").as_str()));
        }
    }

    #[test]
    fn each_flag_reaches_its_setting_and_set_refuses_unknown_names() {
        let s = Settings::parse_from([
            "app",
            "--last-will-topic",
            "app/will",
            "--tls-insecure",
            "yes",
            "--keepalive",
            "7",
        ]);
        assert_eq!(s.mqtt.get("LAST_WILL_TOPIC"), Some("app/will"));
        let c = s.mqtt.to_config(None).unwrap();
        assert_eq!(c.last_will_topic.as_deref(), Some("app/will"));
        assert!(c.tls_insecure);
        assert_eq!(c.keepalive.as_secs(), 7);
        let mut args = MqttArgs::default();
        args.set("CLEAN_SESSION", "false").unwrap();
        assert!(!args.to_config(None).unwrap().clean_session);
        let err = args.set("NO_SUCH", "x").unwrap_err().to_string();
        assert!(err.contains("MQTT_NO_SUCH"), "{err}");
    }

    #[test]
    fn debug_of_the_settings_shows_no_secret() {
        let key = "k".repeat(40);
        let s = Settings::parse_from([
            "app",
            "--password",
            "hunter2-broker",
            "--session-key",
            &key,
            "--username",
            "plant",
        ]);
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2-broker"), "{shown}");
        assert!(!shown.contains(&key), "{shown}");
        assert!(
            shown.contains("plant") && shown.contains("<redacted>"),
            "{shown}"
        );
        let config = format!("{:?}", s.mqtt.to_config(None).unwrap());
        assert!(!config.contains("hunter2-broker"), "{config}");
    }

    #[test]
    fn access_flags_parse_and_a_short_session_key_is_refused() {
        let s = Settings::parse_from([
            "app",
            "--password-file",
            "/etc/app/passwd",
            "--acl-file",
            "/etc/app/acl",
            "--allow-anonymous",
            "--allowed-origins",
            "https://a.example,https://b.example",
            "--allowed-hosts",
            "a.example",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--metrics-public",
        ]);
        assert_eq!(s.password_file, Some(PathBuf::from("/etc/app/passwd")));
        assert_eq!(s.acl_file, Some(PathBuf::from("/etc/app/acl")));
        assert!(s.allow_anonymous && s.metrics_public);
        assert_eq!(
            s.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(s.allowed_hosts, ["a.example"]);
        assert_eq!(s.tls_key, Some(PathBuf::from("k.pem")));
        let err = Settings::try_parse_from(["app", "--session-key", "short"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 32 bytes"), "{err}");
        let err = Settings::try_parse_from(["app", "--tls-cert", "c.pem"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--tls-key"), "{err}");
    }

    #[test]
    fn the_readme_table_lists_every_setting_of_the_app() {
        let readme = include_str!("../../README.md");
        let rows: Vec<&str> = readme
            .lines()
            .skip_while(|l| !l.starts_with("| variable | flag | default | meaning |"))
            .take_while(|l| l.starts_with('|'))
            .collect();
        let command = Settings::command();
        let own = command.get_arguments().filter(|a| {
            let id = a.get_id().as_str();
            a.get_long().is_some() && !library_settings().any(|s| s.name == id)
        });
        for arg in own {
            let long = arg.get_long().expect("a long flag");
            if ["help", "version"].contains(&long) {
                continue;
            }
            let env = arg.get_env().and_then(|e| e.to_str()).expect("a variable");
            assert!(
                rows.iter()
                    .any(|r| r.contains(&format!("`{env}`")) && r.contains(&format!("`--{long}`"))),
                "the README's table of the app's settings lacks {env} / --{long}"
            );
        }
    }

    #[test]
    fn the_default_settings_are_the_flags_defaults() {
        let s = Settings::default();
        assert_eq!(
            s.bridge_config(),
            BridgeConfig::default(),
            "the library's defaults"
        );
        assert_eq!(s.bind, "127.0.0.1:5000");
        assert_eq!((s.max_filters, s.queue_frames), (100, 65536));
        assert_eq!(s.mqtt, MqttArgs::default());
        assert!(s.password_file.is_none() && s.acl_file.is_none());
        assert!(!s.allow_anonymous && !s.metrics_public);
        assert_eq!(s.session_ttl(), Duration::from_secs(12 * 3600));
        assert!(s.handle.is_empty() && s.drain().is_zero());
    }

    #[test]
    fn handled_filters_come_from_repeated_flags_or_one_list() {
        let s = Settings::parse_from(["app", "--handle", "$share/w/a/#", "--handle", "b/+"]);
        assert_eq!(s.handle, ["$share/w/a/#", "b/+"]);
        let s = Settings::parse_from(["app", "--handle", "a/#,b/+", "--drain-s", "5"]);
        assert_eq!(s.handle, ["a/#", "b/+"]);
        assert_eq!(s.drain(), Duration::from_secs(5));
    }
}
