//! The latest row per key without sorting every row: `row_number()` over a partitioned window,
//! kept where it is at most `k` — seed 002's "latest snapshot per user"
//! (`withColumn("row_num", row_number().over(w)).filter("row_num = 1")`), the usual
//! deduplication of Spark pipelines. Spark plans it with a `WindowGroupLimit` below the window,
//! for `k` up to `spark.sql.optimizer.windowGroupLimitThreshold` (1000; -1: off);
//! [`TopRowsPerKey`] does the same with DataFusion's `PartitionedTopKExec`, which keeps the
//! first `k` rows of each key in a heap as rows stream by, so the sort the window needs sorts
//! `k` rows per key, not all of them; the filter, then true of every row, goes.
//!
//! DataFusion has this rewrite too (`WindowTopN`, off by default), but it reads the filter's
//! column as a position in the window's output even through projections that move columns,
//! and it keeps other window expressions of the same operator, whose values over the full
//! partition would change. This rule follows the column through the projections, accepts
//! `= 1` (a row number is never below 1), and leaves a window operator computing anything
//! besides the row number alone.

use std::sync::Arc;

use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, CastExpr, Column, Literal};
use datafusion::physical_expr::window::StandardWindowExpr;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::partitioned_topk::{PartitionedTopKExec, WindowFnKind};
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowUDFExpr};

/// The DataFusion rule this one runs before: the sorts are not in place yet.
pub const BEFORE_RULE: &str = "WindowTopN";

/// Puts a per-key top-k below a `row_number()` window filtered to its first rows.
#[derive(Debug)]
pub struct TopRowsPerKey;

impl PhysicalOptimizerRule for TopRowsPerKey {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        // Spark's `spark.sql.optimizer.windowGroupLimitThreshold` (1000): larger limits keep
        // the sort, -1 turns the rewrite off
        let threshold = config
            .extensions
            .get::<crate::options::SpateOptions>()
            .map_or(Some(1000), |o| o.window_group_limit);
        let Some(threshold) = threshold else {
            return Ok(plan);
        };
        plan.transform_down(|p| match rewrite(&p, threshold)? {
            Some(new) => Ok(Transformed::yes(new)),
            None => Ok(Transformed::no(p)),
        })
        .data()
    }

    fn name(&self) -> &str {
        "top_rows_per_key"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The plan without the filter and with the top-k, when `plan` is such a filter.
fn rewrite(
    plan: &Arc<dyn ExecutionPlan>,
    threshold: usize,
) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
    let Some(filter) = plan.downcast_ref::<FilterExec>() else {
        return Ok(None);
    };
    if filter.projection().is_some() {
        return Ok(None);
    }
    let Some((mut column, k)) = limit_of(filter.predicate()) else {
        return Ok(None);
    };
    if k == 0 || k > threshold {
        return Ok(None);
    }
    // down through projections that pass the column on (renamed or cast)
    let mut projections = Vec::new();
    let mut node = Arc::clone(filter.input());
    while let Some(p) = node.downcast_ref::<ProjectionExec>() {
        let Some(e) = p.expr().get(column) else {
            return Ok(None);
        };
        let Some(c) = passed_column(&e.expr) else {
            return Ok(None);
        };
        column = c;
        projections.push(Arc::clone(&node));
        node = Arc::clone(p.input());
    }
    let Some(window) = node.downcast_ref::<BoundedWindowAggExec>() else {
        return Ok(None);
    };
    let inputs = window.input().schema().fields().len();
    let [expr] = window.window_expr() else {
        return Ok(None);
    };
    if column != inputs || !is_row_number(expr) || expr.partition_by().is_empty() {
        return Ok(None);
    }
    let Some(ordering) = LexOrdering::new(
        expr.partition_by()
            .iter()
            .map(|e| PhysicalSortExpr::new_default(Arc::clone(e)))
            .chain(expr.order_by().iter().cloned()),
    ) else {
        return Ok(None);
    };
    let top = PartitionedTopKExec::try_new(
        Arc::clone(window.input()),
        ordering,
        expr.partition_by().len(),
        k,
        WindowFnKind::RowNumber,
    )?;
    let mut out = replace_children_if_necessary(Arc::clone(&node), vec![Arc::new(top)])?;
    for p in projections.into_iter().rev() {
        out = replace_children_if_necessary(p, vec![out])?;
    }
    Ok(Some(out))
}

/// `(column, k)` of a predicate that keeps row numbers up to `k`.
fn limit_of(predicate: &Arc<dyn PhysicalExpr>) -> Option<(usize, usize)> {
    let b = predicate.downcast_ref::<BinaryExpr>()?;
    let (column, n, op) = match (
        b.left().downcast_ref::<Column>(),
        b.right().downcast_ref::<Literal>(),
    ) {
        (Some(c), Some(l)) => (c.index(), count(l.value())?, *b.op()),
        _ => {
            let l = b.left().downcast_ref::<Literal>()?;
            let c = b.right().downcast_ref::<Column>()?;
            (c.index(), count(l.value())?, b.op().swap()?)
        }
    };
    match op {
        Operator::Eq if n == 1 => Some((column, 1)),
        Operator::LtEq => Some((column, n)),
        Operator::Lt => Some((column, n.checked_sub(1)?)),
        _ => None,
    }
}

/// A non-negative integer literal.
fn count(v: &ScalarValue) -> Option<usize> {
    if !v.data_type().is_integer() {
        return None;
    }
    match v
        .cast_to(&datafusion::arrow::datatypes::DataType::Int64)
        .ok()?
    {
        ScalarValue::Int64(Some(n)) => usize::try_from(n).ok(),
        _ => None,
    }
}

/// The input column a projection passes on as it is or cast to another integer type.
fn passed_column(e: &Arc<dyn PhysicalExpr>) -> Option<usize> {
    if let Some(c) = e.downcast_ref::<Column>() {
        return Some(c.index());
    }
    let cast = e.downcast_ref::<CastExpr>()?;
    if !cast.cast_type().is_integer() {
        return None;
    }
    cast.expr().downcast_ref::<Column>().map(Column::index)
}

fn is_row_number(e: &Arc<dyn datafusion::physical_plan::WindowExpr>) -> bool {
    e.as_any()
        .downcast_ref::<StandardWindowExpr>()
        .and_then(|s| {
            s.get_standard_func_expr()
                .as_any()
                .downcast_ref::<WindowUDFExpr>()
        })
        .is_some_and(|u| u.fun().name() == "row_number")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    fn context() -> datafusion::error::Result<SessionContext> {
        context_with(1000)
    }

    /// With `spark.sql.optimizer.windowGroupLimitThreshold` at `threshold`.
    fn context_with(threshold: i64) -> datafusion::error::Result<SessionContext> {
        // 3000 rows: key p = i % 7, value v unique (a permutation of 0..3000)
        let schema = Arc::new(Schema::new(vec![
            Field::new("p", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]));
        let n = 3000i64;
        let batches = (0..n)
            .collect::<Vec<_>>()
            .chunks(100)
            .map(|c| {
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![
                        Arc::new(Int64Array::from_iter_values(c.iter().map(|i| i % 7))),
                        Arc::new(Int64Array::from_iter_values(
                            c.iter().map(|i| (i * 1237) % n),
                        )),
                    ],
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = Vec::new();
        for rule in datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules {
            if rule.name() == super::BEFORE_RULE {
                rules.push(Arc::new(super::TopRowsPerKey) as _);
            }
            rules.push(rule);
        }
        let options = crate::options::SpateOptions {
            window_group_limit: usize::try_from(threshold).ok(),
            ..Default::default()
        };
        let state = SessionStateBuilder::new()
            .with_config(
                SessionConfig::new()
                    .with_target_partitions(2)
                    .with_batch_size(64)
                    .with_option_extension(options),
            )
            .with_default_features()
            .with_physical_optimizer_rules(rules)
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![batches])?))?;
        Ok(ctx)
    }

    async fn plan_and_rows(sql: &str) -> datafusion::error::Result<(String, Vec<(i64, i64)>)> {
        plan_and_rows_in(context()?, sql).await
    }

    async fn plan_and_rows_in(
        ctx: SessionContext,
        sql: &str,
    ) -> datafusion::error::Result<(String, Vec<(i64, i64)>)> {
        let df = ctx.sql(sql).await?;
        let plan = df.clone().create_physical_plan().await?;
        let shown = displayable(plan.as_ref()).indent(true).to_string();
        let mut rows = Vec::new();
        for b in df.collect().await? {
            let (p, v) = (
                b.column(0).as_primitive::<Int64Type>(),
                b.column(1).as_primitive::<Int64Type>(),
            );
            rows.extend((0..b.num_rows()).map(|i| (p.value(i), v.value(i))));
        }
        rows.sort();
        Ok((shown, rows))
    }

    /// The `k` largest values of each key, computed here.
    fn expected(k: usize) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        for p in 0..7 {
            let mut vs: Vec<i64> = (0..3000i64)
                .filter(|i| i % 7 == p)
                .map(|i| (i * 1237) % 3000)
                .collect();
            vs.sort_by(|a, b| b.cmp(a));
            out.extend(vs.into_iter().take(k).map(|v| (p, v)));
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn first_rows_per_key_skip_the_full_sort() -> datafusion::error::Result<()> {
        for (filter, k) in [
            ("rn = 1", 1),
            ("1 = rn", 1),
            ("rn <= 3", 3),
            ("rn < 3", 2),
            ("4 >= rn", 4),
        ] {
            let sql = format!(
                "SELECT p, v FROM (SELECT p, v, row_number() OVER (PARTITION BY p ORDER BY v DESC) AS rn FROM t) WHERE {filter}"
            );
            let (plan, rows) = plan_and_rows(&sql).await?;
            assert!(plan.contains("PartitionedTopKExec"), "{filter}:\n{plan}");
            assert!(!plan.contains("FilterExec"), "{filter}:\n{plan}");
            assert_eq!(rows, expected(k), "{filter}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn other_filters_and_windows_keep_their_plan() -> datafusion::error::Result<()> {
        for sql in [
            // rn = 2 is not a prefix of each key's rows
            "SELECT p, v FROM (SELECT p, v, row_number() OVER (PARTITION BY p ORDER BY v DESC) AS rn FROM t) WHERE rn = 2",
            // another window value of the same operator sees every row of the key
            "SELECT p, v, c FROM (SELECT p, v, row_number() OVER (PARTITION BY p ORDER BY v DESC) AS rn, \
             count(*) OVER (PARTITION BY p ORDER BY v DESC) AS c FROM t) WHERE rn = 1",
            "SELECT p, v FROM (SELECT p, v, rank() OVER (PARTITION BY p ORDER BY v DESC) AS rn FROM t) WHERE rn = 1",
        ] {
            let (plan, rows) = plan_and_rows(sql).await?;
            assert!(!plan.contains("PartitionedTopKExec"), "{sql}:\n{plan}");
            assert!(!rows.is_empty(), "{sql}");
        }
        // the filtered answer is still right without the rewrite
        let (_, rows) = plan_and_rows(
            "SELECT p, v FROM (SELECT p, v, row_number() OVER (PARTITION BY p ORDER BY v DESC) AS rn FROM t) WHERE rn = 2",
        )
        .await?;
        let (top2, top1) = (expected(2), expected(1));
        assert_eq!(
            rows,
            top2.into_iter()
                .filter(|r| !top1.contains(r))
                .collect::<Vec<_>>()
        );
        Ok(())
    }

    #[tokio::test]
    async fn limits_above_the_threshold_keep_the_sort() -> datafusion::error::Result<()> {
        let sql = "SELECT p, v FROM (SELECT p, v, row_number() OVER (PARTITION BY p ORDER BY v DESC) AS rn FROM t) WHERE rn <= 3";
        for (threshold, rewritten) in [(3, true), (2, false), (-1, false)] {
            let (plan, rows) = plan_and_rows_in(context_with(threshold)?, sql).await?;
            assert_eq!(
                plan.contains("PartitionedTopKExec"),
                rewritten,
                "{threshold}:\n{plan}"
            );
            assert_eq!(rows, expected(3), "{threshold}");
        }
        Ok(())
    }
}
