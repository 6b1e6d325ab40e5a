//! Streaming aggregation (`groupBy(...).agg(...)` on a stream), the design of Spark's
//! `StateStoreRestore`/`StateStoreSave` pair on DataFusion's aggregation modes. The state is,
//! per group, the aggregates' intermediate buffers (DataFusion's partial state: a count, a sum
//! and count for `avg`, the distinct values for `count(DISTINCT)`), so every aggregate
//! DataFusion can run in two phases runs incrementally. Per batch:
//!
//! 1. the batch's rows are aggregated to one partial row per group (`Partial`, then
//!    `PartialReduce` over the partitions);
//! 2. groups whose event time (the watermarked grouping key: an event-time column or a window
//!    over it, whose `end` counts) is at or below the previous batch's watermark are late and
//!    dropped, except in complete mode;
//! 3. each remaining group's stored buffers and the new ones are merged (`PartialReduce`) and
//!    stored;
//! 4. in append and update modes, groups at or below this batch's watermark are evicted;
//! 5. the output is evaluated (`Final`) from buffers: append emits the evicted groups, update
//!    the groups this batch changed, complete every group.
//!
//! Grouping sets (cube, rollup) keep their grouping id among the keys; a row whose event-time
//! key a set left out is never evicted, as in Spark. Session windows are [`crate::session`].

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::row::OwnedRow;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::PhysicalExpr;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, PhysicalGroupBy};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use spate_common::{Error, Result};

use crate::stateful::{
    BoxFuture, OperatorMetrics, OperatorState, OutputMode, StatefulOperator, Watermarks,
    at_or_below, event_ms, memory_exec, output_schema, renamed, run_physical,
};

/// The physical pieces of one aggregation, from DataFusion's plan of it.
struct Pieces {
    group_by: PhysicalGroupBy,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    input: Arc<dyn ExecutionPlan>,
    input_schema: SchemaRef,
}

impl Pieces {
    fn stage(
        &self,
        mode: AggregateMode,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let (group_by, filters) = match mode {
            AggregateMode::Partial => (self.group_by.clone(), self.filters.clone()),
            _ => (self.group_by.as_final(), vec![None; self.aggregates.len()]),
        };
        Ok(Arc::new(AggregateExec::try_new(
            mode,
            group_by,
            self.aggregates.clone(),
            filters,
            input,
            Arc::clone(&self.input_schema),
        )?))
    }
}

/// The aggregation that reads raw rows in DataFusion's physical plan of an aggregate.
fn raw_aggregate(plan: &Arc<dyn ExecutionPlan>) -> Option<Pieces> {
    if let Some(a) = plan.downcast_ref::<AggregateExec>()
        && matches!(
            a.mode(),
            AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
        )
    {
        return Some(Pieces {
            group_by: a.group_expr().clone(),
            aggregates: a.aggr_expr().to_vec(),
            filters: a.filter_expr().to_vec(),
            input: Arc::clone(a.input()),
            input_schema: a.input_schema(),
        });
    }
    plan.children().into_iter().find_map(raw_aggregate)
}

/// The grouping key of `agg` that a watermark bounds: an event-time column with a watermark,
/// or a time window (a `start`/`end` struct) computed from one.
pub(crate) fn watermarked_key(agg: &Aggregate, watermark_columns: &[String]) -> Option<usize> {
    if watermark_columns.is_empty() {
        return None;
    }
    // the grouping expressions as the aggregate's columns hold them (a grouping set's
    // distinct expressions first)
    let keys = datafusion::logical_expr::utils::grouping_set_to_exprlist(&agg.group_expr).ok()?;
    keys.into_iter().enumerate().find_map(|(i, e)| {
        let columns = e.column_refs();
        // an event time, a window over one, or the window an aggregation under this one
        // emitted (its time is `window_time(window)`)
        let from_event_time = columns.iter().any(|c| {
            watermark_columns.contains(&c.name)
                || c.name.starts_with("__spate_window")
                || c.name.starts_with("__spate_session")
                || agg
                    .input
                    .schema()
                    .qualified_field_from_column(c)
                    .is_ok_and(|(_, f)| is_window_type(f.data_type()))
        });
        let is_window = is_window_type(agg.schema.field(i).data_type());
        let plain = matches!(e, Expr::Column(c) if watermark_columns.contains(&c.name));
        // (in a grouping set some rows hold no key here: those never close)
        (plain || (is_window && from_event_time)).then_some(i)
    })
}

/// Whether a type is a time window's: a struct of `start` and `end`.
fn is_window_type(t: &DataType) -> bool {
    matches!(t, DataType::Struct(f) if f.len() == 2 && f[0].name() == "start" && f[1].name() == "end")
}

/// A streaming aggregation (see the module's documentation).
pub struct StreamingAggregate {
    mode: OutputMode,
    event_key: Option<usize>,
    state: OperatorState,
}

impl StreamingAggregate {
    /// The aggregation `agg` in `mode`, its state in `store_dir` at `version` (the number of
    /// batches committed), in `partitions` partitions.
    pub fn new(
        agg: &Aggregate,
        mode: OutputMode,
        watermark_columns: &[String],
        store_dir: Option<std::path::PathBuf>,
        partitions: usize,
        version: u64,
    ) -> Result<Self> {
        if agg.group_expr.is_empty() {
            return Err(Error::unsupported(
                "a streaming aggregation without grouping keys",
            ));
        }
        Ok(Self {
            mode,
            event_key: watermarked_key(agg, watermark_columns),
            state: OperatorState::new(store_dir, partitions, version),
        })
    }

    async fn run(
        &mut self,
        state: &SessionState,
        node: &LogicalPlan,
        wm: Watermarks,
    ) -> Result<Vec<RecordBatch>> {
        let LogicalPlan::Aggregate(agg) = node else {
            return Err(Error::internal(
                "a streaming aggregation over a non-aggregate",
            ));
        };
        let began = Instant::now();
        // the input as the engine would run it; the aggregation itself as DataFusion plans it
        // without rewriting it (a distinct aggregate must stay one aggregation)
        let input = state.optimize(&agg.input)?;
        let node = node.with_new_exprs(node.expressions(), vec![input])?;
        let physical = state
            .query_planner()
            .create_physical_plan(&node, state)
            .await?;
        let pieces = raw_aggregate(&physical)
            .ok_or_else(|| Error::internal("no aggregation in the plan of an aggregate"))?;
        // with grouping sets the batch's rows are read first, so that a batch without any adds
        // no group (an empty grouping set would add its grand total over no rows); without,
        // the rows stream into the partial aggregation
        let (input, empty) = if pieces.group_by.has_grouping_set() {
            let rows = run_physical(
                state,
                Arc::clone(&pieces.input),
                "streaming aggregation: the batch's rows",
            )
            .await?;
            let empty = rows.iter().all(|b| b.num_rows() == 0);
            (memory_exec(pieces.input.schema(), rows)?, empty)
        } else {
            (Arc::clone(&pieces.input), false)
        };
        let partial = pieces.stage(AggregateMode::Partial, input)?;
        let reduced = pieces.stage(
            AggregateMode::PartialReduce,
            Arc::new(CoalescePartitionsExec::new(partial)),
        )?;
        let buffers = reduced.schema();
        let rows = if empty {
            Vec::new()
        } else {
            run_physical(state, reduced, "streaming aggregation: the batch's groups").await?
        };
        let mut fresh = concat_batches(&buffers, &rows)?;
        // the grouping keys (with the grouping set's id, for cube, rollup and grouping sets)
        let nk = pieces.group_by.num_group_exprs();
        let mut metrics = OperatorMetrics {
            partitions: self.state.partitions() as u64,
            ..OperatorMetrics::default()
        };
        let store = self.state.store(
            Arc::new(Schema::new(buffers.fields()[..nk].to_vec())),
            Arc::new(Schema::new(buffers.fields()[nk..].to_vec())),
        )?;
        // late groups
        if let (Some(k), false) = (self.event_key, self.mode == OutputMode::Complete) {
            let times = event_ms(fresh.column(k))?;
            let keep: BooleanArray = (0..fresh.num_rows())
                .map(|i| Some(!at_or_below(&times, i, wm.late_ms)))
                .collect();
            let before = fresh.num_rows();
            fresh = filter_record_batch(&fresh, &keep)?;
            metrics.dropped_by_watermark = (before - fresh.num_rows()) as u64;
        }
        // merge with the stored buffers of the same groups
        let keys = store.key_rows(&fresh.columns()[..nk])?;
        let stored: Vec<(OwnedRow, OwnedRow)> = (0..fresh.num_rows())
            .filter_map(|i| {
                let key = keys.row(i).owned();
                store.get(&key).map(|v| (key, v.clone()))
            })
            .collect();
        let (mut columns, values) = store.columns(stored.iter().map(|(k, v)| (k, v)))?;
        columns.extend(values);
        let previous = RecordBatch::try_new(Arc::clone(&buffers), columns)?;
        let merged = run_physical(
            state,
            pieces.stage(
                AggregateMode::PartialReduce,
                memory_exec(Arc::clone(&buffers), vec![previous, fresh])?,
            )?,
            "streaming aggregation: merge with the state",
        )
        .await?;
        let merged = concat_batches(&buffers, &merged)?;
        let keys = store.key_rows(&merged.columns()[..nk])?;
        let values = store.value_rows(&merged.columns()[nk..])?;
        for i in 0..merged.num_rows() {
            store.put(keys.row(i).owned(), values.row(i).owned());
        }
        metrics.rows_updated = merged.num_rows() as u64;
        metrics.updates_ms = began.elapsed().as_millis() as u64;
        // eviction
        let removing = Instant::now();
        let evicted = match (self.event_key, self.mode) {
            (Some(k), OutputMode::Append | OutputMode::Update) => store.evict(|keys, _| {
                let times = event_ms(&keys[k])?;
                Ok((0..times.len())
                    .map(|i| at_or_below(&times, i, wm.evict_ms))
                    .collect())
            })?,
            _ => Vec::new(),
        };
        metrics.rows_removed = evicted.len() as u64;
        metrics.removals_ms = removing.elapsed().as_millis() as u64;
        // the output, evaluated from buffers
        let out = match self.mode {
            OutputMode::Append => {
                let (mut c, v) = store.columns(evicted.iter().map(|(k, v)| (k, v)))?;
                c.extend(v);
                RecordBatch::try_new(Arc::clone(&buffers), c)?
            }
            OutputMode::Update => merged,
            OutputMode::Complete => {
                let (mut c, v) = store.entries()?;
                c.extend(v);
                RecordBatch::try_new(Arc::clone(&buffers), c)?
            }
        };
        metrics.rows_total = store.len() as u64;
        metrics.memory_bytes = store.memory_bytes() as u64;
        self.state.metrics = metrics;
        let values = run_physical(
            state,
            pieces.stage(
                AggregateMode::Final,
                memory_exec(Arc::clone(&buffers), vec![out])?,
            )?,
            "streaming aggregation: the emitted groups",
        )
        .await?;
        renamed(&output_schema(&node), values)
    }
}

impl StatefulOperator for StreamingAggregate {
    fn name(&self) -> &'static str {
        "stateStoreSave"
    }

    fn evicts_by_watermark(&self) -> bool {
        self.event_key.is_some() && self.mode != OutputMode::Complete
    }

    fn process<'a>(
        &'a mut self,
        state: &'a SessionState,
        node: &'a LogicalPlan,
        watermarks: Watermarks,
    ) -> BoxFuture<'a, Result<Vec<RecordBatch>>> {
        Box::pin(self.run(state, node, watermarks))
    }

    fn commit(&mut self) -> Result<()> {
        self.state.commit()
    }

    fn metrics(&self) -> OperatorMetrics {
        self.state.metrics.clone()
    }
}
