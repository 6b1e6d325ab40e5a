//! The server's memory and spill space: one DataFusion runtime for every query of every
//! session, with one memory pool under a limit and one directory for spill files. The pool is
//! DataFusion's fair spill pool (spilling operators — sorts, hash aggregations, sort-merge joins,
//! repartitions — share what the others leave, and spill when they cannot grow), tracked so
//! that a failure names the largest consumers. A query that cannot fit even by spilling fails
//! with Spark's `UNABLE_TO_ACQUIRE_MEMORY`, naming the limit and how to raise it, and never
//! takes the process down.
//!
//! The limit defaults to [`DEFAULT_FRACTION`] of the memory this process may use (the machine's
//! memory, or its cgroup's limit when that is lower); `spate serve --memory-limit` or
//! `spark.spate.memory.limit` set it, `--local-dir` or `spark.local.dir` the spill directory.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::error::DataFusionError;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use spate_common::{Error, Result};

/// The share of the available memory the pool may hand out by default.
pub const DEFAULT_FRACTION: f64 = 0.6;

/// The server key for the memory limit (bytes, with Spark's size suffixes).
pub const LIMIT_KEY: &str = "spark.spate.memory.limit";

/// The memory limit and spill directory of a server.
#[derive(Debug, Clone)]
pub struct MemoryConfig {
    /// Bytes the pool may hand out.
    pub limit: usize,
    /// Where spill files go; the system's temporary directory when `None`.
    pub spill_dir: Option<PathBuf>,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            limit: default_limit(),
            spill_dir: None,
        }
    }
}

/// [`DEFAULT_FRACTION`] of the memory available to this process.
pub fn default_limit() -> usize {
    let available = match (physical_memory(), cgroup_limit()) {
        (Some(p), Some(c)) => p.min(c),
        (Some(p), None) => p,
        (None, Some(c)) => c,
        (None, None) => 4 << 30,
    };
    (available as f64 * DEFAULT_FRACTION) as usize
}

fn physical_memory() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

fn cgroup_limit() -> Option<usize> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .find_map(|t| t.trim().parse::<usize>().ok())
    .filter(|v| *v < (1 << 60))
}

/// The runtime every session shares: the pool, the spill directory, and no listing cache (Spark
/// lists a path again on every read; a cache would hide new files).
pub fn runtime(config: &MemoryConfig) -> Result<Arc<RuntimeEnv>> {
    let top = NonZeroUsize::new(5).unwrap_or(NonZeroUsize::MIN);
    let pool = TrackConsumersPool::new(FairSpillPool::new(config.limit), top);
    let mode = match &config.spill_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::IllegalArgument(format!(
                    "cannot use '{}' as the spill directory (spark.local.dir): {e}",
                    dir.display()
                ))
            })?;
            DiskManagerMode::Directories(vec![dir.clone()])
        }
        None => DiskManagerMode::OsTmpDirectory,
    };
    let caches = CacheManagerConfig::default().with_list_files_cache_limit(0);
    Ok(RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(pool))
        .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(mode))
        .with_cache_manager(caches)
        .build_arc()?)
}

/// Whether `e` says the memory pool could not give what was asked.
pub fn is_memory_error(e: &DataFusionError) -> bool {
    if matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)) {
        return true;
    }
    match e {
        DataFusionError::External(inner) => inner.downcast_ref::<Error>().is_some_and(
            |ours| matches!(ours, Error::Runtime { class, .. } if class == MEMORY_CLASS),
        ),
        DataFusionError::Context(_, inner) => is_memory_error(inner),
        DataFusionError::Shared(inner) => is_memory_error(inner),
        _ => false,
    }
}

/// Spark's error class for memory that cannot be had.
pub const MEMORY_CLASS: &str = "UNABLE_TO_ACQUIRE_MEMORY";

/// Spark's error for a query that does not fit under `limit` bytes, with DataFusion's account
/// of who held what.
pub fn memory_error(e: &DataFusionError, limit: usize) -> Error {
    let detail = match e.find_root() {
        DataFusionError::ResourcesExhausted(m) => m.clone(),
        other => other.to_string(),
    };
    Error::Runtime {
        exception: "org.apache.spark.memory.SparkOutOfMemoryError",
        class: MEMORY_CLASS.into(),
        message: format!(
            "the query needs more memory than the server's limit of {} ({LIMIT_KEY}, \
             `spate serve --memory-limit`) even after spilling to disk; raise the limit or \
             make the query need less (fewer columns, a smaller broadcast threshold). {detail}",
            human_bytes(limit)
        ),
    }
}

/// `bytes` as Spark's UI shows sizes (`256.0 MiB`).
pub fn human_bytes(bytes: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_spark_prints_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(256 << 20), "256.0 MiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }

    #[test]
    fn the_default_limit_is_a_share_of_this_machine() {
        let limit = default_limit();
        let total = physical_memory().unwrap_or(usize::MAX);
        assert!(limit > 0 && limit < total);
    }

    #[test]
    fn exhausted_pools_become_spark_memory_errors_naming_the_limit() {
        let e = DataFusionError::Context(
            "sorting".into(),
            Box::new(DataFusionError::ResourcesExhausted("no room".into())),
        );
        assert!(is_memory_error(&e));
        let ours = memory_error(&e, 256 << 20);
        let info = ours.spark_info();
        assert_eq!(info.error_class.as_deref(), Some(MEMORY_CLASS));
        assert_eq!(info.sql_state, Some("53200"));
        assert!(info.message.contains("256.0 MiB") && info.message.contains("no room"));
        assert!(is_memory_error(&DataFusionError::External(Box::new(ours))));
    }
}
