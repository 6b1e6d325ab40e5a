//! What every query did, kept for the people who look: the web UI, streaming progress and the
//! event log read these records. A record is created when a query starts (status `Running`) and
//! completed once when it ends — succeeded, failed (with Spark's error class) or canceled — with
//! its rows out, the physical plan it ran, its stages with their tasks, and every operator's
//! metrics per partition. The [`QueryStore`] keeps the newest records up to a bound (Spark's
//! `spark.sql.ui.retainedExecutions`), dropping the oldest finished ones first; running queries
//! are never dropped. [`QueryListener`]s hear each start and end.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde::{Deserialize, Serialize};

/// Where a query is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueryStatus {
    /// Started and not ended yet.
    Running,
    /// Produced all its rows.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Ended before its end: interrupted, its client gone, or its consumer stopped reading.
    Canceled,
}

impl QueryStatus {
    /// Spark's name for the status, as its UI and REST API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryStatus::Running => "RUNNING",
            QueryStatus::Succeeded => "COMPLETED",
            QueryStatus::Failed => "FAILED",
            QueryStatus::Canceled => "CANCELED",
        }
    }
}

/// One metric value of an operator, for one partition or the whole operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRecord {
    /// DataFusion's metric name (`output_rows`, `elapsed_compute` in nanoseconds,
    /// `spill_count`, `spilled_bytes`, `peak_mem_used`, ...).
    pub name: String,
    /// The partition it was measured in, `None` for the operator as a whole.
    pub partition: Option<usize>,
    /// The value (counts, bytes, nanoseconds).
    pub value: u64,
}

/// One operator of the physical plan that ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorRecord {
    /// Position in a pre-order walk of the plan, the root being 0.
    pub id: usize,
    /// The operator above it.
    pub parent: Option<usize>,
    /// The operator's name (`HashJoinExec`).
    pub name: String,
    /// Its one-line description, as EXPLAIN shows it.
    pub display: String,
    /// The stage it ran in.
    pub stage: Option<usize>,
    /// Its metrics, per partition where DataFusion measured them so.
    pub metrics: Vec<MetricRecord>,
    /// For a hash exchange: its key expressions.
    #[serde(default)]
    pub keys: Vec<String>,
    /// For a hash exchange: the hottest keys of its largest output partitions, sampled.
    #[serde(default)]
    pub hot_keys: Vec<HotKey>,
    /// For a hash exchange: the rows of each output partition (what each task of the next
    /// stage read from it).
    #[serde(default)]
    pub partition_rows: Vec<u64>,
}

/// A key value that many rows of one partition of a hash exchange carry (an estimate from a
/// sample, see `hot_keys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotKey {
    /// The output partition: the task of the next stage that reads these rows.
    pub partition: usize,
    /// The key's value(s), comma-separated as `show()` prints them.
    pub key: String,
    /// Rows with that key (estimated).
    pub rows: u64,
    /// Rows of the partition (estimated).
    pub partition_rows: u64,
}

/// One task: one partition of a stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The partition it computed.
    pub partition: usize,
    /// When it started, milliseconds since the epoch.
    pub started_ms: Option<i64>,
    /// When it ended.
    pub ended_ms: Option<i64>,
    /// Rows it produced.
    pub rows: u64,
    /// Bytes (in memory, Arrow) it produced.
    pub bytes: u64,
}

/// One stage: a pipeline of operators between exchanges.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    /// The stage id within its query; stages that feed others have the smaller ids.
    pub id: usize,
    /// The stage id across the server (Spark's stage id): the query's first stage id plus `id`.
    #[serde(default)]
    pub global_id: u64,
    /// The stages whose output this stage reads.
    pub parents: Vec<usize>,
    /// Its tasks, one per partition.
    pub tasks: Vec<TaskRecord>,
}

/// What one query did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryRecord {
    /// The server-wide query id.
    pub id: u64,
    /// The Spark session it ran for.
    pub session_id: String,
    /// The operation (ExecutePlan call) it ran for, if any.
    pub operation_id: Option<String>,
    /// The operation's tags.
    pub tags: Vec<String>,
    /// The user's SQL text or a summary of the DataFrame plan.
    pub description: String,
    /// Why the engine ran it (`collect`, `show`, `write parquet`, `cache`, ...).
    pub kind: String,
    /// The physical plan, indented as EXPLAIN prints it.
    pub physical_plan: String,
    /// The server-wide id of its first stage (its stages are numbered on from there).
    #[serde(default)]
    pub first_stage_id: u64,
    /// Start, milliseconds since the epoch.
    pub started_ms: i64,
    /// End, once ended.
    pub ended_ms: Option<i64>,
    /// Where it is in its life.
    pub status: QueryStatus,
    /// Spark's error class of a failure.
    pub error_class: Option<String>,
    /// The failure's message.
    pub error_message: Option<String>,
    /// Rows the query produced.
    pub rows_out: u64,
    /// The plan's operators with their metrics (filled in at the end).
    pub operators: Vec<OperatorRecord>,
    /// Its stages and their tasks (filled in at the end).
    pub stages: Vec<StageRecord>,
}

impl QueryRecord {
    /// How long it ran (or has run so far, given `now_ms`), in milliseconds.
    pub fn duration_ms(&self, now_ms: i64) -> i64 {
        self.ended_ms.unwrap_or(now_ms) - self.started_ms
    }
}

/// Hears queries start and end (the event log, the UI's live views).
pub trait QueryListener: Send + Sync {
    /// A query started.
    fn on_start(&self, record: &QueryRecord);
    /// A query ended; the record is complete.
    fn on_end(&self, record: &QueryRecord);
}

/// A record in the store: complete once its query ended.
#[derive(Debug)]
pub struct StoredQuery {
    record: Mutex<QueryRecord>,
}

impl StoredQuery {
    /// A copy of the record as it stands.
    pub fn snapshot(&self) -> QueryRecord {
        lock(&self.record).clone()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut QueryRecord)) {
        f(&mut lock(&self.record));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The newest query records, bounded.
pub struct QueryStore {
    capacity: usize,
    entries: Mutex<VecDeque<Arc<StoredQuery>>>,
    listeners: RwLock<Vec<Arc<dyn QueryListener>>>,
}

impl std::fmt::Debug for QueryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStore")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

/// Spark's default for `spark.sql.ui.retainedExecutions`.
pub const DEFAULT_RETAINED: usize = 1000;

impl QueryStore {
    /// A store keeping up to `capacity` records (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::default(),
            listeners: RwLock::default(),
        }
    }

    /// Adds a listener for every later start and end.
    pub fn add_listener(&self, listener: Arc<dyn QueryListener>) {
        if let Ok(mut l) = self.listeners.write() {
            l.push(listener);
        }
    }

    /// Keeps the record of a query that starts, and tells the listeners.
    pub(crate) fn started(&self, record: QueryRecord) -> Arc<StoredQuery> {
        for l in self.listeners() {
            l.on_start(&record);
        }
        let stored = Arc::new(StoredQuery {
            record: Mutex::new(record),
        });
        let mut entries = lock(&self.entries);
        entries.push_back(Arc::clone(&stored));
        while entries.len() > self.capacity {
            let finished = entries
                .iter()
                .position(|e| lock(&e.record).status != QueryStatus::Running);
            match finished {
                Some(i) => {
                    entries.remove(i);
                }
                None => break,
            }
        }
        stored
    }

    /// Tells the listeners that the stored query ended.
    pub(crate) fn ended(&self, stored: &StoredQuery) {
        let record = stored.snapshot();
        for l in self.listeners() {
            l.on_end(&record);
        }
    }

    fn listeners(&self) -> Vec<Arc<dyn QueryListener>> {
        self.listeners.read().map(|l| l.clone()).unwrap_or_default()
    }

    /// Copies of the records, oldest first.
    pub fn records(&self) -> Vec<QueryRecord> {
        lock(&self.entries).iter().map(|e| e.snapshot()).collect()
    }

    /// The record of query `id`, if still kept.
    pub fn get(&self, id: u64) -> Option<QueryRecord> {
        lock(&self.entries)
            .iter()
            .map(|e| e.snapshot())
            .find(|r| r.id == id)
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
