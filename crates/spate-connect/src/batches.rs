//! Result rows cut into the Arrow batch messages Spark Connect sends: each `ArrowBatch` is one
//! Arrow IPC stream holding one record batch of at most `spark.sql.execution.arrow.
//! maxRecordsPerBatch` rows and, as Spark estimates it, at most 70% of
//! `spark.connect.grpc.arrow.maxBatchSize` bytes (the rest is room for the IPC framing).
//! Small batches from the query are gathered up to those limits; large ones are sliced. A
//! batch whose encoding still comes out too large is halved until it fits. An empty result
//! still sends one (empty) batch, so the client learns the schema from the data too.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use spark_connect_proto::spark::connect::execute_plan_response::ArrowBatch;
use spate_common::{Error, Result};

use crate::arrow::{conform, plain_schema, to_ipc};

/// Gathers and cuts result rows into Arrow batch messages.
#[derive(Debug)]
pub struct Batcher {
    schema: SchemaRef,
    max_rows: usize,
    max_bytes: usize,
    hard_limit: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    pending_bytes: usize,
    offset: i64,
}

impl Batcher {
    /// A batcher for results of `schema`, with Spark's row limit and message size.
    pub fn new(schema: &Schema, max_rows: usize, max_batch_size: usize) -> Result<Self> {
        Ok(Self {
            schema: plain_schema(schema),
            max_rows: max_rows.max(1),
            max_bytes: (max_batch_size as f64 * 0.7) as usize,
            hard_limit: max_batch_size,
            pending: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
            offset: 0,
        })
    }

    /// The result schema as Spark's type.
    pub fn spark_schema(&self) -> Result<spark_connect_proto::spark::connect::DataType> {
        spate_plan::types::to_proto(&DataType::Struct(self.schema.fields().clone()))
    }

    /// Takes a batch of the query; returns the messages that are complete.
    pub fn add(&mut self, batch: &RecordBatch) -> Result<Vec<ArrowBatch>> {
        let mut out = Vec::new();
        if batch.num_rows() == 0 {
            return Ok(out);
        }
        let batch = conform(batch, &self.schema)?;
        let per_row = (batch.get_array_memory_size() / batch.num_rows()).max(1);
        let mut start = 0;
        while start < batch.num_rows() {
            let room_rows = self.max_rows - self.pending_rows;
            let room_bytes = self.max_bytes.saturating_sub(self.pending_bytes) / per_row;
            let take = room_rows
                .min(room_bytes.max(1))
                .min(batch.num_rows() - start);
            self.pending.push(batch.slice(start, take));
            self.pending_rows += take;
            self.pending_bytes += take * per_row;
            start += take;
            if self.pending_rows >= self.max_rows || self.pending_bytes >= self.max_bytes {
                out.extend(self.flush()?);
            }
        }
        Ok(out)
    }

    /// The messages left at the end (one empty batch if the result had no rows).
    pub fn finish(&mut self) -> Result<Vec<ArrowBatch>> {
        if self.pending_rows > 0 || self.offset == 0 {
            return self.flush();
        }
        Ok(Vec::new())
    }

    fn flush(&mut self) -> Result<Vec<ArrowBatch>> {
        let one = datafusion::arrow::compute::concat_batches(&self.schema, self.pending.iter())
            .map_err(|e| Error::internal(format!("result batch: {e}")))?;
        self.pending.clear();
        self.pending_rows = 0;
        self.pending_bytes = 0;
        let mut out = Vec::new();
        self.encode(one, &mut out)?;
        Ok(out)
    }

    fn encode(&mut self, batch: RecordBatch, out: &mut Vec<ArrowBatch>) -> Result<()> {
        let data = to_ipc(&self.schema, std::slice::from_ref(&batch))?;
        if data.len() > self.hard_limit && batch.num_rows() > 1 {
            let half = batch.num_rows() / 2;
            self.encode(batch.slice(0, half), out)?;
            return self.encode(batch.slice(half, batch.num_rows() - half), out);
        }
        let rows = batch.num_rows() as i64;
        out.push(ArrowBatch {
            row_count: rows,
            data: data.into(),
            start_offset: Some(self.offset),
            chunk_index: None,
            num_chunks_in_batch: None,
        });
        self.offset += rows;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::Field;

    use super::*;

    fn batch(rows: usize, text: usize) -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("s", DataType::Utf8, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(0..rows as i64)),
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|_| "x".repeat(text)),
                )),
            ],
        )
        .map_err(|e| Error::internal(e.to_string()))
    }

    #[test]
    fn rows_are_cut_at_the_record_limit_and_gathered_up_to_it() -> Result<()> {
        let b = batch(25_000, 1)?;
        let mut batcher = Batcher::new(&b.schema(), 10_000, 4 << 20)?;
        let mut msgs = batcher.add(&b)?;
        msgs.extend(batcher.finish()?);
        let rows: Vec<i64> = msgs.iter().map(|m| m.row_count).collect();
        assert_eq!(rows, vec![10_000, 10_000, 5_000]);
        let offsets: Vec<i64> = msgs.iter().filter_map(|m| m.start_offset).collect();
        assert_eq!(offsets, vec![0, 10_000, 20_000]);
        // small batches are gathered
        let mut batcher = Batcher::new(&b.schema(), 10_000, 4 << 20)?;
        let mut msgs = Vec::new();
        for _ in 0..30 {
            msgs.extend(batcher.add(&batch(100, 1)?)?);
        }
        msgs.extend(batcher.finish()?);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].row_count, 3000);
        Ok(())
    }

    #[test]
    fn messages_stay_under_the_batch_size() -> Result<()> {
        let b = batch(5_000, 2_000)?; // about 10 MB of text
        let mut batcher = Batcher::new(&b.schema(), 10_000, 1 << 20)?;
        let mut msgs = batcher.add(&b)?;
        msgs.extend(batcher.finish()?);
        assert!(msgs.len() >= 10);
        assert!(msgs.iter().all(|m| m.data.len() <= 1 << 20));
        assert_eq!(msgs.iter().map(|m| m.row_count).sum::<i64>(), 5_000);
        Ok(())
    }

    #[test]
    fn an_empty_result_sends_one_empty_batch() -> Result<()> {
        let b = batch(0, 1)?;
        let mut batcher = Batcher::new(&b.schema(), 10_000, 4 << 20)?;
        assert!(batcher.add(&b)?.is_empty());
        let msgs = batcher.finish()?;
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].row_count, 0);
        Ok(())
    }
}
