//! Partitions read in order, as Spark returns rows: all of partition 0, then all of
//! partition 1, and so on. [`InOrder`] runs every partition at once on its own task, each
//! computing up to [`PREFETCH_BYTES`] of batches ahead of the reader, and reads them in
//! partition order: the partitions keep computing in parallel, memory holds a bounded amount
//! per partition, and a failure in any partition ends the stream at once. The budget is in
//! bytes, not batches: a partition whose every batch costs seconds of work (a sort, then a
//! window over millions of rows for each small batch of latest rows) would otherwise wait for
//! the partitions before it with its work undone, and the query would run on one core.
//!
//! [`OrderedCoalesceExec`] is DataFusion's `CoalescePartitionsExec` with that order (and its
//! `fetch`): [`keep_result_order`] puts it where a plan's result is gathered into one
//! partition — under `limit`, `take`, `head` and `show()` — so that the first rows are the
//! first partitions' rows, as in Spark, not whichever partition answered first.

use std::collections::VecDeque;
use std::fmt::Formatter;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::limit::GlobalLimitExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, SendableRecordBatchStream,
};
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

/// How many bytes of batches each partition may compute ahead of the reader (at least one
/// batch, whatever its size).
pub const PREFETCH_BYTES: usize = 64 << 20;

/// The budget counts kibibytes.
const PREFETCH_KIB: usize = PREFETCH_BYTES >> 10;

/// A partition's item, with its share of the partition's budget (given back when it is read).
type Prefetched = (DfResult<RecordBatch>, OwnedSemaphorePermit);

/// The batches of `n` partitions in partition order (see the module's notes). The tasks stop
/// when this is dropped.
pub struct InOrder {
    partitions: VecDeque<mpsc::UnboundedReceiver<Prefetched>>,
    failures: mpsc::UnboundedReceiver<DataFusionError>,
    tasks: JoinSet<()>,
}

impl InOrder {
    /// Starts partitions `0..n`, each stream made by `execute`.
    pub fn start<F>(n: usize, execute: F) -> Self
    where
        F: Fn(usize) -> DfResult<SendableRecordBatchStream> + Send + Sync + 'static,
    {
        let execute = Arc::new(execute);
        let mut tasks = JoinSet::new();
        let mut partitions = VecDeque::with_capacity(n);
        let (fail_tx, failures) = mpsc::unbounded_channel();
        let failed = Arc::new(Mutex::new(false));
        for i in 0..n {
            let (tx, rx) = mpsc::unbounded_channel();
            let budget = Arc::new(Semaphore::new(PREFETCH_KIB));
            partitions.push_back(rx);
            let execute = Arc::clone(&execute);
            let fail_tx = fail_tx.clone();
            let failed = Arc::clone(&failed);
            // a panic in the partition is its failure (else the closed channel would read as
            // the partition's end, and rows would be lost without an error)
            let on_panic = fail_tx.clone();
            let keep_open = tx.clone();
            tasks.spawn(async move {
                let partition = async move {
                    let mut stream = match execute(i) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = fail_tx.send(e);
                            return;
                        }
                    };
                    while let Some(item) = stream.next().await {
                        if let Err(e) = item {
                            let first = match failed.lock() {
                                Ok(mut f) => !std::mem::replace(&mut *f, true),
                                Err(_) => false,
                            };
                            if first {
                                let _ = fail_tx.send(e);
                            }
                            return;
                        }
                        let kib = item
                            .as_ref()
                            .map_or(1, |b| b.get_array_memory_size() >> 10)
                            .clamp(1, PREFETCH_KIB);
                        let Ok(permit) = Arc::clone(&budget)
                            .acquire_many_owned(u32::try_from(kib).unwrap_or(u32::MAX))
                            .await
                        else {
                            return;
                        };
                        if tx.send((item, permit)).is_err() {
                            return;
                        }
                    }
                };
                if let Err(panic) = std::panic::AssertUnwindSafe(partition).catch_unwind().await {
                    let _ = on_panic.send(DataFusionError::Execution(format!(
                        "partition {i} failed: {}",
                        crate::panic_message(panic.as_ref())
                    )));
                }
                drop(keep_open);
            });
        }
        Self {
            partitions,
            failures,
            tasks,
        }
    }

    /// Stops the partitions' tasks and waits until they have ended.
    pub async fn shutdown(&mut self) {
        self.tasks.shutdown().await;
    }
}

impl Stream for InOrder {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Poll::Ready(Some(e)) = this.failures.poll_recv(cx) {
                return Poll::Ready(Some(Err(e)));
            }
            let Some(current) = this.partitions.front_mut() else {
                return Poll::Ready(None);
            };
            match current.poll_recv(cx) {
                // the permit goes here: the partition may compute that much more
                Poll::Ready(Some((item, _permit))) => return Poll::Ready(Some(item)),
                Poll::Ready(None) => {
                    // this partition is done, or failed (its error comes on `failures`)
                    this.partitions.pop_front();
                    if this.partitions.is_empty()
                        && let Poll::Ready(Some(e)) = this.failures.poll_recv(cx)
                    {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// One partition holding its input's partitions in order, up to `fetch` rows.
#[derive(Debug)]
pub struct OrderedCoalesceExec {
    input: Arc<dyn ExecutionPlan>,
    fetch: Option<usize>,
    properties: Arc<PlanProperties>,
}

impl OrderedCoalesceExec {
    /// Gathers `input`'s partitions in order, stopping after `fetch` rows if given.
    pub fn new(input: Arc<dyn ExecutionPlan>, fetch: Option<usize>) -> Self {
        let properties = Arc::new(PlanProperties::new(
            input.equivalence_properties().clone(),
            Partitioning::UnknownPartitioning(1),
            input.pipeline_behavior(),
            input.boundedness(),
        ));
        Self {
            input,
            fetch,
            properties,
        }
    }
}

impl DisplayAs for OrderedCoalesceExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter<'_>) -> std::fmt::Result {
        match self.fetch {
            Some(n) => write!(f, "OrderedCoalesceExec: fetch={n}"),
            None => write!(f, "OrderedCoalesceExec"),
        }
    }
}

impl ExecutionPlan for OrderedCoalesceExec {
    fn name(&self) -> &str {
        "OrderedCoalesceExec"
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

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("OrderedCoalesceExec has one input".into()))?;
        Ok(Arc::new(Self::new(input, self.fetch)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "OrderedCoalesceExec has one partition, not {partition}"
            )));
        }
        let schema: SchemaRef = self.input.schema();
        let n = self.input.output_partitioning().partition_count();
        let input = Arc::clone(&self.input);
        let stream: Pin<Box<dyn Stream<Item = DfResult<RecordBatch>> + Send>> = if n == 1 {
            input.execute(0, context)?
        } else {
            Box::pin(InOrder::start(n, move |i| {
                input.execute(i, Arc::clone(&context))
            }))
        };
        let stream = match self.fetch {
            None => stream,
            Some(fetch) => Box::pin(
                stream
                    .scan(fetch, |left, item| {
                        let out = match item {
                            Ok(_) if *left == 0 => None,
                            Ok(b) => {
                                let take = b.num_rows().min(*left);
                                *left -= take;
                                Some(Ok(b.slice(0, take)))
                            }
                            Err(e) => Some(Err(e)),
                        };
                        futures::future::ready(out)
                    })
                    .boxed(),
            ),
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// `plan` with the `CoalescePartitionsExec` that gathers its result (under limits and
/// projections at its root) reading partitions in order.
pub fn keep_result_order(plan: Arc<dyn ExecutionPlan>) -> DfResult<Arc<dyn ExecutionPlan>> {
    if let Some(c) = plan.downcast_ref::<CoalescePartitionsExec>() {
        return Ok(Arc::new(OrderedCoalesceExec::new(
            Arc::clone(c.input()),
            c.fetch(),
        )));
    }
    let passes = plan.is::<GlobalLimitExec>() || plan.is::<ProjectionExec>();
    if !passes || plan.children().len() != 1 {
        return Ok(plan);
    }
    let child = Arc::clone(plan.children()[0]);
    let new_child = keep_result_order(Arc::clone(&child))?;
    if Arc::ptr_eq(&child, &new_child) {
        return Ok(plan);
    }
    replace_children_if_necessary(plan, vec![new_child])
}
