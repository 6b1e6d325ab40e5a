//! The messages of delta-spark's Spark Connect protocol, declared with prost from its field
//! numbers: `delta.connect.DeltaRelation` (in `Relation.extension`) and
//! `delta.connect.DeltaCommand` (in `Command.extension`) with everything they carry — table
//! references, delete / update / merge, the table builders, vacuum, optimize, restore, convert.
//! All decoding of delta-spark's messages is here; `super::connect` and its two helpers act on
//! them.

use std::collections::HashMap;

use prost::Message;
use spark_connect_proto::spark::connect::{Expression, Relation};
use spate_common::{Error, Result};

/// The type URL of delta-spark's relation message.
pub(crate) const RELATION_TYPE: &str = "type.googleapis.com/delta.connect.DeltaRelation";

/// The type URL of delta-spark's command message.
pub(crate) const COMMAND_TYPE: &str = "type.googleapis.com/delta.connect.DeltaCommand";

/// `delta.connect.DeltaTable`: a table by path or by name.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct DeltaTableRef {
    #[prost(oneof = "Access", tags = "1, 2")]
    pub(crate) access: Option<Access>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum Access {
    #[prost(message, tag = "1")]
    Path(TablePath),
    #[prost(string, tag = "2")]
    TableOrViewName(String),
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TablePath {
    #[prost(string, tag = "1")]
    pub(crate) path: String,
    #[prost(map = "string, string", tag = "2")]
    pub(crate) hadoop_conf: HashMap<String, String>,
}

/// A message holding just the table (`Scan`, `DescribeHistory`, `DescribeDetail`).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct OnTable {
    #[prost(message, optional, tag = "1")]
    pub(crate) table: Option<DeltaTableRef>,
}

/// `delta.connect.DeltaRelation`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct DeltaRelation {
    #[prost(oneof = "RelationType", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10")]
    pub(crate) relation: Option<RelationType>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum RelationType {
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
    DeleteFromTable(crate::delta::messages::DeleteFromTable),
    #[prost(message, tag = "8")]
    UpdateTable(crate::delta::messages::UpdateTable),
    #[prost(message, tag = "9")]
    MergeIntoTable(Box<crate::delta::messages::MergeIntoTable>),
    #[prost(message, tag = "10")]
    OptimizeTable(OptimizeTable),
}

/// `delta.connect.ConvertToDelta`: `parquet.\`/path\`` and its partition columns.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ConvertToDelta {
    #[prost(string, tag = "1")]
    pub(crate) identifier: String,
    #[prost(oneof = "PartitionSchema", tags = "2, 3")]
    pub(crate) partition_schema: Option<PartitionSchema>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum PartitionSchema {
    #[prost(string, tag = "2")]
    Ddl(String),
    #[prost(message, tag = "3")]
    Struct(spark_connect_proto::spark::connect::DataType),
}

/// `delta.connect.RestoreTable`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RestoreTable {
    #[prost(message, optional, tag = "1")]
    pub(crate) table: Option<DeltaTableRef>,
    #[prost(oneof = "RestoreTo", tags = "2, 3")]
    pub(crate) to: Option<RestoreTo>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum RestoreTo {
    #[prost(int64, tag = "2")]
    Version(i64),
    #[prost(string, tag = "3")]
    Timestamp(String),
}

/// `delta.connect.IsDeltaTable`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct IsDeltaTable {
    #[prost(string, tag = "1")]
    pub(crate) path: String,
}

/// `delta.connect.OptimizeTable`: partition filters as SQL text, Z-order columns.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct OptimizeTable {
    #[prost(message, optional, tag = "1")]
    pub(crate) table: Option<DeltaTableRef>,
    #[prost(string, repeated, tag = "2")]
    pub(crate) partition_filters: Vec<String>,
    #[prost(string, repeated, tag = "3")]
    pub(crate) zorder_columns: Vec<String>,
}

/// `delta.connect.DeltaCommand`; clone, protocol upgrades and table features are named in the
/// error, the others carried out.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct DeltaCommand {
    #[prost(oneof = "CommandType", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub(crate) command: Option<CommandType>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum CommandType {
    #[prost(bytes, tag = "1")]
    CloneTable(Vec<u8>),
    #[prost(message, tag = "2")]
    VacuumTable(VacuumTable),
    #[prost(bytes, tag = "3")]
    UpgradeTableProtocol(Vec<u8>),
    #[prost(message, tag = "4")]
    Generate(crate::delta::messages::Generate),
    #[prost(message, tag = "5")]
    CreateDeltaTable(crate::delta::messages::CreateDeltaTable),
    #[prost(bytes, tag = "6")]
    AddFeatureSupport(Vec<u8>),
    #[prost(bytes, tag = "7")]
    DropFeatureSupport(Vec<u8>),
}

/// `delta.connect.VacuumTable`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct VacuumTable {
    #[prost(message, optional, tag = "1")]
    pub(crate) table: Option<DeltaTableRef>,
    #[prost(double, optional, tag = "2")]
    pub(crate) retention_hours: Option<f64>,
}

/// `delta.connect.DeleteFromTable`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct DeleteFromTable {
    #[prost(message, optional, tag = "1")]
    pub(crate) target: Option<Relation>,
    #[prost(message, optional, tag = "2")]
    pub(crate) condition: Option<Expression>,
}

/// `delta.connect.UpdateTable`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct UpdateTable {
    #[prost(message, optional, tag = "1")]
    pub(crate) target: Option<Relation>,
    #[prost(message, optional, tag = "2")]
    pub(crate) condition: Option<Expression>,
    #[prost(message, repeated, tag = "3")]
    pub(crate) assignments: Vec<Assignment>,
}

/// `delta.connect.Assignment`: a column (`F.col(name)`) and its new value.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Assignment {
    #[prost(message, optional, tag = "1")]
    pub(crate) field: Option<Expression>,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Expression>,
}

/// `delta.connect.MergeIntoTable`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct MergeIntoTable {
    #[prost(message, optional, tag = "1")]
    pub(crate) target: Option<Relation>,
    #[prost(message, optional, tag = "2")]
    pub(crate) source: Option<Relation>,
    #[prost(message, optional, tag = "3")]
    pub(crate) condition: Option<Expression>,
    #[prost(message, repeated, tag = "4")]
    pub(crate) matched_actions: Vec<Action>,
    #[prost(message, repeated, tag = "5")]
    pub(crate) not_matched_actions: Vec<Action>,
    #[prost(message, repeated, tag = "6")]
    pub(crate) not_matched_by_source_actions: Vec<Action>,
    #[prost(bool, optional, tag = "7")]
    pub(crate) with_schema_evolution: Option<bool>,
}

/// `delta.connect.MergeIntoTable.Action`: a clause's condition and what it does.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Action {
    #[prost(message, optional, tag = "1")]
    pub(crate) condition: Option<Expression>,
    #[prost(oneof = "ActionType", tags = "2, 3, 4, 5, 6")]
    pub(crate) action: Option<ActionType>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum ActionType {
    #[prost(message, tag = "2")]
    Delete(NoFields),
    #[prost(message, tag = "3")]
    Update(Assignments),
    #[prost(message, tag = "4")]
    UpdateStar(NoFields),
    #[prost(message, tag = "5")]
    Insert(Assignments),
    #[prost(message, tag = "6")]
    InsertStar(NoFields),
}

/// The actions without fields (`DeleteAction`, `UpdateStarAction`, `InsertStarAction`).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct NoFields {}

/// `UpdateAction` / `InsertAction`: their assignments.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Assignments {
    #[prost(message, repeated, tag = "1")]
    pub(crate) assignments: Vec<Assignment>,
}

/// `delta.connect.CreateDeltaTable`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct CreateDeltaTable {
    /// 1 create, 2 create if not exists, 3 replace, 4 create or replace.
    #[prost(int32, tag = "1")]
    pub(crate) mode: i32,
    #[prost(string, optional, tag = "2")]
    pub(crate) table_name: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub(crate) location: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub(crate) comment: Option<String>,
    #[prost(message, repeated, tag = "5")]
    pub(crate) columns: Vec<Column>,
    #[prost(string, repeated, tag = "6")]
    pub(crate) partitioning_columns: Vec<String>,
    #[prost(map = "string, string", tag = "7")]
    pub(crate) properties: HashMap<String, String>,
    #[prost(string, repeated, tag = "8")]
    pub(crate) clustering_columns: Vec<String>,
}

/// `CreateDeltaTable.Column`; an identity column's details (tag 6) are only noticed.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Column {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) data_type: Option<spark_connect_proto::spark::connect::DataType>,
    #[prost(bool, tag = "3")]
    pub(crate) nullable: bool,
    #[prost(string, optional, tag = "4")]
    pub(crate) generated_always_as: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub(crate) comment: Option<String>,
    #[prost(bytes, optional, tag = "6")]
    pub(crate) identity_info: Option<Vec<u8>>,
}

/// `delta.connect.Generate`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Generate {
    #[prost(message, optional, tag = "1")]
    pub(crate) table: Option<DeltaTableRef>,
    #[prost(string, tag = "2")]
    pub(crate) mode: String,
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
            crate::delta::table::local_dir(&p.path)
                .display()
                .to_string(),
        ]),
        Some(Access::TableOrViewName(name)) => Ok(spate_common::names::split_name(name)),
        None => Err(Error::internal("a DeltaTable message without a table")),
    }
}
