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
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, StringArray};
use datafusion::logical_expr::LogicalPlan;
use prost::Message;
use spate_common::{Error, Result};
use spate_plan::Resolver;
use spate_plan::sql_table_syntax::AsOf;

use crate::delta::statement::TableCommand;

use crate::delta::history::{columns_plan, history};
use crate::delta::messages::{
    Access, COMMAND_TYPE, CommandType, ConvertToDelta, DeltaCommand, DeltaRelation, DeltaTableRef,
    PartitionSchema, RELATION_TYPE, RelationType, RestoreTo, table_name,
};
use crate::warehouse::Warehouse;

/// Plans one of delta-spark's relations; `None` when `relation` is not one. The operations
/// that change a table (delete, update, merge, optimize, restore, convert) run here, as
/// delta-spark runs them when their relation is executed, and answer with its result rows.
pub async fn relation(
    catalog: &dyn Warehouse,
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
    let tz = crate::options::session_time_zone(state);
    let run = |command| crate::delta::commands::run(catalog, state, command);
    Ok(Some(match message.relation {
        Some(RelationType::Scan(t)) => {
            let dir = table_dir(t.table.as_ref())?;
            crate::delta::read::read(state, &dir.display().to_string(), &HashMap::new(), "delta")
                .await?
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
            let predicate = crate::delta::connect_dml::partition_predicate(
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
            let is = crate::delta::table::is_delta_table(&crate::delta::table::local_dir(&t.path));
            columns_plan(vec![("value", Arc::new(BooleanArray::from(vec![is])))])?
        }
        Some(RelationType::DeleteFromTable(d)) => {
            let command = crate::delta::connect_dml::delete(resolver, &d).await?;
            run(command).await?
        }
        Some(RelationType::UpdateTable(u)) => {
            let command = crate::delta::connect_dml::update(resolver, &u).await?;
            run(command).await?
        }
        Some(RelationType::MergeIntoTable(m)) => {
            let command = crate::delta::connect_dml::merge(resolver, &m).await?;
            run(command).await?
        }
        None => return Err(Error::internal("a DeltaRelation without a relation")),
    }))
}

/// Runs one of delta-spark's commands; `false` when `command` is not one.
pub async fn command(
    catalog: &dyn Warehouse,
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
                check_retention: crate::delta::statement::retention_check(resolver.config()),
            };
            crate::delta::commands::run(catalog, resolver.state(), command).await?;
            Ok(true)
        }
        Some(CommandType::CreateDeltaTable(c)) => {
            crate::delta::connect_ddl::create(catalog, resolver, c).await?;
            Ok(true)
        }
        Some(CommandType::Generate(g)) => {
            crate::delta::connect_ddl::generate(catalog, g).await?;
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
    catalog: &dyn Warehouse,
    resolver: &Resolver<'_>,
    c: ConvertToDelta,
) -> Result<LogicalPlan> {
    let table = spate_common::names::split_name(&c.identifier);
    let partitions = match c.partition_schema {
        Some(PartitionSchema::Ddl(ddl)) => spate_plan::type_parser::parse_schema(
            &ddl,
            &crate::options::session_time_zone(resolver.state()),
        )?,
        Some(PartitionSchema::Struct(t)) => {
            match spate_plan::types::from_proto(
                &t,
                &crate::options::session_time_zone(resolver.state()),
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
    crate::delta::commands::run(
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

/// The directory of the table a `DeltaTable` message names: its path, or a name — a
/// warehouse table, or ``delta.`/path` ``.
fn table_location(catalog: &dyn Warehouse, table: Option<&DeltaTableRef>) -> Result<PathBuf> {
    match table.and_then(|t| t.access.as_ref()) {
        Some(Access::Path(p)) => Ok(crate::delta::table::local_dir(&p.path)),
        Some(Access::TableOrViewName(name)) => {
            let parts = spate_common::names::split_name(name);
            match parts.as_slice() {
                [format, path] if format.eq_ignore_ascii_case("delta") => {
                    Ok(crate::delta::table::local_dir(path))
                }
                _ => catalog.data_dir(&parts),
            }
        }
        None => Err(Error::internal("a DeltaTable message without a table")),
    }
}
