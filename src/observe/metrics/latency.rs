//! A lock-free latency histogram: one atomic counter per bucket and an
//! atomic sum, so observing a request is a handful of relaxed atomic adds
//! (prometheus-client's own histogram takes a mutex per observation).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bounds of the buckets, in seconds (the last bucket is +Inf).
pub(crate) const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// The same bounds in microseconds, for the hot path (no float maths).
const BOUNDS_MICROS: [u64; 14] = [
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    30_000_000,
    60_000_000,
    120_000_000,
];

/// A histogram of durations, cheap to clone (shared counters).
#[derive(Debug, Clone, Default)]
pub(crate) struct Latency(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// Non-cumulative counts; the last one is the +Inf bucket.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Latency {
    /// Counts one duration.
    pub(crate) fn observe(&self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_MICROS.partition_point(|&b| b < micros);
        self.0.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.0.count.fetch_add(1, Ordering::Relaxed);
        self.0.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut buckets = [(0.0, 0u64); BUCKETS.len() + 1];
        for (i, slot) in buckets.iter_mut().enumerate() {
            let bound = BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
            *slot = (bound, self.0.buckets[i].load(Ordering::Relaxed));
        }
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.0.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_lands_in_the_first_bucket_whose_bound_it_does_not_exceed() {
        let h = Latency::default();
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(7));
        h.observe(Duration::from_secs(500));
        assert_eq!(h.0.buckets[0].load(Ordering::Relaxed), 1);
        assert_eq!(h.0.buckets[1].load(Ordering::Relaxed), 1);
        assert_eq!(h.0.buckets[BUCKETS.len()].load(Ordering::Relaxed), 1);
        assert_eq!(h.0.count.load(Ordering::Relaxed), 3);
    }
}
