//! The state of one stateful operator: a versioned key-value store, in memory and in the
//! checkpoint, after the design of Spark's default (HDFS-backed) state store provider. Keys and
//! values are rows of declared schemas (an aggregation's grouping keys and its aggregate
//! buffers; a deduplication's keys and their expiry). Version `v` is the state after batch
//! `v - 1`; committing writes, per partition of the key space, a `<v>.delta` file (the rows put
//! and the keys removed since `v - 1`) and every [`SNAPSHOT_EVERY`] versions a `<v>.snapshot`
//! file (every row), as Arrow IPC files under `<checkpoint>/state/<operator>/<partition>/`.
//! The key and value schemas are kept in `_metadata/schema` beside them: a restarted query
//! whose state has other schemas (its grouping or aggregates changed) gets Spark's
//! `STATE_STORE_KEY_SCHEMA_NOT_COMPATIBLE` / `STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE`.
//!
//! Invariants: loading version `v` reads the newest snapshot at or below `v` and the deltas
//! after it up to `v`, in order; files above `v` (a batch that ran but was not committed) are
//! ignored and overwritten when that batch runs again, and a partition without changes in a
//! version has its stale delta for that version removed, so a load never mixes two runs.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use spate_common::{Error, Result};

/// A snapshot every this many versions (Spark's `spark.sql.streaming.stateStore.minDeltasForSnapshot`).
pub const SNAPSHOT_EVERY: u64 = 10;

/// The column of a delta file that marks a removed key.
const REMOVED: &str = "__removed";

/// One operator's keyed state.
pub struct StateStore {
    dir: Option<PathBuf>,
    partitions: usize,
    key_schema: SchemaRef,
    value_schema: SchemaRef,
    keys: RowConverter,
    values: RowConverter,
    rows: HashMap<OwnedRow, OwnedRow>,
    /// Changes since the last commit: the new value, or `None` for a removed key.
    changes: HashMap<OwnedRow, Option<OwnedRow>>,
    version: u64,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("dir", &self.dir)
            .field("version", &self.version)
            .field("rows", &self.rows.len())
            .finish()
    }
}

fn io_error(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::IllegalArgument(format!(
        "cannot {what} the state store file {}: {e}",
        path.display()
    ))
}

fn converter(schema: &Schema) -> Result<RowConverter> {
    Ok(RowConverter::new(
        schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect(),
    )?)
}

/// A stable hash of a key's bytes (FNV-1a), for its partition.
fn partition_of(key: &[u8], partitions: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % partitions.max(1) as u64) as usize
}

/// The versions of `kind` (`delta` or `snapshot`) files in a partition directory.
fn versions(dir: &Path, kind: &str) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_error(dir, "list", e)),
    };
    for entry in entries {
        let name = entry.map_err(|e| io_error(dir, "list", e))?.file_name();
        let name = name.to_string_lossy();
        if let Some(v) = name
            .strip_suffix(&format!(".{kind}"))
            .and_then(|v| v.parse().ok())
        {
            out.push(v);
        }
    }
    out.sort_unstable();
    Ok(out)
}

impl StateStore {
    /// Version `version` of the state kept in `dir` (in memory only without a directory),
    /// with `partitions` partitions of the key space.
    pub fn open(
        dir: Option<PathBuf>,
        partitions: usize,
        key_schema: SchemaRef,
        value_schema: SchemaRef,
        version: u64,
    ) -> Result<Self> {
        let mut store = Self {
            keys: converter(&key_schema)?,
            values: converter(&value_schema)?,
            dir,
            partitions: partitions.max(1),
            key_schema,
            value_schema,
            rows: HashMap::new(),
            changes: HashMap::new(),
            version,
        };
        store.check_schema()?;
        if version > 0 {
            store.load(version)?;
        }
        Ok(store)
    }

    /// Spark's check that a restarted query's state has the schemas the checkpoint's state was
    /// written with (a changed grouping or aggregation cannot read it); the schemas are kept
    /// in `_metadata/schema` from the first open.
    fn check_schema(&self) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let text = |schema: &Schema| {
            spate_plan::types::simple_string(&DataType::Struct(schema.fields().clone()))
        };
        let (key, value) = (text(&self.key_schema), text(&self.value_schema));
        let path = dir.join("_metadata").join("schema");
        match fs::read_to_string(&path) {
            Ok(stored) => {
                let stored: serde_json::Value =
                    serde_json::from_str(&stored).map_err(|e| io_error(&path, "read", e))?;
                let (old_key, old_value) = (
                    stored["keySchema"].as_str().unwrap_or_default(),
                    stored["valueSchema"].as_str().unwrap_or_default(),
                );
                let mismatch = |what: &str, class: &str, old: &str, new: &str| Error::Runtime {
                    exception: "org.apache.spark.sql.execution.streaming.state.StateSchemaNotCompatible",
                    class: class.into(),
                    message: format!(
                        "Provided {what} schema does not match existing state {what} schema. Please check number and type of fields. Existing {what}_schema={old} and new {what}_schema={new}. If you want to force running the query without schema validation, please set spark.sql.streaming.stateStore.stateSchemaCheck to false. However, please note that running the query without schema validation can cause non-deterministic behavior."
                    ),
                };
                if old_key != key {
                    return Err(mismatch(
                        "key",
                        "STATE_STORE_KEY_SCHEMA_NOT_COMPATIBLE",
                        old_key,
                        &key,
                    ));
                }
                if old_value != value {
                    return Err(mismatch(
                        "value",
                        "STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE",
                        old_value,
                        &value,
                    ));
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pdir = dir.join("_metadata");
                fs::create_dir_all(&pdir).map_err(|e| io_error(&pdir, "create", e))?;
                let body =
                    serde_json::json!({ "keySchema": key, "valueSchema": value }).to_string();
                fs::write(&path, body).map_err(|e| io_error(&path, "write", e))
            }
            Err(e) => Err(io_error(&path, "read", e)),
        }
    }

    fn file_schema(&self, with_removed: bool) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .key_schema
            .fields()
            .iter()
            .chain(self.value_schema.fields().iter())
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        if with_removed {
            fields.push(Field::new(REMOVED, DataType::Boolean, false));
        }
        Arc::new(Schema::new(fields))
    }

    fn load(&mut self, version: u64) -> Result<()> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        for p in 0..self.partitions {
            let pdir = dir.join(p.to_string());
            let snapshot = versions(&pdir, "snapshot")?
                .into_iter()
                .filter(|v| *v <= version)
                .max();
            if let Some(s) = snapshot {
                self.apply_file(&pdir.join(format!("{s}.snapshot")), false)?;
            }
            for v in versions(&pdir, "delta")? {
                if v > snapshot.unwrap_or(0) && v <= version {
                    self.apply_file(&pdir.join(format!("{v}.delta")), true)?;
                }
            }
        }
        Ok(())
    }

    fn apply_file(&mut self, path: &Path, delta: bool) -> Result<()> {
        let file = fs::File::open(path).map_err(|e| io_error(path, "open", e))?;
        let reader = FileReader::try_new(file, None).map_err(|e| io_error(path, "read", e))?;
        let nk = self.key_schema.fields().len();
        let nv = self.value_schema.fields().len();
        for batch in reader {
            let batch = batch.map_err(|e| io_error(path, "read", e))?;
            let keys = self.keys.convert_columns(&batch.columns()[..nk])?;
            let values = self.values.convert_columns(&batch.columns()[nk..nk + nv])?;
            let removed = if delta {
                batch
                    .column(nk + nv)
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .cloned()
            } else {
                None
            };
            for i in 0..batch.num_rows() {
                let key = keys.row(i).owned();
                if removed.as_ref().is_some_and(|r| r.value(i)) {
                    self.rows.remove(&key);
                } else {
                    self.rows.insert(key, values.row(i).owned());
                }
            }
        }
        Ok(())
    }

    /// The version loaded or last committed.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Rows in the state.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the state is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// An estimate of the memory the rows take.
    pub fn memory_bytes(&self) -> usize {
        self.rows
            .iter()
            .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 64)
            .sum()
    }

    /// The keys of `columns` as rows.
    pub fn key_rows(&self, columns: &[ArrayRef]) -> Result<datafusion::arrow::row::Rows> {
        Ok(self.keys.convert_columns(columns)?)
    }

    /// The value rows of `columns`.
    pub fn value_rows(&self, columns: &[ArrayRef]) -> Result<datafusion::arrow::row::Rows> {
        Ok(self.values.convert_columns(columns)?)
    }

    /// The value of `key`.
    pub fn get(&self, key: &OwnedRow) -> Option<&OwnedRow> {
        self.rows.get(key)
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: OwnedRow, value: OwnedRow) {
        self.changes.insert(key.clone(), Some(value.clone()));
        self.rows.insert(key, value);
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &OwnedRow) {
        if self.rows.remove(key).is_some() {
            self.changes.insert(key.clone(), None);
        }
    }

    /// Removes the entries that `expired` marks, given every entry's key and value columns (in
    /// one order), and returns them.
    pub fn evict(
        &mut self,
        expired: impl FnOnce(&[ArrayRef], &[ArrayRef]) -> Result<Vec<bool>>,
    ) -> Result<Vec<(OwnedRow, OwnedRow)>> {
        let gone: Vec<(OwnedRow, OwnedRow)> = {
            let entries: Vec<(&OwnedRow, &OwnedRow)> = self.rows.iter().collect();
            let (keys, values) = self.columns(entries.iter().copied())?;
            let mask = expired(&keys, &values)?;
            entries
                .into_iter()
                .zip(mask)
                .filter(|(_, m)| *m)
                .map(|((k, v), _)| (k.clone(), v.clone()))
                .collect()
        };
        for (key, _) in &gone {
            self.remove(key);
        }
        Ok(gone)
    }

    /// Every entry, as key columns and value columns.
    pub fn entries(&self) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>)> {
        self.columns(self.rows.iter())
    }

    /// The columns of `entries`.
    pub fn columns<'a>(
        &self,
        entries: impl Iterator<Item = (&'a OwnedRow, &'a OwnedRow)> + Clone,
    ) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>)> {
        let keys = self
            .keys
            .convert_rows(entries.clone().map(|(k, _)| k.row()))?;
        let values = self.values.convert_rows(entries.map(|(_, v)| v.row()))?;
        Ok((keys, values))
    }

    /// Writes the changes since the last commit as the next version and returns it.
    pub fn commit(&mut self) -> Result<u64> {
        let version = self.version + 1;
        if let Some(dir) = self.dir.clone() {
            let mut per_partition: Vec<Vec<(&OwnedRow, Option<&OwnedRow>)>> =
                vec![Vec::new(); self.partitions];
            for (k, v) in &self.changes {
                per_partition[partition_of(k.as_ref(), self.partitions)].push((k, v.as_ref()));
            }
            for (p, changes) in per_partition.iter().enumerate() {
                let pdir = dir.join(p.to_string());
                let path = pdir.join(format!("{version}.delta"));
                if changes.is_empty() {
                    match fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_error(&path, "remove", e)),
                    }
                    continue;
                }
                let keys = self
                    .keys
                    .convert_rows(changes.iter().map(|(k, _)| k.row()))?;
                // a removed key's value columns are nulls: converted from an empty value row
                let values = self.value_columns(changes.iter().map(|(_, v)| *v))?;
                let removed: ArrayRef = Arc::new(BooleanArray::from(
                    changes.iter().map(|(_, v)| v.is_none()).collect::<Vec<_>>(),
                ));
                let mut columns = keys;
                columns.extend(values);
                columns.push(removed);
                self.write(&pdir, &path, columns, true)?;
            }
            if version.is_multiple_of(SNAPSHOT_EVERY) {
                self.snapshot(&dir, version)?;
            }
        }
        self.changes.clear();
        self.version = version;
        Ok(version)
    }

    /// Value columns for changes, nulls for removals.
    fn value_columns<'a>(
        &self,
        values: impl Iterator<Item = Option<&'a OwnedRow>> + Clone,
    ) -> Result<Vec<ArrayRef>> {
        let present: Vec<&OwnedRow> = values.clone().flatten().collect();
        let dense = self.values.convert_rows(present.iter().map(|v| v.row()))?;
        // spread the present values over the positions, nulls where a key was removed
        let mut indices = Vec::new();
        let mut next = 0u32;
        for v in values {
            if v.is_some() {
                indices.push(Some(next));
                next += 1;
            } else {
                indices.push(None);
            }
        }
        let take = datafusion::arrow::array::UInt32Array::from(indices);
        dense
            .iter()
            .map(|c| Ok(datafusion::arrow::compute::take(c.as_ref(), &take, None)?))
            .collect()
    }

    fn snapshot(&self, dir: &Path, version: u64) -> Result<()> {
        let mut per_partition: Vec<Vec<(&OwnedRow, &OwnedRow)>> = vec![Vec::new(); self.partitions];
        for (k, v) in &self.rows {
            per_partition[partition_of(k.as_ref(), self.partitions)].push((k, v));
        }
        for (p, entries) in per_partition.iter().enumerate() {
            let pdir = dir.join(p.to_string());
            let (mut columns, values) = self.columns(entries.iter().copied())?;
            columns.extend(values);
            self.write(
                &pdir,
                &pdir.join(format!("{version}.snapshot")),
                columns,
                false,
            )?;
            // what no load can need any more: files older than the previous snapshot
            let keep_from = version.saturating_sub(SNAPSHOT_EVERY);
            for kind in ["delta", "snapshot"] {
                for v in versions(&pdir, kind)? {
                    if v < keep_from {
                        let old = pdir.join(format!("{v}.{kind}"));
                        fs::remove_file(&old).map_err(|e| io_error(&old, "remove", e))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes `columns` to `path` atomically (a temporary file renamed into place).
    fn write(&self, pdir: &Path, path: &Path, columns: Vec<ArrayRef>, delta: bool) -> Result<()> {
        fs::create_dir_all(pdir).map_err(|e| io_error(pdir, "create", e))?;
        let schema = self.file_schema(delta);
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
        let tmp = pdir.join(format!(
            ".{}.{}.tmp",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            uuid::Uuid::new_v4()
        ));
        let file = fs::File::create(&tmp).map_err(|e| io_error(&tmp, "create", e))?;
        let mut writer =
            FileWriter::try_new(file, &schema).map_err(|e| io_error(&tmp, "write", e))?;
        writer
            .write(&batch)
            .map_err(|e| io_error(&tmp, "write", e))?;
        let file = writer
            .into_inner()
            .map_err(|e| io_error(&tmp, "write", e))?;
        file.sync_all().map_err(|e| io_error(&tmp, "sync", e))?;
        fs::rename(&tmp, path).map_err(|e| io_error(path, "rename", e))
    }
}
