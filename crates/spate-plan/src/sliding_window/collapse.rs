//! Spark's `CollapseWindow` for [`SlidingWindowAggExec`]: each `withColumn(..., agg.over(w))`
//! of seed 002 is a window operator of its own, with a projection between each two; when a
//! window's partitioning, order and frame are those of the sliding window operator below it
//! (through projections that only pass columns on) and its aggregates read none of that
//! operator's results, the operator below computes them too. The rows are then sorted by key
//! and walked once for all the aggregates instead of once per `withColumn`; a projection puts
//! the columns back as the upper window gave them.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result as DfResult;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::projection::ProjectionExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;

use super::{AggSpec, SlidingWindowAggExec, Spec};

/// The window operator `window` over `input`, computing `spec`, as aggregates of a sliding
/// window operator below it, when it can be.
pub(super) fn into_window_below(
    window: &Arc<dyn ExecutionPlan>,
    input: &Arc<dyn ExecutionPlan>,
    spec: &Spec,
) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
    // where each column of the input comes from in the output of the operator below
    let mut from: Vec<usize> = (0..input.schema().fields().len()).collect();
    let mut node = Arc::clone(input);
    while let Some(p) = node.downcast_ref::<ProjectionExec>() {
        let mut next = Vec::with_capacity(from.len());
        for &i in &from {
            let Some(c) = p.expr()[i].expr.downcast_ref::<Column>() else {
                return Ok(None);
            };
            next.push(c.index());
        }
        from = next;
        let child = Arc::clone(p.input());
        node = child;
    }
    let Some(below) = node.downcast_ref::<SlidingWindowAggExec>() else {
        return Ok(None);
    };
    let columns = below.input().schema();
    let width = columns.fields().len();
    // an expression over the input as one over the input of the operator below, if it reads
    // only columns passed on from there
    let rebase = |e: &Arc<dyn PhysicalExpr>| -> DfResult<Option<Arc<dyn PhysicalExpr>>> {
        let mut passed = true;
        let out = Arc::clone(e)
            .transform(|n| {
                let Some(c) = n.downcast_ref::<Column>() else {
                    return Ok(Transformed::no(n));
                };
                match from.get(c.index()) {
                    Some(&i) if i < width => Ok(Transformed::yes(Arc::new(Column::new(
                        columns.field(i).name(),
                        i,
                    ))
                        as Arc<dyn PhysicalExpr>)),
                    _ => {
                        passed = false;
                        Ok(Transformed::no(n))
                    }
                }
            })?
            .data;
        Ok(passed.then_some(out))
    };
    let mut partition_by = Vec::with_capacity(spec.partition_by.len());
    for e in &spec.partition_by {
        let Some(e) = rebase(e)? else {
            return Ok(None);
        };
        partition_by.push(e);
    }
    let order = match &spec.order {
        Some(o) => match rebase(&o.expr)? {
            Some(expr) => Some(datafusion::physical_expr::PhysicalSortExpr::new(
                expr, o.options,
            )),
            None => return Ok(None),
        },
        None => None,
    };
    let same = below.spec();
    if partition_by != same.partition_by || order != same.order || spec.frame != same.frame {
        return Ok(None);
    }
    let mut aggs = Vec::with_capacity(spec.aggs.len());
    for a in &spec.aggs {
        let Some(arg) = rebase(&a.arg)? else {
            return Ok(None);
        };
        aggs.push(AggSpec { kind: a.kind, arg });
    }
    let out = window.schema();
    let new_fields = &out.fields()[input.schema().fields().len()..];
    let merged = Arc::new(below.with_more(aggs, new_fields)?);
    let schema = merged.schema();
    let first_new = schema.fields().len() - new_fields.len();
    let exprs = from
        .iter()
        .copied()
        .chain(first_new..schema.fields().len())
        .zip(out.fields())
        .map(|(i, f)| ProjectionExpr {
            expr: Arc::new(Column::new(schema.field(i).name(), i)) as Arc<dyn PhysicalExpr>,
            alias: f.name().clone(),
        });
    Ok(Some(Arc::new(ProjectionExec::try_new(exprs, merged)?)))
}
