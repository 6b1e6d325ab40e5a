//! Date and time functions whose Spark form differs from DataFusion's: field extraction
//! (`year`, `dayofweek` counting Sunday as 1, `weekofyear`), `current_date`, `to_date` and
//! `to_timestamp` with Spark's default formats, and `datediff`.

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
