//! `/status.json`, credentials off loopback, and `/status` in headless
//! Chromium showing a target go from healthy to dead without a reload.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use http::Request;
use http_body_util::Full;
use tokio_tungstenite::tungstenite::Message;

use super::*;

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

/// Debian's `chromium` (or another Chromium build on PATH).
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

/// Headless Chromium showing one page, driven over the DevTools protocol.
struct Browser {
    _child: Running,
    _profile: TempDir,
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Browser {
    async fn open(binary: &PathBuf, url: &str) -> Browser {
        let profile = TempDir::new();
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let child = Running(child);
        // Chromium writes its DevTools port into the profile.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port: u16 = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.lines().next().and_then(|l| l.parse().ok()))
            {
                break p;
            }
            assert!(Instant::now() < deadline, "chromium did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let devtools = SocketAddr::from(([127, 0, 0, 1], port));
        let page = loop {
            // The websocket URLs it lists are built from this Host.
            let list = get(devtools, &devtools.to_string(), "/json/list").await;
            let pages: Value = serde_json::from_slice(&list.body).unwrap_or_default();
            let found = pages.as_array().and_then(|ps| {
                ps.iter()
                    .find(|p| {
                        p["type"] == "page" && p["url"].as_str().is_some_and(|u| u.starts_with(url))
                    })
                    .and_then(|p| p["webSocketDebuggerUrl"].as_str().map(str::to_owned))
            });
            if let Some(ws) = found {
                break ws;
            }
            assert!(
                Instant::now() < deadline,
                "chromium shows no page for {url}: {pages}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(page.as_str())
            .await
            .expect("DevTools websocket");
        Browser {
            _child: child,
            _profile: profile,
            socket,
            next_id: 0,
        }
    }

    /// Evaluates `expression` in the page; returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let call = serde_json::json!({
            "id": id,
            "method": "Runtime.evaluate",
            "params": {"expression": expression, "returnByValue": true},
        });
        self.socket
            .send(Message::Text(call.to_string().into()))
            .await
            .expect("DevTools send");
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("DevTools answer in time")
                .expect("DevTools open")
                .expect("DevTools message");
            if let Message::Text(text) = msg {
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["id"] == id {
                    return v["result"]["result"]["value"].clone();
                }
            }
        }
    }

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

/// A child process, killed when dropped (also when a test fails).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_status_page_in_chromium_shows_a_target_going_from_healthy_to_dead() {
    let Some(binary) = chromium() else {
        eprintln!(
            "\n!!!!!!!! SKIPPED: the status page test needs Chromium (Debian: apt-get install chromium); .ci/run installs it !!!!!!!!\n"
        );
        return;
    };
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let (port, admin_port) = (free_port(), free_port());
    let admin_addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let stgw = Stgw::start(&config(admin_addr, "", &two_targets(port, a.addr, b.addr)));
    let _admin = admin(&stgw).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let url = format!("http://{admin_addr}/status");
    let mut browser = Browser::open(&binary, &url).await;
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
