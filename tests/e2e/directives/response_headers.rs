//! add_header, more_set_headers and proxy_redirect.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use super::*;
use crate::support::*;

#[tokio::test]
async fn add_header_acts_on_nginx_statuses_and_more_set_headers_on_every_answer() {
    let b = Backend::start_with("b", "127.0.0.1:0", |seen| {
        let status = match seen.uri.path() {
            "/app/missing" => StatusCode::NOT_FOUND,
            "/app/created" => StatusCode::CREATED,
            _ => StatusCode::OK,
        };
        Reply {
            status,
            headers: vec![
                ("content-type".into(), "text/plain".into()),
                ("server".into(), "backend/1.0".into()),
                ("x-powered-by".into(), "php".into()),
                ("x-added".into(), "from-target".into()),
            ],
            body: Bytes::from_static(b"ok"),
            delay: Duration::ZERO,
        }
    })
    .await;
    let port = free_port();
    let custom = r#"add_header X-Added yes; add_header X-Always yes always; add_header X-Empty "";
more_set_headers "Server: edge" "X-Powered-By:";"#;
    let toml = with_custom(
        &one_rule(port, "h.test", "/app/", "", &[(b.addr, 10)]),
        custom,
    );
    let _stgw = Stgw::start(&toml);

    for path in ["/app/ok", "/app/created"] {
        let got = get(local(port), "h.test", path).await;
        assert!(got.status.is_success());
        assert_eq!(
            header(&got, "x-added"),
            ["from-target", "yes"],
            "add_header appends"
        );
        assert_eq!(header(&got, "x-always"), ["yes"]);
        assert_eq!(
            header(&got, "server"),
            ["edge"],
            "more_set_headers replaces"
        );
        assert!(
            got.headers.get("x-powered-by").is_none(),
            "an empty value removes"
        );
        assert!(
            got.headers.get("x-empty").is_none(),
            "add_header with an empty value adds nothing"
        );
    }
    // A target's 404: add_header does not act, more_set_headers does.
    let got = get(local(port), "h.test", "/app/missing").await;
    assert_eq!(got.status, 404);
    assert_eq!(header(&got, "x-added"), ["from-target"]);
    assert_eq!(header(&got, "x-always"), ["yes"]);
    assert_eq!(header(&got, "server"), ["edge"]);
    // stgw's own answers: its 404, and its 301 (a listed status).
    let got = get(local(port), "h.test", "/elsewhere").await;
    assert_eq!(got.status, 404);
    assert!(got.headers.get("x-added").is_none());
    assert_eq!(header(&got, "x-always"), ["yes"]);
    assert_eq!(header(&got, "server"), ["edge"]);
    let got = get(local(port), "h.test", "/app").await;
    assert_eq!(got.status, 301);
    assert_eq!(header(&got, "x-added"), ["yes"]);
    assert_eq!(header(&got, "server"), ["edge"]);
}

#[tokio::test]
async fn proxy_redirect_rewrites_http_to_https_in_location_and_refresh() {
    let b = Backend::start_with("b", "127.0.0.1:0", |seen| Reply {
        status: if seen.uri.path() == "/refresh" {
            StatusCode::OK
        } else {
            StatusCode::FOUND
        },
        headers: vec![
            ("location".into(), "http://app.test/login?next=%2F".into()),
            ("refresh".into(), "0; url=http://app.test/r".into()),
        ],
        body: Bytes::new(),
        delay: Duration::ZERO,
    })
    .await;
    let (on, off) = (free_port(), free_port());
    let _on = Stgw::start(&configured(on, b.addr, "proxy_redirect http:// https://;"));
    let _off = Stgw::start(&configured(off, b.addr, ""));
    let got = get(local(on), "h.test", "/").await;
    assert_eq!(got.status, 302);
    assert_eq!(location(&got), "https://app.test/login?next=%2F");
    assert_eq!(got.headers["refresh"], "0; url=https://app.test/r");
    let got = get(local(on), "h.test", "/refresh").await;
    assert_eq!(got.headers["refresh"], "0; url=https://app.test/r");
    let got = get(local(off), "h.test", "/").await;
    assert_eq!(
        location(&got),
        "http://app.test/login?next=%2F",
        "off by default"
    );
}
