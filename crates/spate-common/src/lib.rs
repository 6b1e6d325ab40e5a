//! Shared foundations of Spate: the one error type every layer speaks (and the Spark exception
//! classes it maps to), session configuration with Apache Spark's defaults, and small helpers.
//! Everything here is independent of the Spark Connect protocol so that the Rust API, the SQL
//! shell and the gRPC service share it.

pub mod config;
pub mod datetime_pattern;
pub mod error;
pub mod names;

pub use config::SessionConfig;
pub use error::{Error, Result};
