//! End-to-end tests: real stgw listeners, real backends, real clients, all
//! on loopback.

mod admin_support;
mod browser_support;
mod etcd_support;
mod pki;
mod support;

mod admin;
mod admin_actions;
mod admin_cli;
mod admin_sdk;
mod balancing;
mod browser;
mod directives;
mod forwarding;
mod gzip;
mod health;
mod hostile;
mod http1;
mod observe;
mod redirects;
mod reload;
mod routing;
mod routing_vs_nginx;
mod store_etcd;
mod store_etcd_tls;
mod tls;
mod websocket;
