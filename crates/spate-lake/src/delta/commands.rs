//! Delta Lake's table statements ([`TableCommand`]) carried out with delta-rs's operations:
//! `DELETE`, `UPDATE` and `MERGE` (delta-rs rewrites the files holding matched rows and commits;
//! the change data feed is written when the table enables it), `OPTIMIZE [ZORDER BY]`,
//! `VACUUM`, `RESTORE`, table properties, added columns, `CONVERT TO DELTA`, `DESCRIBE DETAIL`
//! and `INSERT .. REPLACE WHERE`. Each answers with the rows delta-spark's statement returns.
//! delta-rs plans its operations in a copy of the session with its own query planner (for its
//! operators); a `MERGE` source is planned by the session first and handed over as a scan.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, LogicalPlanBuilder, Operator};
use datafusion::scalar::ScalarValue;
use deltalake::DeltaTable;
use deltalake::kernel::StructField;
use deltalake::kernel::engine::arrow_conversion::TryFromArrow;
use spate_common::{Error, Result};
use spate_plan::sql_table_syntax::AsOf;

use crate::delta::statement::{MergeAction, MergeCommand, MergeWhen, TableCommand};

use crate::delta::history::{detail, file_sizes};
use crate::delta::table::{
    delta_error, delta_session, delta_state, is_path, local_dir, location, open, qualified_name,
};
use crate::options::{SaveMode, WriteRequest};
use crate::warehouse::Warehouse;

/// Runs one statement on the table it names, recorded as a query by the runner (delta-rs
/// carries out the work).
pub async fn run(
    catalog: &dyn Warehouse,
    state: &SessionState,
    command: TableCommand,
) -> Result<LogicalPlan> {
    let kind = statement_kind(&command);
    spate_exec::track(state, kind, run_statement(catalog, state, command)).await
}

fn statement_kind(command: &TableCommand) -> &'static str {
    match command {
        TableCommand::Delete { .. } => "DELETE",
        TableCommand::Update { .. } => "UPDATE",
        TableCommand::Merge(_) => "MERGE INTO",
        TableCommand::History { .. } => "DESCRIBE HISTORY",
        TableCommand::Detail { .. } => "DESCRIBE DETAIL",
        TableCommand::SetProperties { .. } => "ALTER TABLE SET TBLPROPERTIES",
        TableCommand::UnsetProperties { .. } => "ALTER TABLE UNSET TBLPROPERTIES",
        TableCommand::AddColumns { .. } => "ALTER TABLE ADD COLUMNS",
        TableCommand::Optimize { .. } => "OPTIMIZE",
        TableCommand::Vacuum { .. } => "VACUUM",
        TableCommand::Restore { .. } => "RESTORE",
        TableCommand::Convert { .. } => "CONVERT TO DELTA",
        TableCommand::ReplaceWhere { .. } => "INSERT REPLACE WHERE",
    }
}

async fn run_statement(
    catalog: &dyn Warehouse,
    state: &SessionState,
    command: TableCommand,
) -> Result<LogicalPlan> {
    let tz = crate::options::session_time_zone(state);
    match command {
        TableCommand::Delete { table, predicate } => {
            let (dir, t) = open(catalog, &table, "DELETE").await?;
            let mut op = t.delete().with_session_state(delta_session(state));
            if let Some(p) = predicate {
                op = op.with_predicate(p);
            }
            let (t, m) = op.await.map_err(|e| delta_error(&dir, e))?;
            crate::delta::optimize::auto_compact(state, &dir, t).await?;
            counts(&[("num_affected_rows", m.num_deleted_rows.unwrap_or(0))])
        }
        TableCommand::Update {
            table,
            assignments,
            predicate,
        } => {
            let (dir, t) = open(catalog, &table, "UPDATE").await?;
            let mut op = t.update().with_session_state(delta_session(state));
            if let Some(p) = predicate {
                op = op.with_predicate(p);
            }
            for (c, e) in assignments {
                op = op.with_update(c.as_str(), e);
            }
            let (t, m) = op.await.map_err(|e| delta_error(&dir, e))?;
            crate::delta::optimize::auto_compact(state, &dir, t).await?;
            counts(&[("num_affected_rows", m.num_updated_rows)])
        }
        TableCommand::Merge(m) => merge(catalog, state, *m).await,
        TableCommand::History { table, limit } => {
            let dir = location(catalog, &table, "DESCRIBE HISTORY")?;
            crate::delta::history::history(&dir, &tz, limit).await
        }
        TableCommand::Detail { table } => {
            let (dir, t) = open(catalog, &table, "DESCRIBE DETAIL").await?;
            let name = (!is_path(&table)).then(|| qualified_name(catalog, &table));
            detail(&dir, &t, name, &tz).await
        }
        TableCommand::SetProperties { table, properties } => {
            let (dir, t) = open(catalog, &table, "ALTER TABLE").await?;
            let properties = properties
                .into_iter()
                .map(|(k, v)| (crate::delta::table::property_name(&k), v))
                .collect();
            t.set_tbl_properties()
                .with_properties(properties)
                .await
                .map_err(|e| delta_error(&dir, e))?;
            empty()
        }
        TableCommand::UnsetProperties {
            table,
            keys,
            if_exists,
        } => {
            let (dir, t) = open(catalog, &table, "ALTER TABLE").await?;
            unset_properties(&dir, t, &keys, if_exists).await?;
            empty()
        }
        TableCommand::AddColumns { table, columns } => {
            let (dir, t) = open(catalog, &table, "ALTER TABLE").await?;
            let fields = columns
                .iter()
                .map(|f| StructField::try_from_arrow(f.as_ref()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::unsupported(format!("a column of that type in Delta: {e}")))?;
            t.add_columns()
                .with_fields(fields)
                .await
                .map_err(|e| delta_error(&dir, e))?;
            empty()
        }
        TableCommand::Optimize {
            table,
            predicate,
            zorder,
        } => optimize(catalog, state, &table, predicate, zorder).await,
        TableCommand::Vacuum {
            table,
            retain_hours,
            dry_run,
            check_retention,
        } => {
            let (dir, t) = open(catalog, &table, "VACUUM").await?;
            let mut op = t
                .vacuum()
                .with_dry_run(dry_run)
                .with_enforce_retention_duration(check_retention);
            if let Some(h) = retain_hours {
                op = op.with_retention_period(chrono::Duration::seconds((h * 3600.0) as i64));
            }
            let (_, m) = op.await.map_err(|e| {
                let msg = e.to_string();
                // delta-rs's VacuumError is private: its message is the mark
                if msg.contains("minimum retention") {
                    // delta-spark's check (a Scala `require`, so IllegalArgumentException)
                    Error::IllegalArgument(format!(
                        "requirement failed: Are you sure you would like to vacuum files with such a low retention period? ({msg}) If you are certain, turn this check off by setting spark.databricks.delta.retentionDurationCheck.enabled = false."
                    ))
                } else {
                    delta_error(&dir, e)
                }
            })?;
            let paths: Vec<String> = if dry_run {
                m.files_deleted
                    .iter()
                    .map(|f| format!("file:{}", dir.join(f).display()))
                    .collect()
            } else {
                vec![format!("file:{}", dir.display())]
            };
            crate::delta::history::columns_plan(vec![(
                "path",
                Arc::new(StringArray::from(paths)) as ArrayRef,
            )])
        }
        TableCommand::Restore { table, to } => {
            let (dir, t) = open(catalog, &table, "RESTORE").await?;
            restore(&dir, t, to, &tz).await
        }
        TableCommand::Convert { table, partitions } => convert(&table, &partitions).await,
        TableCommand::ReplaceWhere {
            table,
            plan,
            predicate,
        } => {
            let req = WriteRequest {
                format: "delta".into(),
                mode: SaveMode::Overwrite,
                partition_by: vec![],
                options: HashMap::from([("replacewhere".to_string(), predicate)]),
            };
            if is_path(&table) {
                crate::delta::write::write(state, plan, &table[1], &req).await?;
            } else {
                location(catalog, &table, "INSERT REPLACE WHERE")?;
                catalog.write_table(state, plan, &table, &req, true).await?;
            }
            empty()
        }
    }
}

async fn merge(
    catalog: &dyn Warehouse,
    state: &SessionState,
    m: MergeCommand,
) -> Result<LogicalPlan> {
    let (dir, t) = open(catalog, &m.target, "MERGE INTO").await?;
    let query = spate_exec::start(state, &m.source, "MERGE INTO source").await?;
    let source = LogicalPlanBuilder::scan(
        m.source_alias.as_str(),
        provider_as_source(Arc::new(crate::delta::table::PlannedTable(Arc::clone(
            query.plan(),
        )))),
        None,
    )?
    .build()?;
    let session = delta_state(state);
    let source = datafusion::dataframe::DataFrame::new(session.clone(), source);
    let mut op = t
        .merge(source, m.on)
        .with_source_alias(&m.source_alias)
        .with_target_alias(&m.target_alias)
        .with_session_state(Arc::new(session));
    let fail = |e| delta_error(&dir, e);
    for clause in m.clauses {
        let pred = clause.predicate;
        op = match (clause.when, clause.action) {
            (MergeWhen::Matched, MergeAction::Update(set)) => op
                .when_matched_update(|mut u| {
                    if let Some(p) = pred {
                        u = u.predicate(p);
                    }
                    set.into_iter().fold(u, |u, (c, e)| u.update(c.as_str(), e))
                })
                .map_err(fail)?,
            (MergeWhen::Matched, MergeAction::Delete) => op
                .when_matched_delete(|d| match pred {
                    Some(p) => d.predicate(p),
                    None => d,
                })
                .map_err(fail)?,
            (MergeWhen::NotMatched, MergeAction::Insert(set)) => op
                .when_not_matched_insert(|mut i| {
                    if let Some(p) = pred {
                        i = i.predicate(p);
                    }
                    set.into_iter().fold(i, |i, (c, e)| i.set(c.as_str(), e))
                })
                .map_err(fail)?,
            (MergeWhen::NotMatchedBySource, MergeAction::Update(set)) => op
                .when_not_matched_by_source_update(|mut u| {
                    if let Some(p) = pred {
                        u = u.predicate(p);
                    }
                    set.into_iter().fold(u, |u, (c, e)| u.update(c.as_str(), e))
                })
                .map_err(fail)?,
            (MergeWhen::NotMatchedBySource, MergeAction::Delete) => op
                .when_not_matched_by_source_delete(|d| match pred {
                    Some(p) => d.predicate(p),
                    None => d,
                })
                .map_err(fail)?,
            (when, _) => {
                return Err(Error::parse(format!(
                    "syntax error: a MERGE clause WHEN {} cannot do that action",
                    match when {
                        MergeWhen::Matched => "MATCHED takes UPDATE or DELETE;",
                        MergeWhen::NotMatched => "NOT MATCHED takes only INSERT;",
                        MergeWhen::NotMatchedBySource =>
                            "NOT MATCHED BY SOURCE takes UPDATE or DELETE;",
                    }
                )));
            }
        };
    }
    let merged = op.await.map_err(|e| merge_error(&dir, e));
    query.finish(spate_exec::Outcome::of(&merged));
    let (t, metrics) = merged?;
    crate::delta::optimize::auto_compact(state, &dir, t).await?;
    let (u, d, i) = (
        metrics.num_target_rows_updated,
        metrics.num_target_rows_deleted,
        metrics.num_target_rows_inserted,
    );
    counts(&[
        ("num_affected_rows", u + d + i),
        ("num_updated_rows", u),
        ("num_deleted_rows", d),
        ("num_inserted_rows", i),
    ])
}

/// delta-spark's error when several source rows match one target row.
fn merge_error(dir: &Path, e: deltalake::DeltaTableError) -> Error {
    let text = e.to_string();
    // delta-rs's validation error has no variant of its own: its message is the mark
    if text.contains("matched a target row with multiple source rows") {
        return Error::Analysis {
            class: "DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE".into(),
            message: format!(
                "Cannot perform Merge as multiple source rows matched and attempted to modify the same target row in the Delta table file:{} ({text}).",
                dir.display()
            ),
            params: vec![],
        };
    }
    delta_error(dir, e)
}

async fn optimize(
    catalog: &dyn Warehouse,
    state: &SessionState,
    table: &[String],
    predicate: Option<Expr>,
    zorder: Vec<String>,
) -> Result<LogicalPlan> {
    let (dir, t) = open(catalog, table, "OPTIMIZE").await?;
    let partition_columns: Vec<String> = t
        .snapshot()
        .map_err(|e| delta_error(&dir, e))?
        .metadata()
        .partition_columns()
        .to_vec();
    let mut owned = Vec::new();
    if let Some(p) = &predicate {
        partition_filters(p, &partition_columns, &mut owned)?;
    }
    let filters: Vec<deltalake::kernel::schema::partitions::FilterLiteral<'_>> = owned
        .iter()
        .map(|(c, op, v): &(String, _, Vec<String>)| {
            let value = if matches!(op, deltalake::kernel::schema::partitions::FilterOp::In) {
                deltalake::kernel::schema::partitions::FilterValue::Set(
                    v.iter().map(String::as_str).collect(),
                )
            } else {
                deltalake::kernel::schema::partitions::FilterValue::Scalar(v[0].as_str())
            };
            (c.as_str(), *op, value)
        })
        .collect();
    let kind = if zorder.is_empty() {
        deltalake::operations::optimize::OptimizeType::Compact
    } else {
        deltalake::operations::optimize::OptimizeType::ZOrder(zorder)
    };
    let (_, m) = t
        .optimize()
        .with_type(kind)
        .with_filters(&filters)
        .with_session_state(delta_session(state))
        .await
        .map_err(|e| delta_error(&dir, e))?;
    let metrics: Vec<(&str, i64)> = vec![
        ("numFilesAdded", m.num_files_added as i64),
        ("numFilesRemoved", m.num_files_removed as i64),
        ("partitionsOptimized", m.partitions_optimized as i64),
        ("numBatches", m.num_batches as i64),
        ("totalConsideredFiles", m.total_considered_files as i64),
        ("totalFilesSkipped", m.total_files_skipped as i64),
    ];
    let fields: Fields = metrics
        .iter()
        .map(|(n, _)| Field::new(*n, DataType::Int64, true))
        .collect();
    let arrays: Vec<ArrayRef> = metrics
        .iter()
        .map(|(_, v)| Arc::new(Int64Array::from(vec![*v])) as ArrayRef)
        .collect();
    let metrics = StructArray::try_new(fields, arrays, None).map_err(DataFusionError::from)?;
    crate::delta::history::columns_plan(vec![
        (
            "path",
            Arc::new(StringArray::from(vec![format!("file:{}", dir.display())])) as ArrayRef,
        ),
        ("metrics", Arc::new(metrics)),
    ])
}

/// `OPTIMIZE .. WHERE` as delta-rs's partition filters: conjunctions of comparisons between a
/// partition column and literals; delta-spark's error for any other column.
fn partition_filters(
    e: &Expr,
    partition_columns: &[String],
    out: &mut Vec<(
        String,
        deltalake::kernel::schema::partitions::FilterOp,
        Vec<String>,
    )>,
) -> Result<()> {
    use deltalake::kernel::schema::partitions::FilterOp;
    let column = |e: &Expr| -> Result<String> {
        let Expr::Column(c) = e.clone().unalias_nested().data else {
            return Err(Error::analysis(
                "DELTA_UNSUPPORTED_EXPRESSION",
                format!("OPTIMIZE WHERE compares partition columns with values, not {e}"),
            ));
        };
        partition_columns
            .iter()
            .find(|p| p.eq_ignore_ascii_case(&c.name))
            .cloned()
            .ok_or_else(|| {
                Error::analysis(
                    "DELTA_NON_PARTITION_COLUMN_REFERENCE",
                    format!(
                        "Predicate references non-partition column '{}'. Only the partition columns may be referenced: [{}]",
                        c.name,
                        partition_columns.join(", ")
                    ),
                )
            })
    };
    let value = |e: &Expr| -> Result<String> {
        match e.clone().unalias_nested().data {
            Expr::Literal(v, _) => Ok(plain_value(&v)),
            Expr::Cast(c) => match *c.expr {
                Expr::Literal(v, _) => Ok(plain_value(&v)),
                other => Err(Error::unsupported(format!("OPTIMIZE WHERE with {other}"))),
            },
            other => Err(Error::unsupported(format!("OPTIMIZE WHERE with {other}"))),
        }
    };
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            if *op == Operator::And {
                partition_filters(left, partition_columns, out)?;
                return partition_filters(right, partition_columns, out);
            }
            let op = match op {
                Operator::Eq => FilterOp::Eq,
                Operator::NotEq => FilterOp::Ne,
                Operator::Lt => FilterOp::Lt,
                Operator::LtEq => FilterOp::Le,
                Operator::Gt => FilterOp::Gt,
                Operator::GtEq => FilterOp::Ge,
                other => return Err(Error::unsupported(format!("OPTIMIZE WHERE with {other}"))),
            };
            out.push((column(left)?, op, vec![value(right)?]));
            Ok(())
        }
        Expr::InList(l) if !l.negated => {
            let values = l.list.iter().map(value).collect::<Result<Vec<_>>>()?;
            out.push((column(&l.expr)?, FilterOp::In, values));
            Ok(())
        }
        Expr::Cast(c) => partition_filters(&c.expr, partition_columns, out),
        other => Err(Error::unsupported(format!("OPTIMIZE WHERE {other}"))),
    }
}

/// A literal as a partition value's text.
fn plain_value(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => s.clone(),
        other => other.to_string(),
    }
}

async fn unset_properties(
    dir: &Path,
    t: DeltaTable,
    keys: &[String],
    if_exists: bool,
) -> Result<()> {
    use deltalake::kernel::MetadataExt;
    let snapshot = t.snapshot().map_err(|e| delta_error(dir, e))?;
    let mut metadata = snapshot.metadata().clone();
    for k in keys {
        let name = crate::delta::table::property_name(k);
        if !metadata.configuration().contains_key(&name) {
            if if_exists {
                continue;
            }
            return Err(Error::analysis(
                "UNSET_NONEXISTENT_PROPERTIES",
                format!(
                    "Attempted to unset non-existent properties [`{k}`] in table file:{}.",
                    dir.display()
                ),
            ));
        }
        metadata = metadata
            .remove_config_key(&name)
            .map_err(|e| Error::internal(format!("unsetting {name}: {e}")))?;
    }
    let operation = deltalake::protocol::DeltaOperation::UpdateTableMetadata {
        metadata_update: deltalake::operations::update_table_metadata::TableMetadataUpdate {
            name: None,
            description: None,
        },
    };
    deltalake::kernel::transaction::CommitBuilder::default()
        .with_actions(vec![deltalake::kernel::Action::Metadata(metadata)])
        .build(Some(snapshot), t.log_store(), operation)
        .await
        .map_err(|e| delta_error(dir, e))?;
    Ok(())
}

async fn restore(dir: &Path, t: DeltaTable, to: AsOf, tz: &str) -> Result<LogicalPlan> {
    let before = file_sizes(dir, &t)?;
    let op = t.restore();
    let op = match to {
        AsOf::Version(v) => op.with_version_to_restore(v.max(0) as u64),
        AsOf::Timestamp(text) => {
            op.with_datetime_to_restore(crate::delta::table::parse_instant(&text, tz)?)
        }
    };
    let (after_table, _) = op.await.map_err(|e| delta_error(dir, e))?;
    let after = file_sizes(dir, &after_table)?;
    let removed: Vec<i64> = before
        .iter()
        .filter(|(p, _)| !after.contains_key(*p))
        .map(|(_, s)| *s)
        .collect();
    let restored: Vec<i64> = after
        .iter()
        .filter(|(p, _)| !before.contains_key(*p))
        .map(|(_, s)| *s)
        .collect();
    counts_i64(&[
        ("table_size_after_restore", after.values().sum()),
        ("num_of_files_after_restore", after.len() as i64),
        ("num_removed_files", removed.len() as i64),
        ("num_restored_files", restored.len() as i64),
        ("removed_files_size", removed.iter().sum()),
        ("restored_files_size", restored.iter().sum()),
    ])
}

async fn convert(table: &[String], partitions: &Fields) -> Result<LogicalPlan> {
    let [format, path] = table else {
        return Err(Error::parse(
            "CONVERT TO DELTA names files as parquet.`/path`",
        ));
    };
    if !format.eq_ignore_ascii_case("parquet") {
        return Err(Error::analysis(
            "DELTA_CONVERSION_UNSUPPORTED_FORMAT",
            format!("CONVERT TO DELTA only supports parquet tables, not {format}"),
        ));
    }
    let dir = local_dir(path);
    if crate::delta::table::is_delta_table(&dir) {
        return empty();
    }
    let schema = partitions
        .iter()
        .map(|f| StructField::try_from_arrow(f.as_ref()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::unsupported(format!("a partition column of that type: {e}")))?;
    deltalake::operations::convert_to_delta::ConvertToDeltaBuilder::new()
        .with_location(crate::delta::table::table_url(&dir)?.to_string())
        .with_partition_schema(schema)
        .await
        .map_err(|e| delta_error(&dir, e))?;
    empty()
}

/// One row of `bigint` counts.
fn counts(columns: &[(&str, usize)]) -> Result<LogicalPlan> {
    let columns: Vec<(&str, i64)> = columns.iter().map(|(n, v)| (*n, *v as i64)).collect();
    counts_i64(&columns)
}

fn counts_i64(columns: &[(&str, i64)]) -> Result<LogicalPlan> {
    crate::delta::history::columns_plan(
        columns
            .iter()
            .map(|(n, v)| (*n, Arc::new(Int64Array::from(vec![*v])) as ArrayRef))
            .collect(),
    )
}

/// A statement's empty answer.
fn empty() -> Result<LogicalPlan> {
    Ok(LogicalPlanBuilder::empty(false).build()?)
}
