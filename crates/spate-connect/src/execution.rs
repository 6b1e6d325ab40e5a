//! One operation's run: its queries' scope, the schema, Arrow batches, progress and metrics
//! responses it pushes into the operation's buffer, and the resolution of its relations in the
//! session. `crate::execute` starts operations and dispatches their plans here and to
//! `crate::commands`.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::logical_expr::LogicalPlan;
use futures::StreamExt;
use spark_connect_proto::spark::connect::execute_plan_response::{
    ExecutionProgress, Metrics, ResponseType,
    execution_progress::StageInfo,
    metrics::{MetricObject, MetricValue},
};
use spark_connect_proto::spark::connect::{ExecutePlanResponse, Relation};
use spate_common::Result;
use spate_exec::{Query, QueryScope};
use spate_plan::Resolver;
use spate_session::{Operation, Session};

use crate::batches::Batcher;

/// One operation's run: its plan, run, and its responses pushed.
pub(crate) struct Execution<'a> {
    session: &'a Arc<Session>,
    op: &'a Arc<Operation>,
    progress_every: std::time::Duration,
    max_batch: usize,
}

impl<'a> Execution<'a> {
    /// The run of `op` in `session`, reporting progress every `progress_every` and cutting
    /// Arrow batches at `max_batch` bytes.
    pub(crate) fn new(
        session: &'a Arc<Session>,
        op: &'a Arc<Operation>,
        progress_every: std::time::Duration,
        max_batch: usize,
    ) -> Self {
        Self {
            session,
            op,
            progress_every,
            max_batch,
        }
    }

    /// Pushes a response into the operation's buffer (waiting while the client is behind).
    pub(crate) async fn push(&self, response: ExecutePlanResponse) -> Result<()> {
        self.op.push(response).await
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

    pub(crate) async fn relation(&self, rel: &Relation) -> Result<()> {
        let state = self.session.state(self.scope(description(rel)))?;
        let plan = resolve(self.session, &state, rel, true).await?;
        if spate_plan::streaming::is_streaming(&plan) {
            return Err(spate_plan::streaming::batch_of_streaming_error());
        }
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
    if matches!(plan.name(), "StageExec" | "KeySampleExec") {
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
