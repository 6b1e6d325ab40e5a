//! Keeping the partitioning users ask for. DataFusion's `EnforceDistribution` rule removes
//! repartitions that no operator above requires, but in Spark `repartition(n)`,
//! `repartition(n, cols)`, `repartitionByRange` and `coalesce(n)` are instructions: they decide
//! how many tasks (and output files) follow. Before the physical optimizer runs, every
//! `RepartitionExec` comes from such a request (DataFusion adds its own later), so the first
//! rule wraps each in [`RequestedRepartitionExec`], which the later rules leave alone.

use std::fmt::Formatter;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};

/// A repartition the user asked for: it runs the wrapped `RepartitionExec` and shows as it.
/// It deliberately does not delegate downcasts, so optimizer rules do not see a
/// `RepartitionExec` they could remove.
#[derive(Debug)]
pub struct RequestedRepartitionExec {
    inner: Arc<dyn ExecutionPlan>,
}

impl DisplayAs for RequestedRepartitionExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut Formatter) -> std::fmt::Result {
        match self.inner.downcast_ref::<RepartitionExec>() {
            Some(r) => r.fmt_as(t, f),
            None => write!(f, "RepartitionExec"),
        }
    }
}

impl ExecutionPlan for RequestedRepartitionExec {
    fn name(&self) -> &str {
        "RequestedRepartitionExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.inner.maintains_input_order()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inner.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        self.inner.apply_expressions(f)
    }

    #[expect(
        deprecated,
        reason = "required by the ExecutionPlan trait of DataFusion 55"
    )]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self {
            inner: Arc::clone(&self.inner).with_new_children(children)?,
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        self.inner.execute(partition, context)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.inner.metrics()
    }
}

/// The physical optimizer rule that marks requested repartitions (it must run first).
#[derive(Debug, Default)]
pub struct KeepRequestedRepartitions;

impl PhysicalOptimizerRule for KeepRequestedRepartitions {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(plan
            .transform_up(|p| {
                Ok(if p.is::<RepartitionExec>() {
                    Transformed::yes(Arc::new(RequestedRepartitionExec { inner: p }) as _)
                } else {
                    Transformed::no(p)
                })
            })?
            .data)
    }

    fn name(&self) -> &str {
        "keep_requested_repartitions"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
