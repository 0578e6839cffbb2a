//! The processes under test: a Mosquitto with its own config on a free port,
//! and the release example app as a child process; and what `/proc` says
//! about them (CPU time, resident memory).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a process may take to start listening.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// A child process that is killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Mosquitto broker with anonymous access on 127.0.0.1.
pub struct Broker {
    child: Guard,
    _dir: TempDir,
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// Its port.
    pub port: u16,
    /// The config it was started with.
    pub config: String,
}

impl Broker {
    /// Writes a config and starts `mosquitto`; waits until it accepts
    /// connections. `nodelay`: add `set_tcp_nodelay true`, else stock.
    pub fn start(nodelay: bool) -> Result<Broker, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let port = free_port()?;
        // Stock but for `set_tcp_nodelay` when asked. With Nagle on (stock),
        // Mosquitto coalesces small PUBLISHes to a subscriber until its
        // delayed ACK or a full segment: fewer, larger writes (cheaper native
        // fan-out) and p99 near 40 ms at moderate rates, for both targets.
        let nodelay_line = if nodelay {
            "set_tcp_nodelay true\n"
        } else {
            ""
        };
        let config = format!(
            "persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n\
             allow_anonymous true\n{nodelay_line}listener {port} 127.0.0.1\n"
        );
        let conf = &config;
        let path = dir.path().join("mosquitto.conf");
        std::fs::write(&path, conf).map_err(|e| format!("writing {}: {e}", path.display()))?;
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!("cannot run mosquitto (install it: apt-get install mosquitto): {e}")
            })?;
        let mut broker = Broker {
            child: Guard(child),
            _dir: dir,
            addr: format!("127.0.0.1:{port}"),
            port,
            config,
        };
        let start = Instant::now();
        while TcpStream::connect(&broker.addr).is_err() {
            if let Ok(Some(status)) = broker.child.0.try_wait() {
                return Err(format!("mosquitto exited with {status}"));
            }
            if start.elapsed() > START_PATIENCE {
                return Err(format!("mosquitto did not listen on {}", broker.addr));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(broker)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }
}

/// The example app, connected to a [`Broker`].
pub struct App {
    child: Guard,
    /// `127.0.0.1:PORT` of its HTTP server.
    pub addr: String,
}

impl App {
    /// Starts `binary` against `broker` with the extra `env` settings and waits
    /// until it serves HTTP and is connected to the broker (`/readyz`).
    pub fn start(binary: &Path, broker: &Broker, env: &[(String, String)]) -> Result<App, String> {
        let mut cmd = Command::new(binary);
        cmd.env("MQTT_BROKER_URL", "127.0.0.1")
            .env("MQTT_BROKER_PORT", broker.port.to_string())
            .env("HTTP_BIND", "127.0.0.1:0")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            // Every receiver connects from 127.0.0.1: the app's per-address
            // and total session limits (100 and 10,000 by default) would
            // refuse the larger steps. `--app-env` may still set them.
            .env("WS_MAX_SESSIONS_PER_IP", "1000000")
            .env("WS_MAX_SESSIONS", "1000000")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = Guard(
            cmd.spawn()
                .map_err(|e| format!("cannot run {}: {e}", binary.display()))?,
        );
        let stdout = child.0.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_PATIENCE;
        let addr = loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(wait).map_err(|_| {
                format!(
                    "{} did not print `listening on http://ADDR`",
                    binary.display()
                )
            })?;
            if let Some(addr) = line.strip_prefix("listening on http://") {
                break addr.trim().to_string();
            }
        };
        let app = App { child, addr };
        while http_status(&app.addr, "/readyz") != Some(200) {
            if Instant::now() > deadline {
                return Err("the app did not connect to the broker (/readyz)".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(app)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }
}

/// Where the app binary is: `--app PATH`, or else the `example-app` binary
/// beside this one. `cargo run` builds only the binary it runs, so the app is
/// built here with this binary's profile (a no-op when it is current).
pub fn app_binary(given: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return Ok(path);
    }
    let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let dir = me.parent().ok_or("own directory")?;
    let path = dir.join("example-app");
    let release = dir.file_name().is_some_and(|d| d == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-p", "example-app", "--bin", "example-app"]);
    if release {
        build.arg("--release");
    }
    eprintln!("building the app: {build:?}");
    let status = build
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() || !path.exists() {
        return Err(format!(
            "building the app failed ({status}); or pass --app PATH"
        ));
    }
    Ok(path)
}

/// CPU seconds (user + system) the process has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / clock_ticks()
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Resident memory of the process, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// Open files wanted when the hard limit may be raised (as root): 10,000
/// receivers take 10,000 sockets here, and the app two descriptors per
/// session (the connection and the duplicate it keeps to cut a stuck client
/// off), beyond the 20,000 a distribution's default hard limit may give.
const WANTED_OPEN_FILES: libc::rlim_t = 1 << 20;

/// Raises this process's open-file limit (children inherit it): to
/// [`WANTED_OPEN_FILES`] where allowed, else to the hard limit. Thousands of
/// receivers need thousands of sockets. Returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit for the duration of every call.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        let wanted = libc::rlimit {
            rlim_cur: lim.rlim_max.max(WANTED_OPEN_FILES),
            rlim_max: lim.rlim_max.max(WANTED_OPEN_FILES),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
            return wanted.rlim_cur;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    lim.rlim_cur
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The status code and body of `GET path`, or `None` when the server does not answer.
fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_string()))
}

fn http_status(addr: &str, path: &str) -> Option<u16> {
    http_get(addr, path).map(|(status, _)| status)
}

/// The app's own counters (`/api/status`): messages it took in from the
/// broker, and messages it dropped for slow sessions.
pub fn app_counters(addr: &str) -> Option<(u64, u64)> {
    let (_, body) = http_get(addr, "/api/status")?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some((v["messages_in"].as_u64()?, v["dropped"].as_u64()?))
}
