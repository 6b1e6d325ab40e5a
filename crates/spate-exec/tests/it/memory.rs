//! Queries on data several times the memory limit: spilling operators finish with the right
//! answer, a hash join that does not fit is planned again as a sort-merge join, and a query
//! that cannot fit fails with Spark's error naming the limit.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use futures::StreamExt;
use spate_exec::QueryStatus;

use crate::{TestResult, context, runner};

const LIMIT: usize = 64 << 20;

fn metric(r: &spate_exec::QueryRecord, operator: &str, name: &str) -> u64 {
    r.operators
        .iter()
        .filter(|o| o.name == operator)
        .flat_map(|o| o.metrics.iter())
        .filter(|m| m.name == name)
        .map(|m| m.value)
        .sum()
}

#[tokio::test]
async fn a_sort_of_three_times_the_limit_spills_and_is_right() -> TestResult {
    let runner = runner(LIMIT, 10)?;
    // one sorter with the whole pool (the PySpark test sorts on two partitions, at 256 MiB)
    let ctx = context(&runner, 1);
    let n: i64 = 1_500_000;
    // ~150 bytes a row: about 3.5x the limit; the key is a permutation of 0..n
    let sql = format!(
        "SELECT (value * 7919) % {n} AS k, repeat('x', 120) AS pad FROM range(0, {n}) ORDER BY k"
    );
    let plan = ctx.sql(&sql).await?.into_unoptimized_plan();
    let state = ctx.state();
    let mut stream = spate_exec::stream(&state, &plan, "collect").await?;
    let mut next = 0i64;
    while let Some(batch) = stream.next().await {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                for r in runner.store().records() {
                    eprintln!("{} {:?}\n{}", r.kind, r.status, r.physical_plan);
                }
                return Err(e.into());
            }
        };
        for k in batch.column(0).as_primitive::<Int64Type>().values() {
            assert_eq!(*k, next);
            next += 1;
        }
    }
    assert_eq!(next, n);
    let r = &runner.store().records()[0];
    assert_eq!(r.status, QueryStatus::Succeeded);
    assert!(
        metric(r, "SortExec", "spill_count") > 0,
        "the sort did not spill"
    );
    Ok(())
}

#[tokio::test]
async fn an_aggregation_with_a_million_groups_spills_and_is_right() -> TestResult {
    let runner = runner(16 << 20, 10)?;
    let ctx = context(&runner, 2);
    let n: i64 = 3_000_000;
    let groups: i64 = 1_000_000;
    let sql = format!(
        "SELECT count(*) AS g, sum(c) AS rows, sum(s) AS total FROM \
         (SELECT value % {groups} AS k, count(*) AS c, sum(value) AS s FROM range(0, {n}) GROUP BY value % {groups})"
    );
    let plan = ctx.sql(&sql).await?.into_unoptimized_plan();
    let batches = spate_exec::collect(&ctx.state(), &plan, "collect").await?;
    let b = &batches[0];
    assert_eq!(b.column(0).as_primitive::<Int64Type>().value(0), groups);
    assert_eq!(b.column(1).as_primitive::<Int64Type>().value(0), n);
    assert_eq!(
        b.column(2).as_primitive::<Int64Type>().value(0),
        n * (n - 1) / 2
    );
    let r = &runner.store().records()[0];
    assert!(
        metric(r, "AggregateExec", "spill_count") > 0,
        "the aggregation did not spill"
    );
    Ok(())
}

#[tokio::test]
async fn a_hash_join_that_does_not_fit_runs_again_as_a_sort_merge_join() -> TestResult {
    let runner = runner(LIMIT, 10)?;
    let ctx = context(&runner, 2);
    let n: i64 = 1_000_000;
    let sql = format!(
        "SELECT count(*) AS c, sum(a.id) AS s FROM \
         (SELECT value AS id, repeat('a', 100) AS pa FROM range(0, {n})) a JOIN \
         (SELECT value AS id, repeat('b', 100) AS pb FROM range(0, {n})) b ON a.id = b.id \
         WHERE length(pa) + length(pb) = 200"
    );
    let plan = ctx.sql(&sql).await?.into_unoptimized_plan();
    let batches = match spate_exec::collect(&ctx.state(), &plan, "collect").await {
        Ok(b) => b,
        Err(e) => {
            for r in runner.store().records() {
                eprintln!("{} {:?}\n{}", r.kind, r.status, r.physical_plan);
            }
            return Err(e.into());
        }
    };
    let b = &batches[0];
    assert_eq!(b.column(0).as_primitive::<Int64Type>().value(0), n);
    assert_eq!(
        b.column(1).as_primitive::<Int64Type>().value(0),
        n * (n - 1) / 2
    );
    // the hash join ran out of memory first, and that attempt is on record
    let records = runner.store().records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].status, QueryStatus::Failed);
    assert!(records[0].physical_plan.contains("HashJoinExec"));
    assert_eq!(
        records[0].error_class.as_deref(),
        Some("UNABLE_TO_ACQUIRE_MEMORY")
    );
    let last = &records[1];
    assert_eq!(last.status, QueryStatus::Succeeded);
    assert!(
        last.physical_plan.contains("SortMergeJoin"),
        "{}",
        last.physical_plan
    );
    assert!(last.kind.contains("sort-merge joins"));
    Ok(())
}

#[tokio::test]
async fn a_query_that_cannot_fit_fails_naming_the_limit() -> TestResult {
    let runner = runner(LIMIT, 10)?;
    let ctx = context(&runner, 2);
    // one group holding every row: nothing to spill
    let sql = "SELECT array_agg(repeat('x', 200)) AS a FROM range(0, 2000000)";
    let plan = ctx.sql(sql).await?.into_unoptimized_plan();
    let e = spate_exec::collect(&ctx.state(), &plan, "collect").await;
    let e = match e {
        Ok(batches) => return Err(format!("no error; {} rows", batches[0].column(0).len()).into()),
        Err(e) => e,
    };
    let info = e.spark_info();
    assert_eq!(
        info.error_class.as_deref(),
        Some("UNABLE_TO_ACQUIRE_MEMORY")
    );
    assert_eq!(info.sql_state, Some("53200"));
    assert!(info.message.contains("64.0 MiB"), "{}", info.message);
    assert!(
        info.message.contains("spark.spate.memory.limit"),
        "{}",
        info.message
    );
    let r = &runner.store().records()[0];
    assert_eq!(r.status, QueryStatus::Failed);
    Ok(())
}
