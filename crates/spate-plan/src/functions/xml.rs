//! `from_xml(xml, schema[, options])`, `schema_of_xml(xml[, options])` and
//! `to_xml(struct[, options])`, on `crate::xml_rows`. The schema is a DDL or JSON string (a
//! `StructType`, or `schema_of_xml` of a literal, which is computed while planning, as Spark
//! folds it); text that is no XML gives a row of nulls (Spark's PERMISSIVE mode). `to_xml`
//! writes the row element `rowTag` (`ROW` by default), timestamps by `timestampFormat`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Fields};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, arg_arrays, arg_type, default_name, string_literal, wrong_args};
use crate::xml_rows::{self, XmlOptions};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["from_xml", "schema_of_xml", "to_xml"];

fn options(name: &str, arg: Option<&Arg>, cx: &CallContext<'_>) -> Result<XmlOptions> {
    let pairs = super::options_arg(name, arg, cx)?;
    Ok(XmlOptions::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
}

/// Resolves the XML functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    match name {
        "schema_of_xml" => {
            let [xml, rest @ ..] = args else {
                return Err(wrong_args(name, "1 or 2", 0));
            };
            let text = string_literal(name, "xml", xml)?;
            let o = options(name, rest.first(), cx)?;
            let e = xml_rows::parse_element(&text).map_err(|why| {
                Error::analysis(
                    "MALFORMED_RECORD_IN_PARSING",
                    format!("schema_of_xml cannot parse {text:?}: {why}"),
                )
            })?;
            let t = xml_rows::finish(xml_rows::infer(&e, &o, true), cx.tz);
            Ok(Some((
                lit(crate::types::sql_string(&t)),
                default_name(name, &args[..1], false),
            )))
        }
        "from_xml" => {
            if !(2..=3).contains(&args.len()) {
                return Err(wrong_args(name, "2 or 3", args.len()));
            }
            let text = string_literal(name, "schema", &args[1])?;
            let fields = match crate::json_schema::parse_schema_string(&text, cx.tz)? {
                DataType::Struct(fields) => fields,
                other => {
                    return Err(Error::analysis(
                        "INVALID_SCHEMA.NON_STRUCT_TYPE",
                        format!("the schema of from_xml must be a struct, got {other}"),
                    ));
                }
            };
            let fields: Fields = fields
                .iter()
                .map(|f| Arc::new(f.as_ref().clone().with_nullable(true)))
                .collect();
            let udf = ScalarUDF::new_from_impl(Xml {
                op: Op::From {
                    fields,
                    options: options(name, args.get(2), cx)?,
                },
                signature: Signature::any(1, Volatility::Immutable),
            });
            Ok(Some((
                udf.call(vec![cast(args[0].expr.clone(), DataType::Utf8)]),
                format!("from_xml({})", args[0].name),
            )))
        }
        _ => {
            let [value, rest @ ..] = args else {
                return Err(wrong_args(name, "1 or 2", 0));
            };
            if !matches!(arg_type(value, cx)?, DataType::Struct(_)) {
                return Err(Error::analysis(
                    "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                    format!(
                        "Cannot resolve \"to_xml({})\": the first parameter requires the \"STRUCT\" type.",
                        value.name
                    ),
                ));
            }
            let o = options(name, rest.first(), cx)?;
            let pairs = super::options_arg(name, rest.first(), cx)?;
            let timestamp_format = pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("timestampFormat"))
                .map_or("yyyy-MM-dd'T'HH:mm:ss.SSSXXX".to_string(), |(_, v)| {
                    v.clone()
                });
            let udf = ScalarUDF::new_from_impl(Xml {
                op: Op::To {
                    options: o,
                    timestamp_format,
                    tz: cx.tz.to_string(),
                },
                signature: Signature::any(1, Volatility::Immutable),
            });
            Ok(Some((
                udf.call(vec![value.expr.clone()]),
                default_name(name, &args[..1], false),
            )))
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum Op {
    From {
        fields: Fields,
        options: XmlOptions,
    },
    To {
        options: XmlOptions,
        timestamp_format: String,
        tz: String,
    },
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Xml {
    op: Op,
    signature: Signature,
}

impl ScalarUDFImpl for Xml {
    fn name(&self) -> &str {
        match self.op {
            Op::From { .. } => "from_xml",
            Op::To { .. } => "to_xml",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(match &self.op {
            Op::From { fields, .. } => DataType::Struct(fields.clone()),
            Op::To { .. } => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = arg_arrays(&args)?;
        match &self.op {
            Op::From { fields, options } => {
                let text = arrays[0].as_string::<i32>();
                let t = DataType::Struct(fields.clone());
                let values: Vec<Option<serde_json::Value>> = (0..text.len())
                    .map(|i| {
                        if text.is_null(i) {
                            return None;
                        }
                        // a text that is no XML is a row of nulls (PERMISSIVE)
                        Some(match xml_rows::parse_element(text.value(i)) {
                            Ok(e) => xml_rows::to_json(&e, &t, options),
                            Err(_) => serde_json::Value::Object(serde_json::Map::new()),
                        })
                    })
                    .collect();
                let refs: Vec<Option<&serde_json::Value>> =
                    values.iter().map(Option::as_ref).collect();
                let (decoded, _) = super::decode_json_values(&refs, &t)?;
                let decoded = decoded.as_struct().clone();
                let nulls = NullBuffer::from(
                    (0..text.len())
                        .map(|i| !text.is_null(i))
                        .collect::<Vec<_>>(),
                );
                let (f, columns, _) = decoded.into_parts();
                Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(
                    f,
                    columns,
                    Some(nulls),
                )?)))
            }
            Op::To {
                options,
                timestamp_format,
                tz,
            } => {
                let column = arrays[0]
                    .as_struct_opt()
                    .ok_or_else(|| DataFusionError::Execution("to_xml takes a struct".into()))?;
                let pattern =
                    spate_common::datetime_pattern::DateTimePattern::compile(timestamp_format)
                        .map_err(DataFusionError::Execution)?;
                let mut out = StringBuilder::new();
                for i in 0..column.len() {
                    if column.is_null(i) {
                        out.append_null();
                    } else {
                        out.append_value(xml_rows::write_row(
                            column,
                            i,
                            &options.row_tag,
                            0,
                            options,
                            &pattern,
                            tz,
                        ));
                    }
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
        }
    }
}
