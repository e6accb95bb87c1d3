//! Reloads and shutdown of the real binary, under load.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    // A keep-alive connection to the listener about to go, idle.
    let mut kept = tokio::net::TcpStream::connect(addr2).await.unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nHost: x.test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    stgw.reload(&one);
    // It is closed (after the drain's grace for a request on its way), not
    // left serving the removed listener's rules until keepalive_timeout.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match kept.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the removed listener's idle connection stayed open"
    );
    // The accept loop drops the socket when it next runs: soon, but on a
    // busy machine (the whole suite in parallel) not always within 100 ms.
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(addr2).await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "removed listener still open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    // New connections are refused at once (the listening socket is
    // closed), so clients and load balancers go elsewhere instead of
    // waiting in the accept queue until the drain ends.
    let started = std::time::Instant::now();
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
                break;
            }
            Ok(_) => {
                assert!(
                    started.elapsed() < Duration::from_millis(500),
                    "still accepting during the drain"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    let got = inflight.await.unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "done");
    let status = tokio::task::spawn_blocking(move || proc.child.wait().map(|s| s.code()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_binary_upgrade_under_load_fails_no_request() {
    let a = Backend::start("a").await;
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut old = Process::start(&one_rule(port, "up.test", "/", "", &[(a.addr, 10)]));
    wait_listening(addr).await;
    // Let the old process open its upgrade socket.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..6 {
        let (stop, ok) = (stop.clone(), ok.clone());
        clients.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let req = http::Request::get("/")
                    .header("host", "up.test")
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = ok.load(Ordering::Relaxed);
    let mut new = proc_upgrade(&old);
    // The old process hands over, drains and exits 0.
    let code = tokio::task::spawn_blocking(move || old.child.wait().map(|s| s.code()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, Some(0));
    tokio::time::sleep(Duration::from_millis(500)).await;
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
        ok.load(Ordering::Relaxed) > before + 50,
        "the new process served"
    );
    assert_eq!(get(addr, "up.test", "/").await.text(), "a");
    let _ = new.kill();
    let _ = new.wait();
}

fn proc_upgrade(old: &Process) -> std::process::Child {
    old.upgrade()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_is_survived_and_reported() {
    let a = Backend::start("a").await;
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let dir = TempDir::new();
    let path = dir.path().join("stgw.toml");
    std::fs::write(&path, one_rule(port, "fd.test", "/", "", &[(a.addr, 10)])).unwrap();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec {} --config {}",
            env!("CARGO_BIN_EXE_stgw"),
            path.display()
        ))
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_listening(addr).await;
    // Far more connections than descriptors, each with the start of a
    // request (a listener hands a connection over once its client speaks).
    let mut held = Vec::new();
    for _ in 0..150 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
            let _ = tokio::io::AsyncWriteExt::write_all(&mut s, b"GET / HTTP/1.1\r\n").await;
            held.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(held);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        get(addr, "fd.test", "/").await.text(),
        "a",
        "still serving after the descriptors came back"
    );
    assert!(child.try_wait().unwrap().is_none(), "stgw did not crash");
    let _ = child.kill();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("accept failed") && log.contains("Too many open files"),
        "{log}"
    );
}

#[tokio::test]
async fn a_port_in_use_is_reported_clearly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = TempDir::new();
    let path = dir.path().join("stgw.toml");
    std::fs::write(&path, one_rule(port, "x.test", "/", "", &[])).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stgw"))
        .arg("--config")
        .arg(&path)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("Address already in use"), "{err}");
}

#[tokio::test]
async fn the_state_dir_stgw_creates_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let stgw = Stgw::start(&one_rule(free_port(), "x.test", "/", "", &[]));
    let var = stgw.dir.path().join("var");
    let mode = std::fs::metadata(&var).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{}", var.display());
}
