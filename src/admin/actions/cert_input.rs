//! The product's `CertificateInput` (CreateListener, ModifyListener,
//! CreateRule, ModifyDomainAttributes) in the file's terms, and the
//! checked storing of a new certificate that UpLoadCert and ReplaceCert
//! share.
//!
//! The RSA slot (`CertId` or inline `CertContent`/`CertKey`) and the ECC
//! slot (`EccCertId` or inline `EccCert*`) become the file's
//! `certificate` (a table for one, an array of two side by side),
//! `CertCaId` becomes `client_ca`, `SSLMode` `ssl_mode`. SM2 certificates
//! are not supported.

use serde_json::Value;

use super::common::{check_length, one_of};
use crate::admin::certs::{self, CertDir, StoredCert};
use crate::admin::error::{ApiError, Code};
use crate::admin::ids::new_id;
use crate::admin::params::input;
use crate::config::model::{
    CaSpec, CertificateKind, CertificateRef, CertificateSpec, ConfigFile, SslMode,
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
pub(crate) struct ResolvedCertificate {
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
pub(crate) fn resolve_certificate(
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
    Ok(ResolvedCertificate {
        server,
        ssl_mode,
        client_ca,
    })
}

/// A domain's `CertificateInput` (SNI): only server certificates; the
/// client CA and `SSLMode` belong to the listener in stgw.
pub(crate) fn resolve_domain_certificate(
    c: &CertificateInput,
    file: &mut ConfigFile,
    dir: &CertDir,
    field: &str,
    uploads: &mut Vec<StoredCert>,
) -> Result<Option<CertificateSpec>, ApiError> {
    let r = resolve_certificate(c, file, dir, field, uploads)?;
    if r.ssl_mode == Some(SslMode::Mutual) || r.client_ca.is_some() {
        return Err(ApiError::invalid(
            &format!("{field}.SSLMode"),
            "mutual TLS and its client CA are set per listener (ModifyListener), not per domain",
        ));
    }
    Ok(r.server)
}

fn id_ref(id: &str) -> CertificateRef {
    CertificateRef {
        id: Some(id.to_owned()),
        cert: None,
        key: None,
    }
}

pub(super) fn require_kind(
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

pub(super) fn not_found(field: &str, id: &str) -> ApiError {
    ApiError::new(
        Code::ResourceNotFound,
        format!("{field}: no certificate has id {id:?}"),
    )
}

pub(super) fn kind_str(kind: CertificateKind) -> &'static str {
    match kind {
        CertificateKind::Server => "SVR",
        CertificateKind::Ca => "CA",
    }
}

/// Checks a PEM certificate (and its key), stores it under a new id and
/// adds its entry to `file`. `fields` names the content and key inputs.
pub(super) fn store_new(
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
