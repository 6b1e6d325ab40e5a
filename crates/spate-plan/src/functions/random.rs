//! `rand([seed])` and `randn([seed])` with Spark's values: each partition draws from its own
//! XORShift generator seeded with `seed + partition index` (the seed first scrambled by two
//! MurmurHash3 rounds), `rand` as Java's `nextDouble` and `randn` as Java's polar-method
//! `nextGaussian` over that generator. The call resolves to a task-id marker (see
//! `crate::task_ids`), whose operator knows the partition and draws the values row by row.

use crate::task_ids::Draw;
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{Expr, cast};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["rand", "random", "randn", "uniform", "randstr"];

/// Resolves `rand`, `random`, `randn` and `uniform`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let draw = match name {
        "rand" | "random" => Draw::Uniform,
        "randn" => Draw::Gaussian,
        "uniform" => return uniform(args, cx).map(Some),
        "randstr" => return randstr(args).map(Some),
        _ => return Ok(None),
    };
    let seed = seed_of(name, args)?;
    let e = crate::task_ids::random_marker(seed, draw);
    Ok(Some((e, default_name(name, args, false))))
}

/// `randstr(length[, seed])`: `length` characters drawn as Spark's `randStr` draws them.
fn randstr(args: &[Arg]) -> Result<(Expr, String)> {
    let (length, seed) = match args {
        [length] => (length, &[][..]),
        [length, seed] => (length, std::slice::from_ref(seed)),
        _ => return Err(wrong_args("randstr", "1 or 2", args.len())),
    };
    let len = match &length.expr {
        Expr::Literal(ScalarValue::Int32(Some(n)), _) => i64::from(*n),
        Expr::Literal(ScalarValue::Int16(Some(n)), _) => i64::from(*n),
        Expr::Literal(ScalarValue::Int64(Some(n)), _) => *n,
        _ => {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
                format!(
                    "randstr(): the length must be an integer literal, got {}",
                    length.name
                ),
            ));
        }
    };
    let len = i32::try_from(len).ok().filter(|n| *n >= 0).ok_or_else(|| {
        Error::IllegalArgument(format!(
            "[INVALID_PARAMETER_VALUE.LENGTH] randstr(): the length must be at least 0, got {len}"
        ))
    })?;
    let e = crate::task_ids::random_marker(seed_of("randstr", seed)?, Draw::Text(len));
    Ok((e, default_name("randstr", args, false)))
}

/// `uniform(min, max[, seed])`: Spark's `min + (max - min) * rand(seed)`, computed in double
/// and cast to the wider of the bounds' types (an integer bound pair gives an integer).
fn uniform(args: &[Arg], cx: &CallContext<'_>) -> Result<(Expr, String)> {
    let (bounds, seed) = match args {
        [min, max] => ([min, max], &[][..]),
        [min, max, seed] => ([min, max], std::slice::from_ref(seed)),
        _ => return Err(wrong_args("uniform", "2 or 3", args.len())),
    };
    let types = [
        super::arg_type(bounds[0], cx)?,
        super::arg_type(bounds[1], cx)?,
    ];
    let result = wider_numeric(&types[0], &types[1]).ok_or_else(|| {
        Error::analysis(
            "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
            format!(
                "uniform(): the bounds must be numbers, got {} and {}",
                crate::types::sql_string(&types[0]),
                crate::types::sql_string(&types[1])
            ),
        )
    })?;
    let double = |a: &Arg| cast(a.expr.clone(), DataType::Float64);
    let draw = crate::task_ids::random_marker(seed_of("uniform", seed)?, Draw::Uniform);
    let value = double(bounds[0]) + (double(bounds[1]) - double(bounds[0])) * draw;
    Ok((cast(value, result), default_name("uniform", args, false)))
}

/// The type `uniform` gives for bounds of types `a` and `b`.
fn wider_numeric(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    let rank = |t: &DataType| match t {
        Int8 => Some(1),
        Int16 => Some(2),
        Int32 => Some(3),
        Int64 => Some(4),
        Decimal128(..) => Some(5),
        Float32 => Some(6),
        Float64 => Some(7),
        _ => None,
    };
    let (ra, rb) = (rank(a)?, rank(b)?);
    Some(if ra >= rb { a.clone() } else { b.clone() })
}

/// The seed argument of a random function: an integer literal, or a fresh seed when absent.
pub(super) fn seed_of(name: &str, args: &[Arg]) -> Result<i64> {
    Ok(match args {
        // Spark picks a seed when the query is analysed; so does Spate
        [] => fresh_seed(),
        [seed] => match &seed.expr {
            Expr::Literal(v, _) => match v {
                ScalarValue::Int8(x) => x.map_or(0, i64::from),
                ScalarValue::Int16(x) => x.map_or(0, i64::from),
                ScalarValue::Int32(x) => x.map_or(0, i64::from),
                ScalarValue::Int64(x) => x.unwrap_or(0),
                ScalarValue::Null => 0,
                other => return Err(seed_error(name, &other.data_type().to_string())),
            },
            _ => return Err(seed_error(name, &seed.name)),
        },
        _ => return Err(wrong_args(name, "0 or 1", args.len())),
    })
}

/// A seed nobody chose: the standard library's randomly keyed hasher over the clock.
pub(crate) fn fresh_seed() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::hash::RandomState::new().build_hasher();
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish() as i64
}

fn seed_error(name: &str, got: &str) -> Error {
    Error::analysis(
        "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
        format!("{name}(): the seed must be an integer literal (INT or BIGINT), got {got}"),
    )
}

/// Spark's `XORShiftRandom`: Java's `Random` interface over a 64-bit xorshift state.
#[derive(Debug, Clone)]
pub(crate) struct XorShiftRandom {
    state: u64,
    /// The second value of the last Gaussian pair, returned by the next `next_gaussian`.
    spare: Option<f64>,
}

impl XorShiftRandom {
    /// The generator Spark makes for `seed`.
    pub(crate) fn new(seed: i64) -> Self {
        let bytes = seed.to_be_bytes();
        let low = super::murmur3::hash_bytes(&bytes, 0x3c07_4a61);
        let high = super::murmur3::hash_bytes(&bytes, low);
        Self {
            state: ((high as u32 as u64) << 32) | u64::from(low as u32),
            spare: None,
        }
    }

    /// Java's `next(bits)`: the low `bits` bits of the next state.
    fn next(&mut self, bits: u32) -> u64 {
        let mut s = self.state ^ (self.state << 21);
        s ^= s >> 35;
        s ^= s << 4;
        self.state = s;
        s & ((1u64 << bits) - 1)
    }

    /// Java's `nextInt()`: the low 32 bits of the next state.
    fn next_int(&mut self) -> i32 {
        self.next(32) as u32 as i32
    }

    /// Spark's `randStr`: `len` characters of `0-9`, `a-z`, `A-Z`, each `|nextInt() % 62|`.
    pub(crate) fn next_text(&mut self, len: i32) -> String {
        (0..len)
            .map(|_| {
                let v = (self.next_int() % 62).unsigned_abs() as u8;
                char::from(match v {
                    0..=9 => b'0' + v,
                    10..=35 => b'a' + (v - 10),
                    _ => b'A' + (v - 36),
                })
            })
            .collect()
    }

    /// Java's `nextDouble`: 53 random bits in `[0, 1)`.
    pub(crate) fn next_double(&mut self) -> f64 {
        let bits = (self.next(26) << 27) + self.next(27);
        bits as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Java's `nextGaussian` (Marsaglia's polar method, values made in pairs).
    pub(crate) fn next_gaussian(&mut self) -> f64 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        loop {
            let v1 = 2.0 * self.next_double() - 1.0;
            let v2 = 2.0 * self.next_double() - 1.0;
            let s = v1 * v1 + v2 * v2;
            if s < 1.0 && s != 0.0 {
                let multiplier = (-2.0 * s.ln() / s).sqrt();
                self.spare = Some(v2 * multiplier);
                return v1 * multiplier;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::XorShiftRandom;

    #[test]
    fn draws_text_as_spark_documents() {
        // randstr(16, 3) over one partition (seed 3 + partition 0), from Spark's docstring
        let mut rng = XorShiftRandom::new(3);
        assert_eq!(rng.next_text(16), "nurJIpH4cmmMnsCG");
        assert_eq!(rng.next_text(16), "fl9YtT5m01trZtIt");
    }

    #[test]
    fn draws_spark_values() {
        // Spark 4.0.1: spark.range(0, 6, 1, 2).select(rand(42), randn(42)), partition 0 then 1
        let mut r = XorShiftRandom::new(42);
        assert_eq!(r.next_double(), 0.619189370225301);
        assert_eq!(r.next_double(), 0.5096018842446481);
        assert_eq!(r.next_double(), 0.8325259388871524);
        let mut r = XorShiftRandom::new(43);
        assert_eq!(r.next_double(), 0.8017532427858894);
        let mut g = XorShiftRandom::new(42);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(g.next_gaussian(), 2.384479054241165));
        assert!(close(g.next_gaussian(), 0.1920934041293524));
        assert!(close(g.next_gaussian(), 0.7337336533286575));
    }
}
