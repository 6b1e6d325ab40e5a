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
        if w.quote_style.is_none()
            && let Some(typed) = typed_number(&w.value)
        {
            parser.next_token();
            return Some(Ok(typed));
        }
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

/// A number with Spark's type suffix (`1L`, `2S`, `3Y`, `1.5D`, `1.5F`, `100.0BD`), which the
/// tokenizer reads as one word: the number cast to the type the suffix names (`BD` a decimal
/// of the digits' precision and scale, as Java's `BigDecimal` reads them).
fn typed_number(word: &str) -> Option<Expr> {
    use datafusion::sql::sqlparser::ast::{CastKind, DataType, ExactNumberInfo, Value};
    let upper = word.to_ascii_uppercase();
    let (digits, suffix) = if let Some(d) = upper.strip_suffix("BD") {
        (d, "BD")
    } else {
        let split = upper.len().checked_sub(1)?;
        (&upper[..split], &upper[split..])
    };
    let integral = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = digits.split_once('E').unwrap_or((digits, ""));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let numeric = !(int.is_empty() && frac.is_empty())
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        && (exponent.is_empty()
            || exponent
                .trim_start_matches(['+', '-'])
                .bytes()
                .all(|b| b.is_ascii_digit()));
    let data_type = match suffix {
        "L" if integral => DataType::BigInt(None),
        "S" if integral => DataType::SmallInt(None),
        "Y" if integral => DataType::TinyInt(None),
        "D" if numeric => DataType::Double(ExactNumberInfo::None),
        "F" if numeric => DataType::Float(ExactNumberInfo::None),
        "BD" if numeric && exponent.is_empty() => {
            let significant = format!("{int}{frac}").trim_start_matches('0').len() as u64;
            let scale = frac.len() as u64;
            DataType::Decimal(ExactNumberInfo::PrecisionAndScale(
                significant.max(scale).max(1),
                scale as i64,
            ))
        }
        _ => return None,
    };
    Some(Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(Expr::Value(Value::Number(digits.to_string(), false).into())),
        data_type,
        array: false,
        format: None,
    })
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
    fn reads_typed_numbers() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(
            parse("SELECT 1L, 2s, 3Y, 1.5D, .5f, 100.0BD, 0.05bd")?,
            "SELECT CAST(1 AS BIGINT), CAST(2 AS SMALLINT), CAST(3 AS TINYINT), CAST(1.5 AS DOUBLE), \
             CAST(.5 AS FLOAT), CAST(100.0 AS DECIMAL(4,1)), CAST(0.05 AS DECIMAL(2,2))"
        );
        // a word that is not a typed number stays a name
        assert_eq!(parse("SELECT 1.5L, 1x")?, "SELECT 1.5L, 1x");
        Ok(())
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
