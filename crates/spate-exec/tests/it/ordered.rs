//! `InOrder` (partitions read in order): a partition whose stream panics fails the whole
//! read with an error; its rows and the later partitions' are never passed off as complete. A
//! later partition computes ahead of the reader up to its byte budget, no further.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use spate_exec::ordered::InOrder;

#[tokio::test]
async fn a_panicking_partition_is_an_error_not_an_end() -> super::TestResult {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    let s = Arc::clone(&schema);
    let mut read = InOrder::start(3, move |i| {
        let batch = RecordBatch::try_new(
            Arc::clone(&s),
            vec![Arc::new(Int64Array::from(vec![i as i64]))],
        )?;
        let items = futures::stream::iter(vec![Ok(batch)]).map(move |b| {
            #[allow(clippy::panic, reason = "the failure under test is a panic")]
            if i == 1 {
                panic!("partition one breaks");
            }
            b
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&s), items)) as _)
    });
    let mut rows = Vec::new();
    let mut error = None;
    while let Some(item) = read.next().await {
        match item {
            Ok(b) => rows.push(b.num_rows()),
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    let Some(error) = error else {
        return Err(format!("the read ended without an error after {rows:?}").into());
    };
    assert!(error.contains("partition one breaks"), "{error}");
    // partition 0 came before the failure; nothing after it was read as complete
    assert!(rows.len() <= 1, "{rows:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_partitions_compute_ahead_up_to_their_budget() -> super::TestResult {
    // partition 1: 200 batches of 1 MiB; partition 0 holds its one row back until partition
    // 1 has made 65 batches (64 MiB fit in its budget), so with a budget of a few batches
    // the read would never end; then it checks that partition 1 went no further
    const MIB_ROWS: usize = 1 << 17;
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    let made = Arc::new(AtomicUsize::new(0));
    let (s, counter) = (Arc::clone(&schema), Arc::clone(&made));
    let mut read = InOrder::start(2, move |i| {
        let (s2, counter) = (Arc::clone(&s), Arc::clone(&counter));
        let items: std::pin::Pin<Box<dyn futures::Stream<Item = _> + Send>> = if i == 0 {
            Box::pin(futures::stream::once(async move {
                while counter.load(Ordering::SeqCst) < 65 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                let ahead = counter.load(Ordering::SeqCst) as i64;
                Ok(RecordBatch::try_new(
                    s2,
                    vec![Arc::new(Int64Array::from(vec![ahead]))],
                )?)
            }))
        } else {
            Box::pin(futures::stream::iter(0..200i64).map(move |n| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(RecordBatch::try_new(
                    Arc::clone(&s2),
                    vec![Arc::new(Int64Array::from(vec![n; MIB_ROWS]))],
                )?)
            }))
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&s), items)) as _)
    });
    let mut firsts = Vec::new();
    let all = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(item) = read.next().await {
            let b = item?;
            let x = b.column(0).as_any().downcast_ref::<Int64Array>();
            firsts.push(x.map_or(-1, |x| x.value(0)));
        }
        Ok::<_, datafusion::error::DataFusionError>(())
    })
    .await;
    let Ok(result) = all else {
        return Err("partition 1 stopped short of its budget: the read never ended".into());
    };
    result?;
    // partition 0's row (how far partition 1 had gone), then partition 1's batches in order
    assert_eq!(firsts.len(), 201);
    assert!(
        (65..=66).contains(&firsts[0]),
        "partition 1 made {} batches ahead",
        firsts[0]
    );
    assert_eq!(firsts[1..], (0..200).collect::<Vec<i64>>()[..]);
    Ok(())
}
