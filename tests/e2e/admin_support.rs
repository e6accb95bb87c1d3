//! The stgw binary with an `[admin]` listener, and a signed API client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};

use crate::support::*;
use stgw::admin::sign::sign_tc3;

/// The test credentials.
pub const SECRET_ID: &str = "AKIDstgwtest0001";
/// The test SecretKey (given to stgw through the environment).
pub const SECRET_KEY: &str = "stgw-test-secret-key-0001";
/// The variable `secret_key_env` names.
pub const SECRET_ENV: &str = "STGW_TEST_ADMIN_KEY";

/// A configuration with an admin listener on `admin_port` and `rest`
/// (load balancers, global settings…) after it.
pub fn admin_config(admin_port: u16, global_extra: &str, rest: &str) -> String {
    format!(
        r#"
[global]
state_dir = "var"
{global_extra}

[admin]
listen = "127.0.0.1:{admin_port}"
secret_id = "{SECRET_ID}"
secret_key_env = "{SECRET_ENV}"

{rest}
"#
    )
}

/// The stgw binary running a configuration with `[admin]`.
pub struct AdminNode {
    pub child: Option<Child>,
    pub dir: TempDir,
    pub admin: SocketAddr,
}

impl AdminNode {
    /// Writes `toml` and starts stgw; waits for the admin listener.
    pub async fn start(toml: &str, admin_port: u16) -> AdminNode {
        let dir = TempDir::new();
        std::fs::write(dir.path().join("stgw.toml"), toml).unwrap();
        let mut node = AdminNode {
            child: None,
            dir,
            admin: SocketAddr::from(([127, 0, 0, 1], admin_port)),
        };
        node.spawn().await;
        node
    }

    async fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_stgw"))
            .arg("--config")
            .arg(self.config_path())
            .env(SECRET_ENV, SECRET_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stgw");
        self.child = Some(child);
        wait_listening(self.admin).await;
    }

    /// Starts a new stgw with `--upgrade` on the same file: it takes the
    /// listening sockets (the admin one too) and the old one drains and
    /// exits. Returns the old process's exit code.
    pub async fn upgrade(&mut self) -> Option<i32> {
        let new = Command::new(env!("CARGO_BIN_EXE_stgw"))
            .arg("--config")
            .arg(self.config_path())
            .arg("--upgrade")
            .env(SECRET_ENV, SECRET_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stgw --upgrade");
        let mut old = self.child.replace(new).expect("a running stgw");
        tokio::task::spawn_blocking(move || old.wait().ok().and_then(|s| s.code()))
            .await
            .unwrap()
    }

    /// The configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("stgw.toml")
    }

    /// `kill -9`, then a fresh start on the same file.
    pub async fn crash_and_restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reap");
        }
        // The kernel may keep the listening sockets a moment.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(self.admin).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.spawn().await;
    }

    /// Calls `action`, returning `Response` (success or error).
    pub async fn call(&self, action: &str, params: Value) -> Value {
        call_with(
            self.admin,
            action,
            &params,
            SECRET_ID,
            SECRET_KEY,
            now(),
            "2018-03-17",
        )
        .await
    }

    /// Calls `action` and panics on an error answer.
    pub async fn ok(&self, action: &str, params: Value) -> Value {
        let r = self.call(action, params).await;
        assert!(r.get("Error").is_none(), "{action} failed: {r}");
        r
    }

    /// Calls `action` and returns the error code (panics on success).
    pub async fn err(&self, action: &str, params: Value) -> (String, String) {
        let r = self.call(action, params.clone()).await;
        let e = r
            .get("Error")
            .unwrap_or_else(|| panic!("{action} {params} succeeded: {r}"));
        (
            e["Code"].as_str().unwrap_or_default().to_owned(),
            e["Message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

impl Drop for AdminNode {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A TC3-signed POST, as the vendor's SDK sends it; returns `Response`.
pub async fn call_with(
    admin: SocketAddr,
    action: &str,
    params: &Value,
    id: &str,
    key: &str,
    timestamp: i64,
    version: &str,
) -> Value {
    try_call_with(admin, action, params, id, key, timestamp, version)
        .await
        .expect("admin call")
}

/// [`call_with`], with `None` when the connection fails (no answer).
pub async fn try_call_with(
    admin: SocketAddr,
    action: &str,
    params: &Value,
    id: &str,
    key: &str,
    timestamp: i64,
    version: &str,
) -> Option<Value> {
    let body = serde_json::to_vec(params).unwrap();
    let host = admin.to_string();
    let headers = sign_tc3(
        id,
        key,
        &host,
        action,
        version,
        Some("ap-guangzhou"),
        timestamp,
        &body,
    );
    let mut req = Request::post("/")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    *req.headers_mut() = headers;
    let got = send(admin, None, req).await.ok()?;
    assert_eq!(got.status, 200, "the API always answers 200");
    assert_eq!(
        got.headers.get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/json")
    );
    let v: Value = serde_json::from_slice(&got.body).expect("JSON answer");
    assert!(v["Response"]["RequestId"].is_string(), "{v}");
    Some(v["Response"].clone())
}

/// Creates a load balancer, an HTTP listener on `port` and one rule
/// (`domain`, `/`); returns (lb, listener, location).
pub async fn http_rule(node: &AdminNode, port: u16, domain: &str) -> (String, String, String) {
    let lb = node
        .ok(
            "CreateLoadBalancer",
            json!({"LoadBalancerType": "INTERNAL", "LoadBalancerName": "t"}),
        )
        .await["LoadBalancerIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let listener = node
        .ok(
            "CreateListener",
            json!({"LoadBalancerId": lb, "Ports": [port], "Protocol": "HTTP"}),
        )
        .await["ListenerIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let loc = node
        .ok(
            "CreateRule",
            json!({"LoadBalancerId": lb, "ListenerId": listener, "Rules": [{"Domain": domain, "Url": "/"}]}),
        )
        .await["LocationIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    (lb, listener, loc)
}

/// A self-signed server certificate for `name` (CN and SAN): (PEM, key PEM).
pub fn certificate(name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Whether this process may bind privileged ports (root).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
