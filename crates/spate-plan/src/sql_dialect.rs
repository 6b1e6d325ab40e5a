//! The SQL dialect Spate parses Spark SQL with: sqlparser's Databricks dialect (whose grammar
//! is Spark's, and which the parser recognises by type for a few Databricks-only rules, so this
//! dialect reports itself as Databricks) plus what Spark reads and Databricks' lacks: string
//! literals with backslash escapes (`'\''`, `'\\d'`, `'\n'`) and the integer division operator
//! `a DIV b`, at the precedence of `*` and `/`. And `substr(...)` and a plain `trim(s)` are
//! read as the function calls they are in Spark (named so), not as the SQL standard's
//! `SUBSTRING` / `TRIM` syntax, which the other forms keep. Every parse of SQL text —
//! statements, `expr()` strings — goes through [`SparkDialect`].

use std::any::TypeId;

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr};
use datafusion::sql::sqlparser::dialect::{DatabricksDialect, Dialect, Precedence};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

/// Spark SQL's dialect (see the module documentation).
#[derive(Debug, Default, Clone, Copy)]
pub struct SparkDialect;

const DATABRICKS: DatabricksDialect = DatabricksDialect {};

impl Dialect for SparkDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<DatabricksDialect>()
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        DATABRICKS.is_delimited_identifier_start(ch)
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        DATABRICKS.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        DATABRICKS.is_identifier_part(ch)
    }

    fn supports_numeric_prefix(&self) -> bool {
        DATABRICKS.supports_numeric_prefix()
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        DATABRICKS.supports_filter_during_aggregation()
    }

    fn supports_group_by_expr(&self) -> bool {
        DATABRICKS.supports_group_by_expr()
    }

    fn supports_table_versioning(&self) -> bool {
        DATABRICKS.supports_table_versioning()
    }

    fn supports_lambda_functions(&self) -> bool {
        DATABRICKS.supports_lambda_functions()
    }

    fn supports_select_wildcard_except(&self) -> bool {
        DATABRICKS.supports_select_wildcard_except()
    }

    fn require_interval_qualifier(&self) -> bool {
        DATABRICKS.require_interval_qualifier()
    }

    fn supports_struct_literal(&self) -> bool {
        DATABRICKS.supports_struct_literal()
    }

    fn supports_nested_comments(&self) -> bool {
        DATABRICKS.supports_nested_comments()
    }

    fn supports_group_by_with_modifier(&self) -> bool {
        DATABRICKS.supports_group_by_with_modifier()
    }

    fn supports_values_as_table_factor(&self) -> bool {
        DATABRICKS.supports_values_as_table_factor()
    }

    fn supports_optimize_table(&self) -> bool {
        DATABRICKS.supports_optimize_table()
    }

    fn supports_bang_not_operator(&self) -> bool {
        DATABRICKS.supports_bang_not_operator()
    }

    fn supports_cte_without_as(&self) -> bool {
        DATABRICKS.supports_cte_without_as()
    }

    fn supports_select_item_multi_column_alias(&self) -> bool {
        DATABRICKS.supports_select_item_multi_column_alias()
    }

    fn supports_string_literal_backslash_escape(&self) -> bool {
        true
    }

    fn supports_long_type_as_bigint(&self) -> bool {
        true
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let Token::Word(w) = parser.peek_token().token else {
            return None;
        };
        if !matches!(w.keyword, Keyword::SUBSTR | Keyword::TRIM)
            || parser.peek_nth_token(1).token != Token::LParen
        {
            return None;
        }
        // `TRIM(BOTH 'x' FROM s)` and the like fail as a call and fall back to the syntax
        let call = parser.maybe_parse(|p| {
            let name = p.parse_object_name(false)?;
            p.parse_function(name)
        });
        match call {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        _precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        if !parser.parse_keyword(Keyword::DIV) {
            return None;
        }
        // the right operand binds as tightly as `*`'s: `a DIV 2 + 1` is `(a DIV 2) + 1`
        let right = match parser.parse_subexpr(self.prec_value(Precedence::MulDivModOp)) {
            Ok(e) => e,
            Err(e) => return Some(Err(e)),
        };
        Some(Ok(Expr::BinaryOp {
            left: Box::new(expr.clone()),
            op: BinaryOperator::MyIntegerDivide,
            right: Box::new(right),
        }))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::parser::Parser;

    use super::SparkDialect;

    fn parse(sql: &str) -> Result<String, Box<dyn std::error::Error>> {
        let statements = Parser::parse_sql(&SparkDialect, sql)?;
        Ok(statements.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn reads_backslash_escapes_and_div() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(parse(r"SELECT 'it\'s', '\\d'")?, r"SELECT 'it''s', '\d'");
        assert_eq!(parse("SELECT a DIV 2 + 1")?, "SELECT a DIV 2 + 1");
        let Some(datafusion::sql::sqlparser::ast::Statement::Query(q)) =
            Parser::parse_sql(&SparkDialect, "SELECT a DIV 2 + 1")?.pop()
        else {
            return Err("not a query".into());
        };
        let datafusion::sql::sqlparser::ast::SetExpr::Select(select) = *q.body else {
            return Err("not a select".into());
        };
        // the addition is the outer operation
        assert!(matches!(
            &select.projection[0],
            datafusion::sql::sqlparser::ast::SelectItem::UnnamedExpr(
                datafusion::sql::sqlparser::ast::Expr::BinaryOp {
                    op: datafusion::sql::sqlparser::ast::BinaryOperator::Plus,
                    ..
                }
            )
        ));
        Ok(())
    }
}
