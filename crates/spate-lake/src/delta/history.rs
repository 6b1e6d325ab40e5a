//! A Delta table's history (`DESCRIBE HISTORY`, delta-spark's `history()`: its columns, newest
//! commit first) and detail (`DESCRIBE DETAIL`, `detail()`), as result rows, and the small
//! helpers that build such rows.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, ListBuilder, MapBuilder, RecordBatch,
    StringArray, StringBuilder, StructArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use deltalake::DeltaTable;
use futures::TryStreamExt;
use spate_common::Result;

use crate::delta::table::{delta_error, load};

/// `DESCRIBE HISTORY [LIMIT n]`: one row per commit (the newest `n`), newest first, with
/// delta-spark's columns.
pub(crate) async fn history(dir: &Path, tz: &str, limit: Option<usize>) -> Result<LogicalPlan> {
    let table = load(dir).await?;
    let latest = table.version().unwrap_or(0) as i64;
    let infos: Vec<deltalake::kernel::CommitInfo> = table
        .history(limit)
        .try_collect()
        .await
        .map_err(|e| crate::delta::table::delta_error(dir, e))?;
    let n = infos.len();
    let version: Int64Array = (0..n).map(|i| Some(latest - i as i64)).collect();
    let timestamp = TimestampMicrosecondArray::from(
        infos
            .iter()
            .map(|c| c.timestamp.map(|ms| ms * 1000))
            .collect::<Vec<_>>(),
    )
    .with_timezone(tz);
    let strings = |f: &dyn Fn(&deltalake::kernel::CommitInfo) -> Option<String>| -> ArrayRef {
        Arc::new(infos.iter().map(f).collect::<StringArray>())
    };
    let parameters: Vec<Option<HashMap<String, String>>> = infos
        .iter()
        .map(|c| {
            c.operation_parameters
                .as_ref()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
        })
        .collect();
    let metrics: Vec<Option<HashMap<String, String>>> = infos
        .iter()
        .map(|c| match c.info.get("operationMetrics") {
            Some(serde_json::Value::Object(m)) => {
                Some(m.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
            }
            _ => None,
        })
        .collect();
    let user_metadata = |c: &deltalake::kernel::CommitInfo| {
        c.user_metadata
            .clone()
            .or_else(|| c.info.get("userMetadata").map(plain))
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("version", Arc::new(version)),
        ("timestamp", Arc::new(timestamp)),
        ("userId", strings(&|c| c.user_id.clone())),
        ("userName", strings(&|c| c.user_name.clone())),
        ("operation", strings(&|c| c.operation.clone())),
        ("operationParameters", string_map(&parameters)?),
        (
            "job",
            null_struct(
                &[
                    "jobId",
                    "jobName",
                    "jobRunId",
                    "runId",
                    "jobOwnerId",
                    "triggerType",
                ],
                n,
            ),
        ),
        ("notebook", null_struct(&["notebookId"], n)),
        ("clusterId", strings(&|_| None)),
        (
            "readVersion",
            Arc::new(
                infos
                    .iter()
                    .map(|c| c.read_version.map(|v| v as i64))
                    .collect::<Int64Array>(),
            ),
        ),
        (
            "isolationLevel",
            strings(&|c| c.isolation_level.as_ref().map(|l| format!("{l:?}"))),
        ),
        (
            "isBlindAppend",
            Arc::new(
                infos
                    .iter()
                    .map(|c| c.is_blind_append)
                    .collect::<BooleanArray>(),
            ),
        ),
        ("operationMetrics", string_map(&metrics)?),
        ("userMetadata", strings(&user_metadata)),
        ("engineInfo", strings(&|c| c.engine_info.clone())),
    ];
    columns_plan(columns)
}

/// `DESCRIBE DETAIL`'s one row.
pub(crate) async fn detail(
    dir: &Path,
    t: &DeltaTable,
    name: Option<String>,
    tz: &str,
) -> Result<LogicalPlan> {
    use futures::TryStreamExt;
    let last_commit: Vec<deltalake::kernel::CommitInfo> = t
        .history(Some(1))
        .try_collect()
        .await
        .map_err(|e| delta_error(dir, e))?;
    let snapshot = t.snapshot().map_err(|e| delta_error(dir, e))?;
    let metadata = snapshot.metadata();
    let protocol = snapshot.protocol();
    let files = file_sizes(dir, t)?;
    let created = metadata.created_time().map(|ms| ms * 1000);
    let modified = last_commit
        .first()
        .and_then(|c| c.timestamp)
        .map(|ms| ms * 1000);
    let strings = |items: Vec<String>| -> ArrayRef {
        let mut b = ListBuilder::new(StringBuilder::new());
        for i in items {
            b.values().append_value(i);
        }
        b.append(true);
        Arc::new(b.finish())
    };
    let mut properties = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    let mut config: Vec<_> = metadata.configuration().iter().collect();
    config.sort();
    for (k, v) in config {
        properties.keys().append_value(k);
        properties.values().append_value(v);
    }
    properties.append(true).map_err(DataFusionError::from)?;
    let mut features: Vec<String> = protocol
        .reader_features()
        .into_iter()
        .flatten()
        .chain(protocol.writer_features().into_iter().flatten())
        .map(|f| f.to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    features.sort();
    let timestamp = |v: Option<i64>| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(vec![v]).with_timezone(tz))
    };
    crate::delta::history::columns_plan(vec![
        ("format", Arc::new(StringArray::from(vec!["delta"]))),
        (
            "id",
            Arc::new(StringArray::from(vec![metadata.id().to_string()])),
        ),
        ("name", Arc::new(StringArray::from(vec![name]))),
        (
            "description",
            Arc::new(StringArray::from(vec![
                metadata.description().map(str::to_string),
            ])),
        ),
        (
            "location",
            Arc::new(StringArray::from(vec![format!("file:{}", dir.display())])),
        ),
        ("createdAt", timestamp(created)),
        ("lastModified", timestamp(modified)),
        (
            "partitionColumns",
            strings(metadata.partition_columns().to_vec()),
        ),
        ("clusteringColumns", strings(vec![])),
        (
            "numFiles",
            Arc::new(Int64Array::from(vec![files.len() as i64])),
        ),
        (
            "sizeInBytes",
            Arc::new(Int64Array::from(vec![files.values().sum::<i64>()])),
        ),
        ("properties", Arc::new(properties.finish())),
        (
            "minReaderVersion",
            Arc::new(Int32Array::from(vec![protocol.min_reader_version()])),
        ),
        (
            "minWriterVersion",
            Arc::new(Int32Array::from(vec![protocol.min_writer_version()])),
        ),
        ("tableFeatures", strings(features)),
    ])
}

/// The table's data files and their sizes.
pub(crate) fn file_sizes(dir: &Path, t: &DeltaTable) -> Result<HashMap<String, i64>> {
    let snapshot = t.snapshot().map_err(|e| delta_error(dir, e))?;
    Ok(snapshot
        .log_data()
        .iter()
        .map(|f| (f.path().to_string(), f.size()))
        .collect())
}

/// The one-batch rows of `columns` (nullable) as a plan.
pub(crate) fn columns_plan(columns: Vec<(&str, ArrayRef)>) -> Result<LogicalPlan> {
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .map_err(DataFusionError::from)?;
    memory_plan(batch)
}

pub(crate) fn memory_plan(batch: RecordBatch) -> Result<LogicalPlan> {
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    Ok(
        LogicalPlanBuilder::scan("delta_history", provider_as_source(Arc::new(table)), None)?
            .build()?,
    )
}

/// A JSON value as Delta's history shows it in a string map: strings bare, the rest as JSON.
fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn string_map(rows: &[Option<HashMap<String, String>>]) -> Result<ArrayRef> {
    let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for row in rows {
        match row {
            Some(m) => {
                let mut entries: Vec<_> = m.iter().collect();
                entries.sort();
                for (k, v) in entries {
                    b.keys().append_value(k);
                    b.values().append_value(v);
                }
                b.append(true).map_err(DataFusionError::from)?;
            }
            None => b.append(false).map_err(DataFusionError::from)?,
        }
    }
    Ok(Arc::new(b.finish()))
}

/// A struct column of string fields, null in every row (delta-spark's `job` and `notebook`).
fn null_struct(names: &[&str], n: usize) -> ArrayRef {
    let fields: Fields = names
        .iter()
        .map(|name| Field::new(*name, DataType::Utf8, true))
        .collect();
    Arc::new(StructArray::new_null(fields, n))
}
