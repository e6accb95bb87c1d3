//! error_page.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

use super::*;
use crate::support::*;

#[tokio::test]
async fn error_page_replaces_stgws_own_errors_internally_or_by_redirect() {
    let app = Backend::start_with("app", "127.0.0.1:0", |seen| Reply {
        status: if seen.uri.path() == "/app/missing" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        },
        headers: vec![("content-type".into(), "text/plain".into())],
        body: Bytes::from(format!("app {}", seen.uri.path())),
        delay: Duration::ZERO,
    })
    .await;
    let pages = Backend::start_with("pages", "127.0.0.1:0", |seen| Reply {
        status: StatusCode::OK,
        headers: vec![("content-type".into(), "text/html".into())],
        body: Bytes::from(format!("page {}", seen.uri)),
        delay: Duration::ZERO,
    })
    .await;
    let dead = local(free_port());
    let port = free_port();
    let toml = format!(
        r#"
[global]
state_dir = "var"
[[load_balancer]]
name = "pages"
vip = "127.0.0.1"
custom_config = '''
client_max_body_size 1m;
error_page 404 /errors/404.html?from=stgw;
error_page 400 /errors/400.html;
error_page 502 = /errors/502.html;
error_page 503 =200 /errors/503.html;
error_page 414 http://status.example.com/too-long;
error_page 413 =301 https://status.example.com/big;
'''
  [[load_balancer.listener]]
  protocol = "HTTP"
  port = {port}
    [[load_balancer.listener.domain]]
    name = "h.test"
      [[load_balancer.listener.domain.rule]]
      url = "/app/"
      targets = [{{ address = "{app}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "/errors/"
      targets = [{{ address = "{pages}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "/dead/"
      health_check = {{ enabled = false }}
      targets = [{{ address = "{dead}" }}]
      [[load_balancer.listener.domain.rule]]
      url = "/none/"
      targets = []
"#,
        app = app.addr,
        pages = pages.addr,
    );
    let _stgw = Stgw::start(&toml);

    // 404 from stgw: the page, internally, with the error's status.
    let got = get(local(port), "h.test", "/nothing").await;
    assert_eq!(got.status, 404);
    assert_eq!(got.text(), "page /errors/404.html?from=stgw");
    assert_eq!(got.headers["content-type"], "text/html");
    let seen = pages.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.headers["host"], "h.test");
    // The internal request is a GET (HEAD stays HEAD), without the body.
    let req = Request::post("/nothing")
        .header("host", "h.test")
        .body(Full::new(Bytes::from_static(b"data")))
        .unwrap();
    let got = send(local(port), None, req).await.unwrap();
    assert_eq!(got.status, 404);
    assert_eq!(pages.last().method, "GET");
    assert!(pages.last().body.is_empty());
    let req = Request::head("/nothing")
        .header("host", "h.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(local(port), None, req).await.unwrap().status, 404);
    assert_eq!(pages.last().method, "HEAD");
    // A request whose Host is refused gets its page from the default
    // domain, as nginx's default server serves it.
    let twice = b"GET /x HTTP/1.1\r\nHost: h.test\r\nHost: other.test\r\nConnection: close\r\n\r\n";
    let answer = raw(local(port), twice, Duration::from_secs(3)).await;
    assert_eq!(raw_status(&answer), 400);
    assert!(
        answer.ends_with(b"page /errors/400.html"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // A target's own 404 passes through.
    let got = get(local(port), "h.test", "/app/missing").await;
    assert_eq!(got.status, 404);
    assert_eq!(got.text(), "app /app/missing");
    // `=`: the page's status; `=200`: that status.
    let got = get(local(port), "h.test", "/dead/x").await;
    assert_eq!(
        (got.status.as_u16(), got.text()),
        (200, "page /errors/502.html".to_owned())
    );
    let got = get(local(port), "h.test", "/none/x").await;
    assert_eq!(
        (got.status.as_u16(), got.text()),
        (200, "page /errors/503.html".to_owned())
    );
    // URL targets: 302, or the =code given.
    let long = format!("/app/{}", "a".repeat(9000));
    let got = get(local(port), "h.test", &long).await;
    assert_eq!(got.status, 302);
    assert_eq!(location(&got), "http://status.example.com/too-long");
    let up = upload(port, post_head(Some(2 * MIB), ""), 0, Duration::ZERO).await;
    let text = String::from_utf8_lossy(&up.response).to_ascii_lowercase();
    assert_eq!(raw_status(&up.response), 301, "{text}");
    assert!(
        text.contains("location: https://status.example.com/big"),
        "{text}"
    );
    assert!(text.contains("connection: close"), "{text}");
}

#[tokio::test]
async fn an_error_page_that_fails_gives_stgws_page_for_that_failure() {
    let dead = local(free_port());
    let port = free_port();
    let toml = with_custom(
        &one_rule(
            port,
            "h.test",
            "/app/",
            "health_check = { enabled = false }",
            &[(dead, 10)],
        ),
        "error_page 404 /app/404.html;",
    );
    let _stgw = Stgw::start(&toml);
    let got = get(local(port), "h.test", "/nothing").await;
    assert_eq!(got.status, 502, "the page's own failure, no recursion");
    assert!(got.text().contains("502 Bad Gateway"));
}
