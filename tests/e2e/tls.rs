//! HTTPS listeners: certificates by SNI, ALPN, 421, mutual TLS, reload,
//! resumption, TLS to targets.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rustls::HandshakeKind;

use crate::pki::{Kind, Pki, connect, presented};
use crate::support::*;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

struct Site {
    stgw: Stgw,
    addr: SocketAddr,
    pki: Pki,
    backend: Backend,
    listener: crate::pki::Issued,
    exact: crate::pki::Issued,
    wild: crate::pki::Issued,
    regex: crate::pki::Issued,
}

/// An HTTPS listener with SNI: a listener certificate and per-domain
/// certificates for an exact, a wildcard and a regex domain, h2 off for one.
async fn site(extra_listener: &str) -> Site {
    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let listener = pki.server("listener", &["listener.test"], Kind::Ecdsa);
    let exact = pki.server("exact", &["www.exact.test"], Kind::Ecdsa);
    let wild = pki.server("wild", &["*.wild.test"], Kind::Ecdsa);
    let regex = pki.server("regex", &["api1.re.test", "api2.re.test"], Kind::Ecdsa);
    let backend = Backend::start("tls-backend").await;
    let port = free_port();
    let cert = |i: &crate::pki::Issued| format!("{{ cert = {:?}, key = {:?} }}", i.cert, i.key);
    let toml = format!(
        r#"
[global]
state_dir = "var"
[[load_balancer]]
name = "tls"
vip = "127.0.0.1"
  [[load_balancer.listener]]
  protocol = "HTTPS"
  port = {port}
  sni = true
  certificate = {listener_cert}
  {extra_listener}
    [[load_balancer.listener.domain]]
    name = "www.exact.test"
    certificate = {exact_cert}
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{b}" }}]
    [[load_balancer.listener.domain]]
    name = "*.wild.test"
    http2 = false
    certificate = {wild_cert}
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{b}" }}]
    [[load_balancer.listener.domain]]
    name = "~^api\\d+\\.re\\.test$"
    certificate = {regex_cert}
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{b}" }}]
    [[load_balancer.listener.domain]]
    name = "plain.test"
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{b}" }}]
"#,
        listener_cert = cert(&listener),
        exact_cert = cert(&exact),
        wild_cert = cert(&wild),
        regex_cert = cert(&regex),
        b = backend.addr,
    );
    let stgw = Stgw::start(&toml);
    // Keep the certificate folder alive with the site.
    std::mem::forget(dir);
    Site {
        stgw,
        addr: local(port),
        pki,
        backend,
        listener,
        exact,
        wild,
        regex,
    }
}

#[tokio::test]
async fn the_sni_picks_the_configured_certificate() {
    let s = site("").await;
    let cases: [(Option<&str>, &crate::pki::Issued); 7] = [
        (Some("www.exact.test"), &s.exact),
        (Some("a.wild.test"), &s.wild),
        (Some("a.b.wild.test"), &s.wild),
        (Some("api7.re.test"), &s.regex),
        (Some("plain.test"), &s.listener),
        (Some("unknown.test"), &s.listener),
        (None, &s.listener),
    ];
    let insecure = || crate::pki::Pki::rsa_only_client_or_any();
    for (sni, want) in cases {
        let stream = connect(insecure(), s.addr, sni)
            .await
            .unwrap_or_else(|e| panic!("{sni:?}: {e}"));
        assert!(
            presented(&stream) == want.der,
            "SNI {sni:?} got the wrong certificate"
        );
    }
}

#[tokio::test]
async fn requests_over_tls_reach_the_target_with_x_client_proto_https() {
    let s = site("").await;
    let stream = connect(s.pki.client(&["http/1.1"]), s.addr, Some("www.exact.test"))
        .await
        .unwrap();
    let mut sender = h1_client(stream).await;
    let got = collect(
        sender
            .send_request(get_req("www.exact.test", "/x"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "tls-backend");
    let seen = s.backend.last();
    assert_eq!(seen.headers["x-client-proto"], "https");
    assert_eq!(seen.headers["x-forwarded-proto"], "https");
}

#[tokio::test]
async fn h2_is_negotiated_exactly_where_enabled() {
    let s = site("").await;
    let both = &["h2", "http/1.1"];
    let exact = connect(s.pki.client(both), s.addr, Some("www.exact.test"))
        .await
        .unwrap();
    assert_eq!(exact.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut h2 = h2_client(exact).await;
    let req = Request::get("https://www.exact.test/h2")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let got = collect(h2.send_request(req).await.unwrap()).await;
    assert_eq!(got.status, 200);
    assert_eq!(s.backend.last().uri, "/h2");
    assert_eq!(s.backend.last().headers["host"], "www.exact.test");

    let wild = connect(s.pki.client(both), s.addr, Some("a.wild.test"))
        .await
        .unwrap();
    assert_eq!(wild.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn a_host_for_another_certificate_is_misdirected_unless_the_client_sent_no_sni() {
    let s = site("").await;
    let stream = connect(s.pki.client(&["http/1.1"]), s.addr, Some("www.exact.test"))
        .await
        .unwrap();
    let mut sender = h1_client(stream).await;
    let got = collect(
        sender
            .send_request(get_req("a.wild.test", "/"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.status, 421);
    let got = collect(
        sender
            .send_request(get_req("www.exact.test", "/"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.status, 200);
    // plain.test uses the listener certificate, like an unknown SNI.
    let stream = connect(s.pki.client(&["http/1.1"]), s.addr, Some("listener.test"))
        .await
        .unwrap();
    let mut sender = h1_client(stream).await;
    let got = collect(
        sender
            .send_request(get_req("plain.test", "/"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.status, 200);
    // Without SNI (a client connecting by address) nothing was selected:
    // every Host is served, as nginx serves it.
    let stream = connect(Pki::rsa_only_client_or_any(), s.addr, None)
        .await
        .unwrap();
    let mut sender = h1_client(stream).await;
    for host in ["www.exact.test", "a.wild.test", "plain.test"] {
        let got = collect(sender.send_request(get_req(host, "/")).await.unwrap()).await;
        assert_eq!(got.status, 200, "{host} without SNI");
    }
}

#[tokio::test]
async fn rsa_and_ecdsa_certificates_side_by_side_follow_the_client() {
    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let rsa = pki.server("rsa", &["dual.test"], Kind::Rsa);
    let ecdsa = pki.server("ecdsa", &["dual.test"], Kind::Ecdsa);
    let b = Backend::start("b").await;
    let port = free_port();
    let toml = with_https(
        &one_rule(port, "dual.test", "/", "", &[(b.addr, 10)]),
        &format!(
            "certificate = [{{ cert = {:?}, key = {:?} }}, {{ cert = {:?}, key = {:?} }}]",
            rsa.cert, rsa.key, ecdsa.cert, ecdsa.key
        ),
    );
    let _stgw = Stgw::start(&toml);
    let modern = connect(pki.client(&[]), local(port), Some("dual.test"))
        .await
        .unwrap();
    assert!(
        presented(&modern) == ecdsa.der,
        "a client that verifies ECDSA gets the ECDSA certificate"
    );
    let old = connect(Pki::rsa_only_client(), local(port), Some("dual.test"))
        .await
        .unwrap();
    assert!(
        presented(&old) == rsa.der,
        "an RSA-only client gets the RSA certificate"
    );
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_certificate_and_takes_those_the_ca_signed() {
    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let server = pki.server("srv", &["m.test"], Kind::Ecdsa);
    let b = Backend::start("b").await;
    let port = free_port();
    let toml = with_https(
        &one_rule(port, "m.test", "/", "", &[(b.addr, 10)]),
        &format!(
            "ssl_mode = \"MUTUAL\"\n  client_ca = {:?}\n  {}",
            dir.path().join("ca.pem"),
            server.listener_setting()
        ),
    );
    let _stgw = Stgw::start(&toml);
    // Without a certificate: the handshake (or the first read) fails.
    let refused = match connect(pki.client(&[]), local(port), Some("m.test")).await {
        Err(_) => true,
        Ok(stream) => {
            let mut sender = h1_client(stream).await;
            sender.send_request(get_req("m.test", "/")).await.is_err()
        }
    };
    assert!(refused, "a client without a certificate got through");
    assert_eq!(b.hits(), 0);
    // With the default ssl_verify_depth 1, a certificate the CA signed
    // passes, sent alone or with the CA itself (as curl sends it).
    for client in [pki.client_with_cert(&[]), pki.client_with_cert_and_ca(&[])] {
        let stream = connect(client, local(port), Some("m.test")).await.unwrap();
        let mut sender = h1_client(stream).await;
        let got = collect(sender.send_request(get_req("m.test", "/")).await.unwrap()).await;
        assert_eq!(got.status, 200);
    }
}

#[tokio::test]
async fn a_reload_serves_a_new_certificate_while_old_connections_keep_working() {
    let s = site("").await;
    let old = connect(s.pki.client(&["http/1.1"]), s.addr, Some("www.exact.test"))
        .await
        .unwrap();
    let mut old_sender = h1_client(old).await;
    assert_eq!(
        collect(
            old_sender
                .send_request(get_req("www.exact.test", "/"))
                .await
                .unwrap()
        )
        .await
        .status,
        200
    );

    let renewed = s
        .pki
        .server("exact-renewed", &["www.exact.test"], Kind::Ecdsa);
    std::fs::copy(&renewed.cert, &s.exact.cert).unwrap();
    std::fs::copy(&renewed.key, &s.exact.key).unwrap();
    s.stgw.runtime.reload().unwrap();

    let fresh = connect(s.pki.client(&["http/1.1"]), s.addr, Some("www.exact.test"))
        .await
        .unwrap();
    assert!(
        presented(&fresh) == renewed.der,
        "new connections get the new certificate"
    );
    let got = collect(
        old_sender
            .send_request(get_req("www.exact.test", "/again"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.status, 200, "the old connection keeps working");
}

#[tokio::test]
async fn a_returning_client_resumes_also_after_a_reload() {
    for versions in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let s = site("").await;
        let config = Arc::new({
            let mut c = rustls::ClientConfig::builder_with_protocol_versions(&[versions])
                .with_root_certificates(s.pki.roots())
                .with_no_client_auth();
            c.alpn_protocols = vec![b"http/1.1".to_vec()];
            c
        });
        let handshake = |config: Arc<rustls::ClientConfig>| async move {
            let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("www.exact.test").unwrap();
            let mut stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .unwrap();
            // Read the answer so TLS 1.3 tickets arrive.
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: www.exact.test\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut buf = Vec::new();
            let _ = stream.read_to_end(&mut buf).await;
            stream.get_ref().1.handshake_kind()
        };
        assert_eq!(handshake(config.clone()).await, Some(HandshakeKind::Full));
        assert_eq!(
            handshake(config.clone()).await,
            Some(HandshakeKind::Resumed),
            "{versions:?}"
        );
        s.stgw.runtime.reload().unwrap();
        assert_eq!(
            handshake(config.clone()).await,
            Some(HandshakeKind::Resumed),
            "after reload {versions:?}"
        );
    }
}

#[tokio::test]
async fn a_connection_closing_after_its_answer_sends_close_notify() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = site("").await;
    let mut stream = connect(s.pki.client(&["http/1.1"]), s.addr, Some("www.exact.test"))
        .await
        .unwrap();
    stream
        .write_all(b"GET /bye HTTP/1.1\r\nHost: www.exact.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // rustls reports an end without close_notify as UnexpectedEof.
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the connection closes")
    .expect("a clean TLS close (close_notify)");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");
}

#[tokio::test]
async fn https_targets_are_not_verified_unless_asked() {
    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let server = pki
        .self_signed("target", &["target.internal"])
        .server_config();
    let target = Backend::start_tls("secure-target", server).await;
    let port = free_port();
    let extra = "forward_type = \"HTTPS\"\n      health_check = { enabled = false }";
    let _stgw = Stgw::start(&one_rule(port, "up.test", "/", extra, &[(target.addr, 10)]));
    let got = get(local(port), "up.test", "/").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "secure-target");

    // Health probes of an HTTPS rule speak TLS too.
    let port = free_port();
    let _probed = Stgw::start(&one_rule(
        port,
        "up.test",
        "/",
        "forward_type = \"HTTPS\"",
        &[(target.addr, 10)],
    ));
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(
        target.probes.load(std::sync::atomic::Ordering::Relaxed) >= 1,
        "a TLS probe reached the target"
    );

    let port = free_port();
    let verify = format!(
        "{extra}\n      tls_verify = true\n      tls_ca = {:?}",
        dir.path().join("ca.pem")
    );
    let _strict = Stgw::start(&one_rule(
        port,
        "up.test",
        "/",
        &verify,
        &[(target.addr, 10)],
    ));
    assert_eq!(get(local(port), "up.test", "/").await.status, 502);
}

#[tokio::test]
async fn health_probes_use_the_rules_tls_settings() {
    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let ca = dir.path().join("ca.pem");
    let verify = format!(
        "forward_type = \"HTTPS\"\n      tls_verify = true\n      tls_ca = {ca:?}\n      tls_sni = \"target.internal\"\n      health_check = {{ interval = 5 }}"
    );
    // A certificate the rule's traffic refuses: the probes refuse it too,
    // and never reach HTTP (they used to verify nothing).
    let untrusted = Backend::start_tls(
        "untrusted",
        pki.self_signed("self", &["target.internal"])
            .server_config(),
    )
    .await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(
        port,
        "up.test",
        "/",
        &verify,
        &[(untrusted.addr, 10)],
    ));
    // A certificate from the CA for the configured SNI: probes and traffic
    // both get through (the name is verified against tls_sni).
    let trusted = Backend::start_tls(
        "trusted",
        pki.server("trusted", &["target.internal"], crate::pki::Kind::Ecdsa)
            .server_config(),
    )
    .await;
    let port2 = free_port();
    let _stgw2 = Stgw::start(&one_rule(
        port2,
        "up.test",
        "/",
        &verify,
        &[(trusted.addr, 10)],
    ));
    let probed = || trusted.probes.load(std::sync::atomic::Ordering::Relaxed);
    let started = std::time::Instant::now();
    while probed() == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "no probe reached the trusted target"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(get(local(port2), "up.test", "/").await.text(), "trusted");
    assert_eq!(get(local(port), "up.test", "/").await.status, 502);
    assert_eq!(
        untrusted.probes.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "a probe got through TLS the rule's traffic cannot"
    );
}

#[tokio::test]
async fn curl_speaks_h2_and_http_1_1_to_https_listeners() {
    let s = site("").await;
    // tokio's Command: the test's runtime also runs stgw.
    let run = |args: Vec<String>| async move {
        tokio::process::Command::new("curl")
            .args(args)
            .output()
            .await
            .expect("curl (apt install curl)")
    };
    let port = s.addr.port();
    let base = |host: &str| {
        vec![
            "-s".to_string(),
            "--cacert".into(),
            s.pki.dir.join("ca.pem").display().to_string(),
            "--resolve".into(),
            format!("{host}:{port}:127.0.0.1"),
            "-w".into(),
            "\n%{http_version} %{http_code}".into(),
            format!("https://{host}:{port}/"),
        ]
    };
    let out = run([vec!["--http2".to_string()], base("www.exact.test")].concat()).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tls-backend\n2 200");
    let out = run([vec!["--http2".to_string()], base("a.wild.test")].concat()).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tls-backend\n1.1 200");
}

#[tokio::test]
async fn ssl_protocols_and_ssl_ciphers_restrict_what_clients_may_use() {
    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let server = pki.server("srv", &["p.test"], Kind::Ecdsa);
    let b = Backend::start("b").await;
    let port = free_port();
    let custom = "custom_config = \"ssl_protocols TLSv1 TLSv1.2; ssl_ciphers ECDHE-ECDSA-AES256-GCM-SHA384;\"";
    let toml = one_rule(port, "p.test", "/", "", &[(b.addr, 10)]).replace(
        "vip = \"127.0.0.1\"",
        &format!("vip = \"127.0.0.1\"\n{custom}"),
    );
    let toml = with_https(&toml, "certificate = { id = \"cert-p0000001\" }").replace(
        "[[load_balancer]]",
        &format!(
            "[[certificate]]\nid = \"cert-p0000001\"\ncert = {:?}\nkey = {:?}\n\n[[load_balancer]]",
            server.cert, server.key
        ),
    );
    let _stgw = Stgw::start(&toml);
    let only = |v: &'static rustls::SupportedProtocolVersion| {
        rustls::ClientConfig::builder_with_protocol_versions(&[v])
            .with_root_certificates(pki.roots())
            .with_no_client_auth()
    };
    assert!(
        connect(only(&rustls::version::TLS13), local(port), Some("p.test"))
            .await
            .is_err(),
        "TLS 1.3 is off"
    );
    let tls12 = connect(only(&rustls::version::TLS12), local(port), Some("p.test"))
        .await
        .unwrap();
    let suite = tls12.get_ref().1.negotiated_cipher_suite().unwrap().suite();
    assert_eq!(
        suite,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    );
    // A client that offers only another suite cannot connect.
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .retain(|s| s.suite() == rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    let other = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(pki.roots())
        .with_no_client_auth();
    assert!(connect(other, local(port), Some("p.test")).await.is_err());
}

#[tokio::test]
async fn the_server_prefers_aes_128_gcm_whatever_the_clients_order() {
    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let server = pki.server("srv", &["o.test"], Kind::Ecdsa);
    let b = Backend::start("b").await;
    let port = free_port();
    let toml = with_https(
        &one_rule(port, "o.test", "/", "", &[(b.addr, 10)]),
        &server.listener_setting(),
    );
    let _stgw = Stgw::start(&toml);
    // rustls's clients list AES-256-GCM first.
    let client = |suites: &[rustls::CipherSuite], v: &'static rustls::SupportedProtocolVersion| {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if !suites.is_empty() {
            provider
                .cipher_suites
                .retain(|s| suites.contains(&s.suite()));
        }
        rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[v])
            .unwrap()
            .with_root_certificates(pki.roots())
            .with_no_client_auth()
    };
    use rustls::CipherSuite as S;
    for (offered, version, expected) in [
        (
            &[][..],
            &rustls::version::TLS13,
            S::TLS13_AES_128_GCM_SHA256,
        ),
        (
            &[][..],
            &rustls::version::TLS12,
            S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            &[
                S::TLS13_CHACHA20_POLY1305_SHA256,
                S::TLS13_AES_256_GCM_SHA384,
            ][..],
            &rustls::version::TLS13,
            S::TLS13_AES_256_GCM_SHA384,
        ),
        (
            &[S::TLS13_CHACHA20_POLY1305_SHA256][..],
            &rustls::version::TLS13,
            S::TLS13_CHACHA20_POLY1305_SHA256,
        ),
    ] {
        let tls = connect(client(offered, version), local(port), Some("o.test"))
            .await
            .unwrap();
        let suite = tls.get_ref().1.negotiated_cipher_suite().unwrap().suite();
        assert_eq!(suite, expected, "{offered:?}");
    }
}

#[tokio::test]
async fn a_key_that_does_not_match_its_certificate_is_refused_with_the_reason() {
    let dir = TempDir::new();
    let pki = Pki::new(dir.path());
    let a = pki.server("a", &["k.test"], Kind::Ecdsa);
    let b = pki.server("b", &["k.test"], Kind::Ecdsa);
    let port = free_port();
    let toml = with_https(
        &one_rule(port, "k.test", "/", "", &[]),
        &format!("certificate = {{ cert = {:?}, key = {:?} }}", a.cert, b.key),
    );
    let path = dir.path().join("stgw.toml");
    std::fs::write(&path, &toml).unwrap();
    let config = stgw::config::Config::load(&path).unwrap();
    let err = stgw::runtime::Runtime::start(config)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not belong to the certificate"), "{err}");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stgw"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not belong to the certificate"));
}
