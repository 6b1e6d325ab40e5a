//! Intervals made from their fields: `make_ym_interval(years, months)` (a year-month interval,
//! `years * 12 + months`; overflow is Spark's `ARITHMETIC_OVERFLOW`) and
//! `try_make_interval(years, months, weeks, days, hours, mins, secs)` (a calendar interval of
//! months, days and microseconds — `secs` with six decimals — null where a part overflows).
//! PySpark fills the fields a call leaves out with 0, which names them (`make_ym_interval(0, 0)`).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, IntervalMonthDayNanoBuilder, IntervalYearMonthBuilder,
};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Int32Type, IntervalMonthDayNano, IntervalUnit,
};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["make_ym_interval", "try_make_interval"];

/// Resolves `make_ym_interval` and `try_make_interval`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    _cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let year_month = match name {
        "make_ym_interval" => true,
        "try_make_interval" => false,
        _ => return Ok(None),
    };
    let most = if year_month { 2 } else { 7 };
    if args.len() > most {
        return Err(wrong_args(name, &format!("at most {most}"), args.len()));
    }
    // the fields not given are 0, and named so
    let mut full: Vec<Arg> = args.to_vec();
    while full.len() < most {
        full.push(Arg {
            expr: datafusion::logical_expr::lit(0),
            name: "0".into(),
        });
    }
    let exprs: Vec<Expr> = full
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let t = if i == 6 {
                DataType::Decimal128(18, 6)
            } else {
                DataType::Int32
            };
            cast(a.expr.clone(), t)
        })
        .collect();
    let udf = ScalarUDF::new_from_impl(MakeInterval {
        year_month,
        signature: Signature::any(exprs.len(), Volatility::Immutable),
    });
    Ok(Some((udf.call(exprs), default_name(name, &full, false))))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MakeInterval {
    /// `make_ym_interval` (else `try_make_interval`).
    year_month: bool,
    signature: Signature,
}

/// The calendar interval of the fields, `None` on overflow.
fn calendar(ints: [i32; 6], secs_micros: i128) -> Option<IntervalMonthDayNano> {
    let [years, months, weeks, days, hours, mins] = ints;
    let months = years.checked_mul(12)?.checked_add(months)?;
    let days = weeks.checked_mul(7)?.checked_add(days)?;
    let micros = i128::from(hours) * 3_600_000_000 + i128::from(mins) * 60_000_000 + secs_micros;
    let nanos = i64::try_from(micros).ok()?.checked_mul(1000)?;
    Some(IntervalMonthDayNano::new(months, days, nanos))
}

impl ScalarUDFImpl for MakeInterval {
    fn name(&self) -> &str {
        if self.year_month {
            "make_ym_interval"
        } else {
            "try_make_interval"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Interval(if self.year_month {
            IntervalUnit::YearMonth
        } else {
            IntervalUnit::MonthDayNano
        }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = super::arg_arrays(&args)?;
        let n = args.number_rows;
        let null_at = |i: usize| arrays.iter().any(|a| a.is_null(i));
        let int = |k: usize, i: usize| arrays[k].as_primitive::<Int32Type>().value(i);
        if self.year_month {
            let mut out = IntervalYearMonthBuilder::with_capacity(n);
            for i in 0..n {
                if null_at(i) {
                    out.append_null();
                    continue;
                }
                let months = int(0, i)
                    .checked_mul(12)
                    .and_then(|m| m.checked_add(int(1, i)))
                    .ok_or_else(|| Error::Runtime {
                        exception: "java.lang.ArithmeticException",
                        class: "ARITHMETIC_OVERFLOW".into(),
                        message: "integer overflow in make_ym_interval. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error.".into(),
                    })?;
                out.append_value(months);
            }
            return Ok(ColumnarValue::Array(Arc::new(out.finish())));
        }
        let secs = arrays[6].as_primitive::<Decimal128Type>();
        let mut out = IntervalMonthDayNanoBuilder::with_capacity(n);
        for i in 0..n {
            let value = (!null_at(i))
                .then(|| calendar(std::array::from_fn(|k| int(k, i)), secs.value(i)))
                .flatten();
            out.append_option(value);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_calendar_intervals_or_none_on_overflow() {
        // Spark's example: 100 years 11 months 8 days 12 hours 30 minutes 1.001001 seconds
        let v = calendar([100, 11, 1, 1, 12, 30], 1_001_001);
        let micros = ((12 * 60 + 30) * 60) * 1_000_000 + 1_001_001;
        assert_eq!(v, Some(IntervalMonthDayNano::new(1211, 8, micros * 1000)));
        assert_eq!(calendar([i32::MAX, 0, 0, 0, 0, 0], 0), None);
    }
}
