//! Commands: `spark.sql` (SqlCommand — a query comes back as a relation to run lazily, a
//! statement runs now and its rows come back as a local relation), `df.write`
//! (WriteOperation), `createOrReplaceTempView` (CreateDataFrameViewCommand), and
//! `checkpoint`/`localCheckpoint` (CheckpointCommand, with RemoveCachedRemoteRelationCommand
//! letting the kept rows go).

use std::collections::HashMap;

use spark_connect_proto::spark::connect::command::CommandType;
use spark_connect_proto::spark::connect::execute_plan_response::{ResponseType, SqlCommandResult};
use spark_connect_proto::spark::connect::relation::RelType;
use spark_connect_proto::spark::connect::write_operation::{
    SaveMode as PMode, SaveType, save_table::TableSaveMethod,
};
use spark_connect_proto::spark::connect::{
    self as sc, Command, CreateDataFrameViewCommand, ExecutePlanResponse, LocalRelation, Relation,
    SqlCommand, WriteOperation,
};
use spate_common::names::split_name;
use spate_common::{Error, Result};
use spate_lake::{SaveMode, WriteRequest, write};
use spate_plan::sql::SqlOutcome;
use spate_plan::{Resolver, Sources};
use spate_session::Session;

use crate::execution::{Execution, resolve};

/// Runs a command and returns its responses (without ResultComplete).
pub(crate) async fn handle(exec: &Execution<'_>, cmd: Command) -> Result<Vec<ExecutePlanResponse>> {
    let Command { command_type } = cmd;
    let session = exec.session().as_ref();
    match command_type.ok_or_else(|| Error::internal("command without a type"))? {
        CommandType::SqlCommand(sql) => sql_command(exec, sql).await,
        CommandType::WriteOperation(w) => {
            let state = session.state(exec.scope(None))?;
            write_operation(session, &state, w).await?;
            Ok(vec![])
        }
        CommandType::CreateDataframeView(v) => {
            let CreateDataFrameViewCommand {
                input,
                name,
                is_global,
                replace,
            } = v;
            let input = input.ok_or_else(|| Error::internal("view without input"))?;
            let state = session.state(exec.scope(None))?;
            let plan = resolve(session, &state, &input, true).await?;
            session
                .catalog
                .register_view(&name, plan, replace, is_global)?;
            Ok(vec![])
        }
        CommandType::WriteStreamOperationStart(w) => crate::streaming::start(exec, w).await,
        CommandType::StreamingQueryCommand(c) => crate::streaming::query_command(exec, c).await,
        CommandType::StreamingQueryManagerCommand(c) => {
            crate::streaming::manager_command(exec, c).await
        }
        CommandType::StreamingQueryListenerBusCommand(c) => {
            crate::streaming::listener_bus(exec, c).await
        }
        CommandType::CheckpointCommand(c) => checkpoint(exec, c).await,
        CommandType::RemoveCachedRemoteRelationCommand(c) => {
            if let Some(sc::CachedRemoteRelation { relation_id }) = c.relation {
                let view = spate_plan::streaming::batch_view_name(&relation_id);
                session.catalog.drop_view(&view, false);
            }
            Ok(vec![])
        }
        CommandType::Extension(any) => {
            let state = session.state(exec.scope(None))?;
            let config = session.config();
            let resolver = Resolver::new(&state, session.catalog.as_ref(), &config);
            session.catalog.command_extension(&resolver, &any).await?;
            Ok(vec![])
        }
        other => {
            let debug = format!("{other:?}");
            Err(Error::unsupported(format!(
                "command {}",
                debug.split('(').next().unwrap_or("unknown")
            )))
        }
    }
}

#[expect(
    deprecated,
    reason = "PySpark 3.x clients still send the SQL text in the deprecated fields"
)]
async fn sql_command(exec: &Execution<'_>, cmd: SqlCommand) -> Result<Vec<ExecutePlanResponse>> {
    let session = exec.session().as_ref();
    let SqlCommand {
        sql,
        args,
        pos_args,
        named_arguments,
        pos_arguments,
        input,
    } = cmd;
    let relation = match input {
        Some(rel) => rel,
        None => Relation {
            common: None,
            rel_type: Some(RelType::Sql(sc::Sql {
                query: sql,
                args,
                pos_args,
                named_arguments,
                pos_arguments,
            })),
        },
    };
    let Some(RelType::Sql(sql_rel)) = &relation.rel_type else {
        return Ok(vec![sql_result(exec, relation)]);
    };
    let state = session.state(exec.scope(Some(sql_rel.query.clone())))?;
    let config = session.config();
    let resolver = Resolver::new(&state, session.catalog.as_ref(), &config)
        .with_cache(&session.cache, true)
        .with_blobs(&session.artifacts);
    match resolver.sql(sql_rel).await? {
        SqlOutcome::Query(_) => Ok(vec![sql_result(exec, relation)]),
        SqlOutcome::Done(plan) => {
            let batches = spate_exec::collect(&state, &plan, "SQL statement").await?;
            let schema = crate::arrow::plain_schema(plan.schema().as_arrow());
            let batches = batches
                .iter()
                .map(|b| crate::arrow::conform(b, &schema))
                .collect::<Result<Vec<_>>>()?;
            let data = crate::arrow::to_ipc(&schema, &batches)?;
            let local = Relation {
                common: None,
                rel_type: Some(RelType::LocalRelation(LocalRelation {
                    data: Some(data.into()),
                    schema: None,
                })),
            };
            Ok(vec![sql_result(exec, local)])
        }
    }
}

/// `df.checkpoint()` / `df.localCheckpoint()`: the rows are computed now and kept in the
/// server's memory under a relation id the client reads back (`CachedRemoteRelation`) until
/// it lets the DataFrame go (`RemoveCachedRemoteRelationCommand`). Spate keeps both kinds in
/// memory: the result, and the plan cut at that point, are Spark's; a reliable checkpoint's
/// files in a checkpoint directory are not written.
async fn checkpoint(
    exec: &Execution<'_>,
    c: sc::CheckpointCommand,
) -> Result<Vec<ExecutePlanResponse>> {
    let session = exec.session().as_ref();
    let sc::CheckpointCommand {
        relation,
        local: _,
        eager: _,
        storage_level: _,
    } = c;
    let relation = relation.ok_or_else(|| Error::internal("checkpoint without a relation"))?;
    let state = session.state(exec.scope(None))?;
    let plan = resolve(session, &state, &relation, true).await?;
    let batches = spate_exec::collect(&state, &plan, "checkpoint").await?;
    let relation_id = uuid::Uuid::new_v4().to_string();
    let view = spate_plan::streaming::batch_view_name(&relation_id);
    let table =
        datafusion::datasource::MemTable::try_new(plan.schema().inner().clone(), vec![batches])?;
    let rows = datafusion::logical_expr::LogicalPlanBuilder::scan(
        view.as_str(),
        datafusion::datasource::provider_as_source(std::sync::Arc::new(table)),
        None,
    )?
    .build()?;
    session.catalog.register_view(&view, rows, true, false)?;
    Ok(vec![exec.response(ResponseType::CheckpointCommandResult(
        sc::CheckpointCommandResult {
            relation: Some(sc::CachedRemoteRelation { relation_id }),
        },
    ))])
}

fn sql_result(exec: &Execution<'_>, relation: Relation) -> ExecutePlanResponse {
    exec.response(ResponseType::SqlCommandResult(SqlCommandResult {
        relation: Some(relation),
    }))
}

async fn write_operation(
    session: &Session,
    state: &datafusion::execution::SessionState,
    w: WriteOperation,
) -> Result<()> {
    let WriteOperation {
        input,
        source,
        save_type,
        mode,
        sort_column_names,
        partitioning_columns,
        bucket_by,
        options,
        clustering_columns: _,
        with_schema_evolution: _,
    } = w;
    if bucket_by.is_some() {
        return Err(Error::unsupported("bucketBy"));
    }
    if !sort_column_names.is_empty() {
        return Err(Error::unsupported("sortBy"));
    }
    let input = input.ok_or_else(|| Error::internal("write without input"))?;
    let plan = resolve(session, state, &input, true).await?;
    let config = session.config();
    let format = source
        .or_else(|| config.get("spark.sql.sources.default"))
        .unwrap_or_else(|| "parquet".into())
        .to_lowercase();
    let mode = match PMode::try_from(mode).unwrap_or(PMode::Unspecified) {
        PMode::Append => SaveMode::Append,
        PMode::Overwrite => SaveMode::Overwrite,
        PMode::Ignore => SaveMode::Ignore,
        PMode::ErrorIfExists | PMode::Unspecified => SaveMode::ErrorIfExists,
    };
    let options: HashMap<String, String> = options
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    let req = WriteRequest {
        format,
        mode,
        partition_by: partitioning_columns,
        options,
    };
    if req.format == "kafka" {
        return spate_lake::kafka::write(state, plan, &req).await;
    }
    match save_type {
        Some(SaveType::Path(path)) => write::write_path(state, plan, &path, &req).await,
        Some(SaveType::Table(t)) => {
            let insert =
                TableSaveMethod::try_from(t.save_method) == Ok(TableSaveMethod::InsertInto);
            session
                .catalog
                .write_table(state, plan, &split_name(&t.table_name), &req, insert)
                .await
        }
        None => match req.options.get("path").cloned() {
            Some(path) => write::write_path(state, plan, &path, &req).await,
            None => Err(Error::IllegalArgument(
                "'path' is not specified; pass a path to save()".into(),
            )),
        },
    }
}
