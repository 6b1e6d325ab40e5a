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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, col, lit};
use spate_common::{Error, Result};
use spate_exec::QueryScope;
use spate_plan::streaming::StreamingScanNode;
use spate_plan::{ReadRequest, Sources};
use spate_session::Session;

/// A Delta table read as a stream.
#[derive(Debug)]
pub struct DeltaSource {
    dir: PathBuf,
    schema: SchemaRef,
    starting_version: Option<i64>,
    ignore_deletes: bool,
    skip_change_commits: bool,
    table_id: String,
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
        Ok(Self {
            schema: scan.arrow_schema(),
            starting_version,
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

    /// The offset before anything was read: the version before `startingVersion`, or -1
    /// (the first batch then reads the whole table).
    pub fn initial(&self) -> i64 {
        self.starting_version.map_or(-1, |v| v - 1)
    }

    /// delta-spark's offset JSON for "read through version `v`".
    pub fn offset_json(&self, v: i64) -> String {
        serde_json::json!({
            "sourceVersion": 1,
            "reservoirId": self.table_id,
            "reservoirVersion": v + 1,
            "index": -1,
            "isStartingVersion": false,
        })
        .to_string()
    }

    /// The version an offset JSON says was read through.
    pub fn parse_offset(&self, text: &str) -> Option<i64> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(v.get("reservoirVersion")?.as_i64()? - 1)
    }

    /// The table's newest version.
    pub fn latest(&self) -> Result<i64> {
        let log = self.dir.join("_delta_log");
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

    /// The rows after version `start` through `end`, read into memory, with their schema.
    pub async fn batch(
        &self,
        session: &Session,
        start: i64,
        end: i64,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let state = session.state(QueryScope::default())?;
        let read = |options: HashMap<String, String>| ReadRequest {
            format: "delta".into(),
            paths: vec![self.dir.display().to_string()],
            schema: None,
            options,
        };
        let plan = if start < 0 && self.starting_version.is_none() {
            // the first batch: the table as of `end`
            let options = HashMap::from([("versionasof".to_string(), end.to_string())]);
            session.catalog.read(&state, read(options)).await?
        } else {
            let skipped = self.skipped(start, end)?;
            let options = HashMap::from([
                ("readchangefeed".to_string(), "true".to_string()),
                ("startingversion".to_string(), (start + 1).to_string()),
                ("endingversion".to_string(), end.to_string()),
            ]);
            let changes = session.catalog.read(&state, read(options)).await?;
            let mut keep = col("_change_type").eq(lit("insert"));
            if !skipped.is_empty() {
                let versions: Vec<Expr> = skipped.iter().map(|v| lit(*v)).collect();
                keep = keep.and(col("_commit_version").in_list(versions, true));
            }
            let columns: Vec<Expr> = self.schema.fields().iter().map(|f| col(f.name())).collect();
            LogicalPlanBuilder::from(changes)
                .filter(keep)?
                .project(columns)?
                .build()?
        };
        let batches = spate_exec::collect(&state, &plan, "stream source").await?;
        Ok((Arc::clone(plan.schema().inner()), batches))
    }
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
