//! Date and time functions that take Spark datetime patterns (`yyyy-MM-dd HH:mm:ss`):
//! `date_format`, `from_unixtime`, `unix_timestamp`, `to_timestamp(s, fmt)` and
//! `to_date(s, fmt)`. DataFusion's equivalents read chrono's `%Y` patterns, which would print a
//! Spark pattern back as literal text, so these format and parse with
//! [`spate_common::datetime_pattern`], in the session time zone. A text that does not parse is
//! null, or Spark's `CANNOT_PARSE_TIMESTAMP` error when ANSI mode is on.

use std::sync::Arc;

use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, AsArray, StringBuilder, TimestampMicrosecondBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;
use spate_common::datetime_pattern::DateTimePattern;
use spate_common::{Error, Result};

/// Spark's default pattern for `from_unixtime` and `unix_timestamp`.
pub const DEFAULT_PATTERN: &str = "yyyy-MM-dd HH:mm:ss";

/// The pattern argument: a string literal, compiled.
pub fn pattern_arg(function: &str, e: &Expr) -> Result<(String, DateTimePattern)> {
    let text = match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)), _) => s.clone(),
        other => {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
                format!("the pattern of `{function}` must be a string literal, got {other}"),
            ));
        }
    };
    let compiled = DateTimePattern::compile(&text).map_err(|e| {
        Error::IllegalArgument(format!(
            "[INVALID_DATETIME_PATTERN] `{function}`: {e} in pattern '{text}'"
        ))
    })?;
    Ok((text, compiled))
}

/// `ts` (a timestamp) formatted with `pattern` in time zone `tz`.
pub fn format_timestamp(ts: Expr, pattern: DateTimePattern, tz: &str) -> Expr {
    ScalarUDF::new_from_impl(FormatTimestamp {
        pattern,
        tz: tz.to_string(),
        signature: Signature::any(1, Volatility::Immutable),
    })
    .call(vec![ts])
}

/// `text` parsed with `pattern` into a timestamp in time zone `tz`.
pub fn parse_timestamp(text: Expr, pattern: DateTimePattern, tz: &str, ansi: bool) -> Expr {
    ScalarUDF::new_from_impl(ParseTimestamp {
        pattern: Some(pattern),
        tz: tz.to_string(),
        ntz: false,
        ansi,
        signature: Signature::any(1, Volatility::Immutable),
    })
    .call(vec![text])
}

/// `text` parsed with the pattern `pattern` gives (a literal, compiled once, or a column, each
/// row's own) into a timestamp in time zone `tz`, or a local date-time when `ntz`.
pub fn parse_timestamp_with(
    function: &str,
    text: Expr,
    pattern: &Expr,
    tz: &str,
    ntz: bool,
    ansi: bool,
) -> Result<Expr> {
    let (compiled, mut args) = match pattern {
        Expr::Literal(..) => (Some(pattern_arg(function, pattern)?.1), vec![text]),
        column => (None, vec![text, column.clone()]),
    };
    if let Some(p) = args.get_mut(1) {
        *p = datafusion::logical_expr::cast(p.clone(), DataType::Utf8);
    }
    Ok(ScalarUDF::new_from_impl(ParseTimestamp {
        pattern: compiled,
        tz: tz.to_string(),
        ntz,
        ansi,
        signature: Signature::any(args.len(), Volatility::Immutable),
    })
    .call(args))
}

fn zone(tz: &str) -> DfResult<Tz> {
    tz.parse::<Tz>()
        .map_err(|e| DataFusionError::Execution(format!("unknown time zone '{tz}': {e}")))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FormatTimestamp {
    pattern: DateTimePattern,
    tz: String,
    signature: Signature,
}

impl ScalarUDFImpl for FormatTimestamp {
    fn name(&self) -> &str {
        "spark_format_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        use chrono::{Offset, TimeZone};
        let zone = zone(&self.tz)?;
        let input = args.args[0].to_array(args.number_rows)?;
        let micros = cast(&input, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
        let micros =
            micros.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
        let mut out = StringBuilder::with_capacity(micros.len(), micros.len() * 20);
        for i in 0..micros.len() {
            if micros.is_null(i) {
                out.append_null();
                continue;
            }
            let utc = chrono::DateTime::from_timestamp_micros(micros.value(i))
                .ok_or_else(|| DataFusionError::Execution("timestamp out of range".into()))?;
            let local = zone.from_utc_datetime(&utc.naive_utc());
            let offset = local.offset().fix().local_minus_utc();
            out.append_value(self.pattern.format(local.naive_local(), offset));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ParseTimestamp {
    /// The pattern, or `None` when each row gives its own (the second argument).
    pattern: Option<DateTimePattern>,
    tz: String,
    /// Whether the result is a local date-time (`timestamp_ntz`).
    ntz: bool,
    ansi: bool,
    signature: Signature,
}

impl ScalarUDFImpl for ParseTimestamp {
    fn name(&self) -> &str {
        "spark_parse_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(if self.ntz {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        } else {
            crate::types::timestamp(&self.tz)
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let zone = (!self.ntz).then(|| zone(&self.tz)).transpose()?;
        let input = args.args[0].to_array(args.number_rows)?;
        let text = cast(&input, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let patterns = args
            .args
            .get(1)
            .map(|p| p.to_array(args.number_rows))
            .transpose()?;
        let patterns = patterns.as_ref().map(|p| p.as_string::<i32>());
        let mut row_pattern: Option<(String, DateTimePattern)> = None;
        let mut out = TimestampMicrosecondBuilder::with_capacity(text.len());
        for i in 0..text.len() {
            if text.is_null(i) || patterns.is_some_and(|p| p.is_null(i)) {
                out.append_null();
                continue;
            }
            let pattern = match (&self.pattern, patterns) {
                (Some(p), _) => p,
                (None, Some(texts)) => {
                    let t = texts.value(i);
                    if row_pattern.as_ref().is_none_or(|(cached, _)| cached != t) {
                        let compiled = DateTimePattern::compile(t).map_err(|e| {
                            Error::IllegalArgument(format!(
                                "[INVALID_DATETIME_PATTERN] {e} in pattern '{t}'"
                            ))
                        })?;
                        row_pattern = Some((t.to_string(), compiled));
                    }
                    match &row_pattern {
                        Some((_, p)) => p,
                        None => {
                            out.append_null();
                            continue;
                        }
                    }
                }
                (None, None) => {
                    return Err(DataFusionError::Internal("a pattern is missing".into()));
                }
            };
            match pattern
                .parse(text.value(i))
                .and_then(|p| p.to_micros(zone.as_ref()))
            {
                Some(m) => out.append_value(m),
                None if self.ansi => {
                    return Err(DataFusionError::Execution(format!(
                        "[CANNOT_PARSE_TIMESTAMP] Text '{}' could not be parsed with the given pattern. Use `try_to_timestamp` to tolerate invalid input string and return NULL instead.",
                        text.value(i)
                    )));
                }
                None => out.append_null(),
            }
        }
        let array = out.finish();
        Ok(ColumnarValue::Array(if self.ntz {
            Arc::new(array)
        } else {
            Arc::new(array.with_timezone(self.tz.as_str()))
        }))
    }
}
