//! `stgw demo`: two tiny backends and the proxy in front of them, so that a
//! newcomer sees round robin with one command.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::{Response, header};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError};

/// The shipped demo configuration (used when `conf/demo.toml` is absent).
pub const DEMO_CONFIG: &str = include_str!("../conf/demo.toml");

/// The demo backends: `rs-1` on 127.0.0.1:9001 and `rs-2` on 127.0.0.1:9002.
pub const BACKENDS: [(&str, u16); 2] = [("rs-1", 9001), ("rs-2", 9002)];

/// Loads `conf/demo.toml` from the working directory if it exists (so it can
/// be edited and reloaded), else the built-in copy.
pub fn config() -> Result<Config, ConfigError> {
    let path = PathBuf::from("conf/demo.toml");
    if path.exists() {
        Config::load(&path)
    } else {
        Config::from_str(DEMO_CONFIG, Path::new("conf/demo.toml"))
    }
}

/// Starts the demo backends. Each answers every request with
/// `Hello! This is <name>!`.
pub async fn start_backends() -> std::io::Result<()> {
    for (name, port) in BACKENDS {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        tokio::spawn(serve_backend(listener, name));
    }
    Ok(())
}

/// Serves `Hello! This is <name>!` on every connection of `listener`.
pub async fn serve_backend(listener: TcpListener, name: &'static str) {
    let body = Bytes::from(format!("Hello! This is {name}!\n"));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req| {
                let body = body.clone();
                async move {
                    let mut resp = Response::new(Full::new(body));
                    resp.headers_mut().insert(
                        header::CONTENT_TYPE,
                        header::HeaderValue::from_static("text/plain"),
                    );
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
