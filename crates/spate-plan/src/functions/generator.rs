//! Spark's generators — `explode`, `posexplode`, `inline` (each with an `_outer` form) and
//! `stack` — which turn one input row into zero or more output rows of one or more columns.
//! The registry resolves a generator call to a [`Generator`] marker: a scalar function that
//! types as its first output column (so the call can be named, aliased and planned inside a
//! projection like any other) but is never executed; `crate::generate` replaces the projection
//! holding it by an unnest of the generator's input. `stack(n, v1, ..., vk)` is `inline` of an
//! array of `n` structs `col0, col1, ...`, as Spark lays its rows out.

use std::any::Any;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, lit,
};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};

use super::{Arg, CallContext, arg_type, default_name, wrong_args};

/// The generator names SQL text can call: SQL planning sends them through the registry.
pub const SQL_NAMES: &[&str] = &[
    "explode",
    "explode_outer",
    "posexplode",
    "posexplode_outer",
    "inline",
    "inline_outer",
    "stack",
];

/// Whether SQL text calling `name` calls a generator: this module's and `json_tuple`.
pub fn is_generator_name(name: &str) -> bool {
    SQL_NAMES.contains(&name) || name == "json_tuple"
}

/// What a generator makes of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeneratorKind {
    /// One row per element of an array (`col`) or entry of a map (`key`, `value`).
    Explode,
    /// As `Explode`, with the element's position first (`pos`, an `int` from 0).
    PosExplode,
    /// One row per struct of an array of structs, a column per field.
    Inline,
}

/// A generator call's marker (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Generator {
    /// What it generates.
    pub kind: GeneratorKind,
    /// Whether a null or empty input gives one row of nulls (the `_outer` forms) instead of none.
    pub outer: bool,
    /// The output column names the call was aliased with (`alias("p", "v")`), if any.
    pub aliases: Option<Vec<String>>,
    /// Spark's name of the function, for errors.
    pub name: String,
    signature: Signature,
}

impl Generator {
    /// The output columns (Spark's default names and types) for an input of type `input`.
    pub fn outputs(&self, input: &DataType) -> DfResult<Vec<(String, DataType)>> {
        let elements = |t: &DataType| -> DfResult<Vec<(String, DataType)>> {
            match t {
                DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                    Ok(vec![("col".into(), f.data_type().clone())])
                }
                DataType::Map(entries, _) => match entries.data_type() {
                    DataType::Struct(kv) if kv.len() == 2 => Ok(vec![
                        ("key".into(), kv[0].data_type().clone()),
                        ("value".into(), kv[1].data_type().clone()),
                    ]),
                    other => plan_err!("unexpected map entries {other}"),
                },
                other => plan_err!("{} of {other}", self.name),
            }
        };
        match self.kind {
            GeneratorKind::Explode => elements(input),
            GeneratorKind::PosExplode => {
                let mut out = vec![("pos".to_string(), DataType::Int32)];
                out.extend(elements(input)?);
                Ok(out)
            }
            GeneratorKind::Inline => match input {
                DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                    match f.data_type() {
                        DataType::Struct(fields) => Ok(fields
                            .iter()
                            .map(|f| (f.name().clone(), f.data_type().clone()))
                            .collect()),
                        other => plan_err!("{} of an array of {other}", self.name),
                    }
                }
                other => plan_err!("{} of {other}", self.name),
            },
        }
    }

    /// The output column names: the aliases when given (as many as there are columns, else
    /// Spark's error), else Spark's defaults.
    pub fn output_names(&self, input: &DataType) -> Result<Vec<String>> {
        let defaults: Vec<String> = self.outputs(input)?.into_iter().map(|(n, _)| n).collect();
        match &self.aliases {
            None => Ok(defaults),
            Some(given) if given.len() == defaults.len() => Ok(given.clone()),
            Some(given) => Err(Error::Analysis {
                class: "UDTF_ALIAS_NUMBER_MISMATCH".into(),
                message: format!(
                    "The number of aliases supplied in the AS clause does not match the number of columns output by the UDTF. Expected {} aliases, but got {}.",
                    defaults.len(),
                    given.join(", ")
                ),
                params: vec![
                    ("aliasesSize".into(), given.len().to_string()),
                    ("aliasesNames".into(), given.join(", ")),
                ],
            }),
        }
    }
}

impl ScalarUDFImpl for Generator {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        let Some(input) = arg_types.first() else {
            return plan_err!("{} takes one argument", self.name);
        };
        Ok(self.outputs(input)?.swap_remove(0).1)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        exec_err!(
            "{} is a generator: it must be a top-level item of a select list",
            self.name
        )
    }
}

impl Generator {
    fn new(kind: GeneratorKind, outer: bool, name: &str) -> Self {
        Self {
            kind,
            outer,
            aliases: None,
            name: name.to_string(),
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// The marker call of this generator over `input`.
    fn call(self, input: Expr) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(
            std::sync::Arc::new(ScalarUDF::new_from_impl(self)),
            vec![input],
        ))
    }
}

/// The generator marker of `e` and its input, when `e` (under any aliases) is a generator call.
pub fn generator_of(e: &Expr) -> Option<(&Generator, &Expr)> {
    match e {
        Expr::Alias(a) => generator_of(&a.expr),
        Expr::ScalarFunction(f) => {
            let g = (f.func.inner().as_ref() as &dyn Any).downcast_ref::<Generator>()?;
            Some((g, f.args.first()?))
        }
        _ => None,
    }
}

/// `e` with the output names `aliases` when it is a generator call (`None` when it is not).
pub fn with_aliases(e: &Expr, aliases: &[String]) -> Option<Expr> {
    let (g, input) = generator_of(e)?;
    let mut aliased = Generator::new(g.kind, g.outer, &g.name);
    aliased.aliases = Some(aliases.to_vec());
    Some(aliased.call(input.clone()))
}

/// The `inline` generator named `name` over `array` (an array of structs), for generators
/// other families build (`json_tuple`).
pub(super) fn inline_named(name: &str, array: Expr) -> Expr {
    Generator::new(GeneratorKind::Inline, false, name).call(array)
}

/// Resolves `name` if it is a generator.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let (kind, outer) = match name {
        "explode" => (GeneratorKind::Explode, false),
        "explode_outer" => (GeneratorKind::Explode, true),
        "posexplode" => (GeneratorKind::PosExplode, false),
        "posexplode_outer" => (GeneratorKind::PosExplode, true),
        "inline" => (GeneratorKind::Inline, false),
        "inline_outer" => (GeneratorKind::Inline, true),
        "stack" => return stack(args, cx).map(Some),
        _ => return Ok(None),
    };
    let [input] = args else {
        return Err(wrong_args(name, "1", args.len()));
    };
    let t = arg_type(input, cx)?;
    let generator = Generator::new(kind, outer, name);
    let call = default_name(name, args, false);
    if generator.outputs(&t).is_err() {
        let wanted = if kind == GeneratorKind::Inline {
            "\"ARRAY<STRUCT>\""
        } else {
            "(\"ARRAY\" or \"MAP\")"
        };
        return Err(Error::Analysis {
            class: "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE".into(),
            message: format!(
                "Cannot resolve \"{call}\" due to data type mismatch: The first parameter requires the {wanted} type, however \"{}\" has the type \"{}\".",
                input.name,
                crate::types::sql_string(&t).to_uppercase()
            ),
            params: vec![],
        });
    }
    Ok(Some((generator.call(input.expr.clone()), call)))
}

/// `stack(n, v1, ..., vk)`: `n` rows of `ceil(k / n)` columns `col0, col1, ...`, filled row by
/// row, the last padded with nulls: `inline` of an array of `n` structs.
fn stack(args: &[Arg], cx: &CallContext<'_>) -> Result<(Expr, String)> {
    let call = default_name("stack", args, false);
    let Some((n, values)) = args.split_first() else {
        return Err(wrong_args("stack", "> 1", 0));
    };
    let rows = match &n.expr {
        Expr::Literal(v, _) => match v {
            ScalarValue::Int8(Some(x)) => i64::from(*x),
            ScalarValue::Int16(Some(x)) => i64::from(*x),
            ScalarValue::Int32(Some(x)) => i64::from(*x),
            ScalarValue::Int64(Some(x)) => *x,
            _ => 0,
        },
        _ => 0,
    };
    if rows < 1 || values.is_empty() {
        return Err(Error::analysis(
            "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
            format!(
                "Cannot resolve \"{call}\": the number of rows must be a positive integer literal followed by at least one value"
            ),
        ));
    }
    let rows = rows as usize;
    let width = values.len().div_ceil(rows);
    let mut structs = Vec::with_capacity(rows);
    for r in 0..rows {
        let mut fields = Vec::with_capacity(width * 2);
        for c in 0..width {
            let value = match values.get(r * width + c) {
                Some(v) => v.expr.clone(),
                // the padding takes the type of the column's first value
                None => {
                    let t = values[c].expr.get_type(cx.schema)?;
                    lit(ScalarValue::try_from(&t)?)
                }
            };
            fields.push(lit(format!("col{c}")));
            fields.push(value);
        }
        structs.push(datafusion::functions::core::expr_fn::named_struct(fields));
    }
    let array = super::call_registered(cx, "make_array", structs)?;
    Ok((
        Generator::new(GeneratorKind::Inline, false, "stack").call(array),
        call,
    ))
}
