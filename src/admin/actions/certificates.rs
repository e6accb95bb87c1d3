//! The certificate store: UpLoadCert, DescribeCerts, DeleteCert,
//! ReplaceCert, ModifyCertAlias.
//!
//! A certificate is a `[[certificate]]` entry (its `CertId`). Uploaded
//! PEM files go to `state_dir/certs/<id>.crt` and `<id>.key` (0600).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::cert_input::{kind_str, not_found, require_kind, store_new};
use super::common::{check_length, check_range, one_of};
use super::{Api, cert_dir, empty, output};
use crate::admin::certs::{self, CertDir, StoredCert};
use crate::admin::error::{ApiError, Code};
use crate::admin::params::input;
use crate::config::model::{
    CaSpec, CertificateEntry, CertificateKind, CertificateRef, CertificateSpec, ConfigFile,
};
/// Where a store entry's file is, as this process reads it.
fn entry_path(config_path: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_owned()
    } else {
        config_path.parent().unwrap_or(Path::new("")).join(p)
    }
}

input! {
    /// UpLoadCert input.
    pub struct UploadInput {
        /// PEM certificate (chain).
        cert_content: req String = "CertContent",
        /// CA | SVR.
        cert_type: req String = "CertType",
        /// PEM private key (SVR).
        cert_key: opt String = "CertKey",
        /// The certificate's note (required by the product's API; may be
        /// empty).
        cert_alias: req String = "CertAlias",
        /// SM2: not supported.
        sign_cert: opt Value = "SignCert",
        /// SM2: not supported.
        sign_cert_private_key: opt Value = "SignCertPrivateKey",
    }
}

#[derive(Serialize)]
struct UploadOutput {
    #[serde(rename = "CertID")]
    cert_id: String,
    #[serde(rename = "CertId")]
    cert_id_camel: String,
}

/// Stores a certificate; returns its `CertID`.
pub(crate) async fn upload(api: &Api, input: UploadInput) -> Result<Value, ApiError> {
    if input.sign_cert.is_some() || input.sign_cert_private_key.is_some() {
        return Err(ApiError::new(
            Code::UnsupportedOperation,
            "SignCert: SM2 certificates are not supported",
        ));
    }
    let kind = match one_of("CertType", &input.cert_type, &["SVR", "CA"])? {
        "CA" => CertificateKind::Ca,
        _ => CertificateKind::Server,
    };
    if kind == CertificateKind::Server && input.cert_key.is_none() {
        return Err(ApiError::missing("CertKey"));
    }
    let key = if kind == CertificateKind::Server {
        input.cert_key.as_deref()
    } else {
        None
    };
    let mut uploads = Vec::new();
    let result = api
        .store
        .write(|file, config| {
            let stored = store_new(
                file,
                &cert_dir(config),
                kind,
                Some(input.cert_alias.clone()),
                &input.cert_content,
                key,
                ("CertContent", "CertKey"),
            )?;
            let id = stored.entry.id.clone();
            uploads.push(stored);
            Ok(id)
        })
        .await;
    match result {
        Ok(id) => output(&UploadOutput {
            cert_id: id.clone(),
            cert_id_camel: id,
        }),
        Err(e) => {
            uploads.iter().for_each(StoredCert::discard);
            Err(e)
        }
    }
}

input! {
    /// DescribeCerts input.
    pub struct DescribeInput {
        /// Default 0.
        offset: opt i64 = "Offset",
        /// Default 20, at most 100.
        limit: opt i64 = "Limit",
        /// Part of the id, alias or domain.
        search_key: opt String = "SearchKey",
        /// CA | SVR.
        cert_type: opt String = "CertType",
        /// Only these ids.
        cert_id_list: opt Vec<String> = "CertIdList",
        /// Include the PEM content.
        with_cert: opt bool = "WithCert",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CertListItem {
    owner_uin: String,
    project_id: String,
    from: String,
    cert_type: String,
    product_zh_name: String,
    domain: String,
    alias: String,
    status: i64,
    vulner_ability_status: String,
    cert_begin_time: String,
    cert_end_time: String,
    validity_period: String,
    insert_time: String,
    #[serde(rename = "CertID")]
    cert_id: String,
    status_name: String,
    cert: String,
    sign_cert: Option<String>,
    subject_alt_name: Vec<String>,
    cert_algorithm: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeOutput {
    cert_list: Vec<CertListItem>,
    total_count: u64,
}

/// Lists the store, filtered and paginated; each entry's dates, domain
/// and algorithm are read from its certificate file.
pub(crate) fn describe(api: &Api, input: DescribeInput) -> Result<Value, ApiError> {
    let config = api.store.current();
    let offset = check_range("Offset", input.offset.unwrap_or(0), 0, i64::MAX)? as usize;
    let limit = check_range("Limit", input.limit.unwrap_or(20), 0, 100)? as usize;
    let kind = match &input.cert_type {
        Some(t) => Some(one_of("CertType", t, &["SVR", "CA"])?),
        None => None,
    };
    if let Some(ids) = &input.cert_id_list {
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(ApiError::new(
                    Code::Duplicate,
                    format!("CertIdList.{i}: {id} is given twice"),
                ));
            }
        }
    }
    let mut items = Vec::new();
    for entry in &config.file.certificates {
        let pem =
            std::fs::read_to_string(entry_path(&config.path, &entry.cert)).unwrap_or_default();
        let info = certs::inspect(&pem).ok();
        let domain = info.as_ref().map(|i| i.domain.clone()).unwrap_or_default();
        let alias = entry.alias.clone().unwrap_or_default();
        let keep = kind.is_none_or(|k| k == kind_str(entry.kind))
            && input
                .cert_id_list
                .as_ref()
                .is_none_or(|ids| ids.contains(&entry.id))
            && input.search_key.as_ref().is_none_or(|k| {
                entry.id.contains(k.as_str())
                    || alias.contains(k.as_str())
                    || domain.contains(k.as_str())
            });
        if !keep {
            continue;
        }
        items.push(CertListItem {
            owner_uin: String::new(),
            project_id: "0".into(),
            from: String::new(),
            cert_type: kind_str(entry.kind).into(),
            product_zh_name: String::new(),
            domain,
            alias,
            status: if info.is_some() { 1 } else { 0 },
            vulner_ability_status: String::new(),
            cert_begin_time: info
                .as_ref()
                .map(|i| i.not_before.clone())
                .unwrap_or_default(),
            cert_end_time: info
                .as_ref()
                .map(|i| i.not_after.clone())
                .unwrap_or_default(),
            validity_period: String::new(),
            insert_time: String::new(),
            cert_id: entry.id.clone(),
            status_name: if info.is_some() {
                "normal"
            } else {
                "unreadable"
            }
            .into(),
            cert: if input.with_cert == Some(true) {
                pem
            } else {
                String::new()
            },
            sign_cert: None,
            subject_alt_name: info.as_ref().map(|i| i.sans.clone()).unwrap_or_default(),
            cert_algorithm: info.map_or("rsa", |i| i.algorithm).into(),
        });
    }
    let total = items.len() as u64;
    output(&DescribeOutput {
        cert_list: items.into_iter().skip(offset).take(limit).collect(),
        total_count: total,
    })
}

/// Every place in `file` that references certificate `id`, as text.
fn users(file: &ConfigFile, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let refers = |spec: &Option<CertificateSpec>| {
        spec.as_ref()
            .is_some_and(|s| s.refs().iter().any(|r| r.id.as_deref() == Some(id)))
    };
    for lb in &file.load_balancers {
        for l in &lb.listeners {
            let lid = l.id.as_deref().unwrap_or("?");
            let ca = matches!(&l.client_ca, Some(CaSpec::Ref(r)) if r.id.as_deref() == Some(id));
            if refers(&l.certificate) || ca {
                out.push(format!("listener {lid}"));
            }
            for d in &l.domains {
                if refers(&d.certificate) {
                    out.push(format!("domain {} of listener {lid}", d.name));
                }
            }
        }
    }
    out
}

/// Points every reference to `old` at `new`; returns how many changed.
fn repoint(file: &mut ConfigFile, old: &str, new: &str) -> usize {
    let mut n = 0;
    let mut fix = |r: &mut CertificateRef| {
        if r.id.as_deref() == Some(old) {
            r.id = Some(new.to_owned());
            n += 1;
        }
    };
    for lb in &mut file.load_balancers {
        for l in &mut lb.listeners {
            if let Some(spec) = &mut l.certificate {
                for_each_ref(spec, &mut fix);
            }
            if let Some(CaSpec::Ref(r)) = &mut l.client_ca {
                fix(r);
            }
            for d in &mut l.domains {
                if let Some(spec) = &mut d.certificate {
                    for_each_ref(spec, &mut fix);
                }
            }
        }
    }
    n
}

fn for_each_ref(spec: &mut CertificateSpec, f: &mut impl FnMut(&mut CertificateRef)) {
    match spec {
        CertificateSpec::One(r) => f(r),
        CertificateSpec::Many(v) => v.iter_mut().for_each(f),
    }
}

input! {
    /// DeleteCert input.
    pub struct DeleteInput {
        /// Certificates to remove.
        cert_ids: req Vec<String> = "CertIds",
    }
}

/// Removes certificates that nothing uses (a used one is `ResourceInUse`),
/// and the files the API stored for them.
pub(crate) async fn delete(api: &Api, input: DeleteInput) -> Result<Value, ApiError> {
    if input.cert_ids.is_empty() {
        return Err(ApiError::missing("CertIds"));
    }
    let removed: Vec<(CertificateEntry, CertDir, PathBuf)> = api
        .store
        .write(|file, config| {
            let mut removed = Vec::new();
            for (i, id) in input.cert_ids.iter().enumerate() {
                let field = format!("CertIds.{i}");
                let Some(index) = file.certificates.iter().position(|c| &c.id == id) else {
                    return Err(not_found(&field, id));
                };
                let used = users(file, id);
                if !used.is_empty() {
                    return Err(ApiError::new(
                        Code::ResourceInUse,
                        format!("{field}: certificate {id} is used by {}", used.join(", ")),
                    ));
                }
                removed.push((
                    file.certificates.remove(index),
                    cert_dir(config),
                    config.path.clone(),
                ));
            }
            Ok(removed)
        })
        .await?;
    for (entry, dir, config_path) in removed {
        for path in std::iter::once(&entry.cert).chain(entry.key.as_ref()) {
            if dir.owns(path)
                && let Err(e) = std::fs::remove_file(entry_path(&config_path, path))
            {
                tracing::warn!(
                    "certificate {} deleted, but its file {path} stays: {e}",
                    entry.id
                );
            }
        }
    }
    empty()
}

input! {
    /// ReplaceCert input.
    pub struct ReplaceInput {
        /// The certificate to replace.
        old_cert_id: req String = "OldCertId",
        /// A stored certificate to use instead.
        new_cert_id: opt String = "NewCertId",
        /// Or a new certificate: PEM.
        new_cert_content: opt String = "NewCertContent",
        /// Its alias.
        new_cert_alias: opt String = "NewCertAlias",
        /// Its key (SVR).
        new_cert_key: opt String = "NewCertKey",
        /// SM2: not supported.
        new_sign_cert: opt Value = "NewSignCert",
        /// SM2: not supported.
        new_sign_cert_private_key: opt Value = "NewSignCertPrivateKey",
    }
}

/// Replaces a certificate everywhere it is used, by a stored one or a new
/// upload (stored under a new id, with the old certificate's type). The
/// old certificate stays in the store.
pub(crate) async fn replace(api: &Api, input: ReplaceInput) -> Result<Value, ApiError> {
    if input.new_sign_cert.is_some() || input.new_sign_cert_private_key.is_some() {
        return Err(ApiError::new(
            Code::UnsupportedOperation,
            "NewSignCert: SM2 certificates are not supported",
        ));
    }
    let mut uploads = Vec::new();
    let result = api
        .store
        .write(|file, config| {
            let Some(old) = file
                .certificates
                .iter()
                .find(|c| c.id == input.old_cert_id)
                .cloned()
            else {
                return Err(not_found("OldCertId", &input.old_cert_id));
            };
            let new_id = match (&input.new_cert_id, &input.new_cert_content) {
                (Some(id), None) => {
                    require_kind(file, id, old.kind, "NewCertId")?;
                    id.clone()
                }
                (None, Some(content)) => {
                    let key = match old.kind {
                        CertificateKind::Server => Some(
                            input
                                .new_cert_key
                                .as_deref()
                                .ok_or_else(|| ApiError::missing("NewCertKey"))?,
                        ),
                        CertificateKind::Ca => None,
                    };
                    let stored = store_new(
                        file,
                        &cert_dir(config),
                        old.kind,
                        input.new_cert_alias.clone(),
                        content,
                        key,
                        ("NewCertContent", "NewCertKey"),
                    )?;
                    let id = stored.entry.id.clone();
                    uploads.push(stored);
                    id
                }
                (Some(_), Some(_)) => {
                    return Err(ApiError::invalid(
                        "NewCertId",
                        "give NewCertId or NewCertContent, not both",
                    ));
                }
                (None, None) => return Err(ApiError::missing("NewCertId (or NewCertContent)")),
            };
            repoint(file, &old.id, &new_id);
            Ok(())
        })
        .await;
    match result {
        Ok(()) => empty(),
        Err(e) => {
            uploads.iter().for_each(StoredCert::discard);
            Err(e)
        }
    }
}

input! {
    /// ModifyCertAlias input.
    pub struct ModifyAliasInput {
        /// Certificate id.
        cert_id: req String = "CertId",
        /// New note.
        alias: req String = "Alias",
    }
}

/// Changes a certificate's alias.
pub(crate) async fn modify_alias(api: &Api, input: ModifyAliasInput) -> Result<Value, ApiError> {
    check_length("Alias", &input.alias, 0, 200)?;
    api.store
        .write(|file, _| {
            let Some(entry) = file.certificates.iter_mut().find(|c| c.id == input.cert_id) else {
                return Err(not_found("CertId", &input.cert_id));
            };
            entry.alias = Some(input.alias.clone());
            Ok(())
        })
        .await?;
    empty()
}
