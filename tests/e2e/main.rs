//! End-to-end tests: real stgw listeners, real backends, real clients, all
//! on loopback.

mod pki;
mod support;

mod balancing;
mod forwarding;
mod health;
mod reload;
mod routing;
mod tls;
