//! Session windows on a stream (`groupBy(session_window(ts, gap), ...)`): a key's rows less
//! than a gap apart form one session, and a row arriving later may extend a session or join
//! two. The state is the rows of the sessions still open (their end above the watermark); each
//! batch computes the sessions of the state's rows and the new ones with the same plan a batch
//! query uses (the session expansion of `session_window`, then the aggregation), so a session
//! and its aggregates are exactly what a batch query over those rows gives.
//!
//! Per batch: rows whose own session (`ts + gap`) ends at or below the previous batch's
//! watermark are late and dropped; the sessions of the stored and new rows are computed; those
//! that end at or below this batch's watermark are closed — emitted in append mode — and their
//! rows forgotten; complete mode emits every session (update mode is refused, as Spark refuses
//! it). Progress counts as Spark's session state does: the sessions of the keys this batch
//! touched are rewritten (updated), stored sessions a merge replaced and closed sessions are
//! removed, and the open sessions are the total. The state is written whole each batch (a row
//! id and the row), which keeps it simple at the cost of larger deltas.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan};
use spate_common::{Error, Result};

use crate::micro_batch::rows_plan;
use crate::stateful::{
    BoxFuture, OperatorMetrics, OperatorState, OutputMode, StatefulOperator, Watermarks,
    at_or_below, event_ms, output_schema, renamed,
};

/// The prefix of the columns `session_window`'s expansion adds (spate-plan's
/// `functions::session_window`).
const HIDDEN: &str = "__spate_session";

/// Whether `agg` groups by a session window.
pub(crate) fn is_session_aggregate(agg: &Aggregate) -> bool {
    agg.group_expr
        .iter()
        .any(|e| e.column_refs().iter().any(|c| c.name.starts_with(HIDDEN)))
}

/// Whether a window node is part of `session_window`'s expansion.
pub(crate) fn is_session_expansion(window_exprs: &[Expr]) -> bool {
    window_exprs
        .iter()
        .all(|e| matches!(e, Expr::Alias(a) if a.name.starts_with(HIDDEN)))
}

/// The rows under the session expansion of an aggregate's input: below the nodes that carry
/// the hidden columns and the expansion's filter.
fn rows_under(input: &LogicalPlan) -> Result<&LogicalPlan> {
    let hidden = |p: &LogicalPlan| {
        p.schema()
            .fields()
            .iter()
            .any(|f| f.name().starts_with(HIDDEN))
    };
    let mut node = input;
    while hidden(node) {
        node = node
            .inputs()
            .first()
            .copied()
            .ok_or_else(|| Error::internal("a session expansion without its rows"))?;
    }
    match node {
        LogicalPlan::Filter(f) => Ok(&f.input),
        _ => Err(Error::internal("a session expansion without its filter")),
    }
}

/// `plan` with `rows` in place of `target` (found by identity of content).
fn replaced(plan: &LogicalPlan, target: &LogicalPlan, rows: &LogicalPlan) -> Result<LogicalPlan> {
    if plan == target {
        return Ok(rows.clone());
    }
    let inputs = plan
        .inputs()
        .into_iter()
        .map(|i| replaced(i, target, rows))
        .collect::<Result<Vec<_>>>()?;
    Ok(plan.with_new_exprs(plan.expressions(), inputs)?)
}

/// A streaming session-window aggregation (see the module's documentation).
pub struct StreamingSessions {
    mode: OutputMode,
    /// The session struct's place among the aggregate's columns.
    window: usize,
    /// The watermarked event-time column and the gap (ms), for late rows, if known.
    late: Option<(String, i64)>,
    /// Whether the query has a watermark (sessions close only with one).
    watermarked: bool,
    state: OperatorState,
}

impl StreamingSessions {
    /// The session aggregation `agg` in `mode`; `gap_ms` the sessions' gap when it is a
    /// constant; its state in `store_dir` at `version`.
    pub fn new(
        agg: &Aggregate,
        mode: OutputMode,
        watermark_columns: &[String],
        store_dir: Option<std::path::PathBuf>,
        partitions: usize,
        version: u64,
    ) -> Result<Self> {
        let window = agg
            .group_expr
            .iter()
            .position(|e| e.column_refs().iter().any(|c| c.name.starts_with(HIDDEN)))
            .ok_or_else(|| Error::internal("a session aggregation without its window"))?;
        let late = watermark_columns
            .first()
            .and_then(|c| session_gap_ms(agg).map(|g| (c.clone(), g)));
        Ok(Self {
            mode,
            window,
            late,
            watermarked: !watermark_columns.is_empty(),
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
                "a session aggregation over a non-aggregate",
            ));
        };
        let began = Instant::now();
        let rows_node = rows_under(&agg.input)?;
        let schema: SchemaRef = Arc::new(Schema::new(
            rows_node
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<Field>>(),
        ));
        let fresh = spate_exec::collect(state, rows_node, "session windows: input").await?;
        let mut fresh = concat_batches(&schema, &renamed(&schema, fresh)?)?;
        let mut metrics = OperatorMetrics {
            partitions: self.state.partitions() as u64,
            ..OperatorMetrics::default()
        };
        // late rows: their own session ends at or below the previous watermark
        if let Some((column, gap)) = &self.late
            && let Ok(i) = schema.index_of(column)
        {
            let times = event_ms(fresh.column(i))?;
            let keep: BooleanArray = (0..fresh.num_rows())
                .map(|r| Some(!(times.is_valid(r) && times.value(r) + gap <= wm.late_ms)))
                .collect();
            let before = fresh.num_rows();
            fresh = filter_record_batch(&fresh, &keep)?;
            metrics.dropped_by_watermark = (before - fresh.num_rows()) as u64;
        }
        let store = self.state.store(
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)])),
            Arc::clone(&schema),
        )?;
        let (_, values) = store.entries()?;
        let stored = RecordBatch::try_new_with_options(
            Arc::clone(&schema),
            values,
            &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(store.len())),
        )?;
        let combined = concat_batches(&schema, [&stored, &fresh])?;
        // the sessions of the stored rows alone (what update mode compares with)
        let before = {
            let plan = replaced(
                node,
                rows_node,
                &rows_plan(rows_node.schema(), vec![stored])?,
            )?;
            spate_exec::collect(state, &plan, "session windows: the stored sessions").await?
        };
        // each row with its session, then the sessions
        let expanded_plan = replaced(
            &agg.input,
            rows_node,
            &rows_plan(rows_node.schema(), vec![combined])?,
        )?;
        let expanded =
            spate_exec::collect(state, &expanded_plan, "session windows: the rows' sessions")
                .await?;
        let expanded_schema = expanded_plan.schema();
        let window_column = expanded_schema
            .fields()
            .iter()
            .position(|f| f.name().starts_with(HIDDEN))
            .ok_or_else(|| Error::internal("a session expansion without its window column"))?;
        let sessions_plan = node.with_new_exprs(
            node.expressions(),
            vec![rows_plan(expanded_schema, expanded.clone())?],
        )?;
        let sessions =
            spate_exec::collect(state, &sessions_plan, "session windows: the sessions").await?;
        let out_schema = output_schema(node);
        let sessions = concat_batches(&out_schema, &renamed(&out_schema, sessions)?)?;
        let ends = event_ms(sessions.column(self.window))?;
        let closed: Vec<bool> = (0..sessions.num_rows())
            .map(|r| self.mode != OutputMode::Complete && at_or_below(&ends, r, wm.evict_ms))
            .collect();
        // the state: the rows of the sessions still open
        let store = self.state.store(
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)])),
            Arc::clone(&schema),
        )?;
        store.evict(|keys, _| Ok(vec![true; keys.first().map_or(0, |k| k.len())]))?;
        let base = (store.version() as i64) << 32;
        let mut kept = 0i64;
        for b in &expanded {
            let window_ends = event_ms(b.column(window_column))?;
            let keep: BooleanArray = (0..b.num_rows())
                .map(|r| {
                    Some(
                        self.mode == OutputMode::Complete
                            || !at_or_below(&window_ends, r, wm.evict_ms),
                    )
                })
                .collect();
            let open = filter_record_batch(b, &keep)?;
            if open.num_rows() == 0 {
                continue;
            }
            let columns: Vec<_> = open.columns()[..schema.fields().len()].to_vec();
            let ids = Int64Array::from(
                (0..open.num_rows() as i64)
                    .map(|i| base + kept + i)
                    .collect::<Vec<_>>(),
            );
            kept += open.num_rows() as i64;
            let keys = store.key_rows(&[Arc::new(ids) as _])?;
            let values = store.value_rows(&columns)?;
            for r in 0..open.num_rows() {
                store.put(keys.row(r).owned(), values.row(r).owned());
            }
        }
        let open_sessions = closed.iter().filter(|c| !**c).count() as u64;
        let before = concat_batches(&out_schema, &renamed(&out_schema, before)?)?;
        let updated = changed(&sessions, &before)?;
        let groups = agg.group_expr.len();
        let (rewritten, replaced) =
            session_counts(&sessions, &before, &updated, self.window, groups)?;
        metrics.rows_total = open_sessions;
        metrics.rows_updated = rewritten;
        let out = match self.mode {
            OutputMode::Append => {
                filter_record_batch(&sessions, &BooleanArray::from(closed.clone()))?
            }
            // update mode is refused before the query starts (crate::checker)
            OutputMode::Complete | OutputMode::Update => sessions,
        };
        metrics.rows_removed = replaced + closed.iter().filter(|c| **c).count() as u64;
        metrics.updates_ms = began.elapsed().as_millis() as u64;
        metrics.memory_bytes = store.memory_bytes() as u64;
        self.state.metrics = metrics;
        Ok(vec![out])
    }
}

/// The rows of `now` that `before` does not have (the sessions a batch changed).
fn changed(now: &RecordBatch, before: &RecordBatch) -> Result<RecordBatch> {
    let fields: Vec<SortField> = now
        .schema()
        .fields()
        .iter()
        .map(|f| SortField::new(f.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let old = converter.convert_columns(before.columns())?;
    let old: HashSet<&[u8]> = old.iter().map(|r| r.data()).collect();
    let new = converter.convert_columns(now.columns())?;
    let keep: BooleanArray = new.iter().map(|r| Some(!old.contains(r.data()))).collect();
    Ok(filter_record_batch(now, &keep)?)
}

/// Each session of `sessions` as (its key's bytes, its start in ms); the key is the grouping
/// columns but the window (`window`), among the first `groups` columns.
fn session_ids(
    sessions: &RecordBatch,
    window: usize,
    groups: usize,
) -> Result<Vec<(Vec<u8>, i64)>> {
    let keys: Vec<_> = (0..groups)
        .filter(|i| *i != window)
        .map(|i| Arc::clone(sessions.column(i)))
        .collect();
    let converter = RowConverter::new(
        keys.iter()
            .map(|k| SortField::new(k.data_type().clone()))
            .collect(),
    )?;
    let rows = converter.convert_columns(&keys)?;
    let starts = sessions
        .column(window)
        .as_any()
        .downcast_ref::<datafusion::arrow::array::StructArray>()
        .and_then(|s| s.column_by_name("start").cloned())
        .ok_or_else(|| Error::internal("a session window without its start"))?;
    let starts = event_ms(&starts)?;
    Ok((0..sessions.num_rows())
        .map(|r| (rows.row(r).data().to_vec(), starts.value(r)))
        .collect())
}

/// Spark's counts for a batch of sessions: the sessions of the keys this batch touched
/// (updated) and the stored sessions of those keys that a merge replaced (removed).
fn session_counts(
    sessions: &RecordBatch,
    before: &RecordBatch,
    updated: &RecordBatch,
    window: usize,
    groups: usize,
) -> Result<(u64, u64)> {
    let touched: HashSet<Vec<u8>> = session_ids(updated, window, groups)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let now = session_ids(sessions, window, groups)?;
    let starts: HashSet<(Vec<u8>, i64)> = now.iter().cloned().collect();
    let rewritten = now.iter().filter(|(k, _)| touched.contains(k)).count() as u64;
    let replaced = session_ids(before, window, groups)?
        .into_iter()
        .filter(|id| touched.contains(&id.0) && !starts.contains(id))
        .count() as u64;
    Ok((rewritten, replaced))
}

/// The gap of `agg`'s session window when it is a constant, in ms: the expansion computes
/// each row's end as `time + gap` in microseconds.
fn session_gap_ms(agg: &Aggregate) -> Option<i64> {
    let mut gap = None;
    let _ = datafusion::common::tree_node::TreeNode::apply(agg.input.as_ref(), |p| {
        if let LogicalPlan::Projection(proj) = p {
            for e in &proj.expr {
                if let Expr::Alias(a) = e
                    && a.name == format!("{HIDDEN}_end")
                    && let Expr::BinaryExpr(b) = a.expr.as_ref()
                    && let Expr::Literal(v, _) = b.right.as_ref()
                    && let Ok(micros) = v.cast_to(&DataType::Int64)
                    && let datafusion::scalar::ScalarValue::Int64(Some(us)) = micros
                {
                    gap = Some(us / 1000);
                }
            }
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    gap
}

impl StatefulOperator for StreamingSessions {
    fn name(&self) -> &'static str {
        "sessionWindowStateStoreSaveExec"
    }

    fn evicts_by_watermark(&self) -> bool {
        self.watermarked && self.mode != OutputMode::Complete
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
