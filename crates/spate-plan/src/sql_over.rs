//! SQL text planned over a `FROM` clause: expressions planned as the items of a `SELECT` over
//! a table (so they get Spark's types, functions and errors), and a `FROM`'s columns. Table
//! formats plan their statements' expressions with these (Delta's `DELETE`, `UPDATE`, `MERGE`).

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::sql::sqlparser::ast;
use spate_common::{Error, Result};

use crate::resolver::Resolver;

impl Resolver<'_> {
    /// Plans each of `exprs` as a `SELECT` item over `from` (SQL `FROM` text).
    pub async fn resolve_over(&self, from: &str, exprs: &[ast::Expr]) -> Result<Vec<Expr>> {
        if exprs.is_empty() {
            return Ok(vec![]);
        }
        let items = exprs
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{e} AS `__spate_item_{i}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let plan = self
            .sql_query_plan(&format!("SELECT {items} FROM {from}"))
            .await?;
        let mut found = None;
        plan.apply(|node| {
            if let LogicalPlan::Projection(p) = node
                && p.expr
                    .iter()
                    .any(|e| e.schema_name().to_string() == "__spate_item_0")
            {
                found = Some(p.expr.clone());
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        let items = found.ok_or_else(|| Error::internal("the planned items went missing"))?;
        (0..exprs.len())
            .map(|i| {
                let name = format!("__spate_item_{i}");
                items
                    .iter()
                    .find_map(|e| match e {
                        Expr::Alias(a) if a.name == name => Some(a.expr.as_ref().clone()),
                        _ => None,
                    })
                    .ok_or_else(|| Error::internal(format!("the planned item {name} went missing")))
            })
            .collect()
    }

    /// The column names of the rows of `from` (SQL `FROM` text).
    pub async fn columns_of(&self, from: &str) -> Result<Vec<String>> {
        let plan = self
            .sql_query_plan(&format!("SELECT * FROM {from}"))
            .await?;
        Ok(plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect())
    }

    /// Plans query text through the session's SQL planner.
    pub async fn sql_query_plan(&self, text: &str) -> Result<LogicalPlan> {
        let statement = self.parse_spark(text)?;
        self.plan_statement(statement).await
    }
}
