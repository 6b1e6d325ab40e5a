//! Streaming deduplication: `dropDuplicates(keys)`, `distinct()` and
//! `dropDuplicatesWithinWatermark(keys)` on a stream, as Spark's `StreamingDeduplicateExec`
//! and `StreamingDeduplicateWithinWatermarkExec` do them. The state is the set of keys seen.
//!
//! Per batch: rows whose event time is at or below the previous batch's watermark are late
//! and dropped; a row is emitted when its key is neither in the state nor earlier in the batch,
//! and its key is stored — with, within the watermark, an expiry of its event time plus the
//! watermark's delay. Then keys are evicted at or below this batch's watermark: by the event
//! time in the key (plain deduplication keyed on the event time), or by their expiry (within
//! the watermark). Plain deduplication without the event time among its keys keeps every key.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::OwnedRow;
use datafusion::common::Column;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Distinct, LogicalPlan};
use spate_common::{Error, Result};
use spate_plan::streaming::{DeduplicateNode, as_node};

use crate::stateful::{
    BoxFuture, OperatorMetrics, OperatorState, StatefulOperator, Watermarks, at_or_below, event_ms,
    output_schema, renamed,
};

/// Where a stored key's event time is.
#[derive(Clone, Copy)]
enum Expiry {
    /// The stored expiry (event time plus the delay).
    Value,
    /// Key column `i`.
    Key(usize),
}

/// A streaming deduplication (see the module's documentation).
pub struct StreamingDeduplicate {
    within_watermark: bool,
    /// The watermarked event-time column of the input and its delay, if there is one.
    event_time: Option<(String, i64)>,
    state: OperatorState,
}

/// The input, keys and kind of a deduplication node.
fn parts(node: &LogicalPlan) -> Result<(&LogicalPlan, Vec<Column>, bool)> {
    if let Some(d) = as_node::<DeduplicateNode>(node) {
        return Ok((&d.input, d.keys.clone(), d.within_watermark));
    }
    match node {
        LogicalPlan::Distinct(Distinct::All(input)) => Ok((input, input.schema().columns(), false)),
        _ => Err(Error::unsupported(format!(
            "this deduplication on a stream: {}",
            node.display()
        ))),
    }
}

impl StreamingDeduplicate {
    /// The deduplication `node`; `watermarks` are the input's watermarked columns and their
    /// delays; its state in `store_dir` at `version`, in `partitions` partitions.
    pub fn new(
        node: &LogicalPlan,
        watermarks: &[(String, i64)],
        store_dir: Option<std::path::PathBuf>,
        partitions: usize,
        version: u64,
    ) -> Result<Self> {
        let (input, _, within_watermark) = parts(node)?;
        let event_time = watermarks
            .iter()
            .find(|(name, _)| input.schema().fields().iter().any(|f| f.name() == name))
            .cloned();
        Ok(Self {
            within_watermark,
            event_time,
            state: OperatorState::new(store_dir, partitions, version),
        })
    }

    async fn run(
        &mut self,
        state: &SessionState,
        node: &LogicalPlan,
        wm: Watermarks,
    ) -> Result<Vec<RecordBatch>> {
        let began = Instant::now();
        let (input, keys, _) = parts(node)?;
        let schema: SchemaRef = Arc::new(input.schema().as_arrow().clone());
        let rows = spate_exec::collect(state, input, "streaming deduplication: input").await?;
        let batch = concat_batches(&schema, &rows)?;
        let key_index = keys
            .iter()
            .map(|k| Ok(input.schema().index_of_column(k)?))
            .collect::<Result<Vec<usize>>>()?;
        let key_columns: Vec<ArrayRef> = key_index
            .iter()
            .map(|i| Arc::clone(batch.column(*i)))
            .collect();
        let partitions = self.state.partitions();
        let store = self.state.store(
            Arc::new(Schema::new(
                key_index
                    .iter()
                    .map(|i| schema.field(*i).clone())
                    .collect::<Vec<Field>>(),
            )),
            Arc::new(Schema::new(vec![Field::new(
                "expiresAtMs",
                DataType::Int64,
                true,
            )])),
        )?;
        let times = match &self.event_time {
            Some((name, _)) => Some(event_ms(batch.column(schema.index_of(name)?))?),
            None => None,
        };
        let delay = self.event_time.as_ref().map_or(0, |(_, d)| *d);
        let rows = store.key_rows(&key_columns)?;
        let mut keep = Vec::new();
        let mut expiries = Vec::new();
        let mut new_keys: Vec<OwnedRow> = Vec::new();
        let mut seen = HashSet::new();
        let mut dropped = 0u64;
        for i in 0..batch.num_rows() {
            if times
                .as_ref()
                .is_some_and(|t| at_or_below(t, i, wm.late_ms))
            {
                dropped += 1;
                continue;
            }
            let key = rows.row(i).owned();
            if store.get(&key).is_some() || !seen.insert(key.clone()) {
                continue;
            }
            keep.push(i as u32);
            expiries.push(match (&times, self.within_watermark) {
                (Some(t), true) if t.is_valid(i) => Some(t.value(i) + delay),
                _ => None,
            });
            new_keys.push(key);
        }
        let values = store.value_rows(&[Arc::new(Int64Array::from(expiries)) as ArrayRef])?;
        for (i, key) in new_keys.into_iter().enumerate() {
            store.put(key, values.row(i).owned());
        }
        let mut metrics = OperatorMetrics {
            rows_updated: keep.len() as u64,
            dropped_by_watermark: dropped,
            updates_ms: began.elapsed().as_millis() as u64,
            partitions: partitions as u64,
            ..OperatorMetrics::default()
        };
        let out = take_record_batch(&batch, &UInt32Array::from(keep))?;
        // eviction
        let removing = Instant::now();
        // the event time that expires a key: its expiry (within the watermark), else the
        // event-time key column; a deduplication without either keeps every key
        let expiry = match (&self.event_time, self.within_watermark) {
            (Some(_), true) => Some(Expiry::Value),
            (Some((name, _)), false) => keys.iter().position(|k| &k.name == name).map(Expiry::Key),
            (None, _) => None,
        };
        if let Some(expiry) = expiry {
            let expired = store.evict(|key_cols, value_cols| {
                let column = match expiry {
                    Expiry::Value => &value_cols[0],
                    Expiry::Key(i) => &key_cols[i],
                };
                let times = event_ms(column)?;
                Ok((0..times.len())
                    .map(|i| at_or_below(&times, i, wm.evict_ms))
                    .collect())
            })?;
            metrics.rows_removed = expired.len() as u64;
        }
        metrics.removals_ms = removing.elapsed().as_millis() as u64;
        metrics.rows_total = store.len() as u64;
        metrics.memory_bytes = store.memory_bytes() as u64;
        self.state.metrics = metrics;
        renamed(&output_schema(node), vec![out])
    }
}

impl StatefulOperator for StreamingDeduplicate {
    fn name(&self) -> &'static str {
        "dedupe"
    }

    fn evicts_by_watermark(&self) -> bool {
        self.event_time.is_some()
    }

    fn process<'a>(
        &'a mut self,
        state: &'a SessionState,
        node: &'a LogicalPlan,
        watermarks: Watermarks,
    ) -> BoxFuture<'a, Result<Vec<RecordBatch>>> {
        Box::pin(self.run(state, node, watermarks))
    }

    fn commit(&mut self) -> Result<()> {
        self.state.commit()
    }

    fn metrics(&self) -> OperatorMetrics {
        self.state.metrics.clone()
    }
}
