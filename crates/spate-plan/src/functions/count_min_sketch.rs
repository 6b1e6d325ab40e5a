//! `count_min_sketch(col, eps, confidence[, seed])`: Spark's count-min sketch of a column, as
//! the bytes Spark's `CountMinSketchImpl` writes, so they equal Spark's for one input. Width
//! `ceil(2 / eps)`, depth `ceil(-ln(1 - confidence) / ln 2)`; row `i` hashes an integral
//! value `v` as `hashA[i] * v` folded to 31 bits; `hashA` are draws of
//! `java.util.Random(seed)`. Strings and bytes, which Spark hashes with Murmur3, are not
//! supported yet (the buckets tried did not give Spark's bytes).
//! Nulls are not counted; partial sketches merge by adding their tables. The seed is random
//! when omitted, as in Spark.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, lit};
use spate_common::{Error, Result};

use super::sketch_agg::{self, SketchState};
use super::{Arg, CallContext, arg_type, default_name, wrong_args};

/// The aggregate of this module.
pub(super) const AGG_NAMES: &[&str] = &["count_min_sketch"];

/// Resolves `count_min_sketch`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "count_min_sketch" {
        return Ok(None);
    }
    if !(3..=4).contains(&args.len()) {
        return Err(wrong_args(name, "3 or 4", args.len()));
    }
    let t = arg_type(&args[0], cx)?;
    if matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::Binary) {
        // Spark hashes text and bytes with Murmur3 into its buckets; Spate's buckets for them
        // did not match Spark's bytes, so they are refused rather than given other bytes
        return Err(Error::unsupported(
            "count_min_sketch of strings or bytes (integral values are supported)",
        ));
    }
    if !t.is_integer() {
        return Err(Error::analysis(
            "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
            format!(
                "Cannot resolve \"count_min_sketch({})\": the first parameter requires an integral, string or binary value, however it has the type \"{}\".",
                args[0].name,
                crate::types::sql_string(&t)
            ),
        ));
    }
    for (arg, what, valid) in [
        (&args[1], "eps", (|v: f64| v > 0.0) as fn(f64) -> bool),
        (&args[2], "confidence", |v: f64| v > 0.0 && v < 1.0),
    ] {
        if arg_type(arg, cx)? != DataType::Float64 {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                format!(
                    "Cannot resolve \"count_min_sketch\": the `{what}` parameter requires the \"DOUBLE\" type, however \"{}\" has the type \"{}\".",
                    arg.name,
                    crate::types::sql_string(&arg_type(arg, cx)?)
                ),
            ));
        }
        if let Some(v) = constant(&arg.expr)
            && !valid(v)
        {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.VALUE_OUT_OF_RANGE",
                format!(
                    "Cannot resolve \"count_min_sketch\": the `{what}` is out of range (current value = {}).",
                    arg.name
                ),
            ));
        }
    }
    let mut args = args.to_vec();
    if args.len() == 3 {
        // Spark draws a seed and shows it in the name
        let seed = i64::from(rand::random::<i32>().unsigned_abs() as i32);
        args.push(Arg {
            expr: lit(seed),
            name: seed.to_string(),
        });
    }
    let label = default_name(name, &args, false);
    let exprs: Vec<Expr> = args.iter().map(|a| a.expr.clone()).collect();
    Ok(Some((sketch_agg::call(name, exprs, 1, new_sketch), label)))
}

/// The value of a constant argument: a literal, or a cast of one (SQL's `0.5D`).
fn constant(e: &Expr) -> Option<f64> {
    match e {
        Expr::Literal(v, _) => number(v),
        Expr::Cast(c) => match c.expr.as_ref() {
            Expr::Literal(v, _) => number(&v.cast_to(&DataType::Float64).ok()?),
            _ => None,
        },
        _ => None,
    }
}

fn number(v: &ScalarValue) -> Option<f64> {
    match v {
        ScalarValue::Float64(Some(f)) => Some(*f),
        ScalarValue::Float32(Some(f)) => Some(f64::from(*f)),
        ScalarValue::Decimal128(Some(u), _, s) => Some(*u as f64 / 10f64.powi(i32::from(*s))),
        ScalarValue::Int32(Some(i)) => Some(f64::from(*i)),
        ScalarValue::Int64(Some(i)) => Some(*i as f64),
        _ => None,
    }
}

fn new_sketch(_name: &str, params: &[ScalarValue]) -> DfResult<Box<dyn SketchState>> {
    let bad = |what: &str| DataFusionError::Plan(format!("count_min_sketch: {what}"));
    let eps = params
        .first()
        .and_then(number)
        .ok_or_else(|| bad("eps must be a number"))?;
    let confidence = params
        .get(1)
        .and_then(number)
        .ok_or_else(|| bad("confidence must be a number"))?;
    let seed = match params.get(2) {
        Some(ScalarValue::Int32(Some(s))) => i64::from(*s),
        // Spark takes the seed's int value (a long is truncated to its low 32 bits)
        Some(ScalarValue::Int64(Some(s))) => i64::from(*s as i32),
        _ => return Err(bad("seed must be an integer")),
    };
    if eps <= 0.0 {
        return Err(bad(&format!(
            "relative error must be positive (current value = {eps})"
        )));
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(bad(&format!(
            "confidence must be within range (0.0, 1.0) (current value = {confidence})"
        )));
    }
    let width = (2.0 / eps).ceil() as usize;
    let depth = (-(1.0 - confidence).ln() / 2f64.ln()).ceil() as usize;
    let mut random = JavaRandom::new(seed);
    let hash_a = (0..depth)
        .map(|_| i64::from(random.next_int(i32::MAX)))
        .collect();
    Ok(Box::new(Sketch {
        width,
        depth,
        hash_a,
        table: vec![0; width * depth],
        total: 0,
    }))
}

/// `java.util.Random`: a 48-bit linear congruential generator.
struct JavaRandom(i64);

impl JavaRandom {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom((seed ^ Self::MULTIPLIER) & Self::MASK)
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.0 = (self.0.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.0 >> (48 - bits)) as i32
    }

    /// `nextInt(bound)` for a bound that is not a power of two.
    fn next_int(&mut self, bound: i32) -> i32 {
        loop {
            let bits = self.next(31);
            let val = bits % bound;
            if bits.wrapping_sub(val).wrapping_add(bound - 1) >= 0 {
                return val;
            }
        }
    }
}

struct Sketch {
    width: usize,
    depth: usize,
    hash_a: Vec<i64>,
    /// `depth` rows of `width` counts.
    table: Vec<i64>,
    total: i64,
}

/// 2^31 - 1, the modulus of the integral hash.
const PRIME_MODULUS: i64 = (1 << 31) - 1;

impl Sketch {
    fn add_long(&mut self, item: i64) {
        for i in 0..self.depth {
            let mut hash = self.hash_a[i].wrapping_mul(item);
            hash = hash.wrapping_add(hash >> 32);
            hash &= PRIME_MODULUS;
            let bucket = (hash as i32) % self.width as i32;
            self.table[i * self.width + bucket as usize] += 1;
        }
        self.total += 1;
    }
}

impl SketchState for Sketch {
    fn add_values(&mut self, columns: &[ArrayRef]) -> DfResult<()> {
        let c = &columns[0];
        match c.data_type() {
            t if t.is_integer() => {
                let longs = cast(c, &DataType::Int64)?;
                let longs = longs.as_primitive::<Int64Type>();
                for i in 0..longs.len() {
                    if !longs.is_null(i) {
                        self.add_long(longs.value(i));
                    }
                }
            }
            other => {
                return Err(DataFusionError::NotImplemented(format!(
                    "count_min_sketch of {other}"
                )));
            }
        }
        Ok(())
    }

    fn add_sketches(&mut self, column: &ArrayRef) -> DfResult<()> {
        let bytes = column.as_binary::<i32>();
        for i in 0..bytes.len() {
            if bytes.is_null(i) {
                continue;
            }
            let b = bytes.value(i);
            let long = |at: usize| -> DfResult<i64> {
                b.get(at..at + 8)
                    .and_then(|s| <[u8; 8]>::try_from(s).ok())
                    .map(i64::from_be_bytes)
                    .ok_or_else(|| DataFusionError::Internal("short count-min sketch".into()))
            };
            self.total += long(4)?;
            // version, total, depth, width, then depth seeds, then the table
            let table_at = 4 + 8 + 4 + 4 + 8 * self.depth;
            for (k, cell) in self.table.iter_mut().enumerate() {
                *cell += long(table_at + 8 * k)?;
            }
        }
        Ok(())
    }

    fn bytes(&mut self) -> DfResult<Vec<u8>> {
        let mut out = Vec::with_capacity(20 + 8 * (self.depth + self.table.len()));
        out.extend(1i32.to_be_bytes());
        out.extend(self.total.to_be_bytes());
        out.extend((self.depth as i32).to_be_bytes());
        out.extend((self.width as i32).to_be_bytes());
        for a in &self.hash_a {
            out.extend(a.to_be_bytes());
        }
        for cell in &self.table {
            out.extend(cell.to_be_bytes());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(sketch: &mut dyn SketchState) -> String {
        sketch
            .bytes()
            .unwrap_or_default()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    #[test]
    fn sketches_are_sparks_bytes() -> DfResult<()> {
        // pyspark's count_min_sketch docstring: spark.range(100) with these arguments
        let ids: ArrayRef = std::sync::Arc::new(
            datafusion::arrow::array::Int64Array::from_iter_values(0..100),
        );
        let params = [
            ScalarValue::Float64(Some(1.0)),
            ScalarValue::Float64(Some(0.3)),
            ScalarValue::Int32(Some(2)),
        ];
        let mut s = new_sketch("count_min_sketch", &params)?;
        s.add_values(std::slice::from_ref(&ids))?;
        assert_eq!(
            hex(s.as_mut()),
            "0000000100000000000000640000000100000002000000005D96391C00000000000000320000000000000032"
        );
        // a long seed counts by its low 32 bits
        let params = [
            ScalarValue::Float64(Some(1.5)),
            ScalarValue::Float64(Some(0.2)),
            ScalarValue::Int64(Some(1_111_111_111_111_111_111)),
        ];
        let mut s = new_sketch("count_min_sketch", &params)?;
        s.add_values(std::slice::from_ref(&ids))?;
        assert_eq!(
            hex(s.as_mut()),
            "00000001000000000000006400000001000000020000000044078BA100000000000000320000000000000032"
        );
        Ok(())
    }
}
