//! How rows are spread and picked: `repartition(n)` and `coalesce(n)` (round robin),
//! `repartition(n, cols)` (hash), `repartitionByRange(n, cols)` (range partitioning with split
//! points taken from the sorted keys, as Spark samples them), and `sample`/`randomSplit`.
//!
//! Sampling is deterministic for a seed: each row gets a number in [0, 1) from `xxhash64` of
//! its values and the seed, and rows in `[lower, upper)` are kept, so the splits of
//! `randomSplit` with one seed are disjoint and cover the input.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::SplitPoint;
use datafusion::logical_expr::expr::Sort;
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, Partitioning, RangePartitioning, cast, col, lit,
};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect as sc;
use spark_connect_proto::spark::connect::expression::ExprType;
use spate_common::{Error, Result};

use super::Resolver;

/// How many sampled keys per partition decide the split points of a range repartition.
const KEYS_PER_PARTITION: usize = 100;

impl Resolver<'_> {
    pub(super) async fn repartition(&self, r: &sc::Repartition) -> Result<LogicalPlan> {
        let sc::Repartition {
            input,
            num_partitions,
            shuffle: _,
        } = r;
        let plan = self.input(input).await?;
        let n = positive_partitions(*num_partitions)?;
        Ok(LogicalPlanBuilder::from(plan)
            .repartition(Partitioning::RoundRobinBatch(n))?
            .build()?)
    }

    pub(super) async fn repartition_by_expression(
        &self,
        r: &sc::RepartitionByExpression,
    ) -> Result<LogicalPlan> {
        let sc::RepartitionByExpression {
            input,
            partition_exprs,
            num_partitions,
        } = r;
        let plan = self.input(input).await?;
        let n = match num_partitions {
            Some(n) => positive_partitions(*n)?,
            None => self.config.shuffle_partitions(),
        };
        // repartitionByRange sends sort orders; repartition(n, cols) plain expressions
        let by_range = partition_exprs
            .iter()
            .any(|e| matches!(e.expr_type, Some(ExprType::SortOrder(_))));
        let sorts = partition_exprs
            .iter()
            .map(|e| self.sort_expr(e, plan.schema()))
            .collect::<Result<Vec<_>>>()?;
        let partitioning = if sorts.is_empty() {
            Partitioning::RoundRobinBatch(n)
        } else if by_range {
            let splits = self.split_points(&plan, &sorts, n).await?;
            Partitioning::Range(RangePartitioning::try_new(sorts, splits)?)
        } else {
            Partitioning::Hash(sorts.into_iter().map(|s| s.expr).collect(), n)
        };
        Ok(LogicalPlanBuilder::from(plan)
            .repartition(partitioning)?
            .build()?)
    }

    /// Up to `n - 1` distinct split points at even ranks of the sorted (sampled) keys.
    async fn split_points(
        &self,
        plan: &LogicalPlan,
        sorts: &[Sort],
        n: usize,
    ) -> Result<Vec<SplitPoint>> {
        let count = self.count_rows(plan.clone()).await?;
        let wanted = KEYS_PER_PARTITION * n;
        let mut keys = plan.clone();
        if count > wanted {
            keys = self.sampled(keys, 0.0, wanted as f64 / count as f64, 0)?;
        }
        let key_exprs: Vec<Expr> = sorts
            .iter()
            .enumerate()
            .map(|(i, s)| s.expr.clone().alias(format!("__k{i}")))
            .collect();
        let ordering: Vec<Sort> = sorts
            .iter()
            .enumerate()
            .map(|(i, s)| Sort::new(col(format!("__k{i}")), s.asc, s.nulls_first))
            .collect();
        let keys = LogicalPlanBuilder::from(keys)
            .project(key_exprs)?
            .sort(ordering)?
            .build()?;
        let mut rows: Vec<Vec<ScalarValue>> = Vec::new();
        for batch in self.run(keys, "repartitionByRange bounds").await? {
            for r in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| ScalarValue::try_from_array(c, r))
                        .collect::<datafusion::error::Result<_>>()?,
                );
            }
        }
        let mut splits: Vec<Vec<ScalarValue>> = Vec::new();
        for i in 1..n {
            let Some(row) = rows.get(i * rows.len() / n) else {
                break;
            };
            if splits.last() != Some(row) && rows.first() != Some(row) {
                splits.push(row.clone());
            }
        }
        Ok(splits.into_iter().map(SplitPoint::new).collect())
    }

    /// The number of rows of `plan` (runs it).
    pub(super) async fn count_rows(&self, plan: LogicalPlan) -> Result<usize> {
        let counted = LogicalPlanBuilder::from(plan)
            .aggregate(
                Vec::<Expr>::new(),
                vec![datafusion::functions_aggregate::count::count(lit(1i64))],
            )?
            .build()?;
        let batches = self.run(counted, "count").await?;
        Ok(match batches.first() {
            Some(b) if b.num_rows() > 0 => match ScalarValue::try_from_array(b.column(0), 0)? {
                ScalarValue::Int64(Some(n)) => usize::try_from(n).unwrap_or(0),
                _ => 0,
            },
            _ => 0,
        })
    }

    /// A uniform number in [0, 1) per row: a hash of the row's values and the seed, so it does
    /// not depend on how rows arrive (equal rows get the same number).
    fn row_unit(&self, plan: &LogicalPlan, seed: i64) -> Result<Expr> {
        let mut args: Vec<Expr> = plan
            .schema()
            .columns()
            .into_iter()
            .zip(plan.schema().fields())
            .map(|(c, f)| {
                let t = f.data_type();
                if t.is_primitive() || matches!(t, DataType::Utf8 | DataType::Boolean) {
                    Expr::Column(c)
                } else {
                    crate::functions::to_spark_string(Expr::Column(c), &self.tz)
                }
            })
            .collect();
        args.push(lit(seed));
        const SCALE: i64 = 1 << 24;
        let hash = self.scalar_call("xxhash64", args)?;
        let bits = datafusion::functions::math::expr_fn::abs(hash % lit(SCALE));
        Ok(cast(bits, DataType::Float64) / lit(SCALE as f64))
    }

    /// The rows whose unit number lies in `[lower, upper)`: Bernoulli sampling.
    fn sampled(&self, plan: LogicalPlan, lower: f64, upper: f64, seed: i64) -> Result<LogicalPlan> {
        let unit = self.row_unit(&plan, seed)?;
        let keep = unit.clone().gt_eq(lit(lower)).and(unit.lt(lit(upper)));
        Ok(LogicalPlanBuilder::from(plan).filter(keep)?.build()?)
    }

    /// Sampling with replacement, as Spark's Poisson sampler does it: each row appears k times,
    /// k drawn from Poisson(fraction) by inverting its distribution at the row's unit number.
    fn sampled_with_replacement(
        &self,
        plan: LogicalPlan,
        fraction: f64,
        seed: i64,
    ) -> Result<LogicalPlan> {
        let unit = self.row_unit(&plan, seed)?;
        // k = the first count whose cumulative probability exceeds the unit number
        let most = (fraction + 12.0 * fraction.sqrt() + 12.0).ceil() as i64;
        let mut case =
            datafusion::logical_expr::when(unit.clone().lt(lit((-fraction).exp())), lit(0i64));
        let (mut p, mut cdf) = ((-fraction).exp(), (-fraction).exp());
        for k in 1..=most {
            p *= fraction / k as f64;
            cdf += p;
            case = case.when(unit.clone().lt(lit(cdf)), lit(k));
        }
        let copies = case.otherwise(lit(most))?;
        let columns: Vec<Expr> = plan
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        let mut with_copies = columns.clone();
        with_copies.push(
            self.scalar_call("array_repeat", vec![lit(true), copies])?
                .alias("__spate_copies"),
        );
        Ok(LogicalPlanBuilder::from(plan)
            .project(with_copies)?
            .unnest_column("__spate_copies")?
            .project(columns)?
            .build()?)
    }

    pub(super) async fn sample(&self, s: &sc::Sample) -> Result<LogicalPlan> {
        let sc::Sample {
            input,
            lower_bound,
            upper_bound,
            with_replacement,
            seed,
            deterministic_order: _,
        } = s;
        if lower_bound > upper_bound || *lower_bound < 0.0 {
            return Err(Error::IllegalArgument(format!(
                "requirement failed: Lower bound {lower_bound} must be non-negative and at most the upper bound {upper_bound}"
            )));
        }
        let plan = self.input(input).await?;
        if with_replacement.unwrap_or(false) {
            let fraction = upper_bound - lower_bound;
            return self.sampled_with_replacement(plan, fraction, seed.unwrap_or(0));
        }
        self.sampled(plan, *lower_bound, *upper_bound, seed.unwrap_or(0))
    }
}

fn positive_partitions(n: i32) -> Result<usize> {
    usize::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
        Error::IllegalArgument(format!(
            "the number of partitions must be positive, got {n}"
        ))
    })
}
