//! Spate's storage side: the session catalog (temporary views, global temporary views and the
//! warehouse of persistent tables, shared by every session through the file system), the
//! data sources Spark reads (Parquet, CSV, JSON, text — with Spark's options, defaults and
//! Hive-style partition discovery), Delta Lake tables (through the `deltalake` crate), batch reads and writes of Kafka,
//! and the writers behind `df.write`.

pub mod catalog;
pub mod delta;
pub mod kafka;
pub mod listing;
pub mod metadata_log;
pub mod options;
pub mod orc;
pub mod partitions;
pub mod records;
pub mod sink_output;
pub mod source;
pub mod task_files;
pub mod warehouse;
pub mod write;

pub use catalog::{GlobalViews, SessionCatalog};
pub use options::{SaveMode, WriteRequest};
