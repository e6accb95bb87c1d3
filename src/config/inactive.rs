//! Settings that parse and validate but whose feature has not landed yet:
//! each is named in a warning at load time, never silently ignored.

use super::model::ConfigFile;
use super::{AccessLogTarget, CustomConfig, GlobalSettings};

/// One warning per configured setting that does not act yet.
pub fn warnings(
    file: &ConfigFile,
    global: &GlobalSettings,
    customs: &[&CustomConfig],
) -> Vec<String> {
    let mut out = Vec::new();
    let mut say = |what: &str| out.push(format!("not yet active: {what}"));
    if global.access_log != AccessLogTarget::Off {
        say("global.access_log (no access log is written)");
    }
    let rules = || {
        file.load_balancers
            .iter()
            .flat_map(|lb| &lb.listeners)
            .flat_map(|l| &l.domains)
            .flat_map(|d| &d.rules)
    };
    if rules().any(|r| r.forward_type.is_h2()) {
        say("forward_type GRPC / GRPCS (targets are spoken to in HTTP/1.1)");
    }
    if rules().any(|r| r.gzip) {
        say("gzip (responses pass through uncompressed)");
    }
    for c in customs {
        for (set, name) in [
            (!c.add_headers.is_empty(), "add_header"),
            (!c.more_set_headers.is_empty(), "more_set_headers"),
            (!c.proxy_set_headers.is_empty(), "proxy_set_header"),
            (!c.error_pages.is_empty(), "error_page"),
            (c.proxy_redirect_https, "proxy_redirect"),
            (c.proxy_ignore_client_abort, "proxy_ignore_client_abort"),
        ] {
            if set {
                say(&format!("custom_config {name}"));
            }
        }
    }
    out.dedup();
    out
}
