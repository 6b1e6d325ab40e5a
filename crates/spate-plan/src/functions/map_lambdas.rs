//! Spark's higher-order functions over maps, and `array_sort` with a comparator, on
//! DataFusion's lambdas (see `higher_order.rs`): `transform_keys(m, (k, v) -> k')`,
//! `transform_values(m, (k, v) -> v')`, `map_filter(m, (k, v) -> keep)`,
//! `map_zip_with(m1, m2, (k, v1, v2) -> v)` (over the keys of both, `m1`'s first, a side
//! lacking a key giving null) and `array_sort(a, (x, y) -> int)`. A new key that is null or
//! repeats within its map is Spark's `NULL_MAP_KEY` / `DUPLICATED_MAP_KEY`. `array_sort`
//! orders as Java's `Arrays.sort` does for the arrays Spark sorts (a stable binary insertion
//! sort after the leading run), so a comparator that is not a total order (one giving 0 for
//! nulls) still gives Spark's answer; a comparator giving null is `COMPARATOR_RETURNS_NULL`.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, MapArray, StructArray, UInt32Array, new_null_array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::{cast, concat, filter, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int32Type};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDF, HigherOrderUDFImpl, LambdaArgument, LambdaParametersProgress, ValueOrLambda,
    Volatility,
};
use datafusion::scalar::ScalarValue;

use super::higher_order::{evaluated, per_element, split};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    TransformKeys,
    TransformValues,
    Filter,
    ZipWith,
    Sort,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MapHigherOrder {
    kind: Kind,
    name: &'static str,
    signature: HigherOrderSignature,
}

/// The functions of this module, for the session registry.
pub fn functions() -> Vec<Arc<HigherOrderUDF>> {
    [
        (Kind::TransformKeys, "transform_keys"),
        (Kind::TransformValues, "transform_values"),
        (Kind::Filter, "map_filter"),
        (Kind::ZipWith, "map_zip_with"),
        (Kind::Sort, "array_sort"),
    ]
    .into_iter()
    .map(|(kind, name)| {
        Arc::new(HigherOrderUDF::new_from_impl(MapHigherOrder {
            kind,
            name,
            signature: HigherOrderSignature::variadic_any(Volatility::Immutable),
        }))
    })
    .collect()
}

fn plan_error(message: String) -> DataFusionError {
    DataFusionError::Plan(message)
}

fn runtime(class: &str, message: String) -> DataFusionError {
    spate_common::Error::Runtime {
        exception: "org.apache.spark.SparkRuntimeException",
        class: class.into(),
        message,
    }
    .into()
}

/// The key and value fields of a map field.
fn entries(f: &Field, function: &str) -> DfResult<(FieldRef, FieldRef)> {
    match f.data_type() {
        DataType::Map(e, _) => match e.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => Ok((Arc::clone(&kv[0]), Arc::clone(&kv[1]))),
            _ => Err(plan_error(format!(
                "{function}: a map without key and value"
            ))),
        },
        other => Err(plan_error(format!(
            "{function} expects a map argument, not {other}"
        ))),
    }
}

/// A map of `keys` and `values` (flattened, cut by `offsets`) with the rows' `nulls`.
fn map_of(
    keys: ArrayRef,
    values: ArrayRef,
    value_nullable: bool,
    offsets: Vec<i32>,
    nulls: Option<&NullBuffer>,
) -> DfResult<ArrayRef> {
    let t = crate::types::map(
        keys.data_type().clone(),
        values.data_type().clone(),
        value_nullable,
    );
    let DataType::Map(entries_field, _) = &t else {
        return Err(plan_error("a map type without entries".into()));
    };
    let DataType::Struct(fields) = entries_field.data_type() else {
        return Err(plan_error("map entries that are not a struct".into()));
    };
    let entries = StructArray::try_new(fields.clone(), vec![keys, values], None)?;
    Ok(Arc::new(MapArray::try_new(
        Arc::clone(entries_field),
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        entries,
        nulls.cloned(),
        false,
    )?))
}

/// The row of each entry, and the entries' offsets from 0.
fn rows_of(offsets: &[i32]) -> (UInt32Array, Vec<i32>) {
    let first = offsets.first().copied().unwrap_or(0);
    let mut rows = Vec::new();
    for (r, w) in offsets.windows(2).enumerate() {
        rows.extend(std::iter::repeat_n(r as u32, (w[1] - w[0]).max(0) as usize));
    }
    (
        UInt32Array::from(rows),
        offsets.iter().map(|o| o - first).collect(),
    )
}

/// The map's keys and values, sliced to the entries its rows use.
fn flat(map: &MapArray) -> (ArrayRef, ArrayRef) {
    let o = map.value_offsets();
    let (first, last) = (
        o.first().copied().unwrap_or(0),
        o.last().copied().unwrap_or(0),
    );
    let len = (last - first).max(0) as usize;
    (
        map.keys().slice(first as usize, len),
        map.values().slice(first as usize, len),
    )
}

/// Fails on a null key, or on a key repeated within its row.
fn check_keys(keys: &ArrayRef, offsets: &[i32], function: &str) -> DfResult<()> {
    if keys.null_count() > 0 {
        return Err(runtime(
            "NULL_MAP_KEY",
            format!("Cannot use null as map key (in `{function}`)."),
        ));
    }
    for w in offsets.windows(2) {
        let mut seen: Vec<ScalarValue> = Vec::new();
        for i in w[0]..w[1] {
            let k = ScalarValue::try_from_array(keys, i as usize)?;
            if seen.contains(&k) {
                return Err(runtime(
                    "DUPLICATED_MAP_KEY",
                    format!("Duplicate map key {k} was found, please check the input data."),
                ));
            }
            seen.push(k);
        }
    }
    Ok(())
}

impl MapHigherOrder {
    fn over_entries(&self, map: &MapArray, lambda: &LambdaArgument) -> DfResult<ArrayRef> {
        let (keys, values) = flat(map);
        let (rows, offsets) = rows_of(map.value_offsets());
        let out = per_element(lambda, &[Arc::clone(&keys), Arc::clone(&values)], &rows)?;
        let value_nullable = match map.data_type() {
            DataType::Map(e, _) => match e.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => kv[1].is_nullable(),
                _ => true,
            },
            _ => true,
        };
        match self.kind {
            Kind::TransformValues => map_of(keys, out, true, offsets, map.nulls()),
            Kind::TransformKeys => {
                check_keys(&out, &offsets, self.name)?;
                map_of(out, values, value_nullable, offsets, map.nulls())
            }
            _ => {
                let keep = out.as_any().downcast_ref::<BooleanArray>().ok_or_else(|| {
                    plan_error(format!("the lambda of {} must return a boolean", self.name))
                })?;
                let mut kept = vec![0i32];
                for w in offsets.windows(2) {
                    let n = (w[0]..w[1])
                        .filter(|&i| keep.is_valid(i as usize) && keep.value(i as usize))
                        .count() as i32;
                    kept.push(kept.last().copied().unwrap_or(0) + n);
                }
                let keys = filter(keys.as_ref(), keep)?;
                let values = filter(values.as_ref(), keep)?;
                map_of(keys, values, value_nullable, kept, map.nulls())
            }
        }
    }

    fn zip_with(
        &self,
        left: &MapArray,
        right: &MapArray,
        lambda: &LambdaArgument,
    ) -> DfResult<ArrayRef> {
        let (lk, lv) = (left.keys(), left.values());
        let (rk, rv) = (right.keys(), right.values());
        let (lo, ro) = (left.value_offsets(), right.value_offsets());
        let (mut keys_at, mut li, mut ri, mut rows) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut offsets = vec![0i32];
        let right_base = lk.len() as u32;
        for r in 0..left.len() {
            if left.is_valid(r) && right.is_valid(r) {
                let mut seen: Vec<(ScalarValue, usize)> = Vec::new();
                for i in lo[r]..lo[r + 1] {
                    seen.push((ScalarValue::try_from_array(lk, i as usize)?, keys_at.len()));
                    keys_at.push(i as u32);
                    li.push(Some(i as u32));
                    ri.push(None);
                    rows.push(r as u32);
                }
                for j in ro[r]..ro[r + 1] {
                    let k = ScalarValue::try_from_array(rk, j as usize)?;
                    match seen.iter().find(|(s, _)| *s == k) {
                        Some((_, at)) => ri[*at] = Some(j as u32),
                        None => {
                            keys_at.push(right_base + j as u32);
                            li.push(None);
                            ri.push(Some(j as u32));
                            rows.push(r as u32);
                        }
                    }
                }
            }
            offsets.push(keys_at.len() as i32);
        }
        let all_keys = concat(&[lk.as_ref(), cast(rk, lk.data_type())?.as_ref()])?;
        let keys = take(all_keys.as_ref(), &UInt32Array::from(keys_at), None)?;
        let v1 = take(lv.as_ref(), &UInt32Array::from(li), None)?;
        let v2 = take(rv.as_ref(), &UInt32Array::from(ri), None)?;
        let out = per_element(
            lambda,
            &[Arc::clone(&keys), v1, v2],
            &UInt32Array::from(rows),
        )?;
        let nulls = NullBuffer::union(left.nulls(), right.nulls());
        map_of(keys, out, true, offsets, nulls.as_ref())
    }

    fn sort(&self, list: &ArrayRef, lambda: &LambdaArgument) -> DfResult<ArrayRef> {
        let list = list.as_list::<i32>();
        let values = list.values();
        let offsets = list.value_offsets();
        let mut order: Vec<u32> = Vec::with_capacity(values.len());
        let mut new_offsets = vec![0i32];
        for r in 0..list.len() {
            let (start, end) = (offsets[r] as u32, offsets[r + 1] as u32);
            let n = (end - start) as usize;
            if list.is_valid(r) && n > 1 {
                // every ordered pair of the row's elements, compared at once
                let (mut xs, mut ys) = (Vec::with_capacity(n * n), Vec::with_capacity(n * n));
                for i in start..end {
                    for j in start..end {
                        xs.push(i);
                        ys.push(j);
                    }
                }
                let x = take(values.as_ref(), &UInt32Array::from(xs), None)?;
                let y = take(values.as_ref(), &UInt32Array::from(ys), None)?;
                let row = UInt32Array::from(vec![r as u32; n * n]);
                let out = cast(&per_element(lambda, &[x, y], &row)?, &DataType::Int32)?;
                let cmp = out.as_primitive::<Int32Type>();
                if cmp.null_count() > 0 {
                    return Err(runtime(
                        "COMPARATOR_RETURNS_NULL",
                        "The comparator has returned a NULL for a comparison between elements. It returns a negative integer, zero, or a positive integer as the first element is less than, equal to, or greater than the second.".into(),
                    ));
                }
                let sorted = java_sort(n, |a, b| cmp.value(a * n + b));
                order.extend(sorted.into_iter().map(|i| start + i as u32));
            } else if list.is_valid(r) {
                order.extend(start..end);
            }
            new_offsets.push(order.len() as i32);
        }
        let sorted = take(values.as_ref(), &UInt32Array::from(order), None)?;
        let field = match list.data_type() {
            DataType::List(f) => Arc::clone(f),
            _ => Arc::new(Field::new_list_field(values.data_type().clone(), true)),
        };
        Ok(Arc::new(datafusion::arrow::array::ListArray::try_new(
            field,
            OffsetBuffer::new(ScalarBuffer::from(new_offsets)),
            sorted,
            list.nulls().cloned(),
        )?))
    }
}

/// The order Java's `Arrays.sort(T[], Comparator)` gives `n` elements for arrays under its
/// merge threshold (32): the leading run (reversed when strictly descending), then a stable
/// binary insertion of the rest. `cmp(a, b)` compares elements by their original positions.
fn java_sort(n: usize, cmp: impl Fn(usize, usize) -> i32) -> Vec<usize> {
    let mut a: Vec<usize> = (0..n).collect();
    if n < 2 {
        return a;
    }
    let mut run = 2;
    if cmp(a[1], a[0]) < 0 {
        while run < n && cmp(a[run], a[run - 1]) < 0 {
            run += 1;
        }
        a[..run].reverse();
    } else {
        while run < n && cmp(a[run], a[run - 1]) >= 0 {
            run += 1;
        }
    }
    for i in run..n {
        let pivot = a[i];
        let (mut left, mut right) = (0, i);
        while left < right {
            let mid = (left + right) / 2;
            if cmp(pivot, a[mid]) < 0 {
                right = mid;
            } else {
                left = mid + 1;
            }
        }
        a.copy_within(left..i, left + 1);
        a[left] = pivot;
    }
    a
}

impl HigherOrderUDFImpl for MapHigherOrder {
    fn name(&self) -> &str {
        self.name
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
        let wanted = if self.kind == Kind::ZipWith { 2 } else { 1 };
        if values.len() != wanted || lambdas != 1 {
            return Err(plan_error(format!(
                "{} expects {wanted} value(s) and a lambda, got {} and {lambdas}",
                self.name,
                values.len()
            )));
        }
        let nullable = |f: FieldRef| Arc::new(f.as_ref().clone().with_nullable(true));
        let params = match self.kind {
            Kind::Sort => {
                let element = match values[0].data_type() {
                    DataType::List(e) | DataType::LargeList(e) => nullable(Arc::clone(e)),
                    other => {
                        return Err(plan_error(format!(
                            "array_sort expects an array argument, not {other}"
                        )));
                    }
                };
                vec![Arc::clone(&element), element]
            }
            Kind::ZipWith => {
                let (k, v1) = entries(values[0], self.name)?;
                let (_, v2) = entries(values[1], self.name)?;
                vec![k, nullable(v1), nullable(v2)]
            }
            _ => {
                let (k, v) = entries(values[0], self.name)?;
                vec![k, v]
            }
        };
        Ok(LambdaParametersProgress::Complete(vec![params]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> DfResult<FieldRef> {
        let (values, lambdas) = split(args.arg_fields);
        let (Some(first), Some(lambda)) = (values.first(), lambdas.first()) else {
            return Err(plan_error(format!(
                "{} expects a value and a lambda",
                self.name
            )));
        };
        let t = match self.kind {
            Kind::Sort | Kind::Filter => first.data_type().clone(),
            Kind::TransformKeys => {
                let (_, v) = entries(first, self.name)?;
                crate::types::map(
                    lambda.data_type().clone(),
                    v.data_type().clone(),
                    v.is_nullable(),
                )
            }
            Kind::TransformValues | Kind::ZipWith => {
                let (k, _) = entries(first, self.name)?;
                crate::types::map(k.data_type().clone(), lambda.data_type().clone(), true)
            }
        };
        Ok(Arc::new(Field::new("", t, true)))
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let (arrays, lambdas) = evaluated(&args, self.name)?;
        let (first, lambda) = (&arrays[0], lambdas[0]);
        if arrays.iter().any(|a| a.data_type().is_null()) {
            return Ok(ColumnarValue::Array(new_null_array(args.return_type(), n)));
        }
        let out = match self.kind {
            Kind::Sort => self.sort(first, lambda)?,
            Kind::ZipWith => {
                let right = arrays
                    .get(1)
                    .ok_or_else(|| plan_error("map_zip_with needs two maps".into()))?;
                self.zip_with(first.as_map(), right.as_map(), lambda)?
            }
            _ => self.over_entries(first.as_map(), lambda)?,
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::java_sort;

    #[test]
    fn sorts_as_java_does() {
        // Spark's example: lengths descending, 0 against a null (None at position 2)
        let items = [Some("foo"), Some("foobar"), None, Some("bar")];
        let cmp = |a: usize, b: usize| match (items[a], items[b]) {
            (Some(x), Some(y)) => y.len() as i32 - x.len() as i32,
            _ => 0,
        };
        let order: Vec<Option<&str>> = java_sort(4, cmp).into_iter().map(|i| items[i]).collect();
        assert_eq!(order, vec![Some("foobar"), Some("foo"), None, Some("bar")]);
        // a consistent comparator sorts, stably
        let keys = [3, 1, 2, 1, 0];
        let order = java_sort(5, |a, b| keys[a] - keys[b]);
        assert_eq!(order, vec![4, 1, 3, 2, 0]);
    }
}
