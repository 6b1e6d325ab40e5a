//! Spark's year-month intervals with their fields: `INTERVAL 1 YEAR` is a
//! `INTERVAL YEAR` value, `INTERVAL 3 MONTH` an `INTERVAL MONTH` one, `INTERVAL '1-2' YEAR TO
//! MONTH` an `INTERVAL YEAR TO MONTH` one, shown `INTERVAL '1' YEAR`, `INTERVAL '3' MONTH` and
//! `INTERVAL '1-2' YEAR TO MONTH`. The value is Arrow's year-month interval (a count of
//! months); the fields ride along as the column's field metadata ([`FIELDS_KEY`]), which
//! `show()` reads. SQL text's interval literals of those units become [`ym_literal`] calls
//! (see `crate::sql_functions`), and `try_add`/`try_subtract` of two of them keep the widest
//! fields, as Spark types the result.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, IntervalYearMonthArray};
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, IntervalUnit, IntervalYearMonthType,
};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::scalar::ScalarValue;

/// The field metadata key holding a year-month interval's fields: `YEAR`, `MONTH` or
/// `YEAR TO MONTH`.
pub const FIELDS_KEY: &str = "spark.interval.fields";

/// The name SQL text's year-month interval literals are rewritten to call.
pub const LITERAL_FUNCTION: &str = "spark_ym_interval";

/// `value` (months) as Spark shows a year-month interval with `fields`.
pub fn show(months: i32, fields: &str) -> String {
    let sign = if months < 0 { "-" } else { "" };
    let m = months.unsigned_abs();
    match fields {
        "YEAR" => format!("INTERVAL '{sign}{}' YEAR", m / 12),
        "MONTH" => format!("INTERVAL '{sign}{m}' MONTH"),
        _ => format!("INTERVAL '{sign}{}-{}' YEAR TO MONTH", m / 12, m % 12),
    }
}

/// The fields of a result over intervals with `a` and `b`: from the first start to the last
/// end.
pub fn widest(a: &str, b: &str) -> &'static str {
    let has = |f: &str, unit: &str| f.contains(unit);
    let year = has(a, "YEAR") || has(b, "YEAR");
    let month = has(a, "MONTH") || has(b, "MONTH");
    match (year, month) {
        (true, false) => "YEAR",
        (false, true) => "MONTH",
        _ => "YEAR TO MONTH",
    }
}

/// The fields a field's metadata records (Spark's default, `YEAR TO MONTH`, when none).
pub fn fields_of(field: &Field) -> &str {
    field
        .metadata()
        .get(FIELDS_KEY)
        .map_or("YEAR TO MONTH", String::as_str)
}

fn with_fields(name: &str, nullable: bool, fields: &str) -> FieldRef {
    Arc::new(
        Field::new(name, DataType::Interval(IntervalUnit::YearMonth), nullable).with_metadata(
            HashMap::from([(FIELDS_KEY.to_string(), fields.to_string())]),
        ),
    )
}

/// `expr` with each [`LITERAL_FUNCTION`] call of literal arguments replaced by the literal
/// itself, its fields in the literal's metadata (functions that need a constant interval, such
/// as `time_bucket`, then see one).
pub fn literals_in(
    expr: datafusion::logical_expr::Expr,
) -> DfResult<datafusion::common::tree_node::Transformed<datafusion::logical_expr::Expr>> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::logical_expr::Expr;
    expr.transform_up(|e| {
        if let Expr::ScalarFunction(f) = &e
            && f.func.name() == LITERAL_FUNCTION
            && let [
                Expr::Literal(months, _),
                Expr::Literal(ScalarValue::Utf8(Some(fields)), _),
            ] = f.args.as_slice()
            && let ScalarValue::Int32(Some(m)) = months.cast_to(&DataType::Int32)?
        {
            let meta = datafusion::common::metadata::FieldMetadata::from(HashMap::from([(
                FIELDS_KEY.to_string(),
                widest(fields, fields).to_string(),
            )]));
            return Ok(Transformed::yes(Expr::Literal(
                ScalarValue::IntervalYearMonth(Some(m)),
                Some(meta),
            )));
        }
        Ok(Transformed::no(e))
    })
}

/// `spark_ym_interval(months, fields)`: the literal of a year-month interval with its fields.
pub fn ym_literal() -> ScalarUDF {
    ScalarUDF::new_from_impl(YmLiteral {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct YmLiteral {
    signature: Signature,
}

impl ScalarUDFImpl for YmLiteral {
    fn name(&self) -> &str {
        LITERAL_FUNCTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Interval(IntervalUnit::YearMonth))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let fields = match args.scalar_arguments.get(1) {
            Some(Some(ScalarValue::Utf8(Some(f)))) => f.as_str(),
            _ => "YEAR TO MONTH",
        };
        Ok(with_fields(self.name(), false, widest(fields, fields)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let months = match args.args.first() {
            Some(ColumnarValue::Scalar(v)) => match v.cast_to(&DataType::Int32)? {
                ScalarValue::Int32(m) => m,
                _ => None,
            },
            _ => None,
        }
        .ok_or_else(|| {
            DataFusionError::Execution("an interval literal needs a number of months".into())
        })?;
        Ok(ColumnarValue::Scalar(ScalarValue::IntervalYearMonth(Some(
            months,
        ))))
    }
}

/// `try_add`/`try_subtract` of two year-month intervals: NULL on overflow, the widest fields.
pub fn try_sum(subtract: bool) -> ScalarUDF {
    ScalarUDF::new_from_impl(YmSum {
        subtract,
        signature: Signature::any(2, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct YmSum {
    subtract: bool,
    signature: Signature,
}

impl ScalarUDFImpl for YmSum {
    fn name(&self) -> &str {
        if self.subtract {
            "spark_try_subtract_ym"
        } else {
            "spark_try_add_ym"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Interval(IntervalUnit::YearMonth))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let [a, b] = args.arg_fields else {
            return Err(DataFusionError::Internal(
                "bug: a year-month sum takes two arguments".into(),
            ));
        };
        Ok(with_fields(
            self.name(),
            true,
            widest(fields_of(a), fields_of(b)),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let [a, b] = <[ColumnarValue; 2]>::try_from(args.args).map_err(|_| {
            DataFusionError::Internal("bug: a year-month sum takes two arguments".into())
        })?;
        let (a, b) = (a.into_array(rows)?, b.into_array(rows)?);
        let (a, b) = (
            a.as_primitive::<IntervalYearMonthType>(),
            b.as_primitive::<IntervalYearMonthType>(),
        );
        let out: IntervalYearMonthArray = a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| {
                let (x, y) = (x?, y?);
                if self.subtract {
                    x.checked_sub(y)
                } else {
                    x.checked_add(y)
                }
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_fields_as_spark() {
        assert_eq!(show(12, "YEAR"), "INTERVAL '1' YEAR");
        assert_eq!(show(-12, "YEAR"), "INTERVAL '-1' YEAR");
        assert_eq!(show(14, "MONTH"), "INTERVAL '14' MONTH");
        assert_eq!(show(14, "YEAR TO MONTH"), "INTERVAL '1-2' YEAR TO MONTH");
        assert_eq!(show(-14, "YEAR TO MONTH"), "INTERVAL '-1-2' YEAR TO MONTH");
        assert_eq!(widest("YEAR", "YEAR"), "YEAR");
        assert_eq!(widest("YEAR", "MONTH"), "YEAR TO MONTH");
        assert_eq!(widest("MONTH", "MONTH"), "MONTH");
    }
}
