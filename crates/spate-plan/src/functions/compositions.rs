//! Spark functions DataFusion lacks that are compositions of functions the registry has:
//! - `try_mod(a, b)`: `a % b`, null where `b` is 0;
//! - `try_element_at(array | map, i | key)`: `element_at` as without ANSI mode (null out of
//!   range);
//! - `dayname(d)`: the day's three-letter English name (`date_format(d, 'EEE')`), of a date,
//!   a timestamp or text read as one;
//! - `date_from_unix_date(n)`: the date `n` days after 1970-01-01;
//! - `map_contains_key(m, k)`: whether `k` is among the map's keys;
//! - `regexp_substr(str, regexp)`: the first match of `regexp`, null when there is none;
//! - `validate_utf8(s)` / `try_validate_utf8(s)`: `s` itself (a string here is UTF-8 already);
//! - `extract(field, source)`: `date_part(field, source)`, named `extract(field FROM source)`;
//!   the seconds (`S`, `SEC`, `SECOND`, ...) with their fraction, a `decimal(8,6)`;
//! - `collation(s)`: `SYSTEM.BUILTIN.UTF8_BINARY`, the only collation strings have here;
//! - `distributed_sequence_id()` (what `df.zipWithIndex()` and pandas-on-Spark's default
//!   index call): 0, 1, 2, ... in the order of the rows, partition by partition —
//!   `row_number()` over `monotonically_increasing_id()`, which is that order — less one;
//! - `unwrap_udt(x)`: the value in its SQL type — which is how Spate holds a user-defined type
//!   (an ML vector is its struct) — so the value itself; anything but a struct is Spark's
//!   `DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE`.

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{Expr, cast, lit, when};
use spate_common::Result;

use super::{Arg, CallContext, arg_type, call_registered, default_name, wrong_args};

/// The functions of this module.
pub(super) const SQL_NAMES: &[&str] = &[
    "try_mod",
    "try_element_at",
    "dayname",
    "date_from_unix_date",
    "map_contains_key",
    "regexp_substr",
    "validate_utf8",
    "try_validate_utf8",
    "extract",
    "collation",
    "unwrap_udt",
    "distributed_sequence_id",
];

/// Resolves `name` if it is one of these functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    let label = match (name, args) {
        ("extract", [field, source]) => format!("extract({} FROM {})", field.name, source.name),
        _ => default_name(name, args, false),
    };
    let e = match (name, args) {
        ("try_mod", [a, b]) => {
            let divisor = call_registered(cx, "nullif", vec![b.expr.clone(), lit(0)])?;
            let parts = [
                a.clone(),
                Arg {
                    expr: divisor,
                    name: b.name.clone(),
                },
            ];
            super::resolve("mod", parts.to_vec(), cx)?.0
        }
        ("try_element_at", [container, key]) => {
            let lenient = CallContext {
                state: cx.state,
                schema: cx.schema,
                tz: cx.tz,
                distinct: cx.distinct,
                ansi: false,
                map_last_win: cx.map_last_win,
                typing: cx.typing,
            };
            super::resolve("element_at", vec![container.clone(), key.clone()], &lenient)?.0
        }
        ("dayname", [d]) => {
            let date = match arg_type(d, cx)? {
                DataType::Date32 | DataType::Timestamp(..) => d.expr.clone(),
                t => super::cast::spark_cast(d.expr.clone(), &t, &DataType::Date32, true, cx.tz),
            };
            let day = Arg {
                expr: date,
                name: d.name.clone(),
            };
            let pattern = Arg {
                expr: lit("EEE"),
                name: "EEE".into(),
            };
            super::resolve("date_format", vec![day, pattern], cx)?.0
        }
        ("date_from_unix_date", [n]) => {
            cast(cast(n.expr.clone(), DataType::Int32), DataType::Date32)
        }
        ("map_contains_key", [m, k]) => {
            let keys = call_registered(cx, "map_keys", vec![m.expr.clone()])?;
            call_registered(cx, "array_has", vec![keys, k.expr.clone()])?
        }
        ("regexp_substr", [s, re]) => {
            let matches =
                call_registered(cx, "regexp_like", vec![s.expr.clone(), re.expr.clone()])?;
            let first = super::resolve(
                "regexp_extract",
                vec![
                    s.clone(),
                    re.clone(),
                    Arg {
                        expr: lit(0),
                        name: "0".into(),
                    },
                ],
                cx,
            )?
            .0;
            when(matches, first).end()?
        }
        ("validate_utf8" | "try_validate_utf8", [s]) => cast(s.expr.clone(), DataType::Utf8),
        // every string here compares by its UTF-8 bytes: Spark's default collation
        ("distributed_sequence_id", []) => {
            use datafusion::logical_expr::ExprFunctionExt;
            let order = call_registered(cx, "monotonically_increasing_id", vec![])?;
            let number = datafusion::functions_window::expr_fn::row_number()
                .order_by(vec![order.sort(true, false)])
                .build()?;
            cast(number, DataType::Int64) - lit(1i64)
        }
        ("unwrap_udt", [x]) => match arg_type(x, cx)? {
            DataType::Struct(_) => x.expr.clone(),
            t => {
                return Err(spate_common::Error::analysis(
                    "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                    format!(
                        "Cannot resolve \"unwrap_udt({})\": the parameter requires a user-defined type, however \"{}\" has the type \"{}\".",
                        x.name,
                        x.name,
                        crate::types::sql_string(&t)
                    ),
                ));
            }
        },
        ("collation", [s]) => match arg_type(s, cx)? {
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
                lit("SYSTEM.BUILTIN.UTF8_BINARY")
            }
            t => {
                return Err(spate_common::Error::analysis(
                    "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                    format!(
                        "Cannot resolve \"collation({})\": the input should be of type \"STRING\", got \"{}\"",
                        s.name,
                        crate::types::sql_string(&t)
                    ),
                ));
            }
        },
        // seconds come with their fraction, as decimal(8,6)
        ("extract", [field, source]) if is_seconds(&field.expr) => {
            let micros = cast(
                cast(source.expr.clone(), crate::types::timestamp(cx.tz)),
                DataType::Int64,
            );
            let within = super::non_negative_mod(micros, 60_000_000);
            cast(
                cast(within, DataType::Float64) / lit(1_000_000.0),
                DataType::Decimal128(8, 6),
            )
        }
        ("extract", [field, source]) => {
            super::resolve("date_part", vec![field.clone(), source.clone()], cx)?.0
        }
        _ => {
            let expected = match name {
                "try_mod" | "try_element_at" | "map_contains_key" | "regexp_substr" | "extract" => {
                    "2"
                }
                _ => "1",
            };
            return Err(wrong_args(name, expected, args.len()));
        }
    };
    Ok(Some((e, label)))
}

/// Whether an `extract` field is Spark's seconds field.
fn is_seconds(field: &Expr) -> bool {
    match field {
        Expr::Literal(v, _) => v.try_as_str().flatten().is_some_and(|f| {
            matches!(
                f.to_uppercase().as_str(),
                "S" | "SEC" | "SECS" | "SECOND" | "SECONDS"
            )
        }),
        _ => false,
    }
}
