//! The stateful operators of one query, as Spark 3.4+ chains them: each operator of the plan
//! (a deduplication under an aggregation, a join under an aggregation, two aggregations) has
//! its own state (`state/<id>`, the top operator 0 as Spark numbers them) and its own
//! watermarks. The query's event-time watermark enters at the bottom; an operator's input
//! watermark is the smallest output watermark of the operators under it (the query's when
//! there is none), and its output watermark is what it says of its output
//! ([`StatefulOperator::output_watermark`]: the same for aggregations and deduplication, the
//! older of the sides' state bounds for a stream-stream join). An operator's late rows are
//! judged against its input watermark of the previous batch, its state evicted at this one's.

use datafusion::logical_expr::LogicalPlan;
use spate_common::Result;

use crate::stateful::{StatefulOperator, Watermarks, is_stateful};

/// A query's stateful operators, bottom first (the order a batch meets them).
#[derive(Default)]
pub struct Operators {
    ops: Vec<Box<dyn StatefulOperator>>,
    /// Per operator, the nearest operators under it.
    children: Vec<Vec<usize>>,
}

/// The stateful nodes of `plan`, bottom first, each with the nearest stateful nodes under it.
pub(crate) fn stateful_nodes_bottom_up(plan: &LogicalPlan) -> Vec<(LogicalPlan, Vec<usize>)> {
    fn visit(plan: &LogicalPlan, out: &mut Vec<(LogicalPlan, Vec<usize>)>) -> Vec<usize> {
        let mut below = Vec::new();
        for input in plan.inputs() {
            below.extend(visit(input, out));
        }
        if is_stateful(plan) {
            out.push((plan.clone(), below));
            vec![out.len() - 1]
        } else {
            below
        }
    }
    let mut out = Vec::new();
    visit(plan, &mut out);
    out
}

impl Operators {
    /// The operators made from `plan`'s stateful nodes by `make` (given a node and its id,
    /// the top one 0).
    pub fn of(
        plan: &LogicalPlan,
        mut make: impl FnMut(&LogicalPlan, usize) -> Result<Box<dyn StatefulOperator>>,
    ) -> Result<Self> {
        let nodes = stateful_nodes_bottom_up(plan);
        let n = nodes.len();
        let mut out = Self::default();
        for (i, (node, children)) in nodes.into_iter().enumerate() {
            out.ops.push(make(&node, n - 1 - i)?);
            out.children.push(children);
        }
        Ok(out)
    }

    /// Whether the query has any.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Whether a newer watermark gives any of them work (Spark's batch without data).
    pub fn evict_by_watermark(&self) -> bool {
        self.ops.iter().any(|o| o.evicts_by_watermark())
    }

    /// Each operator's input watermark when the query's is `global`.
    fn inputs(&self, global: i64) -> Vec<i64> {
        let mut input = Vec::with_capacity(self.ops.len());
        let mut output: Vec<i64> = Vec::with_capacity(self.ops.len());
        for (i, op) in self.ops.iter().enumerate() {
            let at = self.children[i]
                .iter()
                .map(|c| output[*c])
                .min()
                .unwrap_or(global);
            input.push(at);
            output.push(op.output_watermark(at));
        }
        input
    }

    /// Each operator's watermarks for a batch run at `global` after one at `previous`.
    pub fn watermarks(&self, previous: i64, global: i64) -> Vec<Watermarks> {
        self.inputs(previous)
            .into_iter()
            .zip(self.inputs(global))
            .map(|(late_ms, evict_ms)| Watermarks { late_ms, evict_ms })
            .collect()
    }

    /// The operators, bottom first, for a batch's plan.
    pub fn all_mut(&mut self) -> &mut [Box<dyn StatefulOperator>] {
        &mut self.ops
    }

    /// The commit hook of each.
    pub fn commit(&mut self) -> Result<()> {
        self.ops.iter_mut().try_for_each(|o| o.commit())
    }

    /// Progress' `stateOperators`, the top operator first.
    pub fn progress(&self) -> Vec<serde_json::Value> {
        self.ops
            .iter()
            .rev()
            .map(|o| o.metrics().progress(o.name()))
            .collect()
    }
}
