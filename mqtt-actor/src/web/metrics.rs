//! Prometheus exposition (`GET /metrics`) of the counters `/api/status` shows.

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
            registry,
        }
    }
}

impl Metrics {
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
