//! `shuffle(array[, seed])` with Spark's permutations: each partition draws from Commons Math's
//! `MersenneTwister(seed + partition index)`, one Fisher-Yates pass per non-null array in row
//! order (Spark's `RandomIndicesGenerator`). The call carries the task-id markers
//! (`spark_partition_id()` and `monotonically_increasing_id()`, see `crate::task_ids`) as
//! hidden arguments, so the function knows each row's partition and its place in it: a
//! partition's generator starts afresh at its first row and goes on from batch to batch.
//! Spark names the call after the array alone (`shuffle(data)`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray, ListArray, UInt32Array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use spate_common::Result;

use super::java_random::{MersenneTwister, next_int_below};
use super::{Arg, CallContext, call_registered, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["shuffle"];

/// The bits of a monotonically increasing id that number the row in its partition.
const ROW_BITS: i64 = (1 << 33) - 1;

/// Resolves `shuffle`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "shuffle" {
        return Ok(None);
    }
    let (array, seed) = match args {
        [a] => (a, &[][..]),
        [a, s] => (a, std::slice::from_ref(s)),
        _ => return Err(wrong_args(name, "1 or 2", args.len())),
    };
    let seed = super::random::seed_of("shuffle", seed)?;
    let partition = call_registered(cx, "spark_partition_id", vec![])?;
    let row = call_registered(cx, "monotonically_increasing_id", vec![])?;
    let udf = ScalarUDF::new_from_impl(SparkShuffle {
        seed,
        signature: Signature::any(3, Volatility::Volatile),
        generators: Mutex::new(HashMap::new()),
    });
    Ok(Some((
        udf.call(vec![array.expr.clone(), partition, row]),
        format!("shuffle({})", array.name),
    )))
}

/// The UDF: (array, partition index, monotonically increasing id) to the permuted array.
#[derive(Debug)]
struct SparkShuffle {
    seed: i64,
    signature: Signature,
    /// Each running partition's generator.
    generators: Mutex<HashMap<i32, MersenneTwister>>,
}

impl PartialEq for SparkShuffle {
    fn eq(&self, other: &Self) -> bool {
        self.seed == other.seed
    }
}

impl Eq for SparkShuffle {}

impl std::hash::Hash for SparkShuffle {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.seed.hash(state);
    }
}

/// Spark's `RandomIndicesGenerator.getNextIndices(len)`.
fn next_indices(rng: &mut MersenneTwister, len: usize) -> Vec<u32> {
    let mut indices: Vec<u32> = (0..len as u32).collect();
    for i in 0..len {
        let j = next_int_below(rng, i as i32 + 1) as usize;
        if j != i {
            indices[i] = indices[j];
            indices[j] = i as u32;
        }
    }
    indices
}

impl ScalarUDFImpl for SparkShuffle {
    fn name(&self) -> &str {
        "spark_shuffle"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        args.first()
            .cloned()
            .ok_or_else(|| DataFusionError::Internal("bug: shuffle takes an array".into()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let [array, partition, row] = <[ColumnarValue; 3]>::try_from(args.args)
            .map_err(|_| DataFusionError::Internal("bug: shuffle takes three arguments".into()))?;
        let (array, partition, row) = (
            array.into_array(rows)?,
            partition.into_array(rows)?,
            row.into_array(rows)?,
        );
        let (partition, row) = (
            partition.as_primitive::<Int32Type>(),
            row.as_primitive::<Int64Type>(),
        );
        let list = match array.data_type() {
            DataType::List(_) => array.as_list::<i32>(),
            DataType::Null => return Ok(ColumnarValue::Array(array)),
            other => {
                return Err(DataFusionError::Execution(format!(
                    "shuffle takes an array, not {other}"
                )));
            }
        };
        let offsets = list.value_offsets();
        let mut generators = self
            .generators
            .lock()
            .map_err(|_| DataFusionError::Internal("shuffle: a lock was poisoned".into()))?;
        let mut order: Vec<u32> = Vec::with_capacity(list.values().len());
        for i in 0..rows {
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            let p = partition.value(i);
            if row.value(i) & ROW_BITS == 0 || !generators.contains_key(&p) {
                generators.insert(
                    p,
                    MersenneTwister::new(self.seed.wrapping_add(i64::from(p))),
                );
            }
            if list.is_null(i) {
                order.extend(start as u32..end as u32);
                continue;
            }
            let rng = generators
                .get_mut(&p)
                .ok_or_else(|| DataFusionError::Internal("shuffle: no generator".into()))?;
            order.extend(
                next_indices(rng, end - start)
                    .into_iter()
                    .map(|k| start as u32 + k),
            );
        }
        // the values in their new order, under offsets that start at zero
        let values = take(list.values().as_ref(), &UInt32Array::from(order), None)?;
        let first = offsets[0];
        let offsets = OffsetBuffer::new(offsets.iter().map(|o| o - first).collect());
        let field = match list.data_type() {
            DataType::List(f) => Arc::clone(f),
            _ => {
                return Err(DataFusionError::Internal(
                    "bug: shuffle of a non-list".into(),
                ));
            }
        };
        let shuffled = ListArray::try_new(field, offsets, values, list.nulls().cloned())?;
        Ok(ColumnarValue::Array(Arc::new(shuffled)))
    }
}
