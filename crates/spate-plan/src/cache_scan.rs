//! Where a plan reads a cached DataFrame (`df.cache()`, `df.persist()`): a transparent marker,
//! [`InMemoryRelationNode`] in the logical plan and [`InMemoryTableScanExec`] in the physical
//! one, above the scan of the kept rows — or, before the first query has computed them (caching
//! is lazy, as in Spark) and in `explain()`, above the plan that will compute them. It changes
//! no row, and passes through projections, limits and the scan's statistics (so a small
//! cached table is still broadcast); it is what `explain()` shows as Spark's
//! `InMemoryTableScan` / `InMemoryRelation`. (`crate::join_hints::JoinHintExec` is the same
//! kind of pass-through, removed once the joins are chosen; this one stays.)

use std::cmp::Ordering;
use std::fmt::{self, Formatter};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchemaRef, DataFusionError};
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, Statistics,
};
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};

/// The rows of a cached DataFrame, read from `input`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InMemoryRelationNode {
    input: LogicalPlan,
}

impl PartialOrd for InMemoryRelationNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.input.partial_cmp(&other.input)
    }
}

/// `input` marked as the rows of a cached DataFrame.
pub fn in_memory_relation(input: LogicalPlan) -> LogicalPlan {
    LogicalPlan::Extension(Extension {
        node: Arc::new(InMemoryRelationNode { input }),
    })
}

impl UserDefinedLogicalNodeCore for InMemoryRelationNode {
    fn name(&self) -> &str {
        "InMemoryRelation"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut Formatter) -> fmt::Result {
        write!(f, "InMemoryRelation")
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        let input = inputs.into_iter().next().ok_or_else(|| {
            DataFusionError::Internal("bug: InMemoryRelation takes one input".into())
        })?;
        Ok(Self { input })
    }

    fn necessary_children_exprs(&self, output_columns: &[usize]) -> Option<Vec<Vec<usize>>> {
        Some(vec![output_columns.to_vec()])
    }

    fn supports_limit_pushdown(&self) -> bool {
        true
    }
}

/// Plans [`InMemoryRelationNode`] as [`InMemoryTableScanExec`].
#[derive(Debug)]
pub struct InMemoryRelationPlanner;

#[async_trait]
impl ExtensionPlanner for InMemoryRelationPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _planning_ctx: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        if node
            .as_any()
            .downcast_ref::<InMemoryRelationNode>()
            .is_none()
        {
            return Ok(None);
        }
        let [input] = physical_inputs else {
            return Err(DataFusionError::Internal(
                "bug: InMemoryRelation takes one input".into(),
            ));
        };
        Ok(Some(Arc::new(InMemoryTableScanExec {
            input: Arc::clone(input),
        })))
    }
}

/// Passes its input through: the scan of a cached DataFrame's rows.
#[derive(Debug)]
pub struct InMemoryTableScanExec {
    input: Arc<dyn ExecutionPlan>,
}

impl DisplayAs for InMemoryTableScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        write!(f, "InMemoryTableScanExec")
    }
}

impl ExecutionPlan for InMemoryTableScanExec {
    fn name(&self) -> &str {
        "InMemoryTableScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
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
        let input = children.into_iter().next().ok_or_else(|| {
            DataFusionError::Internal("bug: InMemoryTableScanExec takes one child".into())
        })?;
        Ok(Arc::new(Self { input }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        self.input.execute(partition, context)
    }

    // the scan's sizes decide joins above it (a small cached table is broadcast)
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
