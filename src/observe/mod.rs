//! What operators see: the access log, Prometheus metrics and the status
//! page.
//!
//! * [`access_log`]: one record per request, queued to a writer thread
//!   (never slowing the request), `json` or `combined`, reopened on SIGUSR1.
//! * [`metrics`]: the families behind `/metrics`, with handles resolved per
//!   rule and target when a snapshot is compiled.
//! * [`exchange`]: follows a request from its head to the end of its
//!   answer and feeds both.
//! * [`status`]: `/status` (HTML) and `/status.json`.
//! * [`admin`]: the admin listener's handlers for those paths.
//!
//! The process-wide [`Observer`] lives in the runtime's shared state, so
//! counters and the log writer outlive every configuration swap.

pub(crate) mod access_log;
pub(crate) mod admin;
pub(crate) mod connections;
pub(crate) mod exchange;
pub(crate) mod metrics;
pub(crate) mod record;
pub(crate) mod status;

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;

pub(crate) use access_log::{AccessLog, AccessLogError};
pub(crate) use connections::{ConnCounters, Refusal};
pub(crate) use exchange::{Finish, RequestTrace, RouteTrace};
pub(crate) use metrics::{Metrics, RouteLabels, RouteStats, Source, TargetStats};

use metrics::ListenerLabels;

/// The process's metrics and access log.
#[derive(Debug)]
pub struct Observer {
    /// Every metric family.
    pub metrics: Metrics,
    /// The access log writer.
    pub log: Arc<AccessLog>,
}

impl Default for Observer {
    fn default() -> Self {
        Observer::new()
    }
}

impl Observer {
    /// Metrics registered, access log off.
    pub fn new() -> Observer {
        let metrics = Metrics::new();
        let (written, dropped, errors) = metrics.log_counters();
        let log = Arc::new(AccessLog::new(access_log::Counters {
            written,
            dropped,
            errors,
        }));
        Observer { metrics, log }
    }

    /// The handles every request of a listener may need.
    pub fn listener(&self, lb: &str, listener: &str) -> Arc<ListenerObserve> {
        let labels = ListenerLabels {
            lb: lb.to_owned(),
            listener: listener.to_owned(),
        };
        Arc::new(ListenerObserve {
            unrouted: Arc::new(self.metrics.route(&route_labels(lb, listener, "", ""))),
            limited: self.metrics.limited(&labels),
            log: self.log.clone(),
        })
    }

    /// The counters of requests whose host selected `domain` but no rule.
    pub fn domain(&self, lb: &str, listener: &str, domain: &str) -> Arc<RouteStats> {
        Arc::new(self.metrics.route(&route_labels(lb, listener, domain, "")))
    }

    /// The counters of a rule's requests.
    pub fn rule(&self, lb: &str, listener: &str, domain: &str, rule: &str) -> Arc<RouteStats> {
        Arc::new(
            self.metrics
                .route(&route_labels(lb, listener, domain, rule)),
        )
    }

    /// The counters of one target of a rule.
    pub fn target(
        &self,
        lb: &str,
        listener: &str,
        domain: &str,
        rule: &str,
        addr: SocketAddr,
    ) -> Arc<TargetStats> {
        Arc::new(
            self.metrics
                .target(&route_labels(lb, listener, domain, rule), addr),
        )
    }
}

fn route_labels(lb: &str, listener: &str, domain: &str, rule: &str) -> RouteLabels {
    RouteLabels {
        lb: lb.to_owned(),
        listener: listener.to_owned(),
        domain: domain.to_owned(),
        rule: rule.to_owned(),
    }
}

/// What one listener's requests count into besides their route.
#[derive(Debug)]
pub struct ListenerObserve {
    /// Requests that matched no domain (`domain=""`, `rule=""`), and
    /// answers given before a request was parsed.
    pub unrouted: Arc<RouteStats>,
    /// `limit_req` refusals.
    pub limited: Counter,
    /// The access log.
    pub log: Arc<AccessLog>,
}
