//! Delta Lake's table statements, as SQL text states them and as the lake carries them out.
//! [`TableCommand`] is a statement with its expressions resolved over the table (DataFusion
//! expressions with Spark's semantics, from the session's SQL planner); the session's
//! [`crate::Sources`] runs it. [`parse`] recognises the statements DataFusion's parser does not
//! know — `DESCRIBE HISTORY|DETAIL`, `OPTIMIZE`, `VACUUM`, `RESTORE`, `CONVERT TO DELTA`,
//! `ALTER TABLE .. SET|UNSET TBLPROPERTIES | ADD COLUMNS`, `INSERT INTO .. REPLACE WHERE` —
//! into [`DeltaStatement`]s; `DELETE`, `UPDATE` and `MERGE` parse as standard SQL.
//! [`time_travel`] turns `t VERSION AS OF n` / `TIMESTAMP AS OF 'ts'` into Delta's
//! `t@v<n>` table names, which the catalog reads at that version.

use datafusion::arrow::datatypes::Fields;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::sql::sqlparser::ast::{
    self, Ident, ObjectName, ObjectNamePart, TableFactor, TableVersion, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;
use spate_common::{Error, Result};

/// A Delta table statement, its expressions resolved; table names are name parts
/// (``delta.`/path` `` is `["delta", "/path"]`).
#[derive(Debug)]
pub enum TableCommand {
    /// `DELETE FROM t [WHERE p]`.
    Delete {
        table: Vec<String>,
        predicate: Option<Expr>,
    },
    /// `UPDATE t SET c = e, .. [WHERE p]`.
    Update {
        table: Vec<String>,
        assignments: Vec<(String, Expr)>,
        predicate: Option<Expr>,
    },
    /// `MERGE INTO t USING s ON .. WHEN ..`.
    Merge(Box<MergeCommand>),
    /// `DESCRIBE HISTORY t [LIMIT n]`.
    History {
        table: Vec<String>,
        limit: Option<usize>,
    },
    /// `DESCRIBE DETAIL t`.
    Detail { table: Vec<String> },
    /// `ALTER TABLE t SET TBLPROPERTIES (k = v, ..)`.
    SetProperties {
        table: Vec<String>,
        properties: Vec<(String, String)>,
    },
    /// `ALTER TABLE t UNSET TBLPROPERTIES [IF EXISTS] (k, ..)`.
    UnsetProperties {
        table: Vec<String>,
        keys: Vec<String>,
        if_exists: bool,
    },
    /// `ALTER TABLE t ADD COLUMNS (c type, ..)`.
    AddColumns { table: Vec<String>, columns: Fields },
    /// `OPTIMIZE t [WHERE p] [ZORDER BY (c, ..)]`.
    Optimize {
        table: Vec<String>,
        predicate: Option<Expr>,
        zorder: Vec<String>,
    },
    /// `VACUUM t [RETAIN n HOURS] [DRY RUN]`; `check_retention` is false when the session turned
    /// `spark.databricks.delta.retentionDurationCheck.enabled` off.
    Vacuum {
        table: Vec<String>,
        retain_hours: Option<f64>,
        dry_run: bool,
        check_retention: bool,
    },
    /// `RESTORE [TABLE] t [TO] VERSION|TIMESTAMP AS OF x`.
    Restore { table: Vec<String>, to: AsOf },
    /// `CONVERT TO DELTA parquet.`/path` [PARTITIONED BY (c type, ..)]`.
    Convert {
        table: Vec<String>,
        partitions: Fields,
    },
    /// `INSERT INTO t REPLACE WHERE p <query>`: the rows matching `p` replaced by the query's.
    ReplaceWhere {
        table: Vec<String>,
        plan: LogicalPlan,
        predicate: String,
    },
}

/// A version of a table: by number, or the one current at a time (text as written).
#[derive(Debug, Clone, PartialEq)]
pub enum AsOf {
    Version(i64),
    Timestamp(String),
}

/// `MERGE INTO`: the target by name and alias, the source rows under their alias, and the
/// clauses in order (expressions qualified by the two aliases).
#[derive(Debug)]
pub struct MergeCommand {
    pub target: Vec<String>,
    pub target_alias: String,
    pub source: LogicalPlan,
    pub source_alias: String,
    pub on: Expr,
    pub clauses: Vec<MergeClause>,
}

/// One `WHEN` clause of a `MERGE`.
#[derive(Debug)]
pub struct MergeClause {
    pub when: MergeWhen,
    pub predicate: Option<Expr>,
    pub action: MergeAction,
}

/// Which rows a `MERGE` clause is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MergeWhen {
    Matched,
    NotMatched,
    NotMatchedBySource,
}

/// What a `MERGE` clause does; `UPDATE SET *` / `INSERT *` arrive as their column lists.
#[derive(Debug)]
pub enum MergeAction {
    Update(Vec<(String, Expr)>),
    Delete,
    Insert(Vec<(String, Expr)>),
}

/// A Delta statement as parsed, before its expressions are resolved.
#[derive(Debug)]
pub enum DeltaStatement {
    History(ObjectName, Option<usize>),
    Detail(ObjectName),
    SetProperties(ObjectName, Vec<(String, String)>),
    UnsetProperties(ObjectName, Vec<String>, bool),
    AddColumns(ObjectName, String),
    Optimize(ObjectName, Option<ast::Expr>, Vec<String>),
    Vacuum(ObjectName, Option<f64>, bool),
    Restore(ObjectName, AsOf),
    Convert(ObjectName, Option<String>),
    ReplaceWhere(ObjectName, ast::Expr, Box<ast::Query>),
}

/// Recognises a Delta statement DataFusion's parser does not know; `None` for any other text.
pub fn parse(text: &str) -> Option<Result<DeltaStatement>> {
    let words: Vec<String> = text
        .split_whitespace()
        .take(3)
        .map(str::to_uppercase)
        .collect();
    let first = words.first().map(String::as_str)?;
    let second = words.get(1).map(String::as_str).unwrap_or_default();
    let known = matches!(
        (first, second),
        ("DESCRIBE" | "DESC", "HISTORY" | "DETAIL")
            | ("OPTIMIZE" | "VACUUM" | "RESTORE" | "ALTER", _)
            | ("CONVERT", "TO")
            | ("INSERT", "INTO")
    );
    if !known {
        return None;
    }
    let dialect = crate::sql_dialect::SparkDialect;
    let mut p = match Parser::new(&dialect).try_with_sql(text) {
        Ok(p) => p,
        Err(e) => return Some(Err(Error::parse(format!("syntax error: {e}")))),
    };
    statement(&mut p, first, text)
        .map_err(|e| Error::parse(format!("syntax error: {e}")))
        .transpose()
}

type ParseResult<T> = std::result::Result<T, datafusion::sql::sqlparser::parser::ParserError>;

fn statement(p: &mut Parser, first: &str, text: &str) -> ParseResult<Option<DeltaStatement>> {
    p.next_token();
    let st = match first {
        "DESCRIBE" | "DESC" => {
            if word(p, "HISTORY") {
                let name = p.parse_object_name(false)?;
                let limit = if word(p, "LIMIT") {
                    Some(p.parse_literal_uint()? as usize)
                } else {
                    None
                };
                DeltaStatement::History(name, limit)
            } else {
                word(p, "DETAIL");
                DeltaStatement::Detail(p.parse_object_name(false)?)
            }
        }
        "OPTIMIZE" => {
            let name = p.parse_object_name(false)?;
            let predicate = if word(p, "WHERE") {
                Some(p.parse_expr()?)
            } else {
                None
            };
            let mut zorder = Vec::new();
            if word(p, "ZORDER") {
                expect_word(p, "BY")?;
                let parens = p.consume_token(&Token::LParen);
                zorder = p
                    .parse_comma_separated(|p| p.parse_identifier())?
                    .into_iter()
                    .map(|i| i.value)
                    .collect();
                if parens {
                    p.expect_token(&Token::RParen)?;
                }
            }
            DeltaStatement::Optimize(name, predicate, zorder)
        }
        "VACUUM" => {
            let name = p.parse_object_name(false)?;
            let mut hours = None;
            if word(p, "RETAIN") {
                let n = p.parse_number_value()?.value.to_string();
                hours = Some(n.parse::<f64>().map_err(|_| {
                    datafusion::sql::sqlparser::parser::ParserError::ParserError(format!(
                        "RETAIN takes a number of hours, got {n}"
                    ))
                })?);
                expect_word(p, "HOURS")?;
            }
            let dry_run = word(p, "DRY") && {
                expect_word(p, "RUN")?;
                true
            };
            DeltaStatement::Vacuum(name, hours, dry_run)
        }
        "RESTORE" => {
            word(p, "TABLE");
            let name = p.parse_object_name(false)?;
            word(p, "TO");
            let version = word(p, "VERSION");
            if !version {
                expect_word(p, "TIMESTAMP")?;
            }
            expect_word(p, "AS")?;
            expect_word(p, "OF")?;
            let to = if version {
                AsOf::Version(p.parse_literal_uint()? as i64)
            } else {
                AsOf::Timestamp(p.parse_literal_string()?)
            };
            DeltaStatement::Restore(name, to)
        }
        "CONVERT" => {
            expect_word(p, "TO")?;
            expect_word(p, "DELTA")?;
            let name = p.parse_object_name(false)?;
            let partitions = word(p, "PARTITIONED")
                .then(|| parenthesized_after(text, "PARTITIONED"))
                .flatten();
            if partitions.is_some() {
                return Ok(Some(DeltaStatement::Convert(name, partitions)));
            }
            DeltaStatement::Convert(name, None)
        }
        "ALTER" => {
            if !word(p, "TABLE") {
                return Ok(None);
            }
            let name = p.parse_object_name(false)?;
            if word(p, "SET") {
                if !word(p, "TBLPROPERTIES") {
                    return Ok(None);
                }
                p.expect_token(&Token::LParen)?;
                let props = p.parse_comma_separated(property)?;
                p.expect_token(&Token::RParen)?;
                DeltaStatement::SetProperties(name, props)
            } else if word(p, "UNSET") {
                expect_word(p, "TBLPROPERTIES")?;
                let if_exists = word(p, "IF") && {
                    expect_word(p, "EXISTS")?;
                    true
                };
                p.expect_token(&Token::LParen)?;
                let keys = p.parse_comma_separated(property_key)?;
                p.expect_token(&Token::RParen)?;
                DeltaStatement::UnsetProperties(name, keys, if_exists)
            } else if word(p, "ADD") && (word(p, "COLUMNS") || word(p, "COLUMN")) {
                let ddl = parenthesized_after(text, "COLUMN").unwrap_or_else(|| {
                    // `ADD COLUMN c type`: the rest of the text
                    let upper = text.to_uppercase();
                    let at = upper.find("COLUMN").map_or(0, |i| i + "COLUMN".len());
                    text[at..].trim().trim_end_matches(';').to_string()
                });
                return Ok(Some(DeltaStatement::AddColumns(name, ddl)));
            } else {
                return Ok(None);
            }
        }
        "INSERT" => {
            expect_word(p, "INTO")?;
            word(p, "TABLE");
            let name = p.parse_object_name(false)?;
            if !word(p, "REPLACE") {
                return Ok(None);
            }
            expect_word(p, "WHERE")?;
            let predicate = p.parse_expr()?;
            let query = p.parse_query()?;
            return Ok(Some(DeltaStatement::ReplaceWhere(name, predicate, query)));
        }
        _ => return Ok(None),
    };
    let _ = p.consume_token(&Token::SemiColon);
    match p.peek_token().token {
        Token::EOF => Ok(Some(st)),
        other => Err(
            datafusion::sql::sqlparser::parser::ParserError::ParserError(format!(
                "Expected: end of statement, found: {other}"
            )),
        ),
    }
}

/// Consumes the next token when it is the word `w` (any case).
fn word(p: &mut Parser, w: &str) -> bool {
    match p.peek_token().token {
        Token::Word(x) if x.value.eq_ignore_ascii_case(w) => {
            p.next_token();
            true
        }
        _ => false,
    }
}

fn expect_word(p: &mut Parser, w: &str) -> ParseResult<()> {
    if word(p, w) {
        return Ok(());
    }
    Err(
        datafusion::sql::sqlparser::parser::ParserError::ParserError(format!(
            "Expected: {w}, found: {}",
            p.peek_token().token
        )),
    )
}

/// A table property's name: a quoted string or dotted words (`delta.appendOnly`).
fn property_key(p: &mut Parser) -> ParseResult<String> {
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
fn property(p: &mut Parser) -> ParseResult<(String, String)> {
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

/// The text between the parentheses that follow the word `after` (Spark DDL for the type
/// parser), or `None` when no parenthesis follows it.
fn parenthesized_after(text: &str, after: &str) -> Option<String> {
    let upper = text.to_uppercase();
    let at = upper.find(after)? + after.len();
    let rest = &text[at..];
    let open = rest.find('(')?;
    if !rest[..open].trim().chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let close = rest.rfind(')')?;
    Some(rest[open + 1..close].to_string())
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

/// Whether VACUUM checks that its retention is not below the table's
/// (`spark.databricks.delta.retentionDurationCheck.enabled`, on unless set to false).
pub fn retention_check(config: &spate_common::SessionConfig) -> bool {
    config
        .get("spark.databricks.delta.retentionDurationCheck.enabled")
        .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"))
}

/// `name` as the table spells it, or Spark's unresolved-column error.
pub fn known_column(name: &str, columns: &[String]) -> Result<String> {
    columns
        .iter()
        .find(|c| c.eq_ignore_ascii_case(name))
        .cloned()
        .ok_or_else(|| {
            Error::analysis(
                "UNRESOLVED_COLUMN.WITH_SUGGESTION",
                format!(
                    "A column, variable, or function parameter with name `{name}` cannot be resolved. Did you mean one of the following? [{}].",
                    columns
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
}

/// `e` with its columns unqualified, as a table's own expressions name them.
pub fn unqualified(e: Expr) -> Result<Expr> {
    Ok(e.transform(|e| match e {
        Expr::Column(c) if c.relation.is_some() => Ok(Transformed::yes(Expr::Column(
            datafusion::common::Column::new_unqualified(c.name),
        ))),
        e => Ok(Transformed::no(e)),
    })?
    .data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(text: &str) -> String {
        match parse(text) {
            Some(Ok(s)) => format!("{s:?}"),
            other => format!("not parsed: {other:?}"),
        }
    }

    #[test]
    fn parses_delta_statements() {
        assert!(st("DESCRIBE HISTORY t LIMIT 2").starts_with("History("));
        assert!(st("OPTIMIZE delta.`/x` ZORDER BY (a, b)").contains("\"a\", \"b\""));
        assert!(st("VACUUM t RETAIN 168 HOURS DRY RUN").contains("Some(168.0), true"));
        assert!(st("RESTORE TABLE t TO VERSION AS OF 3").contains("Version(3)"));
        assert!(
            st("ALTER TABLE t SET TBLPROPERTIES ('delta.appendOnly' = 'true')")
                .contains("\"delta.appendOnly\", \"true\"")
        );
        assert!(st("ALTER TABLE t ADD COLUMNS (z INT, w STRING)").contains("z INT, w STRING"));
        assert!(parse("SELECT 1").is_none());
        assert!(parse("INSERT INTO t VALUES (1)").is_none());
        assert!(matches!(parse("VACUUM t RETAIN x HOURS"), Some(Err(_))));
        assert!(
            st("ALTER TABLE t SET TBLPROPERTIES (delta.enableChangeDataFeed = TRUE, 'n' 5)")
                .contains("(\"delta.enableChangeDataFeed\", \"true\"), (\"n\", \"5\")")
        );
    }

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
