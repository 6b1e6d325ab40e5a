//! Spark's metadata log (its `HDFSMetadataLog`), the file format of every log in a streaming
//! checkpoint and of a streaming file sink's `_spark_metadata` (which the batch reader
//! consults, so it lives here, below the streaming crate): a directory with one file per batch id,
//! named by the id, holding a version line (`v1`) and then one JSON value per line.
//!
//! Invariants: a batch's file is written whole or not at all (written to a hidden temporary
//! file, synced, then linked to its name), and never overwritten — the first writer of a batch
//! id wins, so two runs of one query cannot both commit a batch. Logs that Spark compacts
//! (the file source's and file sink's) also hold `N.compact` files, each repeating every entry
//! up to batch N; [`MetadataLog::entries_through`] reads them as Spark does.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The newest log version Spate reads and the one it writes.
pub const VERSION: u32 = 1;

/// The suffix of a compacted batch file.
const COMPACT: &str = ".compact";

/// What can go wrong reading or writing a log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file system refused.
    #[error("cannot {action} '{}': {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `list`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A log written by a newer Spark (Spark's `INVALID_LOG_VERSION.MAX_SUPPORTED_VERSION`).
    #[error(
        "[INVALID_LOG_VERSION.MAX_SUPPORTED_VERSION] The log file '{}' has version v{found}; the \
         maximum supported log version is v{VERSION}. It was written by a newer version of Spark.",
        path.display()
    )]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// A file that is not a log file.
    #[error("the log file '{}' is malformed: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// A log's result.
pub type LogResult<T> = std::result::Result<T, LogError>;

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LogError + use<> {
    let path = path.to_path_buf();
    move |source| LogError::Io {
        action,
        path,
        source,
    }
}

/// One metadata log directory.
#[derive(Debug, Clone)]
pub struct MetadataLog {
    dir: PathBuf,
}

impl MetadataLog {
    /// The log in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes batch `id`'s entries; `false`, writing nothing, when the batch already has a
    /// file (another run wrote it first).
    pub fn add(&self, id: u64, entries: &[String]) -> LogResult<bool> {
        self.write(&id.to_string(), entries)
    }

    /// Writes batch `id`'s compacted file: every entry up to and including batch `id`.
    pub fn add_compact(&self, id: u64, entries: &[String]) -> LogResult<bool> {
        self.write(&format!("{id}{COMPACT}"), entries)
    }

    fn write(&self, name: &str, entries: &[String]) -> LogResult<bool> {
        let path = self.dir.join(name);
        if path.exists() {
            return Ok(false);
        }
        fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let tmp = self
            .dir
            .join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let mut text = format!("v{VERSION}");
        for e in entries {
            text.push('\n');
            text.push_str(e);
        }
        let written = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })();
        written.map_err(io("write", &tmp))?;
        // a hard link fails when the name exists: the first writer of a batch wins
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io("write", &path)(e)),
        }
    }

    /// Batch `id`'s entries (from `id` or `id.compact`), or `None` when it has no file.
    pub fn get(&self, id: u64) -> LogResult<Option<Vec<String>>> {
        for name in [id.to_string(), format!("{id}{COMPACT}")] {
            let path = self.dir.join(name);
            match fs::read_to_string(&path) {
                Ok(text) => return parse(&path, &text).map(Some),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("read", &path)(e)),
            }
        }
        Ok(None)
    }

    /// The batch ids that have a file, smallest first (hidden and temporary files, such as
    /// Hadoop's `.N.crc`, are not batches).
    pub fn ids(&self) -> LogResult<Vec<u64>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io("list", &self.dir)(e)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("list", &self.dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let id = name.strip_suffix(COMPACT).unwrap_or(&name);
            if let Ok(id) = id.parse::<u64>() {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The newest batch and its entries.
    pub fn latest(&self) -> LogResult<Option<(u64, Vec<String>)>> {
        for id in self.ids()?.into_iter().rev() {
            if let Some(entries) = self.get(id)? {
                return Ok(Some((id, entries)));
            }
        }
        Ok(None)
    }

    /// Every entry of a compacted log up to and including batch `id`: the newest compacted
    /// file at or before `id`, then the batch files after it.
    pub fn entries_through(&self, id: u64) -> LogResult<Vec<String>> {
        let ids: Vec<u64> = self.ids()?.into_iter().filter(|i| *i <= id).collect();
        let compacted = ids
            .iter()
            .rev()
            .find(|i| self.dir.join(format!("{i}{COMPACT}")).exists())
            .copied();
        let mut out = Vec::new();
        let from = match compacted {
            Some(c) => {
                out.extend(self.get(c)?.unwrap_or_default());
                c + 1
            }
            None => 0,
        };
        for i in ids.into_iter().filter(|i| *i >= from) {
            out.extend(self.get(i)?.unwrap_or_default());
        }
        Ok(out)
    }

    /// Removes the files of batches before `id` (what Spark's `minBatchesToRetain` keeps
    /// is the caller's choice).
    pub fn purge_before(&self, id: u64) -> LogResult<()> {
        for i in self.ids()?.into_iter().filter(|i| *i < id) {
            for name in [i.to_string(), format!("{i}{COMPACT}")] {
                let path = self.dir.join(name);
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io("remove", &path)(e)),
                }
            }
        }
        Ok(())
    }
}

/// A log file's entries: its lines after the version line.
fn parse(path: &Path, text: &str) -> LogResult<Vec<String>> {
    let mut lines = text.lines();
    let malformed = |reason: &str| LogError::Malformed {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let version = lines
        .next()
        .and_then(|l| l.trim().strip_prefix('v'))
        .ok_or_else(|| malformed("it does not start with a version line such as 'v1'"))?;
    let found: u32 = version
        .parse()
        .map_err(|_| malformed("its version line is not 'v' and a number"))?;
    if found > VERSION {
        return Err(LogError::NewerVersion {
            path: path.to_path_buf(),
            found,
        });
    }
    if found == 0 {
        return Err(malformed("version v0 does not exist"));
    }
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

impl From<LogError> for spate_common::Error {
    fn from(e: LogError) -> Self {
        match e {
            LogError::NewerVersion { .. } => spate_common::Error::Runtime {
                exception: "java.lang.IllegalStateException",
                class: "INVALID_LOG_VERSION.MAX_SUPPORTED_VERSION".into(),
                message: e.to_string(),
            },
            other => spate_common::Error::IllegalArgument(other.to_string()),
        }
    }
}

/// The files a streaming file sink committed into `dir`, from its `_spark_metadata` log
/// (`None` when `dir` has no such log or it lists no file): the `add` entries not deleted
/// later, as Spark's `MetadataLogFileIndex` reads them.
pub fn committed_files(dir: &Path) -> LogResult<Option<Vec<String>>> {
    let log = MetadataLog::new(dir.join("_spark_metadata"));
    if !log.dir().is_dir() {
        return Ok(None);
    }
    let Some(last) = log.ids()?.last().copied() else {
        return Ok(None);
    };
    let mut files: Vec<String> = Vec::new();
    for line in log.entries_through(last)? {
        let entry: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| LogError::Malformed {
                path: log.dir().to_path_buf(),
                reason: format!("an entry is not JSON: {e}"),
            })?;
        let Some(path) = entry["path"].as_str() else {
            continue;
        };
        let path = path.strip_prefix("file://").unwrap_or(path).to_string();
        match entry["action"].as_str() {
            Some("delete") => files.retain(|f| *f != path),
            _ => files.push(path),
        }
    }
    Ok((!files.is_empty()).then_some(files))
}
