//! `make_timestamp(year, month, day, hour, min, sec[, timezone])` or `(date, time[, timezone])`
//! (and its `_ltz` twin): the instant of a local date and time in `timezone` (default the
//! session time zone); `make_timestamp_ntz` the local date-time itself; the `try_` forms null
//! where the others fail. As in
//! Spark, `sec` carries microseconds (it is read as `decimal(16, 6)`), a `sec` of exactly 60
//! is the next minute's first second, and fields out of range — or 60 with a fraction — are
//! `DATETIME_FIELD_OUT_OF_BOUNDS` / `INVALID_FRACTION_OF_SECOND` errors with ANSI mode on and
//! null with it off. A local time that a daylight-saving jump skips is moved forward by the
//! jump; one that occurs twice is the earlier instant.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{
    Array, AsArray, Decimal128Array, StringArray, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Int32Type, Time64NanosecondType, TimeUnit,
};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "make_timestamp",
    "make_timestamp_ltz",
    "make_timestamp_ntz",
    "try_make_timestamp",
    "try_make_timestamp_ltz",
    "try_make_timestamp_ntz",
];

/// How the call gives the local date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Form {
    /// `year, month, day, hour, min, sec`.
    Fields,
    /// `date, time`.
    DateTime,
}

/// Resolves the `make_timestamp` family: `_ntz` gives a local date-time, the others the instant
/// in `timezone` (the session's by default); `try_` gives null for an impossible date or time.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    let ntz = name.ends_with("_ntz");
    let allowed: &[usize] = if ntz { &[2, 6] } else { &[2, 3, 6, 7] };
    if !allowed.contains(&args.len()) {
        let text = if ntz { "2 or 6" } else { "2, 3, 6 or 7" };
        return Err(wrong_args(name, text, args.len()));
    }
    let form = if args.len() <= 3 {
        Form::DateTime
    } else {
        Form::Fields
    };
    let mut exprs: Vec<Expr> = match form {
        Form::Fields => {
            let mut exprs: Vec<Expr> = args[..5]
                .iter()
                .map(|a| cast(a.expr.clone(), DataType::Int32))
                .collect();
            exprs.push(cast(args[5].expr.clone(), DataType::Decimal128(16, 6)));
            exprs
        }
        Form::DateTime => vec![
            cast(args[0].expr.clone(), DataType::Date32),
            cast(args[1].expr.clone(), super::time::TIME),
        ],
    };
    let zone_at = if form == Form::Fields { 6 } else { 2 };
    exprs.push(match args.get(zone_at) {
        Some(zone) => cast(zone.expr.clone(), DataType::Utf8),
        None => datafusion::logical_expr::lit(cx.tz),
    });
    let udf = ScalarUDF::new_from_impl(MakeTimestamp {
        tz: cx.tz.to_string(),
        ansi: cx.ansi && !name.starts_with("try_"),
        ntz,
        form,
        signature: Signature::any(exprs.len(), Volatility::Immutable),
    });
    // Spark names `try_make_timestamp` by its six fields even when it is given a time zone
    let named = if name == "try_make_timestamp" && form == Form::Fields {
        &args[..6]
    } else {
        args
    };
    Ok(Some((udf.call(exprs), default_name(name, named, false))))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MakeTimestamp {
    /// The session time zone, the result's.
    tz: String,
    /// Whether a bad row is an error (else null).
    ansi: bool,
    /// Whether the result is a local date-time (`timestamp_ntz`).
    ntz: bool,
    form: Form,
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
        Ok(if self.ntz {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        } else {
            crate::types::timestamp(&self.tz)
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays = super::arg_arrays(&args)?;
        let zones: &StringArray = arrays[arrays.len() - 1].as_string();
        let mut out = TimestampMicrosecondBuilder::with_capacity(n);
        let mut zone: Option<(String, Tz)> = None;
        for i in 0..n {
            if arrays.iter().any(|a| a.is_null(i)) {
                out.append_null();
                continue;
            }
            let tz = if self.ntz {
                None
            } else {
                let name = zones.value(i);
                Some(match &zone {
                    Some((cached, tz)) if cached == name => *tz,
                    _ => {
                        let tz = name.parse::<Tz>().map_err(|_| {
                            DataFusionError::from(Error::Runtime {
                                exception: "java.time.DateTimeException",
                                class: "INVALID_TIMEZONE".into(),
                                message: format!(
                                    "make_timestamp(): the time zone '{name}' is unknown"
                                ),
                            })
                        })?;
                        zone = Some((name.to_string(), tz));
                        tz
                    }
                })
            };
            let local = match self.form {
                Form::Fields => {
                    let fields: Vec<i32> = arrays[..5]
                        .iter()
                        .map(|a| a.as_primitive::<Int32Type>().value(i))
                        .collect();
                    let seconds: &Decimal128Array = arrays[5].as_primitive();
                    local_of(&fields, seconds.value(i)).map_err(|e| (e, seconds.value_as_string(i)))
                }
                Form::DateTime => {
                    let days = arrays[0].as_primitive::<Date32Type>().value(i);
                    let nanos = arrays[1].as_primitive::<Time64NanosecondType>().value(i);
                    let micros = i64::from(days) * 86_400_000_000 + nanos / 1000;
                    chrono::DateTime::from_timestamp_micros(micros)
                        .map(|t| (t.naive_utc(), false))
                        .ok_or_else(|| {
                            (
                                Invalid::OutOfBounds(format!("Invalid date {days}")),
                                String::new(),
                            )
                        })
                }
            };
            match local {
                Ok((local, next_minute)) => {
                    let instant = match tz {
                        Some(tz) => instant(local, tz),
                        None => local,
                    };
                    let instant = if next_minute {
                        instant + Duration::minutes(1)
                    } else {
                        instant
                    };
                    out.append_value(instant.and_utc().timestamp_micros());
                }
                Err(_) if !self.ansi => out.append_null(),
                Err((Invalid::Fraction, seconds)) => {
                    return Err(Error::Runtime {
                        exception: "java.time.DateTimeException",
                        class: "INVALID_FRACTION_OF_SECOND".into(),
                        message: format!(
                            "Valid range for seconds is [0, 60] (inclusive), but the provided value is {seconds}. To avoid this error, use `try_make_timestamp`, which returns NULL on error."
                        ),
                    }
                    .into());
                }
                Err((Invalid::OutOfBounds(what), _)) => {
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
        let array = out.finish();
        Ok(ColumnarValue::Array(Arc::new(if self.ntz {
            array
        } else {
            array.with_timezone(self.tz.as_str())
        })))
    }
}

/// The local date-time of `[year, month, day, hour, minute]` and `sec_micros` (seconds in
/// microseconds), and whether the seconds were exactly 60 (the next minute's first second).
fn local_of(
    fields: &[i32],
    sec_micros: i128,
) -> std::result::Result<(NaiveDateTime, bool), Invalid> {
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
    Ok((local, next_minute))
}

/// The instant (as a UTC date-time) of the local time `local` in `tz`.
fn instant(local: NaiveDateTime, tz: Tz) -> NaiveDateTime {
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.naive_utc(),
        // skipped by a jump forward: the offset in force before it, as java.time does
        None => local - offset_before(tz, local),
    }
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

    /// The instant of the fields and seconds (in microseconds) in `tz`, in microseconds.
    fn micros(fields: &[i32], sec: i128, tz: Tz) -> std::result::Result<i64, Invalid> {
        let (local, next_minute) = local_of(fields, sec)?;
        let t = instant(local, tz) + Duration::minutes(i64::from(next_minute));
        Ok(t.and_utc().timestamp_micros())
    }

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
