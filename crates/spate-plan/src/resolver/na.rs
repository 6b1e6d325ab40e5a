//! The NA functions: `fillna`, `dropna` and `replace` (`df.na.*`). Each applies only to
//! columns whose type matches the given values (numbers to numeric columns, strings to string
//! columns, booleans to boolean columns), as in Spark; other columns pass through unchanged.
//! `dropna` counts a NaN in a float or double column as missing, as Spark does.

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, lit, when};
use datafusion::prelude::coalesce;
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect as sc;
use spate_common::Result;

use super::Resolver;

/// Whether a value of type `value` may fill or replace values in a column of type `column`.
fn applies(value: &DataType, column: &DataType) -> bool {
    (value.is_numeric() && column.is_numeric())
        || (value == &DataType::Utf8 && column == &DataType::Utf8)
        || (value == &DataType::Boolean && column == &DataType::Boolean)
}

impl Resolver<'_> {
    pub(super) async fn fill_na(&self, f: &sc::NaFill) -> Result<LogicalPlan> {
        let sc::NaFill {
            input,
            cols,
            values,
        } = f;
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        let mut fills = Vec::new();
        for v in values {
            fills.push(crate::literal::from_proto(v, &self.tz)?.0);
        }
        let exprs = schema
            .columns()
            .into_iter()
            .map(|c| {
                let t = Expr::Column(c.clone()).get_type(&schema)?;
                let fill = if cols.is_empty() {
                    fills.first()
                } else {
                    cols.iter()
                        .position(|n| n.eq_ignore_ascii_case(&c.name))
                        .and_then(|i| fills.get(i).or(fills.first()))
                };
                Ok(match fill {
                    Some(v) if applies(&v.data_type(), &t) => {
                        let value = v.cast_to(&t)?;
                        coalesce(vec![Expr::Column(c.clone()), lit(value)]).alias(c.name.clone())
                    }
                    _ => Expr::Column(c),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
    }

    pub(super) async fn drop_na(&self, d: &sc::NaDrop) -> Result<LogicalPlan> {
        let sc::NaDrop {
            input,
            cols,
            min_non_nulls,
        } = d;
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        let targets: Vec<Expr> = if cols.is_empty() {
            schema.columns().into_iter().map(Expr::Column).collect()
        } else {
            cols.iter()
                .map(|n| Ok(self.column(n, None, &schema)?.expr))
                .collect::<Result<_>>()?
        };
        let need = min_non_nulls.unwrap_or(targets.len() as i32);
        // Spark's AtLeastNNonNulls: NaN counts as missing in float and double columns
        let mut present = Vec::with_capacity(targets.len());
        for e in &targets {
            let floating =
                datafusion::logical_expr::ExprSchemable::get_type(e, &schema)?.is_floating();
            present.push(if floating {
                e.clone()
                    .is_not_null()
                    .and(!datafusion::functions::math::expr_fn::isnan(e.clone()))
            } else {
                e.clone().is_not_null()
            });
        }
        let count = present
            .into_iter()
            .map(|p| datafusion::logical_expr::when(p, lit(1)).otherwise(lit(0)))
            .collect::<datafusion::error::Result<Vec<_>>>()?
            .into_iter()
            .reduce(|a, b| a + b)
            .unwrap_or(lit(0));
        Ok(LogicalPlanBuilder::from(plan)
            .filter(count.gt_eq(lit(need)))?
            .build()?)
    }

    pub(super) async fn replace(&self, r: &sc::NaReplace) -> Result<LogicalPlan> {
        let sc::NaReplace {
            input,
            cols,
            replacements,
        } = r;
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        let mut pairs = Vec::new();
        for rep in replacements {
            let old = match &rep.old_value {
                Some(l) => crate::literal::from_proto(l, &self.tz)?.0,
                None => ScalarValue::Null,
            };
            let new = match &rep.new_value {
                Some(l) => crate::literal::from_proto(l, &self.tz)?.0,
                None => ScalarValue::Null,
            };
            pairs.push((old, new));
        }
        // the kind of the keys decides which columns are candidates
        let Some(kind) = pairs
            .iter()
            .map(|(k, _)| k.data_type())
            .find(|t| !t.is_null())
        else {
            return Ok(plan);
        };
        let chosen: Vec<Expr> = cols
            .iter()
            .map(|c| Ok(self.column(c, None, &schema)?.expr))
            .collect::<Result<_>>()?;
        let exprs = schema
            .columns()
            .into_iter()
            .map(|c| {
                let t = Expr::Column(c.clone()).get_type(&schema)?;
                let selected = chosen.is_empty() || chosen.contains(&Expr::Column(c.clone()));
                if !selected || !applies(&kind, &t) {
                    return Ok(Expr::Column(c));
                }
                let column = Expr::Column(c.clone());
                let key_of = |k: &ScalarValue| -> Result<Expr> {
                    if k.is_null() {
                        return Ok(column.clone().is_null());
                    }
                    Ok(if t.is_numeric() {
                        datafusion::logical_expr::cast(column.clone(), DataType::Float64)
                            .eq(lit(k.cast_to(&DataType::Float64)?))
                    } else {
                        column.clone().eq(lit(k.clone()))
                    })
                };
                let mut pairs = pairs.iter();
                let Some((k0, v0)) = pairs.next() else {
                    return Ok(column);
                };
                let mut case = when(key_of(k0)?, lit(v0.cast_to(&t)?));
                for (k, v) in pairs {
                    case = case.when(key_of(k)?, lit(v.cast_to(&t)?));
                }
                Ok(case.otherwise(column)?.alias(c.name.clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
    }
}
