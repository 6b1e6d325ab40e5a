//! The hottest key values of each hash exchange, so the UI can name the key behind a skewed
//! task (seed 002's viral item) instead of leaving the user to guess it.
//!
//! [`instrument`](crate::stage::instrument) puts a [`KeySampleExec`] right above every
//! `RepartitionExec` with hash partitioning: it sees each output partition's batches — the rows
//! one task of the next stage reads — and evaluates the exchange's own key expressions on a few
//! evenly spaced rows per batch (at most [`SAMPLED_PER_BATCH`]), each standing for its share of
//! the batch. Per partition it keeps a space-saving sketch of [`SKETCH_SIZE`] counters, which
//! finds any key holding a large share of the partition's rows whatever the order they come in.
//! The cost is a few formatted values per batch, whatever the batch size. The estimates are
//! estimates: a key named hot has many rows; its count is near, not exact.
//!
//! It also counts the exact rows of each output partition: the rows each task of the next stage
//! reads from the exchange (Spark's shuffle read records), which is where skew shows.
//!
//! The operator passes its input through untouched (same properties, same batches); the query
//! record leaves it out of the plan and gives its samples to the exchange under it.

use std::collections::HashMap;
use std::fmt::{self, Formatter};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, RecordBatchStream,
    SendableRecordBatchStream,
};
use futures::{Stream, StreamExt};

use crate::records::HotKey;

/// Rows looked at per batch, at most.
pub const SAMPLED_PER_BATCH: usize = 64;
/// Counters per partition.
pub const SKETCH_SIZE: usize = 32;
/// Keys kept per partition once the query ends.
pub const KEPT_PER_PARTITION: usize = 3;
/// Partitions (the largest by rows) whose keys are kept once the query ends.
pub const KEPT_PARTITIONS: usize = 8;
/// The longest key kept, in characters (a key of long strings is cut, with `…`).
pub const MAX_KEY_CHARS: usize = 200;

/// A space-saving sketch: the heaviest keys of a stream of weighted keys.
#[derive(Debug, Default, Clone)]
struct Sketch {
    counts: HashMap<String, f64>,
    total: f64,
}

impl Sketch {
    fn add(&mut self, key: String, weight: f64) {
        self.total += weight;
        if let Some(c) = self.counts.get_mut(&key) {
            *c += weight;
            return;
        }
        if self.counts.len() < SKETCH_SIZE {
            self.counts.insert(key, weight);
            return;
        }
        // replace the smallest counter; the newcomer inherits its count (an upper bound)
        let smallest = self
            .counts
            .iter()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, c)| (k.clone(), *c));
        if let Some((k, c)) = smallest {
            self.counts.remove(&k);
            self.counts.insert(key, c + weight);
        }
    }

    fn top(&self, n: usize) -> Vec<(String, f64)> {
        let mut all: Vec<_> = self.counts.iter().map(|(k, c)| (k.clone(), *c)).collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }
}

/// The samples of one exchange, per output partition.
#[derive(Debug)]
pub struct KeySamples {
    /// The key expressions, as the plan shows them.
    pub keys: Vec<String>,
    sketches: Mutex<Vec<Sketch>>,
    rows: Mutex<Vec<u64>>,
}

impl KeySamples {
    fn new(keys: Vec<String>, partitions: usize) -> Self {
        Self {
            keys,
            sketches: Mutex::new(vec![Sketch::default(); partitions]),
            rows: Mutex::new(vec![0; partitions]),
        }
    }

    /// The exact rows each output partition carried (what each task of the next stage read).
    pub fn partition_rows(&self) -> Vec<u64> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn merge(&self, partition: usize, sketch: Sketch, rows: u64) {
        if let Some(n) = self
            .rows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(partition)
        {
            *n += rows;
        }
        let mut all = self.sketches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = all.get_mut(partition) {
            if slot.total == 0.0 {
                *slot = sketch;
            } else {
                for (k, c) in sketch.counts {
                    slot.add(k, c);
                }
            }
        }
    }

    /// The hottest keys of the partitions with the most rows (estimated).
    pub fn hot_keys(&self) -> Vec<HotKey> {
        let all = self.sketches.lock().unwrap_or_else(|p| p.into_inner());
        let mut partitions: Vec<usize> = (0..all.len()).filter(|p| all[*p].total > 0.0).collect();
        partitions.sort_by(|a, b| all[*b].total.total_cmp(&all[*a].total).then(a.cmp(b)));
        partitions.truncate(KEPT_PARTITIONS);
        let mut out = Vec::new();
        for p in partitions {
            for (key, rows) in all[p].top(KEPT_PER_PARTITION) {
                out.push(HotKey {
                    partition: p,
                    key,
                    rows: rows.round() as u64,
                    partition_rows: all[p].total.round() as u64,
                });
            }
        }
        out
    }
}

/// Observes a hash exchange's output partitions and samples their keys.
#[derive(Debug)]
pub struct KeySampleExec {
    input: Arc<dyn ExecutionPlan>,
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    samples: Arc<KeySamples>,
}

impl KeySampleExec {
    /// Wraps `plan` when it is a hash-partitioning `RepartitionExec`; other plans are returned
    /// as they are.
    pub fn wrap(plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        let Some(repartition) = plan.downcast_ref::<RepartitionExec>() else {
            return plan;
        };
        let Partitioning::Hash(exprs, n) = repartition.partitioning().clone() else {
            return plan;
        };
        let keys = exprs.iter().map(|e| e.to_string()).collect();
        Arc::new(Self {
            samples: Arc::new(KeySamples::new(keys, n)),
            exprs,
            input: plan,
        })
    }

    /// What it has sampled.
    pub fn samples(&self) -> &Arc<KeySamples> {
        &self.samples
    }
}

impl DisplayAs for KeySampleExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        write!(f, "KeySampleExec: keys=[{}]", self.samples.keys.join(", "))
    }
}

impl ExecutionPlan for KeySampleExec {
    fn name(&self) -> &str {
        "KeySampleExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
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

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match children.pop() {
            Some(input) if children.is_empty() => Ok(Arc::new(Self {
                input,
                exprs: self.exprs.clone(),
                samples: Arc::clone(&self.samples),
            })),
            _ => Err(DataFusionError::Internal(
                "bug: KeySampleExec takes one child".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        Ok(Box::pin(KeySampleStream {
            input,
            exprs: self.exprs.clone(),
            samples: Arc::clone(&self.samples),
            partition,
            sketch: Some(Sketch::default()),
            rows: 0,
        }))
    }
}

/// One partition's stream: the input's batches, a few keys of each counted.
struct KeySampleStream {
    input: SendableRecordBatchStream,
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    samples: Arc<KeySamples>,
    partition: usize,
    sketch: Option<Sketch>,
    rows: u64,
}

impl KeySampleStream {
    fn observe(&mut self, batch: &RecordBatch) {
        let rows = batch.num_rows();
        self.rows += rows as u64;
        let Some(sketch) = self.sketch.as_mut() else {
            return;
        };
        if rows == 0 {
            return;
        }
        let columns: Option<Vec<ArrayRef>> = self
            .exprs
            .iter()
            .map(|e| e.evaluate(batch).and_then(|v| v.into_array(rows)).ok())
            .collect();
        let Some(columns) = columns else { return };
        let options = FormatOptions::default().with_null("NULL");
        let formatters: Option<Vec<ArrayFormatter>> = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).ok())
            .collect();
        let Some(formatters) = formatters else { return };
        let picked = rows.min(SAMPLED_PER_BATCH);
        let weight = rows as f64 / picked as f64;
        for i in 0..picked {
            let row = i * rows / picked;
            let mut key = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect::<Vec<_>>()
                .join(", ");
            if let Some((cut, _)) = key.char_indices().nth(MAX_KEY_CHARS) {
                key.truncate(cut);
                key.push('…');
            }
            sketch.add(key, weight);
        }
    }

    fn flush(&mut self) {
        if let Some(sketch) = self.sketch.take() {
            self.samples.merge(self.partition, sketch, self.rows);
        }
    }
}

impl Stream for KeySampleStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let poll = self.input.poll_next_unpin(cx);
        match &poll {
            Poll::Ready(Some(Ok(batch))) => self.observe(batch),
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.flush(),
            Poll::Pending => {}
        }
        poll
    }
}

impl RecordBatchStream for KeySampleStream {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}

impl Drop for KeySampleStream {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_with_most_of_the_rows_is_found_whatever_the_order() {
        let mut s = Sketch::default();
        // 1000 distinct cold keys interleaved with 2000 rows of one hot key
        for i in 0..1000 {
            s.add(format!("cold{i}"), 1.0);
            s.add("hot".into(), 1.0);
            s.add("hot".into(), 1.0);
        }
        let top = s.top(1);
        assert_eq!(top[0].0, "hot");
        // the estimate is an upper bound within total / SKETCH_SIZE of the truth
        assert!(top[0].1 >= 2000.0 && top[0].1 <= 2000.0 + 3000.0 / SKETCH_SIZE as f64);
        assert_eq!(s.total, 3000.0);
    }
}
