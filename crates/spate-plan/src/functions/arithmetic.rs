//! Spark's fractional division: `a / b` over doubles is NULL when `b` is zero with ANSI mode
//! off, and fails with `DIVIDE_BY_ZERO` with ANSI mode on (Spark 4's default). DataFusion
//! would return NaN or infinity instead.

use std::sync::Arc;

use datafusion::arrow::array::{Array, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use spate_common::Error;

/// The UDF behind `/` on non-decimal operands.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkDivide {
    signature: Signature,
    ansi: bool,
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
                if self.ansi {
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
pub fn divide(l: Expr, r: Expr, ansi: bool) -> Expr {
    let udf = ScalarUDF::new_from_impl(SparkDivide {
        signature: Signature::any(2, Volatility::Immutable),
        ansi,
    });
    udf.call(vec![l, r])
}
