//! How Spark names function calls: the functions it names in upper case, and a call named by
//! the name it was made with (`mean(l)` for avg). Shared by the function registry, SQL text and
//! output names, so it depends on nothing of the crate.

/// Functions Spark names in upper case (`SQRT(x)`, `CEIL(x)`, `POWER(x, 2)`,
/// `SPARK_PARTITION_ID()`); Spark's two-argument `log` is `LOG` too, which callers decide.
const UPPER_CASE_NAMES: &[&str] = &[
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "cbrt",
    "ceil",
    "cos",
    "cosh",
    "cot",
    "csc",
    "degrees",
    "e",
    "exp",
    "expm1",
    "floor",
    "hypot",
    "log10",
    "log1p",
    "log2",
    "pi",
    "power",
    "radians",
    "sec",
    "signum",
    "sin",
    "sinh",
    "spark_partition_id",
    "sqrt",
    "tan",
    "tanh",
];

/// Spark's display name for a call of the Spark function `name`: the DataFrame API and SQL
/// text name calls through this one table.
pub fn pretty_name(name: &str) -> std::borrow::Cow<'_, str> {
    // functions Spark names by another of their names
    match name {
        "dateadd" => return std::borrow::Cow::Borrowed("date_add"),
        "current_database" => return std::borrow::Cow::Borrowed("current_schema"),
        _ => {}
    }
    if UPPER_CASE_NAMES.contains(&name) {
        std::borrow::Cow::Owned(name.to_uppercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// Whether `s` is a plain identifier (letters, digits, `_`).
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `label` (Spark's name of a call, `avg(l)`) under the name the call was made by in SQL text
/// (`mean(l)`), as Spark SQL names calls of a function's other names; upper-case names stay
/// upper case (`REGEXP_LIKE(s, p)`). `array_agg` is named `collect_list`, and `create_map`
/// (what SQL `map(...)` is planned as) `map`, as in Spark.
pub fn as_called(label: String, called: &str) -> String {
    let Some(open) = label.find('(') else {
        return label;
    };
    let own = &label[..open];
    if !is_identifier(own)
        || own.eq_ignore_ascii_case(called)
        || called == "array_agg"
        || called == "create_map"
    {
        return label;
    }
    let called = if own.chars().any(|c| c.is_ascii_lowercase()) {
        called.to_lowercase()
    } else {
        called.to_uppercase()
    };
    format!("{called}{}", &label[open..])
}
