//! The configuration file.
pub mod error;
pub mod model;
pub mod units;
