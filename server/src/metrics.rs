//! `Metrics`: counters the four-letter words and `mntr` report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Request counters and latency figures of this server.
#[derive(Debug)]
pub struct Metrics {
    packets_received: AtomicU64,
    packets_sent: AtomicU64,
    latency_count: AtomicU64,
    latency_total_us: AtomicU64,
    latency_min_us: AtomicU64,
    latency_max_us: AtomicU64,
    connections_total: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            latency_total_us: AtomicU64::new(0),
            latency_min_us: AtomicU64::new(u64::MAX),
            latency_max_us: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
        }
    }
}

/// A consistent-enough copy of the latency figures, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    /// Fastest request.
    pub min_ms: f64,
    /// Mean.
    pub avg_ms: f64,
    /// Slowest request.
    pub max_ms: f64,
    /// Requests measured.
    pub count: u64,
}

impl Metrics {
    /// A packet came in.
    pub fn received(&self) {
        self.packets_received.fetch_add(1, Ordering::Relaxed);
    }

    /// A packet went out.
    pub fn sent(&self, n: u64) {
        self.packets_sent.fetch_add(n, Ordering::Relaxed);
    }

    /// A connection was accepted.
    pub fn connection_accepted(&self) {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A request completed after `elapsed`.
    pub fn request_done(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_total_us.fetch_add(us, Ordering::Relaxed);
        self.latency_min_us.fetch_min(us, Ordering::Relaxed);
        self.latency_max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// Packets received so far.
    pub fn packets_received(&self) -> u64 {
        self.packets_received.load(Ordering::Relaxed)
    }

    /// Packets sent so far.
    pub fn packets_sent(&self) -> u64 {
        self.packets_sent.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connections_total(&self) -> u64 {
        self.connections_total.load(Ordering::Relaxed)
    }

    /// Latency figures.
    pub fn latency(&self) -> LatencySummary {
        let count = self.latency_count.load(Ordering::Relaxed);
        if count == 0 {
            return LatencySummary {
                min_ms: 0.0,
                avg_ms: 0.0,
                max_ms: 0.0,
                count,
            };
        }
        let total = self.latency_total_us.load(Ordering::Relaxed) as f64;
        LatencySummary {
            min_ms: self.latency_min_us.load(Ordering::Relaxed) as f64 / 1000.0,
            avg_ms: total / count as f64 / 1000.0,
            max_ms: self.latency_max_us.load(Ordering::Relaxed) as f64 / 1000.0,
            count,
        }
    }

    /// Forget the latency figures and packet counts (`srst`).
    pub fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency_count.store(0, Ordering::Relaxed);
        self.latency_total_us.store(0, Ordering::Relaxed);
        self.latency_min_us.store(u64::MAX, Ordering::Relaxed);
        self.latency_max_us.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_summary() {
        let m = Metrics::default();
        assert_eq!(m.latency().count, 0);
        m.request_done(Duration::from_millis(2));
        m.request_done(Duration::from_millis(4));
        let l = m.latency();
        assert_eq!(l.count, 2);
        assert_eq!(l.min_ms, 2.0);
        assert_eq!(l.max_ms, 4.0);
        assert_eq!(l.avg_ms, 3.0);
    }
}
