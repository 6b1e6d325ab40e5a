//! `InOrder` (partitions read in order): a partition whose stream panics fails the whole
//! read with an error; its rows and the later partitions' are never passed off as complete.

use std::sync::Arc;

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
