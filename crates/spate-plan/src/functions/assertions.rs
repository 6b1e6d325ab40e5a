//! `raise_error(msg)` and `assert_true(cond[, msg])`: a query that reaches them fails with
//! Spark's `USER_RAISED_EXCEPTION` (SQLSTATE P0001) and the message. `raise_error` is null
//! typed and volatile, so it fails only on the rows that evaluate it (`when(true, 1)
//! .otherwise(raise_error('x'))` does not), never while the plan is simplified.
//! `assert_true` is null where `cond` is true and raises otherwise (a null `cond` too), with
//! the message `'<cond>' is not true!` when none is given, as Spark's.

use datafusion::arrow::array::new_null_array;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit, when,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, wrong_args};

/// The functions of this module.
pub(super) const SQL_NAMES: &[&str] = &["raise_error", "assert_true"];

/// Resolves `name` if it is one of these functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    _cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let raise = |message: Expr| {
        ScalarUDF::new_from_impl(RaiseError {
            signature: Signature::any(1, Volatility::Volatile),
        })
        .call(vec![cast(message, DataType::Utf8)])
    };
    Ok(Some(match (name, args) {
        ("raise_error", [message]) => (
            raise(message.expr.clone()),
            format!("raise_error({})", message.name),
        ),
        ("assert_true", [cond]) => {
            let message = format!("'{}' is not true!", cond.name);
            let e = when(
                cond.expr.clone(),
                lit(datafusion::scalar::ScalarValue::Null),
            )
            .otherwise(raise(lit(message.clone())))?;
            (e, format!("assert_true({}, {message})", cond.name))
        }
        ("assert_true", [cond, message]) => {
            let e = when(
                cond.expr.clone(),
                lit(datafusion::scalar::ScalarValue::Null),
            )
            .otherwise(raise(message.expr.clone()))?;
            (e, format!("assert_true({}, {})", cond.name, message.name))
        }
        ("raise_error", _) => return Err(wrong_args(name, "1", args.len())),
        ("assert_true", _) => return Err(wrong_args(name, "1 or 2", args.len())),
        _ => return Ok(None),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RaiseError {
    signature: Signature,
}

impl ScalarUDFImpl for RaiseError {
    fn name(&self) -> &str {
        "raise_error"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Null)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        if args.number_rows == 0 {
            return Ok(ColumnarValue::Array(new_null_array(&DataType::Null, 0)));
        }
        let messages = args.args[0].to_array(args.number_rows)?;
        let messages = messages.as_string::<i32>();
        let message = if messages.is_null(0) {
            "null"
        } else {
            messages.value(0)
        };
        Err(DataFusionError::External(Box::new(Error::Runtime {
            exception: "org.apache.spark.SparkRuntimeException",
            class: "USER_RAISED_EXCEPTION".into(),
            message: message.to_string(),
        })))
    }
}
