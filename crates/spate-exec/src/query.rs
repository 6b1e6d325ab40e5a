//! A running query and its rows. A [`Query`] is a started, instrumented physical plan with its
//! record; its partitions can be run one by one ([`Query::execute`], for writers that write a
//! file per partition) or as one stream in partition order ([`Query::stream`]). Either way the
//! record is completed exactly once: by [`Query::finish`], by the stream's end or error, or —
//! when everything is dropped before that — as canceled. Errors that say the memory pool was
//! exhausted become Spark's `UNABLE_TO_ACQUIRE_MEMORY` naming the server's limit.
//!
//! The ordered stream reads the partitions with [`crate::ordered::InOrder`]: the result keeps
//! Spark's row order while the partitions compute in parallel, and memory holds a bounded
//! number of bytes per partition (`PREFETCH_BYTES`), not the result.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::metrics::MetricValue;
use datafusion::physical_plan::{
    DisplayFormatType, ExecutionPlan, RecordBatchStream, SendableRecordBatchStream,
};
use futures::{Stream, StreamExt};
use spate_common::Error;
use spate_common::error::{SparkErrorInfo, spark_info_of};

use crate::hot_keys::KeySampleExec;
use crate::memory::{is_memory_error, memory_error};
use crate::ordered::InOrder;
use crate::records::{
    MetricRecord, OperatorRecord, QueryRecord, QueryStatus, QueryStore, StageRecord, StoredQuery,
    now_ms,
};
use crate::stage::{StageExec, StageTasks};

/// How a query ended.
#[derive(Debug)]
pub enum Outcome {
    /// It produced all its rows.
    Succeeded,
    /// It failed, as Spark reports it.
    Failed(SparkErrorInfo),
    /// It was stopped before its end.
    Canceled,
}

impl Outcome {
    /// The outcome of a result.
    pub fn of<T>(result: &Result<T, Error>) -> Self {
        match result {
            Ok(_) => Outcome::Succeeded,
            Err(e) => Outcome::Failed(e.spark_info()),
        }
    }
}

/// A started query.
#[derive(Clone)]
pub struct Query {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<QueryStore>,
    memory_limit: usize,
    stored: Arc<StoredQuery>,
    id: u64,
    plan: Arc<dyn ExecutionPlan>,
    stages: Vec<Arc<StageTasks>>,
    task_ctx: Arc<TaskContext>,
    finished: AtomicBool,
}

/// One stage's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageProgress {
    /// The stage id.
    pub id: usize,
    /// Its tasks.
    pub num_tasks: usize,
    /// Tasks that ended.
    pub completed: usize,
    /// Tasks running now.
    pub running: usize,
    /// Bytes its file scans read.
    pub input_bytes: u64,
}

impl Query {
    pub(crate) fn new(
        store: Arc<QueryStore>,
        memory_limit: usize,
        record: QueryRecord,
        plan: Arc<dyn ExecutionPlan>,
        stages: Vec<Arc<StageTasks>>,
        task_ctx: Arc<TaskContext>,
    ) -> Self {
        let id = record.id;
        let stored = store.started(record);
        Self {
            inner: Arc::new(Inner {
                store,
                memory_limit,
                stored,
                id,
                plan,
                stages,
                task_ctx,
                finished: AtomicBool::new(false),
            }),
        }
    }

    /// The query id.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The physical plan as it runs (with its stages marked).
    pub fn plan(&self) -> &Arc<dyn ExecutionPlan> {
        &self.inner.plan
    }

    /// Its output schema.
    pub fn schema(&self) -> SchemaRef {
        self.inner.plan.schema()
    }

    /// How many partitions it produces.
    pub fn partition_count(&self) -> usize {
        self.inner
            .plan
            .properties()
            .output_partitioning()
            .partition_count()
    }

    /// Runs one partition.
    pub fn execute(&self, partition: usize) -> Result<SendableRecordBatchStream, Error> {
        let stream = self
            .inner
            .plan
            .execute(partition, Arc::clone(&self.inner.task_ctx))?;
        let limit = self.inner.memory_limit;
        let schema = stream.schema();
        let mapped = stream.map(move |item| item.map_err(|e| named_memory_error(e, limit)));
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, mapped),
        ))
    }

    /// Progress of each stage, smallest id first.
    pub fn progress(&self) -> Vec<StageProgress> {
        self.inner
            .stages
            .iter()
            .map(|s| StageProgress {
                id: s.id,
                num_tasks: s.num_tasks(),
                completed: s.completed(),
                running: s.running(),
                input_bytes: s.input_bytes(),
            })
            .collect()
    }

    /// Rows the query has produced so far.
    pub fn rows_out(&self) -> u64 {
        self.inner
            .stages
            .last()
            .map(|s| s.tasks().iter().map(|t| t.rows).sum())
            .unwrap_or(0)
    }

    /// Completes the record with `outcome` (only the first call counts).
    pub fn finish(&self, outcome: Outcome) {
        self.inner.finish(outcome);
    }

    /// The rows of every partition, in partition order.
    pub fn stream(self) -> QueryStream {
        QueryStream::new(self)
    }
}

impl Inner {
    fn finish(&self, outcome: Outcome) {
        if self.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        let rows_out = self
            .stages
            .last()
            .map(|s| s.tasks().iter().map(|t| t.rows).sum())
            .unwrap_or(0);
        let operators = operator_records(&self.plan);
        self.stored.update(|r| {
            let first_stage = r.first_stage_id;
            let stages = self
                .stages
                .iter()
                .map(|s| StageRecord {
                    id: s.id,
                    global_id: first_stage + s.id as u64,
                    parents: s.parents.clone(),
                    tasks: s.tasks(),
                })
                .collect();
            r.ended_ms = Some(now_ms());
            r.rows_out = rows_out;
            r.operators = operators;
            r.stages = stages;
            match outcome {
                Outcome::Succeeded => r.status = QueryStatus::Succeeded,
                Outcome::Canceled => r.status = QueryStatus::Canceled,
                Outcome::Failed(info) => {
                    r.status = QueryStatus::Failed;
                    r.error_class = info.error_class;
                    r.error_message = Some(info.message);
                }
            }
        });
        let record = self.stored.snapshot();
        match record.status {
            QueryStatus::Canceled => tracing::info!(
                "query {} of session {} canceled",
                record.id,
                record.session_id
            ),
            QueryStatus::Failed => tracing::debug!(
                "query {} failed: {}",
                record.id,
                record.error_message.as_deref().unwrap_or_default()
            ),
            _ => {}
        }
        self.store.ended(&self.stored);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.finish(Outcome::Canceled);
    }
}

fn named_memory_error(e: DataFusionError, limit: usize) -> DataFusionError {
    if is_memory_error(&e) && !matches!(&e, DataFusionError::External(_)) {
        DataFusionError::External(Box::new(memory_error(&e, limit)))
    } else {
        e
    }
}

/// Every operator of the plan with its metrics, in pre-order (stage markers skipped, their
/// stage noted on the operators below them).
fn operator_records(plan: &Arc<dyn ExecutionPlan>) -> Vec<OperatorRecord> {
    let mut out = Vec::new();
    walk(plan, None, None, &mut out);
    out
}

fn walk(
    plan: &Arc<dyn ExecutionPlan>,
    parent: Option<usize>,
    stage: Option<usize>,
    out: &mut Vec<OperatorRecord>,
) {
    if let Some(marker) = plan.downcast_ref::<StageExec>() {
        for child in plan.children() {
            walk(child, parent, Some(marker.tasks().id), out);
        }
        return;
    }
    if let Some(sampler) = plan.downcast_ref::<KeySampleExec>() {
        let first = out.len();
        for child in plan.children() {
            walk(child, parent, stage, out);
        }
        if let Some(exchange) = out.get_mut(first) {
            exchange.keys = sampler.samples().keys.clone();
            exchange.hot_keys = sampler.samples().hot_keys();
            exchange.partition_rows = sampler.samples().partition_rows();
        }
        return;
    }
    let id = out.len();
    let metrics = plan
        .metrics()
        .map(|set| {
            set.iter()
                .filter_map(|m| {
                    let value = match m.value() {
                        MetricValue::StartTimestamp(_) | MetricValue::EndTimestamp(_) => {
                            return None;
                        }
                        v => v.as_usize() as u64,
                    };
                    Some(MetricRecord {
                        name: m.value().name().to_string(),
                        partition: m.partition(),
                        value,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    out.push(OperatorRecord {
        id,
        parent,
        name: plan.name().to_string(),
        display: one_line(plan.as_ref()),
        stage,
        metrics,
        keys: Vec::new(),
        hot_keys: Vec::new(),
        partition_rows: Vec::new(),
    });
    for child in plan.children() {
        walk(child, Some(id), stage, out);
    }
}

fn one_line(plan: &dyn ExecutionPlan) -> String {
    struct Line<'a>(&'a dyn ExecutionPlan);
    impl std::fmt::Display for Line<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt_as(DisplayFormatType::Default, f)
        }
    }
    Line(plan).to_string()
}

/// Whether `plan` contains an operator named `name`.
pub fn contains(plan: &Arc<dyn ExecutionPlan>, name: &str) -> bool {
    let mut found = false;
    let _ = plan.apply(|p| {
        found |= p.name() == name;
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// A query's rows, partitions in order.
pub struct QueryStream {
    query: Query,
    schema: SchemaRef,
    source: Source,
    first: Option<Option<DfResult<RecordBatch>>>,
    done: bool,
}

enum Source {
    /// Not started yet.
    Idle,
    /// A single partition, read directly.
    Single(SendableRecordBatchStream),
    /// Partitions on their own tasks, read in order.
    Many(Box<InOrder>),
    /// Could not start.
    Failed(Option<DataFusionError>),
}

impl QueryStream {
    fn new(query: Query) -> Self {
        let schema = query.schema();
        Self {
            query,
            schema,
            source: Source::Idle,
            first: None,
            done: false,
        }
    }

    /// The query.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// Stops the query and waits until its partition tasks have ended (and let go of their
    /// memory).
    pub async fn shutdown(mut self) {
        if let Source::Many(s) = &mut self.source {
            s.shutdown().await;
        }
        self.source = Source::Idle;
    }

    /// This stream with `first` (an item already taken from it) put back in front.
    pub(crate) fn with_first(mut self, first: Option<DfResult<RecordBatch>>) -> Self {
        self.first = Some(first);
        self
    }

    fn start(&mut self) {
        let n = self.query.partition_count();
        self.source = if n == 1 {
            match self.query.execute(0) {
                Ok(s) => Source::Single(s),
                Err(e) => Source::Failed(Some(e.into())),
            }
        } else {
            let query = self.query.clone();
            Source::Many(Box::new(InOrder::start(n, move |i| {
                query.execute(i).map_err(DataFusionError::from)
            })))
        };
    }

    fn poll_source(&mut self, cx: &mut Context<'_>) -> Poll<Option<DfResult<RecordBatch>>> {
        loop {
            match &mut self.source {
                Source::Idle => self.start(),
                Source::Single(s) => return s.poll_next_unpin(cx),
                Source::Failed(e) => {
                    return Poll::Ready(e.take().map(Err));
                }
                Source::Many(s) => return s.poll_next_unpin(cx),
            }
        }
    }
}

impl Stream for QueryStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = match self.first.take() {
            Some(first) => first,
            None if self.done => return Poll::Ready(None),
            None => match self.poll_source(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(item) => item,
            },
        };
        match &item {
            None => {
                self.done = true;
                self.query.finish(Outcome::Succeeded);
            }
            Some(Err(e)) => {
                self.done = true;
                self.query.finish(Outcome::Failed(spark_info_of(e)));
            }
            Some(Ok(_)) => {}
        }
        Poll::Ready(item)
    }
}

impl RecordBatchStream for QueryStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}
