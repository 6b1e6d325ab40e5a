//! ExecutePlan, ReattachExecute, ReleaseExecute and Interrupt. An execution resolves the plan,
//! runs it on its own task (so Interrupt can abort it), and produces the responses PySpark
//! expects: the result schema, Arrow IPC batches with row counts and offsets, execution
//! metrics, then `ResultComplete`. Responses are kept until the client releases the operation,
//! so a client whose stream broke can reattach and resume after the last response it saw.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{ExecutionPlan, collect_partitioned};
use spark_connect_proto::spark::connect::execute_plan_response::{
    ArrowBatch, Metrics, ResponseType, ResultComplete,
    metrics::{MetricObject, MetricValue},
};
use spark_connect_proto::spark::connect::{
    ExecutePlanRequest, ExecutePlanResponse, InterruptRequest, Relation, ReleaseExecuteRequest,
    interrupt_request, plan::OpType,
};
use spate_common::{Error, Result};
use spate_plan::Resolver;

use crate::arrow::{conform, plain_schema, to_ipc};
use crate::session::{Operation, Session};

/// Rows per Arrow batch sent to the client.
const ROWS_PER_BATCH: usize = 8192;

/// Runs an ExecutePlan request to completion and returns its responses.
pub async fn execute(
    session: Arc<Session>,
    req: ExecutePlanRequest,
) -> Result<Vec<ExecutePlanResponse>> {
    let operation_id = req
        .operation_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let tags = req.tags.clone();
    let plan = req
        .plan
        .clone()
        .and_then(|p| p.op_type)
        .ok_or_else(|| Error::internal("execute request without a plan"))?;
    let task_session = session.clone();
    let op_id = operation_id.clone();
    let handle = tokio::spawn(async move {
        match plan {
            OpType::Root(rel) => run_relation(&task_session, &op_id, &rel).await,
            OpType::Command(cmd) => crate::commands::handle(&task_session, &op_id, cmd).await,
            OpType::CompressedOperation(_) => Err(Error::unsupported("compressed plans")),
        }
    });
    if let Ok(mut ops) = session.operations.lock() {
        ops.insert(
            operation_id.clone(),
            Operation {
                tags,
                abort: Some(handle.abort_handle()),
                responses: vec![],
            },
        );
    }
    let result = match handle.await {
        Ok(r) => r,
        Err(e) if e.is_cancelled() => Err(Error::Interrupted),
        Err(e) => Err(Error::internal(format!("execution task failed: {e}"))),
    };
    let mut responses = match result {
        Ok(r) => r,
        Err(e) => {
            if let Ok(mut ops) = session.operations.lock() {
                ops.remove(&operation_id);
            }
            return Err(e);
        }
    };
    responses.push(response(
        &session,
        &operation_id,
        ResponseType::ResultComplete(ResultComplete {}),
    ));
    if let Ok(mut ops) = session.operations.lock()
        && let Some(op) = ops.get_mut(&operation_id)
    {
        op.abort = None;
        op.responses = responses.clone();
    }
    Ok(responses)
}

/// A response of the session's operation.
pub fn response(session: &Session, operation_id: &str, rt: ResponseType) -> ExecutePlanResponse {
    ExecutePlanResponse {
        response_type: Some(rt),
        ..bare_response(session, operation_id)
    }
}

/// A response of the session's operation that carries only side fields (schema, metrics).
fn bare_response(session: &Session, operation_id: &str) -> ExecutePlanResponse {
    ExecutePlanResponse {
        session_id: session.id.clone(),
        server_side_session_id: session.server_side_id.clone(),
        operation_id: operation_id.to_string(),
        response_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    }
}

/// Resolves a relation in the session to run it: persisted relations it uses are computed and
/// kept on first use.
pub async fn resolve(session: &Session, rel: &Relation) -> Result<LogicalPlan> {
    resolve_with(session, rel, true).await
}

/// Resolves a relation in the session; `fill_cache` false leaves persisted relations that no
/// query has used yet uncomputed (for analysis: schema, explain).
pub async fn resolve_with(
    session: &Session,
    rel: &Relation,
    fill_cache: bool,
) -> Result<LogicalPlan> {
    let state = session.ctx.state();
    let config = session.config();
    let resolver = Resolver::new(&state, session.catalog.as_ref(), &config)
        .with_cache(&session.cache, fill_cache);
    if let Some(spark_connect_proto::spark::connect::relation::RelType::Catalog(c)) = &rel.rel_type
    {
        return crate::catalog::resolve(session, &resolver, c).await;
    }
    resolver.relation(rel).await
}

/// Runs a logical plan in the session, returning its physical plan and batches.
pub async fn run_plan(
    session: &Session,
    plan: LogicalPlan,
) -> Result<(Arc<dyn ExecutionPlan>, Vec<RecordBatch>)> {
    let state = session.ctx.state();
    let physical = state.create_physical_plan(&plan).await?;
    // Partitions run in parallel; their rows come back in partition order, as Spark's
    // collect returns them (DataFusion's `collect` would interleave them as they finish).
    let partitions =
        collect_partitioned(physical.clone(), Arc::new(TaskContext::from(&state))).await?;
    Ok((physical, partitions.into_iter().flatten().collect()))
}

async fn run_relation(
    session: &Session,
    op: &str,
    rel: &Relation,
) -> Result<Vec<ExecutePlanResponse>> {
    let plan = resolve(session, rel).await?;
    let (physical, batches) = run_plan(session, plan.clone()).await?;
    let mut out = result_responses(session, op, plan.schema().as_arrow(), &batches)?;
    out.push(metrics_response(session, op, &physical));
    Ok(out)
}

/// The schema and Arrow batch responses for a result.
pub fn result_responses(
    session: &Session,
    op: &str,
    schema: &datafusion::arrow::datatypes::Schema,
    batches: &[RecordBatch],
) -> Result<Vec<ExecutePlanResponse>> {
    let schema = plain_schema(schema);
    let mut out = Vec::new();
    let spark_schema = spate_plan::types::to_proto(
        &datafusion::arrow::datatypes::DataType::Struct(schema.fields().clone()),
    )?;
    let mut first = bare_response(session, op);
    first.schema = Some(spark_schema);
    out.push(first);
    let mut offset: i64 = 0;
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    let mut flush = |pending: &mut Vec<RecordBatch>, rows: usize, offset: &mut i64| -> Result<()> {
        // PySpark reads one record batch per ArrowBatch message.
        let one = datafusion::arrow::compute::concat_batches(&schema, pending.iter())
            .map_err(|e| Error::internal(format!("result batch: {e}")))?;
        let data = to_ipc(&schema, &[one])?;
        out.push(response(
            session,
            op,
            ResponseType::ArrowBatch(ArrowBatch {
                row_count: rows as i64,
                data: data.into(),
                start_offset: Some(*offset),
                chunk_index: None,
                num_chunks_in_batch: None,
            }),
        ));
        *offset += rows as i64;
        pending.clear();
        Ok(())
    };
    for b in batches {
        if b.num_rows() == 0 {
            continue;
        }
        pending.push(conform(b, &schema)?);
        pending_rows += b.num_rows();
        if pending_rows >= ROWS_PER_BATCH {
            flush(&mut pending, pending_rows, &mut offset)?;
            pending_rows = 0;
        }
    }
    if pending_rows > 0 || offset == 0 {
        flush(&mut pending, pending_rows, &mut offset)?;
    }
    Ok(out)
}

fn metrics_response(
    session: &Session,
    op: &str,
    plan: &Arc<dyn ExecutionPlan>,
) -> ExecutePlanResponse {
    let mut objects = Vec::new();
    collect_metrics(plan, 0, -1, &mut objects);
    let mut r = bare_response(session, op);
    r.metrics = Some(Metrics { metrics: objects });
    r
}

fn collect_metrics(
    plan: &Arc<dyn ExecutionPlan>,
    id: i64,
    parent: i64,
    out: &mut Vec<MetricObject>,
) {
    let mut values = std::collections::HashMap::new();
    if let Some(m) = plan.metrics() {
        let agg = m.aggregate_by_name();
        for metric in agg.iter() {
            let name = metric.value().name().to_string();
            values.insert(
                name.clone(),
                MetricValue {
                    name,
                    value: metric.value().as_usize() as i64,
                    metric_type: "sum".into(),
                },
            );
        }
    }
    out.push(MetricObject {
        name: plan.name().to_string(),
        plan_id: id,
        parent,
        execution_metrics: values,
    });
    let mut next = id + 1;
    for child in plan.children() {
        let child_id = next;
        collect_metrics(child, child_id, id, out);
        next = out.len() as i64;
    }
}

/// ReattachExecute: the responses after `last_response_id`.
pub fn reattach(
    session: &Session,
    operation_id: &str,
    last_response_id: Option<&str>,
) -> Result<Vec<ExecutePlanResponse>> {
    let ops = session
        .operations
        .lock()
        .map_err(|_| Error::internal("operations lock poisoned"))?;
    let op = ops.get(operation_id).ok_or_else(|| {
        Error::IllegalArgument(format!(
            "[INVALID_HANDLE.OPERATION_NOT_FOUND] operation '{operation_id}' not found"
        ))
    })?;
    let start = match last_response_id {
        Some(id) => op
            .responses
            .iter()
            .position(|r| r.response_id == id)
            .map_or(0, |i| i + 1),
        None => 0,
    };
    Ok(op.responses[start..].to_vec())
}

/// ReleaseExecute: forget responses up to a point, or the whole operation.
pub fn release(session: &Session, req: &ReleaseExecuteRequest) {
    use spark_connect_proto::spark::connect::release_execute_request::Release;
    if let Ok(mut ops) = session.operations.lock() {
        match &req.release {
            Some(Release::ReleaseUntil(u)) => {
                if let Some(op) = ops.get_mut(&req.operation_id)
                    && let Some(i) = op
                        .responses
                        .iter()
                        .position(|r| r.response_id == u.response_id)
                {
                    op.responses.drain(..=i);
                }
            }
            _ => {
                ops.remove(&req.operation_id);
            }
        }
    }
}

/// Interrupt: aborts matching operations and returns their ids.
pub fn interrupt(session: &Session, req: &InterruptRequest) -> Vec<String> {
    use interrupt_request::{Interrupt, InterruptType};
    let kind = InterruptType::try_from(req.interrupt_type).unwrap_or(InterruptType::All);
    let mut hit = Vec::new();
    if let Ok(ops) = session.operations.lock() {
        for (id, op) in ops.iter() {
            let matches = match (&kind, &req.interrupt) {
                (InterruptType::Tag, Some(Interrupt::OperationTag(t))) => op.tags.contains(t),
                (InterruptType::OperationId, Some(Interrupt::OperationId(o))) => o == id,
                (InterruptType::All | InterruptType::Unspecified, _) => true,
                _ => false,
            };
            if matches && let Some(a) = &op.abort {
                a.abort();
                hit.push(id.clone());
            }
        }
    }
    hit
}
