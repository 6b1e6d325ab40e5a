//! Delta's auto compaction (`delta.autoOptimize.autoCompact`), as delta-spark runs it after a
//! commit: the small files (under `spark.databricks.delta.autoCompact.maxFileSize`, 128 MiB) of
//! every partition that has gathered `spark.databricks.delta.autoCompact.minNumFiles` (50) of
//! them are rewritten into files up to that size, as an `OPTIMIZE` commit of its own. The
//! session setting `spark.databricks.delta.autoCompact.enabled`, when set, wins over the table
//! property.
//!
//! Optimized writes (`delta.autoOptimize.optimizeWrite`) need nothing here: delta-rs's writer
//! always does what they ask for — an unpartitioned table's rows go through one writer, a
//! partitioned table's are hashed on the partition columns so each table partition has one
//! writer — so a write makes one file per table partition (rolled over at the table's target
//! file size), never one per task.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;
use std::path::Path;

use datafusion::execution::SessionState;
use deltalake::DeltaTable;
use deltalake::kernel::schema::partitions::{FilterOp, FilterValue};
use deltalake::operations::optimize::OptimizeType;
use spate_common::Result;
use spate_plan::options::SpateOptions;

use crate::delta::table::delta_error;

const AUTO_COMPACT: &str = "delta.autoOptimize.autoCompact";

fn spate_options(state: &SessionState) -> SpateOptions {
    state
        .config()
        .options()
        .extensions
        .get::<SpateOptions>()
        .cloned()
        .unwrap_or_default()
}

/// A table property read as a boolean (absent or not `true`: false).
fn property(config: &HashMap<String, String>, key: &str) -> bool {
    config
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case(key) && v.trim().eq_ignore_ascii_case("true"))
}

/// The table's properties (none for a table not created yet).
fn table_config(table: &DeltaTable) -> HashMap<String, String> {
    table
        .snapshot()
        .map(|s| s.metadata().configuration().clone())
        .unwrap_or_default()
}

/// Compacts the small files of the table in `dir` after a commit, when auto compaction is on
/// for it; returns whether it did.
pub(crate) async fn auto_compact(
    state: &SessionState,
    dir: &Path,
    table: DeltaTable,
) -> Result<bool> {
    let options = spate_options(state);
    let on = options
        .delta_auto_compact
        .unwrap_or_else(|| property(&table_config(&table), AUTO_COMPACT));
    if !on {
        return Ok(false);
    }
    let max_size = options.delta_auto_compact_max_file_size;
    // one small file has nothing to be compacted with
    let min_files = options.delta_auto_compact_min_files.max(2);
    // small files per partition (partition values in a stable order)
    let mut small: BTreeMap<Vec<(String, Option<String>)>, usize> = BTreeMap::new();
    let snapshot = table.snapshot().map_err(|e| delta_error(dir, e))?;
    for f in snapshot.log_data().iter() {
        if u64::try_from(f.size()).unwrap_or(0) < max_size {
            let mut values: Vec<_> = f.partition_values_map().into_iter().collect();
            values.sort();
            *small.entry(values).or_default() += 1;
        }
    }
    // a partition with a null value cannot be named by delta-rs's partition filters: left as is
    let due: Vec<Vec<(String, String)>> = small
        .into_iter()
        .filter(|(_, n)| *n >= min_files)
        .filter_map(|(values, _)| {
            values
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<Vec<_>>>()
        })
        .collect();
    if due.is_empty() {
        return Ok(false);
    }
    let target = NonZeroU64::new(max_size).unwrap_or(NonZeroU64::MIN);
    let mut table = table;
    for partition in due {
        let filters: Vec<_> = partition
            .iter()
            .map(|(k, v)| (k.as_str(), FilterOp::Eq, FilterValue::Scalar(v.as_str())))
            .collect();
        let (next, _) = table
            .optimize()
            .with_type(OptimizeType::Compact)
            .with_filters(&filters)
            .with_target_size(target)
            .with_session_state(crate::delta::table::delta_session(state))
            .await
            .map_err(|e| delta_error(dir, e))?;
        table = next;
    }
    Ok(true)
}
