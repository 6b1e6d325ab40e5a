//! Streaming sources: where a micro-batch's rows come from. A source reports the newest offset
//! it has (`latest`) and plans the rows between two offsets (`batch`); offsets are the JSON
//! Spark writes in the checkpoint and shows in progress.
//!
//! The rate source (Spark's `format("rate")`) produces `rowsPerSecond` rows for each whole
//! second since the query started (fewer during `rampUpTime`): its offset is the number of
//! seconds, rows have values 0, 1, 2, ... and the timestamps of a batch's rows are spread
//! evenly over the batch's seconds.
//!
//! The file source (json, csv, parquet, text) watches a directory: each time it is asked for
//! its newest offset it lists the directory and gives the files it has not seen (oldest
//! first, up to `maxFilesPerTrigger`) the next batch number of its own log, as Spark's
//! `FileStreamSource` does — the log is `sources/0` in the checkpoint, in Spark's form
//! (`{"path":..,"timestamp":..,"batchId":..}` per file), and its offset is
//! `{"logOffset":N}`. A batch reads the files of log batches after its start up to its end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Column;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use spate_common::{Error, Result};
use spate_exec::QueryScope;
use spate_plan::streaming::StreamingScanNode;
use spate_plan::{ReadRequest, Sources};
use spate_session::Session;

use crate::checkpoint::Checkpoint;
use crate::log::MetadataLog;

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

/// A file's modification time in ms since the epoch (0 when the system cannot tell).
pub(crate) fn modified_ms(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}

/// `batches` (of `schema`) as a plan over memory whose columns are unqualified, so that it
/// can stand in for a streaming scan or feed a writer.
pub(crate) fn memory_plan(
    schema: SchemaRef,
    partitions: Vec<Vec<RecordBatch>>,
) -> Result<LogicalPlan> {
    let table = MemTable::try_new(Arc::clone(&schema), partitions)?;
    let columns = schema
        .fields()
        .iter()
        .map(|f| Expr::Column(Column::new(Some("batch"), f.name())).alias(f.name()))
        .collect::<Vec<_>>();
    Ok(
        LogicalPlanBuilder::scan("batch", provider_as_source(Arc::new(table)), None)?
            .project(columns)?
            .build()?,
    )
}

/// Options of the file source that are not the reader's.
const STREAM_OPTIONS: &[&str] = &[
    "path",
    "maxfilespertrigger",
    "maxbytespertrigger",
    "latestfirst",
    "maxfileage",
    "cleansource",
    "sourcearchivedir",
];

/// The files the source has given batch numbers, and where its log is.
#[derive(Debug, Default)]
struct FileLog {
    /// The checkpoint's `sources/0`, if the query has a checkpoint.
    log: Option<MetadataLog>,
    /// Files per log batch.
    batches: BTreeMap<i64, Vec<String>>,
    seen: HashSet<String>,
    /// Files allowed when the trigger is bounded (availableNow, once): those present at start.
    frozen: Option<HashSet<String>>,
}

/// Spark's file stream source.
#[derive(Debug)]
pub struct FileSource {
    dir: PathBuf,
    format: String,
    schema: SchemaRef,
    options: HashMap<String, String>,
    max_files: Option<usize>,
    /// `maxBytesPerTrigger`: the most bytes of files a batch takes (at least one file).
    max_bytes: Option<u64>,
    /// `latestFirst`: the newest files first when there is a backlog.
    latest_first: bool,
    /// `maxFileAge` (ms): files older than the newest one by more are not read.
    max_file_age_ms: i64,
    state: Mutex<FileLog>,
}

/// A path as Spark writes it in the log (`file:///...`) and as the reader takes it.
fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn local(path: &str) -> &str {
    path.strip_prefix("file://").unwrap_or(path)
}

impl FileSource {
    /// The source of `scan`, with its log in `checkpoint`'s `sources/<index>` (loaded when it
    /// exists).
    pub fn open(
        scan: &StreamingScanNode,
        checkpoint: Option<&Checkpoint>,
        index: usize,
    ) -> Result<Self> {
        let dir = scan
            .path
            .as_deref()
            .map(|p| PathBuf::from(local(p)))
            .ok_or_else(|| Error::IllegalArgument("the file source needs a path".into()))?;
        let max_files = match scan.options.get("maxfilespertrigger") {
            None => None,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(Error::IllegalArgument(format!(
                        "Invalid value '{v}' for option 'maxFilesPerTrigger', must be a positive integer"
                    )));
                }
            },
        };
        let max_bytes = match scan.options.get("maxbytespertrigger") {
            None => None,
            Some(v) => Some(
                spate_common::config::parse_bytes(v)
                    .filter(|n| *n > 0)
                    .map(|n| n.unsigned_abs())
                    .ok_or_else(|| {
                        Error::IllegalArgument(format!(
                            "Invalid value '{v}' for option 'maxBytesPerTrigger', must be a positive number of bytes"
                        ))
                    })?,
            ),
        };
        if max_files.is_some() && max_bytes.is_some() {
            return Err(Error::IllegalArgument(
                "Options 'maxFilesPerTrigger' and 'maxBytesPerTrigger' can't be both set at the same time".into(),
            ));
        }
        let latest_first = match scan
            .options
            .get("latestfirst")
            .map(|v| v.trim().to_lowercase())
        {
            None => false,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(v) => {
                return Err(Error::IllegalArgument(format!(
                    "Invalid value '{v}' for option 'latestFirst', must be true or false"
                )));
            }
        };
        let max_file_age_ms = match scan.options.get("maxfileage") {
            None => 7 * 86_400_000,
            Some(v) => spate_common::config::parse_duration(v, std::time::Duration::from_millis(1))
                .and_then(|d| i64::try_from(d.as_millis()).ok())
                .ok_or_else(|| {
                    Error::IllegalArgument(format!(
                        "Invalid value '{v}' for option 'maxFileAge', must be a time like '7d' or '1h'"
                    ))
                })?,
        };
        let mut state = FileLog {
            log: checkpoint.map(|c| MetadataLog::new(c.source_dir(index))),
            ..FileLog::default()
        };
        if let Some(log) = &state.log {
            for id in log.ids()? {
                let paths = log
                    .get(id)?
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|line| {
                        let v: serde_json::Value = serde_json::from_str(line).ok()?;
                        v["path"].as_str().map(|p| local(p).to_string())
                    })
                    .collect::<Vec<_>>();
                state.seen.extend(paths.iter().cloned());
                state.batches.insert(id as i64, paths);
            }
        }
        Ok(Self {
            dir,
            format: scan.format.clone(),
            schema: scan.arrow_schema(),
            options: scan
                .options
                .iter()
                .filter(|(k, _)| !STREAM_OPTIONS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            max_files,
            max_bytes,
            latest_first,
            max_file_age_ms,
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FileLog> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The data files under the directory, oldest first (hidden files and those starting
    /// with `_`, such as `_SUCCESS`, are not data, as in Spark).
    fn list(&self) -> Result<Vec<(String, i64)>> {
        if !self.dir.exists() {
            return Ok(vec![]);
        }
        let mut files: Vec<(String, i64)> = spate_lake::source::files_under(&self.dir)?
            .into_iter()
            .map(|p| {
                let modified = std::fs::metadata(&p).map_or(0, |m| modified_ms(&m));
                (p.display().to_string(), modified)
            })
            .collect();
        files.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        Ok(files)
    }

    /// Allows only the files present now (availableNow, once).
    fn freeze(&self) -> Result<()> {
        let files = self.list()?;
        self.lock().frozen = Some(files.into_iter().map(|(p, _)| p).collect());
        Ok(())
    }

    /// The newest log batch, after giving new files one (`-1`: none yet); `all_at_once`
    /// ignores `maxFilesPerTrigger` (the once trigger).
    fn latest(&self, all_at_once: bool) -> Result<i64> {
        let files = self.list()?;
        let newest_listed = files.iter().map(|f| f.1).max();
        let mut state = self.lock();
        let mut new: Vec<(String, i64)> = files
            .into_iter()
            .filter(|(p, _)| !state.seen.contains(p))
            .filter(|(p, _)| state.frozen.as_ref().is_none_or(|f| f.contains(p)))
            .collect();
        let last = state.batches.keys().next_back().copied().unwrap_or(-1);
        // Spark: files older than the newest seen by more than maxFileAge are not read, unless the
        // newest go first with a per-trigger cap (then age means nothing)
        if !(self.latest_first && self.max_files.is_some())
            && let Some(newest) = newest_listed
        {
            new.retain(|f| f.1 >= newest - self.max_file_age_ms);
        }
        if new.is_empty() {
            return Ok(last);
        }
        if self.latest_first {
            new.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        }
        if let Some(max) = self.max_files.filter(|_| !all_at_once) {
            new.truncate(max);
        }
        if let Some(max) = self.max_bytes.filter(|_| !all_at_once) {
            let mut total = 0u64;
            let mut keep = 0;
            for (p, _) in &new {
                let size = std::fs::metadata(p).map_or(0, |m| m.len());
                if keep > 0 && total + size > max {
                    break;
                }
                total += size;
                keep += 1;
            }
            new.truncate(keep);
        }
        let id = last + 1;
        if let Some(log) = &state.log {
            let lines: Vec<String> = new
                .iter()
                .map(|(p, t)| {
                    serde_json::json!({
                        "path": file_url(Path::new(p)),
                        "timestamp": t,
                        "batchId": id,
                    })
                    .to_string()
                })
                .collect();
            log.add(id as u64, &lines)?;
        }
        let paths: Vec<String> = new.into_iter().map(|(p, _)| p).collect();
        state.seen.extend(paths.iter().cloned());
        state.batches.insert(id, paths);
        Ok(id)
    }

    /// The files of log batches `start + 1 ..= end`.
    fn files(&self, start: i64, end: i64) -> Vec<String> {
        let state = self.lock();
        state
            .batches
            .range(start + 1..=end)
            .flat_map(|(_, p)| p.iter().cloned())
            .collect()
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
            _ => Source::Files(Box::new(FileSource::open(scan, checkpoint, index)?)),
        })
    }

    /// How Spark describes it in progress.
    pub fn description(&self) -> String {
        match self {
            Source::Rate(r) => r.description(),
            Source::Files(f) => format!("FileStreamSource[{}]", file_url(&f.dir)),
            Source::Delta(d) => d.description(),
            Source::RateMicroBatch(r) => r.description(),
        }
    }

    /// The offset before any data: the rate source's second 0, the file log's batch -1.
    pub fn initial(&self) -> i64 {
        match self {
            Source::Rate(_) => 0,
            Source::Files(_) => -1,
            Source::Delta(d) => d.initial(),
            Source::RateMicroBatch(_) => 0,
        }
    }

    /// Spark's JSON for an offset.
    pub fn offset_json(&self, offset: i64) -> String {
        match self {
            Source::Rate(_) => offset.to_string(),
            Source::Files(_) => serde_json::json!({ "logOffset": offset }).to_string(),
            Source::Delta(d) => d.offset_json(offset),
            Source::RateMicroBatch(r) => r.offset_json(offset),
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
        }
    }

    /// Fixes what a bounded trigger (availableNow, once) reads: what exists at `now_ms`
    /// (`committed`: what the query read already). Returns the last offset to read, or `None`
    /// for files (they end when no file is left).
    pub fn freeze(&self, now_ms: i64, committed: i64) -> Result<Option<i64>> {
        match self {
            Source::RateMicroBatch(_) => Ok(Some(committed + 1)),
            Source::Rate(r) => Ok(Some(r.latest(now_ms))),
            Source::Files(f) => f.freeze().map(|()| None),
            Source::Delta(d) => d.latest().map(Some),
        }
    }

    /// The newest offset at `now_ms` (`all_at_once`: the once trigger's single batch;
    /// `committed`: what the query read already).
    pub fn latest(&self, now_ms: i64, all_at_once: bool, committed: i64) -> Result<i64> {
        match self {
            Source::RateMicroBatch(_) => Ok(committed + 1),
            Source::Rate(r) => Ok(r.latest(now_ms)),
            Source::Files(f) => f.latest(all_at_once),
            Source::Delta(d) => d.latest(),
        }
    }

    /// A batch without rows (a batch run for a newer watermark), as a plan.
    pub fn empty_batch(&self) -> Result<LogicalPlan> {
        let schema = match self {
            Source::Rate(r) => Arc::clone(&r.schema),
            Source::Files(f) => Arc::clone(&f.schema),
            Source::Delta(d) => d.schema(),
            Source::RateMicroBatch(r) => r.schema(),
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
            Source::Files(f) => {
                let paths = f.files(start, end);
                let state = session.state(QueryScope::default())?;
                let plan = session
                    .catalog
                    .read(
                        &state,
                        ReadRequest {
                            format: f.format.clone(),
                            paths,
                            schema: Some(Arc::clone(&f.schema)),
                            options: f.options.clone(),
                        },
                    )
                    .await?;
                let batches = spate_exec::collect(&state, &plan, "stream source").await?;
                let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
                let plan = memory_plan(Arc::clone(plan.schema().inner()), vec![batches])?;
                Ok((plan, rows))
            }
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
