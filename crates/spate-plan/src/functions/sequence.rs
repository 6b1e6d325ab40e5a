//! Array-producing functions with Spark's own rules: `split(s, regex[, limit])` (the separator
//! is a regular expression; trailing empty strings are kept; a positive limit caps the number
//! of parts, the last holding the rest; an empty string gives one empty part) and
//! `sequence(start, stop[, step])` over integers (both ends included, the step defaulting to
//! 1 or -1 toward `stop`, typed as its arguments).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, ListBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit, when,
};
use spate_common::Result;

use super::{Arg, CallContext, arg_type, call_registered, default_name, wrong_args};

/// The functions this module rewrites that SQL text can call by name.
pub(super) const SQL_NAMES: &[&str] = &["split", "sequence"];

/// Resolves `name` if it is `split` or an integral `sequence`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    match name {
        "split" => {
            let (s, pattern, limit) = match args {
                [s, p] => (s, p, None),
                [s, p, l] => (s, p, Some(l)),
                _ => return Err(wrong_args(name, "2 or 3", args.len())),
            };
            let limit_expr =
                limit.map_or_else(|| lit(-1i32), |l| cast(l.expr.clone(), DataType::Int32));
            let limit_name = limit.map_or_else(|| "-1".to_string(), |l| l.name.clone());
            let udf = ScalarUDF::new_from_impl(SparkSplit {
                signature: Signature::any(3, Volatility::Immutable),
            });
            let e = udf.call(vec![
                cast(s.expr.clone(), DataType::Utf8),
                cast(pattern.expr.clone(), DataType::Utf8),
                limit_expr,
            ]);
            Ok(Some((
                e,
                format!("split({}, {}, {limit_name})", s.name, pattern.name),
            )))
        }
        "sequence" => {
            let [start, stop, step @ ..] = args else {
                return Err(wrong_args(name, "2 or 3", args.len()));
            };
            let t = arg_type(start, cx)?;
            if !t.is_integer() || !arg_type(stop, cx)?.is_integer() {
                return Ok(None);
            }
            let wide = |e: &Expr| cast(e.clone(), DataType::Int64);
            let step_expr = match step {
                [] => {
                    when(wide(&start.expr).gt(wide(&stop.expr)), lit(-1i64)).otherwise(lit(1i64))?
                }
                [s] => wide(&s.expr),
                _ => return Err(wrong_args(name, "2 or 3", args.len())),
            };
            let series = call_registered(
                cx,
                "generate_series",
                vec![wide(&start.expr), wide(&stop.expr), step_expr],
            )?;
            let typed = cast(series, DataType::new_list(t, true));
            Ok(Some((typed, default_name(name, args, false))))
        }
        _ => Ok(None),
    }
}

/// Spark's `split`: see the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkSplit {
    signature: Signature,
}

impl ScalarUDFImpl for SparkSplit {
    fn name(&self) -> &str {
        "split"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Utf8,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [text, pattern, limit] = arrays.as_slice() else {
            return plan_err!("split takes 3 arguments");
        };
        let text = text.as_string::<i32>();
        let pattern = pattern.as_string::<i32>();
        let limit = limit.as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        let mut out = ListBuilder::new(StringBuilder::new());
        let mut compiled: Option<(String, regex::Regex)> = None;
        for i in 0..n {
            if text.is_null(i) || pattern.is_null(i) || limit.is_null(i) {
                out.append_null();
                continue;
            }
            let p = pattern.value(i);
            if compiled.as_ref().is_none_or(|(q, _)| q != p) {
                let re = match regex::Regex::new(p) {
                    Ok(re) => re,
                    Err(e) => return exec_err!("split: invalid regular expression {p}: {e}"),
                };
                compiled = Some((p.to_string(), re));
            }
            let Some((_, re)) = &compiled else {
                return exec_err!("split: no regular expression");
            };
            let s = text.value(i);
            let parts: Vec<&str> = match limit.value(i) {
                l if l > 0 => re.splitn(s, l as usize).collect(),
                _ => re.split(s).collect(),
            };
            for part in parts {
                out.values().append_value(part);
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
