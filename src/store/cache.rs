//! The last good shared configuration and secrets of an etcd store, kept
//! in `state_dir/store/last-good.json` (0600) beside the PEM copies, so a
//! node restarted while etcd is unreachable starts with what it ran
//! before instead of not at all.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::admin::persist::{private_dir, write_atomic};

/// What the cache holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cached {
    /// The store prefix it came from (a cache of another prefix is not used).
    pub prefix: String,
    /// The configuration key's mod_revision.
    pub revision: i64,
    /// The shared configuration (TOML, PEM keys as the store names them).
    pub config: String,
    /// The sticky-cookie secret, hex.
    pub sticky: String,
    /// The TLS ticket keys, text form.
    pub tickets: String,
}

/// The cache file of one node.
#[derive(Debug, Clone)]
pub struct Cache {
    path: PathBuf,
}

impl Cache {
    /// The cache under `state_dir`.
    pub fn new(state_dir: &Path) -> Cache {
        Cache {
            path: state_dir.join("store").join("last-good.json"),
        }
    }

    /// The cached state for `prefix`, if there is one and it is readable.
    pub fn load(&self, prefix: &str) -> Option<Cached> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        match serde_json::from_str::<Cached>(&text) {
            Ok(c) if c.prefix == prefix => Some(c),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), "unreadable store cache ignored: {e}");
                None
            }
        }
    }

    /// Replaces the cache durably.
    pub fn save(&self, cached: &Cached) -> Result<(), StoreError> {
        let local = |source| StoreError::Local {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            private_dir(dir).map_err(local)?;
        }
        let text =
            serde_json::to_vec_pretty(cached).map_err(|e| local(std::io::Error::other(e)))?;
        write_atomic(&self.path, &text, 0o600).map_err(local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_cache_loads_for_its_prefix_only() {
        let dir = std::env::temp_dir().join(format!("stgw-store-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = Cache::new(&dir);
        assert!(cache.load("/stgw/").is_none());
        let cached = Cached {
            prefix: "/stgw/".into(),
            revision: 7,
            config: "[[instance]]\nid = \"ins-1\"\naddress = \"10.0.0.1\"\n".into(),
            sticky: "00ff".into(),
            tickets: "keys".into(),
        };
        cache.save(&cached).unwrap();
        assert_eq!(cache.load("/stgw/"), Some(cached));
        assert!(cache.load("/other/").is_none());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("store/last-good.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
