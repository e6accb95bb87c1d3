//! Shared state that outlives one configuration snapshot.
//!
//! Compiling a snapshot asks a [`Registry`] for the object that belongs to a
//! key (a target address, a (rule, target) pair…). While any snapshot holds
//! that object, every later compile gets the same one; once no snapshot
//! holds it, it is dropped and the key starts afresh.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};

/// Weakly held objects by key.
#[derive(Debug)]
pub struct Registry<K, V> {
    map: Mutex<HashMap<K, Weak<V>>>,
}

impl<K, V> Default for Registry<K, V> {
    fn default() -> Self {
        Registry {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V> Registry<K, V> {
    /// The live object for `key`, or a new one from `make`.
    pub fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> Arc<V> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = map.get(&key).and_then(Weak::upgrade) {
            return v;
        }
        let v = Arc::new(make());
        map.insert(key, Arc::downgrade(&v));
        v
    }

    /// The live object for `key`, if any.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).and_then(Weak::upgrade)
    }

    /// Every live object; forgets the dead keys.
    pub fn live(&self) -> Vec<Arc<V>> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, v| v.strong_count() > 0);
        map.values().filter_map(Weak::upgrade).collect()
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
}
