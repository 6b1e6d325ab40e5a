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
//! builds is small enough to collect, in bytes and in rows, so a swap never collects a large
//! input. A left outer join whose right side is too large to build is shuffled on its keys,
//! as Spark does (it never broadcasts the preserved side), where DataFusion collected the left.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::common::JoinType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column as PhysicalColumn;
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, PhysicalExpr, PhysicalSortExpr,
};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlanProperties, PlanProperties,
};
use futures::StreamExt;

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

    /// The larger of DataFusion's byte estimate and Spark's rows-times-width, if either is
    /// known.
    pub(crate) fn estimate(self) -> Option<usize> {
        self.bytes.into_iter().chain(self.spark).max()
    }

    /// Whether an input this size may hold more than `bytes` (yes when nothing is known).
    pub(crate) fn may_exceed(self, bytes: usize) -> bool {
        self.estimate().is_none_or(|estimate| estimate > bytes)
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
    /// Whether Spark would build the right input of `join`, a collect-left hash join, where
    /// DataFusion builds its left; `right_fits`: whether the right is small enough to build.
    fn builds_right(join: &HashJoinExec, right_fits: bool) -> DfResult<bool> {
        if !right_fits {
            return Ok(false);
        }
        Ok(match join.join_type() {
            JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti => true,
            JoinType::Inner => Size::of(join.right())?
                .at_most(Size::of(join.left())?)
                .unwrap_or(false),
            _ => false,
        })
    }

    /// Whether `join`'s right input is small enough to build: within DataFusion's collect
    /// limits and, by its estimated rows, within the row limit too. Spark sizes a filtered
    /// scan by its source (a filter does not shrink its estimate), so it broadcasts a large
    /// table cut by a filter far less readily than DataFusion's estimates (a fifth of the rows
    /// per filter) suggest: without the row limit the hash table of a large input would be
    /// built in one partition (TPC-H q13's 1.5M orders: 0.42 s against Sail's 0.19 s).
    fn right_collectable(join: &HashJoinExec, config: &ConfigOptions) -> DfResult<bool> {
        let right = Size::of(join.right())?;
        let rows_fit = right
            .rows
            .is_none_or(|r| r <= config.optimizer.hash_join_single_partition_threshold_rows);
        Ok(right.collectable(config) && rows_fit)
    }
}

/// `join` with one input numbered by [`RowIndexExec`] — the left one of a left outer join
/// about to be swapped into a right one, or the right one of a right outer join: a probe side
/// that declares its order makes DataFusion's hash join emit each unmatched probe row in its
/// place rather than after the batch's matches, as Spark's streamed side does. The number is
/// projected away.
fn numbered_probe(join: &HashJoinExec, left: bool) -> DfResult<HashJoinExec> {
    let left_len = join.left().schema().fields().len();
    let right_len = join.right().schema().fields().len();
    let shift = |i: usize| if left && i >= left_len { i + 1 } else { i };
    let projection: Vec<usize> = match &join.projection {
        Some(p) => p.iter().map(|i| shift(*i)).collect(),
        None => (0..left_len + right_len).map(shift).collect(),
    };
    let (l, r) = (Arc::clone(join.left()), Arc::clone(join.right()));
    let children: Vec<Arc<dyn ExecutionPlan>> = if left {
        vec![Arc::new(RowIndexExec::new(l)), r]
    } else {
        vec![l, Arc::new(RowIndexExec::new(r))]
    };
    join.builder()
        .with_new_children(children)?
        .with_projection(Some(projection))
        .recompute_properties()
        .reset_state()
        .build()
}

/// Its input with each row's number in its partition appended (`__spate_probe_row`), an
/// order it declares (the numbers rise).
#[derive(Debug)]
pub struct RowIndexExec {
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl RowIndexExec {
    fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        let mut fields: Vec<FieldRef> = input.schema().fields().iter().cloned().collect();
        let at = fields.len();
        fields.push(Arc::new(Field::new(
            "__spate_probe_row",
            DataType::UInt64,
            false,
        )));
        let schema = Arc::new(Schema::new(fields));
        let ordering = LexOrdering::new(vec![PhysicalSortExpr::new_default(Arc::new(
            PhysicalColumn::new("__spate_probe_row", at),
        ))]);
        let eq = EquivalenceProperties::new_with_orderings(Arc::clone(&schema), ordering);
        let properties = PlanProperties::new(
            eq,
            input.output_partitioning().clone(),
            EmissionType::Incremental,
            input.boundedness(),
        );
        Self {
            input,
            schema,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for RowIndexExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "RowIndexExec")
    }
}

impl ExecutionPlan for RowIndexExec {
    fn name(&self) -> &str {
        "RowIndexExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let input = children
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Internal("bug: RowIndexExec takes one child".into()))?;
        Ok(Arc::new(Self::new(input)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let schema = Arc::clone(&self.schema);
        let out = Arc::clone(&schema);
        let mut next = 0u64;
        let stream = self.input.execute(partition, context)?.map(move |batch| {
            let batch = batch?;
            let n = batch.num_rows() as u64;
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(UInt64Array::from_iter_values(next..next + n)));
            next += n;
            Ok(RecordBatch::try_new(Arc::clone(&out), columns)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
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
                let ordered = |plan: &Arc<dyn ExecutionPlan>| plan.output_ordering().is_some();
                let collect_left = *join.partition_mode() == PartitionMode::CollectLeft;
                let right_fits = collect_left && Self::right_collectable(join, config)?;
                // Spark never broadcasts the preserved side of a left outer join: with a right
                // side too large to build, both sides are shuffled on the keys. The join's
                // output is then partitioned on the left keys, and an aggregation grouped by
                // them (TPC-H q13's count per customer) runs in one step over it, not as a
                // partial aggregation, an exchange and a final one.
                if collect_left && *join.join_type() == JoinType::Left && !right_fits {
                    let partitioned = join
                        .builder()
                        .with_partition_mode(PartitionMode::Partitioned)
                        .recompute_properties()
                        .reset_state()
                        .build()?;
                    return Ok(Transformed::yes(Arc::new(partitioned)));
                }
                if Self::builds_right(join, right_fits)? {
                    let swapped = match join.join_type() {
                        JoinType::Left if !ordered(join.left()) => {
                            numbered_probe(join, true)?.swap_inputs(PartitionMode::CollectLeft)?
                        }
                        _ => join.swap_inputs(PartitionMode::CollectLeft)?,
                    };
                    return Ok(Transformed::yes(swapped));
                }
                if *join.join_type() == JoinType::Right && collect_left && !ordered(join.right()) {
                    return Ok(Transformed::yes(Arc::new(numbered_probe(join, false)?)));
                }
                Ok(Transformed::no(p))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use crate::test_session::{Place, plan_and_pairs, with_rule};

    /// `small` (k in 0..10) and `big` (k in 0..n, v = 2k), with Spate's collect limits
    /// (10 MB, 128k rows) and this rule after DataFusion's join selection.
    fn context(n: i64) -> datafusion::error::Result<SessionContext> {
        let table = |columns: Vec<(&str, Int64Array)>| -> datafusion::error::Result<MemTable> {
            let schema = Arc::new(Schema::new(
                columns
                    .iter()
                    .map(|(name, _)| Field::new(*name, DataType::Int64, false))
                    .collect::<Vec<_>>(),
            ));
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                columns.into_iter().map(|(_, a)| Arc::new(a) as _).collect(),
            )?;
            MemTable::try_new(schema, vec![vec![batch]])
        };
        let mut config = SessionConfig::new().with_target_partitions(2);
        let o = &mut config.options_mut().optimizer;
        o.hash_join_single_partition_threshold = 10 << 20;
        o.hash_join_single_partition_threshold_rows = 128 * 1024;
        let ctx = with_rule(
            config,
            Arc::new(super::SparkBuildSide),
            Place::After("join_selection"),
        );
        ctx.register_table(
            "small",
            Arc::new(table(vec![("k", Int64Array::from_iter_values(0..10))])?),
        )?;
        ctx.register_table(
            "big",
            Arc::new(table(vec![
                ("k", Int64Array::from_iter_values(0..n)),
                ("v", Int64Array::from_iter_values((0..n).map(|k| 2 * k))),
            ])?),
        )?;
        Ok(ctx)
    }

    #[tokio::test]
    async fn a_left_join_builds_its_right_side_only_when_it_is_small_in_rows_too()
    -> datafusion::error::Result<()> {
        // 100,000 rows (1.6 MB) fit both limits: built, as Spark broadcasts it; 200,000 rows
        // (3.2 MB) fit the bytes but not the rows: the small left side stays the one built
        for (n, swapped) in [(100_000, true), (200_000, false)] {
            let (shown, rows) = plan_and_pairs(
                &context(n)?,
                "SELECT small.k, big.v FROM small LEFT JOIN big ON small.k = big.k",
            )
            .await?;
            assert_eq!(shown.contains("join_type=Right"), swapped, "{n}:\n{shown}");
            assert_eq!(shown.contains("join_type=Left"), !swapped, "{n}:\n{shown}");
            assert_eq!(rows, (0..10).map(|k| (k, 2 * k)).collect::<Vec<_>>(), "{n}");
            // Spark never broadcasts the preserved side: the unswapped join is a shuffle one
            assert_eq!(
                shown.contains("mode=Partitioned"),
                !swapped,
                "{n}:\n{shown}"
            );
            assert!(
                !shown.contains("mode=CollectLeft, join_type=Left"),
                "{n}:\n{shown}"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn an_aggregation_by_the_keys_of_a_shuffled_left_join_runs_in_one_step()
    -> datafusion::error::Result<()> {
        // TPC-H q13's shape: a count per left key over a left join with a large right side.
        // Big's k=2j and k=2j+1 both become j+5: small's keys 5..10 match two rows each, its
        // keys 0..5 none (one unmatched row each, whose null v counts 0)
        let ctx = context(200_000)?;
        let (shown, rows) = plan_and_pairs(
            &ctx,
            "SELECT small.k, count(big.v) FROM small LEFT JOIN \
             (SELECT k / 2 + 5 AS k, v FROM big) big ON small.k = big.k \
             GROUP BY small.k ORDER BY small.k",
        )
        .await?;
        assert!(
            shown.contains("mode=Partitioned, join_type=Left"),
            "{shown}"
        );
        assert!(shown.contains("mode=SinglePartitioned"), "{shown}");
        assert!(!shown.contains("mode=Partial"), "{shown}");
        let expected: Vec<(i64, i64)> = (0..10).map(|k| (k, if k < 5 { 0 } else { 2 })).collect();
        assert_eq!(rows, expected);
        Ok(())
    }
}
