//! Collection functions whose Spark form differs from DataFusion's: `sort_array(a[, asc])`
//! (nulls first ascending, last descending, named with its `asc` flag) and `size` (null for a
//! null array, as Spark 4 with ANSI mode; -1 without it).

use datafusion::logical_expr::{Expr, lit, when};
use datafusion::scalar::ScalarValue;
use spate_common::Result;

use super::{Arg, CallContext, call_registered, wrong_args};

/// The Spark functions this module rewrites that SQL text can call by name: SQL planning
/// sends them through the registry (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["sort_array", "size", "cardinality"];

/// Resolves `name` if it is a collection function needing a rewrite.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    Ok(Some(match name {
        "sort_array" => {
            let a = args.first().ok_or_else(|| wrong_args(name, "1 or 2", 0))?;
            let asc = match args.get(1).map(|x| &x.expr) {
                None => true,
                Some(Expr::Literal(ScalarValue::Boolean(Some(b)), _)) => *b,
                Some(other) => {
                    return Err(spate_common::Error::analysis(
                        "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
                        format!(
                            "sort_array's ascending order must be a boolean literal, got {other}"
                        ),
                    ));
                }
            };
            let (order, nulls) = if asc {
                ("ASC", "NULLS FIRST")
            } else {
                ("DESC", "NULLS LAST")
            };
            let e = call_registered(
                cx,
                "array_sort",
                vec![a.expr.clone(), lit(order), lit(nulls)],
            )?;
            (e, format!("sort_array({}, {asc})", a.name))
        }
        "size" | "cardinality" if args.len() == 1 => {
            let a = &args[0];
            let size = call_registered(cx, "size", vec![a.expr.clone()])?;
            let e = if cx.ansi {
                when(a.expr.clone().is_null(), lit(ScalarValue::Int32(None))).otherwise(size)?
            } else {
                size
            };
            (e, format!("{name}({})", a.name))
        }
        _ => return Ok(None),
    }))
}
