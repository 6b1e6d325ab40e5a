//! Aggregate functions whose Spark form differs from DataFusion's: `count(*)` (named
//! `count(1)`), `countDistinct`, `first`/`last` with `ignorenulls`, `collect_set`,
//! `sum_distinct`, `count_if`, `mean`, `max_by`/`min_by` and `approx_count_distinct` (named
//! without its rsd).
//! The rest resolve through the registry by name.

use datafusion::functions_aggregate::expr_fn;
use datafusion::logical_expr::{Expr, ExprFunctionExt, lit};
use spate_common::Result;

use super::{Arg, CallContext, call_registered, default_name, wrong_args};

/// The Spark aggregates this module rewrites that SQL text can call by name: SQL planning
/// sends them through the registry (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "avg",
    "mean",
    "first",
    "first_value",
    "last_value",
    "last",
    "collect_set",
    "collect_list",
    "array_agg",
    "approx_count_distinct",
    "max_by",
    "min_by",
    "count_if",
    "percentile",
];

/// Resolves `name` if it is an aggregate needing a rewrite.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let first_arg = || args.first().ok_or_else(|| wrong_args(name, "1", 0));
    let distinct = |e: Expr| -> Result<Expr> {
        if cx.distinct {
            Ok(e.distinct().build()?)
        } else {
            Ok(e)
        }
    };
    Ok(Some(match name {
        "count" => {
            let a = first_arg()?;
            let is_star = a.name == "*";
            let expr = if is_star { lit(1) } else { a.expr.clone() };
            let label = if is_star {
                "count(1)".to_string()
            } else {
                default_name(name, args, cx.distinct)
            };
            let exprs: Vec<Expr> = if is_star {
                vec![expr]
            } else {
                args.iter().map(|a| a.expr.clone()).collect()
            };
            let e = if exprs.len() == 1 {
                expr_fn::count(exprs[0].clone())
            } else {
                // count(a, b) counts rows where every argument is not null.
                let all = exprs
                    .iter()
                    .map(|e| e.clone().is_not_null())
                    .reduce(Expr::and)
                    .unwrap_or(lit(true));
                expr_fn::count(datafusion::logical_expr::when(all, lit(1)).end()?)
            };
            (distinct(e)?, label)
        }
        "countdistinct" | "count_distinct" => {
            let e = expr_fn::count(first_arg()?.expr.clone())
                .distinct()
                .build()?;
            (e, default_name("count", args, true))
        }
        "sum_distinct" | "sumdistinct" => {
            let e = expr_fn::sum(first_arg()?.expr.clone()).distinct().build()?;
            (e, default_name("sum", args, true))
        }
        "mean" | "avg" => (
            distinct(expr_fn::avg(first_arg()?.expr.clone()))?,
            default_name("avg", args, cx.distinct),
        ),
        "first" | "first_value" | "last" | "last_value" => {
            let a = first_arg()?;
            let ignore_nulls = matches!(
                args.get(1).map(|x| &x.expr),
                Some(Expr::Literal(
                    datafusion::scalar::ScalarValue::Boolean(Some(true)),
                    _
                ))
            );
            let base = if name.starts_with("first") {
                expr_fn::first_value(a.expr.clone(), vec![])
            } else {
                expr_fn::last_value(a.expr.clone(), vec![])
            };
            let e = if ignore_nulls {
                base.null_treatment(datafusion::logical_expr::expr::NullTreatment::IgnoreNulls)
                    .build()?
            } else {
                base
            };
            let short = if name.starts_with("first") {
                "first"
            } else {
                "last"
            };
            (e, format!("{short}({})", a.name))
        }
        "collect_set" => {
            let a = first_arg()?;
            let e = expr_fn::array_agg(a.expr.clone())
                .distinct()
                .filter(a.expr.clone().is_not_null())
                .build()?;
            (e, default_name(name, args, false))
        }
        "collect_list" | "array_agg" => {
            let a = first_arg()?;
            let e = expr_fn::array_agg(a.expr.clone())
                .filter(a.expr.clone().is_not_null())
                .build()?;
            (e, default_name("collect_list", args, false))
        }
        "approx_count_distinct" => {
            // The rsd is a parameter, not part of the name.
            let name_args = &args[..args.len().min(1)];
            let exprs = args.iter().map(|a| a.expr.clone()).collect();
            (
                call_registered(cx, name, exprs)?,
                default_name(name, name_args, false),
            )
        }
        "max_by" | "min_by" => {
            let [value, order] = args else {
                return Err(wrong_args(name, "2", args.len()));
            };
            // the value at the largest (smallest) ordering value; rows with a null ordering
            // value are skipped, as in Spark
            let sort = order.expr.clone().sort(name == "min_by", false);
            let e = expr_fn::first_value(value.expr.clone(), vec![])
                .order_by(vec![sort])
                .filter(order.expr.clone().is_not_null())
                .build()?;
            (e, default_name(name, args, false))
        }
        "percentile" => {
            let [value, percentage, rest @ ..] = args else {
                return Err(wrong_args(name, "2 or 3", args.len()));
            };
            // exact, interpolated between the two nearest values, as a double
            let frequency = rest.first().map(|f| &f.expr);
            let one = |e: &Expr| {
                use datafusion::scalar::ScalarValue::{Int32, Int64};
                matches!(e, Expr::Literal(Int32(Some(1)) | Int64(Some(1)), _))
            };
            if rest.len() > 1 || frequency.is_some_and(|f| !one(f)) {
                return Err(spate_common::Error::unsupported(
                    "percentile with a frequency other than 1",
                ));
            }
            let sorted = datafusion::logical_expr::cast(
                value.expr.clone(),
                datafusion::arrow::datatypes::DataType::Float64,
            )
            .sort(true, false);
            let at = |p: Expr| expr_fn::percentile_cont(sorted.clone(), p);
            let e = match &percentage.expr {
                Expr::Literal(datafusion::scalar::ScalarValue::List(list), _) => {
                    let values = list.value(0);
                    let mut each = Vec::with_capacity(values.len());
                    for i in 0..values.len() {
                        let p = datafusion::scalar::ScalarValue::try_from_array(&values, i)?;
                        each.push(at(lit(p)));
                    }
                    call_registered(cx, "make_array", each)?
                }
                // SQL's array(0.25, 0.75)
                Expr::ScalarFunction(f) if f.name() == "make_array" => {
                    let each = f.args.iter().map(|p| at(p.clone())).collect();
                    call_registered(cx, "make_array", each)?
                }
                p => at(p.clone()),
            };
            let label = match rest {
                [] => format!("percentile({}, {}, 1)", value.name, percentage.name),
                _ => default_name(name, args, false),
            };
            (e, label)
        }
        "count_if" => {
            let a = first_arg()?;
            let e = expr_fn::count(a.expr.clone())
                .filter(a.expr.clone().is_true())
                .build()?;
            (e, default_name(name, args, false))
        }
        _ => return Ok(None),
    }))
}
