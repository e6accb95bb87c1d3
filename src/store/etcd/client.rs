//! The etcd operations stgw needs, over the key layout of
//! [`crate::store`]: one read of the shared configuration, a
//! compare-on-revision commit, PEM fetches, create-once secrets and a
//! compare-and-swap. Every call is bounded by [`CALL_TIMEOUT`].

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, Txn, TxnOp, TxnOpResponse,
    WatchOptions, WatchStream,
};

use crate::store::StoreError;
use crate::store::shared::{PemDir, SharedConfig};

/// The longest any one etcd call may take before the store counts as
/// unreachable.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Operations per transaction: below etcd's default `--max-txn-ops` (128).
const MAX_TXN_OPS: usize = 100;

/// The key of the shared configuration, under the prefix.
pub const CONFIG_KEY: &str = "config";
/// The key of the sticky-cookie secret (hex), under the prefix.
pub const STICKY_KEY: &str = "secrets/sticky";
/// The key of the TLS ticket keys (their text form), under the prefix.
pub const TICKETS_KEY: &str = "secrets/tls-ticket-keys";

/// One consistent read of the shared configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Revision {
    /// The configuration key's mod_revision; 0 when it is absent.
    pub revision: i64,
    /// The configuration (empty when absent).
    pub shared: SharedConfig,
}

/// How a commit ended.
#[derive(Debug)]
pub enum Commit {
    /// Written; the new revision.
    Done(i64),
    /// Someone else wrote first; the configuration as it is now.
    Conflict(Revision),
}

/// A connection to the etcd cluster of `[store]`, under one prefix.
#[derive(Clone)]
pub struct EtcdClient {
    client: Client,
    prefix: String,
    endpoints: Vec<String>,
}

impl std::fmt::Debug for EtcdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdClient")
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl EtcdClient {
    /// A client for `endpoints` under `prefix`. Connecting is lazy: this
    /// fails only on an endpoint that is not a URL, and the first call
    /// tells whether etcd answers.
    pub async fn connect(endpoints: &[String], prefix: &str) -> Result<EtcdClient, StoreError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(CALL_TIMEOUT)
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
            .with_keep_alive_while_idle(true)
            .with_require_leader(true);
        let client = bounded(Client::connect(endpoints, Some(options))).await?;
        Ok(EtcdClient {
            client,
            prefix: prefix.to_owned(),
            endpoints: endpoints.to_vec(),
        })
    }

    /// The prefix every key lives under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `key` under the prefix.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Reads the shared configuration.
    pub async fn read(&self) -> Result<Revision, StoreError> {
        let mut kv = self.client.kv_client();
        let key = self.key(CONFIG_KEY);
        let resp = bounded(kv.get(key.as_str(), None)).await?;
        revision_of(resp.kvs().first(), &key)
    }

    /// Copies every key of `keys` that `pems` lacks from the store.
    pub async fn fetch_pems(
        &self,
        keys: &BTreeSet<String>,
        pems: &PemDir,
    ) -> Result<(), StoreError> {
        let mut kv = self.client.kv_client();
        for key in keys.iter().filter(|k| !pems.has(k)) {
            let full = self.key(key);
            let resp = bounded(kv.get(full.as_str(), None)).await?;
            let Some(value) = resp.kvs().first() else {
                return Err(StoreError::Corrupt {
                    key: full,
                    message: "named by the configuration but absent".into(),
                });
            };
            pems.write(key, value.value())?;
        }
        Ok(())
    }

    /// Reads one PEM key's contents (`None` when absent).
    pub async fn read_pem(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut kv = self.client.kv_client();
        let resp = bounded(kv.get(self.key(key), None)).await?;
        Ok(resp.kvs().first().map(|v| v.value().to_vec()))
    }

    /// Replaces the configuration whose revision is `base` with `next`, in
    /// one transaction that compares the configuration key's mod_revision
    /// with `base.revision`: when someone wrote in between, nothing is
    /// written and the configuration as it is now comes back. PEM keys
    /// `next` names that `base` does not are written with it (`contents`
    /// must hold them); those only `base` named are deleted with it.
    pub async fn commit(
        &self,
        base: &Revision,
        next: &SharedConfig,
        contents: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Commit, StoreError> {
        let (old, new) = (base.shared.pem_keys(), next.pem_keys());
        let mut puts = Vec::new();
        for key in new.difference(&old) {
            let value = contents.get(key).ok_or_else(|| StoreError::Corrupt {
                key: key.clone(),
                message: "the contents of a new certificate are missing".into(),
            })?;
            puts.push(TxnOp::put(self.key(key), value.clone(), None));
        }
        let deletes: Vec<TxnOp> = old
            .difference(&new)
            .map(|k| TxnOp::delete(self.key(k), None))
            .collect();
        let config_key = self.key(CONFIG_KEY);
        let text = next.to_toml()?;
        let mut kv = self.client.kv_client();
        // Large changes (an import of many certificates) write their PEM
        // keys ahead: unreferenced until the configuration names them, and
        // no writer deletes a key its own base did not name.
        let batched = puts.len() + deletes.len() + 1 > MAX_TXN_OPS;
        let mut ops = vec![TxnOp::put(config_key.as_str(), text, None)];
        if batched {
            for chunk in puts.chunks(MAX_TXN_OPS) {
                bounded(kv.txn(Txn::new().and_then(chunk.to_vec()))).await?;
            }
        } else {
            ops.extend(puts);
            ops.extend(deletes.iter().cloned());
        }
        let txn = Txn::new()
            .when([Compare::mod_revision(
                config_key.as_str(),
                CompareOp::Equal,
                base.revision,
            )])
            .and_then(ops)
            .or_else([TxnOp::get(config_key.as_str(), None)]);
        let resp = bounded(kv.txn(txn)).await?;
        if !resp.succeeded() {
            let now = resp.op_responses().into_iter().find_map(|r| match r {
                TxnOpResponse::Get(g) => Some(g),
                _ => None,
            });
            let kv = now.as_ref().and_then(|g| g.kvs().first());
            return Ok(Commit::Conflict(revision_of(kv, &config_key)?));
        }
        let revision = resp.header().map_or(0, |h| h.revision());
        if batched {
            // Only while the configuration is still ours: a later writer
            // may name one of these again.
            for chunk in deletes.chunks(MAX_TXN_OPS) {
                let guard = Compare::mod_revision(config_key.as_str(), CompareOp::Equal, revision);
                bounded(kv.txn(Txn::new().when([guard]).and_then(chunk.to_vec()))).await?;
            }
        }
        Ok(Commit::Done(revision))
    }

    /// The value of `key`, created as `make()` when absent (a transaction
    /// on its create_revision, so concurrent creators agree on one value).
    /// Returns the value and its mod_revision.
    pub async fn get_or_create(
        &self,
        key: &str,
        make: impl FnOnce() -> Result<String, StoreError>,
    ) -> Result<(String, i64), StoreError> {
        let full = self.key(key);
        let mut kv = self.client.kv_client();
        let resp = bounded(kv.get(full.as_str(), None)).await?;
        if let Some(v) = resp.kvs().first() {
            return Ok((text(v.value(), &full)?, v.mod_revision()));
        }
        let value = make()?;
        let txn = Txn::new()
            .when([Compare::create_revision(full.as_str(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(full.as_str(), value.as_str(), None)])
            .or_else([TxnOp::get(full.as_str(), None)]);
        let resp = bounded(kv.txn(txn)).await?;
        if resp.succeeded() {
            return Ok((value, resp.header().map_or(0, |h| h.revision())));
        }
        let existing = resp.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(g) => g
                .kvs()
                .first()
                .map(|v| (v.value().to_vec(), v.mod_revision())),
            _ => None,
        });
        match existing {
            Some((value, revision)) => Ok((text(&value, &full)?, revision)),
            None => Err(StoreError::Corrupt {
                key: full,
                message: "deleted while being created".into(),
            }),
        }
    }

    /// Writes `value` to `key` if its mod_revision is still `revision`;
    /// returns whether it did.
    pub async fn compare_and_swap(
        &self,
        key: &str,
        revision: i64,
        value: &str,
    ) -> Result<bool, StoreError> {
        let full = self.key(key);
        let txn = Txn::new()
            .when([Compare::mod_revision(
                full.as_str(),
                CompareOp::Equal,
                revision,
            )])
            .and_then([TxnOp::put(full.as_str(), value, None)]);
        let mut kv = self.client.kv_client();
        Ok(bounded(kv.txn(txn)).await?.succeeded())
    }

    /// Reads `key` and its mod_revision (`None` when absent).
    pub async fn get(&self, key: &str) -> Result<Option<(String, i64)>, StoreError> {
        let full = self.key(key);
        let mut kv = self.client.kv_client();
        let resp = bounded(kv.get(full.as_str(), None)).await?;
        match resp.kvs().first() {
            Some(v) => Ok(Some((text(v.value(), &full)?, v.mod_revision()))),
            None => Ok(None),
        }
    }

    /// Every key under the prefix, without values (for `store export`).
    pub async fn keys(&self) -> Result<Vec<String>, StoreError> {
        let mut kv = self.client.kv_client();
        let options = GetOptions::new().with_prefix().with_keys_only();
        let resp = bounded(kv.get(self.prefix.as_str(), Some(options))).await?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|v| v.key_str().ok())
            .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_owned))
            .collect())
    }

    /// Watches every key under the prefix from now on. Its first message
    /// says that etcd created the watch.
    pub async fn watch(&self) -> Result<WatchStream, StoreError> {
        let mut watch = self.client.watch_client();
        let options = WatchOptions::new().with_prefix();
        bounded(watch.watch(self.prefix.as_str(), Some(options))).await
    }
}

/// The [`Revision`] of a configuration key's value (absent: revision 0,
/// empty).
fn revision_of(kv: Option<&etcd_client::KeyValue>, key: &str) -> Result<Revision, StoreError> {
    match kv {
        None => Ok(Revision::default()),
        Some(v) => Ok(Revision {
            revision: v.mod_revision(),
            shared: SharedConfig::parse(&text(v.value(), key)?, key)?,
        }),
    }
}

fn text(bytes: &[u8], key: &str) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Corrupt {
        key: key.to_owned(),
        message: "not UTF-8 text".into(),
    })
}

/// Runs an etcd call within [`CALL_TIMEOUT`].
async fn bounded<T>(
    call: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(StoreError::Etcd(e)),
        Err(_) => Err(StoreError::Timeout(CALL_TIMEOUT)),
    }
}
