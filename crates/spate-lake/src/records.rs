//! CSV and JSON read record by record, as Spark's parsers do, for the reads where a value can
//! fail to parse: a schema was given, or `mode`, `columnNameOfCorruptRecord`, `dateFormat` or
//! `timestampFormat` was set. JSON is one object per line, or with `multiLine` one document per
//! file (an object, or an array of objects). Each record's values are converted to the schema's
//! types (dates and timestamps with Spark datetime patterns or, without one, the forms Spark's
//! cast accepts; timestamps without an offset in the session time zone). A record is malformed
//! when a value does not convert, a CSV line has more or fewer fields than the schema, or a
//! JSON line (a multiLine file) does not parse; `mode` decides what happens to it: PERMISSIVE
//! (the default) keeps it with nulls where values failed and its raw text in the
//! corrupt-record column when the schema has one, DROPMALFORMED drops it, FAILFAST fails the
//! query with Spark's `FAILED_READ_FILE`. Blank lines are skipped. The files are listed when
//! the scan is planned and read lazily, one partition per group of files, one file at a time
//! on tokio's blocking pool; each file is read whole, then converted in batches.

use std::collections::VecDeque;
use std::fmt::Formatter;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::{CastOptions, cast_with_options, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ScalarValue, project_schema};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::{FutureExt, Stream, TryStreamExt};
use spate_common::datetime_pattern::{DateTimePattern, parse_spark_default};
use spate_common::{Error, Result};
use tokio::task::JoinHandle;

use crate::partitions::NULL_PARTITION;

const BATCH_ROWS: usize = 8192;

/// What to do with a malformed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseMode {
    /// Keep it, with nulls where values failed.
    Permissive,
    /// Leave it out.
    DropMalformed,
    /// Fail the query.
    FailFast,
}

impl ParseMode {
    /// Spark's `mode` option; like Spark, an unknown mode reads as PERMISSIVE.
    pub fn from_option(value: Option<&str>) -> Self {
        match value.map(str::to_ascii_uppercase).as_deref() {
            Some("DROPMALFORMED") => ParseMode::DropMalformed,
            Some("FAILFAST") => ParseMode::FailFast,
            _ => ParseMode::Permissive,
        }
    }
}

/// The CSV options the record reader follows.
#[derive(Debug, Clone)]
pub struct CsvDialect {
    /// The first line of each file is a header (skipped; the schema names the columns).
    pub header: bool,
    /// Field separator.
    pub sep: u8,
    /// Quote character.
    pub quote: u8,
    /// Escape character inside quotes.
    pub escape: u8,
    /// The text that reads as null (besides the empty field).
    pub null_value: Option<String>,
}

/// How records are read and what their malformed ones become.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// CSV with its dialect, or JSON when `None`.
    pub csv: Option<CsvDialect>,
    /// JSON only: each file is one document (an object, or an array of objects) rather than
    /// one object per line.
    pub multi_line: bool,
    /// The parse mode.
    pub mode: ParseMode,
    /// Name of the column that receives a malformed record's text, if the schema has it.
    pub corrupt_column: String,
    /// Spark pattern for dates.
    pub date_format: Option<DateTimePattern>,
    /// Spark pattern for timestamps.
    pub timestamp_format: Option<DateTimePattern>,
}

/// A table of CSV or JSON files read record by record.
#[derive(Debug)]
pub struct RecordTable {
    urls: Vec<ListingTableUrl>,
    data_schema: SchemaRef,
    partition_cols: Vec<(String, DataType)>,
    schema: SchemaRef,
    options: Arc<RecordOptions>,
}

impl RecordTable {
    /// A table over `urls` whose files hold `data_schema`'s columns, followed by the Hive-style
    /// `partition_cols` found in their directory names.
    pub fn new(
        urls: Vec<ListingTableUrl>,
        data_schema: SchemaRef,
        partition_cols: Vec<(String, DataType)>,
        options: RecordOptions,
    ) -> Self {
        let mut fields: Vec<Field> = data_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(
            partition_cols
                .iter()
                .map(|(n, t)| Field::new(n.clone(), t.clone(), true)),
        );
        Self {
            urls,
            data_schema,
            partition_cols,
            schema: Arc::new(Schema::new(fields)),
            options: Arc::new(options),
        }
    }
}

#[async_trait]
impl TableProvider for RecordTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let mut files = Vec::new();
        for url in &self.urls {
            let store = state.runtime_env().object_store(url.object_store())?;
            let metas: Vec<_> = url
                .list_all_files(state, store.as_ref(), "")
                .await?
                .try_collect()
                .await?;
            for meta in metas {
                let location = meta.location.as_ref();
                let name = location.rsplit('/').next().unwrap_or(location);
                if name.starts_with('.') || name.starts_with('_') {
                    continue;
                }
                let relative = location
                    .strip_prefix(url.prefix().as_ref())
                    .unwrap_or(location);
                files.push(FileToRead {
                    path: format!("/{location}"),
                    partition_values: partition_values(relative, &self.partition_cols)?,
                });
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let n = files
            .len()
            .clamp(1, state.config().target_partitions().max(1));
        let mut groups: Vec<Vec<FileToRead>> = (0..n).map(|_| Vec::new()).collect();
        for (i, f) in files.into_iter().enumerate() {
            groups[i % n].push(f);
        }
        let projection = projection.cloned();
        let schema = project_schema(&self.schema, projection.as_ref())?;
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(n),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Arc::new(RecordScanExec {
            groups,
            table_schema: self.schema.clone(),
            data_schema: self.data_schema.clone(),
            projection,
            options: self.options.clone(),
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }
}

/// The values of the partition columns a file's directories name.
fn partition_values(relative: &str, cols: &[(String, DataType)]) -> DfResult<Vec<ScalarValue>> {
    cols.iter()
        .map(|(name, t)| {
            let raw = relative
                .split('/')
                .find_map(|seg| seg.strip_prefix(name.as_str())?.strip_prefix('='));
            match raw {
                None | Some(NULL_PARTITION) => ScalarValue::try_from(t),
                Some(v) => ScalarValue::try_from_string(v.to_string(), t),
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
struct FileToRead {
    path: String,
    partition_values: Vec<ScalarValue>,
}

/// Reads groups of files record by record (see the module documentation).
#[derive(Debug)]
struct RecordScanExec {
    groups: Vec<Vec<FileToRead>>,
    table_schema: SchemaRef,
    data_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    options: Arc<RecordOptions>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl DisplayAs for RecordScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut Formatter) -> std::fmt::Result {
        let files: usize = self.groups.iter().map(Vec::len).sum();
        let format = if self.options.csv.is_some() {
            "csv"
        } else {
            "json"
        };
        write!(
            f,
            "RecordScanExec: format={format}, files={files}, mode={:?}",
            self.options.mode
        )
    }
}

impl ExecutionPlan for RecordScanExec {
    fn name(&self) -> &str {
        "RecordScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let files = self.groups.get(partition).cloned().unwrap_or_default();
        let reader = FileReader {
            table_schema: self.table_schema.clone(),
            data_schema: self.data_schema.clone(),
            projection: self.projection.clone(),
            options: self.options.clone(),
        };
        Ok(Box::pin(RecordScanStream {
            schema: self.properties.eq_properties.schema().clone(),
            reader: Arc::new(reader),
            files: files.into(),
            reading: None,
            pending: VecDeque::new(),
            baseline: BaselineMetrics::new(&self.metrics, partition),
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One partition of [`RecordScanExec`]: reads its files one at a time on tokio's blocking
/// pool (file reading and parsing block), and hands out one file's batches before it reads
/// the next.
struct RecordScanStream {
    schema: SchemaRef,
    reader: Arc<FileReader>,
    /// The files not read yet.
    files: VecDeque<FileToRead>,
    /// The file being read.
    reading: Option<JoinHandle<Result<Vec<RecordBatch>>>>,
    /// The batches of the last file read not handed out yet.
    pending: VecDeque<RecordBatch>,
    baseline: BaselineMetrics,
}

impl Stream for RecordScanStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(batch) = self.pending.pop_front() {
                return self.baseline.record_poll(Poll::Ready(Some(Ok(batch))));
            }
            if let Some(reading) = self.reading.as_mut() {
                let read = match reading.poll_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(read) => read,
                };
                self.reading = None;
                match read {
                    Ok(Ok(batches)) => self.pending.extend(batches),
                    Ok(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                    Err(e) => {
                        let e = DataFusionError::Execution(format!("a file read failed: {e}"));
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                continue;
            }
            let Some(file) = self.files.pop_front() else {
                return self.baseline.record_poll(Poll::Ready(None));
            };
            let reader = Arc::clone(&self.reader);
            self.reading = Some(tokio::task::spawn_blocking(move || reader.read(&file)));
        }
    }
}

impl RecordBatchStream for RecordScanStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

impl Drop for RecordScanStream {
    fn drop(&mut self) {
        if let Some(reading) = self.reading.take() {
            reading.abort();
        }
    }
}

/// One record before conversion: its raw text and its values.
struct Record {
    raw: String,
    values: Values,
}

enum Values {
    /// CSV fields (None for null) and whether their count differs from the schema's.
    Csv(Vec<Option<String>>, bool),
    /// A parsed JSON object, or None when the line is not one.
    Json(Option<serde_json::Map<String, serde_json::Value>>),
}

struct FileReader {
    table_schema: SchemaRef,
    data_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    options: Arc<RecordOptions>,
}

impl FileReader {
    fn read(&self, file: &FileToRead) -> Result<Vec<RecordBatch>> {
        let bytes = std::fs::read(&file.path)
            .map_err(|e| Error::IllegalArgument(format!("cannot read '{}': {e}", file.path)))?;
        let records = match &self.options.csv {
            Some(dialect) => self.csv_records(&bytes, dialect)?,
            None if self.options.multi_line => json_document_records(&bytes),
            None => json_records(&bytes),
        };
        records
            .chunks(BATCH_ROWS)
            .map(|chunk| self.batch(chunk, file))
            .filter(|b| !matches!(b, Ok(b) if b.num_rows() == 0))
            .collect()
    }

    fn value_fields(&self) -> Vec<&Field> {
        self.data_schema
            .fields()
            .iter()
            .filter(|f| f.name() != &self.options.corrupt_column)
            .map(|f| f.as_ref())
            .collect()
    }

    fn csv_records(&self, bytes: &[u8], dialect: &CsvDialect) -> Result<Vec<Record>> {
        let expected = self.value_fields().len();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(dialect.sep)
            .quote(dialect.quote)
            .escape(Some(dialect.escape))
            .from_reader(bytes);
        let mut out = Vec::new();
        let mut record = csv::StringRecord::new();
        let mut first = true;
        loop {
            let start = reader.position().byte();
            let more = reader
                .read_record(&mut record)
                .map_err(|e| Error::IllegalArgument(format!("cannot read CSV: {e}")))?;
            if !more {
                break;
            }
            if std::mem::take(&mut first) && dialect.header {
                continue;
            }
            let end = reader.position().byte();
            let raw = String::from_utf8_lossy(&bytes[to_usize(start)..to_usize(end)]);
            let raw = raw.trim_matches(['\r', '\n']).to_string();
            if raw.is_empty() {
                continue;
            }
            let fields: Vec<Option<String>> = record
                .iter()
                .map(|v| {
                    let null = v.is_empty() || dialect.null_value.as_deref() == Some(v);
                    (!null).then(|| v.to_string())
                })
                .collect();
            let wrong_count = fields.len() != expected;
            out.push(Record {
                raw,
                values: Values::Csv(fields, wrong_count),
            });
        }
        Ok(out)
    }

    /// Converts records to a batch of the table's (projected) schema, applying the mode.
    fn batch(&self, records: &[Record], file: &FileToRead) -> Result<RecordBatch> {
        let mut malformed = vec![false; records.len()];
        for (i, r) in records.iter().enumerate() {
            malformed[i] = match &r.values {
                Values::Csv(_, wrong_count) => *wrong_count,
                Values::Json(obj) => obj.is_none(),
            };
        }
        let mut columns: Vec<ArrayRef> = Vec::new();
        let mut value_index = 0;
        for field in self.data_schema.fields() {
            if field.name() == &self.options.corrupt_column {
                columns.push(Arc::new(StringArray::from(Vec::<Option<String>>::new())));
                continue;
            }
            let (array, failed) = match self.options.csv {
                Some(_) => {
                    let tokens: Vec<Option<&str>> = records
                        .iter()
                        .map(|r| match &r.values {
                            Values::Csv(fields, _) => {
                                fields.get(value_index).and_then(|v| v.as_deref())
                            }
                            Values::Json(_) => None,
                        })
                        .collect();
                    self.convert_text(&tokens, field.data_type())?
                }
                None => self.convert_json(records, field)?,
            };
            value_index += 1;
            for (m, f) in malformed.iter_mut().zip(failed) {
                *m |= f;
            }
            columns.push(array);
        }
        if self.options.mode == ParseMode::FailFast
            && let Some(i) = malformed.iter().position(|m| *m)
        {
            return Err(Error::Runtime {
                exception: "org.apache.spark.SparkException",
                class: "FAILED_READ_FILE.NO_HINT".into(),
                message: format!(
                    "Encountered error while reading file file://{}. Malformed records are detected in record parsing: {}. Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'.",
                    file.path, records[i].raw
                ),
            });
        }
        if let Ok(pos) = self.data_schema.index_of(&self.options.corrupt_column) {
            let raw: StringArray = records
                .iter()
                .zip(&malformed)
                .map(|(r, m)| m.then_some(r.raw.as_str()))
                .collect();
            columns[pos] = Arc::new(raw);
        }
        for value in &file.partition_values {
            columns.push(value.to_array_of_size(records.len())?);
        }
        let batch = RecordBatch::try_new(self.table_schema.clone(), columns)
            .map_err(|e| Error::internal(format!("record batch: {e}")))?;
        let batch = if self.options.mode == ParseMode::DropMalformed {
            let keep: BooleanArray = malformed.iter().map(|m| Some(!m)).collect();
            filter_record_batch(&batch, &keep).map_err(|e| Error::internal(e.to_string()))?
        } else {
            batch
        };
        match &self.projection {
            Some(p) => batch.project(p).map_err(|e| Error::internal(e.to_string())),
            None => Ok(batch),
        }
    }

    /// Converts text values to `t`; also says which present values failed to convert.
    fn convert_text(&self, tokens: &[Option<&str>], t: &DataType) -> Result<(ArrayRef, Vec<bool>)> {
        let with_pattern = |pattern: Option<&DateTimePattern>| -> Result<(ArrayRef, Vec<bool>)> {
            let date_only = matches!(t, DataType::Date32);
            let parsed: Vec<Option<_>> = tokens
                .iter()
                .map(|v| {
                    v.and_then(|v| match pattern {
                        Some(p) => p.parse(v),
                        None => parse_spark_default(v, date_only),
                    })
                })
                .collect();
            let failed = tokens
                .iter()
                .zip(&parsed)
                .map(|(v, p)| v.is_some() && p.is_none())
                .collect();
            let array: ArrayRef = match t {
                DataType::Date32 => Arc::new(
                    parsed
                        .iter()
                        .map(|p| p.map(|p| days_since_epoch(p.local.date())))
                        .collect::<Date32Array>(),
                ),
                DataType::Timestamp(_, tz) => {
                    let zone: Option<Tz> = match tz {
                        Some(z) => Some(z.parse().map_err(|e| {
                            Error::internal(format!("session time zone '{z}': {e}"))
                        })?),
                        None => None,
                    };
                    let micros: TimestampMicrosecondArray = parsed
                        .iter()
                        .map(|p| p.and_then(|p| p.to_micros(zone.as_ref())))
                        .collect();
                    Arc::new(micros.with_timezone_opt(tz.clone()))
                }
                _ => return Err(Error::internal("datetime pattern for a non-datetime type")),
            };
            Ok((array, failed))
        };
        match t {
            DataType::Date32 => return with_pattern(self.options.date_format.as_ref()),
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                return with_pattern(self.options.timestamp_format.as_ref());
            }
            _ => {}
        }
        let strings: ArrayRef = Arc::new(StringArray::from(tokens.to_vec()));
        let options = CastOptions {
            safe: true,
            ..Default::default()
        };
        let array = cast_with_options(&strings, t, &options)
            .map_err(|e| Error::IllegalArgument(format!("cannot read values as {t}: {e}")))?;
        let failed = tokens
            .iter()
            .enumerate()
            .map(|(i, v)| v.is_some() && array.is_null(i))
            .collect();
        Ok((array, failed))
    }

    /// Converts one JSON field of every record: strings take any value's text, dates and
    /// timestamps parse strings, other types decode with Arrow's JSON decoder.
    fn convert_json(&self, records: &[Record], field: &Field) -> Result<(ArrayRef, Vec<bool>)> {
        let values: Vec<Option<&serde_json::Value>> = records
            .iter()
            .map(|r| match &r.values {
                Values::Json(Some(obj)) => obj.get(field.name()).filter(|v| !v.is_null()),
                _ => None,
            })
            .collect();
        let t = field.data_type();
        match t {
            DataType::Utf8 => {
                let strings: StringArray = values
                    .iter()
                    .map(|v| {
                        v.map(|v| match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                    })
                    .collect();
                Ok((Arc::new(strings), vec![false; values.len()]))
            }
            DataType::Date32 | DataType::Timestamp(..) => {
                let texts: Vec<Option<&str>> =
                    values.iter().map(|v| v.and_then(|v| v.as_str())).collect();
                let (array, mut failed) = self.convert_text(&texts, t)?;
                for (f, (v, s)) in failed.iter_mut().zip(values.iter().zip(&texts)) {
                    *f |= v.is_some() && s.is_none();
                }
                Ok((array, failed))
            }
            _ => spate_plan::functions::decode_json_values(&values, t),
        }
    }
}

fn json_records(bytes: &[u8]) -> Vec<Record> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let obj = match serde_json::from_str::<serde_json::Value>(line) {
                Ok(serde_json::Value::Object(m)) => Some(m),
                _ => None,
            };
            Record {
                raw: line.to_string(),
                values: Values::Json(obj),
            }
        })
        .collect()
}

/// The records of a file that is one JSON document: each object of a top-level array, or the
/// object itself. A file that does not parse is one malformed record holding its whole text.
fn json_document_records(bytes: &[u8]) -> Vec<Record> {
    let text = String::from_utf8_lossy(bytes);
    if text.trim().is_empty() {
        return vec![];
    }
    let record = |v: serde_json::Value, raw: String| Record {
        raw,
        values: Values::Json(match v {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        }),
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|v| {
                let raw = v.to_string();
                record(v, raw)
            })
            .collect(),
        Ok(v) => vec![record(v, text.to_string())],
        Err(_) => vec![Record {
            raw: text.to_string(),
            values: Values::Json(None),
        }],
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn days_since_epoch(d: chrono::NaiveDate) -> i32 {
    let epoch = chrono::NaiveDate::default();
    i32::try_from((d - epoch).num_days()).unwrap_or(i32::MAX)
}
