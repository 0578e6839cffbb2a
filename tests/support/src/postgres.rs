//! A real PostgreSQL (Debian's `postgresql` package) started by the test:
//! `initdb` in a temp dir, then `pg_ctl` to start and stop the server on a
//! free port of 127.0.0.1, its Unix socket in the temp dir too. PostgreSQL
//! refuses to run as root, so when the tests run as root (CI), both run as
//! `nobody` (through `runuser`) on directories `nobody` owns. Trust
//! authentication for the superuser `postgres`: the server is reachable only
//! from this machine, for the test's lifetime. Stopped on drop.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;

use crate::free_port;

/// How long `pg_ctl` waits for the server to start or stop: a second or two
/// on an idle machine; a passing test never waits this long.
const PG_PATIENCE: Duration = Duration::from_secs(180);

/// The unprivileged user the server runs as when the tests run as root.
const PG_USER: &str = "nobody";

pub struct Postgres {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
    running: bool,
}

/// The newest installed server's `bin` folder (`/usr/lib/postgresql/N/bin`).
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// `id -u nobody` / `id -g nobody`.
fn id_of(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, PG_USER])
        .output()
        .expect("id runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a numeric id")
}

impl Postgres {
    /// Whether the server is installed (the test command installs it).
    pub fn installed() -> bool {
        bin_dir().is_some()
    }

    /// `initdb`, then starts the server and waits until it accepts.
    pub fn start() -> Postgres {
        let bin = bin_dir().expect("postgresql is installed (scripts/test.sh installs it)");
        let dir = tempfile::tempdir().expect("temp dir");
        // The unprivileged server walks into the temp dir.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("temp dir permissions");
        let mut pg = Postgres {
            dir,
            bin,
            port: free_port(),
            running: false,
        };
        for sub in ["data", "run"] {
            let path = pg.dir.path().join(sub);
            std::fs::create_dir(&path).expect("a postgres folder");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                .expect("folder permissions");
            if is_root() {
                std::os::unix::fs::chown(&path, Some(id_of("-u")), Some(id_of("-g")))
                    .expect("chown to the server's user");
            }
        }
        let data = pg.data_dir();
        pg.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        pg.resume();
        pg
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// The URL of the database `name` on this server.
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates the database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let port = self.port.to_string();
        let socket = self.socket_dir();
        self.run(
            "createdb",
            &["-h", path_str(&socket), "-p", &port, "-U", "postgres", name],
        );
        self.url_of(name)
    }

    /// Runs `sql` on the `postgres` database with `psql`; its output,
    /// unaligned and without headers (one value a line).
    pub fn query(&self, sql: &str) -> String {
        let out = self
            .psql("query")
            .args(["-tA", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql -c {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A `psql` session of its own on the `postgres` database, named
    /// `name` in `pg_stat_activity.application_name`, fed statements one at a
    /// time: another client holding a transaction open while the code under
    /// test runs.
    pub fn session(&self, name: &str) -> PsqlSession {
        let mut child = self
            .psql(name)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("psql starts");
        let stdin = child.stdin.take().expect("psql's stdin");
        PsqlSession { child, stdin }
    }

    fn psql(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .env("PGAPPNAME", name)
            .current_dir(self.dir.path());
        cmd
    }

    /// Stops the server (fast shutdown: sessions are ended, open
    /// transactions rolled back) and waits until it is gone.
    pub fn stop(&mut self) {
        if self.running {
            self.pg_ctl(&["stop", "-m", "fast"]);
            self.running = false;
        }
    }

    /// Starts the server again (same port, same data) and waits until it accepts.
    pub fn resume(&mut self) {
        assert!(!self.running, "postgres already running");
        let log = self.dir.path().join("run/postgres.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port,
            self.socket_dir().display()
        );
        self.pg_ctl(&["start", "-l", path_str(&log), "-o", &options]);
        self.running = true;
    }

    /// The server's log, for failing tests.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("run/postgres.log")).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.data_dir();
        let timeout = PG_PATIENCE.as_secs().to_string();
        let mut all = vec!["-D", path_str(&data), "-w", "-t", &timeout];
        all.extend_from_slice(args);
        let out = self.run("pg_ctl", &all);
        drop(out);
    }

    /// Runs the server's program `program` as the server's user; panics
    /// with its output and the server's log when it fails.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", PG_USER, "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd
            .args(args)
            // Away from root's home, which `nobody` cannot read.
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\n{}\n{}\nlog:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        out
    }
}

/// A `psql` process reading statements from the test
/// ([`Postgres::session`]); ended on drop.
pub struct PsqlSession {
    child: Child,
    stdin: ChildStdin,
}

impl PsqlSession {
    /// Sends `sql` without waiting for it: see it done in `pg_stat_activity`.
    pub fn send(&mut self, sql: &str) {
        writeln!(self.stdin, "{sql}")
            .and_then(|()| self.stdin.flush())
            .expect("psql reads");
    }
}

impl Drop for PsqlSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A [`Postgres`] that a test on an actix system stops and starts again
/// while its app or recorder goes on running: `pg_ctl` waits on tokio's
/// blocking pool, not on the test's thread, which the app shares.
#[derive(Clone)]
pub struct SharedPostgres(Arc<Mutex<Postgres>>);

impl SharedPostgres {
    /// As [`Postgres::start`].
    pub fn start() -> SharedPostgres {
        SharedPostgres(Arc::new(Mutex::new(Postgres::start())))
    }

    /// As [`Postgres::url`].
    pub fn url(&self) -> String {
        self.0.lock().expect("pg lock").url()
    }

    /// As [`Postgres::stop`], without blocking the test's thread.
    pub async fn stop(&self) {
        let held = self.0.clone();
        tokio::task::spawn_blocking(move || held.lock().expect("pg lock").stop())
            .await
            .expect("postgres stops");
    }

    /// As [`Postgres::resume`], without blocking the test's thread.
    pub async fn resume(&self) {
        let held = self.0.clone();
        tokio::task::spawn_blocking(move || held.lock().expect("pg lock").resume())
            .await
            .expect("postgres starts again");
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            // Immediate: nothing to keep; a panicking test must not hang here.
            let data = self.data_dir();
            let mut cmd = if is_root() {
                let mut c = Command::new("runuser");
                c.args(["-u", PG_USER, "--"]).arg(self.bin.join("pg_ctl"));
                c
            } else {
                Command::new(self.bin.join("pg_ctl"))
            };
            let _ = cmd
                .args(["-D", path_str(&data), "-m", "immediate", "-w", "stop"])
                .current_dir(self.dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
