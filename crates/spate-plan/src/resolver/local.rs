//! LocalRelation (`createDataFrame` from rows, tuples or pandas: Arrow IPC bytes plus a
//! schema), its cached forms for data too large to inline (CachedLocalRelation: a serialized
//! LocalRelation uploaded as the artifact `cache/<sha256>`; ChunkedCachedLocalRelation: Arrow
//! IPC chunks and the schema text uploaded as such artifacts, read through [`CachedBlobs`]) and
//! Range (`spark.range`, a lazily generated `id` column).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use spark_connect_proto::spark::connect as sc;
use spate_common::{Error, Result};

use super::Resolver;
use crate::json_schema;

/// Where a session keeps the blobs its client uploaded (AddArtifacts' `cache/<sha256>`).
pub trait CachedBlobs: Send + Sync {
    /// The blob with this hash; Spark's error naming the hash when it was never uploaded.
    fn blob(&self, hash: &str) -> Result<bytes::Bytes>;
}

impl Resolver<'_> {
    pub(super) fn local_relation(&self, l: &sc::LocalRelation) -> Result<LogicalPlan> {
        let sc::LocalRelation { data, schema } = l;
        self.local_data(schema.as_deref(), data.iter().cloned())
    }

    pub(super) fn cached_local_relation(&self, c: &sc::CachedLocalRelation) -> Result<LogicalPlan> {
        let sc::CachedLocalRelation { hash } = c;
        let bytes = self.blobs()?.blob(hash)?;
        let local = <sc::LocalRelation as prost::Message>::decode(bytes).map_err(|e| {
            Error::IllegalArgument(format!(
                "the cached local relation '{hash}' is not a serialized LocalRelation: {e}"
            ))
        })?;
        self.local_relation(&local)
    }

    pub(super) fn chunked_cached_local_relation(
        &self,
        c: &sc::ChunkedCachedLocalRelation,
    ) -> Result<LogicalPlan> {
        let sc::ChunkedCachedLocalRelation {
            data_hashes,
            schema_hash,
        } = c;
        let blobs = self.blobs()?;
        let schema = match schema_hash {
            Some(h) => Some(String::from_utf8(blobs.blob(h)?.to_vec()).map_err(|_| {
                Error::IllegalArgument(format!("the cached schema '{h}' is not UTF-8 text"))
            })?),
            None => None,
        };
        let chunks = data_hashes
            .iter()
            .map(|h| blobs.blob(h))
            .collect::<Result<Vec<_>>>()?;
        self.local_data(schema.as_deref(), chunks.into_iter())
    }

    fn blobs(&self) -> Result<&dyn CachedBlobs> {
        self.blobs.ok_or_else(|| {
            Error::unsupported("cached local relations outside a Spark Connect session")
        })
    }

    /// Rows given as Arrow IPC streams, with the schema the client declared (JSON or DDL) or
    /// else the streams' own.
    fn local_data(
        &self,
        schema: Option<&str>,
        chunks: impl Iterator<Item = bytes::Bytes>,
    ) -> Result<LogicalPlan> {
        let declared = match schema {
            Some(s) => match json_schema::parse_schema_string(s, &self.tz)? {
                DataType::Struct(fields) => Some(Arc::new(Schema::new(fields))),
                other => Some(Arc::new(Schema::new(vec![Field::new(
                    "value", other, true,
                )]))),
            },
            None => None,
        };
        let mut batches = Vec::new();
        let mut ipc_schema: Option<SchemaRef> = None;
        for bytes in chunks {
            let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None).map_err(|e| {
                Error::IllegalArgument(format!("local relation data is not Arrow IPC: {e}"))
            })?;
            ipc_schema.get_or_insert(reader.schema());
            for b in reader {
                batches.push(
                    b.map_err(|e| Error::IllegalArgument(format!("bad Arrow IPC batch: {e}")))?,
                );
            }
        }
        let schema = match (&declared, &ipc_schema) {
            (Some(d), _) => d.clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => {
                return Err(Error::analysis(
                    "INVALID_SCHEMA",
                    "a local relation needs data or a schema",
                ));
            }
        };
        let batches = batches
            .into_iter()
            .map(|b| conform(&b, &schema))
            .collect::<Result<Vec<_>>>()?;
        self.memory_plan(schema, batches)
    }

    /// A plan scanning record batches held in memory.
    pub fn memory_plan(&self, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<LogicalPlan> {
        self.named_memory_plan(&self.fresh_alias(), schema, batches)
    }

    /// A plan scanning record batches held in memory, under the relation name `name`.
    pub(crate) fn named_memory_plan(
        &self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<LogicalPlan> {
        let table = MemTable::try_new(schema, vec![batches])?;
        Ok(LogicalPlanBuilder::scan(name, provider_as_source(Arc::new(table)), None)?.build()?)
    }

    pub(super) async fn range(&self, r: &sc::Range) -> Result<LogicalPlan> {
        let sc::Range {
            start,
            end,
            step,
            num_partitions,
        } = r;
        let start = start.unwrap_or(0);
        let partitions = match num_partitions {
            Some(n) if *n <= 0 => {
                return Err(Error::IllegalArgument(format!(
                    "the number of partitions of range() must be positive, got {n}"
                )));
            }
            Some(n) => format!(", {n}"),
            None => String::new(),
        };
        if *step == 0 {
            return Err(Error::IllegalArgument(
                "the step of range() must not be 0".into(),
            ));
        }
        // The session's `range` table function (Spark's, column `id`).
        let sql = format!("SELECT id FROM range({start}, {end}, {step}{partitions})");
        Ok(self.state.create_logical_plan(&sql).await?)
    }
}

/// Casts and renames the columns of `batch` to `schema` (PySpark sends Python ints as int64,
/// names columns `_1`, `_2`, ... and leaves types to the declared schema).
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.num_columns() != schema.fields().len() {
        return Err(Error::analysis(
            "NUM_COLUMNS_MISMATCH",
            format!(
                "the data has {} columns but the schema has {}",
                batch.num_columns(),
                schema.fields().len()
            ),
        ));
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| -> Result<ArrayRef> {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else if c.data_type() == &DataType::Null {
                Ok(new_null_array(f.data_type(), c.len()))
            } else {
                cast(c, f.data_type()).map_err(|e| {
                    Error::analysis(
                        "DATATYPE_MISMATCH",
                        format!(
                            "column '{}' cannot be read as {}: {e}",
                            f.name(),
                            crate::types::simple_string(f.data_type())
                        ),
                    )
                })
            }
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| {
        Error::analysis(
            "DATATYPE_MISMATCH",
            format!("the data does not match the schema: {e}"),
        )
    })
}
