//! Spark's higher-order array functions that DataFusion lacks, on DataFusion's own lambda
//! support (`Expr::Lambda`, `HigherOrderUDFImpl`): `transform` and `filter` with Spark's
//! optional element index (`(x, i) -> ...`), `forall`, `aggregate` (alias `reduce`) with its
//! optional finishing lambda, and `zip_with`. `exists` is DataFusion's `array_any_match`, whose
//! three-valued logic is Spark's. They are registered in the session under Spark's names, so
//! SQL text (`transform(a, x -> x + 1)`) and DataFrame calls resolve to the same functions.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Int32Array, ListArray, UInt32Array, new_null_array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::compute::{cast, filter, is_null, nullif, take, take_arrays};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDF, HigherOrderUDFImpl, LambdaArgument, LambdaParametersProgress, ValueOrLambda,
    Volatility,
};

/// Which higher-order function a [`SparkHigherOrder`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// `transform(array, (x[, i]) -> value)`
    Transform,
    /// `filter(array, (x[, i]) -> keep)`
    Filter,
    /// `forall(array, x -> predicate)`: false if any is false, else null if any is null.
    Forall,
    /// `aggregate(array, zero, (acc, x) -> acc'[, acc -> result])`
    Aggregate,
    /// `zip_with(left, right, (x, y) -> value)`: the shorter array is padded with nulls.
    ZipWith,
}

/// One of Spark's higher-order functions.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkHigherOrder {
    kind: Kind,
    name: &'static str,
    aliases: Vec<String>,
    signature: HigherOrderSignature,
}

/// The functions of this module, for the session registry.
pub fn functions() -> Vec<Arc<HigherOrderUDF>> {
    [
        (Kind::Transform, "transform", vec![]),
        (Kind::Filter, "filter", vec![]),
        (Kind::Forall, "forall", vec![]),
        (Kind::Aggregate, "aggregate", vec!["reduce".to_string()]),
        (Kind::ZipWith, "zip_with", vec![]),
    ]
    .into_iter()
    .map(|(kind, name, aliases)| {
        Arc::new(HigherOrderUDF::new_from_impl(SparkHigherOrder {
            kind,
            name,
            aliases,
            signature: HigherOrderSignature::variadic_any(Volatility::Immutable),
        }))
    })
    .collect()
}

fn exec_error(message: String) -> DataFusionError {
    DataFusionError::Execution(message)
}

fn plan_error(message: String) -> DataFusionError {
    DataFusionError::Plan(message)
}

/// The element field of a list field (a null-typed argument has null elements).
fn element(f: &Field, function: &str) -> DfResult<FieldRef> {
    match f.data_type() {
        DataType::List(e) | DataType::LargeList(e) | DataType::FixedSizeList(e, _) => {
            Ok(Arc::new(e.as_ref().clone().with_nullable(true)))
        }
        DataType::Null => Ok(Arc::new(Field::new("", DataType::Null, true))),
        other => Err(plan_error(format!(
            "{function} expects an array argument, not {other}"
        ))),
    }
}

fn list_field(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

/// Splits evaluated arguments into values and lambdas, in order.
pub(super) fn split<V, L>(args: &[ValueOrLambda<V, L>]) -> (Vec<&V>, Vec<&L>) {
    let mut values = Vec::new();
    let mut lambdas = Vec::new();
    for a in args {
        match a {
            ValueOrLambda::Value(v) => values.push(v),
            ValueOrLambda::Lambda(l) => lambdas.push(l),
        }
    }
    (values, lambdas)
}

/// A call's values as arrays of its rows, and its lambdas; an error names `function` when
/// either is missing.
pub(super) fn evaluated<'a>(
    args: &'a HigherOrderFunctionArgs,
    function: &str,
) -> DfResult<(Vec<ArrayRef>, Vec<&'a LambdaArgument>)> {
    let (values, lambdas) = split(&args.args);
    let arrays = values
        .iter()
        .map(|v| v.to_array(args.number_rows))
        .collect::<DfResult<Vec<_>>>()?;
    if arrays.is_empty() || lambdas.is_empty() {
        return Err(exec_error(format!(
            "{function} expects a value and a lambda"
        )));
    }
    Ok((arrays, lambdas))
}

/// The flattened elements of `list`: their values, the row each belongs to, its position in
/// the row, and the rows' offsets into the flattened values.
struct Flat {
    values: ArrayRef,
    rows: UInt32Array,
    positions: ArrayRef,
    offsets: Vec<i32>,
}

fn flatten(list: &ListArray) -> Flat {
    let offsets = list.value_offsets();
    let first = offsets.first().copied().unwrap_or(0);
    let last = offsets.last().copied().unwrap_or(0);
    let values = list
        .values()
        .slice(first as usize, (last - first).max(0) as usize);
    let mut rows = Vec::with_capacity(values.len());
    let mut positions = Vec::with_capacity(values.len());
    for (r, w) in offsets.windows(2).enumerate() {
        for p in 0..(w[1] - w[0]) {
            rows.push(r as u32);
            positions.push(p);
        }
    }
    Flat {
        values,
        rows: UInt32Array::from(rows),
        positions: Arc::new(Int32Array::from(positions)),
        offsets: offsets.iter().map(|o| o - first).collect(),
    }
}

fn list_of(values: ArrayRef, offsets: Vec<i32>, nulls: Option<&NullBuffer>) -> DfResult<ArrayRef> {
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    Ok(Arc::new(ListArray::try_new(
        field,
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        values,
        nulls.cloned(),
    )?))
}

fn as_list(a: &ArrayRef, function: &str) -> DfResult<ListArray> {
    let a = match a.data_type() {
        DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            cast(a, &DataType::List(Arc::clone(f)))?
        }
        _ => Arc::clone(a),
    };
    a.as_any()
        .downcast_ref::<ListArray>()
        .cloned()
        .ok_or_else(|| exec_error(format!("{function} expects an array argument")))
}

/// Evaluates `lambda` over `len` rows of `params`. Captured columns hold one value per outer
/// row; `rows` maps each evaluated row to its outer row (`None`: they line up already).
fn evaluate(
    lambda: &LambdaArgument,
    params: &[ArrayRef],
    len: usize,
    rows: Option<&UInt32Array>,
) -> DfResult<ArrayRef> {
    let closures: Vec<Box<dyn Fn() -> DfResult<ArrayRef> + '_>> = params
        .iter()
        .map(|p| Box::new(move || Ok(Arc::clone(p))) as Box<dyn Fn() -> DfResult<ArrayRef>>)
        .collect();
    let refs: Vec<&dyn Fn() -> DfResult<ArrayRef>> = closures.iter().map(|c| c.as_ref()).collect();
    lambda
        .evaluate(&refs, |captured| match rows {
            Some(rows) => Ok(take_arrays(captured, rows, None)?),
            None => Ok(captured.to_vec()),
        })?
        .into_array(len)
}

/// Evaluates `lambda` once per array element.
pub(super) fn per_element(
    lambda: &LambdaArgument,
    params: &[ArrayRef],
    rows: &UInt32Array,
) -> DfResult<ArrayRef> {
    evaluate(lambda, params, rows.len(), Some(rows))
}

/// Evaluates `lambda` once per outer row.
fn per_row(lambda: &LambdaArgument, params: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    evaluate(lambda, params, rows, None)
}

fn booleans<'a>(a: &'a ArrayRef, function: &str) -> DfResult<&'a BooleanArray> {
    a.as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| exec_error(format!("the lambda of {function} must return a boolean")))
}

impl SparkHigherOrder {
    fn transform_or_filter(&self, list: &ListArray, lambda: &LambdaArgument) -> DfResult<ArrayRef> {
        let flat = flatten(list);
        let params = [Arc::clone(&flat.values), Arc::clone(&flat.positions)];
        let out = per_element(lambda, &params, &flat.rows)?;
        if self.kind == Kind::Transform {
            return list_of(out, flat.offsets, list.nulls());
        }
        let keep = booleans(&out, self.name)?;
        let mut offsets = Vec::with_capacity(flat.offsets.len());
        let mut total = 0i32;
        offsets.push(0);
        for w in flat.offsets.windows(2) {
            total += (w[0]..w[1])
                .filter(|&i| keep.is_valid(i as usize) && keep.value(i as usize))
                .count() as i32;
            offsets.push(total);
        }
        list_of(filter(flat.values.as_ref(), keep)?, offsets, list.nulls())
    }

    fn forall(&self, list: &ListArray, lambda: &LambdaArgument) -> DfResult<ArrayRef> {
        let flat = flatten(list);
        let out = per_element(lambda, &[Arc::clone(&flat.values)], &flat.rows)?;
        let bools = booleans(&out, self.name)?;
        let result: BooleanArray = flat
            .offsets
            .windows(2)
            .enumerate()
            .map(|(r, w)| {
                if list.is_null(r) {
                    return None;
                }
                let mut saw_null = false;
                for i in w[0]..w[1] {
                    let i = i as usize;
                    if bools.is_null(i) {
                        saw_null = true;
                    } else if !bools.value(i) {
                        return Some(false);
                    }
                }
                if saw_null { None } else { Some(true) }
            })
            .collect();
        Ok(Arc::new(result))
    }

    fn aggregate(
        &self,
        list: &ListArray,
        zero: ArrayRef,
        merge: &LambdaArgument,
        finish: Option<&LambdaArgument>,
    ) -> DfResult<ArrayRef> {
        let rows = list.len();
        let offsets = list.value_offsets();
        let acc_type = zero.data_type().clone();
        let mut acc = zero;
        let longest = offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        let values = list.values();
        // position k of every row at once; rows shorter than k + 1 keep their accumulator
        for k in 0..longest {
            let idx: UInt32Array = offsets
                .windows(2)
                .map(|w| (w[1] - w[0] > k).then(|| (w[0] + k) as u32))
                .collect();
            let x = take(values.as_ref(), &idx, None)?;
            let merged = cast(&per_row(merge, &[Arc::clone(&acc), x], rows)?, &acc_type)?;
            let active: BooleanArray = idx.iter().map(|i| Some(i.is_some())).collect();
            acc = zip(&active, &merged, &acc)?;
        }
        let result = match finish {
            Some(f) => per_row(f, &[acc], rows)?,
            None => acc,
        };
        Ok(nullif(&result, &is_null(list)?)?)
    }

    fn zip_with(
        &self,
        left: &ListArray,
        right: &ListArray,
        lambda: &LambdaArgument,
    ) -> DfResult<ArrayRef> {
        let (lo, ro) = (left.value_offsets(), right.value_offsets());
        let (mut li, mut ri, mut rows) = (Vec::new(), Vec::new(), Vec::new());
        let mut offsets = vec![0i32];
        for r in 0..left.len() {
            let (ll, rl) = (lo[r + 1] - lo[r], ro[r + 1] - ro[r]);
            let len = if left.is_null(r) || right.is_null(r) {
                0
            } else {
                ll.max(rl)
            };
            for k in 0..len {
                li.push((k < ll).then(|| (lo[r] + k) as u32));
                ri.push((k < rl).then(|| (ro[r] + k) as u32));
                rows.push(r as u32);
            }
            offsets.push(offsets.last().copied().unwrap_or(0) + len);
        }
        let x = take(left.values().as_ref(), &UInt32Array::from(li), None)?;
        let y = take(right.values().as_ref(), &UInt32Array::from(ri), None)?;
        let out = per_element(lambda, &[x, y], &UInt32Array::from(rows))?;
        let nulls = NullBuffer::union(left.nulls(), right.nulls());
        list_of(out, offsets, nulls.as_ref())
    }
}

impl HigherOrderUDFImpl for SparkHigherOrder {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> DfResult<LambdaParametersProgress> {
        let (values, lambdas) = split(fields);
        let lambdas = lambdas.len();
        let wanted = match self.kind {
            Kind::Aggregate | Kind::ZipWith => 2,
            _ => 1,
        };
        let lambda_counts = if self.kind == Kind::Aggregate {
            1..=2
        } else {
            1..=1
        };
        if values.len() != wanted || !lambda_counts.contains(&lambdas) {
            return Err(plan_error(format!(
                "{} expects {wanted} values and {} lambda(s), got {} and {lambdas}",
                self.name,
                lambda_counts.start(),
                values.len()
            )));
        }
        let first = element(values[0], self.name)?;
        let index = Arc::new(Field::new("", DataType::Int32, false));
        let params = match self.kind {
            Kind::Transform | Kind::Filter => vec![vec![first, index]],
            Kind::Forall => vec![vec![first]],
            Kind::ZipWith => vec![vec![first, element(values[1], self.name)?]],
            Kind::Aggregate => {
                let acc = Arc::new(Field::new("", values[1].data_type().clone(), true));
                let mut p = vec![vec![Arc::clone(&acc), first]];
                if lambdas == 2 {
                    p.push(vec![acc]);
                }
                p
            }
        };
        Ok(LambdaParametersProgress::Complete(params))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> DfResult<FieldRef> {
        let (values, lambdas) = split(args.arg_fields);
        let (Some(first), Some(lambda)) = (values.first(), lambdas.first()) else {
            return Err(plan_error(format!(
                "{} expects an array and a lambda",
                self.name
            )));
        };
        let boolean = || -> DfResult<()> {
            if lambda.data_type() == &DataType::Boolean {
                Ok(())
            } else {
                Err(plan_error(format!(
                    "the lambda of {} must return a boolean, not {}",
                    self.name,
                    lambda.data_type()
                )))
            }
        };
        let t = match self.kind {
            Kind::Transform | Kind::ZipWith => list_field(lambda.data_type().clone()),
            Kind::Filter => {
                boolean()?;
                list_field(element(first, self.name)?.data_type().clone())
            }
            Kind::Forall => {
                boolean()?;
                DataType::Boolean
            }
            Kind::Aggregate => match (lambdas.get(1), values.get(1)) {
                (Some(finish), _) => finish.data_type().clone(),
                (None, Some(zero)) => zero.data_type().clone(),
                (None, None) => return Err(plan_error("aggregate needs a start value".into())),
            },
        };
        Ok(Arc::new(Field::new("", t, true)))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let (arrays, lambdas) = evaluated(&args, self.name)?;
        let (first, lambda) = (&arrays[0], lambdas[0]);
        if first.data_type().is_null() {
            return Ok(ColumnarValue::Array(new_null_array(args.return_type(), n)));
        }
        let list = as_list(first, self.name)?;
        let out = match self.kind {
            Kind::Transform | Kind::Filter => self.transform_or_filter(&list, lambda)?,
            Kind::Forall => self.forall(&list, lambda)?,
            Kind::Aggregate => {
                let zero = arrays
                    .get(1)
                    .cloned()
                    .ok_or_else(|| exec_error("aggregate needs a start value".into()))?;
                self.aggregate(&list, zero, lambda, lambdas.get(1).copied())?
            }
            Kind::ZipWith => {
                let right = arrays
                    .get(1)
                    .ok_or_else(|| exec_error("zip_with needs two arrays".into()))?;
                if right.data_type().is_null() {
                    return Ok(ColumnarValue::Array(new_null_array(args.return_type(), n)));
                }
                self.zip_with(&list, &as_list(right, self.name)?, lambda)?
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}
