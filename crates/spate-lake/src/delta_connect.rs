//! The relations and commands delta-spark's Spark Connect client sends
//! (`delta.connect.DeltaRelation` in `Relation.extension`, `delta.connect.DeltaCommand` in
//! `Command.extension`), so that its Python `DeltaTable` works over a remote session unchanged:
//! `forPath` / `forName` (a scan), `toDF`, `history([n])` (Delta's `DESCRIBE HISTORY` columns,
//! newest commit first), `detail`, `restoreToVersion` / `restoreToTimestamp`, `optimize`,
//! `isDeltaTable`, `convertToDelta` and `vacuum` here, carried out as the SQL statements are
//! ([`crate::delta_commands`]); delete / update / merge in [`crate::delta_connect_dml`], the
//! table builders and `generate` in [`crate::delta_connect_ddl`]. The messages are declared with
//! prost from the field numbers of delta-spark's protocol; clone, protocol upgrades and table
//! features say by name that they are not supported.

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
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use futures::TryStreamExt;
use prost::Message;
use spate_common::{Error, Result};
use spate_plan::Resolver;
use spate_plan::table_commands::{AsOf, TableCommand};

use crate::catalog::SessionCatalog;
use crate::delta;

/// The type URL of delta-spark's relation message.
const RELATION_TYPE: &str = "type.googleapis.com/delta.connect.DeltaRelation";

/// `delta.connect.DeltaTable`: a table by path or by name.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct DeltaTableRef {
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

/// `delta.connect.DeltaRelation`.
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
    #[prost(message, tag = "3")]
    DescribeDetail(OnTable),
    #[prost(message, tag = "4")]
    ConvertToDelta(ConvertToDelta),
    #[prost(message, tag = "5")]
    RestoreTable(RestoreTable),
    #[prost(message, tag = "6")]
    IsDeltaTable(IsDeltaTable),
    #[prost(message, tag = "7")]
    DeleteFromTable(crate::delta_connect_dml::DeleteFromTable),
    #[prost(message, tag = "8")]
    UpdateTable(crate::delta_connect_dml::UpdateTable),
    #[prost(message, tag = "9")]
    MergeIntoTable(Box<crate::delta_connect_dml::MergeIntoTable>),
    #[prost(message, tag = "10")]
    OptimizeTable(OptimizeTable),
}

/// `delta.connect.ConvertToDelta`: `parquet.\`/path\`` and its partition columns.
#[derive(Clone, PartialEq, Message)]
struct ConvertToDelta {
    #[prost(string, tag = "1")]
    identifier: String,
    #[prost(oneof = "PartitionSchema", tags = "2, 3")]
    partition_schema: Option<PartitionSchema>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum PartitionSchema {
    #[prost(string, tag = "2")]
    Ddl(String),
    #[prost(message, tag = "3")]
    Struct(spark_connect_proto::spark::connect::DataType),
}

/// `delta.connect.RestoreTable`.
#[derive(Clone, PartialEq, Message)]
struct RestoreTable {
    #[prost(message, optional, tag = "1")]
    table: Option<DeltaTableRef>,
    #[prost(oneof = "RestoreTo", tags = "2, 3")]
    to: Option<RestoreTo>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum RestoreTo {
    #[prost(int64, tag = "2")]
    Version(i64),
    #[prost(string, tag = "3")]
    Timestamp(String),
}

/// `delta.connect.IsDeltaTable`.
#[derive(Clone, PartialEq, Message)]
struct IsDeltaTable {
    #[prost(string, tag = "1")]
    path: String,
}

/// `delta.connect.OptimizeTable`: partition filters as SQL text, Z-order columns.
#[derive(Clone, PartialEq, Message)]
struct OptimizeTable {
    #[prost(message, optional, tag = "1")]
    table: Option<DeltaTableRef>,
    #[prost(string, repeated, tag = "2")]
    partition_filters: Vec<String>,
    #[prost(string, repeated, tag = "3")]
    zorder_columns: Vec<String>,
}

/// The type URL of delta-spark's command message.
const COMMAND_TYPE: &str = "type.googleapis.com/delta.connect.DeltaCommand";

/// `delta.connect.DeltaCommand`; clone, protocol upgrades and table features are named in the
/// error, the others carried out.
#[derive(Clone, PartialEq, Message)]
struct DeltaCommand {
    #[prost(oneof = "CommandType", tags = "1, 2, 3, 4, 5, 6, 7")]
    command: Option<CommandType>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum CommandType {
    #[prost(bytes, tag = "1")]
    CloneTable(Vec<u8>),
    #[prost(message, tag = "2")]
    VacuumTable(VacuumTable),
    #[prost(bytes, tag = "3")]
    UpgradeTableProtocol(Vec<u8>),
    #[prost(message, tag = "4")]
    Generate(crate::delta_connect_ddl::Generate),
    #[prost(message, tag = "5")]
    CreateDeltaTable(crate::delta_connect_ddl::CreateDeltaTable),
    #[prost(bytes, tag = "6")]
    AddFeatureSupport(Vec<u8>),
    #[prost(bytes, tag = "7")]
    DropFeatureSupport(Vec<u8>),
}

/// `delta.connect.VacuumTable`.
#[derive(Clone, PartialEq, Message)]
struct VacuumTable {
    #[prost(message, optional, tag = "1")]
    table: Option<DeltaTableRef>,
    #[prost(double, optional, tag = "2")]
    retention_hours: Option<f64>,
}

/// Plans one of delta-spark's relations; `None` when `relation` is not one. The operations
/// that change a table (delete, update, merge, optimize, restore, convert) run here, as
/// delta-spark runs them when their relation is executed, and answer with its result rows.
pub async fn relation(
    catalog: &SessionCatalog,
    resolver: &Resolver<'_>,
    relation: &prost_types::Any,
) -> Result<Option<LogicalPlan>> {
    if relation.type_url != RELATION_TYPE {
        return Ok(None);
    }
    let message = DeltaRelation::decode(relation.value.as_slice())
        .map_err(|e| Error::internal(format!("a DeltaRelation that does not decode: {e}")))?;
    let state = resolver.state();
    let table_dir = |t: Option<&DeltaTableRef>| table_location(catalog, t);
    let tz = crate::source::session_time_zone(state);
    let run = |command| crate::delta_commands::run(catalog, state, command);
    Ok(Some(match message.relation {
        Some(RelationType::Scan(t)) => {
            let dir = table_dir(t.table.as_ref())?;
            delta::read(state, &dir.display().to_string(), &HashMap::new(), "delta").await?
        }
        Some(RelationType::DescribeHistory(t)) => {
            history(&table_dir(t.table.as_ref())?, &tz, None).await?
        }
        Some(RelationType::DescribeDetail(t)) => {
            run(TableCommand::Detail {
                table: table_name(t.table.as_ref())?,
            })
            .await?
        }
        Some(RelationType::RestoreTable(r)) => {
            let to = match r.to {
                Some(RestoreTo::Version(v)) => AsOf::Version(v),
                Some(RestoreTo::Timestamp(t)) => AsOf::Timestamp(t),
                None => return Err(Error::internal("a RestoreTable without a version")),
            };
            run(TableCommand::Restore {
                table: table_name(r.table.as_ref())?,
                to,
            })
            .await?
        }
        Some(RelationType::OptimizeTable(o)) => {
            let table = table_name(o.table.as_ref())?;
            let predicate = crate::delta_connect_dml::partition_predicate(
                resolver,
                catalog,
                &table,
                &o.partition_filters,
            )
            .await?;
            run(TableCommand::Optimize {
                table,
                predicate,
                zorder: o.zorder_columns,
            })
            .await?
        }
        Some(RelationType::ConvertToDelta(c)) => convert(catalog, resolver, c).await?,
        Some(RelationType::IsDeltaTable(t)) => {
            let is = delta::is_delta_table(&delta::local_dir(&t.path));
            columns_plan(vec![("value", Arc::new(BooleanArray::from(vec![is])))])?
        }
        Some(RelationType::DeleteFromTable(d)) => {
            let command = crate::delta_connect_dml::delete(resolver, &d).await?;
            run(command).await?
        }
        Some(RelationType::UpdateTable(u)) => {
            let command = crate::delta_connect_dml::update(resolver, &u).await?;
            run(command).await?
        }
        Some(RelationType::MergeIntoTable(m)) => {
            let command = crate::delta_connect_dml::merge(resolver, &m).await?;
            run(command).await?
        }
        None => return Err(Error::internal("a DeltaRelation without a relation")),
    }))
}

/// Runs one of delta-spark's commands; `false` when `command` is not one.
pub async fn command(
    catalog: &SessionCatalog,
    resolver: &Resolver<'_>,
    command: &prost_types::Any,
) -> Result<bool> {
    if command.type_url != COMMAND_TYPE {
        return Ok(false);
    }
    let message = DeltaCommand::decode(command.value.as_slice())
        .map_err(|e| Error::internal(format!("a DeltaCommand that does not decode: {e}")))?;
    match message.command {
        Some(CommandType::VacuumTable(v)) => {
            let command = TableCommand::Vacuum {
                table: table_name(v.table.as_ref())?,
                retain_hours: v.retention_hours,
                dry_run: false,
                check_retention: spate_plan::table_commands::retention_check(resolver.config()),
            };
            crate::delta_commands::run(catalog, resolver.state(), command).await?;
            Ok(true)
        }
        Some(CommandType::CreateDeltaTable(c)) => {
            crate::delta_connect_ddl::create(catalog, resolver, c).await?;
            Ok(true)
        }
        Some(CommandType::Generate(g)) => {
            crate::delta_connect_ddl::generate(catalog, g).await?;
            Ok(true)
        }
        Some(other) => {
            let debug = format!("{other:?}");
            let kind = debug.split('(').next().unwrap_or("command");
            Err(Error::unsupported(format!("DeltaTable's {kind}")))
        }
        None => Err(Error::internal("a DeltaCommand without a command")),
    }
}

/// `DeltaTable.convertToDelta(spark, "parquet.`/path`", schema)`: answers with the converted
/// table's identifier (`delta.`/path``), which the client then opens by name.
async fn convert(
    catalog: &SessionCatalog,
    resolver: &Resolver<'_>,
    c: ConvertToDelta,
) -> Result<LogicalPlan> {
    let table = spate_common::names::split_name(&c.identifier);
    let partitions = match c.partition_schema {
        Some(PartitionSchema::Ddl(ddl)) => spate_plan::type_parser::parse_schema(
            &ddl,
            &crate::source::session_time_zone(resolver.state()),
        )?,
        Some(PartitionSchema::Struct(t)) => {
            match spate_plan::types::from_proto(
                &t,
                &crate::source::session_time_zone(resolver.state()),
            )? {
                datafusion::arrow::datatypes::DataType::Struct(fields) => fields,
                other => {
                    return Err(Error::IllegalArgument(format!(
                        "a partition schema is a struct, not {other}"
                    )));
                }
            }
        }
        None => datafusion::arrow::datatypes::Fields::empty(),
    };
    let [_, path] = table.as_slice() else {
        return Err(Error::parse(format!(
            "CONVERT TO DELTA names files as parquet.`/path`, not {}",
            c.identifier
        )));
    };
    let identifier = format!("delta.`{path}`");
    crate::delta_commands::run(
        catalog,
        resolver.state(),
        TableCommand::Convert { table, partitions },
    )
    .await?;
    columns_plan(vec![(
        "identifier",
        Arc::new(StringArray::from(vec![identifier])),
    )])
}

/// The table a `DeltaTable` scan relation (`Relation.extension`) reads, as name parts.
pub(crate) fn scanned_table(relation: &prost_types::Any) -> Result<Vec<String>> {
    let message = (relation.type_url == RELATION_TYPE)
        .then(|| DeltaRelation::decode(relation.value.as_slice()).ok())
        .flatten();
    match message.and_then(|m| m.relation) {
        Some(RelationType::Scan(t)) => table_name(t.table.as_ref()),
        _ => Err(Error::unsupported(
            "changing the rows of a relation that is not a DeltaTable",
        )),
    }
}

/// A `DeltaTable` message's table as name parts: ``delta.`/path` `` for a path.
pub(crate) fn table_name(table: Option<&DeltaTableRef>) -> Result<Vec<String>> {
    match table.and_then(|t| t.access.as_ref()) {
        Some(Access::Path(p)) => Ok(vec![
            "delta".into(),
            delta::local_dir(&p.path).display().to_string(),
        ]),
        Some(Access::TableOrViewName(name)) => Ok(spate_common::names::split_name(name)),
        None => Err(Error::internal("a DeltaTable message without a table")),
    }
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
    columns_plan(columns)
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
