//! What the UI shows, independent of where it comes from: an [`App`] is one application — a
//! running server (live) or a finished one read back from its event log (history) — with its
//! query records, sessions, cached DataFrames and environment. A [`Source`] hands out apps;
//! every page and API endpoint renders from an `App` snapshot taken for the request, so the
//! live UI and the history server share all their code.

use serde::{Deserialize, Serialize};
use spate_exec::QueryRecord;

/// One application as its list shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppSummary {
    /// Spark's application id (`spate-20261207084500-0001`).
    pub id: String,
    /// `spark.app.name`.
    pub name: String,
    /// The user the server runs as.
    pub user: String,
    /// Start, milliseconds since the epoch.
    pub started_ms: i64,
    /// End, once ended.
    pub ended_ms: Option<i64>,
}

/// A Spark Connect session and its operations.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionInfo {
    /// The client's session id.
    pub id: String,
    /// The user the client named.
    pub user_id: String,
    /// Whether it was closed.
    pub closed: bool,
    /// Its operations still known to the server.
    pub operations: Vec<OperationInfo>,
}

/// One operation (an ExecutePlan call).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OperationInfo {
    /// The operation id.
    pub id: String,
    /// Its state (`Running`, `Succeeded`, ...).
    pub state: String,
    /// Its tags.
    pub tags: Vec<String>,
}

/// A cached (persisted) DataFrame.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CachedInfo {
    /// A number for the UI and `storage/rdd` (its position in the list).
    pub id: usize,
    /// The session it belongs to.
    pub session_id: String,
    /// Spark's description of its storage level (`Disk Memory Deserialized 1x Replicated`).
    pub level: String,
    /// Whether a query has computed its rows yet (Spark caches lazily).
    pub computed: bool,
    /// Bytes held in memory.
    pub memory_bytes: u64,
    /// Bytes held on disk.
    pub disk_bytes: u64,
    /// Batches kept (Spate's partitions of a cached relation).
    pub partitions: usize,
    /// Rows kept.
    pub rows: u64,
}

/// A run of a streaming query with its recent progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StreamingInfo {
    /// The session that started it.
    pub session_id: String,
    /// The query's id.
    pub id: String,
    /// This run's id.
    pub run_id: String,
    /// Its name.
    pub name: Option<String>,
    /// Whether it still runs.
    pub active: bool,
    /// Why it stopped, if it failed.
    pub failure: Option<String>,
    /// Start, milliseconds since the epoch.
    pub started_ms: i64,
    /// Its recent batches' progress (Spark's `StreamingQueryProgress`), oldest first.
    pub progress: Vec<serde_json::Value>,
}

/// Everything the UI shows of one application.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct App {
    /// Who it is.
    pub summary: AppSummary,
    /// Its queries, oldest first.
    pub queries: Vec<QueryRecord>,
    /// Its Spark Connect sessions (live only).
    pub sessions: Vec<SessionInfo>,
    /// Its cached DataFrames (live only).
    pub storage: Vec<CachedInfo>,
    /// Its settings, sorted by key.
    pub environment: Vec<(String, String)>,
    /// Its streaming queries (live only).
    #[serde(default)]
    pub streaming: Vec<StreamingInfo>,
    /// Whether it is read back from an event log.
    pub history: bool,
}

impl App {
    /// The query with id `id`.
    pub fn query(&self, id: u64) -> Option<&QueryRecord> {
        self.queries.iter().find(|q| q.id == id)
    }

    /// The query holding the stage with server-wide id `stage`, with the stage's index in it.
    pub fn stage(&self, stage: u64) -> Option<(&QueryRecord, usize)> {
        self.queries.iter().find_map(|q| {
            q.stages
                .iter()
                .position(|s| s.global_id == stage)
                .map(|i| (q, i))
        })
    }
}

/// Where the UI's applications come from.
pub trait Source: Send + Sync {
    /// The applications, newest first.
    fn apps(&self) -> Vec<AppSummary>;
    /// The application `id`, or the only one when `id` is `None`.
    fn app(&self, id: Option<&str>) -> Option<App>;
    /// Whether this is the history server (the root lists applications).
    fn is_history(&self) -> bool;
}
