//! Prometheus metrics: the families, and the handles the data path holds.
//!
//! Label values come from the configuration only (ids and names as
//! configured; an unmatched host is `domain=""`). Every handle a request
//! touches is resolved when a snapshot is compiled ([`Metrics::route`],
//! [`Metrics::target`]), so counting a request is a few atomic adds on
//! counters it already holds: no label lookup, no allocation. Counters
//! with the same labels are the same counters in every snapshot, so a
//! reload never resets them.
//!
//! What is read from live state rather than counted (health, weights,
//! open connections…) is encoded at scrape time by [`live`].

pub(crate) mod latency;
pub(crate) mod live;
pub(crate) mod recent;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry as Prometheus;

pub(crate) use latency::Latency;
pub(crate) use recent::{Recent, RecentSummary};

use crate::runtime::registry::Registry;

/// Status classes, in label order.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Index of a status's class in [`CLASSES`] (600+ counts as 5xx).
fn class(status: u16) -> usize {
    usize::from((status / 100).clamp(1, 5) - 1)
}

/// Who answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A target's answer, passed through.
    Target,
    /// stgw's own answer (redirects, 404, 413, 502, 503, 504…).
    Proxy,
}

impl Source {
    /// The `source` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Target => "target",
            Source::Proxy => "proxy",
        }
    }

    fn index(self) -> usize {
        match self {
            Source::Target => 0,
            Source::Proxy => 1,
        }
    }
}

/// Where a request was routed: the configuration's ids and names.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Load balancer id.
    pub lb: String,
    /// Listener id.
    pub listener: String,
    /// The matched domain as configured; `""` when none matched.
    pub domain: String,
    /// The matched rule's id; `""` when none matched.
    pub rule: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    #[prometheus(flatten)]
    route: RouteLabels,
    source: &'static str,
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    #[prometheus(flatten)]
    route: RouteLabels,
    source: &'static str,
}

/// A target of a rule.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TargetLabels {
    #[prometheus(flatten)]
    route: RouteLabels,
    /// `ip:port`.
    target: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetCodeLabels {
    #[prometheus(flatten)]
    target: TargetLabels,
    code: &'static str,
}

/// A listener.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    /// Load balancer id.
    pub lb: String,
    /// Listener id.
    pub listener: String,
}

/// The process's metric families.
#[derive(Debug)]
pub struct Metrics {
    registry: Prometheus,
    requests: Family<RequestLabels, Counter>,
    duration: Family<SourceLabels, Latency>,
    received: Family<RouteLabels, Counter>,
    sent: Family<RouteLabels, Counter>,
    upstream_responses: Family<TargetCodeLabels, Counter>,
    upstream_latency: Family<TargetLabels, Latency>,
    upstream_timeouts: Family<TargetLabels, Counter>,
    upstream_failures: Family<TargetLabels, Counter>,
    limited: Family<ListenerLabels, Counter>,
    log_written: Counter,
    log_dropped: Counter,
    log_errors: Counter,
    recent: Registry<TargetLabels, Recent>,
    issued: Mutex<Issued>,
}

/// The label sets handed out, each with the compile that last asked for
/// it, so that the series of removed rules, targets and listeners can be
/// dropped ([`Metrics::forget_before`]).
#[derive(Debug, Default)]
struct Issued {
    generation: u64,
    /// With the handles issued, so that a compile that asks for a route
    /// again (every unchanged rule, at every API write) gets them with one
    /// lookup instead of one per series.
    routes: HashMap<RouteLabels, Series<RouteStats>>,
    /// With the handles issued, as `routes`.
    targets: HashMap<TargetLabels, Series<TargetStats>>,
    listeners: HashMap<ListenerLabels, u64>,
}

/// The handles of a route's or target's series and the compile that last
/// asked for them.
#[derive(Debug)]
struct Series<S> {
    generation: u64,
    stats: S,
}

/// What [`Issued::older`] compares: the compile that last asked.
trait LastAsked {
    fn last_asked(&self) -> u64;
}

impl<S> LastAsked for Series<S> {
    fn last_asked(&self) -> u64 {
        self.generation
    }
}

impl LastAsked for u64 {
    fn last_asked(&self) -> u64 {
        *self
    }
}

impl Issued {
    /// Takes out the keys of `map` last asked for before `generation`.
    fn older<K: Eq + std::hash::Hash, V: LastAsked>(
        map: &mut HashMap<K, V>,
        generation: u64,
    ) -> Vec<K> {
        map.extract_if(|_, v| v.last_asked() < generation)
            .map(|(k, _)| k)
            .collect()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every family registered, none with a series yet.
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Prometheus::default(),
            requests: Family::default(),
            duration: Family::default(),
            received: Family::default(),
            sent: Family::default(),
            upstream_responses: Family::default(),
            upstream_latency: Family::default(),
            upstream_timeouts: Family::default(),
            upstream_failures: Family::default(),
            limited: Family::default(),
            log_written: Counter::default(),
            log_dropped: Counter::default(),
            log_errors: Counter::default(),
            recent: Registry::default(),
            issued: Mutex::default(),
        };
        let mut r = Prometheus::default();
        r.register(
            "stgw_http_requests",
            "Requests answered, by route, by who answered (target or proxy) and status class",
            m.requests.clone(),
        );
        r.register(
            "stgw_http_request_duration_seconds",
            "From the request's first byte to the answer's last, by route and who answered",
            m.duration.clone(),
        );
        r.register(
            "stgw_bytes_received",
            "Request bytes received (head and body), by route",
            m.received.clone(),
        );
        r.register(
            "stgw_bytes_sent",
            "Response bytes sent (head and body), by route",
            m.sent.clone(),
        );
        r.register(
            "stgw_upstream_responses",
            "Answers received from targets, by target and status class",
            m.upstream_responses.clone(),
        );
        r.register(
            "stgw_upstream_response_seconds",
            "From choosing a target to the end of its answer (upstream_response_time)",
            m.upstream_latency.clone(),
        );
        r.register(
            "stgw_upstream_timeouts",
            "Targets that did not connect or answer in time (proxy_connect_timeout, proxy_read_timeout, proxy_send_timeout)",
            m.upstream_timeouts.clone(),
        );
        r.register(
            "stgw_upstream_failures",
            "Targets that refused, reset or answered invalidly before a response",
            m.upstream_failures.clone(),
        );
        r.register(
            "stgw_limit_req_rejected",
            "Requests refused by limit_req (answered 503)",
            m.limited.clone(),
        );
        r.register(
            "stgw_access_log_records",
            "Access log records written",
            m.log_written.clone(),
        );
        r.register(
            "stgw_access_log_dropped",
            "Access log records dropped because the writer fell behind (its queue was full)",
            m.log_dropped.clone(),
        );
        r.register(
            "stgw_access_log_write_errors",
            "Failed writes or reopens of the access log",
            m.log_errors.clone(),
        );
        Metrics { registry: r, ..m }
    }

    /// Starts a new compile: the label sets it asks for are kept by
    /// [`forget_before`](Self::forget_before) with the returned generation.
    pub fn begin_compile(&self) -> u64 {
        let mut issued = self.issued();
        issued.generation += 1;
        issued.generation
    }

    /// Drops the series of every route, target and listener that no
    /// compile since `generation` asked for: what the running snapshot (the
    /// one compiled at `generation`) no longer has. Without it, each rule
    /// or listener ever created (each with new ids through the API) kept
    /// its series, and /metrics and memory grew with every change.
    pub fn forget_before(&self, generation: u64) {
        let mut issued = self.issued();
        for route in Issued::older(&mut issued.routes, generation) {
            self.forget_route(route);
        }
        for target in Issued::older(&mut issued.targets, generation) {
            self.forget_target(target);
        }
        for listener in Issued::older(&mut issued.listeners, generation) {
            self.limited.remove(&listener);
        }
    }

    fn forget_route(&self, route: RouteLabels) {
        for source in [Source::Target, Source::Proxy].map(Source::as_str) {
            for code in CLASSES {
                self.requests.remove(&RequestLabels {
                    route: route.clone(),
                    source,
                    code,
                });
            }
            self.duration.remove(&SourceLabels {
                route: route.clone(),
                source,
            });
        }
        self.received.remove(&route);
        self.sent.remove(&route);
    }

    fn forget_target(&self, target: TargetLabels) {
        for code in CLASSES {
            self.upstream_responses.remove(&TargetCodeLabels {
                target: target.clone(),
                code,
            });
        }
        self.upstream_latency.remove(&target);
        self.upstream_timeouts.remove(&target);
        self.upstream_failures.remove(&target);
    }

    fn issued(&self) -> std::sync::MutexGuard<'_, Issued> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes that the current compile uses `labels`.
    fn issue<K: Eq + std::hash::Hash>(
        pick: impl FnOnce(&mut Issued) -> &mut HashMap<K, u64>,
        issued: &mut Issued,
        labels: K,
    ) {
        let generation = issued.generation;
        pick(issued).insert(labels, generation);
    }

    /// The handles of one route (a rule, or `rule=""` / `domain=""` for
    /// requests that matched no rule or no domain).
    pub fn route(&self, labels: &RouteLabels) -> RouteStats {
        let mut issued = self.issued();
        let generation = issued.generation;
        if let Some(known) = issued.routes.get_mut(labels) {
            // Its series exist until `forget_before` takes it out of here.
            known.generation = generation;
            return known.stats.clone();
        }
        let requests = [Source::Target, Source::Proxy].map(|source| {
            CLASSES.map(|code| {
                self.requests
                    .get_or_create(&RequestLabels {
                        route: labels.clone(),
                        source: source.as_str(),
                        code,
                    })
                    .clone()
            })
        });
        let duration = [Source::Target, Source::Proxy].map(|source| {
            self.duration
                .get_or_create(&SourceLabels {
                    route: labels.clone(),
                    source: source.as_str(),
                })
                .clone()
        });
        let stats = RouteStats {
            requests,
            duration,
            received: self.received.get_or_create(labels).clone(),
            sent: self.sent.get_or_create(labels).clone(),
        };
        let series = Series {
            generation,
            stats: stats.clone(),
        };
        issued.routes.insert(labels.clone(), series);
        stats
    }

    /// The handles of one target of a rule. Its recent-traffic window is
    /// shared by every snapshot that has this target under these labels.
    pub fn target(&self, route: &RouteLabels, addr: SocketAddr) -> TargetStats {
        let labels = TargetLabels {
            route: route.clone(),
            target: addr.to_string(),
        };
        let mut issued = self.issued();
        let generation = issued.generation;
        if let Some(known) = issued.targets.get_mut(&labels) {
            known.generation = generation;
            return known.stats.clone();
        }
        let responses = CLASSES.map(|code| {
            self.upstream_responses
                .get_or_create(&TargetCodeLabels {
                    target: labels.clone(),
                    code,
                })
                .clone()
        });
        let stats = TargetStats {
            responses,
            latency: self.upstream_latency.get_or_create(&labels).clone(),
            timeouts: self.upstream_timeouts.get_or_create(&labels).clone(),
            failures: self.upstream_failures.get_or_create(&labels).clone(),
            recent: self
                .recent
                .get_or_insert_with(labels.clone(), Recent::default),
        };
        let series = Series {
            generation,
            stats: stats.clone(),
        };
        issued.targets.insert(labels, series);
        stats
    }

    /// The `limit_req` refusal counter of a listener.
    pub fn limited(&self, labels: &ListenerLabels) -> Counter {
        Metrics::issue(|i| &mut i.listeners, &mut self.issued(), labels.clone());
        self.limited.get_or_create(labels).clone()
    }

    /// Counters of the access log writer: (written, dropped, errors).
    pub fn log_counters(&self) -> (Counter, Counter, Counter) {
        (
            self.log_written.clone(),
            self.log_dropped.clone(),
            self.log_errors.clone(),
        )
    }

    /// The OpenMetrics text of the counted families alone (no live state).
    pub fn encode_counted(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)?;
        Ok(out)
    }

    /// The OpenMetrics text of every family, then of `live` (read now).
    pub fn encode(&self, live: live::Live) -> Result<String, std::fmt::Error> {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::with_capacity(64 * 1024);
        encode_registry(&mut out, &self.registry)?;
        let mut scrape = Prometheus::default();
        scrape.register_collector(Box::new(live));
        encode_registry(&mut out, &scrape)?;
        encode_eof(&mut out)?;
        Ok(out)
    }
}

/// The counters of one route, resolved at compile time. Cloned, it
/// counts into the same series.
#[derive(Debug, Clone)]
pub struct RouteStats {
    requests: [[Counter; 5]; 2],
    duration: [Latency; 2],
    received: Counter,
    sent: Counter,
}

impl RouteStats {
    /// Counts one answered request.
    pub fn record(&self, source: Source, status: u16, took: Duration, received: u64, sent: u64) {
        self.requests[source.index()][class(status)].inc();
        self.duration[source.index()].observe(took);
        self.received.inc_by(received);
        self.sent.inc_by(sent);
    }
}

/// The counters of one target of one rule, resolved at compile time.
/// Cloned, it counts into the same series.
#[derive(Debug, Clone)]
pub struct TargetStats {
    responses: [Counter; 5],
    latency: Latency,
    timeouts: Counter,
    failures: Counter,
    recent: Arc<Recent>,
}

impl TargetStats {
    /// The target answered with `status`; its answer ended after `took`,
    /// and the request at `at` (now).
    pub fn response(&self, status: u16, took: Duration, at: std::time::Instant) {
        self.responses[class(status)].inc();
        self.latency.observe(took);
        self.recent.record(took, at);
    }

    /// The target did not connect or answer in time.
    pub fn timeout(&self) {
        self.timeouts.inc();
    }

    /// The target refused, reset, or answered invalidly.
    pub fn failure(&self) {
        self.failures.inc();
    }

    /// Its recent request rate and latency.
    pub fn recent(&self) -> RecentSummary {
        self.recent.summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(rule: &str) -> RouteLabels {
        RouteLabels {
            lb: "lb-1".into(),
            listener: "lbl-1".into(),
            domain: "a.test".into(),
            rule: rule.into(),
        }
    }

    #[test]
    fn the_same_labels_give_the_same_counters_across_compiles() {
        let m = Metrics::new();
        m.route(&labels("loc-1"))
            .record(Source::Target, 200, Duration::from_millis(3), 10, 20);
        m.route(&labels("loc-1"))
            .record(Source::Proxy, 404, Duration::from_millis(3), 10, 20);
        let text = m.encode(live::Live::empty()).unwrap();
        let line = |source: &str, code: &str| {
            format!(
                "stgw_http_requests_total{{lb=\"lb-1\",listener=\"lbl-1\",domain=\"a.test\",rule=\"loc-1\",source=\"{source}\",code=\"{code}\"}} 1"
            )
        };
        assert!(text.contains(&line("target", "2xx")), "{text}");
        assert!(text.contains(&line("proxy", "4xx")), "{text}");
        assert!(text.contains("stgw_bytes_sent_total{lb=\"lb-1\",listener=\"lbl-1\",domain=\"a.test\",rule=\"loc-1\"} 40"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_route_asked_again_keeps_its_series_and_a_forgotten_one_starts_afresh() {
        let m = Metrics::new();
        let addr: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let count = |m: &Metrics, rule: &str| {
            let text = m.encode_counted().unwrap();
            let prefix = format!(
                "stgw_bytes_sent_total{{lb=\"lb-1\",listener=\"lbl-1\",domain=\"a.test\",rule=\"{rule}\"}} "
            );
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        };
        let first = m.begin_compile();
        m.route(&labels("loc-kept"))
            .record(Source::Target, 200, Duration::ZERO, 0, 5);
        m.route(&labels("loc-gone"))
            .record(Source::Target, 200, Duration::ZERO, 0, 7);
        m.target(&labels("loc-kept"), addr).timeout();
        m.forget_before(first);
        // The next compile asks for the kept rule only.
        let second = m.begin_compile();
        let kept = m.route(&labels("loc-kept"));
        kept.record(Source::Target, 200, Duration::ZERO, 0, 1);
        m.target(&labels("loc-kept"), addr).timeout();
        m.forget_before(second);
        assert_eq!(count(&m, "loc-kept").as_deref(), Some("6"));
        assert_eq!(
            count(&m, "loc-gone"),
            None,
            "a removed rule keeps its series"
        );
        let text = m.encode_counted().unwrap();
        assert!(
            text.contains("stgw_upstream_timeouts_total{lb=\"lb-1\",listener=\"lbl-1\",domain=\"a.test\",rule=\"loc-kept\",target=\"127.0.0.1:9001\"} 2"),
            "{text}"
        );
        // Back after being forgotten: new series, counting from zero, and
        // still exported.
        let third = m.begin_compile();
        m.route(&labels("loc-gone"))
            .record(Source::Target, 200, Duration::ZERO, 0, 3);
        m.route(&labels("loc-kept"));
        m.forget_before(third);
        assert_eq!(count(&m, "loc-gone").as_deref(), Some("3"));
        assert_eq!(count(&m, "loc-kept").as_deref(), Some("6"));
    }

    #[test]
    fn statuses_fall_in_their_class() {
        assert_eq!(CLASSES[class(101)], "1xx");
        assert_eq!(CLASSES[class(302)], "3xx");
        assert_eq!(CLASSES[class(599)], "5xx");
        assert_eq!(CLASSES[class(999)], "5xx");
    }
}
