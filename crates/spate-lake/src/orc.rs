//! ORC files, read and written with the `orc-rust` crate (Apache Arrow's ORC implementation
//! from datafusion-contrib). Reading: the schema is the first file's, as Spark infers ORC's
//! without `mergeSchema` (or the one given), types made Spark's (timestamps in microseconds,
//! strings as `Utf8`); each file is a partition, decoded stripe by stripe as it is read, only
//! the columns the query needs. Writing: one file per task, snappy-compressed as Spark's
//! default (`part-N-UUID-c000.snappy.orc`), through [`OrcSink`].

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use orc_rust::arrow_reader::ArrowReaderBuilder;
use orc_rust::arrow_writer::ArrowWriterBuilder;
use orc_rust::compression::CompressionType;
use spate_common::{Error, Result};

/// The ORC `files` (those under the paths read, hidden and `_` files left out as Spark leaves
/// them; `paths` names them in errors) as a scan named `alias`, with `schema` when given.
pub fn read(
    files: Vec<PathBuf>,
    paths: &str,
    schema: Option<SchemaRef>,
    alias: &str,
) -> Result<LogicalPlan> {
    let schema = match schema {
        Some(s) => s,
        None => {
            let first = files.first().ok_or_else(|| {
                Error::analysis(
                    "UNABLE_TO_INFER_SCHEMA",
                    format!("Unable to infer schema for ORC at '{paths}': no ORC file there"),
                )
            })?;
            spark_schema(&builder(first)?.schema())
        }
    };
    let partitions: Vec<Arc<dyn PartitionStream>> = files
        .into_iter()
        .map(|path| {
            Arc::new(OrcFile {
                path,
                schema: Arc::clone(&schema),
            }) as Arc<dyn PartitionStream>
        })
        .collect();
    let table = StreamingTable::try_new(Arc::clone(&schema), partitions)?;
    Ok(LogicalPlanBuilder::scan(
        alias,
        datafusion::datasource::provider_as_source(Arc::new(table)),
        None,
    )?
    .build()?)
}

fn builder(path: &Path) -> Result<ArrowReaderBuilder<File>> {
    let file = File::open(path).map_err(|e| {
        Error::IllegalArgument(format!("cannot read ORC file '{}': {e}", path.display()))
    })?;
    ArrowReaderBuilder::try_new(file).map_err(|e| {
        Error::IllegalArgument(format!(
            "'{}' is not a readable ORC file: {e}",
            path.display()
        ))
    })
}

/// The Spark types of an ORC file's Arrow schema.
fn spark_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            f.as_ref()
                .clone()
                .with_data_type(spark_type(f.data_type()))
                .with_nullable(true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn spark_type(t: &DataType) -> DataType {
    match t {
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::LargeUtf8 => DataType::Utf8,
        DataType::LargeBinary => DataType::Binary,
        other => other.clone(),
    }
}

/// One ORC file: a partition of the scan.
#[derive(Debug)]
struct OrcFile {
    path: PathBuf,
    schema: SchemaRef,
}

impl PartitionStream for OrcFile {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = Arc::clone(&self.schema);
        let batch_size = ctx.session_config().batch_size();
        let reader = builder(&self.path).map(|b| b.with_batch_size(batch_size).build());
        let path = self.path.clone();
        let target = Arc::clone(&schema);
        let batches: Box<dyn Iterator<Item = datafusion::error::Result<RecordBatch>> + Send> =
            match reader {
                Ok(reader) => Box::new(reader.map(move |b| {
                    let b = b.map_err(|e| {
                        DataFusionError::Execution(format!(
                            "cannot read ORC file '{}': {e}",
                            path.display()
                        ))
                    })?;
                    conform(&b, &target)
                })),
                Err(e) => Box::new(std::iter::once(Err(DataFusionError::Execution(
                    e.to_string(),
                )))),
            };
        Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::iter(batches),
        ))
    }
}

/// `batch` in the scan's schema: its columns by name, cast where the types differ, missing
/// ones null.
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> datafusion::error::Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(Arc::clone(c)),
            Some(c) => Ok(cast(c, f.data_type())?),
            None => Ok(datafusion::arrow::array::new_null_array(
                f.data_type(),
                batch.num_rows(),
            )),
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// One ORC file being written. The ORC writer cannot move between threads, so it lives on
/// a thread of its own that a bounded channel feeds: a task may hand it a couple of batches
/// ahead, then waits for it.
pub struct OrcSink {
    batches: Option<std::sync::mpsc::SyncSender<RecordBatch>>,
    writer: Option<std::thread::JoinHandle<Result<()>>>,
}

impl OrcSink {
    /// Starts the file at `path` for rows of `schema`.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self> {
        let file = File::create(path).map_err(|e| {
            Error::IllegalArgument(format!("cannot write '{}': {e}", path.display()))
        })?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(2);
        let at = path.to_path_buf();
        let writer = std::thread::Builder::new()
            .name("orc-writer".into())
            .spawn(move || {
                let mut writer = ArrowWriterBuilder::new(file, schema)
                    .with_compression(CompressionType::Snappy)
                    .try_build()
                    .map_err(|e| orc_error(&at, e))?;
                for batch in rx {
                    writer.write(&batch).map_err(|e| orc_error(&at, e))?;
                }
                writer.close().map_err(|e| orc_error(&at, e))
            })
            .map_err(|e| orc_error(path, e))?;
        Ok(Self {
            batches: Some(tx),
            writer: Some(writer),
        })
    }

    /// Hands `batch` to the writer (a failed writer's error comes at [`OrcSink::finish`]).
    pub fn write(&mut self, path: &Path, batch: &RecordBatch) -> Result<()> {
        match &self.batches {
            Some(tx) if tx.send(batch.clone()).is_ok() => Ok(()),
            _ => self.finish(path),
        }
    }

    /// Closes the file and waits for the writer.
    pub fn finish(&mut self, path: &Path) -> Result<()> {
        self.batches = None;
        match self.writer.take() {
            Some(w) => w
                .join()
                .map_err(|_| orc_error(path, "the writer thread failed"))?,
            None => Ok(()),
        }
    }
}

fn orc_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::IllegalArgument(format!("cannot write ORC file '{}': {e}", path.display()))
}
