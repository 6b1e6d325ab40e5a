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
pub const STREAMING_FORMATS: &[&str] = &["rate", "json", "csv", "parquet", "text"];

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
            "rate" => Arc::new(Schema::new(vec![
                Field::new(
                    "timestamp",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    true,
                ),
                Field::new("value", DataType::Int64, true),
            ])),
            "text" => Arc::new(Schema::new(vec![Field::new("value", DataType::Utf8, true)])),
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
        if format != "rate" && path.is_none() {
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
