//! Streaming sinks: where each micro-batch's rows go. `memory` keeps every batch's rows and
//! serves them as a temporary view named after the query (Spark's memory sink, for tests and
//! notebooks); `noop` runs the batch and drops its rows (for benchmarks).

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use spate_common::{Error, Result};
use spate_exec::QueryScope;
use spate_session::Session;

/// The sinks `writeStream.format(...)` knows.
pub const SINK_FORMATS: &[&str] = &["memory", "noop"];

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
            other => Err(Error::unsupported(format!(
                "writeStream of the format '{other}' (streaming sinks: {})",
                SINK_FORMATS.join(", ")
            ))),
        }
    }

    /// How Spark describes it in progress.
    pub fn description(&self) -> &'static str {
        match self {
            Sink::Memory { .. } => "MemorySink",
            Sink::Noop => "org.apache.spark.sql.execution.datasources.noop.NoopTable$",
        }
    }

    /// Runs batch `batch_id`'s `plan` in `session` and writes its rows; returns how many.
    pub async fn add_batch(
        &self,
        session: &Session,
        scope: QueryScope,
        plan: &LogicalPlan,
    ) -> Result<u64> {
        let state = session.state(scope)?;
        let batches = spate_exec::collect(&state, plan, "stream batch").await?;
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        if let Sink::Memory { name, rows: kept } = self {
            let snapshot = {
                let mut kept = kept
                    .lock()
                    .map_err(|_| Error::internal("memory sink lock"))?;
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
        Ok(rows)
    }
}
