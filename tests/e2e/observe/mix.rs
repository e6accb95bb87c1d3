//! A known mix of requests — answered by a target, redirected, 404 by stgw,
//! 502 for a dead target, refused by the head scan — counted and logged
//! exactly.

use std::net::SocketAddr;

use http::{Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;

use super::*;

/// Answers 200, or 404 for `/missing`.
async fn live_target() -> Backend {
    Backend::start_with("live", "127.0.0.1:0", |seen| {
        let mut r = Reply::text("live");
        if seen.uri.path() == "/missing" {
            r.status = StatusCode::NOT_FOUND;
        }
        r
    })
    .await
}

/// Sends the mix; returns the statuses in order.
async fn send_mix(addr: SocketAddr) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let req = Request::get("/")
            .header("host", "a.test")
            .header("user-agent", "mix-test/1.0")
            .header("referer", "http://ref.test/page")
            .body(Full::default())
            .unwrap();
        statuses.push(send(addr, None, req).await.unwrap().status.as_u16());
    }
    for (host, path) in [
        ("a.test", "/missing"),
        ("a.test", "/dead"),
        ("a.test", "/old"),
        ("b.test", "/other"),
        ("c.test", "/"),
    ] {
        statuses.push(get(addr, host, path).await.status.as_u16());
    }
    // Request lines over 8 KiB: 414 from the pipeline, and from the IO
    // layer itself when the line is too long for hyper's buffer.
    for kib in [9, 45] {
        let long = format!(
            "GET /{} HTTP/1.1\r\nHost: a.test\r\n\r\n",
            "x".repeat(kib * 1024)
        );
        let answer = raw(addr, long.as_bytes(), std::time::Duration::from_secs(2)).await;
        statuses.push(raw_status(&answer));
    }
    statuses
}

#[tokio::test]
async fn a_known_mix_of_requests_is_counted_and_logged_exactly() {
    let live = live_target().await;
    let dead = dead_target();
    let (port, admin_port) = (free_port(), free_port());
    let admin_addr = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let toml = config(
        admin_addr,
        "access_log = \"access.log\"\naccess_log_format = \"json\"",
        &mix(port, live.addr, dead),
    );
    let stgw = Stgw::start(&toml);
    let _admin = admin(&stgw).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let statuses = send_mix(addr).await;
    assert_eq!(statuses, [200, 200, 200, 404, 502, 301, 404, 404, 414, 414]);

    // Metrics: exactly these series moved.
    let s = scrape(admin_addr).await;
    let requests = |domain: &str, rule: &str, source: &str, code: &str| {
        value(
            &s,
            "stgw_http_requests_total",
            &[
                ("lb", "lb-observe1"),
                ("listener", "lbl-observe1"),
                ("domain", domain),
                ("rule", rule),
                ("source", source),
                ("code", code),
            ],
        )
        .unwrap_or_else(|| panic!("no series for {domain} {rule} {source} {code}"))
    };
    assert_eq!(requests("a.test", "loc-live0001", "target", "2xx"), 3.0);
    assert_eq!(requests("a.test", "loc-live0001", "target", "4xx"), 1.0);
    assert_eq!(requests("a.test", "loc-live0001", "proxy", "4xx"), 0.0);
    assert_eq!(requests("a.test", "loc-dead0001", "proxy", "5xx"), 1.0);
    assert_eq!(requests("a.test", "loc-old00001", "proxy", "3xx"), 1.0);
    assert_eq!(requests("b.test", "", "proxy", "4xx"), 1.0);
    assert_eq!(
        requests("", "", "proxy", "4xx"),
        3.0,
        "404 for c.test and the 414s"
    );
    let total: f64 = s
        .iter()
        .filter(|x| x.name == "stgw_http_requests_total")
        .map(|x| x.value)
        .sum();
    assert_eq!(total, 10.0, "nothing else was counted");

    let durations = value(
        &s,
        "stgw_http_request_duration_seconds_count",
        &[
            ("lb", "lb-observe1"),
            ("listener", "lbl-observe1"),
            ("domain", "a.test"),
            ("rule", "loc-live0001"),
            ("source", "target"),
        ],
    );
    assert_eq!(durations, Some(4.0));
    let target = |rule: &str, t: SocketAddr| {
        let t = t.to_string();
        let labels = [
            ("lb", "lb-observe1"),
            ("listener", "lbl-observe1"),
            ("domain", "a.test"),
            ("rule", rule),
            ("target", t.as_str()),
        ];
        labels.map(|(k, v)| (k.to_owned(), v.to_owned()))
    };
    let with = |labels: &[(String, String)], extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut l = labels.to_vec();
        l.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        l
    };
    let lookup = |name: &str, labels: &[(String, String)]| {
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        value(&s, name, &labels)
    };
    let live_t = target("loc-live0001", live.addr);
    let dead_t = target("loc-dead0001", dead);
    assert_eq!(
        lookup(
            "stgw_upstream_responses_total",
            &with(&live_t, &[("code", "2xx")])
        ),
        Some(3.0)
    );
    assert_eq!(
        lookup(
            "stgw_upstream_responses_total",
            &with(&live_t, &[("code", "4xx")])
        ),
        Some(1.0)
    );
    assert_eq!(lookup("stgw_upstream_failures_total", &dead_t), Some(1.0));
    assert_eq!(lookup("stgw_upstream_timeouts_total", &dead_t), Some(0.0));
    assert_eq!(lookup("stgw_target_healthy", &live_t), Some(1.0));
    assert_eq!(lookup("stgw_target_weight", &live_t), Some(10.0));
    let listener = [("lb", "lb-observe1"), ("listener", "lbl-observe1")];
    assert_eq!(value(&s, "stgw_connections_total", &listener), Some(10.0));
    assert_eq!(value(&s, "stgw_connections_active", &listener), Some(0.0));
    let rule = [
        ("lb", "lb-observe1"),
        ("listener", "lbl-observe1"),
        ("domain", "a.test"),
        ("rule", "loc-live0001"),
    ];
    assert_eq!(value(&s, "stgw_all_dead_active", &rule), Some(0.0));
    let received = value(&s, "stgw_bytes_received_total", &rule).unwrap();
    let sent = value(&s, "stgw_bytes_sent_total", &rule).unwrap();
    assert!(
        received > 4.0 * 30.0 && sent > 4.0 * 60.0,
        "{received} {sent}"
    );

    // Access log: one JSON record per request, in the order answered.
    let log = records(&lines(&stgw.dir.path().join("access.log"), 10).await);
    assert_eq!(log.len(), 10);
    let statuses: Vec<u64> = log.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [200, 200, 200, 404, 502, 301, 404, 404, 414, 414]);
    let seen_ids: Vec<String> = live
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.headers["stgw-request-id"].to_str().unwrap().to_owned())
        .collect();
    let time_local =
        regex::Regex::new(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$").unwrap();
    for (i, r) in log.iter().enumerate() {
        let port_s = port.to_string();
        assert_eq!(r["listener_id"], "lbl-observe1", "{r}");
        assert_eq!(r["server_addr"], "127.0.0.1");
        assert_eq!(r["vport"].to_string(), port_s);
        assert_eq!(r["remote_addr"], "127.0.0.1");
        assert!(r["remote_port"].as_u64().unwrap() > 0);
        assert_eq!(r["protocol_type"], "http");
        assert_eq!(r["connection_requests"], 1);
        assert_eq!(r["ssl_protocol"], "");
        assert!(r["request_time"].as_f64().unwrap() < 5.0);
        assert!(r["bytes_sent"].as_u64().unwrap() > 0 || i == 9, "{r}");
        let time = r["time_local"].as_str().unwrap();
        assert!(time_local.is_match(time), "{time}");
    }
    let first = &log[0];
    assert_eq!(first["request"], "GET / HTTP/1.1");
    assert_eq!(first["http_host"], "a.test");
    assert_eq!(first["server_name"], "a.test");
    assert_eq!(first["location_id"], "loc-live0001");
    assert_eq!(first["http_user_agent"], "mix-test/1.0");
    assert_eq!(first["http_referer"], "http://ref.test/page");
    assert_eq!(first["upstream_addr"], live.addr.to_string());
    assert_eq!(first["upstream_status"], "200");
    assert!(
        first["upstream_response_time"]
            .as_str()
            .unwrap()
            .starts_with("0.")
    );
    assert!(
        first["upstream_connect_time"]
            .as_str()
            .unwrap()
            .starts_with("0.")
    );
    // The body "live" (4 bytes) plus the head.
    assert!(first["bytes_sent"].as_u64().unwrap() > 4);
    assert!(first["request_length"].as_u64().unwrap() > 30);
    // The request ids are those the target received.
    let logged: Vec<&str> = log[..4]
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(logged, seen_ids);
    assert_eq!(log[3]["upstream_status"], "404");

    let dead_r = &log[4];
    assert_eq!(dead_r["location_id"], "loc-dead0001");
    assert_eq!(dead_r["upstream_addr"], dead.to_string());
    assert_eq!(dead_r["upstream_status"], "502");
    assert_eq!(dead_r["upstream_header_time"], "-");
    assert_eq!(dead_r["request_id"].as_str().unwrap().len(), 32);

    let redirect = &log[5];
    assert_eq!(redirect["location_id"], "loc-old00001");
    assert_eq!(redirect["upstream_addr"], "");
    assert_eq!(redirect["upstream_status"], "");

    let no_rule = &log[6];
    assert_eq!(
        (
            no_rule["server_name"].clone(),
            no_rule["location_id"].clone()
        ),
        (Value::from("b.test"), Value::from(""))
    );
    let no_domain = &log[7];
    assert_eq!(no_domain["server_name"], "");
    assert_eq!(no_domain["http_host"], "c.test");

    let too_long = &log[8];
    assert!(
        too_long["request"]
            .as_str()
            .unwrap()
            .starts_with("GET /xxx")
    );
    assert_eq!(too_long["server_name"], "");
    assert_eq!(too_long["request_id"].as_str().unwrap().len(), 32);
    // Refused before hyper parsed it: no request line, no request id.
    let refused = &log[9];
    assert_eq!(refused["request"], "");
    assert_eq!(refused["request_id"], "");
    assert_eq!(refused["status"], 414);
}
