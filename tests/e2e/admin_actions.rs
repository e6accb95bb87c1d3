//! Management API actions the SDK walk-through does not reach, each checked
//! against real traffic or the listing it changes.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::admin_support::*;
use crate::support::*;

async fn node() -> AdminNode {
    let port = free_port();
    AdminNode::start(&admin_config(port, "", ""), port).await
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect()
}

async fn body(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    let got = get(addr, host, path).await;
    (got.status.as_u16(), got.text())
}

#[tokio::test]
async fn load_balancers_are_listed_ordered_paginated_and_filtered_like_the_product() {
    let n = node().await;
    let mut created = Vec::new();
    for (name, vip) in [
        ("bravo", "127.0.0.1"),
        ("alpha", "127.0.0.2"),
        ("charlie", "127.0.0.3"),
    ] {
        let r = n
            .ok(
                "CreateLoadBalancer",
                json!({"LoadBalancerType": "INTERNAL", "LoadBalancerName": name, "Vip": vip}),
            )
            .await;
        created.push(ids(&r, "LoadBalancerIds")[0].clone());
    }
    let names = |v: &Value| -> Vec<String> {
        v["LoadBalancerSet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|lb| lb["LoadBalancerName"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = n.ok("DescribeLoadBalancers", json!({})).await;
    assert_eq!(
        names(&all),
        ["charlie", "alpha", "bravo"],
        "newest first by default"
    );
    let page = n
        .ok("DescribeLoadBalancers", json!({"Offset": 1, "Limit": 1}))
        .await;
    assert_eq!(
        (page["TotalCount"].as_u64(), names(&page)),
        (Some(3), vec!["alpha".to_owned()])
    );
    let by_name = n
        .ok(
            "DescribeLoadBalancers",
            json!({"OrderBy": "LoadBalancerName", "OrderType": 0}),
        )
        .await;
    assert_eq!(names(&by_name), ["alpha", "bravo", "charlie"]);
    let vip = n
        .ok(
            "DescribeLoadBalancers",
            json!({"LoadBalancerVips": ["127.0.0.3"]}),
        )
        .await;
    assert_eq!(names(&vip), ["charlie"]);
    let search = n
        .ok("DescribeLoadBalancers", json!({"SearchKey": "rav"}))
        .await;
    assert_eq!(names(&search), ["bravo"]);
    let typed = n
        .ok("DescribeLoadBalancers", json!({"LoadBalancerType": "OPEN"}))
        .await;
    assert_eq!(typed["TotalCount"], 0, "loopback VIPs are INTERNAL");
    let none = n
        .ok(
            "DescribeLoadBalancers",
            json!({"Filters": [{"Name": "tag-key", "Values": ["team"]}]}),
        )
        .await;
    assert_eq!(none["TotalCount"], 0, "no load balancer has tags");

    n.ok(
        "ModifyLoadBalancerAttributes",
        json!({"LoadBalancerId": created[0], "LoadBalancerName": "delta"}),
    )
    .await;
    let renamed = n
        .ok(
            "DescribeLoadBalancers",
            json!({"LoadBalancerIds": [created[0]]}),
        )
        .await;
    assert_eq!(names(&renamed), ["delta"]);
    let (code, _) = n
        .err(
            "ModifyLoadBalancerAttributes",
            json!({"LoadBalancerId": created[0], "LoadBalancerName": "alpha"}),
        )
        .await;
    assert_eq!(code, "InvalidParameterValue.Duplicate");
    let (code, _) = n
        .err(
            "ModifyLoadBalancerAttributes",
            json!({"LoadBalancerId": created[0], "SnatPro": true}),
        )
        .await;
    assert_eq!(code, "UnsupportedOperation");
}

#[tokio::test]
async fn deleting_a_load_balancer_closes_its_listeners() {
    let n = node().await;
    let a = Backend::start("a").await;
    let port = free_port();
    let proxy = SocketAddr::from(([127, 0, 0, 1], port));
    let (lb, listener, loc) = http_rule(&n, port, "d.test").await;
    n.ok("RegisterTargets", json!({"LoadBalancerId": lb, "ListenerId": listener, "LocationId": loc, "Targets": [{"EniIp": "127.0.0.1", "Port": a.addr.port()}]})).await;
    assert_eq!(body(proxy, "d.test", "/").await, (200, "a".into()));
    let r = n
        .ok("DeleteLoadBalancer", json!({"LoadBalancerIds": [lb]}))
        .await;
    let task = r["RequestId"].as_str().unwrap().to_owned();
    assert_eq!(
        n.ok("DescribeTaskStatus", json!({"TaskId": task})).await["Status"],
        0
    );
    assert!(
        tokio::net::TcpStream::connect(proxy).await.is_err(),
        "the listener is gone"
    );
    assert_eq!(
        n.ok("DescribeLoadBalancers", json!({})).await["TotalCount"],
        0
    );
}

#[tokio::test]
async fn batch_register_and_deregister_report_the_listeners_that_failed() {
    let n = node().await;
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let (p1, p2) = (free_port(), free_port());
    let (lb, l1, loc1) = http_rule(&n, p1, "one.test").await;
    let l2 = ids(
        &n.ok(
            "CreateListener",
            json!({"LoadBalancerId": lb, "Ports": [p2], "Protocol": "HTTP"}),
        )
        .await,
        "ListenerIds",
    )[0]
    .clone();
    let loc2 = ids(&n.ok("CreateRule", json!({"LoadBalancerId": lb, "ListenerId": l2, "Rules": [{"Domain": "two.test", "Url": "/"}]})).await, "LocationIds")[0].clone();
    let r = n
        .ok(
            "BatchRegisterTargets",
            json!({"LoadBalancerId": lb, "Targets": [
                {"ListenerId": l1, "LocationId": loc1, "EniIp": "127.0.0.1", "Port": a.addr.port()},
                {"ListenerId": l2, "LocationId": loc2, "EniIp": "127.0.0.1", "Port": b.addr.port(), "Weight": 5},
                {"ListenerId": "lbl-nothere1", "LocationId": loc2, "EniIp": "127.0.0.1", "Port": 9},
            ]}),
        )
        .await;
    assert_eq!(ids(&r, "FailListenerIdSet"), ["lbl-nothere1"]);
    // Not marked asynchronous by the product, but clients follow every
    // write with DescribeTaskStatus; a query leaves no task.
    let task = r["RequestId"].as_str().unwrap().to_owned();
    assert_eq!(
        n.ok("DescribeTaskStatus", json!({"TaskId": task})).await["Status"],
        0
    );
    let query = n
        .ok("DescribeListeners", json!({"LoadBalancerId": lb}))
        .await;
    let (code, _) = n
        .err("DescribeTaskStatus", json!({"TaskId": query["RequestId"]}))
        .await;
    assert_eq!(code, "InvalidParameter");
    let (proxy1, proxy2) = (
        SocketAddr::from(([127, 0, 0, 1], p1)),
        SocketAddr::from(([127, 0, 0, 1], p2)),
    );
    assert_eq!(body(proxy1, "one.test", "/").await, (200, "a".into()));
    assert_eq!(body(proxy2, "two.test", "/").await, (200, "b".into()));
    let r = n
        .ok(
            "BatchDeregisterTargets",
            json!({"LoadBalancerId": lb, "Targets": [
                {"ListenerId": l2, "LocationId": loc2, "EniIp": "127.0.0.1", "Port": b.addr.port()},
                {"ListenerId": l1, "LocationId": loc1, "EniIp": "127.0.0.1", "Port": 9},
            ]}),
        )
        .await;
    assert_eq!(
        ids(&r, "FailListenerIdSet"),
        [l1.as_str()],
        "a target that is not bound fails"
    );
    assert_eq!(body(proxy2, "two.test", "/").await.0, 503, "b was unbound");
    assert_eq!(body(proxy1, "one.test", "/").await, (200, "a".into()));
}

#[tokio::test]
async fn modify_target_port_moves_traffic_to_the_new_port() {
    let n = node().await;
    let a = Backend::start("a").await;
    let port = free_port();
    let proxy = SocketAddr::from(([127, 0, 0, 1], port));
    let (lb, listener, loc) = http_rule(&n, port, "p.test").await;
    let wrong = free_port();
    n.ok("RegisterTargets", json!({"LoadBalancerId": lb, "ListenerId": listener, "Domain": "p.test", "Url": "/", "Targets": [{"EniIp": "127.0.0.1", "Port": wrong}]})).await;
    assert_eq!(
        body(proxy, "p.test", "/").await.0,
        502,
        "nothing listens on the first port"
    );
    n.ok("ModifyTargetPort", json!({"LoadBalancerId": lb, "ListenerId": listener, "LocationId": loc, "Targets": [{"EniIp": "127.0.0.1", "Port": wrong}], "NewPort": a.addr.port()})).await;
    assert_eq!(body(proxy, "p.test", "/").await, (200, "a".into()));
    let targets = n.ok("DescribeTargets", json!({"LoadBalancerId": lb})).await;
    assert_eq!(
        targets["Listeners"][0]["Rules"][0]["Targets"][0]["Port"],
        a.addr.port()
    );
}

#[tokio::test]
async fn the_default_domain_and_the_default_switch_decide_unmatched_hosts() {
    let n = node().await;
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let proxy = SocketAddr::from(([127, 0, 0, 1], port));
    let (lb, listener, loc_a) = http_rule(&n, port, "a.test").await;
    let loc_b = ids(&n.ok("CreateRule", json!({"LoadBalancerId": lb, "ListenerId": listener, "Rules": [{"Domain": "b.test", "Url": "/"}]})).await, "LocationIds")[0].clone();
    for (loc, backend) in [(&loc_a, &a), (&loc_b, &b)] {
        n.ok("RegisterTargets", json!({"LoadBalancerId": lb, "ListenerId": listener, "LocationId": loc, "Targets": [{"EniIp": "127.0.0.1", "Port": backend.addr.port()}]})).await;
    }
    assert_eq!(
        body(proxy, "other.test", "/").await.1,
        "a",
        "the first domain is the default"
    );
    n.ok("ModifyDomainAttributes", json!({"LoadBalancerId": lb, "ListenerId": listener, "Domain": "b.test", "DefaultServer": true})).await;
    assert_eq!(
        body(proxy, "other.test", "/").await.1,
        "b",
        "b.test is now the default"
    );
    let listed = n
        .ok("DescribeListeners", json!({"LoadBalancerId": lb}))
        .await;
    let defaults: Vec<(String, bool)> = listed["Listeners"][0]["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["Domain"].as_str().unwrap().to_owned(),
                r["DefaultServer"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        defaults,
        [("a.test".to_owned(), false), ("b.test".to_owned(), true)]
    );
    // The listener keeps a default: turning it off needs its successor.
    let (code, message) = n.err("ModifyDomainAttributes", json!({"LoadBalancerId": lb, "ListenerId": listener, "Domain": "b.test", "DefaultServer": false})).await;
    assert_eq!(code, "InvalidParameter", "{message}");
    assert!(message.contains("NewDefaultServerDomain"), "{message}");
    assert_eq!(body(proxy, "other.test", "/").await.1, "b", "unchanged");
    n.ok("ModifyDomainAttributes", json!({"LoadBalancerId": lb, "ListenerId": listener, "Domain": "b.test", "DefaultServer": false, "NewDefaultServerDomain": "a.test"})).await;
    assert_eq!(
        body(proxy, "other.test", "/").await.1,
        "a",
        "a.test took over"
    );
    n.ok(
        "ModifyListener",
        json!({"LoadBalancerId": lb, "ListenerId": listener, "DefaultSerSwitch": false}),
    )
    .await;
    assert_eq!(
        body(proxy, "other.test", "/").await.0,
        404,
        "with the switch off unmatched hosts get 404"
    );
    assert_eq!(body(proxy, "a.test", "/").await.1, "a");
    n.ok("ModifyDomainAttributes", json!({"LoadBalancerId": lb, "ListenerId": listener, "Domain": "a.test", "NewDomain": "*.wild.test"})).await;
    assert_eq!(
        body(proxy, "x.wild.test", "/").await.1,
        "a",
        "the renamed wildcard domain routes"
    );
    let (code, _) = n.err("ModifyDomainAttributes", json!({"LoadBalancerId": lb, "ListenerId": listener, "Domain": "b.test", "Http2": true})).await;
    assert_eq!(code, "InvalidParameter", "HTTP/2 is for HTTPS domains");
    let (code, _) = n.err("ModifyDomain", json!({"LoadBalancerId": lb, "ListenerId": listener, "Domain": "b.test", "NewDomain": "*.wild.test"})).await;
    assert_eq!(code, "InvalidParameter", "two domains cannot share a name");
}

#[tokio::test]
async fn targets_by_instance_id_resolve_through_the_instance_table() {
    let port = free_port();
    let n = AdminNode::start(
        &admin_config(
            port,
            "",
            "[[instance]]\nid = \"ins-web00001\"\naddress = \"127.0.0.1\"\n",
        ),
        port,
    )
    .await;
    let a = Backend::start("a").await;
    let http_port = free_port();
    let proxy = SocketAddr::from(([127, 0, 0, 1], http_port));
    let (lb, listener, loc) = http_rule(&n, http_port, "i.test").await;
    n.ok("RegisterTargets", json!({"LoadBalancerId": lb, "ListenerId": listener, "LocationId": loc, "Targets": [{"InstanceId": "ins-web00001", "Port": a.addr.port(), "Weight": 7}]})).await;
    assert_eq!(body(proxy, "i.test", "/").await, (200, "a".into()));
    let targets = n.ok("DescribeTargets", json!({"LoadBalancerId": lb})).await;
    let t = &targets["Listeners"][0]["Rules"][0]["Targets"][0];
    assert_eq!(
        (
            t["Type"].as_str(),
            t["InstanceId"].as_str(),
            t["Weight"].as_i64()
        ),
        (Some("CVM"), Some("ins-web00001"), Some(7))
    );
    let text = std::fs::read_to_string(n.config_path()).unwrap();
    assert!(
        text.contains("instance = \"ins-web00001\""),
        "stored by instance id:\n{text}"
    );
    let health = n
        .ok("DescribeTargetHealth", json!({"LoadBalancerIds": [lb]}))
        .await;
    assert_eq!(
        health["LoadBalancers"][0]["Listeners"][0]["Rules"][0]["Targets"][0]["TargetId"],
        "ins-web00001"
    );
    // Deregistering by the instance's address finds it too.
    n.ok("DeregisterTargets", json!({"LoadBalancerId": lb, "ListenerId": listener, "LocationId": loc, "Targets": [{"EniIp": "127.0.0.1", "Port": a.addr.port()}]})).await;
    assert_eq!(body(proxy, "i.test", "/").await.0, 503);
}
