//! [`SlidingWindowAggExec`], the operator, and its stream: input rows sorted by the window's
//! partition keys and order key come in batches; each row leaves with its aggregates over its
//! frame. A `RANGE` frame ends at the current row's last peer, which may be in the next batch,
//! so the last peer group of a batch waits for the next one (or the end of input); that group
//! is the only copy of input rows the operator makes.

use std::collections::VecDeque;
use std::fmt::{self, Formatter};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{FieldRef, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, OrderingRequirements, PhysicalExpr};
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties,
    InputDistributionRequirements, PlanProperties, apply_expression_roots,
};
use futures::Stream;

use crate::push_stream::{Pushed, poll_pushed};

use super::frame::{FrameRows, Inputs, Output, State, lower_bound, normalise};
use super::{AggSpec, Spec, Start};

/// Window aggregates over frames that end at the current row, in one pass (see the module
/// documentation of `crate::sliding_window`). It stands in for the DataFusion window
/// operator(s) it replaced: their input requirements, their input's columns then one per
/// aggregate.
#[derive(Debug)]
pub struct SlidingWindowAggExec {
    input: Arc<dyn ExecutionPlan>,
    spec: Arc<Spec>,
    /// The input's columns, then one per aggregate.
    schema: SchemaRef,
    /// What the replaced window operator required of its input.
    ordering: Vec<Option<OrderingRequirements>>,
    distribution: InputDistributionRequirements,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl SlidingWindowAggExec {
    /// In place of `window`, a DataFusion window operator over `input` computing `spec`.
    pub(crate) fn replacing(
        window: &Arc<dyn ExecutionPlan>,
        input: Arc<dyn ExecutionPlan>,
        spec: Arc<Spec>,
    ) -> DfResult<Self> {
        Self::new(
            input,
            spec,
            window.schema(),
            window.required_input_ordering(),
            window.input_distribution_requirements(),
        )
    }

    fn new(
        input: Arc<dyn ExecutionPlan>,
        spec: Arc<Spec>,
        schema: SchemaRef,
        ordering: Vec<Option<OrderingRequirements>>,
        distribution: InputDistributionRequirements,
    ) -> DfResult<Self> {
        let properties = Arc::new(properties(&input, &schema)?);
        Ok(Self {
            input,
            spec,
            schema,
            ordering,
            distribution,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    pub(crate) fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }

    pub(crate) fn spec(&self) -> &Spec {
        &self.spec
    }

    /// This operator computing `more` aggregates after its own, in columns `fields`: the
    /// windows of another operator over the same input, partitioning, order and frame.
    pub(crate) fn with_more(&self, more: Vec<AggSpec>, fields: &[FieldRef]) -> DfResult<Self> {
        let mut spec = (*self.spec).clone();
        spec.aggs.extend(more);
        let schema = Arc::new(Schema::new(
            self.schema
                .fields()
                .iter()
                .chain(fields)
                .cloned()
                .collect::<Vec<_>>(),
        ));
        Self::new(
            Arc::clone(&self.input),
            Arc::new(spec),
            schema,
            self.ordering.clone(),
            self.distribution.clone(),
        )
    }
}

/// The input's equivalences and orderings (the rows go out in input order) over the output's
/// columns, and its partitioning.
fn properties(input: &Arc<dyn ExecutionPlan>, schema: &SchemaRef) -> DfResult<PlanProperties> {
    let known = input.equivalence_properties();
    let mut eq = EquivalenceProperties::new(Arc::clone(schema));
    eq.add_equivalence_group(known.eq_group().clone())?;
    eq.add_orderings(known.oeq_class().iter().cloned());
    Ok(PlanProperties::new(
        eq,
        input.output_partitioning().clone(),
        EmissionType::Incremental,
        input.boundedness(),
    ))
}

impl DisplayAs for SlidingWindowAggExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        let first_out = self.schema.fields().len() - self.spec.aggs.len();
        let names: Vec<&str> = self.schema.fields()[first_out..]
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let units = if self.spec.frame.range {
            "RANGE"
        } else {
            "ROWS"
        };
        let start = match self.spec.frame.start {
            Start::Unbounded => "UNBOUNDED PRECEDING".to_string(),
            Start::Preceding(0) => "CURRENT ROW".to_string(),
            Start::Preceding(n) => format!("{n} PRECEDING"),
        };
        write!(
            f,
            "SlidingWindowAggExec: frame={units} BETWEEN {start} AND CURRENT ROW, wdw=[{}]",
            names.join(", ")
        )
    }
}

impl ExecutionPlan for SlidingWindowAggExec {
    fn name(&self) -> &str {
        "SlidingWindowAggExec"
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
        let spec = &self.spec;
        apply_expression_roots(
            spec.partition_by
                .iter()
                .chain(spec.order.iter().map(|o| &o.expr))
                .chain(spec.aggs.iter().map(|a| &a.arg)),
            f,
        )
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.distribution.clone()
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        self.ordering.clone()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|_| {
            DataFusionError::Internal("bug: SlidingWindowAggExec takes one child".into())
        })?;
        Ok(Arc::new(Self::new(
            input,
            Arc::clone(&self.spec),
            Arc::clone(&self.schema),
            self.ordering.clone(),
            self.distribution.clone(),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let reservation = MemoryConsumer::new(format!("SlidingWindowAggExec[{partition}]"))
            .register(context.memory_pool());
        let input = self.input.execute(partition, context)?;
        let converter = RowConverter::new(
            self.spec
                .partition_by
                .iter()
                .map(|e| Ok(SortField::new(e.data_type(&self.input.schema())?)))
                .collect::<DfResult<Vec<_>>>()?,
        )?;
        Ok(Box::pin(SlidingStream {
            input,
            input_schema: self.input.schema(),
            schema: Arc::clone(&self.schema),
            states: self.spec.aggs.iter().map(|a| State::new(a.kind)).collect(),
            frame: FrameRows::new(self.spec.aggs.len()),
            spec: Arc::clone(&self.spec),
            converter,
            last_key: None,
            started: false,
            pending: Vec::new(),
            out: VecDeque::new(),
            pos: 0,
            added: 0,
            done: false,
            baseline: BaselineMetrics::new(&self.metrics, partition),
            reservation,
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The rows of one partition of the input, with their aggregates.
struct SlidingStream {
    input: SendableRecordBatchStream,
    input_schema: SchemaRef,
    schema: SchemaRef,
    spec: Arc<Spec>,
    states: Vec<State>,
    frame: FrameRows,
    /// Partition keys as comparable rows.
    converter: RowConverter,
    /// The partition key of the last row out.
    last_key: Option<OwnedRow>,
    /// Whether a row has gone out (a window without partition keys has one partition).
    started: bool,
    /// Input rows waiting for their last peers: one peer group, in batches.
    pending: Vec<RecordBatch>,
    /// Rows with their aggregates, ready to go out.
    out: VecDeque<RecordBatch>,
    /// Rows of the current window partition gone out.
    pos: u64,
    /// Rows of the current window partition added to the states.
    added: u64,
    done: bool,
    baseline: BaselineMetrics,
    /// The frame's rows, the states and the rows waiting, in the memory pool.
    reservation: MemoryReservation,
}

impl SlidingStream {
    /// Takes a batch of input; the rows that can go out are queued in `out`.
    fn push(&mut self, batch: RecordBatch) -> DfResult<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.pending.is_empty() {
            self.emit(batch, false)?;
        } else if self.continues_pending(&batch)? {
            // the waiting peer group goes on through this batch: it waits whole
            self.pending.push(batch);
        } else {
            // the waiting group ends in this batch: with its last peers here it goes out (a
            // copy of one peer group), then the rest of the batch, where it is
            let peers = self.peers_of_pending(&batch)?;
            self.pending.push(batch.slice(0, peers));
            let group = concat_batches(&self.input_schema, &std::mem::take(&mut self.pending))?;
            self.emit(group, true)?;
            self.emit(batch.slice(peers, batch.num_rows() - peers), false)?;
        }
        // a frame or a peer group spanning many batches grows in the pool, and fails the
        // query when the pool is exhausted rather than outgrow it
        let held = self.frame.size()
            + self.states.iter().map(State::size).sum::<usize>()
            + self
                .pending
                .iter()
                .map(RecordBatch::get_array_memory_size)
                .sum::<usize>();
        self.reservation.try_resize(held)?;
        Ok(())
    }

    /// At the end of input: the waiting rows go out.
    fn finish(&mut self) -> DfResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let group = concat_batches(&self.input_schema, &std::mem::take(&mut self.pending))?;
        self.emit(group, true)
    }

    /// Processes `batch` (`last`: its last peer group is complete) and queues what goes out.
    fn emit(&mut self, batch: RecordBatch, last: bool) -> DfResult<()> {
        if let Some(out) = self.process(batch, last)? {
            self.out.push_back(out);
        }
        Ok(())
    }

    /// How many leading rows of `batch` are peers of the waiting rows (they are a prefix:
    /// the input is sorted).
    fn peers_of_pending(&self, batch: &RecordBatch) -> DfResult<usize> {
        let Some(first) = self.pending.first() else {
            return Ok(0);
        };
        let group = self.group_of(first, 0)?;
        let (mut lo, mut hi) = (0, batch.num_rows());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.group_of(batch, mid)? == group {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Whether every row of `batch` is a peer of the waiting rows (same partition and key).
    fn continues_pending(&self, batch: &RecordBatch) -> DfResult<bool> {
        let Some(first) = self.pending.first() else {
            return Ok(false);
        };
        let group = self.group_of(first, 0)?;
        // input is sorted: the ends of the batch are peers of the group only if all are
        Ok(self.group_of(batch, 0)? == group
            && self.group_of(batch, batch.num_rows() - 1)? == group)
    }

    /// The partition key and order key of one row.
    fn group_of(
        &self,
        batch: &RecordBatch,
        row: usize,
    ) -> DfResult<(Option<OwnedRow>, Option<i128>)> {
        let one = batch.slice(row, 1);
        let partition = self.partition_keys(&one)?.map(|rows| rows.row(0).owned());
        let order = match &self.spec.order {
            Some(o) if self.spec.frame.range => {
                let values = o.expr.evaluate(&one)?.into_array(1)?;
                normalise(&values, o.options)?.first().copied()
            }
            _ => None,
        };
        Ok((partition, order))
    }

    fn process(&mut self, batch: RecordBatch, last: bool) -> DfResult<Option<RecordBatch>> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(None);
        }
        let spec = Arc::clone(&self.spec);
        let keys = self.partition_keys(&batch)?;
        let new_partition: Vec<bool> = (0..n)
            .map(|i| match &keys {
                None => i == 0 && !self.started,
                Some(rows) if i == 0 => self
                    .last_key
                    .as_ref()
                    .is_none_or(|k| k.row() != rows.row(0)),
                Some(rows) => rows.row(i) != rows.row(i - 1),
            })
            .collect();
        let order = match (&spec.order, spec.frame.range) {
            (Some(o), true) => {
                let values = o.expr.evaluate(&batch)?.into_array(n)?;
                Some(normalise(&values, o.options)?)
            }
            _ => None,
        };
        // where each row's peer group ends (a ROWS frame ends at the row itself)
        let mut group_end: Vec<usize> = (1..=n).collect();
        if let Some(order) = &order {
            for i in (0..n - 1).rev() {
                if !new_partition[i + 1] && order[i + 1] == order[i] {
                    group_end[i] = group_end[i + 1];
                }
            }
        }
        // the last peer group may go on in the next batch
        let ready = if last || order.is_none() {
            n
        } else {
            let mut first = n - 1;
            while first > 0 && group_end[first - 1] == n {
                first -= 1;
            }
            first
        };
        if ready == 0 {
            self.pending.push(batch);
            return Ok(None);
        }
        let inputs = spec
            .aggs
            .iter()
            .map(|a| Inputs::new(a.kind, a.arg.evaluate(&batch)?.into_array(n)?))
            .collect::<DfResult<Vec<_>>>()?;
        let mut outputs: Vec<Output> = spec
            .aggs
            .iter()
            .map(|a| Output::new(a.kind, ready))
            .collect();
        let keep_rows = spec.frame.start != Start::Unbounded;
        for i in 0..ready {
            if new_partition[i] {
                self.states.iter_mut().for_each(State::reset);
                self.frame.clear();
                (self.pos, self.added) = (0, 0);
            }
            // rows enter up to the end of the frame...
            let end = self.pos + (group_end[i] - i) as u64;
            while self.added < end {
                let j = i + (self.added - self.pos) as usize;
                for ((input, state), cells) in inputs
                    .iter()
                    .zip(&mut self.states)
                    .zip(&mut self.frame.cells)
                {
                    let cell = input.cell(j);
                    state.add(cell);
                    if keep_rows {
                        cells.push_back(cell);
                    }
                }
                if keep_rows {
                    if let Some(order) = &order {
                        self.frame.keys.push_back(order[j]);
                    }
                    self.frame.len += 1;
                }
                self.added += 1;
            }
            // ...then leave it from its start
            if let Start::Preceding(n) = spec.frame.start {
                match &order {
                    Some(order) => {
                        let lower = lower_bound(order[i], n);
                        while self.frame.keys.front().is_some_and(|k| *k < lower) {
                            self.frame.pop_into(&mut self.states);
                        }
                    }
                    None => {
                        let lower = i128::from(self.pos) - n;
                        while self.frame.len > 0
                            && i128::from(self.added - self.frame.len as u64) < lower
                        {
                            self.frame.pop_into(&mut self.states);
                        }
                    }
                }
            }
            for (out, state) in outputs.iter_mut().zip(&self.states) {
                out.push(state);
            }
            self.pos += 1;
        }
        self.started = true;
        if let Some(rows) = &keys {
            self.last_key = Some(rows.row(ready - 1).owned());
        }
        if ready < n {
            self.pending.push(batch.slice(ready, n - ready));
        }
        let mut columns: Vec<ArrayRef> = batch.slice(0, ready).columns().to_vec();
        columns.extend(outputs.into_iter().map(Output::finish));
        Ok(Some(RecordBatch::try_new(
            Arc::clone(&self.schema),
            columns,
        )?))
    }

    /// The batch's partition keys as comparable rows (None without partition keys).
    fn partition_keys(&self, batch: &RecordBatch) -> DfResult<Option<Rows>> {
        if self.spec.partition_by.is_empty() {
            return Ok(None);
        }
        let columns = self
            .spec
            .partition_by
            .iter()
            .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
            .collect::<DfResult<Vec<_>>>()?;
        Ok(Some(self.converter.convert_columns(&columns)?))
    }
}

impl Pushed for SlidingStream {
    fn input(&mut self) -> &mut SendableRecordBatchStream {
        &mut self.input
    }

    fn baseline(&self) -> &BaselineMetrics {
        &self.baseline
    }

    fn push(&mut self, batch: RecordBatch) -> DfResult<()> {
        SlidingStream::push(self, batch)
    }

    fn finish(&mut self) -> DfResult<()> {
        SlidingStream::finish(self)
    }

    fn next_out(&mut self) -> Option<RecordBatch> {
        self.out.pop_front()
    }

    fn clear(&mut self) {
        self.out.clear();
        self.pending.clear();
    }

    fn done(&mut self) -> &mut bool {
        &mut self.done
    }
}

impl Stream for SlidingStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_pushed(&mut *self, cx)
    }
}

impl RecordBatchStream for SlidingStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}
