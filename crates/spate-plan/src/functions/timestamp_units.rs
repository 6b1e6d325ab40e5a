//! Calendar arithmetic on timestamps in the session time zone, as Spark does it:
//! `timestampadd(unit, quantity, ts)` (`timestamp_add`), `timestampdiff(unit, start, end)`
//! (`timestamp_diff`) and `convert_timezone([source, ]target, ts)`.
//!
//! Units of a day or more move the local date-time (a month added to Jan 31 is Feb 28/29, a
//! day added across a daylight-saving change keeps the wall clock); smaller units move the
//! instant. `timestampdiff` counts the whole units between the two local date-times, like
//! `java.time.temporal.ChronoUnit.between`. `convert_timezone` reads a local date-time in the
//! source zone and gives the local date-time in the target zone.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, AsArray, Int64Builder, TimestampMicrosecondBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit,
};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};

use super::{Arg, CallContext, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "timestampadd",
    "timestamp_add",
    "timestampdiff",
    "timestamp_diff",
    "convert_timezone",
];

/// A `timestampadd` / `timestampdiff` unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Unit {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
}

impl Unit {
    fn parse(function: &str, text: &str) -> Result<Unit> {
        Ok(match text.to_ascii_uppercase().as_str() {
            "YEAR" => Unit::Year,
            "QUARTER" => Unit::Quarter,
            "MONTH" => Unit::Month,
            "WEEK" => Unit::Week,
            "DAY" | "DAYOFYEAR" => Unit::Day,
            "HOUR" => Unit::Hour,
            "MINUTE" => Unit::Minute,
            "SECOND" => Unit::Second,
            "MILLISECOND" => Unit::Millisecond,
            "MICROSECOND" => Unit::Microsecond,
            _ => {
                return Err(Error::IllegalArgument(format!(
                    "[INVALID_PARAMETER_VALUE.DATETIME_UNIT] The value of parameter(s) `unit` in `{function}` is invalid: expects one of the units without quotes YEAR, QUARTER, MONTH, WEEK, DAY, DAYOFYEAR, HOUR, MINUTE, SECOND, MILLISECOND, MICROSECOND, but got the string literal '{text}'."
                )));
            }
        })
    }

    /// Months in one unit, for the calendar units.
    fn months(self) -> Option<u32> {
        match self {
            Unit::Year => Some(12),
            Unit::Quarter => Some(3),
            Unit::Month => Some(1),
            _ => None,
        }
    }

    /// Microseconds in one unit, for the fixed units (a day is 24 hours of wall clock).
    fn micros(self) -> i64 {
        match self {
            Unit::Week => 7 * 86_400_000_000,
            Unit::Day => 86_400_000_000,
            Unit::Hour => 3_600_000_000,
            Unit::Minute => 60_000_000,
            Unit::Second => 1_000_000,
            Unit::Millisecond => 1_000,
            _ => 1,
        }
    }
}

/// What a call computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Add(Unit),
    Diff(Unit),
    /// `convert_timezone(source, target, ts)`.
    Convert,
}

/// Resolves the functions of this module.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let spark_name = match name {
        "timestampadd" | "timestamp_add" => "timestampadd",
        "timestampdiff" | "timestamp_diff" => "timestampdiff",
        "convert_timezone" => "convert_timezone",
        _ => return Ok(None),
    };
    let ntz = DataType::Timestamp(TimeUnit::Microsecond, None);
    // (what, its inputs, its name, its type, whether local date-times are in the session zone)
    let (op, exprs, label, result, zoned) = if spark_name == "convert_timezone" {
        let (source, rest) = match args {
            [target, ts] => (None, [target, ts]),
            [source, target, ts] => (Some(source), [target, ts]),
            _ => return Err(wrong_args(name, "2 or 3", args.len())),
        };
        let source_name = source.map_or("current_timezone()", |s| s.name.as_str());
        let label = format!(
            "{spark_name}({source_name}, {}, {})",
            rest[0].name, rest[1].name
        );
        let source = source.map_or_else(|| lit(cx.tz), |s| cast(s.expr.clone(), DataType::Utf8));
        let exprs = vec![
            source,
            cast(rest[0].expr.clone(), DataType::Utf8),
            cast(rest[1].expr.clone(), ntz.clone()),
        ];
        (Op::Convert, exprs, label, ntz, false)
    } else {
        let [unit, a, b] = args else {
            return Err(wrong_args(name, "3", args.len()));
        };
        let unit_text = match &unit.expr {
            Expr::Literal(ScalarValue::Utf8(Some(u)), _) => u.clone(),
            _ => unit.name.clone(),
        };
        let parsed = Unit::parse(spark_name, &unit_text)?;
        let label = format!("{spark_name}({unit_text}, {}, {})", a.name, b.name);
        let ts_type = |arg: &Arg| -> Result<DataType> {
            Ok(match super::arg_type(arg, cx)? {
                t @ DataType::Timestamp(_, None) => t,
                _ => crate::types::timestamp(cx.tz),
            })
        };
        if spark_name == "timestampadd" {
            let t = ts_type(b)?;
            let exprs = vec![
                cast(a.expr.clone(), DataType::Int64),
                cast(b.expr.clone(), t.clone()),
            ];
            let zoned = matches!(t, DataType::Timestamp(_, Some(_)));
            (Op::Add(parsed), exprs, label, t, zoned)
        } else {
            let t = ts_type(a)?;
            let zoned = matches!(t, DataType::Timestamp(_, Some(_)));
            let exprs = vec![cast(a.expr.clone(), t.clone()), cast(b.expr.clone(), t)];
            (Op::Diff(parsed), exprs, label, DataType::Int64, zoned)
        }
    };
    let udf = ScalarUDF::new_from_impl(TimestampUnits {
        name: spark_name.to_string(),
        op,
        tz: zoned.then(|| cx.tz.to_string()),
        result,
        signature: Signature::any(exprs.len(), Volatility::Immutable),
    });
    Ok(Some((udf.call(exprs), label)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TimestampUnits {
    name: String,
    op: Op,
    /// The time zone of local date-times, `None` for `timestamp_ntz` values.
    tz: Option<String>,
    result: DataType,
    signature: Signature,
}

pub(super) fn zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| Error::Runtime {
        exception: "java.time.DateTimeException",
        class: "INVALID_TIMEZONE".into(),
        message: format!("The datetime zone id '{name}' is invalid."),
    })
}

pub(super) fn local_of(micros: i64, tz: Option<Tz>) -> Option<NaiveDateTime> {
    let utc = DateTime::from_timestamp_micros(micros)?.naive_utc();
    Some(match tz {
        Some(tz) => tz.from_utc_datetime(&utc).naive_local(),
        None => utc,
    })
}

/// The instant of a local date-time: the earlier one where it occurs twice, shifted by the
/// gap where a jump forward skips it (as `java.time.ZonedDateTime.of` does).
pub(super) fn micros_of(local: NaiveDateTime, tz: Option<Tz>) -> Option<i64> {
    let utc = match tz {
        None => local,
        Some(tz) => match tz.from_local_datetime(&local).earliest() {
            Some(t) => t.naive_utc(),
            None => {
                let before = tz
                    .from_local_datetime(&(local - Duration::hours(3)))
                    .earliest()?;
                let offset = before.naive_local() - before.naive_utc();
                local - offset
            }
        },
    };
    Some(utc.and_utc().timestamp_micros())
}

/// `ts` (microseconds) plus `quantity` units, in zone `tz`.
fn add(unit: Unit, quantity: i64, ts: i64, tz: Option<Tz>) -> Option<i64> {
    match unit.months() {
        Some(per) => {
            let months = i32::try_from(quantity.checked_mul(i64::from(per))?).ok()?;
            let local = local_of(ts, tz)?;
            let moved = if months >= 0 {
                local.checked_add_months(Months::new(months.unsigned_abs()))?
            } else {
                local.checked_sub_months(Months::new(months.unsigned_abs()))?
            };
            micros_of(moved, tz)
        }
        None if matches!(unit, Unit::Day | Unit::Week) => {
            let days = quantity.checked_mul(unit.micros() / 86_400_000_000)?;
            let moved = local_of(ts, tz)?.checked_add_signed(Duration::try_days(days)?)?;
            micros_of(moved, tz)
        }
        None => ts.checked_add(quantity.checked_mul(unit.micros())?),
    }
}

/// Whole units from `start` to `end` (microseconds), between their local date-times.
fn diff(unit: Unit, start: i64, end: i64, tz: Option<Tz>) -> Option<i64> {
    let (a, b) = (local_of(start, tz)?, local_of(end, tz)?);
    match unit.months() {
        Some(per) => {
            let mut months =
                i64::from(b.year() - a.year()) * 12 + i64::from(b.month()) - i64::from(a.month());
            // a partial month does not count: compare the rest of the date-time
            let rest = |t: NaiveDateTime| (t.day(), t.time());
            if months > 0 && rest(b) < rest(a) {
                months -= 1;
            } else if months < 0 && rest(b) > rest(a) {
                months += 1;
            }
            Some(months / i64::from(per))
        }
        None => {
            let span = (b - a).num_microseconds()?;
            Some(span / unit.micros())
        }
    }
}

impl ScalarUDFImpl for TimestampUnits {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(self.result.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays = super::arg_arrays(&args)?;
        let tz = self.tz.as_deref().map(zone).transpose()?;
        let null_at = |i: usize| arrays.iter().any(|a| a.is_null(i));
        let overflow = || Error::Runtime {
            exception: "java.lang.ArithmeticException",
            class: "DATETIME_OVERFLOW".into(),
            message: format!("Datetime operation overflow in `{}`.", self.name),
        };
        match self.op {
            Op::Add(unit) => {
                let quantity = arrays[0].as_primitive::<Int64Type>();
                let ts = arrays[1].as_primitive::<TimestampMicrosecondType>();
                let mut out = TimestampMicrosecondBuilder::with_capacity(n);
                for i in 0..n {
                    if null_at(i) {
                        out.append_null();
                        continue;
                    }
                    let v = add(unit, quantity.value(i), ts.value(i), tz).ok_or_else(overflow)?;
                    out.append_value(v);
                }
                let out = out.finish();
                Ok(ColumnarValue::Array(match &self.result {
                    DataType::Timestamp(_, Some(z)) => Arc::new(out.with_timezone(z.as_ref())),
                    _ => Arc::new(out),
                }))
            }
            Op::Diff(unit) => {
                let start = arrays[0].as_primitive::<TimestampMicrosecondType>();
                let end = arrays[1].as_primitive::<TimestampMicrosecondType>();
                let mut out = Int64Builder::with_capacity(n);
                for i in 0..n {
                    if null_at(i) {
                        out.append_null();
                        continue;
                    }
                    let v = diff(unit, start.value(i), end.value(i), tz).ok_or_else(overflow)?;
                    out.append_value(v);
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
            Op::Convert => {
                let (sources, targets) =
                    (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
                let ts = arrays[2].as_primitive::<TimestampMicrosecondType>();
                let mut out = TimestampMicrosecondBuilder::with_capacity(n);
                for i in 0..n {
                    if null_at(i) {
                        out.append_null();
                        continue;
                    }
                    let (source, target) = (zone(sources.value(i))?, zone(targets.value(i))?);
                    let instant = local_of(ts.value(i), None)
                        .and_then(|local| micros_of(local, Some(source)))
                        .and_then(|m| local_of(m, Some(target)))
                        .and_then(|local| micros_of(local, None))
                        .ok_or_else(overflow)?;
                    out.append_value(instant);
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .map(|t| t.and_utc().timestamp_micros())
            .unwrap_or(i64::MIN)
    }

    #[test]
    fn adds_as_spark_documents() {
        // Spark's examples (functions.timestamp_add), in UTC
        let ts = at("2016-03-11 09:00:07");
        assert_eq!(
            add(Unit::Year, 2, ts, None),
            Some(at("2018-03-11 09:00:07"))
        );
        assert_eq!(
            add(Unit::Week, 5, ts, None),
            Some(at("2016-04-15 09:00:07"))
        );
        assert_eq!(
            add(Unit::Day, -5, ts, None),
            Some(at("2016-03-06 09:00:07"))
        );
        // the end of a month stays in its month
        let jan31 = at("2024-01-31 00:00:00");
        assert_eq!(
            add(Unit::Month, 1, jan31, None),
            Some(at("2024-02-29 00:00:00"))
        );
        // a day across New York's spring change keeps the wall clock (23 hours later)
        let ny: Tz = "America/New_York".parse().unwrap_or(Tz::UTC);
        let before = at("2024-03-09 17:00:00"); // 12:00 in New York
        assert_eq!(
            add(Unit::Day, 1, before, Some(ny)),
            Some(at("2024-03-10 16:00:00"))
        );
        assert_eq!(
            add(Unit::Hour, 24, before, Some(ny)),
            Some(at("2024-03-10 17:00:00"))
        );
    }

    #[test]
    fn counts_whole_units_between() {
        let (a, b) = (at("2016-03-11 09:00:07"), at("2024-04-02 09:00:07"));
        assert_eq!(diff(Unit::Year, a, b, None), Some(8));
        assert_eq!(diff(Unit::Week, a, b, None), Some(420));
        assert_eq!(diff(Unit::Day, b, a, None), Some(-2944));
        // one second short of a month is no month
        let (c, d) = (at("2024-01-15 10:00:00"), at("2024-02-15 09:59:59"));
        assert_eq!(diff(Unit::Month, c, d, None), Some(0));
        assert_eq!(diff(Unit::Month, d, c, None), Some(0));
    }
}
