//! Structured Streaming for Spate. A streaming query runs as a sequence of micro-batches; what
//! makes it resumable and exactly-once is its checkpoint, kept in Spark's own layout so that
//! a user moving between Spark and Spate recognises (and can inspect) every file:
//!
//! - [`log`]: Spark's metadata log — one file per batch id, `v1` then JSON lines, written
//!   atomically and never overwritten; compacted logs (`N.compact`) read as Spark reads them.
//! - [`checkpoint`]: the checkpoint directory — `metadata` (the query id), `offsets/N` (what
//!   batch N reads, with the watermark and the session settings that must not change),
//!   `commits/N` (batch N is done), `sources/` — and what a restart must do next.
//! - [`lifecycle`]: the query's states and the moves between them.
//!
//! The micro-batch runtime, sources, sinks and the Spark Connect commands build on these.

pub mod checkpoint;
pub mod lifecycle;
pub mod log;

pub use checkpoint::{Checkpoint, CommitEntry, OffsetEntry, Resume};
pub use lifecycle::QueryState;
pub use log::MetadataLog;
