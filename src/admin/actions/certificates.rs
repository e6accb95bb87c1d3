//! The certificate store: UpLoadCert, DescribeCerts, DeleteCert,
//! ReplaceCert, ModifyCertAlias, and the `CertificateInput` structure that
//! listeners and domains take.
//!
//! A certificate is a `[[certificate]]` entry (its `CertId`). Uploaded
//! PEM files go to `state_dir/certs/<id>.crt` and `<id>.key` (0600).
//! `CertificateInput` maps its RSA slot (`CertId` or inline
//! `CertContent`/`CertKey`) and ECC slot (`EccCertId` or inline
//! `EccCert*`) onto the file's `certificate` (a table for one, an array of
//! two side by side), `CertCaId` onto `client_ca`, `SSLMode` onto
//! `ssl_mode`. SM2 certificates are not supported.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::common::{check_length, check_range, one_of};
use super::{Api, cert_dir, empty, output};
use crate::admin::certs::{self, CertDir, StoredCert};
use crate::admin::error::{ApiError, Code};
use crate::admin::ids::new_id;
use crate::admin::params::input;
use crate::config::model::{
    CaSpec, CertificateEntry, CertificateKind, CertificateRef, CertificateSpec, ConfigFile, SslMode,
};

input! {
    /// The product's `CertificateInput`.
    pub struct CertificateInput {
        /// UNIDIRECTIONAL | MUTUAL.
        ssl_mode: opt String = "SSLMode",
        /// Client verification mode (only `on` semantics: same as MUTUAL).
        ssl_verify_client: opt String = "SSLVerifyClient",
        /// Server (RSA slot) certificate id.
        cert_id: opt String = "CertId",
        /// Client CA id.
        cert_ca_id: opt String = "CertCaId",
        /// Inline server certificate: alias.
        cert_name: opt String = "CertName",
        /// Inline server certificate: key.
        cert_key: opt String = "CertKey",
        /// Inline server certificate: PEM.
        cert_content: opt String = "CertContent",
        /// Inline client CA: alias.
        cert_ca_name: opt String = "CertCaName",
        /// Inline client CA: PEM.
        cert_ca_content: opt String = "CertCaContent",
        /// ECC slot certificate id.
        ecc_cert_id: opt String = "EccCertId",
        /// Inline ECC certificate: alias.
        ecc_cert_name: opt String = "EccCertName",
        /// Inline ECC certificate: PEM.
        ecc_cert_content: opt String = "EccCertContent",
        /// Inline ECC certificate: key.
        ecc_cert_key: opt String = "EccCertKey",
        /// SM2: not supported.
        sm_cert_id: opt Value = "SmCertId",
        /// SM2: not supported.
        sm_cert_name: opt Value = "SmCertName",
        /// SM2: not supported.
        sm_cert_sign_content: opt Value = "SmCertSignContent",
        /// SM2: not supported.
        sm_cert_sign_key: opt Value = "SmCertSignKey",
        /// SM2: not supported.
        sm_cert_content: opt Value = "SmCertContent",
        /// SM2: not supported.
        sm_cert_key: opt Value = "SmCertKey",
    }
}

/// A `CertificateInput` in the file's terms.
#[derive(Debug, Clone, Default)]
pub struct ResolvedCertificate {
    /// The server certificate(s), when a slot was given.
    pub server: Option<CertificateSpec>,
    /// `SSLMode`, when given.
    pub ssl_mode: Option<SslMode>,
    /// The client CA, when given.
    pub client_ca: Option<CaSpec>,
}

/// Turns `c` into file references, storing inline certificates (added to
/// `file` and to `uploads`, whose files the caller discards if the write
/// is refused). `field` names the input (`Certificate`).
pub fn resolve_certificate(
    c: &CertificateInput,
    file: &mut ConfigFile,
    dir: &CertDir,
    field: &str,
    uploads: &mut Vec<StoredCert>,
) -> Result<ResolvedCertificate, ApiError> {
    let f = |name: &str| format!("{field}.{name}");
    if c.sm_cert_id.is_some()
        || c.sm_cert_name.is_some()
        || c.sm_cert_sign_content.is_some()
        || c.sm_cert_sign_key.is_some()
        || c.sm_cert_content.is_some()
        || c.sm_cert_key.is_some()
    {
        return Err(ApiError::new(
            Code::UnsupportedOperation,
            format!(
                "{}: SM2 certificates are not supported (TLS 1.2/1.3 with RSA or ECDSA only)",
                f("SmCertId")
            ),
        ));
    }
    let mut ssl_mode = match &c.ssl_mode {
        Some(m) => Some(
            match one_of(&f("SSLMode"), m, &["UNIDIRECTIONAL", "MUTUAL"])? {
                "MUTUAL" => SslMode::Mutual,
                _ => SslMode::Unidirectional,
            },
        ),
        None => None,
    };
    if let Some(v) = &c.ssl_verify_client
        && one_of(&f("SSLVerifyClient"), v, &["on", "off", "optional"])? == "on"
    {
        ssl_mode = Some(SslMode::Mutual);
    }
    let mut refs = Vec::new();
    let slots = [
        (
            "CertId",
            &c.cert_id,
            "CertContent",
            &c.cert_content,
            "CertKey",
            &c.cert_key,
            &c.cert_name,
        ),
        (
            "EccCertId",
            &c.ecc_cert_id,
            "EccCertContent",
            &c.ecc_cert_content,
            "EccCertKey",
            &c.ecc_cert_key,
            &c.ecc_cert_name,
        ),
    ];
    for (id_name, id, content_name, content, key_name, key, alias) in slots {
        match (id, content) {
            (Some(id), None) => {
                require_kind(file, id, CertificateKind::Server, &f(id_name))?;
                refs.push(id_ref(id));
            }
            (None, Some(content)) => {
                let Some(key) = key else {
                    return Err(ApiError::missing(&f(key_name)));
                };
                let stored = store_new(
                    file,
                    dir,
                    CertificateKind::Server,
                    alias.clone(),
                    content,
                    Some(key),
                    (&f(content_name), &f(key_name)),
                )?;
                refs.push(id_ref(&stored.entry.id));
                uploads.push(stored);
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    &f(id_name),
                    format!("give {id_name} or {content_name}, not both"),
                ));
            }
            (None, None) if key.is_some() => return Err(ApiError::missing(&f(content_name))),
            (None, None) => {}
        }
    }
    let server = match refs.len() {
        0 => None,
        1 => refs.pop().map(CertificateSpec::One),
        _ => Some(CertificateSpec::Many(refs)),
    };
    let client_ca = match (&c.cert_ca_id, &c.cert_ca_content) {
        (Some(id), None) => {
            require_kind(file, id, CertificateKind::Ca, &f("CertCaId"))?;
            Some(CaSpec::Ref(id_ref(id)))
        }
        (None, Some(content)) => {
            let stored = store_new(
                file,
                dir,
                CertificateKind::Ca,
                c.cert_ca_name.clone(),
                content,
                None,
                (&f("CertCaContent"), ""),
            )?;
            let spec = CaSpec::Ref(id_ref(&stored.entry.id));
            uploads.push(stored);
            Some(spec)
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                &f("CertCaId"),
                "give CertCaId or CertCaContent, not both",
            ));
        }
        (None, None) => None,
    };
    if ssl_mode == Some(SslMode::Mutual) && client_ca.is_none() {
        return Err(ApiError::missing(&f(
            "CertCaId (SSLMode MUTUAL needs a client CA)",
        )));
    }
    Ok(ResolvedCertificate {
        server,
        ssl_mode,
        client_ca,
    })
}

fn id_ref(id: &str) -> CertificateRef {
    CertificateRef {
        id: Some(id.to_owned()),
        cert: None,
        key: None,
    }
}

fn require_kind(
    file: &ConfigFile,
    id: &str,
    kind: CertificateKind,
    field: &str,
) -> Result<(), ApiError> {
    match file.certificates.iter().find(|c| c.id == id) {
        Some(c) if c.kind == kind => Ok(()),
        Some(_) => Err(ApiError::value(
            field,
            format_args!("certificate {id} is not of type {}", kind_str(kind)),
        )),
        None => Err(not_found(field, id)),
    }
}

fn not_found(field: &str, id: &str) -> ApiError {
    ApiError::new(
        Code::ResourceNotFound,
        format!("{field}: no certificate has id {id:?}"),
    )
}

fn kind_str(kind: CertificateKind) -> &'static str {
    match kind {
        CertificateKind::Server => "SVR",
        CertificateKind::Ca => "CA",
    }
}

/// Checks a PEM certificate (and its key), stores it under a new id and
/// adds its entry to `file`. `fields` names the content and key inputs.
fn store_new(
    file: &mut ConfigFile,
    dir: &CertDir,
    kind: CertificateKind,
    alias: Option<String>,
    content: &str,
    key: Option<&str>,
    fields: (&str, &str),
) -> Result<StoredCert, ApiError> {
    certs::inspect(content).map_err(|e| ApiError::value(fields.0, e))?;
    if let Some(key) = key {
        certs::check_key(content, key).map_err(|e| ApiError::value(fields.1, e))?;
    }
    if let Some(a) = &alias {
        check_length("CertAlias", a, 0, 200)?;
    }
    let id = new_id("cert-", |id| file.certificates.iter().any(|c| c.id == id));
    let stored = dir
        .store(&id, kind, alias, content, key)
        .map_err(|e| ApiError::internal(format!("cannot store certificate {id}: {e}")))?;
    file.certificates.push(stored.entry.clone());
    Ok(stored)
}

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
        /// Note.
        cert_alias: opt String = "CertAlias",
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
pub async fn upload(api: &Api, input: UploadInput) -> Result<Value, ApiError> {
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
                input.cert_alias.clone(),
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
pub fn describe(api: &Api, input: DescribeInput) -> Result<Value, ApiError> {
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
pub async fn delete(api: &Api, input: DeleteInput) -> Result<Value, ApiError> {
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
pub async fn replace(api: &Api, input: ReplaceInput) -> Result<Value, ApiError> {
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
pub async fn modify_alias(api: &Api, input: ModifyAliasInput) -> Result<Value, ApiError> {
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
