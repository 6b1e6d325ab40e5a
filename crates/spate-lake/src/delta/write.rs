//! Writing Delta tables: `df.write.format("delta")` with Spark's save modes (`error` fails with
//! `DELTA_PATH_EXISTS` on an existing table, `ignore` skips it), `partitionBy`, and delta-spark's
//! write options — `replaceWhere` (overwrite only the rows matching a predicate), `mergeSchema` /
//! `overwriteSchema`, `userMetadata` (kept in the commit's info), `txnAppId` + `txnVersion`
//! (idempotent writes: a version at or below the one the table has recorded for the application
//! is skipped) and `delta.*` table properties set by the write that creates the table. The query
//! is planned in the session (our rules, our operators) and run through the query runner; delta-rs
//! scans it as a table, so the rows stream into its writer. Auto compaction follows a write.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::datasource::provider_as_source;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode as DeltaSaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder};
use spate_common::{Error, Result};

use crate::delta::table::{
    PlannedTable, delta_error, is_delta_table, local_dir, property_name, table_url,
};
use crate::options::{SaveMode, WriteRequest};

/// Writes `plan` to the Delta table at `path` (created if missing).
pub async fn write(
    state: &SessionState,
    plan: LogicalPlan,
    path: &str,
    req: &WriteRequest,
) -> Result<()> {
    let dir = local_dir(path);
    check_unique_columns(&plan)?;
    let plan = utc_timestamps(plan)?;
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
    if crate::options::flag(opts, "overwriteschema", false)? {
        builder = builder.with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite);
        if req.mode == SaveMode::Overwrite {
            // the overwrite's partitioning replaces the table's, none if it gives none
            builder = builder.with_partition_columns(req.partition_by.clone());
        }
    } else if crate::options::flag(opts, "mergeschema", false)? {
        builder = builder.with_schema_mode(deltalake::operations::write::SchemaMode::Merge);
    }
    let written = builder.await.map_err(|e| delta_error(&dir, e));
    query.finish(spate_exec::Outcome::of(&written));
    crate::delta::optimize::auto_compact(state, &dir, written?).await?;
    Ok(())
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

/// The type with every zoned timestamp in it (nested in structs, lists and maps too) zoned
/// `UTC`, the only zone Delta's schema has (`TIMESTAMP` is an instant; the session's zone, e.g.
/// `Etc/UTC` or `Europe/Paris`, is display only); `None` when there is none to change.
fn utc_type(
    t: &datafusion::arrow::datatypes::DataType,
) -> Option<datafusion::arrow::datatypes::DataType> {
    use datafusion::arrow::datatypes::{DataType, Field, Fields};
    let field = |f: &Field| utc_type(f.data_type()).map(|t| f.clone().with_data_type(t));
    match t {
        DataType::Timestamp(unit, Some(tz)) if tz.as_ref() != "UTC" => {
            Some(DataType::Timestamp(*unit, Some("UTC".into())))
        }
        DataType::Struct(fields) => {
            let changed: Vec<Option<Field>> = fields.iter().map(|f| field(f)).collect();
            changed.iter().any(Option::is_some).then(|| {
                DataType::Struct(Fields::from(
                    fields
                        .iter()
                        .zip(changed)
                        .map(|(f, c)| c.unwrap_or_else(|| f.as_ref().clone()))
                        .collect::<Vec<_>>(),
                ))
            })
        }
        DataType::List(f) => field(f).map(|f| DataType::List(Arc::new(f))),
        DataType::LargeList(f) => field(f).map(|f| DataType::LargeList(Arc::new(f))),
        DataType::Map(f, sorted) => field(f).map(|f| DataType::Map(Arc::new(f), *sorted)),
        _ => None,
    }
}

/// `plan` with its zoned timestamps cast to `UTC` (see [`utc_type`]).
fn utc_timestamps(plan: LogicalPlan) -> Result<LogicalPlan> {
    let casts: Vec<Option<datafusion::arrow::datatypes::DataType>> = plan
        .schema()
        .fields()
        .iter()
        .map(|f| utc_type(f.data_type()))
        .collect();
    if casts.iter().all(Option::is_none) {
        return Ok(plan);
    }
    let exprs: Vec<datafusion::logical_expr::Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .zip(casts)
        .map(|(c, t)| {
            let name = c.name.clone();
            let e = datafusion::logical_expr::col(c);
            match t {
                Some(t) => datafusion::logical_expr::cast(e, t).alias(name),
                None => e.alias(name),
            }
        })
        .collect();
    Ok(datafusion::logical_expr::LogicalPlanBuilder::from(plan)
        .project(exprs)?
        .build()?)
}
