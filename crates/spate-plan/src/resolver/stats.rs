//! Statistics relations: `describe`, `summary`, `crosstab`, `cov`, `corr`, `approxQuantile`
//! and `freqItems`.
//!
//! `describe`/`summary` stay lazy plans: one global aggregate computes every statistic of
//! every column as Spark's text, then an array of one struct per statistic is unnested into
//! rows. Percentiles are exact — the element at rank `ceil(p * n)` of the sorted non-null
//! values, which is what Spark's `percentile_approx` returns within its error bound — at the
//! cost of holding a column's values per aggregate. `crosstab` and `freqItems` run their input
//! while planning (their output columns or values depend on the data, as in Spark).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, ListArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{Column, DFSchema};
use datafusion::functions::core::expr_fn::{get_field, named_struct};
use datafusion::functions_nested::expr_fn::{array_element, array_sort, make_array};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, col, lit};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect as sc;
use spate_common::{Error, Result};

use super::Resolver;
use super::expression::Named;
use crate::{display, functions, types};

/// One statistic of `summary()`.
#[derive(Debug, Clone, PartialEq)]
enum Stat {
    Count,
    Mean,
    Stddev,
    Min,
    Max,
    Percentile(f64),
    CountDistinct,
    ApproxCountDistinct,
}

fn parse_stat(s: &str) -> Result<Stat> {
    Ok(match s.to_lowercase().as_str() {
        "count" => Stat::Count,
        "mean" => Stat::Mean,
        "stddev" => Stat::Stddev,
        "min" => Stat::Min,
        "max" => Stat::Max,
        "count_distinct" => Stat::CountDistinct,
        "approx_count_distinct" => Stat::ApproxCountDistinct,
        other => match other.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) {
            Some(p) if (0.0..=100.0).contains(&p) => Stat::Percentile(p / 100.0),
            _ => {
                return Err(Error::IllegalArgument(format!(
                    "{s} is not a recognised statistic"
                )));
            }
        },
    })
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric()
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl Resolver<'_> {
    /// The value at rank `ceil(p * n)` of the sorted non-null values of `c`.
    fn exact_percentile(&self, c: Expr, p: f64) -> Result<Expr> {
        let values =
            self.aggregate_call("array_agg", vec![c.clone()], Some(c.clone().is_not_null()))?;
        let count = self.aggregate_call("count", vec![c], None)?;
        let rank = datafusion::functions::core::expr_fn::greatest(vec![
            lit(1i64),
            datafusion::logical_expr::cast(
                datafusion::functions::math::expr_fn::ceil(
                    lit(p) * datafusion::logical_expr::cast(count, DataType::Float64),
                ),
                DataType::Int64,
            ),
        ]);
        Ok(array_element(
            array_sort(values, lit("ASC"), lit("NULLS LAST")),
            rank,
        ))
    }

    /// The expression computing `stat` of column `c` (of type `t`) as Spark's text.
    fn stat_text(&self, stat: &Stat, c: Expr, t: &DataType) -> Result<Expr> {
        let as_double = || datafusion::logical_expr::try_cast(c.clone(), DataType::Float64);
        let value = match stat {
            Stat::Count => self.aggregate_call("count", vec![c], None)?,
            Stat::Mean => self.aggregate_call("avg", vec![as_double()], None)?,
            Stat::Stddev => self.aggregate_call("stddev", vec![as_double()], None)?,
            Stat::Min => self.aggregate_call("min", vec![c], None)?,
            Stat::Max => self.aggregate_call("max", vec![c], None)?,
            Stat::CountDistinct => self.aggregate_call_with("count", vec![c], true, None)?,
            Stat::ApproxCountDistinct => {
                self.aggregate_call("approx_count_distinct", vec![c], None)?
            }
            Stat::Percentile(p) if is_numeric(t) => self.exact_percentile(c, *p)?,
            Stat::Percentile(_) => return Ok(Expr::Literal(ScalarValue::Utf8(None), None)),
        };
        Ok(functions::to_spark_string(value, &self.tz))
    }

    /// `summary` rows for `columns` of `plan`: a `summary` column then one string column each.
    fn summarize(
        &self,
        plan: LogicalPlan,
        columns: &[Named],
        stats: &[(Stat, String)],
    ) -> Result<LogicalPlan> {
        let schema = plan.schema().clone();
        let mut items = Vec::new();
        for (i, (stat, _)) in stats.iter().enumerate() {
            for (j, c) in columns.iter().enumerate() {
                let t = c.expr.get_type(&schema)?;
                items.push(Named {
                    expr: self.stat_text(stat, c.expr.clone(), &t)?,
                    name: format!("__s{i}_{j}"),
                });
            }
        }
        let one_row = self.build_projection(plan, items)?;
        let rows: Vec<Expr> = stats
            .iter()
            .enumerate()
            .map(|(i, (_, label))| {
                let mut fields = vec![lit("summary"), lit(label.as_str())];
                for j in 0..columns.len() {
                    fields.push(lit(format!("c{j}")));
                    fields.push(col(Column::from_name(format!("__s{i}_{j}"))));
                }
                named_struct(fields)
            })
            .collect();
        let exploded = LogicalPlanBuilder::from(one_row)
            .project(vec![make_array(rows).alias("__rows")])?
            .unnest_column("__rows")?
            .build()?;
        let mut out = vec![get_field(col("__rows"), "summary").alias("summary")];
        for (j, c) in columns.iter().enumerate() {
            out.push(get_field(col("__rows"), format!("c{j}")).alias(c.name.as_str()));
        }
        Ok(LogicalPlanBuilder::from(exploded).project(out)?.build()?)
    }

    /// The numeric and string columns of a schema, or the named ones.
    fn stat_columns(&self, names: &[String], schema: &DFSchema) -> Result<Vec<Named>> {
        if names.is_empty() {
            return Ok(schema
                .columns()
                .into_iter()
                .zip(schema.fields())
                .filter(|(_, f)| is_numeric(f.data_type()) || is_string(f.data_type()))
                .map(|(c, f)| Named {
                    expr: Expr::Column(c),
                    name: f.name().clone(),
                })
                .collect());
        }
        names.iter().map(|n| self.column(n, None, schema)).collect()
    }

    pub(super) async fn describe(&self, d: &sc::StatDescribe) -> Result<LogicalPlan> {
        let sc::StatDescribe { input, cols } = d;
        let plan = self.input(input).await?;
        let columns = self.stat_columns(cols, plan.schema())?;
        let stats: Vec<(Stat, String)> = ["count", "mean", "stddev", "min", "max"]
            .iter()
            .map(|s| Ok((parse_stat(s)?, s.to_string())))
            .collect::<Result<_>>()?;
        self.summarize(plan, &columns, &stats)
    }

    pub(super) async fn summary(&self, s: &sc::StatSummary) -> Result<LogicalPlan> {
        let sc::StatSummary { input, statistics } = s;
        let plan = self.input(input).await?;
        let columns = self.stat_columns(&[], plan.schema())?;
        let names: Vec<String> = if statistics.is_empty() {
            ["count", "mean", "stddev", "min", "25%", "50%", "75%", "max"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            statistics.clone()
        };
        let stats: Vec<(Stat, String)> = names
            .iter()
            .map(|s| Ok((parse_stat(s)?, s.clone())))
            .collect::<Result<_>>()?;
        self.summarize(plan, &columns, &stats)
    }

    /// A numeric column for `cov`/`corr` as a double, nulls counted as 0.0 as Spark's
    /// `DataFrameStatFunctions` do, or Spark's error for other types.
    fn numeric_or_zero(&self, name: &str, schema: &DFSchema, what: &str) -> Result<Expr> {
        let e = self.numeric_column(name, schema, what)?;
        Ok(datafusion::functions::core::expr_fn::coalesce(vec![
            e,
            lit(0.0f64),
        ]))
    }

    /// A numeric column as a double, or Spark's error for other types.
    fn numeric_column(&self, name: &str, schema: &DFSchema, what: &str) -> Result<Expr> {
        let c = self.column(name, None, schema)?;
        let t = c.expr.get_type(schema)?;
        if !is_numeric(&t) {
            return Err(Error::IllegalArgument(format!(
                "Currently {what} calculation for columns with dataType {} not supported.",
                types::simple_string(&t)
            )));
        }
        Ok(datafusion::logical_expr::cast(c.expr, DataType::Float64))
    }

    pub(super) async fn stat_cov(&self, s: &sc::StatCov) -> Result<LogicalPlan> {
        let sc::StatCov { input, col1, col2 } = s;
        self.pair_statistic(input, col1, col2, "covar_samp", "covariance")
            .await
    }

    pub(super) async fn stat_corr(&self, s: &sc::StatCorr) -> Result<LogicalPlan> {
        let sc::StatCorr {
            input,
            col1,
            col2,
            method,
        } = s;
        if let Some(m) = method
            && !m.eq_ignore_ascii_case("pearson")
        {
            return Err(Error::IllegalArgument(format!(
                "Currently only the calculation of the Pearson Correlation coefficient is supported, not {m}."
            )));
        }
        self.pair_statistic(input, col1, col2, "corr", "correlation")
            .await
    }

    /// One row with `function(col1, col2)` over two numeric columns (nulls as 0.0).
    async fn pair_statistic(
        &self,
        input: &Option<Box<sc::Relation>>,
        col1: &str,
        col2: &str,
        function: &str,
        what: &str,
    ) -> Result<LogicalPlan> {
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        let a = self.numeric_or_zero(col1, &schema, what)?;
        let b = self.numeric_or_zero(col2, &schema, what)?;
        let value = self.aggregate_call(function, vec![a, b], None)?;
        self.build_projection(
            plan,
            vec![Named {
                expr: value,
                name: format!("{function}({col1}, {col2})"),
            }],
        )
    }

    pub(super) async fn approx_quantile(&self, q: &sc::StatApproxQuantile) -> Result<LogicalPlan> {
        let sc::StatApproxQuantile {
            input,
            cols,
            probabilities,
            relative_error,
        } = q;
        if *relative_error < 0.0 {
            return Err(Error::IllegalArgument(format!(
                "Relative Error must be non-negative but got {relative_error}"
            )));
        }
        if let Some(p) = probabilities.iter().find(|p| !(0.0..=1.0).contains(*p)) {
            return Err(Error::IllegalArgument(format!(
                "percentile should be in the range [0.0, 1.0], but got {p}"
            )));
        }
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        let mut per_column = Vec::new();
        for c in cols {
            let e = self.numeric_column(c, &schema, "quantile")?;
            let values = probabilities
                .iter()
                .map(|p| self.exact_percentile(e.clone(), *p))
                .collect::<Result<Vec<_>>>()?;
            per_column.push(make_array(values));
        }
        self.build_projection(
            plan,
            vec![Named {
                expr: make_array(per_column),
                name: "approx_quantile".into(),
            }],
        )
    }

    pub(super) async fn crosstab(&self, c: &sc::StatCrosstab) -> Result<LogicalPlan> {
        let sc::StatCrosstab { input, col1, col2 } = c;
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        let text = |name: &str| -> Result<Expr> {
            let c = self.column(name, None, &schema)?;
            Ok(datafusion::functions::core::expr_fn::coalesce(vec![
                functions::to_spark_string(c.expr, &self.tz),
                lit("null"),
            ]))
        };
        let keyed = LogicalPlanBuilder::from(plan)
            .project(vec![text(col1)?.alias("__k1"), text(col2)?.alias("__k2")])?
            .build()?;
        let distinct = LogicalPlanBuilder::from(keyed.clone())
            .project(vec![col("__k2")])?
            .distinct()?
            .sort(vec![col("__k2").sort(true, true)])?
            .build()?;
        let values: Vec<String> = self
            .column_values(distinct, "crosstab values")
            .await?
            .iter()
            .map(|v| display::format_scalar(v, &self.tz))
            .collect();
        let mut counts = Vec::new();
        for v in &values {
            let count = self.aggregate_call(
                "count",
                vec![lit(1i64)],
                Some(col("__k2").eq(lit(v.as_str()))),
            )?;
            counts.push(count.alias(v.as_str()));
        }
        let grouped = LogicalPlanBuilder::from(keyed)
            .aggregate(vec![col("__k1")], counts)?
            .build()?;
        let mut out = vec![col("__k1").alias(format!("{col1}_{col2}"))];
        out.extend(values.iter().map(|v| col(Column::from_name(v.clone()))));
        Ok(LogicalPlanBuilder::from(grouped).project(out)?.build()?)
    }

    pub(super) async fn freq_items(&self, f: &sc::StatFreqItems) -> Result<LogicalPlan> {
        let sc::StatFreqItems {
            input,
            cols,
            support,
        } = f;
        let support = support.unwrap_or(0.01);
        if !(1e-4..=1.0).contains(&support) {
            return Err(Error::IllegalArgument(format!(
                "Support ({support}) must be greater than 1e-4 and at most 1."
            )));
        }
        let plan = self.input(input).await?;
        let schema = plan.schema().clone();
        let total = self.count_rows(plan.clone()).await? as f64;
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for name in cols {
            let c = self.column(name, None, &schema)?;
            let t = c.expr.get_type(&schema)?;
            let counted = LogicalPlanBuilder::from(plan.clone())
                .aggregate(
                    vec![c.expr.clone().alias("__item")],
                    vec![
                        self.aggregate_call("count", vec![lit(1i64)], None)?
                            .alias("__n"),
                    ],
                )?
                .filter(col("__n").gt(lit(support * total)))?
                .project(vec![col("__item")])?
                .build()?;
            let items = self.column_values(counted, "freqItems").await?;
            let list = ScalarValue::new_list_nullable(&items, &t);
            fields.push(Field::new(
                format!("{}_freqItems", c.name),
                list.data_type().clone(),
                true,
            ));
            arrays.push(Arc::new(ListArray::clone(&list)));
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
            .map_err(|e| Error::internal(e.to_string()))?;
        self.memory_plan(schema, vec![batch])
    }
}
