//! Spark's JSON form of types (`StructType.json()`), which PySpark sends for the schema of
//! `createDataFrame` and `DataFrameReader.schema(StructType)`:
//! `{"type":"struct","fields":[{"name":"a","type":"integer","nullable":true,"metadata":{}}]}`.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use serde_json::Value;
use spate_common::{Error, Result};

use crate::{type_parser, types};

/// Parses a type in Spark's JSON form.
pub fn parse(text: &str, tz: &str) -> Result<DataType> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| Error::parse(format!("invalid JSON schema: {e}")))?;
    from_value(&v, tz)
}

fn from_value(v: &Value, tz: &str) -> Result<DataType> {
    match v {
        Value::String(s) => type_parser::parse_data_type(s, tz),
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
            match kind {
                "struct" => {
                    let fields = o
                        .get("fields")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let fields = fields
                        .iter()
                        .map(|f| {
                            let name = f.get("name").and_then(Value::as_str).unwrap_or_default();
                            let t = from_value(f.get("type").unwrap_or(&Value::Null), tz)?;
                            let nullable =
                                f.get("nullable").and_then(Value::as_bool).unwrap_or(true);
                            Ok(Field::new(name, t, nullable))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Ok(DataType::Struct(Fields::from(fields)))
                }
                "array" => {
                    let element = from_value(o.get("elementType").unwrap_or(&Value::Null), tz)?;
                    let nullable = o
                        .get("containsNull")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    Ok(DataType::List(Arc::new(Field::new(
                        "element", element, nullable,
                    ))))
                }
                "map" => {
                    let k = from_value(o.get("keyType").unwrap_or(&Value::Null), tz)?;
                    let v = from_value(o.get("valueType").unwrap_or(&Value::Null), tz)?;
                    let nullable = o
                        .get("valueContainsNull")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    Ok(types::map(k, v, nullable))
                }
                "udt" => match o.get("sqlType") {
                    Some(inner) => from_value(inner, tz),
                    None => Err(Error::unsupported("a user-defined type without sqlType")),
                },
                other => Err(Error::parse(format!(
                    "unknown type '{other}' in a JSON schema"
                ))),
            }
        }
        other => Err(Error::parse(format!(
            "invalid type {other} in a JSON schema"
        ))),
    }
}

/// Parses a schema string that is either Spark JSON or DDL.
pub fn parse_schema_string(text: &str, tz: &str) -> Result<DataType> {
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('"') {
        parse(text, tz)
    } else {
        type_parser::parse_data_type(text, tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pyspark_struct_json() {
        let json = r#"{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{}},{"name":"b","type":{"type":"array","elementType":"string","containsNull":true},"nullable":false,"metadata":{}}]}"#;
        let t = parse(json, "UTC").ok();
        assert_eq!(
            t.as_ref().map(types::simple_string).as_deref(),
            Some("struct<a:bigint,b:array<string>>")
        );
    }
}
