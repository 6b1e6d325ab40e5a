//! Sessions: isolation, handles Spark refuses, idle expiry and abandoned operations.

use std::time::Duration;

use spate_common::Error;
use spate_exec::QueryScope;
use spate_session::{OperationState, SessionManager};

use crate::{TestResult, session_id, settings};

fn class(e: Error) -> String {
    e.spark_info().error_class.unwrap_or_default()
}

#[tokio::test]
async fn sessions_are_created_once_and_kept_apart() -> TestResult {
    let manager = SessionManager::new(settings())?;
    let a = manager.get_or_create(&session_id(1), "alice", None)?;
    let again = manager.get_or_create(&session_id(1), "alice", None)?;
    assert!(std::sync::Arc::ptr_eq(&a, &again));
    let b = manager.get_or_create(&session_id(2), "bob", None)?;
    assert_ne!(a.server_side_id, b.server_side_id);
    a.config
        .lock()
        .map_err(|_| "poisoned")?
        .set("spark.sql.shuffle.partitions", "7")?;
    assert_eq!(
        b.config().get("spark.sql.shuffle.partitions").as_deref(),
        Some("200")
    );
    // both run their queries through the one runner, under their own id
    let plan = datafusion::logical_expr::LogicalPlanBuilder::empty(true).build()?;
    spate_exec::collect(&a.state(QueryScope::default())?, &plan, "collect").await?;
    spate_exec::collect(&b.state(QueryScope::default())?, &plan, "collect").await?;
    let owners: Vec<String> = manager
        .runner()
        .store()
        .records()
        .into_iter()
        .map(|r| r.session_id)
        .collect();
    assert_eq!(owners, vec![session_id(1), session_id(2)]);
    assert_eq!(manager.len(), 2);
    Ok(())
}

#[tokio::test]
async fn handles_spark_refuses_are_refused_with_its_classes() -> TestResult {
    let manager = SessionManager::new(settings())?;
    let e = manager
        .get_or_create("not-a-uuid", "u", None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(class(e), "INVALID_HANDLE.FORMAT");
    let s = manager.get_or_create(&session_id(3), "u", None)?;
    // a client that saw another server incarnation
    let e = manager
        .get_or_create(&session_id(3), "u", Some("another-server"))
        .err()
        .ok_or("accepted")?;
    assert_eq!(class(e), "INVALID_HANDLE.SESSION_CHANGED");
    assert!(
        manager
            .get_or_create(&session_id(3), "u", Some(&s.server_side_id))
            .is_ok()
    );
    // a released session stays closed
    manager.release(&session_id(3));
    let e = manager
        .get_or_create(&session_id(3), "u", None)
        .err()
        .ok_or("reopened")?;
    assert_eq!(class(e), "INVALID_HANDLE.SESSION_CLOSED");
    let e = s
        .operation("00000000-0000-4000-8000-000000000099")
        .err()
        .ok_or("found")?;
    assert_eq!(class(e), "INVALID_HANDLE.OPERATION_NOT_FOUND");
    Ok(())
}

#[tokio::test]
async fn operation_ids_are_unique_in_a_session() -> TestResult {
    let manager = SessionManager::new(settings())?;
    let s = manager.get_or_create(&session_id(4), "u", None)?;
    s.start_operation("op".into(), vec![], true)?;
    let e = s
        .start_operation("op".into(), vec![], true)
        .err()
        .ok_or("twice")?;
    assert_eq!(class(e), "INVALID_HANDLE.OPERATION_ALREADY_EXISTS");
    Ok(())
}

#[tokio::test]
async fn idle_sessions_expire_and_busy_ones_do_not() -> TestResult {
    let mut st = settings();
    st.session_timeout = Duration::from_millis(100);
    let manager = SessionManager::new(st)?;
    let idle = manager.get_or_create(&session_id(5), "u", None)?;
    let busy = manager.get_or_create(&session_id(6), "u", None)?;
    let op = busy.start_operation("running".into(), vec![], true)?;
    op.start()?;
    let task = tokio::spawn(std::future::pending::<()>());
    op.set_abort(task.abort_handle());
    let _attached = op.attach(None)?;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let expired = manager.maintain();
    assert_eq!(expired, vec![session_id(5)]);
    assert_eq!(idle.operations().len(), 0);
    let e = manager
        .get_or_create(&session_id(5), "u", None)
        .err()
        .ok_or("alive")?;
    assert_eq!(class(e), "INVALID_HANDLE.SESSION_CLOSED");
    assert!(manager.get(&session_id(6)).is_some());
    task.abort();
    Ok(())
}

#[tokio::test]
async fn operations_without_a_client_are_abandoned_after_the_detached_timeout() -> TestResult {
    let mut st = settings();
    st.detached_timeout = Duration::from_millis(100);
    let manager = SessionManager::new(st)?;
    let s = manager.get_or_create(&session_id(7), "u", None)?;
    let op = s.start_operation("long".into(), vec![], true)?;
    op.start()?;
    let task = tokio::spawn(std::future::pending::<()>());
    op.set_abort(task.abort_handle());
    let sender = op.attach(None)?;
    manager.maintain();
    assert_eq!(op.state(), OperationState::Running, "attached: kept");
    drop(sender); // the client went away
    tokio::time::sleep(Duration::from_millis(150)).await;
    manager.maintain();
    assert_eq!(op.state(), OperationState::Closed);
    for _ in 0..100 {
        if task.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(task.is_finished(), "the execution was not canceled");
    let e = s.operation("long").err().ok_or("kept")?;
    assert_eq!(class(e), "INVALID_HANDLE.OPERATION_ABANDONED");
    Ok(())
}
