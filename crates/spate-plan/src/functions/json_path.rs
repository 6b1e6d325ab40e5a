//! JSON functions that read JSON text without a schema: `get_json_object(json, path)`,
//! `json_tuple(json, field, ...)` and `schema_of_json(json)`.
//!
//! `json_tuple` is a generator of one row per input row: columns `c0, c1, ...` holding the
//! named top-level fields as `get_json_object` would return them (null for a missing field,
//! JSON that is not an object, or a null input). It is `inline` over a one-struct array.
//!
//! `get_json_object` follows Spark's JSON path subset: `$`, then `.name`, `['name']` and
//! `[index]` steps (no wildcards). A string is returned without its quotes, a number or
//! boolean as its text, an object or array as compact JSON (its keys sorted: the JSON reader
//! does not keep their order, Spark does); JSON `null`, a missing step, text that is not JSON
//! or a path Spark would reject give null.
//!
//! `schema_of_json` infers the type Spark's JSON reader would read a literal as, in Spark's
//! DDL form (`STRUCT<a: ARRAY<DOUBLE>>`): fields sorted by name, integers `BIGINT`, other
//! numbers `DOUBLE`, `null` and empty arrays' elements `STRING`, differing types merged as
//! Spark merges them (a number and a string: `STRING`).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit,
};
use datafusion::scalar::ScalarValue;
use serde_json::Value;
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["get_json_object", "json_tuple", "schema_of_json"];

/// Resolves `get_json_object`, `json_tuple` and `schema_of_json`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    Ok(Some(match name {
        "json_tuple" => {
            let Some((json, fields)) = args.split_first().filter(|(_, f)| !f.is_empty()) else {
                return Err(wrong_args(name, "> 1", args.len()));
            };
            let fields = fields
                .iter()
                .map(|f| match &f.expr {
                    Expr::Literal(ScalarValue::Utf8(Some(s)), _) => Ok(s.clone()),
                    _ => Err(Error::analysis(
                        "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
                        format!(
                            "json_tuple(): the field names must be string literals, got {}",
                            f.name
                        ),
                    )),
                })
                .collect::<Result<Vec<_>>>()?;
            let udf = ScalarUDF::new_from_impl(JsonTuple {
                fields,
                signature: Signature::any(1, Volatility::Immutable),
            });
            let row = udf.call(vec![cast(json.expr.clone(), DataType::Utf8)]);
            let array = super::call_registered(cx, "make_array", vec![row])?;
            (
                super::generator::inline_named(name, array),
                default_name(name, args, false),
            )
        }
        "get_json_object" => {
            let [json, path] = args else {
                return Err(wrong_args(name, "2", args.len()));
            };
            let udf = ScalarUDF::new_from_impl(GetJsonObject {
                signature: Signature::any(2, Volatility::Immutable),
            });
            let e = udf.call(vec![
                cast(json.expr.clone(), DataType::Utf8),
                cast(path.expr.clone(), DataType::Utf8),
            ]);
            (e, default_name(name, args, false))
        }
        "schema_of_json" => {
            let [json, ..] = args else {
                return Err(wrong_args(name, "1 or 2", 0));
            };
            let text = match &json.expr {
                Expr::Literal(ScalarValue::Utf8(Some(s)), _) => s.clone(),
                other => {
                    return Err(Error::analysis(
                        "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
                        format!(
                            "cannot resolve \"schema_of_json({})\": the input json should be a \
                             foldable STRING expression, got {other}",
                            json.name
                        ),
                    ));
                }
            };
            // typing the call for SQL planning: the options may be a column then; the type
            // is a string either way
            if cx.typing && args.len() > 1 {
                return Ok(Some((lit(""), default_name(name, &args[..1], false))));
            }
            let text = if super::json::allows_unquoted_names(name, args.get(1), cx)? {
                super::json::quote_field_names(&text)
            } else {
                text
            };
            let inferred = serde_json::from_str::<Value>(&text)
                .map(|v| infer(&v).ddl())
                .map_err(|e| {
                    Error::analysis(
                        "MALFORMED_RECORD_IN_PARSING",
                        format!("schema_of_json cannot parse {text:?}: {e}"),
                    )
                })?;
            (lit(inferred), default_name(name, &args[..1], false))
        }
        _ => return Ok(None),
    }))
}

/// One step of a JSON path.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    /// `[*]`: every element of an array
    Each,
}

/// Parses Spark's JSON path subset; `None` for a path Spark would not follow.
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']")?;
            steps.push(Step::Field(r[..end].to_string()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inside = r[..end].trim();
            steps.push(if inside == "*" {
                Step::Each
            } else {
                Step::Index(inside.parse().ok()?)
            });
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() || name == "*" {
                return None;
            }
            steps.push(Step::Field(name.to_string()));
            rest = &r[end..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The value `path` picks from `json`, as `get_json_object` returns it.
#[cfg(test)]
fn get_json_object(json: &str, path: &str) -> Option<String> {
    follow(json, &parse_path(path)?)
}

/// The value the parsed path `steps` picks from `json`, as `get_json_object` returns it. With
/// `[*]` in the path, every match counts: none is null, one is its JSON text (a string keeps
/// its quotes), several are a JSON array of them, as Spark writes them.
fn follow(json: &str, steps: &[Step]) -> Option<String> {
    let value = serde_json::from_str::<Value>(json).ok()?;
    if !steps.contains(&Step::Each) {
        return as_text(pick(value, steps).into_iter().next()?);
    }
    let mut found = pick(value, steps);
    match found.len() {
        0 => None,
        1 => found.pop().map(|v| v.to_string()),
        _ => Some(Value::Array(found).to_string()),
    }
}

/// The values `steps` reach from `value` (one at most without `[*]`); `[*]` of arrays of
/// arrays flattens, as Spark's.
fn pick(value: Value, steps: &[Step]) -> Vec<Value> {
    let Some((step, rest)) = steps.split_first() else {
        return if value.is_null() { vec![] } else { vec![value] };
    };
    match (step, value) {
        (Step::Field(name), Value::Object(mut m)) => match m.remove(name) {
            Some(v) => pick(v, rest),
            None => vec![],
        },
        (Step::Index(i), Value::Array(mut a)) if *i < a.len() => pick(a.swap_remove(*i), rest),
        (Step::Each, Value::Array(a)) => a.into_iter().flat_map(|v| pick(v, rest)).collect(),
        _ => vec![],
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct GetJsonObject {
    signature: Signature,
}

impl ScalarUDFImpl for GetJsonObject {
    fn name(&self) -> &str {
        "get_json_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let json = args.args[0].to_array(args.number_rows)?;
        let json = json.as_string::<i32>();
        // a literal path (the usual case) is parsed once, not per row
        let constant = match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::Utf8(p)) => Some(p.as_deref().and_then(parse_path)),
            _ => None,
        };
        let paths = args.args[1].to_array(args.number_rows)?;
        let paths = paths.as_string::<i32>();
        let mut out = StringBuilder::new();
        for i in 0..json.len() {
            let parsed;
            let steps = match &constant {
                Some(steps) => steps.as_deref(),
                None => {
                    parsed = (!paths.is_null(i))
                        .then(|| parse_path(paths.value(i)))
                        .flatten();
                    parsed.as_deref()
                }
            };
            match steps {
                Some(steps) if !json.is_null(i) => out.append_option(follow(json.value(i), steps)),
                _ => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The struct of `json_tuple`'s columns for each row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonTuple {
    fields: Vec<String>,
    signature: Signature,
}

impl JsonTuple {
    fn struct_fields(&self) -> datafusion::arrow::datatypes::Fields {
        (0..self.fields.len())
            .map(|i| {
                datafusion::arrow::datatypes::Field::new(format!("c{i}"), DataType::Utf8, true)
            })
            .collect()
    }
}

impl ScalarUDFImpl for JsonTuple {
    fn name(&self) -> &str {
        "json_tuple"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Struct(self.struct_fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let json = args.args[0].to_array(args.number_rows)?;
        let json = json.as_string::<i32>();
        let mut columns: Vec<StringBuilder> =
            self.fields.iter().map(|_| StringBuilder::new()).collect();
        for i in 0..json.len() {
            let object = (!json.is_null(i))
                .then(|| serde_json::from_str::<Value>(json.value(i)).ok())
                .flatten();
            let mut object = match object {
                Some(Value::Object(m)) => Some(m),
                _ => None,
            };
            for (field, column) in self.fields.iter().zip(&mut columns) {
                let value = object.as_mut().and_then(|m| m.remove(field));
                column.append_option(value.and_then(as_text));
            }
        }
        let columns = columns
            .into_iter()
            .map(|mut c| Arc::new(c.finish()) as datafusion::arrow::array::ArrayRef)
            .collect();
        let array =
            datafusion::arrow::array::StructArray::try_new(self.struct_fields(), columns, None)?;
        Ok(ColumnarValue::Array(Arc::new(array)))
    }
}

/// A JSON value as `get_json_object` and `json_tuple` return it: a string without its quotes,
/// anything else as its (compact) JSON text, `null` as null.
fn as_text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// A type as Spark's JSON schema inference sees it.
#[derive(Debug, Clone, PartialEq)]
enum Inferred {
    Null,
    Boolean,
    Long,
    Double,
    String,
    Array(Box<Inferred>),
    Struct(BTreeMap<String, Inferred>),
}

fn infer(v: &Value) -> Inferred {
    match v {
        Value::Null => Inferred::Null,
        Value::Bool(_) => Inferred::Boolean,
        Value::Number(n) if n.is_i64() => Inferred::Long,
        Value::Number(_) => Inferred::Double,
        Value::String(_) => Inferred::String,
        Value::Array(items) => Inferred::Array(Box::new(
            items
                .iter()
                .map(infer)
                .reduce(merge)
                .unwrap_or(Inferred::Null),
        )),
        Value::Object(m) => {
            Inferred::Struct(m.iter().map(|(k, v)| (k.clone(), infer(v))).collect())
        }
    }
}

/// The type two values of one field are both read as.
fn merge(a: Inferred, b: Inferred) -> Inferred {
    use Inferred::*;
    match (a, b) {
        (Null, t) | (t, Null) => t,
        (a, b) if a == b => a,
        (Long, Double) | (Double, Long) => Double,
        (Array(a), Array(b)) => Array(Box::new(merge(*a, *b))),
        (Struct(mut a), Struct(b)) => {
            for (k, t) in b {
                let merged = match a.remove(&k) {
                    Some(old) => merge(old, t),
                    None => t,
                };
                a.insert(k, merged);
            }
            Struct(a)
        }
        _ => String,
    }
}

impl Inferred {
    /// Spark's DDL form of the type (`NullType` is read as a string).
    fn ddl(&self) -> String {
        match self {
            Inferred::Null | Inferred::String => "STRING".into(),
            Inferred::Boolean => "BOOLEAN".into(),
            Inferred::Long => "BIGINT".into(),
            Inferred::Double => "DOUBLE".into(),
            Inferred::Array(t) => format!("ARRAY<{}>", t.ddl()),
            Inferred::Struct(fields) => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(k, t)| format!("{}: {}", quote(k), t.ddl()))
                    .collect();
                format!("STRUCT<{}>", fields.join(", "))
            }
        }
    }
}

/// A field name as Spark writes it in DDL: backquoted unless a plain identifier.
fn quote(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_collect_every_match() {
        let json = r#"[{"f1": "value1"}, {"f1": "value2"}, {"f2": 3}]"#;
        assert_eq!(
            get_json_object(json, "$[*].f1").as_deref(),
            Some(r#"["value1","value2"]"#)
        );
        assert_eq!(get_json_object(json, "$[*].f2").as_deref(), Some("3"));
        assert_eq!(
            get_json_object(r#"[{"f1": "a"}]"#, "$[*].f1").as_deref(),
            Some(r#""a""#)
        );
        assert_eq!(get_json_object(json, "$[*].f3"), None);
    }

    #[test]
    fn paths_pick_values_as_spark_returns_them() {
        let j = r#"{"a": {"b": [10, {"c": "x"}]}, "n": null, "f": 1.5}"#;
        assert_eq!(get_json_object(j, "$.a.b[0]").as_deref(), Some("10"));
        assert_eq!(get_json_object(j, "$['a'].b[1].c").as_deref(), Some("x"));
        assert_eq!(
            get_json_object(j, "$.a.b[1]").as_deref(),
            Some(r#"{"c":"x"}"#)
        );
        assert_eq!(get_json_object(j, "$.f").as_deref(), Some("1.5"));
        assert_eq!(get_json_object(j, "$.n"), None);
        assert_eq!(get_json_object(j, "$.missing"), None);
        assert_eq!(get_json_object(j, "a"), None);
        assert_eq!(get_json_object("not json", "$.a"), None);
    }

    #[test]
    fn schemas_are_inferred_as_spark_infers_them() -> serde_json::Result<()> {
        let ddl = |s: &str| serde_json::from_str(s).map(|v| infer(&v).ddl());
        assert_eq!(ddl(r#"{"a": [1.5]}"#)?, "STRUCT<a: ARRAY<DOUBLE>>");
        assert_eq!(
            ddl(r#"{"b": 1, "a": [1, 2.5], "c": null, "d e": [], "f": [{"x": 1}, {"y": "s"}]}"#)?,
            "STRUCT<a: ARRAY<DOUBLE>, b: BIGINT, c: STRING, `d e`: ARRAY<STRING>, f: ARRAY<STRUCT<x: BIGINT, y: STRING>>>"
        );
        assert_eq!(ddl("[1, \"a\"]")?, "ARRAY<STRING>");
        Ok(())
    }
}
