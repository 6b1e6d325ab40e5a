//! The Spark Connect service. PySpark (`pyspark-client`) talks gRPC to
//! `/spark.connect.SparkConnectService/<Method>`; [`server`] routes each method to one handler
//! in this crate, using the message types of the `apache-spark-connect-proto` crate and tonic's
//! generic server. Sessions are isolated by session id ([`session`]); execution streams Arrow
//! batches and can be reattached, released and interrupted ([`execute`]); analysis, config and
//! commands live beside it. Every error leaves through [`error::to_status`].

pub mod analyze;
pub mod arrow;
pub mod catalog;
pub mod commands;
pub mod config;
pub mod error;
pub mod execute;
pub mod server;
pub mod session;

pub use server::{SparkConnectService, serve};
pub use session::SessionManager;
