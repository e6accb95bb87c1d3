//! Shared state that outlives one configuration snapshot.
//!
//! Compiling a snapshot asks a [`Registry`] for the object that belongs to a
//! key (a target address, a (rule, target) pair…). While any snapshot holds
//! that object, every later compile gets the same one; once no snapshot
//! holds it, it is dropped and the key starts afresh. Keys whose object
//! is gone are forgotten as the map grows, so a registry stays the size
//! of what the running snapshots hold, however many rules and targets
//! came and went.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};

/// Below this many keys, dead ones are left in place.
const PRUNE_FLOOR: usize = 64;

/// Weakly held objects by key.
#[derive(Debug)]
pub struct Registry<K, V> {
    map: Mutex<Entries<K, V>>,
}

#[derive(Debug)]
struct Entries<K, V> {
    by_key: HashMap<K, Weak<V>>,
    /// Size at which the dead keys are next forgotten: twice the live
    /// ones after the last pruning, so pruning costs O(1) per insert.
    prune_at: usize,
}

impl<K, V> Default for Registry<K, V> {
    fn default() -> Self {
        Registry {
            map: Mutex::new(Entries {
                by_key: HashMap::new(),
                prune_at: PRUNE_FLOOR,
            }),
        }
    }
}

impl<K, V> Entries<K, V> {
    /// Forgets the keys whose object is gone.
    fn prune(&mut self) {
        self.by_key.retain(|_, v| v.strong_count() > 0);
        self.prune_at = (self.by_key.len() * 2).max(PRUNE_FLOOR);
    }
}

impl<K: Eq + Hash, V> Registry<K, V> {
    /// The live object for `key`, or a new one from `make`.
    pub fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> Arc<V> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = map.by_key.get(&key).and_then(Weak::upgrade) {
            return v;
        }
        let v = Arc::new(make());
        map.by_key.insert(key, Arc::downgrade(&v));
        if map.by_key.len() >= map.prune_at {
            map.prune();
        }
        v
    }

    /// The live object for `key`, if any.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.by_key.get(key).and_then(Weak::upgrade)
    }

    /// Every live object; forgets the dead keys.
    pub fn live(&self) -> Vec<Arc<V>> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.prune();
        map.by_key.values().filter_map(Weak::upgrade).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_shared_while_held_and_fresh_after() {
        let r: Registry<&str, u32> = Registry::default();
        let a = r.get_or_insert_with("k", || 1);
        let b = r.get_or_insert_with("k", || 2);
        assert!(Arc::ptr_eq(&a, &b));
        drop((a, b));
        let c = r.get_or_insert_with("k", || 3);
        assert_eq!(*c, 3);
        assert_eq!(r.live().len(), 1);
        drop(c);
        assert!(r.live().is_empty());
    }

    #[test]
    fn keys_of_dropped_objects_do_not_pile_up() {
        let r: Registry<u32, u32> = Registry::default();
        let kept: Vec<_> = (0..10).map(|k| r.get_or_insert_with(k, || k)).collect();
        // A rule created and deleted 10,000 times, each time with a new id.
        for k in 10..10_010 {
            drop(r.get_or_insert_with(k, || k));
        }
        let keys = r.map.lock().map(|m| m.by_key.len()).unwrap_or(usize::MAX);
        assert!(
            keys <= 2 * PRUNE_FLOOR,
            "{keys} keys kept for 10 live objects"
        );
        assert!(kept.iter().all(|v| r.get(v).is_some()));
    }
}
