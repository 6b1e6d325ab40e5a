//! Projections over hash joins that already project. DataFusion's projection pushdown embeds a
//! projection into a hash join only when the join has none of its own (the `TODO` in
//! `HashJoinExec::try_swapping_with_projection`), so a join that one of Spate's rules gave a
//! projection — the numbered probe side of [`crate::broadcast_side`], the salt columns of
//! [`crate::skew_join`] — went on emitting every column of both sides for the projection above
//! to drop: in seed 002's broadcast join, ten million rows of both string `item_id` columns
//! gathered by the join and thrown away. [`EmbedJoinProjections`] narrows such a join to the
//! columns the projection above reads (the two projections composed, with DataFusion's own
//! `try_embed_projection`), and removes the projection where what is left of it is the
//! identity. The join keeps its dynamic filter: it is rebuilt, not reset.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result as DfResult;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::projection::{ProjectionExec, try_embed_projection};

/// The physical optimizer rule: see the module documentation.
#[derive(Debug, Default)]
pub struct EmbedJoinProjections;

impl PhysicalOptimizerRule for EmbedJoinProjections {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(projection) = node.downcast_ref::<ProjectionExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some(join) = projection.input().downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            // a join without a projection is DataFusion's own pushdown's to handle
            if !join.contains_projection() {
                return Ok(Transformed::no(node));
            }
            Ok(match try_embed_projection(projection, join)? {
                Some(embedded) => Transformed::yes(embedded),
                None => Transformed::no(node),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "spate_embed_join_projections"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
