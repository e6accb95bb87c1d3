//! Metrics read from live state at scrape time: connections, health,
//! weights, all-dead-all-alive. Nothing is counted for them on the data
//! path, and a removed listener or target simply stops being reported.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::listener::ListenerSlot;
use crate::observe::connections::Refusal;
use crate::runtime::snapshot::{ListenerRuntime, Snapshot};
use crate::store::StoreSummary;

/// What a scrape reads: the serving snapshot, the bound listeners and the
/// configuration store's state.
#[derive(Debug)]
pub struct Live {
    snapshot: Option<Arc<Snapshot>>,
    slots: Vec<Arc<ListenerSlot>>,
    store: Option<StoreSummary>,
}

impl Live {
    /// The live state of a runtime.
    pub fn new(
        snapshot: Arc<Snapshot>,
        slots: Vec<Arc<ListenerSlot>>,
        store: StoreSummary,
    ) -> Live {
        Live {
            snapshot: Some(snapshot),
            slots,
            store: Some(store),
        }
    }

    /// Nothing live (unit tests).
    pub fn empty() -> Live {
        Live {
            snapshot: None,
            slots: Vec::new(),
            store: None,
        }
    }

    fn listeners(&self) -> impl Iterator<Item = &Arc<ListenerRuntime>> {
        self.snapshot.iter().flat_map(|s| s.listeners.iter())
    }
}

type Labels<'a, const N: usize> = [(&'static str, &'a str); N];

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let slots: Vec<_> = self
            .slots
            .iter()
            .map(|s| (s, s.runtime.load_full()))
            .collect();
        let listener_labels =
            |rt: &ListenerRuntime| -> (Arc<str>, Arc<str>) { (rt.lb_id.clone(), rt.id.clone()) };

        let mut m = encoder.encode_descriptor(
            "stgw_connections_active",
            "Client connections open now, per listener",
            None,
            MetricType::Gauge,
        )?;
        for (slot, rt) in &slots {
            let (lb, id) = listener_labels(rt);
            let labels: Labels<2> = [("lb", &lb), ("listener", &id)];
            let open = slot.connections.load(Ordering::Relaxed) as u64;
            m.encode_family(&labels)?.encode_gauge(&open)?;
        }

        let mut m = encoder.encode_descriptor(
            "stgw_connections",
            "Client connections admitted, per listener",
            None,
            MetricType::Counter,
        )?;
        for (slot, rt) in &slots {
            let (lb, id) = listener_labels(rt);
            let labels: Labels<2> = [("lb", &lb), ("listener", &id)];
            let n = slot.counters.accepted_total();
            m.encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
        }

        let mut m = encoder.encode_descriptor(
            "stgw_connections_refused",
            "Client connections closed before any request, per listener and reason",
            None,
            MetricType::Counter,
        )?;
        for (slot, rt) in &slots {
            let (lb, id) = listener_labels(rt);
            for why in Refusal::ALL {
                let labels: Labels<3> = [("lb", &lb), ("listener", &id), ("reason", why.as_str())];
                let n = slot.counters.refused_total(why);
                m.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }

        self.encode_rules(&mut encoder)?;
        self.encode_active(&mut encoder)?;
        self.encode_store(&mut encoder)
    }
}

impl Live {
    /// Per rule and target: health, weight, all-dead-all-alive, and an
    /// info series naming each rule's URL.
    fn encode_rules(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut rules = Vec::new();
        for l in self.listeners() {
            for (domain, domain_rules) in l.routes.domains_with_rules() {
                for rule in domain_rules {
                    rules.push((l, domain, rule));
                }
            }
        }
        let mut m = encoder.encode_descriptor(
            "stgw_rule_info",
            "Every URL rule, with its URL as configured (always 1)",
            None,
            MetricType::Gauge,
        )?;
        for (l, d, r) in &rules {
            let labels: Labels<5> = [
                ("lb", &l.lb_id),
                ("listener", &l.id),
                ("domain", &d.name),
                ("rule", &r.id),
                ("url", &r.url),
            ];
            m.encode_family(&labels)?.encode_gauge(&1u32)?;
        }
        let mut m = encoder.encode_descriptor(
            "stgw_all_dead_active",
            "1 while every weight > 0 target of the rule is unhealthy and all of them get traffic (all-dead-all-alive)",
            None,
            MetricType::Gauge,
        )?;
        for (l, d, r) in &rules {
            let labels: Labels<4> = [
                ("lb", &l.lb_id),
                ("listener", &l.id),
                ("domain", &d.name),
                ("rule", &r.id),
            ];
            let dead = u32::from(r.upstream.balancer.all_dead());
            m.encode_family(&labels)?.encode_gauge(&dead)?;
        }
        for (name, help, healthy) in [
            (
                "stgw_target_healthy",
                "1 when the target may be chosen (health Alive or not yet probed), 0 when Dead",
                true,
            ),
            (
                "stgw_target_weight",
                "The target's weight in the rule",
                false,
            ),
        ] {
            let mut m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (l, d, r) in &rules {
                let candidates = r.upstream.balancer.candidates();
                for (t, c) in r.upstream.targets.iter().zip(candidates) {
                    let addr = t.addr.to_string();
                    let labels: Labels<5> = [
                        ("lb", &l.lb_id),
                        ("listener", &l.id),
                        ("domain", &d.name),
                        ("rule", &r.id),
                        ("target", &addr),
                    ];
                    let value = if healthy {
                        u32::from(t.health.usable())
                    } else {
                        c.weight
                    };
                    m.encode_family(&labels)?.encode_gauge(&value)?;
                }
            }
        }
        Ok(())
    }

    /// The configuration store: reachable, the revision running here, and
    /// whether a newer revision could not be applied.
    fn encode_store(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let labels: Labels<1> = [("kind", store.kind.as_str())];
        let gauges: [(&str, &str, i64); 3] = [
            (
                "stgw_store_healthy",
                "1 while the configuration store answers; 0 while this node serves its last good configuration without it",
                i64::from(store.healthy),
            ),
            (
                "stgw_store_revision",
                "The store revision of the shared configuration this node runs (0 for the file store)",
                store.revision,
            ),
            (
                "stgw_store_apply_failing",
                "1 when the store's latest configuration could not be applied on this node (it runs an older revision)",
                i64::from(store.apply_error.is_some()),
            ),
        ];
        for (name, help, value) in gauges {
            let mut m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            m.encode_family(&labels)?.encode_gauge(&value)?;
        }
        Ok(())
    }

    /// Requests in flight per target address (counted across rules).
    fn encode_active(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut active: BTreeMap<SocketAddr, u32> = BTreeMap::new();
        for l in self.listeners() {
            for r in l.routes.rules() {
                for t in &r.upstream.targets {
                    active.insert(t.addr, t.load.active());
                }
            }
        }
        let mut m = encoder.encode_descriptor(
            "stgw_target_active_requests",
            "Requests in flight to the target address, across rules",
            None,
            MetricType::Gauge,
        )?;
        for (addr, n) in active {
            let addr = addr.to_string();
            let labels: Labels<1> = [("target", &addr)];
            m.encode_family(&labels)?.encode_gauge(&n)?;
        }
        Ok(())
    }
}
