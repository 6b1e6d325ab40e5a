//! The one query runner. Every physical plan in Spate is planned and run here, whichever path it
//! comes from (an ExecutePlan, `show()`, a write, a Delta statement, a cache fill, `spate sql`):
//! the runner gives it a query id, a record in the [`QueryStore`], the server's memory pool,
//! its stages and tasks, and cancellation (dropping what it returns stops the query and every
//! task it spawned).
//!
//! Code that holds a DataFusion `SessionState` reaches the runner through the state: a session
//! attaches the runner and a [`QueryScope`] (session, operation, tags, what the user asked for)
//! to its states' configuration ([`attach`], [`set_scope`]), and the functions of this module
//! ([`physical_plan`], [`start`], [`stream`], [`collect`]) take the state. A state without a
//! runner is a bug, reported as such.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SessionState, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use futures::{StreamExt, TryStreamExt};
use spate_common::{Error, Result};

use crate::memory::{MemoryConfig, is_memory_error};
use crate::query::{Query, QueryStream};
use crate::records::{QueryRecord, QueryStatus, QueryStore, now_ms};

/// Who and what a query runs for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryScope {
    /// The Spark session.
    pub session_id: String,
    /// The operation (an ExecutePlan call), if any.
    pub operation_id: Option<String>,
    /// The operation's tags.
    pub tags: Vec<String>,
    /// The user's SQL text or a summary of the DataFrame they run; queries without one are
    /// described by their logical plan.
    pub description: Option<String>,
}

/// The server's runner: its memory, its records, its query ids.
#[derive(Debug)]
pub struct QueryRunner {
    runtime: Arc<RuntimeEnv>,
    memory: MemoryConfig,
    store: Arc<QueryStore>,
    next_id: AtomicU64,
    next_stage: AtomicU64,
    sample_keys: std::sync::atomic::AtomicBool,
}

impl QueryRunner {
    /// A runner with `memory`'s limit and spill directory, keeping up to `retained` records.
    pub fn new(memory: MemoryConfig, retained: usize) -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            runtime: crate::memory::runtime(&memory)?,
            memory,
            store: Arc::new(QueryStore::new(retained)),
            next_id: AtomicU64::new(1),
            next_stage: AtomicU64::new(0),
            sample_keys: std::sync::atomic::AtomicBool::new(true),
        }))
    }

    /// The runtime (memory pool, spill files) every session's context must use.
    pub fn runtime(&self) -> &Arc<RuntimeEnv> {
        &self.runtime
    }

    /// The memory limit in bytes.
    pub fn memory_limit(&self) -> usize {
        self.memory.limit
    }

    /// The records of the queries run.
    pub fn store(&self) -> &QueryStore {
        &self.store
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether hash exchanges get key samplers (`crate::hot_keys`): on while someone can look
    /// (the UI or the event log), else off.
    pub fn set_key_sampling(&self, on: bool) {
        self.sample_keys.store(on, Ordering::Relaxed);
    }

    /// Reserves `n` server-wide stage ids; returns the first.
    fn reserve_stages(&self, n: usize) -> u64 {
        self.next_stage.fetch_add(n as u64, Ordering::Relaxed)
    }
}

/// The runner and scope a session state carries (a DataFusion configuration extension).
#[derive(Debug)]
pub struct Attached {
    runner: Arc<QueryRunner>,
    scope: QueryScope,
}

impl Attached {
    /// The runner.
    pub fn runner(&self) -> &Arc<QueryRunner> {
        &self.runner
    }

    /// The scope.
    pub fn scope(&self) -> &QueryScope {
        &self.scope
    }
}

/// Attaches `runner` with `scope` to a session configuration: states built from it run their
/// plans through the runner.
pub fn attach(config: &mut SessionConfig, runner: &Arc<QueryRunner>, scope: QueryScope) {
    config.set_extension(Arc::new(Attached {
        runner: Arc::clone(runner),
        scope,
    }));
}

/// Gives a state (a copy of a session's) the scope of one request.
pub fn set_scope(state: &mut SessionState, scope: QueryScope) -> Result<()> {
    let runner = Arc::clone(attached(state)?.runner());
    attach(state.config_mut(), &runner, scope);
    Ok(())
}

/// The runner and scope of `state`.
pub fn attached(state: &SessionState) -> Result<Arc<Attached>> {
    state
        .config()
        .get_extension::<Attached>()
        .ok_or_else(|| Error::internal("the session state has no query runner attached"))
}

/// Plans `plan` physically. The only place a logical plan becomes a physical one.
pub async fn physical_plan(
    state: &SessionState,
    plan: &LogicalPlan,
) -> Result<Arc<dyn ExecutionPlan>> {
    let physical = state.create_physical_plan(plan).await?;
    // the first rows of a limit are the first partitions' rows, as in Spark
    Ok(crate::ordered::keep_result_order(physical)?)
}

/// Plans and starts `plan` as a query of kind `kind` (`collect`, `show`, `write parquet`...).
pub async fn start(state: &SessionState, plan: &LogicalPlan, kind: &str) -> Result<Query> {
    let physical = physical_plan(state, plan).await?;
    start_physical(state, physical, kind, || summary(plan))
}

/// Starts an already planned query; `describe` is asked for a description when the scope has
/// none.
pub fn start_physical(
    state: &SessionState,
    physical: Arc<dyn ExecutionPlan>,
    kind: &str,
    describe: impl FnOnce() -> String,
) -> Result<Query> {
    let attached = attached(state)?;
    let runner = Arc::clone(attached.runner());
    let scope = attached.scope();
    let sample = runner.sample_keys.load(Ordering::Relaxed);
    let (plan, stages) = crate::stage::instrument(physical, sample)?;
    let first_stage = runner.reserve_stages(stages.len());
    let record = QueryRecord {
        id: runner.next_id(),
        first_stage_id: first_stage,
        session_id: scope.session_id.clone(),
        operation_id: scope.operation_id.clone(),
        tags: scope.tags.clone(),
        description: scope.description.clone().unwrap_or_else(describe),
        kind: kind.to_string(),
        physical_plan: datafusion::physical_plan::displayable(plan.as_ref())
            .indent(false)
            .to_string(),
        started_ms: now_ms(),
        ended_ms: None,
        status: QueryStatus::Running,
        error_class: None,
        error_message: None,
        rows_out: 0,
        operators: Vec::new(),
        stages: Vec::new(),
    };
    let task_ctx = Arc::new(TaskContext::from(state));
    Ok(Query::new(
        Arc::clone(&runner.store),
        runner.memory_limit(),
        record,
        plan,
        stages,
        task_ctx,
    ))
}

/// Rows per batch when a query runs again after running out of memory.
pub const FRUGAL_BATCH_ROWS: usize = 1024;

/// Runs `plan` and streams its rows, partitions in order (as Spark's `collect` returns them).
///
/// A query that runs out of memory before it has produced anything runs once more in the
/// engine's frugal form: sort-merge joins instead of hash joins (they spill; a hash join needs
/// its build side in memory — Spark's default join does not) and batches of
/// [`FRUGAL_BATCH_ROWS`] rows, so that the merges of spilled sort runs, which hold a batch per
/// run, fit. The first attempt stays on record as failed.
pub async fn stream(state: &SessionState, plan: &LogicalPlan, kind: &str) -> Result<QueryStream> {
    stream_watched(state, plan, kind, |_| {}).await
}

/// [`stream`], calling `watch` with each query as it starts (before its first rows: the
/// console progress line of `spate sql` follows its stages from there).
pub async fn stream_watched(
    state: &SessionState,
    plan: &LogicalPlan,
    kind: &str,
    watch: impl Fn(&Query),
) -> Result<QueryStream> {
    let pool = std::sync::Arc::clone(&state.runtime_env().memory_pool);
    let before = pool.reserved();
    let query = start(state, plan, kind).await?;
    watch(&query);
    let mut stream = query.stream();
    match stream.next().await {
        Some(Err(e)) if is_memory_error(&e) => {
            // the failed attempt's tasks (and DataFusion's below them) let go of their memory
            // as they end: wait for that, briefly, before asking for it again
            stream.shutdown().await;
            for _ in 0..50 {
                if pool.reserved() <= before {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            tracing::info!(
                "a query ran out of memory; running it again with sort-merge joins and small batches"
            );
            let mut frugal = state.clone();
            let options = frugal.config_mut().options_mut();
            options.optimizer.prefer_hash_join = false;
            options.execution.batch_size =
                datafusion::common::config::ConfigNonZeroUsize::try_new(FRUGAL_BATCH_ROWS)?;
            let kind = format!("{kind} (frugal: sort-merge joins, small batches)");
            let query = start(&frugal, plan, &kind).await?;
            watch(&query);
            Ok(query.stream())
        }
        first => Ok(stream.with_first(first)),
    }
}

/// Runs `plan` and returns all its rows, partitions in order.
pub async fn collect(
    state: &SessionState,
    plan: &LogicalPlan,
    kind: &str,
) -> Result<Vec<RecordBatch>> {
    let stream = stream(state, plan, kind).await?;
    Ok(stream.try_collect().await?)
}

/// Longest description kept for a query without one.
const MAX_SUMMARY: usize = 4000;

/// A query's description from its logical plan.
pub fn summary(plan: &LogicalPlan) -> String {
    let mut text = plan.display_indent().to_string();
    if text.len() > MAX_SUMMARY {
        let mut end = MAX_SUMMARY;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("\n...");
    }
    text
}

/// Records work another engine carries out (delta-rs's own operations: DELETE, OPTIMIZE,
/// VACUUM...) as a query of kind `kind`, timed and with its outcome; dropping the returned
/// future cancels the work and records it as canceled.
pub async fn track<T>(
    state: &SessionState,
    kind: &str,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let marker: Arc<dyn ExecutionPlan> = Arc::new(crate::stage::ExternalExec::new(kind));
    let query = start_physical(state, marker, kind, || kind.to_string())?;
    let result = work.await;
    query.finish(crate::query::Outcome::of(&result));
    result
}
