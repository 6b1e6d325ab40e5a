//! String functions whose Spark form differs from DataFusion's: `regexp_extract(s, p, i)`
//! (group `i` of the first match, `""` when nothing matches), `locate(sub, s[, pos])`
//! (1-based, 0 when absent; searching from `pos`, counted from the start),
//! `regexp_replace(s, p, r[, pos])` (every match, from `pos`),
//! `startswith` / `endswith`, `initcap` (the whole string lower-cased, then each letter at
//! the start or after a space — a space only, as Spark's `toTitleCase` — upper-cased),
//! `regexp_extract_all(s, p[, i])` (group `i` of every match, `""` for a group that did not
//! take part; a group index the pattern lacks is Spark's `REGEX_GROUP_INDEX` error).

use datafusion::logical_expr::{Expr, lit, when};
use datafusion::scalar::ScalarValue;
use spate_common::Result;

use super::{Arg, CallContext, call_registered, default_name, wrong_args};

/// The Spark functions this module rewrites that SQL text can call by name: SQL planning
/// sends them through the registry (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "regexp_extract",
    "regexp_extract_all",
    "regexp_replace",
    "locate",
    "position",
    "startswith",
    "endswith",
    "initcap",
];

/// Resolves `name` if it is a string function needing a rewrite.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    Ok(Some(match name {
        "initcap" => {
            let [text] = args else {
                return Err(wrong_args(name, "1", args.len()));
            };
            let udf = datafusion::logical_expr::ScalarUDF::new_from_impl(InitCap {
                signature: datafusion::logical_expr::Signature::any(
                    1,
                    datafusion::logical_expr::Volatility::Immutable,
                ),
            });
            let e = udf.call(vec![datafusion::logical_expr::cast(
                text.expr.clone(),
                datafusion::arrow::datatypes::DataType::Utf8,
            )]);
            (e, default_name(name, args, false))
        }
        "regexp_extract_all" => {
            let (s, pattern) = match args {
                [s, p] | [s, p, _] => (s, p),
                _ => return Err(wrong_args(name, "2 or 3", args.len())),
            };
            let index = args.get(2).map_or(lit(1), |a| a.expr.clone());
            let udf = datafusion::logical_expr::ScalarUDF::new_from_impl(ExtractAll {
                signature: datafusion::logical_expr::Signature::any(
                    3,
                    datafusion::logical_expr::Volatility::Immutable,
                ),
            });
            use datafusion::arrow::datatypes::DataType;
            let e = udf.call(vec![
                datafusion::logical_expr::cast(s.expr.clone(), DataType::Utf8),
                datafusion::logical_expr::cast(pattern.expr.clone(), DataType::Utf8),
                datafusion::logical_expr::cast(index, DataType::Int32),
            ]);
            let index_name = args.get(2).map_or("1".to_string(), |a| a.name.clone());
            (
                e,
                format!("{name}({}, {}, {index_name})", s.name, pattern.name),
            )
        }
        "regexp_extract" => {
            let (s, pattern) = match args {
                [s, p, ..] => (s, p),
                _ => return Err(wrong_args(name, "2 or 3", args.len())),
            };
            // the first match's group, as `regexp_extract_all` finds it: "" for a group that
            // did not take part (DataFusion's `regexp_match` leaves such groups out)
            let index = args.get(2).map_or(lit(1), |a| a.expr.clone());
            let udf = datafusion::logical_expr::ScalarUDF::new_from_impl(ExtractAll {
                signature: datafusion::logical_expr::Signature::any(
                    3,
                    datafusion::logical_expr::Volatility::Immutable,
                ),
            });
            use datafusion::arrow::datatypes::DataType;
            let all = udf.call(vec![
                datafusion::logical_expr::cast(s.expr.clone(), DataType::Utf8),
                datafusion::logical_expr::cast(pattern.expr.clone(), DataType::Utf8),
                datafusion::logical_expr::cast(index, DataType::Int32),
            ]);
            let value = call_registered(cx, "array_element", vec![all, lit(1i64)])?;
            let e = when(s.expr.clone().is_null(), lit(ScalarValue::Utf8(None)))
                .otherwise(call_registered(cx, "coalesce", vec![value, lit("")])?)?;
            let mut named = args.to_vec();
            if named.len() == 2 {
                named.push(Arg {
                    expr: lit(1),
                    name: "1".into(),
                });
            }
            (e, default_name(name, &named, false))
        }
        "regexp_replace" => {
            let [s, pattern, replacement, rest @ ..] = args else {
                return Err(wrong_args(name, "3 or 4", args.len()));
            };
            let position = match rest {
                [] => 1,
                [
                    Arg {
                        expr: Expr::Literal(v, _),
                        name: text,
                    },
                ] => match v.cast_to(&datafusion::arrow::datatypes::DataType::Int64)? {
                    ScalarValue::Int64(Some(p)) if p >= 1 => p,
                    _ => return Err(bad_position(text)),
                },
                [other] => return Err(bad_position(&other.name)),
                _ => return Err(wrong_args(name, "3 or 4", args.len())),
            };
            // Spark replaces every match ("g"), searching from `position` (1-based)
            let replace = |text: Expr| {
                call_registered(
                    cx,
                    "regexp_replace",
                    vec![
                        text,
                        pattern.expr.clone(),
                        replacement.expr.clone(),
                        lit("g"),
                    ],
                )
            };
            let e = if position == 1 {
                replace(s.expr.clone())?
            } else {
                let head = call_registered(
                    cx,
                    "substring",
                    vec![s.expr.clone(), lit(1_i64), lit(position - 1)],
                )?;
                let tail = call_registered(cx, "substring", vec![s.expr.clone(), lit(position)])?;
                call_registered(cx, "concat", vec![head, replace(tail)?])?
            };
            let label = format!(
                "regexp_replace({}, {}, {}, {position})",
                s.name, pattern.name, replacement.name
            );
            (e, label)
        }
        "locate" | "position" => {
            let (sub, s) = match args {
                [sub, s, ..] => (sub, s),
                _ => return Err(wrong_args(name, "2 or 3", args.len())),
            };
            let from_start = matches!(
                args.get(2).map(|a| &a.expr),
                None | Some(Expr::Literal(
                    ScalarValue::Int32(Some(1)) | ScalarValue::Int64(Some(1)),
                    _
                ))
            );
            let int = datafusion::arrow::datatypes::DataType::Int32;
            if !from_start {
                // from `pos` (1-based): found in the rest, counted from the string's start; 0
                // when absent or when `pos` < 1
                let [_, _, pos] = args else {
                    return Err(wrong_args(name, "2 or 3", args.len()));
                };
                let pos = datafusion::logical_expr::cast(pos.expr.clone(), int.clone());
                let rest = call_registered(cx, "substr", vec![s.expr.clone(), pos.clone()])?;
                let found = datafusion::logical_expr::cast(
                    call_registered(cx, "strpos", vec![rest, sub.expr.clone()])?,
                    int,
                );
                let e = when(pos.clone().lt(lit(1)), lit(0))
                    .when(found.clone().eq(lit(0)), lit(0))
                    .otherwise(found + pos - lit(1))?;
                return Ok(Some((e, default_name(name, args, false))));
            }
            let e = call_registered(cx, "strpos", vec![s.expr.clone(), sub.expr.clone()])?;
            let e = datafusion::logical_expr::cast(e, int);
            (e, format!("{name}({}, {}, 1)", sub.name, s.name))
        }
        "startswith" | "endswith" => {
            let [s, affix] = args else {
                return Err(wrong_args(name, "2", args.len()));
            };
            let target = if name == "startswith" {
                "starts_with"
            } else {
                "ends_with"
            };
            let e = call_registered(cx, target, vec![s.expr.clone(), affix.expr.clone()])?;
            (e, default_name(name, args, false))
        }
        _ => return Ok(None),
    }))
}

/// Spark's error for a `regexp_replace` position that is not a literal of at least 1.
fn bad_position(position: &str) -> spate_common::Error {
    spate_common::Error::analysis(
        "DATATYPE_MISMATCH.VALUE_OUT_OF_RANGE",
        format!(
            "Cannot resolve regexp_replace: the position must be an integer literal of at least 1, got {position}."
        ),
    )
}

/// Spark's `initcap` (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
struct InitCap {
    signature: datafusion::logical_expr::Signature,
}

impl datafusion::logical_expr::ScalarUDFImpl for InitCap {
    fn name(&self) -> &str {
        "initcap"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(
        &self,
        _args: &[datafusion::arrow::datatypes::DataType],
    ) -> datafusion::error::Result<datafusion::arrow::datatypes::DataType> {
        Ok(datafusion::arrow::datatypes::DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<datafusion::logical_expr::ColumnarValue> {
        use datafusion::arrow::array::{Array, AsArray, StringBuilder};
        let text = args.args[0].to_array(args.number_rows)?;
        let text = text.as_string::<i32>();
        let mut out = StringBuilder::with_capacity(text.len(), text.values().len());
        for i in 0..text.len() {
            if text.is_null(i) {
                out.append_null();
            } else {
                out.append_value(title_case(text.value(i)));
            }
        }
        Ok(datafusion::logical_expr::ColumnarValue::Array(
            std::sync::Arc::new(out.finish()),
        ))
    }
}

/// Spark's `regexp_extract_all(s, pattern, index)` (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExtractAll {
    signature: datafusion::logical_expr::Signature,
}

impl datafusion::logical_expr::ScalarUDFImpl for ExtractAll {
    fn name(&self) -> &str {
        "regexp_extract_all"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(
        &self,
        _args: &[datafusion::arrow::datatypes::DataType],
    ) -> datafusion::error::Result<datafusion::arrow::datatypes::DataType> {
        Ok(datafusion::arrow::datatypes::DataType::new_list(
            datafusion::arrow::datatypes::DataType::Utf8,
            true,
        ))
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<datafusion::logical_expr::ColumnarValue> {
        use datafusion::arrow::array::{Array, AsArray, ListBuilder, StringBuilder};
        use datafusion::arrow::datatypes::Int32Type;
        let arrays = datafusion::logical_expr::ColumnarValue::values_to_arrays(&args.args)?;
        let text = arrays[0].as_string::<i32>();
        let patterns = arrays[1].as_string::<i32>();
        let indexes = arrays[2].as_primitive::<Int32Type>();
        let mut out = ListBuilder::new(StringBuilder::new());
        let mut compiled: Option<(String, regex::Regex)> = None;
        for i in 0..text.len() {
            if text.is_null(i) || patterns.is_null(i) || indexes.is_null(i) {
                out.append_null();
                continue;
            }
            let pattern = patterns.value(i);
            let re = match &compiled {
                Some((p, re)) if p == pattern => re.clone(),
                _ => {
                    let re = regex::Regex::new(pattern).map_err(|e| {
                        invalid_parameter(
                            "PATTERN",
                            "regexp",
                            format!("'{pattern}' is not a valid regular expression: {e}"),
                        )
                    })?;
                    compiled = Some((pattern.to_string(), re.clone()));
                    re
                }
            };
            let groups = re.captures_len() - 1;
            let index = indexes.value(i);
            if index < 0 || index as usize > groups {
                let why = if index < 0 {
                    format!("Expects group index to be non-negative, but got {index}.")
                } else {
                    format!("Expects group index between 0 and {groups}, but got {index}.")
                };
                return Err(invalid_parameter("REGEX_GROUP_INDEX", "idx", why));
            }
            for caps in re.captures_iter(text.value(i)) {
                out.values()
                    .append_value(caps.get(index as usize).map_or("", |m| m.as_str()));
            }
            out.append(true);
        }
        Ok(datafusion::logical_expr::ColumnarValue::Array(
            std::sync::Arc::new(out.finish()),
        ))
    }
}

/// Spark's `INVALID_PARAMETER_VALUE` error of `regexp_extract_all`.
fn invalid_parameter(
    kind: &str,
    parameter: &str,
    why: String,
) -> datafusion::error::DataFusionError {
    spate_common::Error::Runtime {
        exception: "java.lang.IllegalArgumentException",
        class: format!("INVALID_PARAMETER_VALUE.{kind}"),
        message: format!(
            "The value of parameter(s) `{parameter}` in `regexp_extract_all` is invalid: {why}"
        ),
    }
    .into()
}

/// `s` lower-cased with each letter at the start or after a space upper-cased.
fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_space = true;
    for c in s.to_lowercase().chars() {
        if after_space {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        after_space = c == ' ';
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn title_cases_after_spaces_only() {
        // Spark's documented example: initcap('sPark sql') is 'Spark Sql'
        assert_eq!(super::title_case("sPark sql"), "Spark Sql");
        assert_eq!(super::title_case("foo-123-bar"), "Foo-123-bar");
        assert_eq!(super::title_case("  spaced  "), "  Spaced  ");
        assert_eq!(super::title_case("a\tb c"), "A\tb C");
    }
}
