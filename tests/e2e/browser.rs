//! A real browser through stgw: headless Chromium loads a page and its
//! script over HTTPS, fetches a gzipped answer, uploads a megabyte, talks
//! over a WebSocket and stays on one target by stgw's sticky cookie; over
//! HTTP/2 (ALPN's choice; the WebSocket then rides the same connection,
//! RFC 8441) and over HTTP/1.1.

use std::net::SocketAddr;

use crate::browser_support::{Browser, chromium};
use crate::pki::{Kind, Pki};
use crate::support::*;
use crate::websocket::echo_server;

const HOST: &str = "www.browser.test";

const PAGE: &str = "<!doctype html><html><head><title>stgw</title>\
    <script src=\"/app.js\"></script></head><body>hello</body></html>";

/// JSON that gzip shrinks well.
fn data() -> String {
    let items: Vec<String> = (0..500)
        .map(|i| format!("{{\"id\":{i},\"name\":\"item {i}\"}}"))
        .collect();
    format!("[{}]", items.join(","))
}

/// The page, its script, `/data` and `/upload` (answers the body's length).
async fn site() -> Backend {
    Backend::start_with("site", "127.0.0.1:0", |seen| {
        let (kind, body) = match seen.uri.path() {
            "/" => ("text/html", PAGE.to_owned()),
            "/app.js" => ("application/javascript", "window.app = 'ran';".to_owned()),
            "/data" => ("application/json", data()),
            "/upload" => ("text/plain", seen.body.len().to_string()),
            _ => ("text/plain", "other".to_owned()),
        };
        let mut reply = Reply::text(body);
        reply.headers = vec![("content-type".into(), kind.into())];
        reply
    })
    .await
}

fn config(
    port: u16,
    certificate: &str,
    site: SocketAddr,
    echo: SocketAddr,
    sticky: [SocketAddr; 2],
) -> String {
    let [s1, s2] = sticky;
    format!(
        r#"
[global]
state_dir = "var"
access_log = "access.log"
[[load_balancer]]
name = "browser"
vip = "127.0.0.1"
  [[load_balancer.listener]]
  protocol = "HTTPS"
  {certificate}
  port = {port}
    [[load_balancer.listener.domain]]
    name = "{HOST}"
      [[load_balancer.listener.domain.rule]]
      url = "= /ws"
      targets = [{{ address = "{echo}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "/sticky"
      session_expire_time = 30
      targets = [{{ address = "{s1}" }}, {{ address = "{s2}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{site}" }}]
"#
    )
}

/// Everything the page does, as one JSON string.
const SCRIPT: &str = r#"(async () => {
  const protocol = performance.getEntriesByType('navigation')[0].nextHopProtocol;
  const data = await fetch('/data');
  const text = await data.text();
  const items = JSON.parse(text).length;
  const encoding = data.headers.get('content-encoding');
  const upload = await fetch('/upload', {method: 'POST', body: new Uint8Array(1 << 20).fill(7)});
  const uploaded = await upload.text();
  const echo = await new Promise((ok, fail) => {
    const ws = new WebSocket('wss://' + location.host + '/ws');
    ws.onopen = () => ws.send('hello over ' + protocol);
    ws.onmessage = e => { ok(e.data); ws.close(); };
    ws.onerror = () => fail('websocket error');
  });
  const sticky = new Set();
  for (let i = 0; i < 6; i++) sticky.add(await (await fetch('/sticky')).text());
  return JSON.stringify({protocol, app: window.app, items, encoding, uploaded, echo, sticky: sticky.size});
})().catch(e => 'failed: ' + e)"#;

/// What one visit showed: the page's report, the page request as the
/// target saw it, and the access log once the WebSocket tunnel closed.
struct Visit {
    report: serde_json::Value,
    page: Seen,
    records: Vec<serde_json::Value>,
}

/// Chromium (with `switches`) visits a site behind an HTTPS listener and
/// runs [`SCRIPT`].
async fn visit(binary: &std::path::Path, switches: &[&str]) -> Visit {
    let (site, echo) = (site().await, echo_server().await);
    let (s1, s2) = (Backend::start("s1").await, Backend::start("s2").await);
    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let cert = pki.server("www", &[HOST], Kind::Ecdsa);
    let port = free_port();
    let stgw = Stgw::start(&config(
        port,
        &cert.listener_setting(),
        site.addr,
        echo,
        [s1.addr, s2.addr],
    ));

    let url = format!("https://{HOST}:{port}/");
    let resolve = format!("--host-resolver-rules=MAP {HOST} 127.0.0.1");
    let mut args = vec!["--ignore-certificate-errors", resolve.as_str()];
    args.extend_from_slice(switches);
    let mut browser = Browser::open(binary, &url, &args).await;
    browser.wait_loaded(&url).await;
    let result = browser.eval(SCRIPT).await;
    let report = serde_json::from_str(result.as_str().unwrap_or_default())
        .unwrap_or_else(|_| panic!("the page says {result}"));
    let page = site
        .seen
        .lock()
        .unwrap()
        .iter()
        .find(|s| s.uri.path() == "/")
        .cloned()
        .expect("the page was requested");
    let records = tunnel_logged(&stgw.dir.path().join("access.log")).await;
    Visit {
        report,
        page,
        records,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_loads_fetches_uploads_and_talks_websocket_over_h2() {
    let Some(binary) = chromium("the browser test over HTTP/2") else {
        return;
    };
    let visit = visit(&binary, &[]).await;
    assert_eq!(
        visit.report,
        serde_json::json!({
            "protocol": "h2",
            "app": "ran",
            "items": 500,
            "encoding": "gzip",
            "uploaded": "1048576",
            "echo": "hello over h2",
            "sticky": 1,
        })
    );
    // The target saw the browser's requests with the headers stgw adds.
    assert_eq!(visit.page.headers["x-client-proto"], "https");
    assert_eq!(visit.page.headers["x-real-ip"], "127.0.0.1");
    // The WebSocket went over the page's HTTP/2 connection (RFC 8441).
    let tunnel = visit
        .records
        .iter()
        .find(|r| r["request"] == "CONNECT /ws HTTP/2.0")
        .expect("the tunnel's record");
    assert_eq!(tunnel["upstream_status"], "101", "{tunnel}");
    let first = &visit.records[0]["remote_port"];
    assert!(
        visit.records.iter().all(|r| &r["remote_port"] == first),
        "one connection carried everything: {:#?}",
        visit.records
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_does_the_same_over_http_1_1() {
    let Some(binary) = chromium("the browser test over HTTP/1.1") else {
        return;
    };
    let visit = visit(&binary, &["--disable-http2"]).await;
    assert_eq!(
        visit.report,
        serde_json::json!({
            "protocol": "http/1.1",
            "app": "ran",
            "items": 500,
            "encoding": "gzip",
            "uploaded": "1048576",
            "echo": "hello over http/1.1",
            "sticky": 1,
        })
    );
    assert_eq!(visit.page.headers["x-client-proto"], "https");
    let tunnel = visit
        .records
        .iter()
        .find(|r| r["request"] == "GET /ws HTTP/1.1")
        .expect("the tunnel's record");
    assert_eq!(tunnel["status"], 101, "{tunnel}");
}

/// The access log's records once the WebSocket tunnel's is among them.
async fn tunnel_logged(log: &std::path::Path) -> Vec<serde_json::Value> {
    for _ in 0..200 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if text.contains(" /ws HTTP") {
            return crate::observe::records(&lines);
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no tunnel record in {}", log.display());
}
