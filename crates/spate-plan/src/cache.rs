//! Cached DataFrames (`df.cache()`, `df.persist(level)`, `df.unpersist()`). A persisted
//! relation is keyed by its encoded Spark Connect plan, so every later plan that contains the
//! same DataFrame finds it. As in Spark, caching is lazy: the first query that uses the
//! relation computes it once, keeps its batches, and from then on the relation is a scan of
//! those batches (`InMemoryRelation` in `explain()`). Batches are held in memory whatever the
//! storage level asked for; the level is remembered and reported back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use prost::Message;
use spark_connect_proto::spark::connect::{Relation, StorageLevel};

/// The computed rows of a cached relation.
#[derive(Debug, Clone)]
pub struct CachedData {
    /// Output schema.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

/// One persisted relation.
#[derive(Debug)]
pub struct Entry {
    /// The storage level it was persisted with.
    pub level: StorageLevel,
    data: Mutex<Option<CachedData>>,
}

impl Entry {
    /// The computed rows, once a query has used the relation.
    pub fn data(&self) -> Option<CachedData> {
        self.data.lock().ok().and_then(|d| d.clone())
    }

    /// Keeps the computed rows.
    pub fn store(&self, data: CachedData) {
        if let Ok(mut d) = self.data.lock() {
            *d = Some(data);
        }
    }
}

/// The persisted relations of a session.
#[derive(Debug, Default)]
pub struct RelationCache {
    entries: Mutex<HashMap<Vec<u8>, Arc<Entry>>>,
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
                    data: Mutex::new(None),
                })
            });
        }
    }

    /// Forgets `rel`; whether it was persisted.
    pub fn unpersist(&self, rel: &Relation) -> bool {
        self.entries
            .lock()
            .map(|mut e| e.remove(&Self::key(rel)).is_some())
            .unwrap_or(false)
    }

    /// The entry of `rel`, if persisted.
    pub fn lookup(&self, rel: &Relation) -> Option<Arc<Entry>> {
        let entries = self.entries.lock().ok()?;
        if entries.is_empty() {
            return None;
        }
        entries.get(&Self::key(rel)).cloned()
    }
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
