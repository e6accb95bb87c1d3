//! `limit_req`: a token bucket per client address (the product's anti-CC
//! protection). Excess requests get 503.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept before idle ones are swept.
const SWEEP_AT: usize = 100_000;

/// Request rate limits per client address for one listener.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    capacity: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `rate` requests per second, with `burst` more allowed at once.
    pub fn new(rate: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate.max(1)),
            capacity: f64::from(burst) + 1.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether one more request from `ip` is allowed now (and counts it).
    pub fn allow(&self, ip: IpAddr) -> bool {
        self.allow_at(ip, Instant::now())
    }

    fn allow_at(&self, ip: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= SWEEP_AT {
            let (rate, capacity) = (self.rate, self.capacity);
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < capacity);
        }
        let b = buckets.entry(ip).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        b.tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * self.rate).min(self.capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_the_rate_holds_per_address() {
        let l = RateLimiter::new(10, 4);
        let t = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let allowed = (0..10).filter(|_| l.allow_at(a, t)).count();
        assert_eq!(allowed, 5, "burst 4 + 1");
        assert!(l.allow_at(b, t), "another address has its own bucket");
        assert!(!l.allow_at(a, t + Duration::from_millis(50)));
        assert!(
            l.allow_at(a, t + Duration::from_millis(120)),
            "one token every 100 ms"
        );
    }
}
