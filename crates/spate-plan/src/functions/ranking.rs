//! Spark's ranking window functions (`row_number`, `rank`, `dense_rank`, `ntile`) are `int`;
//! DataFusion's are unsigned 64-bit. A cast cannot go inside the Window node DataFusion plans
//! (SQL text's windows are planned so), so [`int_rankings_in`] swaps the function for
//! [`IntRanking`]: the same function under the same name (so the columns that refer to it
//! still do), its results cast to `int`. The DataFrame API and SQL text both go through it.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::expr::WindowFunctionDefinition;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::window_state::WindowAggState;
use datafusion::logical_expr::{
    Expr, PartitionEvaluator, ReversedUDWF, Signature, WindowUDF, WindowUDFImpl,
};
use datafusion::physical_expr::PhysicalExpr;

/// The ranking functions whose result Spark types as `int`.
const RANKING: &[&str] = &["row_number", "rank", "dense_rank", "ntile"];

/// `e` with the ranking window functions in it made `int`-valued (see the module documentation).
pub fn int_rankings_in(e: Expr) -> DfResult<Transformed<Expr>> {
    e.transform_up(|e| match e {
        Expr::WindowFunction(mut w) => match &w.fun {
            WindowFunctionDefinition::WindowUDF(f)
                if RANKING.contains(&f.name()) && !f.inner().is::<IntRanking>() =>
            {
                let wrapped = WindowUDF::new_from_impl(IntRanking { inner: f.clone() });
                w.fun = WindowFunctionDefinition::WindowUDF(Arc::new(wrapped));
                Ok(Transformed::yes(Expr::WindowFunction(w)))
            }
            _ => Ok(Transformed::no(Expr::WindowFunction(w))),
        },
        e => Ok(Transformed::no(e)),
    })
}

/// A ranking window function with `int` results.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IntRanking {
    inner: Arc<WindowUDF>,
}

impl WindowUDFImpl for IntRanking {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn expressions(
        &self,
        args: datafusion::logical_expr::function::ExpressionArgs,
    ) -> Vec<Arc<dyn PhysicalExpr>> {
        self.inner.expressions(args)
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> DfResult<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(IntEvaluator(
            self.inner.partition_evaluator_factory(args)?,
        )))
    }

    fn field(&self, args: WindowUDFFieldArgs) -> DfResult<FieldRef> {
        let inner = self.inner.field(args)?;
        Ok(Arc::new(Field::new(
            inner.name(),
            DataType::Int32,
            inner.is_nullable(),
        )))
    }

    fn sort_options(&self) -> Option<SortOptions> {
        self.inner.sort_options()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn reverse_expr(&self) -> ReversedUDWF {
        match self.inner.reverse_expr() {
            ReversedUDWF::Reversed(f) => {
                ReversedUDWF::Reversed(Arc::new(WindowUDF::new_from_impl(IntRanking { inner: f })))
            }
            other => other,
        }
    }
}

/// The inner function's evaluator, its results cast to `int`.
#[derive(Debug)]
struct IntEvaluator(Box<dyn PartitionEvaluator>);

fn to_int(a: ArrayRef) -> DfResult<ArrayRef> {
    Ok(datafusion::arrow::compute::cast(&a, &DataType::Int32)?)
}

impl PartitionEvaluator for IntEvaluator {
    fn memoize(&mut self, state: &mut WindowAggState) -> DfResult<()> {
        self.0.memoize(state)
    }

    fn get_range(&self, idx: usize, n_rows: usize) -> DfResult<std::ops::Range<usize>> {
        self.0.get_range(idx, n_rows)
    }

    fn is_causal(&self) -> bool {
        self.0.is_causal()
    }

    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> DfResult<ArrayRef> {
        to_int(self.0.evaluate_all(values, num_rows)?)
    }

    fn evaluate(
        &mut self,
        values: &[ArrayRef],
        range: &std::ops::Range<usize>,
    ) -> DfResult<ScalarValue> {
        self.0.evaluate(values, range)?.cast_to(&DataType::Int32)
    }

    fn evaluate_all_with_rank(
        &self,
        num_rows: usize,
        ranks_in_partition: &[std::ops::Range<usize>],
    ) -> DfResult<ArrayRef> {
        to_int(
            self.0
                .evaluate_all_with_rank(num_rows, ranks_in_partition)?,
        )
    }

    fn supports_bounded_execution(&self) -> bool {
        self.0.supports_bounded_execution()
    }

    fn uses_window_frame(&self) -> bool {
        self.0.uses_window_frame()
    }

    fn include_rank(&self) -> bool {
        self.0.include_rank()
    }
}
