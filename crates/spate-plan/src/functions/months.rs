//! Spark's `months_between(end, start[, roundOff])`: whole months when both days are the same
//! day of the month or both are the last day of their month; otherwise the months between the
//! two (year, month) pairs plus the difference of day and time of day in units of 31 days.
//! Both are read in the session time zone (dates at midnight); the result is rounded to 8
//! decimal places unless `roundOff` is false.

use std::sync::Arc;

use chrono::{Datelike, NaiveDateTime, TimeZone, Timelike};
use datafusion::arrow::array::{Array, AsArray, Float64Builder};
use datafusion::arrow::datatypes::{DataType, TimestampMicrosecondType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit,
};
use spate_common::Result;

use super::{Arg, CallContext, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["months_between"];

/// Resolves `months_between`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "months_between" {
        return Ok(None);
    }
    let (end, start, round) = match args {
        [end, start] => (end, start, (lit(true), "true".to_string())),
        [end, start, round] => (end, start, (round.expr.clone(), round.name.clone())),
        _ => return Err(wrong_args(name, "2 or 3", args.len())),
    };
    let ts = |e: &Expr| cast(e.clone(), crate::types::timestamp(cx.tz));
    let udf = ScalarUDF::new_from_impl(MonthsBetween {
        tz: cx.tz.to_string(),
        signature: Signature::any(3, Volatility::Immutable),
    });
    let e = udf.call(vec![
        ts(&end.expr),
        ts(&start.expr),
        cast(round.0, DataType::Boolean),
    ]);
    let label = format!("months_between({}, {}, {})", end.name, start.name, round.1);
    Ok(Some((e, label)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MonthsBetween {
    tz: String,
    signature: Signature,
}

/// Months from `start` to `end`, both local date-times; see the module documentation.
fn months_between(end: NaiveDateTime, start: NaiveDateTime, round: bool) -> f64 {
    let months = |t: &NaiveDateTime| i64::from(t.year()) * 12 + i64::from(t.month());
    let last_day = |t: &NaiveDateTime| t.date().succ_opt().is_none_or(|d| d.month() != t.month());
    let whole = (months(&end) - months(&start)) as f64;
    if end.day() == start.day() || (last_day(&end) && last_day(&start)) {
        return whole;
    }
    let seconds = |t: &NaiveDateTime| i64::from(t.num_seconds_from_midnight());
    let day_seconds =
        (i64::from(end.day()) - i64::from(start.day())) * 86_400 + seconds(&end) - seconds(&start);
    let diff = whole + day_seconds as f64 / (31.0 * 86_400.0);
    if round {
        (diff * 1e8).round() / 1e8
    } else {
        diff
    }
}

impl ScalarUDFImpl for MonthsBetween {
    fn name(&self) -> &str {
        "months_between"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let zone: chrono_tz::Tz = self
            .tz
            .parse()
            .map_err(|e| DataFusionError::Execution(format!("unknown time zone: {e}")))?;
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(args.number_rows))
            .collect::<DfResult<Vec<_>>>()?;
        let end = arrays[0].as_primitive::<TimestampMicrosecondType>();
        let start = arrays[1].as_primitive::<TimestampMicrosecondType>();
        let round = arrays[2].as_boolean();
        let local = |us: i64| {
            chrono::DateTime::from_timestamp_micros(us)
                .map(|t| zone.from_utc_datetime(&t.naive_utc()).naive_local())
                .ok_or_else(|| DataFusionError::Execution("timestamp out of range".into()))
        };
        let mut out = Float64Builder::with_capacity(end.len());
        for i in 0..end.len() {
            if end.is_null(i) || start.is_null(i) || round.is_null(i) {
                out.append_null();
            } else {
                let (e, s) = (local(end.value(i))?, local(start.value(i))?);
                out.append_value(months_between(e, s, round.value(i)));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap_or_default()
    }

    #[test]
    fn months_between_follows_sparks_documented_examples() {
        // Spark's documentation: months_between('1997-02-28 10:30:00', '1996-10-30') = 3.94959677
        let m = months_between(at("1997-02-28 10:30:00"), at("1996-10-30 00:00:00"), true);
        assert_eq!(m, 3.94959677);
        let m = months_between(at("1997-02-28 10:30:00"), at("1996-10-30 00:00:00"), false);
        assert!((m - 3.949_596_774_193_548).abs() < 1e-12);
        // both the last day of their month: whole months
        assert_eq!(
            months_between(at("2024-04-30 08:00:00"), at("2024-02-29 00:00:00"), true),
            2.0
        );
    }
}
