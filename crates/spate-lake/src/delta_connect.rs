//! The relations delta-spark's Spark Connect client sends (`delta.connect.DeltaRelation`, packed
//! in `Relation.extension`), so that its Python `DeltaTable` works over a remote session
//! unchanged: `DeltaTable.forPath` / `forName` (a scan), `.toDF()` and `.history([n])` (Delta's
//! `DESCRIBE HISTORY` columns, newest commit first). The messages are declared
//! here with prost from the field numbers of delta-spark's protocol; the ones not handled yet
//! (delete, update, merge, optimize, restore, ...) say so by name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int64Array, MapBuilder, RecordBatch, StringArray, StringBuilder,
    StructArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use futures::TryStreamExt;
use prost::Message;
use spate_common::{Error, Result};

use crate::catalog::SessionCatalog;
use crate::delta;

/// The type URL of delta-spark's relation message.
const RELATION_TYPE: &str = "type.googleapis.com/delta.connect.DeltaRelation";

/// `delta.connect.DeltaTable`: a table by path or by name.
#[derive(Clone, PartialEq, Message)]
struct DeltaTableRef {
    #[prost(oneof = "Access", tags = "1, 2")]
    access: Option<Access>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Access {
    #[prost(message, tag = "1")]
    Path(TablePath),
    #[prost(string, tag = "2")]
    TableOrViewName(String),
}

#[derive(Clone, PartialEq, Message)]
struct TablePath {
    #[prost(string, tag = "1")]
    path: String,
    #[prost(map = "string, string", tag = "2")]
    hadoop_conf: HashMap<String, String>,
}

/// A message holding just the table (`Scan`, `DescribeHistory`, `DescribeDetail`).
#[derive(Clone, PartialEq, Message)]
struct OnTable {
    #[prost(message, optional, tag = "1")]
    table: Option<DeltaTableRef>,
}

/// `delta.connect.DeltaRelation`; tags 3 to 10 are the operations not handled yet.
#[derive(Clone, PartialEq, Message)]
struct DeltaRelation {
    #[prost(oneof = "RelationType", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10")]
    relation: Option<RelationType>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum RelationType {
    #[prost(message, tag = "1")]
    Scan(OnTable),
    #[prost(message, tag = "2")]
    DescribeHistory(OnTable),
    #[prost(bytes, tag = "3")]
    DescribeDetail(Vec<u8>),
    #[prost(bytes, tag = "4")]
    ConvertToDelta(Vec<u8>),
    #[prost(bytes, tag = "5")]
    RestoreTable(Vec<u8>),
    #[prost(bytes, tag = "6")]
    IsDeltaTable(Vec<u8>),
    #[prost(bytes, tag = "7")]
    DeleteFromTable(Vec<u8>),
    #[prost(bytes, tag = "8")]
    UpdateTable(Vec<u8>),
    #[prost(bytes, tag = "9")]
    MergeIntoTable(Vec<u8>),
    #[prost(bytes, tag = "10")]
    OptimizeTable(Vec<u8>),
}

/// Plans one of delta-spark's relations; `None` when `relation` is not one.
pub async fn relation(
    catalog: &SessionCatalog,
    state: &SessionState,
    relation: &prost_types::Any,
) -> Result<Option<LogicalPlan>> {
    if relation.type_url != RELATION_TYPE {
        return Ok(None);
    }
    let message = DeltaRelation::decode(relation.value.as_slice())
        .map_err(|e| Error::internal(format!("a DeltaRelation that does not decode: {e}")))?;
    let table_dir = |t: &OnTable| table_location(catalog, t.table.as_ref());
    let tz = crate::source::session_time_zone(state);
    Ok(Some(match message.relation {
        Some(RelationType::Scan(t)) => {
            let dir = table_dir(&t)?;
            delta::read(state, &dir.display().to_string(), &HashMap::new(), "delta").await?
        }
        Some(RelationType::DescribeHistory(t)) => history(&table_dir(&t)?, &tz, None).await?,
        Some(other) => {
            let debug = format!("{other:?}");
            let kind = debug.split('(').next().unwrap_or("operation");
            return Err(Error::unsupported(format!("DeltaTable's {kind}")));
        }
        None => return Err(Error::internal("a DeltaRelation without a relation")),
    }))
}

/// The directory of the table a `DeltaTable` message names: its path, or a name — a
/// warehouse table, or ``delta.`/path` ``.
fn table_location(catalog: &SessionCatalog, table: Option<&DeltaTableRef>) -> Result<PathBuf> {
    match table.and_then(|t| t.access.as_ref()) {
        Some(Access::Path(p)) => Ok(delta::local_dir(&p.path)),
        Some(Access::TableOrViewName(name)) => {
            let parts = spate_common::names::split_name(name);
            match parts.as_slice() {
                [format, path] if format.eq_ignore_ascii_case("delta") => {
                    Ok(delta::local_dir(path))
                }
                _ => catalog.data_dir(&parts),
            }
        }
        None => Err(Error::internal("a DeltaTable message without a table")),
    }
}

pub(crate) async fn load(dir: &Path) -> Result<deltalake::DeltaTable> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !delta::is_delta_table(&dir) {
        return Err(delta::not_a_table(&dir));
    }
    let url = delta::table_url(&dir)?;
    deltalake::open_table(url)
        .await
        .map_err(|e| delta::delta_error(&dir, e))
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

/// `DESCRIBE HISTORY [LIMIT n]`: one row per commit (the newest `n`), newest first, with
/// delta-spark's columns.
pub(crate) async fn history(dir: &Path, tz: &str, limit: Option<usize>) -> Result<LogicalPlan> {
    let table = load(dir).await?;
    let latest = table.version().unwrap_or(0) as i64;
    let infos: Vec<deltalake::kernel::CommitInfo> = table
        .history(limit)
        .try_collect()
        .await
        .map_err(|e| delta::delta_error(dir, e))?;
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
