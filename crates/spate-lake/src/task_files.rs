//! Output files as Spark lays them out: one file per partition of the plan (Spark writes one
//! per task), so `repartition(n)` before a write gives n files and `coalesce(1)` gives one.
//! Files are named `part-<partition>-<job uuid>-c000<ext>` (`.c000` inside partition directories) (`.snappy.parquet`, `.csv.gz`, ...);
//! a partition with no rows writes nothing, and a write with no rows at all still writes
//! partition 0's file, so the schema survives. With `partitionBy`, each partition writes one
//! file per `key=value` directory it holds; values are Spark's string casts, escaped as Spark
//! escapes path names, and null or empty is `__HIVE_DEFAULT_PARTITION__`. `_SUCCESS` marks a
//! finished write; a failed write removes the files it made.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::common::config::TableParquetOptions;
use datafusion::common::file_options::parquet_writer::ParquetWriterOptions;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::execution::SessionState;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, col};
use datafusion::object_store::ObjectStore;
use datafusion::object_store::buffered::BufWriter;
use datafusion::object_store::path::Path as StorePath;
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use futures::StreamExt;
use spate_common::{Error, Result};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::partitions::NULL_PARTITION;

/// How each file is encoded.
#[derive(Debug, Clone)]
pub enum Encoding {
    /// Parquet with these options (compression included).
    Parquet(Box<TableParquetOptions>),
    /// CSV with an optional header line and a one-byte separator.
    Csv {
        /// Write a header line.
        header: bool,
        /// Field separator.
        delimiter: u8,
        /// How a null is written (`nullValue`; empty when not given).
        null_value: Option<String>,
    },
    /// JSON lines (null fields left out, as Spark writes them).
    Json,
    /// ORC, snappy-compressed (see `crate::orc`).
    Orc,
    /// One line per row of a single string column.
    Text,
    /// XML: each row the element `rowTag` inside the root element (`rootTag`), with
    /// timestamps by the pattern in the session time zone.
    Xml {
        /// The row and root tags and how fields become attributes.
        options: spate_plan::xml_rows::XmlOptions,
        /// The `timestampFormat` pattern.
        timestamp_format: String,
        /// The session time zone.
        tz: String,
    },
}

/// The declaration and root start tag a written XML file begins with.
fn xml_head(root: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<{root}>")
}

/// The files of one write.
#[derive(Debug, Clone)]
pub struct FileLayout {
    /// The encoding.
    pub encoding: Encoding,
    /// Whole-file compression (CSV, JSON, text).
    pub compression: FileCompressionType,
    /// The file name's extension, dot included (`.snappy.parquet`, `.csv.gz`).
    pub extension: String,
    /// Hive-style partition columns, resolved to the plan's names.
    pub partition_by: Vec<String>,
}

/// Writes `plan` below `dir`, one file per plan partition (and partition directory).
pub async fn write_files(
    state: &SessionState,
    plan: LogicalPlan,
    dir: &Path,
    layout: &FileLayout,
    tz: &str,
) -> Result<()> {
    let plan = partition_values_as_strings(plan, &layout.partition_by, tz)?;
    let kind = format!("write {}", dir.display());
    let query = spate_exec::start(state, &plan, &kind).await?;
    let physical = Arc::clone(query.plan());
    let store = state
        .runtime_env()
        .object_store(ObjectStoreUrl::local_filesystem())?;
    let data_schema = data_schema(&physical.schema(), layout.partition_by.len());
    let parquet = match &layout.encoding {
        Encoding::Parquet(opts) => {
            // the Arrow schema goes into the footer, so types Parquet lacks read back
            let mut opts = opts.as_ref().clone();
            opts.arrow_schema(&data_schema);
            Some(
                ParquetWriterOptions::try_from(&opts)?
                    .writer_options()
                    .clone(),
            )
        }
        _ => None,
    };
    let job = Job {
        store,
        parquet,
        dir: std::path::absolute(dir).unwrap_or(dir.to_path_buf()),
        uuid: uuid::Uuid::new_v4().to_string(),
        layout: layout.clone(),
        data_schema,
    };
    let job = Arc::new(job);
    let partitions = physical
        .properties()
        .output_partitioning()
        .partition_count();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..partitions {
        let stream = query.execute(i)?;
        let job = Arc::clone(&job);
        tasks.spawn(async move { job.write_partition(i, stream).await });
    }
    let mut written: Vec<PathBuf> = Vec::new();
    let mut failure = None;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(files)) => written.extend(files),
            Ok(Err(e)) => {
                failure.get_or_insert(e);
                tasks.abort_all();
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                failure.get_or_insert(Error::Internal(format!("bug: a write task failed: {e}")));
                tasks.abort_all();
            }
        }
    }
    if let Some(e) = failure {
        for f in written {
            let _ = std::fs::remove_file(f);
        }
        query.finish(spate_exec::Outcome::Failed(e.spark_info()));
        return Err(e);
    }
    query.finish(spate_exec::Outcome::Succeeded);
    if written.is_empty() {
        let mut file = job.open(0, "").await?;
        file.finish(&job.data_schema).await?;
    }
    std::fs::write(job.dir.join("_SUCCESS"), b"").map_err(|e| {
        Error::IllegalArgument(format!("cannot write '{}': {e}", job.dir.display()))
    })?;
    Ok(())
}

/// Moves partition columns to the end, as Spark's string casts.
fn partition_values_as_strings(
    plan: LogicalPlan,
    partition_by: &[String],
    tz: &str,
) -> Result<LogicalPlan> {
    if partition_by.is_empty() {
        return Ok(plan);
    }
    let schema = plan.schema().clone();
    let mut exprs: Vec<Expr> = schema
        .fields()
        .iter()
        .filter(|f| !partition_by.contains(f.name()))
        .map(|f| col(datafusion::common::Column::from_name(f.name())))
        .collect();
    for p in partition_by {
        let field = schema.field_with_unqualified_name(p)?;
        let value = spate_plan::functions::spark_cast(
            col(datafusion::common::Column::from_name(p)),
            field.data_type(),
            &DataType::Utf8,
            false,
            tz,
        );
        exprs.push(value.alias(p));
    }
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

fn data_schema(schema: &SchemaRef, partition_columns: usize) -> SchemaRef {
    let keep = schema.fields().len() - partition_columns;
    Arc::new(Schema::new(schema.fields()[..keep].to_vec()))
}

struct Job {
    store: Arc<dyn ObjectStore>,
    parquet: Option<WriterProperties>,
    dir: PathBuf,
    uuid: String,
    layout: FileLayout,
    data_schema: SchemaRef,
}

impl Job {
    /// Writes one plan partition; returns the files it made.
    async fn write_partition(
        &self,
        partition: usize,
        mut stream: datafusion::execution::SendableRecordBatchStream,
    ) -> Result<Vec<PathBuf>> {
        let mut open: HashMap<String, OpenFile> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let result = async {
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                if batch.num_rows() == 0 {
                    continue;
                }
                for (subdir, rows) in self.split(&batch)? {
                    if !open.contains_key(&subdir) {
                        let file = self.open(partition, &subdir).await?;
                        open.insert(subdir.clone(), file);
                        order.push(subdir.clone());
                    }
                    if let Some(file) = open.get_mut(&subdir) {
                        file.write(&rows).await?;
                    }
                }
            }
            for subdir in &order {
                if let Some(file) = open.get_mut(subdir) {
                    file.finish(&self.data_schema).await?;
                }
            }
            Ok(())
        }
        .await;
        let paths = order
            .iter()
            .filter_map(|d| open.get(d).map(|f| f.path.clone()))
            .collect();
        match result {
            Ok(()) => Ok(paths),
            Err(e) => {
                for p in paths {
                    let _ = std::fs::remove_file(p);
                }
                Err(e)
            }
        }
    }

    /// Splits a batch by partition directory (one piece, `""`, when there are none) and drops
    /// the partition columns.
    fn split(&self, batch: &RecordBatch) -> Result<Vec<(String, RecordBatch)>> {
        let keys = self.layout.partition_by.len();
        let data = batch
            .project(&(0..batch.num_columns() - keys).collect::<Vec<_>>())
            .map_err(engine)?;
        if keys == 0 {
            return Ok(vec![(String::new(), data)]);
        }
        let values: Vec<_> = (batch.num_columns() - keys..batch.num_columns())
            .map(|i| batch.column(i).as_string::<i32>())
            .collect();
        let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for row in 0..batch.num_rows() {
            let subdir = self
                .layout
                .partition_by
                .iter()
                .zip(&values)
                .map(|(name, v)| {
                    let value = if v.is_null(row) || v.value(row).is_empty() {
                        NULL_PARTITION.to_string()
                    } else {
                        escape_path_name(v.value(row))
                    };
                    format!("{}={value}", escape_path_name(name))
                })
                .collect::<Vec<_>>()
                .join("/");
            let at = *index.entry(subdir.clone()).or_insert_with(|| {
                groups.push((subdir, Vec::new()));
                groups.len() - 1
            });
            groups[at].1.push(row as u32);
        }
        groups
            .into_iter()
            .map(|(subdir, rows)| {
                Ok((
                    subdir,
                    take_record_batch(&data, &UInt32Array::from(rows)).map_err(engine)?,
                ))
            })
            .collect()
    }

    async fn open(&self, partition: usize, subdir: &str) -> Result<OpenFile> {
        let dir = if subdir.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(subdir)
        };
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::IllegalArgument(format!("cannot create directory '{}': {e}", dir.display()))
        })?;
        // Spark names files in partition directories `part-N-UUID.c000...`, others `-c000`
        let sep = if subdir.is_empty() { '-' } else { '.' };
        let name = format!(
            "part-{partition:05}-{}{sep}c000{}",
            self.uuid, self.layout.extension
        );
        let path = dir.join(name);
        let location = StorePath::from_absolute_path(&path).map_err(|e| {
            Error::IllegalArgument(format!("cannot write '{}': {e}", path.display()))
        })?;
        let out = BufWriter::new(Arc::clone(&self.store), location);
        let sink = match (&self.layout.encoding, &self.parquet) {
            (Encoding::Orc, _) => Sink::Orc(crate::orc::OrcSink::create(
                &path,
                Arc::clone(&self.data_schema),
            )?),
            (Encoding::Parquet(_), props) => Sink::Parquet(Box::new(
                AsyncArrowWriter::try_new(out, Arc::clone(&self.data_schema), props.clone())
                    .map_err(engine)?,
            )),
            (encoding, _) => Sink::Lines {
                out: self.layout.compression.convert_async_writer(out)?,
                encoding: encoding.clone(),
                first: true,
            },
        };
        Ok(OpenFile { path, sink })
    }
}

struct OpenFile {
    path: PathBuf,
    sink: Sink,
}

enum Sink {
    Parquet(Box<AsyncArrowWriter<BufWriter>>),
    Orc(crate::orc::OrcSink),
    Lines {
        out: Box<dyn AsyncWrite + Send + Unpin>,
        encoding: Encoding,
        first: bool,
    },
}

impl OpenFile {
    async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.sink {
            Sink::Parquet(w) => w.write(batch).await.map_err(engine)?,
            Sink::Orc(w) => w.write(&self.path, batch)?,
            Sink::Lines {
                out,
                encoding,
                first,
            } => {
                let bytes = encode(encoding, batch, *first)?;
                *first = false;
                out.write_all(&bytes).await.map_err(|e| self.io_error(e))?;
            }
        }
        Ok(())
    }

    /// Completes the file; an empty CSV file with a header gets its header line.
    async fn finish(&mut self, schema: &SchemaRef) -> Result<()> {
        let path = self.path.clone();
        let io = |e: std::io::Error| {
            Error::IllegalArgument(format!("cannot write '{}': {e}", path.display()))
        };
        match &mut self.sink {
            Sink::Parquet(w) => {
                w.finish().await.map_err(engine)?;
            }
            Sink::Orc(w) => w.finish(&path)?,
            Sink::Lines {
                out,
                encoding,
                first,
            } => {
                if *first && matches!(encoding, Encoding::Csv { header: true, .. }) {
                    let empty = RecordBatch::new_empty(Arc::clone(schema));
                    out.write_all(&encode(encoding, &empty, true)?)
                        .await
                        .map_err(io)?;
                }
                if let Encoding::Xml { options, .. } = encoding {
                    let head = if *first {
                        xml_head(&options.root_tag)
                    } else {
                        String::new()
                    };
                    let tail = format!("{head}\n</{}>", options.root_tag);
                    out.write_all(tail.as_bytes()).await.map_err(io)?;
                }
                out.shutdown().await.map_err(io)?;
            }
        }
        Ok(())
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        Error::IllegalArgument(format!("cannot write '{}': {e}", self.path.display()))
    }
}

fn encode(encoding: &Encoding, batch: &RecordBatch, first: bool) -> Result<Vec<u8>> {
    use datafusion::arrow::{csv, json};
    let mut buf = Vec::new();
    match encoding {
        Encoding::Csv {
            header,
            delimiter,
            null_value,
        } => {
            let mut w = csv::WriterBuilder::new()
                .with_header(*header && first)
                .with_delimiter(*delimiter)
                .with_null(null_value.clone().unwrap_or_default())
                .build(&mut buf);
            w.write(batch).map_err(engine)?;
        }
        Encoding::Json => {
            let mut w = json::LineDelimitedWriter::new(&mut buf);
            w.write(batch).map_err(engine)?;
            w.finish().map_err(engine)?;
        }
        Encoding::Text => {
            let column = batch.column(0);
            let values =
                datafusion::arrow::compute::cast(column, &DataType::Utf8).map_err(engine)?;
            let values = values.as_string::<i32>();
            for row in 0..values.len() {
                if !values.is_null(row) {
                    buf.extend_from_slice(values.value(row).as_bytes());
                }
                buf.push(b'\n');
            }
        }
        Encoding::Xml {
            options,
            timestamp_format,
            tz,
        } => {
            let pattern =
                spate_common::datetime_pattern::DateTimePattern::compile(timestamp_format)
                    .map_err(Error::IllegalArgument)?;
            if first {
                buf.extend_from_slice(xml_head(&options.root_tag).as_bytes());
            }
            let rows = datafusion::arrow::array::StructArray::from(batch.clone());
            for row in 0..rows.len() {
                buf.push(b'\n');
                let text = spate_plan::xml_rows::write_row(
                    &rows,
                    row,
                    &options.row_tag,
                    1,
                    options,
                    &pattern,
                    tz,
                );
                buf.extend_from_slice(text.as_bytes());
            }
        }
        Encoding::Parquet(_) | Encoding::Orc => {
            return Err(Error::Internal(
                "bug: parquet and orc are not line encodings".into(),
            ));
        }
    }
    Ok(buf)
}

/// An Arrow or Parquet error, as DataFusion reports it.
fn engine(e: impl Into<datafusion::error::DataFusionError>) -> Error {
    Error::DataFusion(e.into())
}

/// Spark's escaping of a partition directory name: `%XX` for control characters and
/// `"#%'*/:=?\{[]^` and DEL.
fn escape_path_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let special = (c as u32) < 0x20
            || c == '\u{7f}'
            || matches!(
                c,
                '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\' | '{' | '[' | ']' | '^'
            );
        if special {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_path_name;

    #[test]
    fn escapes_as_spark() {
        assert_eq!(escape_path_name("a b"), "a b");
        assert_eq!(escape_path_name("x:y=z"), "x%3Ay%3Dz");
        assert_eq!(escape_path_name("b/c%"), "b%2Fc%25");
        assert_eq!(
            escape_path_name("2024-01-01 10:00:00"),
            "2024-01-01 10%3A00%3A00"
        );
    }
}
