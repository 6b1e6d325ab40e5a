//! Cross joins in Spark's row order. Spark joins a small side to every row of the other with
//! a broadcast nested loop join: it builds the smaller side (the right one when both are the
//! same size) and, for each streamed row in order, emits that row with every built row — so
//! `df.crossJoin(small)` lists each row of `df` with all of `small`, and `small.crossJoin(df)`
//! lists, for each row of `df`, every row of `small` beside it. DataFusion's `CrossJoinExec`
//! builds its left input and, per streamed batch, pairs each built row with the whole batch:
//! another order. [`StreamMajorCrossJoinExec`] is Spark's operator; the physical rule
//! [`SparkCrossJoins`] puts it in place of a `CrossJoinExec` whose smaller side may be
//! collected (DataFusion's collect-left limits), before DataFusion's join selection would
//! reorient it. The built side is collected once, in partition order, and held under the
//! query's memory pool; the streamed side keeps its partitions.

use std::fmt::{self, Formatter};
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::joins::CrossJoinExec;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

use crate::broadcast_side::Size;

/// Which input is built (collected); the other is streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    Left,
    Right,
}

/// A cross join that emits, for each streamed row in order, that row with every built row.
/// The output columns are the left input's, then the right input's.
#[derive(Debug)]
pub struct StreamMajorCrossJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    built: Built,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    /// The built side, collected by the first partition that needs it.
    build: Arc<BuildCell>,
    metrics: ExecutionPlanMetricsSet,
}

/// The collected side, once the first partition has collected it (or the error it met).
type BuildCell = tokio::sync::OnceCell<Result<Arc<Build>, Arc<DataFusionError>>>;

/// The collected side and the memory it holds.
#[derive(Debug)]
struct Build {
    batch: RecordBatch,
    _reservation: MemoryReservation,
}

impl StreamMajorCrossJoinExec {
    /// Spark's name of the side built: `BuildLeft` or `BuildRight`.
    pub fn build_side_label(&self) -> &'static str {
        match self.built {
            Built::Left => "BuildLeft",
            Built::Right => "BuildRight",
        }
    }

    pub fn new(left: Arc<dyn ExecutionPlan>, right: Arc<dyn ExecutionPlan>, built: Built) -> Self {
        let fields: Vec<_> = left
            .schema()
            .fields()
            .iter()
            .chain(right.schema().fields().iter())
            .cloned()
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let streamed = match built {
            Built::Left => &right,
            Built::Right => &left,
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            datafusion::physical_plan::Partitioning::UnknownPartitioning(
                streamed.output_partitioning().partition_count(),
            ),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            left,
            right,
            built,
            schema,
            properties: Arc::new(properties),
            build: Arc::new(BuildCell::new()),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

/// Every partition of `plan`, in partition order, as one batch held under `ctx`'s pool.
async fn collect_build(plan: Arc<dyn ExecutionPlan>, ctx: Arc<TaskContext>) -> DfResult<Build> {
    let reservation =
        MemoryConsumer::new("StreamMajorCrossJoin[build]").register(ctx.memory_pool());
    let mut batches = Vec::new();
    for p in 0..plan.output_partitioning().partition_count() {
        let mut stream = plan.execute(p, Arc::clone(&ctx))?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            reservation.try_grow(batch.get_array_memory_size())?;
            batches.push(batch);
        }
    }
    let batch = concat_batches(&plan.schema(), &batches)?;
    Ok(Build {
        batch,
        _reservation: reservation,
    })
}

/// The rows of `streamed` each paired with every row of `build`, streamed row by streamed row,
/// in batches of about `batch_size` rows, with the left input's columns first.
fn pair(
    streamed: &RecordBatch,
    build: &RecordBatch,
    built: Built,
    schema: &SchemaRef,
    batch_size: usize,
) -> DfResult<Vec<RecordBatch>> {
    let m = build.num_rows();
    if m == 0 || streamed.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let per_batch = (batch_size / m).max(1);
    let mut out = Vec::new();
    let mut first = 0;
    while first < streamed.num_rows() {
        let last = (first + per_batch).min(streamed.num_rows());
        let stream_idx: UInt32Array = (first..last)
            .flat_map(|i| std::iter::repeat_n(i as u32, m))
            .collect();
        let build_idx: UInt32Array = (first..last).flat_map(|_| 0..m as u32).collect();
        let s: Vec<_> = streamed
            .columns()
            .iter()
            .map(|c| take(c, &stream_idx, None))
            .collect::<Result<_, _>>()?;
        let b: Vec<_> = build
            .columns()
            .iter()
            .map(|c| take(c, &build_idx, None))
            .collect::<Result<_, _>>()?;
        let columns = match built {
            Built::Right => [s, b].concat(),
            Built::Left => [b, s].concat(),
        };
        // a count above the join reads no column at all: the batch is its row count
        let options = RecordBatchOptions::new().with_row_count(Some(stream_idx.len()));
        out.push(RecordBatch::try_new_with_options(
            Arc::clone(schema),
            columns,
            &options,
        )?);
        first = last;
    }
    Ok(out)
}

impl DisplayAs for StreamMajorCrossJoinExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        let built = match self.built {
            Built::Left => "left",
            Built::Right => "right",
        };
        write!(f, "StreamMajorCrossJoinExec: build={built}")
    }
}

impl ExecutionPlan for StreamMajorCrossJoinExec {
    fn name(&self) -> &str {
        "StreamMajorCrossJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let [left, right] = <[_; 2]>::try_from(children).map_err(|_| {
            DataFusionError::Internal("bug: a cross join takes two children".into())
        })?;
        Ok(Arc::new(Self::new(left, right, self.built)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let (build_side, streamed_side) = match self.built {
            Built::Left => (&self.left, &self.right),
            Built::Right => (&self.right, &self.left),
        };
        let streamed = streamed_side.execute(partition, Arc::clone(&context))?;
        let build_plan = Arc::clone(build_side);
        let built = self.built;
        let schema = Arc::clone(&self.schema);
        let batch_size = context.session_config().batch_size();
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        // the collected side is shared by every partition
        let cell = Arc::clone(&self.build);
        let out_schema = Arc::clone(&schema);
        let stream = futures::stream::once(async move {
            let build = cell
                .get_or_init(|| async {
                    collect_build(build_plan, context)
                        .await
                        .map(Arc::new)
                        .map_err(Arc::new)
                })
                .await
                .clone()
                .map_err(DataFusionError::Shared)?;
            Ok::<_, DataFusionError>(streamed.map(move |batch| {
                let _timer = baseline.elapsed_compute().timer();
                let batches = pair(&batch?, &build.batch, built, &out_schema, batch_size)?;
                Ok::<_, DataFusionError>(futures::stream::iter(batches.into_iter().map(Ok)))
            }))
        })
        .try_flatten()
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// Puts [`StreamMajorCrossJoinExec`] in place of DataFusion's cross joins whose build side —
/// the smaller input, the right one on a tie, as Spark chooses — may be collected.
#[derive(Debug)]
pub struct SparkCrossJoins;

impl PhysicalOptimizerRule for SparkCrossJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(plan
            .transform_up(|p| {
                let Some(join) = p.downcast_ref::<CrossJoinExec>() else {
                    return Ok(Transformed::no(p));
                };
                let (left, right) = (Size::of(join.left())?, Size::of(join.right())?);
                let built = match right.at_most(left) {
                    Some(true) if right.collectable(config) => Built::Right,
                    Some(false) if left.collectable(config) => Built::Left,
                    _ => return Ok(Transformed::no(p)),
                };
                Ok(Transformed::yes(Arc::new(StreamMajorCrossJoinExec::new(
                    Arc::clone(join.left()),
                    Arc::clone(join.right()),
                    built,
                ))))
            })?
            .data)
    }

    fn name(&self) -> &str {
        "spark_cross_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
