//! `make_timestamp(year, month, day, hour, min, sec[, timezone])` (and its `_ltz` twin): the
//! instant of a local date and time in `timezone` (default the session time zone). As in
//! Spark, `sec` carries microseconds (it is read as `decimal(16, 6)`), a `sec` of exactly 60
//! is the next minute's first second, and fields out of range — or 60 with a fraction — are
//! `DATETIME_FIELD_OUT_OF_BOUNDS` / `INVALID_FRACTION_OF_SECOND` errors with ANSI mode on and
//! null with it off. A local time that a daylight-saving jump skips is moved forward by the
//! jump; one that occurs twice is the earlier instant.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{
    Array, AsArray, Decimal128Array, Int32Array, StringArray, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["make_timestamp", "make_timestamp_ltz"];

/// Resolves `make_timestamp` and `make_timestamp_ltz`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    if !(6..=7).contains(&args.len()) {
        return Err(wrong_args(name, "6 or 7", args.len()));
    }
    let mut exprs: Vec<Expr> = args[..5]
        .iter()
        .map(|a| cast(a.expr.clone(), DataType::Int32))
        .collect();
    exprs.push(cast(args[5].expr.clone(), DataType::Decimal128(16, 6)));
    exprs.push(match args.get(6) {
        Some(zone) => cast(zone.expr.clone(), DataType::Utf8),
        None => datafusion::logical_expr::lit(cx.tz),
    });
    let udf = ScalarUDF::new_from_impl(MakeTimestamp {
        tz: cx.tz.to_string(),
        ansi: cx.ansi,
        signature: Signature::any(7, Volatility::Immutable),
    });
    Ok(Some((udf.call(exprs), default_name(name, args, false))))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MakeTimestamp {
    /// The session time zone, the result's.
    tz: String,
    ansi: bool,
    signature: Signature,
}

/// Why a row has no timestamp.
enum Invalid {
    OutOfBounds(String),
    Fraction,
}

impl ScalarUDFImpl for MakeTimestamp {
    fn name(&self) -> &str {
        "make_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(crate::types::timestamp(&self.tz))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<DfResult<Vec<_>>>()?;
        let ints: Vec<&Int32Array> = arrays[..5]
            .iter()
            .map(|a| a.as_primitive::<Int32Type>())
            .collect();
        let seconds: &Decimal128Array = arrays[5].as_primitive();
        let zones: &StringArray = arrays[6].as_string();
        let mut out = TimestampMicrosecondBuilder::with_capacity(n);
        let mut zone: Option<(String, Tz)> = None;
        for i in 0..n {
            if ints.iter().any(|a| a.is_null(i)) || seconds.is_null(i) || zones.is_null(i) {
                out.append_null();
                continue;
            }
            let name = zones.value(i);
            let tz = match &zone {
                Some((cached, tz)) if cached == name => *tz,
                _ => {
                    let tz = name.parse::<Tz>().map_err(|_| {
                        DataFusionError::from(Error::Runtime {
                            exception: "java.time.DateTimeException",
                            class: "INVALID_TIMEZONE".into(),
                            message: format!("make_timestamp(): the time zone '{name}' is unknown"),
                        })
                    })?;
                    zone = Some((name.to_string(), tz));
                    tz
                }
            };
            let fields: Vec<i32> = ints.iter().map(|a| a.value(i)).collect();
            match micros(&fields, seconds.value(i), tz) {
                Ok(m) => out.append_value(m),
                Err(_) if !self.ansi => out.append_null(),
                Err(Invalid::Fraction) => {
                    return Err(Error::Runtime {
                        exception: "java.time.DateTimeException",
                        class: "INVALID_FRACTION_OF_SECOND".into(),
                        message: format!(
                            "Valid range for seconds is [0, 60] (inclusive), but the provided value is {}. To avoid this error, use `try_make_timestamp`, which returns NULL on error.",
                            seconds.value_as_string(i)
                        ),
                    }
                    .into());
                }
                Err(Invalid::OutOfBounds(what)) => {
                    return Err(Error::Runtime {
                        exception: "java.time.DateTimeException",
                        class: "DATETIME_FIELD_OUT_OF_BOUNDS".into(),
                        message: format!(
                            "{what}. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error."
                        ),
                    }
                    .into());
                }
            }
        }
        let array = out.finish().with_timezone(self.tz.as_str());
        Ok(ColumnarValue::Array(Arc::new(array)))
    }
}

/// The instant of `[year, month, day, hour, minute]` and `sec_micros` (seconds in
/// microseconds) in `tz`, in microseconds since the epoch.
fn micros(fields: &[i32], sec_micros: i128, tz: Tz) -> std::result::Result<i64, Invalid> {
    let &[year, month, day, hour, minute] = fields else {
        return Err(Invalid::OutOfBounds("wrong number of fields".into()));
    };
    let out_of_bounds = |what: String| Invalid::OutOfBounds(what);
    let (whole, fraction) = (
        sec_micros.div_euclid(1_000_000),
        sec_micros.rem_euclid(1_000_000),
    );
    let next_minute = whole == 60;
    if next_minute && fraction != 0 {
        return Err(Invalid::Fraction);
    }
    if !(0..=60).contains(&whole) {
        return Err(out_of_bounds(format!(
            "Invalid value for SecondOfMinute (valid values 0 - 59): {whole}"
        )));
    }
    let second = if next_minute { 0 } else { whole as u32 };
    let date = u32::try_from(month)
        .ok()
        .zip(u32::try_from(day).ok())
        .and_then(|(m, d)| NaiveDate::from_ymd_opt(year, m, d))
        .ok_or_else(|| out_of_bounds(format!("Invalid date '{year}-{month}-{day}'")))?;
    let local = u32::try_from(hour)
        .ok()
        .zip(u32::try_from(minute).ok())
        .and_then(|(h, m)| date.and_hms_micro_opt(h, m, second, fraction as u32))
        .ok_or_else(|| out_of_bounds(format!("Invalid time {hour}:{minute}:{whole}")))?;
    let instant = match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.naive_utc(),
        // skipped by a jump forward: the offset in force before it, as java.time does
        None => local - offset_before(tz, local),
    };
    let instant = if next_minute {
        instant + Duration::minutes(1)
    } else {
        instant
    };
    Ok(instant.and_utc().timestamp_micros())
}

/// The UTC offset `tz` had a day before the local time `local`.
fn offset_before(tz: Tz, local: NaiveDateTime) -> Duration {
    let seconds = tz
        .offset_from_utc_datetime(&(local - Duration::days(1)))
        .fix()
        .local_minus_utc();
    Duration::seconds(i64::from(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_micros())
            .unwrap_or_default()
    }

    #[test]
    fn follows_spark_rules() {
        let utc = Tz::UTC;
        // Spark's documented examples: make_timestamp(2014, 12, 28, 6, 30, 45.887)
        let ok = |r: std::result::Result<i64, Invalid>| r.unwrap_or(i64::MIN);
        assert_eq!(
            ok(micros(&[2014, 12, 28, 6, 30], 45_887_000, utc)),
            at("2014-12-28T06:30:45.887Z")
        );
        // make_timestamp(2019, 6, 30, 23, 59, 60) is 2019-07-01 00:00:00
        assert_eq!(
            ok(micros(&[2019, 6, 30, 23, 59], 60_000_000, utc)),
            at("2019-07-01T00:00:00Z")
        );
        assert!(matches!(
            micros(&[2019, 6, 30, 23, 59], 60_500_000, utc),
            Err(Invalid::Fraction)
        ));
        assert!(micros(&[2019, 2, 30, 1, 1], 0, utc).is_err());
        assert!(micros(&[2019, 1, 1, 25, 1], 0, utc).is_err());
        // 02:30 on 2024-03-10 does not exist in New York: moved forward by the hour skipped
        let ny: Tz = "America/New_York".parse().unwrap_or(Tz::UTC);
        assert_eq!(
            ok(micros(&[2024, 3, 10, 2, 30], 0, ny)),
            at("2024-03-10T07:30:00Z")
        );
    }
}
