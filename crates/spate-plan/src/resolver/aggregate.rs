//! Aggregate: `groupBy`, `rollup`, `cube` and `groupingSets` with any mix of aggregate
//! expressions, including expressions over aggregates (`sum(a) / count(b)`); output columns
//! are the grouping columns followed by the aggregates, named as Spark names them.

use datafusion::common::Column;
use datafusion::logical_expr::utils::find_aggregate_exprs;
use datafusion::logical_expr::{Expr, GroupingSet, LogicalPlan, LogicalPlanBuilder};
use spark_connect_proto::spark::connect::{self as sc, aggregate::GroupType};
use spate_common::{Error, Result};

use super::Resolver;
use super::basic::rebase;
use super::expression::Named;

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
            .map(|e| self.expr(e, &schema))
            .collect::<Result<_>>()?;
        let aggs: Vec<Named> = aggregate_expressions
            .iter()
            .map(|e| self.expr(e, &schema))
            .collect::<Result<_>>()?;
        if pivot.is_some() {
            return Err(Error::unsupported("groupBy().pivot()"));
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
            .project(items.iter().map(Named::aliased))?
            .build()?)
    }
}
