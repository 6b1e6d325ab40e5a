//! Date and time functions whose Spark form differs from DataFusion's: field extraction
//! (`year`, `dayofweek` counting Sunday as 1, `weekofyear`), `current_date`, `to_date` and
//! `to_timestamp` with Spark's default formats, `timestamp_seconds`/`_millis`/`_micros`,
//! `datediff`, and the functions taking Spark datetime patterns (`datetime_patterns.rs`).

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::logical_expr::{Expr, cast, lit, try_cast};
use spate_common::Result;

use super::datetime_patterns::{
    DEFAULT_PATTERN, format_timestamp, parse_timestamp, parse_timestamp_with, pattern_arg,
};
use super::{Arg, CallContext, call_registered, default_name, non_negative_mod, wrong_args};

/// The Spark functions this module rewrites that SQL text can call by name: SQL planning
/// sends them through the registry (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "year",
    "quarter",
    "month",
    "day",
    "dayofmonth",
    "dayofyear",
    "weekofyear",
    "hour",
    "minute",
    "second",
    "dayofweek",
    "current_date",
    "curdate",
    "to_date",
    "to_timestamp",
    "try_to_timestamp",
    "to_timestamp_ltz",
    "to_timestamp_ntz",
    "try_to_date",
    "date_format",
    "from_unixtime",
    "unix_timestamp",
    "to_unix_timestamp",
    "timestamp_seconds",
    "timestamp_millis",
    "timestamp_micros",
    "datediff",
    "date_diff",
];

/// Resolves `name` if it is a date/time function needing a rewrite.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let part = |field: &str| -> Result<Expr> {
        let a = args.first().ok_or_else(|| wrong_args(name, "1", 0))?;
        if let (DataType::Time64(_), "hour" | "minute" | "second") =
            (super::arg_type(a, cx)?, field)
        {
            // a time of day: its nanoseconds since midnight, divided out
            let nanos = cast(cast(a.expr.clone(), super::time::TIME), DataType::Int64);
            let (unit, of): (i64, i64) = match field {
                "hour" => (3_600_000_000_000, 24),
                "minute" => (60_000_000_000, 60),
                _ => (1_000_000_000, 60),
            };
            return Ok(cast((nanos / lit(unit)) % lit(of), DataType::Int32));
        }
        // Spark casts text to a timestamp (time fields) or a date (date fields) first
        let value = match super::arg_type(a, cx)? {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => match field {
                "hour" | "minute" | "second" => {
                    cast(a.expr.clone(), crate::types::timestamp(cx.tz))
                }
                _ => cast(a.expr.clone(), DataType::Date32),
            },
            _ => a.expr.clone(),
        };
        let e = call_registered(cx, "date_part", vec![lit(field), value])?;
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
        "to_date" | "to_timestamp" if args.len() == 2 => {
            let (_, pattern) = pattern_arg(name, &args[1].expr)?;
            let ts = parse_timestamp(args[0].expr.clone(), pattern, cx.tz, cx.ansi);
            match name {
                "to_date" => (cast(ts, DataType::Date32), label),
                _ => (ts, label),
            }
        }
        "date_format" => {
            if args.len() != 2 {
                return Err(wrong_args(name, "2", args.len()));
            }
            let (_, pattern) = pattern_arg(name, &args[1].expr)?;
            let ts = cast(args[0].expr.clone(), crate::types::timestamp(cx.tz));
            (format_timestamp(ts, pattern, cx.tz), label)
        }
        "from_unixtime" => {
            let a = args.first().ok_or_else(|| wrong_args(name, "1 or 2", 0))?;
            let (text, pattern) = match args.get(1) {
                Some(p) => pattern_arg(name, &p.expr)?,
                None => pattern_arg(name, &lit(DEFAULT_PATTERN))?,
            };
            let micros = cast(a.expr.clone(), DataType::Int64) * lit(1_000_000i64);
            let ts = cast(micros, crate::types::timestamp(cx.tz));
            let label = format!("from_unixtime({}, {text})", a.name);
            (format_timestamp(ts, pattern, cx.tz), label)
        }
        "unix_timestamp" | "to_unix_timestamp" => {
            let (value, value_name) = match args.first() {
                Some(a) => (a.expr.clone(), a.name.clone()),
                None => (
                    call_registered(cx, "now", vec![])?,
                    "current_timestamp()".to_string(),
                ),
            };
            let (pattern, text) = match args.get(1) {
                Some(p) => (p.expr.clone(), p.name.clone()),
                None => (lit(DEFAULT_PATTERN), DEFAULT_PATTERN.to_string()),
            };
            let ts = match args.first().map(|a| super::arg_type(a, cx)).transpose()? {
                Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
                    parse_timestamp_with(name, value, &pattern, cx.tz, false, cx.ansi)?
                }
                _ => cast(value, crate::types::timestamp(cx.tz)),
            };
            // whole seconds, rounded down (also before 1970)
            let micros = cast(ts, DataType::Int64);
            let seconds =
                (micros.clone() - non_negative_mod(micros, 1_000_000)) / lit(1_000_000i64);
            let label = format!("{name}({value_name}, {text})");
            (seconds, label)
        }
        "try_to_date" | "try_to_timestamp" | "to_timestamp_ltz" | "to_timestamp_ntz" => {
            let to = match name {
                "try_to_date" => DataType::Date32,
                "to_timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
                _ => crate::types::timestamp(cx.tz),
            };
            let fail = cx.ansi && !name.starts_with("try_");
            let e = match args {
                [text] if fail => cast(text.expr.clone(), to),
                [text] => try_cast(text.expr.clone(), to),
                [text, pattern] => {
                    let ntz = name == "to_timestamp_ntz";
                    let ts = parse_timestamp_with(
                        name,
                        text.expr.clone(),
                        &pattern.expr,
                        cx.tz,
                        ntz,
                        fail,
                    )?;
                    if name == "try_to_date" {
                        cast(ts, DataType::Date32)
                    } else {
                        ts
                    }
                }
                _ => return Err(wrong_args(name, "1 or 2", args.len())),
            };
            (e, label)
        }
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
