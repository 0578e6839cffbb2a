//! recorder: what the recorder of `mqtt-actor`'s `history` feature sustains.
//!
//! `cargo run --release -p mqtt-bench --bin recorder -- [--messages N]
//! [--backend sqlite|postgres|both] [--queries N]`
//!
//! Per backend (SQLite in a temp dir; PostgreSQL from Debian's package,
//! `initdb` in a temp dir, run as `nobody` when this runs as root, with its
//! default durability: fsync on) it records `--messages` messages of 64
//! bytes over 100 topics through [`Recorder::record`], as fast as the queue
//! takes them without refusing any, and reports the rate at which they were
//! committed. Then, over what it stored, the time of the range query for the
//! last 1,000 messages of one topic (the median and the slowest of
//! `--queries`), and of the last 1,000 under `bench/+` (all 100 topics). Markdown to stdout, progress
//! to stderr. Targets (issue 18): 20,000 msg/s on SQLite, the query < 50 ms.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use mqtt_actor::recorder::{HistoryQuery, Recorder, RecorderConfig};
use mqtt_actor::{MqttMessage, QoS};

#[derive(Debug, Parser)]
#[command(about = "The rate the history recorder sustains, and its range queries")]
struct Cli {
    /// Messages recorded per backend (the query runs over them).
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    /// Repetitions of each query.
    #[arg(long, default_value_t = 50)]
    queries: usize,
}

/// The topics the messages are spread over.
const TOPICS: usize = 100;
/// The recorder's queue; the producer keeps it at most half full.
const QUEUE: usize = 100_000;

struct Figures {
    backend: &'static str,
    messages: u64,
    seconds: f64,
    batches: u64,
    one_topic: (Duration, Duration),
    wildcard: (Duration, Duration),
}

/// Records `n` messages and waits until they are committed; the rate.
async fn fill(recorder: &Recorder, n: usize) -> (f64, u64) {
    let topics: Vec<String> = (0..TOPICS).map(|i| format!("bench/{i}")).collect();
    let start = Instant::now();
    let mut sent = 0;
    while sent < n {
        let room = (QUEUE / 2).saturating_sub(recorder.stats().pending as usize);
        if room == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        for _ in 0..room.min(n - sent) {
            let payload = format!("{sent:064}");
            let msg = MqttMessage::new(&topics[sent % TOPICS], payload, QoS::AtMostOnce, false);
            assert!(recorder.record(&msg), "the queue had room");
            sent += 1;
        }
        tokio::task::yield_now().await;
    }
    while recorder.stats().recorded < n as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = recorder.stats();
    assert_eq!(stats.dropped + stats.discarded, 0, "{stats:?}");
    (start.elapsed().as_secs_f64(), stats.batches)
}

/// The median and the slowest time of `runs` runs of `query`.
async fn time_query(
    recorder: &Recorder,
    query: &HistoryQuery,
    runs: usize,
) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let page = recorder.history(query).await.expect("the query answers");
        times.push(start.elapsed());
        assert_eq!(page.messages.len(), 1_000, "{} points", page.messages.len());
    }
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

async fn run(backend: &'static str, config: RecorderConfig, cli: &Cli) -> Figures {
    eprintln!("{backend}: recording {} messages", cli.messages);
    let recorder = Recorder::open(config).await.expect("the recorder opens");
    let (seconds, batches) = fill(&recorder, cli.messages).await;
    eprintln!("{backend}: querying");
    let one = HistoryQuery::new("bench/42").limit(1_000);
    let plus = HistoryQuery::new("bench/+").limit(1_000);
    let figures = Figures {
        backend,
        messages: cli.messages as u64,
        seconds,
        batches,
        one_topic: time_query(&recorder, &one, cli.queries).await,
        wildcard: time_query(&recorder, &plus, cli.queries).await,
    };
    recorder.close().await;
    figures
}

fn report(all: &[Figures]) {
    println!("| backend | messages | seconds | msg/s | batches | last 1,000 of one topic (median / max) | last 1,000 of `bench/+` (100 topics) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for f in all {
        println!(
            "| {} | {} | {:.1} | {:.0} | {} | {:.1} ms / {:.1} ms | {:.1} ms / {:.1} ms |",
            f.backend,
            f.messages,
            f.seconds,
            f.messages as f64 / f.seconds,
            f.batches,
            f.one_topic.0.as_secs_f64() * 1e3,
            f.one_topic.1.as_secs_f64() * 1e3,
            f.wildcard.0.as_secs_f64() * 1e3,
            f.wildcard.1.as_secs_f64() * 1e3,
        );
    }
}

#[tokio::main]
async fn main() {
    env_logger::init();
    let cli = Cli::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut all = Vec::new();
    if matches!(cli.backend.as_str(), "sqlite" | "both") {
        let mut config = RecorderConfig::default();
        config.data_dir = dir.path().join("sqlite");
        config.queue_capacity = QUEUE;
        all.push(run("SQLite", config, &cli).await);
    }
    if matches!(cli.backend.as_str(), "postgres" | "both") {
        let pg = Postgres::start(dir.path());
        let mut config = RecorderConfig::default();
        config.database = Some(pg.url());
        config.queue_capacity = QUEUE;
        all.push(run("PostgreSQL", config, &cli).await);
    }
    report(&all);
}

/// A PostgreSQL server in `dir/pg`, with its default durability, stopped on drop.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl Postgres {
    fn start(dir: &Path) -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("postgresql is installed")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect("a postgresql server");
        let root = dir.join("pg");
        std::fs::create_dir_all(&root).expect("pg folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = Postgres {
            bin,
            data: root.join("data"),
            port,
        };
        // As `nobody` when root: PostgreSQL refuses to run as root.
        let _ = Command::new("chmod").arg("755").arg(dir).status();
        let _ = Command::new("chown")
            .args(["nobody:nogroup"])
            .arg(&root)
            .status();
        let data = pg.data.display().to_string();
        pg.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "--locale=C"],
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            root.display()
        );
        let log = root.join("log").display().to_string();
        pg.run(
            "pg_ctl",
            &["-D", &data, "-w", "-l", &log, "-o", &options, "start"],
        );
        pg
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let mut cmd = if is_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(self.bin.join(program));
            c
        } else {
            Command::new(self.bin.join(program))
        };
        let status = cmd
            .args(args)
            .current_dir("/")
            .stdout(Stdio::null())
            .status()
            .expect("runs");
        assert!(status.success(), "{program} {args:?}: {status}");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }
}
