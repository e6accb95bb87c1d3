//! `/status.json`, credentials off loopback, and `/status` in headless
//! Chromium showing a target go from healthy to dead without a reload.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::Request;
use http_body_util::Full;

use super::*;
use crate::browser_support::{Browser, chromium};

const CHECK: &str = "health_check = { interval = 5, timeout = 2, healthy_threshold = 2, unhealthy_threshold = 2, path = \"/\" }";

fn two_targets(port: u16, a: SocketAddr, b: SocketAddr) -> String {
    let toml = one_rule(port, "status.test", "/", CHECK, &[(a, 10), (b, 20)]);
    toml.split_once("[[load_balancer]]")
        .map(|(_, lb)| format!("[[load_balancer]]{lb}"))
        .unwrap()
}

/// Sends requests until `dead` has been tried (and ejected: it refuses).
async fn eject(addr: SocketAddr) {
    for _ in 0..6 {
        assert_eq!(get(addr, "status.test", "/").await.status, 200);
    }
}

#[tokio::test]
async fn status_json_lists_every_object_with_its_live_state() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let (port, admin_port) = (free_port(), free_port());
    let admin_addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let stgw = Stgw::start(&config(admin_addr, "", &two_targets(port, a.addr, b.addr)));
    let _admin = admin(&stgw).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..6 {
        get(addr, "status.test", "/").await;
    }
    b.stop();
    eject(addr).await;

    let got = get(admin_addr, "admin", "/status.json").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        v["store"],
        serde_json::json!({"kind": "file", "healthy": true, "revision": 0, "apply_error": null})
    );
    let lb = &v["load_balancers"][0];
    assert_eq!(lb["name"], "test");
    let listener = &lb["listeners"][0];
    assert_eq!(listener["protocol"], "HTTP");
    assert_eq!(listener["address"], addr.to_string());
    assert!(listener["connections_total"].as_u64().unwrap() >= 12);
    let domain = &listener["domains"][0];
    assert_eq!(domain["name"], "status.test");
    assert_eq!(domain["default"], true);
    let rule = &domain["rules"][0];
    assert_eq!(rule["url"], "/");
    assert_eq!(rule["scheduler"], "WRR");
    assert_eq!(rule["all_dead"], false);
    let targets = rule["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["address"], a.addr.to_string());
    assert_eq!(targets[0]["weight"], 10);
    assert_eq!(targets[1]["weight"], 20);
    assert_ne!(targets[0]["health"], "dead");
    assert_eq!(targets[1]["health"], "dead", "{v}");
    assert_eq!(targets[0]["active_requests"], 0);
    // 12 requests, about half of them to a, within the 10 s window.
    assert!(targets[0]["requests_per_second"].as_f64().unwrap() > 0.0);
    assert!(targets[0]["latency_ms"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn off_loopback_the_pages_ask_for_the_api_credentials() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let (port, admin_port) = (free_port(), free_port());
    let any = SocketAddr::from(([0, 0, 0, 0], admin_port));
    let stgw = Stgw::start(&config(any, "", &two_targets(port, a.addr, b.addr)));
    let _admin = admin(&stgw).await;
    let admin_addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
    for path in ["/metrics", "/status", "/status.json"] {
        let got = get(admin_addr, "admin", path).await;
        assert_eq!(got.status, 401, "{path}");
        assert_eq!(
            got.headers["www-authenticate"],
            "Basic realm=\"stgw\", charset=\"UTF-8\""
        );
        let basic = |user: &str, key: &str| {
            let token = base64(format!("{user}:{key}").as_bytes());
            Request::get(path)
                .header("host", "admin")
                .header("authorization", format!("Basic {token}"))
                .body(Full::default())
                .unwrap()
        };
        let wrong = send(admin_addr, None, basic(SECRET_ID, "nope"))
            .await
            .unwrap();
        assert_eq!(wrong.status, 401, "{path}");
        let right = send(admin_addr, None, basic(SECRET_ID, SECRET_KEY))
            .await
            .unwrap();
        assert_eq!(right.status, 200, "{path}");
    }
}

fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                char::from(A[(n >> (18 - 6 * i) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

impl Browser {
    /// The health each target row shows: (target, health).
    async fn rows(&mut self) -> Vec<(String, String)> {
        let v = self
            .eval(
                "JSON.stringify(Array.from(document.querySelectorAll('tr[data-target]'))\
                 .map(r => [r.dataset.target, r.querySelector('td.' + r.dataset.health) ? r.dataset.health : '?']))",
            )
            .await;
        serde_json::from_str(v.as_str().unwrap_or("[]")).unwrap_or_default()
    }

    /// Waits until the page shows `want` for every target in it.
    async fn wait_for(&mut self, want: &[(String, &str)], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let rows = self.rows().await;
            let shown = |t: &str| rows.iter().find(|(a, _)| a == t).map(|(_, h)| h.as_str());
            if want.iter().all(|(t, h)| shown(t) == Some(*h)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page shows {rows:?}, not {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test]
async fn the_status_page_in_chromium_shows_a_target_going_from_healthy_to_dead() {
    let Some(binary) = chromium("the status page test") else {
        return;
    };
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let (port, admin_port) = (free_port(), free_port());
    let admin_addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let stgw = Stgw::start(&config(admin_addr, "", &two_targets(port, a.addr, b.addr)));
    let _admin = admin(&stgw).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let url = format!("http://{admin_addr}/status");
    let mut browser = Browser::open(&binary, &url, &[]).await;
    let (ta, tb) = (a.addr.to_string(), b.addr.to_string());
    // Both are probed alive within a second of starting.
    browser
        .wait_for(
            &[(ta.clone(), "alive"), (tb.clone(), "alive")],
            Duration::from_secs(15),
        )
        .await;
    // Mark this page load: a reload would lose the mark.
    browser.eval("window.loadedOnce = 'yes'").await;

    b.stop();
    eject(addr).await;
    browser
        .wait_for(
            &[(ta.clone(), "alive"), (tb.clone(), "dead")],
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(
        browser.eval("window.loadedOnce").await,
        "yes",
        "the page refreshed itself in place"
    );
    let text = browser.eval("document.body.innerText").await;
    let text = text.as_str().unwrap();
    assert!(text.contains("status.test (default)"), "{text}");
    assert!(text.contains(&format!("HTTP {addr}")), "{text}");
}
