//! Spark's exact `percentile(expr, percentage)`: the values (as doubles, nulls skipped) are
//! sorted and, for a position `p * (n - 1)`, the two values around it are interpolated linearly
//! (`(hi - pos) * lower + (pos - lo) * upper`), as Spark computes it. The percentage is a
//! literal double or an array of them (the result is then an array). Over a sliding window
//! frame, rows that leave the frame are taken out of the kept values.
//!
//! `percentile_approx` uses the same values without interpolation: the value at rank
//! `ceil(p * n)`, the answer Spark's quantile summary gives exactly for up to `accuracy` rows
//! and within its rank error `1 / accuracy` beyond. Keeping every value is exact but takes
//! memory in proportion to the rows of a group, where Spark's summary is bounded.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::expr::AggregateFunctionParams;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Signature, Volatility,
};
use spate_common::{Error, Result};

/// `percentile(value, percentages)`: one percentage (`array` false) or an array of them,
/// interpolated, or (`discrete`) the value at the percentage's rank, as `percentile_approx`,
/// which answers in the value's type `value_type` (`percentile` in doubles).
pub(super) fn percentile(
    value: Expr,
    percentages: Vec<f64>,
    array: bool,
    discrete: Option<DataType>,
) -> Result<Expr> {
    if let Some(bad) = percentages.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(Error::analysis(
            "DATATYPE_MISMATCH.VALUE_OUT_OF_RANGE",
            format!("percentile(): the percentage {bad} must be between 0.0 and 1.0"),
        ));
    }
    let udaf = AggregateUDF::new_from_impl(Percentile {
        percentages,
        array,
        discrete,
        signature: Signature::any(1, Volatility::Immutable),
    });
    Ok(udaf.call(vec![datafusion::logical_expr::cast(
        value,
        DataType::Float64,
    )]))
}

/// The double a literal percentage holds.
pub(super) fn literal_fraction(e: &Expr) -> Option<f64> {
    let Expr::Literal(v, _) = e else {
        return None;
    };
    match v {
        ScalarValue::Float64(Some(x)) => Some(*x),
        ScalarValue::Float32(Some(x)) => Some(f64::from(*x)),
        ScalarValue::Decimal128(Some(x), _, scale) => {
            Some(*x as f64 / 10f64.powi(i32::from(*scale)))
        }
        ScalarValue::Int32(Some(x)) => Some(f64::from(*x)),
        ScalarValue::Int64(Some(x)) => Some(*x as f64),
        _ => None,
    }
}

#[derive(Debug, PartialEq)]
struct Percentile {
    percentages: Vec<f64>,
    array: bool,
    /// The value's type, for `percentile_approx` (no interpolation, answers in that type).
    discrete: Option<DataType>,
    signature: Signature,
}

impl Eq for Percentile {}

impl std::hash::Hash for Percentile {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for p in &self.percentages {
            p.to_bits().hash(state);
        }
        self.array.hash(state);
        self.discrete.hash(state);
        self.signature.hash(state);
    }
}

impl AggregateUDFImpl for Percentile {
    fn name(&self) -> &str {
        if self.discrete.is_some() {
            "percentile_approx"
        } else {
            "percentile"
        }
    }

    /// The percentages are part of the name: two percentiles of one column are two columns.
    fn schema_name(&self, params: &AggregateFunctionParams) -> DfResult<String> {
        let args = params
            .args
            .iter()
            .map(|a| a.schema_name().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let distinct = if params.distinct { "DISTINCT " } else { "" };
        Ok(format!(
            "{}({distinct}{args}, {:?})",
            self.name(),
            self.percentages
        ))
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(output_type(self.array, self.discrete.as_ref()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(Values {
            values: Vec::new(),
            percentages: self.percentages.clone(),
            array: self.array,
            discrete: self.discrete.clone(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "values"),
            DataType::new_list(DataType::Float64, true),
            true,
        ))])
    }
}

/// The values seen, unsorted.
#[derive(Debug)]
struct Values {
    values: Vec<f64>,
    percentages: Vec<f64>,
    array: bool,
    discrete: Option<DataType>,
}

impl Values {
    fn push_all(&mut self, array: &ArrayRef) {
        let doubles = array.as_primitive::<Float64Type>();
        self.values.extend(doubles.iter().flatten());
    }
}

impl Accumulator for Values {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        if let Some(v) = values.first() {
            self.push_all(v);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        if let Some(lists) = states.first() {
            let lists: &ListArray = lists.as_list();
            for i in 0..lists.len() {
                if lists.is_valid(i) {
                    self.push_all(&lists.value(i));
                }
            }
        }
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        if let Some(v) = values.first() {
            for x in v.as_primitive::<Float64Type>().iter().flatten() {
                if let Some(at) = self.values.iter().position(|y| y.total_cmp(&x).is_eq()) {
                    self.values.swap_remove(at);
                }
            }
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        let values: ArrayRef = Arc::new(Float64Array::from(self.values.clone()));
        Ok(vec![ScalarValue::List(Arc::new(
            datafusion::common::utils::SingleRowListArrayBuilder::new(values).build_list_array(),
        ))])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        // sorted in place: over a growing window frame each call finds the earlier values
        // sorted and the new ones appended, which the (run-detecting) sort takes in linear time
        self.values.sort_by(f64::total_cmp);
        let sorted = &self.values;
        let discrete = self.discrete.is_some();
        let at = |p: f64| {
            if discrete {
                at_rank(sorted, p)
            } else {
                interpolate(sorted, p)
            }
        };
        let out = output_type(self.array, self.discrete.as_ref());
        let doubles = if !self.array {
            ScalarValue::Float64(self.percentages.first().and_then(|p| at(*p)))
        } else if sorted.is_empty() {
            return ScalarValue::try_from(&out);
        } else {
            let each: Float64Array = self.percentages.iter().map(|p| at(*p)).collect();
            ScalarValue::List(Arc::new(
                datafusion::common::utils::SingleRowListArrayBuilder::new(Arc::new(each))
                    .build_list_array(),
            ))
        };
        doubles.cast_to(&out)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.values.capacity() * std::mem::size_of::<f64>()
            + self.percentages.capacity() * std::mem::size_of::<f64>()
    }
}

/// What the aggregate answers: doubles, or (`discrete`) the value's type; an array of them
/// for an array of percentages.
fn output_type(array: bool, discrete: Option<&DataType>) -> DataType {
    let item = discrete.cloned().unwrap_or(DataType::Float64);
    if array {
        DataType::new_list(item, true)
    } else {
        item
    }
}

/// The value at rank `ceil(p * n)` (at least the first) of `sorted`; `None` when it is empty.
fn at_rank(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get((rank - 1).min(last)).copied()
}

/// Spark's interpolated percentile `p` of `sorted`; `None` when it is empty.
fn interpolate(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = last as f64 * p;
    let (lo, hi) = (position.floor(), position.ceil());
    let lower = *sorted.get(lo as usize)?;
    let upper = *sorted.get(hi as usize)?;
    // no interpolation at a whole position or between equal values, as in Spark
    if lo == hi || lower == upper {
        return Some(lower);
    }
    Some((hi - position) * lower + (position - lo) * upper)
}

#[cfg(test)]
mod tests {
    use super::{at_rank, interpolate};

    #[test]
    fn picks_ranks_as_spark_approx() {
        // Spark 4.0.1: percentile_approx over (10, -20, 30, 40): 0.5 -> 10; 0.25, 0.75 -> -20, 30
        let sorted = [-20.0, 10.0, 30.0, 40.0];
        assert_eq!(at_rank(&sorted, 0.5), Some(10.0));
        assert_eq!(at_rank(&sorted, 0.25), Some(-20.0));
        assert_eq!(at_rank(&sorted, 0.75), Some(30.0));
        assert_eq!(at_rank(&sorted, 0.0), Some(-20.0));
        assert_eq!(at_rank(&sorted, 1.0), Some(40.0));
        assert_eq!(at_rank(&[], 0.5), None);
    }

    #[test]
    fn interpolates_as_spark() {
        // Spark's documented examples: percentile(col, 0.3) over (0), (10) is 3.0;
        // percentile(col, 0.5) over 0, 10 is 5.0
        assert_eq!(interpolate(&[0.0, 10.0], 0.3), Some(3.0));
        assert_eq!(interpolate(&[0.0, 10.0], 0.5), Some(5.0));
        assert_eq!(interpolate(&[1.0, 2.0, 3.0, 4.0], 1.0), Some(4.0));
        assert_eq!(interpolate(&[7.0], 0.25), Some(7.0));
        assert_eq!(interpolate(&[], 0.5), None);
        // (-2.25, 0, 1.5, 1e6) at 0.3: position 0.9 between -2.25 and 0
        let got = interpolate(&[-2.25, 0.0, 1.5, 1e6], 0.3).unwrap_or_default();
        assert!((got + 0.225).abs() < 1e-12);
    }
}
