//! Spark's fractional division: `a / b` over doubles is NULL when `b` is zero with ANSI mode
//! off, and fails with `DIVIDE_BY_ZERO` with ANSI mode on (Spark 4's default). DataFusion
//! would return NaN or infinity instead. And SQL's integral division `a DIV b`: a `bigint`
//! quotient (of integers, or exact of decimals) truncated toward zero, with the same zero rule (`Long.MinValue DIV -1` overflows:
//! an `ARITHMETIC_OVERFLOW` error with ANSI mode on, wrapped without it, as Java's `/`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::ExprSchemable;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;
use spate_common::Error;

/// The UDF behind `/` on non-decimal operands.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkDivide {
    signature: Signature,
}

impl ScalarUDFImpl for SparkDivide {
    fn name(&self) -> &str {
        "spark_divide"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        // `spark.sql.ansi.enabled` is mirrored into DataFusion's ANSI flag for the session.
        let ansi = args.config_options.execution.enable_ansi_mode;
        let l = cast(&args.args[0].to_array(n)?, &DataType::Float64)?;
        let r = cast(&args.args[1].to_array(n)?, &DataType::Float64)?;
        let (Some(l), Some(r)) = (
            l.as_any().downcast_ref::<Float64Array>(),
            r.as_any().downcast_ref::<Float64Array>(),
        ) else {
            return Err(DataFusionError::Internal(
                "spark_divide expects doubles".into(),
            ));
        };
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if l.is_null(i) || r.is_null(i) {
                out.push(None);
            } else if r.value(i) == 0.0 {
                if ansi {
                    return Err(Error::Runtime {
                        exception: "java.lang.ArithmeticException",
                        class: "DIVIDE_BY_ZERO".into(),
                        message: "Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error.".into(),
                    }
                    .into());
                }
                out.push(None);
            } else {
                out.push(Some(l.value(i) / r.value(i)));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }
}

/// `l / r` with Spark's semantics for doubles.
pub fn divide(l: Expr, r: Expr) -> Expr {
    let udf = ScalarUDF::new_from_impl(SparkDivide {
        signature: Signature::any(2, Volatility::Immutable),
    });
    udf.call(vec![l, r])
}

/// Plans SQL text's `/` like the DataFrame path: fractional, with Spark's zero handling.
#[derive(Debug, Default)]
pub struct SparkSqlPlanner;

impl ExprPlanner for SparkSqlPlanner {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> DfResult<PlannerResult<RawBinaryExpr>> {
        if matches!(expr.op, BinaryOperator::MyIntegerDivide) {
            for side in [&expr.left, &expr.right] {
                let t = side.get_type(schema)?;
                if matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64) {
                    return Err(DataFusionError::External(Box::new(Error::analysis(
                        "DATATYPE_MISMATCH.BINARY_OP_WRONG_TYPE",
                        format!(
                            "Cannot resolve \"({} div {})\": the binary operator requires the input type (\"BIGINT\" or \"DECIMAL\"), not \"{}\".",
                            expr.left,
                            expr.right,
                            crate::types::simple_string(&t).to_uppercase()
                        ),
                    ))));
                }
            }
            let udf = ScalarUDF::new_from_impl(IntegralDivide {
                signature: Signature::any(2, Volatility::Immutable),
            });
            return Ok(PlannerResult::Planned(
                udf.call(vec![expr.left, expr.right]),
            ));
        }
        if !matches!(expr.op, BinaryOperator::Divide) {
            return Ok(PlannerResult::Original(expr));
        }
        let decimal = |e: &Expr| {
            matches!(
                e.get_type(schema),
                Ok(DataType::Decimal128(..) | DataType::Decimal256(..))
            )
        };
        if decimal(&expr.left) || decimal(&expr.right) {
            return Ok(PlannerResult::Original(expr));
        }
        Ok(PlannerResult::Planned(divide(expr.left, expr.right)))
    }
}

/// The UDF behind SQL's `a DIV b`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IntegralDivide {
    signature: Signature,
}

impl ScalarUDFImpl for IntegralDivide {
    fn name(&self) -> &str {
        "spark_div"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        use datafusion::arrow::array::{AsArray, Int64Array};
        use datafusion::arrow::datatypes::{Decimal128Type, Int64Type};
        let n = args.number_rows;
        let ansi = args.config_options.execution.enable_ansi_mode;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let integral = arrays.iter().all(|a| a.data_type().is_integer());
        // decimals are divided exactly, brought to one scale
        let scale = arrays
            .iter()
            .map(|a| match a.data_type() {
                DataType::Decimal128(_, s) => *s,
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        let to = if integral {
            DataType::Int64
        } else {
            DataType::Decimal128(38, scale)
        };
        let (l, r) = (cast(&arrays[0], &to)?, cast(&arrays[1], &to)?);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if l.is_null(i) || r.is_null(i) {
                out.push(None);
                continue;
            }
            let (q, zero, overflow) = if integral {
                let (a, b) = (
                    l.as_primitive::<Int64Type>().value(i),
                    r.as_primitive::<Int64Type>().value(i),
                );
                (
                    a.checked_div(b),
                    b == 0,
                    b != 0 && a.checked_div(b).is_none(),
                )
            } else {
                let (a, b) = (
                    l.as_primitive::<Decimal128Type>().value(i),
                    r.as_primitive::<Decimal128Type>().value(i),
                );
                let q = a.checked_div(b).and_then(|q| i64::try_from(q).ok());
                (q, b == 0, b != 0 && q.is_none())
            };
            match q {
                Some(q) => out.push(Some(q)),
                None if zero && ansi => {
                    return Err(Error::Runtime {
                        exception: "java.lang.ArithmeticException",
                        class: "DIVIDE_BY_ZERO".into(),
                        message: "Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error.".into(),
                    }
                    .into());
                }
                None if overflow && ansi => {
                    return Err(Error::Runtime {
                        exception: "java.lang.ArithmeticException",
                        class: "ARITHMETIC_OVERFLOW".into(),
                        message: "Overflow in integral divide. Use 'try_divide' to tolerate overflow and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error.".into(),
                    }
                    .into());
                }
                None if overflow => out.push(Some(i64::MIN)),
                None => out.push(None),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(out))))
    }
}
