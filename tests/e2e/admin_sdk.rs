//! The vendor's official Python SDK (tencentcloud-sdk-python-clb, pinned in
//! `.ci/run`) drives a real stgw, unchanged, through tests/sdk/clb_sdk_e2e.py.

use std::net::SocketAddr;
use std::process::Command;

use crate::admin_support::*;
use crate::support::*;

fn python3() -> Option<&'static str> {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    found.then_some("python3")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendors_python_sdk_drives_stgw_and_traffic_follows() {
    let Some(python) = python3() else {
        eprintln!(
            "\n\n!!!!! SKIPPED: python3 is not installed, so the vendor SDK test cannot run. !!!!!\n\n"
        );
        return;
    };
    let sdk = Command::new(python)
        .args(["-c", "import tencentcloud.clb.v20180317.clb_client"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        sdk,
        "the vendor SDK is missing: pip install tencentcloud-sdk-python-clb (the version .ci/run pins)"
    );
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let c = Backend::start("c").await;
    let dead = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let admin_port = free_port();
    let node = AdminNode::start(&admin_config(admin_port, "", ""), admin_port).await;
    let dir = node.dir.path().to_owned();
    let mut env = Vec::new();
    for (i, name) in ["one", "two", "three"].iter().enumerate() {
        let (cert, key) = certificate(&format!("{name}.sdk.test"));
        let cert_path = dir.join(format!("upload{}.crt", i + 1));
        let key_path = dir.join(format!("upload{}.key", i + 1));
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, key).unwrap();
        env.push((format!("STGW_CERT{}", i + 1), cert_path));
        env.push((format!("STGW_KEY{}", i + 1), key_path));
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/clb_sdk_e2e.py");
    let out = Command::new(python)
        .arg(script)
        .env("STGW_ENDPOINT", node.admin.to_string())
        .env("STGW_SECRET_ID", SECRET_ID)
        .env("STGW_SECRET_KEY", SECRET_KEY)
        .env("STGW_HTTP_PORT", free_port().to_string())
        .env("STGW_HTTPS_PORT", free_port().to_string())
        .env(
            "STGW_BACKENDS",
            format!("a={},b={},c={}", a.addr, b.addr, c.addr),
        )
        .env("STGW_DEAD", dead.to_string())
        .env("STGW_STATE_DIR", dir.join("var"))
        .env("STGW_CONFIG", node.config_path())
        .envs(env)
        .output()
        .expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK script failed:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
