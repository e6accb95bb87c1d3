//! Settings that parse and validate but whose feature has not landed yet:
//! each is named in a warning at load time, never silently ignored.

use super::GlobalSettings;
use super::model::ConfigFile;

/// One warning per configured setting that does not act yet.
pub fn warnings(file: &ConfigFile, _global: &GlobalSettings) -> Vec<String> {
    let mut out = Vec::new();
    let mut say = |what: &str| out.push(format!("not yet active: {what}"));
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
    out
}
