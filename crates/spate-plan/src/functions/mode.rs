//! Spark's `mode(col[, deterministic])`: the most frequent non-null value of a group (null
//! when there is none); of values equally frequent, the lowest — which is Spark's answer
//! with `deterministic` true, and one of the answers it allows without. Named `mode(col)`,
//! or `mode() WITHIN GROUP (ORDER BY col DESC)` when `deterministic` is true, as Spark.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Signature, Volatility,
};
use spate_common::Result;

use super::{Arg, CallContext, wrong_args};

/// The aggregates of this module.
pub(super) const AGG_NAMES: &[&str] = &["mode"];

/// Resolves `mode`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    _cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "mode" {
        return Ok(None);
    }
    let (col, deterministic) = match args {
        [c] => (c, false),
        [c, d] => (
            c,
            matches!(d.expr, Expr::Literal(ScalarValue::Boolean(Some(true)), _)),
        ),
        _ => return Err(wrong_args(name, "1 or 2", args.len())),
    };
    let label = if deterministic {
        format!("mode() WITHIN GROUP (ORDER BY {} DESC)", col.name)
    } else {
        format!("mode({})", col.name)
    };
    let udf = AggregateUDF::new_from_impl(Mode {
        signature: Signature::any(1, Volatility::Immutable),
    });
    Ok(Some((udf.call(vec![col.expr.clone()]), label)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Mode {
    signature: Signature,
}

impl AggregateUDFImpl for Mode {
    fn name(&self) -> &str {
        "mode"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        Ok(args[0].clone())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(Counts {
            data_type: args.return_field.data_type().clone(),
            counts: HashMap::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        let value = args.return_field.data_type().clone();
        let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "values"),
                list(value),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "counts"),
                list(DataType::Int64),
                true,
            )),
        ])
    }
}

/// A group's values and how often each was seen.
#[derive(Debug)]
struct Counts {
    data_type: DataType,
    counts: HashMap<ScalarValue, i64>,
}

impl Counts {
    fn add(&mut self, values: &ArrayRef, counts: Option<&Int64Array>) -> DfResult<()> {
        for i in 0..values.len() {
            if values.is_null(i) {
                continue;
            }
            let v = ScalarValue::try_from_array(values, i)?;
            *self.counts.entry(v).or_insert(0) += counts.map_or(1, |c| c.value(i));
        }
        Ok(())
    }
}

impl Accumulator for Counts {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.add(&values[0], None)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let (values, counts) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for i in 0..values.len() {
            if values.is_null(i) || counts.is_null(i) {
                continue;
            }
            let c = counts.value(i);
            self.add(&values.value(i), Some(c.as_primitive::<Int64Type>()))?;
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        let (values, counts): (Vec<ScalarValue>, Vec<ScalarValue>) = self
            .counts
            .iter()
            .map(|(v, c)| (v.clone(), ScalarValue::Int64(Some(*c))))
            .unzip();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.data_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::Int64)),
        ])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        let best = self
            .counts
            .iter()
            .max_by(|(a, ca), (b, cb)| {
                // more often first; of equal counts, the lower value
                ca.cmp(cb)
                    .then_with(|| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal))
            })
            .map(|(v, _)| v.clone());
        match best {
            Some(v) => Ok(v),
            None => ScalarValue::try_from(&self.data_type),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.counts.len() * 64
    }
}
