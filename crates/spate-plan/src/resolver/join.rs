//! Join: inner, outer, semi, anti and cross joins with a condition or a list of `on` columns.
//! With `on` columns Spark outputs each key once (coalesced for a full outer join) followed by
//! the other columns of the left and then the right side. A right side that repeats the left
//! side's columns (a self-join) is re-qualified so both stay addressable.

use datafusion::common::{Column, JoinType};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::coalesce;
use spark_connect_proto::spark::connect::{self as sc, join::JoinType as PJoin};
use spate_common::{Error, Result};

use super::Resolver;
use super::expression::unresolved_column;

impl Resolver<'_> {
    pub(super) async fn join(&self, j: &sc::Join) -> Result<LogicalPlan> {
        let sc::Join {
            left,
            right,
            join_condition,
            join_type,
            using_columns,
            join_data_type: _,
        } = j;
        let mut left = self.input(left).await?;
        let mut right = self.input(right).await?;
        // Unqualified columns on either side would make every key reference ambiguous.
        let unqualified =
            |p: &LogicalPlan| p.schema().columns().iter().any(|c| c.relation.is_none());
        if unqualified(&left) {
            left = self.realias(left)?;
        }
        let left_cols = left.schema().columns();
        if unqualified(&right)
            || right
                .schema()
                .columns()
                .iter()
                .any(|c| left_cols.contains(c))
        {
            right = self.realias(right)?;
        }
        let kind = PJoin::try_from(*join_type).unwrap_or(PJoin::Inner);
        let jt = match kind {
            PJoin::Unspecified | PJoin::Inner => JoinType::Inner,
            PJoin::FullOuter => JoinType::Full,
            PJoin::LeftOuter => JoinType::Left,
            PJoin::RightOuter => JoinType::Right,
            PJoin::LeftAnti => JoinType::LeftAnti,
            PJoin::LeftSemi => JoinType::LeftSemi,
            PJoin::Cross => {
                if join_condition.is_none() && using_columns.is_empty() {
                    return Ok(LogicalPlanBuilder::from(left).cross_join(right)?.build()?);
                }
                JoinType::Inner
            }
        };
        if !using_columns.is_empty() {
            return self.join_using(left, right, jt, using_columns);
        }
        match join_condition {
            None => {
                if jt == JoinType::Inner {
                    Ok(LogicalPlanBuilder::from(left).cross_join(right)?.build()?)
                } else {
                    Ok(LogicalPlanBuilder::from(left)
                        .join_on(right, jt, [datafusion::logical_expr::lit(true)])?
                        .build()?)
                }
            }
            Some(cond) => {
                let mut both = left.schema().as_ref().clone();
                both.merge(right.schema());
                let cond = self.expr(cond, &both)?;
                Ok(LogicalPlanBuilder::from(left)
                    .join_on(right, jt, [cond.expr])?
                    .build()?)
            }
        }
    }

    fn join_using(
        &self,
        left: LogicalPlan,
        right: LogicalPlan,
        jt: JoinType,
        names: &[String],
    ) -> Result<LogicalPlan> {
        let find = |plan: &LogicalPlan, name: &str| -> Result<Column> {
            plan.schema()
                .columns()
                .into_iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| unresolved_column(name, plan.schema()))
        };
        let mut keys = Vec::new();
        for n in names {
            keys.push((find(&left, n)?, find(&right, n)?));
        }
        let on: Vec<Expr> = keys
            .iter()
            .map(|(l, r)| Expr::Column(l.clone()).eq(Expr::Column(r.clone())))
            .collect();
        let left_cols = left.schema().columns();
        let right_cols = right.schema().columns();
        let plan = LogicalPlanBuilder::from(left)
            .join_on(right, jt, on)?
            .build()?;
        let mut out: Vec<Expr> = Vec::new();
        for (l, r) in &keys {
            let e = match jt {
                JoinType::Full => coalesce(vec![Expr::Column(l.clone()), Expr::Column(r.clone())])
                    .alias(l.name.clone()),
                JoinType::Right => Expr::Column(r.clone()).alias(l.name.clone()),
                _ => Expr::Column(l.clone()),
            };
            out.push(e);
        }
        let is_key_l = |c: &Column| keys.iter().any(|(l, _)| l == c);
        let is_key_r = |c: &Column| keys.iter().any(|(_, r)| r == c);
        out.extend(
            left_cols
                .into_iter()
                .filter(|c| !is_key_l(c))
                .map(Expr::Column),
        );
        if !matches!(jt, JoinType::LeftSemi | JoinType::LeftAnti) {
            out.extend(
                right_cols
                    .into_iter()
                    .filter(|c| !is_key_r(c))
                    .map(Expr::Column),
            );
        }
        if out.is_empty() {
            return Err(Error::internal("join produced no columns"));
        }
        Ok(LogicalPlanBuilder::from(plan).project(out)?.build()?)
    }
}
