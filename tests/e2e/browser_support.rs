//! Headless Chromium for end-to-end tests, driven over the DevTools
//! protocol: open a page, evaluate JavaScript in it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

/// Debian's `chromium` (or another Chromium build on PATH); if there is
/// none, a loud message that `test` is skipped.
pub fn chromium(test: &str) -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        });
    if found.is_none() {
        eprintln!(
            "\n!!!!!!!! SKIPPED {test}: it needs Chromium (Debian: apt-get install chromium); .ci/run installs it !!!!!!!!\n"
        );
    }
    found
}

/// Headless Chromium showing one page, driven over the DevTools protocol.
pub struct Browser {
    _child: Running,
    _profile: TempDir,
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Browser {
    /// Starts Chromium on `url` with `extra` command-line switches and
    /// attaches to that page.
    pub async fn open(binary: &Path, url: &str, extra: &[&str]) -> Browser {
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
            .args(extra)
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

    /// Waits until the page shows `url`, fully loaded (until then, scripts
    /// may run in the blank page it started from).
    pub async fn wait_loaded(&mut self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = self.eval("location.href + ' ' + document.readyState").await;
            if state == format!("{url} complete").as_str() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page is at {state}, not {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Evaluates `expression` in the page (awaiting it if it is a
    /// promise); returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let call = serde_json::json!({
            "id": id,
            "method": "Runtime.evaluate",
            "params": {"expression": expression, "returnByValue": true, "awaitPromise": true},
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
}

/// A child process, killed when dropped (also when a test fails).
pub struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
