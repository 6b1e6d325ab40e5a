//! Spark's VARIANT functions: `parse_json` / `try_parse_json` (JSON text to a variant),
//! `to_json` of a variant, `is_variant_null`, `is_valid_variant`, `schema_of_variant` and the
//! aggregate `schema_of_variant_agg`, `variant_get` / `try_variant_get` (a path into the
//! value, cast to a type), and `to_variant_object` (a struct, map or array as a variant with
//! objects for its structs and maps). The encoding and the text forms are in
//! `crate::variant_json`; a VARIANT column is the struct `type_build::variant` describes.
//!
//! As in Spark: text that is no JSON, or has an object key twice, is
//! `MALFORMED_RECORD_IN_PARSING` (null for `try_parse_json`); a path that is not `$` followed by
//! `.name`, `['name']`, `["name"]` or `[index]` segments is `INVALID_VARIANT_GET_PATH`; a
//! value that does not cast to the asked type is `INVALID_VARIANT_CAST` (null for
//! `try_variant_get`); a path that leads nowhere is null.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, StringArray, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Expr, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use parquet_variant::{Variant, VariantBuilder};
use spate_common::{Error, Result};

use super::{Arg, CallContext, arg_arrays, arg_type, default_name, string_literal, wrong_args};
use crate::type_build::{is_variant, variant};
use crate::types::sql_string;
use crate::variant_json::{self as vj, Fault, Shape, Tree};

/// The scalar functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "parse_json",
    "try_parse_json",
    "is_variant_null",
    "is_valid_variant",
    "schema_of_variant",
    "variant_get",
    "try_variant_get",
    "to_variant_object",
];

/// The aggregates of this module.
pub(super) const AGG_NAMES: &[&str] = &["schema_of_variant_agg"];

/// Resolves the variant functions, and `to_json` of a variant.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let unary = |op: Op| -> Result<Option<(Expr, String)>> {
        let [arg] = args else {
            return Err(wrong_args(name, "1", args.len()));
        };
        let udf = ScalarUDF::new_from_impl(VariantUdf {
            name: name.to_string(),
            op,
            signature: Signature::any(1, Volatility::Immutable),
        });
        Ok(Some((
            udf.call(vec![arg.expr.clone()]),
            default_name(name, args, false),
        )))
    };
    match name {
        "parse_json" | "try_parse_json" => unary(Op::Parse {
            fail: name == "parse_json",
        }),
        "to_json" if args.first().is_some_and(|a| is_variant_arg(a, cx)) => {
            let label = default_name(name, &args[..1], false);
            let udf = ScalarUDF::new_from_impl(VariantUdf {
                name: name.to_string(),
                op: Op::Json {
                    tz: cx.tz.to_string(),
                },
                signature: Signature::any(1, Volatility::Immutable),
            });
            Ok(Some((udf.call(vec![args[0].expr.clone()]), label)))
        }
        "is_variant_null" => unary(Op::IsNull),
        "is_valid_variant" => unary(Op::IsValid),
        "schema_of_variant" => unary(Op::Schema),
        "to_variant_object" => {
            if let [arg] = args {
                let t = arg_type(arg, cx)?;
                if !objectable(&t, true) {
                    return Err(Error::analysis(
                        "DATATYPE_MISMATCH.CAST_WITHOUT_SUGGESTION",
                        format!(
                            "Cannot resolve \"to_variant_object({})\" due to data type mismatch: cannot cast \"{}\" to \"VARIANT\".",
                            arg.name,
                            sql_string(&t)
                        ),
                    ));
                }
            }
            unary(Op::Object)
        }
        "variant_get" | "try_variant_get" => {
            let [value, path, target] = args else {
                return Err(wrong_args(name, "3", args.len()));
            };
            let target = crate::type_parser::parse_data_type(
                &string_literal(name, "targetType", target)?,
                cx.tz,
            )?;
            let udf = ScalarUDF::new_from_impl(VariantUdf {
                name: name.to_string(),
                op: Op::Get {
                    target,
                    fail: name == "variant_get",
                    tz: cx.tz.to_string(),
                },
                signature: Signature::any(2, Volatility::Immutable),
            });
            Ok(Some((
                udf.call(vec![value.expr.clone(), path.expr.clone()]),
                default_name(name, &args[..2], false),
            )))
        }
        "schema_of_variant_agg" => {
            let [arg] = args else {
                return Err(wrong_args(name, "1", args.len()));
            };
            let udaf = AggregateUDF::new_from_impl(SchemaAgg {
                signature: Signature::any(1, Volatility::Immutable),
            });
            Ok(Some((
                udaf.call(vec![arg.expr.clone()]),
                default_name(name, args, false),
            )))
        }
        _ => Ok(None),
    }
}

fn is_variant_arg(arg: &Arg, cx: &CallContext<'_>) -> bool {
    arg_type(arg, cx).is_ok_and(|t| is_variant(&t))
}

/// Whether `to_variant_object` takes a value of type `t`: structs, maps with string keys and
/// arrays (at the top), of such or of any other type inside.
fn objectable(t: &DataType, top: bool) -> bool {
    match t {
        DataType::Struct(fields) if !is_variant(t) => {
            fields.iter().all(|f| objectable(f.data_type(), false))
        }
        DataType::List(f) | DataType::LargeList(f) => objectable(f.data_type(), false),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                matches!(kv[0].data_type(), DataType::Utf8 | DataType::Utf8View)
                    && objectable(kv[1].data_type(), false)
            }
            _ => false,
        },
        _ => !top,
    }
}

/// What a [`VariantUdf`] computes.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Op {
    Parse {
        fail: bool,
    },
    Json {
        tz: String,
    },
    IsNull,
    IsValid,
    Schema,
    Object,
    Get {
        target: DataType,
        fail: bool,
        tz: String,
    },
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct VariantUdf {
    name: String,
    op: Op,
    signature: Signature,
}

impl ScalarUDFImpl for VariantUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(match &self.op {
            Op::Parse { .. } | Op::Object => variant(),
            Op::Json { .. } | Op::Schema => DataType::Utf8,
            Op::IsNull | Op::IsValid => DataType::Boolean,
            Op::Get { target, .. } => target.clone(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = arg_arrays(&args)?;
        let rows = args.number_rows;
        let out: ArrayRef = match &self.op {
            Op::Parse { fail } => parse_column(&arrays[0], *fail)?,
            Op::Object => {
                let mut out = Vec::with_capacity(rows);
                for row in 0..rows {
                    out.push(if arrays[0].is_null(row) {
                        None
                    } else {
                        let tree = tree_of(&arrays[0], row)?;
                        Some(vj::encode(&tree).map_err(|f| fault_error(f, ""))?)
                    });
                }
                variant_column(out)
            }
            Op::Json { tz } => {
                let column = variant_input(&arrays[0])?;
                Arc::new(StringArray::from_iter(
                    (0..rows).map(|row| vj::cell_json(&column, row, tz)),
                ))
            }
            Op::Schema => {
                let column = variant_input(&arrays[0])?;
                Arc::new(StringArray::from_iter((0..rows).map(|row| {
                    vj::variant_at(&column, row).map(|v| vj::schema_of(&v).to_string())
                })))
            }
            Op::IsNull => {
                let column = variant_input(&arrays[0])?;
                Arc::new(BooleanArray::from_iter((0..rows).map(|row| {
                    Some(vj::variant_at(&column, row).is_some_and(|v| v == Variant::Null))
                })))
            }
            Op::IsValid => {
                let column = variant_input(&arrays[0])?;
                Arc::new(BooleanArray::from_iter((0..rows).map(|row| {
                    (!column.is_null(row)).then(|| {
                        vj::variant_at(&column, row)
                            .is_some_and(|v| v.with_full_validation().is_ok())
                    })
                })))
            }
            Op::Get { target, fail, tz } => get_column(&arrays, target, *fail, tz, &self.name)?,
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// A VARIANT argument; an untyped null (`is_variant_null(NULL)`) is a column of null
/// variants.
fn variant_input(array: &ArrayRef) -> DfResult<StructArray> {
    if array.data_type() == &DataType::Null {
        return Ok(variant_column(vec![None; array.len()]).as_struct().clone());
    }
    array
        .as_struct_opt()
        .cloned()
        .filter(|s| is_variant(s.data_type()))
        .ok_or_else(|| {
            datafusion::error::DataFusionError::Execution(format!(
                "expected a variant, got {}",
                array.data_type()
            ))
        })
}

/// A VARIANT column of encoded `(value, metadata)` rows.
fn variant_column(rows: Vec<Option<(Vec<u8>, Vec<u8>)>>) -> ArrayRef {
    let mut values = BinaryBuilder::new();
    let mut metadata = BinaryBuilder::new();
    let mut valid = Vec::with_capacity(rows.len());
    for row in &rows {
        let (v, m) = row
            .as_ref()
            .map_or((&[][..], &[][..]), |(v, m)| (v.as_slice(), m.as_slice()));
        values.append_value(v);
        metadata.append_value(m);
        valid.push(row.is_some());
    }
    let DataType::Struct(fields) = variant() else {
        return Arc::new(datafusion::arrow::array::NullArray::new(rows.len()));
    };
    Arc::new(StructArray::new(
        fields,
        vec![Arc::new(values.finish()), Arc::new(metadata.finish())],
        Some(NullBuffer::from(valid)),
    ))
}

fn fault_error(fault: Fault, text: &str) -> Error {
    match fault {
        Fault::Malformed(what) => Error::Runtime {
            exception: "org.apache.spark.SparkException",
            class: "MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION".into(),
            message: format!(
                "Malformed records are detected in record parsing: {text} ({what}). Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'."
            ),
        },
        // Spark reports a duplicate key as a malformed record too
        Fault::DuplicateKey(key) => Error::Runtime {
            exception: "org.apache.spark.SparkException",
            class: "MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION".into(),
            message: format!(
                "Malformed records are detected in record parsing: {text} (VARIANT_DUPLICATE_KEY: the object key `{key}` is given twice). Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'."
            ),
        },
        Fault::TooLarge => Error::Runtime {
            exception: "org.apache.spark.SparkRuntimeException",
            class: "VARIANT_SIZE_LIMIT".into(),
            message: "Cannot build variant bigger than 16.0 MiB in parse_json.".into(),
        },
    }
}

fn parse_column(input: &ArrayRef, fail: bool) -> DfResult<ArrayRef> {
    let text = cast_with_options(input, &DataType::Utf8, &CastOptions::default())?;
    let text = text.as_string::<i32>();
    let mut out = Vec::with_capacity(text.len());
    for row in 0..text.len() {
        if text.is_null(row) {
            out.push(None);
            continue;
        }
        let s = text.value(row);
        match vj::parse(s).and_then(|tree| vj::encode(&tree)) {
            Ok(encoded) => out.push(Some(encoded)),
            Err(_) if !fail => out.push(None),
            Err(fault) => return Err(fault_error(fault, s).into()),
        }
    }
    Ok(variant_column(out))
}

/// Row `row` of `array` (a struct, map, array or a leaf inside one) as a variant tree.
fn tree_of(array: &ArrayRef, row: usize) -> DfResult<Tree> {
    if array.is_null(row) {
        return Ok(Tree::Null);
    }
    let t = array.data_type();
    Ok(match t {
        DataType::Struct(fields) if !is_variant(t) => {
            let s = array.as_struct();
            let mut out = Vec::with_capacity(fields.len());
            for (f, c) in fields.iter().zip(s.columns()) {
                out.push((f.name().clone(), tree_of(c, row)?));
            }
            Tree::Object(out)
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            Tree::Array(
                (0..items.len())
                    .map(|i| tree_of(&items, i))
                    .collect::<DfResult<_>>()?,
            )
        }
        DataType::Map(..) => {
            let entries = array.as_map().value(row);
            let keys =
                cast_with_options(entries.column(0), &DataType::Utf8, &CastOptions::default())?;
            let keys = keys.as_string::<i32>();
            let mut out = Vec::with_capacity(entries.len());
            for i in 0..entries.len() {
                out.push((keys.value(i).to_string(), tree_of(entries.column(1), i)?));
            }
            Tree::Object(out)
        }
        _ => match ScalarValue::try_from_array(array, row)? {
            ScalarValue::Boolean(Some(b)) => Tree::Bool(b),
            ScalarValue::Int8(Some(v)) => Tree::Int(i64::from(v)),
            ScalarValue::Int16(Some(v)) => Tree::Int(i64::from(v)),
            ScalarValue::Int32(Some(v)) => Tree::Int(i64::from(v)),
            ScalarValue::Int64(Some(v)) => Tree::Int(v),
            ScalarValue::Float32(Some(v)) => Tree::Float(v),
            ScalarValue::Float64(Some(v)) => Tree::Double(v),
            ScalarValue::Decimal128(Some(v), _, s) => Tree::Decimal(v, s.max(0) as u8),
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)) => Tree::Str(s),
            ScalarValue::Binary(Some(b))
            | ScalarValue::BinaryView(Some(b))
            | ScalarValue::LargeBinary(Some(b)) => Tree::Binary(b),
            ScalarValue::Date32(Some(d)) => {
                chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163)
                    .map_or(Tree::Null, Tree::Date)
            }
            ScalarValue::TimestampMicrosecond(Some(us), zone) => {
                Tree::Timestamp(us, zone.is_none())
            }
            other => {
                return Err(datafusion::error::DataFusionError::Execution(format!(
                    "to_variant_object cannot take a value of type {}",
                    other.data_type()
                )));
            }
        },
    })
}

/// One step of a variant path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses a variant path (`$`, then `.name`, `['name']`, `["name"]` or `[index]` steps).
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Key(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let quote = after.chars().next().filter(|c| *c == '\'' || *c == '"');
            if let Some(q) = quote {
                let close = after[1..].find(q)? + 1;
                steps.push(Step::Key(after[1..close].to_string()));
                rest = after[close + 1..].strip_prefix(']')?;
            } else {
                let close = after.find(']')?;
                let digits = &after[..close];
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                steps.push(Step::Index(digits.parse().ok()?));
                rest = &after[close + 1..];
            }
        } else {
            return None;
        }
    }
    Some(steps)
}

fn follow<'m, 'v>(mut v: Variant<'m, 'v>, steps: &[Step]) -> Option<Variant<'m, 'v>> {
    for step in steps {
        v = match (step, &v) {
            (Step::Key(k), Variant::Object(o)) => o.get(k)?,
            (Step::Index(i), Variant::List(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn get_column(
    arrays: &[ArrayRef],
    target: &DataType,
    fail: bool,
    tz: &str,
    name: &str,
) -> DfResult<ArrayRef> {
    let column = variant_input(&arrays[0])?;
    let paths = cast_with_options(&arrays[1], &DataType::Utf8, &CastOptions::default())?;
    let paths = paths.as_string::<i32>();
    let mut cells: Vec<ScalarValue> = Vec::with_capacity(column.len());
    let null = ScalarValue::try_from(target)?;
    let mut parsed: Option<(String, Vec<Step>)> = None;
    for row in 0..column.len() {
        let (Some(v), false) = (vj::variant_at(&column, row), paths.is_null(row)) else {
            cells.push(null.clone());
            continue;
        };
        let path = paths.value(row);
        if parsed.as_ref().is_none_or(|(p, _)| p != path) {
            let steps = parse_path(path).ok_or_else(|| bad_path(path, name))?;
            parsed = Some((path.to_string(), steps));
        }
        let steps = parsed.as_ref().map_or(&[][..], |(_, s)| s.as_slice());
        let cell = match follow(v, steps) {
            None => null.clone(),
            Some(found) => match cast_variant(&found, target, tz) {
                Some(cell) => cell,
                None if !fail => null.clone(),
                None => {
                    let mut text = String::new();
                    vj::to_json(&found, tz, &mut text);
                    return Err(Error::Runtime {
                        exception: "org.apache.spark.SparkRuntimeException",
                        class: "INVALID_VARIANT_CAST".into(),
                        message: format!(
                            "The variant value `{text}` cannot be cast into `\"{}\"`. Please use `try_variant_get` instead.",
                            sql_string(target)
                        ),
                    }
                    .into());
                }
            },
        };
        cells.push(cell);
    }
    if cells.is_empty() {
        return Ok(datafusion::arrow::array::new_empty_array(target));
    }
    ScalarValue::iter_to_array(cells)
}

fn bad_path(path: &str, function: &str) -> Error {
    Error::Runtime {
        exception: "org.apache.spark.SparkRuntimeException",
        class: "INVALID_VARIANT_GET_PATH".into(),
        message: format!(
            "The path `{path}` is not a valid variant extraction path in ``{function}``. A valid path should start with `$` and is followed by zero or more segments like `[123]`, `.name`, `['name']`, or `[\"name\"]`."
        ),
    }
}

/// A variant value as a value of `target` (a variant null is SQL null); `None` when it does
/// not cast.
fn cast_variant(v: &Variant<'_, '_>, target: &DataType, tz: &str) -> Option<ScalarValue> {
    if is_variant(target) {
        let mut builder = VariantBuilder::new();
        builder.try_append_value(v.clone()).ok()?;
        let (metadata, value) = builder.finish();
        let array = variant_column(vec![Some((value, metadata))]);
        return ScalarValue::try_from_array(&array, 0).ok();
    }
    if *v == Variant::Null {
        return ScalarValue::try_from(target).ok();
    }
    if matches!(target, DataType::Utf8) {
        let text = match v {
            Variant::String(s) => s.to_string(),
            Variant::ShortString(s) => s.as_str().to_string(),
            other => {
                let mut out = String::new();
                vj::to_json(other, tz, &mut out);
                out
            }
        };
        return Some(ScalarValue::Utf8(Some(text)));
    }
    if matches!(
        target,
        DataType::Struct(_) | DataType::List(_) | DataType::Map(..)
    ) {
        let mut text = String::new();
        vj::to_json(v, tz, &mut text);
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let (array, failed) = super::decode_json_values(&[Some(&json)], target).ok()?;
        return (!failed.first().copied().unwrap_or(true))
            .then(|| ScalarValue::try_from_array(&array, 0).ok())
            .flatten();
    }
    let natural = natural_scalar(v, tz)?;
    if !castable(&natural.data_type(), target) {
        return None;
    }
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let cast = cast_with_options(&natural.to_array().ok()?, target, &options).ok()?;
    ScalarValue::try_from_array(&cast, 0).ok()
}

/// Whether Spark casts a variant leaf of type `from` to `to`: numbers and booleans among
/// themselves, a string to anything it parses as, dates and timestamps among themselves,
/// binary to binary (Arrow would also turn a number into its bytes, which Spark does not).
fn castable(from: &DataType, to: &DataType) -> bool {
    let number_like = |t: &DataType| t.is_numeric() || matches!(t, DataType::Boolean);
    let time_like = |t: &DataType| matches!(t, DataType::Date32 | DataType::Timestamp(..));
    match from {
        DataType::Utf8 => true,
        DataType::Binary => matches!(to, DataType::Binary),
        f if time_like(f) => time_like(to),
        f if number_like(f) => number_like(to),
        _ => false,
    }
}

/// A variant leaf as a value of its own type.
fn natural_scalar(v: &Variant<'_, '_>, tz: &str) -> Option<ScalarValue> {
    let micros = |t: i64| ScalarValue::TimestampMicrosecond(Some(t), Some(tz.into()));
    Some(match v {
        Variant::BooleanTrue => ScalarValue::Boolean(Some(true)),
        Variant::BooleanFalse => ScalarValue::Boolean(Some(false)),
        Variant::Int8(_) | Variant::Int16(_) | Variant::Int32(_) | Variant::Int64(_) => {
            ScalarValue::Int64(v.as_int64())
        }
        Variant::Float(f) => ScalarValue::Float32(Some(*f)),
        Variant::Double(d) => ScalarValue::Float64(Some(*d)),
        Variant::Decimal4(d) => decimal(i128::from(d.integer()), d.scale()),
        Variant::Decimal8(d) => decimal(i128::from(d.integer()), d.scale()),
        Variant::Decimal16(d) => decimal(d.integer(), d.scale()),
        Variant::String(s) => ScalarValue::Utf8(Some(s.to_string())),
        Variant::ShortString(s) => ScalarValue::Utf8(Some(s.as_str().to_string())),
        Variant::Binary(b) => ScalarValue::Binary(Some(b.to_vec())),
        Variant::Date(d) => ScalarValue::Date32(Some(
            d.signed_duration_since(chrono::NaiveDate::default())
                .num_days() as i32,
        )),
        Variant::TimestampMicros(t) | Variant::TimestampNanos(t) => micros(t.timestamp_micros()),
        Variant::TimestampNtzMicros(t) | Variant::TimestampNtzNanos(t) => {
            ScalarValue::TimestampMicrosecond(Some(t.and_utc().timestamp_micros()), None)
        }
        _ => return None,
    })
}

fn decimal(unscaled: i128, scale: u8) -> ScalarValue {
    let precision = vj::precision(unscaled).max(u32::from(scale)).max(1) as u8;
    ScalarValue::Decimal128(Some(unscaled), precision, scale as i8)
}

/// `schema_of_variant_agg`: the merged type of a group's variants.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SchemaAgg {
    signature: Signature,
}

impl AggregateUDFImpl for SchemaAgg {
    fn name(&self) -> &str {
        "schema_of_variant_agg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(Merged { shape: None }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "shape"),
            DataType::Utf8,
            true,
        ))])
    }
}

/// The merged type so far (`None` before any non-null value).
#[derive(Debug)]
struct Merged {
    shape: Option<Shape>,
}

impl Merged {
    fn add(&mut self, shape: Shape) {
        self.shape = Some(match self.shape.take() {
            Some(have) => vj::merge(have, shape),
            None => shape,
        });
    }
}

impl Accumulator for Merged {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        let column = variant_input(&values[0])?;
        for row in 0..column.len() {
            if let Some(v) = vj::variant_at(&column, row) {
                self.add(vj::schema_of(&v));
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let texts = states[0].as_string::<i32>();
        for row in 0..texts.len() {
            if texts.is_null(row) {
                continue;
            }
            let json: serde_json::Value = serde_json::from_str(texts.value(row))
                .map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
            if let Some(shape) = Shape::from_state(&json) {
                self.add(shape);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(
            self.shape.as_ref().map(|s| s.to_state().to_string()),
        )])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Utf8(self.shape.as_ref().map(Shape::to_string)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_as_sparks() {
        assert_eq!(
            parse_path("$.a[0]['b c'][\"d\"]"),
            Some(vec![
                Step::Key("a".into()),
                Step::Index(0),
                Step::Key("b c".into()),
                Step::Key("d".into())
            ])
        );
        assert_eq!(parse_path("$"), Some(vec![]));
        assert_eq!(parse_path("a"), None);
        assert_eq!(parse_path("$..a"), None);
        assert_eq!(parse_path("$[x]"), None);
    }
}
