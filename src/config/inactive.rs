//! Settings that parse and validate but whose feature has not landed yet:
//! each is named in a warning at load time, never silently ignored.

use super::{AccessLogTarget, GlobalSettings};

/// One warning per configured setting that does not act yet.
pub fn warnings(global: &GlobalSettings) -> Vec<String> {
    let mut out = Vec::new();
    let mut say = |what: &str| out.push(format!("not yet active: {what}"));
    if global.access_log != AccessLogTarget::Off {
        say("global.access_log (no access log is written)");
    }
    out
}
