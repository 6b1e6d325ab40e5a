//! The Delta streaming source (`spark.readStream.format("delta").load(path)`), as delta-spark's
//! `DeltaSource` reads a table: the first batch is the table as of the version current when the
//! query starts (or, with `startingVersion`, the changes from that version on; with
//! `startingTimestamp`, from the first version committed at or after it), and each later
//! batch the rows that the next commits appended. An offset is the last version read.
//!
//! Only appends stream: a commit that removes data (a DELETE, UPDATE, MERGE or overwrite) fails
//! the query with delta-spark's error, unless `ignoreDeletes` (commits that only delete are
//! skipped) or `skipChangeCommits` (every commit that removes data is skipped) says otherwise.
//! The rows of commits are read from the table's change data (its added files), which does not
//! need the change data feed enabled.
//!
//! A batch admits at most `maxFilesPerTrigger` files (1000 by default, as delta-spark) or about
//! `maxBytesPerTrigger` bytes (at least one file), counting the starting snapshot's files in
//! delta-spark's order and then each commit's added files in the commit's order. An offset is
//! delta-spark's position: a version, the index of the last file read in it (-1: none), and
//! whether that version is the starting snapshot; inside the engine it is one ordered number
//! ([`position`]). Whole versions are read as before; a part of a version reads its chosen
//! files from the version's snapshot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, col, lit};
use spate_common::{Error, Result};
use spate_exec::QueryScope;
use spate_lake::delta::files::{DataFile, added_files, read_files, snapshot_files};
use spate_plan::streaming::StreamingScanNode;
use spate_plan::{ReadRequest, Sources};
use spate_session::Session;

/// Positions per version: the files of a version, twice (its snapshot's, or its commit's).
const STRIDE: i64 = 1 << 22;

/// A position as one ordered number: read through file `index` (-1: none) of `version`'s
/// snapshot files (`snapshot`) or of the files its commit added.
pub fn position(version: i64, index: i64, snapshot: bool) -> i64 {
    version * 2 * STRIDE + if snapshot { STRIDE } else { 0 } + index + 1
}

/// The parts of a [`position`]: version, index, snapshot.
pub fn parts(position: i64) -> (i64, i64, bool) {
    let within = position.rem_euclid(2 * STRIDE);
    (
        position.div_euclid(2 * STRIDE),
        within % STRIDE - 1,
        within >= STRIDE,
    )
}

/// The files of versions already listed: (version, snapshot) -> files.
type VersionFiles = HashMap<(i64, bool), Arc<Vec<DataFile>>>;

/// A Delta table read as a stream.
#[derive(Debug)]
pub struct DeltaSource {
    dir: PathBuf,
    schema: SchemaRef,
    starting_version: Option<i64>,
    /// The version whose snapshot a fresh query starts with (without `startingVersion`).
    snapshot_version: i64,
    ignore_deletes: bool,
    skip_change_commits: bool,
    table_id: String,
    max_files: Option<usize>,
    max_bytes: Option<u64>,
    /// Each version's files, once listed: (version, snapshot) -> files.
    files: std::sync::Mutex<VersionFiles>,
}

/// What one commit did, from its log file.
struct Commit {
    adds: usize,
    removes: usize,
    operation: String,
}

fn flag(options: &std::collections::BTreeMap<String, String>, key: &str) -> bool {
    options
        .get(key)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

impl DeltaSource {
    /// The source of `scan` (format `delta`).
    pub fn open(scan: &StreamingScanNode) -> Result<Self> {
        let path = scan
            .path
            .as_deref()
            .ok_or_else(|| Error::IllegalArgument("the Delta source needs a path".into()))?;
        let dir = PathBuf::from(path.strip_prefix("file://").unwrap_or(path));
        let starting_version = match scan.options.get("startingversion").map(|v| v.trim()) {
            None | Some("latest") => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                Error::IllegalArgument(format!(
                    "Invalid value '{v}' for option 'startingVersion': a version number or 'latest'"
                ))
            })?),
        };
        let starting_version = match scan.options.get("startingtimestamp") {
            None => starting_version,
            Some(_) if starting_version.is_some() => {
                return Err(Error::IllegalArgument(
                    "[DELTA_STARTING_VERSION_AND_TIMESTAMP_BOTH_SET] Please either provide 'startingVersion' or 'startingTimestamp'".into(),
                ));
            }
            Some(ts) => Some(version_at(&dir, ts)?),
        };
        let table_id = std::fs::read_to_string(commit_path(&dir, 0))
            .ok()
            .and_then(|text| {
                text.lines().find_map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).ok()?;
                    v.get("metaData")?.get("id")?.as_str().map(str::to_string)
                })
            })
            .unwrap_or_default();
        let (max_files, max_bytes) = crate::file_source::trigger_limits(&scan.options)?;
        // delta-spark admits 1000 files a batch unless told otherwise
        let max_files = max_files.or(Some(1000));
        let snapshot_version = latest_version(&dir)?;
        Ok(Self {
            schema: scan.arrow_schema(),
            starting_version,
            snapshot_version,
            max_files,
            max_bytes,
            files: std::sync::Mutex::new(HashMap::new()),
            ignore_deletes: flag(&scan.options, "ignoredeletes"),
            skip_change_commits: flag(&scan.options, "skipchangecommits"),
            table_id,
            dir,
        })
    }

    /// Its schema.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// How Spark describes it in progress.
    pub fn description(&self) -> String {
        format!("DeltaSource[file:{}]", self.dir.display())
    }

    /// The position before anything was read: nothing of `startingVersion`'s commit, or
    /// nothing of the current version's snapshot.
    pub fn initial(&self) -> i64 {
        match self.starting_version {
            Some(v) => position(v, -1, false),
            None => position(self.snapshot_version, -1, true),
        }
    }

    /// delta-spark's offset JSON for a position.
    pub fn offset_json(&self, at: i64) -> String {
        let (version, index, snapshot) = parts(at);
        serde_json::json!({
            "sourceVersion": 1,
            "reservoirId": self.table_id,
            "reservoirVersion": version,
            "index": index,
            "isStartingVersion": snapshot,
        })
        .to_string()
    }

    /// The position an offset JSON names.
    pub fn parse_offset(&self, text: &str) -> Option<i64> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let version = v.get("reservoirVersion")?.as_i64()?;
        let index = v.get("index").and_then(|i| i.as_i64()).unwrap_or(-1);
        let snapshot = v
            .get("isStartingVersion")
            .and_then(|s| s.as_bool())
            .unwrap_or(false);
        Some(position(version, index, snapshot))
    }

    /// Everything the table has now: the position after its newest version.
    pub fn end_of_table(&self) -> Result<i64> {
        Ok(position(latest_version(&self.dir)? + 1, -1, false))
    }

    /// The files of `version`: its snapshot's, or those its commit added (none for a commit
    /// the options skip; delta-spark's error for one that changed data).
    async fn files_of(&self, version: i64, snapshot: bool) -> Result<Arc<Vec<DataFile>>> {
        if let Some(f) = self.lock_files().get(&(version, snapshot)) {
            return Ok(Arc::clone(f));
        }
        let files = if snapshot {
            snapshot_files(&self.dir, version).await?
        } else if self.skipped(version - 1, version)?.is_empty() {
            added_files(&self.dir, version)?
        } else {
            Vec::new()
        };
        let files = Arc::new(files);
        self.lock_files()
            .insert((version, snapshot), Arc::clone(&files));
        Ok(files)
    }

    fn lock_files(&self) -> std::sync::MutexGuard<'_, VersionFiles> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The position a batch from `from` reaches: as many files as the limits admit (all with
    /// `all_at_once`), up to the table's newest version.
    pub async fn latest(&self, from: i64, all_at_once: bool) -> Result<i64> {
        let newest = latest_version(&self.dir)?;
        let (mut version, mut index, mut snapshot) = parts(from);
        // versions read already need no list any more (the cache stays as small as the backlog)
        self.lock_files().retain(|(v, _), _| *v >= version);
        let (mut files, mut bytes) = (0usize, 0u64);
        let mut end = from;
        while version <= newest {
            let list = self.files_of(version, snapshot).await?;
            let first = usize::try_from(index + 1).unwrap_or(0);
            for (k, f) in list.iter().enumerate().skip(first) {
                if !all_at_once {
                    let size = u64::try_from(f.size).unwrap_or(0);
                    let over_files = self.max_files.is_some_and(|m| files >= m);
                    let over_bytes = self
                        .max_bytes
                        .is_some_and(|m| files > 0 && bytes + size > m);
                    if over_files || over_bytes {
                        return Ok(end);
                    }
                    bytes += size;
                }
                files += 1;
                end = position(version, k as i64, snapshot);
            }
            // the version is read: the next one's commit
            version += 1;
            index = -1;
            snapshot = false;
            end = position(version, index, snapshot);
        }
        Ok(end)
    }

    fn commit(&self, version: i64) -> Result<Commit> {
        let path = commit_path(&self.dir, version);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::IllegalArgument(format!(
                "cannot read the Delta commit {}: {e}",
                path.display()
            ))
        })?;
        let mut commit = Commit {
            adds: 0,
            removes: 0,
            operation: String::new(),
        };
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let changes = |a: &serde_json::Value| {
                a.get("dataChange")
                    .and_then(|d| d.as_bool())
                    .unwrap_or(true)
            };
            if let Some(a) = v.get("add") {
                commit.adds += usize::from(changes(a));
            } else if let Some(r) = v.get("remove") {
                commit.removes += usize::from(changes(r));
            } else if let Some(op) = v.get("commitInfo").and_then(|c| c.get("operation")) {
                commit.operation = op.as_str().unwrap_or_default().to_string();
            }
        }
        Ok(commit)
    }

    /// The versions in `start + 1 ..= end` to skip; delta-spark's error for a commit that
    /// changed data the options do not let the stream skip.
    fn skipped(&self, start: i64, end: i64) -> Result<Vec<i64>> {
        let mut skipped = Vec::new();
        for v in (start + 1)..=end {
            let c = self.commit(v)?;
            if c.removes == 0 {
                continue;
            }
            if self.skip_change_commits || (self.ignore_deletes && c.adds == 0) {
                skipped.push(v);
                continue;
            }
            let operation = if c.operation.is_empty() {
                "a change".to_string()
            } else {
                c.operation.clone()
            };
            return Err(if c.adds == 0 {
                Error::Analysis {
                    class: "DELTA_SOURCE_IGNORE_DELETE".into(),
                    message: format!(
                        "Detected deleted data (for example {operation}) from streaming source at version {v}. This is currently not supported. If you'd like to ignore deletes, set the option 'ignoreDeletes' to 'true'. The source table can be found at path file:{}.",
                        self.dir.display()
                    ),
                    params: vec![],
                }
            } else {
                Error::Analysis {
                    class: "DELTA_SOURCE_TABLE_IGNORE_CHANGES".into(),
                    message: format!(
                        "Detected a data update (for example {operation}) in the source table at version {v}. This is currently not supported. If this is going to happen regularly and you are okay to skip changes, set the option 'skipChangeCommits' to 'true'. If you would like the data update to be reflected, please restart this query with a fresh checkpoint directory. The source table can be found at path file:{}.",
                        self.dir.display()
                    ),
                    params: vec![],
                }
            });
        }
        Ok(skipped)
    }

    /// The rows of the positions after `start` through `end`, read into memory, with their
    /// schema: whole versions as before (the snapshot as of its version, commits from the
    /// change data), parts of versions from their chosen files.
    pub async fn batch(
        &self,
        session: &Session,
        start: i64,
        end: i64,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let state = session.state(QueryScope::default())?;
        let (mut version, mut index, mut snapshot) = parts(start);
        let (end_version, end_index, end_snapshot) = parts(end);
        let mut out = Vec::new();
        // whole commits waiting to be read together: (first, last)
        let mut commits: Option<(i64, i64)> = None;
        while (version, snapshot) < (end_version, end_snapshot)
            || (version == end_version && snapshot == end_snapshot && index < end_index)
        {
            let list = self.files_of(version, snapshot).await?;
            let from = usize::try_from(index + 1).unwrap_or(0);
            let to = if version == end_version && snapshot == end_snapshot {
                usize::try_from(end_index + 1).unwrap_or(0)
            } else {
                list.len()
            };
            let whole = from == 0 && to == list.len();
            if whole && !snapshot {
                commits = Some(commits.map_or((version, version), |(a, _)| (a, version)));
            } else {
                if let Some((a, b)) = commits.take() {
                    out.extend(self.read_commits(session, &state, a, b).await?);
                }
                if whole {
                    out.extend(self.read_snapshot(session, &state, version).await?);
                } else if from < to {
                    let chosen: Vec<String> =
                        list[from..to].iter().map(|f| f.path.clone()).collect();
                    let (_, rows) = read_files(&state, &self.dir, version, &chosen).await?;
                    out.extend(self.project(rows)?);
                }
            }
            version += 1;
            index = -1;
            snapshot = false;
        }
        if let Some((a, b)) = commits {
            out.extend(self.read_commits(session, &state, a, b).await?);
        }
        Ok((Arc::clone(&self.schema), out))
    }

    /// `rows` with the stream's columns (a version's files may carry others).
    fn project(&self, rows: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
        rows.into_iter()
            .map(|b| {
                let columns = self
                    .schema
                    .fields()
                    .iter()
                    .map(|f| {
                        b.column_by_name(f.name()).cloned().ok_or_else(|| {
                            Error::internal(format!("Delta rows without column {}", f.name()))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
            })
            .collect()
    }

    fn request(&self, options: HashMap<String, String>) -> ReadRequest {
        ReadRequest {
            format: "delta".into(),
            paths: vec![self.dir.display().to_string()],
            schema: None,
            options,
        }
    }

    /// The table as of `version`.
    async fn read_snapshot(
        &self,
        session: &Session,
        state: &datafusion::execution::SessionState,
        version: i64,
    ) -> Result<Vec<RecordBatch>> {
        let options = HashMap::from([("versionasof".to_string(), version.to_string())]);
        let plan = session.catalog.read(state, self.request(options)).await?;
        self.project(spate_exec::collect(state, &plan, "stream source").await?)
    }

    /// The rows commits `first..=last` appended (those the options skip left out).
    async fn read_commits(
        &self,
        session: &Session,
        state: &datafusion::execution::SessionState,
        first: i64,
        last: i64,
    ) -> Result<Vec<RecordBatch>> {
        let skipped = self.skipped(first - 1, last)?;
        let options = HashMap::from([
            ("readchangefeed".to_string(), "true".to_string()),
            ("startingversion".to_string(), first.to_string()),
            ("endingversion".to_string(), last.to_string()),
        ]);
        let changes = session.catalog.read(state, self.request(options)).await?;
        let mut keep = col("_change_type").eq(lit("insert"));
        if !skipped.is_empty() {
            let versions: Vec<Expr> = skipped.iter().map(|v| lit(*v)).collect();
            keep = keep.and(col("_commit_version").in_list(versions, true));
        }
        let columns: Vec<Expr> = self.schema.fields().iter().map(|f| col(f.name())).collect();
        let plan = LogicalPlanBuilder::from(changes)
            .filter(keep)?
            .project(columns)?
            .build()?;
        self.project(spate_exec::collect(state, &plan, "stream source").await?)
    }
}

/// The table's newest version (-1 without commits).
fn latest_version(dir: &Path) -> Result<i64> {
    let log = dir.join("_delta_log");
    let entries = std::fs::read_dir(&log).map_err(|e| {
        Error::IllegalArgument(format!(
            "the streaming Delta source cannot list {}: {e}",
            log.display()
        ))
    })?;
    Ok(entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let v = name.strip_suffix(".json")?;
            (v.len() == 20).then(|| v.parse::<i64>().ok()).flatten()
        })
        .max()
        .unwrap_or(-1))
}

/// The first version committed at or after `timestamp` (`yyyy-MM-dd[ HH:mm:ss]`, UTC), as
/// delta-spark's `startingTimestamp` picks it; its error for a time after the last commit.
fn version_at(dir: &Path, timestamp: &str) -> Result<i64> {
    let text = timestamp.trim();
    let at = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map_err(|_| {
            Error::IllegalArgument(format!(
                "Invalid value '{text}' for option 'startingTimestamp': a timestamp like 'yyyy-MM-dd HH:mm:ss'"
            ))
        })?
        .and_utc()
        .timestamp_millis();
    let mut latest = None;
    for v in 0.. {
        let Ok(text) = std::fs::read_to_string(commit_path(dir, v)) else {
            break;
        };
        let committed = text.lines().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v.get("commitInfo")?.get("timestamp")?.as_i64()
        });
        if let Some(ms) = committed {
            if ms >= at {
                return Ok(v);
            }
            latest = Some(ms);
        }
    }
    Err(Error::Analysis {
        class: "DELTA_TIMESTAMP_GREATER_THAN_COMMIT".into(),
        message: format!(
            "The provided timestamp ({text}) is after the latest version available to this table (file:{}). Please use a timestamp before or at {}.",
            dir.display(),
            latest
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default()
        ),
        params: vec![],
    })
}

fn commit_path(dir: &Path, version: i64) -> PathBuf {
    dir.join("_delta_log").join(format!("{version:020}.json"))
}
