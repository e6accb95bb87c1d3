//! stgw: a seven-layer load balancer.
//!
//! The modules follow a request's path:
//!
//! | step | module | job |
//! | --- | --- | --- |
//! | accept | [`listener`] | listening sockets, accept loops, PROXY protocol, HTTP/1.1 heads, drain |
//! | TLS | `tls` | certificates, HTTPS termination with SNI, TLS to targets, session tickets |
//! | route | [`routing`] | Host → domain → URL rule, with nginx's precedence |
//! | balance | `balance`, `health` | WRR, least connections, ip_hash over usable targets; active probes |
//! | forward | [`upstream`] | keep-alive pools per target, the HTTP/1.1 client, tunnels |
//! | answer | `proxy` | the pipeline from a parsed request to the client's response |
//! | record | `observe` | access log, Prometheus metrics, status page |
//!
//! Around them: [`config`] (the TOML file, validated once), [`runtime`] (the
//! running snapshot and how a new configuration replaces it), [`store`] (file
//! or etcd), [`admin`] (the CLB management API), [`signals`], [`upgrade`]
//! (binary upgrades that keep the listening sockets), [`limits`],
//! [`allocator`] and [`demo`].
//!
//! The docs are written for contributors and link private items freely:
//! read them with `cargo doc --document-private-items`.
#![warn(missing_docs, unreachable_pub)]
#![allow(rustdoc::private_intra_doc_links)]
pub mod admin;
pub mod allocator;
pub(crate) mod balance;
mod calendar;
pub mod config;
pub mod demo;
pub(crate) mod encoding;
pub(crate) mod health;
pub(crate) mod hop_by_hop;
mod idle;
pub mod limits;
pub mod listener;
pub(crate) mod observe;
pub(crate) mod proxy;
mod read_ahead;
pub mod routing;
pub mod runtime;
pub mod signals;
pub mod store;
pub(crate) mod tls;
pub mod upgrade;
pub mod upstream;
