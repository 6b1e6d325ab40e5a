//! Spark functions with one name for several shapes, which DataFusion splits or orders
//! differently: `reverse` and `concat` work on strings and on arrays (`array_reverse`,
//! `array_concat` for arrays); `trim`, `ltrim` and `rtrim` with two arguments take the
//! characters to trim first (`trim(trimStr, str)`, named `TRIM(BOTH trimStr FROM str)`), where
//! DataFusion's `btrim`/`ltrim`/`rtrim` take them last; `btrim(str, trimStr)` keeps its order.
//! Array functions whose Spark semantics differ from DataFusion's function of the same name:
//! `array_remove` removes every match (DataFusion's `array_remove_all`); `array_position` is 0
//! when absent (a `bigint`); `array_append`/`array_prepend` of a null array are null, and
//! `array_prepend` takes the array first; `array_sort(a)` puts nulls last.
//! `levenshtein(l, r, threshold)` is -1 when the distance is over the threshold.
//! `from_utc_timestamp(t, tz)` / `to_utc_timestamp(t, tz)` read `tz` as Spark's
//! `ZoneId.of(tz, SHORT_IDS)` does: `PST` is America/Los_Angeles, `JST` Asia/Tokyo.
//! `overlay(s, r, pos, -1)` replaces as many characters as `r` has (the -1 PySpark sends
//! for an omitted length). `regexp_instr(s, p[, idx])`: Spark's third argument is the group (0, the whole match, when
//! omitted), DataFusion's the start position. `replace(str, search)` replaces with ''.

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::Expr;
use spate_common::Result;

use super::{Arg, CallContext, arg_type, call_registered, default_name, wrong_args};

/// The functions this module resolves, for SQL text.
pub(super) const SQL_NAMES: &[&str] = &[
    "replace",
    "reverse",
    "concat",
    "trim",
    "ltrim",
    "rtrim",
    "array_remove",
    "array_position",
    "array_append",
    "array_prepend",
    "array_sort",
    "levenshtein",
    "regexp_instr",
    "overlay",
    "from_utc_timestamp",
    "to_utc_timestamp",
];

/// Java's `ZoneId.SHORT_IDS`, which Spark reads time zone names with.
const SHORT_IDS: &[(&str, &str)] = &[
    ("ACT", "Australia/Darwin"),
    ("AET", "Australia/Sydney"),
    ("AGT", "America/Argentina/Buenos_Aires"),
    ("ART", "Africa/Cairo"),
    ("AST", "America/Anchorage"),
    ("BET", "America/Sao_Paulo"),
    ("BST", "Asia/Dhaka"),
    ("CAT", "Africa/Harare"),
    ("CNT", "America/St_Johns"),
    ("CST", "America/Chicago"),
    ("CTT", "Asia/Shanghai"),
    ("EAT", "Africa/Addis_Ababa"),
    ("ECT", "Europe/Paris"),
    ("EST", "-05:00"),
    ("HST", "-10:00"),
    ("IET", "America/Indiana/Indianapolis"),
    ("IST", "Asia/Kolkata"),
    ("JST", "Asia/Tokyo"),
    ("MIT", "Pacific/Apia"),
    ("MST", "-07:00"),
    ("NET", "Asia/Yerevan"),
    ("NST", "Pacific/Auckland"),
    ("PLT", "Asia/Karachi"),
    ("PNT", "America/Phoenix"),
    ("PRT", "America/Puerto_Rico"),
    ("PST", "America/Los_Angeles"),
    ("SST", "Pacific/Guadalcanal"),
    ("VST", "Asia/Ho_Chi_Minh"),
];

/// `e`, or null (of `e`'s type) where `guard` is null.
fn null_when_null(guard: &Expr, e: Expr, cx: &CallContext<'_>) -> Result<Expr> {
    let t = datafusion::logical_expr::ExprSchemable::get_type(&e, cx.schema)?;
    Ok(datafusion::logical_expr::when(
        guard.clone().is_null(),
        Expr::Literal(datafusion::scalar::ScalarValue::try_from(&t)?, None),
    )
    .otherwise(e)?)
}

fn is_array(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)
    )
}

/// Resolves `name` if it is one of these functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let exprs = || args.iter().map(|a| a.expr.clone()).collect::<Vec<_>>();
    Ok(Some(match name {
        // `replace(str, search)` removes `search` (Spark's default replacement is '')
        "replace" if args.len() == 2 => {
            let mut all = exprs();
            all.push(datafusion::logical_expr::lit(""));
            (
                call_registered(cx, name, all)?,
                format!("replace({}, {}, )", args[0].name, args[1].name),
            )
        }
        "reverse" => {
            let [a] = args else {
                return Err(wrong_args(name, "1", args.len()));
            };
            let target = if is_array(&arg_type(a, cx)?) {
                "array_reverse"
            } else {
                "reverse"
            };
            (
                call_registered(cx, target, exprs())?,
                default_name(name, args, false),
            )
        }
        "concat" => {
            let mut arrays = 0;
            for a in args {
                arrays += usize::from(is_array(&arg_type(a, cx)?));
            }
            if arrays == 0 || arrays != args.len() {
                return Ok(None);
            }
            // Spark: null when any array is null, as for strings
            let any_null = args
                .iter()
                .map(|a| a.expr.clone().is_null())
                .reduce(Expr::or)
                .unwrap_or(datafusion::logical_expr::lit(false));
            let concat = call_registered(cx, "array_concat", exprs())?;
            let typed = datafusion::logical_expr::ExprSchemable::get_type(&concat, cx.schema)?;
            let e = datafusion::logical_expr::when(
                any_null,
                Expr::Literal(datafusion::scalar::ScalarValue::try_from(&typed)?, None),
            )
            .otherwise(concat)?;
            (e, default_name(name, args, false))
        }
        "array_remove" => {
            let [_, v] = args else {
                return Err(wrong_args(name, "2", args.len()));
            };
            let e = call_registered(cx, "array_remove_all", exprs())?;
            (
                null_when_null(&v.expr, e, cx)?,
                default_name(name, args, false),
            )
        }
        "array_position" => {
            let [a, v] = args else {
                return Err(wrong_args(name, "2", args.len()));
            };
            let found = call_registered(cx, "array_position", exprs())?;
            let position = datafusion::logical_expr::cast(
                call_registered(
                    cx,
                    "coalesce",
                    vec![found, datafusion::logical_expr::lit(0u64)],
                )?,
                DataType::Int64,
            );
            let e = null_when_null(&a.expr, null_when_null(&v.expr, position, cx)?, cx)?;
            (e, default_name(name, args, false))
        }
        "array_append" => {
            let [a, _] = args else {
                return Err(wrong_args(name, "2", args.len()));
            };
            let e = call_registered(cx, "array_append", exprs())?;
            (
                null_when_null(&a.expr, e, cx)?,
                default_name(name, args, false),
            )
        }
        "array_prepend" => {
            let [a, v] = args else {
                return Err(wrong_args(name, "2", args.len()));
            };
            let e = call_registered(cx, "array_prepend", vec![v.expr.clone(), a.expr.clone()])?;
            (
                null_when_null(&a.expr, e, cx)?,
                default_name(name, args, false),
            )
        }
        "array_sort" if args.len() == 1 => {
            let e = call_registered(
                cx,
                "array_sort",
                vec![
                    args[0].expr.clone(),
                    datafusion::logical_expr::lit("ASC"),
                    datafusion::logical_expr::lit("NULLS LAST"),
                ],
            )?;
            (e, default_name(name, args, false))
        }
        "levenshtein" if args.len() == 3 => {
            let distance = call_registered(
                cx,
                "levenshtein",
                vec![args[0].expr.clone(), args[1].expr.clone()],
            )?;
            let distance = datafusion::logical_expr::cast(distance, DataType::Int32);
            let e = datafusion::logical_expr::when(
                distance.clone().gt(args[2].expr.clone()),
                datafusion::logical_expr::lit(-1i32),
            )
            .otherwise(distance)?;
            (e, default_name(name, args, false))
        }
        "regexp_instr" if args.len() == 2 || args.len() == 3 => {
            // Spark answers where the whole match starts, whatever the group (it only checks
            // that the pattern has it)
            let call = vec![args[0].expr.clone(), args[1].expr.clone()];
            let e = call_registered(cx, "regexp_instr", call)?;
            let group_name = args.get(2).map_or("0".to_string(), |a| a.name.clone());
            (
                datafusion::logical_expr::cast(e, DataType::Int32),
                format!(
                    "regexp_instr({}, {}, {group_name})",
                    args[0].name, args[1].name
                ),
            )
        }
        "from_utc_timestamp" | "to_utc_timestamp" if args.len() == 2 => {
            // the zone through Java's short ids, for a literal or a column alike
            let tz = datafusion::logical_expr::cast(args[1].expr.clone(), DataType::Utf8);
            let mut zone = datafusion::logical_expr::case(tz.clone());
            for (id, full) in SHORT_IDS {
                zone = zone.when(
                    datafusion::logical_expr::lit(*id),
                    datafusion::logical_expr::lit(*full),
                );
            }
            let zone = zone.otherwise(tz)?;
            let e = call_registered(cx, name, vec![args[0].expr.clone(), zone])?;
            (e, default_name(name, args, false))
        }
        "overlay"
            if args.len() == 4
                && matches!(&args[3].expr, Expr::Literal(v, _)
                    if v.cast_to(&DataType::Int64).ok()
                        == Some(datafusion::scalar::ScalarValue::Int64(Some(-1)))) =>
        {
            let e = call_registered(
                cx,
                "overlay",
                vec![
                    args[0].expr.clone(),
                    args[1].expr.clone(),
                    args[2].expr.clone(),
                ],
            )?;
            (e, default_name(name, args, false))
        }
        "trim" | "ltrim" | "rtrim" => match args {
            [_] => return Ok(None),
            [chars, text] => {
                let (target, side) = match name {
                    "trim" => ("btrim", "BOTH"),
                    "ltrim" => ("ltrim", "LEADING"),
                    _ => ("rtrim", "TRAILING"),
                };
                (
                    call_registered(cx, target, vec![text.expr.clone(), chars.expr.clone()])?,
                    format!("TRIM({side} {} FROM {})", chars.name, text.name),
                )
            }
            _ => return Err(wrong_args(name, "1 or 2", args.len())),
        },
        _ => return Ok(None),
    }))
}
