//! `try_add`, `try_subtract`, `try_multiply` and `try_divide`: Spark's arithmetic that gives
//! NULL where the operator would fail — an integral result that overflows its type, a division
//! by zero, an interval that no longer fits — whatever the ANSI setting. Integral operands are
//! computed exactly in 64 bits and kept when the result fits the wider operand type;
//! `try_divide` of numbers is a double (a decimal for decimals), NULL for a zero divisor; a
//! date plus or minus a number of days is `date_add`/`date_sub`; an interval times or divided
//! by a number scales each of its months, days and microseconds as Spark does (the fractions of
//! a division carried down: a month is 30 days). Other operand types (dates and timestamps
//! with intervals, intervals with intervals) take the operator itself.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array, IntervalMonthDayNanoArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit,
};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, binary_expr, lit, when,
};
use spate_common::Result;

use super::{Arg, CallContext, arg_type, call_registered, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["try_add", "try_subtract", "try_multiply", "try_divide"];

/// The four operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Add,
    Subtract,
    Multiply,
    Divide,
}

/// Resolves the four `try_` functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let op = match name {
        "try_add" => Op::Add,
        "try_subtract" => Op::Subtract,
        "try_multiply" => Op::Multiply,
        "try_divide" => Op::Divide,
        _ => return Ok(None),
    };
    let [l, r] = args else {
        return Err(wrong_args(name, "2", args.len()));
    };
    let (lt, rt) = (arg_type(l, cx)?, arg_type(r, cx)?);
    let (le, re) = (l.expr.clone(), r.expr.clone());
    let interval = |t: &DataType| matches!(t, DataType::Interval(IntervalUnit::MonthDayNano));
    let expr = match op {
        _ if is_integral(&lt) && is_integral(&rt) && op != Op::Divide => {
            let out = wider_integral(&lt, &rt);
            udf(TryArith::new(op, out)).call(vec![le, re])
        }
        Op::Add | Op::Subtract if year_month(&lt) && year_month(&rt) => {
            super::ym_interval::try_sum(op == Op::Subtract).call(vec![le, re])
        }
        Op::Add | Op::Subtract if lt == DataType::Date32 && is_integral(&rt) => {
            let f = if op == Op::Add {
                "date_add"
            } else {
                "date_sub"
            };
            call_registered(cx, f, vec![le, re])?
        }
        Op::Add if is_integral(&lt) && rt == DataType::Date32 => {
            call_registered(cx, "date_add", vec![re, le])?
        }
        Op::Multiply | Op::Divide if interval(&lt) && rt.is_numeric() => {
            udf(TryArith::new(op, lt.clone())).call(vec![le, re])
        }
        Op::Multiply if lt.is_numeric() && interval(&rt) => {
            udf(TryArith::new(op, rt.clone())).call(vec![re, le])
        }
        Op::Divide if lt.is_numeric() && rt.is_numeric() => {
            let decimal = |t: &DataType| matches!(t, DataType::Decimal128(..));
            let quotient = if decimal(&lt) || decimal(&rt) {
                binary_expr(le, Operator::Divide, re.clone())
            } else {
                binary_expr(
                    datafusion::logical_expr::cast(le, DataType::Float64),
                    Operator::Divide,
                    datafusion::logical_expr::cast(re.clone(), DataType::Float64),
                )
            };
            when(re.eq(lit(0)), lit(datafusion::scalar::ScalarValue::Null)).otherwise(quotient)?
        }
        _ => {
            let o = match op {
                Op::Add => Operator::Plus,
                Op::Subtract => Operator::Minus,
                Op::Multiply => Operator::Multiply,
                Op::Divide => Operator::Divide,
            };
            binary_expr(le, o, re)
        }
    };
    Ok(Some((expr, default_name(name, args, false))))
}

fn year_month(t: &DataType) -> bool {
    matches!(t, DataType::Interval(IntervalUnit::YearMonth))
}

fn is_integral(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    )
}

/// Spark's result type of integral arithmetic: the wider operand type.
fn wider_integral(a: &DataType, b: &DataType) -> DataType {
    let rank = |t: &DataType| match t {
        DataType::Int8 => 0,
        DataType::Int16 => 1,
        DataType::Int32 => 2,
        _ => 3,
    };
    if rank(a) >= rank(b) {
        a.clone()
    } else {
        b.clone()
    }
}

fn udf(f: TryArith) -> ScalarUDF {
    ScalarUDF::new_from_impl(f)
}

/// Integral arithmetic (result type `out`) or interval scaling, NULL where Spark would fail.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TryArith {
    op: Op,
    out: DataType,
    name: String,
    signature: Signature,
}

impl TryArith {
    fn new(op: Op, out: DataType) -> Self {
        let name = match op {
            Op::Add => "try_add",
            Op::Subtract => "try_subtract",
            Op::Multiply => "try_multiply",
            Op::Divide => "try_divide",
        };
        Self {
            op,
            out,
            name: format!("spark_{name}"),
            signature: Signature::any(2, Volatility::Immutable),
        }
    }

    /// Integral operands, exact in 64 bits, kept when the result fits `self.out`.
    fn integral(&self, l: &ArrayRef, r: &ArrayRef) -> DfResult<ArrayRef> {
        let (l, r) = (cast(l, &DataType::Int64)?, cast(r, &DataType::Int64)?);
        let (l, r) = (l.as_primitive::<Int64Type>(), r.as_primitive::<Int64Type>());
        let (lo, hi) = match self.out {
            DataType::Int8 => (i64::from(i8::MIN), i64::from(i8::MAX)),
            DataType::Int16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
            DataType::Int32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
            _ => (i64::MIN, i64::MAX),
        };
        let values: Int64Array = l
            .iter()
            .zip(r.iter())
            .map(|(a, b)| {
                let (a, b) = (a?, b?);
                let v = match self.op {
                    Op::Add => a.checked_add(b),
                    Op::Subtract => a.checked_sub(b),
                    _ => a.checked_mul(b),
                }?;
                (lo..=hi).contains(&v).then_some(v)
            })
            .collect();
        Ok(cast(&values, &self.out)?)
    }

    /// An interval times or divided by a number.
    fn interval(&self, l: &ArrayRef, r: &ArrayRef) -> DfResult<ArrayRef> {
        let r = cast(r, &DataType::Float64)?;
        let (l, r) = (
            l.as_primitive::<IntervalMonthDayNanoType>(),
            r.as_primitive::<Float64Type>(),
        );
        let values: IntervalMonthDayNanoArray = l
            .iter()
            .zip(r.iter())
            .map(|(i, n)| {
                let (i, n) = (i?, n?);
                match self.op {
                    Op::Divide if n == 0.0 => None,
                    Op::Divide => scaled(i, |v| v / n),
                    _ => scaled(i, |v| v * n),
                }
            })
            .collect();
        Ok(Arc::new(values))
    }
}

/// Spark's `IntervalUtils.fromDoubles` of an interval's parts each scaled by `part`: the month
/// and day fractions carry down (30 days a month, 86400 seconds a day), microseconds round
/// as Java's `Math.round`; `None` when a part overflows.
fn scaled(i: IntervalMonthDayNano, part: impl Fn(f64) -> f64) -> Option<IntervalMonthDayNano> {
    const MICROS_PER_DAY: f64 = 86_400_000_000.0;
    let months = part(f64::from(i.months));
    let micros = part((i.nanoseconds / 1_000) as f64);
    let whole_months = months.trunc();
    let days = part(f64::from(i.days)) + 30.0 * (months - whole_months);
    let whole_days = days.trunc();
    let micros = (micros + MICROS_PER_DAY * (days - whole_days) + 0.5).floor();
    let fits_i32 = |v: f64| v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX);
    if !fits_i32(whole_months) || !fits_i32(whole_days) || micros.abs() >= i64::MAX as f64 / 1000.0
    {
        return None;
    }
    Some(IntervalMonthDayNano::new(
        whole_months as i32,
        whole_days as i32,
        micros as i64 * 1_000,
    ))
}

impl ScalarUDFImpl for TryArith {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(self.out.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let [l, r] = <[ColumnarValue; 2]>::try_from(args.args).map_err(|_| {
            DataFusionError::Internal(format!("bug: {} takes two arguments", self.name))
        })?;
        let (l, r) = (l.into_array(rows)?, r.into_array(rows)?);
        let out = if matches!(self.out, DataType::Interval(_)) {
            self.interval(&l, &r)?
        } else {
            self.integral(&l, &r)?
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_scale_as_spark_does() {
        let months = |m| IntervalMonthDayNano::new(m, 0, 0);
        // Spark's try_multiply / try_divide docstrings: 4 years 3 months * 4 = 17 years,
        // 1 year / 2 = 6 months, / 3 = 4 months
        assert_eq!(scaled(months(51), |v| v * 4.0), Some(months(204)));
        assert_eq!(scaled(months(12), |v| v / 2.0), Some(months(6)));
        assert_eq!(scaled(months(12), |v| v / 3.0), Some(months(4)));
        // a month's fraction carries into days (30 a month), a day's into microseconds
        assert_eq!(
            scaled(months(1), |v| v / 2.0),
            Some(IntervalMonthDayNano::new(0, 15, 0))
        );
        assert_eq!(
            scaled(IntervalMonthDayNano::new(0, 1, 0), |v| v / 2.0),
            Some(IntervalMonthDayNano::new(0, 0, 43_200_000_000_000))
        );
        assert_eq!(scaled(months(i32::MAX), |v| v * 2.0), None);
    }
}
