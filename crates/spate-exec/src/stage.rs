//! Stages and tasks, as Spark names them, on DataFusion plans: a stage is a pipeline of
//! operators between exchanges (`RepartitionExec`, `CoalescePartitionsExec`,
//! `SortPreservingMergeExec`) and a task is one partition of a stage. Before a query runs,
//! [`instrument`] puts a [`StageExec`] on top of every stage — the input of each exchange and
//! the root — which records, per partition, when the task started and ended and the rows and
//! bytes it produced. That is what progress reports (tasks done out of total), the query
//! record and the UI's task tables read. `StageExec` keeps its input's properties, so the
//! plan's partitioning and orderings are untouched; its stream ([`StageStream`]) only observes.
//!
//! Stage ids follow Spark's order: a stage's inputs have smaller ids than the stage. Each hash
//! exchange also gets a [`KeySampleExec`] above it, which samples the keys each task of the next
//! stage reads (the UI names a skewed task's hot keys from them).

use std::fmt::{self, Formatter};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, RecordBatchStream,
    SendableRecordBatchStream, replace_children_if_necessary,
};
use futures::{Stream, StreamExt};

use crate::hot_keys::KeySampleExec;
use crate::records::{TaskRecord, now_ms};

/// What one stage's tasks have done so far.
#[derive(Debug)]
pub struct StageTasks {
    /// The stage id.
    pub id: usize,
    /// The stages this one reads from.
    pub parents: Vec<usize>,
    tasks: Mutex<Vec<TaskRecord>>,
    completed: AtomicUsize,
    running: AtomicUsize,
    /// The file scans in this stage (their `bytes_scanned` is the stage's input).
    scans: Vec<Arc<dyn ExecutionPlan>>,
}

impl StageTasks {
    fn new(id: usize, partitions: usize, parents: Vec<usize>) -> Self {
        let tasks = (0..partitions)
            .map(|partition| TaskRecord {
                partition,
                ..TaskRecord::default()
            })
            .collect();
        Self {
            id,
            parents,
            tasks: Mutex::new(tasks),
            completed: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            scans: Vec::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<TaskRecord>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The number of tasks.
    pub fn num_tasks(&self) -> usize {
        self.lock().len()
    }

    /// Tasks that have ended.
    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::Relaxed)
    }

    /// Tasks started and not ended.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Bytes the stage's file scans have read so far.
    pub fn input_bytes(&self) -> u64 {
        self.scans
            .iter()
            .filter_map(|s| s.metrics())
            .filter_map(|m| m.sum_by_name("bytes_scanned"))
            .map(|v| v.as_usize() as u64)
            .sum()
    }

    /// Copies of the task records.
    pub fn tasks(&self) -> Vec<TaskRecord> {
        self.lock().clone()
    }

    fn start(&self, partition: usize) {
        if let Some(t) = self.lock().get_mut(partition)
            && t.started_ms.is_none()
        {
            t.started_ms = Some(now_ms());
            self.running.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn produced(&self, partition: usize, batch: &RecordBatch) {
        if let Some(t) = self.lock().get_mut(partition) {
            t.rows += batch.num_rows() as u64;
            t.bytes += batch.get_array_memory_size() as u64;
        }
    }

    fn end(&self, partition: usize) {
        if let Some(t) = self.lock().get_mut(partition)
            && t.started_ms.is_some()
            && t.ended_ms.is_none()
        {
            t.ended_ms = Some(now_ms());
            self.running.fetch_sub(1, Ordering::Relaxed);
            self.completed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The top of a stage: passes its input through and records each task.
#[derive(Debug)]
pub struct StageExec {
    input: Arc<dyn ExecutionPlan>,
    tasks: Arc<StageTasks>,
    metrics: ExecutionPlanMetricsSet,
}

impl StageExec {
    fn new(input: Arc<dyn ExecutionPlan>, tasks: Arc<StageTasks>) -> Self {
        Self {
            input,
            tasks,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// The stage's tasks.
    pub fn tasks(&self) -> &Arc<StageTasks> {
        &self.tasks
    }
}

impl DisplayAs for StageExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        write!(
            f,
            "StageExec: stage={}, tasks={}",
            self.tasks.id,
            self.tasks.num_tasks()
        )
    }
}

impl ExecutionPlan for StageExec {
    fn name(&self) -> &str {
        "StageExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match children.pop() {
            Some(input) if children.is_empty() => {
                Ok(Arc::new(Self::new(input, Arc::clone(&self.tasks))))
            }
            _ => Err(DataFusionError::Internal(
                "bug: StageExec takes one child".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        Ok(Box::pin(StageStream {
            input,
            tasks: Arc::clone(&self.tasks),
            partition,
            baseline: BaselineMetrics::new(&self.metrics, partition),
            started: false,
            ended: false,
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One task's stream: the input's batches, observed.
pub struct StageStream {
    input: SendableRecordBatchStream,
    tasks: Arc<StageTasks>,
    partition: usize,
    baseline: BaselineMetrics,
    started: bool,
    ended: bool,
}

impl StageStream {
    fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            self.tasks.end(self.partition);
        }
    }
}

impl Stream for StageStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.started {
            self.started = true;
            self.tasks.start(self.partition);
        }
        let poll = self.input.poll_next_unpin(cx);
        match &poll {
            Poll::Ready(Some(Ok(batch))) => self.tasks.produced(self.partition, batch),
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.end(),
            Poll::Pending => {}
        }
        self.baseline.record_poll(poll)
    }
}

impl RecordBatchStream for StageStream {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}

impl Drop for StageStream {
    fn drop(&mut self) {
        // a task whose consumer stopped early (a limit, a cancel) has ended too
        if self.started {
            self.end();
        }
    }
}

fn is_exchange(plan: &dyn ExecutionPlan) -> bool {
    matches!(
        plan.name(),
        "RepartitionExec"
            | "RequestedRepartitionExec"
            | "CoalescePartitionsExec"
            | "SortPreservingMergeExec"
    )
}

/// A plan with its stages marked, and the stages (smallest id first).
pub type Instrumented = (Arc<dyn ExecutionPlan>, Vec<Arc<StageTasks>>);

/// Puts a [`StageExec`] on top of every stage of `plan` (and, with `sample`, a
/// [`KeySampleExec`] over every hash exchange); returns the new plan and its stages, smallest id
/// first (the root's stage is the last).
pub fn instrument(plan: Arc<dyn ExecutionPlan>, sample: bool) -> DfResult<Instrumented> {
    let mut stages = Vec::new();
    let (plan, scans, parents) = wrap(plan, &mut stages, sample)?;
    let root = stage(plan, scans, parents, &mut stages);
    Ok((root, stages))
}

/// A stage under construction: the file scans found and the stages read so far.
type Pending = (
    Arc<dyn ExecutionPlan>,
    Vec<Arc<dyn ExecutionPlan>>,
    Vec<usize>,
);

fn wrap(
    plan: Arc<dyn ExecutionPlan>,
    stages: &mut Vec<Arc<StageTasks>>,
    sample: bool,
) -> DfResult<Pending> {
    let exchange = is_exchange(plan.as_ref());
    let mut scans = Vec::new();
    let mut parents = Vec::new();
    if plan.downcast_ref::<DataSourceExec>().is_some() {
        scans.push(Arc::clone(&plan));
    }
    let mut children = Vec::new();
    for child in plan.children() {
        let (child, child_scans, child_parents) = wrap(Arc::clone(child), stages, sample)?;
        if exchange {
            let wrapped = stage(child, child_scans, child_parents, stages);
            if let Some(last) = stages.last() {
                parents.push(last.id);
            }
            children.push(wrapped);
        } else {
            scans.extend(child_scans);
            parents.extend(child_parents);
            children.push(child);
        }
    }
    let plan = if children.is_empty() {
        plan
    } else {
        replace_children_if_necessary(plan, children)?
    };
    let plan = if sample {
        KeySampleExec::wrap(plan)
    } else {
        plan
    };
    Ok((plan, scans, parents))
}

fn stage(
    plan: Arc<dyn ExecutionPlan>,
    scans: Vec<Arc<dyn ExecutionPlan>>,
    parents: Vec<usize>,
    stages: &mut Vec<Arc<StageTasks>>,
) -> Arc<dyn ExecutionPlan> {
    let partitions = plan.properties().output_partitioning().partition_count();
    let mut tasks = StageTasks::new(stages.len(), partitions, parents);
    tasks.scans = scans;
    let tasks = Arc::new(tasks);
    stages.push(Arc::clone(&tasks));
    Arc::new(StageExec::new(plan, tasks))
}

/// Stands for work another engine carries out (delta-rs's operations), so that its query
/// record shows what ran. It has no rows of its own and is never executed.
#[derive(Debug)]
pub struct ExternalExec {
    name: String,
    properties: Arc<PlanProperties>,
}

impl ExternalExec {
    /// A marker for the work called `name`.
    pub fn new(name: &str) -> Self {
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::empty());
        let properties = PlanProperties::new(
            datafusion::physical_expr::EquivalenceProperties::new(schema),
            datafusion::physical_plan::Partitioning::UnknownPartitioning(1),
            datafusion::physical_plan::execution_plan::EmissionType::Final,
            datafusion::physical_plan::execution_plan::Boundedness::Bounded,
        );
        Self {
            name: name.to_string(),
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for ExternalExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        write!(f, "ExternalExec: {}", self.name)
    }
}

impl ExecutionPlan for ExternalExec {
    fn name(&self) -> &str {
        "ExternalExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        Err(DataFusionError::Internal(format!(
            "bug: {} is carried out by another engine, not executed",
            self.name
        )))
    }
}
