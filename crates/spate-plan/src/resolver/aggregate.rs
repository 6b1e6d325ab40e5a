//! Aggregate: `groupBy`, `rollup`, `cube`, `groupingSets` and `groupBy().pivot()` with any
//! mix of aggregate expressions, including expressions over aggregates (`sum(a) / count(b)`);
//! output columns are the grouping columns followed by the aggregates, named as Spark names
//! them.
//!
//! A pivot aggregates by the grouping columns and the pivot column first, then spreads each
//! pivot value into columns with `first_value(..) FILTER (WHERE pivot <=> value)`, so a
//! combination with no rows is NULL (even for `count`), as in Spark. Without explicit values
//! the distinct values of the pivot column are computed first, sorted, nulls first.

use datafusion::common::Column;
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::utils::find_aggregate_exprs;
use datafusion::logical_expr::{
    Expr, ExprSchemable, GroupingSet, LogicalPlan, LogicalPlanBuilder, Operator, col,
};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect::{self as sc, aggregate::GroupType};
use spate_common::{Error, Result};

use super::Resolver;
use super::basic::rebase;
use super::expression::{Named, required};
use crate::{display, literal};

/// The pivot column's name between the two aggregations of a pivot.
const PIVOT: &str = "__spate_pivot";

impl Resolver<'_> {
    pub(super) async fn aggregate(&self, a: &sc::Aggregate) -> Result<LogicalPlan> {
        let sc::Aggregate {
            input,
            group_type,
            grouping_expressions,
            aggregate_expressions,
            pivot,
            grouping_sets,
        } = a;
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        let groups: Vec<Named> = grouping_expressions
            .iter()
            .map(|e| self.output_expr(e, &schema))
            .collect::<Result<_>>()?;
        // sliding window() keys put each row in several windows and session_window() keys
        // depend on their group's other rows: both are computed first
        let (plan, keys) = crate::functions::expand_time_windows(
            plan,
            groups.iter().map(|g| g.expr.clone()).collect(),
        )?;
        let groups: Vec<Named> = groups
            .into_iter()
            .zip(keys)
            .map(|(g, expr)| Named { expr, name: g.name })
            .collect();
        let aggs: Vec<Named> = aggregate_expressions
            .iter()
            .map(|e| self.expr(e, &schema))
            .collect::<Result<_>>()?;
        let aggs = super::input_order::in_input_order(aggs, &plan)?;
        if let Some(pivot) = pivot {
            return self.pivot(plan, groups, aggs, pivot).await;
        }
        let group_exprs: Vec<Expr> = groups.iter().map(|g| g.expr.clone()).collect();
        let grouping = match GroupType::try_from(*group_type).unwrap_or(GroupType::Groupby) {
            GroupType::Rollup => vec![Expr::GroupingSet(GroupingSet::Rollup(group_exprs.clone()))],
            GroupType::Cube => vec![Expr::GroupingSet(GroupingSet::Cube(group_exprs.clone()))],
            GroupType::GroupingSets => {
                let sets = grouping_sets
                    .iter()
                    .map(|s| {
                        s.grouping_set
                            .iter()
                            .map(|e| Ok(self.expr(e, &schema)?.expr))
                            .collect::<Result<Vec<_>>>()
                    })
                    .collect::<Result<Vec<_>>>()?;
                vec![Expr::GroupingSet(GroupingSet::GroupingSets(sets))]
            }
            _ => group_exprs.clone(),
        };
        self.grouped(plan, grouping, groups, aggs)
    }

    /// Aggregates `plan` by `grouping`, then projects the `groups` and the `aggs` (which may be
    /// expressions over aggregates) under their Spark names.
    fn grouped(
        &self,
        plan: LogicalPlan,
        grouping: Vec<Expr>,
        groups: Vec<Named>,
        aggs: Vec<Named>,
    ) -> Result<LogicalPlan> {
        let group_exprs: Vec<Expr> = groups.iter().map(|g| g.expr.clone()).collect();
        let aggs = aggs
            .into_iter()
            .map(|n| {
                Ok(Named {
                    expr: grouping_over(n.expr, &group_exprs)?,
                    name: n.name,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let agg_exprs: Vec<Expr> = aggs.iter().map(|n| n.expr.clone()).collect();
        let inner = find_aggregate_exprs(agg_exprs.iter());
        for n in &aggs {
            let nested = find_aggregate_exprs(std::iter::once(&n.expr));
            if nested.is_empty()
                && !group_exprs.contains(&n.expr)
                && !matches!(n.expr, Expr::Literal(..))
            {
                return Err(Error::analysis(
                    "MISSING_AGGREGATION",
                    format!(
                        "the non-aggregating expression {} is based on columns which are not participating in the GROUP BY clause; add it to the group by or wrap it in first() or any_value()",
                        n.name
                    ),
                ));
            }
        }
        let agg_plan = LogicalPlanBuilder::from(plan)
            .aggregate(grouping, inner.clone())?
            .build()?;
        let out = agg_plan.schema().clone();
        // Grouping columns come first in the aggregate's output, then the aggregates.
        let mut targets: Vec<(Expr, Column)> = Vec::new();
        for (i, g) in group_exprs.iter().enumerate() {
            targets.push((g.clone(), Column::from(out.qualified_field(i))));
        }
        let offset = out.fields().len() - inner.len();
        for (i, a) in inner.iter().enumerate() {
            targets.push((a.clone(), Column::from(out.qualified_field(offset + i))));
        }
        let mut items = groups;
        items.extend(aggs);
        let items = rebase(items, &targets)?;
        Ok(LogicalPlanBuilder::from(agg_plan)
            .project(crate::output_names::unique_aliases(
                items.into_iter().map(|n| (n.expr, n.name)).collect(),
            ))?
            .build()?)
    }

    async fn pivot(
        &self,
        plan: LogicalPlan,
        groups: Vec<Named>,
        aggs: Vec<Named>,
        pivot: &sc::aggregate::Pivot,
    ) -> Result<LogicalPlan> {
        let sc::aggregate::Pivot {
            col: pivot_col,
            values,
        } = pivot;
        let schema = plan.schema().clone();
        let p = self.expr(required(pivot_col)?, &schema)?;
        let pivot_type = p.expr.get_type(&schema)?;
        let values: Vec<(ScalarValue, String)> = if values.is_empty() {
            self.pivot_values(plan.clone(), &p.expr).await?
        } else {
            values
                .iter()
                .map(|l| {
                    let (v, name) = literal::from_proto(l, &self.tz)?;
                    let name = if v.is_null() { "null".into() } else { name };
                    Ok((v.cast_to(&pivot_type)?, name))
                })
                .collect::<Result<_>>()?
        };
        // 1. aggregate by the grouping columns and the pivot column
        let mut stage_groups = groups.clone();
        stage_groups.push(Named {
            expr: p.expr.clone(),
            name: PIVOT.into(),
        });
        let grouping: Vec<Expr> = stage_groups.iter().map(|g| g.expr.clone()).collect();
        let renamed: Vec<Named> = aggs
            .iter()
            .enumerate()
            .map(|(j, a)| Named {
                expr: a.expr.clone(),
                name: format!("__spate_agg_{j}"),
            })
            .collect();
        let stage = self.grouped(plan, grouping, stage_groups, renamed)?;
        // 2. one column per (value, aggregate), from the single row of each combination
        let mut spread = Vec::new();
        for (v, value_name) in &values {
            for (j, a) in aggs.iter().enumerate() {
                let name = if aggs.len() == 1 {
                    value_name.clone()
                } else {
                    format!("{value_name}_{}", a.name)
                };
                let matches = Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(col(Column::from_name(PIVOT))),
                    Operator::IsNotDistinctFrom,
                    Box::new(Expr::Literal(v.clone(), None)),
                ));
                let value = self.aggregate_call(
                    "first_value",
                    vec![col(Column::from_name(format!("__spate_agg_{j}")))],
                    Some(matches),
                )?;
                spread.push(value.alias(name));
            }
        }
        let keys: Vec<Expr> = groups
            .iter()
            .map(|g| col(Column::from_name(g.name.clone())))
            .collect();
        Ok(LogicalPlanBuilder::from(stage)
            .aggregate(keys, spread)?
            .build()?)
    }

    /// The distinct values of the pivot column, sorted with nulls first, with Spark's names.
    async fn pivot_values(
        &self,
        plan: LogicalPlan,
        pivot: &Expr,
    ) -> Result<Vec<(ScalarValue, String)>> {
        let max = self
            .config
            .get("spark.sql.pivotMaxValues")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(10_000);
        let distinct = LogicalPlanBuilder::from(plan)
            .project(vec![pivot.clone().alias(PIVOT)])?
            .distinct()?
            .sort(vec![col(Column::from_name(PIVOT)).sort(true, true)])?
            .limit(0, Some(max + 1))?
            .build()?;
        let out: Vec<(ScalarValue, String)> = self
            .column_values(distinct, "pivot values")
            .await?
            .into_iter()
            .map(|v| {
                let name = if v.is_null() {
                    "null".into()
                } else {
                    display::format_scalar(&v, &self.tz)
                };
                (v, name)
            })
            .collect();
        if out.len() > max {
            return Err(Error::analysis(
                "_LEGACY_ERROR_TEMP_1324",
                format!(
                    "The pivot column {} has more than {max} distinct values, this could indicate an error. If this was intended, set spark.sql.pivotMaxValues to at least the number of distinct values of the pivot column.",
                    pivot
                ),
            ));
        }
        Ok(out)
    }
}

/// `e` with each `grouping()` that names no column (`grouping_id()`) over all of `groups`.
fn grouping_over(e: Expr, groups: &[Expr]) -> Result<Expr> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    Ok(e.transform_up(|e| match e {
        Expr::AggregateFunction(mut f)
            if f.func.name() == "grouping" && f.params.args.is_empty() =>
        {
            f.params.args = groups.to_vec();
            Ok(Transformed::yes(Expr::AggregateFunction(f)))
        }
        other => Ok(Transformed::no(other)),
    })?
    .data)
}
