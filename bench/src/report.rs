//! What a run found, the median over runs, and its rendering: markdown tables
//! for people, JSON for machines.

use std::fmt::Write;

use serde::Serialize;

use crate::receivers::Decode;

/// One step: a rate offered for the step time, and what the receivers got.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Offered rate, msg/s.
    pub offered: u64,
    /// Messages published.
    pub sent: u64,
    /// Rate the publisher actually wrote at (below `offered`: the broker pushed back).
    pub achieved: f64,
    /// Share of the messages that the worst receiver got.
    pub min_fraction: f64,
    /// Messages delivered, all receivers together.
    pub delivered: u64,
    /// Messages the app reported dropped (`lagged`).
    pub lagged: u64,
    /// Messages the receivers decoded whole (0 unless `--decode full`).
    pub decoded: u64,
    /// Latency percentiles over every delivery, ms.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// CPU time of the process under test (Mosquitto or the app) during the step.
    pub cpu_s: f64,
    /// CPU time of the benchmark itself (publisher and receivers) during the
    /// step: shows whether the receivers could have been the limit.
    pub bench_cpu_s: f64,
    /// App target: messages the app took in from the broker during the step
    /// (`/api/status`); fewer than `sent` means the loss was before the app.
    pub app_messages_in: Option<u64>,
    /// App target: messages the app counted as dropped during the step.
    pub app_dropped: Option<u64>,
    /// Time spent waiting for stragglers after the last publish.
    pub drain_s: f64,
    /// Met the "sustained" criteria.
    pub passed: bool,
}

/// A fixed-rate latency step, or why it was skipped.
#[derive(Debug, Clone, Serialize)]
pub struct FixedRate {
    /// Offered rate, msg/s.
    pub rate: u64,
    /// The step, when run.
    pub step: Option<Step>,
    /// Why not.
    pub skipped: Option<&'static str>,
}

/// One target at one receiver count in one run.
#[derive(Debug, Clone, Serialize)]
pub struct TargetRun {
    /// `native` or `app`.
    pub target: &'static str,
    /// Receivers.
    pub receivers: usize,
    /// Time to connect and subscribe all of them.
    pub connect_s: f64,
    /// RSS of the process under test before the receivers connected.
    pub rss_before_kib: u64,
    /// ... and after.
    pub rss_after_kib: u64,
    /// The difference per receiver.
    pub rss_per_receiver_bytes: f64,
    /// Highest passing rate of the ladder.
    pub sustained_msg_s: Option<u64>,
    /// CPU seconds of the process under test per million deliveries, at the sustained rate.
    pub cpu_s_per_million: Option<f64>,
    /// Every ladder step, in order.
    pub ladder: Vec<Step>,
    /// The latency steps.
    pub fixed: Vec<FixedRate>,
    /// The latency step at half of native's sustained rate in the same case
    /// (issue 19: the app's p99 there within 1 ms of native's).
    pub at_half_native: Option<Step>,
}

/// Both targets at one receiver count, measured back to back.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// Receivers.
    pub receivers: usize,
    /// Native MQTT subscribers on Mosquitto.
    pub native: Option<TargetRun>,
    /// WebSocket sessions through the app.
    pub app: Option<TargetRun>,
    /// The app's RSS with no session.
    pub app_idle_rss_kib: u64,
    /// The Mosquitto config this case ran with, verbatim.
    pub broker_config: String,
}

/// The machine, so that numbers can be read against it.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// CPU model name.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
    /// `/proc/loadavg` (1, 5, 15 minutes) before the benchmark.
    pub loadavg_before: String,
    /// ... and after.
    pub loadavg_after: String,
    /// `mosquitto -h`'s version line.
    pub mosquitto: String,
}

/// The benchmark's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Seconds of publishing per step.
    pub step_seconds: f64,
    /// Runs; the summary is their median.
    pub runs: usize,
    /// Extra app settings (`--app-env`).
    pub app_env: Vec<String>,
    /// Payload bytes.
    pub payload_bytes: usize,
    /// Rates of the latency steps, msg/s.
    pub fixed_rates: Vec<u64>,
    /// Factor between rungs while the ladder climbs or descends.
    pub ladder_factor: f64,
    /// Bisections after the ladder found a passing and a failing rate.
    pub refine: u32,
}

/// One configuration of the harness: how the broker sends, and how much
/// work the receivers do per message.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Config {
    /// Mosquitto with `set_tcp_nodelay true` (else stock: Nagle on).
    pub broker_tcp_nodelay: bool,
    /// What the receivers do with each message.
    pub decode: Decode,
}

impl Config {
    /// The broker half, for tables.
    pub fn broker(&self) -> &'static str {
        if self.broker_tcp_nodelay {
            "TCP_NODELAY on"
        } else {
            "stock (Nagle on)"
        }
    }

    /// The receiver half, for tables.
    pub fn receivers(&self) -> &'static str {
        match self.decode {
            Decode::Stamp => "find the timestamp",
            Decode::Full => "decode whole",
        }
    }

    /// A sentence for the section heading.
    pub fn describe(&self) -> String {
        let broker = if self.broker_tcp_nodelay {
            "Mosquitto with `set_tcp_nodelay true`"
        } else {
            "stock Mosquitto (no `set_tcp_nodelay`: Nagle on)"
        };
        format!("{broker}; {}", self.decode.describe())
    }
}

/// Everything measured in one configuration.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigReport {
    /// The configuration of every figure below.
    pub config: Config,
    /// `/proc/loadavg` when its first case started, in the first run.
    pub loadavg_before: String,
    /// ... and when its last case ended, in the last run.
    pub loadavg_after: String,
    /// Medians per receiver count.
    pub summary: Vec<Summary>,
    /// Every run, every step.
    pub runs: Vec<Vec<Case>>,
}

/// Median over runs for one target.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetSummary {
    /// Sustained rate, msg/s.
    pub sustained_msg_s: Option<f64>,
    /// The same times the receiver count.
    pub deliveries_s: Option<f64>,
    /// Latency at each fixed rate.
    pub latency: Vec<LatencySummary>,
    /// Latency at half of native's sustained rate (`rate`: the median of the
    /// runs' rates, which differ as native's sustained rate does).
    pub half_native: Option<LatencySummary>,
    /// CPU seconds per million deliveries at the sustained rate.
    pub cpu_s_per_million: Option<f64>,
    /// RSS growth per receiver, bytes.
    pub rss_per_receiver_bytes: Option<f64>,
    /// Time to connect all receivers.
    pub connect_s: Option<f64>,
}

/// Median latency at one fixed rate.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    /// msg/s.
    pub rate: u64,
    /// ms.
    pub p50_ms: Option<f64>,
    /// ms.
    pub p99_ms: Option<f64>,
    /// Share the worst receiver got.
    pub min_fraction: Option<f64>,
}

/// One row of the summary: a receiver count.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Receivers.
    pub receivers: usize,
    /// Native target.
    pub native: TargetSummary,
    /// App target.
    pub app: TargetSummary,
    /// Median over runs of app sustained / native sustained.
    pub ratio: Option<f64>,
    /// The app's RSS with no session, KiB.
    pub app_idle_rss_kib: Option<f64>,
}

/// Everything: what `--json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// How.
    pub settings: Settings,
    /// One entry per configuration measured.
    pub configs: Vec<ConfigReport>,
}

/// The median of the values present; `None` when there are none.
pub fn median(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut v: Vec<f64> = values
        .into_iter()
        .flatten()
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// The medians of `steps` (one per run) at `rate`.
fn latency_at(rate: u64, steps: &[&Step]) -> LatencySummary {
    LatencySummary {
        rate,
        p50_ms: median(steps.iter().map(|s| Some(s.p50_ms))),
        p99_ms: median(steps.iter().map(|s| Some(s.p99_ms))),
        min_fraction: median(steps.iter().map(|s| Some(s.min_fraction))),
    }
}

fn summarize_target(runs: &[&TargetRun], fixed_rates: &[u64]) -> TargetSummary {
    if runs.is_empty() {
        return TargetSummary::default();
    }
    let n = runs[0].receivers as f64;
    let sustained = median(runs.iter().map(|r| r.sustained_msg_s.map(|s| s as f64)));
    let latency = fixed_rates
        .iter()
        .map(|&rate| {
            let steps: Vec<&Step> = runs
                .iter()
                .filter_map(|r| {
                    r.fixed
                        .iter()
                        .find(|f| f.rate == rate)
                        .and_then(|f| f.step.as_ref())
                })
                .collect();
            latency_at(rate, &steps)
        })
        .collect();
    let halves: Vec<&Step> = runs
        .iter()
        .filter_map(|r| r.at_half_native.as_ref())
        .collect();
    let half_native = (!halves.is_empty()).then(|| {
        let rate = median(halves.iter().map(|s| Some(s.offered as f64))).map_or(0, |r| r as u64);
        latency_at(rate, &halves)
    });
    TargetSummary {
        sustained_msg_s: sustained,
        deliveries_s: sustained.map(|s| s * n),
        latency,
        half_native,
        cpu_s_per_million: median(runs.iter().map(|r| r.cpu_s_per_million)),
        rss_per_receiver_bytes: median(runs.iter().map(|r| Some(r.rss_per_receiver_bytes))),
        connect_s: median(runs.iter().map(|r| Some(r.connect_s))),
    }
}

/// Medians per receiver count over `runs` (each a list of cases in the same order).
pub fn summarize(runs: &[Vec<Case>], fixed_rates: &[u64]) -> Vec<Summary> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    (0..first.len())
        .map(|i| {
            let cases: Vec<&Case> = runs.iter().filter_map(|r| r.get(i)).collect();
            let natives: Vec<&TargetRun> = cases.iter().filter_map(|c| c.native.as_ref()).collect();
            let apps: Vec<&TargetRun> = cases.iter().filter_map(|c| c.app.as_ref()).collect();
            let ratio = median(cases.iter().map(|c| {
                let native = c.native.as_ref()?.sustained_msg_s? as f64;
                let app = c.app.as_ref()?.sustained_msg_s? as f64;
                Some(app / native)
            }));
            Summary {
                receivers: first[i].receivers,
                native: summarize_target(&natives, fixed_rates),
                app: summarize_target(&apps, fixed_rates),
                ratio,
                app_idle_rss_kib: median(cases.iter().map(|c| Some(c.app_idle_rss_kib as f64))),
            }
        })
        .collect()
}

/// `12345.6` as `12,346`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate_cell(t: &TargetSummary, receivers: usize) -> String {
    match (t.sustained_msg_s, t.deliveries_s) {
        (Some(s), Some(d)) if receivers > 1 => {
            format!("{} msg/s ({} deliveries/s)", thousands(s), thousands(d))
        }
        (Some(s), _) => format!("{} msg/s", thousands(s)),
        _ => "—".into(),
    }
}

fn latency_cell(l: Option<&LatencySummary>) -> String {
    match l {
        Some(LatencySummary {
            p50_ms: Some(p50),
            p99_ms: Some(p99),
            min_fraction,
            ..
        }) => {
            let lost = match min_fraction {
                Some(f) if *f < 1.0 => format!(" ({:.2}% delivered)", f * 100.0),
                _ => String::new(),
            };
            format!("{p50:.2} / {p99:.2} ms{lost}")
        }
        _ => "above sustained".into(),
    }
}

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| "—".into(), f)
}

/// The markdown: the machine and settings, then per configuration its three
/// tables, then (with several configurations) the sustained rates side by side.
pub fn markdown(report: &Report) -> String {
    let m = &report.machine;
    let s = &report.settings;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Machine: {} CPUs ({}), Linux {}, /proc/loadavg {} before and {} after; {}. \
         QoS 0, {}-byte payloads, {} s per step, ladder x{} then {} bisection(s), median of {} run(s); \
         app settings: {}.\n",
        m.cpus,
        m.cpu_model,
        m.kernel,
        m.loadavg_before,
        m.loadavg_after,
        m.mosquitto,
        s.payload_bytes,
        s.step_seconds,
        s.ladder_factor,
        s.refine,
        s.runs,
        if s.app_env.is_empty() {
            "defaults".to_string()
        } else {
            s.app_env.join(" ")
        },
    );
    for c in &report.configs {
        let _ = writeln!(
            out,
            "#### {} (/proc/loadavg {} before, {} after)\n",
            c.config.describe(),
            c.loadavg_before,
            c.loadavg_after
        );
        config_tables(&mut out, &c.summary, &s.fixed_rates);
    }
    if report.configs.len() > 1 {
        matrix(&mut out, &report.configs);
    }
    out
}

fn config_tables(out: &mut String, summary: &[Summary], fixed_rates: &[u64]) {
    *out += "| receivers | native MQTT subscribers on Mosquitto | WebSocket sessions through the app | app / native |\n";
    *out += "|---|---|---|---|\n";
    for row in summary {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            thousands(row.receivers as f64),
            rate_cell(&row.native, row.receivers),
            rate_cell(&row.app, row.receivers),
            opt(row.ratio, |r| format!("{r:.2}")),
        );
    }
    *out += "\n| receivers | rate | native p50 / p99 | app p50 / p99 |\n|---|---|---|---|\n";
    for row in summary {
        for &rate in fixed_rates {
            let at = |t: &TargetSummary| t.latency.iter().find(|l| l.rate == rate).cloned();
            let _ = writeln!(
                out,
                "| {} | {} msg/s | {} | {} |",
                thousands(row.receivers as f64),
                thousands(rate as f64),
                latency_cell(at(&row.native).as_ref()),
                latency_cell(at(&row.app).as_ref()),
            );
        }
    }
    for row in summary {
        let (Some(native), app) = (&row.native.half_native, &row.app.half_native) else {
            continue;
        };
        let gap = match (native.p99_ms, app.as_ref().and_then(|a| a.p99_ms)) {
            (Some(n), Some(a)) => format!(" (app p99 {:+.2} ms)", a - n),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | half of native's sustained, {} msg/s{gap} | {} | {} |",
            thousands(row.receivers as f64),
            thousands(native.rate as f64),
            latency_cell(Some(native)),
            latency_cell(app.as_ref()),
        );
    }
    *out += "\n| receivers | CPU s per million deliveries: Mosquitto (native) / app | app RSS idle, per session | Mosquitto RSS per client | connect all: native / app |\n|---|---|---|---|---|\n";
    for row in summary {
        let _ = writeln!(
            out,
            "| {} | {} / {} | {}, {} | {} | {} / {} |",
            thousands(row.receivers as f64),
            opt(row.native.cpu_s_per_million, |c| format!("{c:.2}")),
            opt(row.app.cpu_s_per_million, |c| format!("{c:.2}")),
            opt(row.app_idle_rss_kib, |k| format!("{:.1} MiB", k / 1024.0)),
            opt(row.app.rss_per_receiver_bytes, |b| format!(
                "{:.1} KiB",
                b / 1024.0
            )),
            opt(row.native.rss_per_receiver_bytes, |b| format!(
                "{:.1} KiB",
                b / 1024.0
            )),
            opt(row.native.connect_s, |c| format!("{c:.2} s")),
            opt(row.app.connect_s, |c| format!("{c:.2} s")),
        );
    }
    out.push('\n');
}

/// Sustained rates of every configuration, one row per receiver count and configuration.
fn matrix(out: &mut String, configs: &[ConfigReport]) {
    *out += "| receivers | broker | receivers per message | native | app | app / native |\n";
    *out += "|---|---|---|---|---|---|\n";
    let counts: Vec<usize> = configs
        .first()
        .map(|c| c.summary.iter().map(|r| r.receivers).collect())
        .unwrap_or_default();
    for n in counts {
        for c in configs {
            let Some(row) = c.summary.iter().find(|r| r.receivers == n) else {
                continue;
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                thousands(n as f64),
                c.config.broker(),
                c.config.receivers(),
                opt(row.native.sustained_msg_s, |r| format!(
                    "{} msg/s",
                    thousands(r)
                )),
                opt(row.app.sustained_msg_s, |r| format!(
                    "{} msg/s",
                    thousands(r)
                )),
                opt(row.ratio, |r| format!("{r:.2}")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_skip_missing_values() {
        assert_eq!(median([Some(3.0), None, Some(1.0), Some(2.0)]), Some(2.0));
        assert_eq!(median([Some(1.0), Some(4.0)]), Some(2.5));
        assert_eq!(median([None]), None);
    }

    #[test]
    fn large_numbers_get_separators() {
        assert_eq!(thousands(115_000.0), "115,000");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_234_567.4), "1,234,567");
    }
}
