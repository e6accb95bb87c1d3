//! Domains of a listener: ModifyDomain and ModifyDomainAttributes.
//!
//! A domain is a `[[load_balancer.listener.domain]]`. Renaming one
//! carries its rules, the redirects that name it, and the AutoRewrite
//! domain lists along.

use serde_json::Value;

use super::cert_input::{CertificateInput, resolve_domain_certificate};
use super::common::{lb_mut, listener_mut, same_domain};
use super::listeners::set_default_domain;
use super::rules::check_domain;
use super::{Api, cert_dir, empty};
use crate::admin::certs::StoredCert;
use crate::admin::error::ApiError;
use crate::admin::params::input;
use crate::config::model::{LoadBalancer, Protocol};

input! {
    /// ModifyDomain input.
    pub struct ModifyDomainInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Listener id.
        listener_id: req String = "ListenerId",
        /// The domain now.
        domain: req String = "Domain",
        /// Its new name, 1–120 characters.
        new_domain: req String = "NewDomain",
    }
}

/// Renames domain `old` of listener `listener_id` (with its redirects and
/// AutoRewrite domain lists).
fn rename_domain(
    lb: &mut LoadBalancer,
    listener_id: &str,
    old: &str,
    new: &str,
    field: &str,
) -> Result<(), ApiError> {
    let l = listener_mut(lb, listener_id, "ListenerId")?;
    if !same_domain(old, new) && l.domains.iter().any(|d| same_domain(&d.name, new)) {
        return Err(ApiError::invalid(
            field,
            format!("listener {listener_id} already has a domain {new:?}"),
        ));
    }
    let Some(d) = l.domains.iter_mut().find(|d| same_domain(&d.name, old)) else {
        return Err(ApiError::location_not_found(
            "Domain",
            format!("listener {listener_id} has no domain {old:?}"),
        ));
    };
    d.name = new.trim().to_owned();
    for rw in &mut lb.rewrites {
        for end in [&mut rw.source, &mut rw.target] {
            if end.listener == listener_id && same_domain(&end.domain, old) {
                end.domain = new.trim().to_owned();
            }
        }
    }
    for a in &mut lb.auto_rewrites {
        if a.listener == listener_id
            && let Some(names) = &mut a.domains
        {
            for n in names.iter_mut() {
                if same_domain(n, old) {
                    *n = new.trim().to_owned();
                }
            }
        }
    }
    Ok(())
}

/// Renames a domain (every rule of it).
pub(crate) async fn modify_domain(api: &Api, input: ModifyDomainInput) -> Result<Value, ApiError> {
    check_domain("NewDomain", &input.new_domain)?;
    api.store
        .write(|file, _| {
            let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
            rename_domain(
                lb,
                &input.listener_id,
                &input.domain,
                &input.new_domain,
                "NewDomain",
            )
        })
        .await?;
    empty()
}

input! {
    /// ModifyDomainAttributes input.
    pub struct ModifyDomainAttributesInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// Listener id.
        listener_id: req String = "ListenerId",
        /// The domain.
        domain: req String = "Domain",
        /// New name.
        new_domain: opt String = "NewDomain",
        /// The domain's certificate (SNI listeners).
        certificate: opt CertificateInput = "Certificate",
        /// HTTPS: offer HTTP/2.
        http2: opt bool = "Http2",
        /// Make it (or stop it being) the default domain.
        default_server: opt bool = "DefaultServer",
        /// The new default when this one stops being it.
        new_default_server_domain: opt String = "NewDefaultServerDomain",
    }
}

/// Changes a domain's name, certificate, HTTP/2 or default flag.
pub(crate) async fn modify_domain_attributes(
    api: &Api,
    input: ModifyDomainAttributesInput,
) -> Result<Value, ApiError> {
    if let Some(n) = &input.new_domain {
        check_domain("NewDomain", n)?;
    }
    let mut uploads: Vec<StoredCert> = Vec::new();
    let result = api
        .store
        .write(|file, config| {
            let cert = match &input.certificate {
                Some(c) => resolve_domain_certificate(
                    c,
                    file,
                    &cert_dir(config),
                    "Certificate",
                    &mut uploads,
                )?,
                None => None,
            };
            let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
            let mut name = input.domain.clone();
            if let Some(new) = &input.new_domain {
                rename_domain(lb, &input.listener_id, &input.domain, new, "NewDomain")?;
                name = new.clone();
            }
            let l = listener_mut(lb, &input.listener_id, "ListenerId")?;
            let https = l.protocol == Protocol::Https;
            let sni = l.sni;
            let Some(di) = l.domains.iter().position(|d| same_domain(&d.name, &name)) else {
                return Err(ApiError::location_not_found(
                    "Domain",
                    format!(
                        "listener {} has no domain {:?}",
                        input.listener_id, input.domain
                    ),
                ));
            };
            if let Some(h2) = input.http2 {
                if h2 && !https {
                    return Err(ApiError::invalid(
                        "Http2",
                        "only domains of HTTPS listeners offer HTTP/2",
                    ));
                }
                l.domains[di].http2 = h2;
            }
            if let Some(c) = cert {
                if !(https && sni) {
                    return Err(ApiError::invalid(
                        "Certificate",
                        "a domain certificate needs an HTTPS listener with SNI on (SniSwitch 1)",
                    ));
                }
                l.domains[di].certificate = Some(c);
            }
            match input.default_server {
                Some(true) => {
                    let n = l.domains[di].name.clone();
                    set_default_domain(l, &n, "Domain")?;
                }
                Some(false) => {
                    // The listener must keep a default domain: turning the
                    // current one off needs its successor named.
                    let current = l.default_domain() == Some(di);
                    if current && input.new_default_server_domain.is_none() {
                        return Err(ApiError::invalid(
                            "NewDefaultServerDomain",
                            format!(
                                "{:?} is the listener's default domain: to turn it off, name the new default domain in NewDefaultServerDomain",
                                l.domains[di].name
                            ),
                        ));
                    }
                    l.domains[di].default_server = false;
                }
                None => {}
            }
            if let Some(n) = &input.new_default_server_domain {
                set_default_domain(l, n, "NewDefaultServerDomain")?;
            }
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
