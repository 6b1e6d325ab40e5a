//! Cached DataFrames (`df.cache()`, `df.persist(level)`, `df.unpersist()`). A persisted
//! relation is keyed by its encoded Spark Connect plan, so every later plan that contains the
//! same DataFrame finds it. As in Spark, caching is lazy: the first query that uses the
//! relation computes it once and keeps its rows; from then on the relation is a scan of them
//! (`InMemoryRelation` in `explain()`).
//!
//! Where the rows are kept follows the storage level and the session's memory budget for
//! cached rows (`spark.spate.cache.maxMemory`): rows of a level with memory are held in memory
//! when they fit, evicting the least recently used cached relations when needed (to disk when
//! their level allows it, else they are dropped and recomputed when next used, as Spark drops
//! `MEMORY_ONLY` blocks); rows that do not fit, and `DISK_ONLY` rows, go to an Arrow IPC file
//! under the session's cache directory, which the relation then scans. A `MEMORY_ONLY`
//! relation too large for the budget is not kept: each query recomputes it.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::error::DataFusionError;
use prost::Message;
use spark_connect_proto::spark::connect::{Relation, StorageLevel};
use spate_common::{Error, Result};

/// The session option bounding the memory that cached rows hold.
pub const MAX_MEMORY_KEY: &str = "spark.spate.cache.maxMemory";

/// The computed rows of a cached relation.
#[derive(Debug, Clone)]
pub struct CachedData {
    /// Output schema.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

impl CachedData {
    /// The memory the rows hold, in bytes.
    pub fn size(&self) -> usize {
        self.batches
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum()
    }
}

/// Where a cached relation's rows are.
#[derive(Debug, Clone)]
pub enum Stored {
    /// In memory.
    Memory(CachedData),
    /// In an Arrow IPC file.
    Disk {
        /// Output schema.
        schema: SchemaRef,
        /// The file.
        path: PathBuf,
    },
}

/// One persisted relation.
#[derive(Debug)]
pub struct Entry {
    /// The storage level it was persisted with.
    pub level: StorageLevel,
    stored: Mutex<Option<Stored>>,
    last_used: AtomicU64,
}

impl Entry {
    /// Where the computed rows are, once a query has used the relation.
    pub fn stored(&self) -> Option<Stored> {
        self.stored.lock().ok().and_then(|d| d.clone())
    }

    fn memory_size(&self) -> usize {
        match self.stored.lock().ok().as_deref() {
            Some(Some(Stored::Memory(d))) => d.size(),
            _ => 0,
        }
    }

    fn remove_file(&self) {
        if let Ok(mut stored) = self.stored.lock()
            && let Some(Stored::Disk { path, .. }) = stored.take()
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The persisted relations of a session.
#[derive(Debug)]
pub struct RelationCache {
    entries: Mutex<HashMap<Vec<u8>, Arc<Entry>>>,
    dir: PathBuf,
    clock: AtomicU64,
}

impl Default for RelationCache {
    fn default() -> Self {
        static SESSIONS: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "spate-cache-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::Relaxed)
        ));
        Self {
            entries: Mutex::default(),
            dir,
            clock: AtomicU64::new(0),
        }
    }
}

impl Drop for RelationCache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl RelationCache {
    fn key(rel: &Relation) -> Vec<u8> {
        rel.encode_to_vec()
    }

    /// Marks `rel` as persisted with `level` (a relation already persisted keeps its level and
    /// rows, as Spark keeps the first level).
    pub fn persist(&self, rel: &Relation, level: StorageLevel) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.entry(Self::key(rel)).or_insert_with(|| {
                Arc::new(Entry {
                    level,
                    stored: Mutex::new(None),
                    last_used: AtomicU64::new(0),
                })
            });
        }
    }

    /// Forgets `rel` (and deletes its file); whether it was persisted.
    pub fn unpersist(&self, rel: &Relation) -> bool {
        let removed = self
            .entries
            .lock()
            .ok()
            .and_then(|mut e| e.remove(&Self::key(rel)));
        removed.map(|entry| entry.remove_file()).is_some()
    }

    /// Every persisted relation, in a stable order (for the UI's Storage tab).
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        let Ok(entries) = self.entries.lock() else {
            return Vec::new();
        };
        let mut all: Vec<(&Vec<u8>, &Arc<Entry>)> = entries.iter().collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter().map(|(_, e)| Arc::clone(e)).collect()
    }

    /// Forgets every persisted relation (`spark.catalog.clearCache()`).
    pub fn clear(&self) {
        let all: Vec<Arc<Entry>> = self
            .entries
            .lock()
            .map(|mut e| e.drain().map(|(_, entry)| entry).collect())
            .unwrap_or_default();
        for entry in all {
            entry.remove_file();
        }
    }

    /// The entry of `rel`, if persisted; marks it used.
    pub fn lookup(&self, rel: &Relation) -> Option<Arc<Entry>> {
        let entries = self.entries.lock().ok()?;
        if entries.is_empty() {
            return None;
        }
        let entry = entries.get(&Self::key(rel)).cloned()?;
        entry.last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed) + 1,
            Ordering::Relaxed,
        );
        Some(entry)
    }

    /// Keeps the computed rows of `entry` where its level and the memory budget (`max_memory`
    /// bytes for all cached rows) allow; returns where they went (`None`: not kept).
    pub fn store(
        &self,
        entry: &Arc<Entry>,
        data: CachedData,
        max_memory: usize,
    ) -> Result<Option<Stored>> {
        let size = data.size();
        let stored = if entry.level.use_memory && size <= max_memory {
            self.make_room(entry, size, max_memory)?;
            Some(Stored::Memory(data))
        } else if entry.level.use_disk {
            Some(self.write(&data)?)
        } else {
            None
        };
        if let Ok(mut slot) = entry.stored.lock() {
            slot.clone_from(&stored);
        }
        Ok(stored)
    }

    /// Evicts the least recently used relations held in memory (other than `entry`) until
    /// `size` more bytes fit under `max_memory`.
    fn make_room(&self, entry: &Arc<Entry>, size: usize, max_memory: usize) -> Result<()> {
        let mut held: Vec<Arc<Entry>> = self
            .entries
            .lock()
            .map(|e| {
                e.values()
                    .filter(|x| !Arc::ptr_eq(x, entry) && x.memory_size() > 0)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut used: usize = held.iter().map(|e| e.memory_size()).sum();
        held.sort_by_key(|e| e.last_used.load(Ordering::Relaxed));
        for victim in held {
            if used + size <= max_memory {
                break;
            }
            used -= victim.memory_size();
            let evicted = match victim.stored() {
                Some(Stored::Memory(d)) if victim.level.use_disk => Some(self.write(&d)?),
                _ => None,
            };
            if let Ok(mut slot) = victim.stored.lock() {
                *slot = evicted;
            }
        }
        Ok(())
    }

    /// Writes rows to a new Arrow IPC file in the session's cache directory.
    fn write(&self, data: &CachedData) -> Result<Stored> {
        static FILES: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let path = self.dir.join(format!(
            "rdd_{}.arrow",
            FILES.fetch_add(1, Ordering::Relaxed)
        ));
        write_ipc(&path, data).inspect_err(|_| {
            let _ = std::fs::remove_file(&path);
        })?;
        Ok(Stored::Disk {
            schema: data.schema.clone(),
            path,
        })
    }
}

fn write_ipc(path: &Path, data: &CachedData) -> Result<()> {
    let file = File::create(path).map_err(|e| io_error(path, e))?;
    let arrow = |e: ArrowError| Error::from(DataFusionError::from(e));
    let mut writer = FileWriter::try_new(file, &data.schema).map_err(arrow)?;
    for batch in &data.batches {
        writer.write(batch).map_err(arrow)?;
    }
    writer.finish().map_err(arrow)?;
    Ok(())
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    DataFusionError::Context(
        format!("cached rows at {}", path.display()),
        Box::new(DataFusionError::IoError(e)),
    )
    .into()
}

/// Spark's `StorageLevel.NONE`, reported for relations that are not persisted.
pub fn level_none() -> StorageLevel {
    StorageLevel {
        use_disk: false,
        use_memory: false,
        use_off_heap: false,
        deserialized: false,
        replication: 1,
    }
}
