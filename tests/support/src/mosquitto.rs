//! A real Mosquitto broker per test: own ports, own config, own directory;
//! it can be stopped and restarted on the same ports, and is killed on drop.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use crate::{free_port, wait_listening, TestCa};

/// Which listeners and checks the broker gets.
#[derive(Debug, Clone, Default)]
pub struct MosquittoOptions {
    /// `(user, password)`: anonymous clients are refused.
    pub credentials: Option<(String, String)>,
    /// Adds a TLS listener with a generated CA.
    pub tls: bool,
    /// Makes the TLS listener ask for a client certificate.
    pub require_client_cert: bool,
    /// Adds a websockets listener (with TLS too when `tls` is set).
    pub websockets: bool,
    /// Keeps persistent sessions and their queued messages across a restart
    /// (saved when the broker is stopped with [`Mosquitto::terminate`]), with
    /// no bound on the messages queued for a client.
    pub persistence: bool,
    /// More lines of `mosquitto.conf` (general options such as
    /// `retain_available false`, `max_qos 1`, `max_packet_size 1000`).
    pub extra: Vec<String>,
}

pub struct Mosquitto {
    dir: TempDir,
    pub port: u16,
    pub tls_port: Option<u16>,
    pub ws_port: Option<u16>,
    pub wss_port: Option<u16>,
    pub ca: Option<TestCa>,
    child: Option<Child>,
}

impl Mosquitto {
    /// A plain broker with anonymous access.
    pub fn start() -> Mosquitto {
        Self::with(MosquittoOptions::default())
    }

    pub fn with(opts: MosquittoOptions) -> Mosquitto {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = opts.tls.then(|| TestCa::generate(dir.path(), "broker"));
        let mut broker = Mosquitto {
            port: free_port(),
            tls_port: opts.tls.then(free_port),
            ws_port: opts.websockets.then(free_port),
            wss_port: (opts.websockets && opts.tls).then(free_port),
            ca,
            dir,
            child: None,
        };
        broker.write_config(&opts);
        broker.resume();
        broker
    }

    fn write_config(&self, opts: &MosquittoOptions) {
        let mut conf = String::from(
            "log_dest stderr\nlog_type error\nlog_type warning\nper_listener_settings false\n",
        );
        if opts.persistence {
            // Mosquitto started as root writes as the user `mosquitto`.
            let db = self.dir.path().join("db");
            std::fs::create_dir_all(&db).expect("a persistence directory");
            for (path, mode) in [(self.dir.path(), 0o755), (db.as_path(), 0o777)] {
                let perms = std::os::unix::fs::PermissionsExt::from_mode(mode);
                std::fs::set_permissions(path, perms).expect("permissions set");
            }
            conf += &format!(
                "persistence true\npersistence_location {}/\nmax_queued_messages 0\n",
                db.display()
            );
        } else {
            conf += "persistence false\n";
        }
        match &opts.credentials {
            Some((user, pass)) => {
                let file = self.dir.path().join("passwd");
                let status = Command::new(crate::programs::MOSQUITTO_PASSWD.require())
                    .args(["-b", "-c"])
                    .arg(&file)
                    .args([user, pass])
                    .status()
                    .expect("mosquitto_passwd runs");
                assert!(status.success(), "mosquitto_passwd failed");
                conf += &format!("allow_anonymous false\npassword_file {}\n", file.display());
            }
            None => conf += "allow_anonymous true\n",
        }
        conf += &format!("listener {} 127.0.0.1\n", self.port);
        if let (Some(port), Some(ca)) = (self.tls_port, &self.ca) {
            conf += &format!("listener {port} 127.0.0.1\n{}", ca.listener_options());
            if opts.require_client_cert {
                conf += "require_certificate true\n";
            }
        }
        if let Some(port) = self.ws_port {
            conf += &format!("listener {port} 127.0.0.1\nprotocol websockets\n");
        }
        if let (Some(port), Some(ca)) = (self.wss_port, &self.ca) {
            conf += &format!(
                "listener {port} 127.0.0.1\nprotocol websockets\n{}",
                ca.listener_options()
            );
        }
        opts.extra
            .iter()
            .for_each(|line| conf += &format!("{line}\n"));
        let mut f = std::fs::File::create(self.config_path()).expect("config file");
        f.write_all(conf.as_bytes()).expect("write config");
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.conf")
    }

    /// `tcp://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// A directory that lives as long as the broker, for test files.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Kills the broker (as a crash would: no DISCONNECT to clients).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the broker with SIGTERM, as a service manager would: it closes
    /// its connections and saves its persistent state, then exits.
    pub fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            if !status.is_ok_and(|s| s.success()) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same ports and waits until it accepts.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let child = Command::new(crate::programs::MOSQUITTO.require())
            .arg("-c")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        self.wait_listening();
    }

    fn wait_listening(&mut self) {
        let ports: Vec<u16> = [Some(self.port), self.tls_port, self.ws_port, self.wss_port]
            .into_iter()
            .flatten()
            .collect();
        let child = self.child.as_mut().expect("the broker was started");
        if let Err(status) = wait_listening("mosquitto", child, &ports) {
            panic!(
                "mosquitto exited with {status}; config:\n{}",
                std::fs::read_to_string(self.config_path()).unwrap_or_default()
            );
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The broker's process, stopped (SIGSTOP) until this is dropped (SIGCONT):
/// meanwhile it answers nothing, so a subscribe the app sends it stays
/// unanswered for as long as the test needs.
pub struct Stalled(String);

impl Stalled {
    /// Stops `broker`'s process; it resumes when this is dropped.
    pub fn broker(broker: &Mosquitto) -> Stalled {
        // Its command line names its configuration, in its own folder.
        let dir = broker.dir().to_string_lossy().to_string();
        let pid = std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|line| String::from_utf8_lossy(&line).contains(&dir))
            })
            .expect("the broker's process");
        let stalled = Stalled(pid.to_string());
        assert!(stalled.signal("-STOP"), "the broker ({pid}) stops");
        stalled
    }

    /// Sends `signal` to the broker's process; whether it was sent.
    fn signal(&self, signal: &str) -> bool {
        let sent = std::process::Command::new("kill")
            .args([signal, &self.0])
            .status();
        sent.is_ok_and(|s| s.success())
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        // No panic here: it may run while a failed test unwinds.
        if !self.signal("-CONT") {
            eprintln!("the broker ({}) could not be resumed", self.0);
        }
    }
}
