//! The runner's results, records, stages, cancellation and store bound.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::datasource::MemTable;
use futures::StreamExt;
use spate_exec::{QueryScope, QueryStatus};

use crate::{TestResult, context, runner};

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

#[tokio::test]
async fn results_stream_in_partition_order_and_the_record_says_what_ran() -> TestResult {
    let runner = runner(1 << 30, 100)?;
    let ctx = context(&runner, 4);
    // three partitions whose rows must come back partition by partition
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let part = |from: i64| -> Result<Vec<RecordBatch>, datafusion::error::DataFusionError> {
        Ok(vec![RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from_iter_values(from..from + 1000))],
        )?])
    };
    let table = MemTable::try_new(
        Arc::clone(&schema),
        vec![part(0)?, part(1000)?, part(2000)?],
    )?;
    ctx.register_table("t", Arc::new(table))?;
    let plan = ctx
        .sql("SELECT id FROM t WHERE id % 2 = 0")
        .await?
        .into_unoptimized_plan();
    let state = ctx.state();
    let batches = spate_exec::collect(&state, &plan, "collect").await?;
    let expected: Vec<i64> = (0..3000).filter(|i| i % 2 == 0).collect();
    assert_eq!(ids(&batches), expected);

    let records = runner.store().records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.status, QueryStatus::Succeeded);
    assert_eq!(r.session_id, "test-session");
    assert_eq!(r.kind, "collect");
    assert_eq!(r.rows_out, 1500);
    assert!(r.ended_ms.is_some_and(|e| e >= r.started_ms));
    assert!(
        r.physical_plan.contains("FilterExec"),
        "{}",
        r.physical_plan
    );
    // one stage, one task per partition, each produced its partition's even ids
    assert_eq!(r.stages.len(), 1);
    let rows: Vec<u64> = r.stages[0].tasks.iter().map(|t| t.rows).collect();
    assert_eq!(rows, vec![500, 500, 500]);
    assert!(r.stages[0].tasks.iter().all(|t| t.ended_ms.is_some()));
    // the filter's output rows per partition are in the operator metrics
    let filter = r
        .operators
        .iter()
        .find(|o| o.name == "FilterExec")
        .ok_or("no FilterExec in the record")?;
    let per_partition: u64 = filter
        .metrics
        .iter()
        .filter(|m| m.name == "output_rows" && m.partition.is_some())
        .map(|m| m.value)
        .sum();
    assert_eq!(per_partition, 1500);
    Ok(())
}

#[tokio::test]
async fn exchanges_split_the_plan_into_stages() -> TestResult {
    let runner = runner(1 << 30, 100)?;
    let ctx = context(&runner, 3);
    let plan = ctx
        .sql("SELECT value % 10 AS k, count(*) AS n FROM range(0, 100000) GROUP BY value % 10 ORDER BY k")
        .await?
        .into_unoptimized_plan();
    let state = ctx.state();
    let batches = spate_exec::collect(&state, &plan, "collect").await?;
    let ks = ids(&batches);
    assert_eq!(ks, (0..10).collect::<Vec<_>>());
    let counts: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(1).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(counts, vec![10_000; 10]);
    let r = &runner.store().records()[0];
    // partial aggregation, the shuffle's output, the final sort: at least three stages, and
    // each stage's parents come before it
    assert!(r.stages.len() >= 3, "{:?}", r.stages);
    for s in &r.stages {
        assert!(s.parents.iter().all(|p| *p < s.id));
        assert!(s.tasks.iter().all(|t| t.ended_ms.is_some()));
    }
    let last = r.stages.last().ok_or("no stages")?;
    assert_eq!(last.tasks.iter().map(|t| t.rows).sum::<u64>(), 10);
    Ok(())
}

#[tokio::test]
async fn a_failing_query_is_recorded_with_its_error_class() -> TestResult {
    let runner = runner(1 << 30, 100)?;
    let ctx = context(&runner, 2);
    let plan = ctx
        .sql("SELECT CAST(concat('x', CAST(value AS VARCHAR)) AS INT) FROM range(0, 10)")
        .await?
        .into_unoptimized_plan();
    let state = ctx.state();
    let result = spate_exec::collect(&state, &plan, "collect").await;
    assert!(result.is_err());
    let r = &runner.store().records()[0];
    assert_eq!(r.status, QueryStatus::Failed);
    assert!(r.error_class.is_some());
    assert!(
        r.error_message.as_deref().is_some_and(|m| m.contains("x0")),
        "{:?}",
        r.error_message
    );
    Ok(())
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_query() -> TestResult {
    let runner = runner(1 << 30, 100)?;
    let ctx = context(&runner, 2);
    let plan = ctx
        .sql("SELECT a.value FROM range(0, 100000000) a")
        .await?
        .into_unoptimized_plan();
    let state = ctx.state();
    let mut stream = spate_exec::stream(&state, &plan, "collect").await?;
    let first = stream.next().await.ok_or("no batch")??;
    assert!(first.num_rows() > 0);
    drop(stream);
    let r = &runner.store().records()[0];
    assert_eq!(r.status, QueryStatus::Canceled);
    assert!(r.rows_out < 100_000_000);
    Ok(())
}

#[tokio::test]
async fn the_store_keeps_the_newest_records_up_to_its_bound() -> TestResult {
    let runner = runner(1 << 30, 3)?;
    let ctx = context(&runner, 1);
    for i in 0..5 {
        let mut state = ctx.state();
        spate_exec::set_scope(
            &mut state,
            QueryScope {
                session_id: "s".into(),
                operation_id: Some(format!("op{i}")),
                tags: vec![format!("tag{i}")],
                description: Some(format!("query {i}")),
            },
        )?;
        let plan = ctx
            .sql(&format!("SELECT {i} AS v"))
            .await?
            .into_unoptimized_plan();
        spate_exec::collect(&state, &plan, "collect").await?;
    }
    let records = runner.store().records();
    let described: Vec<&str> = records.iter().map(|r| r.description.as_str()).collect();
    assert_eq!(described, vec!["query 2", "query 3", "query 4"]);
    assert_eq!(records[0].operation_id.as_deref(), Some("op2"));
    assert_eq!(records[2].tags, vec!["tag4".to_string()]);
    let ids: Vec<u64> = records.iter().map(|r| r.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert!(runner.store().get(ids[1]).is_some());
    Ok(())
}

#[tokio::test]
async fn a_state_without_a_runner_is_a_bug_not_a_silent_run() -> TestResult {
    let ctx = datafusion::prelude::SessionContext::new();
    let plan = ctx.sql("SELECT 1").await?.into_unoptimized_plan();
    let e = spate_exec::collect(&ctx.state(), &plan, "collect").await;
    assert!(e.is_err_and(|e| e.to_string().contains("bug")));
    Ok(())
}
