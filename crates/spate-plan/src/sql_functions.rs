//! Spark functions in SQL text. DataFusion's SQL planner looks a function name up in the
//! session state, which holds DataFusion's and `datafusion-spark`'s functions but not the
//! rewrites of the function registry (`crate::functions`): `year(d)`, `first(x, true)`,
//! `date_format(t, 'yyyy')` or `variance(x)` would fail or differ from the DataFrame API. So
//! SQL text is planned against a copy of the state in which every name it calls that the
//! registry must resolve ([`crate::functions::sql_route`]) is a *placeholder*: a function
//! that types itself by resolving its call through the registry. Once the plan is built, each
//! placeholder call is replaced by the registry's expression over its real arguments
//! ([`replace_placeholders`]) and named with the registry's Spark name ([`spark_label`]). A
//! name neither knows is Spark's `UNRESOLVED_ROUTINE`, as in the DataFrame API.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::common::DFSchema;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result as DfResult;
use datafusion::execution::SessionState;
use datafusion::execution::registry::FunctionRegistry;
use datafusion::logical_expr::expr::{
    AggregateFunction, NullTreatment, WindowFunction, WindowFunctionDefinition,
};
use datafusion::logical_expr::{AggregateUDF, Expr, ScalarUDF, Signature, Volatility};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{self, visit_expressions, visit_expressions_mut};
use spate_common::{Error, Result};

use crate::functions::{self, SqlRoute};
use crate::placeholder::{Placeholder, Registry, placeholder};

/// The lower-case names of the functions that a statement calls.
pub fn called_names(statement: &DfStatement) -> BTreeSet<String> {
    match statement {
        DfStatement::Statement(st) => names_in(st.as_ref()),
        DfStatement::Explain(e) => called_names(&e.statement),
        _ => BTreeSet::new(),
    }
}

/// The lower-case names of the functions called anywhere in `node` (a statement or an
/// expression of the SQL syntax tree).
pub fn names_in<V: ast::Visit>(node: &V) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let _ = visit_expressions(node, |e| {
        if let ast::Expr::Function(f) = e
            && let [part] = f.name.0.as_slice()
            && let Some(ident) = part.as_ident()
        {
            names.insert(ident.value.to_lowercase());
        }
        ControlFlow::<()>::Continue(())
    });
    names
}

/// Spark syntax DataFusion's SQL planner does not plan, rewritten in the syntax tree as the
/// function calls Spark defines it by: `a RLIKE p` and `a REGEXP p` are `rlike(a, p)`;
/// `map(...)`, which DataFusion's planner plans itself (without Spark's key checks, and not
/// at all without arguments), is called by Spark's other name for it, `create_map(...)`
/// (named `map(...)` as in Spark; `create_map()` without arguments); a tuple `(a, b)` is the
/// struct Spark makes of it, `struct(a, b)` (fields `col1`, `col2`); an interval range
/// (`INTERVAL '1 12' DAY TO HOUR`) is the interval its fields add up to.
pub fn spark_syntax<V: ast::VisitMut>(node: &mut V) {
    let _ = visit_expressions_mut(node, |e| {
        if let ast::Expr::Function(f) = e
            && matches!(&f.args, ast::FunctionArguments::List(_))
            && let [part] = f.name.0.as_mut_slice()
            && let Some(ident) = part.as_ident()
            && ident.value.eq_ignore_ascii_case("map")
        {
            *part = ast::ObjectNamePart::Identifier(ast::Ident::new("create_map"));
        }
        if let ast::Expr::RLike {
            negated,
            expr,
            pattern,
            regexp,
        } = e
        {
            let name = if *regexp { "regexp" } else { "rlike" };
            let call = function_call(name, vec![expr.as_ref().clone(), pattern.as_ref().clone()]);
            *e = if *negated {
                ast::Expr::UnaryOp {
                    op: ast::UnaryOperator::Not,
                    expr: Box::new(call),
                }
            } else {
                call
            };
        }
        if let ast::Expr::Tuple(items) = e {
            *e = function_call("struct", std::mem::take(items));
        }
        if let ast::Expr::Interval(interval) = e
            && let Some((months, fields)) = year_month_literal(interval)
        {
            *e = function_call(
                crate::functions::ym_interval::LITERAL_FUNCTION,
                vec![
                    ast::Expr::Value(ast::Value::Number(months.to_string(), false).into()),
                    ast::Expr::Value(ast::Value::SingleQuotedString(fields.into()).into()),
                ],
            );
            return ControlFlow::<()>::Continue(());
        }
        if let ast::Expr::Interval(interval) = e
            && let Some(text) = interval_range_text(interval)
        {
            *interval.value = ast::Expr::Value(ast::Value::SingleQuotedString(text).into());
            interval.leading_field = None;
            interval.last_field = None;
            interval.leading_precision = None;
            interval.fractional_seconds_precision = None;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// A year-month interval literal (`INTERVAL 1 YEAR`, `INTERVAL '3' MONTH`,
/// `INTERVAL '1-2' YEAR TO MONTH`): its months and fields; `None` for any other interval.
fn year_month_literal(interval: &ast::Interval) -> Option<(i64, &'static str)> {
    use ast::DateTimeField as F;
    let text = match interval.value.as_ref() {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.clone(),
            ast::Value::SingleQuotedString(t) | ast::Value::DoubleQuotedString(t) => {
                t.trim().into()
            }
            _ => return None,
        },
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => format!("-{n}"),
                _ => return None,
            },
            _ => return None,
        },
        _ => return None,
    };
    let whole = |t: &str| t.parse::<i64>().ok();
    match (&interval.leading_field, &interval.last_field) {
        (Some(F::Year | F::Years), None) => Some((whole(&text)?.checked_mul(12)?, "YEAR")),
        (Some(F::Month | F::Months), None) => Some((whole(&text)?, "MONTH")),
        (Some(F::Year | F::Years), Some(F::Month | F::Months)) => {
            let (negative, body) = match text.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, text.strip_prefix('+').unwrap_or(&text)),
            };
            let (y, m) = body.split_once('-')?;
            let months = whole(y)?.checked_mul(12)?.checked_add(whole(m)?)?;
            Some((if negative { -months } else { months }, "YEAR TO MONTH"))
        }
        _ => None,
    }
}

/// The text of a Spark interval range (`INTERVAL '1 12' DAY TO HOUR`, `'2-3' YEAR TO MONTH`,
/// `'10:30' HOUR TO MINUTE`, `'1 2:03:04.5' DAY TO SECOND`...) in the unit words DataFusion
/// reads (`1 days 12 hours`); `None` for an interval that is not such a range.
fn interval_range_text(interval: &ast::Interval) -> Option<String> {
    use ast::DateTimeField as F;
    let (Some(from), Some(to)) = (&interval.leading_field, &interval.last_field) else {
        return None;
    };
    let ast::Expr::Value(v) = interval.value.as_ref() else {
        return None;
    };
    let (ast::Value::SingleQuotedString(text) | ast::Value::DoubleQuotedString(text)) = &v.value
    else {
        return None;
    };
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let rank = |f: &F| match f {
        F::Year | F::Years => Some(0),
        F::Month | F::Months => Some(1),
        F::Day | F::Days => Some(2),
        F::Hour | F::Hours => Some(3),
        F::Minute | F::Minutes => Some(4),
        F::Second | F::Seconds => Some(5),
        _ => None,
    };
    let (first, last) = (rank(from)?, rank(to)?);
    const UNITS: [&str; 6] = ["years", "months", "days", "hours", "minutes", "seconds"];
    // the separators between the fields: '-' in year-month, ' ' after days, ':' after
    let parts: Vec<&str> = match (first, last) {
        (0, 1) => body.split('-').collect(),
        (2, _) => {
            let (days, rest) = body.split_once(' ')?;
            std::iter::once(days).chain(rest.split(':')).collect()
        }
        (3.., _) => body.split(':').collect(),
        _ => return None,
    };
    if last < first || parts.len() != last - first + 1 {
        return None;
    }
    let sign = if negative { "-" } else { "" };
    let words: Vec<String> = parts
        .iter()
        .zip(&UNITS[first..=last])
        .map(|(value, unit)| format!("{sign}{} {unit}", value.trim()))
        .collect();
    Some(words.join(" "))
}

/// The syntax of a call of `name` with `args`.
fn function_call(name: &str, args: Vec<ast::Expr>) -> ast::Expr {
    ast::Expr::Function(ast::Function {
        name: ast::ObjectName::from(vec![ast::Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: ast::FunctionArguments::None,
        args: ast::FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// A copy of `state` in which the `names` that must go through the registry are placeholders,
/// for planning SQL text; `None` when no name needs one (plan with `state` itself).
pub fn planning_state(
    state: &SessionState,
    names: &BTreeSet<String>,
    tz: &str,
    ansi: bool,
    map_last_win: bool,
) -> Result<Option<SessionState>> {
    let routed: Vec<(&String, SqlRoute)> = names
        .iter()
        .filter_map(|n| functions::sql_route(n, state).map(|r| (n, r)))
        .collect();
    if routed.is_empty() {
        return Ok(None);
    }
    let registry = Arc::new(Registry {
        state: state.clone(),
        tz: tz.to_string(),
        ansi,
        map_last_win,
        namer: crate::output_names::expr_name,
    });
    let mut planning = state.clone();
    for (name, route) in routed {
        let placeholder = Placeholder {
            name: name.clone(),
            // any arguments, none included (`map()`)
            signature: Signature::one_of(
                vec![
                    datafusion::logical_expr::TypeSignature::Nullary,
                    datafusion::logical_expr::TypeSignature::UserDefined,
                ],
                Volatility::Volatile,
            ),
            registry: registry.clone(),
        };
        match route {
            SqlRoute::Scalar => {
                planning.register_udf(Arc::new(ScalarUDF::new_from_impl(placeholder)))?;
            }
            SqlRoute::Aggregate => {
                planning.register_udaf(Arc::new(AggregateUDF::new_from_impl(placeholder)))?;
            }
        }
    }
    Ok(Some(planning))
}

/// `e` (over `schema`) with every placeholder call replaced by the registry's expression.
/// A placeholder aggregate under `OVER` becomes the window form of the registry's aggregate.
pub fn replace_placeholders(e: Expr, schema: &DFSchema) -> DfResult<Transformed<Expr>> {
    e.transform_up(|e| match e {
        Expr::ScalarFunction(f) => match placeholder(f.func.inner().as_ref()) {
            Some(p) => Ok(Transformed::yes(p.resolve(f.args, schema, false)?.0)),
            None => Ok(Transformed::no(Expr::ScalarFunction(f))),
        },
        Expr::AggregateFunction(a) => match placeholder(a.func.inner().as_ref()) {
            Some(p) => {
                let (resolved, _) = p.resolve(a.params.args.clone(), schema, a.params.distinct)?;
                Ok(Transformed::yes(with_clauses(resolved, &a)?))
            }
            None => Ok(Transformed::no(Expr::AggregateFunction(a))),
        },
        Expr::WindowFunction(w) => match &w.fun {
            WindowFunctionDefinition::AggregateUDF(f) => match placeholder(f.inner().as_ref()) {
                Some(p) => {
                    let (resolved, _) =
                        p.resolve(w.params.args.clone(), schema, w.params.distinct)?;
                    Ok(Transformed::yes(as_window(resolved, *w)?))
                }
                None => Ok(Transformed::no(Expr::WindowFunction(w))),
            },
            _ => Ok(Transformed::no(Expr::WindowFunction(w))),
        },
        e => Ok(Transformed::no(e)),
    })
}

/// An aggregate call's own `FILTER` and `IGNORE NULLS` clauses applied to the registry's
/// aggregate for it.
fn with_clauses(resolved: Expr, call: &AggregateFunction) -> DfResult<Expr> {
    let Expr::AggregateFunction(mut agg) = resolved else {
        return Ok(resolved);
    };
    if let Some(filter) = &call.params.filter {
        agg.params.filter = Some(Box::new(match agg.params.filter.take() {
            Some(own) => own.and(filter.as_ref().clone()),
            None => filter.as_ref().clone(),
        }));
    }
    if call.params.null_treatment == Some(NullTreatment::IgnoreNulls) {
        agg.params.null_treatment = Some(NullTreatment::IgnoreNulls);
    }
    Ok(Expr::AggregateFunction(agg))
}

/// The registry's aggregate for a placeholder under `OVER`, as a window function with the
/// call's partitioning, ordering and frame.
pub fn as_window(resolved: Expr, mut call: WindowFunction) -> DfResult<Expr> {
    let Expr::AggregateFunction(agg) = resolved else {
        return Err(Error::analysis(
            "UNSUPPORTED_EXPR_FOR_WINDOW",
            format!("expression {resolved} is not supported within a window function"),
        )
        .into());
    };
    call.fun = WindowFunctionDefinition::AggregateUDF(agg.func);
    call.params.args = agg.params.args;
    call.params.distinct = agg.params.distinct;
    if agg.params.filter.is_some() {
        call.params.filter = agg.params.filter;
    }
    if agg.params.null_treatment.is_some() {
        call.params.null_treatment = agg.params.null_treatment;
    }
    Ok(Expr::WindowFunction(Box::new(call)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::parser::Parser;

    fn parse(sql: &str) -> std::result::Result<ast::Statement, Box<dyn std::error::Error>> {
        let mut statements = Parser::parse_sql(&crate::sql_dialect::SparkDialect, sql)?;
        Ok(statements.remove(0))
    }

    #[test]
    fn finds_called_names_in_every_clause() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let st = parse(
            "SELECT Year(d), sum(x) OVER (ORDER BY f(y)) FROM t WHERE g(z) GROUP BY h(w) HAVING count(*) > 1",
        )?;
        let names: Vec<String> = names_in(&st).into_iter().collect();
        assert_eq!(names, ["count", "f", "g", "h", "sum", "year"]);
        Ok(())
    }

    #[test]
    fn rlike_becomes_a_call() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let mut st = parse("SELECT a RLIKE 'x', a NOT REGEXP 'y' FROM t")?;
        spark_syntax(&mut st);
        assert_eq!(
            st.to_string(),
            "SELECT rlike(a, 'x'), NOT regexp(a, 'y') FROM t"
        );
        Ok(())
    }
}
