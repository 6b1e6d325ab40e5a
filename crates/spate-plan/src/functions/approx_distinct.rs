//! Spark's `approx_count_distinct(expr[, rsd])`: a HyperLogLog++ sketch laid out as Spark's,
//! so that its estimates are Spark's. A value is hashed with Spark's `xxhash64` (seed 42, from
//! `datafusion-spark`); the top `p` bits pick a register, which keeps the longest run of leading
//! zeros seen in the rest, where `p = ceil(2 * log2(1.106 / rsd))` (rsd 0.05: 512 registers).
//! The estimate is linear counting while that stays under Spark's threshold for `p`, else the
//! harmonic-mean estimate — both as Spark computes them. Spark also subtracts an empirical bias
//! (tables from the HLL++ paper) from harmonic-mean estimates up to five times the register
//! count; we have no such tables, so in that band (roughly 400 to 2560 distinct values at the
//! default rsd) we fall back to the original HyperLogLog rule (linear counting up to 2.5 per
//! register), which stays within the requested error but is not Spark's number.
//!
//! As a window aggregate over a sliding frame, rows leave the frame: [`RetractableSketch`] keeps
//! a count per distinct hash and, per register, how many of those hashes offer each rank, so a
//! register falls back to its next highest rank when its last highest hash leaves. Its registers
//! are always those of hashing the frame's rows afresh (what Spark does), kept up to date in
//! constant time per row; the estimate needs no pass over the registers while linear counting
//! applies. The sliding-window operator (`crate::sliding_window`) uses it too.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;
use datafusion_spark::function::hash::xxhash64::SparkXxhash64;

type DfResult<T> = datafusion::common::Result<T>;

/// Spark's default relative standard deviation.
const DEFAULT_RSD: f64 = 0.05;
/// Spark's linear-counting thresholds, indexed by `p - 4`.
const THRESHOLDS: [f64; 15] = [
    10.0, 20.0, 40.0, 80.0, 220.0, 400.0, 900.0, 1800.0, 3100.0, 6500.0, 11500.0, 20000.0, 50000.0,
    120000.0, 350000.0,
];

/// Counts per hash: the keys are xxhash64 values already, so they are their own hash.
type HashCounts = HashMap<u64, usize, BuildHasherDefault<KeyIsHash>>;

/// A `Hasher` that passes a `u64` key through.
#[derive(Default)]
struct KeyIsHash(u64);

impl std::hash::Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The `approx_count_distinct` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ApproxCountDistinct {
    signature: Signature,
}

impl ApproxCountDistinct {
    /// A new instance, for the registry.
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(
                vec![TypeSignature::Any(1), TypeSignature::Any(2)],
                Volatility::Immutable,
            ),
        }
    }
}

impl Default for ApproxCountDistinct {
    fn default() -> Self {
        Self::new()
    }
}

fn analysis_error(message: String) -> DataFusionError {
    DataFusionError::Plan(message)
}

/// The register-index width for a relative standard deviation, checked as Spark checks it.
fn precision(rsd: f64) -> DfResult<u32> {
    let p = (2.0 * (1.106 / rsd).log2()).ceil();
    if !(4.0..=18.0).contains(&p) {
        return Err(analysis_error(format!(
            "[FAILED_FUNCTION_CALL] Failed preparing of the function `approx_count_distinct` \
             for call: the relative standard deviation {rsd} needs {p} bits of register \
             index; HyperLogLog++ supports 4 to 18 (rsd between 0.0022 and 0.39)."
        )));
    }
    Ok(p as u32)
}

/// The rsd argument of a call with arguments `exprs`: a constant, or the default.
fn rsd_from(exprs: &[Arc<dyn PhysicalExpr>]) -> DfResult<f64> {
    let Some(expr) = exprs.get(1) else {
        return Ok(DEFAULT_RSD);
    };
    let value = expr
        .downcast_ref::<Literal>()
        .map(|l| l.value().clone())
        .ok_or_else(|| {
            analysis_error("approx_count_distinct: rsd must be a constant number".into())
        })?;
    match value.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(Some(v)) if v > 0.0 => Ok(v),
        other => Err(analysis_error(format!(
            "approx_count_distinct: rsd must be a positive number, got {other}"
        ))),
    }
}

impl AggregateUDFImpl for ApproxCountDistinct {
    fn name(&self) -> &str {
        "approx_count_distinct"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(HllAccumulator::new(
            precision(rsd_from(args.exprs)?)?,
            Hasher::new(&args)?,
        )))
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(SlidingHllAccumulator {
            sketch: RetractableSketch::new(precision(rsd_from(args.exprs)?)?),
            hasher: Hasher::new(&args)?,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "registers"),
            DataType::Binary,
            true,
        ))])
    }

    fn default_value(&self, _data_type: &DataType) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Int64(Some(0)))
    }
}

/// Spark's 64-bit hash of each non-null input value.
#[derive(Debug)]
struct Hasher {
    xxhash64: SparkXxhash64,
    input: FieldRef,
    output: FieldRef,
    config: Arc<ConfigOptions>,
}

impl Hasher {
    fn new(args: &AccumulatorArgs<'_>) -> DfResult<Self> {
        let input =
            args.expr_fields.first().cloned().ok_or_else(|| {
                analysis_error("approx_count_distinct needs an argument".to_string())
            })?;
        Ok(Self::with_input(input))
    }

    fn with_input(input: FieldRef) -> Self {
        Self {
            xxhash64: SparkXxhash64::new(),
            input,
            output: Arc::new(Field::new("hash", DataType::Int64, false)),
            config: Arc::new(ConfigOptions::default()),
        }
    }

    /// Calls `f` with the hash of every non-null value.
    fn for_each(&self, values: &ArrayRef, mut f: impl FnMut(u64)) -> DfResult<()> {
        self.for_each_indexed(values, |_, h| f(h))
    }

    /// Calls `f` with the row and the hash of every non-null value.
    fn for_each_indexed(&self, values: &ArrayRef, mut f: impl FnMut(usize, u64)) -> DfResult<()> {
        if values.len() == values.null_count() {
            return Ok(());
        }
        let hashed = self.xxhash64.invoke_with_args(ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(Arc::clone(values))],
            arg_fields: vec![Arc::clone(&self.input)],
            number_rows: values.len(),
            return_field: Arc::clone(&self.output),
            config_options: Arc::clone(&self.config),
        })?;
        let hashes = hashed.into_array(values.len())?;
        let hashes: &Int64Array = hashes.as_primitive::<Int64Type>();
        for (i, h) in hashes.values().iter().enumerate() {
            if values.is_valid(i) {
                f(i, *h as u64);
            }
        }
        Ok(())
    }
}

/// The registers of one sketch.
#[derive(Debug, Clone)]
struct Sketch {
    p: u32,
    registers: Vec<u8>,
}

impl Sketch {
    fn new(p: u32) -> Self {
        Self {
            p,
            registers: vec![0; 1 << p],
        }
    }

    /// Where a hash goes: its register and the rank it offers.
    fn slot(&self, hash: u64) -> (usize, u8) {
        let index = (hash >> (64 - self.p)) as usize;
        let rest = (hash << self.p) | (1 << (self.p - 1));
        (index, rest.leading_zeros() as u8 + 1)
    }

    fn add(&mut self, hash: u64) {
        let (index, rank) = self.slot(hash);
        if let Some(r) = self.registers.get_mut(index) {
            *r = (*r).max(rank);
        }
    }

    fn merge(&mut self, other: &[u8]) {
        for (r, o) in self.registers.iter_mut().zip(other) {
            *r = (*r).max(*o);
        }
    }

    fn estimate(&self) -> i64 {
        self.estimate_with(self.registers.iter().filter(|r| **r == 0).count())
    }

    /// The estimate, given how many registers are empty.
    fn estimate_with(&self, zeros: usize) -> i64 {
        self.linear_count(zeros)
            .unwrap_or_else(|| self.harmonic_estimate(zeros))
    }

    /// Linear counting, when Spark uses it: some register is empty and the count is under
    /// Spark's threshold for `p`.
    fn linear_count(&self, zeros: usize) -> Option<i64> {
        let m = self.registers.len() as f64;
        let h = m * (m / zeros as f64).ln();
        (zeros > 0 && h <= THRESHOLDS[(self.p - 4) as usize]).then(|| h.round() as i64)
    }

    fn harmonic_estimate(&self, zeros: usize) -> i64 {
        let m = self.registers.len() as f64;
        // 2^-r, summed in register order as Spark does.
        let inverse_sum: f64 = self
            .registers
            .iter()
            .map(|r| 0.5f64.powi(i32::from(*r)))
            .sum();
        let alpha = match self.p {
            4 => 0.673,
            5 => 0.697,
            6 => 0.709,
            _ => 0.7213 / (1.0 + 1.079 / m),
        };
        let raw = alpha * m * m / inverse_sum;
        // Spark's bias-corrected band (see the module documentation).
        let estimate = if zeros > 0 && raw <= 2.5 * m {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        estimate.round() as i64
    }
}

/// The registers of a sliding frame's hashes, kept as hashes enter and leave.
#[derive(Debug, Clone)]
pub(crate) struct RetractableSketch {
    sketch: Sketch,
    /// How many rows of the frame have each hash.
    counts: HashCounts,
    /// Per register, how many distinct hashes of the frame offer each rank (65 ranks);
    /// allocated at the first hash (window partitions with no value cost nothing).
    ranks: Vec<u32>,
    /// Registers at zero.
    zeros: usize,
}

const RANKS: usize = 65;

impl RetractableSketch {
    pub(crate) fn new(p: u32) -> Self {
        Self {
            sketch: Sketch::new(p),
            counts: HashCounts::default(),
            ranks: Vec::new(),
            zeros: 1 << p,
        }
    }

    pub(crate) fn add(&mut self, hash: u64) {
        let count = self.counts.entry(hash).or_default();
        *count += 1;
        if *count > 1 {
            return;
        }
        if self.ranks.is_empty() {
            self.ranks = vec![0; self.sketch.registers.len() * RANKS];
        }
        let (index, rank) = self.sketch.slot(hash);
        self.ranks[index * RANKS + usize::from(rank)] += 1;
        let register = &mut self.sketch.registers[index];
        if rank > *register {
            self.zeros -= usize::from(*register == 0);
            *register = rank;
        }
    }

    pub(crate) fn remove(&mut self, hash: u64) {
        let Some(count) = self.counts.get_mut(&hash) else {
            return;
        };
        *count -= 1;
        if *count > 0 {
            return;
        }
        self.counts.remove(&hash);
        let (index, rank) = self.sketch.slot(hash);
        let ranks = &mut self.ranks[index * RANKS..(index + 1) * RANKS];
        ranks[usize::from(rank)] -= 1;
        let register = &mut self.sketch.registers[index];
        if rank == *register && ranks[usize::from(rank)] == 0 {
            // the highest rank still offered, or 0
            *register = (1..rank)
                .rev()
                .find(|r| ranks[usize::from(*r)] > 0)
                .unwrap_or(0);
            self.zeros += usize::from(*register == 0);
        }
    }

    /// Empties the sketch, in the time of its contents.
    pub(crate) fn clear(&mut self) {
        for hash in self.counts.keys() {
            let (index, rank) = self.sketch.slot(*hash);
            self.ranks[index * RANKS + usize::from(rank)] = 0;
            self.sketch.registers[index] = 0;
        }
        self.counts.clear();
        self.zeros = self.sketch.registers.len();
    }

    pub(crate) fn estimate(&self) -> i64 {
        self.sketch.estimate_with(self.zeros)
    }

    fn registers(&self) -> &[u8] {
        &self.sketch.registers
    }

    pub(crate) fn size(&self) -> usize {
        self.sketch.registers.len()
            + self.ranks.len() * 4
            + self.counts.capacity() * std::mem::size_of::<(u64, usize)>()
    }
}

/// The register-index width of an `approx_count_distinct` call with arguments `args` (the
/// value, then the rsd literal if given).
pub(crate) fn precision_of(args: &[Arc<dyn PhysicalExpr>]) -> DfResult<u32> {
    precision(rsd_from(args)?)
}

/// Spark's xxhash64 of each value of `values` (None for nulls), for a sliding frame's sketch.
pub(crate) fn hashes(values: &ArrayRef) -> DfResult<Vec<Option<u64>>> {
    let field = Arc::new(Field::new("value", values.data_type().clone(), true));
    let hasher = Hasher::with_input(field);
    let mut out = vec![None; values.len()];
    hasher.for_each_indexed(values, |i, h| out[i] = Some(h))?;
    Ok(out)
}

/// The estimate of a sketch with `2^p` registers built afresh from `hashes` (for tests of the
/// sketches kept as rows come and go).
#[cfg(test)]
pub(crate) fn fresh_estimate(p: u32, hashes: impl IntoIterator<Item = u64>) -> i64 {
    let mut sketch = Sketch::new(p);
    hashes.into_iter().for_each(|h| sketch.add(h));
    sketch.estimate()
}

/// Group and running-frame accumulator: registers only.
#[derive(Debug)]
struct HllAccumulator {
    sketch: Sketch,
    hasher: Hasher,
}

impl HllAccumulator {
    fn new(p: u32, hasher: Hasher) -> Self {
        Self {
            sketch: Sketch::new(p),
            hasher,
        }
    }
}

impl Accumulator for HllAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        if let Some(v) = values.first() {
            let sketch = &mut self.sketch;
            self.hasher.for_each(v, |h| sketch.add(h))?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.sketch.estimate())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.sketch.registers.len()
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(
            self.sketch.registers.clone(),
        ))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        if let Some(s) = states.first() {
            let s: &BinaryArray = s.as_binary::<i32>();
            for registers in s.iter().flatten() {
                self.sketch.merge(registers);
            }
        }
        Ok(())
    }
}

/// Sliding-frame accumulator: the frame's hashes in a [`RetractableSketch`].
#[derive(Debug)]
struct SlidingHllAccumulator {
    sketch: RetractableSketch,
    hasher: Hasher,
}

impl Accumulator for SlidingHllAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        if let Some(v) = values.first() {
            let sketch = &mut self.sketch;
            self.hasher.for_each(v, |h| sketch.add(h))?;
        }
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        if let Some(v) = values.first() {
            let sketch = &mut self.sketch;
            self.hasher.for_each(v, |h| sketch.remove(h))?;
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.sketch.estimate())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.sketch.size()
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(
            self.sketch.registers().to_vec(),
        ))])
    }

    fn merge_batch(&mut self, _states: &[ArrayRef]) -> DfResult<()> {
        Err(DataFusionError::Internal(
            "approx_count_distinct: a sliding-frame sketch cannot merge partial sketches".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_follows_spark() -> DfResult<()> {
        assert_eq!(precision(0.05)?, 9);
        assert_eq!(precision(0.01)?, 14);
        assert!(precision(0.5).is_err());
        Ok(())
    }

    #[test]
    fn retractable_registers_are_those_of_the_hashes_present() {
        // A sliding frame over a stream of hashes, some repeated: after every step the
        // registers and the estimate equal those of a sketch built afresh from the frame.
        for p in [4, 9] {
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            let stream: Vec<u64> = (0..3000)
                .map(|i| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    // every 5th value repeats an earlier one
                    if i % 5 == 0 {
                        (i as u64 / 7).wrapping_mul(0xff51_afd7_ed55_8ccd)
                    } else {
                        state
                    }
                })
                .collect();
            let mut sketch = RetractableSketch::new(p);
            let width = 700;
            for (i, h) in stream.iter().enumerate() {
                sketch.add(*h);
                if i >= width {
                    sketch.remove(stream[i - width]);
                }
                let frame = &stream[i.saturating_sub(width - 1)..=i];
                let mut fresh = Sketch::new(p);
                frame.iter().for_each(|h| fresh.add(*h));
                assert_eq!(
                    sketch.registers(),
                    fresh.registers.as_slice(),
                    "p {p} row {i}"
                );
                assert_eq!(sketch.estimate(), fresh.estimate(), "p {p} row {i}");
            }
            sketch.clear();
            assert_eq!(sketch.estimate(), 0);
            assert!(sketch.registers().iter().all(|r| *r == 0));
        }
    }

    #[test]
    fn small_sets_are_counted_exactly() {
        // Linear counting over 512 registers: distinct hashes in distinct registers.
        let mut s = Sketch::new(9);
        for i in 0..10u64 {
            s.add(i << 55);
        }
        assert_eq!(s.estimate(), 10);
        assert_eq!(Sketch::new(9).estimate(), 0);
    }
}
