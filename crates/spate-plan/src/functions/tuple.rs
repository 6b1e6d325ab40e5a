//! Spark's tuple sketches on Apache DataSketches (crate `datasketches`): a theta sketch that
//! keeps a summary per retained key, an `integer` (Java int) or a `double`, folded by a mode
//! (`sum` by default, `min`, `max` or `alwaysone`, any case). For each summary type `<t>`:
//! - aggregates `tuple_sketch_agg_<t>(key, summary[, lgNomEntries = 12[, mode]])`,
//!   `tuple_union_agg_<t>(sketch[, lgNomEntries[, mode]])` and
//!   `tuple_intersection_agg_<t>(sketch[, mode])`;
//! - `tuple_sketch_estimate_<t>` and `tuple_sketch_theta_<t>` (doubles),
//!   `tuple_sketch_summary_<t>(sketch[, mode])` (the retained summaries folded by the mode: a
//!   `bigint` for integers, 0 for an empty sketch, the count of keys for `alwaysone`);
//! - `tuple_union_<t>(a, b[, lg[, mode]])`, `tuple_intersection_<t>(a, b[, mode])`,
//!   `tuple_difference_<t>(a, b)`, and their `_theta_` forms whose second sketch is a theta
//!   sketch, whose keys carry the mode's starting summary (0, the type's greatest or least
//!   value, or 1), as Spark's.
//!
//! Keys are hashed as the theta sketches hash them (sketches.rs), so a tuple and a theta sketch
//! of the same keys meet in set operations. Rows with a null key or summary are skipped.

use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};
use datasketches::theta::CompactThetaSketch;
use datasketches::tuple::{
    CompactTupleSketch, SummaryCombinePolicy, SummaryPolicy, SummaryUpdatePolicy, TupleANotB,
    TupleIntersection, TupleSketch, TupleSketchBuilder, TupleSummaryValue, TupleUnion,
    TupleUnionBuilder,
};
use spate_common::Result;

use super::sketch_agg::{self, SketchState};
use super::sketches::{DEFAULT_LG, Value, each_value, error, lg_arg, lg_of, param};
use super::{Arg, CallContext, default_name, wrong_args};

/// The aggregates of this module (SQL text plans them as aggregates).
pub(super) const AGG_NAMES: &[&str] = &[
    "tuple_sketch_agg_integer",
    "tuple_sketch_agg_double",
    "tuple_union_agg_integer",
    "tuple_union_agg_double",
    "tuple_intersection_agg_integer",
    "tuple_intersection_agg_double",
];

/// The scalar functions of this module.
pub(super) const SQL_NAMES: &[&str] = &[
    "tuple_sketch_estimate_integer",
    "tuple_sketch_estimate_double",
    "tuple_sketch_theta_integer",
    "tuple_sketch_theta_double",
    "tuple_sketch_summary_integer",
    "tuple_sketch_summary_double",
    "tuple_union_integer",
    "tuple_union_double",
    "tuple_union_theta_integer",
    "tuple_union_theta_double",
    "tuple_intersection_integer",
    "tuple_intersection_double",
    "tuple_intersection_theta_integer",
    "tuple_intersection_theta_double",
    "tuple_difference_integer",
    "tuple_difference_double",
    "tuple_difference_theta_integer",
    "tuple_difference_theta_double",
];

/// How the summaries of one key combine (Spark's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sum,
    Min,
    Max,
    AlwaysOne,
}

impl Mode {
    fn parse(s: &str, function: &str) -> DfResult<Self> {
        match s.to_lowercase().as_str() {
            "sum" => Ok(Mode::Sum),
            "min" => Ok(Mode::Min),
            "max" => Ok(Mode::Max),
            "alwaysone" => Ok(Mode::AlwaysOne),
            _ => Err(DataFusionError::Execution(format!(
                "the mode of {function} must be one of 'sum', 'min', 'max', 'alwaysone': '{s}'"
            ))),
        }
    }

    fn of(v: Option<&ScalarValue>, function: &str) -> DfResult<Self> {
        match v {
            None => Ok(Mode::Sum),
            Some(v) => match v.cast_to(&DataType::Utf8)? {
                ScalarValue::Utf8(Some(s)) => Mode::parse(&s, function),
                _ => Err(DataFusionError::Plan(format!(
                    "the mode of {function} must not be null"
                ))),
            },
        }
    }
}

/// A summary type: Spark's integer (a Java int, whose sums wrap) or double summary.
trait Summary: Copy + PartialOrd + TupleSummaryValue + Send + Sync + 'static {
    const ZERO: Self;
    const ONE: Self;
    const LEAST: Self;
    const GREATEST: Self;
    /// The type `tuple_sketch_summary_<t>` returns.
    const RESULT: DataType;
    fn plus(self, other: Self) -> Self;
    /// A column of summaries, as this type.
    fn column(values: &ArrayRef) -> DfResult<Vec<Option<Self>>>;
    /// Summaries folded by `mode` (Spark's `aggregateNumericSummaries`), in the result type.
    fn fold(values: impl Iterator<Item = Self>, mode: Mode) -> ScalarValue;
    /// The summary's bytes in a serialized sketch.
    fn le_bytes(self) -> Vec<u8>;
}

/// `mode`'s fold of `values` in a number type with a zero, an addition and a one.
fn fold_with<T: Copy + PartialOrd>(
    values: impl Iterator<Item = T>,
    mode: Mode,
    zero: T,
    one: T,
    add: fn(T, T) -> T,
) -> T {
    let mut acc: Option<T> = None;
    for v in values {
        acc = Some(match (acc, mode) {
            (None, Mode::AlwaysOne) => one,
            (None, _) => v,
            (Some(a), Mode::Sum) => add(a, v),
            (Some(a), Mode::AlwaysOne) => add(a, one),
            (Some(a), Mode::Min) => {
                if v < a {
                    v
                } else {
                    a
                }
            }
            (Some(a), Mode::Max) => {
                if v > a {
                    v
                } else {
                    a
                }
            }
        });
    }
    acc.unwrap_or(zero)
}

impl Summary for i32 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    const LEAST: Self = i32::MIN;
    const GREATEST: Self = i32::MAX;
    const RESULT: DataType = DataType::Int64;

    fn plus(self, other: Self) -> Self {
        self.wrapping_add(other)
    }

    fn column(values: &ArrayRef) -> DfResult<Vec<Option<Self>>> {
        Ok(cast(values, &DataType::Int32)?
            .as_primitive::<Int32Type>()
            .iter()
            .collect())
    }

    fn fold(values: impl Iterator<Item = Self>, mode: Mode) -> ScalarValue {
        let values = values.map(i64::from);
        ScalarValue::Int64(Some(fold_with(values, mode, 0, 1, i64::wrapping_add)))
    }

    fn le_bytes(self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}

impl Summary for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const LEAST: Self = f64::NEG_INFINITY;
    const GREATEST: Self = f64::INFINITY;
    const RESULT: DataType = DataType::Float64;

    fn plus(self, other: Self) -> Self {
        self + other
    }

    fn column(values: &ArrayRef) -> DfResult<Vec<Option<Self>>> {
        Ok(cast(values, &DataType::Float64)?
            .as_primitive::<Float64Type>()
            .iter()
            .collect())
    }

    fn fold(values: impl Iterator<Item = Self>, mode: Mode) -> ScalarValue {
        ScalarValue::Float64(Some(fold_with(values, mode, 0.0, 1.0, |a, b| a + b)))
    }

    fn le_bytes(self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}

/// The summary behaviour of one mode, for the library's sketches and set operations: a new
/// key starts at the mode's identity, and values and summaries fold in by the mode.
#[derive(Debug, Clone, Copy)]
struct ModePolicy<S> {
    mode: Mode,
    summary: PhantomData<fn() -> S>,
}

impl<S: Summary> ModePolicy<S> {
    fn new(mode: Mode) -> Self {
        ModePolicy {
            mode,
            summary: PhantomData,
        }
    }

    fn apply(&self, a: S, b: S) -> S {
        match self.mode {
            Mode::Sum => a.plus(b),
            Mode::Min => {
                if b < a {
                    b
                } else {
                    a
                }
            }
            Mode::Max => {
                if b > a {
                    b
                } else {
                    a
                }
            }
            Mode::AlwaysOne => S::ONE,
        }
    }
}

impl<S: Summary> SummaryPolicy for ModePolicy<S> {
    type Summary = S;

    fn create(&self) -> S {
        match self.mode {
            Mode::Sum => S::ZERO,
            Mode::Min => S::GREATEST,
            Mode::Max => S::LEAST,
            Mode::AlwaysOne => S::ONE,
        }
    }
}

impl<S: Summary> SummaryUpdatePolicy<S> for ModePolicy<S> {
    fn update(&self, summary: &mut S, value: S) {
        *summary = self.apply(*summary, value);
    }
}

impl<S: Summary> SummaryCombinePolicy for ModePolicy<S> {
    fn combine(&self, summary: &mut S, other: &S) {
        *summary = self.apply(*summary, *other);
    }
}

/// Which summary type a function's name ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Integer,
    Double,
}

impl Family {
    fn of(name: &str) -> Self {
        if name.ends_with("_integer") {
            Family::Integer
        } else {
            Family::Double
        }
    }
}

fn mode_arg() -> Arg {
    Arg {
        expr: lit("sum"),
        name: "sum".into(),
    }
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
    let op = name
        .trim_start_matches("tuple_")
        .trim_end_matches("_integer")
        .trim_end_matches("_double");
    // the required arguments and Spark's defaults for the rest (Spark names the call with them)
    let (required, defaults): (usize, Vec<Arg>) = match op {
        "sketch_agg" => (2, vec![lg_arg(), mode_arg()]),
        "union_agg" => (1, vec![lg_arg(), mode_arg()]),
        "intersection_agg" | "sketch_summary" => (1, vec![mode_arg()]),
        "union" | "union_theta" => (2, vec![lg_arg(), mode_arg()]),
        "intersection" | "intersection_theta" => (2, vec![mode_arg()]),
        "difference" | "difference_theta" => (2, vec![]),
        _ => (1, vec![]),
    };
    let most = required + defaults.len();
    if args.len() < required || args.len() > most {
        return Err(wrong_args(
            name,
            &format!("{required} to {most}"),
            args.len(),
        ));
    }
    let mut args = args.to_vec();
    args.extend(defaults.into_iter().skip(args.len() - required));
    let label = default_name(name, &args, false);
    let exprs: Vec<Expr> = args.iter().map(|a| a.expr.clone()).collect();
    let e = if aggregate {
        let inputs = if op == "sketch_agg" { 2 } else { 1 };
        sketch_agg::call(name, exprs, inputs, new_state)
    } else {
        ScalarUDF::new_from_impl(TupleScalar {
            name: name.to_string(),
            family: Family::of(name),
            signature: Signature::any(args.len(), Volatility::Immutable),
        })
        .call(exprs)
    };
    Ok(Some((e, label)))
}

/// The state of one of the aggregates over summaries of type `S`.
enum State<S: Summary> {
    /// `tuple_sketch_agg`: the rows' sketch, and the union of merged partial sketches.
    Build {
        sketch: TupleSketch<ModePolicy<S>>,
        union: TupleUnion<ModePolicy<S>>,
        lg: u8,
        mode: Mode,
    },
    Union(TupleUnion<ModePolicy<S>>),
    /// No sketch seen yet is the universe, not the empty set.
    Intersection(TupleIntersection<ModePolicy<S>>),
}

fn union_of<S: Summary>(lg: u8, mode: Mode) -> DfResult<TupleUnion<ModePolicy<S>>> {
    TupleUnionBuilder::new(ModePolicy::new(mode))
        .lg_k(lg)
        .build()
        .map_err(error)
}

fn sketch_of<S: Summary>(lg: u8, mode: Mode) -> DfResult<TupleSketch<ModePolicy<S>>> {
    TupleSketchBuilder::new(ModePolicy::new(mode))
        .lg_k(lg)
        .build()
        .map_err(error)
}

fn empty<S: Summary>() -> DfResult<Vec<u8>> {
    Ok(sketch_of::<S>(DEFAULT_LG as u8, Mode::Sum)?
        .compact(true)
        .serialize())
}

fn deserialize<S: Summary>(bytes: &[u8]) -> DfResult<CompactTupleSketch<S>> {
    CompactTupleSketch::deserialize(bytes).map_err(error)
}

impl<S: Summary> State<S> {
    fn new(name: &str, params: &[ScalarValue]) -> DfResult<Self> {
        let lg = |i: usize| lg_of(param(params.get(i))?, 4, 26, "lgNomEntries");
        Ok(if name.starts_with("tuple_sketch_agg") {
            let (lg, mode) = (lg(0)?, Mode::of(params.get(1), name)?);
            State::Build {
                sketch: sketch_of(lg, mode)?,
                union: union_of(lg, mode)?,
                lg,
                mode,
            }
        } else if name.starts_with("tuple_union_agg") {
            State::Union(union_of(lg(0)?, Mode::of(params.get(1), name)?)?)
        } else {
            State::Intersection(TupleIntersection::new(ModePolicy::new(Mode::of(
                params.first(),
                name,
            )?)))
        })
    }
}

impl<S: Summary> SketchState for State<S> {
    fn add_values(&mut self, columns: &[ArrayRef]) -> DfResult<()> {
        match (self, columns) {
            (State::Build { sketch, .. }, [keys, summaries]) => {
                let summaries = S::column(summaries)?;
                each_value(keys, |i, key| {
                    if let Some(v) = summaries[i] {
                        match key {
                            Value::Long(k) => sketch.update(k, v),
                            Value::Bytes(k) => sketch.update(k, v),
                        }
                    }
                })
            }
            (state, [sketches]) => state.add_sketches(sketches),
            _ => Err(DataFusionError::Internal(
                "a tuple sketch aggregate got the wrong number of inputs".into(),
            )),
        }
    }

    fn add_sketches(&mut self, column: &ArrayRef) -> DfResult<()> {
        let bytes = cast(column, &DataType::Binary)?;
        for b in bytes.as_binary::<i32>().iter().flatten() {
            let sketch = deserialize::<S>(b)?;
            match self {
                State::Build { union, .. } | State::Union(union) => {
                    union.update(&sketch).map_err(error)?
                }
                State::Intersection(i) => i.update(&sketch).map_err(error)?,
            }
        }
        Ok(())
    }

    fn bytes(&mut self) -> DfResult<Vec<u8>> {
        match self {
            State::Build {
                sketch,
                union,
                lg,
                mode,
            } => {
                union.update(&*sketch).map_err(error)?;
                *sketch = sketch_of(*lg, *mode)?;
                Ok(union.to_sketch(true).serialize())
            }
            State::Union(union) => Ok(union.to_sketch(true).serialize()),
            State::Intersection(i) => match i.to_sketch(true) {
                Some(s) => Ok(s.serialize()),
                None => empty::<S>(),
            },
        }
    }

    fn partial_bytes(&mut self) -> DfResult<Option<Vec<u8>>> {
        match self {
            State::Intersection(i) if !i.has_result() => Ok(None),
            state => state.bytes().map(Some),
        }
    }
}

/// The state of aggregate `name` with its constant parameters.
fn new_state(name: &str, params: &[ScalarValue]) -> DfResult<Box<dyn SketchState>> {
    Ok(match Family::of(name) {
        Family::Integer => Box::new(State::<i32>::new(name, params)?),
        Family::Double => Box::new(State::<f64>::new(name, params)?),
    })
}

/// The tuple sketch of a theta sketch's keys, each with `summary` (Spark's default summary of
/// the mode), built as the compact image the library reads.
fn tuple_of_theta<S: Summary>(bytes: &[u8], summary: S) -> DfResult<CompactTupleSketch<S>> {
    let theta = CompactThetaSketch::deserialize(bytes).map_err(error)?;
    if theta.is_empty() {
        return deserialize(&empty::<S>()?);
    }
    // preamble longs, serial version, family (tuple), sketch type, unused, flags (read-only,
    // compact, ordered), seed hash; the entry count and theta; then hash and summary pairs
    let mut image = vec![3, 3, 9, 1, 0, 0x1a];
    image.extend(theta.seed_hash().to_le_bytes());
    image.extend((theta.num_retained() as u32).to_le_bytes());
    image.extend(0u32.to_le_bytes());
    image.extend(theta.theta64().to_le_bytes());
    let mut hashes: Vec<u64> = theta.iter().map(|e| e.hash()).collect();
    hashes.sort_unstable();
    for h in hashes {
        image.extend(h.to_le_bytes());
        image.extend(summary.le_bytes());
    }
    deserialize(&image)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TupleScalar {
    name: String,
    family: Family,
    signature: Signature,
}

/// A constant-or-column argument, row by row.
fn ints(a: Option<&ArrayRef>) -> DfResult<Option<ArrayRef>> {
    a.map(|a| cast(a, &DataType::Int64))
        .transpose()
        .map_err(Into::into)
}

fn strings(a: Option<&ArrayRef>) -> DfResult<Option<ArrayRef>> {
    a.map(|a| cast(a, &DataType::Utf8))
        .transpose()
        .map_err(Into::into)
}

impl TupleScalar {
    fn op(&self) -> &str {
        self.name
            .trim_start_matches("tuple_")
            .trim_end_matches("_integer")
            .trim_end_matches("_double")
    }

    fn eval<S: Summary>(&self, arrays: &[ArrayRef], n: usize) -> DfResult<ArrayRef> {
        let op = self.op();
        let first = cast(&arrays[0], &DataType::Binary)?;
        let first = first.as_binary::<i32>();
        let mode_at = match op {
            "sketch_summary" => Some(1),
            "union" | "union_theta" => Some(3),
            "intersection" | "intersection_theta" => Some(2),
            _ => None,
        };
        let modes = strings(mode_at.and_then(|i| arrays.get(i)))?;
        let modes = modes.as_ref().map(|m| m.as_string::<i32>());
        let mode = |i: usize| -> DfResult<Mode> {
            match modes {
                Some(m) if m.is_valid(i) => Mode::parse(m.value(i), &self.name),
                _ => Ok(Mode::Sum),
            }
        };
        match op {
            "sketch_estimate" | "sketch_theta" => {
                let out: Float64Array = (0..n)
                    .map(|i| {
                        (!first.is_null(i))
                            .then(|| {
                                let s = deserialize::<S>(first.value(i))?;
                                Ok(if op == "sketch_theta" {
                                    s.theta()
                                } else {
                                    s.estimate()
                                })
                            })
                            .transpose()
                    })
                    .collect::<DfResult<_>>()?;
                return Ok(Arc::new(out));
            }
            "sketch_summary" => {
                let values = (0..n)
                    .map(|i| {
                        if first.is_null(i) {
                            return ScalarValue::try_from(&S::RESULT);
                        }
                        let s = deserialize::<S>(first.value(i))?;
                        Ok(S::fold(s.iter().map(|e| *e.summary()), mode(i)?))
                    })
                    .collect::<DfResult<Vec<_>>>()?;
                return ScalarValue::iter_to_array(values);
            }
            _ => {}
        }
        let second = cast(&arrays[1], &DataType::Binary)?;
        let second = second.as_binary::<i32>();
        let lgs = ints(arrays.get(2).filter(|_| op.starts_with("union")))?;
        let lgs = lgs.as_ref().map(|a| a.as_primitive::<Int64Type>());
        let theta = op.ends_with("_theta");
        let mut out = BinaryBuilder::new();
        for i in 0..n {
            if first.is_null(i) || second.is_null(i) {
                out.append_null();
                continue;
            }
            let mode = mode(i)?;
            let policy = ModePolicy::<S>::new(mode);
            let a = deserialize::<S>(first.value(i))?;
            let b = if theta {
                tuple_of_theta(second.value(i), policy.create())?
            } else {
                deserialize::<S>(second.value(i))?
            };
            let bytes = if op.starts_with("union") {
                let lg = lgs
                    .filter(|l| l.is_valid(i))
                    .map_or(DEFAULT_LG, |l| l.value(i));
                let mut union = union_of::<S>(lg_of(lg, 4, 26, "lgNomEntries")?, mode)?;
                union.update(&a).map_err(error)?;
                union.update(&b).map_err(error)?;
                union.to_sketch(true).serialize()
            } else if op.starts_with("intersection") {
                let mut intersection = TupleIntersection::new(policy);
                intersection.update(&a).map_err(error)?;
                intersection.update(&b).map_err(error)?;
                match intersection.to_sketch(true) {
                    Some(s) => s.serialize(),
                    None => empty::<S>()?,
                }
            } else {
                TupleANotB::default()
                    .compute(&a, &b, true)
                    .map_err(error)?
                    .serialize()
            };
            out.append_value(bytes);
        }
        Ok(Arc::new(out.finish()))
    }
}

impl ScalarUDFImpl for TupleScalar {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(match (self.op(), self.family) {
            ("sketch_estimate" | "sketch_theta", _) => DataType::Float64,
            ("sketch_summary", Family::Integer) => i32::RESULT,
            ("sketch_summary", Family::Double) => f64::RESULT,
            _ => DataType::Binary,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out = match self.family {
            Family::Integer => self.eval::<i32>(&arrays, n)?,
            Family::Double => self.eval::<f64>(&arrays, n)?,
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};

    fn agg(name: &str, keys: Vec<i64>, values: Vec<f64>, mode: &str) -> DfResult<Vec<u8>> {
        let params = [ScalarValue::Int64(Some(12)), ScalarValue::from(mode)];
        let mut state = new_state(name, &params)?;
        let keys: ArrayRef = Arc::new(Int64Array::from(keys));
        let values: ArrayRef = Arc::new(Float64Array::from(values));
        state.add_values(&[keys, values])?;
        state.bytes()
    }

    fn call(name: &str, args: Vec<ArrayRef>) -> DfResult<ArrayRef> {
        let f = TupleScalar {
            name: name.into(),
            family: Family::of(name),
            signature: Signature::any(args.len(), Volatility::Immutable),
        };
        match f.family {
            Family::Integer => f.eval::<i32>(&args, 1),
            Family::Double => f.eval::<f64>(&args, 1),
        }
    }

    fn binary(b: Vec<u8>) -> ArrayRef {
        Arc::new(datafusion::arrow::array::BinaryArray::from_vec(vec![&b]))
    }

    fn text(s: &str) -> ArrayRef {
        Arc::new(StringArray::from(vec![s]))
    }

    fn summary(sketch: &[u8], mode: &str) -> DfResult<f64> {
        let out = call(
            "tuple_sketch_summary_double",
            vec![binary(sketch.to_vec()), text(mode)],
        )?;
        Ok(out.as_primitive::<Float64Type>().value(0))
    }

    #[test]
    fn summaries_fold_by_mode() -> DfResult<()> {
        // keys 1 and 2; key 2 has 20 and 30
        let keys = vec![1, 2, 2];
        let values = vec![10.0, 20.0, 30.0];
        let sum = agg(
            "tuple_sketch_agg_double",
            keys.clone(),
            values.clone(),
            "sum",
        )?;
        assert_eq!(summary(&sum, "sum")?, 60.0);
        assert_eq!(summary(&sum, "max")?, 50.0);
        assert_eq!(summary(&sum, "alwaysone")?, 2.0);
        let min = agg("tuple_sketch_agg_double", keys, values, "MIN")?;
        assert_eq!(summary(&min, "sum")?, 30.0);
        assert_eq!(summary(&min, "min")?, 10.0);
        assert!(summary(&min, "median").is_err());
        Ok(())
    }

    #[test]
    fn set_operations_with_tuple_and_theta_sketches() -> DfResult<()> {
        let a = agg(
            "tuple_sketch_agg_double",
            vec![1, 2, 3],
            vec![1.0, 2.0, 3.0],
            "sum",
        )?;
        let b = agg(
            "tuple_sketch_agg_double",
            vec![2, 3, 4],
            vec![4.0, 5.0, 6.0],
            "sum",
        )?;
        let estimate = |bytes: ArrayRef| -> DfResult<f64> {
            let e = call("tuple_sketch_estimate_double", vec![bytes])?;
            Ok(e.as_primitive::<Float64Type>().value(0))
        };
        let set = |name: &str, b: Vec<u8>| call(name, vec![binary(a.clone()), binary(b)]);
        assert_eq!(estimate(set("tuple_union_double", b.clone())?)?, 4.0);
        let both = set("tuple_intersection_double", b.clone())?;
        assert_eq!(estimate(both.clone())?, 2.0);
        // the shared keys 2 and 3 add their summaries: 2 + 4 + 3 + 5
        assert_eq!(summary(both.as_binary::<i32>().value(0), "sum")?, 14.0);
        assert_eq!(estimate(set("tuple_difference_double", b)?)?, 1.0);

        let mut theta = datasketches::theta::ThetaSketchBuilder::default()
            .build()
            .map_err(error)?;
        [3_i64, 4, 5].into_iter().for_each(|k| theta.update(k));
        let theta = theta.compact(true).serialize();
        assert_eq!(
            estimate(set("tuple_union_theta_double", theta.clone())?)?,
            5.0
        );
        assert_eq!(
            estimate(set("tuple_intersection_theta_double", theta.clone())?)?,
            1.0
        );
        assert_eq!(estimate(set("tuple_difference_theta_double", theta)?)?, 2.0);
        Ok(())
    }
}
