//! The state store: versions written as delta and snapshot files per partition, read back at
//! any committed version; a version written by a batch that was not committed is ignored and
//! overwritten when the batch runs again.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use spate_stream::state::{SNAPSHOT_EVERY, StateStore};

use crate::{TestResult, temp_dir};

fn schemas() -> (SchemaRef, SchemaRef) {
    (
        Arc::new(Schema::new(vec![Field::new("k", DataType::Utf8, true)])),
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)])),
    )
}

fn open(dir: &std::path::Path, version: u64) -> Result<StateStore, spate_common::Error> {
    let (k, v) = schemas();
    StateStore::open(Some(dir.to_path_buf()), 4, k, v, version)
}

/// Sets `key` to `n` in `store`.
fn put(store: &mut StateStore, key: &str, n: i64) -> TestResult {
    let keys = store.key_rows(&[Arc::new(StringArray::from(vec![key])) as ArrayRef])?;
    let values = store.value_rows(&[Arc::new(Int64Array::from(vec![n])) as ArrayRef])?;
    store.put(keys.row(0).owned(), values.row(0).owned());
    Ok(())
}

fn remove(store: &mut StateStore, key: &str) -> TestResult {
    let keys = store.key_rows(&[Arc::new(StringArray::from(vec![key])) as ArrayRef])?;
    store.remove(&keys.row(0).owned());
    Ok(())
}

/// The store's contents, sorted.
fn contents(store: &StateStore) -> Result<BTreeMap<String, i64>, Box<dyn std::error::Error>> {
    let (keys, values) = store.entries()?;
    let keys = keys[0]
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or("keys")?;
    let values = values[0]
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or("values")?;
    Ok((0..keys.len())
        .map(|i| (keys.value(i).to_string(), values.value(i)))
        .collect())
}

fn expected(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn every_committed_version_reads_back_as_it_was() -> TestResult {
    let dir = temp_dir("state-versions");
    let mut store = open(&dir, 0)?;
    put(&mut store, "a", 1)?;
    put(&mut store, "b", 2)?;
    assert_eq!(store.commit()?, 1);
    put(&mut store, "a", 10)?;
    remove(&mut store, "b")?;
    put(&mut store, "c", 3)?;
    assert_eq!(store.commit()?, 2);
    assert_eq!(contents(&open(&dir, 1)?)?, expected(&[("a", 1), ("b", 2)]));
    assert_eq!(contents(&open(&dir, 2)?)?, expected(&[("a", 10), ("c", 3)]));
    assert!(open(&dir, 0)?.is_empty());
    Ok(())
}

#[test]
fn snapshots_bound_what_a_load_reads_and_old_files_go() -> TestResult {
    let dir = temp_dir("state-snapshots");
    let mut store = open(&dir, 0)?;
    for v in 1..=(3 * SNAPSHOT_EVERY) {
        put(&mut store, &format!("k{}", v % 7), v as i64)?;
        store.commit()?;
    }
    // the state after the last version: for each of the 7 keys, the last version that set it
    let mut want = BTreeMap::new();
    for v in 1..=(3 * SNAPSHOT_EVERY) {
        want.insert(format!("k{}", v % 7), v as i64);
    }
    assert_eq!(contents(&open(&dir, 3 * SNAPSHOT_EVERY)?)?, want);
    let files: Vec<String> = std::fs::read_dir(&dir)?
        .flat_map(|p| {
            std::fs::read_dir(p.map(|p| p.path()).unwrap_or_default())
                .into_iter()
                .flatten()
        })
        .filter_map(|f| f.ok().map(|f| f.file_name().to_string_lossy().to_string()))
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f == &format!("{}.snapshot", 3 * SNAPSHOT_EVERY))
    );
    // versions older than the previous snapshot are gone
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("1.") || f.starts_with("5.")),
        "{files:?}"
    );
    Ok(())
}

#[test]
fn an_uncommitted_version_is_ignored_and_rewritten_by_the_rerun() -> TestResult {
    let dir = temp_dir("state-rerun");
    let mut store = open(&dir, 0)?;
    put(&mut store, "a", 1)?;
    put(&mut store, "b", 1)?;
    store.commit()?;
    // batch 1 runs and writes version 2, but the query dies before its commit log entry
    let mut run = open(&dir, 1)?;
    put(&mut run, "a", 2)?;
    put(&mut run, "b", 2)?;
    put(&mut run, "x", 99)?;
    run.commit()?;
    // the rerun of batch 1 starts from version 1 and changes less this time
    let mut rerun = open(&dir, 1)?;
    assert_eq!(contents(&rerun)?, expected(&[("a", 1), ("b", 1)]));
    put(&mut rerun, "a", 2)?;
    rerun.commit()?;
    assert_eq!(contents(&open(&dir, 2)?)?, expected(&[("a", 2), ("b", 1)]));
    Ok(())
}

#[test]
fn a_store_without_a_directory_keeps_state_in_memory_only() -> TestResult {
    let (k, v) = schemas();
    let mut store = StateStore::open(None, 2, k, v, 0)?;
    put(&mut store, "a", 1)?;
    store.commit()?;
    assert_eq!(contents(&store)?, expected(&[("a", 1)]));
    assert_eq!(store.version(), 1);
    Ok(())
}
