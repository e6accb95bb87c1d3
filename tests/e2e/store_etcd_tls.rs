//! Certificates and TLS sessions across nodes sharing one etcd: PEM
//! contents reach every node through the store (imported or uploaded
//! through the API on one node), and a session started on one node
//! resumes on another (the ticket keys live in the store).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::HandshakeKind;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::etcd_support::*;
use crate::pki::{Kind, Pki};
use crate::support::*;

/// One GET over TLS with SNI `name`: (body, how the handshake went).
async fn tls_get(
    addr: SocketAddr,
    name: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<(String, Option<HandshakeKind>), String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let server =
        rustls::pki_types::ServerName::try_from(name.to_owned()).map_err(|e| e.to_string())?;
    let mut stream = tokio_rustls::TlsConnector::from(config)
        .connect(server, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!("GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    // Reading to the end also lets TLS 1.3 tickets arrive.
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((body, stream.get_ref().1.handshake_kind()))
}

fn client(
    pki: &Pki,
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<rustls::ClientConfig> {
    let mut c = rustls::ClientConfig::builder_with_protocol_versions(&[version])
        .with_root_certificates(pki.roots())
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

#[tokio::test]
async fn certificates_reach_every_node_and_tls_sessions_resume_on_another_node() {
    let a = Backend::start("a").await;
    let pki_dir = TempDir::new();
    let pki = Pki::new(pki_dir.path());
    let imported = pki.server("imported", &[DOMAIN], Kind::Ecdsa);
    let tls_port = free_port();
    let more = format!(
        r#"
[[certificate]]
id = "cert-shared01"
cert = "{cert}"
key = "{key}"

[[load_balancer.listener]]
id = "lbl-shared02"
protocol = "HTTPS"
port = {tls_port}
certificate = {{ id = "cert-shared01" }}
  [[load_balancer.listener.domain]]
  name = "{DOMAIN}"
    [[load_balancer.listener.domain.rule]]
    url = "/"
    targets = [{{ address = "{a}" }}]
    health_check = {{ enabled = false }}
"#,
        cert = imported.cert.display(),
        key = imported.key.display(),
        a = a.addr
    );
    let Some(cluster) = Cluster::start("etcd: certificates and TLS sessions", |etcd, port| {
        shared_file(etcd, port, "", &[a.addr], &more)
    })
    .await
    else {
        return;
    };
    // The imported certificate's PEM came from etcd on every node.
    let tls = |i: usize| SocketAddr::new(node_ip(i), tls_port);
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let config = client(&pki, version);
        let mut kinds = Vec::new();
        for i in 0..3 {
            let (body, kind) = tls_get(tls(i), DOMAIN, config.clone()).await.unwrap();
            assert_eq!(body, "a", "node {i}");
            kinds.push(kind);
        }
        assert_eq!(
            kinds,
            [
                Some(HandshakeKind::Full),
                Some(HandshakeKind::Resumed),
                Some(HandshakeKind::Resumed)
            ],
            "a session started on node 0 resumes on nodes 1 and 2 ({version:?})"
        );
    }

    // A certificate uploaded through the API of node 0 serves on node 2.
    let uploaded = pki.server("uploaded", &["www.api.test"], Kind::Rsa);
    let node = &cluster.nodes[0];
    let cert_id = node
        .ok("UpLoadCert", json!({"CertType": "SVR", "CertContent": uploaded.cert_pem, "CertKey": uploaded.key_pem, "CertAlias": "etcd"}))
        .await["CertId"]
        .as_str()
        .unwrap()
        .to_owned();
    let api_port = free_port();
    let listener = node
        .ok("CreateListener", json!({"LoadBalancerId": LB, "Ports": [api_port], "Protocol": "HTTPS",
                                     "Certificate": {"SSLMode": "UNIDIRECTIONAL", "CertId": cert_id}}))
        .await["ListenerIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let location = node
        .ok(
            "CreateRule",
            json!({"LoadBalancerId": LB, "ListenerId": listener,
                                 "Rules": [{"Domain": "www.api.test", "Url": "/"}]}),
        )
        .await["LocationIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    node.ok(
        "RegisterTargets",
        json!({"LoadBalancerId": LB, "ListenerId": listener, "LocationId": location,
                                      "Targets": [{"EniIp": "127.0.0.1", "Port": a.addr.port()}]}),
    )
    .await;
    let config = client(&pki, &rustls::version::TLS13);
    for i in [1, 2] {
        let addr = SocketAddr::new(node_ip(i), api_port);
        let start = Instant::now();
        loop {
            match tls_get(addr, "www.api.test", config.clone()).await {
                Ok((body, _)) if body == "a" => break,
                other => assert!(
                    start.elapsed() < Duration::from_secs(2),
                    "node {i}: {other:?}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let uploads = cluster.nodes[0].dir.path().join("var/certs");
    assert!(
        std::fs::read_dir(&uploads).map_or(true, |d| d.count() == 0),
        "the uploaded PEM lives in etcd, not in node 0's state_dir/certs"
    );

    // Export gives both certificates back as files.
    let pems = cluster.dir.path().join("exported-pem");
    let shared = cluster.dir.path().join("shared.toml");
    let (ok, out, err) = stgw_store(&shared, &["export", "--pem-dir", pems.to_str().unwrap()]);
    assert!(ok, "{err}");
    let exported: toml::Table = toml::from_str(&out).unwrap();
    let certs = exported["certificate"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "{out}");
    for (entry, issued) in certs.iter().zip([&imported, &uploaded]) {
        let cert = std::fs::read_to_string(entry["cert"].as_str().unwrap()).unwrap();
        let key = std::fs::read_to_string(entry["key"].as_str().unwrap()).unwrap();
        assert_eq!(
            (cert, key),
            (issued.cert_pem.clone(), issued.key_pem.clone())
        );
    }
}
