//! The order an aggregation's input rows come in, for the aggregates whose value depends on
//! it: `first`/`last` over a sorted input give the first and last in that order, as Spark
//! gives them (`df.orderBy("age").groupBy("name").agg(first("age"))`), where DataFusion would
//! be free to drop the sort below the aggregation.

use datafusion::logical_expr::{Expr, LogicalPlan};
use spate_common::Result;

use super::expression::Named;

/// The order `plan`'s rows come in: the sort at its top, through the projections, filters,
/// aliases and limits above it whose output still has the sort's columns.
fn input_order(plan: &LogicalPlan) -> Option<Vec<datafusion::logical_expr::SortExpr>> {
    let mut node = plan;
    loop {
        match node {
            LogicalPlan::Sort(s) => {
                let visible = s.expr.iter().all(|e| {
                    e.expr
                        .column_refs()
                        .iter()
                        .all(|c| plan.schema().has_column(c))
                });
                return visible.then(|| s.expr.clone());
            }
            LogicalPlan::Projection(p) => node = &p.input,
            LogicalPlan::Filter(f) => node = &f.input,
            LogicalPlan::SubqueryAlias(a) => node = &a.input,
            LogicalPlan::Limit(l) => node = &l.input,
            _ => return None,
        }
    }
}

/// `first`/`last` over an ordered input: the first and last in that order, as Spark gives
/// them (`df.orderBy("age").groupBy("name").agg(first("age"))`); DataFusion would otherwise
/// be free to drop the sort below the aggregation.
pub(super) fn in_input_order(aggs: Vec<Named>, plan: &LogicalPlan) -> Result<Vec<Named>> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    let Some(order) = input_order(plan) else {
        return Ok(aggs);
    };
    aggs.into_iter()
        .map(|n| {
            let expr = n
                .expr
                .transform_up(|e| match e {
                    Expr::AggregateFunction(mut f)
                        if matches!(f.func.name(), "first_value" | "last_value")
                            && f.params.order_by.is_empty() =>
                    {
                        f.params.order_by = order.clone();
                        Ok(Transformed::yes(Expr::AggregateFunction(f)))
                    }
                    other => Ok(Transformed::no(other)),
                })?
                .data;
            Ok(Named { expr, name: n.name })
        })
        .collect()
}
