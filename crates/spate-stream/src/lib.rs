//! Structured Streaming for Spate. A streaming query runs as a sequence of micro-batches; what
//! makes it resumable and exactly-once is its checkpoint, kept in Spark's own layout so that
//! a user moving between Spark and Spate recognises (and can inspect) every file:
//!
//! - [`log`] (in spate-lake, which reads sinks' logs too): Spark's metadata log — one file per
//!   batch id, `v1` then JSON lines, written atomically and never overwritten; compacted logs
//!   (`N.compact`) read as Spark reads them.
//! - [`checkpoint`]: the checkpoint directory — `metadata` (the query id), `offsets/N` (what
//!   batch N reads, with the watermark and the session settings that must not change),
//!   `commits/N` (batch N is done), `sources/` — and what a restart must do next.
//! - [`lifecycle`]: the query's states and the moves between them.
//!
//! On these runs the micro-batch runtime ([`query`]), with its sources ([`source`]: rate,
//! files, Delta, Kafka) and sinks ([`sink`]: memory, noop, console, files, Delta, Kafka), and the per-session registry
//! the Spark Connect commands use ([`registry`]). With a checkpoint a query writes
//! `offsets/N` before batch N and `commits/N` after its sink, and a restart goes on after the
//! last committed batch or runs the uncommitted one again.
//!
//! Each batch's plan is built by [`micro_batch`]: the batch's data in place of the streaming
//! scans, watermarks measured, and the query's stateful operator ([`stateful`]: a streaming
//! aggregation, [`aggregate`], a deduplication, [`dedup`], or a join of two streams,
//! [`join`]) run over its versioned state
//! ([`state`], in the checkpoint's `state/`).

pub mod aggregate;
pub(crate) mod checker;
pub mod checkpoint;
pub mod dedup;
pub mod delta_source;
pub mod file_source;
pub mod foreach_batch;
pub mod join;
pub(crate) mod join_watermark;
pub mod kafka_source;
pub mod lifecycle;
pub mod listener;
pub mod micro_batch;
pub mod operators;
pub use spate_lake::metadata_log as log;
pub mod query;
pub mod rate_micro_batch;
pub mod registry;
pub mod session;
pub mod sink;
pub mod source;
pub mod state;
pub mod stateful;

pub use checkpoint::{Checkpoint, CommitEntry, OffsetEntry, Resume};
pub use lifecycle::QueryState;
pub use log::MetadataLog;
pub use query::{StartRequest, StreamingQuery, Trigger};
pub use registry::SessionStreams;
pub use sink::Sink;
pub use stateful::OutputMode;
