//! Hot keys in aggregations with one `DISTINCT` argument. DataFusion evaluates
//! `groupBy(k).agg(count("*"), countDistinct(u), max(a))` with a distinct accumulator: each
//! partition sends, per group, the set of distinct values it saw, and the one partition that
//! owns a hot key merges all of that key's sets alone (seed 002's viral item: 30% of the rows
//! in one group, the aggregation about five times slower than without the hot key's sets).
//! DataFusion's `single_distinct_aggregation_to_group_by` rule avoids this by aggregating on
//! `(k, u)` first — the distinct values are then spread over all partitions by hash, as
//! Spark's own rewrite of distinct aggregates does — but only when the other aggregates are
//! `sum`, `min` or `max`. [`CountsAsSums`] runs before it and writes each non-distinct
//! `count(x)` of such an aggregation as `sum(1 when x is not null)` (`coalesce(.., 0)`, for a
//! global aggregation over no rows), so that the rule applies to the counts users write
//! beside a distinct count. `spark.spate.aggregate.splitDistinct=false` turns it off (to
//! measure the difference: bench/workloads.py's `hot_key_agg_unsplit`).

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema};
use datafusion::error::Result as DfResult;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams};
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan, Projection, lit, when};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// The optimizer rule: see the module documentation.
#[derive(Debug, Default)]
pub struct CountsAsSums;

/// The name of DataFusion's rule that [`CountsAsSums`] runs before.
pub const BEFORE_RULE: &str = "single_distinct_aggregation_to_group_by";

impl OptimizerRule for CountsAsSums {
    fn name(&self) -> &str {
        "spate_counts_as_sums_beside_one_distinct"
    }

    fn apply_order(&self) -> Option<datafusion::optimizer::ApplyOrder> {
        Some(datafusion::optimizer::ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> DfResult<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(agg) = plan else {
            return Ok(Transformed::no(plan));
        };
        let enabled = config
            .options()
            .extensions
            .get::<crate::options::SpateOptions>()
            .is_none_or(|o| o.split_distinct);
        if !enabled || !applies(&agg) {
            return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
        }
        let groups = agg.group_expr.len();
        let mut aggr_expr = Vec::with_capacity(agg.aggr_expr.len());
        let mut counts = Vec::new();
        for (i, e) in agg.aggr_expr.iter().enumerate() {
            match e.clone().unalias() {
                Expr::AggregateFunction(f) if !f.params.distinct && is(&f, "count") => {
                    let counted = f
                        .params
                        .args
                        .iter()
                        .map(|a| a.clone().is_not_null())
                        .reduce(Expr::and)
                        .unwrap_or(lit(true));
                    let one = when(counted, lit(1i64)).otherwise(lit(0i64))?;
                    aggr_expr.push(sum(one));
                    counts.push(groups + i);
                }
                other => aggr_expr.push(other),
            }
        }
        let rewritten = LogicalPlan::Aggregate(Aggregate::try_new(
            agg.input.clone(),
            agg.group_expr.clone(),
            aggr_expr,
        )?);
        // the original output columns, names and qualifiers, over the rewritten aggregation
        let exprs = restore_names(rewritten.schema(), &agg.schema, &counts);
        Ok(Transformed::yes(LogicalPlan::Projection(
            Projection::try_new_with_schema(exprs, Arc::new(rewritten), agg.schema.clone())?,
        )))
    }
}

/// Whether `agg` has one distinct argument, no grouping sets, other aggregates that are all
/// `count`, `sum`, `min` or `max` without filters or orderings, and at least one `count`.
fn applies(agg: &Aggregate) -> bool {
    if matches!(agg.group_expr.first(), Some(Expr::GroupingSet(_))) {
        return false;
    }
    let mut distinct_args = Vec::new();
    let mut counts = 0;
    for e in &agg.aggr_expr {
        let Expr::AggregateFunction(f) = e.clone().unalias() else {
            return false;
        };
        let AggregateFunctionParams {
            distinct,
            args,
            filter,
            order_by,
            ..
        } = &f.params;
        if filter.is_some() || !order_by.is_empty() {
            return false;
        }
        if *distinct {
            for a in args {
                if !distinct_args.contains(a) {
                    distinct_args.push(a.clone());
                }
            }
        } else if is(&f, "count") {
            counts += 1;
        } else if !(is(&f, "sum") || is(&f, "min") || is(&f, "max")) {
            return false;
        }
    }
    distinct_args.len() == 1 && counts > 0
}

fn is(f: &AggregateFunction, name: &str) -> bool {
    f.func.name().eq_ignore_ascii_case(name)
}

/// Projection items giving `rewritten`'s columns the names of `original`, the `counts`
/// (indices of rewritten counts) as non-null `bigint`s.
fn restore_names(rewritten: &DFSchema, original: &DFSchema, counts: &[usize]) -> Vec<Expr> {
    rewritten
        .iter()
        .zip(original.iter())
        .enumerate()
        .map(|(i, ((new_q, new_f), (old_q, old_f)))| {
            let column = Expr::Column(Column::new(new_q.cloned(), new_f.name()));
            let value = if counts.contains(&i) {
                datafusion::functions::expr_fn::coalesce(vec![column, lit(0i64)])
            } else {
                column
            };
            value.alias_qualified(old_q.cloned(), old_f.name())
        })
        .collect()
}
