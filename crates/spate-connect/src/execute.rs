//! ExecutePlan, ReattachExecute, ReleaseExecute and Interrupt. An ExecutePlan registers an
//! operation in the session and runs it on its own task, which produces the responses PySpark
//! expects — the result schema, Arrow batches as the query yields them (cut to Spark's batch
//! limits by [`crate::batches`]), execution progress while it runs, metrics, then
//! `ResultComplete` — into the operation's bounded buffer; the client's gRPC stream is a
//! sender attached to that buffer. A broken stream can be resumed with ReattachExecute after
//! the last response the client saw; ReleaseExecute frees what the client has, or the whole
//! operation; Interrupt cancels operations by id, tag or all.

use std::sync::Arc;

use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use spark_connect_proto::spark::connect::execute_plan_response::{ResponseType, ResultComplete};
use spark_connect_proto::spark::connect::{
    ExecutePlanRequest, ExecutePlanResponse, InterruptRequest, Plan, ReattachExecuteRequest,
    ReleaseExecuteRequest, interrupt_request, plan::OpType,
};
use spate_common::{Error, Result};
use spate_session::operation::Delivery;
use spate_session::{Session, SessionManager};
use tonic::Status;

use crate::error::to_status;
use crate::execution::Execution;

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
    op.start()?;
    let task = tokio::spawn(async move {
        let execution = Execution::new(&task_session, &task_op, progress_every, max_batch);
        // a bug that panics fails the operation: the client gets an error, not silence
        let result = match std::panic::AssertUnwindSafe(run(&execution, plan))
            .catch_unwind()
            .await
        {
            Ok(result) => result,
            Err(panic) => Err(Error::internal(format!(
                "the query failed on a bug in Spate: {}",
                spate_exec::panic_message(panic.as_ref())
            ))),
        };
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
    op.set_abort(task.abort_handle());
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

/// Runs an operation's plan: a relation's rows, or a command's responses.
async fn run(execution: &Execution<'_>, plan: Option<Plan>) -> Result<()> {
    match plan
        .and_then(|p| p.op_type)
        .ok_or_else(|| Error::internal("execute request without a plan"))?
    {
        OpType::Root(rel) => execution.relation(&rel).await,
        OpType::Command(cmd) => {
            for r in crate::commands::handle(execution, cmd).await? {
                execution.push(r).await?;
            }
            Ok(())
        }
        OpType::CompressedOperation(_) => Err(Error::unsupported("compressed plans")),
    }
}
