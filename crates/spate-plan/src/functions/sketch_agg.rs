//! The aggregate every sketch function shares (`kll_sketch_agg_*`, `hll_sketch_agg`,
//! `theta_union_agg`, ...): the state is a sketch, kept between partial and final
//! aggregation as its serialized bytes, and the result is those bytes. A family supplies the
//! sketch ([`SketchState`]) and how to make it from the aggregate's name and its constant
//! arguments after the input columns (`k`, `lgConfigK`, a tuple sketch's mode, ...).

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;

/// One group's sketch.
pub(super) trait SketchState: Send + Sync {
    /// Adds the input columns: values (a tuple sketch's keys and summaries), or serialized
    /// sketches for a union or intersection.
    fn add_values(&mut self, columns: &[ArrayRef]) -> DfResult<()>;
    /// Folds a column of serialized partial states in.
    fn add_sketches(&mut self, column: &ArrayRef) -> DfResult<()>;
    /// The sketch, serialized.
    fn bytes(&mut self) -> DfResult<Vec<u8>>;
    /// The partial state, serialized: `None` for an intersection that has seen no sketch,
    /// which is every key rather than none.
    fn partial_bytes(&mut self) -> DfResult<Option<Vec<u8>>> {
        self.bytes().map(Some)
    }
}

/// Makes a group's sketch from the aggregate's name and its constant arguments.
pub(super) type NewSketch = fn(&str, &[ScalarValue]) -> DfResult<Box<dyn SketchState>>;

/// The call of sketch aggregate `name` over `args`: the first `inputs` are columns, the rest
/// constants.
pub(super) fn call(name: &str, args: Vec<Expr>, inputs: usize, new: NewSketch) -> Expr {
    AggregateUDF::new_from_impl(SketchAgg {
        name: name.to_string(),
        signature: Signature::any(args.len(), Volatility::Immutable),
        inputs,
        new,
    })
    .call(args)
}

#[derive(Debug)]
struct SketchAgg {
    name: String,
    signature: Signature,
    inputs: usize,
    new: NewSketch,
}

// the name decides the sketch (`new`): two aggregates of one name and signature are equal
impl PartialEq for SketchAgg {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.signature == other.signature && self.inputs == other.inputs
    }
}

impl Eq for SketchAgg {}

impl std::hash::Hash for SketchAgg {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.signature.hash(state);
        self.inputs.hash(state);
    }
}

impl AggregateUDFImpl for SketchAgg {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Binary)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        let params = args
            .exprs
            .iter()
            .skip(self.inputs)
            .map(|e| {
                e.downcast_ref::<Literal>()
                    .map(|l| l.value().clone())
                    .ok_or_else(|| {
                        DataFusionError::Plan(format!(
                            "the parameters of {} must be constants",
                            self.name
                        ))
                    })
            })
            .collect::<DfResult<Vec<_>>>()?;
        Ok(Box::new(SketchAccumulator {
            state: (self.new)(&self.name, &params)?,
            inputs: self.inputs,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "sketch"),
            DataType::Binary,
            true,
        ))])
    }
}

struct SketchAccumulator {
    state: Box<dyn SketchState>,
    inputs: usize,
}

impl std::fmt::Debug for SketchAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SketchAccumulator").finish_non_exhaustive()
    }
}

impl Accumulator for SketchAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.state
            .add_values(&values[..self.inputs.min(values.len())])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        match states.first() {
            Some(s) => self.state.add_sketches(s),
            None => Ok(()),
        }
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(self.state.partial_bytes()?)])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Binary(Some(self.state.bytes()?)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + 4096
    }
}
