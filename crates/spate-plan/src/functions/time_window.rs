//! `window(timeColumn, windowDuration[, slideDuration[, startTime]])`, Spark's time windows
//! as grouping keys: a struct `window` of `start` and `end` timestamps. Window starts are
//! aligned to `startTime` (default 0) from the epoch, in microseconds: a row at `ts` is in the
//! windows starting at `ts - (ts - startTime) mod slide - i * slide` that still contain it.
//!
//! A tumbling window (slide = duration) evaluates to its struct. A sliding window puts a row in
//! several windows, so [`expand_sliding`] (called by the aggregate resolver) turns it into an
//! unnest of the candidate windows, filtered to those that contain the row, as Spark expands
//! it. As grouping keys, rows with a null time are in no window (in a `select`, a tumbling
//! window of a null time is null).

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::Column;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::functions::core::expr_fn::{get_field, named_struct};
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast, col, lit,
};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};

use super::{Arg, CallContext, non_negative_mod, wrong_args};

/// The column a sliding window is unnested into before grouping.
const EXPANDED: &str = "__spate_window";

/// The Spark functions this module rewrites that SQL text can call by name: SQL planning
/// sends them through the registry (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["window", "window_time"];

/// `window_time(window)`: the time of a window's rows, its end less a microsecond (Spark's).
fn window_time(args: &[Arg], cx: &CallContext<'_>) -> Result<(Expr, String)> {
    let [window] = args else {
        return Err(wrong_args("window_time", "1", args.len()));
    };
    let is_window = matches!(
        window.expr.get_type(cx.schema)?,
        DataType::Struct(f) if f.len() == 2 && f[0].name() == "start" && f[1].name() == "end"
    );
    if !is_window {
        return Err(Error::analysis(
            "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
            format!(
                "window_time() needs a window column (a struct of start and end), got {}",
                window.name
            ),
        ));
    }
    let end = datafusion::functions::core::expr_fn::get_field(window.expr.clone(), "end");
    let micro =
        datafusion::logical_expr::lit(datafusion::scalar::ScalarValue::IntervalMonthDayNano(Some(
            datafusion::arrow::datatypes::IntervalMonthDayNano::new(0, 0, 1_000),
        )));
    Ok((end - micro, format!("window_time({})", window.name)))
}

/// Resolves `window(...)` and `window_time(...)`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name == "window_time" {
        return window_time(args, cx).map(Some);
    }
    if name != "window" {
        return Ok(None);
    }
    if args.len() < 2 || args.len() > 4 {
        return Err(wrong_args(name, "2 to 4", args.len()));
    }
    let duration = interval_arg(&args[1].expr, "windowDuration", "window")?;
    let slide = match args.get(2) {
        Some(a) => interval_arg(&a.expr, "slideDuration", "window")?,
        None => duration,
    };
    let start = match args.get(3) {
        Some(a) => interval_arg(&a.expr, "startTime", "window")?,
        None => 0,
    };
    if duration <= 0 || slide <= 0 || slide > duration {
        return Err(Error::analysis(
            "DATATYPE_MISMATCH.INVALID_WINDOW",
            format!(
                "window(): the duration and slide must be positive and the slide at most the duration, got {duration} and {slide} microseconds"
            ),
        ));
    }
    let ts_type = args[0].expr.get_type(cx.schema)?;
    let ts_type = match ts_type {
        DataType::Timestamp(..) => ts_type,
        DataType::Date32 | DataType::Utf8 => crate::types::timestamp(cx.tz),
        other => {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                format!("window() needs a timestamp time column, got {other}"),
            ));
        }
    };
    let ts = cast(args[0].expr.clone(), ts_type.clone());
    let spec = Spec {
        duration,
        slide,
        start,
        ts_type,
    };
    let e = ScalarUDF::new_from_impl(WindowMarker {
        spec,
        grouped: false,
        signature: Signature::any(1, Volatility::Immutable),
    })
    .call(vec![ts]);
    Ok(Some((e, "window".to_string())))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Spec {
    duration: i64,
    slide: i64,
    start: i64,
    ts_type: DataType,
}

impl Spec {
    fn fields(&self) -> Fields {
        Fields::from(vec![
            Field::new("start", self.ts_type.clone(), true),
            Field::new("end", self.ts_type.clone(), true),
        ])
    }

    /// The window starting at `start_micros`.
    fn window_struct(&self, start_micros: Expr) -> Expr {
        let end = start_micros.clone() + lit(self.duration);
        named_struct(vec![
            lit("start"),
            cast(start_micros, self.ts_type.clone()),
            lit("end"),
            cast(end, self.ts_type.clone()),
        ])
    }
}

/// A window: a tumbling one evaluates to its struct; a sliding one must be replaced by
/// [`expand_sliding`] first.
#[derive(Debug, PartialEq, Eq, Hash)]
struct WindowMarker {
    spec: Spec,
    /// A grouping key over rows with a time (never null, as Spark declares it).
    grouped: bool,
    signature: Signature,
}

impl ScalarUDFImpl for WindowMarker {
    fn name(&self) -> &str {
        "window"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Struct(self.spec.fields()))
    }

    fn return_field_from_args(
        &self,
        args: datafusion::logical_expr::ReturnFieldArgs,
    ) -> DfResult<datafusion::arrow::datatypes::FieldRef> {
        let nullable = !self.grouped && args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(std::sync::Arc::new(Field::new(
            "window",
            DataType::Struct(self.spec.fields()),
            nullable,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        use datafusion::arrow::array::{Array, AsArray, Int64Array, StructArray};
        use datafusion::arrow::datatypes::Int64Type;
        let spec = &self.spec;
        if spec.slide != spec.duration {
            return Err(DataFusionError::Plan(
                "a sliding window() (slide shorter than the window) is supported as a groupBy key"
                    .into(),
            ));
        }
        let ts = args.args[0].to_array(args.number_rows)?;
        let micros = datafusion::arrow::compute::cast(&ts, &DataType::Int64)?;
        let micros = micros.as_primitive::<Int64Type>();
        let starts: Int64Array = micros.unary(|t| t - (t - spec.start).rem_euclid(spec.slide));
        let ends: Int64Array = starts.unary(|s| s + spec.duration);
        let to_ts = |a: Int64Array| datafusion::arrow::compute::cast(&a, &spec.ts_type);
        let array = StructArray::try_new(
            spec.fields(),
            vec![to_ts(starts)?, to_ts(ends)?],
            ts.logical_nulls(),
        )?;
        Ok(ColumnarValue::Array(std::sync::Arc::new(array)))
    }
}

/// Replaces sliding `window(...)` grouping keys: `plan` gets one row per (row, window that
/// contains it) in a hidden column, and the key reads that column.
pub(super) fn expand_sliding(
    plan: LogicalPlan,
    groups: Vec<Expr>,
) -> Result<(LogicalPlan, Vec<Expr>)> {
    let mut plan = plan;
    let mut out = Vec::with_capacity(groups.len());
    for (n, g) in groups.into_iter().enumerate() {
        let Expr::ScalarFunction(f) = &g else {
            out.push(g);
            continue;
        };
        let Some(marker) = f.func.inner().downcast_ref::<WindowMarker>() else {
            out.push(g);
            continue;
        };
        let spec = marker.spec.clone();
        let ts = f.args[0].clone();
        if spec.slide == spec.duration {
            // a row with a null time is in no window, so the key is never null
            plan = LogicalPlanBuilder::from(plan)
                .filter(ts.clone().is_not_null())?
                .build()?;
            let key = ScalarUDF::new_from_impl(WindowMarker {
                spec,
                grouped: true,
                signature: Signature::any(1, Volatility::Immutable),
            });
            out.push(key.call(vec![ts]));
            continue;
        }
        let micros = cast(ts.clone(), DataType::Int64);
        let last = micros.clone() - non_negative_mod(micros - lit(spec.start), spec.slide);
        let count = (spec.duration + spec.slide - 1) / spec.slide;
        let candidates = (0..count)
            .map(|i| spec.window_struct(last.clone() - lit(i * spec.slide)))
            .collect::<Vec<_>>();
        let name = format!("{EXPANDED}_{n}");
        let mut items: Vec<Expr> = plan
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        items.push(make_array(candidates).alias(&name));
        let column = col(Column::from_name(&name));
        plan = LogicalPlanBuilder::from(plan)
            .filter(ts.clone().is_not_null())?
            .project(items)?
            .unnest_column(Column::from_name(&name))?
            .filter(
                ts.clone()
                    .gt_eq(get_field(column.clone(), "start"))
                    .and(ts.lt(get_field(column.clone(), "end"))),
            )?
            .build()?;
        out.push(column);
    }
    Ok((plan, out))
}

/// An interval literal like `'5 minutes'` or `'1 hour 30 minutes'`, in microseconds: the
/// argument `what` of `function`.
pub(super) fn interval_arg(e: &Expr, what: &str, function: &str) -> Result<i64> {
    let text = match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)), _) => s.clone(),
        other => {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
                format!(
                    "{function}(): {what} must be a string literal like '5 minutes', got {other}"
                ),
            ));
        }
    };
    parse_interval(&text).ok_or_else(|| {
        Error::analysis(
            "CANNOT_PARSE_INTERVAL",
            format!("{function}(): cannot parse the {what} '{text}'; use e.g. '10 seconds', '5 minutes', '1 hour', '1 day'"),
        )
    })
}

/// `'<n> <unit> [<n> <unit> ...]'` in microseconds (weeks down to microseconds).
pub(crate) fn parse_interval(text: &str) -> Option<i64> {
    let t = text.trim().to_lowercase();
    let t = t.strip_prefix("interval").unwrap_or(&t);
    let words: Vec<&str> = t.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return None;
    }
    let mut total: i64 = 0;
    for pair in words.chunks(2) {
        let n: f64 = pair[0].parse().ok()?;
        let unit: i64 = match pair[1].trim_end_matches('s') {
            "week" => 7 * 86_400_000_000,
            "day" => 86_400_000_000,
            "hour" => 3_600_000_000,
            "minute" => 60_000_000,
            "second" => 1_000_000,
            "millisecond" => 1_000,
            "microsecond" => 1,
            _ => return None,
        };
        total = total.checked_add((n * unit as f64) as i64)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::parse_interval;

    #[test]
    fn parses_spark_interval_strings() {
        assert_eq!(parse_interval("5 minutes"), Some(300_000_000));
        assert_eq!(parse_interval("1 hour"), Some(3_600_000_000));
        assert_eq!(parse_interval("1 hour 30 minutes"), Some(5_400_000_000));
        assert_eq!(parse_interval("interval 2 seconds"), Some(2_000_000));
        assert_eq!(parse_interval("3 fortnights"), None);
    }
}
