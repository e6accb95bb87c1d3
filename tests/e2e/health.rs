//! Health checks and stickiness seen from outside.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::{Request, StatusCode};
use http_body_util::Full;

use crate::support::*;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A backend whose `/health` answers 200 or 503 as `healthy` says.
async fn switchable(name: &'static str) -> (Backend, Arc<AtomicBool>) {
    let healthy = Arc::new(AtomicBool::new(true));
    let h = healthy.clone();
    let b = Backend::start_with(name, "127.0.0.1:0", move |seen| {
        let mut r = Reply::text(name);
        if seen.uri.path() == "/health" && !h.load(Ordering::Relaxed) {
            r.status = StatusCode::SERVICE_UNAVAILABLE;
        }
        r
    })
    .await;
    (b, healthy)
}

const CHECK: &str = "health_check = { interval = 5, timeout = 2, healthy_threshold = 2, unhealthy_threshold = 2, path = \"/health\" }";

/// Sends requests for `d` and returns the answering backends' names.
async fn traffic(addr: SocketAddr, host: &str, d: Duration) -> Vec<String> {
    let end = Instant::now() + d;
    let mut names = Vec::new();
    while Instant::now() < end {
        let got = get(addr, host, "/").await;
        assert_eq!(got.status, 200);
        names.push(got.text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    names
}

#[tokio::test]
async fn a_dead_target_stops_receiving_within_the_thresholds_and_returns_after_recovery() {
    let (a, a_ok) = switchable("a").await;
    let (b, _) = switchable("b").await;
    let port = free_port();
    let toml = one_rule(port, "h.test", "/", CHECK, &[(a.addr, 10), (b.addr, 10)]);
    let stgw = Stgw::start(&toml);
    let addr = local(port);
    // Both start Unknown (usable) and their first probe makes them Alive.
    let names = traffic(addr, "h.test", Duration::from_secs(1)).await;
    assert!(names.contains(&"a".into()) && names.contains(&"b".into()));

    a_ok.store(false, Ordering::Relaxed);
    let died = Instant::now();
    // Two failed probes 5 s apart: dead within 2 intervals (+ one to line up).
    tokio::time::sleep(Duration::from_secs(15)).await;
    let before = a.hits();
    let names = traffic(addr, "h.test", Duration::from_secs(2)).await;
    assert!(
        names.iter().all(|n| n == "b"),
        "a still got traffic {:?} after {:?}",
        names,
        died.elapsed()
    );
    assert_eq!(a.hits(), before);
    // Health survives a reload that keeps the target (weights changed).
    stgw.reload(&toml.replace("weight = 10", "weight = 20"));
    let names = traffic(addr, "h.test", Duration::from_secs(1)).await;
    assert!(
        names.iter().all(|n| n == "b"),
        "a got traffic after a reload: {names:?}"
    );

    a_ok.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(12)).await;
    let names = traffic(addr, "h.test", Duration::from_secs(1)).await;
    assert!(
        names.contains(&"a".into()),
        "a recovered but got nothing: {names:?}"
    );
    assert!(a.probes.load(Ordering::Relaxed) >= 4, "probes reached a");

    // A target removed by a reload is no longer probed.
    stgw.reload(&one_rule(port, "h.test", "/", CHECK, &[(b.addr, 10)]));
    let probes = a.probes.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(a.probes.load(Ordering::Relaxed), probes);
}

#[tokio::test]
async fn with_every_target_dead_traffic_reaches_all_of_them() {
    let (a, a_ok) = switchable("a").await;
    let (b, b_ok) = switchable("b").await;
    a_ok.store(false, Ordering::Relaxed);
    b_ok.store(false, Ordering::Relaxed);
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(
        port,
        "h.test",
        "/",
        CHECK,
        &[(a.addr, 10), (b.addr, 10)],
    ));
    // The first probe (within a second) makes both Dead.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let names = traffic(local(port), "h.test", Duration::from_secs(1)).await;
    assert!(
        names.contains(&"a".into()) && names.contains(&"b".into()),
        "{names:?}"
    );
    drop((a, b));
}

#[tokio::test]
async fn a_target_that_refuses_connections_is_ejected_at_once() {
    let (a, _) = switchable("a").await;
    let (b, _) = switchable("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(
        port,
        "h.test",
        "/",
        CHECK,
        &[(a.addr, 10), (b.addr, 10)],
    ));
    let addr = local(port);
    traffic(addr, "h.test", Duration::from_millis(500)).await;
    a.stop();
    // Let the pooled connections to a notice.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Every request still succeeds (a refused connect moves on) …
    let names = traffic(addr, "h.test", Duration::from_secs(1)).await;
    assert!(names.iter().all(|n| n == "b"), "{names:?}");
}

#[tokio::test]
async fn a_target_that_leaves_connects_unanswered_is_ejected_at_its_first_timeout() {
    let blackhole = Blackhole::start().await;
    let (b, _) = switchable("b").await;
    let port = free_port();
    // Probes that take a minute to conclude: only the requests can tell.
    let slow = "health_check = { interval = 61, timeout = 60, path = \"/health\" }";
    let toml = with_custom(
        &one_rule(
            port,
            "h.test",
            "/",
            slow,
            &[(blackhole.addr, 10), (b.addr, 10)],
        ),
        "proxy_connect_timeout 4s;",
    );
    let _stgw = Stgw::start(&toml);
    let mut waits = 0;
    for _ in 0..4 {
        let started = Instant::now();
        let got = get(local(port), "h.test", "/").await;
        assert_eq!((got.status, got.text()), (StatusCode::OK, "b".to_owned()));
        if started.elapsed() >= Duration::from_millis(3900) {
            waits += 1;
        }
    }
    assert!(
        waits <= 1,
        "{waits} of 4 requests waited for the connect timeout"
    );
    drop(blackhole);
}

#[tokio::test]
async fn a_target_killed_under_load_fails_only_the_requests_in_flight_to_it() {
    // Replies take 20 ms, so each of the 8 clients always has a request in
    // flight: at most 8 can be at `a` when it dies.
    const CLIENTS: usize = 8;
    let slow = |name: &'static str| {
        Backend::start_with(name, "127.0.0.1:0", move |_| {
            let mut r = Reply::text(name);
            r.delay = Duration::from_millis(20);
            r
        })
    };
    let (a, b) = (slow("a").await, slow("b").await);
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(
        port,
        "k.test",
        "/",
        CHECK,
        &[(a.addr, 10), (b.addr, 10)],
    ));
    let addr = local(port);
    let start = Instant::now();
    let kill_at = Duration::from_millis(700);
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(tokio::spawn(async move {
            // (sent at, status, answering backend)
            let mut seen = Vec::new();
            while start.elapsed() < Duration::from_millis(2000) {
                let sent = start.elapsed();
                let req = Request::get("/")
                    .header("host", "k.test")
                    .body(Full::default())
                    .unwrap();
                match send(addr, None, req).await {
                    Ok(got) => seen.push((sent, got.status.as_u16(), got.text())),
                    Err(e) => seen.push((sent, 0, e)),
                }
            }
            seen
        }));
    }
    tokio::time::sleep(kill_at.saturating_sub(start.elapsed())).await;
    a.stop();
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await.unwrap());
    }
    let before = all.iter().filter(|(t, ..)| *t < kill_at);
    assert!(
        before.filter(|(_, s, n)| *s == 200 && n == "a").count() > 10,
        "a served before it died"
    );
    let failed: Vec<_> = all.iter().filter(|(_, s, _)| *s != 200).collect();
    assert!(
        failed.len() <= CLIENTS,
        "only requests in flight to a may fail: {failed:?}"
    );
    // Sent after the kill was noticed: all answered, by b.
    let later: Vec<_> = all
        .iter()
        .filter(|(t, ..)| *t > kill_at + Duration::from_millis(100))
        .collect();
    assert!(later.len() > 50, "{}", later.len());
    assert!(
        later.iter().all(|(_, s, n)| *s == 200 && n == "b"),
        "{later:?}"
    );
}

fn sticky_rule(port: u16, targets: &[(SocketAddr, u32)], secret: &str) -> String {
    let toml = one_rule(port, "s.test", "/", "session_expire_time = 60", targets);
    toml.replace(
        "[global]",
        &format!("[global]\nsticky_secret = \"{secret}\""),
    )
}

async fn with_cookie(addr: SocketAddr, cookie: Option<&str>) -> Got {
    let mut req = Request::get("/").header("host", "s.test");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    send(addr, None, req.body(Full::default()).unwrap())
        .await
        .unwrap()
}

fn set_cookie(got: &Got) -> String {
    let v = got
        .headers
        .get("set-cookie")
        .expect("a sticky cookie")
        .to_str()
        .unwrap();
    assert!(v.contains("Max-Age=60; Path=/; HttpOnly"), "{v}");
    v.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_sticky_client_stays_on_its_target_across_requests_and_a_reload() {
    let mut backends = Vec::new();
    for n in ["a", "b", "c"] {
        backends.push(Backend::start(n).await);
    }
    let targets: Vec<_> = backends.iter().map(|b| (b.addr, 10)).collect();
    let port = free_port();
    let toml = sticky_rule(port, &targets, "0123456789abcdef-secret");
    let stgw = Stgw::start(&toml);
    let addr = local(port);
    let first = with_cookie(addr, None).await;
    let mut cookie = set_cookie(&first);
    let target = first.text();
    // The value names the target (its first 32 digits), then when it was
    // issued and a tag: each answer issues it afresh (sliding expiry).
    let token = |cookie: &str| cookie["stgw_sticky=".len()..][..32].to_owned();
    for _ in 0..100 {
        let got = with_cookie(addr, Some(&cookie)).await;
        assert_eq!(got.text(), target);
        let fresh = set_cookie(&got);
        assert_eq!(
            token(&fresh),
            token(&cookie),
            "refreshed for the same target"
        );
        cookie = fresh;
    }
    // Another application's cookie with non-ASCII bytes beside it.
    let mixed = format!("name=café; {cookie}");
    for _ in 0..10 {
        assert_eq!(with_cookie(addr, Some(&mixed)).await.text(), target);
    }
    stgw.reload(&toml.replace("weight = 10", "weight = 20"));
    for _ in 0..10 {
        assert_eq!(with_cookie(addr, Some(&cookie)).await.text(), target);
    }
    // Without the cookie, requests spread.
    let mut names = std::collections::HashSet::new();
    for _ in 0..6 {
        names.insert(with_cookie(addr, None).await.text());
    }
    assert!(names.len() > 1);
}

#[tokio::test]
async fn a_forged_cookie_is_replaced_by_a_valid_one() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&sticky_rule(
        port,
        &[(a.addr, 10), (b.addr, 10)],
        "0123456789abcdef-secret",
    ));
    let addr = local(port);
    let valid = set_cookie(&with_cookie(addr, None).await);
    let mut forged = valid.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    for bad in [forged.as_str(), "stgw_sticky=127.0.0.1:80", "stgw_sticky="] {
        let got = with_cookie(addr, Some(bad)).await;
        assert_eq!(got.status, 200);
        let fresh = set_cookie(&got);
        assert_ne!(fresh, bad);
        let name = got.text();
        // The fresh value is honoured.
        for _ in 0..4 {
            assert_eq!(with_cookie(addr, Some(&fresh)).await.text(), name);
        }
    }
}

#[tokio::test]
async fn a_second_stgw_with_the_same_secret_honours_the_cookie() {
    let mut backends = Vec::new();
    for n in ["a", "b", "c", "d"] {
        backends.push(Backend::start(n).await);
    }
    let targets: Vec<_> = backends.iter().map(|b| (b.addr, 10)).collect();
    let (p1, p2) = (free_port(), free_port());
    let _one = Stgw::start(&sticky_rule(p1, &targets, "shared-secret-of-the-cluster"));
    let _two = Stgw::start(&sticky_rule(p2, &targets, "shared-secret-of-the-cluster"));
    let _other = Stgw::start(&sticky_rule(
        free_port(),
        &targets,
        "another-secret-entirely",
    ));
    for _ in 0..4 {
        let got = with_cookie(local(p1), None).await;
        let cookie = set_cookie(&got);
        for _ in 0..5 {
            assert_eq!(
                with_cookie(local(p2), Some(&cookie)).await.text(),
                got.text()
            );
        }
    }
}

#[tokio::test]
async fn a_sticky_target_that_dies_is_replaced_and_the_cookie_renewed() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&sticky_rule(
        port,
        &[(a.addr, 10), (b.addr, 10)],
        "0123456789abcdef-secret",
    ));
    let addr = local(port);
    let mut cookie;
    loop {
        let got = with_cookie(addr, None).await;
        cookie = set_cookie(&got);
        if got.text() == "a" {
            break;
        }
    }
    a.stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got = with_cookie(addr, Some(&cookie)).await;
    assert_eq!(got.text(), "b");
    assert_ne!(set_cookie(&got), cookie);
}

#[tokio::test]
async fn identical_probes_of_two_rules_are_sent_once() {
    let b = Backend::start("b").await;
    let port = free_port();
    let toml = one_rule(port, "p.test", "/", CHECK, &[(b.addr, 10)]).replace(
        "      targets =",
        &format!(
            "      targets = [{{ address = \"{}\" }}]\n      [[load_balancer.listener.domain.rule]]\n      url = \"/other/\"\n      {CHECK}\n      targets =",
            b.addr
        ),
    );
    let _stgw = Stgw::start(&toml);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        b.probes.load(Ordering::Relaxed),
        1,
        "one probe for two rules in the first interval"
    );
}

/// An HTTP/2-only (h2c) target, as a gRPC server is: it counts the probes
/// it receives and answers every request 200.
async fn h2c_target() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let probes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = probes.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let counted = counted.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let probe = req
                            .headers()
                            .get("user-agent")
                            .is_some_and(|v| v == "stgw-health-check");
                        if probe && req.version() == http::Version::HTTP_2 {
                            counted.fetch_add(1, Ordering::Relaxed);
                        }
                        async {
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                bytes::Bytes::from_static(b"h2c"),
                            )))
                        }
                    });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, probes)
}

#[tokio::test]
async fn a_grpc_rule_probes_its_targets_over_http_2() {
    let (target, probes) = h2c_target().await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(
        port,
        "g.test",
        "/",
        "forward_type = \"GRPC\"",
        &[(target, 10)],
    ));
    let started = Instant::now();
    while probes.load(Ordering::Relaxed) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no HTTP/2 probe reached the h2c target"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_new_targets_first_alive_verdict_is_not_logged_at_info_its_first_dead_is() {
    let alive = Backend::start("alive").await;
    let dead = local(free_port());
    let port = free_port();
    let dir = TempDir::new();
    let path = dir.path().join("stgw.toml");
    std::fs::write(
        &path,
        one_rule(port, "h.test", "/", "", &[(alive.addr, 10), (dead, 10)]),
    )
    .unwrap();
    let log_path = dir.path().join("stderr.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stgw"))
        .arg("--config")
        .arg(&path)
        .env_remove("RUST_LOG")
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("stgw starts");
    // The first probes go out within a quarter second of the start.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = String::new();
    while Instant::now() < deadline && !log.contains("target is dead") {
        tokio::time::sleep(Duration::from_millis(100)).await;
        log = std::fs::read_to_string(&log_path).unwrap_or_default();
    }
    // The live target's probe went out with the dead one's.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(log.contains("target is dead"), "{log}");
    assert!(!log.contains("target is alive"), "{log}");
}
