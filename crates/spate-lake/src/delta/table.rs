//! Delta Lake tables on local paths, through the `deltalake` crate: `df.write.format("delta")`
//! with Spark's save modes (`error` fails with `DELTA_PATH_EXISTS` on an existing table,
//! `ignore` skips it), `partitionBy`, and delta-spark's write options — `replaceWhere`
//! (overwrite only the rows matching a predicate), `mergeSchema` / `overwriteSchema`,
//! `userMetadata` (kept in the commit's info), `txnAppId` + `txnVersion` (idempotent writes:
//! a version at or below the one the table has recorded for the application is skipped) and
//! `delta.*` table properties set by the write that creates the table.
//! `spark.read.format("delta")` reads the latest version, or the one `versionAsOf` /
//! `timestampAsOf` names; SQL text names a table by its path as ``delta.`/path` ``. A write
//! plans the query in the session (our rules, our operators) and hands delta-rs the planned
//! query as a table to scan, so the data streams into delta-rs's writer; a read is delta-rs's
//! table provider, which DataFusion prunes by partition and statistics.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::execution::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use deltalake::delta_datafusion::planner::DeltaPlanner;
use deltalake::{DeltaTable, DeltaTableError};
use spate_common::{Error, Result};
use url::Url;

use crate::warehouse::Warehouse;

/// The absolute local path of a table location (`/p`, `file:/p` or `file:///p`).
pub(crate) fn local_dir(path: &str) -> PathBuf {
    let p = path
        .strip_prefix("file://")
        .or_else(|| path.strip_prefix("file:"))
        .unwrap_or(path);
    std::path::absolute(p).unwrap_or_else(|_| PathBuf::from(p))
}

pub(crate) fn table_url(dir: &Path) -> Result<Url> {
    Url::from_directory_path(dir).map_err(|()| {
        Error::IllegalArgument(format!("'{}' is not a usable table path", dir.display()))
    })
}

/// Whether `dir` holds a Delta table (a transaction log with at least one commit).
pub fn is_delta_table(dir: &Path) -> bool {
    dir.join("_delta_log")
        .read_dir()
        .map(|mut entries| {
            entries.any(|e| {
                e.map(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .unwrap_or(false)
            })
        })
        .unwrap_or(false)
}

/// Spark's error for a location that is not a Delta table.
pub(crate) fn not_a_table(dir: &Path) -> Error {
    Error::Analysis {
        class: "DELTA_MISSING_DELTA_TABLE".into(),
        message: format!("`file:{}` is not a Delta table.", dir.display()),
        params: vec![("tableName".into(), format!("`file:{}`", dir.display()))],
    }
}

/// A delta-rs error as ours, naming the table's path.
pub(crate) fn delta_error(dir: &Path, e: DeltaTableError) -> Error {
    match e {
        DeltaTableError::NotATable(_) => not_a_table(dir),
        DeltaTableError::InvalidVersion(v) => Error::Analysis {
            class: "DELTA_VERSION_NOT_FOUND".into(),
            message: format!(
                "Cannot time travel Delta table `file:{}` to version {v}: no such version.",
                dir.display()
            ),
            params: vec![],
        },
        // the data's schema is not the table's: delta-spark's error, and the way out
        DeltaTableError::Arrow { .. } | DeltaTableError::SchemaMismatch { .. } => Error::Analysis {
            class: "_LEGACY_ERROR_TEMP_DELTA_0007".into(),
            message: format!(
                "A schema mismatch detected when writing to the Delta table at file:{} ({e}). To enable schema migration using DataFrameWriter or DataStreamWriter, please set: '.option(\"mergeSchema\", \"true\")'; to overwrite the schema, '.option(\"overwriteSchema\", \"true\")'.",
                dir.display()
            ),
            params: vec![],
        },
        DeltaTableError::Transaction { source } => transaction_error(dir, source),
        other => Error::Analysis {
            class: "DELTA_ERROR".into(),
            message: format!(
                "Delta table `file:{}`: {}",
                dir.display(),
                without_backtrace(&other.to_string())
            ),
            params: vec![],
        },
    }
}

/// An error's text without the backtrace delta-kernel appends to it when `RUST_BACKTRACE` is
/// set (its lines `   0: function` / `at file:line` follow the message).
fn without_backtrace(text: &str) -> &str {
    let mut end = text.len();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let frame = line.trim_start();
        if frame.starts_with("0: ") || frame.starts_with("Stack backtrace:") {
            end = at;
            break;
        }
        at += line.len();
    }
    text[..end].trim_end()
}

/// A commit delta-rs refused: delta-spark's error classes for an append-only table and for
/// the concurrent modifications Delta's conflict rules do not let a retry through (with
/// delta-spark's exception classes, which its Python client raises as
/// `delta.exceptions.ConcurrentDeleteReadException` and so on).
fn transaction_error(dir: &Path, e: deltalake::kernel::transaction::TransactionError) -> Error {
    use deltalake::kernel::transaction::{CommitConflictError as C, TransactionError as T};
    let table = format!("file:{}", dir.display());
    match &e {
        T::DeltaTableAppendOnly => Error::analysis(
            "DELTA_CANNOT_MODIFY_APPEND_ONLY",
            format!(
                "This table ({table}) is configured to only allow appends. If you would like to permit updates or deletes, use 'ALTER TABLE <table_name> SET TBLPROPERTIES (delta.appendOnly=false)'."
            ),
        ),
        T::CommitConflict(c) => {
            let (class, exception) = match c {
                C::ConcurrentAppend => (
                    "DELTA_CONCURRENT_APPEND",
                    "io.delta.exceptions.ConcurrentAppendException",
                ),
                C::ConcurrentDeleteRead => (
                    "DELTA_CONCURRENT_DELETE_READ",
                    "io.delta.exceptions.ConcurrentDeleteReadException",
                ),
                C::ConcurrentDeleteDelete => (
                    "DELTA_CONCURRENT_DELETE_DELETE",
                    "io.delta.exceptions.ConcurrentDeleteDeleteException",
                ),
                C::MetadataChanged => (
                    "DELTA_METADATA_CHANGED",
                    "io.delta.exceptions.MetadataChangedException",
                ),
                C::ProtocolChanged(_) => (
                    "DELTA_PROTOCOL_CHANGED",
                    "io.delta.exceptions.ProtocolChangedException",
                ),
                C::ConcurrentTransaction => (
                    "DELTA_CONCURRENT_TRANSACTION",
                    "io.delta.exceptions.ConcurrentTransactionException",
                ),
                _ => (
                    "DELTA_CONCURRENT_WRITE",
                    "io.delta.exceptions.DeltaConcurrentModificationException",
                ),
            };
            Error::Runtime {
                exception,
                class: class.into(),
                message: format!(
                    "A concurrent transaction changed the Delta table {table}: {c} Please try the operation again."
                ),
            }
        }
        other => Error::analysis(
            "DELTA_ERROR",
            format!(
                "Delta table `{table}`: {}",
                without_backtrace(&other.to_string())
            ),
        ),
    }
}

/// A table property's name as the log spells it (`delta.appendonly` is `delta.appendOnly`).
pub(crate) fn property_name(key: &str) -> String {
    PROPERTIES
        .iter()
        .find(|p| p.eq_ignore_ascii_case(key))
        .map_or_else(|| key.to_string(), |p| p.to_string())
}

/// A `timestampAsOf` value: a date or a timestamp (`yyyy-MM-dd[ HH:mm:ss[.SSS]]`, or ISO 8601
/// with a zone), local times in the session time zone `tz`.
pub(crate) fn parse_instant(text: &str, tz: &str) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| {
            Error::IllegalArgument(format!(
                "[DELTA_TIMESTAMP_INVALID] The provided timestamp ({text}) cannot be converted to a valid timestamp."
            ))
        })?;
    let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Error::IllegalArgument(format!("'{text}' is not a time in {tz}")))
}

/// An already planned query as a table: its scan is the plan (projected as asked).
#[derive(Debug)]
pub(crate) struct PlannedTable(pub(crate) Arc<dyn ExecutionPlan>);

#[async_trait::async_trait]
impl TableProvider for PlannedTable {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[datafusion::logical_expr::Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let schema = self.0.schema();
        match projection {
            Some(p) if *p != (0..schema.fields().len()).collect::<Vec<_>>() => {
                let exprs = p
                    .iter()
                    .map(|&i| {
                        let f = schema.field(i);
                        let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(f.name(), i));
                        (column, f.name().clone())
                    })
                    .collect::<Vec<_>>();
                Ok(Arc::new(ProjectionExec::try_new(exprs, self.0.clone())?))
            }
            _ => Ok(self.0.clone()),
        }
    }
}

pub(crate) async fn load(dir: &Path) -> Result<deltalake::DeltaTable> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !crate::delta::table::is_delta_table(&dir) {
        return Err(crate::delta::table::not_a_table(&dir));
    }
    let url = crate::delta::table::table_url(&dir)?;
    deltalake::open_table(url)
        .await
        .map_err(|e| crate::delta::table::delta_error(&dir, e))
}

/// The session for delta-rs's operations: ours (configuration, functions) with delta-rs's
/// query planner, which knows the operators its plans hold.
pub(crate) fn delta_session(state: &SessionState) -> Arc<dyn Session> {
    Arc::new(delta_state(state))
}

pub(crate) fn delta_state(state: &SessionState) -> SessionState {
    SessionStateBuilder::new_from_existing(state.clone())
        .with_query_planner(DeltaPlanner::new())
        .build()
}

/// The directory of the Delta table `name` names (a path, or a warehouse table stored as
/// Delta); Spark's errors for a missing table or one of another format.
pub(crate) fn location(catalog: &dyn Warehouse, name: &[String], op: &str) -> Result<PathBuf> {
    if is_path(name) {
        return Ok(local_dir(&name[1]));
    }
    if !catalog.table_exists(name) {
        return Err(spate_plan::sql::table_not_found(&name.join(".")));
    }
    if catalog.table_format(name)? != "delta" {
        return Err(Error::analysis(
            "UNSUPPORTED_FEATURE.TABLE_OPERATION",
            format!(
                "The feature is not supported: Table `{}` does not support {op}, which needs a Delta table.",
                name.join(".")
            ),
        ));
    }
    catalog.data_dir(name)
}

pub(crate) async fn open(
    catalog: &dyn Warehouse,
    name: &[String],
    op: &str,
) -> Result<(PathBuf, DeltaTable)> {
    let dir = location(catalog, name, op)?;
    let table = crate::delta::table::load(&dir).await?;
    Ok((dir, table))
}

/// Whether a name is ``delta.`/path` ``.
pub(crate) fn is_path(name: &[String]) -> bool {
    matches!(name, [f, p] if f.eq_ignore_ascii_case("delta") && (p.starts_with('/') || p.starts_with("file:")))
}

pub(crate) fn qualified_name(catalog: &dyn Warehouse, name: &[String]) -> String {
    match name {
        [t] => format!(
            "spark_catalog.{}.{}",
            catalog.current_database(),
            t.to_lowercase()
        ),
        [db, t] => format!("spark_catalog.{}.{}", db.to_lowercase(), t.to_lowercase()),
        other => other.join("."),
    }
}

/// Delta's table properties, in the case the log spells them (write options arrive lower-cased).
pub(crate) const PROPERTIES: &[&str] = &[
    "delta.appendOnly",
    "delta.autoOptimize.autoCompact",
    "delta.autoOptimize.optimizeWrite",
    "delta.checkpointInterval",
    "delta.checkpoint.writeStatsAsJson",
    "delta.checkpoint.writeStatsAsStruct",
    "delta.dataSkippingNumIndexedCols",
    "delta.dataSkippingStatsColumns",
    "delta.deletedFileRetentionDuration",
    "delta.enableChangeDataFeed",
    "delta.enableDeletionVectors",
    "delta.isolationLevel",
    "delta.logRetentionDuration",
    "delta.minReaderVersion",
    "delta.minWriterVersion",
    "delta.targetFileSize",
    "delta.tuneFileSizesForRewrites",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtraces_are_cut_from_messages() {
        let text = "Kernel error: Json error: bad\n   0: with_backtrace\n             at src/error.rs:482:25\n   1: from";
        assert_eq!(without_backtrace(text), "Kernel error: Json error: bad");
        assert_eq!(without_backtrace("one line"), "one line");
        assert_eq!(
            without_backtrace("two\nlines 0: not a frame"),
            "two\nlines 0: not a frame"
        );
    }
}
