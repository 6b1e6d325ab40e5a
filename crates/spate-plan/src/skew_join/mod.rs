//! Hot keys in shuffle joins, in the spirit of Spark's adaptive skew join. A partitioned hash
//! join sends every row of a key to one partition, so a key holding 30% of one side (seed
//! 002's viral item) leaves that partition with the key's whole share of the join while the
//! others idle. [`SplitSkewedJoins`] rewrites such a join so that the hot keys' rows of one
//! side are spread over all partitions and the other side's rows of those keys are copied to
//! each of them: both sides get a salt column ([`exec`]), both exchanges hash on
//! `(keys, salt)`, and the join matches on it too. Which side is skewed and which keys are hot
//! is found at run time from a sample, before either side routes a row.
//!
//! Spreading one side is only right where the join never emits the other side's unmatched
//! rows (those would be emitted once per copy): the right side may be spread for right,
//! right semi/anti/mark joins, the left side for left, left semi/anti/mark joins, either for
//! inner joins (the sample picks the one whose hot keys hold more of its rows); a full outer
//! join is left alone. As in Spark, where the split would break a partitioning an operator
//! above relies on (an aggregation or window on the join keys with no exchange in between),
//! the join is left alone rather than paying for another shuffle.
//! A side is only spread where it may hold a skewed partition: Spark calls a partition skewed
//! only when it is also larger than `spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes`
//! (256 MB), so a side whose estimated size is at most that is left as it is, and a join with
//! no such side is not rewritten — its sampling and salt would cost time, and the salt in the
//! join keys keeps DataFusion's dynamic join filters from reaching the scans below.
//! Nor is a partition skewed unless it is more than
//! `spark.sql.adaptive.skewJoin.skewedPartitionFactor` (5) times the median partition: the
//! sample finds each partition's share, and only keys of a partition that passes both tests are
//! hot. Of two partitions the median is their mean, which neither can be more than twice, so
//! with two partitions (a two-core machine) and a factor of 2 or more no join is rewritten —
//! there, spreading seed 002's 30% item cost more than it saved (0.92 s against 0.64 s).
//! `spark.sql.adaptive.skewJoin.enabled=false` (or `spark.sql.adaptive.enabled=false`) turns
//! the rule off.

pub mod exec;

use std::sync::Arc;

use datafusion::common::JoinType;
use datafusion::common::config::ConfigOptions;
use datafusion::error::Result as DfResult;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{Distribution, ExecutionPlan, Partitioning};

use crate::broadcast_side::Size;
use exec::{SALT_COLUMN, Sampler, SkewSaltExec, SkewTest};

/// The name of DataFusion's rule that inserts the exchanges; [`SplitSkewedJoins`] runs after it.
pub const AFTER_RULE: &str = "EnsureRequirements";

/// The physical optimizer rule: see the module documentation.
#[derive(Debug, Default)]
pub struct SplitSkewedJoins;

impl PhysicalOptimizerRule for SplitSkewedJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let options = config.extensions.get::<crate::options::SpateOptions>();
        if !options.is_none_or(|o| o.skew_join) {
            return Ok(plan);
        }
        let test = SkewTest {
            factor: options.map_or(crate::options::SKEW_FACTOR, |o| o.skew_join_factor),
            threshold: options.map_or(crate::options::SKEW_THRESHOLD, |o| o.skew_join_threshold),
        };
        rewrite(plan, false, test)
    }

    fn name(&self) -> &str {
        "spate_split_skewed_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Rewrites the joins under `plan`; `relied` tells whether an operator above relies on
/// `plan`'s output partitioning (no exchange in between); `test` tells which partitions are
/// skewed.
fn rewrite(
    plan: Arc<dyn ExecutionPlan>,
    relied: bool,
    test: SkewTest,
) -> DfResult<Arc<dyn ExecutionPlan>> {
    let exchange = plan.is::<RepartitionExec>()
        || plan.is::<CoalescePartitionsExec>()
        || plan.is::<SortPreservingMergeExec>()
        || plan.is::<crate::physical::RequestedRepartitionExec>();
    let required = plan.input_distribution_requirements();
    let children = plan.children();
    let mut changed = false;
    let mut new_children = Vec::with_capacity(children.len());
    for (i, child) in children.into_iter().enumerate() {
        let needs = !matches!(
            required.child_distribution(i),
            None | Some(Distribution::UnspecifiedDistribution)
        );
        let new = rewrite(Arc::clone(child), !exchange && (relied || needs), test)?;
        changed |= !Arc::ptr_eq(&new, child);
        new_children.push(new);
    }
    let plan = if changed {
        datafusion::physical_plan::execution_plan::replace_children_if_necessary(
            plan,
            new_children,
        )?
    } else {
        plan
    };
    if relied {
        return Ok(plan);
    }
    match plan.downcast_ref::<HashJoinExec>() {
        Some(join) => Ok(split(join, test)?.unwrap_or(plan)),
        None => Ok(plan),
    }
}

/// Which sides of a join may be spread (left, right): see the module documentation.
fn spreadable(join: &HashJoinExec) -> Option<[bool; 2]> {
    if *join.partition_mode() != PartitionMode::Partitioned || join.null_aware {
        return None;
    }
    match join.join_type() {
        JoinType::Inner => Some([true, true]),
        JoinType::Right | JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => {
            Some([false, true])
        }
        JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => {
            Some([true, false])
        }
        JoinType::Full => None,
    }
}

/// A hash exchange's input, keys and partition count.
type HashExchange = (Arc<dyn ExecutionPlan>, Vec<Arc<dyn PhysicalExpr>>, usize);

/// The hash exchange directly below a join.
fn hash_exchange(plan: &Arc<dyn ExecutionPlan>) -> Option<HashExchange> {
    let r = plan.downcast_ref::<RepartitionExec>()?;
    if r.preserve_order() {
        return None;
    }
    match r.partitioning() {
        Partitioning::Hash(keys, n) => Some((Arc::clone(r.input()), keys.clone(), *n)),
        _ => None,
    }
}

/// Whether a partition of `partitions` can be more than `factor` times their median: of two
/// partitions the median is their mean, which neither is more than twice.
fn can_be_skewed(partitions: usize, factor: f64) -> bool {
    match partitions {
        0 | 1 => false,
        2 => factor < 2.0,
        _ => true,
    }
}

/// The join with its skewed side spread, or `None` where it cannot be, no side may be larger
/// than the test's threshold, or no partition can pass its factor.
fn split(join: &HashJoinExec, test: SkewTest) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
    let Some(mut may_spread) = spreadable(join) else {
        return Ok(None);
    };
    let (Some((left, left_keys, n)), Some((right, right_keys, m))) =
        (hash_exchange(join.left()), hash_exchange(join.right()))
    else {
        return Ok(None);
    };
    if n != m || !can_be_skewed(n, test.factor) || left_keys.len() != right_keys.len() {
        return Ok(None);
    }
    let sizes = [Size::of(&left)?, Size::of(&right)?];
    for (spread, size) in may_spread.iter_mut().zip(sizes) {
        *spread = *spread && size.may_exceed(test.threshold);
    }
    if may_spread == [false, false] {
        return Ok(None);
    }
    // Both sides must hash alike: the same key types.
    for (l, r) in left_keys.iter().zip(&right_keys) {
        if l.data_type(&left.schema())? != r.data_type(&right.schema())? {
            return Ok(None);
        }
    }
    let sampler = Arc::new(Sampler::new(
        [Arc::clone(&left), Arc::clone(&right)],
        [left_keys.clone(), right_keys.clone()],
        may_spread,
        sizes.map(Size::estimate),
        n,
        test,
    ));
    // Each side salted below an exchange on (keys, salt).
    let salted = |side: usize,
                  input: &Arc<dyn ExecutionPlan>,
                  keys: &[Arc<dyn PhysicalExpr>]|
     -> DfResult<(Arc<dyn ExecutionPlan>, Arc<dyn PhysicalExpr>)> {
        let salt: Arc<dyn PhysicalExpr> =
            Arc::new(Column::new(SALT_COLUMN, input.schema().fields().len()));
        let mut hashed = keys.to_vec();
        hashed.push(Arc::clone(&salt));
        let exec = Arc::new(SkewSaltExec::new(
            Arc::clone(input),
            side,
            Arc::clone(&sampler),
        ));
        let exchange = RepartitionExec::try_new(exec, Partitioning::Hash(hashed, n))?;
        Ok((Arc::new(exchange), salt))
    };
    let (new_left, left_salt) = salted(0, &left, &left_keys)?;
    let (new_right, right_salt) = salted(1, &right, &right_keys)?;
    let mut on = join.on().to_vec();
    on.push((left_salt, right_salt));
    // The join's output without the two salt columns, in the order the join had it.
    let left_width = left.schema().fields().len();
    let right_width = right.schema().fields().len();
    let unsalted = |i: usize| unsalted_index(*join.join_type(), left_width, right_width, i);
    let projection: Vec<usize> = match &join.projection {
        Some(p) => p.iter().map(|i| unsalted(*i)).collect(),
        None => (0..join_output_width(*join.join_type(), left_width, right_width))
            .map(unsalted)
            .collect(),
    };
    let split = join
        .builder()
        .with_new_children(vec![new_left, new_right])?
        .with_on(on)
        .with_projection(Some(projection))
        .reset_state()
        .build_exec()?;
    Ok(Some(split))
}

/// The number of columns a join of this type outputs before its projection.
fn join_output_width(join_type: JoinType, left: usize, right: usize) -> usize {
    match join_type {
        JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => left + right,
        JoinType::LeftSemi | JoinType::LeftAnti => left,
        JoinType::RightSemi | JoinType::RightAnti => right,
        JoinType::LeftMark => left + 1,
        JoinType::RightMark => right + 1,
    }
}

/// Where column `i` of the join's unsalted output sits once each side carries a salt column
/// after its own columns (DataFusion's join schema: left then right, or one side then `mark`).
fn unsalted_index(join_type: JoinType, left: usize, right: usize, i: usize) -> usize {
    let first_side = match join_type {
        JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => right,
        _ => left,
    };
    if i < first_side { i } else { i + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_partitions_are_never_five_times_their_median() {
        // median of (a, b) is (a + b) / 2: a > f * (a + b) / 2 needs f < 2
        assert!(!can_be_skewed(2, 5.0));
        assert!(!can_be_skewed(2, 2.0));
        assert!(can_be_skewed(2, 1.5));
        assert!(can_be_skewed(3, 5.0));
        assert!(!can_be_skewed(1, 0.0));
    }

    #[test]
    fn salt_columns_are_skipped_in_the_join_output() {
        // Inner join of 2 + 3 columns: [l0, l1, salt, r0, r1, r2, salt].
        let inner: Vec<usize> = (0..5)
            .map(|i| unsalted_index(JoinType::Inner, 2, 3, i))
            .collect();
        assert_eq!(inner, vec![0, 1, 3, 4, 5]);
        // Right semi join: [r0, r1, r2, salt].
        assert_eq!(unsalted_index(JoinType::RightSemi, 2, 3, 2), 2);
        // Left mark join: [l0, l1, salt, mark].
        assert_eq!(unsalted_index(JoinType::LeftMark, 2, 3, 2), 3);
        // Right mark join: [r0, r1, r2, salt, mark].
        assert_eq!(unsalted_index(JoinType::RightMark, 2, 3, 3), 4);
        assert_eq!(join_output_width(JoinType::RightMark, 2, 3), 4);
    }
}
