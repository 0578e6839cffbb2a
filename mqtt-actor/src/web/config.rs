//! [`BridgeConfig`]: the bridge's limits and same-origin rules, with the
//! defaults the example app ships (its README "Limits" names each one's
//! variable).

use std::time::Duration;

use crate::web::http::TrustedProxies;

/// What the bridge allows its clients, and the same-origin rules.
///
/// Start from [`BridgeConfig::default`] and change what you need:
///
/// ```
/// let mut config = mqtt_actor::web::BridgeConfig::default();
/// config.max_filters = 20;
/// config.allowed_origins = vec!["https://dash.example".into()];
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeConfig {
    /// Largest WebSocket frame and payload accepted, in bytes (`too_large`
    /// beyond); HTTP bodies may be twice as large plus 1 KiB (JSON quoting,
    /// base64). Default 256 KiB.
    pub max_frame_bytes: usize,
    /// Most filters one session may hold, counting those still waiting for
    /// the broker's answer (`bad_request` beyond). Default 100.
    pub max_filters: usize,
    /// Most levels in a filter or topic from a client (`invalid_topic`
    /// beyond). Default 32.
    pub max_filter_levels: usize,
    /// Longest filter or topic from a client, in bytes (`invalid_topic`
    /// beyond). Default 1024.
    pub max_filter_bytes: usize,
    /// Frames waiting for one client before its oldest messages are dropped
    /// (`lagged`). Default 65,536: high enough that `outbox_bytes` is the
    /// bound that acts.
    pub outbox_frames: usize,
    /// Bytes waiting for one client before its oldest messages are dropped
    /// (`lagged`). Default 8 MiB.
    pub outbox_bytes: usize,
    /// Requests of one WebSocket session answered at once; its socket is not
    /// read further until one is answered. Default 64.
    pub max_inflight: usize,
    /// Open sessions (WebSockets and event streams) at most: `503` beyond.
    /// Default 10,000.
    pub max_sessions: usize,
    /// Open sessions from one IP address at most: `429` beyond. Default 100.
    pub max_sessions_per_address: usize,
    /// Between heartbeats: a WebSocket ping, or an event stream's comment.
    /// Default 5 s.
    pub heartbeat: Duration,
    /// How long a session may go without a frame from its client, or with
    /// frames waiting that its client does not read, before it is cut off.
    /// Default 30 s.
    pub idle_timeout: Duration,
    /// Topics kept in the last-value cache of `/api/topics` (and of
    /// `/api/retained`). Default 1000.
    pub topic_cache_size: usize,
    /// Bytes of topics and payloads in that cache. Default 16 MiB.
    pub topic_cache_bytes: usize,
    /// Messages kept per topic for `/api/history`. Default 100.
    pub history_per_topic: usize,
    /// Bytes of topics and payloads kept for `/api/history`. Default 16 MiB.
    pub history_bytes: usize,
    /// Check `Host` (`421` for a name the server does not answer to) and
    /// `Origin` (`403` for another site's page opening a WebSocket or
    /// changing state). Default on.
    pub same_origin: bool,
    /// More origins whose pages may open WebSockets and `POST`/`DELETE`
    /// (`SCHEME://HOST[:PORT]`).
    pub allowed_origins: Vec<String>,
    /// More names the server answers to in `Host` (`HOST` or `HOST:PORT`).
    pub allowed_hosts: Vec<String>,
    /// `POST` bodies must be `application/json` (`415` otherwise), so that a
    /// plain form on another site cannot publish. Default on.
    pub json_only: bool,
    /// `/metrics` needs no principal. Default off.
    pub metrics_public: bool,
    /// Server-side subscriptions (`POST /api/subscriptions`) one user may
    /// own; anonymous clients count as one user (`429` with `bad_request`
    /// beyond). Default 100.
    pub max_server_subscriptions_per_user: usize,
    /// Server-side subscriptions all users may own together, one per user
    /// and filter (`429` with `bad_request` beyond). Default 1,000.
    pub max_server_subscriptions: usize,
    /// Who administers server-side subscriptions: a principal the
    /// [`Authorizer`](crate::web::Authorizer) lets publish to this topic may
    /// remove anyone's (others only their own). With Mosquitto's ACL, a
    /// line `topic write $admin/subscriptions` under the user. `None`:
    /// nobody. Default `$admin/subscriptions`.
    pub admin_topic: Option<String>,
    /// The reverse proxies whose `X-Forwarded-For` / `Forwarded` and
    /// `X-Forwarded-Proto` say who the client is (see
    /// [`client_info`](crate::web::client_info)); from any other peer those
    /// headers are ignored. Per-address limits then count real clients.
    /// Default: none.
    pub trusted_proxies: TrustedProxies,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            max_frame_bytes: 256 * 1024,
            max_filters: 100,
            max_filter_levels: 32,
            max_filter_bytes: 1024,
            outbox_frames: 65536,
            outbox_bytes: 8 * 1024 * 1024,
            max_inflight: 64,
            max_sessions: 10_000,
            max_sessions_per_address: 100,
            heartbeat: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            topic_cache_size: 1000,
            topic_cache_bytes: 16 * 1024 * 1024,
            history_per_topic: 100,
            history_bytes: 16 * 1024 * 1024,
            same_origin: true,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            json_only: true,
            metrics_public: false,
            max_server_subscriptions_per_user: 100,
            max_server_subscriptions: 1000,
            admin_topic: Some("$admin/subscriptions".to_string()),
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

impl BridgeConfig {
    /// The heartbeat, at least a millisecond (a zero interval would spin).
    pub(crate) fn heartbeat(&self) -> Duration {
        self.heartbeat.max(Duration::from_millis(1))
    }

    /// The largest HTTP body the API reads: room for JSON quoting and base64
    /// around a payload of the limit.
    pub(crate) fn max_body_bytes(&self) -> usize {
        self.max_frame_bytes * 2 + 1024
    }
}
