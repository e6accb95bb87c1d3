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

#[tokio::test]
async fn response_header_values_expand_variables_on_every_answer() {
    let b = Backend::start_with("b", "127.0.0.1:0", |_| Reply {
        status: StatusCode::OK,
        headers: vec![("x-powered-by".into(), "php".into())],
        body: Bytes::from_static(b"ok"),
        delay: Duration::ZERO,
    })
    .await;
    let port = free_port();
    let custom = r#"add_header X-Client $remote_addr;
add_header Access-Control-Allow-Origin $http_origin always;
add_header X-Empty "$http_x_absent" always;
more_set_headers "X-Status: $status" "X-Powered-By: $http_x_absent";"#;
    let toml = with_custom(
        &one_rule(port, "h.test", "/app/", "", &[(b.addr, 10)]),
        custom,
    );
    let _stgw = Stgw::start(&toml);
    let with_origin = |path: &str| {
        http::Request::get(path)
            .header("host", "h.test")
            .header("origin", "https://app.test")
            .body(http_body_util::Full::new(Bytes::new()))
            .unwrap()
    };

    // A target's 200.
    let got = send(local(port), None, with_origin("/app/ok"))
        .await
        .unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(header(&got, "x-client"), ["127.0.0.1"]);
    assert_eq!(
        header(&got, "access-control-allow-origin"),
        ["https://app.test"]
    );
    assert_eq!(header(&got, "x-status"), ["200"]);
    assert!(got.headers.get("x-empty").is_none(), "empty: not added");
    assert!(
        got.headers.get("x-powered-by").is_none(),
        "more_set_headers expanding to nothing removes the target's header"
    );
    // stgw's own 404: `always` entries and more_set_headers expand too.
    let got = send(local(port), None, with_origin("/elsewhere"))
        .await
        .unwrap();
    assert_eq!(got.status, 404);
    assert_eq!(
        header(&got, "access-control-allow-origin"),
        ["https://app.test"]
    );
    assert_eq!(header(&got, "x-status"), ["404"]);
    assert!(got.headers.get("x-client").is_none(), "404 without always");
    // stgw's own 301, without an Origin.
    let got = get(local(port), "h.test", "/app").await;
    assert_eq!(got.status, 301);
    assert_eq!(header(&got, "x-client"), ["127.0.0.1"]);
    assert_eq!(header(&got, "x-status"), ["301"]);
    assert!(got.headers.get("access-control-allow-origin").is_none());
    assert!(got.headers.get("x-empty").is_none());
}
