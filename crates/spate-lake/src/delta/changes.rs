//! Delta's change data feed, read back: `spark.read.format("delta")` with `readChangeFeed`
//! (or its older name `readChangeData`) and `startingVersion` / `startingTimestamp` /
//! `endingVersion` / `endingTimestamp`, and SQL's `table_changes('t', start[, end])` and
//! `table_changes_by_path('/path', start[, end])`. The rows are delta-rs's change-data scan (the
//! `_change_data` files that DELETE, UPDATE and MERGE write when `delta.enableChangeDataFeed` is
//! on, and the added files of appends), given delta-spark's columns: the table's columns in its
//! order, then `_change_type` (`insert`, `delete`, `update_preimage`, `update_postimage`),
//! `_commit_version` (bigint) and `_commit_timestamp` (timestamp). The range is checked when the
//! read is planned, so a bad range fails with delta-spark's error classes before any row is read.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Column;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan, LogicalPlanBuilder, cast};
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;
use spate_common::{Error, Result};
use spate_plan::sql_table_syntax::AsOf;

use crate::delta::table::PlannedTable;
use crate::delta::table::delta_error;

/// The columns delta-spark adds to a change-data read.
const CHANGE_TYPE: &str = "_change_type";
const COMMIT_VERSION: &str = "_commit_version";
const COMMIT_TIMESTAMP: &str = "_commit_timestamp";
/// The relation of commit times joined to the changes.
const COMMITS: &str = "__spate_commits";

/// The range a change-data read asks for, from the reader's options (lower-cased); `None` when
/// the options do not ask for the change data feed.
pub fn requested(
    options: &HashMap<String, String>,
) -> Result<Option<(Option<AsOf>, Option<AsOf>)>> {
    let on = ["readchangefeed", "readchangedata"]
        .iter()
        .map(|k| crate::options::flag(options, k, false))
        .collect::<Result<Vec<_>>>()?;
    if !on.contains(&true) {
        return Ok(None);
    }
    let bound = |version: &str, timestamp: &str| -> Result<Option<AsOf>> {
        match (options.get(version), options.get(timestamp)) {
            (Some(_), Some(_)) => Err(Error::analysis(
                "DELTA_INVALID_CDC_RANGE",
                format!(
                    "options '{version}' and '{timestamp}' both give the change data's range; give one"
                ),
            )),
            (Some(v), None) => v
                .trim()
                .parse::<i64>()
                .map(|v| Some(AsOf::Version(v)))
                .map_err(|_| {
                    Error::IllegalArgument(format!(
                        "option '{version}' must be a version number, got '{v}'"
                    ))
                }),
            (None, Some(t)) => Ok(Some(AsOf::Timestamp(t.clone()))),
            (None, None) => Ok(None),
        }
    };
    Ok(Some((
        bound("startingversion", "startingtimestamp")?,
        bound("endingversion", "endingtimestamp")?,
    )))
}

/// Reads the changes of the Delta table in `dir` from `start` to `end` (inclusive; the latest
/// version when `None`) as a scan named `alias`.
pub async fn read(
    state: &SessionState,
    dir: &Path,
    start: Option<AsOf>,
    end: Option<AsOf>,
    alias: &str,
) -> Result<LogicalPlan> {
    let tz = crate::options::session_time_zone(state);
    let table = crate::delta::table::load(dir).await?;
    let table_for_history = table.clone();
    let columns: Vec<String> = table
        .snapshot()
        .map_err(|e| delta_error(dir, e))?
        .schema()
        .fields()
        .map(|f| f.name().to_string())
        .collect();
    let mut builder = table.scan_cdf();
    match start {
        Some(AsOf::Version(v)) => builder = builder.with_starting_version(version(v)?),
        Some(AsOf::Timestamp(t)) => {
            builder = builder.with_starting_timestamp(crate::delta::table::parse_instant(&t, &tz)?)
        }
        None => {}
    }
    match end {
        Some(AsOf::Version(v)) => builder = builder.with_ending_version(version(v)?),
        Some(AsOf::Timestamp(t)) => {
            builder = builder.with_ending_timestamp(crate::delta::table::parse_instant(&t, &tz)?)
        }
        None => {}
    }
    let physical = builder
        .build(state, None)
        .await
        .map_err(|e| change_error(dir, e))?;
    let scan = LogicalPlanBuilder::scan(
        datafusion::common::TableReference::bare(alias),
        provider_as_source(Arc::new(PlannedTable(physical))),
        None,
    )?
    .build()?;
    // the table's columns as they are, then the change columns in Spark's types; the commit
    // times are the log's (delta-rs's own column keeps only 7 significant digits of them)
    let mut exprs: Vec<Expr> = columns
        .iter()
        .map(|c| Expr::Column(Column::new(Some(alias), c)))
        .collect();
    exprs.push(Expr::Column(Column::new(Some(alias), CHANGE_TYPE)));
    exprs.push(Expr::Column(Column::new(Some(alias), COMMIT_VERSION)));
    exprs.push(Expr::Column(Column::new(Some(COMMITS), COMMIT_TIMESTAMP)));
    let scanned = scan.schema().columns();
    let scan = LogicalPlanBuilder::from(scan)
        .project(
            scanned
                .into_iter()
                .map(|c| match c.name.as_str() {
                    COMMIT_VERSION => cast(Expr::Column(c.clone()), DataType::Int64)
                        .alias_qualified(Some(alias), COMMIT_VERSION),
                    _ => Expr::Column(c),
                })
                .collect::<Vec<_>>(),
        )?
        .build()?;
    let commits = commit_times(dir, &table_for_history, &tz).await?;
    Ok(LogicalPlanBuilder::from(scan)
        .join(
            commits,
            JoinType::Inner,
            (
                vec![Column::new(Some(alias), COMMIT_VERSION)],
                vec![Column::new(Some(COMMITS), "version")],
            ),
            None,
        )?
        .project(exprs)?
        .alias(alias)?
        .build()?)
}

/// The table's commits as rows of `version` and `_commit_timestamp` (the log's commit times).
async fn commit_times(dir: &Path, table: &DeltaTable, tz: &str) -> Result<LogicalPlan> {
    let latest = table.version().unwrap_or(0) as i64;
    let infos: Vec<deltalake::kernel::CommitInfo> = table
        .history(None)
        .try_collect()
        .await
        .map_err(|e| delta_error(dir, e))?;
    let versions: Int64Array = (0..infos.len() as i64).map(|i| Some(latest - i)).collect();
    let times = TimestampMicrosecondArray::from(
        infos
            .iter()
            .map(|c| c.in_commit_timestamp.or(c.timestamp).map(|ms| ms * 1000))
            .collect::<Vec<_>>(),
    )
    .with_timezone(tz);
    let batch = RecordBatch::try_from_iter(vec![
        ("version", Arc::new(versions) as ArrayRef),
        (COMMIT_TIMESTAMP, Arc::new(times) as ArrayRef),
    ])
    .map_err(DataFusionError::from)?;
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    Ok(LogicalPlanBuilder::scan(COMMITS, provider_as_source(Arc::new(table)), None)?.build()?)
}

fn version(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| {
        Error::analysis(
            "DELTA_INVALID_CDC_RANGE",
            format!("a change data version cannot be negative, got {v}"),
        )
    })
}

/// delta-spark's errors for a change-data range delta-rs refused.
fn change_error(dir: &Path, e: DeltaTableError) -> Error {
    let table = format!("file:{}", dir.display());
    match e {
        DeltaTableError::NoStartingVersionOrTimestamp => Error::analysis(
            "DELTA_NO_START_FOR_CDC_READ",
            "No startingVersion or startingTimestamp provided for CDC read.",
        ),
        DeltaTableError::ChangeDataNotEnabled { version } => Error::analysis(
            "DELTA_MISSING_CHANGE_DATA",
            format!(
                "Error getting change data for {table} as change data was not recorded for version [{version}]. To start recording change data, use `ALTER TABLE table_name SET TBLPROPERTIES (delta.enableChangeDataFeed=true)`."
            ),
        ),
        DeltaTableError::ChangeDataNotRecorded {
            version,
            start,
            end,
        } => Error::analysis(
            "DELTA_MISSING_CHANGE_DATA",
            format!(
                "Error getting change data for range [{start} , {end}] of {table} as change data was not recorded for version [{version}]. If you've enabled change data feed on this table, use `DESCRIBE HISTORY` to see when it was first enabled."
            ),
        ),
        DeltaTableError::ChangeDataInvalidVersionRange { start, end } => Error::analysis(
            "DELTA_INVALID_CDC_RANGE",
            format!(
                "CDC range from start {start} to end {end} was invalid. End cannot be before start."
            ),
        ),
        DeltaTableError::InvalidVersion(v) => Error::analysis(
            "DELTA_CDC_START_VERSION_AFTER_LATEST_VERSION",
            format!(
                "Provided start version ({v}) for reading change data of {table} is after the latest version."
            ),
        ),
        DeltaTableError::ChangeDataTimestampGreaterThanCommit { .. } => Error::analysis(
            "DELTA_TIMESTAMP_GREATER_THAN_COMMIT",
            format!(
                "The provided starting timestamp is after the latest version available to {table}."
            ),
        ),
        other => delta_error(dir, other),
    }
}
