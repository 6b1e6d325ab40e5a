//! `sortWithinPartitions`: Spark's local sort (`Sort(global = false)`), which orders the rows
//! of each partition and keeps the partitions as they are. DataFusion's logical sort is
//! global (it gathers everything into one partition), so the local sort is its own logical
//! node, [`SortWithinPartitionsNode`], planned as a `SortExec` that preserves partitioning.
//! `randomSplit` uses it too: Spark sorts each input partition before sampling it, so the
//! partitions keep their rows and their samplers' seeds.

use std::cmp::Ordering;
use std::fmt::{self, Formatter};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchemaRef, DataFusionError};
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::expr::Sort;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};

/// Sorts each partition of `input` by `keys` (ascending, nulls first per key in `options`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortWithinPartitionsNode {
    input: LogicalPlan,
    keys: Vec<Expr>,
    /// Per key: (ascending, nulls first).
    options: Vec<(bool, bool)>,
}

impl PartialOrd for SortWithinPartitionsNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.input.partial_cmp(&other.input)
    }
}

/// `input` with each partition sorted by `sorts`.
pub fn sort_within_partitions(input: LogicalPlan, sorts: Vec<Sort>) -> LogicalPlan {
    let (keys, options) = sorts
        .into_iter()
        .map(|s| (s.expr, (s.asc, s.nulls_first)))
        .unzip();
    LogicalPlan::Extension(Extension {
        node: Arc::new(SortWithinPartitionsNode {
            input,
            keys,
            options,
        }),
    })
}

impl UserDefinedLogicalNodeCore for SortWithinPartitionsNode {
    fn name(&self) -> &str {
        "SortWithinPartitions"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        self.keys.clone()
    }

    fn fmt_for_explain(&self, f: &mut Formatter) -> fmt::Result {
        write!(f, "SortWithinPartitions: ")?;
        for (i, (k, (asc, nulls_first))) in self.keys.iter().zip(&self.options).enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let dir = if *asc { "ASC" } else { "DESC" };
            let nulls = if *nulls_first {
                "NULLS FIRST"
            } else {
                "NULLS LAST"
            };
            write!(f, "{sep}{k} {dir} {nulls}")?;
        }
        Ok(())
    }

    fn with_exprs_and_inputs(&self, exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        let input = inputs.into_iter().next().ok_or_else(|| {
            DataFusionError::Internal("bug: SortWithinPartitions takes one input".into())
        })?;
        Ok(Self {
            input,
            keys: exprs,
            options: self.options.clone(),
        })
    }
}

/// Plans [`SortWithinPartitionsNode`] as a partition-preserving `SortExec`.
#[derive(Debug)]
pub struct SortWithinPartitionsPlanner;

#[async_trait]
impl ExtensionPlanner for SortWithinPartitionsPlanner {
    async fn plan_extension(
        &self,
        planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn datafusion::catalog::Session,
        planning_ctx: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<SortWithinPartitionsNode>() else {
            return Ok(None);
        };
        let ([logical], [input]) = (logical_inputs, physical_inputs) else {
            return Err(DataFusionError::Internal(
                "bug: SortWithinPartitions takes one input".into(),
            ));
        };
        let mut ordering = Vec::with_capacity(node.keys.len());
        for (key, (asc, nulls_first)) in node.keys.iter().zip(&node.options) {
            let expr =
                planner.create_physical_expr(key, logical.schema(), session, planning_ctx)?;
            ordering.push(PhysicalSortExpr::new(
                expr,
                datafusion::arrow::compute::SortOptions {
                    descending: !asc,
                    nulls_first: *nulls_first,
                },
            ));
        }
        let Some(ordering) = LexOrdering::new(ordering) else {
            return Ok(Some(Arc::clone(input)));
        };
        Ok(Some(Arc::new(SortWithinPartitionsExec::new(
            ordering,
            Arc::clone(input),
        ))))
    }
}

/// A `SortExec` that preserves partitioning, kept where it is: DataFusion's sort enforcement
/// would move a bare one below an order-keeping repartition, where it would sort the rows
/// before they are dealt into partitions — each partition sorted, but holding other rows.
#[derive(Debug)]
pub struct SortWithinPartitionsExec {
    sort: Arc<SortExec>,
}

impl SortWithinPartitionsExec {
    fn new(ordering: LexOrdering, input: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            sort: Arc::new(SortExec::new(ordering, input).with_preserve_partitioning(true)),
        }
    }
}

impl DisplayAs for SortWithinPartitionsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        write!(f, "SortWithinPartitionsExec: expr=[{}]", self.sort.expr())
    }
}

impl ExecutionPlan for SortWithinPartitionsExec {
    fn name(&self) -> &str {
        "SortWithinPartitionsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.sort.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.sort.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        self.sort.apply_expressions(f)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|_| {
            DataFusionError::Internal("bug: SortWithinPartitionsExec takes one child".into())
        })?;
        Ok(Arc::new(Self::new(self.sort.expr().clone(), input)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        self.sort.execute(partition, context)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.sort.metrics()
    }
}
