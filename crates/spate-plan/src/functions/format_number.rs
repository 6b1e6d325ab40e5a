//! `format_number(x, d)`: `x` rounded half-even to `d` decimal places and written with a comma
//! between groups of three integral digits, as Spark's `DecimalFormat("#,##0.00...")` — a double
//! is rounded on its exact binary value (0.125 gives "0.12"), a decimal on its digits; a
//! negative `d` gives null. Spark's other form, a `DecimalFormat` pattern as `d`, is not
//! supported yet and says so.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use spate_common::{Error, Result};

use super::math::div_round;
use super::{Arg, CallContext, arg_type, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["format_number"];

/// Resolves `format_number`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "format_number" {
        return Ok(None);
    }
    let [x, d] = args else {
        return Err(wrong_args(name, "2", args.len()));
    };
    if matches!(arg_type(d, cx)?, DataType::Utf8 | DataType::LargeUtf8) {
        return Err(Error::unsupported(format!(
            "format_number with a DecimalFormat pattern ({})",
            d.name
        )));
    }
    let x_expr = match arg_type(x, cx)? {
        t @ DataType::Decimal128(..) => cast(x.expr.clone(), t),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            cast(x.expr.clone(), DataType::Int64)
        }
        DataType::Float32 | DataType::Float64 => cast(x.expr.clone(), DataType::Float64),
        other => {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                format!(
                    "Cannot resolve format_number({}, {}): the first argument must be a number, not {}",
                    x.name,
                    d.name,
                    crate::types::simple_string(&other)
                ),
            ));
        }
    };
    let udf = ScalarUDF::new_from_impl(FormatNumber {
        signature: Signature::any(2, Volatility::Immutable),
    });
    let e = udf.call(vec![x_expr, cast(d.expr.clone(), DataType::Int32)]);
    Ok(Some((e, default_name(name, args, false))))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FormatNumber {
    signature: Signature,
}

impl ScalarUDFImpl for FormatNumber {
    fn name(&self) -> &str {
        "format_number"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (x, d) = (&arrays[0], arrays[1].as_primitive::<Int32Type>());
        let mut out = StringBuilder::with_capacity(x.len(), x.len() * 12);
        for i in 0..x.len() {
            if x.is_null(i) || d.is_null(i) || d.value(i) < 0 {
                out.append_null();
                continue;
            }
            let places = d.value(i) as usize;
            let plain = match x.data_type() {
                DataType::Float64 => {
                    let v = x.as_primitive::<Float64Type>().value(i);
                    if v.is_nan() {
                        "NaN".to_string()
                    } else if v.is_infinite() {
                        (if v < 0.0 { "-\u{221e}" } else { "\u{221e}" }).to_string()
                    } else {
                        // Rust rounds the exact binary value, ties to even, as DecimalFormat
                        format!("{v:.places$}")
                    }
                }
                DataType::Int64 => {
                    let v = x.as_primitive::<Int64Type>().value(i);
                    with_places(&v.to_string(), places)
                }
                DataType::Decimal128(_, s) => {
                    let v = x.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
                    decimal_text(v.value(i), i32::from(*s), places)
                }
                other => {
                    return Err(DataFusionError::Plan(format!(
                        "format_number of a {other} value"
                    )));
                }
            };
            out.append_value(grouped(&plain));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// An integer's text with `places` zero decimals.
fn with_places(int: &str, places: usize) -> String {
    if places == 0 {
        int.to_string()
    } else {
        format!("{int}.{}", "0".repeat(places))
    }
}

/// A decimal (`v` unscaled at `scale`) rounded half-even to `places` decimals.
fn decimal_text(v: i128, scale: i32, places: usize) -> String {
    // DecimalFormat keeps the sign of a negative number that rounds to zero ("-0")
    let sign = if v < 0 { "-" } else { "" };
    let places_i = i32::try_from(places).unwrap_or(i32::MAX);
    let (v, scale) = if places_i < scale {
        (
            div_round(v, 10i128.checked_pow((scale - places_i) as u32), true),
            places_i,
        )
    } else {
        (v, scale)
    };
    let digits = v.unsigned_abs().to_string();
    let scale = scale.max(0) as usize;
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    let mut text = format!("{sign}{int}");
    if places > 0 {
        text.push('.');
        text.push_str(frac);
        text.push_str(&"0".repeat(places - frac.len()));
    }
    text
}

/// `-1234567.50` as `-1,234,567.50`.
fn grouped(plain: &str) -> String {
    let (sign, rest) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain),
    };
    let (int, frac) = match rest.find('.') {
        Some(dot) => rest.split_at(dot),
        None => (rest, ""),
    };
    if !int.bytes().all(|b| b.is_ascii_digit()) {
        return plain.to_string();
    }
    let mut out = String::with_capacity(plain.len() + int.len() / 3);
    out.push_str(sign);
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(frac);
    out
}

#[cfg(test)]
mod tests {
    use super::{decimal_text, grouped};

    #[test]
    fn groups_thousands_and_rounds_half_even() {
        // Spark's documented example: format_number(12332.123456, 4) is 12,332.1235
        assert_eq!(grouped(&format!("{:.4}", 12332.123456f64)), "12,332.1235");
        assert_eq!(grouped("-1234567.50"), "-1,234,567.50");
        assert_eq!(grouped("123"), "123");
        assert_eq!(grouped("0.125"), "0.125");
        assert_eq!(decimal_text(12345, 3, 2), "12.34");
        assert_eq!(decimal_text(12355, 3, 2), "12.36");
        assert_eq!(decimal_text(-5, 1, 0), "-0");
        assert_eq!(decimal_text(-15, 1, 0), "-2");
        assert_eq!(decimal_text(7, 0, 3), "7.000");
        assert_eq!(decimal_text(5, 2, 3), "0.050");
    }
}
