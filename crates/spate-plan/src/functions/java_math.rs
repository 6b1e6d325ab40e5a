//! Spark's one-argument double functions computed as the JVM computes them, so their last
//! digit is Spark's: `exp` and `expm1` (Spark calls `StrictMath`, fdlibm, through crate
//! `libm`, a port of the same code), `cosh`, `sinh` and `tanh` (Java's `Math` delegates them to
//! `StrictMath`), `degrees` and `radians` (one multiplication by Java's constant factor), `cot`,
//! `csc` and `sec` (one over `tan`, `sin`, `cos`) and `sqrt` (NaN below zero where DataFusion
//! fails). The argument is cast to double; the name is Spark's upper-case `EXP(x)`.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use spate_common::Result;

use super::{Arg, CallContext, wrong_args};

/// The functions of this module.
pub(super) const SQL_NAMES: &[&str] = &[
    "exp", "expm1", "cosh", "sinh", "tanh", "degrees", "radians", "cot", "csc", "sec", "sqrt",
];

/// Resolves `name` if it is one of these functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    _cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    let [x] = args else {
        return Err(wrong_args(name, "1", args.len()));
    };
    let udf = ScalarUDF::new_from_impl(JavaMath {
        name: name.to_string(),
        signature: Signature::any(1, Volatility::Immutable),
    });
    let e = udf.call(vec![cast(x.expr.clone(), DataType::Float64)]);
    Ok(Some((e, format!("{}({})", name.to_uppercase(), x.name))))
}

/// The function `name` of one double.
fn apply(name: &str) -> fn(f64) -> f64 {
    match name {
        "exp" => libm::exp,
        "expm1" => libm::expm1,
        "cosh" => libm::cosh,
        "sinh" => libm::sinh,
        "tanh" => libm::tanh,
        // Java's Math.toDegrees / toRadians: one multiplication by the rounded factor
        "degrees" => |x| x * (180.0 / std::f64::consts::PI),
        "radians" => |x| x * (std::f64::consts::PI / 180.0),
        "cot" => |x| 1.0 / x.tan(),
        "csc" => |x| 1.0 / x.sin(),
        "sec" => |x| 1.0 / x.cos(),
        _ => f64::sqrt,
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JavaMath {
    name: String,
    signature: Signature,
}

impl ScalarUDFImpl for JavaMath {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let x = args.args[0].to_array(args.number_rows)?;
        let f = apply(&self.name);
        let out: Float64Array = x.as_primitive::<Float64Type>().unary(f);
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::apply;

    #[test]
    fn last_digits_are_the_jvms() {
        // StrictMath.exp(1) is one ulp above Math.E; Spark prints 2.7182818284590455
        assert_eq!(apply("exp")(1.0), 2.718_281_828_459_045_5);
        assert_eq!(apply("cosh")(1.0), 1.543_080_634_815_244);
        // Math.toDegrees(PI / 2) is exactly 90
        assert_eq!(apply("degrees")(std::f64::consts::FRAC_PI_2), 90.0);
        assert_eq!(apply("degrees")(std::f64::consts::FRAC_PI_4), 45.0);
        assert!(apply("sqrt")(-1.0).is_nan());
        assert_eq!(apply("cot")(0.0), f64::INFINITY);
    }
}
