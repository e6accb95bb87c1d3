//! End-to-end tests: real stgw listeners, real backends, real clients, all
//! on loopback.

mod support;

mod balancing;
mod directives;
mod forwarding;
mod gzip;
mod redirects;
mod reload;
mod routing;
