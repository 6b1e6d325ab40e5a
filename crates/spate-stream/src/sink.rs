//! Streaming sinks: where each micro-batch's rows go. `memory` keeps every batch's rows and
//! serves them as a temporary view named after the query (Spark's memory sink, for tests and
//! notebooks); `noop` runs the batch and drops its rows (for benchmarks); `console` prints
//! each batch to the server's standard output as Spark's console sink does (a `Batch: N`
//! banner, then the rows as `show()` prints them; options `numRows`, `truncate`).
//!
//! The file sinks (parquet, json, csv, text) write each batch's files into the output
//! directory and then record them in `_spark_metadata/N`, Spark's file sink log, in Spark's
//! form. The log is what makes them exactly-once: a batch already in the log (run again after
//! a crash between the sink and the checkpoint's commit) is not written a second time.
//!
//! The Kafka sink sends each batch's rows as records (spate-kafka), at least once as Spark's;
//! with the option `exactlyOnce` (Spate's) a batch run again after a crash does not repeat the
//! records its first run sent.
//!
//! The Delta sink appends each batch in one Delta commit that carries the transaction
//! `(query id, batch id)`, as delta-spark's streaming sink does; a batch whose transaction the
//! table already records is skipped, which makes it exactly-once the same way.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use spate_common::{Error, Result};
use spate_exec::QueryScope;
use spate_lake::{SaveMode, WriteRequest};
use spate_session::Session;

use spate_lake::source::files_under;

use crate::OutputMode;
use crate::file_source::modified_ms;
use crate::log::MetadataLog;
use crate::micro_batch::memory_plan;

/// How many batches back the exactly-once Kafka sink keeps its notes.
const KAFKA_NOTES_RETAINED: u64 = 100;

/// The sinks `writeStream.format(...)` knows.
pub const SINK_FORMATS: &[&str] = &[
    "memory", "noop", "console", "parquet", "json", "csv", "text",
];

/// The file formats among them.
pub const FILE_SINKS: &[&str] = &["parquet", "json", "csv", "text", "delta"];

/// A micro-batch's destination.
#[derive(Debug)]
pub enum Sink {
    /// Rows kept in memory, served as the temporary view `name`.
    Memory {
        /// The view (the query's name).
        name: String,
        /// Every batch's rows so far.
        rows: Mutex<Vec<RecordBatch>>,
    },
    /// Rows dropped.
    Noop,
    /// Rows printed to standard output, `num_rows` at most per batch, cells cut at
    /// `truncate` characters (0: not cut).
    Console {
        /// Rows shown per batch.
        num_rows: usize,
        /// Cell width limit.
        truncate: usize,
    },
    /// The user's Python function, called with each batch (`foreachBatch`).
    ForeachBatch(Box<crate::foreach_batch::ForeachBatch>),
    /// Files in a directory, recorded in its `_spark_metadata` log.
    Files {
        /// The output directory.
        dir: PathBuf,
        /// Format, partitioning and options of the files.
        request: WriteRequest,
    },
    /// Records sent to Kafka: at least once, or exactly once with `exactlyOnce`.
    Kafka {
        /// Brokers, topic and client settings.
        options: spate_kafka::SinkOptions,
        /// Where `exactlyOnce` keeps its notes (`sinks/kafka` in the checkpoint).
        notes: Option<PathBuf>,
        /// The writer, once the first batch opened it.
        writer: tokio::sync::Mutex<Option<Arc<spate_kafka::once::StreamWriter>>>,
    },
}

impl Sink {
    /// The sink for `format`; the memory sink needs the query's name, as in Spark.
    pub fn new(format: &str, query_name: Option<&str>) -> Result<Self> {
        match format {
            "memory" => match query_name {
                Some(name) if !name.is_empty() => Ok(Sink::Memory {
                    name: name.to_string(),
                    rows: Mutex::new(Vec::new()),
                }),
                _ => Err(Error::analysis(
                    "_LEGACY_ERROR_TEMP_3169",
                    "queryName must be specified for memory sink",
                )),
            },
            "noop" => Ok(Sink::Noop),
            "console" => Ok(Sink::Console {
                num_rows: 20,
                truncate: 20,
            }),
            other if FILE_SINKS.contains(&other) => Err(Error::IllegalArgument(format!(
                "'path' is not specified for the streaming {other} sink"
            ))),
            other => Err(Error::unsupported(format!(
                "writeStream of the format '{other}' (streaming sinks: {})",
                SINK_FORMATS.join(", ")
            ))),
        }
    }

    /// The console sink with Spark's options (`numRows`, default 20; `truncate`, default
    /// true).
    pub fn console(options: &HashMap<String, String>) -> Result<Self> {
        let get = |k: &str| {
            options
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.trim().to_string())
        };
        let num_rows = match get("numRows") {
            None => 20,
            Some(v) => v.parse::<usize>().map_err(|_| {
                Error::IllegalArgument(format!("Invalid value '{v}' for option 'numRows'"))
            })?,
        };
        let truncate = match get("truncate").map(|v| v.to_lowercase()).as_deref() {
            None | Some("true") => 20,
            Some("false") => 0,
            Some(v) => {
                return Err(Error::IllegalArgument(format!(
                    "Invalid value '{v}' for option 'truncate', must be true or false"
                )));
            }
        };
        Ok(Sink::Console { num_rows, truncate })
    }

    /// A file sink writing `format` files into `path`.
    pub fn files(
        format: &str,
        path: &str,
        partition_by: Vec<String>,
        options: HashMap<String, String>,
    ) -> Self {
        Sink::Files {
            dir: PathBuf::from(path.strip_prefix("file://").unwrap_or(path)),
            request: WriteRequest {
                format: format.to_string(),
                mode: SaveMode::Append,
                partition_by,
                options,
            },
        }
    }

    /// The Kafka sink with Spark's options (and Spate's `exactlyOnce`).
    pub fn kafka(options: &HashMap<String, String>) -> Result<Self> {
        let options: std::collections::BTreeMap<String, String> = options
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect();
        Ok(Sink::Kafka {
            options: spate_kafka::SinkOptions::parse(&options)?,
            notes: None,
            writer: tokio::sync::Mutex::new(None),
        })
    }

    /// The sink of a query checkpointed in `checkpoint` (the Kafka sink keeps its notes there).
    pub fn in_checkpoint(self, checkpoint: Option<&Path>) -> Self {
        match self {
            Sink::Kafka {
                options, writer, ..
            } => Sink::Kafka {
                options,
                notes: checkpoint.map(|c| c.join("sinks").join("kafka")),
                writer,
            },
            other => other,
        }
    }

    /// Spark's checks of the rows a sink is given (Kafka's value and topic columns).
    pub fn check_schema(&self, schema: &datafusion::arrow::datatypes::Schema) -> Result<()> {
        match self {
            Sink::Kafka { options, .. } => {
                spate_kafka::write::validate(schema, options.topic.as_deref())
            }
            _ => Ok(()),
        }
    }

    /// How Spark describes it in progress.
    pub fn description(&self) -> String {
        match self {
            Sink::Kafka { .. } => {
                "org.apache.spark.sql.kafka010.KafkaSourceProvider$KafkaTable".into()
            }
            Sink::Memory { .. } => "MemorySink".into(),
            Sink::Noop => "org.apache.spark.sql.execution.datasources.noop.NoopTable$".into(),
            Sink::Files { dir, request } if request.format == "delta" => {
                format!("DeltaSink[file://{}]", dir.display())
            }
            Sink::Files { dir, .. } => format!("FileSink[file://{}]", dir.display()),
            Sink::Console { .. } => "org.apache.spark.sql.execution.streaming.ConsoleTable$".into(),
            Sink::ForeachBatch(_) => "ForeachBatchSink".into(),
        }
    }

    /// Spark's class for it, as real-time mode's allowlist names a sink; `None` for the
    /// console, which the allowlist takes.
    pub fn real_time_refusal(&self) -> Option<&'static str> {
        match self {
            Sink::Console { .. } | Sink::Kafka { .. } => None,
            Sink::Memory { .. } => {
                Some("org.apache.spark.sql.execution.streaming.sources.MemorySink")
            }
            Sink::Noop => Some("org.apache.spark.sql.execution.datasources.noop.NoopTable$"),
            Sink::ForeachBatch(_) => {
                Some("org.apache.spark.sql.execution.streaming.sources.ForeachBatchSink")
            }
            Sink::Files { request, .. } if request.format == "delta" => {
                Some("org.apache.spark.sql.delta.sources.DeltaSink")
            }
            Sink::Files { .. } => {
                Some("org.apache.spark.sql.execution.streaming.sinks.FileStreamSink")
            }
        }
    }

    /// Whether Spark's continuous processing writes to it (memory, console, noop).
    pub fn takes_continuous(&self) -> bool {
        matches!(
            self,
            Sink::Memory { .. } | Sink::Console { .. } | Sink::Noop
        )
    }

    /// Spark's error when the sink cannot take `mode`: the file sinks append only; Delta
    /// also takes complete (each batch replaces the table).
    pub fn check_mode(&self, mode: OutputMode) -> Result<()> {
        match self {
            Sink::Files { request, .. } if mode != OutputMode::Append => {
                if request.format == "delta" && mode == OutputMode::Complete {
                    return Ok(());
                }
                Err(Error::analysis(
                    "_LEGACY_ERROR_TEMP_1121",
                    format!(
                        "Data source {} does not support {} output mode.",
                        request.format,
                        match mode {
                            OutputMode::Update => "Update",
                            _ => "Complete",
                        }
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Runs batch `batch_id` of query `query_id`, `plan`, in `session` and writes its rows in
    /// output `mode` (complete replaces what the sink holds); returns how many, or `None`
    /// where Spark's sink does not report it (the file sinks: progress shows -1).
    pub async fn add_batch(
        &self,
        session: &Session,
        scope: QueryScope,
        query_id: &str,
        batch_id: u64,
        plan: &LogicalPlan,
        mode: OutputMode,
    ) -> Result<Option<u64>> {
        let state = session.state(scope)?;
        if let Sink::Files { dir, request } = self {
            if request.format == "delta" {
                let mut request = request.clone();
                if mode == OutputMode::Complete {
                    request.mode = SaveMode::Overwrite;
                }
                return add_delta(&state, dir, &request, query_id, batch_id, plan)
                    .await
                    .map(Some);
            }
            add_files(&state, dir, request, batch_id, plan).await?;
            return Ok(None);
        }
        if let Sink::Kafka {
            options,
            notes,
            writer,
        } = self
        {
            let writer = {
                let mut slot = writer.lock().await;
                match slot.as_ref() {
                    Some(w) => Arc::clone(w),
                    None => {
                        let schema = Arc::clone(plan.schema().inner());
                        let (o, q) = (options.clone(), query_id.to_string());
                        let w = Arc::new(
                            spate_kafka::client::blocking(move || {
                                spate_kafka::once::StreamWriter::open(&o, &schema, &q)
                            })
                            .await?,
                        );
                        *slot = Some(Arc::clone(&w));
                        w
                    }
                }
            };
            let notes = match (options.exactly_once, notes) {
                (false, _) => None,
                (true, Some(dir)) => Some(MetadataLog::new(dir)),
                (true, None) => {
                    return Err(Error::IllegalArgument(
                        "the Kafka sink's option 'exactlyOnce' needs a checkpointLocation".into(),
                    ));
                }
            };
            return add_kafka(&state, notes, writer, batch_id, plan)
                .await
                .map(Some);
        }
        let batches = spate_exec::collect(&state, plan, "stream batch").await?;
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        if let Sink::ForeachBatch(function) = self {
            call_function(session, function, batch_id, plan, batches).await?;
            return Ok(None);
        }
        if let Sink::Console { num_rows, truncate } = self {
            let names: Vec<String> = plan
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let table = spate_plan::display::show_string(
                &batches,
                &names,
                *num_rows,
                *truncate,
                false,
                &session.config().time_zone(),
            );
            let banner = "-------------------------------------------";
            let text = format!("{banner}\nBatch: {batch_id}\n{banner}\n{table}\n");
            let mut out = std::io::stdout().lock();
            use std::io::Write as _;
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| Error::IllegalArgument(format!("cannot print a batch: {e}")))?;
            return Ok(Some(rows));
        }
        if let Sink::Memory { name, rows: kept } = self {
            let snapshot = {
                let mut kept = kept
                    .lock()
                    .map_err(|_| Error::internal("memory sink lock"))?;
                if mode == OutputMode::Complete {
                    kept.clear();
                }
                kept.extend(batches);
                kept.clone()
            };
            let schema = plan.schema().inner().clone();
            let table = MemTable::try_new(schema, vec![snapshot])?;
            let view =
                LogicalPlanBuilder::scan(name.as_str(), provider_as_source(Arc::new(table)), None)?
                    .build()?;
            session.catalog.register_view(name, view, true, false)?;
        }
        Ok(Some(rows))
    }
}

/// Sends a batch's rows to Kafka: as they come (at least once), or, with `notes` (the
/// exactly-once sink's log), all of them less those an interrupted run of the batch sent
/// already (spate_kafka::once): the log's entry for the batch is where its output ended
/// before its first run wrote.
async fn add_kafka(
    state: &SessionState,
    notes: Option<MetadataLog>,
    writer: Arc<spate_kafka::once::StreamWriter>,
    batch_id: u64,
    plan: &LogicalPlan,
) -> Result<u64> {
    use futures::StreamExt;
    use spate_kafka::client::blocking;
    if let Some(log) = notes {
        let batches = spate_exec::collect(state, plan, "stream batch").await?;
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Ok(0);
        }
        return blocking(move || {
            let noted = match log.get(batch_id)?.as_deref() {
                Some([line, ..]) => Some(spate_kafka::offsets::parse_offsets(line)?),
                _ => None,
            };
            if noted.is_none() {
                let ends = writer.output_ends(&batches)?;
                log.add(batch_id, &[spate_kafka::offsets::offsets_json(&ends)])?;
                // as Spark's logs keep 100 batches
                log.purge_before(batch_id.saturating_sub(KAFKA_NOTES_RETAINED))?;
            }
            writer.write_once(batch_id, &batches, noted.as_ref())
        })
        .await;
    }
    let mut stream = spate_exec::runner::stream(state, plan, "stream batch").await?;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let (batch, w) = (batch?, Arc::clone(&writer));
        rows += blocking(move || w.plain().send(&batch)).await?;
    }
    blocking(move || writer.plain().finish()).await?;
    Ok(rows)
}

/// Calls a foreachBatch function with a batch's rows, registered as a temporary view for
/// the time of the call.
async fn call_function(
    session: &Session,
    function: &crate::foreach_batch::ForeachBatch,
    batch_id: u64,
    plan: &LogicalPlan,
    batches: Vec<RecordBatch>,
) -> Result<()> {
    let url = session.connect_url().ok_or_else(|| {
        Error::unsupported("foreachBatch outside a Spark Connect server (it connects back to one)")
    })?;
    let relation_id = uuid::Uuid::new_v4().to_string();
    let view = spate_plan::streaming::batch_view_name(&relation_id);
    let table = MemTable::try_new(plan.schema().inner().clone(), vec![batches])?;
    let rows = LogicalPlanBuilder::scan(view.as_str(), provider_as_source(Arc::new(table)), None)?
        .build()?;
    session.catalog.register_view(&view, rows, true, false)?;
    let outcome = function
        .call(&session.id, &url, &relation_id, batch_id)
        .await;
    session.catalog.drop_view(&view, false);
    outcome
}

/// Writes a batch's files and records them in `_spark_metadata/batch_id`, unless that batch
/// was recorded already.
async fn add_files(
    state: &SessionState,
    dir: &Path,
    request: &WriteRequest,
    batch_id: u64,
    plan: &LogicalPlan,
) -> Result<u64> {
    let log = MetadataLog::new(dir.join("_spark_metadata"));
    if log.get(batch_id)?.is_some() {
        return Ok(0);
    }
    let listed = |dir: &Path| -> Result<Vec<PathBuf>> {
        if dir.exists() {
            files_under(dir)
        } else {
            Ok(vec![])
        }
    };
    let before: HashSet<PathBuf> = listed(dir)?.into_iter().collect();
    let (rows_plan, rows) = materialize(state, plan).await?;
    let path = dir.display().to_string();
    spate_lake::write::write_path(state, rows_plan, &path, request).await?;
    let entries: Vec<String> = listed(dir)?
        .into_iter()
        .filter(|p| !before.contains(p))
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let modified = meta.as_ref().map_or(0, modified_ms);
            serde_json::json!({
                "path": format!("file://{}", p.display()),
                "size": meta.map_or(0, |m| m.len()),
                "isDir": false,
                "modificationTime": modified,
                "blockReplication": 1,
                "blockSize": 33554432,
                "action": "add",
            })
            .to_string()
        })
        .collect();
    log.add(batch_id, &entries)?;
    Ok(rows)
}

/// Appends a batch to a Delta table in one commit recording `(query_id, batch_id)`; the
/// table's writer skips a batch whose transaction it already has.
async fn add_delta(
    state: &SessionState,
    dir: &Path,
    request: &WriteRequest,
    query_id: &str,
    batch_id: u64,
    plan: &LogicalPlan,
) -> Result<u64> {
    let (rows_plan, rows) = materialize(state, plan).await?;
    let mut request = request.clone();
    request
        .options
        .insert("txnappid".into(), query_id.to_string());
    request
        .options
        .insert("txnversion".into(), batch_id.to_string());
    let path = dir.display().to_string();
    spate_lake::write::write_path(state, rows_plan, &path, &request).await?;
    Ok(rows)
}

/// Runs a batch's plan into memory: a plan over its rows (counted on the way to the sink, as
/// Spark's numOutputRows) and how many there are.
async fn materialize(state: &SessionState, plan: &LogicalPlan) -> Result<(LogicalPlan, u64)> {
    let batches = spate_exec::collect(state, plan, "stream batch").await?;
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    Ok((
        memory_plan(plan.schema().inner().clone(), vec![batches])?,
        rows,
    ))
}
