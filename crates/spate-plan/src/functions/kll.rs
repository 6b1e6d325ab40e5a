//! Spark's KLL quantile sketches (`kll_sketch_*` and `kll_merge_agg_*`, each for `bigint`,
//! `float` and `double` values), on the Apache DataSketches KLL sketch (crate `datasketches`):
//! - `kll_sketch_agg_<t>(col[, k])`: the sketch of a column's non-null values (`k` 200 when
//!   omitted), as binary; `kll_merge_agg_<t>(sketch[, k])`: the union of a column of sketches;
//! - `kll_sketch_get_n_<t>(s)`: how many values it saw; `kll_sketch_get_quantile_<t>(s, rank)`:
//!   the value at a normalized rank; `kll_sketch_get_rank_<t>(s, value)`: the normalized rank of
//!   a value (both inclusive, Spark's default); `kll_sketch_merge_<t>(a, b)`: two sketches' union;
//!   `kll_sketch_to_string_<t>(s)`: a summary of the sketch (Spate's wording: Spark prints the
//!   Java library's).
//!
//! The binary form is the DataSketches library's serialization.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, Float64Array, Int64Array, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type, Int64Type};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datasketches::common::SearchCriteria;
use datasketches::kll::{KllFloat, KllSketch};
use spate_common::Result;

use super::sketch_agg::{self, SketchState};
use super::{Arg, CallContext, default_name, wrong_args};

/// The aggregates of this module (SQL text plans them as aggregates).
pub(super) const AGG_NAMES: &[&str] = &[
    "kll_sketch_agg_bigint",
    "kll_sketch_agg_float",
    "kll_sketch_agg_double",
    "kll_merge_agg_bigint",
    "kll_merge_agg_float",
    "kll_merge_agg_double",
];

/// The scalar functions of this module.
pub(super) const SQL_NAMES: &[&str] = &[
    "kll_sketch_get_n_bigint",
    "kll_sketch_get_n_float",
    "kll_sketch_get_n_double",
    "kll_sketch_get_quantile_bigint",
    "kll_sketch_get_quantile_float",
    "kll_sketch_get_quantile_double",
    "kll_sketch_get_rank_bigint",
    "kll_sketch_get_rank_float",
    "kll_sketch_get_rank_double",
    "kll_sketch_merge_bigint",
    "kll_sketch_merge_float",
    "kll_sketch_merge_double",
    "kll_sketch_to_string_bigint",
    "kll_sketch_to_string_float",
    "kll_sketch_to_string_double",
];

/// Spark's default `k`.
const DEFAULT_K: u16 = 200;

/// The type of the values a sketch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Bigint,
    Float,
    Double,
}

impl Kind {
    /// The kind a function name ends with, and the name without it.
    fn split(name: &str) -> Option<(&str, Kind)> {
        [
            ("_bigint", Kind::Bigint),
            ("_float", Kind::Float),
            ("_double", Kind::Double),
        ]
        .into_iter()
        .find_map(|(suffix, kind)| name.strip_suffix(suffix).map(|op| (op, kind)))
    }

    fn value_type(self) -> DataType {
        match self {
            Kind::Bigint => DataType::Int64,
            Kind::Float => DataType::Float32,
            Kind::Double => DataType::Float64,
        }
    }
}

/// A sketch of one kind.
enum Sketch {
    Long(KllSketch<i64>),
    Float(KllSketch<KllFloat<f32>>),
    Double(KllSketch<KllFloat<f64>>),
}

fn sketch_error(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("not a valid KLL sketch: {e}"))
}

impl Sketch {
    fn new(kind: Kind, k: u16) -> DfResult<Self> {
        Ok(match kind {
            Kind::Bigint => Sketch::Long(KllSketch::new(k).map_err(sketch_error)?),
            Kind::Float => Sketch::Float(KllSketch::new(k).map_err(sketch_error)?),
            Kind::Double => Sketch::Double(KllSketch::new(k).map_err(sketch_error)?),
        })
    }

    fn read(kind: Kind, bytes: &[u8]) -> DfResult<Self> {
        Ok(match kind {
            Kind::Bigint => Sketch::Long(KllSketch::deserialize(bytes).map_err(sketch_error)?),
            Kind::Float => Sketch::Float(KllSketch::deserialize(bytes).map_err(sketch_error)?),
            Kind::Double => Sketch::Double(KllSketch::deserialize(bytes).map_err(sketch_error)?),
        })
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Sketch::Long(s) => s.serialize(),
            Sketch::Float(s) => s.serialize(),
            Sketch::Double(s) => s.serialize(),
        }
    }

    /// Adds a column's non-null (and non-NaN) values.
    fn update(&mut self, values: &ArrayRef) -> DfResult<()> {
        match self {
            Sketch::Long(s) => {
                let v = cast(values, &DataType::Int64)?;
                v.as_primitive::<Int64Type>()
                    .iter()
                    .flatten()
                    .for_each(|x| s.update(x));
            }
            Sketch::Float(s) => {
                let v = cast(values, &DataType::Float32)?;
                for x in v.as_primitive::<Float32Type>().iter().flatten() {
                    if let Ok(x) = KllFloat::<f32>::new(x) {
                        s.update(x);
                    }
                }
            }
            Sketch::Double(s) => {
                let v = cast(values, &DataType::Float64)?;
                for x in v.as_primitive::<Float64Type>().iter().flatten() {
                    if let Ok(x) = KllFloat::<f64>::new(x) {
                        s.update(x);
                    }
                }
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: &Sketch) -> DfResult<()> {
        match (self, other) {
            (Sketch::Long(a), Sketch::Long(b)) => a.merge(b).map_err(sketch_error),
            (Sketch::Float(a), Sketch::Float(b)) => a.merge(b).map_err(sketch_error),
            (Sketch::Double(a), Sketch::Double(b)) => a.merge(b).map_err(sketch_error),
            _ => Err(sketch_error("sketches of different types")),
        }
    }

    fn n(&self) -> u64 {
        match self {
            Sketch::Long(s) => s.n(),
            Sketch::Float(s) => s.n(),
            Sketch::Double(s) => s.n(),
        }
    }

    /// The value at normalized rank `rank` (null for an empty sketch).
    fn quantile(&self, rank: f64) -> DfResult<ScalarValue> {
        let c = SearchCriteria::Inclusive;
        Ok(match self {
            Sketch::Long(s) => ScalarValue::Int64(s.quantile(rank, c).map_err(sketch_error)?),
            Sketch::Float(s) => ScalarValue::Float32(
                s.quantile(rank, c)
                    .map_err(sketch_error)?
                    .map(KllFloat::into_inner),
            ),
            Sketch::Double(s) => ScalarValue::Float64(
                s.quantile(rank, c)
                    .map_err(sketch_error)?
                    .map(KllFloat::into_inner),
            ),
        })
    }

    /// The normalized rank of `value` (a number).
    fn rank(&self, value: f64) -> Option<f64> {
        let c = SearchCriteria::Inclusive;
        match self {
            Sketch::Long(s) => s.rank(&(value as i64), c),
            Sketch::Float(s) => s.rank(&KllFloat::<f32>::new(value as f32).ok()?, c),
            Sketch::Double(s) => s.rank(&KllFloat::<f64>::new(value).ok()?, c),
        }
    }

    fn summary(&self) -> String {
        match self {
            Sketch::Long(s) => summary_of(s),
            Sketch::Float(s) => summary_of(s),
            Sketch::Double(s) => summary_of(s),
        }
    }
}

/// The text `kll_sketch_to_string_*` gives for a sketch.
fn summary_of<T: Clone + Ord + std::fmt::Display>(s: &KllSketch<T>) -> String {
    let item = |v: Option<&T>| v.map_or_else(|| "NaN".to_string(), |v| v.to_string());
    format!(
        "### KLL sketch summary:\n   K              : {}\n   N              : {}\n   \
         Retained items : {}\n   Estimation mode: {}\n   Min item       : {}\n   \
         Max item       : {}\n### End sketch summary\n",
        s.k(),
        s.n(),
        s.num_retained(),
        s.is_estimation_mode(),
        item(s.min_item()),
        item(s.max_item())
    )
}

/// Resolves `name` if it is a KLL function.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    _cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let aggregate = AGG_NAMES.contains(&name);
    if !aggregate && !SQL_NAMES.contains(&name) {
        return Ok(None);
    }
    let Some((op, kind)) = Kind::split(name) else {
        return Ok(None);
    };
    let exprs: Vec<Expr> = args.iter().map(|a| a.expr.clone()).collect();
    let label = default_name(name, args, false);
    if aggregate {
        if args.is_empty() || args.len() > 2 {
            return Err(wrong_args(name, "1 or 2", args.len()));
        }
        return Ok(Some((sketch_agg::call(name, exprs, 1, new_state), label)));
    }
    let (op, arity) = match op {
        "kll_sketch_get_n" => (Op::N, 1),
        "kll_sketch_get_quantile" => (Op::Quantile, 2),
        "kll_sketch_get_rank" => (Op::Rank, 2),
        "kll_sketch_merge" => (Op::Merge, 2),
        _ => (Op::Summary, 1),
    };
    if args.len() != arity {
        return Err(wrong_args(name, &arity.to_string(), args.len()));
    }
    let udf = ScalarUDF::new_from_impl(KllScalar {
        name: name.to_string(),
        kind,
        op,
        signature: Signature::any(arity, Volatility::Immutable),
    });
    Ok(Some((udf.call(exprs), label)))
}

/// A group's KLL sketch: of values, or (`kll_merge_agg_*`) the union of sketches.
struct KllState {
    sketch: Sketch,
    kind: Kind,
    merge: bool,
}

/// The state of aggregate `name` with `k` from its constant second argument (200 when
/// omitted; Spark's range 8 to 65535).
fn new_state(name: &str, params: &[ScalarValue]) -> DfResult<Box<dyn SketchState>> {
    let (op, kind) = Kind::split(name)
        .ok_or_else(|| DataFusionError::Internal(format!("{name} is not a KLL aggregate")))?;
    let k = match params.first() {
        None => Some(DEFAULT_K),
        Some(v) => match v.cast_to(&DataType::Int64) {
            Ok(ScalarValue::Int64(Some(k))) => u16::try_from(k).ok().filter(|k| *k >= 8),
            _ => None,
        },
    }
    .ok_or_else(|| {
        DataFusionError::Plan("the k of a KLL sketch must be a constant from 8 to 65535".into())
    })?;
    Ok(Box::new(KllState {
        sketch: Sketch::new(kind, k)?,
        kind,
        merge: op == "kll_merge_agg",
    }))
}

impl SketchState for KllState {
    fn add_values(&mut self, columns: &[ArrayRef]) -> DfResult<()> {
        let Some(column) = columns.first() else {
            return Ok(());
        };
        if self.merge {
            self.add_sketches(column)
        } else {
            self.sketch.update(column)
        }
    }

    fn add_sketches(&mut self, column: &ArrayRef) -> DfResult<()> {
        let bytes = cast(column, &DataType::Binary)?;
        for b in bytes.as_binary::<i32>().iter().flatten() {
            let other = Sketch::read(self.kind, b)?;
            self.sketch.merge(&other)?;
        }
        Ok(())
    }

    fn bytes(&mut self) -> DfResult<Vec<u8>> {
        Ok(self.sketch.bytes())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    N,
    Quantile,
    Rank,
    Merge,
    Summary,
}

/// A scalar function over KLL sketches.
#[derive(Debug, PartialEq, Eq, Hash)]
struct KllScalar {
    name: String,
    kind: Kind,
    op: Op,
    signature: Signature,
}

impl ScalarUDFImpl for KllScalar {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(match self.op {
            Op::N => DataType::Int64,
            Op::Quantile => self.kind.value_type(),
            Op::Rank => DataType::Float64,
            Op::Merge => DataType::Binary,
            Op::Summary => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let sketches = cast(&arrays[0], &DataType::Binary)?;
        let sketches = sketches.as_binary::<i32>();
        let second = match arrays.get(1) {
            Some(a) if self.op == Op::Merge => Some(cast(a, &DataType::Binary)?),
            Some(a) => Some(cast(a, &DataType::Float64)?),
            None => None,
        };
        let read = |i: usize| -> DfResult<Option<Sketch>> {
            if sketches.is_null(i) {
                return Ok(None);
            }
            Sketch::read(self.kind, sketches.value(i)).map(Some)
        };
        let number = |i: usize| -> Option<f64> {
            let a = second.as_ref()?;
            let a = a.as_primitive::<Float64Type>();
            a.is_valid(i).then(|| a.value(i))
        };
        let out: ArrayRef = match self.op {
            Op::N => {
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    v.push(read(i)?.map(|s| s.n() as i64));
                }
                Arc::new(Int64Array::from(v))
            }
            Op::Rank => {
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    v.push(match (read(i)?, number(i)) {
                        (Some(s), Some(x)) => s.rank(x),
                        _ => None,
                    });
                }
                Arc::new(Float64Array::from(v))
            }
            Op::Quantile => {
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    v.push(match (read(i)?, number(i)) {
                        (Some(s), Some(rank)) => {
                            if !(0.0..=1.0).contains(&rank) {
                                return Err(DataFusionError::Execution(format!(
                                    "the rank of {} must be between 0.0 and 1.0, got {rank}",
                                    self.name
                                )));
                            }
                            s.quantile(rank)?
                        }
                        _ => ScalarValue::try_from(&self.kind.value_type())?,
                    });
                }
                ScalarValue::iter_to_array(v)?
            }
            Op::Merge => {
                let other = second
                    .as_ref()
                    .ok_or_else(|| DataFusionError::Internal("merge needs two sketches".into()))?;
                let other = other.as_binary::<i32>();
                let mut b = BinaryBuilder::new();
                for i in 0..n {
                    match read(i)? {
                        Some(mut s) if other.is_valid(i) => {
                            s.merge(&Sketch::read(self.kind, other.value(i))?)?;
                            b.append_value(s.bytes());
                        }
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            Op::Summary => {
                let mut b = StringBuilder::new();
                for i in 0..n {
                    match read(i)? {
                        Some(s) => b.append_value(s.summary()),
                        None => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketches_answer_exactly_below_k() -> DfResult<()> {
        let mut s = Sketch::new(Kind::Bigint, DEFAULT_K)?;
        let values: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(1),
            Some(2),
            None,
            Some(3),
            Some(4),
            Some(5),
        ]));
        s.update(&values)?;
        let s = Sketch::read(Kind::Bigint, &s.bytes())?;
        assert_eq!(s.n(), 5);
        assert_eq!(s.quantile(0.5)?, ScalarValue::Int64(Some(3)));
        assert_eq!(s.rank(3.0), Some(0.6));
        Ok(())
    }
}
