//! Who may open a connection: the block list, the connection caps, and the
//! PROXY protocol's trust rule.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::config::{IpNet, ListenerConfig};

/// A listener's admission rules (part of its compiled configuration).
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// Refused at accept.
    pub blocked: Vec<IpNet>,
    /// Senders whose PROXY header and X-Forwarded-For are believed.
    pub trusted: Vec<IpNet>,
    /// Expect a PROXY header (from trusted senders only).
    pub proxy_protocol: bool,
    /// Open connections on the listener; 0 = unlimited.
    pub max_connections: u32,
    /// Open connections per client address; 0 = unlimited.
    pub max_per_ip: u32,
}

impl Admission {
    /// The rules of a listener.
    pub fn of(l: &ListenerConfig) -> Admission {
        Admission {
            blocked: l.blocked_ips.clone(),
            trusted: l.trusted_proxies.clone(),
            proxy_protocol: l.proxy_protocol,
            max_connections: l.max_connections,
            max_per_ip: l.max_connections_per_ip,
        }
    }

    /// Whether `ip` is on the block list.
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        self.blocked.iter().any(|n| n.contains(ip))
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }

    /// Whether a connection may be refused or counted as it is accepted
    /// (a block list, a cap, PROXY headers from trusted senders only). Such
    /// a listener must see every connection as it arrives, silent or not.
    pub fn acts_at_accept(&self) -> bool {
        !self.blocked.is_empty()
            || self.max_connections > 0
            || self.max_per_ip > 0
            || self.proxy_protocol
    }
}

/// Open connections per client address of one listener (kept in the
/// listener's slot, so it survives reloads).
#[derive(Debug, Default)]
pub struct PerIp {
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One admitted connection, counted until dropped.
#[derive(Debug)]
pub struct PerIpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    /// Counts a connection from `ip` unless it already has `max` open.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, max: u32) -> Option<PerIpSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(PerIpSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for PerIpSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_ip_cap_refuses_only_the_greedy_address() {
        let t = Arc::new(PerIp::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = t.admit(a, 2).unwrap();
        let _second = t.admit(a, 2).unwrap();
        assert!(t.admit(a, 2).is_none());
        assert!(t.admit(b, 2).is_some());
        drop(first);
        assert!(t.admit(a, 2).is_some());
    }
}
