//! `spark_partition_id()` and `monotonically_increasing_id()`: values only the running
//! partition knows. Both resolve to marker functions that cannot be evaluated; the analyzer
//! rule [`PlaceTaskIds`] finds the plan node that uses them, puts a [`TaskIdsNode`] under it
//! (appending the partition index and `partition << 33 | row number in partition`, Spark's
//! formula, as two hidden columns) and reads the hidden columns instead. The physical
//! [`TaskIdsExec`] keeps its input's partitioning, so the ids are those of the partitions
//! right below the use: after `repartition(3)` they are 0, 1 and 2, as in Spark.
//!
//! `rand(seed)` and `randn(seed)` are markers of the same kind: the node draws them per
//! partition from Spark's generator seeded with `seed + partition index` (see
//! `crate::functions::random`), one hidden column per distinct (seed, distribution), so two
//! calls with one seed give the same values, as in Spark. A sample with replacement draws its
//! per-row copy counts the same way, from the Poisson sampler Spark seeds per partition
//! ([`Draw::Copies`]).

use std::fmt::{self, Formatter};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::RecordBatchStream;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, Extension, LogicalPlan, LogicalPlanBuilder, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, UserDefinedLogicalNode,
    UserDefinedLogicalNodeCore, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use futures::{Stream, StreamExt};

use crate::functions::XorShiftRandom;
use crate::functions::java_random::{self, JavaRandom, Well19937c};

/// The hidden column holding the partition index.
const PARTITION_COLUMN: &str = "__spate_partition_id";
/// The hidden column holding the monotonically increasing id.
const ROW_ID_COLUMN: &str = "__spate_monotonic_id";

/// The prefix of the hidden columns holding random values.
const RANDOM_PREFIX: &str = "__spate_rand";

/// Which id a marker stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TaskId {
    Partition,
    Monotonic,
    Random(Random),
}

/// A random column: `rand(seed)`, `randn(seed)` or `randstr(length, seed)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Random {
    seed: i64,
    draw: Draw,
}

/// What a random column draws from its generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Draw {
    /// Java's `nextDouble` (`rand`).
    Uniform,
    /// Java's `nextGaussian` (`randn`).
    Gaussian,
    /// That many characters of `0-9a-zA-Z` (`randstr`).
    Text(i32),
    /// How many copies of the row a sample with replacement keeps: Commons Math's Poisson
    /// draw with this mean (the `f64`'s bits), over the `Well19937c` generator Spark seeds
    /// for the partition (see [`Generator::new`]).
    Copies(u64),
}

/// The generator a random column draws from in one partition, and what it draws.
enum Generator {
    /// Spark's `XORShiftRandom(seed + partition index)`.
    XorShift(XorShiftRandom, Draw),
    /// A sample with replacement's Poisson sampler (mean, generator): seeded with the
    /// partition's entry in the sequence `java.util.Random(seed).nextLong()`, as Spark's
    /// `PartitionwiseSampledRDD` seeds its partitions.
    Poisson(f64, Well19937c),
}

impl Generator {
    fn new(random: Random, partition: usize) -> Self {
        match random.draw {
            Draw::Copies(mean) => {
                let mut seeds = JavaRandom::new(random.seed);
                let mut seed = seeds.next_long();
                for _ in 0..partition {
                    seed = seeds.next_long();
                }
                Generator::Poisson(f64::from_bits(mean), Well19937c::new(seed))
            }
            draw => Generator::XorShift(
                XorShiftRandom::new(random.seed.wrapping_add(partition as i64)),
                draw,
            ),
        }
    }

    /// The partition's next `n` values.
    fn values(&mut self, n: usize) -> ArrayRef {
        match self {
            Generator::Poisson(mean, rng) => Arc::new(Int64Array::from_iter_values(
                (0..n).map(|_| java_random::poisson(rng, *mean)),
            )),
            Generator::XorShift(rng, Draw::Gaussian) => Arc::new(
                (0..n)
                    .map(|_| rng.next_gaussian())
                    .collect::<Float64Array>(),
            ),
            Generator::XorShift(rng, Draw::Text(len)) => Arc::new(
                (0..n)
                    .map(|_| Some(rng.next_text(*len)))
                    .collect::<datafusion::arrow::array::StringArray>(),
            ),
            Generator::XorShift(rng, _) => {
                Arc::new((0..n).map(|_| rng.next_double()).collect::<Float64Array>())
            }
        }
    }
}

impl Draw {
    fn name(self) -> &'static str {
        match self {
            Draw::Uniform => "rand",
            Draw::Gaussian => "randn",
            Draw::Text(_) => "randstr",
            Draw::Copies(_) => "sample",
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Draw::Text(_) => DataType::Utf8,
            Draw::Copies(_) => DataType::Int64,
            _ => DataType::Float64,
        }
    }
}

impl Random {
    fn column(self) -> String {
        match self.draw {
            Draw::Uniform => format!("{RANDOM_PREFIX}_{}", self.seed),
            Draw::Gaussian => format!("{RANDOM_PREFIX}n_{}", self.seed),
            Draw::Text(len) => format!("{RANDOM_PREFIX}s{len}_{}", self.seed),
            Draw::Copies(mean) => format!("{RANDOM_PREFIX}p{mean}_{}", self.seed),
        }
    }
}

impl TaskId {
    fn name(self) -> &'static str {
        match self {
            Self::Partition => "spark_partition_id",
            Self::Monotonic => "monotonically_increasing_id",
            Self::Random(r) => r.draw.name(),
        }
    }

    fn column(self) -> String {
        match self {
            Self::Partition => PARTITION_COLUMN.into(),
            Self::Monotonic => ROW_ID_COLUMN.into(),
            Self::Random(r) => r.column(),
        }
    }
}

/// Whether a column is one of those a [`TaskIdsNode`] appends.
fn is_hidden(name: &str) -> bool {
    name == PARTITION_COLUMN || name == ROW_ID_COLUMN || name.starts_with(RANDOM_PREFIX)
}

/// The marker function; the analyzer replaces every call before execution.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TaskIdMarker {
    id: TaskId,
    signature: Signature,
}

impl ScalarUDFImpl for TaskIdMarker {
    fn name(&self) -> &str {
        self.id.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(match self.id {
            TaskId::Partition => DataType::Int32,
            TaskId::Monotonic => DataType::Int64,
            TaskId::Random(r) => r.draw.data_type(),
        })
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let t = self.return_type(&[])?;
        Ok(Arc::new(Field::new(self.id.name(), t, false)))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        Err(DataFusionError::Internal(format!(
            "bug: {}() was not replaced by its partition's value",
            self.id.name()
        )))
    }
}

fn marker(id: TaskId) -> ScalarUDF {
    ScalarUDF::new_from_impl(TaskIdMarker {
        id,
        signature: Signature::exact(vec![], Volatility::Volatile),
    })
}

/// The markers, to register in the session.
pub fn functions() -> Vec<ScalarUDF> {
    vec![marker(TaskId::Partition), marker(TaskId::Monotonic)]
}

/// The marker of a random column (`rand(seed)`, `randn(seed)`, `randstr(length, seed)`).
pub fn random_marker(seed: i64, draw: Draw) -> Expr {
    marker(TaskId::Random(Random { seed, draw })).call(vec![])
}

fn marker_of(e: &Expr) -> Option<TaskId> {
    match e {
        Expr::ScalarFunction(f) => f.func.inner().downcast_ref::<TaskIdMarker>().map(|m| m.id),
        _ => None,
    }
}

/// Appends the partition index, the monotonically increasing id and any random columns to
/// its input's rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskIdsNode {
    input: LogicalPlan,
    randoms: Vec<Random>,
    schema: DFSchemaRef,
}

impl PartialOrd for TaskIdsNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.input.partial_cmp(&other.input)
    }
}

impl TaskIdsNode {
    fn try_new(input: LogicalPlan, randoms: Vec<Random>) -> DfResult<Self> {
        let extra =
            DFSchema::from_unqualified_fields(extra_fields(&randoms).into(), Default::default())?;
        let mut schema = input.schema().as_ref().clone();
        schema.merge(&extra);
        Ok(Self {
            input,
            randoms,
            schema: Arc::new(schema),
        })
    }
}

/// The columns a [`TaskIdsNode`] appends.
fn extra_fields(randoms: &[Random]) -> Vec<Field> {
    let mut fields = vec![
        Field::new(PARTITION_COLUMN, DataType::Int32, false),
        Field::new(ROW_ID_COLUMN, DataType::Int64, false),
    ];
    fields.extend(
        randoms
            .iter()
            .map(|r| Field::new(r.column(), r.draw.data_type(), false)),
    );
    fields
}

impl UserDefinedLogicalNodeCore for TaskIdsNode {
    fn name(&self) -> &str {
        "TaskIds"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut Formatter) -> fmt::Result {
        write!(f, "TaskIds: {PARTITION_COLUMN}, {ROW_ID_COLUMN}")?;
        for r in &self.randoms {
            write!(f, ", {}", r.column())?;
        }
        Ok(())
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> DfResult<Self> {
        match inputs.pop() {
            Some(input) if inputs.is_empty() => Self::try_new(input, self.randoms.clone()),
            _ => Err(DataFusionError::Internal(
                "bug: TaskIds takes one input".into(),
            )),
        }
    }
}

/// Replaces the markers: the node using them reads the hidden columns of a [`TaskIdsNode`]
/// placed under it, and keeps its output names and columns.
#[derive(Debug, Default)]
pub struct PlaceTaskIds;

impl AnalyzerRule for PlaceTaskIds {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> DfResult<LogicalPlan> {
        Ok(plan.transform_up_with_subqueries(place)?.data)
    }

    fn name(&self) -> &str {
        "place_task_ids"
    }
}

/// The markers `plan`'s own expressions use.
fn markers_in(plan: &LogicalPlan) -> DfResult<Vec<TaskId>> {
    let mut found = Vec::new();
    plan.apply_expressions(|e| {
        e.apply(|e| {
            found.extend(marker_of(e));
            Ok(TreeNodeRecursion::Continue)
        })
    })?;
    Ok(found)
}

fn place(plan: LogicalPlan) -> DfResult<Transformed<LogicalPlan>> {
    if matches!(plan, LogicalPlan::Extension(_)) {
        return Ok(Transformed::no(plan));
    }
    let markers = markers_in(&plan)?;
    if markers.is_empty() {
        return Ok(Transformed::no(plan));
    }
    let mut randoms: Vec<Random> = markers
        .into_iter()
        .filter_map(|m| match m {
            TaskId::Random(r) => Some(r),
            _ => None,
        })
        .collect();
    randoms.sort();
    randoms.dedup();
    let inputs = plan.inputs();
    let [input] = inputs.as_slice() else {
        return Err(DataFusionError::Plan(format!(
            "spark_partition_id(), monotonically_increasing_id(), rand() and randn() are supported over one input, not in a {}",
            plan.display()
        )));
    };
    let below = LogicalPlan::Extension(Extension {
        node: Arc::new(TaskIdsNode::try_new((*input).clone(), randoms)?),
    });
    let exprs = plan
        .expressions()
        .into_iter()
        .map(|e| {
            e.transform_up(|e| {
                Ok(match marker_of(&e) {
                    Some(id) => Transformed::yes(Expr::Column(Column::from_name(id.column()))),
                    None => Transformed::no(e),
                })
            })
            .map(|t| t.data)
        })
        .collect::<DfResult<Vec<_>>>()?;
    let old = plan.schema().clone();
    let rebuilt = plan.with_new_exprs(exprs, vec![below])?;
    Ok(Transformed::yes(same_output(rebuilt, &old)?))
}

/// Projects `plan` back to the columns and names of `old` (the hidden columns dropped).
fn same_output(plan: LogicalPlan, old: &DFSchemaRef) -> DfResult<LogicalPlan> {
    // a node that passes its input through (filter, sort, window) also passes the hidden
    // columns; a projection or aggregate may output one under its own name, and keeps it
    let mut extra = plan
        .schema()
        .fields()
        .len()
        .saturating_sub(old.fields().len());
    let new: Vec<(Option<datafusion::common::TableReference>, Arc<Field>)> = plan
        .schema()
        .iter()
        .filter(|(_, f)| {
            let hidden = extra > 0 && is_hidden(f.name());
            extra -= usize::from(hidden);
            !hidden
        })
        .map(|(q, f)| (q.cloned(), Arc::clone(f)))
        .collect();
    let unchanged = new.len() == plan.schema().fields().len()
        && new
            .iter()
            .zip(old.iter())
            .all(|((q, f), (oq, of))| q.as_ref() == oq && f.name() == of.name());
    if unchanged {
        return Ok(plan);
    }
    let exprs = new
        .into_iter()
        .zip(old.iter())
        .map(|((q, f), (oq, of))| {
            let e = Expr::Column(Column::new(q, f.name()));
            e.alias_qualified(oq.cloned(), of.name())
        })
        .collect::<Vec<_>>();
    LogicalPlanBuilder::from(plan).project(exprs)?.build()
}

/// Plans [`TaskIdsNode`] as [`TaskIdsExec`].
#[derive(Debug)]
pub struct TaskIdsPlanner;

#[async_trait]
impl ExtensionPlanner for TaskIdsPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _planning_ctx: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<TaskIdsNode>() else {
            return Ok(None);
        };
        Ok(physical_inputs.first().map(|input| {
            Arc::new(TaskIdsExec::new(Arc::clone(input), node.randoms.clone()))
                as Arc<dyn ExecutionPlan>
        }))
    }
}

/// Appends each row's partition index, monotonically increasing id and random values.
#[derive(Debug)]
pub struct TaskIdsExec {
    input: Arc<dyn ExecutionPlan>,
    randoms: Vec<Random>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl TaskIdsExec {
    /// Appends the ids (and the random columns `randoms`) to `input`'s rows, keeping its
    /// partitioning.
    fn new(input: Arc<dyn ExecutionPlan>, randoms: Vec<Random>) -> Self {
        let mut fields = input.schema().fields().to_vec();
        fields.extend(extra_fields(&randoms).into_iter().map(Arc::new));
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            input.output_partitioning().clone(),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Self {
            input,
            randoms,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for TaskIdsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        write!(f, "TaskIdsExec: partition id, monotonically increasing id")?;
        for r in &self.randoms {
            write!(f, ", {}({})", r.draw.name(), r.seed)?;
        }
        Ok(())
    }
}

impl ExecutionPlan for TaskIdsExec {
    fn name(&self) -> &str {
        "TaskIdsExec"
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
            Some(input) if children.is_empty() => {
                Ok(Arc::new(Self::new(input, self.randoms.clone())))
            }
            _ => Err(DataFusionError::Internal(
                "bug: TaskIdsExec takes one child".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let index = i32::try_from(partition).map_err(|_| {
            DataFusionError::Execution(format!("partition {partition} out of range"))
        })?;
        let generators = self
            .randoms
            .iter()
            .map(|r| Generator::new(*r, partition))
            .collect();
        Ok(Box::pin(TaskIdsStream {
            input,
            schema: self.schema(),
            index,
            base: i64::from(index) << 33,
            next: 0,
            generators,
            baseline: BaselineMetrics::new(&self.metrics, partition),
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One partition of [`TaskIdsExec`]: its input's batches with the id and random columns.
struct TaskIdsStream {
    input: SendableRecordBatchStream,
    schema: SchemaRef,
    /// The partition index.
    index: i32,
    /// `index << 33`, the high bits of every monotonically increasing id.
    base: i64,
    /// The row number in the partition of the next row.
    next: i64,
    /// One generator per random column.
    generators: Vec<Generator>,
    baseline: BaselineMetrics,
}

impl TaskIdsStream {
    fn extend(&mut self, batch: RecordBatch) -> DfResult<RecordBatch> {
        let _timer = self.baseline.elapsed_compute().timer();
        let n = batch.num_rows();
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(Int32Array::from(vec![self.index; n])));
        let (base, next) = (self.base, self.next);
        columns.push(Arc::new(Int64Array::from_iter_values(
            (next..next + n as i64).map(|r| base | r),
        )));
        self.next += n as i64;
        for generator in &mut self.generators {
            columns.push(generator.values(n));
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

impl Stream for TaskIdsStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let poll = match self.input.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(batch))) => Poll::Ready(Some(self.extend(batch))),
            other => other,
        };
        self.baseline.record_poll(poll)
    }
}

impl RecordBatchStream for TaskIdsStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}
