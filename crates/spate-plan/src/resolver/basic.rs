//! Row-preserving and row-limiting relations: Project (with Spark's implicit global
//! aggregation and window planning), Filter, Sort, Limit, Offset, Tail, SubqueryAlias, Drop,
//! WithColumns, WithColumnsRenamed, ToDF, Deduplicate and Hint.

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema};
use datafusion::logical_expr::utils::find_aggregate_exprs;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, col};
use spark_connect_proto::spark::connect::expression::ExprType;
use spark_connect_proto::spark::connect::{self as sc, Expression};
use spate_common::names::quote;
use spate_common::{Error, Result};

use super::Resolver;
use super::expression::Named;

impl Resolver<'_> {
    /// Expands the select list: `*`, `df["*"]`, `t.*` and `struct.*` become their columns.
    pub(crate) fn select_items(
        &self,
        exprs: &[Expression],
        schema: &DFSchema,
    ) -> Result<Vec<Named>> {
        let mut out = Vec::new();
        for e in exprs {
            match &e.expr_type {
                Some(ExprType::UnresolvedStar(s)) => {
                    out.extend(self.star(s.unparsed_target.as_deref(), s.plan_id, schema)?)
                }
                Some(ExprType::UnresolvedRegex(r)) => {
                    out.extend(self.regex_columns(&r.col_name, r.plan_id, schema)?)
                }
                // selectExpr("*") and selectExpr("t.*"), as Spark's parser reads them
                Some(ExprType::ExpressionString(s)) if s.expression.trim().ends_with('*') => {
                    let text = s.expression.trim();
                    let target = (text != "*").then_some(text);
                    out.extend(self.star(target, None, schema)?)
                }
                _ => out.push(self.output_expr(e, schema)?),
            }
        }
        Ok(out)
    }

    /// `df.colRegex("`pattern`")` in a select: the columns whose whole name the (Java)
    /// regular expression matches, in order; with a plan id, only that DataFrame's columns.
    fn regex_columns(
        &self,
        quoted: &str,
        plan_id: Option<i64>,
        schema: &DFSchema,
    ) -> Result<Vec<Named>> {
        let pattern = quoted
            .strip_prefix('`')
            .and_then(|p| p.strip_suffix('`'))
            .unwrap_or(quoted);
        let whole = fancy_regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            Error::analysis(
                "INVALID_PARAMETER_VALUE.PATTERN",
                format!("colRegex: the pattern '{pattern}' is not a regular expression: {e}"),
            )
        })?;
        let candidates: Vec<Column> = match plan_id {
            Some(id) => {
                let present = schema.columns();
                let mut out: Vec<Column> = Vec::new();
                for c in self.plan_columns(id).into_iter().flatten() {
                    if present.contains(&c) && !out.contains(&c) {
                        out.push(c);
                    }
                }
                out
            }
            None => schema.columns(),
        };
        Ok(candidates
            .into_iter()
            .filter(|c| whole.is_match(&c.name).unwrap_or(false))
            .map(|c| Named {
                name: c.name.clone(),
                expr: Expr::Column(c),
            })
            .collect())
    }

    pub(super) fn star(
        &self,
        target: Option<&str>,
        plan_id: Option<i64>,
        schema: &DFSchema,
    ) -> Result<Vec<Named>> {
        let named = |c: Column| Named {
            name: c.name.clone(),
            expr: Expr::Column(c),
        };
        if let Some(id) = plan_id {
            let present = schema.columns();
            let mut columns: Vec<Column> = Vec::new();
            for c in self.plan_columns(id).into_iter().flatten() {
                if present.contains(&c) && !columns.contains(&c) {
                    columns.push(c);
                }
            }
            if !columns.is_empty() {
                return Ok(columns.into_iter().map(named).collect());
            }
        }
        let Some(target) = target else {
            return Ok(schema.columns().into_iter().map(named).collect());
        };
        let prefix = target
            .trim_end_matches(".*")
            .trim_end_matches('*')
            .trim_end_matches('.');
        let by_qualifier: Vec<Column> = schema
            .columns()
            .into_iter()
            .filter(|c| {
                c.relation
                    .as_ref()
                    .is_some_and(|r| r.table().eq_ignore_ascii_case(prefix))
            })
            .collect();
        if !by_qualifier.is_empty() {
            return Ok(by_qualifier.into_iter().map(named).collect());
        }
        let base = self.column(prefix, None, schema)?;
        match base.expr.get_type(schema)? {
            datafusion::arrow::datatypes::DataType::Struct(fields) => Ok(fields
                .iter()
                .map(|f| Named {
                    expr: datafusion::functions::core::expr_fn::get_field(
                        base.expr.clone(),
                        f.name().as_str(),
                    ),
                    name: f.name().clone(),
                })
                .collect()),
            _ => Err(Error::analysis(
                "CANNOT_RESOLVE_STAR_EXPAND",
                format!("cannot resolve {}.* given input columns", quote(prefix)),
            )),
        }
    }

    /// Projects `items` over `input`, planning aggregates (a global aggregation, as Spark does
    /// for `select(sum(x))`) and window functions first.
    pub(crate) fn build_projection(
        &self,
        input: LogicalPlan,
        items: Vec<Named>,
    ) -> Result<LogicalPlan> {
        // a generator's rows first: the rest of the list is evaluated over them, as in Spark
        let (mut plan, items) = crate::generate::plan_generators(
            input,
            items.into_iter().map(|n| (n.expr, n.name)).collect(),
        )?;
        let items: Vec<Named> = items
            .into_iter()
            .map(|(expr, name)| Named { expr, name })
            .collect();
        let mut items = super::input_order::in_input_order(items, &plan)?;
        let exprs: Vec<Expr> = items.iter().map(|n| n.expr.clone()).collect();
        let aggs = find_aggregate_exprs(exprs.iter());
        if !aggs.is_empty() {
            plan = LogicalPlanBuilder::from(plan)
                .aggregate(Vec::<Expr>::new(), aggs.clone())?
                .build()?;
            items = rebase(items, &by_name(&aggs))?;
        }
        // Window functions may nest (seed 001's RSI averages a `lag` over a window): plan the
        // innermost ones first, as Spark does, then the windows over their results.
        loop {
            let exprs: Vec<Expr> = items.iter().map(|n| n.expr.clone()).collect();
            let windows = innermost_windows(&exprs)?;
            if windows.is_empty() {
                break;
            }
            let mut targets = Vec::new();
            for w in windows {
                // Each window result is renamed in a projection of its own: DataFusion's common
                // subexpression elimination mishandles expressions over a window result when
                // window nodes are stacked directly.
                let before: Vec<Expr> = plan
                    .schema()
                    .columns()
                    .into_iter()
                    .map(Expr::Column)
                    .collect();
                plan = LogicalPlanBuilder::window_plan(plan, vec![w.clone()])?;
                let last = plan.schema().fields().len() - 1;
                let name = self.fresh_alias();
                let mut exprs = before;
                exprs.push(
                    Expr::Column(Column::from(plan.schema().qualified_field(last)))
                        .alias(name.as_str()),
                );
                plan = LogicalPlanBuilder::from(plan).project(exprs)?.build()?;
                targets.push((w, Column::from_name(name)));
            }
            items = rebase(items, &targets)?;
        }
        super::project(
            plan,
            crate::output_names::unique_aliases(
                items.into_iter().map(|n| (n.expr, n.name)).collect(),
            ),
        )
    }

    pub(super) async fn project(&self, p: &sc::Project) -> Result<LogicalPlan> {
        let sc::Project { input, expressions } = p;
        let plan = match input {
            Some(_) => self.input(input).await?,
            None => LogicalPlanBuilder::empty(true).build()?,
        };
        let items = self.select_items(expressions, plan.schema())?;
        self.build_projection(plan, items)
    }

    pub(super) async fn filter(&self, f: &sc::Filter) -> Result<LogicalPlan> {
        let sc::Filter { input, condition } = f;
        let plan = self.input(input).await?;
        let cond = self.expr(super::expression::required(condition)?, plan.schema())?;
        Ok(LogicalPlanBuilder::from(plan).filter(cond.expr)?.build()?)
    }

    pub(super) async fn sort_relation(&self, s: &sc::Sort) -> Result<LogicalPlan> {
        let sc::Sort {
            input,
            order,
            is_global,
        } = s;
        let plan = self.input(input).await?;
        let sorts = order
            .iter()
            .map(|o| Ok(self.sort(o, plan.schema())?.0))
            .collect::<Result<Vec<_>>>()?;
        if *is_global == Some(false) {
            // sortWithinPartitions
            return Ok(crate::sort_within::sort_within_partitions(plan, sorts));
        }
        Ok(LogicalPlanBuilder::from(plan).sort(sorts)?.build()?)
    }

    pub(super) async fn limit(&self, l: &sc::Limit) -> Result<LogicalPlan> {
        let sc::Limit { input, limit } = l;
        let plan = self.input(input).await?;
        let n = usize::try_from(*limit).map_err(|_| {
            Error::analysis(
                "INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE",
                format!("the limit must be non-negative, got {limit}"),
            )
        })?;
        Ok(LogicalPlanBuilder::from(plan).limit(0, Some(n))?.build()?)
    }

    pub(super) async fn offset(&self, o: &sc::Offset) -> Result<LogicalPlan> {
        let sc::Offset { input, offset } = o;
        let plan = self.input(input).await?;
        let n = usize::try_from(*offset).map_err(|_| {
            Error::analysis(
                "INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE",
                format!("the offset must be non-negative, got {offset}"),
            )
        })?;
        Ok(LogicalPlanBuilder::from(plan).limit(n, None)?.build()?)
    }

    pub(super) async fn subquery_alias(&self, s: &sc::SubqueryAlias) -> Result<LogicalPlan> {
        let sc::SubqueryAlias {
            input,
            alias,
            qualifier: _,
        } = s;
        let plan = self.input(input).await?;
        Ok(LogicalPlanBuilder::from(plan)
            .alias(alias.as_str())?
            .build()?)
    }

    pub(super) async fn drop(&self, d: &sc::Drop) -> Result<LogicalPlan> {
        let sc::Drop {
            input,
            columns,
            column_names,
        } = d;
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        // a column that is not there is ignored, as Spark ignores it; an ambiguous one fails
        let mut dropped: Vec<Column> = Vec::new();
        for e in columns {
            match self.expr(e, &schema) {
                Ok(Named {
                    expr: Expr::Column(c),
                    ..
                }) => dropped.push(c),
                Err(Error::Analysis {
                    class,
                    message,
                    params,
                }) if class == "AMBIGUOUS_REFERENCE" => {
                    return Err(Error::Analysis {
                        class,
                        message,
                        params,
                    });
                }
                _ => {}
            }
        }
        let keep: Vec<Expr> = schema
            .columns()
            .into_iter()
            .filter(|c| {
                !dropped.contains(c)
                    && !column_names.iter().any(|n| n.eq_ignore_ascii_case(&c.name))
            })
            .map(Expr::Column)
            .collect();
        super::project(plan, keep)
    }

    pub(super) async fn with_columns(&self, w: &sc::WithColumns) -> Result<LogicalPlan> {
        let sc::WithColumns { input, aliases } = w;
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        let mut items: Vec<Named> = schema
            .columns()
            .into_iter()
            .map(|c| Named {
                name: c.name.clone(),
                expr: Expr::Column(c),
            })
            .collect();
        for a in aliases {
            let sc::expression::Alias {
                expr,
                name,
                metadata,
            } = a;
            let value = self.expr(super::expression::required(expr)?, &schema)?;
            let name = name.first().cloned().unwrap_or(value.name);
            // a generator's one output column takes the new column's name
            let expr =
                crate::functions::generator::with_aliases(&value.expr, std::slice::from_ref(&name))
                    .unwrap_or(value.expr);
            let expr = match crate::types::spark_metadata(metadata.as_deref()) {
                Some(m) => expr.alias_with_metadata(name.clone(), Some(m)),
                None => expr,
            };
            let new = Named {
                expr,
                name: name.clone(),
            };
            match items
                .iter()
                .position(|n| n.name.eq_ignore_ascii_case(&name))
            {
                Some(i) => items[i] = new,
                None => items.push(new),
            }
        }
        self.build_projection(plan, items)
    }

    pub(super) async fn with_columns_renamed(
        &self,
        w: &sc::WithColumnsRenamed,
    ) -> Result<LogicalPlan> {
        let sc::WithColumnsRenamed {
            input,
            rename_columns_map,
            renames,
        } = w;
        let plan = self.input(input).await?;
        let mut pairs: Vec<(String, String)> = rename_columns_map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.extend(
            renames
                .iter()
                .map(|r| (r.col_name.clone(), r.new_col_name.clone())),
        );
        let exprs: Vec<Expr> = plan
            .schema()
            .columns()
            .into_iter()
            .map(|c| {
                match pairs
                    .iter()
                    .rev()
                    .find(|(from, _)| from.eq_ignore_ascii_case(&c.name))
                {
                    Some((_, to)) => Expr::Column(c).alias(to),
                    None => Expr::Column(c),
                }
            })
            .collect();
        super::project(plan, exprs)
    }

    pub(super) async fn to_df(&self, t: &sc::ToDf) -> Result<LogicalPlan> {
        let sc::ToDf {
            input,
            column_names,
        } = t;
        let plan = self.input(input).await?;
        let columns = plan.schema().columns();
        if columns.len() != column_names.len() {
            return Err(Error::analysis(
                "NUM_COLUMNS_MISMATCH",
                format!(
                    "toDF() got {} names for {} columns",
                    column_names.len(),
                    columns.len()
                ),
            ));
        }
        let exprs: Vec<Expr> = columns
            .into_iter()
            .zip(column_names)
            .map(|(c, n)| Expr::Column(c).alias(n))
            .collect();
        super::project(plan, exprs)
    }

    /// `df.to(schema)`: columns matched by name, reordered and cast to the schema's types.
    pub(super) async fn to_schema(&self, t: &sc::ToSchema) -> Result<LogicalPlan> {
        let sc::ToSchema { input, schema } = t;
        let plan = self.input(input).await?;
        let target = schema
            .as_ref()
            .ok_or_else(|| Error::internal("to() without a schema"))?;
        let datafusion::arrow::datatypes::DataType::Struct(fields) =
            crate::types::from_proto(target, &self.tz)?
        else {
            return Err(Error::analysis(
                "INVALID_SCHEMA",
                "to() needs a struct schema",
            ));
        };
        let input_schema = plan.schema().clone();
        let exprs = fields
            .iter()
            .map(|f| {
                let c = self.column(f.name(), None, &input_schema)?;
                Ok(datafusion::logical_expr::cast(c.expr, f.data_type().clone()).alias(f.name()))
            })
            .collect::<Result<Vec<_>>>()?;
        super::project(plan, exprs)
    }

    pub(super) async fn deduplicate(&self, d: &sc::Deduplicate) -> Result<LogicalPlan> {
        let sc::Deduplicate {
            input,
            column_names,
            all_columns_as_keys,
            within_watermark,
        } = d;
        let plan = self.input(input).await?;
        if crate::streaming::is_streaming(&plan) {
            return self.deduplicate_stream(plan, column_names, within_watermark.unwrap_or(false));
        }
        if all_columns_as_keys.unwrap_or(false) || column_names.is_empty() {
            return Ok(LogicalPlanBuilder::from(plan).distinct()?.build()?);
        }
        let schema = plan.schema().clone();
        let keys = column_names
            .iter()
            .map(|n| Ok(self.column(n, None, &schema)?.expr))
            .collect::<Result<Vec<_>>>()?;
        let all: Vec<Expr> = schema.columns().into_iter().map(Expr::Column).collect();
        Ok(LogicalPlanBuilder::from(plan)
            .distinct_on(keys, all, None)?
            .build()?)
    }

    /// `dropDuplicates` on a stream: a streaming deduplication over `keys` (every column when
    /// none are given).
    fn deduplicate_stream(
        &self,
        plan: LogicalPlan,
        column_names: &[String],
        within_watermark: bool,
    ) -> Result<LogicalPlan> {
        let schema = plan.schema().clone();
        let keys = if column_names.is_empty() {
            schema.columns()
        } else {
            column_names
                .iter()
                .map(|n| match self.column(n, None, &schema)?.expr {
                    Expr::Column(c) => Ok(c),
                    other => Err(Error::internal(format!(
                        "a deduplication key resolved to {other}, not a column"
                    ))),
                })
                .collect::<Result<Vec<_>>>()?
        };
        Ok(LogicalPlan::Extension(
            datafusion::logical_expr::Extension {
                node: std::sync::Arc::new(crate::streaming::DeduplicateNode {
                    input: plan,
                    keys,
                    within_watermark,
                }),
            },
        ))
    }

    /// `withWatermark`: on a stream, the watermark node the micro-batch runtime reads; on a
    /// batch DataFrame Spark checks the column and ignores the watermark, since a batch query
    /// sees all its data at once.
    pub(super) async fn with_watermark(&self, w: &sc::WithWatermark) -> Result<LogicalPlan> {
        let sc::WithWatermark {
            input,
            event_time,
            delay_threshold,
        } = w;
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        if !schema
            .fields()
            .iter()
            .any(|f| f.name().eq_ignore_ascii_case(event_time))
        {
            return Err(super::expression::unresolved_column(event_time, &schema));
        }
        if crate::streaming::is_streaming(&plan) {
            let Expr::Column(column) = self.column(event_time, None, &schema)?.expr else {
                return Err(super::expression::unresolved_column(event_time, &schema));
            };
            return crate::streaming::WatermarkNode::plan(plan, column, delay_threshold);
        }
        Ok(plan)
    }

    pub(super) async fn hint(&self, h: &sc::Hint) -> Result<LogicalPlan> {
        let sc::Hint {
            input,
            name,
            parameters: _,
        } = h;
        let plan = self.input(input).await?;
        // Join strategy hints mark the input for the join above; Spark ignores unknown hints.
        Ok(match crate::join_hints::JoinHint::from_name(name) {
            Some(hint) => crate::join_hints::hinted(plan, hint),
            None => plan,
        })
    }
}

/// Replaces occurrences of `targets` inside `items` by references to the columns that an
/// aggregate or window node below produced for them.
pub(crate) fn rebase(items: Vec<Named>, targets: &[(Expr, Column)]) -> Result<Vec<Named>> {
    items
        .into_iter()
        .map(|n| {
            let expr = n
                .expr
                .transform_down(|e| match targets.iter().find(|(t, _)| *t == e) {
                    Some((_, c)) => Ok(Transformed::yes(col(c.clone()))),
                    None => Ok(Transformed::no(e)),
                })?
                .data;
            Ok(Named { expr, name: n.name })
        })
        .collect()
}

/// Pairs computed expressions with the unqualified output columns named after them.
pub(crate) fn by_name(exprs: &[Expr]) -> Vec<(Expr, Column)> {
    exprs
        .iter()
        .map(|e| (e.clone(), Column::from_name(e.schema_name().to_string())))
        .collect()
}

/// Window function calls that contain no other window function call, deduplicated.
fn innermost_windows(exprs: &[Expr]) -> Result<Vec<Expr>> {
    let mut out: Vec<Expr> = Vec::new();
    for e in exprs {
        e.apply(|node| {
            if matches!(node, Expr::WindowFunction(_)) {
                let mut calls = 0;
                node.apply(|inner| {
                    if matches!(inner, Expr::WindowFunction(_)) {
                        calls += 1;
                    }
                    Ok(TreeNodeRecursion::Continue)
                })?;
                if calls == 1 && !out.contains(node) {
                    out.push(node.clone());
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
    }
    Ok(out)
}
