//! A single-member etcd on loopback and three stgw nodes (the real
//! binary) sharing one configuration in it, each binding the shared load
//! balancer on its own `[node] vip` (127.0.0.11, .12, .13; same ports).

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::admin_support::*;
use crate::support::*;

/// The load balancer every node shares.
pub const LB: &str = "lb-shared01";
/// Its HTTP listener.
pub const LISTENER: &str = "lbl-shared01";
/// That listener's one rule.
pub const LOCATION: &str = "loc-shared01";
/// The rule's domain.
pub const DOMAIN: &str = "www.shared.test";
/// The key prefix the tests use.
pub const PREFIX: &str = "/stgw-e2e/";

/// Where Debian's etcd-server package puts the binary.
const ETCD: &str = "/usr/bin/etcd";

/// The etcd binary, if installed (else a loud message: the test is skipped).
pub fn etcd_binary(test: &str) -> Option<PathBuf> {
    let found = [PathBuf::from(ETCD)]
        .into_iter()
        .chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths)
                .map(|d| d.join("etcd")),
        )
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!(
            "\n!!! SKIPPED {test}: no etcd binary ({ETCD} or on PATH); install Debian's etcd-server (.ci/run does) !!!\n"
        );
    }
    found
}

/// A single-member etcd on loopback, its data in a scratch folder.
pub struct Etcd {
    binary: PathBuf,
    child: Option<Child>,
    pub dir: TempDir,
    pub client_port: u16,
    peer_port: u16,
}

impl Etcd {
    /// Starts etcd and waits until it answers. A port taken by another
    /// test between [`free_port`] and etcd's bind makes etcd exit: it is
    /// started again on fresh ports.
    pub async fn start(binary: PathBuf) -> Etcd {
        let mut etcd = Etcd {
            binary,
            child: None,
            dir: TempDir::new(),
            client_port: free_port(),
            peer_port: free_port(),
        };
        for _ in 0..3 {
            if etcd.try_spawn().await {
                return etcd;
            }
            etcd.client_port = free_port();
            etcd.peer_port = free_port();
        }
        panic!("etcd exited at start three times (see a manual run of {ETCD})");
    }

    /// The client URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Starts the process on the same data and ports; waits until healthy.
    pub async fn spawn(&mut self) {
        assert!(self.try_spawn().await, "etcd exited at restart");
    }

    /// Starts the process and waits until it is healthy (true) or has
    /// exited (false). The deadline is generous: the whole suite runs in
    /// parallel on two cores, and etcd syncs to disk as it starts.
    async fn try_spawn(&mut self) -> bool {
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(&self.binary)
            .args(["--name", "e2e"])
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("e2e={peer}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn etcd");
        let child = self.child.insert(child);
        let health = SocketAddr::from(([127, 0, 0, 1], self.client_port));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return false;
            }
            let req = Request::get("/health")
                .header("host", "127.0.0.1")
                .body(Full::new(Bytes::new()))
                .unwrap();
            if let Ok(got) = send(health, None, req).await
                && got.text().contains("true")
            {
                return true;
            }
            assert!(Instant::now() < deadline, "etcd did not become healthy");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the process (SIGTERM, as a service manager would) and waits.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let mut child = child;
            let _ = child.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// etcd, three nodes, and the file the shared part was imported from.
/// The nodes stop before etcd does.
pub struct Cluster {
    pub nodes: Vec<AdminNode>,
    pub etcd: Etcd,
    /// The shared HTTP listener's port (on every node's vip).
    pub port: u16,
    pub dir: TempDir,
}

/// The `[store]` section for `etcd`.
pub fn store_section(etcd: &Etcd) -> String {
    format!(
        "[store]\nkind = \"etcd\"\nendpoints = [\"{}\"]\nprefix = \"{PREFIX}\"\n",
        etcd.endpoint()
    )
}

/// The file imported into the store: one load balancer, one HTTP listener
/// on `port`, one rule `/` for [`DOMAIN`] with `rule_extra` and `targets`
/// (health checks off), and `more` after it.
pub fn shared_file(
    etcd: &Etcd,
    port: u16,
    rule_extra: &str,
    targets: &[SocketAddr],
    more: &str,
) -> String {
    let targets: Vec<String> = targets
        .iter()
        .map(|a| format!("{{ address = \"{a}\" }}"))
        .collect();
    format!(
        r#"
{store}
[[load_balancer]]
id = "{LB}"
name = "shared"
vip = "127.0.0.1"
  [[load_balancer.listener]]
  id = "{LISTENER}"
  protocol = "HTTP"
  port = {port}
    [[load_balancer.listener.domain]]
    name = "{DOMAIN}"
      [[load_balancer.listener.domain.rule]]
      id = "{LOCATION}"
      url = "/"
      {rule_extra}
      targets = [{targets}]
      health_check = {{ enabled = false }}
{more}
"#,
        store = store_section(etcd),
        targets = targets.join(", ")
    )
}

/// Runs `stgw store <args> --config <file>`; returns (success, stdout, stderr).
pub fn stgw_store(file: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stgw"))
        .arg("store")
        .args(args)
        .arg("--config")
        .arg(file)
        .output()
        .expect("run stgw store");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Node `i`'s address (127.0.0.11 + i).
pub fn node_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11 + i as u8))
}

impl Cluster {
    /// Starts etcd, imports `shared` (see [`shared_file`]) and starts
    /// three nodes following it. `None` (after a loud message) when etcd
    /// is not installed.
    pub async fn start(test: &str, shared: impl FnOnce(&Etcd, u16) -> String) -> Option<Cluster> {
        let etcd = Etcd::start(etcd_binary(test)?).await;
        let dir = TempDir::new();
        let port = free_port();
        let import = dir.path().join("shared.toml");
        std::fs::write(&import, shared(&etcd, port)).unwrap();
        let (ok, out, err) = stgw_store(&import, &["import"]);
        assert!(ok, "store import failed:\n{out}\n{err}");
        let admin_port = free_port();
        let mut nodes = Vec::new();
        for i in 0..3 {
            nodes.push(start_node(&etcd, i, admin_port).await);
        }
        let cluster = Cluster {
            etcd,
            nodes,
            port,
            dir,
        };
        for i in 0..3 {
            wait_listening(cluster.addr(i)).await;
        }
        Some(cluster)
    }

    /// The shared listener on node `i`.
    pub fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::new(node_ip(i), self.port)
    }

    /// GET / for [`DOMAIN`] on node `i`: (status, body).
    pub async fn get(&self, i: usize) -> (u16, String) {
        let req = get_req(DOMAIN, "/");
        match send(self.addr(i), None, req).await {
            Ok(got) => (got.status.as_u16(), got.text()),
            Err(e) => (0, e),
        }
    }

    /// Waits until node `i` answers `body`; returns how long that took.
    pub async fn wait_for(&self, i: usize, body: &str, within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let got = self.get(i).await;
            if got == (200, body.to_owned()) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "node {i} still answers {got:?}, not {body:?}, after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Starts node `i`: its own file and state_dir, its vip for [`LB`], its
/// admin listener on its vip.
pub async fn start_node(etcd: &Etcd, i: usize, admin_port: u16) -> AdminNode {
    let ip = node_ip(i);
    let toml = format!(
        r#"
[global]
state_dir = "var"

{store}
[node]
vip = {{ "{LB}" = "{ip}" }}

[admin]
listen = "{ip}:{admin_port}"
secret_id = "{SECRET_ID}"
secret_key_env = "{SECRET_ENV}"
"#,
        store = store_section(etcd)
    );
    let dir = TempDir::new();
    let path = dir.path().join("stgw.toml");
    std::fs::write(&path, toml).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_stgw"))
        .arg("--config")
        .arg(&path)
        .env(SECRET_ENV, SECRET_KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn stgw");
    let admin = SocketAddr::new(ip, admin_port);
    let node = AdminNode {
        child: Some(child),
        dir,
        admin,
    };
    wait_listening(admin).await;
    node
}
