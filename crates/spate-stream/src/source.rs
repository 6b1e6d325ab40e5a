//! Streaming sources: where a micro-batch's rows come from. A source reports the newest offset
//! it has (`latest`) and plans the rows between two offsets (`batch`); offsets are the JSON
//! Spark writes in the checkpoint and shows in progress.
//!
//! The rate source (Spark's `format("rate")`) produces `rowsPerSecond` rows for each whole
//! second since the query started: its offset is the number of seconds, row `v` (from 0) has
//! value `v` and timestamp `start + v / rowsPerSecond` seconds, spread evenly within its second.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, col};
use spate_common::{Error, Result};

/// Spark's rate source.
#[derive(Debug, Clone)]
pub struct RateSource {
    rows_per_second: i64,
    partitions: usize,
    schema: SchemaRef,
    /// When the query started (ms since the epoch): second 0 begins here.
    start_ms: i64,
}

impl RateSource {
    /// The source for `options` (`rowsPerSecond`, `numPartitions`; `rampUpTime` is not
    /// supported yet), started at `start_ms`.
    pub fn new(
        options: &BTreeMap<String, String>,
        schema: SchemaRef,
        start_ms: i64,
        default_partitions: usize,
    ) -> Result<Self> {
        let number = |key: &str, default: i64| -> Result<i64> {
            match options.get(&key.to_lowercase()) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<i64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(Error::IllegalArgument(format!(
                        "Invalid value '{v}'. The option '{key}' must be positive"
                    ))),
                },
            }
        };
        if options.contains_key("rampuptime") {
            return Err(Error::unsupported("the rate source's rampUpTime option"));
        }
        Ok(Self {
            rows_per_second: number("rowsPerSecond", 1)?,
            partitions: usize::try_from(number("numPartitions", default_partitions as i64)?)
                .unwrap_or(1),
            schema,
            start_ms,
        })
    }

    /// How Spark describes it in progress.
    pub fn description(&self) -> String {
        format!(
            "RateStreamV2[rowsPerSecond={}, rampUpTimeSeconds=0, numPartitions={}",
            self.rows_per_second, self.partitions
        )
    }

    /// The newest offset at `now_ms`: whole seconds since the start.
    pub fn latest(&self, now_ms: i64) -> i64 {
        ((now_ms - self.start_ms) / 1000).max(0)
    }

    /// How many rows seconds `start..end` hold.
    pub fn rows_between(&self, start: i64, end: i64) -> i64 {
        (end - start).max(0).saturating_mul(self.rows_per_second)
    }

    /// The rows of seconds `start..end` as a plan over memory, in `numPartitions` partitions.
    pub fn batch(&self, start: i64, end: i64) -> Result<LogicalPlan> {
        let rps = self.rows_per_second;
        let (first, last) = (start.saturating_mul(rps), end.saturating_mul(rps));
        let total = usize::try_from(last - first).unwrap_or(0);
        let per = total.div_ceil(self.partitions.max(1)).max(1);
        let mut partitions = Vec::with_capacity(self.partitions);
        let mut from = first;
        for _ in 0..self.partitions.max(1) {
            let to = (from + per as i64).min(last);
            let values: Vec<i64> = (from..to).collect();
            let micros: Vec<i64> = values
                .iter()
                .map(|v| {
                    let ms = self.start_ms + (v / rps) * 1000 + (v % rps) * 1000 / rps;
                    ms * 1000
                })
                .collect();
            let batch = RecordBatch::try_new(
                Arc::clone(&self.schema),
                vec![
                    Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("UTC")),
                    Arc::new(Int64Array::from(values)),
                ],
            )
            .map_err(|e| Error::DataFusion(e.into()))?;
            partitions.push(vec![batch]);
            from = to;
        }
        let table = MemTable::try_new(Arc::clone(&self.schema), partitions)?;
        // unqualified names, as the streaming scan the batch stands in for
        let columns = self
            .schema
            .fields()
            .iter()
            .map(|f| col(format!("rate.{}", f.name())).alias(f.name()))
            .collect::<Vec<_>>();
        Ok(
            LogicalPlanBuilder::scan("rate", provider_as_source(Arc::new(table)), None)?
                .project(columns)?
                .build()?,
        )
    }
}
