//! [`WindowGroupLimitExec`], Spark's `WindowGroupLimit`: over input clustered by the window's
//! partition keys (sorted by them, in any direction), it keeps the first `limit` rows of each
//! key by the window's order and passes them on sorted by that order. The order within a key
//! may be anything: the rows of a key are chosen as they stream by (a linear scan for
//! `limit = 1`, a partial sort of each run of the key otherwise), so seed 002's "latest row
//! per user" reuses the sort its range windows already needed instead of sorting every row
//! again by time. Only the best rows of the key still open at the end of a batch are kept
//! across batches, with the batches they come from. Numbered ([`WindowGroupLimitExec::numbered`]),
//! it also gives each row its `row_number()` and stands for the window operator too.

use std::fmt::{self, Formatter};
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use datafusion::arrow::compute::{BatchCoalescer, cast, interleave_record_batch, partition};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::utils::memory::get_record_batch_memory_size;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{
    Distribution, EquivalenceProperties, LexOrdering, LexRequirement, OrderingRequirements,
    PhysicalExpr, PhysicalSortExpr, PhysicalSortRequirement,
};
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties,
    InputDistributionRequirements, PlanProperties, apply_expression_roots,
};
use futures::Stream;

use crate::push_stream::{Pushed, poll_pushed};

/// The first `limit` rows of each window partition by the window's order, from input
/// clustered by the partition keys.
#[derive(Debug)]
pub struct WindowGroupLimitExec {
    input: Arc<dyn ExecutionPlan>,
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    order_by: LexOrdering,
    limit: usize,
    /// The column of the row numbers, when the operator gives them.
    number: Option<FieldRef>,
    metrics: ExecutionPlanMetricsSet,
    properties: Arc<PlanProperties>,
}

impl WindowGroupLimitExec {
    /// `partition_by` must not be empty and `limit` must be at least 1.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        partition_by: Vec<Arc<dyn PhysicalExpr>>,
        order_by: LexOrdering,
        limit: usize,
    ) -> DfResult<Self> {
        if partition_by.is_empty() || limit == 0 {
            return Err(DataFusionError::Internal(
                "bug: WindowGroupLimitExec needs partition keys and a limit of at least 1".into(),
            ));
        }
        let properties = Arc::new(properties(&input, &partition_by, &order_by, None)?);
        Ok(Self {
            input,
            partition_by,
            order_by,
            limit,
            number: None,
            metrics: ExecutionPlanMetricsSet::new(),
            properties,
        })
    }

    /// This operator also giving each row its number in its key (1, 2, ...), in a last
    /// column `field` (an integer type): the output of the `row_number()` window over it.
    pub fn numbered(self, field: Field) -> DfResult<Self> {
        let field = Arc::new(field);
        let properties = Arc::new(properties(
            &self.input,
            &self.partition_by,
            &self.order_by,
            Some(&field),
        )?);
        Ok(Self {
            number: Some(field),
            properties,
            ..self
        })
    }
}

/// The input's equivalences; the output is sorted by the partition keys as the input is, then
/// by the window's order (nothing is known of the order before the input is clustered); the
/// row numbers, if any, in a last column.
fn properties(
    input: &Arc<dyn ExecutionPlan>,
    partition_by: &[Arc<dyn PhysicalExpr>],
    order_by: &LexOrdering,
    number: Option<&FieldRef>,
) -> DfResult<PlanProperties> {
    let mut eq = input.equivalence_properties().clone();
    let mut keys: Vec<PhysicalSortExpr> = Vec::with_capacity(partition_by.len());
    for e in partition_by {
        let mut found = None;
        for (descending, nulls_first) in
            [(false, false), (false, true), (true, true), (true, false)]
        {
            let mut candidate = keys.clone();
            candidate.push(PhysicalSortExpr::new(
                Arc::clone(e),
                datafusion::arrow::compute::SortOptions {
                    descending,
                    nulls_first,
                },
            ));
            if eq.ordering_satisfy(candidate.clone())? {
                found = Some(candidate);
                break;
            }
        }
        match found {
            Some(k) => keys = k,
            None => {
                keys.clear();
                break;
            }
        }
    }
    if keys.is_empty() {
        eq.clear_orderings();
    } else {
        keys.extend(order_by.iter().cloned());
        eq.reorder(keys)?;
    }
    if let Some(number) = number {
        let input_schema = input.schema();
        let fields: Vec<FieldRef> = input_schema
            .fields()
            .iter()
            .chain([number])
            .cloned()
            .collect();
        let mut numbered = EquivalenceProperties::new(Arc::new(Schema::new(fields)));
        numbered.add_equivalence_group(eq.eq_group().clone())?;
        numbered.add_orderings(eq.oeq_class().iter().cloned());
        eq = numbered;
    }
    Ok(PlanProperties::new(
        eq,
        input.output_partitioning().clone(),
        EmissionType::Incremental,
        input.boundedness(),
    ))
}

impl DisplayAs for WindowGroupLimitExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        let keys: Vec<String> = self.partition_by.iter().map(|e| e.to_string()).collect();
        write!(
            f,
            "WindowGroupLimitExec: rank=row_number, limit={}, partition=[{}], order=[{}]",
            self.limit,
            keys.join(", "),
            self.order_by
        )?;
        match &self.number {
            Some(n) => write!(f, ", number={}", n.name()),
            None => Ok(()),
        }
    }
}

impl ExecutionPlan for WindowGroupLimitExec {
    fn name(&self) -> &str {
        "WindowGroupLimitExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        apply_expression_roots(
            self.partition_by
                .iter()
                .chain(self.order_by.iter().map(|s| &s.expr)),
            f,
        )
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        InputDistributionRequirements::new(vec![Distribution::KeyPartitioned(
            self.partition_by.clone(),
        )])
    }

    /// Clustered by the keys: sorted by them, either way.
    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        let keys = self
            .partition_by
            .iter()
            .map(|e| PhysicalSortRequirement::new(Arc::clone(e), None));
        vec![LexRequirement::new(keys).map(OrderingRequirements::new)]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|_| {
            DataFusionError::Internal("bug: WindowGroupLimitExec takes one child".into())
        })?;
        let limit = Self::try_new(
            input,
            self.partition_by.clone(),
            self.order_by.clone(),
            self.limit,
        )?;
        Ok(Arc::new(match &self.number {
            Some(n) => limit.numbered(n.as_ref().clone())?,
            None => limit,
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let schema = self.input.schema();
        let keys = RowConverter::new(
            self.partition_by
                .iter()
                .map(|e| Ok(SortField::new(e.data_type(&schema)?)))
                .collect::<DfResult<Vec<_>>>()?,
        )?;
        let order = RowConverter::new(
            self.order_by
                .iter()
                .map(|s| {
                    Ok(SortField::new_with_options(
                        s.expr.data_type(&schema)?,
                        s.options,
                    ))
                })
                .collect::<DfResult<Vec<_>>>()?,
        )?;
        let reservation = MemoryConsumer::new(format!("WindowGroupLimitExec[{partition}]"))
            .register(context.memory_pool());
        let batch_size = context.session_config().batch_size();
        Ok(Box::pin(LimitStream {
            input: self.input.execute(partition, context)?,
            schema: self.schema(),
            number: self.number.as_ref().map(|f| f.data_type().clone()),
            partition_by: self.partition_by.clone(),
            order_by: self.order_by.iter().map(|s| Arc::clone(&s.expr)).collect(),
            limit: self.limit,
            keys,
            order,
            held: Vec::new(),
            open: None,
            best: Vec::new(),
            coalescer: BatchCoalescer::new(self.schema(), batch_size),
            done: false,
            baseline: BaselineMetrics::new(&self.metrics, partition),
            reservation,
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One of the best rows of the key still open: its order key and where it is in `held`.
struct Candidate {
    order: OwnedRow,
    batch: usize,
    row: usize,
}

struct LimitStream {
    input: SendableRecordBatchStream,
    schema: SchemaRef,
    /// The type of the row numbers, when the stream gives them.
    number: Option<DataType>,
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    /// The window's order expressions (their directions are in `order`).
    order_by: Vec<Arc<dyn PhysicalExpr>>,
    limit: usize,
    /// Partition keys as comparable rows, to tell whether a batch goes on with the open key.
    keys: RowConverter,
    /// The window's order as comparable rows: smaller comes first.
    order: RowConverter,
    /// The batches the candidates come from.
    held: Vec<RecordBatch>,
    /// The key of the last rows seen, whose next rows may be in the next batch.
    open: Option<OwnedRow>,
    /// Its best rows so far, in order (ties: first seen first).
    best: Vec<Candidate>,
    coalescer: BatchCoalescer,
    done: bool,
    baseline: BaselineMetrics,
    /// The held batches and the rows waiting in the coalescer, in the memory pool.
    reservation: MemoryReservation,
}

impl LimitStream {
    fn evaluate(exprs: &[Arc<dyn PhysicalExpr>], batch: &RecordBatch) -> DfResult<Vec<ArrayRef>> {
        exprs
            .iter()
            .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
            .collect()
    }

    fn push(&mut self, batch: RecordBatch) -> DfResult<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let keys = Self::evaluate(&self.partition_by, &batch)?;
        let order = self
            .order
            .convert_columns(&Self::evaluate(&self.order_by, &batch)?)?;
        let runs = self.runs(&keys)?;
        let first: Vec<ArrayRef> = keys.iter().map(|k| k.slice(0, 1)).collect();
        let first = self.keys.convert_columns(&first)?;
        let continues = self.open.as_ref().is_some_and(|k| k.row() == first.row(0));
        let slot = self.held.len();
        self.held.push(batch);
        // rows going out, as (batch, row), each key's in order, and their numbers
        let mut picked: Vec<(usize, usize)> = Vec::new();
        let mut numbers: Vec<u64> = Vec::new();
        let last = runs.len() - 1;
        for (i, run) in runs.into_iter().enumerate() {
            let top = top_rows(run, &order, self.limit);
            if i == 0 && continues {
                self.best = merge(
                    std::mem::take(&mut self.best),
                    &top,
                    &order,
                    slot,
                    self.limit,
                );
            } else {
                numbers.extend(1..=self.best.len() as u64);
                picked.extend(self.best.drain(..).map(|c| (c.batch, c.row)));
                if i == last {
                    self.best = top
                        .iter()
                        .map(|&row| Candidate {
                            order: order.row(row).owned(),
                            batch: slot,
                            row,
                        })
                        .collect();
                } else {
                    numbers.extend(1..=top.len() as u64);
                    picked.extend(top.iter().map(|&row| (slot, row)));
                }
            }
        }
        let open: Vec<ArrayRef> = keys.iter().map(|k| k.slice(n - 1, 1)).collect();
        self.open = Some(self.keys.convert_columns(&open)?.row(0).owned());
        self.emit(&picked, numbers)?;
        self.keep_held();
        self.account()
    }

    /// The runs of equal keys of a batch (nulls equal each other), by arrow's `partition`, or
    /// for key types it does not compare, by their rows.
    fn runs(&self, keys: &[ArrayRef]) -> DfResult<Vec<Range<usize>>> {
        if let Ok(p) = partition(keys) {
            return Ok(p.ranges());
        }
        let rows = self.keys.convert_columns(keys)?;
        let mut runs = Vec::new();
        let mut start = 0;
        for i in 1..rows.num_rows() {
            if rows.row(i) != rows.row(i - 1) {
                runs.push(start..i);
                start = i;
            }
        }
        runs.push(start..rows.num_rows());
        Ok(runs)
    }

    /// The rows at `picked` (indices into `held`) go out, with their `numbers` if the stream
    /// gives them.
    fn emit(&mut self, picked: &[(usize, usize)], numbers: Vec<u64>) -> DfResult<()> {
        if picked.is_empty() {
            return Ok(());
        }
        let held: Vec<&RecordBatch> = self.held.iter().collect();
        let mut rows = interleave_record_batch(&held, picked)?;
        if let Some(t) = &self.number {
            let numbers: ArrayRef = Arc::new(UInt64Array::from(numbers));
            let mut columns = rows.columns().to_vec();
            columns.push(cast(&numbers, t)?);
            rows = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        }
        self.coalescer.push_batch(rows)?;
        Ok(())
    }

    /// Lets go of the batches no candidate comes from.
    fn keep_held(&mut self) {
        let mut kept: Vec<RecordBatch> = Vec::new();
        let mut moved: Vec<Option<usize>> = vec![None; self.held.len()];
        for c in &mut self.best {
            let to = *moved[c.batch].get_or_insert_with(|| {
                kept.push(self.held[c.batch].clone());
                kept.len() - 1
            });
            c.batch = to;
        }
        self.held = kept;
    }

    fn account(&mut self) -> DfResult<()> {
        let held: usize = self.held.iter().map(get_record_batch_memory_size).sum();
        self.reservation.try_resize(held + self.coalescer.size())?;
        Ok(())
    }

    /// End of input: the open key's rows go out.
    fn finish(&mut self) -> DfResult<()> {
        let numbers = (1..=self.best.len() as u64).collect();
        let picked: Vec<(usize, usize)> = self.best.drain(..).map(|c| (c.batch, c.row)).collect();
        self.emit(&picked, numbers)?;
        self.held.clear();
        self.coalescer.finish_buffered_batch()?;
        self.reservation.free();
        Ok(())
    }
}

/// The first `limit` rows of `run` by `order` (ties: first in the batch first), in order.
fn top_rows(run: Range<usize>, order: &Rows, limit: usize) -> Vec<usize> {
    if limit == 1 {
        let mut best = run.start;
        for i in run.start + 1..run.end {
            if order.row(i) < order.row(best) {
                best = i;
            }
        }
        return vec![best];
    }
    let cmp = |a: &usize, b: &usize| order.row(*a).cmp(&order.row(*b)).then(a.cmp(b));
    let mut rows: Vec<usize> = run.collect();
    if rows.len() > limit {
        rows.select_nth_unstable_by(limit - 1, cmp);
        rows.truncate(limit);
    }
    rows.sort_unstable_by(cmp);
    rows
}

/// The first `limit` of the open key's candidates and the rows `top` of batch `slot`, in
/// order; on ties the candidates, seen earlier, come first.
fn merge(
    best: Vec<Candidate>,
    top: &[usize],
    order: &Rows,
    slot: usize,
    limit: usize,
) -> Vec<Candidate> {
    let mut out = Vec::with_capacity(limit.min(best.len() + top.len()));
    let mut old = best.into_iter().peekable();
    let mut new = top.iter().peekable();
    while out.len() < limit {
        let take_old = match (old.peek(), new.peek()) {
            (Some(c), Some(&&r)) => c.order.row() <= order.row(r),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_old {
            out.extend(old.next());
        } else if let Some(&row) = new.next() {
            out.push(Candidate {
                order: order.row(row).owned(),
                batch: slot,
                row,
            });
        }
    }
    out
}

impl Pushed for LimitStream {
    fn input(&mut self) -> &mut SendableRecordBatchStream {
        &mut self.input
    }

    fn baseline(&self) -> &BaselineMetrics {
        &self.baseline
    }

    fn push(&mut self, batch: RecordBatch) -> DfResult<()> {
        LimitStream::push(self, batch)
    }

    fn finish(&mut self) -> DfResult<()> {
        LimitStream::finish(self)
    }

    fn next_out(&mut self) -> Option<RecordBatch> {
        self.coalescer.next_completed_batch()
    }

    fn clear(&mut self) {
        self.held.clear();
        self.best.clear();
        self.coalescer = BatchCoalescer::new(Arc::clone(&self.schema), 1);
    }

    fn done(&mut self) -> &mut bool {
        &mut self.done
    }
}

impl Stream for LimitStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_pushed(&mut *self, cx)
    }
}

impl RecordBatchStream for LimitStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}
