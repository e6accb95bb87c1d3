//! proxy_set_header and http2_max_field_size.

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use tokio::net::TcpStream;

use super::*;
use crate::support::*;

#[tokio::test]
async fn proxy_set_header_sends_the_products_variables_and_an_empty_value_removes() {
    let b = Backend::start("b").await;
    let port = free_port();
    let custom = r#"
proxy_set_header X-Real-Port $remote_port;
proxy_set_header X-clb-stgw-vip $server_addr;
proxy_set_header X-Forwarded-Port $vport;
proxy_set_header X-Method $request_method;
proxy_set_header X-Uri $uri;
proxy_set_header X-clb-lbid $lbid;
proxy_set_header Stgw-request-id $stgw_request_id;
proxy_set_header X-Full "$scheme://$host$request_uri from $remote_addr";
proxy_set_header X-Replaced "by stgw";
proxy_set_header User-Agent "";
"#;
    let _stgw = Stgw::start(&configured(port, b.addr, custom));
    let stream = TcpStream::connect(local(port)).await.unwrap();
    let client_port = stream.local_addr().unwrap().port();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/a/%62c/../d?x=1")
        .header("host", "H.Test:8080")
        .header("user-agent", "curl/8")
        .header("x-replaced", "by client")
        .body(Full::new(Bytes::from_static(b"body")))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = b.last().headers;
    assert_eq!(h["x-real-port"], client_port.to_string().as_str());
    assert_eq!(h["x-clb-stgw-vip"], "127.0.0.1");
    assert_eq!(h["x-forwarded-port"], port.to_string().as_str());
    assert_eq!(h["x-method"], "POST");
    assert_eq!(h["x-uri"], "/a/d", "$uri is the normalised path");
    assert!(h["x-clb-lbid"].to_str().unwrap().starts_with("lb-"));
    assert_eq!(h["stgw-request-id"].len(), 32);
    assert_eq!(h["x-full"], "http://h.test/a/%62c/../d?x=1 from 127.0.0.1");
    assert_eq!(
        h.get_all("x-replaced").iter().collect::<Vec<_>>(),
        ["by stgw"]
    );
    assert!(h.get("user-agent").is_none());
}

#[tokio::test]
async fn proxy_set_header_reads_the_clients_headers_as_sent() {
    let b = Backend::start("b").await;
    let port = free_port();
    // X-Copy is read after X-Replaced was set: it still sees the client's.
    let custom = r#"
proxy_set_header X-Replaced "by stgw";
proxy_set_header X-Copy "[$http_x_replaced] [$HTTP_X_MULTI] [$http_x_absent] $args $server_name";
"#;
    let _stgw = Stgw::start(&configured(port, b.addr, custom));
    let req = Request::get("/p?x=1")
        .header("host", "h.test")
        .header("x-replaced", "by client")
        .header("x-multi", "a")
        .header("x-multi", "b")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let got = send(local(port), None, req).await.unwrap();
    assert_eq!(got.status, 200);
    let h = b.last().headers;
    assert_eq!(h["x-copy"], "[by client] [a, b] [] x=1 h.test");
    assert_eq!(h["x-replaced"], "by stgw");
}

async fn h2_get(port: u16, headers: &[(&str, String)]) -> StatusCode {
    let stream = TcpStream::connect(local(port)).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut req = Request::get("http://h.test/").version(Version::HTTP_2);
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    status
}

#[tokio::test]
async fn http2_max_field_size_limits_each_decoded_field() {
    let b = Backend::start("b").await;
    let port = free_port();
    let _stgw = Stgw::start(&configured(port, b.addr, "http2_max_field_size 1k;"));
    assert_eq!(h2_get(port, &[("x-big", "v".repeat(1024))]).await, 200);
    assert_eq!(h2_get(port, &[("x-big", "v".repeat(1025))]).await, 431);
    assert_eq!(h2_get(port, &[("cookie", "c".repeat(1025))]).await, 431);
    assert_eq!(b.hits(), 1);
    // The default is 4k.
    let port = free_port();
    let _default = Stgw::start(&configured(port, b.addr, ""));
    assert_eq!(h2_get(port, &[("x-big", "v".repeat(4096))]).await, 200);
    assert_eq!(h2_get(port, &[("x-big", "v".repeat(4097))]).await, 431);
}
