//! A real HAProxy (Debian's `haproxy`) in front of app instances: its own
//! config on free ports of 127.0.0.1, health checks on `/readyz`, the
//! WebSocket-friendly timeouts of `docs/deployment.md`, `X-Forwarded-For`
//! added to every request (`option forwardfor`); killed on drop.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use crate::{eventually, free_port, wait_listening, Http};

pub struct HaProxy {
    /// Where clients connect (HTTP and WebSocket).
    pub port: u16,
    /// The statistics page (`/stats;csv` says which servers are up).
    stats_port: u16,
    child: Child,
    _dir: TempDir,
}

/// The configuration: round robin over `servers`, each checked on `/readyz`
/// every 200 ms and taken out at the first failure, so that a draining
/// instance gets no new clients; a request whose connection fails is sent
/// to another server.
fn config(port: u16, stats_port: u16, servers: &[SocketAddr]) -> String {
    let mut conf = format!(
        "global
    maxconn 4096
defaults
    mode http
    option forwardfor
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout http-keep-alive 1s
frontend web
    bind 127.0.0.1:{port}
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 200ms fall 1 rise 1
"
    );
    for (i, addr) in servers.iter().enumerate() {
        conf += &format!("    server app{i} {addr} check\n");
    }
    conf += &format!(
        "listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
"
    );
    conf
}

impl HaProxy {
    /// Starts HAProxy in front of `servers` and waits until it listens.
    pub fn start(servers: &[SocketAddr]) -> HaProxy {
        Self::start_on(free_port(), servers)
    }

    /// Starts HAProxy on 127.0.0.1:`port` (chosen before the servers start,
    /// so that they can be told the name they are reached by).
    pub fn start_on(port: u16, servers: &[SocketAddr]) -> HaProxy {
        let dir = tempfile::tempdir().expect("temp dir");
        let stats_port = free_port();
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config(port, stats_port, servers)).expect("write haproxy.cfg");
        let mut child = Command::new(crate::programs::HAPROXY.require())
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("haproxy starts");
        if let Err(status) = wait_listening("haproxy", &mut child, &[port, stats_port]) {
            panic!("haproxy exited with {status}");
        }
        HaProxy {
            port,
            stats_port,
            child,
            _dir: dir,
        }
    }

    /// `ws://127.0.0.1:PORT/ws`
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    /// An HTTP client that goes through HAProxy.
    pub fn http(&self) -> Http {
        Http::new(format!("127.0.0.1:{}", self.port))
    }

    /// The servers HAProxy counts as up, by name (`app0`, `app1`, ...).
    pub async fn servers_up(&self) -> Vec<String> {
        let (status, csv) = Http::new(format!("127.0.0.1:{}", self.stats_port))
            .get_text("/stats;csv")
            .await;
        assert_eq!(status, 200, "haproxy's statistics page answers");
        // Columns: pxname, svname, ..., status (the 18th).
        csv.lines()
            .filter(|l| l.starts_with("app,app"))
            .filter_map(|l| {
                let cols: Vec<&str> = l.split(',').collect();
                (cols.get(17) == Some(&"UP")).then(|| cols[1].to_string())
            })
            .collect()
    }

    /// Waits until exactly `names` are up.
    pub async fn wait_up(&self, names: &[&str]) {
        eventually(&format!("haproxy sees {names:?} up"), || async {
            let up = self.servers_up().await;
            (up == names).then_some(())
        })
        .await;
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
