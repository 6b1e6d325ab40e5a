//! Delta Lake's table statements: [`TableCommand`] is a statement with its expressions resolved
//! over its table (DataFusion expressions with Spark's semantics, planned by the session's SQL
//! planner in `super::sql`), which `super::commands` carries out; [`parse`] recognises the
//! statements DataFusion's parser does not know — `DESCRIBE HISTORY|DETAIL`, `OPTIMIZE`,
//! `VACUUM`, `RESTORE`, `CONVERT TO DELTA`, `ALTER TABLE .. SET|UNSET TBLPROPERTIES | ADD
//! COLUMNS`, `INSERT INTO .. REPLACE WHERE` — into [`DeltaStatement`]s; `DELETE`, `UPDATE` and
//! `MERGE` parse as standard SQL.

use datafusion::arrow::datatypes::Fields;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::sql::sqlparser::ast::{self, ObjectName};
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;
use spate_common::{Error, Result};
use spate_plan::sql_table_syntax::{AsOf, ParseResult, property, property_key};

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
    let dialect = spate_plan::sql_dialect::SparkDialect;
    let mut p = match Parser::new(&dialect).try_with_sql(text) {
        Ok(p) => p,
        Err(e) => return Some(Err(Error::parse(format!("syntax error: {e}")))),
    };
    statement(&mut p, first, text)
        .map_err(|e| Error::parse(format!("syntax error: {e}")))
        .transpose()
}

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
}
