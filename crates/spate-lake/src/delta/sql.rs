//! Delta Lake's statements in SQL text, made into [`TableCommand`]s for `super::commands` to
//! run: `DELETE`, `UPDATE` and `MERGE INTO` (standard syntax, with Spark's `UPDATE SET *` and
//! `INSERT *`), and the statements [`super::statement::parse`] recognises. Their
//! expressions are planned by the session's SQL planner as the items of a `SELECT` over the
//! target (and, for `MERGE`, the source under its alias), so they have Spark's types, functions
//! and errors, then handed over as DataFusion expressions.

use datafusion::arrow::datatypes::Fields;
use datafusion::logical_expr::Expr;
use datafusion::sql::sqlparser::ast::{
    self, Assignment, AssignmentTarget, FromTable, MergeClauseKind, MergeInsertKind, ObjectName,
    Statement, TableFactor,
};
use spate_common::{Error, Result};

use spate_plan::Resolver;

use super::statement::{
    DeltaStatement, MergeAction, MergeClause, MergeCommand, MergeWhen, TableCommand, known_column,
    unqualified,
};

/// The name `UPDATE SET *` / `INSERT *` stand in for while a `MERGE` parses.
const ALL_COLUMNS: &str = "__spate_all_columns";

/// Spark's `MERGE` shorthands, which the SQL parser does not know, as column lists naming
/// [`ALL_COLUMNS`]; other text is returned as it is.
fn merge_star_syntax(text: &str) -> String {
    if !text.trim_start().to_uppercase().starts_with("MERGE") {
        return text.to_string();
    }
    let (Ok(update), Ok(insert)) = (
        regex::Regex::new(r"(?i)\bUPDATE\s+SET\s+\*"),
        regex::Regex::new(r"(?i)\bINSERT\s+\*"),
    ) else {
        return text.to_string();
    };
    let text = update.replace_all(text, format!("UPDATE SET {ALL_COLUMNS} = {ALL_COLUMNS}"));
    insert
        .replace_all(
            &text,
            format!("INSERT ({ALL_COLUMNS}) VALUES ({ALL_COLUMNS})"),
        )
        .to_string()
}

/// The Delta statement `text` is, planned (its expressions resolved over its table); `None`
/// when it is not one — plain SQL goes on to DataFusion's planner.
pub async fn statement(resolver: &Resolver<'_>, text: &str) -> Result<Option<TableCommand>> {
    if let Some(command) = delta_only(resolver, text).await? {
        return Ok(Some(command));
    }
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_uppercase();
    if !matches!(first.as_str(), "DELETE" | "UPDATE" | "MERGE") {
        return Ok(None);
    }
    let text = merge_star_syntax(text);
    match resolver.parse_spark(&text)? {
        datafusion::sql::parser::Statement::Statement(st) => dml(resolver, &st).await,
        _ => Ok(None),
    }
}

/// A Delta statement the SQL parser does not know, planned; `None` when `text` is not one.
async fn delta_only(resolver: &Resolver<'_>, text: &str) -> Result<Option<TableCommand>> {
    let Some(parsed) = super::statement::parse(text) else {
        return Ok(None);
    };
    let command = match parsed? {
        DeltaStatement::History(n, limit) => TableCommand::History {
            table: name_parts(&n),
            limit,
        },
        DeltaStatement::Detail(n) => TableCommand::Detail {
            table: name_parts(&n),
        },
        DeltaStatement::SetProperties(n, properties) => TableCommand::SetProperties {
            table: name_parts(&n),
            properties,
        },
        DeltaStatement::UnsetProperties(n, keys, if_exists) => TableCommand::UnsetProperties {
            table: name_parts(&n),
            keys,
            if_exists,
        },
        DeltaStatement::AddColumns(n, ddl) => TableCommand::AddColumns {
            table: name_parts(&n),
            columns: spate_plan::type_parser::parse_schema(&ddl, resolver.time_zone())?,
        },
        DeltaStatement::Optimize(n, predicate, zorder) => {
            let from = n.to_string();
            let predicate = match predicate {
                Some(p) => Some(unqualified(
                    resolver.resolve_over(&from, &[p]).await?.remove(0),
                )?),
                None => None,
            };
            TableCommand::Optimize {
                table: name_parts(&n),
                predicate,
                zorder,
            }
        }
        DeltaStatement::Vacuum(n, retain_hours, dry_run) => TableCommand::Vacuum {
            table: name_parts(&n),
            retain_hours,
            dry_run,
            check_retention: super::statement::retention_check(resolver.config()),
        },
        DeltaStatement::Restore(n, to) => TableCommand::Restore {
            table: name_parts(&n),
            to,
        },
        DeltaStatement::Convert(n, partitions) => TableCommand::Convert {
            table: name_parts(&n),
            partitions: match partitions {
                Some(ddl) => spate_plan::type_parser::parse_schema(&ddl, resolver.time_zone())?,
                None => Fields::empty(),
            },
        },
        DeltaStatement::ReplaceWhere(n, predicate, query) => TableCommand::ReplaceWhere {
            table: name_parts(&n),
            plan: resolver.query_plan(Statement::Query(query)).await?,
            predicate: predicate.to_string(),
        },
    };
    Ok(Some(command))
}

/// `DELETE`, `UPDATE` or `MERGE INTO`, planned; `None` for any other statement.
async fn dml(resolver: &Resolver<'_>, stmt: &Statement) -> Result<Option<TableCommand>> {
    let command = match stmt {
        Statement::Delete(d) => {
            let tables = match &d.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
            };
            let [target] = tables.as_slice() else {
                return Err(Error::unsupported("DELETE from several tables"));
            };
            let (table, from) = target_of(&target.relation)?;
            let predicate = match &d.selection {
                Some(p) => Some(unqualified(
                    resolver
                        .resolve_over(&from, std::slice::from_ref(p))
                        .await?
                        .remove(0),
                )?),
                None => None,
            };
            TableCommand::Delete { table, predicate }
        }
        Statement::Update(u) => {
            if u.from.is_some() {
                return Err(Error::unsupported("UPDATE ... FROM"));
            }
            let (table, from) = target_of(&u.table.relation)?;
            let columns = resolver.columns_of(&from).await?;
            let mut exprs: Vec<ast::Expr> = Vec::new();
            let mut names = Vec::new();
            for a in &u.assignments {
                names.push(target_column(a, &columns)?);
                exprs.push(a.value.clone());
            }
            exprs.extend(u.selection.clone());
            let mut resolved = resolver.resolve_over(&from, &exprs).await?.into_iter();
            let mut assignments = Vec::new();
            for n in names {
                let e = resolved
                    .next()
                    .ok_or_else(|| Error::internal("an unresolved UPDATE assignment"))?;
                assignments.push((n, unqualified(e)?));
            }
            let predicate = resolved.next().map(unqualified).transpose()?;
            TableCommand::Update {
                table,
                assignments,
                predicate,
            }
        }
        Statement::Merge(m) => TableCommand::Merge(Box::new(merge(resolver, m).await?)),
        _ => return Ok(None),
    };
    Ok(Some(command))
}

async fn merge(resolver: &Resolver<'_>, m: &ast::Merge) -> Result<MergeCommand> {
    let (target, target_from) = target_of(&m.table)?;
    let target_alias = alias_of(&m.table)?;
    let source_from = match &m.source {
        TableFactor::Table { alias: None, .. } => {
            format!("{} AS {}", m.source, quoted(&alias_of(&m.source)?))
        }
        other => other.to_string(),
    };
    let source_alias = alias_of(&m.source)?;
    if source_alias.eq_ignore_ascii_case(&target_alias) {
        return Err(Error::analysis(
            "DELTA_MERGE_UNRESOLVED_EXPRESSION",
            format!("the MERGE source and target are both named `{source_alias}`"),
        ));
    }
    let target_columns = resolver.columns_of(&target_from).await?;
    let source = resolver
        .sql_query_plan(&format!("SELECT * FROM {source_from}"))
        .await?;
    let source_columns: Vec<String> = source
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let all = |c: &String| -> Result<ast::Expr> {
        if !source_columns.iter().any(|s| s.eq_ignore_ascii_case(c)) {
            return Err(Error::analysis(
                "DELTA_MERGE_UNRESOLVED_EXPRESSION",
                format!(
                    "Cannot resolve {source_alias}.{c} in UPDATE/INSERT clause given columns {}",
                    source_columns.join(", ")
                ),
            ));
        }
        parse_expr(&format!("{}.{}", quoted(&source_alias), quoted(c)))
    };
    // every expression of the statement, resolved together; clauses keep indices into it
    let mut exprs = vec![m.on.as_ref().clone()];
    let mut plans = Vec::new();
    for clause in &m.clauses {
        let when = match clause.clause_kind {
            MergeClauseKind::Matched => MergeWhen::Matched,
            MergeClauseKind::NotMatched | MergeClauseKind::NotMatchedByTarget => {
                MergeWhen::NotMatched
            }
            MergeClauseKind::NotMatchedBySource => MergeWhen::NotMatchedBySource,
        };
        let predicate = clause.predicate.clone().map(|p| {
            exprs.push(p);
            exprs.len() - 1
        });
        let mut pairs = Vec::new();
        let action = match &clause.action {
            ast::MergeAction::Delete { .. } => 0,
            ast::MergeAction::Update(u) => {
                if is_all_columns(&u.assignments) {
                    for c in &target_columns {
                        pairs.push((c.clone(), all(c)?));
                    }
                } else {
                    for a in &u.assignments {
                        pairs.push((target_column(a, &target_columns)?, a.value.clone()));
                    }
                }
                1
            }
            ast::MergeAction::Insert(i) => {
                let MergeInsertKind::Values(values) = &i.kind else {
                    return Err(Error::unsupported("MERGE ... INSERT ROW"));
                };
                let [row] = values.rows.as_slice() else {
                    return Err(Error::parse("a MERGE INSERT takes one row of values"));
                };
                let star = i.columns.len() == 1 && i.columns[0].to_string() == ALL_COLUMNS;
                if star {
                    for c in &target_columns {
                        pairs.push((c.clone(), all(c)?));
                    }
                } else {
                    let columns: Vec<String> = if i.columns.is_empty() {
                        target_columns.clone()
                    } else {
                        i.columns.iter().map(last_part).collect()
                    };
                    if columns.len() != row.content.len() {
                        return Err(Error::analysis(
                            "INSERT_COLUMN_ARITY_MISMATCH",
                            format!(
                                "the MERGE INSERT names {} columns but gives {} values",
                                columns.len(),
                                row.content.len()
                            ),
                        ));
                    }
                    for (c, v) in columns.into_iter().zip(&row.content) {
                        pairs.push((known_column(&c, &target_columns)?, v.clone()));
                    }
                }
                2
            }
        };
        let assigned: Vec<(String, usize)> = pairs
            .into_iter()
            .map(|(c, e)| {
                exprs.push(e);
                (c, exprs.len() - 1)
            })
            .collect();
        plans.push((when, predicate, action, assigned));
    }
    let from = format!("{target_from} CROSS JOIN {source_from}");
    let resolved = resolver.resolve_over(&from, &exprs).await?;
    let take = |i: usize| resolved[i].clone();
    let clauses = plans
        .into_iter()
        .map(|(when, predicate, action, assigned)| {
            let assigned: Vec<(String, Expr)> =
                assigned.into_iter().map(|(c, i)| (c, take(i))).collect();
            MergeClause {
                when,
                predicate: predicate.map(take),
                action: match action {
                    0 => MergeAction::Delete,
                    1 => MergeAction::Update(assigned),
                    _ => MergeAction::Insert(assigned),
                },
            }
        })
        .collect();
    Ok(MergeCommand {
        target,
        target_alias,
        source,
        source_alias,
        on: take(0),
        clauses,
    })
}

/// A target table's name parts and its `FROM` text, aliased by its own name when the statement
/// gives no alias.
fn target_of(factor: &TableFactor) -> Result<(Vec<String>, String)> {
    let TableFactor::Table { name, alias, .. } = factor else {
        return Err(Error::unsupported(format!(
            "changing the rows of {factor}, which is not a table"
        )));
    };
    let from = match alias {
        Some(_) => factor.to_string(),
        None => format!("{factor} AS {}", quoted(&last_part(name))),
    };
    Ok((name_parts(name), from))
}

/// The name a table factor's columns are qualified by: its alias, or its name's last part.
fn alias_of(factor: &TableFactor) -> Result<String> {
    match factor {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
            Ok(a.name.value.clone())
        }
        TableFactor::Table { name, .. } => Ok(last_part(name)),
        other => Err(Error::parse(format!("give {other} an alias"))),
    }
}

fn name_parts(n: &ObjectName) -> Vec<String> {
    n.0.iter()
        .map(|p| {
            p.as_ident()
                .map_or_else(|| p.to_string(), |i| i.value.clone())
        })
        .collect()
}

fn last_part(n: &ObjectName) -> String {
    name_parts(n).pop().unwrap_or_default()
}

fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn parse_expr(text: &str) -> Result<ast::Expr> {
    datafusion::sql::sqlparser::parser::Parser::new(&spate_plan::sql_dialect::SparkDialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| Error::parse(format!("syntax error: {e}")))
}

fn is_all_columns(assignments: &[Assignment]) -> bool {
    matches!(assignments, [a] if a.value.to_string() == ALL_COLUMNS)
}

/// The column an assignment sets, checked against the table's columns.
fn target_column(a: &Assignment, columns: &[String]) -> Result<String> {
    let name = match &a.target {
        AssignmentTarget::ColumnName(n) => last_part(n),
        AssignmentTarget::Tuple(_) => return Err(Error::unsupported("assigning to a tuple")),
    };
    known_column(&name, columns)
}
