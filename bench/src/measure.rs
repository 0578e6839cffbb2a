//! One measurement step (publish at a rate, wait for the receivers, judge),
//! the rate ladder that finds a target's sustained rate, and the fixed-rate
//! latency steps.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::procs::{cpu_seconds, rss_kib, App, Broker};
use crate::publisher;
use crate::receivers::{Board, Decode, Kind, Receivers};
use crate::report::{FixedRate, Step, TargetRun};

/// "Sustained": every receiver got at least this share of the messages...
pub const MIN_DELIVERED: f64 = 0.999;
/// ... with p99 latency at most this ...
pub const MAX_P99_MS: f64 = 100.0;
/// ... and the broker took the offered rate (the publisher was not held back).
const MIN_ACHIEVED: f64 = 0.98;

/// The ladder never goes beyond these rates (msg/s).
const LOWEST_RATE: u64 = 1;
const HIGHEST_RATE: u64 = 1_000_000;

/// How quiet the receivers must be before a step starts, and how long a step
/// waits for stragglers before it is judged.
const SETTLE: Duration = Duration::from_millis(200);
const QUIET: Duration = Duration::from_millis(500);
const PATIENCE: Duration = Duration::from_secs(15);

/// How to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Publishing time per step.
    pub step_time: Duration,
    /// Bisections after the ladder found a passing and a failing rate.
    pub refine: u32,
    /// Rates for the latency steps (msg/s).
    pub fixed_rates: Vec<u64>,
    /// Whether to search the sustained rate at all.
    pub ladder: bool,
    /// Most climbing / descending steps of the ladder.
    pub max_bracket_steps: usize,
    /// Factor between two rungs while the ladder climbs or descends (2: doubling).
    pub ladder_factor: f64,
    /// What the receivers do with each message.
    pub decode: Decode,
    /// First rung of the ladder; `None`: by receiver count.
    pub start_rate: Option<u64>,
}

/// Which side is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Raw MQTT subscribers on Mosquitto.
    Native,
    /// WebSocket sessions through the app.
    App,
}

impl Target {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Target::Native => "native",
            Target::App => "app",
        }
    }
}

static NEXT_STEP: AtomicU32 = AtomicU32::new(1);

/// Connects `n` receivers of `target`, measures them, and disconnects them.
/// `hint`: a rate near which to start the ladder. `half_native`: the rate of
/// the latency step at half of native's sustained rate (given to the app;
/// native finds its own from its ladder).
pub async fn measure(
    target: Target,
    n: usize,
    broker: &Broker,
    app: &App,
    plan: &Plan,
    hint: Option<u64>,
    half_native: Option<u64>,
) -> Result<TargetRun, String> {
    let status_addr = (target == Target::App).then(|| app.addr.clone());
    let (kind, pid) = match target {
        Target::Native => (Kind::Native(broker.addr.clone(), plan.decode), broker.pid()),
        Target::App => (Kind::WebSocket(app.addr.clone(), plan.decode), app.pid()),
    };
    let rss_before_kib = rss_kib(pid);
    let board = Arc::new(Board::default());
    let mut rx = Receivers::connect(kind, n, board.clone())
        .await
        .map_err(|e| format!("connecting {n} {} receivers: {e}", target.name()))?;
    let rss_after_kib = rss_kib(pid);
    eprintln!(
        "{} x{n}: connected in {:.2?}; {} RSS {rss_before_kib} -> {rss_after_kib} KiB",
        target.name(),
        rx.connect_time,
        if target == Target::App {
            "app"
        } else {
            "mosquitto"
        },
    );
    let mut m = Measurer {
        rx: &mut rx,
        board,
        broker,
        pid,
        plan,
        target,
        status_addr,
    };
    let mut ladder = Vec::new();
    let sustained = if plan.ladder {
        let start = plan.start_rate.or(hint).unwrap_or(200_000 / n as u64);
        m.ladder(start, &mut ladder).await?
    } else {
        None
    };
    let mut fixed = Vec::new();
    for &rate in &plan.fixed_rates {
        if plan.ladder && sustained.is_none_or(|s| rate > s) {
            fixed.push(FixedRate {
                rate,
                step: None,
                skipped: Some("above the sustained rate"),
            });
            continue;
        }
        let step = m.step(rate).await?;
        fixed.push(FixedRate {
            rate,
            step: Some(step),
            skipped: None,
        });
    }
    let half_native = match target {
        Target::Native => sustained.map(|s| nice(s as f64 / 2.0).max(1)),
        Target::App => half_native,
    };
    let at_half_native = match half_native {
        Some(rate) if plan.ladder => Some(m.step(rate).await?),
        _ => None,
    };
    let at_sustained = sustained.and_then(|s| {
        ladder
            .iter()
            .find(|st: &&Step| st.offered == s && st.passed)
    });
    let cpu_s_per_million = at_sustained
        .filter(|s| s.delivered > 0)
        .map(|s| s.cpu_s / s.delivered as f64 * 1e6);
    Ok(TargetRun {
        target: target.name(),
        receivers: n,
        connect_s: rx.connect_time.as_secs_f64(),
        rss_before_kib,
        rss_after_kib,
        rss_per_receiver_bytes: (rss_after_kib as f64 - rss_before_kib as f64) * 1024.0 / n as f64,
        sustained_msg_s: sustained,
        cpu_s_per_million,
        ladder,
        fixed,
        at_half_native,
    })
}

struct Measurer<'a> {
    rx: &'a mut Receivers,
    board: Arc<Board>,
    broker: &'a Broker,
    pid: u32,
    plan: &'a Plan,
    target: Target,
    /// The app's address, when it is the target: its counters go in each step.
    status_addr: Option<String>,
}

impl Measurer<'_> {
    /// Climbs or descends from `start` by `plan.ladder_factor` (doubling by
    /// default) until one rate passes and the next fails, then bisects
    /// (geometrically) `plan.refine` times. Returns the highest passing rate.
    async fn ladder(&mut self, start: u64, steps: &mut Vec<Step>) -> Result<Option<u64>, String> {
        let mut rate = nice(start as f64).clamp(LOWEST_RATE, HIGHEST_RATE);
        let (mut pass, mut fail): (Option<u64>, Option<u64>) = (None, None);
        let factor = self.plan.ladder_factor.max(1.01);
        for _ in 0..self.plan.max_bracket_steps {
            let step = self.step(rate).await?;
            let passed = step.passed;
            steps.push(step);
            if passed {
                pass = Some(rate);
                if fail.is_some() || rate >= HIGHEST_RATE {
                    break;
                }
                rate = nice(rate as f64 * factor).max(rate + 1).min(HIGHEST_RATE);
            } else {
                fail = Some(rate);
                if pass.is_some() || rate <= LOWEST_RATE {
                    break;
                }
                rate = nice(rate as f64 / factor)
                    .min(rate.saturating_sub(1))
                    .max(LOWEST_RATE);
            }
        }
        for _ in 0..self.plan.refine {
            let (Some(lo), Some(hi)) = (pass, fail) else {
                break;
            };
            let mid = nice(((lo as f64) * (hi as f64)).sqrt());
            if mid <= lo || mid >= hi {
                break;
            }
            let step = self.step(mid).await?;
            if step.passed {
                pass = Some(mid);
            } else {
                fail = Some(mid);
            }
            steps.push(step);
        }
        Ok(pass)
    }

    /// Publishes at `rate` for the plan's step time and judges the delivery.
    async fn step(&mut self, rate: u64) -> Result<Step, String> {
        let revived = self
            .rx
            .revive()
            .await
            .map_err(|e| format!("reconnecting receivers: {e}"))?;
        if revived > 0 {
            eprintln!(
                "{}: {revived} receivers had lost their socket and were reconnected",
                self.target.name()
            );
        }
        settle(&self.board).await;
        let id = NEXT_STEP.fetch_add(1, Ordering::Relaxed);
        self.board.begin(id, &self.rx.slots);
        let counters_before = self.app_counters().await;
        let cpu_before = cpu_seconds(self.pid);
        let own_cpu_before = cpu_seconds(std::process::id());
        let decoded_before = self.board.decoded();
        let addr = self.broker.addr.clone();
        let duration = self.plan.step_time;
        let published =
            tokio::task::spawn_blocking(move || publisher::run(&addr, id, rate, duration))
                .await
                .map_err(|e| format!("publisher thread: {e}"))?
                .map_err(|e| format!("publisher: {e}"))?;
        let waited = drain(&self.board, self.rx, published.sent).await;
        let cpu_s = cpu_seconds(self.pid) - cpu_before;
        let bench_cpu_s = cpu_seconds(std::process::id()) - own_cpu_before;
        let counters = match (counters_before, self.app_counters().await) {
            (Some((in0, drop0)), Some((in1, drop1))) => {
                Some((in1.saturating_sub(in0), drop1.saturating_sub(drop0)))
            }
            _ => None,
        };
        let decoded = self.board.decoded() - decoded_before;
        let hist = self.board.hist.snapshot();
        self.board.end();
        let got: Vec<u64> = self.rx.slots.iter().map(|s| s.got()).collect();
        let delivered: u64 = got.iter().sum();
        let min = got.iter().copied().min().unwrap_or(0);
        let min_fraction = min as f64 / published.sent.max(1) as f64;
        let (p50_ms, p99_ms) = (hist.quantile_ms(0.50), hist.quantile_ms(0.99));
        let achieved = published.achieved();
        let passed = min_fraction >= MIN_DELIVERED
            && p99_ms <= MAX_P99_MS
            && achieved >= MIN_ACHIEVED * rate as f64;
        let step = Step {
            offered: rate,
            sent: published.sent,
            achieved,
            min_fraction,
            delivered,
            lagged: self.board.lagged(),
            decoded,
            p50_ms,
            p99_ms,
            max_ms: hist.max_ms(),
            cpu_s,
            bench_cpu_s,
            app_messages_in: counters.map(|c| c.0),
            app_dropped: counters.map(|c| c.1),
            drain_s: waited.as_secs_f64(),
            passed,
        };
        eprintln!(
            "{} x{}: {rate} msg/s offered, {achieved:.0} published; worst receiver {:.3}%, p50 {p50_ms:.2} ms, \
             p99 {p99_ms:.2} ms, max {:.1} ms; {:.2} CPU s (benchmark {:.2}){}: {}",
            self.target.name(),
            got.len(),
            min_fraction * 100.0,
            step.max_ms,
            cpu_s,
            bench_cpu_s,
            counters.map_or(String::new(), |(i, d)| format!("; app took in {i}, dropped {d}")),
            if passed { "pass" } else { "FAIL" }
        );
        Ok(step)
    }
}

impl Measurer<'_> {
    async fn app_counters(&self) -> Option<(u64, u64)> {
        let addr = self.status_addr.clone()?;
        tokio::task::spawn_blocking(move || crate::procs::app_counters(&addr))
            .await
            .ok()?
    }
}

/// Waits until nothing has arrived for a moment (leftovers of the last step).
async fn settle(board: &Board) {
    let start = Instant::now();
    let mut last = board.seen();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < SETTLE && start.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let seen = board.seen();
        if seen != last {
            last = seen;
            quiet_since = Instant::now();
        }
    }
}

/// Waits until every receiver has all `sent` messages, or nothing has arrived
/// for [`QUIET`]; returns how long it waited.
async fn drain(board: &Board, rx: &Receivers, sent: u64) -> Duration {
    let start = Instant::now();
    let mut last = board.seen();
    let mut quiet_since = Instant::now();
    while start.elapsed() < PATIENCE {
        if rx.slots.iter().all(|s| s.got() >= sent) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        let seen = board.seen();
        if seen != last {
            last = seen;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() > QUIET {
            break;
        }
    }
    start.elapsed()
}

/// `x` rounded to two significant digits (ladder rungs read well in tables).
pub fn nice(x: f64) -> u64 {
    if x < 100.0 {
        return x.round().max(1.0) as u64;
    }
    let unit = 10f64.powf(x.log10().floor() - 1.0);
    ((x / unit).round() * unit) as u64
}

#[cfg(test)]
mod tests {
    use super::nice;

    #[test]
    fn rungs_have_two_significant_digits() {
        assert_eq!(nice(7.4), 7);
        assert_eq!(nice(1414.2), 1400);
        assert_eq!(nice(200_000.0), 200_000);
        assert_eq!(nice(141_421.0), 140_000);
        assert_eq!(nice(99.6), 100);
    }
}
