//! Spark Connect expressions to DataFusion expressions. Every resolved expression carries the
//! name Spark would give its output column, so projections are aliased to Spark's names
//! (`(a + 1)`, `sum(x)`, `CAST(a AS INT)`). Column references resolve case-insensitively
//! against the input schema; a reference that carries a plan id (`df["col"]`) resolves to the
//! columns of that DataFrame, and to Spark's `AMBIGUOUS_REFERENCE` when that DataFrame appears
//! twice in the input (a self-join).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, DFSchema};
use datafusion::logical_expr::expr::{Sort, WindowFunction, WindowFunctionParams};
use datafusion::logical_expr::{
    Expr, ExprSchemable, WindowFrame, WindowFrameBound, WindowFrameUnits,
};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect::Expression;
use spark_connect_proto::spark::connect::expression::{
    self as pe, ExprType, cast::CastToType, window::window_frame,
};
use spate_common::names::{quote, split_name, suggestions};
use spate_common::{Error, Result};

use super::Resolver;
use crate::functions::{self, Arg, CallContext};
use crate::{literal, types};

/// A resolved expression with Spark's name for it.
#[derive(Debug, Clone)]
pub struct Named {
    /// The DataFusion expression (never aliased).
    pub expr: Expr,
    /// Spark's output column name.
    pub name: String,
}

impl Named {
    /// The expression aliased to its Spark name (a plain column keeps its qualifier unless
    /// renamed).
    pub fn aliased(&self) -> Expr {
        match &self.expr {
            Expr::Column(c) if c.name == self.name => self.expr.clone(),
            e => e.clone().alias(&self.name),
        }
    }
}

impl Resolver<'_> {
    /// Resolves an expression against `schema`.
    pub fn expr(&self, e: &Expression, schema: &DFSchema) -> Result<Named> {
        let Expression {
            common: _,
            expr_type,
        } = e;
        let et = expr_type
            .as_ref()
            .ok_or_else(|| Error::internal("expression without a kind"))?;
        match et {
            ExprType::Literal(l) => {
                let (v, name) = literal::from_proto(l, &self.tz)?;
                Ok(Named {
                    expr: Expr::Literal(v, None),
                    name,
                })
            }
            ExprType::UnresolvedAttribute(a) => {
                let pe::UnresolvedAttribute {
                    unparsed_identifier,
                    plan_id,
                    is_metadata_column: _,
                } = a;
                self.column(unparsed_identifier, *plan_id, schema)
            }
            ExprType::UnresolvedFunction(f) => {
                let pe::UnresolvedFunction {
                    function_name,
                    arguments,
                    is_distinct,
                    is_user_defined_function: _,
                    is_internal: _,
                } = f;
                self.call(function_name, arguments, *is_distinct, schema)
            }
            ExprType::CallFunction(f) => {
                let spark_connect_proto::spark::connect::CallFunction {
                    function_name,
                    arguments,
                } = f;
                self.call(function_name, arguments, false, schema)
            }
            ExprType::ExpressionString(s) => self.sql_expr(&s.expression, schema),
            ExprType::UnresolvedStar(_) => Err(Error::analysis(
                "INVALID_USAGE_OF_STAR_OR_REGEX",
                "invalid usage of '*' in an expression; use it alone in select() or inside count()",
            )),
            ExprType::Alias(a) => {
                let pe::Alias {
                    expr,
                    name,
                    metadata,
                } = &**a;
                let inner = self.expr(required(expr)?, schema)?;
                // a generator takes its aliases as its output columns' names
                if let Some(aliased) = crate::functions::generator::with_aliases(&inner.expr, name)
                {
                    return Ok(Named {
                        expr: aliased,
                        name: name.join(", "),
                    });
                }
                let name = match name.as_slice() {
                    [one] => one.clone(),
                    _ => {
                        return Err(Error::unsupported(
                            "multi-name alias outside of a generator",
                        ));
                    }
                };
                // Spark metadata rides on the alias to the column's field
                let expr = match types::spark_metadata(metadata.as_deref()) {
                    Some(m) => inner.expr.alias_with_metadata(name.clone(), Some(m)),
                    None => inner.expr,
                };
                Ok(Named { expr, name })
            }
            ExprType::Cast(c) => {
                let pe::Cast {
                    expr,
                    cast_to_type,
                    eval_mode,
                } = &**c;
                let inner = self.expr(required(expr)?, schema)?;
                let to = match cast_to_type {
                    Some(CastToType::Type(t)) => types::from_proto(t, &self.tz)?,
                    Some(CastToType::TypeStr(s)) => {
                        crate::type_parser::parse_data_type(s, &self.tz)?
                    }
                    None => return Err(Error::internal("cast without a target type")),
                };
                let name = format!("CAST({} AS {})", inner.name, types::sql_string(&to));
                let try_mode = *eval_mode == pe::cast::EvalMode::Try as i32
                    || (*eval_mode != pe::cast::EvalMode::Ansi as i32 && !self.ansi);
                let expr = self.cast_expr(inner.expr, &to, try_mode, schema)?;
                Ok(Named { expr, name })
            }
            ExprType::SortOrder(_) => Err(Error::analysis(
                "INVALID_SORT_ORDER",
                "a sort order can only be used in orderBy or a window",
            )),
            ExprType::Window(w) => self.window(w, schema),
            ExprType::UnresolvedExtractValue(x) => {
                let pe::UnresolvedExtractValue { child, extraction } = &**x;
                let child = self.expr(required(child)?, schema)?;
                let key = self.expr(required(extraction)?, schema)?;
                // Spark names a struct field taken this way `r.b` (a column path `r.b` is `b`)
                let path = matches!(child.expr.get_type(schema)?, DataType::Struct(_))
                    .then(|| child.name.clone());
                let mut named = self.extract(child, key, schema)?;
                if let Some(parent) = path {
                    named.name = format!("{parent}.{}", named.name);
                }
                Ok(named)
            }
            ExprType::UnresolvedNamedLambdaVariable(v) => {
                let name = v.name_parts.join(".");
                self.lambda_variable(&name)
                    .ok_or_else(|| unresolved_column(&name, schema))
            }
            ExprType::LambdaFunction(_) => Err(Error::analysis(
                "INVALID_LAMBDA_FUNCTION_CALL.NON_HIGHER_ORDER_FUNCTION",
                "a lambda function can only be an argument of a higher-order function",
            )),
            ExprType::UpdateFields(u) => self.update_fields(u, schema),
            ExprType::SubqueryExpression(s) => self.subquery(s, schema),
            ExprType::UnresolvedRegex(r) => Err(Error::unsupported(format!(
                "colRegex('{}') outside of select",
                r.col_name
            ))),
            other => Err(Error::unsupported(format!(
                "expression {}",
                kind_name(other)
            ))),
        }
    }

    fn cast_expr(&self, e: Expr, to: &DataType, try_mode: bool, schema: &DFSchema) -> Result<Expr> {
        let from = e.get_type(schema)?;
        Ok(crate::functions::spark_cast(
            e, &from, to, try_mode, &self.tz,
        ))
    }

    fn call(
        &self,
        name: &str,
        arguments: &[Expression],
        distinct: bool,
        schema: &DFSchema,
    ) -> Result<Named> {
        if arguments.iter().any(is_lambda) {
            return self.higher_order(name, arguments, schema);
        }
        let mut args = Vec::with_capacity(arguments.len());
        for a in arguments {
            // `count(expr("*"))` is `count(*)`, as Spark's parser reads it
            if name.eq_ignore_ascii_case("count")
                && matches!(&a.expr_type, Some(ExprType::ExpressionString(s)) if s.expression.trim() == "*")
            {
                args.push(Arg {
                    expr: Expr::Literal(ScalarValue::Int32(Some(1)), None),
                    name: "*".into(),
                });
                continue;
            }
            if let Some(ExprType::UnresolvedStar(star)) = &a.expr_type {
                if name.eq_ignore_ascii_case("count") {
                    args.push(Arg {
                        expr: Expr::Literal(ScalarValue::Int32(Some(1)), None),
                        name: "*".into(),
                    });
                } else {
                    // Spark expands a star among a function's arguments: `hash(*)` is
                    // `hash(c1, c2)`
                    let columns =
                        self.star(star.unparsed_target.as_deref(), star.plan_id, schema)?;
                    args.extend(columns.into_iter().map(|n| Arg {
                        expr: n.expr,
                        name: n.name,
                    }));
                }
                continue;
            }
            let n = self.expr(a, schema)?;
            args.push(Arg {
                expr: n.expr,
                name: n.name,
            });
        }
        if name.eq_ignore_ascii_case("struct") {
            let spark_name = functions::default_name("struct", &args, false);
            let items = arguments
                .iter()
                .zip(args)
                .map(|(proto, arg)| {
                    let named = matches!(
                        proto.expr_type,
                        Some(ExprType::Alias(_) | ExprType::UnresolvedAttribute(_))
                    ) || matches!(arg.expr, Expr::Column(_));
                    (arg.expr, named.then_some(arg.name))
                })
                .collect();
            return Ok(Named {
                expr: functions::spark_struct(items),
                name: spark_name,
            });
        }
        let cx = CallContext {
            state: self.state,
            schema,
            tz: &self.tz,
            distinct,
            ansi: self.ansi,
            map_last_win: self.map_last_win,
            typing: false,
        };
        let (expr, name) = functions::resolve(name, args, &cx)?;
        Ok(Named { expr, name })
    }

    /// Parses a Spark SQL expression (`selectExpr`, `F.expr`) against `schema`.
    pub fn sql_expr(&self, text: &str, schema: &DFSchema) -> Result<Named> {
        let mut item = parse_select_item(text)
            .map_err(|e| Error::parse(format!("syntax error in expression '{text}': {e}")))?;
        crate::sql_functions::spark_syntax(&mut item.expr);
        let names = crate::sql_functions::names_in(&item.expr);
        let planning = crate::sql_functions::planning_state(
            self.state,
            &names,
            &self.tz,
            self.ansi,
            self.map_last_win,
        )?;
        let expr = planning
            .as_ref()
            .unwrap_or(self.state)
            .create_logical_expr_from_sql_expr(item, schema)
            .map_err(|e| match e {
                datafusion::error::DataFusionError::SQL(..) => {
                    Error::parse(format!("syntax error in expression '{text}': {e}"))
                }
                other => crate::resolver::column_error(other, schema),
            })?;
        let name = crate::output_names::expr_name(&expr, schema, &self.tz);
        let expr = match expr {
            Expr::Alias(a) => *a.expr,
            e => e,
        };
        let expr = crate::literal::int_literals(expr)?.data;
        let expr = crate::functions::spark_structs_in(expr)?.data;
        let expr = crate::functions::spark_casts_in(expr, schema, &self.tz, self.ansi)?.data;
        let expr = crate::sql_functions::replace_placeholders(expr, schema)?.data;
        Ok(Named { expr, name })
    }

    /// Resolves an expression that is an output column (a select item, a grouping key): as
    /// [`Resolver::expr`], but a cast of a column (`col("x").cast("int")`, casts of casts of
    /// it) is named after the column, as Spark names it; elsewhere it is `CAST(x AS INT)`.
    pub fn output_expr(&self, e: &Expression, schema: &DFSchema) -> Result<Named> {
        let mut named = self.expr(e, schema)?;
        let mut inner = e;
        while let Some(ExprType::Cast(c)) = &inner.expr_type {
            match c.expr.as_deref() {
                Some(child) => inner = child,
                None => break,
            }
        }
        if !std::ptr::eq(inner, e)
            && matches!(inner.expr_type, Some(ExprType::UnresolvedAttribute(_)))
        {
            named.name = self.expr(inner, schema)?.name;
        }
        Ok(named)
    }

    /// Resolves a column name (possibly `a.b.c`, possibly tied to a DataFrame by plan id); in a
    /// subquery, a name the subquery's input does not have is looked up in the queries around
    /// it, innermost first, as an outer reference.
    pub fn column(&self, name: &str, plan_id: Option<i64>, schema: &DFSchema) -> Result<Named> {
        let error = match self.column_in(name, plan_id, schema) {
            Err(e @ Error::Analysis { .. }) if matches!(&e, Error::Analysis { class, .. } if class.starts_with("UNRESOLVED_COLUMN")) => {
                e
            }
            done => return done,
        };
        for outer in self.outer_scopes() {
            if let Ok(Named {
                expr: Expr::Column(c),
                name,
            }) = self.column_in(name, plan_id, &outer)
            {
                let (_, field) = outer.qualified_field_from_column(&c)?;
                return Ok(Named {
                    expr: Expr::OuterReferenceColumn(field.clone(), c),
                    name,
                });
            }
        }
        Err(error)
    }

    fn column_in(&self, name: &str, plan_id: Option<i64>, schema: &DFSchema) -> Result<Named> {
        if let Some(id) = plan_id
            && let Some(found) = self.column_by_plan_id(name, id, schema)?
        {
            return Ok(found);
        }
        let parts = split_name(name);
        let matches_name = |field: &str, want: &str| field.eq_ignore_ascii_case(want);
        // qualifier.column[.field...]
        if parts.len() >= 2 {
            let hits: Vec<Column> = schema
                .columns()
                .into_iter()
                .filter(|c| {
                    c.relation
                        .as_ref()
                        .is_some_and(|r| r.table().eq_ignore_ascii_case(&parts[0]))
                        && matches_name(&c.name, &parts[1])
                })
                .collect();
            if let [c] = hits.as_slice() {
                let base = Named {
                    expr: Expr::Column(c.clone()),
                    name: c.name.clone(),
                };
                return self.fields(base, &parts[2..], schema);
            }
        }
        let hits: Vec<Column> = schema
            .columns()
            .into_iter()
            .filter(|c| matches_name(&c.name, &parts[0]))
            .collect();
        match hits.as_slice() {
            [c] => {
                let base = Named {
                    expr: Expr::Column(c.clone()),
                    name: c.name.clone(),
                };
                self.fields(base, &parts[1..], schema)
            }
            [] => Err(unresolved_column(name, schema)),
            many => Err(ambiguous(name, many)),
        }
    }

    fn column_by_plan_id(&self, name: &str, id: i64, schema: &DFSchema) -> Result<Option<Named>> {
        let parts = split_name(name);
        let instances = self.plan_columns(id);
        // Exact (qualified) matches only: an unqualified column would match any qualifier.
        let present = schema.columns();
        let mut hits: Vec<Column> = Vec::new();
        for instance in instances {
            for c in instance {
                if c.name.eq_ignore_ascii_case(&parts[0])
                    && present.contains(&c)
                    && !hits.contains(&c)
                {
                    hits.push(c);
                }
            }
        }
        match hits.as_slice() {
            [] => Ok(None),
            [c] => {
                let base = Named {
                    expr: Expr::Column(c.clone()),
                    name: c.name.clone(),
                };
                self.fields(base, &parts[1..], schema).map(Some)
            }
            many => Err(ambiguous(name, many)),
        }
    }

    fn fields(&self, mut base: Named, path: &[String], schema: &DFSchema) -> Result<Named> {
        for field in path {
            let key = Named {
                expr: Expr::Literal(ScalarValue::Utf8(Some(field.clone())), None),
                name: field.clone(),
            };
            base = self.extract(base, key, schema)?;
        }
        Ok(base)
    }

    /// `child[key]`: a struct field, an array element (0-based, as Spark's `getItem`), or a map
    /// value.
    fn extract(&self, child: Named, key: Named, schema: &DFSchema) -> Result<Named> {
        let t = child.expr.get_type(schema)?;
        match t {
            DataType::Struct(fields) => {
                let Expr::Literal(ScalarValue::Utf8(Some(want)), _) = &key.expr else {
                    return Err(Error::analysis(
                        "INVALID_EXTRACT_FIELD",
                        "a struct field must be named by a string",
                    ));
                };
                let Some(f) = fields.iter().find(|f| f.name().eq_ignore_ascii_case(want)) else {
                    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
                    return Err(Error::analysis(
                        "FIELD_NOT_FOUND",
                        format!(
                            "no such struct field {} in {}",
                            quote(want),
                            names.join(", ")
                        ),
                    ));
                };
                let expr =
                    datafusion::functions::core::expr_fn::get_field(child.expr, f.name().as_str());
                Ok(Named {
                    expr,
                    name: f.name().clone(),
                })
            }
            DataType::List(_) | DataType::LargeList(_) => {
                let expr = crate::functions::collection::array_item(
                    child.expr, key.expr, false, self.ansi,
                );
                Ok(Named {
                    expr,
                    name: format!("{}[{}]", child.name, key.name),
                })
            }
            DataType::Map(..) => {
                let values =
                    datafusion::functions_nested::expr_fn::map_extract(child.expr, key.expr);
                let expr = datafusion::functions_nested::expr_fn::array_element(
                    values,
                    Expr::Literal(ScalarValue::Int64(Some(1)), None),
                );
                Ok(Named {
                    expr,
                    name: format!("{}[{}]", child.name, key.name),
                })
            }
            other => Err(Error::analysis(
                "INVALID_EXTRACT_BASE_FIELD_TYPE",
                format!(
                    "can't extract a value from {}: need a struct, array or map, not {}",
                    child.name,
                    types::simple_string(&other)
                ),
            )),
        }
    }

    /// Resolves a sort order.
    pub fn sort(&self, s: &pe::SortOrder, schema: &DFSchema) -> Result<(Sort, String)> {
        let pe::SortOrder {
            child,
            direction,
            null_ordering,
        } = s;
        let child = self.expr(required(child)?, schema)?;
        let asc = *direction != pe::sort_order::SortDirection::Descending as i32;
        let nulls_first = match *null_ordering {
            x if x == pe::sort_order::NullOrdering::SortNullsFirst as i32 => true,
            x if x == pe::sort_order::NullOrdering::SortNullsLast as i32 => false,
            _ => asc,
        };
        let name = format!(
            "{} {} NULLS {}",
            child.name,
            if asc { "ASC" } else { "DESC" },
            if nulls_first { "FIRST" } else { "LAST" }
        );
        Ok((Sort::new(child.expr, asc, nulls_first), name))
    }

    /// Resolves an expression that may itself be a sort order (orderBy arguments).
    pub fn sort_expr(&self, e: &Expression, schema: &DFSchema) -> Result<Sort> {
        match &e.expr_type {
            Some(ExprType::SortOrder(s)) => Ok(self.sort(s, schema)?.0),
            _ => Ok(Sort::new(self.expr(e, schema)?.expr, true, true)),
        }
    }

    fn window(&self, w: &pe::Window, schema: &DFSchema) -> Result<Named> {
        let pe::Window {
            window_function,
            partition_spec,
            order_spec,
            frame_spec,
        } = w;
        let func = self.expr(required(window_function)?, schema)?;
        let partition_by = partition_spec
            .iter()
            .map(|p| Ok(self.expr(p, schema)?.expr))
            .collect::<Result<Vec<_>>>()?;
        let mut order_by = Vec::new();
        let mut order_names = Vec::new();
        for o in order_spec {
            let (s, n) = self.sort(o, schema)?;
            order_by.push(s);
            order_names.push(n);
        }
        let frame = match frame_spec {
            Some(f) => Some(self.frame(f, schema)?),
            None => None,
        };
        let (fun, args, distinct, filter, null_treatment) = match func.expr {
            Expr::AggregateFunction(agg) => (
                datafusion::logical_expr::expr::WindowFunctionDefinition::AggregateUDF(agg.func),
                agg.params.args,
                agg.params.distinct,
                agg.params.filter,
                agg.params.null_treatment,
            ),
            Expr::WindowFunction(wf) => (
                wf.fun,
                wf.params.args,
                false,
                None,
                wf.params.null_treatment,
            ),
            other => {
                return Err(Error::analysis(
                    "UNSUPPORTED_EXPR_FOR_WINDOW",
                    format!("expression {other} is not supported within a window function"),
                ));
            }
        };
        let has_order = !order_by.is_empty();
        let frame =
            frame.unwrap_or_else(|| WindowFrame::new(if has_order { Some(false) } else { None }));
        let expr = Expr::WindowFunction(Box::new(WindowFunction {
            fun,
            params: WindowFunctionParams {
                args,
                partition_by,
                order_by,
                window_frame: frame,
                filter,
                null_treatment,
                distinct,
            },
        }));
        // Spark's ranking functions are `int` (DataFusion's are unsigned 64-bit)
        let expr = crate::functions::ranking::int_rankings_in(expr)?.data;
        let partition_names = partition_spec
            .iter()
            .map(|p| self.expr(p, schema).map(|n| n.name))
            .collect::<Result<Vec<_>>>()?;
        let Expr::WindowFunction(w) = &expr else {
            return Err(Error::internal("a window expression without its function"));
        };
        let name = crate::output_names::window_name(
            w.fun.name(),
            &func.name,
            &w.params.args,
            &partition_names,
            &order_names,
            &w.params.window_frame,
            false,
        );
        Ok(Named { expr, name })
    }

    fn frame(&self, f: &pe::window::WindowFrame, schema: &DFSchema) -> Result<WindowFrame> {
        let pe::window::WindowFrame {
            frame_type,
            lower,
            upper,
        } = f;
        let units = if *frame_type == window_frame::FrameType::Range as i32 {
            WindowFrameUnits::Range
        } else {
            WindowFrameUnits::Rows
        };
        let bound = |b: &Option<Box<window_frame::FrameBoundary>>,
                     is_lower: bool|
         -> Result<WindowFrameBound> {
            use window_frame::frame_boundary::Boundary;
            let unbounded = || {
                if is_lower {
                    WindowFrameBound::Preceding(ScalarValue::Null)
                } else {
                    WindowFrameBound::Following(ScalarValue::Null)
                }
            };
            Ok(match b.as_ref().and_then(|b| b.boundary.as_ref()) {
                None | Some(Boundary::Unbounded(_)) => unbounded(),
                Some(Boundary::CurrentRow(_)) => WindowFrameBound::CurrentRow,
                Some(Boundary::Value(v)) => {
                    let n = self.expr(v, schema)?;
                    let Expr::Literal(value, _) = n.expr else {
                        return Err(Error::analysis(
                            "INVALID_WINDOW_FRAME",
                            "a window frame bound must be a literal",
                        ));
                    };
                    let as_i64 = match value.cast_to(&DataType::Int64)? {
                        ScalarValue::Int64(Some(x)) => x,
                        _ => 0,
                    };
                    let magnitude = |x: i64| match units {
                        WindowFrameUnits::Rows => ScalarValue::UInt64(Some(x.unsigned_abs())),
                        _ => match &value {
                            ScalarValue::Int32(_) => {
                                ScalarValue::Int32(Some(x.unsigned_abs() as i32))
                            }
                            other if other.data_type().is_floating() => value.clone(),
                            _ => ScalarValue::Int64(Some(x.abs())),
                        },
                    };
                    if as_i64 < 0 {
                        WindowFrameBound::Preceding(magnitude(as_i64))
                    } else if as_i64 == 0 {
                        WindowFrameBound::CurrentRow
                    } else {
                        WindowFrameBound::Following(magnitude(as_i64))
                    }
                }
            })
        };
        Ok(WindowFrame::new_bounds(
            units,
            bound(lower, true)?,
            bound(upper, false)?,
        ))
    }
}

/// The boxed child of a message, or a protocol error.
pub fn required<T>(b: &Option<T>) -> Result<&T> {
    b.as_ref()
        .ok_or_else(|| Error::internal("a required expression is missing from the plan"))
}

/// Spark's `UNRESOLVED_COLUMN.WITH_SUGGESTION` for `name` against `schema`.
pub fn unresolved_column(name: &str, schema: &DFSchema) -> Error {
    let fields: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let s = suggestions(name, fields);
    Error::Analysis {
        class: "UNRESOLVED_COLUMN.WITH_SUGGESTION".into(),
        message: format!(
            "A column, variable, or function parameter with name {} cannot be resolved. Did you mean one of the following? [{}].",
            quote(name),
            s.join(", ")
        ),
        params: vec![
            ("objectName".into(), quote(name)),
            ("proposal".into(), s.join(", ")),
        ],
    }
}

fn ambiguous(name: &str, hits: &[Column]) -> Error {
    let list: Vec<String> = hits.iter().map(|c| quote(&c.name)).collect();
    Error::Analysis {
        class: "AMBIGUOUS_REFERENCE".into(),
        message: format!(
            "Reference {} is ambiguous, could be: [{}].",
            quote(name),
            list.join(", ")
        ),
        params: vec![
            ("name".into(), quote(name)),
            ("referenceNames".into(), format!("[{}]", list.join(", "))),
        ],
    }
}

fn kind_name(e: &ExprType) -> String {
    let debug = format!("{e:?}");
    debug.split('(').next().unwrap_or("unknown").to_string()
}

/// Parses expression text as Spark reads a select item: an expression, optionally followed by
/// an alias with or without `AS` (`map(1, 2) m`).
fn parse_select_item(
    text: &str,
) -> datafusion::error::Result<datafusion::sql::sqlparser::ast::ExprWithAlias> {
    use datafusion::sql::sqlparser::ast::{ExprWithAlias, SelectItem};
    use datafusion::sql::sqlparser::parser::Parser;
    use datafusion::sql::sqlparser::tokenizer::Token;
    let mut parser = Parser::new(&crate::sql_dialect::SparkDialect).try_with_sql(text)?;
    let item = parser.parse_select_item()?;
    if parser.peek_token().token != Token::EOF {
        let found = parser.peek_token();
        return Err(datafusion::error::DataFusionError::SQL(
            Box::new(
                datafusion::sql::sqlparser::parser::ParserError::ParserError(format!(
                    "Expected: end of expression, found: {found}"
                )),
            ),
            None,
        ));
    }
    match item {
        SelectItem::UnnamedExpr(expr) => Ok(ExprWithAlias { expr, alias: None }),
        SelectItem::ExprWithAlias { expr, alias } => Ok(ExprWithAlias {
            expr,
            alias: Some(alias),
        }),
        other => Err(datafusion::error::DataFusionError::Plan(format!(
            "'{other}' is not an expression"
        ))),
    }
}
/// Whether a call argument is a lambda.
pub fn is_lambda(e: &Expression) -> bool {
    matches!(e.expr_type, Some(ExprType::LambdaFunction(_)))
}
