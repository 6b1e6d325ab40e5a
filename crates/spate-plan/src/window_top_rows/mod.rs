//! The latest row per key without sorting every row: `row_number()` over a partitioned window,
//! kept where it is at most `k` — seed 002's "latest snapshot per user"
//! (`withColumn("row_num", row_number().over(w)).filter("row_num = 1")`), the usual
//! deduplication of Spark pipelines. Spark plans it with a `WindowGroupLimit` below the window,
//! for `k` up to `spark.sql.optimizer.windowGroupLimitThreshold` (1000; -1: off);
//! [`TopRowsPerKey`] does the same with [`WindowGroupLimitExec`], which needs its input
//! clustered by the partition keys only, picks each key's first `k` rows by the window's order
//! as they stream by and numbers them. So input already sorted by the keys for another window
//! (seed 002's range windows) is not sorted again, other input is sorted by the keys alone,
//! and the window operator and the filter, then true of every row, go.
//!
//! DataFusion's `PartitionedTopKExec` (a heap per key over unsorted input) was the first
//! choice: with seed 002's 200,000 users per 10M events it took longer than the sort it saves
//! (a hash map and a gather per key and batch).
//!
//! DataFusion has this rewrite too (`WindowTopN`, off by default), but it reads the filter's
//! column as a position in the window's output even through projections that move columns,
//! and it keeps other window expressions of the same operator, whose values over the full
//! partition would change. This rule follows the column through the projections, accepts
//! `= 1` (a row number is never below 1), and leaves a window operator computing anything
//! besides the row number alone.

use std::sync::Arc;

use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, CastExpr, Column, Literal};
use datafusion::physical_expr::window::StandardWindowExpr;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowUDFExpr};

mod exec;

pub use exec::WindowGroupLimitExec;

/// The DataFusion rule this one runs before: the sorts are not in place yet.
pub const BEFORE_RULE: &str = "WindowTopN";

/// Puts a per-key top-k below a `row_number()` window filtered to its first rows.
#[derive(Debug)]
pub struct TopRowsPerKey;

impl PhysicalOptimizerRule for TopRowsPerKey {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        // Spark's `spark.sql.optimizer.windowGroupLimitThreshold` (1000): larger limits keep
        // the sort, -1 turns the rewrite off
        let threshold = config
            .extensions
            .get::<crate::options::SpateOptions>()
            .map_or(Some(1000), |o| o.window_group_limit);
        let Some(threshold) = threshold else {
            return Ok(plan);
        };
        plan.transform_down(|p| match rewrite(&p, threshold)? {
            Some(new) => Ok(Transformed::yes(new)),
            None => Ok(Transformed::no(p)),
        })
        .data()
    }

    fn name(&self) -> &str {
        "top_rows_per_key"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The plan without the filter and with the top-k, when `plan` is such a filter.
fn rewrite(
    plan: &Arc<dyn ExecutionPlan>,
    threshold: usize,
) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
    let Some(filter) = plan.downcast_ref::<FilterExec>() else {
        return Ok(None);
    };
    if filter.projection().is_some() {
        return Ok(None);
    }
    let Some((mut column, k)) = limit_of(filter.predicate()) else {
        return Ok(None);
    };
    if k == 0 || k > threshold {
        return Ok(None);
    }
    // down through projections that pass the column on (renamed or cast)
    let mut projections = Vec::new();
    let mut node = Arc::clone(filter.input());
    while let Some(p) = node.downcast_ref::<ProjectionExec>() {
        let Some(e) = p.expr().get(column) else {
            return Ok(None);
        };
        let Some(c) = passed_column(&e.expr) else {
            return Ok(None);
        };
        column = c;
        projections.push(Arc::clone(&node));
        node = Arc::clone(p.input());
    }
    let Some(window) = node.downcast_ref::<BoundedWindowAggExec>() else {
        return Ok(None);
    };
    let inputs = window.input().schema().fields().len();
    let [expr] = window.window_expr() else {
        return Ok(None);
    };
    if column != inputs || !is_row_number(expr) || expr.partition_by().is_empty() {
        return Ok(None);
    }
    let Some(order) = LexOrdering::new(expr.order_by().iter().cloned()) else {
        return Ok(None);
    };
    // the operator numbers the rows it keeps itself: the window operator goes
    let number = window.schema().field(inputs).clone();
    let mut out: Arc<dyn ExecutionPlan> = Arc::new(
        WindowGroupLimitExec::try_new(
            Arc::clone(window.input()),
            expr.partition_by().to_vec(),
            order,
            k,
        )?
        .numbered(number)?,
    );
    for p in projections.into_iter().rev() {
        out = replace_children_if_necessary(p, vec![out])?;
    }
    Ok(Some(out))
}

/// `(column, k)` of a predicate that keeps row numbers up to `k`.
fn limit_of(predicate: &Arc<dyn PhysicalExpr>) -> Option<(usize, usize)> {
    let b = predicate.downcast_ref::<BinaryExpr>()?;
    let (column, n, op) = match (
        b.left().downcast_ref::<Column>(),
        b.right().downcast_ref::<Literal>(),
    ) {
        (Some(c), Some(l)) => (c.index(), count(l.value())?, *b.op()),
        _ => {
            let l = b.left().downcast_ref::<Literal>()?;
            let c = b.right().downcast_ref::<Column>()?;
            (c.index(), count(l.value())?, b.op().swap()?)
        }
    };
    match op {
        Operator::Eq if n == 1 => Some((column, 1)),
        Operator::LtEq => Some((column, n)),
        Operator::Lt => Some((column, n.checked_sub(1)?)),
        _ => None,
    }
}

/// A non-negative integer literal.
fn count(v: &ScalarValue) -> Option<usize> {
    if !v.data_type().is_integer() {
        return None;
    }
    match v
        .cast_to(&datafusion::arrow::datatypes::DataType::Int64)
        .ok()?
    {
        ScalarValue::Int64(Some(n)) => usize::try_from(n).ok(),
        _ => None,
    }
}

/// The input column a projection passes on as it is or cast to another integer type.
fn passed_column(e: &Arc<dyn PhysicalExpr>) -> Option<usize> {
    if let Some(c) = e.downcast_ref::<Column>() {
        return Some(c.index());
    }
    let cast = e.downcast_ref::<CastExpr>()?;
    if !cast.cast_type().is_integer() {
        return None;
    }
    cast.expr().downcast_ref::<Column>().map(Column::index)
}

fn is_row_number(e: &Arc<dyn datafusion::physical_plan::WindowExpr>) -> bool {
    e.as_any()
        .downcast_ref::<StandardWindowExpr>()
        .and_then(|s| {
            s.get_standard_func_expr()
                .as_any()
                .downcast_ref::<WindowUDFExpr>()
        })
        .is_some_and(|u| u.fun().name() == "row_number")
}

#[cfg(test)]
mod tests;
