//! stgw: a seven-layer load balancer.
pub mod config;
pub mod routing;
