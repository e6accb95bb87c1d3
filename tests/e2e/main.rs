//! End-to-end tests: real stgw listeners, real backends, real clients, all
//! on loopback.

mod pki;
mod support;

mod balancing;
mod forwarding;
mod health;
mod hostile;
mod reload;
mod routing;
mod tls;
