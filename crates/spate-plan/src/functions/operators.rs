//! Operators and predicates as PySpark sends them (`+`, `==`, `and`, `isNull`, `like`, `in`,
//! `when`, ...): their DataFusion expressions with Spark's semantics (`/` is fractional
//! division, `!=` is `NOT (a = b)`, `<=>` is null-safe equality) and Spark's names
//! (`(a + 1)`, `(a IS NULL)`, `CASE WHEN ... END`).

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::expr::{Case, InList, Like};
use datafusion::logical_expr::{
    ColumnarValue, Expr, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, binary_expr, cast, lit,
};
use spate_common::Result;

use super::{Arg, CallContext, arg_type, wrong_args};

/// The Spark functions this module rewrites that SQL text can call by name: SQL planning
/// sends them through the registry (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "mod",
    "div",
    "negative",
    "positive",
    "isnull",
    "isnotnull",
    "like",
    "ilike",
    "rlike",
    "regexp",
    "regexp_like",
    "isnan",
];

/// The operator symbols this module resolves (as PySpark sends them; Spark lists them among its
/// functions).
pub(super) const SYMBOLS: &[&str] = &[
    "+", "-", "*", "/", "%", "==", "=", "<=>", "!=", "<>", "<", "<=", ">", ">=", "&", "|", "^",
    "!", "~", "and", "or", "not", "in", "between",
];

/// Resolves `name` if it is an operator.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let binary = |op: Operator, sym: &str| -> Result<Option<(Expr, String)>> {
        let [l, r] = two(name, args)?;
        Ok(Some((
            binary_expr(l.expr.clone(), op, r.expr.clone()),
            format!("({} {sym} {})", l.name, r.name),
        )))
    };
    match name {
        "+" | "plus" => binary(Operator::Plus, "+"),
        "-" | "minus" if args.len() == 2 => binary(Operator::Minus, "-"),
        "*" | "multiply" => binary(Operator::Multiply, "*"),
        "%" => binary(Operator::Modulo, "%"),
        "mod" => {
            let [l, r] = two(name, args)?;
            Ok(Some((
                binary_expr(l.expr.clone(), Operator::Modulo, r.expr.clone()),
                format!("mod({}, {})", l.name, r.name),
            )))
        }
        "/" | "divide" => {
            let [l, r] = two(name, args)?;
            let (lt, rt) = (arg_type(l, cx)?, arg_type(r, cx)?);
            let decimal =
                |t: &DataType| matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..));
            let expr = if decimal(&lt) || decimal(&rt) {
                binary_expr(l.expr.clone(), Operator::Divide, r.expr.clone())
            } else {
                super::arithmetic::divide(l.expr.clone(), r.expr.clone())
            };
            Ok(Some((expr, format!("({} / {})", l.name, r.name))))
        }
        "div" => {
            let [l, r] = two(name, args)?;
            let expr = cast(
                binary_expr(l.expr.clone(), Operator::Divide, r.expr.clone()),
                DataType::Int64,
            );
            Ok(Some((expr, format!("({} div {})", l.name, r.name))))
        }
        "==" | "=" | "equalto" => binary(Operator::Eq, "="),
        "<=>" | "eqnullsafe" => binary(Operator::IsNotDistinctFrom, "<=>"),
        "!=" | "<>" => {
            let [l, r] = two(name, args)?;
            Ok(Some((
                binary_expr(l.expr.clone(), Operator::NotEq, r.expr.clone()),
                format!("(NOT ({} = {}))", l.name, r.name),
            )))
        }
        "<" => binary(Operator::Lt, "<"),
        "<=" => binary(Operator::LtEq, "<="),
        ">" => binary(Operator::Gt, ">"),
        ">=" => binary(Operator::GtEq, ">="),
        "and" => binary(Operator::And, "AND"),
        "or" => binary(Operator::Or, "OR"),
        "&" | "bitwiseand" => binary(Operator::BitwiseAnd, "&"),
        "|" | "bitwiseor" => binary(Operator::BitwiseOr, "|"),
        "^" | "bitwisexor" => binary(Operator::BitwiseXor, "^"),
        "~" => {
            // Spark's bitwise NOT, named `~a`
            let [a] = one(name, args)?;
            let e = super::call_registered(cx, "bitwise_not", vec![a.expr.clone()])?;
            Ok(Some((e, format!("~{}", a.name))))
        }
        "not" | "!" => {
            let [a] = one(name, args)?;
            Ok(Some((
                Expr::Not(Box::new(a.expr.clone())),
                format!("(NOT {})", a.name),
            )))
        }
        "negative" | "-" => {
            let [a] = one(name, args)?;
            // Spark names the function by its name (PySpark's `-col` calls it too), the
            // operator as `(- x)`
            let label = if name == "negative" {
                format!("negative({})", a.name)
            } else {
                format!("(- {})", a.name)
            };
            Ok(Some((Expr::Negative(Box::new(a.expr.clone())), label)))
        }
        "positive" => {
            let [a] = one(name, args)?;
            Ok(Some((a.expr.clone(), format!("(+ {})", a.name))))
        }
        "isnull" => {
            let [a] = one(name, args)?;
            Ok(Some((
                Expr::IsNull(Box::new(a.expr.clone())),
                format!("({} IS NULL)", a.name),
            )))
        }
        "isnotnull" => {
            let [a] = one(name, args)?;
            Ok(Some((
                Expr::IsNotNull(Box::new(a.expr.clone())),
                format!("({} IS NOT NULL)", a.name),
            )))
        }
        "like" | "ilike" => {
            if args.len() < 2 {
                return Err(wrong_args(name, "2", args.len()));
            }
            let escape = match args.get(2).map(|a| &a.expr) {
                Some(Expr::Literal(v, _)) => v.to_string().chars().next(),
                _ => None,
            };
            // DataFusion escapes with a backslash only: another escape character is written
            // into the pattern as backslashes
            let (pattern, escape) = match escape {
                Some(c) if c != '\\' => (
                    ScalarUDF::new_from_impl(LikeEscape {
                        escape: c,
                        signature: Signature::any(1, Volatility::Immutable),
                    })
                    .call(vec![args[1].expr.clone()]),
                    None,
                ),
                other => (args[1].expr.clone(), other),
            };
            let like = Expr::Like(Like::new(
                false,
                Box::new(args[0].expr.clone()),
                Box::new(pattern),
                escape,
                name == "ilike",
            ));
            let label = if name == "like" {
                format!("{} LIKE {}", args[0].name, args[1].name)
            } else {
                format!("ilike({}, {})", args[0].name, args[1].name)
            };
            Ok(Some((like, label)))
        }
        "rlike" | "regexp" | "regexp_like" => {
            let [l, r] = two(name, args)?;
            Ok(Some((
                binary_expr(l.expr.clone(), Operator::RegexMatch, r.expr.clone()),
                format!("{}({}, {})", name.to_uppercase(), l.name, r.name),
            )))
        }
        "in" => {
            let Some((first, rest)) = args.split_first() else {
                return Err(wrong_args(name, "at least 1", 0));
            };
            let list = rest.iter().map(|a| a.expr.clone()).collect();
            let names: Vec<&str> = rest.iter().map(|a| a.name.as_str()).collect();
            Ok(Some((
                Expr::InList(InList::new(Box::new(first.expr.clone()), list, false)),
                format!("({} IN ({}))", first.name, names.join(", ")),
            )))
        }
        "when" | "case_when" => {
            let mut pairs = Vec::new();
            let mut label = String::from("CASE");
            let mut chunks = args.chunks_exact(2);
            for pair in chunks.by_ref() {
                pairs.push((
                    Box::new(pair[0].expr.clone()),
                    Box::new(pair[1].expr.clone()),
                ));
                label.push_str(&format!(" WHEN {} THEN {}", pair[0].name, pair[1].name));
            }
            let otherwise = chunks.remainder().first().map(|a| {
                label.push_str(&format!(" ELSE {}", a.name));
                Box::new(a.expr.clone())
            });
            label.push_str(" END");
            Ok(Some((Expr::Case(Case::new(None, pairs, otherwise)), label)))
        }
        "between" => {
            let [v, lo, hi] = three(name, args)?;
            Ok(Some((
                Expr::Between(datafusion::logical_expr::Between::new(
                    Box::new(v.expr.clone()),
                    false,
                    Box::new(lo.expr.clone()),
                    Box::new(hi.expr.clone()),
                )),
                format!(
                    "(({} >= {}) AND ({} <= {}))",
                    v.name, lo.name, v.name, hi.name
                ),
            )))
        }
        "isnan" => {
            let [a] = one(name, args)?;
            let e = Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
                datafusion::functions::math::isnan(),
                vec![cast(a.expr.clone(), DataType::Float64)],
            ));
            let e = datafusion::prelude::coalesce(vec![e, lit(false)]);
            Ok(Some((e, format!("isnan({})", a.name))))
        }
        _ => Ok(None),
    }
}

fn one<'a>(name: &str, args: &'a [Arg]) -> Result<&'a [Arg; 1]> {
    args.try_into()
        .map_err(|_| wrong_args(name, "1", args.len()))
}

fn two<'a>(name: &str, args: &'a [Arg]) -> Result<&'a [Arg; 2]> {
    args.try_into()
        .map_err(|_| wrong_args(name, "2", args.len()))
}

fn three<'a>(name: &str, args: &'a [Arg]) -> Result<&'a [Arg; 3]> {
    args.try_into()
        .map_err(|_| wrong_args(name, "3", args.len()))
}

/// A LIKE pattern escaped with `escape` rewritten to escape with a backslash: `escape` before
/// `%`, `_` or itself makes that character literal, a backslash is literal.
fn backslash_escaped(pattern: &str, escape: char) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            match chars.next() {
                Some(n @ ('%' | '_' | '\\')) => {
                    out.push('\\');
                    out.push(n);
                }
                Some(n) => out.push(n),
                None => out.push(c),
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

/// The UDF rewriting a column of LIKE patterns with [`backslash_escaped`].
#[derive(Debug, PartialEq, Eq, Hash)]
struct LikeEscape {
    escape: char,
    signature: Signature,
}

impl ScalarUDFImpl for LikeEscape {
    fn name(&self) -> &str {
        "like_escape"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let a = args.args[0].to_array(args.number_rows)?;
        let a = datafusion::arrow::compute::cast(&a, &DataType::Utf8)?;
        let out: StringArray = a
            .as_string::<i32>()
            .iter()
            .map(|p| p.map(|p| backslash_escaped(p, self.escape)))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod like_tests {
    use super::backslash_escaped;

    #[test]
    fn another_escape_becomes_backslashes() {
        assert_eq!(
            backslash_escaped("%SystemDrive/%//Users%", '/'),
            r"%SystemDrive\%/Users%"
        );
        assert_eq!(backslash_escaped("a/_b", '/'), r"a\_b");
        assert_eq!(backslash_escaped(r"c:\x", '/'), r"c:\\x");
    }
}
