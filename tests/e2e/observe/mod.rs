//! The access log, `/metrics` and the status page, seen from outside: real
//! listeners, real targets, the admin listener, headless Chromium.

mod access_log;
mod metrics;
mod mix;
mod status_page;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// The admin credentials of these tests.
pub const SECRET_ID: &str = "AKIDobserve0001";
pub const SECRET_KEY: &str = "observe-test-secret-key";

/// A configuration with an admin listener at `admin`, `global` lines in
/// `[global]`, and `rest` (load balancers).
pub fn config(admin: SocketAddr, global: &str, rest: &str) -> String {
    format!(
        r#"
[global]
state_dir = "var"
{global}

[admin]
listen = "{admin}"
secret_id = "{SECRET_ID}"
secret_key = "{SECRET_KEY}"

{rest}
"#
    )
}

/// The load balancer of the request-mix tests: domain `a.test` with a rule
/// per outcome (live target, dead target, redirect), domain `b.test` with
/// `/only`, and no default domain (unknown hosts get 404).
pub fn mix(port: u16, live: SocketAddr, dead: SocketAddr) -> String {
    format!(
        r#"
[[load_balancer]]
id = "lb-observe1"
name = "observe"
vip = "127.0.0.1"
  [[load_balancer.listener]]
  id = "lbl-observe1"
  protocol = "HTTP"
  port = {port}
  default_server = false
    [[load_balancer.listener.domain]]
    name = "a.test"
      [[load_balancer.listener.domain.rule]]
      id = "loc-live0001"
      url = "/"
      health_check = {{ enabled = false }}
      targets = [{{ address = "{live}" }}]
      [[load_balancer.listener.domain.rule]]
      id = "loc-dead0001"
      url = "/dead"
      health_check = {{ enabled = false }}
      targets = [{{ address = "{dead}" }}]
      [[load_balancer.listener.domain.rule]]
      id = "loc-old00001"
      url = "/old"
      health_check = {{ enabled = false }}
      targets = [{{ address = "{live}" }}]
    [[load_balancer.listener.domain]]
    name = "b.test"
      [[load_balancer.listener.domain.rule]]
      id = "loc-only0001"
      url = "/only"
      health_check = {{ enabled = false }}
      targets = [{{ address = "{live}" }}]

[[load_balancer.rewrite]]
source = {{ listener = "lbl-observe1", domain = "a.test", url = "/old" }}
target = {{ listener = "lbl-observe1", domain = "a.test", url = "/" }}
code = 301
"#
    )
}

/// Starts the admin listener of an in-process stgw.
pub async fn admin(stgw: &Stgw) -> stgw::admin::AdminServer {
    let snapshot = stgw.runtime.snapshot();
    let settings = snapshot.config.admin.as_ref().expect("an [admin] section");
    let store = std::sync::Arc::new(stgw::store::Store::file(stgw.runtime.clone()));
    stgw::admin::start(store, settings)
        .await
        .expect("admin listener")
}

/// A port nothing listens on (a dead target).
pub fn dead_target() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// The lines of the file at `path` once it has at least `n` of them.
pub async fn lines(path: &Path, n: usize) -> Vec<String> {
    let mut last = Vec::new();
    for _ in 0..200 {
        last = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        if last.len() >= n {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "{} has {} lines, not {n}: {last:#?}",
        path.display(),
        last.len()
    );
}

/// Access log lines as JSON objects.
pub fn records(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// One sample of an OpenMetrics text: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the samples of an OpenMetrics text (comments skipped).
pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (head, value) = l.rsplit_once(' ').expect("a value");
            let (name, labels) = match head.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (head, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once("=\"").expect("label=\"value\"");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The value of the sample named `name` with exactly `labels`.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == wanted)
        .map(|s| s.value)
}

/// GETs `/metrics` from the admin listener and parses it.
pub async fn scrape(admin: SocketAddr) -> Vec<Sample> {
    let got = get(admin, "admin", "/metrics").await;
    assert_eq!(got.status, 200, "{}", got.text());
    let kind = got.headers["content-type"].to_str().unwrap();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = got.text();
    assert!(text.ends_with("# EOF\n"));
    samples(&text)
}
