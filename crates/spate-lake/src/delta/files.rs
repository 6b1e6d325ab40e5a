//! A Delta version's data files, and the rows of some of them: what a streaming read that
//! admits so many files per batch (delta-spark's `maxFilesPerTrigger`) needs beyond whole-
//! version reads. A version's files are its snapshot's, in delta-spark's order (modification
//! time, then path); the rows of chosen files are read from that snapshot through delta-rs's
//! provider (partition values, column mapping and deletion vectors as it applies them), each
//! row told apart by its file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::provider_as_source;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlanBuilder;
use deltalake::DeltaTableBuilder;
use spate_common::{Error, Result};

use crate::delta::table::{delta_error, table_url};

/// The column the file of each row is read into (dropped before the rows are returned).
const FILE: &str = "__spate_delta_file";

/// A data file of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Its path, relative to the table, decoded.
    pub path: String,
    /// Its size in bytes.
    pub size: i64,
    /// When it was written (ms since the epoch).
    pub modified_ms: i64,
}

async fn load(dir: &Path, version: i64) -> Result<deltalake::DeltaTable> {
    let version = u64::try_from(version)
        .map_err(|_| Error::IllegalArgument(format!("no Delta version {version}")))?;
    DeltaTableBuilder::from_url(table_url(dir)?)
        .map_err(|e| delta_error(dir, e))?
        .with_version(version)
        .load()
        .await
        .map_err(|e| delta_error(dir, e))
}

/// The data files of the table at `dir` as of `version`, oldest first.
pub async fn snapshot_files(dir: &Path, version: i64) -> Result<Vec<DataFile>> {
    let table = load(dir, version).await?;
    let state = table.snapshot().map_err(|e| delta_error(dir, e))?;
    let mut files: Vec<DataFile> = state
        .log_data()
        .iter()
        .map(|f| DataFile {
            path: f.path().to_string(),
            size: f.size(),
            modified_ms: f.modification_time(),
        })
        .collect();
    files.sort_by(|a, b| {
        a.modified_ms
            .cmp(&b.modified_ms)
            .then_with(|| a.path.cmp(&b.path))
    });
    Ok(files)
}

/// The data files commit `version` of the table at `dir` added (with a data change), in the
/// commit's order.
pub fn added_files(dir: &Path, version: i64) -> Result<Vec<DataFile>> {
    let path = dir.join("_delta_log").join(format!("{version:020}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::IllegalArgument(format!(
            "cannot read the Delta commit {}: {e}",
            path.display()
        ))
    })?;
    let table = table_url(dir)?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let add = v.get("add")?;
            if !add
                .get("dataChange")
                .and_then(|d| d.as_bool())
                .unwrap_or(true)
            {
                return None;
            }
            // the log keeps a path URL-encoded, relative to the table
            let file = table
                .join(add.get("path")?.as_str()?)
                .ok()?
                .to_file_path()
                .ok()?;
            Some(DataFile {
                path: file.strip_prefix(dir).ok()?.display().to_string(),
                size: add.get("size").and_then(|s| s.as_i64()).unwrap_or(0),
                modified_ms: add
                    .get("modificationTime")
                    .and_then(|s| s.as_i64())
                    .unwrap_or(0),
            })
        })
        .collect())
}

/// The rows of `files` (paths as [`snapshot_files`] gives them) of the table at `dir` as of
/// `version`, with their schema.
pub async fn read_files(
    state: &SessionState,
    dir: &Path,
    version: i64,
    files: &[String],
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let table = load(dir, version).await?;
    let provider = table
        .table_provider()
        .with_file_column(FILE)
        .with_session(Arc::new(state.clone()))
        .await?;
    let plan =
        LogicalPlanBuilder::scan("delta_files", provider_as_source(provider), None)?.build()?;
    let schema = plan.schema().as_arrow().clone();
    let at = schema.index_of(FILE)?;
    let mut fields = schema.fields().to_vec();
    fields.remove(at);
    let out_schema: SchemaRef = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    let wanted: HashSet<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
    let mut out = Vec::new();
    for batch in spate_exec::collect(state, &plan, "stream source: Delta files").await? {
        let names = cast(batch.column(at), &DataType::Utf8)?;
        let names = names
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| Error::internal("a Delta file column that is not text"))?;
        // the provider names a file by its URL (or its path in the table)
        let keep: BooleanArray = (0..names.len())
            .map(|r| {
                Some(
                    names.is_valid(r) && {
                        let name = names.value(r);
                        let path = url::Url::parse(name)
                            .ok()
                            .and_then(|u| u.to_file_path().ok())
                            .unwrap_or_else(|| dir.join(name));
                        wanted.contains(&path)
                    },
                )
            })
            .collect();
        let mut kept = filter_record_batch(&batch, &keep)?;
        if kept.num_rows() == 0 {
            continue;
        }
        kept.remove_column(at);
        out.push(RecordBatch::try_new(
            Arc::clone(&out_schema),
            kept.columns().to_vec(),
        )?);
    }
    Ok((out_schema, out))
}
