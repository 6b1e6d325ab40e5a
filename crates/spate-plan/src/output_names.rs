//! Output column names as Spark gives them. SQL text planned by DataFusion comes out with
//! DataFusion's names (`Int64(1)`, `t.id + Int64(1)`, `count(*)`); Spark names an unaliased
//! select item after the expression's SQL form without qualifiers (`1`, `(id + 1)`,
//! `count(1)`), and names flow up through subqueries, unions and joins. Spark also allows two
//! output columns with one name (`select a.id, b.id`), which DataFusion's projection forbids:
//! such columns get distinct hidden qualifiers, so the names reach the client unchanged and a
//! later unqualified reference is ambiguous, as in Spark.

use datafusion::common::{Column, DFSchema, TableReference};
use datafusion::logical_expr::expr::{
    AggregateFunction, Alias, Between, Case, InList, Like, ScalarFunction, WindowFunction,
    WindowFunctionDefinition, WindowFunctionParams,
};
use datafusion::logical_expr::{
    BinaryExpr, Expr, ExprSchemable, JoinType, LogicalPlan, LogicalPlanBuilder, Operator, SortExpr,
    WindowFrame, WindowFrameBound, WindowFrameUnits,
};
use spate_common::Result;

use crate::call_names::{as_called, is_identifier, pretty_name};
use crate::display::format_scalar;
use crate::types::sql_string;

/// Projects `items` (expression, output name), aliasing where the name differs and giving
/// every column of a repeated name its own hidden qualifier.
pub fn project_named(plan: LogicalPlan, items: Vec<(Expr, String)>) -> Result<LogicalPlan> {
    Ok(LogicalPlanBuilder::from(plan)
        .project(unique_aliases(items))?
        .build()?)
}

/// The qualifier of a plain column reference.
fn qualifier_of(e: &Expr) -> Option<TableReference> {
    match e {
        Expr::Column(c) => c.relation.clone(),
        _ => None,
    }
}

/// The projection expressions for `items`, with distinct qualifiers on repeated names: a
/// column keeps its own (`df_as1.name` and `df_as2.name` stay reachable by them, as in
/// Spark) where that tells it apart, else gets a hidden one.
pub fn unique_aliases(items: Vec<(Expr, String)>) -> Vec<Expr> {
    let mut counts = std::collections::HashMap::new();
    let mut qualified = std::collections::HashMap::new();
    for (e, name) in &items {
        *counts.entry(name.clone()).or_insert(0usize) += 1;
        if let Some(q) = qualifier_of(e) {
            *qualified.entry((q, name.clone())).or_insert(0usize) += 1;
        }
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, (expr, name))| {
            // an alias's Spark metadata stays with the column
            let (expr, metadata) = match expr {
                Expr::Alias(a) => (*a.expr, a.metadata),
                e => (e, None),
            };
            if counts.get(&name).copied().unwrap_or(0) > 1 {
                let own = qualifier_of(&expr)
                    .filter(|q| qualified.get(&(q.clone(), name.clone())) == Some(&1));
                let q = own.unwrap_or_else(|| TableReference::bare(format!("#{i}")));
                expr.alias_qualified(Some(q), name)
            } else if metadata.is_some() {
                expr.alias_with_metadata(name, metadata)
            } else {
                match &expr {
                    Expr::Column(c) if c.name == name => expr,
                    _ => expr.alias(name),
                }
            }
        })
        .collect()
}

/// A plan planned from SQL text, with a projection on top giving its columns Spark's names
/// (none is added when DataFusion's names already are Spark's).
pub fn with_spark_names(plan: LogicalPlan, tz: &str) -> Result<LogicalPlan> {
    if matches!(
        plan,
        LogicalPlan::Ddl(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
            | LogicalPlan::DescribeTable(_)
            | LogicalPlan::EmptyRelation(_)
    ) {
        return Ok(plan);
    }
    let names = spark_names(&plan, tz);
    let schema = plan.schema().clone();
    let unchanged = schema
        .fields()
        .iter()
        .zip(&names)
        .all(|(f, n)| f.name() == n);
    let distinct = names.len() == names.iter().collect::<std::collections::HashSet<_>>().len();
    if unchanged && distinct {
        return Ok(plan);
    }
    let items = schema
        .iter()
        .zip(names)
        .map(|(qf, name)| (Expr::Column(Column::from(qf)), name))
        .collect();
    project_named(plan, items)
}

/// Spark's name for an expression over `schema` (a select item parsed from SQL text).
pub fn expr_name(e: &Expr, schema: &DFSchema, tz: &str) -> String {
    let cx = Context {
        schema,
        names: schema.fields().iter().map(|f| f.name().clone()).collect(),
        tz,
    };
    cx.item(e)
}

/// Spark's names for the output columns of `plan`, one per field of its schema.
fn spark_names(plan: &LogicalPlan, tz: &str) -> Vec<String> {
    let fields: Vec<String> = plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let named = match plan {
        LogicalPlan::Projection(p) => {
            let cx = Context::new(&p.input, tz);
            p.expr.iter().map(|e| cx.item(e)).collect()
        }
        LogicalPlan::Aggregate(a) => {
            let cx = Context::new(&a.input, tz);
            a.group_expr
                .iter()
                .chain(&a.aggr_expr)
                .map(|e| cx.item(e))
                .collect()
        }
        LogicalPlan::Window(w) => {
            let cx = Context::new(&w.input, tz);
            let mut names = cx.names.clone();
            names.extend(w.window_expr.iter().map(|e| cx.item(e)));
            names
        }
        LogicalPlan::Values(v) => (1..=v.schema.fields().len())
            .map(|i| format!("col{i}"))
            .collect(),
        LogicalPlan::Union(u) => u
            .inputs
            .first()
            .map(|i| spark_names(i, tz))
            .unwrap_or_default(),
        LogicalPlan::Join(j) => {
            let left = spark_names(&j.left, tz);
            let right = spark_names(&j.right, tz);
            match j.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => left,
                JoinType::RightSemi | JoinType::RightAnti => right,
                _ => left.into_iter().chain(right).collect(),
            }
        }
        LogicalPlan::Filter(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Repartition(_)
        | LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(_)) => plan
            .inputs()
            .first()
            .map(|i| spark_names(i, tz))
            .unwrap_or_default(),
        _ => fields.clone(),
    };
    if named.len() == fields.len() {
        named
    } else {
        fields
    }
}

/// Names expressions over one input plan.
struct Context<'a> {
    schema: &'a DFSchema,
    names: Vec<String>,
    tz: &'a str,
}

impl<'a> Context<'a> {
    fn new(input: &'a LogicalPlan, tz: &'a str) -> Self {
        Self {
            schema: input.schema(),
            names: spark_names(input, tz),
            tz,
        }
    }

    fn column(&self, c: &Column) -> String {
        self.schema
            .maybe_index_of_column(c)
            .and_then(|i| self.names.get(i).cloned())
            .unwrap_or_else(|| c.name.clone())
    }

    fn list(&self, args: &[Expr]) -> String {
        args.iter()
            .map(|a| self.name(a))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Spark's name for an output column: a cast of a column keeps the column's name (Spark's
    /// rule for select items; inside an expression the cast is named).
    fn item(&self, e: &Expr) -> String {
        match e {
            Expr::Cast(c) if matches!(c.expr.as_ref(), Expr::Column(_)) => self.name(&c.expr),
            e => self.name(e),
        }
    }

    /// Spark's name for one expression.
    fn name(&self, e: &Expr) -> String {
        match e {
            // DataFusion plans `count(*)` as `count(1) AS "count(*)"`; Spark names it `count(1)`.
            Expr::Alias(Alias { expr, name, .. }) if name == "count(*)" => self.name(expr),
            // DataFusion's SQL planner names a call by an alias as `alias(t.a,Int64(1))` (for an
            // aggregate, over the aggregate's output column)
            Expr::Alias(Alias { expr, name, .. })
                if match expr.as_ref() {
                    Expr::ScalarFunction(_)
                    | Expr::AggregateFunction(_)
                    | Expr::HigherOrderFunction(_) => true,
                    Expr::Column(c) => c.name.ends_with(')'),
                    _ => false,
                } && name.ends_with(')')
                    && name.find('(').is_some_and(|i| is_identifier(&name[..i])) =>
            {
                let called = &name[..name.find('(').unwrap_or_default()];
                as_called(self.name(expr), called)
            }
            Expr::Alias(Alias { name, .. }) => name.clone(),
            Expr::Column(c) => self.column(c),
            // a year-month interval literal is named as Spark shows it, with its fields
            Expr::Literal(
                datafusion::scalar::ScalarValue::IntervalYearMonth(Some(m)),
                Some(meta),
            ) if let Some(fields) = meta.inner().get(crate::functions::ym_interval::FIELDS_KEY) => {
                crate::functions::ym_interval::show(*m, fields)
            }
            Expr::Literal(v, _) => literal_name(v, self.tz),
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (l, r) = (self.name(left), self.name(right));
                match op {
                    Operator::NotEq => format!("(NOT ({l} = {r}))"),
                    Operator::IsDistinctFrom => format!("(NOT ({l} <=> {r}))"),
                    Operator::IsNotDistinctFrom => format!("({l} <=> {r})"),
                    Operator::StringConcat => format!("concat({l}, {r})"),
                    Operator::And => format!("({l} AND {r})"),
                    Operator::Or => format!("({l} OR {r})"),
                    op => format!("({l} {op} {r})"),
                }
            }
            Expr::Not(x) => format!("(NOT {})", self.name(x)),
            Expr::Negative(x) => format!("(- {})", self.name(x)),
            Expr::IsNull(x) => format!("({} IS NULL)", self.name(x)),
            Expr::IsNotNull(x) => format!("({} IS NOT NULL)", self.name(x)),
            Expr::IsTrue(x) => format!("({} IS TRUE)", self.name(x)),
            Expr::IsFalse(x) => format!("({} IS FALSE)", self.name(x)),
            Expr::IsNotTrue(x) => format!("({} IS NOT TRUE)", self.name(x)),
            Expr::IsNotFalse(x) => format!("({} IS NOT FALSE)", self.name(x)),
            Expr::Between(Between {
                expr,
                negated,
                low,
                high,
            }) => {
                let b = format!(
                    "between({}, {}, {})",
                    self.name(expr),
                    self.name(low),
                    self.name(high)
                );
                if *negated { format!("(NOT {b})") } else { b }
            }
            Expr::Like(Like {
                negated,
                expr,
                pattern,
                case_insensitive,
                ..
            }) => {
                let op = if *case_insensitive { "ILIKE" } else { "LIKE" };
                let l = format!("{} {op} {}", self.name(expr), self.name(pattern));
                if *negated { format!("(NOT {l})") } else { l }
            }
            Expr::InList(InList {
                expr,
                list,
                negated,
            }) => {
                let i = format!("({} IN ({}))", self.name(expr), self.list(list));
                if *negated { format!("(NOT {i})") } else { i }
            }
            Expr::Case(Case {
                expr,
                when_then_expr,
                else_expr,
            }) => {
                let mut s = String::from("CASE");
                if let Some(x) = expr {
                    s.push_str(&format!(" {}", self.name(x)));
                }
                for (w, t) in when_then_expr {
                    s.push_str(&format!(" WHEN {} THEN {}", self.name(w), self.name(t)));
                }
                if let Some(x) = else_expr {
                    s.push_str(&format!(" ELSE {}", self.name(x)));
                }
                s.push_str(" END");
                s
            }
            Expr::Cast(c) => format!(
                "CAST({} AS {})",
                self.name(&c.expr),
                sql_string(c.field.data_type())
            ),
            Expr::TryCast(c) => format!(
                "TRY_CAST({} AS {})",
                self.name(&c.expr),
                sql_string(c.field.data_type())
            ),
            Expr::ScalarFunction(ScalarFunction { func, args })
                if let Some(label) = self.placeholder_label(func.inner().as_ref(), args, false) =>
            {
                label
            }
            Expr::AggregateFunction(AggregateFunction { func, params })
                if let Some(label) = self.placeholder_label(
                    func.inner().as_ref(),
                    &params.args,
                    params.distinct,
                ) =>
            {
                match &params.filter {
                    Some(f) => format!("{label} FILTER (WHERE {})", self.name(f)),
                    None => label,
                }
            }
            Expr::ScalarFunction(ScalarFunction { func, args }) => match func.name() {
                // a year-month interval literal is named as Spark shows it
                crate::functions::ym_interval::LITERAL_FUNCTION
                    if let [
                        Expr::Literal(months, _),
                        Expr::Literal(datafusion::scalar::ScalarValue::Utf8(Some(fields)), _),
                    ] = args.as_slice()
                        && let Ok(datafusion::scalar::ScalarValue::Int32(Some(m))) =
                            months.cast_to(&datafusion::arrow::datatypes::DataType::Int32) =>
                {
                    crate::functions::ym_interval::show(m, fields)
                }
                "spark_divide" if args.len() == 2 => {
                    format!("({} / {})", self.name(&args[0]), self.name(&args[1]))
                }
                "spark_div" if args.len() == 2 => {
                    format!("({} div {})", self.name(&args[0]), self.name(&args[1]))
                }
                // a subscript, `array[i]` or `map[key]`
                "array_element" | "get_item" if args.len() == 2 => {
                    format!("{}[{}]", self.name(&args[0]), self.name(&args[1]))
                }
                "get_field"
                    if args.len() == 2
                        && matches!(
                            args[0].get_type(self.schema),
                            Ok(datafusion::arrow::datatypes::DataType::Map(..))
                        ) =>
                {
                    format!("{}[{}]", self.name(&args[0]), self.name(&args[1]))
                }
                "if" => format!("(IF({}))", self.list(args)),
                // SQL's map(k1, v1, ...) is planned as map(array(k1, ...), array(v1, ...))
                "map" if args.len() == 2 => match (&args[0], &args[1]) {
                    (Expr::ScalarFunction(k), Expr::ScalarFunction(v))
                        if k.func.name() == "make_array" && v.func.name() == "make_array" =>
                    {
                        let pairs: Vec<Expr> = k
                            .args
                            .iter()
                            .zip(&v.args)
                            .flat_map(|(k, v)| [k.clone(), v.clone()])
                            .collect();
                        format!("map({})", self.list(&pairs))
                    }
                    _ => format!("map({})", self.list(args)),
                },
                name => format!(
                    "{}({})",
                    pretty_name(spark_function_name(name)),
                    self.list(args)
                ),
            },
            Expr::AggregateFunction(AggregateFunction { func, params }) => {
                let distinct = if params.distinct { "DISTINCT " } else { "" };
                let mut s = format!(
                    "{}({distinct}{})",
                    spark_function_name(func.name()),
                    self.list(named_args(func.name(), &params.args))
                );
                if let Some(f) = &params.filter {
                    s.push_str(&format!(" FILTER (WHERE {})", self.name(f)));
                }
                s
            }
            Expr::WindowFunction(w) => self.window(w),
            other => other.schema_name().to_string(),
        }
    }

    /// The registry's Spark name for a call planned as a placeholder (`crate::sql_functions`).
    fn placeholder_label(
        &self,
        func: &dyn std::any::Any,
        args: &[Expr],
        distinct: bool,
    ) -> Option<String> {
        let named: Vec<(Expr, String)> = args.iter().map(|a| (a.clone(), self.name(a))).collect();
        crate::placeholder::spark_label(func, &named, self.schema, distinct)
    }

    fn window(&self, w: &WindowFunction) -> String {
        let WindowFunctionParams {
            args,
            partition_by,
            order_by,
            window_frame,
            ..
        } = &w.params;
        let name = spark_function_name(w.fun.name());
        let partition: Vec<String> = partition_by.iter().map(|e| self.name(e)).collect();
        let order: Vec<String> = order_by.iter().map(|s| self.sort(s)).collect();
        let call = match &w.fun {
            WindowFunctionDefinition::AggregateUDF(f) => {
                self.placeholder_label(f.inner().as_ref(), args, w.params.distinct)
            }
            _ => None,
        };
        let call = call.unwrap_or_else(|| {
            let mut names: Vec<String> = named_args(name, args)
                .iter()
                .map(|a| self.name(a))
                .collect();
            if matches!(name, "lag" | "lead") {
                // Spark names the offset and default it fills in
                names.resize(3, "NULL".into());
                if names[1] == "NULL" {
                    names[1] = "1".into();
                }
            }
            format!("{name}({})", names.join(", "))
        });
        window_name(name, &call, args, &partition, &order, window_frame, true)
    }

    fn sort(&self, s: &SortExpr) -> String {
        format!(
            "{} {} {}",
            self.name(&s.expr),
            if s.asc { "ASC" } else { "DESC" },
            if s.nulls_first {
                "NULLS FIRST"
            } else {
                "NULLS LAST"
            }
        )
    }
}

/// Spark's text of a window frame (`ROWS BETWEEN -3 FOLLOWING AND CURRENT ROW`).
/// Spark's name of a window function call `call` (`lag(l, 1, NULL)`) over a window:
/// `call OVER (PARTITION BY .. ORDER BY .. frame)`. The ranking functions are named with the
/// frame they run over whatever the window says (`RANK`, `DENSE_RANK` and `PERCENT_RANK` in
/// upper case), `lag` / `lead` with the one row at their offset. A frame bound before the
/// current row is `1 PRECEDING` when the window came from SQL text (`from_sql`), `-1 FOLLOWING`
/// when from the DataFrame API, as Spark prints the literal it was given.
pub fn window_name(
    function: &str,
    call: &str,
    args: &[Expr],
    partition: &[String],
    order: &[String],
    window_frame: &WindowFrame,
    from_sql: bool,
) -> String {
    let mut spec = Vec::new();
    if !partition.is_empty() {
        spec.push(format!("PARTITION BY {}", partition.join(", ")));
    }
    if !order.is_empty() {
        spec.push(format!("ORDER BY {}", order.join(", ")));
    }
    let call = match function {
        "rank" | "dense_rank" | "percent_rank" => format!("{}()", function.to_uppercase()),
        _ => call.to_string(),
    };
    spec.push(match function {
        "row_number" | "rank" | "dense_rank" | "percent_rank" | "ntile" => {
            "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW".into()
        }
        "cume_dist" => "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW".into(),
        _ => offset_frame(function, args).unwrap_or_else(|| frame(window_frame, from_sql)),
    });
    format!("{call} OVER ({})", spec.join(" "))
}

/// The frame Spark names `lag` and `lead` with: the one row at their offset, `lag(x, 2)` as
/// `ROWS BETWEEN -2 FOLLOWING AND -2 FOLLOWING`.
fn offset_frame(name: &str, args: &[Expr]) -> Option<String> {
    let sign = match name {
        "lag" => -1,
        "lead" => 1,
        _ => return None,
    };
    let offset = match args.get(1) {
        None => 1,
        Some(Expr::Literal(v, _)) => {
            match v.cast_to(&datafusion::arrow::datatypes::DataType::Int64) {
                Ok(datafusion::scalar::ScalarValue::Int64(Some(k))) => k,
                _ => return None,
            }
        }
        Some(_) => return None,
    };
    let at = sign * offset;
    Some(format!("ROWS BETWEEN {at} FOLLOWING AND {at} FOLLOWING"))
}

/// A frame as Spark names it: `ROWS BETWEEN 1 PRECEDING AND CURRENT ROW` from SQL text,
/// `ROWS BETWEEN -1 FOLLOWING AND CURRENT ROW` from the DataFrame API.
fn frame(f: &WindowFrame, from_sql: bool) -> String {
    let units = match f.units {
        WindowFrameUnits::Rows => "ROWS",
        _ => "RANGE",
    };
    let bound = |b: &WindowFrameBound| match b {
        WindowFrameBound::CurrentRow => "CURRENT ROW".to_string(),
        WindowFrameBound::Preceding(v) if v.is_null() => "UNBOUNDED PRECEDING".into(),
        WindowFrameBound::Following(v) if v.is_null() => "UNBOUNDED FOLLOWING".into(),
        WindowFrameBound::Preceding(v) if from_sql => format!("{v} PRECEDING"),
        WindowFrameBound::Preceding(v) => format!("-{v} FOLLOWING"),
        WindowFrameBound::Following(v) => format!("{v} FOLLOWING"),
    };
    format!(
        "{units} BETWEEN {} AND {}",
        bound(&f.start_bound),
        bound(&f.end_bound)
    )
}

/// Spark's name of a literal in an expression name: numbers and strings as written,
/// `NULL`, `DATE '2024-01-01'`, `TIMESTAMP '...'`.
fn literal_name(v: &datafusion::scalar::ScalarValue, tz: &str) -> String {
    use datafusion::scalar::ScalarValue as S;
    if v.is_null() {
        return "NULL".into();
    }
    match v {
        S::Date32(_) | S::Date64(_) => format!("DATE '{}'", format_scalar(v, tz)),
        S::TimestampMicrosecond(_, Some(_)) | S::TimestampNanosecond(_, Some(_)) => {
            format!("TIMESTAMP '{}'", format_scalar(v, tz))
        }
        S::TimestampMicrosecond(_, None) | S::TimestampNanosecond(_, None) => {
            format!("TIMESTAMP_NTZ '{}'", format_scalar(v, tz))
        }
        S::Binary(Some(b)) | S::LargeBinary(Some(b)) | S::BinaryView(Some(b)) => format!(
            "X'{}'",
            b.iter().map(|x| format!("{x:02X}")).collect::<String>()
        ),
        _ => format_scalar(v, tz),
    }
}

/// The arguments a function's name shows: Spark leaves out parameters that are not children
/// of the expression (`approx_count_distinct`'s rsd).
fn named_args<'a>(function: &str, args: &'a [Expr]) -> &'a [Expr] {
    match function {
        "approx_count_distinct" => &args[..args.len().min(1)],
        _ => args,
    }
}

/// Spark's name for a function DataFusion knows under another name.
fn spark_function_name(name: &str) -> &str {
    match name {
        "make_array" => "array",
        "character_length" => "length",
        "substr" => "substring",
        "approx_distinct" => "approx_count_distinct",
        "var" | "var_sample" => "var_samp",
        "var_population" => "var_pop",
        "stddev_population" => "stddev_pop",
        "string_to_array" => "split",
        "now" => "current_timestamp",
        other => other,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn calls_are_named_as_called_in_sql() {
        assert_eq!(
            crate::call_names::as_called("avg(l)".into(), "mean"),
            "mean(l)"
        );
        assert_eq!(
            crate::call_names::as_called("RLIKE(s, p)".into(), "regexp_like"),
            "REGEXP_LIKE(s, p)"
        );
        assert_eq!(
            crate::call_names::as_called("collect_list(n)".into(), "array_agg"),
            "collect_list(n)"
        );
        assert_eq!(
            crate::call_names::as_called("(l % 7)".into(), "mod"),
            "(l % 7)"
        );
    }
    use super::*;
    use datafusion::logical_expr::{col, lit};

    #[test]
    fn repeated_names_get_distinct_qualifiers() {
        let exprs = unique_aliases(vec![
            (col("a"), "a".into()),
            (col("b"), "a".into()),
            (lit(1), "one".into()),
        ]);
        let names: Vec<String> = exprs.iter().map(|e| e.schema_name().to_string()).collect();
        assert_eq!(names, vec!["#0.a", "#1.a", "one"]);
    }

    #[test]
    fn names_expressions_like_spark() -> Result<()> {
        let plan = LogicalPlanBuilder::empty(true)
            .project(vec![lit(1).alias("id")])?
            .build()?;
        let e = (col("id") + lit(1)).not_eq(lit(2)).and(col("id").is_null());
        assert_eq!(
            expr_name(&e, plan.schema(), "UTC"),
            "((NOT ((id + 1) = 2)) AND (id IS NULL))"
        );
        Ok(())
    }
}
