//! Casts with Spark's rules, for DataFrame expressions and SQL text alike: `CAST(x AS STRING)`
//! with Spark's text forms (bytes decoded as UTF-8) (Java doubles `1.0E10`, timestamps as `yyyy-MM-dd HH:mm:ss[.ffffff]`
//! in the session time zone, `[1, 2]` arrays, `{a -> 1}` maps and `{1, x}` structs — the same
//! formatter `show()` uses), numbers to timestamps as seconds since the epoch and back, and
//! ANSI mode deciding whether a bad value fails or becomes null.

use std::sync::Arc;

use datafusion::arrow::array::{Array, StringBuilder};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, cast, try_cast,
};
use spate_common::Result;

use crate::display::format_cell;

/// The UDF behind Spark's string cast.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkToString {
    signature: Signature,
    tz: String,
}

impl ScalarUDFImpl for SparkToString {
    fn name(&self) -> &str {
        "spark_to_string"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        let mut out = StringBuilder::with_capacity(array.len(), array.len() * 8);
        for i in 0..array.len() {
            if array.is_null(i) {
                out.append_null();
            } else {
                out.append_value(format_cell(&array, i, &self.tz));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The UDF behind Spark's cast of bytes to a string: their UTF-8 text, a malformed sequence
/// read as U+FFFD (as Java decodes Spark's `UTF8String`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkDecodeUtf8 {
    signature: Signature,
}

impl ScalarUDFImpl for SparkDecodeUtf8 {
    fn name(&self) -> &str {
        "spark_decode_utf8"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        let bytes = datafusion::arrow::compute::cast(&array, &DataType::Binary)?;
        let bytes = bytes
            .as_any()
            .downcast_ref::<datafusion::arrow::array::BinaryArray>()
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(
                    "bytes that did not cast to binary".into(),
                )
            })?;
        let out: datafusion::arrow::array::StringArray = bytes
            .iter()
            .map(|b| b.map(String::from_utf8_lossy))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// Spark's cast of text to `float` / `double`: Java's `parseDouble` syntax after trimming
/// (a trailing `d`/`f` suffix allowed) and the special values `NaN`, `Infinity` and `inf` in
/// any case, with or without a sign; a malformed value is null, or `CAST_INVALID_INPUT` when
/// the cast must fail.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkParseFloat {
    signature: Signature,
    to: DataType,
    fail: bool,
}

/// The double `text` is in Spark's cast; `None` when malformed.
pub(super) fn parse_double(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| c <= ' ');
    let lower = t.to_ascii_lowercase();
    let special = lower.trim_start_matches(['+', '-']);
    if matches!(special, "nan" | "inf" | "infinity") {
        return lower.parse().ok();
    }
    let number = t.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(t);
    // Rust accepts special words Java does not (checked above) and nothing else Java refuses
    if number
        .chars()
        .any(|c| c.is_ascii_alphabetic() && !matches!(c, 'e' | 'E'))
    {
        return None;
    }
    number.parse().ok()
}

impl ScalarUDFImpl for SparkParseFloat {
    fn name(&self) -> &str {
        "spark_parse_float"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(self.to.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        use datafusion::arrow::array::{AsArray, Float64Array};
        use datafusion::arrow::error::ArrowError;
        let array = args.args[0].to_array(args.number_rows)?;
        let text = datafusion::arrow::compute::cast(&array, &DataType::Utf8)?;
        let out: Float64Array = text
            .as_string::<i32>()
            .iter()
            .map(|t| match t.map(|t| (t, parse_double(t))) {
                None => Ok(None),
                Some((_, Some(v))) => Ok(Some(v)),
                Some((t, None)) if self.fail => Err(ArrowError::CastError(format!(
                    "[CAST_INVALID_INPUT] The value '{t}' of the type \"STRING\" cannot be cast \
                     to \"{}\" because it is malformed.",
                    if self.to == DataType::Float32 {
                        "FLOAT"
                    } else {
                        "DOUBLE"
                    }
                ))),
                Some(_) => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        let out = datafusion::arrow::compute::cast(&out, &self.to)?;
        Ok(ColumnarValue::Array(out))
    }
}

/// `CAST(e AS STRING)` with Spark's formatting.
pub fn to_spark_string(e: Expr, tz: &str) -> Expr {
    let udf = ScalarUDF::new_from_impl(SparkToString {
        signature: Signature::any(1, Volatility::Immutable),
        tz: tz.to_string(),
    });
    udf.call(vec![e])
}

/// `e` (of type `from`) cast to `to` as Spark casts; `try_mode` gives null for a bad value.
pub fn spark_cast(e: Expr, from: &DataType, to: &DataType, try_mode: bool, tz: &str) -> Expr {
    if matches!(to, DataType::Utf8)
        && matches!(
            from,
            DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_)
        )
    {
        // bytes become their UTF-8 text (Kafka's `value.cast("string")`), not show()'s hex
        let udf = ScalarUDF::new_from_impl(SparkDecodeUtf8 {
            signature: Signature::any(1, Volatility::Immutable),
        });
        return udf.call(vec![e]);
    }
    if matches!(to, DataType::Utf8)
        && !matches!(
            from,
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
        )
    {
        // Spark's textual forms (timestamps without 'T', Java doubles) come from our formatter.
        return to_spark_string(e, tz);
    }
    if matches!(to, DataType::Float64 | DataType::Float32)
        && matches!(
            from,
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        )
    {
        let udf = ScalarUDF::new_from_impl(SparkParseFloat {
            signature: Signature::any(1, Volatility::Immutable),
            to: to.clone(),
            fail: !try_mode,
        });
        return udf.call(vec![e]);
    }
    let is_ts = |t: &DataType| matches!(t, DataType::Timestamp(..));
    // Spark reads numbers as seconds since the epoch, and timestamps as numbers likewise.
    if is_ts(to) && (from.is_integer() || from.is_floating()) {
        let us = cast(
            cast(e, DataType::Float64) * Expr::Literal(ScalarValue::Float64(Some(1e6)), None),
            DataType::Int64,
        );
        let ts = cast(us, DataType::Timestamp(TimeUnit::Microsecond, None));
        return cast(ts, to.clone());
    }
    if is_ts(from) && (to.is_integer() || to.is_floating()) {
        let us = cast(e, DataType::Int64);
        let secs = if to.is_floating() {
            cast(us, DataType::Float64) / Expr::Literal(ScalarValue::Float64(Some(1e6)), None)
        } else {
            // floor division keeps Spark's result for instants before the epoch
            cast(
                datafusion::functions::math::expr_fn::floor(
                    cast(us, DataType::Float64)
                        / Expr::Literal(ScalarValue::Float64(Some(1e6)), None),
                ),
                DataType::Int64,
            )
        };
        return cast(secs, to.clone());
    }
    if try_mode {
        try_cast(e, to.clone())
    } else {
        cast(e, to.clone())
    }
}

/// The casts SQL text wrote in `e` (planned by DataFusion against `schema`), made Spark's:
/// `CAST` fails on a bad value only in ANSI mode, `TRY_CAST` never. Says whether any cast was
/// there to rewrite.
pub fn spark_casts_in(
    e: Expr,
    schema: &DFSchema,
    tz: &str,
    ansi: bool,
) -> Result<Transformed<Expr>> {
    Ok(e.transform_up(|node| {
        let (inner, to, try_mode) = match node {
            Expr::Cast(c) => (*c.expr, c.field.data_type().clone(), !ansi),
            Expr::TryCast(c) => (*c.expr, c.field.data_type().clone(), true),
            other => return Ok(Transformed::no(other)),
        };
        let from = inner.get_type(schema)?;
        if from == to {
            return Ok(Transformed::yes(inner));
        }
        Ok(Transformed::yes(spark_cast(
            inner, &from, &to, try_mode, tz,
        )))
    })?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_parses_as_javas_doubles() {
        use super::parse_double;
        assert_eq!(parse_double(" 1.5 "), Some(1.5));
        assert_eq!(parse_double("2d"), Some(2.0));
        assert_eq!(parse_double("-1e3F"), Some(-1000.0));
        assert!(parse_double("NAN").is_some_and(f64::is_nan));
        assert_eq!(parse_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double("+inf"), Some(f64::INFINITY));
        assert_eq!(parse_double("abc"), None);
        assert_eq!(parse_double("1.5x"), None);
        assert_eq!(parse_double(""), None);
    }
}
