//! One micro-batch's plan: the query's (analyzed) streaming plan with this batch's data in
//! place of each streaming scan, every `withWatermark` node run (its rows kept, their event
//! times measured) and the stateful operator run (its rows kept), so that what is left above
//! them is a batch plan the sink can run (each stateful node by its own operator, met bottom
//! first). The event-time watermark across batches is tracked
//! here too, as Spark's `WatermarkTracker` does.
//!
//! Invariants: the watermark never goes back; a watermark node that has seen no rows does not
//! hold the global watermark back; the nodes are visited in the same order every batch, so each
//! keeps its own maximum.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{Column, DFSchema, DFSchemaRef};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use serde_json::json;
use spate_common::Result;
use spate_plan::streaming::{StreamingScanNode, WatermarkNode, as_node, is_streaming};

use crate::stateful::{BoxFuture, StatefulOperator, Watermarks, event_ms, is_stateful};

/// The event-time watermark of a query: per `withWatermark` node, the largest event time seen
/// minus its delay; globally the minimum of those (or the maximum, with
/// `spark.sql.streaming.multipleWatermarkPolicy=max`), never decreasing.
#[derive(Debug, Clone)]
pub struct WatermarkTracker {
    delays: Vec<i64>,
    per_node: Vec<Option<i64>>,
    policy_max: bool,
    /// The watermark the next batch runs with.
    pub current: i64,
}

impl WatermarkTracker {
    /// A tracker for nodes with `delays` (ms), starting at `current`.
    pub fn new(delays: Vec<i64>, policy_max: bool, current: i64) -> Self {
        Self {
            per_node: vec![None; delays.len()],
            delays,
            policy_max,
            current,
        }
    }

    /// Whether the query has a watermark at all.
    pub fn defined(&self) -> bool {
        !self.delays.is_empty()
    }

    fn saw(&mut self, node: usize, max_event_ms: i64) {
        if let (Some(delay), Some(slot)) = (self.delays.get(node), self.per_node.get_mut(node)) {
            let wm = max_event_ms - delay;
            *slot = Some(slot.map_or(wm, |old| old.max(wm)));
        }
    }

    /// Moves the watermark on after a batch; returns the new one.
    pub fn advance(&mut self) -> i64 {
        let seen = self.per_node.iter().flatten().copied();
        let candidate = if self.policy_max {
            seen.max()
        } else {
            seen.min()
        };
        if let Some(c) = candidate {
            self.current = self.current.max(c);
        }
        self.current
    }
}

/// The event times a batch's watermark nodes saw.
#[derive(Debug, Clone, Default)]
pub struct EventTimes {
    min: Option<i64>,
    max: Option<i64>,
    sum: i128,
    count: u64,
}

/// A time in ms as progress shows it.
pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl EventTimes {
    /// Progress' `eventTime` with the batch's `watermark`.
    pub fn progress(&self, watermark: i64) -> serde_json::Value {
        let mut out = json!({ "watermark": iso_ms(watermark) });
        if let (Some(min), Some(max)) = (self.min, self.max) {
            let avg = (self.sum / i128::from(self.count.max(1))) as i64;
            out["min"] = json!(iso_ms(min));
            out["max"] = json!(iso_ms(max));
            out["avg"] = json!(iso_ms(avg));
        }
        out
    }
}

/// What one batch runs with.
pub(crate) struct BatchContext<'a> {
    pub state: &'a SessionState,
    /// The batch's rows of each source, in place of the streaming scans (in the order
    /// [`batch_plan`] meets them).
    pub rows: &'a [LogicalPlan],
    /// The query's stateful operators, bottom first (the order the batch meets them).
    pub operators: &'a mut [Box<dyn StatefulOperator>],
    /// Each operator's watermarks for this batch.
    pub watermarks: Vec<Watermarks>,
    pub tracker: &'a mut WatermarkTracker,
    pub times: EventTimes,
    next_node: usize,
    next_scan: usize,
    next_operator: usize,
}

impl<'a> BatchContext<'a> {
    pub fn new(
        state: &'a SessionState,
        rows: &'a [LogicalPlan],
        operators: &'a mut [Box<dyn StatefulOperator>],
        watermarks: Vec<Watermarks>,
        tracker: &'a mut WatermarkTracker,
    ) -> Self {
        Self {
            state,
            rows,
            operators,
            watermarks,
            tracker,
            times: EventTimes::default(),
            next_node: 0,
            next_scan: 0,
            next_operator: 0,
        }
    }
}

/// The batch plan of `plan` (see the module's documentation).
pub(crate) fn batch_plan<'a, 'b>(
    cx: &'a mut BatchContext<'b>,
    plan: &'a LogicalPlan,
) -> BoxFuture<'a, Result<LogicalPlan>>
where
    'b: 'a,
{
    Box::pin(async move {
        if as_node::<StreamingScanNode>(plan).is_some() {
            let rows = cx.rows.get(cx.next_scan).cloned().ok_or_else(|| {
                spate_common::Error::internal("a streaming scan without its source")
            })?;
            cx.next_scan += 1;
            return Ok(rows);
        }
        if !is_streaming(plan) {
            return Ok(plan.clone());
        }
        let mut inputs = Vec::new();
        for input in plan.inputs() {
            inputs.push(batch_plan(cx, input).await?);
        }
        if let Some(w) = as_node::<WatermarkNode>(plan) {
            let input = inputs.pop().unwrap_or_else(|| w.input.clone());
            let rows = spate_exec::collect(cx.state, &input, "streaming watermark").await?;
            let index = input.schema().index_of_column(&w.event_time)?;
            let mut max = None;
            for b in &rows {
                let times = event_ms(b.column(index))?;
                for t in times.iter().flatten() {
                    max = Some(max.map_or(t, |m: i64| m.max(t)));
                    cx.times.min = Some(cx.times.min.map_or(t, |m| m.min(t)));
                    cx.times.max = Some(cx.times.max.map_or(t, |m| m.max(t)));
                    cx.times.sum += i128::from(t);
                    cx.times.count += 1;
                }
            }
            if let Some(m) = max {
                cx.tracker.saw(cx.next_node, m);
            }
            cx.next_node += 1;
            return rows_plan(plan.schema(), rows);
        }
        let rebuilt = plan.with_new_exprs(plan.expressions(), inputs)?;
        if is_stateful(plan) {
            let i = cx.next_operator;
            cx.next_operator += 1;
            let watermarks = cx.watermarks.get(i).copied().unwrap_or_default();
            let Some(op) = cx.operators.get_mut(i) else {
                return Err(spate_common::Error::internal(
                    "a stateful node without its operator",
                ));
            };
            let rows = op.process(cx.state, &rebuilt, watermarks).await?;
            return rows_plan(plan.schema(), rows);
        }
        Ok(rebuilt)
    })
}

/// `batches` as a plan with `schema`'s columns, qualifiers included, so that the plan above
/// still finds them.
pub(crate) fn rows_plan(schema: &DFSchemaRef, batches: Vec<RecordBatch>) -> Result<LogicalPlan> {
    rows_plan_with(schema, batches, &[])
}

/// [`rows_plan`] with `extra` columns after `schema`'s (the batches hold them last), named
/// so and unqualified.
pub(crate) fn rows_plan_with(
    schema: &DFSchema,
    batches: Vec<RecordBatch>,
    extra: &[&str],
) -> Result<LogicalPlan> {
    let n = schema.fields().len();
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| Field::new(format!("c{i}"), f.data_type().clone(), true))
        .collect();
    for (i, name) in extra.iter().enumerate() {
        let data_type = batches
            .first()
            .map_or(DataType::Null, |b| b.column(n + i).data_type().clone());
        fields.push(Field::new(*name, data_type, true));
    }
    let internal: SchemaRef = Arc::new(Schema::new(fields));
    let batches = batches
        .into_iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(internal.fields())
                .map(|(c, f)| {
                    if c.data_type() == f.data_type() {
                        Ok(Arc::clone(c))
                    } else {
                        Ok(datafusion::arrow::compute::cast(c, f.data_type())?)
                    }
                })
                .collect::<Result<Vec<ArrayRef>>>()?;
            Ok(RecordBatch::try_new(Arc::clone(&internal), columns)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let table = MemTable::try_new(Arc::clone(&internal), vec![batches])?;
    let mut columns: Vec<Expr> = schema
        .iter()
        .enumerate()
        .map(|(i, (q, f))| {
            Expr::Column(Column::new(Some("batch"), format!("c{i}")))
                .alias_qualified(q.cloned(), f.name())
        })
        .collect();
    columns.extend(
        extra
            .iter()
            .map(|name| Expr::Column(Column::new(Some("batch"), *name))),
    );
    Ok(
        LogicalPlanBuilder::scan("batch", provider_as_source(Arc::new(table)), None)?
            .project(columns)?
            .build()?,
    )
}

/// `batches` (of `schema`) as a plan over memory whose columns are unqualified, so that it
/// can stand in for a streaming scan or feed a writer.
pub(crate) fn memory_plan(
    schema: SchemaRef,
    partitions: Vec<Vec<RecordBatch>>,
) -> Result<LogicalPlan> {
    let table = MemTable::try_new(Arc::clone(&schema), partitions)?;
    let columns = schema
        .fields()
        .iter()
        .map(|f| Expr::Column(Column::new(Some("batch"), f.name())).alias(f.name()))
        .collect::<Vec<_>>();
    Ok(
        LogicalPlanBuilder::scan("batch", provider_as_source(Arc::new(table)), None)?
            .project(columns)?
            .build()?,
    )
}
