//! Spark's join hints decide the physical join. `broadcast(df)` / `df.hint("broadcast")`
//! (aliases `broadcastjoin`, `mapjoin`) makes the hinted side the build side of a collect-left
//! hash join (Spark's broadcast hash join) whatever its size; `shuffle_hash` forces a
//! partitioned hash join; `merge` (`shuffle_merge`, `mergejoin`) a sort-merge join. Without a
//! hint, `spark.sql.autoBroadcastJoinThreshold` is DataFusion's collect-left threshold.
//!
//! The hint travels as a transparent logical node ([`JoinHintNode`]) above the hinted input,
//! which filters and projections pass through, becomes a pass-through [`JoinHintExec`], and
//! the physical rule [`ApplyJoinHints`] — run right after DataFusion's join selection — sets
//! the join of each hinted input and removes the markers. A hint whose side cannot be built
//! for the join type (Spark's rules: the right side of inner, left outer, semi and anti joins;
//! the left side of inner and right outer joins) is ignored, as Spark ignores it.

use std::fmt::{self, Formatter};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchemaRef, JoinType};
use datafusion::error::Result as DfResult;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode, SortMergeJoinExec};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, Statistics,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};

/// A join strategy hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Hash)]
pub enum JoinHint {
    /// Build a hash table of this side and send it to every task of the other.
    Broadcast,
    /// Hash-partition both sides and build a hash table per partition.
    ShuffleHash,
    /// Hash-partition and sort both sides, then merge.
    Merge,
}

impl JoinHint {
    /// The hint Spark means by `name` (case-insensitive), if it is a join strategy hint.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "broadcast" | "broadcastjoin" | "mapjoin" => Some(Self::Broadcast),
            "shuffle_hash" => Some(Self::ShuffleHash),
            "merge" | "shuffle_merge" | "mergejoin" => Some(Self::Merge),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Broadcast => "broadcast",
            Self::ShuffleHash => "shuffle_hash",
            Self::Merge => "merge",
        }
    }
}

/// `input` marked with a join hint for the join it feeds.
pub fn hinted(input: LogicalPlan, hint: JoinHint) -> LogicalPlan {
    LogicalPlan::Extension(Extension {
        node: Arc::new(JoinHintNode {
            schema: input.schema().clone(),
            input,
            hint,
        }),
    })
}

/// The logical marker: its output is its input's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JoinHintNode {
    input: LogicalPlan,
    schema: DFSchemaRef,
    hint: JoinHint,
}

impl PartialOrd for JoinHintNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.hint.partial_cmp(&other.hint)
    }
}

impl UserDefinedLogicalNodeCore for JoinHintNode {
    fn name(&self) -> &str {
        "JoinHint"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn prevent_predicate_push_down_columns(&self) -> std::collections::HashSet<String> {
        std::collections::HashSet::new()
    }

    fn fmt_for_explain(&self, f: &mut Formatter) -> fmt::Result {
        write!(f, "JoinHint: {}", self.hint.label())
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> DfResult<Self> {
        let input = inputs.swap_remove(0);
        Ok(Self {
            schema: input.schema().clone(),
            input,
            hint: self.hint,
        })
    }

    fn necessary_children_exprs(&self, output_columns: &[usize]) -> Option<Vec<Vec<usize>>> {
        Some(vec![output_columns.to_vec()])
    }

    fn supports_limit_pushdown(&self) -> bool {
        true
    }
}

/// The physical marker: runs its input unchanged until [`ApplyJoinHints`] removes it.
#[derive(Debug)]
pub struct JoinHintExec {
    input: Arc<dyn ExecutionPlan>,
    hint: JoinHint,
}

impl DisplayAs for JoinHintExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        write!(f, "JoinHintExec: {}", self.hint.label())
    }
}

impl ExecutionPlan for JoinHintExec {
    fn name(&self) -> &str {
        "JoinHintExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self {
            input: children.swap_remove(0),
            hint: self.hint,
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        self.input.execute(partition, context)
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> DfResult<Arc<Statistics>> {
        Ok(input_stats
            .first()
            .cloned()
            .unwrap_or_else(|| Arc::new(Statistics::new_unknown(&self.schema()))))
    }

    fn supports_limit_pushdown(&self) -> bool {
        true
    }
}

/// Plans [`JoinHintNode`] as [`JoinHintExec`].
#[derive(Debug)]
struct JoinHintPlanner;

#[async_trait]
impl ExtensionPlanner for JoinHintPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _planning_ctx: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<JoinHintNode>() else {
            return Ok(None);
        };
        Ok(physical_inputs.first().map(|input| {
            Arc::new(JoinHintExec {
                input: Arc::clone(input),
                hint: node.hint,
            }) as Arc<dyn ExecutionPlan>
        }))
    }
}

/// DataFusion's physical planner, with the join-hint marker and task ids planned.
#[derive(Debug)]
pub struct SparkQueryPlanner;

#[async_trait]
impl QueryPlanner for SparkQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn datafusion::catalog::Session,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![
            Arc::new(JoinHintPlanner),
            Arc::new(crate::task_ids::TaskIdsPlanner),
            Arc::new(crate::sort_within::SortWithinPartitionsPlanner),
            Arc::new(crate::cache_scan::InMemoryRelationPlanner),
        ])
        .create_physical_plan(logical_plan, session_state)
        .await
    }
}

/// The hint marking the top of `plan`, looking through projections.
fn hint_of(plan: &Arc<dyn ExecutionPlan>) -> Option<JoinHint> {
    if let Some(h) = plan.downcast_ref::<JoinHintExec>() {
        return Some(h.hint);
    }
    if plan.is::<ProjectionExec>() {
        return plan.children().first().and_then(|c| hint_of(c));
    }
    None
}

/// The physical rule that carries out join hints (run right after join selection).
#[derive(Debug, Default)]
pub struct ApplyJoinHints;

impl ApplyJoinHints {
    fn join(join: &HashJoinExec) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        let left = hint_of(join.left());
        let right = hint_of(join.right());
        let t = *join.join_type();
        let build_right = matches!(
            t,
            JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti
        );
        let build_left = matches!(t, JoinType::Inner | JoinType::Right);
        if right == Some(JoinHint::Broadcast) && build_right && left != Some(JoinHint::Broadcast) {
            return join.swap_inputs(PartitionMode::CollectLeft).map(Some);
        }
        if left == Some(JoinHint::Broadcast) && build_left {
            let j = join
                .builder()
                .with_partition_mode(PartitionMode::CollectLeft)
                .build()?;
            return Ok(Some(Arc::new(j)));
        }
        let other = left.or(right);
        if other == Some(JoinHint::ShuffleHash) {
            let j = join
                .builder()
                .with_partition_mode(PartitionMode::Partitioned)
                .build()?;
            return Ok(Some(Arc::new(j)));
        }
        if other == Some(JoinHint::Merge) && !join.contains_projection() {
            let options = vec![Default::default(); join.on().len()];
            let j = SortMergeJoinExec::try_new(
                Arc::clone(join.left()),
                Arc::clone(join.right()),
                join.on().to_vec(),
                join.filter().cloned(),
                t,
                options,
                join.null_equality(),
            )?;
            return Ok(Some(Arc::new(j)));
        }
        Ok(None)
    }
}

impl PhysicalOptimizerRule for ApplyJoinHints {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let joined = plan
            .transform_up(|p| match p.downcast_ref::<HashJoinExec>() {
                Some(join) => match Self::join(join)? {
                    Some(new) => Ok(Transformed::yes(new)),
                    None => Ok(Transformed::no(p)),
                },
                None => Ok(Transformed::no(p)),
            })?
            .data;
        Ok(joined
            .transform_up(|p| match p.downcast_ref::<JoinHintExec>() {
                Some(h) => Ok(Transformed::yes(Arc::clone(&h.input))),
                None => Ok(Transformed::no(p)),
            })?
            .data)
    }

    fn name(&self) -> &str {
        "apply_join_hints"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
