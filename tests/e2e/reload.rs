//! Reloads and shutdown of the real binary, under load.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sighup_under_load_loses_no_request() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let config =
        |wa: u32, wb: u32| one_rule(port, "load.test", "/", "", &[(a.addr, wa), (b.addr, wb)]);
    let proc = Process::start(&config(10, 10));
    wait_listening(addr).await;

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (stop, ok) = (stop.clone(), ok.clone());
        clients.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let req = http::Request::get("/")
                    .header("host", "load.test")
                    .body(http_body_util::Full::new(bytes::Bytes::new()))
                    .unwrap();
                match send(addr, None, req).await {
                    Ok(got) if got.status == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(got) => failures.push(format!("status {}", got.status)),
                    Err(e) => failures.push(e),
                }
            }
            failures
        }));
    }
    for i in 0..10u32 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        proc.write_config(&config(10 + i, 10));
        proc.signal("HUP");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for c in clients {
        failures.extend(c.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
    assert!(
        ok.load(Ordering::Relaxed) > 100,
        "load ran: {} requests",
        ok.load(Ordering::Relaxed)
    );
}

#[tokio::test]
async fn an_invalid_reload_keeps_the_running_configuration() {
    let a = Backend::start("a").await;
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let good = one_rule(port, "r.test", "/", "", &[(a.addr, 10)]);
    let stgw = Stgw::start(&good);
    std::fs::write(
        stgw.dir.path().join("stgw.toml"),
        good.replace("weight = 10", "weight = 1000"),
    )
    .unwrap();
    let err = stgw.runtime.reload().unwrap_err().to_string();
    assert!(err.contains("allowed 0-100"), "{err}");
    assert_eq!(get(addr, "r.test", "/").await.text(), "a");
}

#[tokio::test]
async fn a_reload_adds_and_removes_listeners() {
    let a = Backend::start("a").await;
    let (p1, p2) = (free_port(), free_port());
    let one = one_rule(p1, "x.test", "/", "", &[(a.addr, 10)]);
    let stgw = Stgw::start(&one);
    let two = one.clone()
        + &format!(
            r#"
  [[load_balancer.listener]]
  protocol = "HTTP"
  port = {p2}
    [[load_balancer.listener.domain]]
    name = "x.test"
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{}" }}]
"#,
            a.addr
        );
    stgw.reload(&two);
    let addr2 = SocketAddr::from(([127, 0, 0, 1], p2));
    assert_eq!(get(addr2, "x.test", "/").await.status, 200);
    stgw.reload(&one);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        tokio::net::TcpStream::connect(addr2).await.is_err(),
        "removed listener closed"
    );
    assert_eq!(
        get(SocketAddr::from(([127, 0, 0, 1], p1)), "x.test", "/")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_exits_0() {
    let slow = Backend::start_with("slow", "127.0.0.1:0", |_| {
        let mut r = Reply::text("done");
        r.delay = Duration::from_secs(1);
        r
    })
    .await;
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut proc = Process::start(&one_rule(port, "t.test", "/", "", &[(slow.addr, 10)]));
    wait_listening(addr).await;
    let inflight = tokio::spawn(async move { get(addr, "t.test", "/").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    proc.signal("TERM");
    let got = inflight.await.unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "done");
    let status = tokio::task::spawn_blocking(move || proc.child.wait().map(|s| s.code()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, Some(0));
}
