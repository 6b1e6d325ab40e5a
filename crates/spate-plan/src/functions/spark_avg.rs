//! `avg` with Spark's sum of doubles: the values added one after another, in row order.
//! DataFusion's average of a whole input (no grouping) sums each batch with Arrow's
//! vectorised kernel, whose different order of additions gives other last digits than Spark
//! (`avg` of 40.3, 37.8, 44.1 is 40.73333333333333 in Spark, 40.733333333333334 so).
//! Everything else — grouped averages (already row by row), decimals, `DISTINCT`, the state
//! and result types — is DataFusion's `avg`, to which this delegates.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, GroupsAccumulator, ReversedUDAF, Signature,
};

/// `avg(e)` with Spark's summation of doubles.
pub fn spark_avg(e: Expr) -> Expr {
    spark_avg_udaf().call(vec![e])
}

/// The `avg` aggregate, for the session registry (it replaces DataFusion's).
pub fn spark_avg_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::new_from_impl(SparkAvg {
        inner: datafusion::functions_aggregate::average::avg_udaf(),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkAvg {
    inner: Arc<AggregateUDF>,
}

impl AggregateUDFImpl for SparkAvg {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        self.inner.inner().coerce_types(arg_types)
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        self.inner.inner().return_type(args)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        if !args.is_distinct && args.expr_fields[0].data_type() == &DataType::Float64 {
            return Ok(Box::new(InOrder::default()));
        }
        self.inner.inner().accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        self.inner.inner().state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.inner().groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> DfResult<Box<dyn GroupsAccumulator>> {
        self.inner.inner().create_groups_accumulator(args)
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }
}

/// The count and the sum of doubles added in order (the state DataFusion's `avg` keeps).
#[derive(Debug, Default)]
struct InOrder {
    count: u64,
    sum: Option<f64>,
}

impl Accumulator for InOrder {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        let values = values[0].as_primitive::<Float64Type>();
        for v in values.iter().flatten() {
            self.count += 1;
            *self.sum.get_or_insert(0.0) += v;
        }
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        let values = values[0].as_primitive::<Float64Type>();
        for v in values.iter().flatten() {
            self.count = self.count.saturating_sub(1);
            *self.sum.get_or_insert(0.0) -= v;
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let (counts, sums) = (
            states[0].as_primitive::<UInt64Type>(),
            states[1].as_primitive::<Float64Type>(),
        );
        for i in 0..counts.len() {
            if counts.is_valid(i) {
                self.count += counts.value(i);
            }
            if sums.is_valid(i) {
                *self.sum.get_or_insert(0.0) += sums.value(i);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::from(self.count),
            ScalarValue::Float64(self.sum),
        ])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        let avg = (self.count > 0)
            .then_some(self.sum)
            .flatten()
            .map(|s| s / self.count as f64);
        Ok(ScalarValue::Float64(avg))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Float64Array;

    #[test]
    fn sums_in_row_order_as_spark() {
        // Spark's describe() example: the mean of 40.3, 37.8, 44.1 is 40.73333333333333
        let mut acc = InOrder::default();
        let values: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(40.3),
            None,
            Some(37.8),
            Some(44.1),
        ]));
        let _ = acc.update_batch(&[values]);
        assert_eq!(
            acc.evaluate().ok(),
            Some(ScalarValue::Float64(Some(40.73333333333333)))
        );
        assert_eq!(acc.count, 3);
        let mut empty = InOrder::default();
        assert_eq!(empty.evaluate().ok(), Some(ScalarValue::Float64(None)));
    }
}
