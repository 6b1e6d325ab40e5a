//! Spark's distinct-count sketches on Apache DataSketches (crate `datasketches`):
//! - HLL: `hll_sketch_agg(col[, lgConfigK = 12])` (an HLL_8 sketch of the non-null values, as
//!   binary), `hll_union_agg(sketch[, allowDifferentLgConfigK = false])`,
//!   `hll_union(a, b[, allowDifferentLgConfigK])` and `hll_sketch_estimate(sketch)`;
//! - Theta: `theta_sketch_agg(col[, lgNomEntries = 12])`, `theta_union_agg(sketch[, lg])`,
//!   `theta_intersection_agg(sketch)`, `theta_union(a, b[, lg])`, `theta_intersection(a, b)`,
//!   `theta_difference(a, b)` and `theta_sketch_estimate(sketch)`.
//!
//! Estimates are rounded to a `bigint`, as Spark's. Values are hashed by the library: integers
//! as 64-bit integers, strings and binary by their bytes. Sketches of different `lgConfigK` are
//! refused in a union unless allowed (Spark's `HLL_UNION_DIFFERENT_LG_K`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};
use datasketches::hll::{HllSketch, HllType, HllUnion};
use datasketches::theta::{
    CompactThetaSketch, ThetaANotB, ThetaIntersection, ThetaSketch, ThetaSketchBuilder, ThetaUnion,
    ThetaUnionBuilder,
};
use spate_common::Result;

use super::sketch_agg::{self, SketchState};
use super::{Arg, CallContext, default_name, wrong_args};

/// The aggregates of this module (SQL text plans them as aggregates).
pub(super) const AGG_NAMES: &[&str] = &[
    "hll_sketch_agg",
    "hll_union_agg",
    "theta_sketch_agg",
    "theta_union_agg",
    "theta_intersection_agg",
];

/// The scalar functions of this module.
pub(super) const SQL_NAMES: &[&str] = &[
    "hll_sketch_estimate",
    "hll_union",
    "theta_sketch_estimate",
    "theta_union",
    "theta_intersection",
    "theta_difference",
];

pub(super) const DEFAULT_LG: i64 = 12;

pub(super) fn error(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("not a valid sketch: {e}"))
}

/// Resolves `name` if it is one of these functions.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    _cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let aggregate = AGG_NAMES.contains(&name);
    if !aggregate && !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    // the arguments with Spark's defaults filled in (Spark names the call with them)
    let (arity, default): (std::ops::RangeInclusive<usize>, Option<Arg>) = match name {
        "hll_sketch_agg" | "theta_sketch_agg" | "theta_union_agg" => (1..=2, Some(lg_arg())),
        "hll_union_agg" => (1..=2, Some(flag_arg())),
        "theta_union" => (2..=3, Some(lg_arg())),
        "hll_union" => (2..=3, Some(flag_arg())),
        "theta_intersection" | "theta_difference" => (2..=2, None),
        _ => (1..=1, None),
    };
    if !arity.contains(&args.len()) {
        return Err(wrong_args(
            name,
            &format!("{} to {}", arity.start(), arity.end()),
            args.len(),
        ));
    }
    let mut args = args.to_vec();
    if let Some(d) = default
        && args.len() < *arity.end()
    {
        args.push(d);
    }
    let label = default_name(name, &args, false);
    let exprs: Vec<Expr> = args.iter().map(|a| a.expr.clone()).collect();
    let e = if aggregate {
        sketch_agg::call(name, exprs, 1, new_state)
    } else {
        ScalarUDF::new_from_impl(SketchScalar {
            name: name.to_string(),
            signature: Signature::any(args.len(), Volatility::Immutable),
        })
        .call(exprs)
    };
    Ok(Some((e, label)))
}

pub(super) fn lg_arg() -> Arg {
    Arg {
        expr: lit(DEFAULT_LG),
        name: DEFAULT_LG.to_string(),
    }
}

fn flag_arg() -> Arg {
    Arg {
        expr: lit(false),
        name: "false".into(),
    }
}

/// A sketch function's constant parameter as a number: lgConfigK / lgNomEntries, or the
/// allow-different flag as 1/0; the default when omitted.
pub(super) fn param(v: Option<&ScalarValue>) -> DfResult<i64> {
    match v {
        None => Ok(DEFAULT_LG),
        Some(ScalarValue::Boolean(b)) => Ok(i64::from(b.unwrap_or(false))),
        Some(other) => match other.cast_to(&DataType::Int64)? {
            ScalarValue::Int64(Some(v)) => Ok(v),
            _ => Err(DataFusionError::Plan(
                "a sketch's parameter must not be null".into(),
            )),
        },
    }
}

pub(super) fn lg_of(v: i64, lo: i64, hi: i64, what: &str) -> DfResult<u8> {
    if (lo..=hi).contains(&v) {
        Ok(v as u8)
    } else {
        Err(DataFusionError::Execution(format!(
            "{what} must be between {lo} and {hi}, inclusive: {v}"
        )))
    }
}

/// Calls `f` with the row and form the sketches hash of every non-null value of `column`.
pub(super) fn each_value(column: &ArrayRef, mut f: impl FnMut(usize, Value<'_>)) -> DfResult<()> {
    match column.data_type() {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
            let s = cast(column, &DataType::Utf8)?;
            s.as_string::<i32>()
                .iter()
                .enumerate()
                .for_each(|(i, v)| v.into_iter().for_each(|v| f(i, Value::Bytes(v.as_bytes()))));
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let b = cast(column, &DataType::Binary)?;
            b.as_binary::<i32>()
                .iter()
                .enumerate()
                .for_each(|(i, v)| v.into_iter().for_each(|v| f(i, Value::Bytes(v))));
        }
        t if t.is_integer() => {
            let v = cast(column, &DataType::Int64)?;
            v.as_primitive::<Int64Type>()
                .iter()
                .enumerate()
                .for_each(|(i, v)| v.into_iter().for_each(|v| f(i, Value::Long(v))));
        }
        other => {
            return Err(DataFusionError::Plan(format!(
                "a sketch takes int, bigint, string or binary values, not {other}"
            )));
        }
    }
    Ok(())
}

pub(super) enum Value<'a> {
    Long(i64),
    Bytes(&'a [u8]),
}

/// The state of one of the aggregates.
enum State {
    Hll(HllSketch),
    HllUnion {
        union: HllUnion,
        allow_different: bool,
        lg: Option<u8>,
    },
    Theta {
        sketch: ThetaSketch,
        union: ThetaUnion,
    },
    ThetaUnion(ThetaUnion),
    ThetaIntersection(ThetaIntersection),
}

fn theta_union(lg: u8) -> DfResult<ThetaUnion> {
    ThetaUnionBuilder::default().lg_k(lg).build().map_err(error)
}

impl State {
    fn new(name: &str, p: i64) -> DfResult<Self> {
        Ok(match name {
            "hll_sketch_agg" => State::Hll(
                HllSketch::new(lg_of(p, 4, 21, "lgConfigK")?, HllType::Hll8).map_err(error)?,
            ),
            "hll_union_agg" => State::HllUnion {
                union: HllUnion::new(21).map_err(error)?,
                allow_different: p != 0,
                lg: None,
            },
            "theta_sketch_agg" => {
                let lg = lg_of(p, 4, 26, "lgNomEntries")?;
                State::Theta {
                    sketch: ThetaSketchBuilder::default()
                        .lg_k(lg)
                        .build()
                        .map_err(error)?,
                    union: theta_union(lg)?,
                }
            }
            "theta_union_agg" => State::ThetaUnion(theta_union(lg_of(p, 4, 26, "lgNomEntries")?)?),
            _ => State::ThetaIntersection(ThetaIntersection::default()),
        })
    }
}

impl SketchState for State {
    fn add_values(&mut self, columns: &[ArrayRef]) -> DfResult<()> {
        let Some(column) = columns.first() else {
            return Ok(());
        };
        match self {
            State::Hll(s) => each_value(column, |_, v| match v {
                Value::Long(x) => s.update(x),
                Value::Bytes(b) => s.update(b),
            }),
            State::Theta { sketch, .. } => each_value(column, |_, v| match v {
                Value::Long(x) => sketch.update(x),
                Value::Bytes(b) => sketch.update(b),
            }),
            _ => self.add_sketches(column),
        }
    }

    /// Folds a column of serialized sketches (partial states, or the input of a union or
    /// intersection) in.
    fn add_sketches(&mut self, column: &ArrayRef) -> DfResult<()> {
        let bytes = cast(column, &DataType::Binary)?;
        for b in bytes.as_binary::<i32>().iter().flatten() {
            match self {
                State::Hll(s) => {
                    let mut union = HllUnion::new(s.lg_config_k()).map_err(error)?;
                    union.update(s);
                    union.update(&HllSketch::deserialize(b).map_err(error)?);
                    *s = union.to_sketch(HllType::Hll8);
                }
                State::HllUnion {
                    union,
                    allow_different,
                    lg,
                } => {
                    let sketch = HllSketch::deserialize(b).map_err(error)?;
                    let k = sketch.lg_config_k();
                    if let Some(seen) = *lg
                        && seen != k
                        && !*allow_different
                    {
                        return Err(different_lg_k(seen, k));
                    }
                    *lg = Some(k);
                    union.update(&sketch);
                }
                State::Theta { union, .. } | State::ThetaUnion(union) => {
                    union
                        .update(&CompactThetaSketch::deserialize(b).map_err(error)?)
                        .map_err(error)?;
                }
                State::ThetaIntersection(i) => {
                    i.update(&CompactThetaSketch::deserialize(b).map_err(error)?)
                        .map_err(error)?;
                }
            }
        }
        Ok(())
    }

    fn bytes(&mut self) -> DfResult<Vec<u8>> {
        Ok(match self {
            State::Hll(s) => s.serialize(),
            State::HllUnion { union, .. } => union.to_sketch(HllType::Hll8).serialize(),
            State::Theta { sketch, union } => {
                union.update(&*sketch).map_err(error)?;
                *sketch = ThetaSketchBuilder::default().build().map_err(error)?;
                union.to_sketch(true).serialize()
            }
            State::ThetaUnion(union) => union.to_sketch(true).serialize(),
            State::ThetaIntersection(i) => match i.to_sketch(true) {
                Some(s) => s.serialize(),
                None => ThetaSketchBuilder::default()
                    .build()
                    .map_err(error)?
                    .compact(true)
                    .serialize(),
            },
        })
    }

    fn partial_bytes(&mut self) -> DfResult<Option<Vec<u8>>> {
        match self {
            State::ThetaIntersection(i) if !i.has_result() => Ok(None),
            state => state.bytes().map(Some),
        }
    }
}

fn different_lg_k(a: u8, b: u8) -> DataFusionError {
    DataFusionError::Execution(format!(
        "[HLL_UNION_DIFFERENT_LG_K] Sketches have different lgConfigK values: {a} and {b}. Set \
         the allowDifferentLgConfigK parameter to true to call hll_union with different \
         lgConfigK values."
    ))
}

/// The state of aggregate `name` with its constant parameter.
fn new_state(name: &str, params: &[ScalarValue]) -> DfResult<Box<dyn SketchState>> {
    let p = if name == "theta_intersection_agg" {
        DEFAULT_LG
    } else {
        param(params.first())?
    };
    Ok(Box::new(State::new(name, p)?))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SketchScalar {
    name: String,
    signature: Signature,
}

impl SketchScalar {
    /// The function of two sketches (and a parameter) for one row.
    fn combine(&self, a: &[u8], b: &[u8], p: i64) -> DfResult<Vec<u8>> {
        Ok(match self.name.as_str() {
            "hll_union" => {
                let (a, b) = (
                    HllSketch::deserialize(a).map_err(error)?,
                    HllSketch::deserialize(b).map_err(error)?,
                );
                if a.lg_config_k() != b.lg_config_k() && p == 0 {
                    return Err(different_lg_k(a.lg_config_k(), b.lg_config_k()));
                }
                let mut union = HllUnion::new(21).map_err(error)?;
                union.update(&a);
                union.update(&b);
                union.to_sketch(HllType::Hll8).serialize()
            }
            name => {
                let a = CompactThetaSketch::deserialize(a).map_err(error)?;
                let b = CompactThetaSketch::deserialize(b).map_err(error)?;
                match name {
                    "theta_union" => {
                        let mut union = theta_union(lg_of(p, 4, 26, "lgNomEntries")?)?;
                        union.update(&a).map_err(error)?;
                        union.update(&b).map_err(error)?;
                        union.to_sketch(true).serialize()
                    }
                    "theta_intersection" => {
                        let mut i = ThetaIntersection::default();
                        i.update(&a).map_err(error)?;
                        i.update(&b).map_err(error)?;
                        i.to_sketch(true)
                            .ok_or_else(|| error("an intersection of nothing"))?
                            .serialize()
                    }
                    _ => ThetaANotB::default()
                        .compute(&a, &b, true)
                        .map_err(error)?
                        .serialize(),
                }
            }
        })
    }
}

impl ScalarUDFImpl for SketchScalar {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(if self.name.ends_with("_estimate") {
            DataType::Int64
        } else {
            DataType::Binary
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let first = cast(&arrays[0], &DataType::Binary)?;
        let first = first.as_binary::<i32>();
        if self.name.ends_with("_estimate") {
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                if first.is_null(i) {
                    out.push(None);
                    continue;
                }
                let b = first.value(i);
                let estimate = if self.name.starts_with("hll") {
                    HllSketch::deserialize(b).map_err(error)?.estimate()
                } else {
                    CompactThetaSketch::deserialize(b)
                        .map_err(error)?
                        .estimate()
                };
                out.push(Some(estimate.round() as i64));
            }
            return Ok(ColumnarValue::Array(Arc::new(Int64Array::from(out))));
        }
        let second = cast(&arrays[1], &DataType::Binary)?;
        let second = second.as_binary::<i32>();
        let third = match arrays.get(2) {
            Some(a) if a.data_type() == &DataType::Boolean => Some(cast(a, &DataType::Int64)?),
            Some(a) => Some(cast(a, &DataType::Int64)?),
            None => None,
        };
        let mut out = BinaryBuilder::new();
        for i in 0..n {
            if first.is_null(i) || second.is_null(i) {
                out.append_null();
                continue;
            }
            let p = third
                .as_ref()
                .map(|t| t.as_primitive::<Int64Type>())
                .filter(|t| t.is_valid(i))
                .map_or(DEFAULT_LG, |t| t.value(i));
            out.append_value(self.combine(first.value(i), second.value(i), p)?);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch_of(name: &str, values: Vec<i64>) -> DfResult<Vec<u8>> {
        let mut state = State::new(name, DEFAULT_LG)?;
        let column: ArrayRef = Arc::new(Int64Array::from(values));
        state.add_values(&[column])?;
        state.bytes()
    }

    #[test]
    fn small_sets_count_exactly() -> DfResult<()> {
        let hll = HllSketch::deserialize(&sketch_of("hll_sketch_agg", vec![1, 2, 2, 3])?)
            .map_err(error)?;
        assert_eq!(hll.estimate().round() as i64, 3);
        let a = sketch_of("theta_sketch_agg", vec![1, 2, 3, 4])?;
        let b = sketch_of("theta_sketch_agg", vec![3, 4, 5])?;
        let f = |name: &str| SketchScalar {
            name: name.into(),
            signature: Signature::any(2, Volatility::Immutable),
        };
        let estimate = |bytes: Vec<u8>| -> DfResult<i64> {
            Ok(CompactThetaSketch::deserialize(&bytes)
                .map_err(error)?
                .estimate()
                .round() as i64)
        };
        assert_eq!(estimate(f("theta_union").combine(&a, &b, DEFAULT_LG)?)?, 5);
        assert_eq!(estimate(f("theta_intersection").combine(&a, &b, 0)?)?, 2);
        assert_eq!(estimate(f("theta_difference").combine(&a, &b, 0)?)?, 2);
        Ok(())
    }
}
