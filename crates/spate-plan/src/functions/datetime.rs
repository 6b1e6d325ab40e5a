//! Date and time functions whose Spark form differs from DataFusion's: field extraction
//! (`year`, `dayofweek` counting Sunday as 1, `weekofyear`), `current_date`, `to_date` and
//! `to_timestamp` with Spark's default formats, `timestamp_seconds`/`_millis`/`_micros`, and
//! `datediff`.

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{Expr, cast, lit};
use spate_common::Result;

use super::{Arg, CallContext, call_registered, default_name, wrong_args};

/// Resolves `name` if it is a date/time function needing a rewrite.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let part = |field: &str| -> Result<Expr> {
        let a = args.first().ok_or_else(|| wrong_args(name, "1", 0))?;
        let e = call_registered(cx, "date_part", vec![lit(field), a.expr.clone()])?;
        Ok(cast(e, DataType::Int32))
    };
    let label = default_name(name, args, false);
    Ok(Some(match name {
        "year" => (part("year")?, label),
        "quarter" => (part("quarter")?, label),
        "month" => (part("month")?, label),
        "day" | "dayofmonth" => (part("day")?, label),
        "dayofyear" => (part("doy")?, label),
        "weekofyear" => (part("week")?, label),
        "hour" => (part("hour")?, label),
        "minute" => (part("minute")?, label),
        "second" => (part("second")?, label),
        // datafusion-spark's date_part follows Spark: `dow` counts Sunday as 1.
        "dayofweek" => (part("dow")?, label),
        "current_date" | "curdate" => (
            call_registered(cx, "current_date", vec![])?,
            "current_date()".to_string(),
        ),
        "to_date" if args.len() == 1 => (cast(args[0].expr.clone(), DataType::Date32), label),
        "to_timestamp" if args.len() == 1 => (
            cast(args[0].expr.clone(), crate::types::timestamp(cx.tz)),
            label,
        ),
        "timestamp_seconds" | "timestamp_millis" | "timestamp_micros" => {
            let a = args.first().ok_or_else(|| wrong_args(name, "1", 0))?;
            let per_unit: i64 = match name {
                "timestamp_seconds" => 1_000_000,
                "timestamp_millis" => 1_000,
                _ => 1,
            };
            // Fractional seconds are truncated to microseconds, as in Spark.
            let micros = match super::arg_type(a, cx)? {
                DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => cast(
                    cast(a.expr.clone(), DataType::Float64) * lit(per_unit as f64),
                    DataType::Int64,
                ),
                _ => cast(a.expr.clone(), DataType::Int64) * lit(per_unit),
            };
            (cast(micros, crate::types::timestamp(cx.tz)), label)
        }
        "datediff" | "date_diff" => {
            if args.len() != 2 {
                return Err(wrong_args(name, "2", args.len()));
            }
            let days = |e: &Expr| cast(cast(e.clone(), DataType::Date32), DataType::Int32);
            (days(&args[0].expr) - days(&args[1].expr), label)
        }
        _ => return Ok(None),
    }))
}
