//! Stateful streaming operators: what they share (the lifecycle, the state, the metrics, the
//! watermarks) and how a plan's stateful nodes are found. Spark's rules on which of them a
//! query may run are in [`crate::checker`].
//!
//! A stateful operator (a streaming aggregation, a deduplication) lives as long as its query.
//! Its lifecycle, per micro-batch: [`StatefulOperator::process`] (the batch hook) gets the
//! node's input rows of this batch and the batch's [`Watermarks`] (the watermark hook: late rows
//! are those at or below the previous batch's watermark, state is evicted at or below this
//! batch's), updates its [`crate::state::StateStore`] and returns the rows it emits;
//! [`StatefulOperator::commit`] (the checkpoint and commit hook) writes the state's new
//! version after the sink committed the batch. Its state is declared: a key schema and a value
//! schema, nothing kept elsewhere.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, RecordBatch, StructArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use futures::TryStreamExt;
use serde_json::json;
use spate_common::{Error, Result};
use spate_plan::streaming::{DeduplicateNode, WatermarkNode, as_node, is_streaming};

/// How a query with state writes its result (`writeStream.outputMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Only rows that will not change any more (an aggregation's windows the watermark passed).
    Append,
    /// The rows that changed in the batch.
    Update,
    /// The whole result, every batch.
    Complete,
}

impl OutputMode {
    /// The mode `writeStream.outputMode(name)` asks for (`append` when empty).
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_lowercase().as_str() {
            "" | "append" => Ok(Self::Append),
            "update" => Ok(Self::Update),
            "complete" => Ok(Self::Complete),
            other => Err(Error::IllegalArgument(format!(
                "Unknown output mode {other}. Accepted output modes are 'append', 'complete', 'update'"
            ))),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Append => "append",
            Self::Update => "update",
            Self::Complete => "complete",
        }
    }
}

/// The event-time watermarks of one batch, in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watermarks {
    /// Rows with an event time at or below it are late and dropped: the previous batch's
    /// watermark (Spark's watermark for late events).
    pub late_ms: i64,
    /// State with an event time at or below it is evicted: this batch's watermark.
    pub evict_ms: i64,
}

/// A boxed future, for the operator trait's async hook.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one stateful operator did in the last batch, for progress' `stateOperators`.
#[derive(Debug, Clone, Default)]
pub struct OperatorMetrics {
    /// Rows in the state after the batch.
    pub rows_total: u64,
    /// Rows put in the batch.
    pub rows_updated: u64,
    /// Rows evicted in the batch.
    pub rows_removed: u64,
    /// Late input rows (or late keys, for an aggregation) dropped.
    pub dropped_by_watermark: u64,
    /// Time spent updating the state, ms.
    pub updates_ms: u64,
    /// Time spent evicting, ms.
    pub removals_ms: u64,
    /// Time spent writing the state's new version, ms.
    pub commit_ms: u64,
    /// Estimated memory the state takes.
    pub memory_bytes: u64,
    /// Partitions of the state.
    pub partitions: u64,
}

impl OperatorMetrics {
    /// The progress entry of an operator named `name`, as PySpark parses it.
    pub fn progress(&self, name: &str) -> serde_json::Value {
        json!({
            "operatorName": name,
            "numRowsTotal": self.rows_total,
            "numRowsUpdated": self.rows_updated,
            "allUpdatesTimeMs": self.updates_ms,
            "numRowsRemoved": self.rows_removed,
            "allRemovalsTimeMs": self.removals_ms,
            "commitTimeMs": self.commit_ms,
            "memoryUsedBytes": self.memory_bytes,
            "numRowsDroppedByWatermark": self.dropped_by_watermark,
            "numShufflePartitions": self.partitions,
            "numStateStoreInstances": self.partitions,
            "customMetrics": {},
        })
    }
}

/// What every stateful operator keeps: its state store (opened on its first batch, when the
/// schemas of its keys and values are known), where it lives, its version, and what the last
/// batch did.
pub struct OperatorState {
    dir: Option<std::path::PathBuf>,
    partitions: usize,
    version: u64,
    store: Option<crate::state::StateStore>,
    /// What the last batch did.
    pub metrics: OperatorMetrics,
}

impl OperatorState {
    /// State in `dir` (memory only without one) at `version` (the batches committed), in
    /// `partitions` partitions.
    pub fn new(dir: Option<std::path::PathBuf>, partitions: usize, version: u64) -> Self {
        Self {
            dir,
            partitions,
            version,
            store: None,
            metrics: OperatorMetrics::default(),
        }
    }

    /// Partitions of the state.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// The store, opened with these schemas on first use.
    pub fn store(
        &mut self,
        key_schema: SchemaRef,
        value_schema: SchemaRef,
    ) -> Result<&mut crate::state::StateStore> {
        if self.store.is_none() {
            self.store = Some(crate::state::StateStore::open(
                self.dir.clone(),
                self.partitions,
                key_schema,
                value_schema,
                self.version,
            )?);
        }
        self.store
            .as_mut()
            .ok_or_else(|| Error::internal("a state store that was just opened is missing"))
    }

    /// The commit hook's work: the store's next version.
    pub fn commit(&mut self) -> Result<()> {
        let began = std::time::Instant::now();
        match &mut self.store {
            Some(store) => self.version = store.commit()?,
            None => self.version += 1,
        }
        self.metrics.commit_ms = began.elapsed().as_millis() as u64;
        Ok(())
    }
}

/// The schema an operator's rows take in the batch plan: `node`'s columns, all nullable.
pub(crate) fn output_schema(node: &LogicalPlan) -> SchemaRef {
    Arc::new(datafusion::arrow::datatypes::Schema::new(
        node.schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ))
}

/// A stateful streaming operator (see the module's documentation for its lifecycle).
pub trait StatefulOperator: Send + Sync {
    /// Spark's name for it in progress (`stateStoreSave`, `dedupe`).
    fn name(&self) -> &'static str;

    /// Whether the watermark evicts its state, so that a batch without data but with a newer
    /// watermark has work to do (Spark runs such a batch).
    fn evicts_by_watermark(&self) -> bool;

    /// The batch hook: the rows `node` emits this batch, given its input plan with this
    /// batch's data in `node`.
    fn process<'a>(
        &'a mut self,
        state: &'a SessionState,
        node: &'a LogicalPlan,
        watermarks: Watermarks,
    ) -> BoxFuture<'a, Result<Vec<RecordBatch>>>;

    /// The commit hook: writes the state's next version (after the sink committed).
    fn commit(&mut self) -> Result<()>;

    /// The watermark of its output when its input's is `input_ms` (how old a row it emits
    /// can be): the input's, unless the operator holds rows back.
    fn output_watermark(&self, input_ms: i64) -> i64 {
        input_ms
    }

    /// What the last batch did.
    fn metrics(&self) -> OperatorMetrics;
}

/// Runs an operator's physical plan through the query runner and returns its rows.
pub(crate) async fn run_physical(
    state: &SessionState,
    plan: Arc<dyn ExecutionPlan>,
    what: &str,
) -> Result<Vec<RecordBatch>> {
    let query = spate_exec::start_physical(state, plan, "stream state", || what.to_string())?;
    Ok(query.stream().try_collect().await?)
}

/// `batches` as a single-partition plan of `schema`.
pub(crate) fn memory_exec(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<Arc<dyn ExecutionPlan>> {
    Ok(datafusion::datasource::memory::MemorySourceConfig::try_new_exec(&[batches], schema, None)?)
}

/// An event-time column (a timestamp, or a window struct whose `end` counts) in milliseconds.
pub(crate) fn event_ms(column: &ArrayRef) -> Result<TimestampMillisecondArray> {
    let column = match column.data_type() {
        DataType::Struct(_) => {
            let s = column
                .as_any()
                .downcast_ref::<StructArray>()
                .ok_or_else(|| Error::internal("a struct column that is not a StructArray"))?;
            s.column_by_name("end")
                .cloned()
                .ok_or_else(|| Error::internal("a window key without an 'end' field"))?
        }
        _ => Arc::clone(column),
    };
    let ms = datafusion::arrow::compute::cast(
        &column,
        &DataType::Timestamp(TimeUnit::Millisecond, None),
    )?;
    ms.as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .cloned()
        .ok_or_else(|| Error::internal("an event time that did not cast to milliseconds"))
}

/// Whether row `i` of an event-time column (from [`event_ms`]) is at or below `watermark_ms`
/// (a null time never is).
pub(crate) fn at_or_below(times: &TimestampMillisecondArray, i: usize, watermark_ms: i64) -> bool {
    times.is_valid(i) && times.value(i) <= watermark_ms
}

/// Whether `plan` is a stateful node of a streaming plan (an aggregation or deduplication of
/// a stream, a join of two streams).
pub(crate) fn is_stateful(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Aggregate(a) => is_streaming(&a.input),
        LogicalPlan::Distinct(_) => is_streaming(plan),
        LogicalPlan::Join(j) => is_streaming(&j.left) && is_streaming(&j.right),
        _ => as_node::<DeduplicateNode>(plan).is_some(),
    }
}

/// The stateful nodes of a streaming plan, top first.
pub(crate) fn stateful_nodes(plan: &LogicalPlan) -> Result<Vec<LogicalPlan>> {
    let mut out = Vec::new();
    plan.apply(|p| {
        if is_stateful(p) {
            out.push(p.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(out)
}

/// The event-time columns and delays (ms) of the watermark nodes of `plan`, in the order a
/// batch visits them (inputs first).
pub(crate) fn watermark_nodes(plan: &LogicalPlan) -> Vec<(String, i64)> {
    fn visit(plan: &LogicalPlan, out: &mut Vec<(String, i64)>) {
        for input in plan.inputs() {
            visit(input, out);
        }
        if let Some(w) = as_node::<WatermarkNode>(plan) {
            out.push((w.event_time.name.clone(), w.delay_ms));
        }
    }
    let mut out = Vec::new();
    visit(plan, &mut out);
    out
}

/// Rows of `batches` renamed to `schema` (same columns, in order).
pub(crate) fn renamed(schema: &SchemaRef, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    batches
        .into_iter()
        .map(|b| {
            let columns: Vec<ArrayRef> = b.columns().to_vec();
            Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
        })
        .collect()
}
