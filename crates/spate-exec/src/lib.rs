//! The one query runner. Every physical plan Spate runs — from ExecutePlan, `show()`, writes,
//! Delta statements, cache fills and `spate sql` — is planned and run through [`runner`]: one
//! memory pool and spill directory per server ([`memory`]), query ids, cancellation by drop,
//! stages and tasks ([`stage`]), results streamed in partition order ([`query`], [`ordered`]), and a bounded
//! store of query records that the UI, streaming progress and listeners read ([`records`]).

pub mod hot_keys;
pub mod memory;
pub mod ordered;
pub mod query;
pub mod records;
pub mod runner;
pub mod stage;

pub use memory::MemoryConfig;
pub use query::{Outcome, Query, QueryStream, StageProgress};
pub use records::{
    HotKey, MetricRecord, OperatorRecord, QueryListener, QueryRecord, QueryStatus, QueryStore,
    StageRecord, TaskRecord, now_ms,
};
pub use runner::{
    QueryRunner, QueryScope, attach, collect, physical_plan, set_scope, start, start_physical,
    stream, stream_watched, track,
};

/// The message of a caught panic (`panic!("...")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
