//! The abuse controls and the upstream timeouts in `/metrics`.

use std::net::{IpAddr, SocketAddr};

use super::*;

#[tokio::test]
async fn refused_connections_and_limit_req_rejections_are_counted() {
    let target = Backend::start("t").await;
    let (port, admin_port) = (free_port(), free_port());
    let admin_addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let lb = one_rule(
        port,
        "abuse.test",
        "/",
        "health_check = { enabled = false }",
        &[(target.addr, 10)],
    )
    .replace(
        "port = ",
        "blocked_ips = [\"127.0.0.2\"]\n  limit_req = { rate = 1, burst = 1 }\n  port = ",
    );
    let rest = lb
        .split_once("[[load_balancer]]")
        .map(|(_, lb)| format!("[[load_balancer]]{lb}"))
        .unwrap();
    let stgw = Stgw::start(&config(admin_addr, "", &rest));
    let _admin = admin(&stgw).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let blocked: IpAddr = "127.0.0.2".parse().unwrap();
    assert!(
        send(addr, Some(blocked), get_req("abuse.test", "/"))
            .await
            .is_err()
    );
    let mut limited = 0;
    for _ in 0..5 {
        if get(addr, "abuse.test", "/").await.status == 503 {
            limited += 1;
        }
    }
    assert!(limited >= 3, "limit_req let {} of 5 through", 5 - limited);

    let s = scrape(admin_addr).await;
    let ids: Vec<(&str, String)> = {
        let snapshot = stgw.runtime.snapshot();
        let l = &snapshot.listeners[0];
        vec![("lb", l.lb_id.to_string()), ("listener", l.id.to_string())]
    };
    let labels = |extra: &[(&'static str, &'static str)]| -> Vec<(String, String)> {
        ids.iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .chain(
                extra
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            )
            .collect()
    };
    let lookup = |name: &str, labels: Vec<(String, String)>| {
        let l: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        value(&s, name, &l)
    };
    assert_eq!(
        lookup(
            "stgw_connections_refused_total",
            labels(&[("reason", "blocked")])
        ),
        Some(1.0)
    );
    assert_eq!(
        lookup(
            "stgw_connections_refused_total",
            labels(&[("reason", "max_connections")])
        ),
        Some(0.0)
    );
    assert_eq!(
        lookup("stgw_limit_req_rejected_total", labels(&[])),
        Some(f64::from(limited))
    );
    assert_eq!(lookup("stgw_connections_total", labels(&[])), Some(5.0));
    // Refused requests are stgw's 503s, before routing.
    assert_eq!(
        lookup(
            "stgw_http_requests_total",
            labels(&[
                ("domain", ""),
                ("rule", ""),
                ("source", "proxy"),
                ("code", "5xx")
            ])
        ),
        Some(f64::from(limited))
    );
}

#[tokio::test]
async fn a_target_that_does_not_accept_in_time_counts_as_an_upstream_timeout() {
    let stuck = Blackhole::start().await;
    let stuck_addr = stuck.addr;

    let (port, admin_port) = (free_port(), free_port());
    let admin_addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let lb = one_rule(
        port,
        "slow.test",
        "/",
        "health_check = { enabled = false }",
        &[(stuck_addr, 10)],
    );
    let rest = with_custom(&lb, "proxy_connect_timeout 4s;")
        .split_once("[[load_balancer]]")
        .map(|(_, lb)| format!("[[load_balancer]]{lb}"))
        .unwrap();
    let stgw = Stgw::start(&config(admin_addr, "access_log = \"access.log\"", &rest));
    let _admin = admin(&stgw).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(get(addr, "slow.test", "/").await.status, 504);

    let s = scrape(admin_addr).await;
    let timeouts: f64 = s
        .iter()
        .filter(|x| x.name == "stgw_upstream_timeouts_total")
        .filter(|x| x.labels.get("target") == Some(&stuck_addr.to_string()))
        .map(|x| x.value)
        .sum();
    assert_eq!(timeouts, 1.0);
    let log = records(&lines(&stgw.dir.path().join("access.log"), 1).await);
    assert_eq!(log[0]["status"], 504);
    assert_eq!(log[0]["upstream_status"], "504");
    assert_eq!(log[0]["upstream_connect_time"], "-");
    let waited: f64 = log[0]["upstream_response_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3.9..6.0).contains(&waited), "{waited}");
    drop(stuck);
}
