//! A streaming read in a logical plan. `spark.readStream...load()` resolves to a
//! [`StreamingScanNode`] that names the source (format and options) and its schema but reads
//! nothing: only a streaming query's micro-batch runtime (spate-stream) can run it, by
//! replacing the node with each batch's data. Running such a plan as a batch query fails with
//! Spark's error, raised where the plan is turned into a physical one.

use std::collections::BTreeMap;
use std::fmt::{self, Formatter};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore};
use spate_common::{Error, Result};

/// The formats `readStream` reads.
pub const STREAMING_FORMATS: &[&str] = &[
    "rate",
    "rate-micro-batch",
    "json",
    "csv",
    "parquet",
    "text",
    "delta",
    "kafka",
];

/// A source of a streaming query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamingScanNode {
    /// The source's format (`rate`).
    pub format: String,
    /// Its options, keys lower-cased.
    pub options: BTreeMap<String, String>,
    /// The directory a file source watches.
    pub path: Option<String>,
    schema: DFSchemaRef,
}

impl StreamingScanNode {
    /// The plan reading `format` with `options` as a stream (a file source watches `path`
    /// and needs `schema`, as in Spark); Spark's error for what cannot be streamed.
    pub fn plan(
        format: &str,
        options: BTreeMap<String, String>,
        path: Option<String>,
        schema: Option<SchemaRef>,
    ) -> Result<LogicalPlan> {
        let schema = match format {
            // Spark's RateStreamProvider.SCHEMA
            "rate" | "rate-micro-batch" => Arc::new(Schema::new(vec![
                Field::new(
                    "timestamp",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    true,
                ),
                Field::new("value", DataType::Int64, true),
            ])),
            "text" => Arc::new(Schema::new(vec![Field::new("value", DataType::Utf8, true)])),
            // a Delta table's schema is its own (the resolver reads it)
            "delta" => schema.ok_or_else(|| {
                Error::internal("a streaming Delta read without the table's schema")
            })?,
            // Kafka's records (the catalog checks the options and says which columns)
            "kafka" => schema.ok_or_else(|| {
                Error::internal("a streaming Kafka read without the records' schema")
            })?,
            "json" | "csv" | "parquet" => schema.ok_or_else(|| {
                Error::analysis(
                    "_LEGACY_ERROR_TEMP_3215",
                    "Schema must be specified when creating a streaming source DataFrame. If \
                     some files already exist in the directory, then depending on the file \
                     format you may be able to create a static DataFrame on that directory \
                     with 'spark.read.load(directory)' and infer schema from it.",
                )
            })?,
            other => {
                return Err(Error::unsupported(format!(
                    "readStream of the format '{other}' (streaming formats: {})",
                    STREAMING_FORMATS.join(", ")
                )));
            }
        };
        if !matches!(format, "rate" | "rate-micro-batch" | "kafka") && path.is_none() {
            return Err(Error::IllegalArgument(format!(
                "'path' is not specified for the streaming {format} source"
            )));
        }
        let node = Self {
            format: format.to_string(),
            options,
            path,
            schema: Arc::new(DFSchema::try_from(schema).map_err(Error::DataFusion)?),
        };
        Ok(LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        }))
    }

    /// The source's schema.
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::clone(self.schema.inner())
    }
}

impl PartialOrd for StreamingScanNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (&self.format, &self.options).partial_cmp(&(&other.format, &other.options))
    }
}

impl UserDefinedLogicalNodeCore for StreamingScanNode {
    fn name(&self) -> &str {
        "StreamingScan"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut Formatter) -> fmt::Result {
        write!(f, "StreamingScan: format={}", self.format)
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        _inputs: Vec<LogicalPlan>,
    ) -> DfResult<Self> {
        Ok(self.clone())
    }
}

/// Whether `plan` reads a stream.
pub fn is_streaming(plan: &LogicalPlan) -> bool {
    use datafusion::common::tree_node::TreeNode;
    plan.exists(|p| {
        Ok(matches!(p, LogicalPlan::Extension(e)
            if e.node.as_any().downcast_ref::<StreamingScanNode>().is_some()))
    })
    .unwrap_or(false)
}

/// Spark's error for running a streaming plan as a batch query.
pub fn batch_of_streaming_error() -> Error {
    Error::analysis(
        "_LEGACY_ERROR_TEMP_3108",
        "Queries with streaming sources must be executed with writeStream.start();",
    )
}

/// `withWatermark(eventTime, delayThreshold)` on a stream: rows pass through unchanged; the
/// micro-batch runtime tracks the largest `event_time` each batch saw and derives the
/// watermark (that maximum minus `delay_ms`), which stateful operators above use to drop late
/// rows and evict state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct WatermarkNode {
    /// The stream.
    pub input: LogicalPlan,
    /// The event-time column (a timestamp) of `input`.
    pub event_time: datafusion::common::Column,
    /// How late an event may be, in milliseconds.
    pub delay_ms: i64,
}

impl WatermarkNode {
    /// `input.withWatermark(event_time, delay)`, with Spark's checks on the column's type and
    /// the delay.
    pub fn plan(
        input: LogicalPlan,
        event_time: datafusion::common::Column,
        delay: &str,
    ) -> Result<LogicalPlan> {
        let field = input
            .schema()
            .field_with_name(event_time.relation.as_ref(), &event_time.name)
            .map_err(Error::DataFusion)?;
        if !matches!(field.data_type(), DataType::Timestamp(..)) {
            return Err(Error::analysis(
                "EVENT_TIME_IS_NOT_ON_TIMESTAMP_TYPE",
                format!(
                    "The event time `{}` has the invalid type \"{}\", but expected \"TIMESTAMP\".",
                    event_time.name,
                    crate::types::simple_string(field.data_type()).to_uppercase()
                ),
            ));
        }
        let micros = crate::functions::parse_interval(delay).ok_or_else(|| {
            Error::analysis(
                "CANNOT_PARSE_INTERVAL",
                format!(
                    "withWatermark(): cannot parse the delay threshold '{delay}'; use e.g. '10 seconds' or '5 minutes'"
                ),
            )
        })?;
        if micros < 0 {
            return Err(Error::analysis(
                "_LEGACY_ERROR_TEMP_1203",
                format!("delay threshold ({delay}) should not be negative."),
            ));
        }
        Ok(LogicalPlan::Extension(Extension {
            node: Arc::new(Self {
                input,
                event_time,
                delay_ms: micros / 1000,
            }),
        }))
    }
}

impl UserDefinedLogicalNodeCore for WatermarkNode {
    fn name(&self) -> &str {
        "EventTimeWatermark"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut Formatter) -> fmt::Result {
        write!(
            f,
            "EventTimeWatermark: {}, delay={} ms",
            self.event_time, self.delay_ms
        )
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        let input = inputs.into_iter().next().ok_or_else(|| {
            datafusion::error::DataFusionError::Internal(
                "EventTimeWatermark needs its input".into(),
            )
        })?;
        Ok(Self {
            input,
            event_time: self.event_time.clone(),
            delay_ms: self.delay_ms,
        })
    }
}

/// `dropDuplicates(keys)` / `dropDuplicatesWithinWatermark(keys)` on a stream: the first row
/// of each key over the whole stream (the keys seen are the operator's state; with a watermark
/// on a key column, keys older than the watermark are forgotten), or, within the watermark,
/// the first row of each key until its event time plus the delay passes the watermark.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct DeduplicateNode {
    /// The stream.
    pub input: LogicalPlan,
    /// The key columns of `input`.
    pub keys: Vec<datafusion::common::Column>,
    /// `dropDuplicatesWithinWatermark`.
    pub within_watermark: bool,
}

impl UserDefinedLogicalNodeCore for DeduplicateNode {
    fn name(&self) -> &str {
        "StreamingDeduplicate"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut Formatter) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(|k| k.to_string()).collect();
        let name = if self.within_watermark {
            "DeduplicateWithinWatermark"
        } else {
            "Deduplicate"
        };
        write!(f, "{name}: [{}]", keys.join(", "))
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        let input = inputs.into_iter().next().ok_or_else(|| {
            datafusion::error::DataFusionError::Internal("Deduplicate needs its input".into())
        })?;
        Ok(Self {
            input,
            keys: self.keys.clone(),
            within_watermark: self.within_watermark,
        })
    }
}

/// The node of type `T` that `plan` is, if it is one.
pub fn as_node<T: 'static>(plan: &LogicalPlan) -> Option<&T> {
    match plan {
        LogicalPlan::Extension(e) => e.node.as_any().downcast_ref::<T>(),
        _ => None,
    }
}

/// The temporary view a foreachBatch batch is registered under while the user's function
/// runs, which the client's `CachedRemoteRelation(relation_id)` reads.
pub fn batch_view_name(relation_id: &str) -> String {
    format!("__spate_foreach_batch_{}", relation_id.replace('-', "_"))
}
