//! The example app in-process: `example_app::run` on port 0 inside the test's
//! own actix system, stopped by resolving the shutdown future it was given.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use example_app::{RunningApp, Settings};
use tokio::sync::oneshot;

use crate::{eventually, Http, Ws};

/// A running app. Dropping it resolves its shutdown future; [`App::stop`]
/// also waits until the shutdown is complete.
pub struct App {
    addr: SocketAddr,
    embedded_broker_port: Option<u16>,
    /// Sending (or dropping) it resolves the app's shutdown future.
    stop: Option<oneshot::Sender<()>>,
    running: Option<RunningApp>,
}

/// A data folder of its own for one test app (not created: the app creates
/// it), under the system's temporary folder: `mqtt-actor-tests/PID/N`. The
/// folders of test processes that have ended are removed the first time a
/// process asks for one, so nothing piles up and no test writes to the
/// home directory.
pub fn scratch_data_dir() -> PathBuf {
    static SWEPT: Once = Once::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let root = std::env::temp_dir().join("mqtt-actor-tests");
    SWEPT.call_once(|| sweep_ended(&root));
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    root.join(std::process::id().to_string())
        .join(n.to_string())
}

/// Removes the folders under `root` of processes that no longer run.
fn sweep_ended(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The settings every test starts from: HTTP on a free port, quick
/// reconnects, nothing read from the environment, a data folder of its own
/// ([`scratch_data_dir`]) and recording off: the tests of the history turn
/// it on (`s.history.no_record = false`), the others keep the in-memory
/// `/api/history` and one broker connection fewer.
pub fn test_settings() -> Settings {
    let mut s = Settings {
        bind: "127.0.0.1:0".into(),
        ..Settings::default()
    };
    s.history.data_dir = Some(scratch_data_dir());
    s.history.no_record = true;
    for (name, value) in [
        ("RECONNECT_MIN_DELAY_MS", "100"),
        ("RECONNECT_MAX_DELAY_MS", "500"),
    ] {
        s.mqtt.set(name, value).expect("a setting of the library");
    }
    s
}

impl App {
    /// Starts the app against the broker on 127.0.0.1:`broker_port`, and
    /// waits until it is connected to it.
    pub async fn start(broker_port: u16) -> App {
        Self::start_with(broker_port, |_| {}).await
    }

    /// Starts the app against the broker on 127.0.0.1:`broker_port`, with the
    /// test settings changed by `configure`, and waits until it is connected.
    pub async fn start_with(broker_port: u16, configure: impl FnOnce(&mut Settings)) -> App {
        let mut settings = test_settings();
        for (name, value) in [
            ("BROKER_URL", "127.0.0.1".to_string()),
            ("BROKER_PORT", broker_port.to_string()),
        ] {
            settings
                .mqtt
                .set(name, value)
                .expect("a setting of the library");
        }
        configure(&mut settings);
        let app = Self::run(settings).await;
        app.wait_ready().await;
        app
    }

    /// Starts the app with no broker URL, so it runs its embedded broker, and
    /// waits until it is connected to it.
    pub async fn embedded() -> App {
        let app = Self::run(test_settings()).await;
        app.wait_ready().await;
        app
    }

    /// Starts the app with exactly `settings`; it may not be connected to its
    /// broker yet.
    pub async fn run(settings: Settings) -> App {
        let (stop, stopped) = oneshot::channel::<()>();
        let running = example_app::run(settings, stopped)
            .await
            .unwrap_or_else(|e| panic!("the app starts: {e}"));
        App {
            addr: running.http_addr(),
            embedded_broker_port: running.embedded_broker_port(),
            stop: Some(stop),
            running: Some(running),
        }
    }

    /// Waits until `/readyz` says the app is connected to its broker.
    pub async fn wait_ready(&self) {
        let http = self.http();
        eventually("the app connected to its broker", || async {
            (http.get("/readyz").await.0 == 200).then_some(())
        })
        .await;
    }

    /// Re-reads its password file and ACL, as SIGHUP does for the binary.
    pub fn reloader(&self) -> example_app::Reloader {
        self.running
            .as_ref()
            .expect("the app is running")
            .reloader()
    }

    /// Where it serves HTTP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR{path}`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The embedded broker's port, when the app runs one.
    pub fn embedded_broker_port(&self) -> Option<u16> {
        self.embedded_broker_port
    }

    /// An HTTP client for this app.
    pub fn http(&self) -> Http {
        Http::new(self.addr)
    }

    /// A new WebSocket session with this app.
    pub async fn ws(&self) -> Ws {
        Ws::connect(&format!("ws://{}/ws", self.addr)).await
    }

    /// Shuts the app down as SIGTERM does in the binary, and waits until it
    /// has: sessions closed with 1001, the broker left cleanly, the server stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            running
                .finished()
                .await
                .unwrap_or_else(|e| panic!("the app shuts down cleanly: {e}"));
        }
    }
}
