//! Collection functions whose Spark form differs from DataFusion's: `sort_array(a[, asc])`
//! (nulls first ascending, last descending, named with its `asc` flag), `size` (null for a
//! null array, as Spark 4 with ANSI mode; -1 without it), `element_at` (of an array: 1-based,
//! negative from the end, 0 an error, out of range an error with ANSI mode on and null with it
//! off; of a map: the key's value or null) and `flatten` (null when any inner array is null).
//! `array[i]` (0-based) shares `element_at`'s operator, see [`array_item`].
//! `array_repeat` of an array whatever its element field is named.
//! `array_insert(a, pos, v)`: 1-based, a negative `pos` counts from the end (-1 appends), a
//! position past either end pads with nulls, 0 is Spark's `INVALID_INDEX_OF_ZERO`.
//! `arrays_overlap(a, b)`: true when a non-null element is in both, else null when both are
//! non-empty and either holds a null, else false (DataFusion's counts null as a match).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit, when,
};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};

use super::{Arg, CallContext, arg_type, call_registered, default_name, wrong_args};

/// The Spark functions this module rewrites that SQL text can call by name: SQL planning
/// sends them through the registry (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &[
    "sort_array",
    "size",
    "cardinality",
    "element_at",
    "flatten",
    "arrays_overlap",
    "array_insert",
    "array_repeat",
];

/// Resolves `name` if it is a collection function needing a rewrite.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    Ok(Some(match name {
        // DataFusion's array_repeat of an array builds lists of `item` fields; an array whose
        // elements are named otherwise (`element`, as Spark's) is renamed first
        "array_repeat" => {
            let [value, count] = args else {
                return Err(wrong_args(name, "2", args.len()));
            };
            let value_expr = match arg_type(value, cx)? {
                DataType::List(f) if f.name() != "item" => cast(
                    value.expr.clone(),
                    DataType::List(Arc::new(f.as_ref().clone().with_name("item"))),
                ),
                _ => value.expr.clone(),
            };
            (
                call_registered(cx, name, vec![value_expr, count.expr.clone()])?,
                default_name(name, args, false),
            )
        }
        "array_insert" => {
            let [a, pos, v] = args else {
                return Err(wrong_args(name, "3", args.len()));
            };
            let element = match arg_type(a, cx)? {
                DataType::List(f) => f.data_type().clone(),
                other => {
                    return Err(Error::analysis(
                        "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                        format!("array_insert takes an array, not {other}"),
                    ));
                }
            };
            let udf = ScalarUDF::new_from_impl(ArrayInsert {
                signature: Signature::any(3, Volatility::Immutable),
            });
            let e = udf.call(vec![
                a.expr.clone(),
                cast(pos.expr.clone(), DataType::Int32),
                cast(v.expr.clone(), element),
            ]);
            (e, default_name(name, args, false))
        }
        "arrays_overlap" => {
            let [a, b] = args else {
                return Err(wrong_args(name, "2", args.len()));
            };
            let udf = ScalarUDF::new_from_impl(ArraysOverlap {
                signature: Signature::any(2, Volatility::Immutable),
            });
            (
                udf.call(vec![a.expr.clone(), b.expr.clone()]),
                default_name(name, args, false),
            )
        }
        "sort_array" => {
            let a = args.first().ok_or_else(|| wrong_args(name, "1 or 2", 0))?;
            let asc = match args.get(1).map(|x| &x.expr) {
                None => true,
                Some(Expr::Literal(ScalarValue::Boolean(Some(b)), _)) => *b,
                Some(other) => {
                    return Err(spate_common::Error::analysis(
                        "DATATYPE_MISMATCH.NON_FOLDABLE_INPUT",
                        format!(
                            "sort_array's ascending order must be a boolean literal, got {other}"
                        ),
                    ));
                }
            };
            let (order, nulls) = if asc {
                ("ASC", "NULLS FIRST")
            } else {
                ("DESC", "NULLS LAST")
            };
            let e = call_registered(
                cx,
                "array_sort",
                vec![a.expr.clone(), lit(order), lit(nulls)],
            )?;
            (e, format!("sort_array({}, {asc})", a.name))
        }
        "size" | "cardinality" if args.len() == 1 => {
            let a = &args[0];
            let size = call_registered(cx, "size", vec![a.expr.clone()])?;
            let e = if cx.ansi {
                when(a.expr.clone().is_null(), lit(ScalarValue::Int32(None))).otherwise(size)?
            } else {
                size
            };
            (e, format!("{name}({})", a.name))
        }
        "element_at" => {
            let [container, key] = args else {
                return Err(wrong_args(name, "2", args.len()));
            };
            let e = match arg_type(container, cx)? {
                DataType::Map(..) => {
                    let values = call_registered(
                        cx,
                        "map_extract",
                        vec![container.expr.clone(), key.expr.clone()],
                    )?;
                    call_registered(cx, "array_element", vec![values, lit(1i64)])?
                }
                _ => array_item(container.expr.clone(), key.expr.clone(), true, cx.ansi),
            };
            (e, default_name(name, args, false))
        }
        "flatten" => {
            let [a] = args else {
                return Err(wrong_args(name, "1", args.len()));
            };
            let e = match arg_type(a, cx)? {
                DataType::List(inner) if matches!(inner.data_type(), DataType::List(_)) => {
                    ScalarUDF::new_from_impl(Flatten {
                        signature: Signature::any(1, Volatility::Immutable),
                    })
                    .call(vec![a.expr.clone()])
                }
                _ => call_registered(cx, "flatten", vec![a.expr.clone()])?,
            };
            (e, default_name(name, args, false))
        }
        _ => return Ok(None),
    }))
}

/// An element of an array: `element_at(array, index)` (1-based) when `one_based`, else
/// `array[index]` (0-based), with Spark's errors for a bad index when `ansi`.
pub fn array_item(array: Expr, index: Expr, one_based: bool, ansi: bool) -> Expr {
    ScalarUDF::new_from_impl(ArrayItem {
        one_based,
        ansi,
        signature: Signature::any(2, Volatility::Immutable),
    })
    .call(vec![array, cast(index, DataType::Int64)])
}

/// `e` with SQL text's subscripts `array[i]` — which DataFusion's SQL planner makes 1-based
/// `array_element` calls — as Spark's 0-based [`array_item`]s.
pub fn sql_subscripts_in(
    e: Expr,
    ansi: bool,
) -> datafusion::error::Result<datafusion::common::tree_node::Transformed<Expr>> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    e.transform_up(|e| match e {
        Expr::ScalarFunction(f) if f.func.name() == "array_element" && f.args.len() == 2 => {
            let mut args = f.args.into_iter();
            match (args.next(), args.next()) {
                (Some(array), Some(index)) => {
                    Ok(Transformed::yes(array_item(array, index, false, ansi)))
                }
                _ => Err(DataFusionError::Internal("array_element arguments".into())),
            }
        }
        e => Ok(Transformed::no(e)),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayItem {
    one_based: bool,
    ansi: bool,
    signature: Signature,
}

impl ScalarUDFImpl for ArrayItem {
    fn name(&self) -> &str {
        if self.one_based {
            "element_at"
        } else {
            "get_item"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        match &args[0] {
            DataType::List(f) | DataType::LargeList(f) => Ok(f.data_type().clone()),
            DataType::Null => Ok(DataType::Null),
            other => Err(DataFusionError::Plan(format!(
                "{} needs an array, not {other}",
                self.name()
            ))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (array, index) = (&arrays[0], arrays[1].as_primitive::<Int64Type>());
        let (offsets, values): (Vec<(i64, i64)>, ArrayRef) = match array.data_type() {
            DataType::List(_) => {
                let l = array.as_list::<i32>();
                let o = l.value_offsets();
                let spans = (0..l.len())
                    .map(|i| (i64::from(o[i]), i64::from(o[i + 1])))
                    .collect();
                (spans, l.values().clone())
            }
            DataType::LargeList(_) => {
                let l = array.as_list::<i64>();
                let o = l.value_offsets();
                (
                    (0..l.len()).map(|i| (o[i], o[i + 1])).collect(),
                    l.values().clone(),
                )
            }
            _ => return Ok(ColumnarValue::Array(array.clone())),
        };
        let mut take = Vec::with_capacity(offsets.len());
        for (i, &(start, end)) in offsets.iter().enumerate() {
            if array.is_null(i) || index.is_null(i) {
                take.push(None);
                continue;
            }
            let (k, size) = (index.value(i), end - start);
            if self.one_based && k == 0 {
                return Err(Error::Runtime {
                    exception: "org.apache.spark.SparkRuntimeException",
                    class: "INVALID_INDEX_OF_ZERO".into(),
                    message: "The index 0 is invalid. An index shall be either < 0 or > 0 (the first element has index 1).".into(),
                }
                .into());
            }
            let position = match (self.one_based, k < 0) {
                (true, false) => k - 1,
                (true, true) => size + k,
                (false, _) => k,
            };
            if (0..size).contains(&position) {
                take.push(Some(start + position));
            } else if self.ansi {
                let (class, hint) = if self.one_based {
                    ("INVALID_ARRAY_INDEX_IN_ELEMENT_AT", "Use `try_element_at`")
                } else {
                    ("INVALID_ARRAY_INDEX", "Use the SQL function `get()`")
                };
                return Err(Error::Runtime {
                    exception: "java.lang.ArrayIndexOutOfBoundsException",
                    class: class.into(),
                    message: format!(
                        "The index {k} is out of bounds. The array has {size} elements. {hint} to tolerate accessing element at invalid index and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error."
                    ),
                }
                .into());
            } else {
                take.push(None);
            }
        }
        let take = Int64Array::from(take);
        Ok(ColumnarValue::Array(datafusion::arrow::compute::take(
            &values, &take, None,
        )?))
    }
}

/// Spark's `flatten` of an array of arrays: the inner arrays' elements in order, null when the
/// outer array or any inner array is null. The inner arrays of a row are contiguous in the
/// child array, so the result shares its values and only needs new offsets.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Flatten {
    signature: Signature,
}

impl ScalarUDFImpl for Flatten {
    fn name(&self) -> &str {
        "flatten"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        match &args[0] {
            DataType::List(inner) => Ok(inner.data_type().clone()),
            other => Err(DataFusionError::Plan(format!(
                "flatten needs an array of arrays, not {other}"
            ))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let outer = args.args[0].to_array(args.number_rows)?;
        let outer = outer.as_list::<i32>();
        let inner = outer.values().as_list::<i32>();
        let (outer_offsets, inner_offsets) = (outer.value_offsets(), inner.value_offsets());
        let mut offsets = Vec::with_capacity(outer.len() + 1);
        let mut valid = Vec::with_capacity(outer.len());
        offsets.push(inner_offsets[outer_offsets[0] as usize]);
        for i in 0..outer.len() {
            let (from, to) = (outer_offsets[i] as usize, outer_offsets[i + 1] as usize);
            valid.push(outer.is_valid(i) && (from..to).all(|j| inner.is_valid(j)));
            offsets.push(inner_offsets[to]);
        }
        let DataType::List(field) = inner.data_type() else {
            return Err(DataFusionError::Internal("flatten: inner list type".into()));
        };
        let out = ListArray::try_new(
            Arc::clone(field),
            OffsetBuffer::new(offsets.into()),
            inner.values().clone(),
            Some(NullBuffer::from(valid)),
        )?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// Spark's `arrays_overlap`, with elements compared by their row encoding.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ArraysOverlap {
    signature: Signature,
}

impl ScalarUDFImpl for ArraysOverlap {
    fn name(&self) -> &str {
        "arrays_overlap"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        use datafusion::arrow::row::{RowConverter, SortField};
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let list = |a: &ArrayRef| -> DfResult<ListArray> {
            match a.data_type() {
                DataType::List(_) => Ok(a.as_list::<i32>().clone()),
                other => Err(DataFusionError::Plan(format!(
                    "arrays_overlap takes two arrays, not {other}"
                ))),
            }
        };
        let (x, y) = (list(&arrays[0])?, list(&arrays[1])?);
        let element = x.value_type();
        // every element row-encoded once; each array is a range of them
        let converter = RowConverter::new(vec![SortField::new(element.clone())])?;
        let (xv, yv) = (
            Arc::clone(x.values()),
            datafusion::arrow::compute::cast(y.values(), &element)?,
        );
        let rx = converter.convert_columns(std::slice::from_ref(&xv))?;
        let ry = converter.convert_columns(std::slice::from_ref(&yv))?;
        let range = |offsets: &[i32], i: usize| offsets[i] as usize..offsets[i + 1] as usize;
        let mut out = datafusion::arrow::array::BooleanBuilder::with_capacity(x.len());
        for i in 0..x.len() {
            if x.is_null(i) || y.is_null(i) {
                out.append_null();
                continue;
            }
            let (a, b) = (range(x.value_offsets(), i), range(y.value_offsets(), i));
            let seen: std::collections::HashSet<&[u8]> = a
                .clone()
                .filter(|&j| xv.is_valid(j))
                .map(|j| rx.row(j).data())
                .collect();
            let found = b
                .clone()
                .any(|j| yv.is_valid(j) && seen.contains(ry.row(j).data()));
            let nulls = a.clone().any(|j| xv.is_null(j)) || b.clone().any(|j| yv.is_null(j));
            if found {
                out.append_value(true);
            } else if nulls && !a.is_empty() && !b.is_empty() {
                out.append_null();
            } else {
                out.append_value(false);
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// Spark's `array_insert`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayInsert {
    signature: Signature,
}

impl ScalarUDFImpl for ArrayInsert {
    fn name(&self) -> &str {
        "array_insert"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        // the inserted value or the padding may be null
        Ok(match &args[0] {
            DataType::List(f) => DataType::List(Arc::new(f.as_ref().clone().with_nullable(true))),
            other => other.clone(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        use datafusion::arrow::array::new_null_array;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (lists, pos, value) = (
            arrays[0].as_list::<i32>(),
            arrays[1].as_primitive::<datafusion::arrow::datatypes::Int32Type>(),
            &arrays[2],
        );
        let DataType::List(field) = self.return_type(&[arrays[0].data_type().clone()])? else {
            return Err(DataFusionError::Internal(
                "array_insert of a non-list".into(),
            ));
        };
        let null = new_null_array(field.data_type(), 1);
        let mut pieces: Vec<ArrayRef> = Vec::new();
        let mut lengths = Vec::with_capacity(lists.len());
        let mut valid = Vec::with_capacity(lists.len());
        for i in 0..lists.len() {
            if lists.is_null(i) || pos.is_null(i) {
                lengths.push(0);
                valid.push(false);
                continue;
            }
            let (items, p) = (lists.value(i), i64::from(pos.value(i)));
            let n = items.len() as i64;
            if p == 0 {
                return Err(DataFusionError::External(Box::new(Error::Runtime {
                    exception: "org.apache.spark.SparkRuntimeException",
                    class: "INVALID_INDEX_OF_ZERO".into(),
                    message: "The index 0 is invalid. An index shall be either < 0 or > 0 (the \
                              first element has index 1)."
                        .into(),
                })));
            }
            // where the value goes, 0-based; below 0 or past the end, nulls fill the gap
            let at = if p > 0 { p - 1 } else { n + p + 1 };
            let before = at.clamp(0, n) as usize;
            let mut row: Vec<ArrayRef> = Vec::new();
            if at < 0 {
                row.push(value.slice(i, 1));
                row.extend((0..-at).map(|_| null.clone()));
                row.push(items);
            } else {
                row.push(items.slice(0, before));
                row.extend((n..at).map(|_| null.clone()));
                row.push(value.slice(i, 1));
                row.push(items.slice(before, items.len() - before));
            }
            lengths.push(row.iter().map(|r| r.len()).sum::<usize>());
            valid.push(true);
            pieces.extend(row);
        }
        let refs: Vec<&dyn Array> = pieces.iter().map(|p| p.as_ref()).collect();
        let values = if refs.is_empty() {
            new_null_array(field.data_type(), 0)
        } else {
            datafusion::arrow::compute::concat(&refs)?
        };
        let out = ListArray::try_new(
            field,
            OffsetBuffer::from_lengths(lengths),
            values,
            Some(NullBuffer::from(valid)),
        )?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
