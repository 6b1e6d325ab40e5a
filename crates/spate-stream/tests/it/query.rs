//! The micro-batch loop on a real session: rows of the rate source reach the sink once, and a
//! released session's queries stop.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use spate_plan::Sources;
use spate_plan::streaming::StreamingScanNode;
use spate_session::{ServerSettings, SessionManager};
use spate_stream::query::{StartRequest, StreamingQuery, Trigger};
use spate_stream::{QueryState, Sink};

use crate::{TestResult, temp_dir};

fn rate(rows_per_second: u32) -> spate_common::Result<datafusion::logical_expr::LogicalPlan> {
    let options = BTreeMap::from([("rowspersecond".to_string(), rows_per_second.to_string())]);
    StreamingScanNode::plan("rate", options, None, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_session_stops_its_queries() -> TestResult {
    let manager = SessionManager::new(ServerSettings::new(temp_dir("session")))?;
    let id = "00000000-0000-4000-8000-000000000301";
    let session = manager.get_or_create(id, "stream", None)?;
    let query = StreamingQuery::start(
        Arc::clone(&session),
        StartRequest {
            plan: rate(100)?,
            sink: Sink::new("noop", None)?,
            name: None,
            trigger: Trigger::ProcessingTime(Duration::from_secs(30)),
            checkpoint: None,
            mode: spate_stream::OutputMode::Append,
        },
    )?;
    assert!(query.state().is_active());
    assert!(
        !query
            .await_termination(Some(Duration::from_millis(200)))
            .await
    );
    manager.release(id);
    assert!(
        query.await_termination(Some(Duration::from_secs(5))).await,
        "the query outlived its session"
    );
    assert_eq!(query.state(), QueryState::Terminated);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_the_rate_source_reaches_the_sink_once() -> TestResult {
    let manager = SessionManager::new(ServerSettings::new(temp_dir("rows")))?;
    let session = manager.get_or_create("00000000-0000-4000-8000-000000000302", "s", None)?;
    let query = StreamingQuery::start(
        Arc::clone(&session),
        StartRequest {
            plan: rate(7)?,
            sink: Sink::new("memory", Some("rows"))?,
            name: Some("rows".into()),
            trigger: Trigger::ProcessingTime(Duration::ZERO),
            checkpoint: None,
            mode: spate_stream::OutputMode::Append,
        },
    )?;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    query.stop().await;
    assert_eq!(query.state(), QueryState::Terminated);
    let progress: Vec<serde_json::Value> = query
        .recent_progress()
        .iter()
        .map(|p| serde_json::from_str(p))
        .collect::<Result<_, _>>()?;
    let rows: u64 = progress
        .iter()
        .map(|p| p["numInputRows"].as_u64().unwrap_or(0))
        .sum();
    // two whole seconds passed: 7 rows each
    assert!(rows >= 14, "{rows} rows in {progress:?}");
    assert_eq!(rows % 7, 0);
    let state = session.state(spate_exec::QueryScope::default())?;
    let plan = session.catalog.table(&state, &["rows".to_string()]).await?;
    let batches = spate_exec::collect(&state, &plan, "check").await?;
    let mut values: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            use datafusion::arrow::array::AsArray;
            use datafusion::arrow::datatypes::Int64Type;
            b.column(1).as_primitive::<Int64Type>().values().to_vec()
        })
        .collect();
    values.sort_unstable();
    assert_eq!(values, (0..rows as i64).collect::<Vec<_>>());
    Ok(())
}
