//! `stgw store import` and `stgw store export`: moving a file's shared
//! configuration into the etcd its `[store]` names, and back out as TOML.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::etcd::client::{Commit, EtcdClient};
use super::etcd::prefix_of;
use super::shared::{PEM_FOLDER, SharedConfig, extract, is_pem_key};
use super::{StoreError, StoreKind};
use crate::admin::persist::{private_dir, write_atomic};
use crate::config::Config;
use crate::config::model::{CaSpec, CertificateSpec, ConfigFile};
use crate::runtime::snapshot::{Snapshot, State};

/// How often an import is retried when another writer commits first.
const IMPORT_ATTEMPTS: usize = 10;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The store revision of the configuration written.
    pub revision: i64,
    /// The revision it replaced (0: the store had none).
    pub replaced: i64,
    /// Load balancers written.
    pub load_balancers: usize,
    /// Certificates written (their PEM contents in the store).
    pub certificates: usize,
    /// Things the operator should know (files other nodes must have too).
    pub warnings: Vec<String>,
}

/// Validates the file at `path` (certificates are read, as `stgw check`
/// does) and replaces the shared configuration in the etcd its `[store]`
/// names with the file's, the PEM contents of its `[[certificate]]`
/// entries included. Nodes following the prefix apply it at once.
pub async fn import(path: &Path) -> Result<Imported, StoreError> {
    let config = Config::load(path)?;
    if config.file.store.kind != StoreKind::Etcd {
        return Err(StoreError::NotEtcd {
            path: path.to_owned(),
        });
    }
    let state = State::ephemeral()?;
    Snapshot::compile(Arc::new(config.clone()), &state)?;
    let config_dir = path.parent().unwrap_or(Path::new(""));
    let extracted = extract(&config.file, config_dir, None)?;
    let client =
        EtcdClient::connect(&config.file.store.endpoints, &prefix_of(&config.file.store)).await?;
    let mut base = client.read().await?;
    for _ in 0..IMPORT_ATTEMPTS {
        match client
            .commit(&base, &extracted.shared, &extracted.contents)
            .await?
        {
            Commit::Done(revision) => {
                return Ok(Imported {
                    revision,
                    replaced: base.revision,
                    load_balancers: extracted.shared.load_balancers.len(),
                    certificates: extracted.shared.certificates.len(),
                    warnings: path_references(&config.file),
                });
            }
            Commit::Conflict(now) => base = now,
        }
    }
    Err(StoreError::Corrupt {
        key: client.key(super::etcd::client::CONFIG_KEY),
        message: format!("changed by other writers {IMPORT_ATTEMPTS} times during the import"),
    })
}

/// The shared configuration in the etcd that the file at `path` names, as
/// TOML. With `pem_dir`, the PEM contents of its certificates are written
/// there (`<sha256>.pem`, 0600) and the entries name those files, so the
/// output can be imported again; without it they name their store keys.
pub async fn export(path: &Path, pem_dir: Option<&Path>) -> Result<String, StoreError> {
    let config = Config::load(path)?;
    if config.file.store.kind != StoreKind::Etcd {
        return Err(StoreError::NotEtcd {
            path: path.to_owned(),
        });
    }
    let prefix = prefix_of(&config.file.store);
    let client = EtcdClient::connect(&config.file.store.endpoints, &prefix).await?;
    let mut latest = client.read().await?;
    let mut header = format!(
        "# The shared configuration in etcd {} under {prefix}, revision {}.\n",
        config.file.store.endpoints.join(", "),
        latest.revision
    );
    match pem_dir {
        Some(dir) => write_pems(&client, &mut latest.shared, dir).await?,
        None if !latest.shared.certificates.is_empty() => header.push_str(&format!(
            "# Certificates name their PEM contents by store key ({PEM_FOLDER}/<sha256>);\n# export with --pem-dir DIR to get the files and an importable configuration.\n"
        )),
        None => {}
    }
    Ok(format!("{header}\n{}", latest.shared.to_toml()?))
}

/// Writes the PEM contents `shared` names into `dir` and points its
/// entries at them.
async fn write_pems(
    client: &EtcdClient,
    shared: &mut SharedConfig,
    dir: &Path,
) -> Result<(), StoreError> {
    let local = |path: PathBuf| move |source| StoreError::Local { path, source };
    private_dir(dir).map_err(local(dir.to_owned()))?;
    for entry in &mut shared.certificates {
        for field in std::iter::once(&mut entry.cert).chain(entry.key.as_mut()) {
            if !is_pem_key(field) {
                continue;
            }
            let key = field.clone();
            let contents = client
                .read_pem(&key)
                .await?
                .ok_or_else(|| StoreError::Corrupt {
                    key: client.key(&key),
                    message: "named by the configuration but absent".into(),
                })?;
            let name = key.trim_start_matches(PEM_FOLDER).trim_start_matches('/');
            let file = dir.join(format!("{name}.pem"));
            write_atomic(&file, &contents, 0o600).map_err(local(file.clone()))?;
            *field = file.to_string_lossy().into_owned();
        }
    }
    Ok(())
}

/// Certificate files referenced by path outside `[[certificate]]`: those
/// stay paths, which every node must have (relative ones are relative to
/// each node's own file).
pub fn path_references(file: &ConfigFile) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |owner: String, path: &str| {
        out.push(format!(
            "{owner}: the file {path} is referenced by path, not stored in etcd: every node must have it (or upload it as a [[certificate]])"
        ));
    };
    let spec_paths = |spec: &Option<CertificateSpec>| -> Vec<String> {
        spec.iter()
            .flat_map(|s| s.refs())
            .flat_map(|r| r.cert.iter().chain(r.key.iter()))
            .cloned()
            .collect()
    };
    for lb in &file.load_balancers {
        let lb_id = lb.id.clone().unwrap_or_default();
        for l in &lb.listeners {
            let owner = format!(
                "load balancer {lb_id} listener {}",
                l.id.clone().unwrap_or_default()
            );
            for p in spec_paths(&l.certificate) {
                note(owner.clone(), &p);
            }
            match &l.client_ca {
                Some(CaSpec::Path(p)) => note(owner.clone(), p),
                Some(CaSpec::Ref(r)) => r.cert.iter().for_each(|p| note(owner.clone(), p)),
                None => {}
            }
            for d in &l.domains {
                for p in spec_paths(&d.certificate) {
                    note(format!("{owner} domain {}", d.name), &p);
                }
                for r in &d.rules {
                    if let Some(ca) = &r.tls_ca {
                        note(format!("{owner} domain {} rule {}", d.name, r.url), ca);
                    }
                }
            }
        }
    }
    out
}
