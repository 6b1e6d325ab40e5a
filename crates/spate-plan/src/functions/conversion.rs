//! Spark's cast functions: `bigint(x)`, `int(x)`, `string(x)`, `date(x)`, `decimal(x)`, ...
//! are `CAST(x AS <type>)` with Spark's cast rules (ANSI mode deciding whether a bad value
//! fails or becomes null). Spark names the call after its argument: `bigint(d)` is `d`.
//! Also `typeof(x)`: the name of `x`'s type, Spark's `catalogString` (`int`, `array<string>`).

use datafusion::logical_expr::Expr;
use spate_common::Result;

use super::{Arg, CallContext, arg_type, spark_cast, wrong_args};

/// The cast functions, by their Spark names (each is also its target type's name).
pub(super) const SQL_NAMES: &[&str] = &[
    "bigint",
    "binary",
    "boolean",
    "date",
    "decimal",
    "double",
    "float",
    "int",
    "smallint",
    "string",
    "timestamp",
    "tinyint",
    "typeof",
];

/// Resolves `name` if it is a cast function.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    let [value] = args else {
        return Err(wrong_args(name, "1", args.len()));
    };
    if name == "typeof" {
        let t = crate::types::simple_string(&arg_type(value, cx)?);
        return Ok(Some((
            datafusion::logical_expr::lit(t),
            format!("typeof({})", value.name),
        )));
    }
    let to = crate::type_parser::parse_data_type(name, cx.tz)?;
    let from = arg_type(value, cx)?;
    let e = spark_cast(value.expr.clone(), &from, &to, !cx.ansi, cx.tz);
    Ok(Some((e, value.name.clone())))
}
