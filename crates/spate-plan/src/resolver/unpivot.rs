//! `DataFrame.unpivot(ids, values, variableColumnName, valueColumnName)` (and `melt`): each
//! input row becomes one row per value column — the ids, the value column's name, its value
//! cast to the values' common type — in the order Spark's `Expand` gives them (row by row,
//! then value column by value column). Without values, every column that is not an id is one.
//! No value column is Spark's `UNPIVOT_REQUIRES_VALUE_COLUMNS`; values of no common type,
//! `UNPIVOT_VALUE_DATA_TYPE_MISMATCH`.

use datafusion::arrow::datatypes::DataType;
use datafusion::functions::core::expr_fn::{get_field, named_struct};
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::type_coercion::binary::type_union_resolution;
use datafusion::logical_expr::{
    Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, cast, col, lit,
};
use spark_connect_proto::spark::connect as sc;
use spate_common::{Error, Result};

use super::Resolver;
use super::expression::Named;

/// The column holding each row's (name, value) pairs before they are unnested.
const PAIRS: &str = "__spate_unpivot";

impl Resolver<'_> {
    /// Resolves an `Unpivot` relation.
    pub(super) async fn unpivot(&self, u: &sc::Unpivot) -> Result<LogicalPlan> {
        let plan = self.input(&u.input).await?;
        let schema = plan.schema().clone();
        let ids: Vec<Named> = u
            .ids
            .iter()
            .map(|e| self.expr(e, &schema))
            .collect::<Result<_>>()?;
        let values: Vec<Named> = match &u.values {
            Some(v) => v
                .values
                .iter()
                .map(|e| self.expr(e, &schema))
                .collect::<Result<_>>()?,
            None => schema
                .columns()
                .into_iter()
                .filter(|c| !ids.iter().any(|id| id.expr == Expr::Column(c.clone())))
                .map(|c| Named {
                    name: c.name.clone(),
                    expr: Expr::Column(c),
                })
                .collect(),
        };
        if values.is_empty() {
            return Err(Error::analysis(
                "UNPIVOT_REQUIRES_VALUE_COLUMNS",
                "At least one value column needs to be specified for UNPIVOT, all columns specified as ids.",
            ));
        }
        let types = values
            .iter()
            .map(|v| Ok(v.expr.get_type(&schema)?))
            .collect::<Result<Vec<DataType>>>()?;
        let common = type_union_resolution(&types).ok_or_else(|| {
            let listed: Vec<String> = values
                .iter()
                .zip(&types)
                .map(|(v, t)| format!("{} {}", v.name, crate::types::sql_string(t)))
                .collect();
            Error::analysis(
                "UNPIVOT_VALUE_DATA_TYPE_MISMATCH",
                format!(
                    "Unpivot value columns must share a least common type, some types do not: [{}].",
                    listed.join(", ")
                ),
            )
        })?;
        let pairs: Vec<Expr> = values
            .iter()
            .map(|v| {
                named_struct(vec![
                    lit("name"),
                    lit(v.name.as_str()),
                    lit("value"),
                    cast(v.expr.clone(), common.clone()),
                ])
            })
            .collect();
        let mut items: Vec<Expr> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| id.expr.clone().alias(format!("__spate_id{i}")))
            .collect();
        items.push(make_array(pairs).alias(PAIRS));
        let unnested = LogicalPlanBuilder::from(plan)
            .project(items)?
            .unnest_column(PAIRS)?
            .build()?;
        let mut out: Vec<Expr> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| col(format!("__spate_id{i}")).alias(id.name.as_str()))
            .collect();
        out.push(get_field(col(PAIRS), "name").alias(u.variable_column_name.as_str()));
        out.push(get_field(col(PAIRS), "value").alias(u.value_column_name.as_str()));
        super::project(unnested, out)
    }
}
