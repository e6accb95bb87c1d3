//! Requests reach the rule nginx would choose.

use std::net::SocketAddr;

use crate::support::*;

/// Backends named after rules, and a config that routes to them.
async fn routed_setup() -> (Stgw, SocketAddr, Vec<Backend>) {
    let names = [
        "exact",
        "caret",
        "regex",
        "prefix",
        "root",
        "wild",
        "trail",
        "re-domain",
        "default",
    ];
    let mut backends = Vec::new();
    for n in names {
        backends.push(Backend::start(n).await);
    }
    let addr = |n: &str| backends.iter().find(|b| b.name == n).unwrap().addr;
    let port = free_port();
    let toml = format!(
        r#"
[global]
state_dir = "var"
[[load_balancer]]
name = "routing"
vip = "127.0.0.1"
  [[load_balancer.listener]]
  protocol = "HTTP"
  port = {port}
    [[load_balancer.listener.domain]]
    name = "www.example.com"
      [[load_balancer.listener.domain.rule]]
      url = "= /exact"
      targets = [{{ address = "{exact}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "^~ /static/"
      targets = [{{ address = "{caret}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "~* \\.(gif|jpg)$"
      targets = [{{ address = "{regex}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "/app/"
      targets = [{{ address = "{prefix}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{root}" }}]
    [[load_balancer.listener.domain]]
    name = "*.example.com"
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{wild}" }}]
    [[load_balancer.listener.domain]]
    name = "api.example.*"
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{trail}" }}]
    [[load_balancer.listener.domain]]
    name = "~^img\\d+\\.cdn\\.net$"
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{re}" }}]
    [[load_balancer.listener.domain]]
    name = "default.test"
    default_server = true
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{{ address = "{default}" }}]
"#,
        exact = addr("exact"),
        caret = addr("caret"),
        regex = addr("regex"),
        prefix = addr("prefix"),
        root = addr("root"),
        wild = addr("wild"),
        trail = addr("trail"),
        re = addr("re-domain"),
        default = addr("default"),
    );
    let stgw = Stgw::start(&toml);
    (stgw, SocketAddr::from(([127, 0, 0, 1], port)), backends)
}

#[tokio::test]
async fn domains_and_urls_route_with_nginx_precedence() {
    let (_stgw, addr, _backends) = routed_setup().await;
    let cases = [
        ("www.example.com", "/exact", "exact"),
        ("www.example.com", "/exact/more", "root"),
        ("www.example.com", "/static/a.gif", "caret"),
        ("www.example.com", "/app/a.GIF", "regex"),
        ("www.example.com", "/app/page", "prefix"),
        ("www.example.com", "/other", "root"),
        ("WWW.Example.COM:8080", "/app/x", "prefix"),
        ("www.example.com.", "/app/x", "prefix"),
        ("a.example.com", "/", "wild"),
        ("a.b.example.com", "/x.gif", "wild"),
        ("api.example.org", "/", "trail"),
        ("img42.cdn.net", "/", "re-domain"),
        ("IMG7.CDN.NET", "/", "re-domain"),
        ("unknown.org", "/", "default"),
        ("example.com", "/", "default"),
    ];
    for (host, path, want) in cases {
        let got = get(addr, host, path).await;
        assert_eq!(got.status, 200, "{host}{path}");
        assert_eq!(got.text(), want, "{host}{path}");
    }
}

#[tokio::test]
async fn matching_uses_the_normalised_path_but_forwards_the_original() {
    let (_stgw, addr, backends) = routed_setup().await;
    let got = get(addr, "www.example.com", "/x/../app/%70age?q=1").await;
    assert_eq!(got.text(), "prefix");
    let prefix = backends.iter().find(|b| b.name == "prefix").unwrap();
    assert_eq!(prefix.last().uri, "/x/../app/%70age?q=1");
    let got = get(addr, "www.example.com", "//static//a.txt").await;
    assert_eq!(got.text(), "caret");
}

#[tokio::test]
async fn a_path_escaping_the_root_is_refused() {
    let (_stgw, addr, backends) = routed_setup().await;
    for path in ["/../etc/passwd", "/a/%2e%2e/%2e%2e/x", "/a%00b"] {
        assert_eq!(
            get(addr, "www.example.com", path).await.status,
            400,
            "{path}"
        );
    }
    assert!(backends.iter().all(|b| b.hits() == 0));
}

#[tokio::test]
async fn a_directory_rule_redirects_its_bare_name_like_nginx() {
    let (_stgw, addr, backends) = routed_setup().await;
    let got = get(addr, "www.example.com", "/app?x=1").await;
    assert_eq!(got.status, 301);
    let port = addr.port();
    assert_eq!(
        got.headers["location"],
        format!("http://www.example.com:{port}/app/?x=1").as_str()
    );
    assert!(backends.iter().all(|b| b.hits() == 0));
}

#[tokio::test]
async fn without_a_default_server_unknown_hosts_get_404() {
    let b = Backend::start("only").await;
    let port = free_port();
    let toml = one_rule(port, "known.test", "/", "", &[(b.addr, 10)])
        .replace("port = ", "default_server = false\n  port = ");
    let _stgw = Stgw::start(&toml);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(get(addr, "known.test", "/").await.status, 200);
    assert_eq!(get(addr, "other.test", "/").await.status, 404);
    assert_eq!(b.hits(), 1);
}

#[tokio::test]
async fn no_matching_rule_is_404() {
    let b = Backend::start("a").await;
    let port = free_port();
    let _stgw = Stgw::start(&one_rule(port, "x.test", "/only/", "", &[(b.addr, 10)]));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let got = get(addr, "x.test", "/other").await;
    assert_eq!(got.status, 404);
    assert!(got.text().contains("404 Not Found"));
}
