//! Streaming sources: where a micro-batch's rows come from. A source reports the newest offset
//! it has (`latest`) and plans the rows between two offsets (`batch`); offsets are the JSON
//! Spark writes in the checkpoint and shows in progress.
//!
//! The rate source (Spark's `format("rate")`) produces `rowsPerSecond` rows for each whole
//! second since the query started (fewer during `rampUpTime`): its offset is the number of
//! seconds, rows have values 0, 1, 2, ... and the timestamps of a batch's rows are spread
//! evenly over the batch's seconds.
//!
//! The file source (json, csv, parquet, text) is [`crate::file_source`]; the Delta source
//! [`crate::delta_source`]; `rate-micro-batch` [`crate::rate_micro_batch`]; Kafka
//! [`crate::kafka_source`].

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::LogicalPlan;
use spate_common::{Error, Result};
use spate_plan::streaming::StreamingScanNode;
use spate_session::Session;

use crate::checkpoint::Checkpoint;
use crate::file_source::FileSource;
use crate::log::MetadataLog;
use crate::micro_batch::memory_plan;

/// Spark's rate source.
#[derive(Debug, Clone)]
pub struct RateSource {
    rows_per_second: i64,
    /// Seconds over which the rate grows to `rows_per_second` (`rampUpTime`).
    ramp_up_seconds: i64,
    partitions: usize,
    schema: SchemaRef,
    /// When the query started (ms since the epoch): second 0 begins here.
    start_ms: i64,
}

impl RateSource {
    /// The source for `options` (`rowsPerSecond`, `rampUpTime`, `numPartitions`), started at
    /// `start_ms`.
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
        let ramp_up_seconds = match options.get("rampuptime") {
            None => 0,
            Some(v) => spate_common::config::parse_duration(v, std::time::Duration::from_secs(1))
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .ok_or_else(|| {
                    Error::IllegalArgument(format!(
                        "Invalid value '{v}'. The option 'rampUpTime' must not be negative"
                    ))
                })?,
        };
        Ok(Self {
            rows_per_second: number("rowsPerSecond", 1)?,
            ramp_up_seconds,
            partitions: usize::try_from(number("numPartitions", default_partitions as i64)?)
                .unwrap_or(1),
            schema,
            start_ms,
        })
    }

    /// How Spark describes it in progress.
    pub fn description(&self) -> String {
        format!(
            "RateStreamV2[rowsPerSecond={}, rampUpTimeSeconds={}, numPartitions={}",
            self.rows_per_second, self.ramp_up_seconds, self.partitions
        )
    }

    /// The newest offset at `now_ms`: whole seconds since the start.
    pub fn latest(&self, now_ms: i64) -> i64 {
        ((now_ms - self.start_ms) / 1000).max(0)
    }

    /// The first value of second `s`: the rows the seconds before it hold. During the ramp-up
    /// the rate grows by `rowsPerSecond / (rampUpTime + 1)` each second from 0, then stays.
    fn value_at_second(&self, s: i64) -> i64 {
        let ramp = self.ramp_up_seconds;
        let step = self.rows_per_second / (ramp + 1);
        if s <= ramp {
            // step * s * (s + 1) / 2, halving the even factor first
            if s % 2 == 1 {
                (s + 1) / 2 * step * s
            } else {
                s / 2 * step * (s + 1)
            }
        } else {
            self.value_at_second(ramp)
                .saturating_add((s - ramp).saturating_mul(self.rows_per_second))
        }
    }

    /// How many rows seconds `start..end` hold.
    pub fn rows_between(&self, start: i64, end: i64) -> i64 {
        (self.value_at_second(end) - self.value_at_second(start)).max(0)
    }

    /// The rows of seconds `start..end` as a plan over memory, in `numPartitions` partitions:
    /// their timestamps spread evenly over those seconds, as Spark spreads a batch's.
    pub fn batch(&self, start: i64, end: i64) -> Result<LogicalPlan> {
        let (first, last) = (self.value_at_second(start), self.value_at_second(end));
        let ms_per_value = if last > first {
            ((end - start) * 1000) as f64 / (last - first) as f64
        } else {
            0.0
        };
        let batch_start_ms = self.start_ms + start * 1000;
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
                    let ms = batch_start_ms + ((v - first) as f64 * ms_per_value).round() as i64;
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
        memory_plan(Arc::clone(&self.schema), partitions)
    }
}

/// A streaming query's source.
#[derive(Debug)]
pub enum Source {
    /// `format("rate")`.
    Rate(RateSource),
    /// A file format over a directory.
    Files(Box<FileSource>),
    /// A Delta table.
    Delta(Box<crate::delta_source::DeltaSource>),
    /// `format("rate-micro-batch")`.
    RateMicroBatch(crate::rate_micro_batch::RateMicroBatch),
    /// `format("kafka")`.
    Kafka(Box<crate::kafka_source::KafkaSource>),
}

impl Source {
    /// The source of `scan`, the query's source number `index` (its log in the checkpoint's
    /// `sources/<index>`); `partitions` for sources that make their own rows.
    pub fn open(
        scan: &StreamingScanNode,
        checkpoint: Option<&Checkpoint>,
        index: usize,
        partitions: usize,
    ) -> Result<Self> {
        Ok(match scan.format.as_str() {
            "rate" => {
                let start_ms = match checkpoint {
                    Some(c) => rate_start(c, index)?,
                    None => chrono::Utc::now().timestamp_millis(),
                };
                Source::Rate(RateSource::new(
                    &scan.options,
                    scan.arrow_schema(),
                    start_ms,
                    partitions,
                )?)
            }
            "rate-micro-batch" => {
                Source::RateMicroBatch(crate::rate_micro_batch::RateMicroBatch::new(
                    &scan.options,
                    scan.arrow_schema(),
                    partitions,
                )?)
            }
            "delta" => Source::Delta(Box::new(crate::delta_source::DeltaSource::open(scan)?)),
            "kafka" => Source::Kafka(Box::new(crate::kafka_source::KafkaSource::open(
                scan, checkpoint, index,
            )?)),
            _ => Source::Files(Box::new(FileSource::open(scan, checkpoint, index)?)),
        })
    }

    /// How Spark describes it in progress.
    pub fn description(&self) -> String {
        match self {
            Source::Rate(r) => r.description(),
            Source::Files(f) => f.description(),
            Source::Delta(d) => d.description(),
            Source::RateMicroBatch(r) => r.description(),
            Source::Kafka(k) => k.description(),
        }
    }

    /// The offset before any data: the rate source's second 0, the file log's batch -1.
    pub fn initial(&self) -> i64 {
        match self {
            Source::Rate(_) => 0,
            Source::Files(_) => -1,
            Source::Delta(d) => d.initial(),
            Source::RateMicroBatch(_) => 0,
            Source::Kafka(k) => k.initial(),
        }
    }

    /// Spark's JSON for an offset.
    pub fn offset_json(&self, offset: i64) -> String {
        match self {
            Source::Rate(_) => offset.to_string(),
            Source::Files(_) => serde_json::json!({ "logOffset": offset }).to_string(),
            Source::Delta(d) => d.offset_json(offset),
            Source::RateMicroBatch(r) => r.offset_json(offset),
            Source::Kafka(k) => k.offset_json(offset),
        }
    }

    /// An offset from Spark's JSON.
    pub fn parse_offset(&self, text: &str) -> Option<i64> {
        match self {
            Source::Rate(_) => text.trim().parse().ok(),
            Source::Files(_) => {
                serde_json::from_str::<serde_json::Value>(text).ok()?["logOffset"].as_i64()
            }
            Source::Delta(d) => d.parse_offset(text),
            Source::RateMicroBatch(r) => r.parse_offset(text),
            Source::Kafka(k) => k.parse_offset(text),
        }
    }

    /// Fixes what a bounded trigger (availableNow, once) reads: what exists at `now_ms`
    /// (`committed`: what the query read already). Returns the last offset to read, or `None`
    /// for files (they end when no file is left) and Kafka (which caps what it reports).
    pub async fn freeze(&self, now_ms: i64, committed: i64) -> Result<Option<i64>> {
        match self {
            Source::Kafka(k) => k.freeze().await.map(|()| None),
            Source::RateMicroBatch(_) => Ok(Some(committed + 1)),
            Source::Rate(r) => Ok(Some(r.latest(now_ms))),
            Source::Files(f) => f.freeze().map(|()| None),
            Source::Delta(d) => d.end_of_table().map(Some),
        }
    }

    /// The newest offset at `now_ms` (`all_at_once`: the once trigger's single batch;
    /// `committed`: what the query read already).
    pub async fn latest(&self, now_ms: i64, all_at_once: bool, committed: i64) -> Result<i64> {
        match self {
            Source::RateMicroBatch(_) => Ok(committed + 1),
            Source::Rate(r) => Ok(r.latest(now_ms)),
            Source::Files(f) => f.latest(all_at_once),
            Source::Delta(d) => d.latest(committed, all_at_once).await,
            Source::Kafka(k) => k.latest(all_at_once, committed).await,
        }
    }

    /// What `processAllAvailable` waits for: every offset there is now, whatever the limits
    /// per trigger.
    pub async fn target(&self, now_ms: i64, committed: i64) -> Result<i64> {
        match self {
            Source::Kafka(k) => {
                k.prepare().await?;
                k.latest(true, committed).await
            }
            other => other.latest(now_ms, false, committed).await,
        }
    }

    /// Whether offset `committed` includes everything up to offset `target`.
    pub fn reached(&self, committed: i64, target: i64) -> bool {
        match self {
            Source::Kafka(k) => k.reached(committed, target),
            _ => committed >= target,
        }
    }

    /// Work before the first trigger that needs the network (Kafka's initial offsets).
    pub async fn prepare(&self) -> Result<()> {
        match self {
            Source::Kafka(k) => k.prepare().await,
            _ => Ok(()),
        }
    }

    /// Spark's `latestOffset` and source `metrics` in the progress of a batch that read up to
    /// `end`, where they differ from `end` and nothing.
    pub fn progress(&self, end: i64) -> Option<(serde_json::Value, serde_json::Value)> {
        match self {
            Source::Kafka(k) => Some(k.progress(end)),
            _ => None,
        }
    }

    /// Spark's class for it, as real-time mode names an input stream it does not take.
    pub fn spark_class(&self) -> &'static str {
        match self {
            Source::Rate(_) => {
                "org.apache.spark.sql.execution.streaming.sources.RateStreamMicroBatchStream"
            }
            Source::RateMicroBatch(_) => {
                "org.apache.spark.sql.execution.streaming.sources.RatePerMicroBatchStream"
            }
            Source::Files(_) => "org.apache.spark.sql.execution.streaming.runtime.FileStreamSource",
            Source::Delta(_) => "org.apache.spark.sql.delta.sources.DeltaSource",
            Source::Kafka(_) => "org.apache.spark.sql.kafka010.KafkaMicroBatchStream",
        }
    }

    /// After the batches through `end` committed: what the source does with what they read
    /// (the file source's `cleanSource`).
    pub fn committed(&self, end: i64) -> Result<()> {
        match self {
            Source::Files(f) => f.committed(end),
            _ => Ok(()),
        }
    }

    /// Options found wrong only when the query runs (Spark fails the query, not `start()`).
    pub fn check_options(&self) -> Result<()> {
        match self {
            Source::Files(f) => f.check_options(),
            _ => Ok(()),
        }
    }

    /// A batch without rows (a batch run for a newer watermark), as a plan.
    pub fn empty_batch(&self) -> Result<LogicalPlan> {
        let schema = match self {
            Source::Rate(r) => Arc::clone(&r.schema),
            Source::Files(f) => f.schema(),
            Source::Delta(d) => d.schema(),
            Source::RateMicroBatch(r) => r.schema(),
            Source::Kafka(k) => k.schema(),
        };
        memory_plan(schema, vec![vec![]])
    }

    /// The rows after `start` up to `end`, read into memory, as a plan; and how many.
    pub async fn batch(
        &self,
        session: &Session,
        start: i64,
        end: i64,
    ) -> Result<(LogicalPlan, u64)> {
        match self {
            Source::Rate(r) => Ok((r.batch(start, end)?, r.rows_between(start, end) as u64)),
            Source::RateMicroBatch(r) => Ok((
                memory_plan(r.schema(), r.batches(start, end)?)?,
                r.rows_between(start, end),
            )),
            Source::Delta(d) => {
                let (schema, batches) = d.batch(session, start, end).await?;
                let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
                Ok((memory_plan(schema, vec![batches])?, rows))
            }
            Source::Files(f) => f.batch(session, start, end).await,
            Source::Kafka(k) => k.batch(start, end).await,
        }
    }
}

/// The rate source's start time, kept in its log (`sources/<index>`, batch 0) so that a
/// restarted query's seconds count from the first run's start.
fn rate_start(checkpoint: &Checkpoint, index: usize) -> Result<i64> {
    let log = MetadataLog::new(checkpoint.source_dir(index));
    let read = |log: &MetadataLog| -> Result<Option<i64>> {
        Ok(log.get(0)?.and_then(|lines| {
            let line = lines.first()?;
            serde_json::from_str::<serde_json::Value>(line).ok()?["startTimeMs"].as_i64()
        }))
    };
    if let Some(ms) = read(&log)? {
        return Ok(ms);
    }
    let entry = serde_json::json!({ "startTimeMs": chrono::Utc::now().timestamp_millis() });
    log.add(0, &[entry.to_string()])?;
    read(&log)?.ok_or_else(|| {
        Error::IllegalArgument(format!(
            "the rate source's log in {} has no start time",
            log.dir().display()
        ))
    })
}
