//! Several nodes, one configuration: three stgw processes following one
//! etcd (`[store] kind = "etcd"`), each on its own `[node] vip`. Skipped,
//! loudly, where no etcd binary is installed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::{Value, json};

use crate::etcd_support::*;
use crate::support::*;

/// Targets of the shared rule, as `DescribeTargets` on node `i` lists them.
async fn target_ports(cluster: &Cluster, i: usize) -> Vec<u64> {
    let r = cluster.nodes[i]
        .ok("DescribeTargets", json!({"LoadBalancerId": LB}))
        .await;
    let mut ports: Vec<u64> = r["Listeners"][0]["Rules"][0]["Targets"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["Port"].as_u64()).collect())
        .unwrap_or_default();
    ports.sort_unstable();
    ports
}

fn register(port: u16) -> Value {
    json!({"LoadBalancerId": LB, "ListenerId": LISTENER, "LocationId": LOCATION,
           "Targets": [{"EniIp": "127.0.0.1", "Port": port, "Weight": 10}]})
}

#[tokio::test]
async fn an_api_write_on_one_node_changes_routing_on_the_others_within_a_second() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let Some(cluster) = Cluster::start("etcd: propagation", |etcd, port| {
        shared_file(etcd, port, "", &[a.addr], "")
    })
    .await
    else {
        return;
    };
    for i in 0..3 {
        assert_eq!(cluster.get(i).await, (200, "a".into()), "node {i}");
    }
    cluster.nodes[0]
        .ok(
            "ModifyTargetPort",
            json!({"LoadBalancerId": LB, "ListenerId": LISTENER, "LocationId": LOCATION,
                   "Targets": [{"EniIp": "127.0.0.1", "Port": a.addr.port()}], "NewPort": b.addr.port()}),
        )
        .await;
    assert_eq!(
        cluster.get(0).await,
        (200, "b".into()),
        "applied before the answer"
    );
    for i in [1, 2] {
        let took = cluster.wait_for(i, "b", Duration::from_secs(1)).await;
        eprintln!("node {i} routes to the new target {took:?} after the write");
    }
}

#[tokio::test]
async fn concurrent_writes_on_different_nodes_all_survive() {
    let a = Backend::start("a").await;
    let Some(cluster) = Cluster::start("etcd: concurrent writes", |etcd, port| {
        shared_file(etcd, port, "", &[a.addr], "")
    })
    .await
    else {
        return;
    };
    let mut expected = vec![u64::from(a.addr.port())];
    for round in 0..3u16 {
        let ports: Vec<u16> = (0..3u16).map(|i| 31_001 + round * 10 + i).collect();
        let (r0, r1, r2) = tokio::join!(
            cluster.nodes[0].call("RegisterTargets", register(ports[0])),
            cluster.nodes[1].call("RegisterTargets", register(ports[1])),
            cluster.nodes[2].call("RegisterTargets", register(ports[2])),
        );
        for r in [r0, r1, r2] {
            assert!(r.get("Error").is_none(), "round {round}: {r}");
        }
        expected.extend(ports.iter().map(|&p| u64::from(p)));
    }
    expected.sort_unstable();
    for i in 0..3 {
        let mut seen = Vec::new();
        for _ in 0..50 {
            seen = target_ports(&cluster, i).await;
            if seen == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(seen, expected, "node {i} lost a write");
    }
    let (ok, out, err) = stgw_store(&cluster.dir.path().join("shared.toml"), &["export"]);
    assert!(ok, "{err}");
    for port in &expected {
        assert!(
            out.contains(&format!("127.0.0.1:{port}")),
            "{port} in the store:\n{out}"
        );
    }
}

#[tokio::test]
async fn stopping_etcd_leaves_every_node_serving_and_they_catch_up_when_it_returns() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let Some(mut cluster) = Cluster::start("etcd: outage", |etcd, port| {
        shared_file(etcd, port, "", &[a.addr], "")
    })
    .await
    else {
        return;
    };
    let before = store_health(&cluster, 0).await;
    assert_eq!((before.0, before.2), (1.0, true), "etcd up");
    cluster.etcd.stop();
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < until {
        for i in 0..3 {
            assert_eq!(
                cluster.get(i).await,
                (200, "a".into()),
                "node {i} without etcd"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let move_to_b = json!({"LoadBalancerId": LB, "ListenerId": LISTENER, "LocationId": LOCATION,
                           "Targets": [{"EniIp": "127.0.0.1", "Port": a.addr.port()}], "NewPort": b.addr.port()});
    let (code, message) = cluster.nodes[0]
        .err("ModifyTargetPort", move_to_b.clone())
        .await;
    assert_eq!(code, "FailedOperation", "{message}");
    // Metrics and the status page say the node runs without its store, at
    // the revision it had.
    let lost = wait_store_health(&cluster, 0, false).await;
    assert_eq!((lost.0, lost.1), (0.0, before.1), "metrics without etcd");
    for i in 0..3 {
        assert_eq!(
            cluster.get(i).await,
            (200, "a".into()),
            "a refused write changes nothing (node {i})"
        );
    }
    // A node restarted during the outage starts from its cached copy.
    cluster.nodes[2].crash_and_restart().await;
    wait_listening(cluster.addr(2)).await;
    assert_eq!(
        cluster.get(2).await,
        (200, "a".into()),
        "restarted without etcd"
    );
    cluster.etcd.spawn().await;
    let mut written = false;
    for _ in 0..100 {
        let r = cluster.nodes[1]
            .call("ModifyTargetPort", move_to_b.clone())
            .await;
        if r.get("Error").is_none() {
            written = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(written, "node 1 never wrote after etcd came back");
    for i in [0, 2] {
        cluster.wait_for(i, "b", Duration::from_secs(5)).await;
    }
    let back = wait_store_health(&cluster, 0, true).await;
    assert_eq!(back.0, 1.0, "metrics once etcd is back");
    assert!(back.1 > before.1, "revision {} after {}", back.1, before.1);
}

/// Node `i`'s view of the store: `stgw_store_healthy`, `stgw_store_revision`
/// (from `/metrics`) and `store.healthy` (from `/status.json`).
async fn store_health(cluster: &Cluster, i: usize) -> (f64, f64, bool) {
    let admin = cluster.nodes[i].admin;
    let samples = crate::observe::scrape(admin).await;
    let kind = [("kind", "etcd")];
    let healthy = crate::observe::value(&samples, "stgw_store_healthy", &kind);
    let revision = crate::observe::value(&samples, "stgw_store_revision", &kind);
    let page = get(admin, "admin", "/status.json").await;
    let status: Value = serde_json::from_slice(&page.body).unwrap();
    assert_eq!(status["store"]["kind"], "etcd");
    (
        healthy.expect("stgw_store_healthy"),
        revision.expect("stgw_store_revision"),
        status["store"]["healthy"].as_bool().expect("store.healthy"),
    )
}

/// Polls node `i` until metrics and the status page both say `healthy`.
async fn wait_store_health(cluster: &Cluster, i: usize, healthy: bool) -> (f64, f64, bool) {
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = store_health(cluster, i).await;
        if (seen.0 == 1.0, seen.2) == (healthy, healthy) {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "node {i} never reported store healthy={healthy}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_sticky_client_keeps_its_target_whichever_node_it_reaches() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let Some(cluster) = Cluster::start("etcd: stickiness", |etcd, port| {
        shared_file(
            etcd,
            port,
            "session_expire_time = 60",
            &[a.addr, b.addr],
            "",
        )
    })
    .await
    else {
        return;
    };
    for first_node in 0..3 {
        let got = send(cluster.addr(first_node), None, get_req(DOMAIN, "/"))
            .await
            .unwrap();
        let target = got.text();
        let cookie = got
            .headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a sticky cookie")
            .to_owned();
        for round in 0..4 {
            for i in 0..3 {
                let mut req = get_req(DOMAIN, "/");
                req.headers_mut().insert("cookie", cookie.parse().unwrap());
                let again = send(cluster.addr(i), None, req).await.unwrap();
                assert_eq!(
                    again.text(),
                    target,
                    "cookie from node {first_node} honoured by node {i} (round {round})"
                );
            }
        }
    }
}

#[tokio::test]
async fn ip_hash_sends_a_client_to_the_same_target_on_every_node() {
    let backends = [
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    ];
    let addrs: Vec<SocketAddr> = backends.iter().map(|b| b.addr).collect();
    let Some(cluster) = Cluster::start("etcd: ip_hash", |etcd, port| {
        shared_file(etcd, port, "scheduler = \"IP_HASH\"", &addrs, "")
    })
    .await
    else {
        return;
    };
    let mut chosen = std::collections::BTreeSet::new();
    for k in 1..=30u8 {
        let client = IpAddr::V4(Ipv4Addr::new(127, 0, 2, k));
        let mut answers = Vec::new();
        for i in 0..3 {
            let got = send(cluster.addr(i), Some(client), get_req(DOMAIN, "/"))
                .await
                .unwrap();
            answers.push(got.text());
        }
        assert!(
            answers.iter().all(|t| *t == answers[0]),
            "client {client}: {answers:?}"
        );
        chosen.insert(answers[0].clone());
    }
    assert!(
        chosen.len() > 1,
        "the clients spread over the targets: {chosen:?}"
    );
}

#[tokio::test]
async fn sighup_rereads_the_nodes_own_sections_and_keeps_the_shared_configuration() {
    let a = Backend::start("a").await;
    let Some(cluster) = Cluster::start("etcd: SIGHUP", |etcd, port| {
        shared_file(etcd, port, "", &[a.addr], "")
    })
    .await
    else {
        return;
    };
    let node = &cluster.nodes[2];
    let path = node.config_path();
    let moved = std::fs::read_to_string(&path).unwrap().replace(
        &format!("\"{LB}\" = \"127.0.0.13\""),
        &format!("\"{LB}\" = \"127.0.0.14\""),
    );
    std::fs::write(&path, moved).unwrap();
    let pid = node.child.as_ref().unwrap().id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let new_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 14)), cluster.port);
    wait_listening(new_addr).await;
    let got = send(new_addr, None, get_req(DOMAIN, "/")).await.unwrap();
    assert_eq!(
        got.text(),
        "a",
        "the shared rule serves on the node's new vip"
    );
    assert!(
        stops_listening(cluster.addr(2), Duration::from_secs(1)).await,
        "node 2 still listens on its old vip"
    );
}
