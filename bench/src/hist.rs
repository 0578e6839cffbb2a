//! A latency histogram shared by every receiver task: log-linear buckets
//! (32 per power of two, so about 3% wide) of atomic counters, cheap enough
//! to record every delivery.

use std::sync::atomic::{AtomicU64, Ordering};

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = 1024;

/// Counts of latencies in microseconds.
pub struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Histogram {
    /// Counts one latency.
    pub fn record(&self, micros: u64) {
        self.counts[index(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets everything (between steps, while nothing records).
    pub fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// The counts as they are now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(
            self.counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
        )
    }
}

/// A frozen copy of a [`Histogram`].
pub struct Snapshot(Vec<u64>);

impl Snapshot {
    /// The latency (ms) below which a fraction `q` of the samples lie; 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total: u64 = self.0.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.0.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return midpoint(i) / 1000.0;
            }
        }
        midpoint(BUCKETS - 1) / 1000.0
    }

    /// The largest latency seen (ms, to bucket precision).
    pub fn max_ms(&self) -> f64 {
        self.0
            .iter()
            .rposition(|&c| c > 0)
            .map_or(0.0, |i| midpoint(i) / 1000.0)
    }
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - u64::from(v.leading_zeros()); // >= SUB_BITS
    let shift = exp - u64::from(SUB_BITS);
    let i = SUB * (shift + 1) + ((v >> shift) & (SUB - 1));
    (i as usize).min(BUCKETS - 1)
}

/// Lower bound of bucket `i`, and its width.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, 1);
    }
    let shift = i / SUB - 1;
    ((SUB + i % SUB) << shift, 1 << shift)
}

fn midpoint(i: usize) -> f64 {
    let (low, width) = bounds(i);
    low as f64 + (width as f64 - 1.0) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_in_the_bucket_that_bounds_it() {
        for v in (0..5000).chain([65_535, 1_000_000, 99_999_999]) {
            let (low, width) = bounds(index(v));
            assert!(low <= v && v < low + width, "{v}: [{low}, +{width})");
            assert!(width * 32 <= low.max(32), "{v}: bucket too wide");
        }
    }

    #[test]
    fn quantiles_come_from_the_counts() {
        let h = Histogram::default();
        for v in 1..=1000 {
            h.record(v);
        }
        let s = h.snapshot();
        let p50 = s.quantile_ms(0.5);
        let p99 = s.quantile_ms(0.99);
        assert!((0.48..0.52).contains(&p50), "{p50}");
        assert!((0.96..1.02).contains(&p99), "{p99}");
        h.reset();
        assert_eq!(h.snapshot().quantile_ms(0.99), 0.0);
    }
}
