//! Spark's `rate-micro-batch` source: a fixed number of rows per micro-batch, whatever the
//! time, for tests and benchmarks that need the same batches every run. Batch `i` holds the
//! values `i * rowsPerBatch ..` (`rowsPerBatch` of them), all with the timestamp
//! `startTimestamp + i * advanceMillisPerBatch`. Each trigger runs one batch (availableNow:
//! exactly one). An offset is the number of batches read; its JSON is Spark's
//! `{"offset": <next value>, "timestamp": <next batch's time>}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::SchemaRef;
use spate_common::{Error, Result};

/// The `rate-micro-batch` source.
#[derive(Debug, Clone)]
pub struct RateMicroBatch {
    rows_per_batch: i64,
    partitions: usize,
    start_timestamp: i64,
    advance_ms: i64,
    schema: SchemaRef,
}

impl RateMicroBatch {
    /// The source for `options` (`rowsPerBatch` required; `numPartitions`, `startTimestamp`,
    /// `advanceMillisPerBatch`), Spark's errors for bad values.
    pub fn new(
        options: &BTreeMap<String, String>,
        schema: SchemaRef,
        default_partitions: usize,
    ) -> Result<Self> {
        let number = |key: &str, default: i64, positive: bool| -> Result<i64> {
            let text = options
                .get(&key.to_lowercase())
                .map(|v| v.trim().to_string());
            let n = match &text {
                None => default,
                Some(v) => v.parse::<i64>().map_err(|_| {
                    Error::IllegalArgument(format!(
                        "Invalid value '{v}'. The option '{key}' must be a number"
                    ))
                })?,
            };
            let ok = if positive { n > 0 } else { n >= 0 };
            if !ok {
                let what = if positive { "positive" } else { "non-negative" };
                return Err(Error::IllegalArgument(format!(
                    "Invalid value '{n}'. The option '{key}' must be {what}"
                )));
            }
            Ok(n)
        };
        Ok(Self {
            rows_per_batch: number("rowsPerBatch", 0, true)?,
            partitions: usize::try_from(number("numPartitions", default_partitions as i64, true)?)
                .unwrap_or(1),
            start_timestamp: number("startTimestamp", 0, false)?,
            advance_ms: number("advanceMillisPerBatch", 1000, false)?,
            schema,
        })
    }

    /// Its schema (the rate source's).
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// How Spark describes it in progress.
    pub fn description(&self) -> String {
        format!(
            "RatePerMicroBatchStream[rowsPerBatch={}, numPartitions={}, startTimestamp={}, advanceMsPerBatch={}]",
            self.rows_per_batch, self.partitions, self.start_timestamp, self.advance_ms
        )
    }

    /// Spark's JSON for "`batches` batches read".
    pub fn offset_json(&self, batches: i64) -> String {
        serde_json::json!({
            "offset": batches.saturating_mul(self.rows_per_batch),
            "timestamp": self.start_timestamp + batches.saturating_mul(self.advance_ms),
        })
        .to_string()
    }

    /// The batches read, from Spark's JSON.
    pub fn parse_offset(&self, text: &str) -> Option<i64> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(v.get("offset")?.as_i64()? / self.rows_per_batch.max(1))
    }

    /// How many rows batches `start..end` hold.
    pub fn rows_between(&self, start: i64, end: i64) -> u64 {
        u64::try_from((end - start).max(0).saturating_mul(self.rows_per_batch)).unwrap_or(0)
    }

    /// The rows of batches `start..end`, spread over `numPartitions` partitions.
    pub fn batches(&self, start: i64, end: i64) -> Result<Vec<Vec<RecordBatch>>> {
        let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); self.partitions.max(1)];
        let per = (self.rows_per_batch as usize)
            .div_ceil(self.partitions.max(1))
            .max(1) as i64;
        for i in start..end {
            let first = i * self.rows_per_batch;
            let micros = (self.start_timestamp + i * self.advance_ms) * 1000;
            for (p, part) in partitions.iter_mut().enumerate() {
                let from = first + p as i64 * per;
                let to = (from + per).min(first + self.rows_per_batch);
                if from >= to {
                    continue;
                }
                let values: Vec<i64> = (from..to).collect();
                let times = vec![micros; values.len()];
                part.push(RecordBatch::try_new(
                    Arc::clone(&self.schema),
                    vec![
                        Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
                        Arc::new(Int64Array::from(values)),
                    ],
                )?);
            }
        }
        Ok(partitions)
    }
}
