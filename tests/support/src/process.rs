//! The real `example-app` binary as a child process, for the tests about the
//! process itself (signals, exit codes, flags, what it prints). Other tests
//! start the app in-process (`app.rs`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{Http, Ws, PATIENCE};

/// A running `example-app` process, killed on drop.
pub struct AppProcess {
    child: Child,
    /// `127.0.0.1:PORT` of the HTTP server, as the app printed it.
    addr: String,
    /// The embedded broker's port, when the app printed one.
    embedded_broker_port: Option<u16>,
}

impl AppProcess {
    /// The binary with a test environment: HTTP on a free port, quick
    /// reconnects, a data folder of its own (recording at the app's
    /// default, into SQLite there), and none of the caller's broker, bind
    /// or history settings.
    pub fn command(binary: impl AsRef<Path>) -> Command {
        let mut cmd = Command::new(binary.as_ref());
        for key in [
            "MQTT_BROKER_URL",
            "MQTT_BROKER_PORT",
            "HTTP_BIND",
            "HISTORY_RECORD",
            "HISTORY_NO_RECORD",
            "HISTORY_DATABASE_URL",
            "HISTORY_RETENTION",
            "HISTORY_MAX_BYTES",
            "HISTORY_QUEUE",
            "HISTORY_QUEUE_BYTES",
        ] {
            cmd.env_remove(key);
        }
        let data = crate::app::scratch_data_dir();
        cmd.env("HTTP_BIND", "127.0.0.1:0")
            .env("DATA_DIR", &data)
            .env("XDG_DATA_HOME", &data)
            .env("MQTT_RECONNECT_MIN_DELAY_MS", "100")
            .env("MQTT_RECONNECT_MAX_DELAY_MS", "500")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null());
        cmd
    }

    /// Starts `binary` against the broker on 127.0.0.1:`broker_port`, with
    /// `env` on top, and waits until it prints where it listens.
    pub fn start(binary: impl AsRef<Path>, broker_port: u16, env: &[(&str, &str)]) -> AppProcess {
        let port = broker_port.to_string();
        let mut all = vec![
            ("MQTT_BROKER_URL", "127.0.0.1"),
            ("MQTT_BROKER_PORT", port.as_str()),
        ];
        all.extend_from_slice(env);
        Self::start_with(binary, &all)
    }

    /// Starts `binary` with exactly `env` on top of the test environment (no
    /// `MQTT_BROKER_URL`: the embedded broker).
    pub fn start_with(binary: impl AsRef<Path>, env: &[(&str, &str)]) -> AppProcess {
        let mut child = Self::command(binary)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the app starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("app: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut app = AppProcess {
            child,
            addr: String::new(),
            embedded_broker_port: None,
        };
        let deadline = Instant::now() + PATIENCE;
        while app.addr.is_empty() {
            let wait = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(wait)
                .expect("the app prints its address");
            if let Some(addr) = line.strip_prefix("listening on http://") {
                app.addr = addr.trim().to_string();
            } else if let Some(rest) = line.strip_prefix("embedded MQTT broker on 127.0.0.1:") {
                let port = rest.split_whitespace().next().unwrap_or_default();
                app.embedded_broker_port = port.parse().ok();
            }
        }
        app
    }

    /// The embedded broker's port, when the app printed one.
    pub fn embedded_broker_port(&self) -> Option<u16> {
        self.embedded_broker_port
    }

    /// An HTTP client for this app.
    pub fn http(&self) -> Http {
        Http::new(&self.addr)
    }

    /// A new WebSocket session with this app.
    pub async fn ws(&self) -> Ws {
        Ws::connect(&format!("ws://{}/ws", self.addr)).await
    }

    /// `127.0.0.1:PORT` of its HTTP server.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends the signal `name` (`HUP`, say).
    pub fn signal(&self, name: &str) {
        let status = Command::new(crate::programs::KILL.require())
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.send_sigterm();
        self.wait_exit()
    }

    /// Sends SIGTERM and returns at once.
    pub fn send_sigterm(&self) {
        let pid = self.child.id().to_string();
        Command::new(crate::programs::KILL.require())
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
    }

    /// Waits for the process to exit (after SIGTERM), with the harness's patience.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait on the app") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the app did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
