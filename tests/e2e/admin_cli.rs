//! The vendor's CLI (tccli, pinned in `.ci/run`) drives stgw over the admin
//! listener's TLS: it speaks only HTTPS. It trusts what Python's `certifi`
//! bundle trusts, so the test points `certifi` at its own CA (a real
//! deployment gives the admin listener a publicly trusted certificate).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::admin_support::*;
use crate::pki::{Kind, Pki};
use crate::support::*;

/// The version `.ci/run` installs, into its own folder (`pip --target`), so
/// that its copy of the whole SDK does not replace the pinned CLB SDK.
const TCCLI_VERSION: &str = "3.1.189.1";

/// Where tccli is installed: `STGW_TCCLI_DIR`, else `.ci/run`'s folder.
fn tccli_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("STGW_TCCLI_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| Path::new(&h).join(format!(".cache/stgw/tccli-{TCCLI_VERSION}")))
        })?;
    if dir.join("tccli").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n!!! SKIPPED the tccli test: no tccli in {} (.ci/run installs it: pip install --target <dir> tccli=={TCCLI_VERSION}) !!!\n",
            dir.display()
        );
        None
    }
}

/// Runs `tccli clb <args>` against `endpoint`, trusting `ca`; returns its
/// JSON output.
fn tccli(dir: &Path, ca: &Path, endpoint: SocketAddr, args: &[&str]) -> Value {
    let wrapper = format!(
        "import sys, certifi\ncertifi.where = lambda: {:?}\nfrom tccli.main import main\nsys.exit(main())",
        ca.display().to_string()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(wrapper)
        .arg("clb")
        .args(args)
        .args(["--endpoint", &endpoint.to_string()])
        .args(["--secretId", SECRET_ID, "--secretKey", SECRET_KEY])
        .args(["--region", "ap-guangzhou"])
        .env("PYTHONPATH", dir)
        .env("HOME", dir.join("home"))
        .output()
        .expect("run tccli");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tccli {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("tccli {args:?}: {e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendors_cli_drives_stgw_over_https_and_traffic_follows() {
    let Some(tccli_dir) = tccli_dir() else {
        return;
    };
    let backend = Backend::start("via-cli").await;
    let admin_port = free_port();
    let certs = TempDir::new();
    let pki = Pki::new(certs.path());
    let cert = pki.server("admin", &["127.0.0.1", "localhost"], Kind::Ecdsa);
    let ca = certs.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let toml = admin_config(admin_port, "", "").replace(
        &format!("secret_key_env = \"{SECRET_ENV}\""),
        &format!(
            "secret_key_env = \"{SECRET_ENV}\"\ncertificate = {{ cert = {:?}, key = {:?} }}",
            cert.cert, cert.key
        ),
    );
    let node = AdminNode::start(&toml, admin_port).await;
    let run = |args: &[&str]| tccli(&tccli_dir, &ca, node.admin, args);

    let created = run(&[
        "CreateLoadBalancer",
        "--LoadBalancerType",
        "OPEN",
        "--LoadBalancerName",
        "cli",
    ]);
    let lb = created["LoadBalancerIds"][0]
        .as_str()
        .expect("an id")
        .to_owned();
    let port = free_port();
    let listener = run(&[
        "CreateListener",
        "--LoadBalancerId",
        &lb,
        "--Ports",
        &format!("[{port}]"),
        "--Protocol",
        "HTTP",
        "--ListenerNames",
        "[\"web\"]",
    ]);
    let lbl = listener["ListenerIds"][0]
        .as_str()
        .expect("an id")
        .to_owned();
    run(&[
        "CreateRule",
        "--LoadBalancerId",
        &lb,
        "--ListenerId",
        &lbl,
        "--Rules",
        "[{\"Domain\":\"cli.test\",\"Url\":\"/\"}]",
    ]);
    let (ip, target_port) = (backend.addr.ip(), backend.addr.port());
    run(&[
        "RegisterTargets",
        "--LoadBalancerId",
        &lb,
        "--ListenerId",
        &lbl,
        "--Domain",
        "cli.test",
        "--Url",
        "/",
        "--Targets",
        &format!("[{{\"EniIp\":\"{ip}\",\"Port\":{target_port},\"Weight\":10}}]"),
    ]);
    let got = get(SocketAddr::from(([127, 0, 0, 1], port)), "cli.test", "/").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "via-cli");

    let described = run(&[
        "DescribeTargets",
        "--LoadBalancerId",
        &lb,
        "--ListenerIds",
        &format!("[\"{lbl}\"]"),
    ]);
    let target = &described["Listeners"][0]["Rules"][0]["Targets"][0];
    assert_eq!(target["Port"], target_port, "{described}");
    assert_eq!(
        target["PrivateIpAddresses"][0],
        ip.to_string(),
        "{described}"
    );
    // The API's writes kept the node's own [admin] section, certificate too.
    let file = std::fs::read_to_string(node.config_path()).unwrap();
    assert!(file.contains(&cert.cert.display().to_string()), "{file}");
}

#[tokio::test]
async fn the_admin_listener_refuses_to_start_without_its_certificate() {
    let admin_port = free_port();
    let dir = TempDir::new();
    let toml = admin_config(admin_port, "", "").replace(
        &format!("secret_key_env = \"{SECRET_ENV}\""),
        &format!("secret_key_env = \"{SECRET_ENV}\"\ncertificate = {{ cert = \"missing.pem\", key = \"missing.key\" }}"),
    );
    let path = dir.path().join("stgw.toml");
    std::fs::write(&path, toml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stgw"))
        .arg("--config")
        .arg(&path)
        .env(SECRET_ENV, SECRET_KEY)
        .output()
        .expect("run stgw");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("admin.certificate: cannot read") && stderr.contains("missing.pem"),
        "{stderr}"
    );
}
