//! The file stream source (json, csv, parquet, text), as Spark's `FileStreamSource`: it
//! watches a directory; each time it is asked for its newest offset it lists the directory
//! and gives the files it has not seen (oldest first, up to `maxFilesPerTrigger`) the next
//! batch number of its own log — `sources/<i>` in the checkpoint, in Spark's form
//! (`{"path":..,"timestamp":..,"batchId":..}` per file) — and its offset is `{"logOffset":N}`.
//! A batch reads the files of log batches after its start up to its end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::logical_expr::LogicalPlan;
use spate_common::{Error, Result};
use spate_exec::QueryScope;
use spate_plan::streaming::StreamingScanNode;
use spate_plan::{ReadRequest, Sources};
use spate_session::Session;

use crate::checkpoint::Checkpoint;
use crate::log::MetadataLog;
use crate::micro_batch::memory_plan;

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
    /// The partition columns (`key=value` directories found when the query started) the
    /// schema has, with their types.
    partitions: Vec<(String, DataType)>,
    /// What becomes of a file once its batch committed (`cleanSource`), or why the options
    /// do not say.
    clean: std::result::Result<Clean, String>,
    /// The log batches cleaned so far (this run).
    cleaned_through: Mutex<i64>,
}

/// `cleanSource`: what becomes of a file once its batch committed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Clean {
    Off,
    Delete,
    /// Moved under this directory, at its own absolute path below it (as Spark moves it).
    Archive(PathBuf),
}

impl Clean {
    /// The mode the options ask for, or Spark's message for options that do not make one.
    fn of(options: &BTreeMap<String, String>) -> std::result::Result<Self, String> {
        let mode = options.get("cleansource").map(|m| m.trim().to_uppercase());
        match mode.as_deref() {
            None | Some("OFF") => Ok(Self::Off),
            Some("DELETE") => Ok(Self::Delete),
            Some("ARCHIVE") => match options.get("sourcearchivedir") {
                Some(dir) => Ok(Self::Archive(PathBuf::from(local(dir)))),
                None => Err("Archive mode must be used with 'sourceArchiveDir' option.".into()),
            },
            Some(_) => Err(format!(
                "Invalid mode for clean source option {}. Must be one of ARCHIVE,DELETE,OFF",
                options.get("cleansource").map_or("", |m| m.as_str())
            )),
        }
    }
}

/// A stream's `maxFilesPerTrigger` and `maxBytesPerTrigger` options (the file and Delta
/// sources take both), as given; Spark's messages for values that are not positive.
pub(crate) fn trigger_limits(
    options: &BTreeMap<String, String>,
) -> Result<(Option<usize>, Option<u64>)> {
    let files = match options.get("maxfilespertrigger") {
        None => None,
        Some(v) => Some(v.trim().parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Error::IllegalArgument(format!(
                "Invalid value '{v}' for option 'maxFilesPerTrigger', must be a positive integer"
            ))
        })?),
    };
    let bytes = match options.get("maxbytespertrigger") {
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
    Ok((files, bytes))
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
        let (max_files, max_bytes) = trigger_limits(&scan.options)?;
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
        let schema = scan.arrow_schema();
        let partitions = spate_lake::partitions::discover(&dir)
            .into_iter()
            .filter_map(|c| {
                let field = schema.field_with_name(&c.name).ok()?;
                Some((c.name, field.data_type().clone()))
            })
            .collect();
        let clean = Clean::of(&scan.options);
        Ok(Self {
            partitions,
            clean,
            cleaned_through: Mutex::new(-1),
            dir,
            format: scan.format.clone(),
            schema,
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
    pub fn freeze(&self) -> Result<()> {
        let files = self.list()?;
        self.lock().frozen = Some(files.into_iter().map(|(p, _)| p).collect());
        Ok(())
    }

    /// The newest log batch, after giving new files one (`-1`: none yet); `all_at_once`
    /// ignores `maxFilesPerTrigger` (the once trigger).
    pub fn latest(&self, all_at_once: bool) -> Result<i64> {
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

    /// How Spark describes it in progress.
    pub fn description(&self) -> String {
        format!("FileStreamSource[{}]", file_url(&self.dir))
    }

    /// Its schema.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The rows of the files of log batches after `start` through `end`, read into memory,
    /// as a plan; and how many. Files of one partition directory are read together, their
    /// partition columns filled from the directory's names.
    pub async fn batch(
        &self,
        session: &Session,
        start: i64,
        end: i64,
    ) -> Result<(LogicalPlan, u64)> {
        let state = session.state(QueryScope::default())?;
        let data_schema = Arc::new(Schema::new(
            self.schema
                .fields()
                .iter()
                .filter(|f| !self.partitions.iter().any(|(n, _)| n == f.name()))
                .map(|f| f.as_ref().clone())
                .collect::<Vec<_>>(),
        ));
        let mut groups: BTreeMap<Vec<Option<String>>, Vec<String>> = BTreeMap::new();
        for path in self.files(start, end) {
            groups
                .entry(self.partition_values(&path))
                .or_default()
                .push(path);
        }
        let mut out = Vec::new();
        for (values, paths) in groups {
            let plan = session
                .catalog
                .read(
                    &state,
                    ReadRequest {
                        format: self.format.clone(),
                        paths,
                        schema: Some(Arc::clone(&data_schema)),
                        options: self.options.clone(),
                    },
                )
                .await?;
            for batch in spate_exec::collect(&state, &plan, "stream source").await? {
                out.push(self.with_partitions(&batch, &values)?);
            }
        }
        let rows = out.iter().map(|b| b.num_rows() as u64).sum();
        Ok((memory_plan(Arc::clone(&self.schema), vec![out])?, rows))
    }

    /// The values of the partition columns in `path`'s directories (null for Spark's null
    /// partition, or a directory level that is missing).
    fn partition_values(&self, path: &str) -> Vec<Option<String>> {
        let relative = Path::new(path)
            .strip_prefix(&self.dir)
            .unwrap_or(Path::new(path));
        let pairs: HashMap<String, String> = relative
            .parent()
            .into_iter()
            .flat_map(|p| p.components())
            .filter_map(|c| {
                let (k, v) = c.as_os_str().to_str()?.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect();
        self.partitions
            .iter()
            .map(|(n, _)| {
                pairs
                    .get(n)
                    .filter(|v| v.as_str() != spate_lake::partitions::NULL_PARTITION)
                    .cloned()
            })
            .collect()
    }

    /// `batch` (the data columns) with the partition columns `values`, in the schema's order.
    fn with_partitions(
        &self,
        batch: &RecordBatch,
        values: &[Option<String>],
    ) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let columns = self
            .schema
            .fields()
            .iter()
            .map(
                |f| match self.partitions.iter().position(|(p, _)| p == f.name()) {
                    Some(i) => {
                        let text = StringArray::from(vec![values[i].clone(); n]);
                        Ok(datafusion::arrow::compute::cast(&text, f.data_type())?)
                    }
                    None => {
                        let column = batch.column_by_name(f.name()).ok_or_else(|| {
                            Error::internal(format!(
                                "a stream's file rows without column {}",
                                f.name()
                            ))
                        })?;
                        Ok(Arc::clone(column))
                    }
                },
            )
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(n)),
        )?)
    }

    /// Spark's error for a `cleanSource` the options do not make.
    pub fn check_options(&self) -> Result<()> {
        self.clean
            .as_ref()
            .map(|_| ())
            .map_err(|m| Error::IllegalArgument(m.clone()))
    }

    /// After the batches through `end` committed: `cleanSource`'s work on their files not
    /// cleaned yet (archived or deleted; a file already gone is left alone — after a restart
    /// the first call goes over every batch of the log).
    pub fn committed(&self, end: i64) -> Result<()> {
        let Ok(clean) = &self.clean else {
            return Ok(());
        };
        if *clean == Clean::Off {
            return Ok(());
        }
        let mut through = self
            .cleaned_through
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let files = self.files(*through, end);
        *through = (*through).max(end);
        drop(through);
        for path in files {
            let from = Path::new(&path);
            let done = match clean {
                Clean::Off => Ok(()),
                Clean::Delete => std::fs::remove_file(from),
                Clean::Archive(dir) => {
                    let absolute = std::path::absolute(from).unwrap_or(from.to_path_buf());
                    let to = dir.join(absolute.strip_prefix("/").unwrap_or(&absolute));
                    to.parent()
                        .map_or(Ok(()), std::fs::create_dir_all)
                        .and_then(|()| std::fs::rename(from, &to))
                }
            };
            match done {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Spark logs a file it could not clean and goes on; so does Spate
                    tracing::warn!(path = %path, error = %e, "cleanSource could not clean a file");
                }
            }
        }
        Ok(())
    }
}

/// A file's modification time in ms since the epoch (0 when the system cannot tell).
pub(crate) fn modified_ms(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}
