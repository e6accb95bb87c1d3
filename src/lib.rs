//! stgw: a seven-layer load balancer.
pub mod admin;
pub mod allocator;
pub mod balance;
pub mod config;
pub mod demo;
pub mod encoding;
pub mod health;
mod idle;
pub mod listener;
pub mod observe;
pub mod proxy;
pub mod routing;
pub mod runtime;
pub mod signals;
pub mod store;
pub mod tls;
pub mod upgrade;
pub mod upstream;
