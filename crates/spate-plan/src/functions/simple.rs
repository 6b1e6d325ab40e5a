//! Spark functions that are another expression: `e()` and `current_timezone()` (constants),
//! `current_database()` / `current_schema()` (`default`) and `current_catalog()`
//! (`spark_catalog`), `equal_null(a, b)` (`a <=> b`), `get(array, i)` (0-based, null out of
//! range), `zeroifnull(x)`, `nullifzero(x)`, `sign(x)` (`signum`), and `map()` with no
//! arguments (an empty `map<string,string>`; with arguments the registry builds the map).

use datafusion::logical_expr::{Expr, lit};
use spate_common::Result;

use super::collection::array_item;
use super::{Arg, CallContext, call_registered, default_name, wrong_args};

/// The function names this module resolves.
pub(super) const SQL_NAMES: &[&str] = &[
    "e",
    "current_timezone",
    "current_database",
    "current_schema",
    "current_catalog",
    "equal_null",
    "get",
    "zeroifnull",
    "nullifzero",
    "sign",
    "map",
    "create_map",
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
    if matches!(name, "map" | "create_map") {
        if !args.is_empty() {
            return Ok(None);
        }
        use datafusion::arrow::array::{MapBuilder, MapFieldNames, StringBuilder};
        // the field names DataFusion's maps have (arrow's builder would say keys/values)
        let names = MapFieldNames {
            entry: "entries".into(),
            key: "key".into(),
            value: "value".into(),
        };
        let mut empty = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
        empty.append(true)?;
        let e = Expr::Literal(
            datafusion::scalar::ScalarValue::Map(std::sync::Arc::new(empty.finish())),
            None,
        );
        return Ok(Some((e, format!("{name}()"))));
    }
    let count = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(wrong_args(name, &n.to_string(), args.len()))
        }
    };
    let label = default_name(&crate::call_names::pretty_name(name), args, false);
    let e = match name {
        "e" => {
            count(0)?;
            lit(std::f64::consts::E)
        }
        "current_timezone" => {
            count(0)?;
            lit(cx.tz.to_string())
        }
        "current_database" | "current_schema" => {
            count(0)?;
            lit("default")
        }
        "current_catalog" => {
            count(0)?;
            lit("spark_catalog")
        }
        "equal_null" => {
            count(2)?;
            datafusion::logical_expr::binary_expr(
                args[0].expr.clone(),
                datafusion::logical_expr::Operator::IsNotDistinctFrom,
                args[1].expr.clone(),
            )
        }
        "get" => {
            count(2)?;
            array_item(args[0].expr.clone(), args[1].expr.clone(), false, false)
        }
        "zeroifnull" => {
            count(1)?;
            call_registered(cx, "coalesce", vec![args[0].expr.clone(), lit(0)])?
        }
        "nullifzero" => {
            count(1)?;
            call_registered(cx, "nullif", vec![args[0].expr.clone(), lit(0)])?
        }
        _ => {
            count(1)?;
            call_registered(cx, "signum", vec![args[0].expr.clone()])?
        }
    };
    Ok(Some((e, label)))
}
