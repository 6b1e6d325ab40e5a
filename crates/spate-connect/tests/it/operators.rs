//! Spate's own operators report DataFusion's baseline metrics per partition, so the query
//! record (and the UI above it) shows their rows like any built-in operator's.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use spark_connect_proto::spark::connect::expression::{ExprType, UnresolvedFunction};
use spark_connect_proto::spark::connect::relation::RelType;
use spark_connect_proto::spark::connect::{Expression, Project, Range, Relation, Repartition};
use spate_exec::{OperatorRecord, QueryScope};
use spate_plan::{ReadRequest, Resolver, Sources};
use spate_session::SessionManager;

use crate::{TestResult, session_id, settings};

fn rel(rel_type: RelType) -> Relation {
    Relation {
        common: None,
        rel_type: Some(rel_type),
    }
}

fn call(name: &str) -> Expression {
    Expression {
        common: None,
        expr_type: Some(ExprType::UnresolvedFunction(UnresolvedFunction {
            function_name: name.into(),
            ..UnresolvedFunction::default()
        })),
    }
}

/// The sum over partitions of `metric` of the first operator named `name`.
fn per_partition(operators: &[OperatorRecord], name: &str, metric: &str) -> Option<u64> {
    let op = operators.iter().find(|o| o.name == name)?;
    Some(
        op.metrics
            .iter()
            .filter(|m| m.name == metric && m.partition.is_some())
            .map(|m| m.value)
            .sum(),
    )
}

/// The record of the test's query.
fn record_of(manager: &SessionManager) -> Result<spate_exec::QueryRecord, &'static str> {
    manager
        .runner()
        .store()
        .records()
        .into_iter()
        .find(|r| r.kind == "operators")
        .ok_or("no record of the query")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_ids_and_batch_splitting_count_their_rows() -> TestResult {
    let manager = SessionManager::new(settings())?;
    let session = manager.get_or_create(&session_id(200), "operators", None)?;
    // spark.range(0, 1000, 1, 1).repartition(4).select(id, spark_partition_id(),
    // monotonically_increasing_id())
    let range = rel(RelType::Range(Range {
        start: Some(0),
        end: 1000,
        step: 1,
        num_partitions: Some(1),
    }));
    let repartition = rel(RelType::Repartition(Box::new(Repartition {
        input: Some(Box::new(range)),
        num_partitions: 4,
        shuffle: Some(true),
    })));
    let project = rel(RelType::Project(Box::new(Project {
        input: Some(Box::new(repartition)),
        expressions: vec![
            call("spark_partition_id"),
            call("monotonically_increasing_id"),
        ],
    })));
    let state = session.state(QueryScope::default())?;
    let config = session.config();
    let plan = Resolver::new(&state, session.catalog.as_ref(), &config)
        .relation(&project)
        .await?;
    let batches = spate_exec::collect(&state, &plan, "operators").await?;

    // Spark deals the 1000 rows out evenly: 250 per partition, and each partition's ids run
    // from partition << 33
    let mut rows_per_partition: HashMap<i32, Vec<i64>> = HashMap::new();
    for b in &batches {
        let parts = b.column(0).as_primitive::<Int32Type>();
        let ids = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            rows_per_partition
                .entry(parts.value(i))
                .or_default()
                .push(ids.value(i));
        }
    }
    assert_eq!(rows_per_partition.len(), 4);
    for (p, mut ids) in rows_per_partition {
        ids.sort_unstable();
        let first = i64::from(p) << 33;
        assert_eq!(ids, (first..first + 250).collect::<Vec<_>>());
    }

    let ops = &record_of(&manager)?.operators;
    assert_eq!(
        per_partition(ops, "TaskIdsExec", "output_rows"),
        Some(1000),
        "{ops:#?}"
    );
    assert_eq!(
        per_partition(ops, "SplitBatchesExec", "output_rows"),
        Some(1000),
        "{ops:#?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_by_record_reader_counts_the_rows_it_keeps() -> TestResult {
    let manager = SessionManager::new(settings())?;
    let session = manager.get_or_create(&session_id(201), "operators", None)?;
    let dir = std::env::temp_dir().join(format!("spate-operators-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("people.csv");
    // five well-formed records and one whose age is not a number
    std::fs::write(&path, "ann,31\nbob,42\ncid,x\ndee,7\neve,19\nfay,64\n")?;
    let state = session.state(QueryScope::default())?;
    let req = ReadRequest {
        format: "csv".into(),
        paths: vec![path.display().to_string()],
        schema: Some(Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("age", DataType::Int32, true),
        ]))),
        options: HashMap::from([("mode".to_string(), "DROPMALFORMED".to_string())]),
    };
    let plan = session.catalog.read(&state, req).await?;
    let batches: Vec<RecordBatch> = spate_exec::collect(&state, &plan, "operators").await?;
    let ages: Vec<i32> = batches
        .iter()
        .flat_map(|b| b.column(1).as_primitive::<Int32Type>().values().to_vec())
        .collect();
    assert_eq!(ages, vec![31, 42, 7, 19, 64]);
    std::fs::remove_dir_all(&dir)?;

    let ops = &record_of(&manager)?.operators;
    assert_eq!(
        per_partition(ops, "RecordScanExec", "output_rows"),
        Some(5),
        "{ops:#?}"
    );
    Ok(())
}
