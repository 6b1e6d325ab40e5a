//! Kafka for Spate, as Spark's Kafka connector (`spark-sql-kafka-0-10`) behaves: its options
//! and their checks ([`options`]), offsets in its JSON ([`offsets`]), resolving starting and
//! ending offsets against the brokers ([`resolve`], [`client`]), reading offset ranges into
//! Arrow with its schema ([`read`]) and writing rows as records ([`write`]; exactly once for
//! streaming batches, Spate's extension: [`once`]). The client is librdkafka (the `rdkafka`
//! crate): it speaks every Kafka security protocol (SSL, SASL PLAIN/SCRAM/OAUTHBEARER) under the
//! setting names Spark's users already pass as `kafka.*` options.
//!
//! The micro-batch source and sink built on this live in spate-stream; batch reads and writes
//! in spate-lake.

pub mod client;
pub mod offsets;
pub mod once;
pub mod options;
pub mod read;
pub mod resolve;
pub mod write;

pub use offsets::{PartitionOffsets, TopicPartition};
pub use options::{OffsetSpec, SinkOptions, SourceOptions, Subscription};
pub use read::{OffsetRange, ReadSettings};
