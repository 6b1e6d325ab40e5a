//! The Spark Connect service. PySpark (`pyspark-client`) talks gRPC to
//! `/spark.connect.SparkConnectService/<Method>`; [`server`] routes each method to one handler
//! in this crate, using the message types of the `apache-spark-connect-proto` crate, tonic's
//! generic server and [`codec`] (Spark's size and depth limits). Sessions and operations live
//! in `spate-session`; execution streams Arrow batches ([`batches`]) through an operation's
//! buffer and can be reattached, released and interrupted ([`execute`]); analysis, config,
//! commands and artifacts live beside it. Every error leaves through [`error::to_status`].

pub mod analyze;
pub mod arrow;
pub mod artifacts;
pub mod batches;
pub mod catalog;
pub mod codec;
pub mod commands;
pub mod config;
pub mod error;
pub mod execute;
pub mod execution;
pub mod explain;
pub mod server;
pub mod streaming;

pub use server::{SparkConnectService, serve, serve_listener};
