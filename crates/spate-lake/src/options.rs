//! Options as Spark reads them, shared by the readers, the writers and Delta Lake: boolean
//! options (`'true'`/`'false'`, refused otherwise with the option named), the session time zone
//! the lake's readers and writers use, and what a write asks for ([`WriteRequest`]).

use std::collections::HashMap;

use datafusion::execution::SessionState;
use spate_common::{Error, Result};

/// The session time zone, which the session keeps in DataFusion's configuration.
pub fn session_time_zone(state: &SessionState) -> String {
    state
        .config()
        .options()
        .execution
        .time_zone
        .clone()
        .unwrap_or_else(|| "UTC".into())
}

/// A boolean option: `true` or `false` (any case, trimmed); anything else is refused, naming the
/// option.
pub fn flag(opts: &HashMap<String, String>, key: &str, default: bool) -> Result<bool> {
    match opts.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(Error::IllegalArgument(format!(
            "option '{key}' must be 'true' or 'false', got '{v}'"
        ))),
    }
}

/// Spark's save modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveMode {
    /// Fail if data exists (Spark's default, `errorifexists`).
    ErrorIfExists,
    /// Add to existing data.
    Append,
    /// Replace existing data.
    Overwrite,
    /// Do nothing if data exists.
    Ignore,
}

/// Where and how to write.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    /// `parquet`, `csv`, `json` or `text`.
    pub format: String,
    /// Save mode.
    pub mode: SaveMode,
    /// Partition columns.
    pub partition_by: Vec<String>,
    /// Options, keys lower-cased.
    pub options: HashMap<String, String>,
}
