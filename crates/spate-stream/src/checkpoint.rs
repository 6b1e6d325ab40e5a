//! A streaming query's checkpoint directory, in Spark's layout:
//!
//! - `metadata` — `{"id":"<uuid>"}`, the query's id, which stays across restarts;
//! - `offsets/N` — written before batch N runs: the batch's watermark and timestamp, the
//!   session settings a restart must keep (`conf`), then one line per source with the offset
//!   the batch reads up to (`-` for a source without one yet);
//! - `commits/N` — written after batch N's sink committed: `{"nextBatchWatermarkMs":..}`;
//! - `sources/I/` — source I's own log (the file source's list of files per batch).
//!
//! The order (offsets, run, sink commit, commit log) is what makes a restart exact: a batch
//! with offsets but no commit is re-run with the same offsets, and a sink that records the
//! batch ids it committed (Delta's txn actions, the file sink's `_spark_metadata`) skips the
//! re-run's second commit. [`Checkpoint::resume`] says what a restart does next.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::log::{LogError, LogResult, MetadataLog};

/// The metadata line of `offsets/N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OffsetMetadata {
    /// The event-time watermark batch N runs with (ms since the epoch).
    pub batch_watermark_ms: i64,
    /// When batch N was planned (ms since the epoch): what `current_timestamp()` returns in it.
    pub batch_timestamp_ms: i64,
    /// Session settings that a restarted query must keep (Spark's
    /// `OffsetSeqMetadata.relevantSQLConfs`).
    #[serde(default)]
    pub conf: BTreeMap<String, String>,
}

/// `offsets/N`: what batch N reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetEntry {
    /// The batch's watermark, timestamp and settings.
    pub metadata: OffsetMetadata,
    /// Per source, in the query's source order, the offset read up to (the source's own JSON),
    /// or `None` when the source has none yet.
    pub sources: Vec<Option<String>>,
}

/// `commits/N`: batch N is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitEntry {
    /// The watermark the next batch runs with.
    pub next_batch_watermark_ms: i64,
}

/// What a (re)started query does first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// Nothing was run: batch 0 starts from the sources' starting offsets.
    Fresh,
    /// Batch `batch_id` was planned but not committed: run it again, exactly as planned.
    Rerun {
        /// The batch to run again.
        batch_id: u64,
        /// Its offsets (the end of what it reads).
        offsets: OffsetEntry,
        /// The offsets of the batch before it (where it starts), if any.
        previous: Option<OffsetEntry>,
    },
    /// Every planned batch was committed: plan batch `batch_id` after `last`.
    Next {
        /// The batch to plan.
        batch_id: u64,
        /// The offsets of the last committed batch (where the next one starts).
        last: OffsetEntry,
        /// Its commit (the next watermark).
        commit: CommitEntry,
    },
}

/// A query's checkpoint directory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    root: PathBuf,
    offsets: MetadataLog,
    commits: MetadataLog,
}

/// The marker of a source without an offset in `offsets/N`.
const NO_OFFSET: &str = "-";

fn malformed(path: &Path, reason: impl Into<String>) -> LogError {
    LogError::Malformed {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl Checkpoint {
    /// The checkpoint at `root` (its directories are created as they are written).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            offsets: MetadataLog::new(root.join("offsets")),
            commits: MetadataLog::new(root.join("commits")),
            root,
        }
    }

    /// Its directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of source `index`'s own log.
    pub fn source_dir(&self, index: usize) -> PathBuf {
        self.root.join("sources").join(index.to_string())
    }

    /// The query's id: the one in `metadata`, or a new one written there.
    pub fn query_id(&self) -> LogResult<String> {
        let path = self.root.join("metadata");
        if let Some(id) = self.read_query_id(&path)? {
            return Ok(id);
        }
        let id = uuid::Uuid::new_v4().to_string();
        fs::create_dir_all(&self.root).map_err(|source| LogError::Io {
            action: "create",
            path: self.root.clone(),
            source,
        })?;
        let tmp = self
            .root
            .join(format!(".metadata.{}.tmp", uuid::Uuid::new_v4().simple()));
        let text = serde_json::json!({ "id": id }).to_string();
        let written =
            fs::write(&tmp, format!("{text}\n")).and_then(|()| fs::hard_link(&tmp, &path));
        let _ = fs::remove_file(&tmp);
        match written {
            Ok(()) => Ok(id),
            // another run created it first: its id is the query's
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => self
                .read_query_id(&path)?
                .ok_or_else(|| malformed(&path, "it vanished while being read")),
            Err(source) => Err(LogError::Io {
                action: "write",
                path,
                source,
            }),
        }
    }

    fn read_query_id(&self, path: &Path) -> LogResult<Option<String>> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LogError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let value: serde_json::Value = serde_json::from_str(text.trim())
            .map_err(|e| malformed(path, format!("it is not JSON: {e}")))?;
        value
            .get("id")
            .and_then(|v| v.as_str())
            .map(|s| Some(s.to_string()))
            .ok_or_else(|| malformed(path, "it has no \"id\""))
    }

    /// Records batch `batch_id`'s offsets; `false` when the batch already has them.
    pub fn write_offsets(&self, batch_id: u64, entry: &OffsetEntry) -> LogResult<bool> {
        let mut lines = vec![serde_json::to_string(&entry.metadata).map_err(|e| {
            malformed(
                self.offsets.dir(),
                format!("cannot encode the metadata: {e}"),
            )
        })?];
        lines.extend(
            entry
                .sources
                .iter()
                .map(|s| s.clone().unwrap_or_else(|| NO_OFFSET.to_string())),
        );
        self.offsets.add(batch_id, &lines)
    }

    /// Batch `batch_id`'s offsets, if it has them.
    pub fn offsets(&self, batch_id: u64) -> LogResult<Option<OffsetEntry>> {
        let path = self.offsets.dir().join(batch_id.to_string());
        let Some(lines) = self.offsets.get(batch_id)? else {
            return Ok(None);
        };
        let mut lines = lines.into_iter();
        let first = lines
            .next()
            .ok_or_else(|| malformed(&path, "it has no metadata line"))?;
        let metadata: OffsetMetadata = serde_json::from_str(&first)
            .map_err(|e| malformed(&path, format!("its metadata line does not parse: {e}")))?;
        let sources = lines
            .map(|l| (l.trim() != NO_OFFSET).then_some(l))
            .collect();
        Ok(Some(OffsetEntry { metadata, sources }))
    }

    /// Records that batch `batch_id` is done; `false` when it already was.
    pub fn commit(&self, batch_id: u64, entry: &CommitEntry) -> LogResult<bool> {
        let line = serde_json::to_string(entry)
            .map_err(|e| malformed(self.commits.dir(), format!("cannot encode: {e}")))?;
        self.commits.add(batch_id, &[line])
    }

    /// Batch `batch_id`'s commit, if it was committed.
    pub fn committed(&self, batch_id: u64) -> LogResult<Option<CommitEntry>> {
        let path = self.commits.dir().join(batch_id.to_string());
        let Some(lines) = self.commits.get(batch_id)? else {
            return Ok(None);
        };
        // Spark writes commits of old versions without a body: the watermark is then 0
        match lines.first() {
            None => Ok(Some(CommitEntry {
                next_batch_watermark_ms: 0,
            })),
            Some(line) => serde_json::from_str(line)
                .map(Some)
                .map_err(|e| malformed(&path, format!("it does not parse: {e}"))),
        }
    }

    /// What a query started on this checkpoint does first (Spark's
    /// `MicroBatchExecution.populateStartOffsets`).
    pub fn resume(&self) -> LogResult<Resume> {
        let Some(latest) = self.offsets.ids()?.last().copied() else {
            return Ok(Resume::Fresh);
        };
        let offsets = self.offsets(latest)?.ok_or_else(|| {
            malformed(
                self.offsets.dir(),
                format!("batch {latest} was listed but not found"),
            )
        })?;
        let last_commit = self.commits.ids()?.last().copied();
        if last_commit == Some(latest) {
            let commit = self.committed(latest)?.ok_or_else(|| {
                malformed(
                    self.commits.dir(),
                    format!("batch {latest} was listed but not found"),
                )
            })?;
            return Ok(Resume::Next {
                batch_id: latest + 1,
                last: offsets,
                commit,
            });
        }
        let expected = latest.checked_sub(1);
        if last_commit != expected {
            return Err(malformed(
                self.root(),
                format!(
                    "the last planned batch is {latest} but the last committed one is {}; \
                     two runs of the query may have written this checkpoint",
                    last_commit.map_or("none".to_string(), |c| c.to_string())
                ),
            ));
        }
        let previous = match expected {
            Some(p) => self.offsets(p)?,
            None => None,
        };
        Ok(Resume::Rerun {
            batch_id: latest,
            offsets,
            previous,
        })
    }
}
