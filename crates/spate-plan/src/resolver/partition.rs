//! How rows are spread and picked: `repartition(n)` and `coalesce(n)` (round robin),
//! `repartition(n, cols)` (hash), `repartitionByRange(n, cols)` (range partitioning with
//! Spark's bounds over the sorted keys), `repartitionById(n, id)`, and `sample`, `randomSplit`
//! and `sampleBy` with Spark's samplers.
//!
//! Sampling draws per partition from the generators Spark seeds for it (see
//! `crate::task_ids`), so a seed keeps Spark's rows wherever the partitions are Spark's.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::SplitPoint;
use datafusion::logical_expr::expr::Sort;
use datafusion::logical_expr::{
    Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Partitioning, RangePartitioning, cast,
    col, lit, when,
};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect as sc;
use spark_connect_proto::spark::connect::expression::ExprType;
use spate_common::{Error, Result};

use super::Resolver;
use crate::task_ids::Draw;

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
        if let [
            sc::Expression {
                expr_type: Some(ExprType::DirectShufflePartitionId(d)),
                ..
            },
        ] = partition_exprs.as_slice()
        {
            return self.repartition_by_id(plan, d, n);
        }
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

    /// `repartitionById(n, id)`: each row goes to partition `pmod(id, n)` (a null id to
    /// partition 0), as Spark's direct shuffle partition id places it — a range partitioning
    /// of that number with the split points `1, 2, ..., n - 1`.
    fn repartition_by_id(
        &self,
        plan: LogicalPlan,
        d: &sc::expression::DirectShufflePartitionId,
        n: usize,
    ) -> Result<LogicalPlan> {
        let id = self.expr(super::expression::required(&d.child)?, plan.schema())?;
        let t = id.expr.get_type(plan.schema())?;
        if !t.is_integer() {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                format!(
                    "The partition id {} of repartitionById must be an integer, got {t}",
                    id.name
                ),
            ));
        }
        let count = lit(n as i64);
        let wrapped = cast(id.expr, DataType::Int64) % count.clone();
        let target = datafusion::functions::expr_fn::coalesce(vec![
            (wrapped + count.clone()) % count,
            lit(0i64),
        ]);
        let splits = (1..n as i64)
            .map(|i| SplitPoint::new(vec![ScalarValue::Int64(Some(i))]))
            .collect();
        let sort = vec![Sort::new(target, true, true)];
        Ok(LogicalPlanBuilder::from(plan)
            .repartition(Partitioning::Range(RangePartitioning::try_new(
                sort, splits,
            )?))?
            .build()?)
    }

    /// Up to `n - 1` split points over the sorted (sampled) keys, as Spark bounds them.
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
        Ok(spark_bounds(&rows, n)
            .into_iter()
            .map(SplitPoint::new)
            .collect())
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

    /// The rows Spark's Bernoulli cell sampler keeps: each partition draws one number per
    /// row from `XORShiftRandom(seed + partition index)` — `rand(seed)` — and keeps the row if
    /// it lies in `[lower, upper)`. The splits of `randomSplit` share a seed, so they are
    /// disjoint and cover the input.
    fn sampled(&self, plan: LogicalPlan, lower: f64, upper: f64, seed: i64) -> Result<LogicalPlan> {
        let unit = crate::task_ids::random_marker(seed, Draw::Uniform);
        let keep = unit.clone().gt_eq(lit(lower)).and(unit.lt(lit(upper)));
        Ok(LogicalPlanBuilder::from(plan).filter(keep)?.build()?)
    }

    /// Sampling with replacement, as Spark's Poisson sampler does it: each row appears k times,
    /// k drawn per row from Poisson(fraction) with Commons Math's generator, seeded per
    /// partition as Spark seeds it (see `crate::task_ids`).
    fn sampled_with_replacement(
        &self,
        plan: LogicalPlan,
        fraction: f64,
        seed: i64,
    ) -> Result<LogicalPlan> {
        if fraction <= 0.0 {
            return Ok(LogicalPlanBuilder::from(plan).filter(lit(false))?.build()?);
        }
        let copies = crate::task_ids::random_marker(seed, Draw::Copies(fraction.to_bits()));
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

    /// `sampleBy(col, fractions, seed)`: Spark keeps a row when `rand(seed)` is below its
    /// stratum's fraction (0 for a stratum not listed).
    pub(super) async fn sample_by(&self, s: &sc::StatSampleBy) -> Result<LogicalPlan> {
        let sc::StatSampleBy {
            input,
            col,
            fractions,
            seed,
        } = s;
        let plan = self.input(input).await?;
        let stratum = self.expr(super::expression::required(col)?, plan.schema())?;
        let mut cases = Vec::with_capacity(fractions.len());
        for f in fractions {
            let sc::stat_sample_by::Fraction {
                stratum: value,
                fraction: share,
            } = f;
            if !(0.0..=1.0).contains(share) {
                return Err(Error::IllegalArgument(format!(
                    "requirement failed: Fractions must be in [0, 1], but got {share}"
                )));
            }
            let value = value.as_ref().ok_or_else(|| {
                Error::IllegalArgument("sampleBy: a stratum without a value".into())
            })?;
            let (v, _) = crate::literal::from_proto(value, &self.tz)?;
            cases.push((Expr::Literal(v, None), *share));
        }
        let keep_below = match cases.split_first() {
            None => lit(0.0),
            Some(((v, share), rest)) => {
                let mut case = when(stratum.expr.clone().eq(v.clone()), lit(*share));
                for (v, share) in rest {
                    case = case.when(stratum.expr.clone().eq(v.clone()), lit(*share));
                }
                case.otherwise(lit(0.0))?
            }
        };
        let unit = crate::task_ids::random_marker(
            seed.unwrap_or_else(crate::functions::fresh_seed),
            Draw::Uniform,
        );
        Ok(LogicalPlanBuilder::from(plan)
            .filter(unit.lt(keep_below))?
            .build()?)
    }

    pub(super) async fn sample(&self, s: &sc::Sample) -> Result<LogicalPlan> {
        let sc::Sample {
            input,
            lower_bound,
            upper_bound,
            with_replacement,
            seed,
            deterministic_order,
        } = s;
        if lower_bound > upper_bound || *lower_bound < 0.0 {
            return Err(Error::IllegalArgument(format!(
                "requirement failed: Lower bound {lower_bound} must be non-negative and at most the upper bound {upper_bound}"
            )));
        }
        let mut plan = self.input(input).await?;
        if *deterministic_order {
            // randomSplit: Spark sorts each partition by every orderable column first, so
            // the splits see the rows in one order however often the input is computed
            let sorts: Vec<Sort> = plan
                .schema()
                .columns()
                .into_iter()
                .zip(plan.schema().fields())
                .filter(|(_, f)| !matches!(f.data_type(), DataType::Map(..)))
                .map(|(c, _)| Sort::new(Expr::Column(c), true, true))
                .collect();
            if !sorts.is_empty() {
                plan = crate::sort_within::sort_within_partitions(plan, sorts);
            }
        }
        if with_replacement.unwrap_or(false) {
            let fraction = upper_bound - lower_bound;
            return self.sampled_with_replacement(
                plan,
                fraction,
                seed.unwrap_or_else(crate::functions::fresh_seed),
            );
        }
        self.sampled(
            plan,
            *lower_bound,
            *upper_bound,
            seed.unwrap_or_else(crate::functions::fresh_seed),
        )
    }
}

/// The split points that put each row where Spark's `RangePartitioner` puts it, from the
/// sorted keys: Spark's bounds are the keys at which the running count first reaches each
/// `k / n` of the whole (a key equal to an earlier bound skipped), and a key goes to the first
/// partition whose bound it does not exceed. DataFusion sends a key equal to a split point to
/// the partition above, so each bound becomes the next greater key; a bound with none above
/// it splits nothing.
fn spark_bounds(sorted: &[Vec<ScalarValue>], n: usize) -> Vec<Vec<ScalarValue>> {
    let step = sorted.len() as f64 / n as f64;
    let mut target = step;
    let mut bounds: Vec<usize> = Vec::new();
    for (i, key) in sorted.iter().enumerate() {
        if bounds.len() + 1 >= n {
            break;
        }
        if (i + 1) as f64 >= target && bounds.last().is_none_or(|b| sorted[*b] != *key) {
            bounds.push(i);
            target += step;
        }
    }
    bounds
        .into_iter()
        .filter_map(|b| sorted[b..].iter().find(|k| **k != sorted[b]).cloned())
        .collect()
}

fn positive_partitions(n: i32) -> Result<usize> {
    usize::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
        Error::IllegalArgument(format!(
            "the number of partitions must be positive, got {n}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &[i64]) -> Vec<Vec<ScalarValue>> {
        v.iter()
            .map(|k| vec![ScalarValue::Int64(Some(*k))])
            .collect()
    }

    #[test]
    fn bounds_keep_the_bound_key_below_as_spark_does() {
        // Spark's bound for (14, 16, 23) in two partitions is 16, and 16 <= 16 stays below
        assert_eq!(spark_bounds(&keys(&[14, 16, 23]), 2), keys(&[23]));
        // duplicates: bounds 1 and 2 (the second 1 is skipped), so 1 | 2 | 3
        assert_eq!(spark_bounds(&keys(&[1, 1, 1, 2, 3, 3]), 3), keys(&[2, 3]));
        // the last key as a bound splits nothing
        assert_eq!(spark_bounds(&keys(&[5, 5, 5, 7]), 2), keys(&[7]));
        assert_eq!(spark_bounds(&keys(&[5, 5, 5, 5]), 2), keys(&[]));
        assert_eq!(spark_bounds(&keys(&[]), 4), keys(&[]));
    }
}
