//! ExecutePlan, ReattachExecute, ReleaseExecute and Interrupt. An ExecutePlan registers an
//! operation in the session and runs it on its own task, which produces the responses PySpark
//! expects — the result schema, Arrow batches as the query yields them (cut to Spark's batch
//! limits by [`crate::batches`]), execution progress while it runs, metrics, then
//! `ResultComplete` — into the operation's bounded buffer; the client's gRPC stream is a
//! sender attached to that buffer. A broken stream can be resumed with ReattachExecute after
//! the last response the client saw; ReleaseExecute frees what the client has, or the whole
//! operation; Interrupt cancels operations by id, tag or all.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::logical_expr::LogicalPlan;
use futures::StreamExt;
use futures::stream::BoxStream;
use spark_connect_proto::spark::connect::execute_plan_response::{
    ExecutionProgress, Metrics, ResponseType, ResultComplete,
    execution_progress::StageInfo,
    metrics::{MetricObject, MetricValue},
};
use spark_connect_proto::spark::connect::{
    ExecutePlanRequest, ExecutePlanResponse, InterruptRequest, Plan, ReattachExecuteRequest,
    Relation, ReleaseExecuteRequest, interrupt_request, plan::OpType,
};
use spate_common::{Error, Result};
use spate_exec::{Query, QueryScope};
use spate_plan::Resolver;
use spate_session::operation::Delivery;
use spate_session::{Operation, Session, SessionManager};
use tonic::Status;

use crate::batches::Batcher;
use crate::error::to_status;

/// The responses of an operation as the gRPC layer sends them.
pub struct ResponseStream(BoxStream<'static, std::result::Result<ExecutePlanResponse, Status>>);

impl ResponseStream {
    /// A stream that only fails with `status`.
    pub fn failed(status: Status) -> Self {
        Self(futures::stream::once(async move { Err(status) }).boxed())
    }
}

impl futures::Stream for ResponseStream {
    type Item = std::result::Result<ExecutePlanResponse, Status>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_next_unpin(cx)
    }
}

/// Starts an ExecutePlan request and returns the client's stream of its responses.
pub fn execute(manager: &SessionManager, req: ExecutePlanRequest) -> Result<ResponseStream> {
    let ExecutePlanRequest {
        session_id,
        client_observed_server_side_session_id,
        user_context,
        operation_id,
        plan,
        client_type: _,
        request_options,
        tags,
    } = req;
    let user = user_context.map(|u| u.user_id).unwrap_or_default();
    let session = manager.get_or_create(
        &session_id,
        &user,
        client_observed_server_side_session_id.as_deref(),
    )?;
    let operation_id = match operation_id {
        Some(id) if uuid::Uuid::parse_str(&id).is_err() => {
            return Err(spate_session::handle_error(
                "INVALID_HANDLE.FORMAT",
                format!(
                    "The handle {id} is invalid. Handle must be an UUID string of the format \
                     '00112233-4455-6677-8899-aabbccddeeff'"
                ),
            ));
        }
        Some(id) => id,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let reattachable = request_options.iter().any(|o| {
        matches!(
            &o.request_option,
            Some(spark_connect_proto::spark::connect::execute_plan_request::request_option::RequestOption::ReattachOptions(r)) if r.reattachable
        )
    });
    let op = session.start_operation(operation_id, tags, reattachable)?;
    let sender = op.attach(None)?;
    let progress_every = manager.settings().progress_interval;
    let max_batch = manager.settings().max_batch_size;
    let task_session = Arc::clone(&session);
    let task_op = Arc::clone(&op);
    let task = tokio::spawn(async move {
        let execution = Execution {
            session: &task_session,
            op: &task_op,
            progress_every,
            max_batch,
        };
        let result = execution.run(plan).await;
        let outcome = match result {
            Ok(()) => {
                task_op.succeed(execution.response(ResponseType::ResultComplete(ResultComplete {})))
            }
            Err(Error::Interrupted) => {
                task_op.cancel();
                Ok(())
            }
            Err(e) => task_op.fail(e),
        };
        if let Err(e) = outcome {
            tracing::error!("{e}");
        }
    });
    op.run(task.abort_handle())?;
    Ok(deliveries(sender.into_stream()))
}

fn deliveries(items: BoxStream<'static, Delivery>) -> ResponseStream {
    ResponseStream(items.map(|item| item.map_err(|e| to_status(&e))).boxed())
}

/// ReattachExecute: the responses after `last_response_id`, from the operation's buffer and
/// then as they are produced.
pub fn reattach(manager: &SessionManager, req: ReattachExecuteRequest) -> Result<ResponseStream> {
    let ReattachExecuteRequest {
        session_id,
        client_observed_server_side_session_id,
        user_context,
        operation_id,
        client_type: _,
        last_response_id,
    } = req;
    let user = user_context.map(|u| u.user_id).unwrap_or_default();
    let session = manager.get_or_create(
        &session_id,
        &user,
        client_observed_server_side_session_id.as_deref(),
    )?;
    let op = session.operation(&operation_id)?;
    let sender = op.attach(last_response_id.as_deref())?;
    Ok(deliveries(sender.into_stream()))
}

/// ReleaseExecute: forgets responses up to one the client has, or the whole operation.
pub fn release(session: &Session, req: &ReleaseExecuteRequest) {
    use spark_connect_proto::spark::connect::release_execute_request::Release;
    match &req.release {
        Some(Release::ReleaseUntil(u)) => {
            if let Ok(op) = session.operation(&req.operation_id) {
                op.release_until(&u.response_id);
            }
        }
        _ => session.release_operation(&req.operation_id),
    }
}

/// Interrupt: cancels the matching running operations and returns their ids.
pub fn interrupt(session: &Session, req: &InterruptRequest) -> Vec<String> {
    use interrupt_request::{Interrupt, InterruptType};
    let kind = InterruptType::try_from(req.interrupt_type).unwrap_or(InterruptType::All);
    let mut hit = Vec::new();
    for op in session.operations() {
        let matches = match (&kind, &req.interrupt) {
            (InterruptType::Tag, Some(Interrupt::OperationTag(t))) => op.tags.contains(t),
            (InterruptType::OperationId, Some(Interrupt::OperationId(o))) => *o == op.id,
            (InterruptType::All | InterruptType::Unspecified, _) => true,
            _ => false,
        };
        if matches && op.cancel() {
            hit.push(op.id.clone());
        }
    }
    hit
}

/// One operation's run: its plan, run, and its responses pushed.
pub(crate) struct Execution<'a> {
    session: &'a Arc<Session>,
    op: &'a Arc<Operation>,
    progress_every: std::time::Duration,
    max_batch: usize,
}

impl Execution<'_> {
    async fn run(&self, plan: Option<Plan>) -> Result<()> {
        match plan
            .and_then(|p| p.op_type)
            .ok_or_else(|| Error::internal("execute request without a plan"))?
        {
            OpType::Root(rel) => self.relation(&rel).await,
            OpType::Command(cmd) => {
                for r in crate::commands::handle(self, cmd).await? {
                    self.op.push(r).await?;
                }
                Ok(())
            }
            OpType::CompressedOperation(_) => Err(Error::unsupported("compressed plans")),
        }
    }

    /// The scope of the queries this operation runs.
    pub(crate) fn scope(&self, description: Option<String>) -> QueryScope {
        QueryScope {
            session_id: self.session.id.clone(),
            operation_id: Some(self.op.id.clone()),
            tags: self.op.tags.clone(),
            description,
        }
    }

    pub(crate) fn session(&self) -> &Arc<Session> {
        self.session
    }

    /// A response of this operation.
    pub(crate) fn response(&self, rt: ResponseType) -> ExecutePlanResponse {
        ExecutePlanResponse {
            response_type: Some(rt),
            ..bare_response(self.session, &self.op.id)
        }
    }

    async fn relation(&self, rel: &Relation) -> Result<()> {
        let state = self.session.state(self.scope(description(rel)))?;
        let plan = resolve(self.session, &state, rel, true).await?;
        self.stream_result(&state, &plan).await
    }

    /// Runs `plan` and pushes its schema, its rows as Arrow batches while they come, progress
    /// every progress interval, and its metrics.
    pub(crate) async fn stream_result(
        &self,
        state: &datafusion::execution::SessionState,
        plan: &LogicalPlan,
    ) -> Result<()> {
        let config = self.session.config();
        let max_rows = config
            .get("spark.sql.execution.arrow.maxRecordsPerBatch")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(10_000);
        let mut batcher = Batcher::new(plan.schema().as_arrow(), max_rows, self.max_batch)?;
        let mut first = bare_response(self.session, &self.op.id);
        first.schema = Some(batcher.spark_schema()?);
        self.op.push(first).await?;
        let mut stream = spate_exec::stream(state, plan, "collect").await?;
        let query = stream.query().clone();
        let mut ticker = tokio::time::interval(self.progress_every);
        ticker.tick().await;
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(batch) => {
                        for data in batcher.add(&batch?)? {
                            self.op.push(self.response(ResponseType::ArrowBatch(data))).await?;
                        }
                    }
                    None => break,
                },
                _ = ticker.tick() => {
                    self.op.push(self.response(progress(&query, false))).await?;
                }
            }
        }
        for data in batcher.finish()? {
            self.op
                .push(self.response(ResponseType::ArrowBatch(data)))
                .await?;
        }
        self.op.push(self.response(progress(&query, true))).await?;
        self.op.push(metrics_response(self, &query)).await
    }
}

/// A response of an operation that carries only side fields (schema, metrics).
fn bare_response(session: &Session, operation_id: &str) -> ExecutePlanResponse {
    ExecutePlanResponse {
        session_id: session.id.clone(),
        server_side_session_id: session.server_side_id.clone(),
        operation_id: operation_id.to_string(),
        response_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    }
}

/// The user's SQL text, when the relation is SQL, describes its queries.
fn description(rel: &Relation) -> Option<String> {
    use spark_connect_proto::spark::connect::relation::RelType;
    match &rel.rel_type {
        Some(RelType::Sql(s)) => Some(s.query.clone()),
        _ => None,
    }
}

/// Resolves a relation in the session; `fill_cache` false leaves persisted relations that no
/// query has used yet uncomputed (for analysis: schema, explain).
pub async fn resolve(
    session: &Session,
    state: &datafusion::execution::SessionState,
    rel: &Relation,
    fill_cache: bool,
) -> Result<LogicalPlan> {
    let config = session.config();
    let resolver = Resolver::new(state, session.catalog.as_ref(), &config)
        .with_cache(&session.cache, fill_cache)
        .with_blobs(&session.artifacts);
    if let Some(spark_connect_proto::spark::connect::relation::RelType::Catalog(c)) = &rel.rel_type
    {
        return crate::catalog::resolve(session, &resolver, c).await;
    }
    resolver.relation(rel).await
}

/// Spark's progress message: each stage's tasks done out of total and input bytes read.
fn progress(query: &Query, done: bool) -> ResponseType {
    let stages = query.progress();
    let inflight: usize = stages.iter().map(|s| s.running).sum();
    ResponseType::ExecutionProgress(ExecutionProgress {
        stages: stages
            .iter()
            .map(|s| StageInfo {
                stage_id: s.id as i64,
                num_tasks: s.num_tasks as i64,
                num_completed_tasks: s.completed as i64,
                input_bytes_read: s.input_bytes as i64,
                done: done || (s.num_tasks > 0 && s.completed == s.num_tasks),
            })
            .collect(),
        num_inflight_tasks: if done { 0 } else { inflight as i64 },
    })
}

/// The metrics response: each operator's metrics summed over its partitions, with the parent
/// links Spark's `MetricObject` tree uses.
fn metrics_response(execution: &Execution<'_>, query: &Query) -> ExecutePlanResponse {
    let mut objects = Vec::new();
    collect_metrics(query.plan(), &mut objects, -1);
    let mut r = bare_response(execution.session, &execution.op.id);
    r.metrics = Some(Metrics { metrics: objects });
    r
}

fn collect_metrics(
    plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    out: &mut Vec<MetricObject>,
    parent: i64,
) {
    if plan.name() == "StageExec" {
        for child in plan.children() {
            collect_metrics(child, out, parent);
        }
        return;
    }
    let id = out.len() as i64;
    let mut values = HashMap::new();
    if let Some(m) = plan.metrics() {
        for metric in m.aggregate_by_name().iter() {
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
    for child in plan.children() {
        collect_metrics(child, out, id);
    }
}
