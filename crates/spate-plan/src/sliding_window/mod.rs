//! Sliding and running window aggregates in one pass over sorted input: the window features
//! of seed 002 (`count`, `avg`, `approx_count_distinct` over a 30-day `rangeBetween`) and the
//! moving averages of seed 001 (`avg` over `rowsBetween(-13, 0)`).
//!
//! DataFusion's window operators evaluate a sliding frame row by row through generic
//! machinery: per row and per aggregate they search the frame bounds with `ScalarValue`s,
//! slice the argument arrays, call the accumulator's `update_batch` and `retract_batch` on
//! one-row slices and box its result in a `ScalarValue`, and they make a new accumulator for
//! every window partition (every user). [`SlidingWindows`] replaces a window operator whose
//! aggregates it knows (`count`, `sum` and `avg` of doubles, `approx_count_distinct`) and whose
//! frame ends at the current row (`ROWS` or integer-keyed `RANGE`, from `n PRECEDING`,
//! `UNBOUNDED PRECEDING` or `CURRENT ROW`) with [`SlidingWindowAggExec`]. It walks each
//! partition once with two cursors — the frame's end adds rows (for `RANGE`, the current row's
//! peers too), its start retracts them — and keeps every aggregate's state in plain values
//! updated in place, so a row costs a few additions whatever the frame's length. Everything
//! else stays with DataFusion. Windows over the same partitioning, order and frame one above
//! the other (one per `withColumn`) become one operator (`collapse`).
//! `spark.spate.window.sliding=false` turns it off.
//!
//! Semantics are Spark's: a `RANGE` frame's lower bound is `key - n` (`key + n` for a
//! descending order), rows with a null key are peers of each other only, `count` of an empty
//! frame is 0 and `sum`/`avg` null. Sums of doubles are kept by adding entering and
//! subtracting leaving values (as DataFusion's sliding sums; Spark re-adds the frame when its
//! start moves), and start again from zero whenever no value is left in the frame.

mod collapse;
mod exec;
mod frame;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{WindowFrame, WindowFrameBound, WindowFrameUnits};
use datafusion::physical_expr::expressions::Literal;
use datafusion::physical_expr::window::{PlainAggregateWindowExpr, SlidingAggregateWindowExpr};
use datafusion::physical_expr::{PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{ExecutionPlan, InputOrderMode, WindowExpr};

pub use exec::SlidingWindowAggExec;

/// Where a frame starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// `UNBOUNDED PRECEDING`: nothing ever leaves the frame.
    Unbounded,
    /// `n PRECEDING` (`CURRENT ROW` is `n = 0`): rows for `ROWS`, key distance for `RANGE`.
    Preceding(i128),
}

/// The frame, which always ends at the current row (for `RANGE`, its last peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) range: bool,
    pub(crate) start: Start,
}

/// An aggregate the operator computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggKind {
    /// `count(*)`, `count(1)`: rows.
    CountRows,
    /// `count(e)`: rows where `e` is not null.
    Count,
    /// `sum(e)` of doubles: null when no value.
    Sum,
    /// `avg(e)` of doubles: null when no value.
    Avg,
    /// `approx_count_distinct(e[, rsd])` with `2^p` registers.
    ApproxDistinct { p: u32 },
}

/// One aggregate: what it computes, over which argument.
#[derive(Debug, Clone)]
pub(crate) struct AggSpec {
    pub(crate) kind: AggKind,
    pub(crate) arg: Arc<dyn PhysicalExpr>,
}

/// What a [`SlidingWindowAggExec`] computes: the window's partition keys, its order key (for
/// `RANGE`), the frame, and the aggregates in output order.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) partition_by: Vec<Arc<dyn PhysicalExpr>>,
    pub(crate) order: Option<PhysicalSortExpr>,
    pub(crate) frame: Frame,
    pub(crate) aggs: Vec<AggSpec>,
}

/// Puts [`SlidingWindowAggExec`] in place of the window operators it can compute.
#[derive(Debug)]
pub struct SlidingWindows;

impl PhysicalOptimizerRule for SlidingWindows {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let enabled = config
            .extensions
            .get::<crate::options::SpateOptions>()
            .is_none_or(|o| o.sliding_window);
        if !enabled {
            return Ok(plan);
        }
        plan.transform_up(|p| {
            let window_exprs = if let Some(w) = p.downcast_ref::<BoundedWindowAggExec>() {
                if w.input_order_mode != InputOrderMode::Sorted {
                    return Ok(Transformed::no(p));
                }
                w.window_expr()
            } else if let Some(w) = p.downcast_ref::<WindowAggExec>() {
                w.window_expr()
            } else {
                return Ok(Transformed::no(p));
            };
            let input = Arc::clone(p.children()[0]);
            let Some(spec) = spec_of(window_exprs, &input.schema())? else {
                return Ok(Transformed::no(p));
            };
            if let Some(merged) = collapse::into_window_below(&p, &input, &spec)? {
                return Ok(Transformed::yes(merged));
            }
            Ok(Transformed::yes(Arc::new(SlidingWindowAggExec::replacing(
                &p,
                input,
                Arc::new(spec),
            )?) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        "sliding_windows"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The spec of a window operator's expressions, when all of them are aggregates this operator
/// computes over one partitioning, order and frame.
fn spec_of(exprs: &[Arc<dyn WindowExpr>], input: &Schema) -> DfResult<Option<Spec>> {
    let Some(first) = exprs.first() else {
        return Ok(None);
    };
    let frame = match frame_of(first.get_window_frame(), first.order_by(), input)? {
        Some(f) => f,
        None => return Ok(None),
    };
    let mut aggs = Vec::with_capacity(exprs.len());
    for e in exprs {
        if e.partition_by() != first.partition_by()
            || e.order_by() != first.order_by()
            || e.get_window_frame() != first.get_window_frame()
        {
            return Ok(None);
        }
        let Some(agg) = agg_of(e.as_ref(), input)? else {
            return Ok(None);
        };
        aggs.push(agg);
    }
    Ok(Some(Spec {
        partition_by: first.partition_by().to_vec(),
        order: first.order_by().first().cloned(),
        frame,
        aggs,
    }))
}

/// The frame, when it ends at the current row and starts where this operator can follow it.
fn frame_of(
    frame: &WindowFrame,
    order_by: &[PhysicalSortExpr],
    input: &Schema,
) -> DfResult<Option<Frame>> {
    if frame.end_bound != WindowFrameBound::CurrentRow {
        return Ok(None);
    }
    let range = match frame.units {
        WindowFrameUnits::Rows => false,
        WindowFrameUnits::Range => {
            // an integer key to measure distances and find peers by
            let [key] = order_by else {
                return Ok(None);
            };
            if !is_integer(&key.expr.data_type(input)?) {
                return Ok(None);
            }
            true
        }
        WindowFrameUnits::Groups => return Ok(None),
    };
    let start = match &frame.start_bound {
        WindowFrameBound::CurrentRow => Start::Preceding(0),
        WindowFrameBound::Preceding(n) if n.is_null() => Start::Unbounded,
        WindowFrameBound::Preceding(n) => match offset(n) {
            Some(n) => Start::Preceding(n),
            None => return Ok(None),
        },
        WindowFrameBound::Following(_) => return Ok(None),
    };
    Ok(Some(Frame { range, start }))
}

/// A non-negative integer frame offset.
fn offset(n: &ScalarValue) -> Option<i128> {
    let n = match n {
        ScalarValue::UInt64(Some(v)) => i128::from(*v),
        other if other.data_type().is_integer() => match other.cast_to(&DataType::Int64).ok()? {
            ScalarValue::Int64(Some(v)) => i128::from(v),
            _ => return None,
        },
        _ => return None,
    };
    (n >= 0).then_some(n)
}

/// Integer order keys that fit `i64`.
fn is_integer(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
    )
}

/// The aggregate of a window expression, when it is one this operator computes.
fn agg_of(e: &dyn WindowExpr, input: &Schema) -> DfResult<Option<AggSpec>> {
    let any = e.as_any();
    let aggregate = if let Some(w) = any.downcast_ref::<SlidingAggregateWindowExpr>() {
        w.get_aggregate_expr()
    } else if let Some(w) = any.downcast_ref::<PlainAggregateWindowExpr>() {
        w.get_aggregate_expr()
    } else {
        return Ok(None);
    };
    // `agg(..) FILTER (WHERE ..) OVER (..)`: DataFusion keeps the filter in a field it does
    // not expose (its trait is private) but shows in its debug form; such windows stay its own
    let filter = format!("{e:?}").contains("filter: Some(");
    if filter || aggregate.is_distinct() || aggregate.ignore_nulls() {
        return Ok(None);
    }
    let args = aggregate.expressions();
    let Some(arg) = args.first().cloned() else {
        return Ok(None);
    };
    let result = aggregate.field().data_type().clone();
    let arg_type = arg.data_type(input)?;
    let kind = match (aggregate.fun().name(), args.len()) {
        ("count", 1) if result == DataType::Int64 => match arg.downcast_ref::<Literal>() {
            Some(l) if !l.value().is_null() => AggKind::CountRows,
            _ => AggKind::Count,
        },
        ("sum", 1) if arg_type == DataType::Float64 && result == DataType::Float64 => AggKind::Sum,
        ("avg", 1) if arg_type == DataType::Float64 && result == DataType::Float64 => AggKind::Avg,
        ("approx_count_distinct", 1 | 2) if result == DataType::Int64 => AggKind::ApproxDistinct {
            p: crate::functions::approx_distinct::precision_of(&args)?,
        },
        _ => return Ok(None),
    };
    Ok(Some(AggSpec { kind, arg }))
}
