//! Keeping the partitioning users ask for. DataFusion's `EnforceDistribution` rule removes
//! repartitions that no operator above requires, but in Spark `repartition(n)`,
//! `repartition(n, cols)`, `repartitionByRange` and `coalesce(n)` are instructions: they decide
//! how many tasks (and output files) follow. Before the physical optimizer runs, every
//! `RepartitionExec` comes from such a request (DataFusion adds its own later), so the first
//! rule wraps each in [`RequestedRepartitionExec`], which the later rules leave alone.
//!
//! Spark's `repartition(n)` deals out rows; DataFusion's round robin deals out whole batches,
//! so 1000 rows in one batch would all land in one partition (and one output file). Below a
//! requested round robin the rule puts a [`SplitBatchesExec`] that cuts each batch into up to
//! n slices (zero-copy; see [`MIN_SLICE_ROWS`] for large n), which the round robin then
//! deals out: every partition gets its share, give or take one slice.

use std::collections::VecDeque;
use std::fmt::Formatter;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result as DfResult;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::{Stream, StreamExt};

/// Up to this many partitions, [`SplitBatchesExec`] deals single rows if it must (10 rows to
/// 2 partitions: 5 each, as Spark).
pub const EXACT_DEAL_PIECES: usize = 64;
/// Above [`EXACT_DEAL_PIECES`] partitions, the smallest slice cut, so that `repartition(2000)`
/// does not turn every batch into 4-row slices; partitions then differ by up to this many rows.
pub const MIN_SLICE_ROWS: usize = 64;

/// A repartition the user asked for: it runs the wrapped `RepartitionExec` and shows as it.
/// It deliberately does not delegate downcasts, so optimizer rules do not see a
/// `RepartitionExec` they could remove.
#[derive(Debug)]
pub struct RequestedRepartitionExec {
    inner: Arc<dyn ExecutionPlan>,
}

impl DisplayAs for RequestedRepartitionExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut Formatter) -> std::fmt::Result {
        match self.inner.downcast_ref::<RepartitionExec>() {
            Some(r) => r.fmt_as(t, f),
            None => write!(f, "RepartitionExec"),
        }
    }
}

impl ExecutionPlan for RequestedRepartitionExec {
    fn name(&self) -> &str {
        "RequestedRepartitionExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.inner.maintains_input_order()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inner.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        self.inner.apply_expressions(f)
    }

    #[expect(
        deprecated,
        reason = "required by the ExecutionPlan trait of DataFusion 55"
    )]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self {
            inner: Arc::clone(&self.inner).with_new_children(children)?,
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        self.inner.execute(partition, context)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.inner.metrics()
    }
}

/// The physical optimizer rule that marks requested repartitions (it must run first).
#[derive(Debug, Default)]
pub struct KeepRequestedRepartitions;

impl PhysicalOptimizerRule for KeepRequestedRepartitions {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(plan
            .transform_up(|p| {
                let Some(r) = p.downcast_ref::<RepartitionExec>() else {
                    return Ok(Transformed::no(p));
                };
                let inner = match r.partitioning() {
                    Partitioning::RoundRobinBatch(n) if *n > 1 => {
                        let split = Arc::new(SplitBatchesExec::new(Arc::clone(r.input()), *n));
                        let mut dealt = RepartitionExec::try_new(split, r.partitioning().clone())?;
                        if r.preserve_order() {
                            dealt = dealt.with_preserve_order();
                        }
                        Arc::new(dealt) as Arc<dyn ExecutionPlan>
                    }
                    _ => p,
                };
                Ok(Transformed::yes(
                    Arc::new(RequestedRepartitionExec { inner }) as _,
                ))
            })?
            .data)
    }

    fn name(&self) -> &str {
        "keep_requested_repartitions"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Cuts each batch into up to `pieces` zero-copy slices (of at least [`MIN_SLICE_ROWS`] rows
/// when `pieces` exceeds [`EXACT_DEAL_PIECES`]),
/// so that a round robin above deals out rows rather than whole batches.
#[derive(Debug)]
pub struct SplitBatchesExec {
    input: Arc<dyn ExecutionPlan>,
    pieces: usize,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl SplitBatchesExec {
    /// Splits the batches of `input` into up to `pieces` slices.
    pub fn new(input: Arc<dyn ExecutionPlan>, pieces: usize) -> Self {
        let properties = Arc::clone(input.properties());
        Self {
            input,
            pieces,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for SplitBatchesExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> std::fmt::Result {
        write!(f, "SplitBatchesExec: pieces={}", self.pieces)
    }
}

impl ExecutionPlan for SplitBatchesExec {
    fn name(&self) -> &str {
        "SplitBatchesExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
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
            Some(input) if children.is_empty() => Ok(Arc::new(Self::new(input, self.pieces))),
            _ => Err(datafusion::error::DataFusionError::Internal(
                "bug: SplitBatchesExec takes one child".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        Ok(Box::pin(SplitBatchesStream {
            input: self.input.execute(partition, context)?,
            pieces: self.pieces,
            pending: VecDeque::new(),
            baseline: BaselineMetrics::new(&self.metrics, partition),
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One partition of [`SplitBatchesExec`]: hands out the slices of one input batch before it
/// asks for the next.
struct SplitBatchesStream {
    input: SendableRecordBatchStream,
    pieces: usize,
    /// The slices of the last input batch not handed out yet.
    pending: VecDeque<RecordBatch>,
    baseline: BaselineMetrics,
}

impl SplitBatchesStream {
    /// Cuts `batch` into its slices (see [`SplitBatchesExec`]) and queues them.
    fn cut(&mut self, batch: &RecordBatch) {
        let rows = batch.num_rows();
        let n = if self.pieces <= EXACT_DEAL_PIECES {
            self.pieces.min(rows).max(1)
        } else {
            self.pieces.min(rows.div_ceil(MIN_SLICE_ROWS)).max(1)
        };
        self.pending.extend((0..n).map(|i| {
            let (start, end) = (i * rows / n, (i + 1) * rows / n);
            batch.slice(start, end - start)
        }));
    }
}

impl Stream for SplitBatchesStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(slice) = self.pending.pop_front() {
                return self.baseline.record_poll(Poll::Ready(Some(Ok(slice))));
            }
            match self.input.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(batch))) => self.cut(&batch),
                other => return self.baseline.record_poll(other),
            }
        }
    }
}

impl RecordBatchStream for SplitBatchesStream {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}
