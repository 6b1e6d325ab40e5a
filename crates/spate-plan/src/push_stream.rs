//! The polling loop of Spate's operators that take their input a batch at a time and queue
//! what can go out (`crate::sliding_window`, `crate::window_top_rows`): queued batches go
//! first; otherwise the next input batch is pushed (or the end of input finishes the
//! operator) under the operator's compute timer. After an error the operator drops what it
//! holds and its stream ends.

use std::task::{Context, Poll, ready};

use datafusion::arrow::array::RecordBatch;
use datafusion::error::Result as DfResult;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::metrics::BaselineMetrics;
use futures::StreamExt;

/// An operator's stream state, driven by [`poll_pushed`].
pub(crate) trait Pushed {
    fn input(&mut self) -> &mut SendableRecordBatchStream;
    fn baseline(&self) -> &BaselineMetrics;
    /// Takes an input batch; what can go out is queued.
    fn push(&mut self, batch: RecordBatch) -> DfResult<()>;
    /// The end of input: the rest is queued.
    fn finish(&mut self) -> DfResult<()>;
    /// The next queued batch.
    fn next_out(&mut self) -> Option<RecordBatch>;
    /// Drops everything held, after an error.
    fn clear(&mut self);
    /// Whether the input has ended (or failed).
    fn done(&mut self) -> &mut bool;
}

/// One `poll_next` of an operator's stream.
pub(crate) fn poll_pushed(
    s: &mut impl Pushed,
    cx: &mut Context<'_>,
) -> Poll<Option<DfResult<RecordBatch>>> {
    loop {
        if let Some(out) = s.next_out() {
            s.baseline().record_output(out.num_rows());
            return Poll::Ready(Some(Ok(out)));
        }
        if *s.done() {
            return Poll::Ready(None);
        }
        let next = ready!(s.input().poll_next_unpin(cx));
        let elapsed = s.baseline().elapsed_compute().clone();
        let timer = elapsed.timer();
        let result = match next {
            Some(Ok(batch)) => s.push(batch),
            Some(Err(e)) => Err(e),
            None => {
                *s.done() = true;
                s.finish()
            }
        };
        timer.done();
        if let Err(e) = result {
            *s.done() = true;
            s.clear();
            return Poll::Ready(Some(Err(e)));
        }
    }
}
