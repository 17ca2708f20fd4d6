//! [`Stats`]: what one load task measured, merged into a [`Report`] with
//! throughput and latency percentiles.

use std::fmt;
use std::time::Duration;

/// Latencies and error counts of one task (merged across tasks at the end).
///
/// Latencies are kept as whole microseconds in a vector reserved up front,
/// so recording is a push without locks or per-op allocation; percentiles
/// come from sorting once at the end (exact, unlike a bucketed histogram).
#[derive(Debug, Default)]
pub struct Stats {
    /// One entry per completed operation, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Errors the workload does not expect.
    pub errors: u64,
    /// Errors the workload expects and counts (e.g. NodeExists in churn).
    pub expected_errors: u64,
    /// The first unexpected error, for the message.
    pub first_error: Option<String>,
}

impl Stats {
    /// Stats with room for `capacity` latencies.
    pub fn with_capacity(capacity: usize) -> Stats {
        Stats {
            latencies_us: Vec::with_capacity(capacity),
            ..Stats::default()
        }
    }

    /// Records one completed operation.
    #[inline]
    pub fn record(&mut self, latency: Duration) {
        let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        self.latencies_us.push(us);
    }

    /// Records an unexpected error.
    pub fn error(&mut self, err: impl fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(err.to_string());
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, mut other: Stats) {
        if self.latencies_us.is_empty() {
            std::mem::swap(&mut self.latencies_us, &mut other.latencies_us);
        } else {
            self.latencies_us.extend_from_slice(&other.latencies_us);
        }
        self.errors += other.errors;
        self.expected_errors += other.expected_errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// The summary of one measured phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Workload name.
    pub workload: String,
    /// Sessions (connections).
    pub sessions: usize,
    /// Requests in flight per session.
    pub in_flight: usize,
    /// Value size in bytes.
    pub value_size: usize,
    /// Completed operations.
    pub ops: u64,
    /// Length of the measured phase.
    pub elapsed: Duration,
    /// Latency percentiles in microseconds: p50, p99, p99.9, max.
    pub p50_us: u32,
    /// 99th percentile.
    pub p99_us: u32,
    /// 99.9th percentile.
    pub p999_us: u32,
    /// Slowest operation.
    pub max_us: u32,
    /// Unexpected errors.
    pub errors: u64,
    /// Expected errors (counted, not fatal).
    pub expected_errors: u64,
    /// The first unexpected error.
    pub first_error: Option<String>,
}

/// The value at quantile `q` (0..=1) of sorted `values`, nearest rank.
pub fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Report {
    /// Summarizes `stats` measured over `elapsed`.
    pub fn new(
        workload: &str,
        sessions: usize,
        in_flight: usize,
        value_size: usize,
        mut stats: Stats,
        elapsed: Duration,
    ) -> Report {
        stats.latencies_us.sort_unstable();
        let l = &stats.latencies_us;
        Report {
            workload: workload.to_owned(),
            sessions,
            in_flight,
            value_size,
            ops: l.len() as u64,
            elapsed,
            p50_us: percentile(l, 0.50),
            p99_us: percentile(l, 0.99),
            p999_us: percentile(l, 0.999),
            max_us: l.last().copied().unwrap_or(0),
            errors: stats.errors,
            expected_errors: stats.expected_errors,
            first_error: stats.first_error,
        }
    }

    /// Completed operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ops as f64 / secs
        } else {
            0.0
        }
    }

    /// One JSON object (a line of `--json` output).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "workload": self.workload,
            "sessions": self.sessions,
            "in_flight": self.in_flight,
            "value_size": self.value_size,
            "ops": self.ops,
            "seconds": self.elapsed.as_secs_f64(),
            "ops_per_sec": self.ops_per_sec(),
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "p999_us": self.p999_us,
            "max_us": self.max_us,
            "errors": self.errors,
            "expected_errors": self.expected_errors,
            "first_error": self.first_error,
        })
        .to_string()
    }
}

fn ms(us: u32) -> String {
    format!("{:.2}ms", f64::from(us) / 1000.0)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<8} c={} p={} size={} ops={} secs={:.2} ops/s={:.0} p50={} p99={} p999={} max={} errors={} expected_errors={}",
            self.workload,
            self.sessions,
            self.in_flight,
            self.value_size,
            self.ops,
            self.elapsed.as_secs_f64(),
            self.ops_per_sec(),
            ms(self.p50_us),
            ms(self.p99_us),
            ms(self.p999_us),
            ms(self.max_us),
            self.errors,
            self.expected_errors,
        )?;
        if let Some(err) = &self.first_error {
            write!(f, " first_error={err:?}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), 500);
        assert_eq!(percentile(&v, 0.99), 990);
        assert_eq!(percentile(&v, 0.999), 999);
        assert_eq!(percentile(&v, 1.0), 1000);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn merge_adds_counts_and_keeps_first_error() {
        let mut a = Stats::with_capacity(4);
        a.record(Duration::from_micros(5));
        let mut b = Stats::default();
        b.record(Duration::from_micros(3));
        b.error("boom");
        b.expected_errors = 2;
        a.merge(b);
        let r = Report::new("get", 1, 1, 0, a, Duration::from_secs(1));
        assert_eq!((r.ops, r.p50_us, r.max_us), (2, 3, 5));
        assert_eq!((r.errors, r.expected_errors), (1, 2));
        assert_eq!(r.first_error.as_deref(), Some("boom"));
        assert!(r.to_json().contains("\"ops_per_sec\":2.0"));
    }
}
