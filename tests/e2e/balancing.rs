//! Schedulers seen from outside: which backend answers.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::support::*;

#[tokio::test]
async fn wrr_is_exact_over_whole_cycles_at_90_30_30_30_10() {
    let weights = [90, 30, 30, 30, 10];
    let mut backends = Vec::new();
    for i in 0..weights.len() {
        backends.push(Backend::start(&format!("rs-{i}")).await);
    }
    let targets: Vec<(SocketAddr, u32)> = backends
        .iter()
        .zip(weights)
        .map(|(b, w)| (b.addr, w))
        .collect();
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "wrr.test", "/", "", &targets));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..2 * 190 {
        *counts
            .entry(get(addr, "wrr.test", "/").await.text())
            .or_default() += 1;
    }
    for (i, w) in weights.iter().enumerate() {
        assert_eq!(counts[&format!("rs-{i}")], 2 * *w as usize, "{counts:?}");
    }
}

#[tokio::test]
async fn least_conn_sends_new_requests_away_from_a_busy_target() {
    let slow = Backend::start_with("slow", "127.0.0.1:0", |seen| {
        let mut r = Reply::text("slow");
        if seen.uri.path() == "/hold" {
            r.delay = Duration::from_secs(3);
        }
        r
    })
    .await;
    let fast = Backend::start("fast").await;
    let port = free_port();
    let toml = one_rule(
        port,
        "lc.test",
        "/",
        "scheduler = \"LEAST_CONN\"",
        &[(slow.addr, 10), (fast.addr, 10)],
    );
    let _stgw = Stgw::start(&toml);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Tie: WRR starts with the first target, which now holds two requests.
    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { get(addr, "lc.test", "/hold").await }))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slow.hits() + fast.hits(), 2);
    let before = fast.hits();
    for _ in 0..10 {
        assert_eq!(get(addr, "lc.test", "/").await.text(), "fast");
    }
    assert_eq!(fast.hits(), before + 10);
    for h in held {
        assert_eq!(h.await.unwrap().status, 200);
    }
}

fn client_ip(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8))
}

async fn from(addr: SocketAddr, ip: IpAddr) -> String {
    let req = Request::get("/")
        .header("host", "hash.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(addr, Some(ip), req).await.unwrap().text()
}

#[tokio::test]
async fn ip_hash_keeps_clients_and_moves_only_a_removed_targets_clients() {
    let mut backends = Vec::new();
    for i in 0..5 {
        backends.push(Backend::start(&format!("rs-{i}")).await);
    }
    let targets: Vec<(SocketAddr, u32)> = backends.iter().map(|b| (b.addr, 10)).collect();
    let port = free_port();
    let extra = "scheduler = \"IP_HASH\"";
    let stgw = Stgw::start(&one_rule(port, "hash.test", "/", extra, &targets));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let mut first = HashMap::new();
    for i in 0..1000 {
        first.insert(i, from(addr, client_ip(i)).await);
    }
    for i in (0..1000).step_by(7) {
        assert_eq!(
            from(addr, client_ip(i)).await,
            first[&i],
            "client {i} moved"
        );
    }
    let per_target =
        |m: &HashMap<u32, String>, name: &str| m.values().filter(|v| *v == name).count();
    for b in &backends {
        let n = per_target(&first, &b.name);
        assert!(
            (120..=280).contains(&n),
            "{} got {n} of 1000 clients",
            b.name
        );
    }

    // Remove rs-2 by reload: only its clients move.
    let without: Vec<(SocketAddr, u32)> = targets
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, t)| *t)
        .collect();
    stgw.reload(&one_rule(port, "hash.test", "/", extra, &without));
    for i in 0..1000 {
        let now = from(addr, client_ip(i)).await;
        if first[&i] == "rs-2" {
            assert_ne!(now, "rs-2");
        } else {
            assert_eq!(now, first[&i], "client {i} moved off a target that stayed");
        }
    }
}

#[tokio::test]
async fn weight_zero_targets_get_nothing() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(
        port,
        "w.test",
        "/",
        "",
        &[(a.addr, 0), (b.addr, 10)],
    ));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..20 {
        assert_eq!(get(addr, "w.test", "/").await.text(), "b");
    }
    assert_eq!(a.hits(), 0);
}

#[tokio::test]
async fn an_unchanged_rule_keeps_its_round_robin_position_over_a_reload() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let toml = one_rule(port, "rr.test", "/", "", &[(a.addr, 10), (b.addr, 10)]);
    let stgw = Stgw::start(&toml);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(get(addr, "rr.test", "/").await.text(), "a");
    stgw.reload(&toml);
    assert_eq!(get(addr, "rr.test", "/").await.text(), "b");
    // Changing the weights starts the cycle afresh.
    stgw.reload(&one_rule(
        port,
        "rr.test",
        "/",
        "",
        &[(a.addr, 20), (b.addr, 10)],
    ));
    assert_eq!(get(addr, "rr.test", "/").await.text(), "a");
}
