//! Which side of a small join is built, as Spark's broadcast hash join chooses it, because the
//! rows come out in the order of the other (streamed) side: a left outer, left semi or left
//! anti join builds its right side and streams the left, a right outer join builds the left,
//! and an inner join builds the smaller side by Spark's estimate (rows times its default
//! width of a row; the right one when both are the same size).
//! DataFusion's collect-left hash join builds its left input and streams the right, and its
//! join selection only puts the smaller input on the left, so `df.join(df2, "k", "left")` of
//! two equal-sized inputs came out in `df2`'s order. [`SparkBuildSide`] runs after that
//! selection and before the join hints (which still decide when given), and swaps the inputs
//! of a collect-left hash join whose build side is not Spark's — only when the side Spark
//! builds is small enough to collect, so a swap never collects a large input.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::JoinType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result as DfResult;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

/// Swaps collect-left hash joins whose build side is not the one Spark broadcasts.
#[derive(Debug)]
pub struct SparkBuildSide;

/// An input's size: Spark's estimate where the row count is known (rows times Spark's
/// default width of a row of its types — what Spark compares to pick the side to build),
/// else bytes, else rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Size {
    bytes: Option<usize>,
    rows: Option<usize>,
    spark: Option<usize>,
}

impl Size {
    pub(crate) fn of(plan: &Arc<dyn ExecutionPlan>) -> DfResult<Self> {
        let stats = StatisticsContext::new().compute(plan.as_ref(), &StatisticsArgs::new())?;
        let rows = stats.num_rows.get_value().copied();
        let width = 8 + plan
            .schema()
            .fields()
            .iter()
            .map(|f| default_size(f.data_type()))
            .sum::<usize>();
        Ok(Self {
            bytes: stats.total_byte_size.get_value().copied(),
            rows,
            spark: rows.map(|r| r.saturating_mul(width)),
        })
    }

    /// Whether `self` is at most `other` (unknown when neither measure is known on both).
    pub(crate) fn at_most(self, other: Size) -> Option<bool> {
        if let (Some(a), Some(b)) = (self.spark, other.spark) {
            return Some(a <= b);
        }
        match (self.bytes, other.bytes) {
            (Some(a), Some(b)) => Some(a <= b),
            _ => match (self.rows, other.rows) {
                (Some(a), Some(b)) => Some(a <= b),
                _ => None,
            },
        }
    }

    /// Whether an input this size may be collected whole (DataFusion's collect-left limits).
    pub(crate) fn collectable(self, config: &ConfigOptions) -> bool {
        let o = &config.optimizer;
        match (self.bytes, self.rows) {
            (Some(b), _) => b <= o.hash_join_single_partition_threshold,
            (None, Some(r)) => r <= o.hash_join_single_partition_threshold_rows,
            _ => false,
        }
    }
}

/// Spark's `DataType.defaultSize`: the width it assumes for a value of the type.
fn default_size(t: &DataType) -> usize {
    match t {
        DataType::Null | DataType::Boolean | DataType::Int8 | DataType::UInt8 => 1,
        DataType::Int16 | DataType::UInt16 => 2,
        DataType::Int32 | DataType::UInt32 | DataType::Float32 | DataType::Date32 => 4,
        DataType::Decimal128(p, _) if *p > 18 => 16,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => 20,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => 100,
        DataType::Interval(_) => 16,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            default_size(f.data_type())
        }
        DataType::Map(f, _) => default_size(f.data_type()),
        DataType::Struct(fields) => fields.iter().map(|f| default_size(f.data_type())).sum(),
        _ => 8,
    }
}

impl SparkBuildSide {
    /// Whether Spark would build `join`'s right input where DataFusion builds its left.
    fn builds_right(join: &HashJoinExec, config: &ConfigOptions) -> DfResult<bool> {
        if *join.partition_mode() != PartitionMode::CollectLeft {
            return Ok(false);
        }
        let right = Size::of(join.right())?;
        if !right.collectable(config) {
            return Ok(false);
        }
        Ok(match join.join_type() {
            JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti => true,
            JoinType::Inner => right.at_most(Size::of(join.left())?).unwrap_or(false),
            _ => false,
        })
    }
}

impl PhysicalOptimizerRule for SparkBuildSide {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(plan
            .transform_up(|p| {
                let Some(join) = p.downcast_ref::<HashJoinExec>() else {
                    return Ok(Transformed::no(p));
                };
                if !Self::builds_right(join, config)? {
                    return Ok(Transformed::no(p));
                }
                Ok(Transformed::yes(
                    join.swap_inputs(PartitionMode::CollectLeft)?,
                ))
            })?
            .data)
    }

    fn name(&self) -> &str {
        "spark_build_side"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
