//! Spark's bitmap aggregates over its fixed 4096-byte bitmaps (32768 bits, a bit's byte
//! `position / 8`, its bit `position % 8` from the lowest): `bitmap_construct_agg(position)`
//! sets the bits of a group's positions (from `bitmap_bit_position`), `bitmap_or_agg` ORs a
//! group's bitmaps and `bitmap_and_agg` ANDs them (a byte missing from a shorter input counts
//! as zero). Each gives a 4096-byte binary, also for a group of only nulls. The scalar
//! `bitmap_bit_position` / `bitmap_bucket_number` / `bitmap_count` are datafusion-spark's.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Signature, Volatility, cast,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The aggregates of this module.
pub(super) const AGG_NAMES: &[&str] = &["bitmap_construct_agg", "bitmap_or_agg", "bitmap_and_agg"];

/// The bytes of Spark's bitmaps.
const NUM_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Construct,
    Or,
    And,
}

/// Resolves the bitmap aggregates.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let op = match name {
        "bitmap_construct_agg" => Op::Construct,
        "bitmap_or_agg" => Op::Or,
        "bitmap_and_agg" => Op::And,
        _ => return Ok(None),
    };
    let [arg] = args else {
        return Err(wrong_args(name, "1", args.len()));
    };
    let t = super::arg_type(arg, cx)?;
    let input = match op {
        Op::Construct if t.is_integer() || t == DataType::Null => {
            cast(arg.expr.clone(), DataType::Int64)
        }
        Op::Or | Op::And if matches!(t, DataType::Binary | DataType::Null) => {
            cast(arg.expr.clone(), DataType::Binary)
        }
        _ => {
            let wanted = if op == Op::Construct {
                "BIGINT"
            } else {
                "BINARY"
            };
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                format!(
                    "Cannot resolve \"{}\": the first parameter requires the \"{wanted}\" type, however \"{}\" has the type \"{}\"",
                    default_name(name, args, false),
                    arg.name,
                    crate::types::sql_string(&t)
                ),
            ));
        }
    };
    let udf = AggregateUDF::new_from_impl(BitmapAgg {
        name: name.to_string(),
        op,
        signature: Signature::any(1, Volatility::Immutable),
    });
    Ok(Some((
        udf.call(vec![input]),
        default_name(name, args, false),
    )))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct BitmapAgg {
    name: String,
    op: Op,
    signature: Signature,
}

impl AggregateUDFImpl for BitmapAgg {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Binary)
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        let fill = if self.op == Op::And { 0xFF } else { 0 };
        Ok(Box::new(Bitmap {
            op: self.op,
            bits: vec![fill; NUM_BYTES],
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "bitmap"),
            DataType::Binary,
            false,
        ))])
    }
}

#[derive(Debug)]
struct Bitmap {
    op: Op,
    bits: Vec<u8>,
}

impl Bitmap {
    /// Combines another bitmap into this one (OR or AND; building ORs partial bitmaps).
    fn merge(&mut self, other: &[u8]) {
        for (i, byte) in self.bits.iter_mut().enumerate() {
            let theirs = other.get(i).copied().unwrap_or(0);
            if self.op == Op::And {
                *byte &= theirs;
            } else {
                *byte |= theirs;
            }
        }
    }

    fn merge_all(&mut self, bitmaps: &ArrayRef) {
        let bitmaps = bitmaps.as_binary::<i32>();
        for i in 0..bitmaps.len() {
            if !bitmaps.is_null(i) {
                self.merge(bitmaps.value(i));
            }
        }
    }
}

impl Accumulator for Bitmap {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        if self.op != Op::Construct {
            self.merge_all(&values[0]);
            return Ok(());
        }
        let positions = values[0].as_primitive::<Int64Type>();
        for i in 0..positions.len() {
            if positions.is_null(i) {
                continue;
            }
            let p = positions.value(i);
            let byte = usize::try_from(p / 8).ok().filter(|b| *b < NUM_BYTES);
            let Some(byte) = byte.filter(|_| p >= 0) else {
                return Err(Error::Runtime {
                    exception: "org.apache.spark.SparkRuntimeException",
                    class: "INVALID_BITMAP_POSITION".into(),
                    message: format!(
                        "The 0-indexed bitmap position {p} is out of bounds. The bitmap has {} bits ({NUM_BYTES} bytes).",
                        NUM_BYTES * 8
                    ),
                }
                .into());
            };
            self.bits[byte] |= 1 << (p % 8);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        self.merge_all(&states[0]);
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.bits.clone()))])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Binary(Some(self.bits.clone())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.bits.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryArray, Int64Array};

    fn run(op: Op, input: ArrayRef) -> Vec<u8> {
        let fill = if op == Op::And { 0xFF } else { 0 };
        let mut acc = Bitmap {
            op,
            bits: vec![fill; NUM_BYTES],
        };
        let _ = acc.update_batch(&[input]);
        acc.bits
    }

    #[test]
    fn bitmaps_as_spark_documents() {
        // bitmap_construct_agg(bitmap_bit_position(a)) of 1, 2, 3: positions 0, 1, 2
        let bits = run(
            Op::Construct,
            Arc::new(Int64Array::from(vec![Some(0), Some(1), None, Some(2)])),
        );
        assert_eq!((bits.len(), bits[0], bits[1]), (NUM_BYTES, 0x07, 0));
        let bits = run(Op::Construct, Arc::new(Int64Array::from(vec![9])));
        assert_eq!(bits[1], 0x02);
        // bitmap_or_agg of X'10', X'20', X'40'; bitmap_and_agg of X'F0', X'70', X'30'
        let or = run(
            Op::Or,
            Arc::new(BinaryArray::from(vec![&[0x10u8][..], &[0x20], &[0x40]])),
        );
        assert_eq!((or[0], or[1]), (0x70, 0));
        let and = run(
            Op::And,
            Arc::new(BinaryArray::from(vec![&[0xF0u8][..], &[0x70], &[0x30]])),
        );
        assert_eq!((and[0], and[1], and.len()), (0x30, 0, NUM_BYTES));
    }
}
