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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType, provider_as_source};
use datafusion::error::Result as DfResult;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode as DeltaSaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use spate_common::{Error, Result};
use url::Url;

use crate::write::{SaveMode, WriteRequest};

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

/// Writes `plan` to the Delta table at `path` (created if missing).
pub async fn write(
    state: &SessionState,
    plan: LogicalPlan,
    path: &str,
    req: &WriteRequest,
) -> Result<()> {
    let dir = local_dir(path);
    check_unique_columns(&plan)?;
    let exists = is_delta_table(&dir);
    match req.mode {
        SaveMode::ErrorIfExists if exists => {
            return Err(Error::Analysis {
                class: "DELTA_PATH_EXISTS".into(),
                message: format!(
                    "Cannot write to already existent path file:{} without setting OVERWRITE = 'true'.",
                    dir.display()
                ),
                params: vec![("path".into(), format!("file:{}", dir.display()))],
            });
        }
        SaveMode::Ignore if exists => return Ok(()),
        _ => {}
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::IllegalArgument(format!("cannot create table path {}: {e}", dir.display()))
    })?;
    // a new table is not loaded (delta-rs would log its empty log as an error)
    let builder =
        DeltaTableBuilder::from_url(table_url(&dir)?).map_err(|e| delta_error(&dir, e))?;
    let table = match exists {
        true => builder.load().await,
        false => builder.build(),
    }
    .map_err(|e| delta_error(&dir, e))?;
    let opts = &req.options;
    let mut commit = CommitProperties::default();
    if let Some(meta) = opts.get("usermetadata") {
        commit = commit.with_metadata([(
            "userMetadata".to_string(),
            serde_json::Value::String(meta.clone()),
        )]);
    }
    match (opts.get("txnappid"), opts.get("txnversion")) {
        (Some(app), Some(version)) => {
            let version: i64 = version.trim().parse().map_err(|_| {
                Error::IllegalArgument(format!(
                    "option 'txnVersion' must be a number, got '{version}'"
                ))
            })?;
            if exists && recorded_version(&table, app).await? >= Some(version) {
                // this application's write of that version is already in the table
                return Ok(());
            }
            commit = commit.with_application_transaction(Transaction::new(app, version));
        }
        (None, None) => {}
        _ => {
            return Err(Error::IllegalArgument(
                "options 'txnAppId' and 'txnVersion' go together".into(),
            ));
        }
    }
    let mode = match req.mode {
        SaveMode::Append => DeltaSaveMode::Append,
        SaveMode::Overwrite => DeltaSaveMode::Overwrite,
        SaveMode::ErrorIfExists => DeltaSaveMode::ErrorIfExists,
        SaveMode::Ignore => DeltaSaveMode::Ignore,
    };
    // Our plan is planned and optimised by our session; delta-rs runs its write (with its own
    // operators) over it as a scan.
    let query = spate_exec::start(state, &plan, &format!("write delta {}", dir.display())).await?;
    let source = LogicalPlanBuilder::scan(
        "__spate_write",
        provider_as_source(Arc::new(PlannedTable(Arc::clone(query.plan())))),
        None,
    )?
    .build()?;
    let mut builder = table
        .write(Vec::new())
        .with_input_plan(source)
        .with_save_mode(mode)
        .with_commit_properties(commit);
    if !req.partition_by.is_empty() {
        builder = builder.with_partition_columns(req.partition_by.clone());
    }
    let properties = table_properties(opts);
    if !exists && !properties.is_empty() {
        builder = builder.with_configuration(properties);
    }
    if let Some(predicate) = opts.get("replacewhere") {
        builder = builder.with_replace_where(predicate.clone());
    }
    if crate::source::flag(opts, "overwriteschema", false)? {
        builder = builder.with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite);
        if req.mode == SaveMode::Overwrite {
            // the overwrite's partitioning replaces the table's, none if it gives none
            builder = builder.with_partition_columns(req.partition_by.clone());
        }
    } else if crate::source::flag(opts, "mergeschema", false)? {
        builder = builder.with_schema_mode(deltalake::operations::write::SchemaMode::Merge);
    }
    let written = builder.await.map_err(|e| delta_error(&dir, e));
    query.finish(spate_exec::Outcome::of(&written));
    crate::delta_optimize::auto_compact(state, &dir, written?).await?;
    Ok(())
}

/// Delta's table properties, in the case the log spells them (write options arrive lower-cased).
const PROPERTIES: &[&str] = &[
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

/// A table property's name as the log spells it (`delta.appendonly` is `delta.appendOnly`).
pub(crate) fn property_name(key: &str) -> String {
    PROPERTIES
        .iter()
        .find(|p| p.eq_ignore_ascii_case(key))
        .map_or_else(|| key.to_string(), |p| p.to_string())
}

/// The `delta.*` write options, which set table properties when a write creates the table (as
/// delta-spark does).
fn table_properties(opts: &HashMap<String, String>) -> Vec<(String, Option<String>)> {
    let mut properties: Vec<(String, Option<String>)> = opts
        .iter()
        .filter(|(k, _)| k.starts_with("delta."))
        .map(|(k, v)| (property_name(k), Some(v.clone())))
        .collect();
    properties.sort();
    properties
}

/// Delta's error for data whose columns share a name (compared without case, as Spark's
/// default `spark.sql.caseSensitive=false`).
fn check_unique_columns(plan: &LogicalPlan) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = Vec::new();
    for f in plan.schema().fields() {
        let name = f.name().to_lowercase();
        if !seen.insert(name.clone()) && !duplicates.contains(&name) {
            duplicates.push(name);
        }
    }
    if duplicates.is_empty() {
        return Ok(());
    }
    Err(Error::analysis(
        "DELTA_DUPLICATE_COLUMNS_FOUND",
        format!(
            "Found duplicate column(s) in the data to save: {}",
            duplicates.join(", ")
        ),
    ))
}

/// The version `app` last recorded in the table's transactions, if any.
async fn recorded_version(table: &DeltaTable, app: &str) -> Result<Option<i64>> {
    let state = table
        .snapshot()
        .map_err(|e| Error::internal(e.to_string()))?;
    state
        .transaction_version(table.log_store().as_ref(), app)
        .await
        .map_err(|e| Error::internal(e.to_string()))
}

/// Reads the Delta table at `path` (its latest version, or the one `versionasof` or
/// `timestampasof` in `options` names, a timestamp without a zone read in the session time
/// zone) as a scan named `alias`.
pub async fn read(
    state: &SessionState,
    path: &str,
    options: &HashMap<String, String>,
    alias: &str,
) -> Result<LogicalPlan> {
    let tz = crate::source::session_time_zone(state);
    let dir = local_dir(path);
    if !is_delta_table(&dir) {
        return Err(not_a_table(&dir));
    }
    if let Some((start, end)) = crate::delta_changes::requested(options)? {
        return crate::delta_changes::read(state, &dir, start, end, alias).await;
    }
    let mut builder =
        DeltaTableBuilder::from_url(table_url(&dir)?).map_err(|e| delta_error(&dir, e))?;
    match (options.get("versionasof"), options.get("timestampasof")) {
        (Some(_), Some(_)) => {
            return Err(Error::IllegalArgument(
                "[DELTA_TIME_TRAVEL_MULTIPLE_FORMATS] Cannot specify both versionAsOf and timestampAsOf".into(),
            ));
        }
        (Some(v), None) => {
            let v: u64 = v.trim().parse().map_err(|_| {
                Error::IllegalArgument(format!("option 'versionAsOf' must be a number, got '{v}'"))
            })?;
            builder = builder.with_version(v);
        }
        (None, Some(t)) => {
            let at = parse_instant(t, &tz)?;
            check_not_before_first_commit(&dir, at, t)?;
            builder = builder.with_timestamp(at);
        }
        (None, None) => {}
    }
    let table = builder.load().await.map_err(|e| delta_error(&dir, e))?;
    let provider = table
        .table_provider()
        .with_session(Arc::new(state.clone()))
        .await?;
    let name = datafusion::common::TableReference::bare(alias);
    Ok(LogicalPlanBuilder::scan(name, provider_as_source(provider), None)?.build()?)
}

/// delta-spark's error for a time before the table's first commit (delta-rs would give the
/// first version).
fn check_not_before_first_commit(dir: &Path, at: DateTime<Utc>, text: &str) -> Result<()> {
    match first_commit_time(dir) {
        Some(created) if at < created => Err(Error::Analysis {
            class: "DELTA_TIMESTAMP_EARLIER_THAN_COMMIT_RETENTION".into(),
            message: format!(
                "The provided timestamp ({text}) is before the earliest version available to this table ({}). Please use a timestamp after {}.",
                created.format("%Y-%m-%d %H:%M:%S%.3f"),
                created.format("%Y-%m-%d %H:%M:%S%.3f")
            ),
            params: vec![],
        }),
        _ => Ok(()),
    }
}

/// The commit time of the oldest commit the log keeps: its commit file's `commitInfo` (only
/// that one file is read, however long the history).
fn first_commit_time(dir: &Path) -> Option<DateTime<Utc>> {
    let log = dir.join("_delta_log");
    let oldest = std::fs::read_dir(&log)
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let version = name.strip_suffix(".json")?;
            (version.len() == 20)
                .then(|| version.parse::<u64>().ok())
                .flatten()
                .map(|v| (v, name))
        })
        .min()?;
    let text = std::fs::read_to_string(log.join(oldest.1)).ok()?;
    text.lines().find_map(|line| {
        let action: serde_json::Value = serde_json::from_str(line).ok()?;
        let info = action.get("commitInfo")?;
        let ms = info
            .get("inCommitTimestamp")
            .or_else(|| info.get("timestamp"))?
            .as_i64()?;
        DateTime::from_timestamp_millis(ms)
    })
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
