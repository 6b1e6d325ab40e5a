//! Spark SQL text: queries become logical plans through DataFusion's SQL planner (with the
//! session's one function registry), after the tables they name are made visible from the
//! session's catalog and Spark's parameter markers (`?`, `:name`) are bound. Statements that
//! change the catalog are recognised here and carried out through [`Sources`].

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan, Union};
use datafusion::optimizer::analyzer::type_coercion::coerce_union_schema;
use datafusion::scalar::ScalarValue;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{self, ObjectName, Statement};
use spark_connect_proto::spark::connect as sc;
use spate_common::{Error, Result};

use crate::literal;
use crate::resolver::Resolver;

/// What a SQL statement turned out to be.
pub enum SqlOutcome {
    /// A query: its plan, to run lazily.
    Query(LogicalPlan),
    /// A command that ran; its result rows (possibly none) as a plan.
    Done(LogicalPlan),
}

impl Resolver<'_> {
    pub(crate) async fn sql_relation(&self, s: &sc::Sql) -> Result<LogicalPlan> {
        match self.sql(s).await? {
            SqlOutcome::Query(p) | SqlOutcome::Done(p) => Ok(p),
        }
    }

    /// Plans (and for commands, runs) one SQL statement with its parameters.
    #[expect(
        deprecated,
        reason = "older clients send parameters in the deprecated fields"
    )]
    pub async fn sql(&self, s: &sc::Sql) -> Result<SqlOutcome> {
        let sc::Sql {
            query,
            args,
            pos_args,
            named_arguments,
            pos_arguments,
        } = s;
        let (text, uses_params) = rewrite_markers(query);
        let (text, table_clauses) = match strip_spark_table_clauses(&text) {
            Some((stripped, clauses)) => (stripped, Some(clauses)),
            None => (text, None),
        };
        // a table format's own statements (Delta's DESCRIBE HISTORY, OPTIMIZE, DELETE, MERGE...)
        if let Some(done) = self.sources.format_statement(self, &text).await? {
            return Ok(SqlOutcome::Done(done));
        }
        let statement = self.parse_spark(&text)?;
        if let (Some(clauses), DfStatement::Statement(st)) = (&table_clauses, &statement)
            && let Statement::CreateTable(ct) = st.as_ref()
        {
            return self.create_table(ct, clauses).await.map(SqlOutcome::Done);
        }
        let sql_stmt = match &statement {
            DfStatement::Statement(st) => Some(st.as_ref().clone()),
            _ => None,
        };
        if let Some(stmt) = &sql_stmt
            && let Some(done) = self.command(stmt).await?
        {
            return Ok(SqlOutcome::Done(done));
        }
        let plan = self.plan_statement(statement).await?;
        let plan = if uses_params {
            let schema = datafusion::common::DFSchema::empty();
            let mut positional = Vec::new();
            for e in pos_arguments {
                positional.push(literal_value(self.expr(e, &schema)?.expr)?);
            }
            for l in pos_args {
                positional.push(literal::from_proto(l, &self.tz)?.0);
            }
            let mut named = std::collections::HashMap::new();
            for (k, e) in named_arguments {
                named.insert(k.clone(), literal_value(self.expr(e, &schema)?.expr)?);
            }
            for (k, l) in args {
                named.insert(k.clone(), literal::from_proto(l, &self.tz)?.0);
            }
            let params = if positional.is_empty() {
                ParamValues::Map(named.into_iter().map(|(k, v)| (k, v.into())).collect())
            } else {
                ParamValues::List(positional.into_iter().map(Into::into).collect())
            };
            plan.with_param_values(params)?
        } else {
            plan
        };
        if let LogicalPlan::Ddl(_)
        | LogicalPlan::Dml(_)
        | LogicalPlan::Statement(_)
        | LogicalPlan::Copy(_) = plan
        {
            return Err(Error::unsupported(format!(
                "the SQL statement '{}'",
                query.trim()
            )));
        }
        Ok(SqlOutcome::Query(plan))
    }

    /// Parses one statement and rewrites Spark's syntax in it: Spark's function call forms and
    /// Delta's time travel / change-data tables.
    pub fn parse_spark(&self, text: &str) -> Result<DfStatement> {
        let mut statement = self.parse(text)?;
        if let DfStatement::Statement(st) = &mut statement {
            crate::sql_functions::spark_syntax(st.as_mut());
            crate::sql_table_syntax::time_travel(st.as_mut())?;
        }
        Ok(statement)
    }

    fn parse(&self, text: &str) -> Result<DfStatement> {
        let limit = self
            .state
            .config()
            .options()
            .sql_parser
            .recursion_limit
            .get();
        let mut statements = datafusion::sql::parser::DFParserBuilder::new(text)
            .with_dialect(&crate::sql_dialect::SparkDialect)
            .with_recursion_limit(limit)
            .build()
            .and_then(|mut p| p.parse_statements())
            .map_err(sql_error)?;
        match (statements.pop_front(), statements.is_empty()) {
            (Some(statement), true) => Ok(statement),
            (None, _) => Err(Error::parse("no SQL statement to run")),
            (Some(_), false) => Err(Error::unsupported("several SQL statements in one call")),
        }
    }

    /// Catalog statements Spate carries out itself.
    async fn command(&self, stmt: &Statement) -> Result<Option<LogicalPlan>> {
        match stmt {
            Statement::CreateView(view) if view.temporary => {
                let plan = self
                    .query_plan(Statement::Query(view.query.clone()))
                    .await?;
                self.sources
                    .create_temp_view(&object_name(&view.name), plan, view.or_replace)?;
                Ok(Some(self.empty()?))
            }
            Statement::Drop {
                object_type,
                if_exists,
                names,
                ..
            } => {
                let kind = object_type.to_string().to_uppercase();
                for n in names {
                    self.sources
                        .drop_object(&kind, &object_name(n), *if_exists)
                        .await?;
                }
                Ok(Some(self.empty()?))
            }
            Statement::ShowTables { .. } => Ok(Some(self.sources.show_tables(self).await?)),
            Statement::CreateSchema {
                schema_name,
                if_not_exists,
                ..
            } => {
                self.sources
                    .create_database(schema_name.to_string().trim_matches('`'), *if_not_exists)?;
                Ok(Some(self.empty()?))
            }
            Statement::CreateDatabase {
                db_name,
                if_not_exists,
                ..
            } => {
                self.sources
                    .create_database(&object_name(db_name).join("."), *if_not_exists)?;
                Ok(Some(self.empty()?))
            }
            Statement::Use(u) => {
                let text = u.to_string();
                let db = text
                    .split_whitespace()
                    .last()
                    .unwrap_or_default()
                    .trim_matches('`')
                    .to_string();
                self.sources.use_database(&db)?;
                Ok(Some(self.empty()?))
            }
            Statement::Insert(ins) => {
                let name = match &ins.table {
                    datafusion::sql::sqlparser::ast::TableObject::TableName(n) => object_name(n),
                    other => return Err(Error::unsupported(format!("INSERT INTO {other}"))),
                };
                let source = ins
                    .source
                    .clone()
                    .ok_or_else(|| Error::parse("INSERT needs VALUES or a query"))?;
                let plan = self.query_plan(Statement::Query(source)).await?;
                self.sources
                    .insert_into(self.state, &name, plan, ins.overwrite)
                    .await?;
                Ok(Some(self.empty()?))
            }
            Statement::CreateTable(ct) if ct.query.is_some() || !ct.columns.is_empty() => {
                Ok(Some(self.create_table(ct, &TableClauses::default()).await?))
            }
            Statement::Delete(_) | Statement::Update(_) | Statement::Merge(_) => Err(
                Error::unsupported(format!("'{stmt}' on a table that is not a Delta table")),
            ),
            _ => Ok(None),
        }
    }

    /// Plans a query statement.
    pub async fn query_plan(&self, stmt: Statement) -> Result<LogicalPlan> {
        self.plan_statement(DfStatement::Statement(Box::new(stmt)))
            .await
    }

    /// Makes the tables a statement names visible to DataFusion, then plans it.
    pub async fn plan_statement(&self, st: DfStatement) -> Result<LogicalPlan> {
        let refs = self.state.resolve_table_references(&st)?;
        self.sources.prepare_sql(self.state, &refs).await?;
        let names = crate::sql_functions::called_names(&st);
        let planning = crate::sql_functions::planning_state(
            self.state,
            &names,
            &self.tz,
            self.ansi,
            self.map_last_win,
        )?;
        let plan = planning
            .as_ref()
            .unwrap_or(self.state)
            .statement_to_plan(st)
            .await
            .map_err(sql_error)?;
        let plan = crate::output_names::with_spark_names(plan, &self.tz)?;
        spark_sql_plan(plan, &self.tz, self.ansi)
    }

    async fn create_table(
        &self,
        ct: &datafusion::sql::sqlparser::ast::CreateTable,
        clauses: &TableClauses,
    ) -> Result<LogicalPlan> {
        let name = object_name(&ct.name);
        let plan = match &ct.query {
            Some(q) => self.query_plan(Statement::Query(q.clone())).await?,
            None => {
                let ddl = ct
                    .columns
                    .iter()
                    .map(|c| format!("`{}` {}", c.name.value, c.data_type))
                    .collect::<Vec<_>>()
                    .join(", ");
                let fields = crate::type_parser::parse_schema(&ddl, &self.tz)?;
                let schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
                self.memory_plan(schema, vec![])?
            }
        };
        let format = clauses
            .format
            .clone()
            .or_else(|| self.config.get("spark.sql.sources.default"))
            .unwrap_or_else(|| "parquet".into());
        let location = ct
            .location
            .clone()
            .or_else(|| ct.hive_formats.as_ref().and_then(|h| h.location.clone()));
        // TBLPROPERTIES was cut from the text (`clauses`); OPTIONS (..) set properties too
        let mut properties = match &ct.table_options {
            ast::CreateTableOptions::Options(options) => options
                .iter()
                .filter_map(|o| match o {
                    ast::SqlOption::KeyValue { key, value } => {
                        let value = match value {
                            ast::Expr::Value(v) => match &v.value {
                                ast::Value::SingleQuotedString(s)
                                | ast::Value::DoubleQuotedString(s) => s.clone(),
                                other => other.to_string(),
                            },
                            other => other.to_string(),
                        };
                        Some((key.value.clone(), value))
                    }
                    _ => None,
                })
                .collect(),
            _ => vec![],
        };
        if let Some(text) = &clauses.properties {
            properties.extend(crate::sql_table_syntax::parse_properties(text)?);
        }
        let spec = crate::resolver::TableSpec {
            format,
            partition_by: clauses.partition_by.clone(),
            replace: ct.or_replace,
            if_not_exists: ct.if_not_exists,
            location,
            properties,
        };
        self.sources
            .create_table(self.state, &name, plan, spec)
            .await?;
        self.empty()
    }

    /// An empty relation with no columns.
    pub fn empty(&self) -> Result<LogicalPlan> {
        Ok(datafusion::logical_expr::LogicalPlanBuilder::empty(false).build()?)
    }
}

fn object_name(n: &ObjectName) -> Vec<String> {
    n.0.iter()
        .map(|p| {
            p.to_string()
                .trim_matches('`')
                .trim_matches('"')
                .to_string()
        })
        .collect()
}

fn literal_value(e: Expr) -> Result<ScalarValue> {
    match e {
        Expr::Literal(v, _) => Ok(v),
        other => Err(Error::analysis(
            "INVALID_SQL_ARG",
            format!("the SQL argument {other} must be a literal"),
        )),
    }
}

/// Maps a DataFusion SQL error to Spark's parse or analysis error.
pub fn sql_error(e: datafusion::error::DataFusionError) -> Error {
    use datafusion::error::DataFusionError as E;
    match e.find_root() {
        E::SQL(inner, _) => Error::parse(format!("syntax error: {inner}")),
        // DataFusion's missing table is a `Plan` error with no kind of its own: its text tells
        E::Plan(msg) if msg.contains("table") && msg.contains("not found") => {
            let name = msg.split('\'').nth(1).unwrap_or(msg).to_string();
            table_not_found(&name)
        }
        _ => Error::DataFusion(e),
    }
}

/// Spark's `TABLE_OR_VIEW_NOT_FOUND`.
pub fn table_not_found(name: &str) -> Error {
    Error::Analysis {
        class: "TABLE_OR_VIEW_NOT_FOUND".into(),
        message: format!(
            "The table or view `{name}` cannot be found. Verify the spelling and correctness of the schema and catalog."
        ),
        params: vec![("relationName".into(), format!("`{name}`"))],
    }
}

/// Replaces Spark's `?` and `:name` markers (outside quotes) with DataFusion's `$1`, `$name`.
fn rewrite_markers(sql: &str) -> (String, bool) {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut n = 0;
    let mut used = false;
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' || c == '`' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                n += 1;
                used = true;
                out.push_str(&format!("${n}"));
            }
            None if c == ':'
                && chars
                    .get(i + 1)
                    .is_some_and(|x| x.is_alphabetic() || *x == '_')
                && (i == 0 || chars[i - 1] != ':') =>
            {
                used = true;
                out.push('$');
            }
            None => out.push(c),
        }
        i += 1;
    }
    (out, used)
}

/// A plan DataFusion planned from SQL text, with the registry's expressions for the calls
/// planned as placeholders (`crate::sql_functions`), Spark's cast rules in the expressions of its
/// projections, filters, aggregates, sorts, joins and windows, and Spark's type for integer
/// literals (`int` when the value fits, DataFusion reads them all as `bigint`), and projections
/// holding a generator planned as unnests (`crate::generate`). Output names
/// stay as planned, so the operators above still find their inputs; the schemas of the nodes
/// above a rewritten one are recomputed.
fn spark_sql_plan(plan: LogicalPlan, tz: &str, ansi: bool) -> Result<LogicalPlan> {
    let mut expanded = crate::generate::Expanded::new();
    Ok(spark_sql_node(plan, tz, ansi, &mut expanded)?.data)
}

/// [`spark_sql_plan`] for one node after its inputs and subqueries: its schema is recomputed
/// only when its expressions or an input changed, so an untouched plan is not rebuilt.
fn spark_sql_node(
    plan: LogicalPlan,
    tz: &str,
    ansi: bool,
    expanded: &mut crate::generate::Expanded,
) -> datafusion::error::Result<Transformed<LogicalPlan>> {
    let below = plan
        .map_children(|c| spark_sql_node(c, tz, ansi, expanded))?
        .transform_data(|p| p.map_subqueries(|s| spark_sql_node(s, tz, ansi, expanded)))?;
    let mut changed = below.transformed;
    let mut node = below.data;
    // a generator below became several columns: the items that were its one column too
    if let LogicalPlan::Projection(p) = &node
        && let Some(exprs) = crate::generate::expand_references(&p.expr, expanded)
    {
        node = LogicalPlan::Projection(datafusion::logical_expr::Projection::try_new(
            exprs,
            p.input.clone(),
        )?);
        changed = true;
    }
    if let LogicalPlan::Union(u) = node {
        if !changed {
            return Ok(Transformed::no(LogicalPlan::Union(u)));
        }
        let schema = std::sync::Arc::new(coerce_union_schema(&u.inputs)?);
        return Ok(Transformed::yes(LogicalPlan::Union(Union {
            inputs: u.inputs,
            schema,
        })));
    }
    if let LogicalPlan::Values(v) = &node
        && let Some(values) = spark_values(v, tz, ansi)?
    {
        return Ok(Transformed::yes(values));
    }
    if !matches!(
        node,
        LogicalPlan::Projection(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::Aggregate(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Join(_)
            | LogicalPlan::Window(_)
    ) {
        return Ok(if changed {
            Transformed::yes(node.recompute_schema()?)
        } else {
            Transformed::no(node)
        });
    }
    let mut schema = DFSchema::empty();
    for input in node.inputs() {
        schema.merge(input.schema());
    }
    let unaliased = crate::generate::unaliased_sql_generators(&node);
    let names = NamePreserver::new(&node);
    let rewritten = node.map_expressions(|e| spark_sql_expr(e, &schema, tz, ansi, &names))?;
    let node = if rewritten.transformed || changed {
        Transformed::yes(rewritten.data.recompute_schema()?)
    } else {
        rewritten
    };
    if let LogicalPlan::Aggregate(a) = &node.data
        && let Some(expanded) = time_window_keys(a)?
    {
        return Ok(Transformed::yes(expanded));
    }
    if let LogicalPlan::Projection(p) = &node.data
        && let Some(generated) = crate::generate::sql_projection(p, &unaliased, expanded)?
    {
        return Ok(Transformed::yes(generated));
    }
    Ok(node)
}

/// One expression of a node of SQL text (over `schema`, its inputs' columns) with Spark's
/// semantics put in: integer literals, subscripts, rankings, structs, casts, then the
/// registry's expressions for placeholder calls (which already have Spark's semantics).
fn spark_sql_expr(
    e: Expr,
    schema: &DFSchema,
    tz: &str,
    ansi: bool,
    names: &NamePreserver,
) -> datafusion::error::Result<Transformed<Expr>> {
    let saved = names.save(&e);
    let intervals = crate::functions::ym_interval::literals_in(e)?;
    let ints = crate::literal::int_literals(intervals.data)?;
    let items = crate::functions::collection::sql_subscripts_in(ints.data, ansi)?;
    let ranks = crate::functions::ranking::int_rankings_in(items.data)?;
    let structs = crate::functions::spark_structs_in(ranks.data)?;
    let casts = crate::functions::spark_casts_in(structs.data, schema, tz, ansi)?;
    let calls = crate::sql_functions::replace_placeholders(casts.data, schema)?;
    let transformed = intervals.transformed
        || ints.transformed
        || items.transformed
        || ranks.transformed
        || calls.transformed
        || structs.transformed
        || casts.transformed;
    Ok(Transformed::new_transformed(
        saved.restore(calls.data),
        transformed,
    ))
}

/// `VALUES` rows with Spark's semantics in their expressions (`VALUES (1)` is an `int`,
/// `VALUES (float('NaN'))` calls the registry), its column types found again from them;
/// `None` when nothing changed.
fn spark_values(
    v: &datafusion::logical_expr::Values,
    tz: &str,
    ansi: bool,
) -> datafusion::error::Result<Option<LogicalPlan>> {
    let empty = DFSchema::empty();
    let plan = LogicalPlan::Values(v.clone());
    let names = NamePreserver::new(&plan);
    let mut changed = false;
    let mut rows = Vec::with_capacity(v.values.len());
    for row in &v.values {
        let mut out = Vec::with_capacity(row.len());
        for e in row {
            let t = spark_sql_expr(e.clone(), &empty, tz, ansi, &names)?;
            changed |= t.transformed;
            out.push(t.data);
        }
        rows.push(out);
    }
    changed |= decimals_with_doubles(&mut rows, &empty)?;
    if !changed {
        return Ok(None);
    }
    Ok(Some(
        datafusion::logical_expr::LogicalPlanBuilder::values(rows)?.build()?,
    ))
}

/// Spark's common type of a `VALUES` column holding decimals and doubles is `double`
/// (`VALUES (0.0), (PI())`); DataFusion's is a decimal, and its planner has already cast the
/// doubles to it. Takes those casts off and casts the decimals to double; whether any was.
fn decimals_with_doubles(
    rows: &mut [Vec<Expr>],
    schema: &DFSchema,
) -> datafusion::error::Result<bool> {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::ExprSchemable;
    let width = rows.first().map_or(0, Vec::len);
    let mut changed = false;
    let is_decimal = |t: &DataType| {
        matches!(
            t,
            DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        )
    };
    for row in rows.iter_mut() {
        for e in row.iter_mut() {
            // the cast may already be Spark's (a `TRY_CAST` outside ANSI mode), and named
            let e = match e {
                Expr::Alias(a) => a.expr.as_mut(),
                other => other,
            };
            let (inner, to) = match &*e {
                Expr::Cast(c) => (&c.expr, c.field.data_type()),
                Expr::TryCast(c) => (&c.expr, c.field.data_type()),
                _ => continue,
            };
            if is_decimal(to) && inner.get_type(schema)?.is_floating() {
                *e = (**inner).clone();
                changed = true;
            }
        }
    }
    for c in 0..width {
        let mut types = Vec::with_capacity(rows.len());
        for row in rows.iter() {
            types.push(row.get(c).map(|e| e.get_type(schema)).transpose()?);
        }
        let float = types
            .iter()
            .any(|t| matches!(t, Some(DataType::Float64 | DataType::Float32)));
        let decimal = |t: &Option<DataType>| t.as_ref().is_some_and(is_decimal);
        if !float || !types.iter().any(decimal) {
            continue;
        }
        for (row, t) in rows.iter_mut().zip(&types) {
            if decimal(t) {
                row[c] = datafusion::logical_expr::cast(row[c].clone(), DataType::Float64);
                changed = true;
            }
        }
    }
    Ok(changed)
}

/// An aggregate grouping by sliding `window(...)` or `session_window(...)` keys, with the keys
/// computed below it as the DataFrame API does (`crate::functions::expand_time_windows`); the
/// keys keep their planned names. `None` when no key needs it.
fn time_window_keys(
    a: &datafusion::logical_expr::Aggregate,
) -> datafusion::error::Result<Option<LogicalPlan>> {
    let input = a.input.as_ref().clone();
    let bare: Vec<Expr> = a.group_expr.iter().map(|e| e.clone().unalias()).collect();
    let (plan, keys) = crate::functions::expand_time_windows(input, bare.clone())
        .map_err(datafusion::error::DataFusionError::from)?;
    // a tumbling window keeps its key but filters out rows without a time
    if keys == bare && plan == *a.input {
        return Ok(None);
    }
    let keys = keys
        .into_iter()
        .zip(bare.iter().zip(&a.group_expr))
        .map(|(k, (bare, old))| {
            if &k == bare {
                Ok(old.clone())
            } else {
                Ok(k.alias(old.name_for_alias()?))
            }
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let aggregate = datafusion::logical_expr::Aggregate::try_new(
        std::sync::Arc::new(plan),
        keys,
        a.aggr_expr.clone(),
    )?;
    Ok(Some(LogicalPlan::Aggregate(aggregate)))
}

/// The clauses of Spark's `CREATE TABLE` that DataFusion's parser does not know.
#[derive(Debug, Default)]
pub struct TableClauses {
    /// `USING fmt`, lower-cased.
    pub format: Option<String>,
    /// `PARTITIONED BY (a, b)`.
    pub partition_by: Vec<String>,
    /// The text inside `TBLPROPERTIES (...)`, parsed by
    /// [`crate::sql_table_syntax::parse_properties`].
    pub properties: Option<String>,
}

/// Spark's `CREATE TABLE` clauses that DataFusion's parser does not know, taken out of the text:
/// `USING fmt`, `PARTITIONED BY (a, b)` and `TBLPROPERTIES (..)` (whose keys may be dotted
/// names and values unquoted); what remains parses as a plain `CREATE TABLE`.
pub fn strip_spark_table_clauses(sql: &str) -> Option<(String, TableClauses)> {
    let lower = sql.to_lowercase();
    let trimmed = lower.trim_start();
    if !(trimmed.starts_with("create table") || trimmed.starts_with("create or replace table")) {
        return None;
    }
    let using = regex::Regex::new(r"(?i)\s+USING\s+([A-Za-z_][A-Za-z0-9_]*)").ok()?;
    let partitioned = regex::Regex::new(r"(?i)\s+PARTITIONED\s+BY\s*\(([^)]*)\)").ok()?;
    let format = using.captures(sql).map(|c| c[1].to_lowercase());
    let partition_by: Vec<String> = partitioned
        .captures(sql)
        .map(|c| {
            c[1].split(',')
                .map(|p| p.trim().trim_matches('`').to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let text = partitioned.replace(&using.replace(sql, ""), "").to_string();
    let (text, properties) = match cut_parenthesized(&text, "TBLPROPERTIES") {
        Some((rest, inside)) => (rest, Some(inside)),
        None => (text, None),
    };
    Some((
        text,
        TableClauses {
            format,
            partition_by,
            properties,
        },
    ))
}

/// `text` without the clause `keyword (...)`, and the text inside its parentheses (quotes and
/// nested parentheses respected); `None` when the clause is not there.
fn cut_parenthesized(text: &str, keyword: &str) -> Option<(String, String)> {
    let clause = regex::Regex::new(&format!(r"(?i)\s+{keyword}\s*\(")).ok()?;
    let m = clause.find(text)?;
    let (mut depth, mut quote) = (1usize, None::<char>);
    for (i, c) in text[m.end()..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    let close = m.end() + i;
                    let inside = text[m.end()..close].to_string();
                    return Some((
                        format!("{}{}", &text[..m.start()], &text[close + 1..]),
                        inside,
                    ));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_table_properties_out_of_create_table() {
        let (text, clauses) = strip_spark_table_clauses(
            "CREATE TABLE t (a INT) USING DELTA TBLPROPERTIES ('x' = ')', y.z = 1) AS SELECT 1",
        )
        .unwrap_or_default();
        assert_eq!(text, "CREATE TABLE t (a INT) AS SELECT 1");
        assert_eq!(clauses.format.as_deref(), Some("delta"));
        assert_eq!(clauses.properties.as_deref(), Some("'x' = ')', y.z = 1"));
    }

    #[test]
    fn rewrites_markers_outside_quotes() {
        assert_eq!(
            rewrite_markers("select ? + ?, '?'").0,
            "select $1 + $2, '?'"
        );
        assert_eq!(rewrite_markers("select :a, x::int").0, "select $a, x::int");
        assert!(!rewrite_markers("select 1").1);
    }
}
