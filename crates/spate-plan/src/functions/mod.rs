//! The one function registry. A Spark function name resolves, in order, to: an operator or a
//! Spark function whose shape needs rewriting (this module's tables, one family per file), then
//! a function registered in the session's DataFusion state — where `datafusion-spark`'s
//! Spark-compatible functions are registered over DataFusion's built-ins, so SQL text sees the
//! same functions. An unknown name is Spark's `UNRESOLVED_ROUTINE`.

mod aes;
mod aggregate;
pub(crate) mod approx_distinct;
mod arithmetic;
mod assertions;
mod binary;
mod bitmap;
mod cast;
pub(crate) mod collection;
mod compositions;
mod conversion;
mod count_min_sketch;
mod csv_text;
mod datetime;
mod datetime_patterns;
mod format_number;
pub mod generator;
mod geo;
pub mod higher_order;
mod intervals;
mod java_math;
pub(crate) mod java_random;
mod json;
mod json_path;
mod kll;
mod make_timestamp;
pub mod map_lambdas;
mod maps;
mod mask;
mod math;
mod mode;
mod moments;
mod months;
mod murmur3;
mod number_format;
mod operators;
mod overloads;
mod percentile;
mod random;
pub mod ranking;
mod reflect;
mod sentences;
mod sequence;
mod session_window;
mod shuffle;
mod simple;
mod sketch_agg;
mod sketches;
mod spark_avg;
mod string;
mod time;
mod time_bucket;
mod time_window;
mod timestamp_units;
mod try_arith;
mod tuple;
mod variant;
mod xml;
mod xpath;
pub mod ym_interval;
pub(crate) use time_window::parse_interval;

pub use approx_distinct::ApproxCountDistinct;
pub use arithmetic::SparkSqlPlanner;
pub use cast::{spark_cast, spark_casts_in, to_spark_string};
pub use json::decode_json_values;
pub(crate) use random::{XorShiftRandom, fresh_seed};
pub use spark_avg::spark_avg_udaf;

use datafusion::common::DFSchema;
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::{AggregateFunction, ScalarFunction};
use datafusion::logical_expr::{Expr, ExprSchemable};
use spate_common::{Error, Result};

/// A resolved argument: the expression and the name Spark gives it.
#[derive(Debug, Clone)]
pub struct Arg {
    /// The DataFusion expression.
    pub expr: Expr,
    /// Spark's name for it, used to name the call.
    pub name: String,
}

/// What a function call needs besides its arguments.
pub struct CallContext<'a> {
    /// The session's DataFusion state (function registry).
    pub state: &'a SessionState,
    /// The input schema, for argument types.
    pub schema: &'a DFSchema,
    /// Session time zone.
    pub tz: &'a str,
    /// Whether `DISTINCT` was requested.
    pub distinct: bool,
    /// Whether ANSI mode is on.
    pub ansi: bool,
    /// Whether a map built with a key twice keeps its last value (else it is an error).
    pub map_last_win: bool,
    /// Whether the call is only being typed: SQL planning asks a call's type with its
    /// non-constant arguments as columns, so a function that needs a literal argument may
    /// then take a column of the literal's type.
    pub typing: bool,
}

/// How a family of rewritten functions resolves a call: `None` when the name is not its own.
type FamilyResolver = fn(&str, &[Arg], &CallContext<'_>) -> Result<Option<(Expr, String)>>;

/// The families of rewritten functions, in the order they are asked.
const FAMILIES: [FamilyResolver; 47] = [
    operators::resolve,
    variant::resolve,
    reflect::resolve,
    time_bucket::resolve,
    geo::resolve,
    xml::resolve,
    count_min_sketch::resolve,
    mode::resolve,
    bitmap::resolve,
    mask::resolve,
    assertions::resolve,
    compositions::resolve,
    java_math::resolve,
    sketches::resolve,
    tuple::resolve,
    kll::resolve,
    simple::resolve,
    binary::resolve,
    overloads::resolve,
    math::resolve,
    format_number::resolve,
    aggregate::resolve,
    datetime::resolve,
    json::resolve,
    json_path::resolve,
    months::resolve,
    make_timestamp::resolve,
    time::resolve,
    timestamp_units::resolve,
    xpath::resolve,
    sentences::resolve,
    number_format::resolve,
    aes::resolve,
    maps::resolve,
    csv_text::resolve,
    intervals::resolve,
    time_window::resolve,
    session_window::resolve,
    collection::resolve,
    string::resolve,
    conversion::resolve,
    murmur3::resolve,
    sequence::resolve,
    generator::resolve,
    random::resolve,
    shuffle::resolve,
    try_arith::resolve,
];

/// Resolves a Spark function call to a DataFusion expression and its Spark name.
pub fn resolve(name: &str, args: Vec<Arg>, cx: &CallContext<'_>) -> Result<(Expr, String)> {
    let lower = name.to_lowercase();
    for family in FAMILIES {
        if let Some(done) = family(&lower, &args, cx)? {
            return Ok(done);
        }
    }
    if matches!(lower.as_str(), "map" | "create_map")
        && !args.is_empty()
        && args.len().is_multiple_of(2)
    {
        // Spark's map(k1, v1, k2, v2, ...) is DataFusion's map([k1, k2, ...], [v1, v2, ...])
        let name = default_name("map", &args, false);
        let (keys, values): (Vec<Expr>, Vec<Expr>) = args
            .chunks(2)
            .map(|kv| (kv[0].expr.clone(), kv[1].expr.clone()))
            .unzip();
        let keys = call_registered(cx, "make_array", keys)?;
        let values = call_registered(cx, "make_array", values)?;
        use datafusion::arrow::datatypes::DataType;
        let element = |e: &Expr| -> Result<DataType> {
            Ok(match e.get_type(cx.schema)? {
                DataType::List(f) => f.data_type().clone(),
                other => other,
            })
        };
        let (key, value) = (element(&keys)?, element(&values)?);
        return Ok((maps::build(keys, values, key, value, cx.map_last_win), name));
    }
    let spark_name = if matches!(lower.as_str(), "lag" | "lead") {
        // Spark names the offset and default it fills in: `lag(l, 1, NULL)`
        let mut names: Vec<String> = args.iter().map(|a| a.name.clone()).collect();
        names.resize(3, "NULL".into());
        if args.len() < 2 {
            names[1] = "1".into();
        }
        format!("{lower}({})", names.join(", "))
    } else if matches!(lower.as_str(), "substr" | "substring") && args.len() == 2 {
        // the length Spark fills in
        format!("{lower}({}, {}, 2147483647)", args[0].name, args[1].name)
    } else {
        default_name(&crate::call_names::pretty_name(&lower), &args, cx.distinct)
    };
    let target = alias_of(&lower);
    let exprs: Vec<Expr> = args.into_iter().map(|a| a.expr).collect();
    Ok((call_registered(cx, target, exprs)?, spark_name))
}

/// What a function name in SQL text is to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlRoute {
    /// A scalar function the registry resolves (rewrites, aliases, or an unknown name).
    Scalar,
    /// An aggregate the registry resolves.
    Aggregate,
}

/// The names of the scalar functions the registry's families rewrite.
const SCALAR_REWRITES: [&[&str]; 43] = [
    operators::SQL_NAMES,
    variant::SQL_NAMES,
    reflect::SQL_NAMES,
    time_bucket::SQL_NAMES,
    geo::SQL_NAMES,
    xml::SQL_NAMES,
    mask::SQL_NAMES,
    assertions::SQL_NAMES,
    compositions::SQL_NAMES,
    java_math::SQL_NAMES,
    sketches::SQL_NAMES,
    tuple::SQL_NAMES,
    kll::SQL_NAMES,
    simple::SQL_NAMES,
    binary::SQL_NAMES,
    overloads::SQL_NAMES,
    math::SQL_NAMES,
    format_number::SQL_NAMES,
    datetime::SQL_NAMES,
    json::SQL_NAMES,
    json_path::SQL_NAMES,
    months::SQL_NAMES,
    make_timestamp::SQL_NAMES,
    time::SQL_NAMES,
    timestamp_units::SQL_NAMES,
    xpath::SQL_NAMES,
    sentences::SQL_NAMES,
    number_format::SQL_NAMES,
    aes::SQL_NAMES,
    maps::SQL_NAMES,
    csv_text::SQL_NAMES,
    intervals::SQL_NAMES,
    time_window::SQL_NAMES,
    session_window::SQL_NAMES,
    collection::SQL_NAMES,
    string::SQL_NAMES,
    generator::SQL_NAMES,
    sequence::SQL_NAMES,
    murmur3::SQL_NAMES,
    conversion::SQL_NAMES,
    random::SQL_NAMES,
    shuffle::SQL_NAMES,
    try_arith::SQL_NAMES,
];

/// Which of the registry's families rewrites `name` (lower case), if one does.
fn rewritten(name: &str) -> Option<SqlRoute> {
    if aggregate::SQL_NAMES.contains(&name)
        || kll::AGG_NAMES.contains(&name)
        || sketches::AGG_NAMES.contains(&name)
        || tuple::AGG_NAMES.contains(&name)
        || mode::AGG_NAMES.contains(&name)
        || bitmap::AGG_NAMES.contains(&name)
        || variant::AGG_NAMES.contains(&name)
        || count_min_sketch::AGG_NAMES.contains(&name)
    {
        Some(SqlRoute::Aggregate)
    } else if SCALAR_REWRITES.iter().any(|names| names.contains(&name)) {
        Some(SqlRoute::Scalar)
    } else {
        None
    }
}

/// Functions PySpark's DataFrame API calls by name that are not among Spark SQL's functions:
/// SQL text does not know them (`UNRESOLVED_ROUTINE`), nor does `functionExists`.
const DATAFRAME_ONLY: &[&str] = &["product"];

/// Whether `name` (lower case) is a DataFrame-only function (see [`DATAFRAME_ONLY`]).
pub fn dataframe_only(name: &str) -> bool {
    DATAFRAME_ONLY.contains(&name)
}

/// Whether the session state has a function (of any kind) named `name`.
fn registered(name: &str, state: &SessionState) -> bool {
    state.scalar_functions().contains_key(name)
        || state.aggregate_functions().contains_key(name)
        || state.window_functions().contains_key(name)
        || state.higher_order_functions().contains_key(name)
}

/// Whether the registry resolves `name` (a Spark function name, any case) to a function:
/// what `spark.catalog.functionExists` answers.
pub fn knows(name: &str, state: &SessionState) -> bool {
    let lower = name.to_lowercase();
    rewritten(&lower).is_some()
        || operators::SYMBOLS.contains(&lower.as_str())
        // `CAST(x AS type)` is syntax the planners read, and one of Spark's functions
        || lower == "cast"
        || registered(alias_of(&lower), state)
}

/// How SQL text must call `name` to resolve it as the DataFrame API does: through the registry
/// (`Some`) when the registry rewrites or renames it or the session state does not know it (the
/// registry then names Spark's error), else (`None`) as the state's function of that name.
pub fn sql_route(name: &str, state: &SessionState) -> Option<SqlRoute> {
    let lower = name.to_lowercase();
    let name = lower.as_str();
    if let Some(route) = rewritten(name) {
        return Some(route);
    }
    let target = alias_of(name);
    // an alias; or a DataFusion signature that wants an `int` where SQL text plans integer
    // literals as `bigint`
    if target != name || matches!(name, "date_add" | "date_sub" | "add_months" | "stddev") {
        return Some(if state.aggregate_functions().contains_key(target) {
            SqlRoute::Aggregate
        } else {
            SqlRoute::Scalar
        });
    }
    let known = registered(name, state) || state.table_functions().contains_key(name);
    (!known).then_some(SqlRoute::Scalar)
}

/// Spark's implicit casts of arguments: a function that takes a `date`, a timestamp or a number
/// and is given a string reads the string as one (`add_months('2015-04-08', 1)`), and one that
/// takes a number of another type gets its argument cast (`factorial(bigint)`), by Spark's cast
/// rules. Applies where the function's signature names exact types and the call fits none
/// exactly.
fn implicit_casts(
    signature: &datafusion::logical_expr::Signature,
    exprs: Vec<Expr>,
    cx: &CallContext<'_>,
) -> Result<Vec<Expr>> {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::TypeSignature;
    let string =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8);
    let exact: Vec<&Vec<DataType>> = match &signature.type_signature {
        // a string where a date is wanted is cast as Spark casts it (`monthname('2024-01-05')`),
        TypeSignature::Coercible(wanted) if wanted.len() == exprs.len() => {
            use datafusion::common::types::NativeType;
            use datafusion::logical_expr::TypeSignatureClass;
            let mut out = Vec::with_capacity(exprs.len());
            for (e, w) in exprs.into_iter().zip(wanted) {
                let t = e.get_type(cx.schema)?;
                let wanted = match w.desired_type() {
                    TypeSignatureClass::Native(l) => Some(l.native().clone()),
                    _ => None,
                };
                // and a number, boolean, date or timestamp where a string is
                let atomic = t.is_numeric()
                    || matches!(
                        t,
                        DataType::Boolean | DataType::Date32 | DataType::Timestamp(..)
                    );
                out.push(match wanted {
                    Some(NativeType::Date) if string(&t) => {
                        spark_cast(e, &t, &DataType::Date32, !cx.ansi, cx.tz)
                    }
                    Some(NativeType::String) if atomic => {
                        spark_cast(e, &t, &DataType::Utf8, !cx.ansi, cx.tz)
                    }
                    _ => e,
                });
            }
            return Ok(out);
        }
        TypeSignature::Exact(types) => vec![types],
        TypeSignature::OneOf(all) => all
            .iter()
            .filter_map(|t| match t {
                TypeSignature::Exact(types) => Some(types),
                _ => None,
            })
            .collect(),
        _ => return Ok(exprs),
    };
    let mut types = Vec::with_capacity(exprs.len());
    for e in &exprs {
        types.push(e.get_type(cx.schema)?);
    }
    // what Spark casts implicitly to a type a function takes: a string to a date, a
    // timestamp or a number, a number to another number
    let casts = |from: &DataType, to: &DataType| {
        from != to
            && ((string(from)
                && (matches!(to, DataType::Date32 | DataType::Timestamp(..)) || to.is_numeric()))
                || (from.is_numeric() && to.is_numeric()))
    };
    if exact.iter().any(|want| **want == types) {
        return Ok(exprs);
    }
    // the first signature that the call fits once those casts are made
    let Some(wanted) = exact.into_iter().find(|want| {
        want.len() == types.len()
            && want
                .iter()
                .zip(&types)
                .all(|(w, t)| w == t || casts(t, w) || !(string(t) || t.is_numeric()))
            && want.iter().zip(&types).any(|(w, t)| casts(t, w))
    }) else {
        return Ok(exprs);
    };
    Ok(exprs
        .into_iter()
        .zip(types.iter().zip(wanted))
        .map(|(e, (t, w))| {
            if casts(t, w) {
                spark_cast(e, t, w, !cx.ansi, cx.tz)
            } else {
                e
            }
        })
        .collect())
}

/// Spark's `struct(a, b, ...)`: a field takes the name of its argument where the argument is
/// a column or an alias (`Some(name)`), else `col1`, `col2`, ... by position.
pub fn spark_struct(items: Vec<(Expr, Option<String>)>) -> Expr {
    let args = items
        .into_iter()
        .enumerate()
        .flat_map(|(i, (e, name))| {
            let name = name.unwrap_or_else(|| format!("col{}", i + 1));
            [datafusion::logical_expr::lit(name), e]
        })
        .collect();
    datafusion::functions::core::expr_fn::named_struct(args)
}

/// `struct(...)` calls as DataFusion's SQL planner makes them (fields `c0`, `c1`) rewritten
/// to Spark's [`spark_struct`].
pub fn spark_structs_in(
    e: Expr,
) -> datafusion::error::Result<datafusion::common::tree_node::Transformed<Expr>> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    e.transform_up(|e| match e {
        Expr::ScalarFunction(f) if f.func.name() == "struct" => {
            let items = f
                .args
                .into_iter()
                .map(|a| {
                    let name = match &a {
                        Expr::Column(c) => Some(c.name.clone()),
                        Expr::Alias(al) => Some(al.name.clone()),
                        _ => None,
                    };
                    (a, name)
                })
                .collect();
            Ok(Transformed::yes(spark_struct(items)))
        }
        e => Ok(Transformed::no(e)),
    })
}

/// Calls a function registered in the session state by its DataFusion name.
pub fn call_registered(cx: &CallContext<'_>, target: &str, exprs: Vec<Expr>) -> Result<Expr> {
    if let Some(udf) = cx.state.scalar_functions().get(target) {
        let exprs = implicit_casts(udf.signature(), exprs, cx)?;
        return Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
            udf.clone(),
            exprs,
        )));
    }
    if let Some(udaf) = cx.state.aggregate_functions().get(target) {
        return Ok(Expr::AggregateFunction(AggregateFunction::new_udf(
            udaf.clone(),
            exprs,
            cx.distinct,
            None,
            vec![],
            None,
        )));
    }
    if let Some(udwf) = cx.state.window_functions().get(target) {
        return Ok(Expr::WindowFunction(Box::new(
            datafusion::logical_expr::expr::WindowFunction::new(
                datafusion::logical_expr::expr::WindowFunctionDefinition::WindowUDF(udwf.clone()),
                exprs,
            ),
        )));
    }
    Err(unresolved_routine(target))
}

/// The text of a string-literal argument (`what` of `function`: a path, a format, a
/// schema): Spark's `DATATYPE_MISMATCH.NON_FOLDABLE_INPUT` for anything else.
pub(crate) fn string_literal(function: &str, what: &str, arg: &Arg) -> Result<String> {
    match &arg.expr {
        Expr::Literal(
            datafusion::scalar::ScalarValue::Utf8(Some(s))
            | datafusion::scalar::ScalarValue::Utf8View(Some(s))
            | datafusion::scalar::ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => Ok(s.clone()),
        _ => Err(Error::analysis(
            "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
            format!(
                "`{function}`: the input `{what}` should be a foldable \"STRING\" expression, got {}",
                arg.name
            ),
        )),
    }
}

/// The options argument of `from_json`, `to_xml`, `from_csv`...: a map of literal keys and
/// values (`{'sep': ';'}`), none when absent. While SQL planning only types a call its
/// arguments are columns, so the options are then none: they do not change its type.
pub(crate) fn options_arg(
    function: &str,
    arg: Option<&Arg>,
    cx: &CallContext<'_>,
) -> Result<Vec<(String, String)>> {
    let Some(arg) = arg else {
        return Ok(Vec::new());
    };
    match maps::literal_pairs(&arg.expr) {
        Some(pairs) => Ok(pairs),
        None if cx.typing => Ok(Vec::new()),
        None => Err(Error::analysis(
            "INVALID_OPTIONS.NON_MAP_FUNCTION",
            format!(
                "{function}: the options must be a map of literals, got {}",
                arg.name
            ),
        )),
    }
}

/// The arguments of a scalar function call as arrays of the call's rows.
pub(crate) fn arg_arrays(
    args: &datafusion::logical_expr::ScalarFunctionArgs,
) -> datafusion::error::Result<Vec<datafusion::arrow::array::ArrayRef>> {
    args.args
        .iter()
        .map(|a| a.to_array(args.number_rows))
        .collect()
}

/// Spark's error for an unknown function.
pub fn unresolved_routine(name: &str) -> Error {
    Error::Analysis {
        class: "UNRESOLVED_ROUTINE".into(),
        message: format!(
            "Cannot resolve routine `{name}` on search path [`system`.`builtin`, `system`.`session`, `spark_catalog`.`default`]."
        ),
        params: vec![
            ("routineName".into(), format!("`{name}`")),
            (
                "searchPath".into(),
                "[`system`.`builtin`, `system`.`session`, `spark_catalog`.`default`]".into(),
            ),
        ],
    }
}

/// Spark's default name of a call: `name(arg1, arg2)`, or `name(DISTINCT arg)`.
pub fn default_name(name: &str, args: &[Arg], distinct: bool) -> String {
    let list = args
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if distinct {
        format!("{name}(DISTINCT {list})")
    } else {
        format!("{name}({list})")
    }
}

/// Spark names whose DataFusion function has another name and the same semantics.
fn alias_of(name: &str) -> &str {
    match name {
        "ucase" => "upper",
        "lcase" => "lower",
        "substr" => "substring",
        "char_length" | "character_length" => "length",
        "ceiling" => "ceil",
        "power" => "pow",
        "ln" => "ln",
        "std" | "stddev_samp" => "stddev",
        "variance" => "var_samp",
        "any_value" => "first_value",
        "bool_and" | "every" => "bool_and",
        "bool_or" | "some" | "any" => "bool_or",
        "sha" => "sha1",
        "current_timestamp" | "localtimestamp" => "now",
        "nvl" | "ifnull" => "coalesce",
        "array_size" => "array_length",
        other => other,
    }
}

/// Replaces the grouping keys that are not plain expressions — sliding `window(...)`s, which
/// put a row in several windows, and `session_window(...)`, which depends on the other rows of
/// its group — by hidden columns of the returned plan holding each row's window.
pub fn expand_time_windows(
    plan: datafusion::logical_expr::LogicalPlan,
    groups: Vec<Expr>,
) -> Result<(datafusion::logical_expr::LogicalPlan, Vec<Expr>)> {
    let (plan, groups) = time_window::expand_sliding(plan, groups)?;
    session_window::expand(plan, groups)
}

/// `x mod m` in `[0, m)` for an integer `x` and a positive `m`, also for negative `x` (time
/// alignment before 1970).
pub(crate) fn non_negative_mod(x: Expr, m: i64) -> Expr {
    use datafusion::logical_expr::lit;
    (x % lit(m) + lit(m)) % lit(m)
}

/// The data type of an argument.
pub fn arg_type(arg: &Arg, cx: &CallContext<'_>) -> Result<datafusion::arrow::datatypes::DataType> {
    Ok(arg.expr.get_type(cx.schema)?)
}

pub(crate) fn wrong_args(name: &str, expected: &str, got: usize) -> Error {
    Error::Analysis {
        class: "WRONG_NUM_ARGS.WITHOUT_SUGGESTION".into(),
        message: format!(
            "The `{name}` requires {expected} parameters but the actual number is {got}."
        ),
        params: vec![],
    }
}
