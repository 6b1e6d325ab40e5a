//! Result batches as PySpark reads them: Arrow IPC streams, with Arrow types PySpark knows
//! (string and binary views, large and dictionary types are turned into their plain forms,
//! timestamps into microseconds) and the field names Spark gives.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::ipc::writer::StreamWriter;
use spate_common::{Error, Result};

/// The PySpark-friendly form of a type.
pub fn plain_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary | DataType::FixedSizeBinary(_) => {
            DataType::Binary
        }
        DataType::Dictionary(_, v) => plain_type(v),
        DataType::Date64 => DataType::Date32,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 => DataType::Float32,
        DataType::Duration(_) => DataType::Duration(TimeUnit::Microsecond),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => DataType::List(Arc::new(plain_field(f))),
        DataType::FixedSizeList(f, _) => DataType::List(Arc::new(plain_field(f))),
        // a VARIANT, GEOMETRY or GEOGRAPHY keeps the field metadata that marks it for PySpark
        t if spate_plan::types::is_variant(t) || spate_plan::types::spatial_of(t).is_some() => {
            t.clone()
        }
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| plain_field(f)).collect::<Fields>())
        }
        DataType::Map(f, sorted) => DataType::Map(Arc::new(plain_field(f)), *sorted),
        other => other.clone(),
    }
}

fn plain_field(f: &Field) -> Field {
    // a column's Spark metadata stays (the schema sent to the client carries it), and so do a
    // year-month interval's fields (its Spark type)
    let metadata = f
        .metadata()
        .iter()
        .filter(|(k, _)| {
            k.as_str() == spate_plan::types::SPARK_METADATA
                || k.as_str() == spate_plan::functions::ym_interval::FIELDS_KEY
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Field::new(f.name(), plain_type(f.data_type()), f.is_nullable()).with_metadata(metadata)
}

/// The schema results are sent with.
pub fn plain_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| plain_field(f))
            .collect::<Vec<_>>(),
    ))
}

/// Casts a batch to `schema` (from [`plain_schema`]).
pub fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| -> Result<ArrayRef> {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                cast(c, f.data_type())
                    .map_err(|e| Error::internal(format!("result conversion: {e}")))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    // a result of no columns still has its rows (`df.select().isEmpty()`)
    let options =
        datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(schema.clone(), columns, &options)
        .map_err(|e| Error::internal(format!("result batch: {e}")))
}

/// Encodes batches as one Arrow IPC stream.
pub fn to_ipc(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut buf, schema)
            .map_err(|e| Error::internal(format!("ipc: {e}")))?;
        for b in batches {
            w.write(b)
                .map_err(|e| Error::internal(format!("ipc: {e}")))?;
        }
        w.finish()
            .map_err(|e| Error::internal(format!("ipc: {e}")))?;
    }
    Ok(buf)
}
