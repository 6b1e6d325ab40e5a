//! delta-spark's table builders over Spark Connect — `DeltaTable.create(spark)`,
//! `createIfNotExists`, `replace` and `createOrReplace` with `.tableName` / `.location`,
//! `.addColumn(s)`, `.partitionedBy`, `.property` and `.comment` (its `CreateDeltaTable`
//! command) — made into the catalog's `CREATE TABLE .. USING DELTA`, and
//! `DeltaTable.generate("symlink_format_manifest")` (its `Generate` command) through delta-rs's
//! manifest generator. Generated, identity and clustering columns say they are not supported.
//! Messages are declared with prost from the field numbers of delta-spark's protocol.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::LogicalPlanBuilder;
use spate_common::{Error, Result};
use spate_plan::{Resolver, TableSpec};

use crate::delta::messages::{Column, CreateDeltaTable, Generate};
use crate::warehouse::Warehouse;

const CREATE_IF_NOT_EXISTS: i32 = 2;
const REPLACE: i32 = 3;
const CREATE_OR_REPLACE: i32 = 4;

/// Creates (or replaces) the table a `DeltaTableBuilder` describes.
pub(crate) async fn create(
    catalog: &dyn Warehouse,
    resolver: &Resolver<'_>,
    c: CreateDeltaTable,
) -> Result<()> {
    let CreateDeltaTable {
        mode,
        table_name,
        location,
        comment: _,
        columns,
        partitioning_columns,
        properties,
        clustering_columns,
    } = c;
    if !clustering_columns.is_empty() {
        return Err(Error::unsupported("DeltaTableBuilder.clusterBy"));
    }
    let tz = crate::options::session_time_zone(resolver.state());
    let mut fields = Vec::new();
    for column in columns {
        let Column {
            name,
            data_type,
            nullable,
            generated_always_as,
            comment: _,
            identity_info,
        } = column;
        if generated_always_as.is_some() {
            return Err(Error::unsupported(format!(
                "generated column `{name}` (generatedAlwaysAs)"
            )));
        }
        if identity_info.is_some() {
            return Err(Error::unsupported(format!("identity column `{name}`")));
        }
        let data_type = data_type
            .ok_or_else(|| Error::IllegalArgument(format!("column `{name}` has no type")))?;
        fields.push(Field::new(
            name,
            spate_plan::types::from_proto(&data_type, &tz)?,
            nullable,
        ));
    }
    let schema = Arc::new(Schema::new(fields));
    let table = MemTable::try_new(schema, vec![vec![]])?;
    let plan =
        LogicalPlanBuilder::scan("columns", provider_as_source(Arc::new(table)), None)?.build()?;
    let name = match (&table_name, &location) {
        (Some(n), _) => spate_common::names::split_name(n),
        (None, Some(path)) => vec![
            "delta".into(),
            crate::delta::table::local_dir(path).display().to_string(),
        ],
        (None, None) => {
            return Err(Error::analysis(
                "DELTA_CREATE_TABLE_MISSING_TABLE_NAME_OR_LOCATION",
                "Table name or location has to be specified.",
            ));
        }
    };
    let exists = match (&table_name, &location) {
        (Some(_), _) => catalog.table_exists(&name),
        (None, Some(path)) => {
            crate::delta::table::is_delta_table(&crate::delta::table::local_dir(path))
        }
        (None, None) => false,
    };
    match mode {
        CREATE_IF_NOT_EXISTS if exists => return Ok(()),
        REPLACE if !exists => {
            return Err(Error::analysis(
                "DELTA_CANNOT_REPLACE_MISSING_TABLE",
                format!(
                    "Table {} cannot be replaced as it does not exist. Use CREATE OR REPLACE TABLE to create the table.",
                    table_name
                        .as_deref()
                        .or(location.as_deref())
                        .unwrap_or_default()
                ),
            ));
        }
        _ => {}
    }
    let mut properties: Vec<(String, String)> = properties.into_iter().collect();
    properties.sort();
    let spec = TableSpec {
        format: "delta".into(),
        partition_by: partitioning_columns,
        replace: mode == REPLACE || mode == CREATE_OR_REPLACE,
        if_not_exists: mode == CREATE_IF_NOT_EXISTS,
        location: table_name.is_some().then_some(location).flatten(),
        properties,
    };
    catalog
        .create_table(resolver.state(), &name, plan, spec)
        .await
}

/// `DeltaTable.generate(mode)`: the symlink manifest of the table's current files.
pub(crate) async fn generate(catalog: &dyn Warehouse, g: Generate) -> Result<()> {
    if !g.mode.eq_ignore_ascii_case("symlink_format_manifest") {
        return Err(Error::analysis(
            "DELTA_MODE_NOT_SUPPORTED",
            format!(
                "Specified mode '{}' is not supported. Supported modes are: symlink_format_manifest",
                g.mode
            ),
        ));
    }
    let name = crate::delta::messages::table_name(g.table.as_ref())?;
    let dir = crate::delta::table::location(catalog, &name, "GENERATE")?;
    let table = crate::delta::table::load(&dir).await?;
    table
        .generate()
        .await
        .map_err(|e| crate::delta::table::delta_error(&dir, e))?;
    Ok(())
}
