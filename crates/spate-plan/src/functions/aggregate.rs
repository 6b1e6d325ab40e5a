//! Aggregate functions whose Spark form differs from DataFusion's: `count(*)` (named
//! `count(1)`), `countDistinct`, `first`/`last` with `ignorenulls`, `collect_set`,
//! `sum_distinct`, `count_if`, `mean`, `max_by`/`min_by` and `approx_count_distinct` (named
//! without its rsd), `listagg`/`string_agg` of strings (the delimiter `''` when omitted or
//! null, named `listagg(s, NULL)`), `skewness` / `kurtosis` / `product` (see `moments`), the
//! `regr_*` regressions (over doubles) and `nth_value` with `ignoreNulls`.
//! The rest resolve through the registry by name.

use datafusion::arrow::datatypes::DataType::{Float64, Int64, Null};
use datafusion::functions_aggregate::expr_fn;
use datafusion::logical_expr::{Expr, ExprFunctionExt, lit};
use spate_common::Result;

use super::percentile::literal_fraction;
use super::{Arg, CallContext, call_registered, default_name, wrong_args};

/// The Spark aggregates this module rewrites that SQL text can call by name: SQL planning
/// sends them through the registry (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "count",
    "grouping_id",
    "avg",
    "try_avg",
    "mean",
    "first",
    "first_value",
    "last_value",
    "any_value",
    "last",
    "collect_set",
    "collect_list",
    "array_agg",
    "approx_count_distinct",
    "max_by",
    "min_by",
    "count_if",
    "percentile",
    "percentile_approx",
    "approx_percentile",
    "skewness",
    "kurtosis",
    "listagg",
    "string_agg",
];

/// The literal percentage (a double) or percentages (an array of doubles, `true`) of
/// `percentile` and `percentile_approx`.
fn percentages_of(percentage: &Arg, cx: &CallContext<'_>) -> Result<(Vec<f64>, bool)> {
    let not_literal = || {
        spate_common::Error::analysis(
            "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
            format!(
                "the percentage {} must be a literal double or an array of them",
                percentage.name
            ),
        )
    };
    Ok(match &percentage.expr {
        // typing SQL: any percentage of the argument's shape gives the call's type
        Expr::Column(_) if cx.typing => {
            let t = super::arg_type(percentage, cx)?;
            (
                vec![0.5],
                matches!(t, datafusion::arrow::datatypes::DataType::List(_)),
            )
        }
        Expr::Literal(datafusion::scalar::ScalarValue::List(list), _) => {
            let values = list.value(0);
            let mut each = Vec::with_capacity(values.len());
            for i in 0..values.len() {
                let p = datafusion::scalar::ScalarValue::try_from_array(&values, i)?;
                each.push(literal_fraction(&lit(p)).ok_or_else(not_literal)?);
            }
            (each, true)
        }
        // array(0.25, 0.75)
        Expr::ScalarFunction(f) if matches!(f.name(), "make_array" | "array") => (
            f.args
                .iter()
                .map(|p| literal_fraction(p).ok_or_else(not_literal))
                .collect::<Result<Vec<_>>>()?,
            true,
        ),
        p => (vec![literal_fraction(p).ok_or_else(not_literal)?], false),
    })
}

/// `count(DISTINCT a, b, ...)`: the distinct tuples of rows where no argument is null.
fn distinct_tuples(args: &[Arg]) -> Result<Expr> {
    if args.is_empty() {
        return Err(wrong_args("count", "> 0", 0));
    }
    let all = args
        .iter()
        .map(|a| a.expr.clone().is_not_null())
        .reduce(Expr::and)
        .unwrap_or(lit(true));
    let fields = args
        .iter()
        .enumerate()
        .flat_map(|(i, a)| [lit(format!("c{i}")), a.expr.clone()])
        .collect();
    let tuple = datafusion::functions::core::expr_fn::named_struct(fields);
    Ok(expr_fn::count(tuple).distinct().filter(all).build()?)
}

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
        // `grouping_id(c1, ..)`: the grouping bits, the first column's highest (a bigint);
        // without columns, over every grouping column (filled in by the aggregation)
        "grouping_id" => {
            let exprs = args.iter().map(|a| a.expr.clone()).collect();
            (
                datafusion::logical_expr::cast(call_registered(cx, "grouping", exprs)?, Int64),
                default_name(name, args, false),
            )
        }
        // Spark casts the arguments of the regressions to double (a null column included)
        _ if name.starts_with("regr_") => {
            let exprs = args
                .iter()
                .map(|a| datafusion::logical_expr::cast(a.expr.clone(), Float64))
                .collect();
            (
                distinct(call_registered(cx, name, exprs)?)?,
                default_name(name, args, cx.distinct),
            )
        }
        // `nth_value(x, n[, ignoreNulls])`
        "nth_value" if args.len() == 3 => {
            let ignore_nulls = matches!(
                args[2].expr,
                Expr::Literal(datafusion::scalar::ScalarValue::Boolean(Some(true)), _)
            );
            // DataFusion takes `n` as a bigint literal
            let n = match &args[1].expr {
                Expr::Literal(v, _) => Expr::Literal(v.cast_to(&Int64)?, None),
                other => other.clone(),
            };
            let mut e = call_registered(cx, name, vec![args[0].expr.clone(), n])?;
            if ignore_nulls && let Expr::WindowFunction(w) = &mut e {
                w.params.null_treatment =
                    Some(datafusion::logical_expr::expr::NullTreatment::IgnoreNulls);
            }
            let label = format!(
                "nth_value({}, {}){}",
                args[0].name,
                args[1].name,
                if ignore_nulls { " ignore nulls" } else { "" }
            );
            (e, label)
        }
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
            } else if cx.distinct {
                return Ok(Some((distinct_tuples(args)?, label)));
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
            let e = match args {
                [one] => expr_fn::count(one.expr.clone()).distinct().build()?,
                _ => distinct_tuples(args)?,
            };
            (e, default_name("count", args, true))
        }
        "sum_distinct" | "sumdistinct" => {
            let e = expr_fn::sum(first_arg()?.expr.clone()).distinct().build()?;
            (e, default_name("sum", args, true))
        }
        "mean" | "avg" => (
            // a null column is averaged as doubles
            distinct(super::spark_avg::spark_avg(
                match super::arg_type(first_arg()?, cx)? {
                    Null => datafusion::logical_expr::cast(first_arg()?.expr.clone(), Float64),
                    _ => first_arg()?.expr.clone(),
                },
            ))?,
            default_name("avg", args, cx.distinct),
        ),
        // `try_avg`: `avg`, null where a decimal average overflows its type (Spark's
        // decimal(p + 4, s + 4), at most 38 digits): the sum is kept in 76 digits and the
        // average narrowed with a try-cast
        "try_avg" => {
            let a = first_arg()?;
            let e = match super::arg_type(a, cx)? {
                datafusion::arrow::datatypes::DataType::Decimal128(p, s) => {
                    let wide = datafusion::logical_expr::cast(
                        a.expr.clone(),
                        datafusion::arrow::datatypes::DataType::Decimal256(76, s),
                    );
                    let result = datafusion::arrow::datatypes::DataType::Decimal128(
                        (p + 4).min(38),
                        (s + 4).min(38),
                    );
                    datafusion::logical_expr::try_cast(
                        distinct(super::spark_avg::spark_avg(wide))?,
                        result,
                    )
                }
                Null => distinct(super::spark_avg::spark_avg(datafusion::logical_expr::cast(
                    a.expr.clone(),
                    Float64,
                )))?,
                _ => distinct(super::spark_avg::spark_avg(a.expr.clone()))?,
            };
            (e, default_name(name, args, cx.distinct))
        }
        "first" | "first_value" | "last" | "last_value" | "any_value" => {
            let a = first_arg()?;
            let ignore_nulls = matches!(
                args.get(1).map(|x| &x.expr),
                Some(Expr::Literal(
                    datafusion::scalar::ScalarValue::Boolean(Some(true)),
                    _
                ))
            );
            let base = if name.starts_with("first") || name == "any_value" {
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
            // named as called: `first(x)`, `first_value(x)`, `last(x)`, `last_value(x)`
            (e, format!("{name}({})", a.name))
        }
        "listagg" | "string_agg"
            if matches!(
                super::arg_type(first_arg()?, cx)?,
                datafusion::arrow::datatypes::DataType::Utf8
                    | datafusion::arrow::datatypes::DataType::Utf8View
                    | datafusion::arrow::datatypes::DataType::LargeUtf8
                    | datafusion::arrow::datatypes::DataType::Binary
            ) =>
        {
            let a = first_arg()?;
            let binary = matches!(
                super::arg_type(a, cx)?,
                datafusion::arrow::datatypes::DataType::Binary
            );
            let (delimiter, delimiter_name) = match args.get(1) {
                None => (lit(""), "NULL".to_string()),
                Some(d) => match &d.expr {
                    Expr::Literal(v, _) if v.is_null() => (lit(""), d.name.clone()),
                    e => (e.clone(), d.name.clone()),
                },
            };
            // bytes are joined as their hex digits and read back: the result is binary
            let (text, delimiter) = if binary {
                (
                    call_registered(cx, "hex", vec![a.expr.clone()])?,
                    call_registered(cx, "hex", vec![delimiter])?,
                )
            } else {
                let text = datafusion::logical_expr::cast(
                    a.expr.clone(),
                    datafusion::arrow::datatypes::DataType::Utf8,
                );
                (text, delimiter)
            };
            let mut e = call_registered(cx, "string_agg", vec![text, delimiter])?;
            if binary {
                e = call_registered(cx, "unhex", vec![e])?;
            }
            let distinct = if cx.distinct { "DISTINCT " } else { "" };
            (e, format!("{name}({distinct}{}, {delimiter_name})", a.name))
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
            let (value, order, k) = match args {
                [value, order] => (value, order, None),
                [value, order, k] => (value, order, Some(k)),
                _ => return Err(wrong_args(name, "2 or 3", args.len())),
            };
            // the value at the largest (smallest) ordering value; rows with a null ordering
            // value are skipped, as in Spark
            let sort = order.expr.clone().sort(name == "min_by", false);
            let e = match k {
                None => expr_fn::first_value(value.expr.clone(), vec![])
                    .order_by(vec![sort])
                    .filter(order.expr.clone().is_not_null())
                    .build()?,
                // with `k`: the values at the k largest (smallest), in that order
                Some(k) => {
                    let all = expr_fn::array_agg(value.expr.clone())
                        .order_by(vec![sort])
                        .filter(order.expr.clone().is_not_null())
                        .build()?;
                    call_registered(cx, "array_slice", vec![all, lit(1), k.expr.clone()])?
                }
            };
            (e, default_name(name, args, false))
        }
        "percentile" => {
            let [value, percentage, rest @ ..] = args else {
                return Err(wrong_args(name, "2 or 3", args.len()));
            };
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
            let (percentages, array) = percentages_of(percentage, cx)?;
            let e = super::percentile::percentile(value.expr.clone(), percentages, array, None)?;
            let label = match rest {
                [] => format!("percentile({}, {}, 1)", value.name, percentage.name),
                _ => default_name(name, args, false),
            };
            (distinct(e)?, label)
        }
        "percentile_approx" | "approx_percentile" => {
            let [value, percentage, rest @ ..] = args else {
                return Err(wrong_args(name, "2 or 3", args.len()));
            };
            let (percentages, array) = percentages_of(percentage, cx)?;
            // Spark answers with one of the input values, in the input's type
            let value_type = super::arg_type(value, cx)?;
            let e = super::percentile::percentile(
                value.expr.clone(),
                percentages,
                array,
                Some(value_type),
            )?;
            let label = match rest {
                [] => format!("{name}({}, {}, 10000)", value.name, percentage.name),
                _ => default_name(name, args, false),
            };
            (e, label)
        }
        "skewness" | "kurtosis" | "product" => {
            let [value] = args else {
                return Err(wrong_args(name, "1", args.len()));
            };
            let stat = match name {
                "skewness" => super::moments::Stat::Skewness,
                "kurtosis" => super::moments::Stat::Kurtosis,
                _ => super::moments::Stat::Product,
            };
            let e = super::moments::call(stat, value.expr.clone());
            (distinct(e)?, default_name(name, args, cx.distinct))
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
