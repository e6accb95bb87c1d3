//! What the configuration store looks like from this node: reachable or
//! not, and which revision of the shared configuration it runs. Read by
//! metrics and the status page; written by the store's backend.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use serde::Serialize;

use crate::config::StoreKind;

/// The store's health as this node sees it.
#[derive(Debug)]
pub struct StoreStatus {
    /// The store this process was started with (`[store]` is read once).
    kind: StoreKind,
    healthy: AtomicBool,
    revision: AtomicI64,
    apply_error: Mutex<Option<String>>,
}

impl StoreStatus {
    /// A store of `kind`, healthy at revision 0 (the file store never
    /// changes that).
    pub fn new(kind: StoreKind) -> StoreStatus {
        StoreStatus {
            kind,
            healthy: AtomicBool::new(true),
            revision: AtomicI64::new(0),
            apply_error: Mutex::new(None),
        }
    }

    /// Whether the store answered the last time it was asked (always true
    /// for the file store). While false the node serves its last good
    /// configuration.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// The store revision of the shared configuration this node runs
    /// (etcd's mod_revision of the configuration key; 0 for the file store
    /// or an empty etcd store).
    pub fn revision(&self) -> i64 {
        self.revision.load(Ordering::Relaxed)
    }

    /// Why the store's latest configuration could not be applied on this
    /// node (it then runs an older revision), if it could not.
    pub fn apply_error(&self) -> Option<String> {
        self.apply_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records reachability; returns the previous value.
    pub fn set_healthy(&self, healthy: bool) -> bool {
        self.healthy.swap(healthy, Ordering::Relaxed)
    }

    /// Records the revision now running, clearing any apply error.
    pub fn set_revision(&self, revision: i64) {
        self.revision.store(revision, Ordering::Relaxed);
        *self.apply_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Records that the store's latest configuration could not be applied.
    pub fn set_apply_error(&self, error: String) {
        *self.apply_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }

    /// A consistent-enough copy for one scrape or page.
    pub fn summary(&self) -> StoreSummary {
        StoreSummary {
            kind: self.kind,
            healthy: self.healthy(),
            revision: self.revision(),
            apply_error: self.apply_error(),
        }
    }
}

/// The store as metrics and the status page show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreSummary {
    /// `file` or `etcd`.
    pub kind: StoreKind,
    /// The store answered the last time it was asked; while false the node
    /// serves its last good configuration and refuses API writes.
    pub healthy: bool,
    /// The store revision of the shared configuration running here (0 for
    /// the file store).
    pub revision: i64,
    /// Why the store's latest revision could not be applied here, if so.
    pub apply_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_follows_reachability_revision_and_apply_errors() {
        let file = StoreStatus::new(StoreKind::File);
        assert_eq!(
            file.summary(),
            StoreSummary {
                kind: StoreKind::File,
                healthy: true,
                revision: 0,
                apply_error: None
            }
        );
        let status = StoreStatus::new(StoreKind::Etcd);
        assert!(status.set_healthy(false), "was healthy");
        status.set_apply_error("revision 7: port busy".into());
        let lost = status.summary();
        assert_eq!((lost.kind, lost.healthy), (StoreKind::Etcd, false));
        assert_eq!(lost.apply_error.as_deref(), Some("revision 7: port busy"));
        status.set_revision(8);
        assert!(!status.set_healthy(true), "was unhealthy");
        let back = status.summary();
        assert_eq!(
            (back.healthy, back.revision, back.apply_error),
            (true, 8, None)
        );
    }
}
