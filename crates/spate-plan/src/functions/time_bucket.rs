//! `time_bucket(bucket_size, ts[, origin])`: the start of the fixed-size bucket `ts` falls in,
//! buckets laid from `origin` (1970-01-01 00:00:00 by default) in both directions, as Spark
//! 4.2 computes it. The size is a positive, constant day-time or year-month interval. A
//! `TIMESTAMP` is bucketed on its wall clock in the session time zone (an hour bucket in
//! Kolkata starts at :00 local time, a day bucket at local midnight, and a bucket across a
//! daylight-saving change keeps the wall clock); a `TIMESTAMP_NTZ` on its own value. Month
//! buckets count whole months from the origin, a month shorter than the origin's day ending
//! at its last day (`java.time`'s `plusMonths`).

use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};

use super::timestamp_units::{local_of, micros_of, zone};
use super::{Arg, CallContext, arg_arrays, arg_type, wrong_args};
use crate::types::sql_string;

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["time_bucket"];

/// A bucket's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Size {
    Micros(i64),
    Months(i64),
}

/// Resolves `time_bucket`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "time_bucket" {
        return Ok(None);
    }
    let (size, ts, origin) = match args {
        [s, t] => (s, t, None),
        [s, t, o] => (s, t, Some(o)),
        _ => return Err(wrong_args(name, "2 or 3", args.len())),
    };
    let ts_type = arg_type(ts, cx)?;
    let ntz = match &ts_type {
        DataType::Timestamp(_, None) => true,
        DataType::Timestamp(_, Some(_)) => false,
        DataType::Null => false,
        other => {
            return Err(mismatch(
                "UNEXPECTED_INPUT_TYPE",
                format!(
                    "The second parameter requires the \"(TIMESTAMP OR TIMESTAMP WITHOUT TIME ZONE)\" type, however \"{}\" has the type \"{}\".",
                    ts.name,
                    sql_string(other)
                ),
            ));
        }
    };
    let origin_label = match origin {
        Some(o) => {
            let t = arg_type(o, cx)?;
            let same = matches!((&t, ntz), (DataType::Timestamp(_, None), true))
                || matches!((&t, ntz), (DataType::Timestamp(_, Some(_)), false));
            if !same && t != DataType::Null {
                return Err(mismatch(
                    "UNEXPECTED_INPUT_TYPE",
                    format!(
                        "The third parameter requires the \"{}\" type, however \"{}\" has the type \"{}\".",
                        if ntz { "TIMESTAMP_NTZ" } else { "TIMESTAMP" },
                        o.name,
                        sql_string(&t)
                    ),
                ));
            }
            o.name.clone()
        }
        None => format!(
            "{} '1970-01-01 00:00:00'",
            if ntz { "TIMESTAMP_NTZ" } else { "TIMESTAMP" }
        ),
    };
    let bucket = match &size.expr {
        Expr::Literal(v, _) => size_of(v),
        // SQL planning types the call with the size as a column of its type: any positive
        // size types it alike
        _ if cx.typing => Some(Size::Months(1)),
        _ => {
            return Err(mismatch(
                "NON_FOLDABLE_INPUT",
                format!(
                    "the input `bucketSize` should be a foldable interval expression; however, got \"{}\".",
                    size.name
                ),
            ));
        }
    };
    let bucket = match bucket {
        Some(b) if matches!(b, Size::Micros(n) | Size::Months(n) if n > 0) => b,
        _ => {
            return Err(mismatch(
                "VALUE_OUT_OF_RANGE",
                format!(
                    "The `bucketSize` must be between (0, inf) (current value = {}).",
                    size.name
                ),
            ));
        }
    };
    let result = if ntz {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    } else {
        crate::types::timestamp(cx.tz)
    };
    let mut exprs = vec![datafusion::logical_expr::cast(
        ts.expr.clone(),
        result.clone(),
    )];
    if let Some(o) = origin {
        exprs.push(datafusion::logical_expr::cast(
            o.expr.clone(),
            result.clone(),
        ));
    }
    let udf = ScalarUDF::new_from_impl(TimeBucket {
        size: bucket,
        tz: (!ntz).then(|| cx.tz.to_string()),
        result,
        signature: Signature::any(exprs.len(), Volatility::Immutable),
    });
    let label = format!("time_bucket({}, {}, {origin_label})", size.name, ts.name);
    Ok(Some((udf.call(exprs), label)))
}

fn mismatch(sub: &str, message: String) -> Error {
    Error::analysis(format!("DATATYPE_MISMATCH.{sub}"), message)
}

/// The size an interval literal gives: a day-time interval in microseconds, a year-month
/// one in months; `None` for anything else (or a calendar interval of both).
fn size_of(v: &ScalarValue) -> Option<Size> {
    Some(match v {
        ScalarValue::DurationMicrosecond(Some(us)) => Size::Micros(*us),
        ScalarValue::IntervalYearMonth(Some(m)) => Size::Months(i64::from(*m)),
        ScalarValue::IntervalDayTime(Some(v)) => {
            Size::Micros(i64::from(v.days) * 86_400_000_000 + i64::from(v.milliseconds) * 1000)
        }
        ScalarValue::IntervalMonthDayNano(Some(v)) => match (v.months, v.days, v.nanoseconds) {
            (m, 0, 0) if m != 0 => Size::Months(i64::from(m)),
            (0, d, n) => Size::Micros(i64::from(d) * 86_400_000_000 + n / 1000),
            _ => return None,
        },
        _ => return None,
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TimeBucket {
    size: Size,
    /// The session time zone for a `TIMESTAMP`; `None` for `TIMESTAMP_NTZ`.
    tz: Option<String>,
    result: DataType,
    signature: Signature,
}

/// The epoch as a local date-time, the default origin.
fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// The local start of the bucket of `ts` (both local date-times).
fn bucket(size: Size, ts: NaiveDateTime, origin: NaiveDateTime) -> Option<NaiveDateTime> {
    match size {
        Size::Micros(width) => {
            let micros = |t: NaiveDateTime| t.and_utc().timestamp_micros();
            let diff = micros(ts).checked_sub(micros(origin))?;
            let start = micros(origin).checked_add(diff.div_euclid(width).checked_mul(width)?)?;
            chrono::DateTime::from_timestamp_micros(start).map(|t| t.naive_utc())
        }
        Size::Months(width) => {
            let mut months = i64::from(ts.year() - origin.year()) * 12 + i64::from(ts.month())
                - i64::from(origin.month());
            // a month not yet complete does not count (for either sign)
            let rest = |t: NaiveDateTime| (t.day(), t.time());
            if rest(ts) < rest(origin) {
                months -= 1;
            }
            let k = months.div_euclid(width).checked_mul(width)?;
            let step = Months::new(u32::try_from(k.unsigned_abs()).ok()?);
            if k >= 0 {
                origin.checked_add_months(step)
            } else {
                origin.checked_sub_months(step)
            }
        }
    }
}

impl ScalarUDFImpl for TimeBucket {
    fn name(&self) -> &str {
        "time_bucket"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(self.result.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let tz: Option<Tz> = self.tz.as_deref().map(zone).transpose()?;
        let arrays = arg_arrays(&args)?;
        let ts = arrays[0].as_primitive::<TimestampMicrosecondType>();
        let origins = arrays
            .get(1)
            .map(|o| o.as_primitive::<TimestampMicrosecondType>());
        let out: TimestampMicrosecondArray = (0..ts.len())
            .map(|i| {
                if ts.is_null(i) || origins.is_some_and(|o| o.is_null(i)) {
                    return None;
                }
                let origin = match origins {
                    Some(o) => local_of(o.value(i), tz)?,
                    None => epoch(),
                };
                let start = bucket(self.size, local_of(ts.value(i), tz)?, origin)?;
                micros_of(start, tz)
            })
            .collect();
        let zone = match &self.result {
            DataType::Timestamp(_, z) => z.clone(),
            _ => None,
        };
        Ok(ColumnarValue::Array(Arc::new(out.with_timezone_opt(zone))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap_or_default()
    }

    #[test]
    fn buckets_run_from_the_origin_both_ways() {
        let minutes = Size::Micros(15 * 60_000_000);
        assert_eq!(
            bucket(minutes, at("2024-01-01 11:27:00"), epoch()),
            Some(at("2024-01-01 11:15:00"))
        );
        assert_eq!(
            bucket(
                minutes,
                at("2024-01-01 11:27:00"),
                at("1970-01-01 00:05:00")
            ),
            Some(at("2024-01-01 11:20:00"))
        );
        assert_eq!(
            bucket(
                Size::Micros(3_600_000_000),
                at("1969-12-31 23:27:00"),
                epoch()
            ),
            Some(at("1969-12-31 23:00:00"))
        );
        assert_eq!(
            bucket(Size::Months(5), at("2024-03-15 11:27:00"), epoch()),
            Some(at("2024-03-01 00:00:00"))
        );
        assert_eq!(
            bucket(
                Size::Months(1),
                at("2024-03-15 11:27:00"),
                at("2024-01-31 00:00:00")
            ),
            Some(at("2024-02-29 00:00:00"))
        );
    }
}
