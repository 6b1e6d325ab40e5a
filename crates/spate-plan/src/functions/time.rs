//! Spark's TIME type (`time(6)`: a time of day to the microsecond, Arrow `Time64(ns)`) and
//! its functions: `make_time`, `to_time`/`try_to_time` (Spark's default form or a datetime
//! pattern), `time_diff` and `time_trunc` by unit (`HOUR` .. `MICROSECOND`), and the
//! conversions `time_from_{seconds,millis,micros}` / `time_to_{seconds,millis,micros}`.
//! As in Spark, a field out of range is `DATETIME_FIELD_OUT_OF_BOUNDS`, a text that is no time
//! `CANNOT_PARSE_TIME` (null for `try_to_time`), and an unknown unit
//! `INVALID_PARAMETER_VALUE.TIME_UNIT`.

use std::sync::Arc;

use chrono::{NaiveTime, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Builder, Int64Builder, Time64NanosecondBuilder,
};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Int32Type, Int64Type, Time64NanosecondType, TimeUnit,
};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use spate_common::datetime_pattern::DateTimePattern;
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "make_time",
    "to_time",
    "try_to_time",
    "time_diff",
    "time_trunc",
    "time_from_seconds",
    "time_from_millis",
    "time_from_micros",
    "time_to_seconds",
    "time_to_millis",
    "time_to_micros",
];

/// Arrow's type for Spark's TIME.
pub const TIME: DataType = DataType::Time64(TimeUnit::Nanosecond);

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// What a call computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    /// `make_time(hour, minute, second)`.
    Make,
    /// `to_time(text[, pattern])`.
    Parse,
    /// `time_diff(unit, start, end)`.
    Diff,
    /// `time_trunc(unit, time)`.
    Trunc,
    /// `time_from_millis` / `time_from_micros`: a count of units of that many nanoseconds.
    From(i64),
    /// `time_from_seconds`: seconds as decimal(38, 6), whose unscaled value counts microseconds.
    FromSeconds,
    /// `time_to_millis` / `time_to_micros`: a count of units of that many nanoseconds.
    To(i64),
    /// `time_to_seconds`: decimal(14, 6).
    ToSeconds,
}

/// Resolves the TIME functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    let arity = |n: &[usize], text: &str| -> Result<()> {
        if n.contains(&args.len()) {
            Ok(())
        } else {
            Err(wrong_args(name, text, args.len()))
        }
    };
    let e = |i: usize, t: DataType| datafusion::logical_expr::cast(args[i].expr.clone(), t);
    let (op, exprs) = match name {
        "make_time" => {
            arity(&[3], "3")?;
            let seconds = e(2, DataType::Decimal128(16, 6));
            (
                Op::Make,
                vec![e(0, DataType::Int32), e(1, DataType::Int32), seconds],
            )
        }
        "to_time" | "try_to_time" => {
            arity(&[1, 2], "1 or 2")?;
            let mut exprs = vec![e(0, DataType::Utf8)];
            if args.len() == 2 {
                exprs.push(e(1, DataType::Utf8));
            }
            (Op::Parse, exprs)
        }
        "time_diff" => {
            arity(&[3], "3")?;
            (Op::Diff, vec![e(0, DataType::Utf8), e(1, TIME), e(2, TIME)])
        }
        "time_trunc" => {
            arity(&[2], "2")?;
            (Op::Trunc, vec![e(0, DataType::Utf8), e(1, TIME)])
        }
        "time_from_seconds" => {
            arity(&[1], "1")?;
            (Op::FromSeconds, vec![e(0, DataType::Decimal128(38, 6))])
        }
        "time_from_millis" | "time_from_micros" => {
            arity(&[1], "1")?;
            let per = if name == "time_from_millis" {
                1_000_000
            } else {
                1_000
            };
            (Op::From(per), vec![e(0, DataType::Int64)])
        }
        "time_to_seconds" => {
            arity(&[1], "1")?;
            (Op::ToSeconds, vec![e(0, TIME)])
        }
        _ => {
            arity(&[1], "1")?;
            let per = if name == "time_to_millis" {
                1_000_000
            } else {
                1_000
            };
            (Op::To(per), vec![e(0, TIME)])
        }
    };
    let udf = ScalarUDF::new_from_impl(TimeFunction {
        name: name.to_string(),
        op,
        fail: name != "try_to_time" && (cx.ansi || op != Op::Make),
        signature: Signature::any(exprs.len(), Volatility::Immutable),
    });
    Ok(Some((udf.call(exprs), default_name(name, args, false))))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TimeFunction {
    name: String,
    op: Op,
    /// Whether a bad row is an error (else null).
    fail: bool,
    signature: Signature,
}

/// Why a row has no value.
enum Bad {
    Field(String),
    Parse(String, Option<String>),
    Unit(String),
}

impl Bad {
    fn error(self, function: &str) -> Error {
        let (exception, class, message) = match self {
            Bad::Field(what) => (
                "java.time.DateTimeException",
                "DATETIME_FIELD_OUT_OF_BOUNDS",
                format!(
                    "{what}. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error."
                ),
            ),
            Bad::Parse(text, pattern) => (
                "java.time.DateTimeException",
                "CANNOT_PARSE_TIME",
                format!(
                    "The input string '{text}' cannot be parsed to a TIME value because it does not match to the datetime format '{}'.",
                    pattern.as_deref().unwrap_or("HH:mm:ss.SSSSSS")
                ),
            ),
            Bad::Unit(unit) => (
                "java.lang.IllegalArgumentException",
                "INVALID_PARAMETER_VALUE.TIME_UNIT",
                format!(
                    "The value of parameter(s) `unit` in `{function}` is invalid: expects one of the units without quotes HOUR, MINUTE, SECOND, MILLISECOND, MICROSECOND, but got the string literal '{unit}'."
                ),
            ),
        };
        Error::Runtime {
            exception,
            class: class.into(),
            message,
        }
    }
}

/// The nanoseconds in one `unit` of `time_diff` / `time_trunc`.
fn unit_nanos(unit: &str) -> std::result::Result<i64, Bad> {
    Ok(match unit.to_ascii_uppercase().as_str() {
        "HOUR" => 3_600_000_000_000,
        "MINUTE" => 60_000_000_000,
        "SECOND" => 1_000_000_000,
        "MILLISECOND" => 1_000_000,
        "MICROSECOND" => 1_000,
        _ => return Err(Bad::Unit(unit.to_string())),
    })
}

/// A time of day from Spark's default text form: `H[H]:m[m][:s[s][.fraction]]`.
fn parse_default(text: &str) -> Option<i64> {
    let t = text.trim();
    let mut parts = t.splitn(3, ':');
    let hour: u32 = small_number(parts.next()?)?;
    let minute: u32 = small_number(parts.next()?)?;
    let (second, nanos) = match parts.next() {
        None => (0, 0),
        Some(s) => {
            let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
            if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let nanos = format!("{fraction:0<9}").parse::<u32>().ok()?;
            (small_number(whole)?, nanos / 1000 * 1000)
        }
    };
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).map(nanos_of)
}

/// One or two digits.
fn small_number(s: &str) -> Option<u32> {
    if (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn nanos_of(t: NaiveTime) -> i64 {
    i64::from(t.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(t.nanosecond())
}

/// `hour:minute:seconds` (seconds in microseconds) as nanoseconds since midnight.
fn make(hour: i32, minute: i32, micros: i128) -> std::result::Result<i64, Bad> {
    if !(0..24).contains(&hour) {
        return Err(Bad::Field(format!(
            "Invalid value for HourOfDay (valid values 0 - 23): {hour}"
        )));
    }
    if !(0..60).contains(&minute) {
        return Err(Bad::Field(format!(
            "Invalid value for MinuteOfHour (valid values 0 - 59): {minute}"
        )));
    }
    if !(0..60_000_000).contains(&micros) {
        return Err(Bad::Field(format!(
            "Invalid value for SecondOfMinute (valid values 0 - 59): {}",
            micros.div_euclid(1_000_000)
        )));
    }
    Ok((i64::from(hour) * 60 + i64::from(minute)) * 60_000_000_000 + micros as i64 * 1000)
}

/// `count` units of `per` nanoseconds as a time of day.
fn from_units(count: i128, per: i64) -> std::result::Result<i64, Bad> {
    let nanos = count.saturating_mul(i128::from(per));
    if (0..i128::from(NANOS_PER_DAY)).contains(&nanos) {
        Ok(nanos as i64)
    } else {
        Err(Bad::Field(format!(
            "Invalid value for NanoOfDay (valid values 0 - 86399999999999): {nanos}"
        )))
    }
}

impl TimeFunction {
    fn rows(&self, args: &[ArrayRef], n: usize) -> std::result::Result<ArrayRef, Error> {
        // a row's value, `Ok(None)` for null input, `Err` for a bad row
        let outcome =
            |r: std::result::Result<i64, Bad>| -> std::result::Result<Option<i64>, Error> {
                match r {
                    Ok(v) => Ok(Some(v)),
                    Err(_) if !self.fail => Ok(None),
                    Err(bad) => Err(bad.error(&self.name)),
                }
            };
        let null_at = |i: usize| args.iter().any(|a| a.is_null(i));
        let times = |k: usize| args[k].as_primitive::<Time64NanosecondType>();
        match self.op {
            Op::Make => {
                let (h, m) = (
                    args[0].as_primitive::<Int32Type>(),
                    args[1].as_primitive::<Int32Type>(),
                );
                let s = args[2].as_primitive::<Decimal128Type>();
                let mut out = Time64NanosecondBuilder::with_capacity(n);
                for i in 0..n {
                    let v = if null_at(i) {
                        None
                    } else {
                        outcome(make(h.value(i), m.value(i), s.value(i)))?
                    };
                    out.append_option(v);
                }
                Ok(Arc::new(out.finish()))
            }
            Op::Parse => {
                let text = args[0].as_string::<i32>();
                let patterns = args.get(1).map(|p| p.as_string::<i32>());
                let mut compiled: Option<(String, DateTimePattern)> = None;
                let mut out = Time64NanosecondBuilder::with_capacity(n);
                for i in 0..n {
                    if null_at(i) {
                        out.append_null();
                        continue;
                    }
                    let t = text.value(i);
                    let parsed = match patterns {
                        None => parse_default(t).ok_or_else(|| Bad::Parse(t.into(), None)),
                        Some(p) => {
                            let p = p.value(i);
                            if compiled.as_ref().is_none_or(|(c, _)| c != p) {
                                let c = DateTimePattern::compile(p).map_err(|e| {
                                    Error::IllegalArgument(format!(
                                        "[INVALID_DATETIME_PATTERN] `{}`: {e} in pattern '{p}'",
                                        self.name
                                    ))
                                })?;
                                compiled = Some((p.to_string(), c));
                            }
                            compiled
                                .as_ref()
                                .and_then(|(_, c)| c.parse(t))
                                .map(|parsed| nanos_of(parsed.local.time()) / 1000 * 1000)
                                .ok_or_else(|| Bad::Parse(t.into(), Some(p.into())))
                        }
                    };
                    out.append_option(outcome(parsed)?);
                }
                Ok(Arc::new(out.finish()))
            }
            Op::Diff | Op::Trunc => {
                let units = args[0].as_string::<i32>();
                let mut diffs = Int64Builder::with_capacity(n);
                let mut truncs = Time64NanosecondBuilder::with_capacity(n);
                for i in 0..n {
                    if null_at(i) {
                        diffs.append_null();
                        truncs.append_null();
                        continue;
                    }
                    let per = unit_nanos(units.value(i)).map_err(|b| b.error(&self.name))?;
                    if self.op == Op::Diff {
                        diffs.append_value((times(2).value(i) - times(1).value(i)) / per);
                    } else {
                        let t = times(1).value(i);
                        truncs.append_value(t - t % per);
                    }
                }
                Ok(if self.op == Op::Diff {
                    Arc::new(diffs.finish())
                } else {
                    Arc::new(truncs.finish())
                })
            }
            Op::From(_) | Op::FromSeconds => {
                let mut out = Time64NanosecondBuilder::with_capacity(n);
                for i in 0..n {
                    let v = if null_at(i) {
                        None
                    } else if let Op::From(per) = self.op {
                        let count = args[0].as_primitive::<Int64Type>().value(i);
                        outcome(from_units(i128::from(count), per))?
                    } else {
                        let micros = args[0].as_primitive::<Decimal128Type>().value(i);
                        outcome(from_units(micros, 1_000))?
                    };
                    out.append_option(v);
                }
                Ok(Arc::new(out.finish()))
            }
            Op::To(per) => {
                let t = times(0);
                let mut out = Int64Builder::with_capacity(n);
                for i in 0..n {
                    out.append_option((!t.is_null(i)).then(|| t.value(i) / per));
                }
                Ok(Arc::new(out.finish()))
            }
            Op::ToSeconds => {
                let t = times(0);
                let mut out = Decimal128Builder::with_capacity(n);
                for i in 0..n {
                    out.append_option((!t.is_null(i)).then(|| i128::from(t.value(i) / 1000)));
                }
                Ok(Arc::new(out.finish().with_precision_and_scale(14, 6)?))
            }
        }
    }
}

impl ScalarUDFImpl for TimeFunction {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(match self.op {
            Op::Diff | Op::To(_) => DataType::Int64,
            Op::ToSeconds => DataType::Decimal128(14, 6),
            _ => TIME,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays = super::arg_arrays(&args)?;
        Ok(ColumnarValue::Array(self.rows(&arrays, n)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000_000;
    const M: i64 = 60_000_000_000;
    const S: i64 = 1_000_000_000;

    #[test]
    fn parses_sparks_default_form() {
        assert_eq!(parse_default("10:30:00"), Some(10 * H + 30 * M));
        assert_eq!(parse_default("14:30:00.5"), Some(14 * H + 30 * M + S / 2));
        assert_eq!(parse_default("1:2"), Some(H + 2 * M));
        // fractions beyond microseconds are dropped, as time(6) keeps microseconds
        assert_eq!(parse_default("00:00:00.0000019"), Some(1_000));
        assert_eq!(parse_default("malformed"), None);
        assert_eq!(parse_default("24:00:00"), None);
        assert_eq!(parse_default("10:60"), None);
    }

    #[test]
    fn makes_times_in_range_only() {
        assert!(matches!(make(6, 30, 45_887_000), Ok(v) if v == 6 * H + 30 * M + 45_887_000_000));
        assert!(matches!(make(24, 0, 0), Err(Bad::Field(_))));
        assert!(matches!(make(0, 0, 60_000_000), Err(Bad::Field(_))));
        assert!(matches!(from_units(52_200_500_000, 1_000), Ok(v) if v == 14 * H + 30 * M + S / 2));
        assert!(from_units(86_400, 1_000_000_000).is_err());
        assert!(from_units(-1, 1).is_err());
    }

    #[test]
    fn units_are_sparks() {
        assert!(matches!(unit_nanos("hour"), Ok(H)));
        assert!(matches!(unit_nanos("MICROSECOND"), Ok(1_000)));
        assert!(matches!(unit_nanos("DAY"), Err(Bad::Unit(_))));
    }
}
