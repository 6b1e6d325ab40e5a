//! `skewness`, `kurtosis` and `product`, aggregates DataFusion lacks. The moments follow Spark's
//! `CentralMomentAgg` step for step — a running count, mean and second to fourth central moments
//! updated per value and combined per partial aggregate with the same formulas — so the answers
//! agree with Spark's to the last bits; a group with no values is null, and so is one whose
//! second moment is zero (Spark's default, `spark.sql.legacy.statisticalAggregate` off).
//! `product` multiplies the values as doubles, null for a group without values.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Signature, Volatility, cast,
};

/// Which statistic an aggregate of this module computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Stat {
    Skewness,
    Kurtosis,
    Product,
}

/// The aggregate of `value` (read as a double).
pub(super) fn call(stat: Stat, value: Expr) -> Expr {
    AggregateUDF::new_from_impl(Moments {
        stat,
        signature: Signature::any(1, Volatility::Immutable),
    })
    .call(vec![cast(value, DataType::Float64)])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Moments {
    stat: Stat,
    signature: Signature,
}

impl AggregateUDFImpl for Moments {
    fn name(&self) -> &str {
        match self.stat {
            Stat::Skewness => "skewness",
            Stat::Kurtosis => "kurtosis",
            Stat::Product => "product",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(match self.stat {
            Stat::Product => Box::new(Product(None)),
            stat => Box::new(Central {
                stat,
                m: Moment::default(),
            }),
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        let names: &[&str] = match self.stat {
            Stat::Product => &["product"],
            _ => &["n", "avg", "m2", "m3", "m4"],
        };
        Ok(names
            .iter()
            .map(|n| {
                Arc::new(Field::new(
                    format_state_name(args.name, n),
                    DataType::Float64,
                    true,
                ))
            })
            .collect())
    }
}

/// Count, mean and central moments of the values seen.
#[derive(Debug, Default, Clone, Copy)]
struct Moment {
    n: f64,
    avg: f64,
    m2: f64,
    m3: f64,
    m4: f64,
}

impl Moment {
    /// Spark's update for one value.
    fn add(&mut self, x: f64) {
        let n = self.n + 1.0;
        let delta = x - self.avg;
        let delta_n = delta / n;
        let avg = self.avg + delta_n;
        let m2 = self.m2 + delta * (delta - delta_n);
        let (delta2, delta_n2) = (delta * delta, delta_n * delta_n);
        let m3 = self.m3 - 3.0 * delta_n * m2 + delta * (delta2 - delta_n2);
        let m4 = self.m4 - 4.0 * delta_n * m3 - 6.0 * delta_n2 * m2
            + delta * (delta * delta2 - delta_n * delta_n2);
        *self = Moment { n, avg, m2, m3, m4 };
    }

    /// Spark's combination of two partial results.
    fn merge(&mut self, o: Moment) {
        let (n1, n2) = (self.n, o.n);
        let n = n1 + n2;
        let delta = o.avg - self.avg;
        let delta_n = if n == 0.0 { 0.0 } else { delta / n };
        let avg = self.avg + delta_n * n2;
        let m2 = self.m2 + o.m2 + delta * delta_n * n1 * n2;
        let m3 = self.m3
            + o.m3
            + delta_n * delta_n * delta * n1 * n2 * (n1 - n2)
            + 3.0 * delta_n * (n1 * o.m2 - n2 * self.m2);
        let m4 = self.m4
            + o.m4
            + delta_n * delta_n * delta_n * delta * n1 * n2 * (n1 * n1 - n1 * n2 + n2 * n2)
            + 6.0 * delta_n * delta_n * (n1 * n1 * o.m2 + n2 * n2 * self.m2)
            + 4.0 * delta_n * (n1 * o.m3 - n2 * self.m3);
        *self = Moment { n, avg, m2, m3, m4 };
    }
}

#[derive(Debug)]
struct Central {
    stat: Stat,
    m: Moment,
}

impl Accumulator for Central {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        for x in values[0].as_primitive::<Float64Type>().iter().flatten() {
            self.m.add(x);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let cols: Vec<_> = states
            .iter()
            .map(|s| s.as_primitive::<Float64Type>())
            .collect();
        for i in 0..cols[0].len() {
            let v = |k: usize| cols[k].value(i);
            self.m.merge(Moment {
                n: v(0),
                avg: v(1),
                m2: v(2),
                m3: v(3),
                m4: v(4),
            });
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        let Moment { n, avg, m2, m3, m4 } = self.m;
        Ok([n, avg, m2, m3, m4]
            .into_iter()
            .map(|v| ScalarValue::Float64(Some(v)))
            .collect())
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        let Moment { n, m2, m3, m4, .. } = self.m;
        if n == 0.0 || m2 == 0.0 {
            return Ok(ScalarValue::Float64(None));
        }
        Ok(ScalarValue::Float64(Some(match self.stat {
            Stat::Skewness => n.sqrt() * m3 / (m2 * m2 * m2).sqrt(),
            _ => n * m4 / (m2 * m2) - 3.0,
        })))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// The running product, `None` before the first value.
#[derive(Debug)]
struct Product(Option<f64>);

impl Accumulator for Product {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        for x in values[0].as_primitive::<Float64Type>().iter().flatten() {
            self.0 = Some(self.0.unwrap_or(1.0) * x);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        self.update_batch(states)
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Float64(self.0))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

#[cfg(test)]
mod tests {
    use super::Moment;

    #[test]
    fn moments_match_the_textbook_and_merge_like_one_pass() {
        let xs = [10.0, -20.0, 30.0, 40.0, 7.5];
        let mut one = Moment::default();
        xs.iter().for_each(|&x| one.add(x));
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let central = |k: i32| xs.iter().map(|x| (x - mean).powi(k)).sum::<f64>();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert!(close(one.m2, central(2)) && close(one.m3, central(3)));
        assert!(close(one.m4, central(4)));
        let (mut left, mut right) = (Moment::default(), Moment::default());
        xs[..2].iter().for_each(|&x| left.add(x));
        xs[2..].iter().for_each(|&x| right.add(x));
        left.merge(right);
        assert!(close(left.m3, one.m3) && close(left.m4, one.m4) && left.n == one.n);
    }
}
