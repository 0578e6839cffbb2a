//! mqtt-bench: how the example app's WebSocket fan-out compares with the
//! obvious alternative, native MQTT subscribers on the same Mosquitto.
//!
//! `cargo run --release -p mqtt-bench -- [--json] [--receivers 1,100,1000]
//! [--with-10k] [--seconds N] [--runs 3] [--broker nodelay,stock]
//! [--decode stamp,full] [--matrix] [--ladder-factor 1.5]`
//!
//! Per run, configuration and receiver count it starts a fresh Mosquitto (own
//! config, free port) and the release app as a child process, then measures
//! both targets back to back with the same publisher, payloads and receiver
//! count: the sustained rate by a rate ladder, p50 / p99 latency at fixed
//! rates, CPU time and RSS of the process under test. Receivers and publisher
//! live in this process, never in the app's. A configuration is the broker's
//! `TCP_NODELAY` (on, or stock) and what receivers do per message (find the
//! timestamp, or decode the message whole as a browser or client library).
//!
//! `--idle-sessions N --app-addr ADDR` only opens N idle WebSocket sessions on
//! an app already running (for a heap profiler attached to it), holds them
//! for `--hold-seconds`, and closes them.
//!
//! # Layout
//! - `payload`: the 64-byte stamped payloads; `hist`: the latency histogram;
//! - `mqtt`, `ws`: minimal clients for the two targets;
//! - `receivers`: receiver tasks and the board they count on;
//! - `publisher`: the rate-driven publisher thread;
//! - `procs`: Mosquitto and the app as child processes, `/proc` readings;
//! - `measure`: steps, the ladder, fixed-rate steps;
//! - `report`: results, medians, markdown and JSON.

mod hist;
mod measure;
mod mqtt;
mod payload;
mod procs;
mod publisher;
mod receivers;
mod report;
mod ws;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::measure::{measure, Plan, Target};
use crate::procs::{App, Broker};
use crate::receivers::Decode;
use crate::report::{Case, Config, ConfigReport, Machine, Report, Settings};

/// How the benchmark's Mosquitto sends to its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BrokerMode {
    /// `set_tcp_nodelay true`: one segment per PUBLISH, no Nagle stalls.
    Nodelay,
    /// Stock settings: Nagle on, small PUBLISHes coalesced.
    Stock,
}

/// Side-by-side benchmark: native MQTT subscribers on Mosquitto against
/// WebSocket sessions through the example app (issue 10). Progress goes to
/// stderr; the markdown tables (or, with --json, the JSON report) to stdout.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Print the full report as JSON instead of the markdown tables.
    #[arg(long)]
    json: bool,
    /// Receiver counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    receivers: Vec<usize>,
    /// Also measure 10,000 receivers.
    #[arg(long)]
    with_10k: bool,
    /// Seconds of publishing per step.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Runs; the tables show the median of them.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Bisections of the ladder after it found a passing and a failing rate.
    #[arg(long, default_value_t = 3)]
    refine: u32,
    /// Rates (msg/s) of the latency steps; a rate above a target's sustained rate is skipped.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    fixed_rates: Vec<u64>,
    /// Most doubling / halving steps of a ladder before it bisects.
    #[arg(long, default_value_t = 14)]
    max_ladder_steps: usize,
    /// Skip the ladder: only the fixed-rate steps, at every rate (for profiling).
    #[arg(long)]
    no_ladder: bool,
    /// First rung of every ladder, msg/s (default: 200,000 / receivers for native,
    /// native's sustained rate for the app).
    #[arg(long)]
    start_rate: Option<u64>,
    /// Measure only these targets.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Target::Native, Target::App])]
    targets: Vec<Target>,
    /// The app binary (default: the example-app binary beside this one, built by cargo).
    #[arg(long)]
    app: Option<PathBuf>,
    /// An app setting for the run, e.g. --app-env WS_QUEUE_FRAMES=100000 (repeatable).
    #[arg(long, value_parser = parse_env)]
    app_env: Vec<(String, String)>,
    /// Run the app with its history recorder on (`HISTORY_RECORD=#`, into
    /// SQLite in a temporary folder); without it the app records nothing
    /// (`HISTORY_NO_RECORD=true`).
    #[arg(long)]
    record: bool,
    /// Broker configurations to measure: `nodelay` (set_tcp_nodelay true), `stock`.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BrokerMode::Nodelay])]
    broker: Vec<BrokerMode>,
    /// What receivers do per message: `stamp` (find the timestamp in place),
    /// `full` (decode it whole: serde_json of each WebSocket frame and its
    /// payload, an owned message per MQTT PUBLISH).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Decode::Stamp])]
    decode: Vec<Decode>,
    /// Every configuration: both broker modes times both decode modes.
    #[arg(long)]
    matrix: bool,
    /// Factor between rungs while the ladder climbs or descends (2: doubling;
    /// 1.5 with --refine 0 is a plain x1.5 ladder).
    #[arg(long, default_value_t = 2.0)]
    ladder_factor: f64,
    /// About a second of everything with 1 receiver: keeps the benchmark working (tests).
    #[arg(long)]
    smoke: bool,
    /// Only open this many idle WebSocket sessions on the app at --app-addr,
    /// hold them, close them (for heap profiling the app).
    #[arg(long, requires = "app_addr")]
    idle_sessions: Option<usize>,
    /// The running app for --idle-sessions, `127.0.0.1:PORT`.
    #[arg(long)]
    app_addr: Option<String>,
    /// How long --idle-sessions holds its sessions.
    #[arg(long, default_value_t = 10.0)]
    hold_seconds: f64,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

impl Cli {
    fn plan(&self) -> Plan {
        Plan {
            step_time: Duration::from_secs_f64(self.seconds.max(0.05)),
            refine: self.refine,
            fixed_rates: self.fixed_rates.clone(),
            ladder: !self.no_ladder,
            max_bracket_steps: self.max_ladder_steps.max(1),
            start_rate: self.start_rate,
            ladder_factor: self.ladder_factor,
            decode: Decode::Stamp,
        }
    }

    /// The configurations to measure, in order.
    fn configs(&self) -> Vec<Config> {
        let (brokers, decodes) = if self.matrix {
            (
                vec![BrokerMode::Nodelay, BrokerMode::Stock],
                vec![Decode::Stamp, Decode::Full],
            )
        } else {
            (self.broker.clone(), self.decode.clone())
        };
        let mut configs = Vec::new();
        for b in &brokers {
            for &decode in &decodes {
                configs.push(Config {
                    broker_tcp_nodelay: *b == BrokerMode::Nodelay,
                    decode,
                });
            }
        }
        configs
    }

    fn apply_smoke(&mut self) {
        if self.smoke {
            self.receivers = vec![1];
            self.with_10k = false;
            // One short step per target and configuration: enough to show
            // that every part works, and --matrix stays a few seconds.
            self.seconds = 0.1;
            self.runs = 1;
            self.refine = 0;
            self.max_ladder_steps = 1;
            self.fixed_rates = Vec::new();
            self.start_rate = Some(200);
        }
    }
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    cli.apply_smoke();
    if let (Some(n), Some(addr)) = (cli.idle_sessions, cli.app_addr.clone()) {
        return match hold_idle(n, &addr, Duration::from_secs_f64(cli.hold_seconds)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if cli.with_10k && !cli.receivers.contains(&10_000) {
        cli.receivers.push(10_000);
    }
    match run(&cli) {
        Ok(report) => {
            let tables = report::markdown(&report);
            if cli.json {
                eprintln!("{tables}");
                match serde_json::to_string_pretty(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                println!("{tables}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<Report, String> {
    procs::raise_fd_limit();
    let binary = procs::app_binary(cli.app.clone())?;
    let loadavg_before = loadavg();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let plan = cli.plan();
    let mut configs: Vec<ConfigReport> = cli
        .configs()
        .into_iter()
        .map(|config| ConfigReport {
            config,
            loadavg_before: String::new(),
            loadavg_after: String::new(),
            summary: Vec::new(),
            runs: Vec::new(),
        })
        .collect();
    let runs = cli.runs.max(1);
    for run in 0..runs {
        for c in configs.iter_mut() {
            if run == 0 {
                c.loadavg_before = loadavg();
            }
            let plan = Plan {
                decode: c.config.decode,
                ..plan.clone()
            };
            let mut cases = Vec::new();
            for &n in &cli.receivers {
                eprintln!(
                    "run {} of {runs}, {}, {n} receivers",
                    run + 1,
                    c.config.describe()
                );
                let case = measure_case(cli, &binary, &plan, c.config.broker_tcp_nodelay, n);
                cases.push(rt.block_on(case)?);
            }
            c.runs.push(cases);
            c.loadavg_after = loadavg();
        }
    }
    for c in configs.iter_mut() {
        c.summary = report::summarize(&c.runs, &plan.fixed_rates);
    }
    Ok(Report {
        machine: machine(loadavg_before),
        settings: Settings {
            step_seconds: plan.step_time.as_secs_f64(),
            runs,
            app_env: history_env(cli.record, std::path::Path::new("TMP"))
                .iter()
                .chain(&cli.app_env)
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            payload_bytes: payload::PAYLOAD_BYTES,
            fixed_rates: plan.fixed_rates.clone(),
            ladder_factor: plan.ladder_factor,
            refine: plan.refine,
        },
        configs,
    })
}

/// Opens `n` idle WebSocket sessions on the app at `addr` (each subscribed
/// to the benchmark's filter, as in a measurement), holds them for `hold`,
/// then closes them.
fn hold_idle(n: usize, addr: &str, hold: Duration) -> Result<(), String> {
    procs::raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async {
        let board = std::sync::Arc::new(receivers::Board::default());
        let kind = receivers::Kind::WebSocket(addr.to_string(), Decode::Stamp);
        let rx = receivers::Receivers::connect(kind, n, board)
            .await
            .map_err(|e| format!("connecting {n} sessions: {e}"))?;
        eprintln!(
            "holding {n} idle sessions (connected in {:.2?})",
            rx.connect_time
        );
        tokio::time::sleep(hold).await;
        drop(rx);
        Ok(())
    })
}

/// The app's history settings: recording everything into `data`, or nothing.
fn history_env(record: bool, data: &std::path::Path) -> Vec<(String, String)> {
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    if record {
        let data = data.display().to_string();
        vec![pair("HISTORY_RECORD", "#"), pair("DATA_DIR", &data)]
    } else {
        vec![pair("HISTORY_NO_RECORD", "true")]
    }
}

/// Both targets at `n` receivers, against a fresh broker and a fresh app.
async fn measure_case(
    cli: &Cli,
    binary: &std::path::Path,
    plan: &Plan,
    nodelay: bool,
    n: usize,
) -> Result<Case, String> {
    let broker = Broker::start(nodelay)?;
    let data = tempfile::tempdir().map_err(|e| format!("a data folder for the app: {e}"))?;
    let mut env = history_env(cli.record, data.path());
    env.extend(cli.app_env.iter().cloned());
    let app = App::start(binary, &broker, &env)?;
    eprintln!(
        "mosquitto pid {} on {}, app pid {} on {}",
        broker.pid(),
        broker.addr,
        app.pid(),
        app.addr
    );
    let app_idle_rss_kib = procs::rss_kib(app.pid());
    let mut case = Case {
        receivers: n,
        native: None,
        app: None,
        app_idle_rss_kib,
        broker_config: broker.config.clone(),
    };
    if cli.targets.contains(&Target::Native) {
        case.native = Some(measure(Target::Native, n, &broker, &app, plan, None, None).await?);
    }
    if cli.targets.contains(&Target::App) {
        let hint = case.native.as_ref().and_then(|r| r.sustained_msg_s);
        let half = case
            .native
            .as_ref()
            .and_then(|r| r.at_half_native.as_ref())
            .map(|s| s.offered);
        case.app = Some(measure(Target::App, n, &broker, &app, plan, hint, half).await?);
    }
    Ok(case)
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` has them.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn machine(loadavg_before: String) -> Machine {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_default();
    let mosquitto = std::process::Command::new("mosquitto")
        .arg("-h")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            text.lines()
                .find(|l| l.contains("version"))
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "mosquitto".into());
    Machine {
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        loadavg_before,
        loadavg_after: loadavg(),
        mosquitto,
    }
}
