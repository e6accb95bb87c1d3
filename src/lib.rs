//! stgw: a seven-layer load balancer.
pub mod balance;
pub mod config;
pub mod routing;
