//! delta-spark's `DeltaTable.delete` / `update` / `merge` and `optimize().where(..)` over Spark
//! Connect, made into the same [`TableCommand`]s as their SQL statements. Their messages carry
//! the target as a relation (the table's scan, under `.alias(..)` when it has one), the merge
//! source as any relation, and conditions and values as Spark Connect expressions (Column
//! objects, or SQL text through `F.expr`). The session's resolver plans them: the target's and
//! the source's columns keep the qualifiers the plans give them (the aliases the user wrote),
//! so `"t.id = s.id"` and `F.col("s.v")` resolve as in Spark; `whenMatchedUpdateAll` /
//! `whenNotMatchedInsertAll` set every target column from the source column of its name.
//! Messages are declared with prost from the field numbers of delta-spark's protocol.

use crate::delta::statement::{
    MergeAction, MergeClause, MergeCommand, MergeWhen, TableCommand, known_column, unqualified,
};
use datafusion::common::{DFSchema, TableReference};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use spark_connect_proto::spark::connect::expression::ExprType;
use spark_connect_proto::spark::connect::relation::RelType;
use spark_connect_proto::spark::connect::{Expression, Relation};
use spate_common::{Error, Result};
use spate_plan::Resolver;

use crate::delta::messages::{
    ActionType, Assignment, DeleteFromTable, MergeIntoTable, UpdateTable,
};
use crate::warehouse::Warehouse;

/// A target relation: the Delta table it scans (name parts) and its plan, with the qualifier
/// its columns carry.
struct Target {
    table: Vec<String>,
    plan: LogicalPlan,
    qualifier: String,
}

/// The table a target relation scans: a `DeltaTable` scan, possibly under `.alias(..)`.
fn target_table(rel: &Relation) -> Result<Vec<String>> {
    match &rel.rel_type {
        Some(RelType::SubqueryAlias(a)) => match &a.input {
            Some(input) => target_table(input),
            None => Err(Error::internal("an alias without input")),
        },
        Some(RelType::Extension(any)) => crate::delta::messages::scanned_table(any),
        _ => Err(Error::unsupported(
            "changing the rows of a relation that is not a DeltaTable",
        )),
    }
}

async fn target(resolver: &Resolver<'_>, rel: Option<&Relation>) -> Result<Target> {
    let rel = rel.ok_or_else(|| Error::internal("a DeltaTable operation without a target"))?;
    let table = target_table(rel)?;
    let plan = resolver.relation(rel).await?;
    let qualifier = qualifier(&plan).unwrap_or_else(|| "target".into());
    let plan = requalified(plan, &qualifier)?;
    Ok(Target {
        table,
        plan,
        qualifier,
    })
}

/// The one bare qualifier every column of `plan` carries, if there is one.
fn qualifier(plan: &LogicalPlan) -> Option<String> {
    let mut names = plan
        .schema()
        .iter()
        .map(|(q, _)| match q {
            Some(TableReference::Bare { table }) => Some(table.to_string()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    names.dedup();
    match names.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// `plan` with its columns under `alias` (unchanged when they already are).
fn requalified(plan: LogicalPlan, alias: &str) -> Result<LogicalPlan> {
    if qualifier(&plan).as_deref() == Some(alias) {
        return Ok(plan);
    }
    Ok(LogicalPlanBuilder::from(plan).alias(alias)?.build()?)
}

fn resolve(resolver: &Resolver<'_>, e: &Expression, schema: &DFSchema) -> Result<Expr> {
    Ok(resolver.expr(e, schema)?.expr)
}

/// The column an assignment's field names (`F.col("name")`, `F.col("t.name")`).
fn assigned_column(a: &Assignment, columns: &[String]) -> Result<String> {
    let name = match a.field.as_ref().and_then(|f| f.expr_type.as_ref()) {
        Some(ExprType::UnresolvedAttribute(u)) => {
            spate_common::names::split_name(&u.unparsed_identifier)
                .pop()
                .unwrap_or_default()
        }
        _ => {
            return Err(Error::IllegalArgument(
                "the keys of a DeltaTable assignment are column names".into(),
            ));
        }
    };
    known_column(&name, columns)
}

fn column_names(plan: &LogicalPlan) -> Vec<String> {
    plan.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// `DeltaTable.delete([condition])`.
pub(crate) async fn delete(resolver: &Resolver<'_>, d: &DeleteFromTable) -> Result<TableCommand> {
    let t = target(resolver, d.target.as_ref()).await?;
    let predicate = match &d.condition {
        Some(c) => Some(unqualified(resolve(resolver, c, t.plan.schema())?)?),
        None => None,
    };
    Ok(TableCommand::Delete {
        table: t.table,
        predicate,
    })
}

/// `DeltaTable.update([condition,] set)`.
pub(crate) async fn update(resolver: &Resolver<'_>, u: &UpdateTable) -> Result<TableCommand> {
    let t = target(resolver, u.target.as_ref()).await?;
    let columns = column_names(&t.plan);
    let schema = t.plan.schema();
    let mut assignments = Vec::new();
    for a in &u.assignments {
        let column = assigned_column(a, &columns)?;
        let value = a
            .value
            .as_ref()
            .ok_or_else(|| Error::internal("an assignment without a value"))?;
        assignments.push((column, unqualified(resolve(resolver, value, schema)?)?));
    }
    let predicate = match &u.condition {
        Some(c) => Some(unqualified(resolve(resolver, c, schema)?)?),
        None => None,
    };
    Ok(TableCommand::Update {
        table: t.table,
        assignments,
        predicate,
    })
}

/// `DeltaTable.merge(source, condition).whenMatched...().execute()`.
pub(crate) async fn merge(resolver: &Resolver<'_>, m: &MergeIntoTable) -> Result<TableCommand> {
    if m.with_schema_evolution == Some(true) {
        return Err(Error::unsupported("MERGE withSchemaEvolution()"));
    }
    let t = target(resolver, m.target.as_ref()).await?;
    let source = m
        .source
        .as_ref()
        .ok_or_else(|| Error::internal("a merge without a source"))?;
    let source = resolver.relation(source).await?;
    let source_alias = match qualifier(&source) {
        Some(q) if q != t.qualifier => q,
        _ => "source".to_string(),
    };
    let source = requalified(source, &source_alias)?;
    let schema = t.plan.schema().join(source.schema())?;
    let target_columns = column_names(&t.plan);
    let source_columns = column_names(&source);
    let from_source = |c: &String| -> Result<Expr> {
        let found = source_columns
            .iter()
            .find(|s| s.eq_ignore_ascii_case(c))
            .ok_or_else(|| {
                Error::analysis(
                    "DELTA_MERGE_UNRESOLVED_EXPRESSION",
                    format!(
                        "Cannot resolve {source_alias}.{c} in UPDATE/INSERT clause given columns {}",
                        source_columns.join(", ")
                    ),
                )
            })?;
        Ok(Expr::Column(datafusion::common::Column::new(
            Some(source_alias.as_str()),
            found,
        )))
    };
    let every_column = || -> Result<Vec<(String, Expr)>> {
        target_columns
            .iter()
            .map(|c| Ok((c.clone(), from_source(c)?)))
            .collect()
    };
    let assigned = |set: &[Assignment]| -> Result<Vec<(String, Expr)>> {
        set.iter()
            .map(|a| {
                let column = assigned_column(a, &target_columns)?;
                let value = a
                    .value
                    .as_ref()
                    .ok_or_else(|| Error::internal("an assignment without a value"))?;
                Ok((column, resolve(resolver, value, &schema)?))
            })
            .collect()
    };
    let mut clauses = Vec::new();
    let groups = [
        (MergeWhen::Matched, &m.matched_actions),
        (MergeWhen::NotMatched, &m.not_matched_actions),
        (
            MergeWhen::NotMatchedBySource,
            &m.not_matched_by_source_actions,
        ),
    ];
    for (when, actions) in groups {
        for a in actions {
            let predicate = match &a.condition {
                Some(c) => Some(resolve(resolver, c, &schema)?),
                None => None,
            };
            let action = match &a.action {
                Some(ActionType::Delete(_)) => MergeAction::Delete,
                Some(ActionType::Update(set)) => MergeAction::Update(assigned(&set.assignments)?),
                Some(ActionType::UpdateStar(_)) => MergeAction::Update(every_column()?),
                Some(ActionType::Insert(set)) => MergeAction::Insert(assigned(&set.assignments)?),
                Some(ActionType::InsertStar(_)) => MergeAction::Insert(every_column()?),
                None => return Err(Error::internal("a merge clause without an action")),
            };
            clauses.push(MergeClause {
                when,
                predicate,
                action,
            });
        }
    }
    let condition = m
        .condition
        .as_ref()
        .ok_or_else(|| Error::internal("a merge without a condition"))?;
    Ok(TableCommand::Merge(Box::new(MergeCommand {
        target: t.table,
        target_alias: t.qualifier,
        on: resolve(resolver, condition, &schema)?,
        source,
        source_alias,
        clauses,
    })))
}

/// `optimize().where("p = 'x'")`'s partition filters (SQL text), joined with AND and resolved
/// over the table.
pub(crate) async fn partition_predicate(
    resolver: &Resolver<'_>,
    catalog: &dyn Warehouse,
    table: &[String],
    filters: &[String],
) -> Result<Option<Expr>> {
    if filters.is_empty() {
        return Ok(None);
    }
    let dir = crate::delta::table::location(catalog, table, "OPTIMIZE")?;
    let plan = crate::delta::read::read(
        resolver.state(),
        &dir.display().to_string(),
        &Default::default(),
        "t",
    )
    .await?;
    let text = filters
        .iter()
        .map(|f| format!("({f})"))
        .collect::<Vec<_>>()
        .join(" AND ");
    Ok(Some(unqualified(
        resolver.sql_expr(&text, plan.schema())?.expr,
    )?))
}
