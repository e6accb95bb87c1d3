//! The shared configuration: the part of the file every node runs, as a
//! store holds it, and how it is split from and merged into one node's
//! file model.
//!
//! A node's model is its own node-local sections (`[global]`, `[store]`,
//! `[node]`, `[admin]`) plus the shared part ([`SharedConfig`]). In the
//! store, a `[[certificate]]` entry names its PEM contents by store key
//! (`pem/<sha256 of the contents>`); on a node the same entry names a
//! local copy of them in `state_dir/store/pem/` ([`PemDir`]), which is
//! what validation and the TLS code read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;
use crate::admin::persist::{private_dir, write_atomic};
use crate::config::model::{CertificateEntry, ConfigFile, Instance, LoadBalancer};

/// The folder of PEM keys, under the prefix in the store and under
/// `state_dir/store/` on a node.
pub const PEM_FOLDER: &str = "pem";

/// Everything of the file that is not node-local: the certificate store,
/// the instances and the load balancers (the sections of `CONFIG.md`
/// outside `[global]`, `[store]`, `[node]` and `[admin]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedConfig {
    /// The certificate store; `cert`/`key` are PEM store keys.
    #[serde(default, rename = "certificate", skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateEntry>,
    /// Backend servers addressable by id.
    #[serde(default, rename = "instance", skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Instance>,
    /// Load balancer instances.
    #[serde(
        default,
        rename = "load_balancer",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub load_balancers: Vec<LoadBalancer>,
}

impl SharedConfig {
    /// Parses the TOML text a store holds; `key` names it in the error.
    pub fn parse(text: &str, key: &str) -> Result<SharedConfig, StoreError> {
        toml::from_str(text).map_err(|e| StoreError::Corrupt {
            key: key.to_owned(),
            message: e.message().trim().to_owned(),
        })
    }

    /// The TOML text a store holds.
    pub fn to_toml(&self) -> Result<String, StoreError> {
        toml::to_string(self).map_err(|e| StoreError::Corrupt {
            key: "the shared configuration".into(),
            message: e.to_string(),
        })
    }

    /// The PEM store keys its certificate entries name.
    pub fn pem_keys(&self) -> BTreeSet<String> {
        self.certificates
            .iter()
            .flat_map(|c| std::iter::once(&c.cert).chain(c.key.as_ref()))
            .filter(|k| is_pem_key(k))
            .cloned()
            .collect()
    }
}

/// The store key of PEM `contents`: `pem/` and the hex SHA-256 of them, so
/// a key never changes meaning and equal contents are stored once.
pub fn pem_key(contents: &[u8]) -> String {
    let digest = Sha256::digest(contents);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{PEM_FOLDER}/{hex}")
}

/// Whether `key` has the form [`pem_key`] produces.
pub fn is_pem_key(key: &str) -> bool {
    key.strip_prefix(PEM_FOLDER)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

/// The local copies of store-held PEM contents: `state_dir/store/pem/`
/// (folder 0700, files 0600), one `<sha256>.pem` file per key.
#[derive(Debug, Clone)]
pub struct PemDir {
    dir: PathBuf,
}

impl PemDir {
    /// The copies kept under `state_dir` (made absolute, so that the paths
    /// put into a node's model do not depend on the file's folder).
    pub fn new(state_dir: &Path) -> Result<PemDir, StoreError> {
        let dir = state_dir.join("store").join(PEM_FOLDER);
        let dir = std::path::absolute(&dir).map_err(|source| StoreError::Local {
            path: dir.clone(),
            source,
        })?;
        Ok(PemDir { dir })
    }

    /// Where the copy of `key` is (whether or not it exists yet); `None`
    /// when `key` is not a PEM key.
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        let hex = key.strip_prefix(PEM_FOLDER)?.strip_prefix('/')?;
        is_pem_key(key).then(|| self.dir.join(format!("{hex}.pem")))
    }

    /// The key whose copy `path` is, when it is one.
    pub fn key_of(&self, path: &Path) -> Option<String> {
        if path.parent()? != self.dir {
            return None;
        }
        let hex = path.file_name()?.to_str()?.strip_suffix(".pem")?;
        let key = format!("{PEM_FOLDER}/{hex}");
        is_pem_key(&key).then_some(key)
    }

    /// Whether the copy of `key` exists.
    pub fn has(&self, key: &str) -> bool {
        self.path_of(key).is_some_and(|p| p.is_file())
    }

    /// Writes the copy of `key` durably, after checking that `contents`
    /// hash to it (a store value that does not is refused).
    pub fn write(&self, key: &str, contents: &[u8]) -> Result<(), StoreError> {
        let corrupt = |message: &str| StoreError::Corrupt {
            key: key.to_owned(),
            message: message.to_owned(),
        };
        let path = self.path_of(key).ok_or_else(|| corrupt("not a PEM key"))?;
        if pem_key(contents) != key {
            return Err(corrupt("its contents do not hash to its name"));
        }
        let local = |source| StoreError::Local {
            path: path.clone(),
            source,
        };
        if let Some(store_dir) = self.dir.parent() {
            private_dir(store_dir).map_err(local)?;
        }
        private_dir(&self.dir).map_err(local)?;
        write_atomic(&path, contents, 0o600).map_err(local)
    }

    /// Removes the copies of keys not in `keep` (those of configurations
    /// no longer run). Copies that cannot be removed are left.
    pub fn retain(&self, keep: &BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if let Some(key) = self.key_of(&path)
                && !keep.contains(&key)
            {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// Reads the copy of `key`.
    pub fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(key).ok_or_else(|| StoreError::Corrupt {
            key: key.to_owned(),
            message: "not a PEM key".into(),
        })?;
        std::fs::read(&path).map_err(|source| StoreError::Local { path, source })
    }
}

/// The shared part of a node's model, ready for the store.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// The shared configuration, certificate entries naming PEM keys.
    pub shared: SharedConfig,
    /// Contents read from certificate files that were not local copies of
    /// store keys (new uploads, or every certificate of an imported file).
    pub contents: BTreeMap<String, Vec<u8>>,
    /// The files those contents were read from.
    pub read_files: Vec<PathBuf>,
}

/// Splits the shared part off `model` (whose relative paths are relative
/// to `config_dir`). A certificate entry that names a local copy in `pems`
/// keeps its key; any other is read from its file.
pub fn extract(
    model: &ConfigFile,
    config_dir: &Path,
    pems: Option<&PemDir>,
) -> Result<Extracted, StoreError> {
    let mut out = Extracted {
        shared: SharedConfig {
            certificates: Vec::with_capacity(model.certificates.len()),
            instances: model.instances.clone(),
            load_balancers: model.load_balancers.clone(),
        },
        contents: BTreeMap::new(),
        read_files: Vec::new(),
    };
    for entry in &model.certificates {
        let mut stored = entry.clone();
        stored.cert = out.key_for(&entry.id, &entry.cert, config_dir, pems)?;
        if let Some(key) = &entry.key {
            stored.key = Some(out.key_for(&entry.id, key, config_dir, pems)?);
        }
        out.shared.certificates.push(stored);
    }
    Ok(out)
}

impl Extracted {
    fn key_for(
        &mut self,
        id: &str,
        written: &str,
        config_dir: &Path,
        pems: Option<&PemDir>,
    ) -> Result<String, StoreError> {
        let path = config_dir.join(written);
        if let Some(key) = pems.and_then(|p| p.key_of(&path)) {
            return Ok(key);
        }
        let contents = std::fs::read(&path).map_err(|source| StoreError::CertificateFile {
            id: id.to_owned(),
            path: path.clone(),
            source,
        })?;
        let key = pem_key(&contents);
        self.contents.insert(key.clone(), contents);
        self.read_files.push(path);
        Ok(key)
    }
}

/// A node's model: the node-local sections of `local` and `shared`, its
/// certificate entries pointed at their copies in `pems`.
pub fn merge(local: &ConfigFile, shared: &SharedConfig, pems: &PemDir) -> ConfigFile {
    let local_path = |key: &str| {
        pems.path_of(key)
            .map_or_else(|| key.to_owned(), |p| p.to_string_lossy().into_owned())
    };
    let certificates = shared
        .certificates
        .iter()
        .map(|c| CertificateEntry {
            cert: local_path(&c.cert),
            key: c.key.as_deref().map(local_path),
            ..c.clone()
        })
        .collect();
    ConfigFile {
        global: local.global.clone(),
        store: local.store.clone(),
        node: local.node.clone(),
        admin: local.admin.clone(),
        certificates,
        instances: shared.instances.clone(),
        load_balancers: shared.load_balancers.clone(),
    }
}

/// Whether `model` has any shared section (ignored in a node's own file
/// when the shared configuration lives in etcd).
pub fn has_shared_sections(model: &ConfigFile) -> bool {
    !model.certificates.is_empty()
        || !model.instances.is_empty()
        || !model.load_balancers.is_empty()
}

#[cfg(test)]
mod tests;
