//! Prometheus exposition (`GET /metrics`) of the counters `/api/status` shows,
//! and of the history recorder's (feature `history`) when one is set.

use prometheus::{Encoder, IntCounter, IntGauge, Registry, TextEncoder};

use crate::web::protocol::StatusBody;

/// The app's metrics, registered once.
pub struct Metrics {
    registry: Registry,
    connected: IntGauge,
    sessions: IntGauge,
    uptime: IntGauge,
    messages_in: IntCounter,
    messages_out: IntCounter,
    dropped: IntCounter,
    /// The recorder's, registered with its first figures.
    #[cfg(feature = "history")]
    recorder: std::sync::OnceLock<RecorderMetrics>,
}

/// The history recorder's counters (`history_*`).
#[cfg(feature = "history")]
struct RecorderMetrics {
    recorded: IntCounter,
    dropped: IntCounter,
    discarded: IntCounter,
    failed_writes: IntCounter,
    deleted: IntCounter,
    deleted_topics: IntCounter,
    pending: IntGauge,
    writing: IntGauge,
}

#[cfg(feature = "history")]
impl RecorderMetrics {
    fn register(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str| register(registry, IntCounter::new(name, help));
        let gauge = |name: &str, help: &str| register(registry, IntGauge::new(name, help));
        RecorderMetrics {
            recorded: counter(
                "history_recorded_total",
                "Messages written to the history database",
            ),
            dropped: counter(
                "history_dropped_total",
                "Messages not recorded because the recorder's queue was full",
            ),
            discarded: counter(
                "history_discarded_total",
                "Messages given up: refused by the history database, or unwritten at shutdown",
            ),
            failed_writes: counter(
                "history_failed_writes_total",
                "Failed writes to the history database (each is retried)",
            ),
            deleted: counter(
                "history_deleted_total",
                "Messages deleted by retention (age or size)",
            ),
            deleted_topics: counter(
                "history_topics_deleted_total",
                "Topics deleted by retention (no message referred to them any more)",
            ),
            pending: gauge(
                "history_queue_depth",
                "Messages waiting to be written to the history database",
            ),
            writing: gauge(
                "history_writing",
                "1 while the last write to the history database succeeded",
            ),
        }
    }

    fn update(&self, stats: &crate::recorder::RecorderStats) {
        for (c, v) in [
            (&self.recorded, stats.recorded),
            (&self.dropped, stats.dropped),
            (&self.discarded, stats.discarded),
            (&self.failed_writes, stats.failed_writes),
            (&self.deleted, stats.deleted),
            (&self.deleted_topics, stats.deleted_topics),
        ] {
            c.inc_by(v.saturating_sub(c.get()));
        }
        self.pending
            .set(i64::try_from(stats.pending).unwrap_or(i64::MAX));
        self.writing.set(i64::from(stats.writing));
    }
}

/// Registers `metric` (its name and help are the code's own, so valid and
/// unique).
fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        Metrics {
            connected: gauge("mqtt_connected", "1 while connected to the MQTT broker"),
            sessions: gauge("ws_sessions", "Open sessions: WebSockets and event streams"),
            uptime: gauge("uptime_seconds", "Seconds since the app started"),
            messages_in: counter(
                "mqtt_messages_in_total",
                "Messages received from the broker",
            ),
            messages_out: counter(
                "mqtt_messages_out_total",
                "Messages published and accepted by the broker",
            ),
            dropped: counter(
                "messages_dropped_total",
                "Messages dropped for slow listeners and sessions",
            ),
            #[cfg(feature = "history")]
            recorder: std::sync::OnceLock::new(),
            registry,
        }
    }
}

impl Metrics {
    /// Brings the recorder's metrics up to `stats` (registering them the
    /// first time); call it before [`render`](Self::render).
    #[cfg(feature = "history")]
    pub fn record_history(&self, stats: &crate::recorder::RecorderStats) {
        self.recorder
            .get_or_init(|| RecorderMetrics::register(&self.registry))
            .update(stats);
    }

    /// Brings the metrics up to `status` and renders the text format.
    pub fn render(&self, status: &StatusBody) -> String {
        self.connected.set(i64::from(status.connected));
        self.sessions.set(status.sessions as i64);
        self.uptime.set(status.uptime_s as i64);
        // Counters only move forward: add what happened since the last scrape.
        for (c, v) in [
            (&self.messages_in, status.messages_in),
            (&self.messages_out, status.messages_out),
            (&self.dropped, status.dropped),
        ] {
            c.inc_by(v.saturating_sub(c.get()));
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of gathered metrics");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}
