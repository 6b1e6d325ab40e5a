//! `Parse`: `spark.read.json(df)` and `spark.read.xml(df)` — a DataFrame of one string column
//! read as JSON lines or XML records (`rowTag` elements), with the given schema or one
//! inferred over all of them as the file readers infer it (JSON fields sorted by name, a
//! number that is sometimes fractional a double; XML as `crate::xml_rows` infers). A JSON
//! text that does not parse is a row of nulls with the text in `_corrupt_record` (Spark's
//! PERMISSIVE mode). CSV text is not
//! read this way yet.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::logical_expr::LogicalPlan;
use spark_connect_proto::spark::connect::Parse;
use spark_connect_proto::spark::connect::parse::ParseFormat;
use spate_common::{Error, Result};

use super::Resolver;
use super::expression::required;
use crate::xml_rows::{self, XmlOptions};

impl Resolver<'_> {
    /// Resolves `Parse` by reading its input's strings now.
    pub(super) async fn parse_relation(&self, p: &Parse) -> Result<LogicalPlan> {
        let input = self.relation(required(&p.input)?).await?;
        if input.schema().fields().len() != 1 {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                "parsing a DataFrame takes one string column",
            ));
        }
        let batches = self.run(input, "parse").await?;
        let mut texts: Vec<String> = Vec::new();
        for b in &batches {
            let column = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8)?;
            let column = column.as_string::<i32>();
            texts.extend(
                (0..column.len())
                    .filter(|i| !column.is_null(*i))
                    .map(|i| column.value(i).to_string()),
            );
        }
        let schema: Option<SchemaRef> = match &p.schema {
            Some(t) => match crate::types::from_proto(t, &self.tz)? {
                DataType::Struct(fields) => Some(Arc::new(Schema::new(fields))),
                other => {
                    return Err(Error::analysis(
                        "INVALID_SCHEMA.NON_STRUCT_TYPE",
                        format!("the schema to parse with must be a struct, got {other}"),
                    ));
                }
            },
            None => None,
        };
        let batch = match ParseFormat::try_from(p.format).unwrap_or(ParseFormat::Unspecified) {
            ParseFormat::Json => json_rows(&texts, schema)?,
            ParseFormat::Xml => {
                let options =
                    XmlOptions::from_pairs(p.options.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let mut rows = Vec::new();
                for t in &texts {
                    // a text that is no XML has no records
                    rows.extend(xml_rows::records(t, &options.row_tag).unwrap_or_default());
                }
                xml_rows::rows_batch(&rows, schema, &options, &self.tz)?
            }
            other => {
                return Err(Error::unsupported(format!(
                    "parsing a DataFrame as {}",
                    other.as_str_name()
                )));
            }
        };
        let schema = batch.schema();
        self.memory_plan(schema, vec![batch])
    }
}

/// The column Spark keeps a corrupt record's text in (`columnNameOfCorruptRecord`).
const CORRUPT_RECORD: &str = "_corrupt_record";

/// JSON texts as rows: of `schema`, or of the one inferred from them.
fn json_rows(texts: &[String], schema: Option<SchemaRef>) -> Result<RecordBatch> {
    // a text that is no JSON object keeps its text in `_corrupt_record`, as Spark's reader
    // keeps it (the column is there when some text is corrupt)
    let mut corrupt = false;
    let values: Vec<serde_json::Value> = texts
        .iter()
        .map(|t| match serde_json::from_str::<serde_json::Value>(t) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => {
                corrupt = true;
                serde_json::json!({ CORRUPT_RECORD: t })
            }
        })
        .collect();
    let schema = match schema {
        Some(s) => s,
        None => {
            let good = values.iter().filter(|v| v.get(CORRUPT_RECORD).is_none());
            let mut inferred =
                datafusion::arrow::json::reader::infer_json_schema_from_iterator(good.map(Ok))
                    .map_err(|e| Error::analysis("UNABLE_TO_INFER_SCHEMA", e.to_string()))?;
            if corrupt {
                let mut fields: Vec<Field> = inferred
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                fields.push(Field::new(CORRUPT_RECORD, DataType::Utf8, true));
                inferred = Schema::new(fields);
            }
            let mut fields: Vec<Field> = inferred
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect();
            fields.sort_by(|a, b| a.name().cmp(b.name()));
            Arc::new(Schema::new(fields))
        }
    };
    let mut decoder = datafusion::arrow::json::ReaderBuilder::new(schema.clone())
        .with_coerce_primitive(true)
        .build_decoder()?;
    decoder.serialize(&values)?;
    Ok(decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema)))
}
