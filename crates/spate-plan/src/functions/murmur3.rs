//! Spark's `hash(col, ...)`: 32-bit Murmur3 (x86 variant) over the columns in order, seeded
//! with 42, each non-null value hashed with the running hash as its seed (a null leaves it
//! unchanged). Values are hashed as Spark lays them out: `boolean`, `byte`, `short`, `int` and
//! `date` as a 4-byte int, `bigint` and timestamps as an 8-byte long, `float` and `double` by
//! their bits (with -0.0 as 0.0), strings and binary by their bytes — the trailing bytes one
//! by one, as Spark's `hashUnsafeBytes` does.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::exec_err;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, arg_type, default_name};

/// The function names this module resolves.
pub(super) const SQL_NAMES: &[&str] = &["hash"];

const SEED: i32 = 42;

/// Resolves `hash(...)`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "hash" {
        return Ok(None);
    }
    for a in args {
        let t = arg_type(a, cx)?;
        if !hashable(&t) {
            return Err(Error::unsupported(format!("hash of {} (type {t})", a.name)));
        }
    }
    let udf = ScalarUDF::new_from_impl(SparkHash {
        signature: Signature::variadic_any(Volatility::Immutable),
    });
    let e = udf.call(args.iter().map(|a| a.expr.clone()).collect());
    Ok(Some((e, default_name("hash", args, false))))
}

fn hashable(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Null
            | DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float32
            | DataType::Float64
            | DataType::Date32
            | DataType::Timestamp(TimeUnit::Microsecond, _)
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
    )
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkHash {
    signature: Signature,
}

impl ScalarUDFImpl for SparkHash {
    fn name(&self) -> &str {
        "hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let mut hashes = vec![SEED; n];
        for column in ColumnarValue::values_to_arrays(&args.args)? {
            hash_column(&column, &mut hashes)?;
        }
        Ok(ColumnarValue::Array(Arc::new(Int32Array::from(hashes))))
    }
}

/// Folds the values of `column` into `hashes`, row by row.
fn hash_column(column: &ArrayRef, hashes: &mut [i32]) -> DfResult<()> {
    let each = |hashes: &mut [i32], f: &dyn Fn(usize, i32) -> i32| {
        for (i, h) in hashes.iter_mut().enumerate() {
            if column.is_valid(i) {
                *h = f(i, *h);
            }
        }
    };
    match column.data_type() {
        DataType::Null => {}
        DataType::Boolean => {
            let a = column.as_boolean();
            each(hashes, &|i, h| hash_int(i32::from(a.value(i)), h));
        }
        DataType::Int8 => {
            let a = column.as_primitive::<Int8Type>();
            each(hashes, &|i, h| hash_int(i32::from(a.value(i)), h));
        }
        DataType::Int16 => {
            let a = column.as_primitive::<Int16Type>();
            each(hashes, &|i, h| hash_int(i32::from(a.value(i)), h));
        }
        DataType::Int32 => {
            let a = column.as_primitive::<Int32Type>();
            each(hashes, &|i, h| hash_int(a.value(i), h));
        }
        DataType::Date32 => {
            let a = column.as_primitive::<Date32Type>();
            each(hashes, &|i, h| hash_int(a.value(i), h));
        }
        DataType::Int64 => {
            let a = column.as_primitive::<Int64Type>();
            each(hashes, &|i, h| hash_long(a.value(i), h));
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let a = column.as_primitive::<TimestampMicrosecondType>();
            each(hashes, &|i, h| hash_long(a.value(i), h));
        }
        DataType::Float32 => {
            let a = column.as_primitive::<Float32Type>();
            each(hashes, &|i, h| {
                let v = a.value(i);
                let v = if v == 0.0 { 0.0f32 } else { v };
                hash_int(v.to_bits() as i32, h)
            });
        }
        DataType::Float64 => {
            let a = column.as_primitive::<Float64Type>();
            each(hashes, &|i, h| {
                let v = a.value(i);
                let v = if v == 0.0 { 0.0f64 } else { v };
                hash_long(v.to_bits() as i64, h)
            });
        }
        DataType::Utf8 => {
            let a = column.as_string::<i32>();
            each(hashes, &|i, h| hash_bytes(a.value(i).as_bytes(), h));
        }
        DataType::LargeUtf8 => {
            let a = column.as_string::<i64>();
            each(hashes, &|i, h| hash_bytes(a.value(i).as_bytes(), h));
        }
        DataType::Utf8View => {
            let a = column.as_string_view();
            each(hashes, &|i, h| hash_bytes(a.value(i).as_bytes(), h));
        }
        DataType::Binary => {
            let a = column.as_binary::<i32>();
            each(hashes, &|i, h| hash_bytes(a.value(i), h));
        }
        other => return exec_err!("hash of {other} is not supported"),
    }
    Ok(())
}

fn mix_k1(k1: i32) -> i32 {
    k1.wrapping_mul(0xcc9e_2d51_u32 as i32)
        .rotate_left(15)
        .wrapping_mul(0x1b87_3593)
}

fn mix_h1(h1: i32, k1: i32) -> i32 {
    (h1 ^ k1)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64_u32 as i32)
}

fn finish(h1: i32, length: i32) -> i32 {
    let mut h = (h1 ^ length) as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h as i32
}

fn hash_int(v: i32, seed: i32) -> i32 {
    finish(mix_h1(seed, mix_k1(v)), 4)
}

fn hash_long(v: i64, seed: i32) -> i32 {
    let low = v as i32;
    let high = (v >> 32) as i32;
    let h1 = mix_h1(seed, mix_k1(low));
    finish(mix_h1(h1, mix_k1(high)), 8)
}

pub(super) fn hash_bytes(bytes: &[u8], seed: i32) -> i32 {
    let mut h1 = seed;
    let words = bytes.len() / 4 * 4;
    for chunk in bytes[..words].chunks_exact(4) {
        let word = i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        h1 = mix_h1(h1, mix_k1(word));
    }
    for &b in &bytes[words..] {
        h1 = mix_h1(h1, mix_k1(i32::from(b as i8)));
    }
    finish(h1, bytes.len() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_spark() {
        // Spark 4.0.1: SELECT hash(1), hash(1L), hash('Spark'), hash('abcdefg'), hash(1.5D),
        // hash(-0.0D), hash(true), hash(CAST(NULL AS INT)), hash(1, 'a')
        assert_eq!(hash_int(1, SEED), -559580957);
        assert_eq!(hash_long(1, SEED), -1712319331);
        assert_eq!(hash_bytes(b"Spark", SEED), 228093765);
        assert_eq!(hash_bytes(b"abcdefg", SEED), 2132013596);
        assert_eq!(hash_long(1.5f64.to_bits() as i64, SEED), 1290763749);
        assert_eq!(hash_long(0.0f64.to_bits() as i64, SEED), -1670924195);
        assert_eq!(hash_bytes(b"a", hash_int(1, SEED)), -936062819);
    }
}
