//! JSON functions with Spark's semantics: `from_json(text, schema)` with a `StructType` (sent
//! as Spark's JSON form) or a DDL string, and `to_json(struct | map | array)`.
//!
//! `from_json` follows Spark's default PERMISSIVE mode: null text gives a null struct; text that
//! is not a JSON object gives a struct of nulls; a value that does not fit its field's type
//! makes that field null and keeps the others; an object or array read into a string field is
//! its JSON text. `to_json` leaves null fields out, writes timestamps as
//! `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` in the session time zone and dates as `yyyy-MM-dd`.
//!
//! `json_array_length(text)` counts a top-level array's elements and `json_object_keys(text)`
//! lists a top-level object's keys in their order; both are null for text that is not one.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, NullBufferBuilder, StringBuilder, StructArray,
};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;
use serde_json::Value;
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The Spark functions this module rewrites that SQL text can call by name: SQL planning
/// sends them through the registry (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "from_json",
    "to_json",
    "json_array_length",
    "json_object_keys",
];

/// Resolves `from_json` and `to_json`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    Ok(Some(match name {
        "json_array_length" | "json_object_keys" => {
            let [text] = args else {
                return Err(wrong_args(name, "1", args.len()));
            };
            let udf = ScalarUDF::new_from_impl(JsonShape {
                keys: name == "json_object_keys",
                signature: Signature::any(1, Volatility::Immutable),
            });
            let input = datafusion::logical_expr::cast(text.expr.clone(), DataType::Utf8);
            (udf.call(vec![input]), default_name(name, args, false))
        }
        "from_json" => {
            if args.len() < 2 || args.len() > 3 {
                return Err(wrong_args(name, "2 or 3", args.len()));
            }
            let text = match &args[1].expr {
                Expr::Literal(ScalarValue::Utf8(Some(s)), _) => s.clone(),
                other => {
                    return Err(Error::analysis(
                        "INVALID_SCHEMA.NON_STRING_LITERAL",
                        format!("the schema of from_json must be a string literal, got {other}"),
                    ));
                }
            };
            let unquoted = allows_unquoted_names(name, args.get(2), cx)?;
            let schema = match crate::json_schema::parse_schema_string(&text, cx.tz)? {
                DataType::Struct(fields) => fields,
                // a map or an array of the whole text
                t @ (DataType::Map(..) | DataType::List(_)) => {
                    let udf = ScalarUDF::new_from_impl(FromJsonValue {
                        target: t,
                        unquoted,
                        signature: Signature::any(1, Volatility::Immutable),
                    });
                    let e = udf.call(vec![args[0].expr.clone()]);
                    return Ok(Some((e, format!("from_json({})", args[0].name))));
                }
                other => {
                    return Err(Error::analysis(
                        "INVALID_SCHEMA.NON_STRUCT_TYPE",
                        format!(
                            "the schema of from_json must be a struct, a map or an array, got {other}"
                        ),
                    ));
                }
            };
            // every field can be null: a value that does not fit becomes null, as in Spark
            let schema: Fields = schema
                .iter()
                .map(|f| Arc::new(f.as_ref().clone().with_nullable(true)))
                .collect();
            let udf = ScalarUDF::new_from_impl(FromJson {
                fields: schema,
                unquoted,
                signature: Signature::any(1, Volatility::Immutable),
            });
            let e = udf.call(vec![args[0].expr.clone()]);
            (e, format!("from_json({})", args[0].name))
        }
        "to_json" => {
            let [value, ..] = args else {
                return Err(wrong_args(name, "1 or 2", 0));
            };
            let options = super::options_arg(name, args.get(1), cx)?;
            let option = |key: &str, default: &str| {
                options
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map_or_else(|| default.to_string(), |(_, v)| v.clone())
            };
            let udf = ScalarUDF::new_from_impl(ToJson {
                date_format: option("dateFormat", "yyyy-MM-dd"),
                timestamp_format: option("timestampFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
                tz: cx.tz.to_string(),
                signature: Signature::any(1, Volatility::Immutable),
            });
            (
                udf.call(vec![value.expr.clone()]),
                default_name(name, &args[..1], false),
            )
        }
        _ => return Ok(None),
    }))
}

/// Decodes JSON values to `t` with Arrow's decoder: all at once, or one by one when some
/// value does not decode (that one becomes null and is reported as failed).
pub fn decode_json_values(
    values: &[Option<&Value>],
    t: &DataType,
) -> Result<(ArrayRef, Vec<bool>)> {
    let schema = Arc::new(Schema::new(vec![Field::new("v", t.clone(), true)]));
    let decode = |rows: &[Value]| -> Option<ArrayRef> {
        let mut decoder = datafusion::arrow::json::ReaderBuilder::new(schema.clone())
            .with_coerce_primitive(true)
            .build_decoder()
            .ok()?;
        decoder.serialize(rows).ok()?;
        let batch = decoder.flush().ok()??;
        Some(batch.column(0).clone())
    };
    let wrap = |v: Option<&Value>| {
        let mut m = serde_json::Map::new();
        if let Some(v) = v {
            m.insert("v".into(), v.clone());
        }
        Value::Object(m)
    };
    let rows: Vec<Value> = values.iter().map(|v| wrap(*v)).collect();
    if let Some(array) = decode(&rows) {
        return Ok((array, vec![false; values.len()]));
    }
    let mut parts = Vec::with_capacity(rows.len());
    let mut failed = Vec::with_capacity(rows.len());
    for row in &rows {
        match decode(std::slice::from_ref(row)) {
            Some(a) => {
                parts.push(a);
                failed.push(false);
            }
            None => {
                parts.push(datafusion::arrow::array::new_null_array(t, 1));
                failed.push(true);
            }
        }
    }
    let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
    let array = concat(&refs).map_err(|e| Error::internal(e.to_string()))?;
    Ok((array, failed))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FromJson {
    fields: Fields,
    /// `allowUnquotedFieldNames`.
    unquoted: bool,
    signature: Signature,
}

/// Whether the options argument (a map of literals) sets `allowUnquotedFieldNames`.
pub(super) fn allows_unquoted_names(
    name: &str,
    options: Option<&Arg>,
    cx: &CallContext<'_>,
) -> Result<bool> {
    let pairs = super::options_arg(name, options, cx)?;
    Ok(pairs.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("allowUnquotedFieldNames") && v.eq_ignore_ascii_case("true")
    }))
}

/// JSON text with its unquoted object keys quoted (Jackson's `ALLOW_UNQUOTED_FIELD_NAMES`:
/// a key may be a bare identifier), for a parser that wants them quoted.
pub(super) fn quote_field_names(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    // whether each open container is an object; a key can start after `{` or an object's `,`
    let mut objects: Vec<bool> = Vec::new();
    let (mut i, mut in_string, mut expect_key) = (0, false, false);
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 1;
            } else if c == '"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                expect_key = false;
            }
            '{' | '[' => {
                objects.push(c == '{');
                expect_key = c == '{';
            }
            '}' | ']' => {
                objects.pop();
                expect_key = false;
            }
            ',' => expect_key = objects.last() == Some(&true),
            c if expect_key && (c.is_alphabetic() || c == '_' || c == '$') => {
                let start = i;
                while i < chars.len() && ident(chars[i]) {
                    i += 1;
                }
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if chars.get(next) == Some(&':') {
                    out.push('"');
                    out.push_str(&word);
                    out.push('"');
                } else {
                    out.push_str(&word);
                }
                expect_key = false;
                continue;
            }
            c if !c.is_whitespace() => expect_key = false,
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

/// `from_json` of a map or an array schema: the whole text as that value (null where it is
/// not one).
#[derive(Debug, PartialEq, Eq, Hash)]
struct FromJsonValue {
    target: DataType,
    unquoted: bool,
    signature: Signature,
}

impl ScalarUDFImpl for FromJsonValue {
    fn name(&self) -> &str {
        "from_json"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(self.target.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let text = datafusion::arrow::compute::cast(&input, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let values: Vec<Option<Value>> = (0..text.len())
            .map(|i| {
                if text.is_null(i) {
                    return None;
                }
                let raw = text.value(i);
                let parsed = if self.unquoted {
                    serde_json::from_str::<Value>(&quote_field_names(raw))
                } else {
                    serde_json::from_str::<Value>(raw)
                };
                match (parsed, &self.target) {
                    (Ok(v @ Value::Object(_)), DataType::Map(..))
                    | (Ok(v @ Value::Array(_)), DataType::List(_)) => Some(v),
                    _ => None,
                }
            })
            .collect();
        let refs: Vec<Option<&Value>> = values.iter().map(|v| v.as_ref()).collect();
        let (array, _) = decode_json_values(&refs, &self.target)
            .map_err(|e| DataFusionError::Execution(e.to_string()))?;
        Ok(ColumnarValue::Array(array))
    }
}

impl ScalarUDFImpl for FromJson {
    fn name(&self) -> &str {
        "from_json"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Struct(self.fields.clone()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let text = datafusion::arrow::compute::cast(&input, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let mut nulls = NullBufferBuilder::new(text.len());
        let objects: Vec<Option<serde_json::Map<String, Value>>> = (0..text.len())
            .map(|i| {
                nulls.append(!text.is_null(i));
                if text.is_null(i) {
                    return None;
                }
                let raw = text.value(i);
                let parsed = if self.unquoted {
                    serde_json::from_str::<Value>(&quote_field_names(raw))
                } else {
                    serde_json::from_str::<Value>(raw)
                };
                match parsed {
                    Ok(Value::Object(m)) => Some(m),
                    _ => None,
                }
            })
            .collect();
        let mut columns = Vec::with_capacity(self.fields.len());
        for field in self.fields.iter() {
            let as_text = matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8);
            let integral = field.data_type().is_integer();
            let values: Vec<Option<Value>> = objects
                .iter()
                .map(|o| {
                    let v = o.as_ref()?.get(field.name())?;
                    match v {
                        Value::Object(_) | Value::Array(_) if as_text => {
                            Some(Value::String(v.to_string()))
                        }
                        // Spark does not truncate 2.7 into an integer field
                        Value::Number(n)
                            if integral && n.as_i64().is_none() && n.as_u64().is_none() =>
                        {
                            None
                        }
                        other => Some(other.clone()),
                    }
                })
                .collect();
            let refs: Vec<Option<&Value>> = values.iter().map(|v| v.as_ref()).collect();
            let (array, _) = decode_json_values(&refs, field.data_type())
                .map_err(|e| DataFusionError::Execution(e.to_string()))?;
            columns.push(array);
        }
        let array = StructArray::try_new(self.fields.clone(), columns, nulls.finish())?;
        Ok(ColumnarValue::Array(Arc::new(array)))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ToJson {
    /// The `dateFormat` option's pattern.
    date_format: String,
    /// The `timestampFormat` option's pattern.
    timestamp_format: String,
    tz: String,
    signature: Signature,
}

impl ScalarUDFImpl for ToJson {
    fn name(&self) -> &str {
        "to_json"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let compile = |p: &str| {
            spate_common::datetime_pattern::DateTimePattern::compile(p)
                .map_err(DataFusionError::Execution)
        };
        let formats = Formats {
            date: compile(&self.date_format)?,
            timestamp: compile(&self.timestamp_format)?,
        };
        let zone: datafusion::arrow::array::timezone::Tz = self
            .tz
            .parse()
            .map_err(|e| DataFusionError::Execution(format!("unknown time zone: {e}")))?;
        let mut out = StringBuilder::new();
        for i in 0..input.len() {
            if input.is_null(i) {
                out.append_null();
                continue;
            }
            out.append_value(to_value(
                &ScalarValue::try_from_array(&input, i)?,
                &formats,
                &zone,
            )?);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// How `to_json` writes dates and timestamps.
struct Formats {
    date: spate_common::datetime_pattern::DateTimePattern,
    timestamp: spate_common::datetime_pattern::DateTimePattern,
}

/// A value as Spark's JSON writer writes it (object fields in the struct's order).
fn to_value(
    v: &ScalarValue,
    formats: &Formats,
    zone: &datafusion::arrow::array::timezone::Tz,
) -> DfResult<String> {
    use chrono::{Offset, TimeZone};
    if v.is_null() {
        return Ok("null".into());
    }
    let quoted = |s: &str| Value::String(s.to_string()).to_string();
    let list = |array: &ArrayRef| -> DfResult<String> {
        let items = (0..array.len())
            .map(|i| to_value(&ScalarValue::try_from_array(array, i)?, formats, zone))
            .collect::<DfResult<Vec<_>>>()?;
        Ok(format!("[{}]", items.join(",")))
    };
    Ok(match v {
        ScalarValue::Boolean(_)
        | ScalarValue::Int8(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::Decimal128(..) => v.to_string(),
        ScalarValue::Float32(Some(f)) => Value::from(f64::from(*f)).to_string(),
        ScalarValue::Float64(Some(f)) => Value::from(*f).to_string(),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => quoted(s),
        ScalarValue::Date32(Some(d)) => {
            let day = chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163)
                .ok_or_else(|| DataFusionError::Execution("date out of range".into()))?;
            quoted(&formats.date.format(day.and_time(chrono::NaiveTime::MIN), 0))
        }
        ScalarValue::TimestampMicrosecond(Some(us), _) => {
            let utc = chrono::DateTime::from_timestamp_micros(*us)
                .ok_or_else(|| DataFusionError::Execution("timestamp out of range".into()))?;
            let local = zone.from_utc_datetime(&utc.naive_utc());
            let offset = local.offset().fix().local_minus_utc();
            quoted(&formats.timestamp.format(local.naive_local(), offset))
        }
        ScalarValue::Struct(s) => {
            let mut items = Vec::new();
            for (field, column) in s.fields().iter().zip(s.columns()) {
                let value = ScalarValue::try_from_array(column, 0)?;
                if !value.is_null() {
                    let text = to_value(&value, formats, zone)?;
                    items.push(format!("{}:{text}", quoted(field.name())));
                }
            }
            format!("{{{}}}", items.join(","))
        }
        ScalarValue::List(l) => list(&l.value(0))?,
        ScalarValue::LargeList(l) => list(&l.value(0))?,
        ScalarValue::FixedSizeList(l) => list(&l.value(0))?,
        ScalarValue::Map(m) => {
            let entries = m.value(0);
            let (keys, values) = (entries.column(0), entries.column(1));
            let mut items = Vec::new();
            for i in 0..entries.len() {
                let key = ScalarValue::try_from_array(keys, i)?;
                let key = match &key {
                    ScalarValue::Utf8(Some(k)) => k.clone(),
                    other => other.to_string(),
                };
                let value = to_value(&ScalarValue::try_from_array(values, i)?, formats, zone)?;
                items.push(format!("{}:{value}", quoted(&key)));
            }
            format!("{{{}}}", items.join(","))
        }
        other => quoted(&other.to_string()),
    })
}

/// `json_array_length` (`keys` false) or `json_object_keys` (`keys` true).
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonShape {
    keys: bool,
    signature: Signature,
}

/// The keys of a JSON object in their order (serde's maps sort them); `None` for other text.
fn object_keys(text: &str) -> Option<Vec<String>> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<M: MapAccess<'de>>(
            self,
            mut map: M,
        ) -> std::result::Result<Self::Value, M::Error> {
            let mut keys = Vec::new();
            while let Some((k, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(k);
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let keys = de.deserialize_map(Keys).ok()?;
    de.end().ok()?;
    Some(keys)
}

impl ScalarUDFImpl for JsonShape {
    fn name(&self) -> &str {
        if self.keys {
            "json_object_keys"
        } else {
            "json_array_length"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(if self.keys {
            DataType::List(Arc::new(Field::new("element", DataType::Utf8, true)))
        } else {
            DataType::Int32
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let text = args.args[0].to_array(args.number_rows)?;
        let text = text.as_string::<i32>();
        let out: ArrayRef = if self.keys {
            let mut b = datafusion::arrow::array::ListBuilder::new(StringBuilder::new())
                .with_field(Arc::new(Field::new("element", DataType::Utf8, true)));
            for t in text.iter() {
                match t.and_then(object_keys) {
                    Some(keys) => {
                        keys.iter().for_each(|k| b.values().append_value(k));
                        b.append(true);
                    }
                    None => b.append(false),
                }
            }
            Arc::new(b.finish())
        } else {
            let lengths: datafusion::arrow::array::Int32Array = text
                .iter()
                .map(|t| match serde_json::from_str::<Value>(t?) {
                    Ok(Value::Array(a)) => i32::try_from(a.len()).ok(),
                    _ => None,
                })
                .collect();
            Arc::new(lengths)
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod shape_tests {
    #[test]
    fn object_keys_keep_their_order() {
        assert_eq!(
            super::object_keys(r#"{"b": 1, "a": {"c": 2}}"#),
            Some(vec!["b".to_string(), "a".to_string()])
        );
        assert_eq!(super::object_keys("{}"), Some(vec![]));
        assert_eq!(super::object_keys("[1]"), None);
        assert_eq!(super::object_keys("{\"a\": 1} x"), None);
    }
}

#[cfg(test)]
mod unquoted_tests {
    use super::quote_field_names;

    #[test]
    fn bare_keys_are_quoted_and_strings_left_alone() {
        assert_eq!(quote_field_names("{a: 1}"), r#"{"a": 1}"#);
        assert_eq!(
            quote_field_names(r#"{ab_1:{c:"x, d: y"}, "e":[{f:2}]}"#),
            r#"{"ab_1":{"c":"x, d: y"}, "e":[{"f":2}]}"#
        );
        assert_eq!(quote_field_names("[1, true, null]"), "[1, true, null]");
    }
}
