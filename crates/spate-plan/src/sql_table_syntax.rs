//! Spark SQL's table syntax the session's SQL planner does not know, kept here because every
//! table format shares it: time travel (`t VERSION AS OF n`, `TIMESTAMP AS OF 'ts'`) and the
//! change-data table functions (`table_changes`, `table_changes_by_path`), rewritten into table
//! names the catalog reads ([`time_travel`], [`split_travel`]), and `TBLPROPERTIES` lists
//! ([`parse_properties`]).

use datafusion::sql::sqlparser::ast::{
    self, Ident, ObjectName, ObjectNamePart, TableFactor, TableVersion, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;
use spate_common::{Error, Result};

/// A parser's result.
pub type ParseResult<T> = std::result::Result<T, datafusion::sql::sqlparser::parser::ParserError>;

/// A version of a table: by number, or the one current at a time (text as written).
#[derive(Debug, Clone, PartialEq)]
pub enum AsOf {
    Version(i64),
    Timestamp(String),
}

/// A table property's name: a quoted string or dotted words (`delta.appendOnly`).
/// A property's key: a quoted string or dotted words (`delta.appendOnly`).
pub fn property_key(p: &mut Parser) -> ParseResult<String> {
    if let Token::SingleQuotedString(s) = p.peek_token().token {
        p.next_token();
        return Ok(s);
    }
    Ok(p.parse_object_name(false)?
        .0
        .iter()
        .map(|x| x.to_string().trim_matches('`').to_string())
        .collect::<Vec<_>>()
        .join("."))
}

/// A `TBLPROPERTIES` list's contents (`'k' = 'v', delta.x = true, ..`) as key-value pairs;
/// an unquoted boolean is lower-cased, as Spark keeps it.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>> {
    let dialect = crate::sql_dialect::SparkDialect;
    let parse = || -> ParseResult<Vec<(String, String)>> {
        let mut p = Parser::new(&dialect).try_with_sql(text)?;
        if p.peek_token().token == Token::EOF {
            return Ok(vec![]);
        }
        let props = p.parse_comma_separated(property)?;
        match p.peek_token().token {
            Token::EOF => Ok(props),
            other => Err(
                datafusion::sql::sqlparser::parser::ParserError::ParserError(format!(
                    "Expected: , or ), found: {other}"
                )),
            ),
        }
    };
    parse().map_err(|e| Error::parse(format!("syntax error in TBLPROPERTIES: {e}")))
}

/// One `key [=] value` of a property list.
pub fn property(p: &mut Parser) -> ParseResult<(String, String)> {
    let key = property_key(p)?;
    let _ = p.consume_token(&Token::Eq);
    let value = match p.next_token().token {
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s,
        Token::Number(n, _) => n,
        Token::Minus => match p.next_token().token {
            Token::Number(n, _) => format!("-{n}"),
            other => {
                return Err(
                    datafusion::sql::sqlparser::parser::ParserError::ParserError(format!(
                        "Expected: a number after -, found: {other}"
                    )),
                );
            }
        },
        Token::Word(w)
            if w.value.eq_ignore_ascii_case("true") || w.value.eq_ignore_ascii_case("false") =>
        {
            w.value.to_lowercase()
        }
        other => {
            return Err(
                datafusion::sql::sqlparser::parser::ParserError::ParserError(format!(
                    "Expected: a property value (a string, number or boolean) for '{key}', found: {other}"
                )),
            );
        }
    };
    Ok((key, value))
}

/// Rewrites the time-travel clauses of a query's tables into Delta's `name@v<n>` (or
/// `name@ts:<text>` for a timestamp) table names, and the change-data table functions
/// `table_changes('t', start[, end])` / `table_changes_by_path('/path', start[, end])` into
/// `t@changes:<start>|<end>` names; each keeps its table's name as its alias.
pub fn time_travel<V: VisitMut>(node: &mut V) -> Result<()> {
    struct Rewrite(Option<Error>);
    impl VisitorMut for Rewrite {
        type Break = ();
        fn pre_visit_table_factor(
            &mut self,
            factor: &mut TableFactor,
        ) -> std::ops::ControlFlow<()> {
            let TableFactor::Table {
                name,
                alias,
                version,
                args,
                ..
            } = factor
            else {
                return std::ops::ControlFlow::Continue(());
            };
            let travel = match (version.take(), args.take()) {
                (Some(v), _) => as_of(&v).map(|a| (None, Travel::At(a))),
                (None, Some(a)) => match change_function(name, &a) {
                    Some(changes) => changes.map(|(n, t)| (Some(n), t)),
                    None => {
                        // other table functions: their names are case-insensitive, as
                        // Spark's (`RANGE(10)`)
                        if let [ObjectNamePart::Identifier(i)] = name.0.as_mut_slice()
                            && i.quote_style.is_none()
                        {
                            i.value = i.value.to_lowercase();
                        }
                        *args = Some(a);
                        return std::ops::ControlFlow::Continue(());
                    }
                },
                (None, None) => return std::ops::ControlFlow::Continue(()),
            };
            let (table, travel) = match travel {
                Ok(t) => t,
                Err(e) => {
                    self.0 = Some(e);
                    return std::ops::ControlFlow::Break(());
                }
            };
            if let Some(table) = table {
                *name = table;
            }
            let Some(last) = name.0.pop() else {
                return std::ops::ControlFlow::Continue(());
            };
            // an unquoted name is lower-cased, as the SQL planner reads it
            let last = match last.as_ident() {
                Some(i) if i.quote_style.is_none() => i.value.to_lowercase(),
                Some(i) => i.value.clone(),
                None => last.to_string(),
            };
            if alias.is_none() {
                *alias = Some(ast::TableAlias {
                    explicit: true,
                    name: Ident::with_quote('`', last.clone()),
                    columns: vec![],
                    at: None,
                });
            }
            name.0.push(ObjectNamePart::Identifier(Ident::with_quote(
                '`',
                format!("{last}{}", travel.suffix()),
            )));
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut rewrite = Rewrite(None);
    let _ = node.visit(&mut rewrite);
    rewrite.0.map_or(Ok(()), Err)
}

/// `table_changes('t', start[, end])` or `table_changes_by_path('/path', start[, end])`: the
/// table's name and the range; `None` for any other table function.
fn change_function(
    name: &ObjectName,
    args: &ast::TableFunctionArgs,
) -> Option<Result<(ObjectName, Travel)>> {
    let function = match name.0.as_slice() {
        [part] => part.as_ident()?.value.to_lowercase(),
        _ => return None,
    };
    let by_path = match function.as_str() {
        "table_changes" => false,
        "table_changes_by_path" => true,
        _ => return None,
    };
    let values: Vec<Option<ast::Value>> = args
        .args
        .iter()
        .map(|a| match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Value(v))) => {
                Some(v.value.clone())
            }
            _ => None,
        })
        .collect();
    let bound = |v: &Option<ast::Value>| -> Result<AsOf> {
        match v {
            Some(ast::Value::Number(n, _)) => n.parse::<i64>().map(AsOf::Version).map_err(|_| {
                Error::analysis(
                    "DELTA_INVALID_CDC_RANGE",
                    format!("{function} takes a whole version number, got {n}"),
                )
            }),
            Some(ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s)) => {
                Ok(AsOf::Timestamp(s.clone()))
            }
            _ => Err(Error::analysis(
                "DELTA_INVALID_CDC_RANGE",
                format!("{function} takes a literal version number or timestamp string"),
            )),
        }
    };
    Some((|| {
        let (table, start, end) = match values.as_slice() {
            [Some(t), s] => (t, bound(s)?, None),
            [Some(t), s, e] => (t, bound(s)?, Some(bound(e)?)),
            _ => {
                return Err(Error::analysis(
                    "WRONG_NUM_ARGS.WITHOUT_SUGGESTION",
                    format!(
                        "The `{function}` requires 2 or 3 parameters: a table {}, a start and an optional end.",
                        if by_path { "path" } else { "name" }
                    ),
                ));
            }
        };
        let (ast::Value::SingleQuotedString(table) | ast::Value::DoubleQuotedString(table)) = table
        else {
            return Err(Error::analysis(
                "DELTA_INVALID_CDC_RANGE",
                format!("{function} takes the table as a string"),
            ));
        };
        let parts: Vec<String> = if by_path {
            vec!["delta".into(), table.clone()]
        } else {
            // a name, unlike a path, is not case-sensitive
            spate_common::names::split_name(table)
                .into_iter()
                .map(|p| p.to_lowercase())
                .collect()
        };
        let name = ObjectName(
            parts
                .into_iter()
                .map(|p| ObjectNamePart::Identifier(Ident::with_quote('`', p)))
                .collect(),
        );
        Ok((name, Travel::Changes(start, end)))
    })())
}

/// What a table name's suffix asks for: a version of the table, or its changes over a range of
/// versions (inclusive; to the latest when the end is `None`).
#[derive(Debug, Clone, PartialEq)]
pub enum Travel {
    At(AsOf),
    Changes(AsOf, Option<AsOf>),
}

impl Travel {
    /// The suffix [`split_travel`] reads back.
    fn suffix(&self) -> String {
        let bound = |a: &AsOf| match a {
            AsOf::Version(n) => format!("v{n}"),
            AsOf::Timestamp(t) => format!("ts:{t}"),
        };
        match self {
            Travel::At(a) => format!("@{}", bound(a)),
            Travel::Changes(s, e) => format!(
                "@changes:{}|{}",
                bound(s),
                e.as_ref().map(bound).unwrap_or_default()
            ),
        }
    }
}

/// The version a time-travel clause names: a whole number, or a timestamp string.
fn as_of(v: &TableVersion) -> Result<AsOf> {
    let (expr, is_version) = match v {
        TableVersion::VersionAsOf(e) => (e, true),
        TableVersion::TimestampAsOf(e) | TableVersion::ForSystemTimeAsOf(e) => (e, false),
        other => {
            return Err(Error::unsupported(format!("the table version {other}")));
        }
    };
    let text = match expr {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.clone(),
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        ast::Expr::TypedString(t) => match &t.value.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => {
            return Err(Error::unsupported(format!(
                "time travel to the expression {other} (give a literal version or timestamp)"
            )));
        }
    };
    if is_version {
        text.parse::<i64>().map(AsOf::Version).map_err(|_| {
            Error::analysis(
                "DELTA_UNSUPPORTED_TIME_TRAVEL_VIEWS",
                format!("VERSION AS OF takes a whole number, got {text}"),
            )
        })
    } else {
        Ok(AsOf::Timestamp(text))
    }
}

/// Splits a table name's suffix (`t@v3`, `t@ts:<text>`, Delta's `t@yyyyMMddHHmmssSSS`, or
/// `t@changes:<start>|<end>`) from the name.
pub fn split_travel(name: &str) -> (&str, Option<Travel>) {
    let Some(at) = name.rfind('@') else {
        return (name, None);
    };
    let (base, suffix) = (&name[..at], &name[at + 1..]);
    if let Some(range) = suffix.strip_prefix("changes:")
        && let Some((start, end)) = range.split_once('|')
        && let Some(start) = bound(start)
    {
        let end = if end.is_empty() { None } else { bound(end) };
        return (base, Some(Travel::Changes(start, end)));
    }
    match bound(suffix) {
        Some(a) => (base, Some(Travel::At(a))),
        None => (name, None),
    }
}

/// One version in a suffix: `v<n>`, `ts:<text>` or Delta's `yyyyMMddHHmmssSSS`.
fn bound(suffix: &str) -> Option<AsOf> {
    if let Some(v) = suffix.strip_prefix(['v', 'V'])
        && let Ok(n) = v.parse::<i64>()
    {
        return Some(AsOf::Version(n));
    }
    if let Some(t) = suffix.strip_prefix("ts:") {
        return Some(AsOf::Timestamp(t.to_string()));
    }
    if suffix.len() == 17 && suffix.bytes().all(|b| b.is_ascii_digit()) {
        let s = suffix;
        return Some(AsOf::Timestamp(format!(
            "{}-{}-{} {}:{}:{}.{}",
            &s[0..4],
            &s[4..6],
            &s[6..8],
            &s[8..10],
            &s[10..12],
            &s[12..14],
            &s[14..17]
        )));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_property_lists() {
        let props = parse_properties("'a.b' = 'x', delta.appendOnly = true, c -3").ok();
        assert_eq!(
            props,
            Some(vec![
                ("a.b".into(), "x".into()),
                ("delta.appendOnly".into(), "true".into()),
                ("c".into(), "-3".into())
            ])
        );
        assert!(parse_properties("a = ").is_err());
    }

    #[test]
    fn splits_time_travel_suffixes() {
        assert_eq!(
            split_travel("t@v12"),
            ("t", Some(Travel::At(AsOf::Version(12))))
        );
        assert_eq!(
            split_travel("/p@20240102030405006"),
            (
                "/p",
                Some(Travel::At(AsOf::Timestamp(
                    "2024-01-02 03:04:05.006".into()
                )))
            )
        );
        assert_eq!(split_travel("a@b"), ("a@b", None));
        let changes = Travel::Changes(
            AsOf::Version(2),
            Some(AsOf::Timestamp("2024-01-02 03:04:05".into())),
        );
        assert_eq!(
            split_travel(&format!("t{}", changes.suffix())),
            ("t", Some(changes))
        );
        let open = Travel::Changes(AsOf::Version(0), None);
        assert_eq!(
            split_travel(&format!("t{}", open.suffix())),
            ("t", Some(open))
        );
    }
}
