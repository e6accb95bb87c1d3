//! Manual and automatic redirects: the exact Location and code of each
//! form, and the product's constraints at load time.

use std::net::SocketAddr;
use std::path::Path;

use crate::support::*;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// An HTTP listener (`http`) with redirect sources, an HTTPS listener
/// (`https`) with their targets, and the given rewrite tables.
fn redirect_config(http: u16, https: u16, certs: &Path, rewrites: &str) -> String {
    let (cert, key) = self_signed(certs, &["www.new.com", "*.example.com"]);
    format!(
        r#"
[global]
state_dir = "var"

[[load_balancer]]
name = "redirects"
vip = "127.0.0.1"
  [[load_balancer.listener]]
  id = "lbl-http0001"
  protocol = "HTTP"
  port = {http}
    [[load_balancer.listener.domain]]
    name = "www.example.com"
      [[load_balancer.listener.domain.rule]]
      url = "/forsale"
      [[load_balancer.listener.domain.rule]]
      url = "= /exact"
      [[load_balancer.listener.domain.rule]]
      url = "~ \\.jpg$"
    [[load_balancer.listener.domain]]
    name = "*.example.com"
      [[load_balancer.listener.domain.rule]]
      url = "/old/"
  [[load_balancer.listener]]
  id = "lbl-https001"
  protocol = "HTTPS"
  port = {https}
  certificate = {{ cert = "{cert}", key = "{key}" }}
    [[load_balancer.listener.domain]]
    name = "www.new.com"
      [[load_balancer.listener.domain.rule]]
      url = "/index"
      [[load_balancer.listener.domain.rule]]
      url = "/img/"
    [[load_balancer.listener.domain]]
    name = "*.example.com"
      [[load_balancer.listener.domain.rule]]
      url = "/"
{rewrites}
"#,
        cert = cert.display(),
        key = key.display(),
    )
}

const REWRITES: &str = r#"
[[load_balancer.rewrite]]
source = { listener = "lbl-http0001", domain = "www.example.com", url = "/forsale" }
target = { listener = "lbl-https001", domain = "www.new.com", url = "/index" }
code = 302
take_url = true

[[load_balancer.rewrite]]
source = { listener = "lbl-http0001", domain = "www.example.com", url = "= /exact" }
target = { listener = "lbl-https001", domain = "www.new.com", url = "/index" }
code = 301

[[load_balancer.rewrite]]
source = { listener = "lbl-http0001", domain = "www.example.com", url = "~ \\.jpg$" }
target = { listener = "lbl-https001", domain = "www.new.com", url = "/img/" }
code = 307
take_url = true

[[load_balancer.rewrite]]
source = { listener = "lbl-http0001", domain = "*.example.com", url = "/old/" }
target = { listener = "lbl-https001", domain = "*.example.com", url = "/" }
take_url = true
"#;

#[tokio::test]
async fn manual_redirects_give_the_exact_location_and_code_of_each_form() {
    let (http, https) = (free_port(), free_port());
    let certs = TempDir::new();
    let _stgw = Stgw::start(&redirect_config(http, https, certs.path(), REWRITES));
    let cases = [
        // take_url: the rest of the path after the source URL, and the query.
        (
            "www.example.com",
            "/forsale/item/1?x=1&y=2",
            302,
            format!("https://www.new.com:{https}/index/item/1?x=1&y=2"),
        ),
        (
            "www.example.com",
            "/forsale",
            302,
            format!("https://www.new.com:{https}/index"),
        ),
        (
            "www.example.com",
            "/forsale?x=1",
            302,
            format!("https://www.new.com:{https}/index?x=1"),
        ),
        (
            "www.example.com",
            "/forsale/",
            302,
            format!("https://www.new.com:{https}/index/"),
        ),
        // Matched after normalisation: the rest comes from the decoded path.
        (
            "www.example.com",
            "/for%73ale/a%20b",
            302,
            format!("https://www.new.com:{https}/index/a%20b"),
        ),
        // Without take_url: the target URL alone.
        (
            "www.example.com",
            "/exact?x=1",
            301,
            format!("https://www.new.com:{https}/index"),
        ),
        // A regex source carries the whole path.
        (
            "www.example.com",
            "/a/b.jpg?s=1",
            307,
            format!("https://www.new.com:{https}/img/a/b.jpg?s=1"),
        ),
        // A wildcard target domain keeps the request's host.
        (
            "shop.example.com",
            "/old/x?q=1",
            301,
            format!("https://shop.example.com:{https}/x?q=1"),
        ),
        (
            "shop.example.com:80",
            "/old/",
            301,
            format!("https://shop.example.com:{https}/"),
        ),
    ];
    for (host, path, code, want) in cases {
        let got = get(local(http), host, path).await;
        assert_eq!(got.status, code, "{host}{path}");
        assert_eq!(location(&got), want, "{host}{path}");
        assert!(
            got.text().contains(&code.to_string()),
            "a short page comes with it"
        );
    }
}

#[tokio::test]
async fn automatic_redirects_send_every_domain_to_https_with_path_and_query() {
    let (https, auto_keep, auto_bare, auto_wild) =
        (free_port(), free_port(), free_port(), free_port());
    let certs = TempDir::new();
    let rewrites = format!(
        r#"
[[load_balancer.auto_rewrite]]
listener = "lbl-https001"
http_port = {auto_keep}
code = 307

[[load_balancer.auto_rewrite]]
listener = "lbl-https001"
http_port = {auto_bare}
take_url = false
domains = ["www.new.com"]

[[load_balancer.auto_rewrite]]
listener = "lbl-https001"
http_port = {auto_wild}
domains = ["*.example.com"]
"#
    );
    let _stgw = Stgw::start(&redirect_config(
        free_port(),
        https,
        certs.path(),
        &rewrites,
    ));
    let got = get(local(auto_keep), "www.new.com", "/a/b?q=1&r").await;
    assert_eq!(got.status, 307);
    assert_eq!(
        location(&got),
        format!("https://www.new.com:{https}/a/b?q=1&r")
    );
    let got = get(local(auto_keep), "x.example.com", "/").await;
    assert_eq!(got.status, 307);
    assert_eq!(location(&got), format!("https://x.example.com:{https}/"));
    let got = get(local(auto_bare), "www.new.com", "/a/b?q=1").await;
    assert_eq!(got.status, 301, "the default code");
    assert_eq!(location(&got), format!("https://www.new.com:{https}/"));
    // Only the listed domains are redirected: the HTTPS listener's default
    // (www.new.com) is not among them, so an unlisted Host finds nothing.
    let got = get(local(auto_wild), "a.example.com", "/p").await;
    assert_eq!(location(&got), format!("https://a.example.com:{https}/p"));
    for host in ["www.new.com", "other.org"] {
        assert_eq!(
            get(local(auto_wild), host, "/p").await.status,
            404,
            "{host}"
        );
    }
}

fn load_error(text: &str) -> String {
    let dir = TempDir::new();
    match stgw::config::Config::from_str(text, &dir.path().join("stgw.toml")) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn rewrite(source: (&str, &str, &str), target: (&str, &str, &str), extra: &str) -> String {
    format!(
        r#"
[[load_balancer.rewrite]]
source = {{ listener = "{}", domain = "{}", url = "{}" }}
target = {{ listener = "{}", domain = "{}", url = "{}" }}
{extra}
"#,
        source.0, source.1, source.2, target.0, target.1, target.2
    )
}

#[test]
fn the_products_redirect_constraints_are_checked_at_load() {
    let certs = TempDir::new();
    let config = |rewrites: &str| redirect_config(18080, 18443, certs.path(), rewrites);
    let http = "lbl-http0001";
    let https = "lbl-https001";
    let forsale = (http, "www.example.com", "/forsale");
    let index = (https, "www.new.com", "/index");

    // The target rule must exist.
    let e = load_error(&config(&rewrite(
        forsale,
        (https, "www.new.com", "/missing"),
        "",
    )));
    assert!(e.contains("has no rule \"/missing\""), "{e}");
    let e = load_error(&config(&rewrite(
        forsale,
        (https, "www.gone.com", "/index"),
        "",
    )));
    assert!(e.contains("has no domain"), "{e}");
    let e = load_error(&config(&rewrite(
        forsale,
        ("lbl-nothere", "www.new.com", "/index"),
        "",
    )));
    assert!(e.contains("no listener of this load balancer"), "{e}");
    // A listener refused for its own fault is reported once, not again by
    // every redirect that names it.
    let broken = config(&rewrite(forsale, index, "")).replacen(
        "url = \"/forsale\"",
        "url = \"/forsale\"\n      gzip_level = 10",
        1,
    );
    let e = load_error(&broken);
    assert!(e.contains("gzip_level: 10 is out of range"), "{e}");
    assert!(!e.contains("no listener"), "{e}");
    // One redirect per source rule.
    let twice =
        rewrite(forsale, index, "") + &rewrite(forsale, (https, "www.new.com", "/img/"), "");
    assert!(load_error(&config(&twice)).contains("already the source of another redirect"));
    // No chains, in either order.
    let chain = rewrite(forsale, index, "") + &rewrite(index, (https, "www.new.com", "/img/"), "");
    assert!(load_error(&config(&chain)).contains("cannot chain"));
    let chain = rewrite(index, (https, "www.new.com", "/img/"), "") + &rewrite(forsale, index, "");
    assert!(load_error(&config(&chain)).contains("cannot chain"));
    // A redirect goes to a URL, not a pattern.
    let e = load_error(&config(&rewrite(
        index,
        (http, "www.example.com", "~ \\\\.jpg$"),
        "",
    )));
    assert!(e.contains("non-regex"), "{e}");
    // The product's codes.
    let e = load_error(&config(&rewrite(forsale, index, "code = 308")));
    assert!(e.contains("301, 302 or 307"), "{e}");
    // The listener an auto_rewrite creates cannot be a manual source.
    let auto = "[[load_balancer.auto_rewrite]]\nlistener = \"lbl-https001\"\nhttp_port = 18081\nid = \"lbl-auto0001\"\n";
    let e = load_error(&config(
        &(auto.to_owned() + &rewrite(("lbl-auto0001", "www.new.com", "/"), index, "")),
    ));
    assert!(e.contains("created by an auto_rewrite"), "{e}");
    // An auto_rewrite needs an HTTPS listener.
    let e = load_error(&config(
        "[[load_balancer.auto_rewrite]]\nlistener = \"lbl-http0001\"\nhttp_port = 18082\n",
    ));
    assert!(e.contains("not an HTTPS listener"), "{e}");
}
