//! Operations: the state machine, backpressure, reattachment, release and the retry buffer.

use std::sync::Arc;
use std::time::Duration;

use spark_connect_proto::spark::connect::ExecutePlanResponse;
use spark_connect_proto::spark::connect::execute_plan_response::{
    ArrowBatch, ResponseType, ResultComplete,
};
use spate_session::operation::BufferLimits;
use spate_session::{Operation, OperationState};

use crate::TestResult;

fn response(n: usize, bytes: usize) -> ExecutePlanResponse {
    ExecutePlanResponse {
        response_id: format!("r{n}"),
        response_type: Some(ResponseType::ArrowBatch(ArrowBatch {
            row_count: n as i64,
            data: vec![0u8; bytes].into(),
            start_offset: None,
            chunk_index: None,
            num_chunks_in_batch: None,
        })),
        ..Default::default()
    }
}

fn complete() -> ExecutePlanResponse {
    ExecutePlanResponse {
        response_id: "done".into(),
        response_type: Some(ResponseType::ResultComplete(ResultComplete {})),
        ..Default::default()
    }
}

fn operation(reattachable: bool, ahead: usize, retry: usize) -> Arc<Operation> {
    Operation::new(
        "op".into(),
        "session".into(),
        vec!["t".into()],
        reattachable,
        BufferLimits { ahead, retry },
    )
}

fn class(e: spate_common::Error) -> String {
    e.spark_info().error_class.unwrap_or_default()
}

#[test]
fn the_state_machine_allows_only_its_moves() {
    use OperationState::*;
    assert!(Pending.can_become(Running));
    assert!(Running.can_become(Succeeded));
    assert!(Running.can_become(Canceled));
    assert!(Succeeded.can_become(Closed));
    assert!(!Succeeded.can_become(Running));
    assert!(!Closed.can_become(Running));
    assert!(!Pending.can_become(Succeeded));
    let op = operation(true, 1 << 20, 1 << 20);
    assert!(op.transition(Succeeded).is_err());
    assert_eq!(op.state(), Pending);
}

/// Produces `n` responses of `bytes` then ResultComplete, on its own task.
fn produce(op: &Arc<Operation>, n: usize, bytes: usize) -> tokio::task::JoinHandle<()> {
    let producer = Arc::clone(op);
    let _ = op.start();
    let task = tokio::spawn(async move {
        for i in 0..n {
            if producer.push(response(i, bytes)).await.is_err() {
                return;
            }
        }
        let _ = producer.succeed(complete());
    });
    op.set_abort(task.abort_handle());
    task
}

#[tokio::test]
async fn the_producer_waits_for_a_slow_client() -> TestResult {
    let op = operation(true, 4096, 1 << 20);
    let mut sender = op.attach(None)?;
    let _task = produce(&op, 100, 1000);
    tokio::time::sleep(Duration::from_millis(50)).await;
    // nothing read yet: only about the ahead budget was produced
    let (held, bytes) = op.buffered();
    assert!(
        held <= 6 && bytes <= 6000,
        "{held} responses, {bytes} bytes"
    );
    let mut seen = 0;
    while let Some(item) = sender.next().await {
        let r = item.map_err(|e| e.to_string())?;
        if matches!(r.response_type, Some(ResponseType::ResultComplete(_))) {
            break;
        }
        assert_eq!(r.response_id, format!("r{seen}"));
        seen += 1;
    }
    assert_eq!(seen, 100);
    assert!(sender.next().await.is_none());
    assert_eq!(op.state(), OperationState::Succeeded);
    Ok(())
}

#[tokio::test]
async fn a_reattached_client_resumes_after_the_last_response_it_saw() -> TestResult {
    let op = operation(true, 1 << 20, 1 << 20);
    let mut first = op.attach(None)?;
    let _task = produce(&op, 10, 10);
    for i in 0..4 {
        let r = first
            .next()
            .await
            .ok_or("ended")?
            .map_err(|e| e.to_string())?;
        assert_eq!(r.response_id, format!("r{i}"));
    }
    // a second sender takes over; the first learns it was disconnected
    let mut second = op.attach(Some("r3"))?;
    let e = first
        .next()
        .await
        .ok_or("no error")?
        .err()
        .ok_or("not an error")?;
    assert!(e.to_string().contains("INVALID_CURSOR.DISCONNECTED"));
    let mut rest = Vec::new();
    while let Some(item) = second.next().await {
        rest.push(item.map_err(|e| e.to_string())?.response_id);
    }
    let expected: Vec<String> = (4..10)
        .map(|i| format!("r{i}"))
        .chain(["done".to_string()])
        .collect();
    assert_eq!(rest, expected);
    // unknown cursors are Spark's errors
    let e = op.attach(Some("nope")).err().ok_or("attached")?;
    assert_eq!(class(e), "INVALID_CURSOR.POSITION_NOT_FOUND");
    // the client releases what it has read, then may resume after it, as Spark allows
    op.release_until("r5");
    let mut resumed = op.attach(Some("r5"))?;
    let next = resumed
        .next()
        .await
        .ok_or("ended")?
        .map_err(|e| e.to_string())?;
    assert_eq!(next.response_id, "r6");
    // but not from before what it released
    let e = op.attach(Some("r2")).err().ok_or("attached")?;
    assert_eq!(class(e), "INVALID_CURSOR.POSITION_NOT_AVAILABLE");
    assert!(op.attach(Some("r7")).is_ok());
    Ok(())
}

#[tokio::test]
async fn sent_responses_are_kept_only_up_to_the_retry_buffer() -> TestResult {
    let op = operation(true, 2000, 3000);
    let mut sender = op.attach(None)?;
    let _task = produce(&op, 20, 1000);
    let mut n = 0;
    while let Some(item) = sender.next().await {
        item.map_err(|e| e.to_string())?;
        n += 1;
        // sent and kept: within the retry budget; unsent: within the ahead budget (each may
        // overshoot by the response that crossed it)
        let (_, bytes) = op.buffered();
        assert!(bytes <= 3000 + 2000 + 2 * 1100, "{bytes} bytes held");
    }
    assert_eq!(n, 21);
    let e = op.attach(Some("r0")).err().ok_or("r0 kept")?;
    assert_eq!(class(e), "INVALID_CURSOR.POSITION_NOT_AVAILABLE");
    assert!(op.attach(Some("r18")).is_ok());
    Ok(())
}

#[tokio::test]
async fn a_client_that_is_not_reattachable_cancels_when_it_goes() -> TestResult {
    let op = operation(false, 4096, 1 << 20);
    let mut sender = op.attach(None)?;
    let task = produce(&op, 1000, 1000);
    sender
        .next()
        .await
        .ok_or("ended")?
        .map_err(|e| e.to_string())?;
    drop(sender);
    assert_eq!(op.state(), OperationState::Canceled);
    for _ in 0..100 {
        if task.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(task.is_finished());
    Ok(())
}

#[tokio::test]
async fn a_canceled_operation_delivers_operation_canceled() -> TestResult {
    let op = operation(true, 1 << 20, 1 << 20);
    let mut sender = op.attach(None)?;
    op.start()?;
    let task = tokio::spawn(std::future::pending::<()>());
    op.set_abort(task.abort_handle());
    assert!(op.cancel());
    assert!(!op.cancel(), "canceled twice");
    let e = sender
        .next()
        .await
        .ok_or("ended")?
        .err()
        .ok_or("not an error")?;
    assert_eq!(
        e.spark_info().error_class.as_deref(),
        Some("OPERATION_CANCELED")
    );
    assert!(sender.next().await.is_none());
    op.close();
    assert_eq!(op.state(), OperationState::Closed);
    assert_eq!(op.buffered().0, 0);
    Ok(())
}

#[tokio::test]
async fn an_execution_that_ends_before_its_abort_handle_is_given_still_completes() -> TestResult {
    // the race a quick command hits on a busy machine: its task ends before the spawner
    // hands over the abort handle
    let op = operation(true, 1 << 20, 1 << 20);
    let mut sender = op.attach(None)?;
    op.start()?;
    op.succeed(complete())?;
    let task = tokio::spawn(std::future::pending::<()>());
    op.set_abort(task.abort_handle());
    let last = sender
        .next()
        .await
        .ok_or("no response")?
        .map_err(|e| e.to_string())?;
    assert!(matches!(
        last.response_type,
        Some(spark_connect_proto::spark::connect::execute_plan_response::ResponseType::ResultComplete(_))
    ));
    assert!(sender.next().await.is_none());
    assert!(
        !task.is_finished(),
        "an ended execution's handle is left alone"
    );
    task.abort();

    // canceled before the handle arrives: the task is aborted when it does
    let op = operation(true, 1 << 20, 1 << 20);
    op.start()?;
    assert!(op.cancel());
    let task = tokio::spawn(std::future::pending::<()>());
    op.set_abort(task.abort_handle());
    let joined = task.await;
    assert!(joined.is_err_and(|e| e.is_cancelled()));
    Ok(())
}
