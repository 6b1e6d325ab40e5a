//! DataFrame subqueries: `df.scalar()`, `df.exists()` and `col.isin(df)`. PySpark sends the
//! query as `WithRelations`: the root plan, whose expressions name subqueries by plan id, and
//! the referenced relations. The references are kept unresolved until an expression names
//! one; it is then resolved with the expression's input as its outer scope, so a column the
//! subquery does not have resolves against the outer query (`col("e1.id").outer()` sends a
//! plain column; Spark's analyzer finds it outside, and so does this one) as an outer
//! reference, which DataFusion's optimizer decorrelates into a join.
//!
//! Under a SQL root, the references are DataFrames the SQL text names (`{df}` arguments):
//! views for the time the statement is planned.
//!
//! Expression resolution is synchronous and relation resolution is not (it may list files):
//! the subquery's relation is resolved on the server's multi-threaded runtime with
//! `block_in_place`. An IN subquery of several values compares structs of them.

use std::sync::Arc;

use datafusion::common::{DFSchema, Spans};
use datafusion::logical_expr::expr::{Exists, InSubquery};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Subquery};
use spark_connect_proto::spark::connect::relation::RelType;
use spark_connect_proto::spark::connect::{
    Relation, RelationCommon, SubqueryExpression, WithRelations,
};
use spate_common::{Error, Result};

use super::Resolver;
use super::expression::{Named, required};

impl Resolver<'_> {
    /// Resolves `WithRelations`: keeps the references for the subquery expressions of the root;
    /// under a SQL root (`spark.sql("... {df} ...", df=df)`), the references are the
    /// DataFrames the text names, as views of the names PySpark gave them for this query.
    pub(super) async fn with_relations(&self, w: &WithRelations) -> Result<LogicalPlan> {
        let root = required(&w.root)?;
        if matches!(root.rel_type, Some(RelType::Sql(_))) {
            let mut views = Vec::new();
            for reference in &w.references {
                if let Some(RelType::SubqueryAlias(a)) = &reference.rel_type {
                    let plan = self.relation(required(&a.input)?).await?;
                    self.sources
                        .create_temp_view(std::slice::from_ref(&a.alias), plan, true)?;
                    views.push(a.alias.clone());
                }
            }
            let planned = self.relation(root).await;
            for view in views {
                self.sources.drop_object("VIEW", &[view], true).await?;
            }
            return planned;
        }
        for reference in &w.references {
            let Some(RelationCommon {
                plan_id: Some(id), ..
            }) = &reference.common
            else {
                return Err(Error::internal(
                    "a WithRelations reference without a plan id",
                ));
            };
            self.references().insert(*id, reference.clone());
        }
        self.relation(root).await
    }

    /// Resolves a subquery expression over an input of `schema`.
    pub(super) fn subquery(&self, s: &SubqueryExpression, schema: &DFSchema) -> Result<Named> {
        use spark_connect_proto::spark::connect::subquery_expression::SubqueryType;
        let relation: Relation = self.references().get(&s.plan_id).cloned().ok_or_else(|| {
            Error::internal(format!("the subquery's plan {} was not sent", s.plan_id))
        })?;
        let plan = self.in_outer_scope(schema, || self.relation_now(&relation))?;
        // under a name of its own, so the join DataFusion decorrelates it into does not see
        // the outer query's columns of the same name as ambiguous
        let plan = LogicalPlanBuilder::from(plan)
            .alias(self.fresh_alias())?
            .build()?;
        let kind = SubqueryType::try_from(s.subquery_type).unwrap_or(SubqueryType::Unknown);
        Ok(match kind {
            SubqueryType::Scalar => {
                // its one column under a name of its own, as for IN below (not when it is
                // correlated: DataFusion's decorrelation wants its aggregate on top)
                let columns = plan.schema().columns();
                let plan = match columns.as_slice() {
                    [_] if !plan.all_out_ref_exprs().is_empty() => plan,
                    [c] => LogicalPlanBuilder::from(plan)
                        .project(vec![Expr::Column(c.clone()).alias(self.fresh_alias())])?
                        .build()?,
                    _ => {
                        return Err(Error::analysis(
                            "INVALID_SUBQUERY_EXPRESSION.SCALAR_SUBQUERY_RETURN_MORE_THAN_ONE_OUTPUT_COLUMN",
                            format!(
                                "Invalid subquery: Scalar subquery must return only one column, but got {}.",
                                columns.len()
                            ),
                        ));
                    }
                };
                Named {
                    expr: Expr::ScalarSubquery(subquery_of(plan)),
                    name: "scalarsubquery()".into(),
                }
            }
            SubqueryType::Exists => Named {
                expr: Expr::Exists(Exists::new(subquery_of(plan), false)),
                name: "exists()".into(),
            },
            SubqueryType::In => self.in_subquery(&s.in_subquery_values, plan, schema)?,
            other => {
                return Err(Error::unsupported(format!(
                    "subquery expression of type {}",
                    other.as_str_name()
                )));
            }
        })
    }

    fn in_subquery(
        &self,
        values: &[spark_connect_proto::spark::connect::Expression],
        plan: LogicalPlan,
        schema: &DFSchema,
    ) -> Result<Named> {
        let values: Vec<Named> = values
            .iter()
            .map(|v| self.expr(v, schema))
            .collect::<Result<_>>()?;
        let columns = plan.schema().columns();
        if values.is_empty() || values.len() != columns.len() {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.INVALID_IN_SUBQUERY_LENGTH",
                format!(
                    "The number of columns in the left hand side of an IN subquery does not match the number of columns in the output of subquery. Left hand side columns(length: {}), right hand side columns(length: {}).",
                    values.len(),
                    columns.len()
                ),
            ));
        }
        let label = format!(
            "({} IN (listquery()))",
            if values.len() == 1 {
                values[0].name.clone()
            } else {
                format!(
                    "named_struct({})",
                    values
                        .iter()
                        .map(|v| format!("{0}, {0}", v.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        // the subquery's column under a name of its own, which an unqualified outer column
        // of the same name (`id IN (SELECT id ...)`) cannot be confused with in the join
        let own_name = self.fresh_alias();
        let (value, plan) = if let [one] = values.as_slice() {
            let plan = LogicalPlanBuilder::from(plan)
                .project(vec![Expr::Column(columns[0].clone()).alias(&own_name)])?
                .build()?;
            (one.expr.clone(), plan)
        } else {
            // several values: a struct of them against a struct of the subquery's columns,
            // each cast to its value's type, under the same field names
            let mut left = Vec::new();
            let mut right = Vec::new();
            for (i, (v, c)) in values.iter().zip(columns).enumerate() {
                let name =
                    Expr::Literal(datafusion::scalar::ScalarValue::from(format!("c{i}")), None);
                let t = v.expr.get_type(schema)?;
                left.extend([name.clone(), v.expr.clone()]);
                right.extend([name, Expr::Column(c).cast_to(&t, plan.schema())?]);
            }
            let named_struct = datafusion::functions::core::named_struct();
            let plan = LogicalPlanBuilder::from(plan)
                .project(vec![named_struct.call(right).alias(&own_name)])?
                .build()?;
            (named_struct.call(left), plan)
        };
        Ok(Named {
            expr: Expr::InSubquery(InSubquery::new(Box::new(value), subquery_of(plan), false)),
            name: label,
        })
    }

    /// Resolves `relation` now, from synchronous code, on the server's runtime.
    fn relation_now(&self, relation: &Relation) -> Result<LogicalPlan> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let handle = Handle::try_current()
            .ok()
            .filter(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
            .ok_or_else(|| {
                Error::unsupported("a DataFrame subquery outside a multi-threaded runtime")
            })?;
        tokio::task::block_in_place(|| handle.block_on(self.relation(relation)))
    }
}

/// A subquery of `plan`, with the outer references it holds.
fn subquery_of(plan: LogicalPlan) -> Subquery {
    let outer_ref_columns = plan.all_out_ref_exprs();
    Subquery {
        subquery: Arc::new(plan),
        outer_ref_columns,
        spans: Spans::new(),
    }
}
