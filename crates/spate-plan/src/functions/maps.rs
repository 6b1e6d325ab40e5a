//! Building maps as Spark does: `map(k1, v1, k2, v2, ...)` / `create_map` and
//! `map_concat(m1, m2, ...)`. A key given twice in one map follows
//! `spark.sql.mapKeyDedupPolicy`: `EXCEPTION` (the default) is Spark's `DUPLICATED_MAP_KEY`
//! error, `LAST_WIN` keeps the key where it first appeared with the value it was given last.
//! A null key is `NULL_MAP_KEY`; `map_concat` of a null map is null.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, MapArray, StructArray, UInt32Array};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::{cast, concat, take};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, call_registered, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["map_concat"];

/// Resolves `map_concat` (`map` / `create_map` come through [`build`]).
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "map_concat" {
        return Ok(None);
    }
    if args.is_empty() {
        return Ok(Some((
            call_registered(cx, "map", vec![])?,
            "map_concat()".into(),
        )));
    }
    let types = args
        .iter()
        .map(|a| super::arg_type(a, cx))
        .collect::<Result<Vec<_>>>()?;
    let first_map = types
        .iter()
        .find(|t| matches!(t, DataType::Map(..)))
        .cloned()
        .ok_or_else(|| wrong_args(name, "maps", 0))?;
    for (a, t) in args.iter().zip(&types) {
        if !matches!(t, DataType::Map(..) | DataType::Null) {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.MAP_CONCAT_DIFF_TYPES",
                format!(
                    "Cannot resolve \"{}\": the map_concat should all be of type map, but {} is {}",
                    default_name(name, args, false),
                    a.name,
                    crate::types::sql_string(t)
                ),
            ));
        }
    }
    let udf = ScalarUDF::new_from_impl(MapBuild {
        concat: true,
        last_win: cx.map_last_win,
        result: widest_map(&types).unwrap_or(first_map),
        signature: Signature::any(args.len(), Volatility::Immutable),
    });
    let exprs = args.iter().map(|a| a.expr.clone()).collect();
    Ok(Some((udf.call(exprs), default_name(name, args, false))))
}

/// The map type of the concatenation: the first map's keys, values nullable if any are.
fn widest_map(types: &[DataType]) -> Option<DataType> {
    let mut result: Option<(DataType, DataType, bool)> = None;
    for t in types {
        if let DataType::Map(e, _) = t
            && let DataType::Struct(kv) = e.data_type()
            && kv.len() == 2
        {
            let nullable = kv[1].is_nullable();
            result = Some(match result {
                None => (
                    kv[0].data_type().clone(),
                    kv[1].data_type().clone(),
                    nullable,
                ),
                Some((k, v, n)) => (k, v, n || nullable),
            });
        }
    }
    result.map(|(k, v, n)| crate::types::map(k, v, n))
}

/// `map(k1, v1, ...)`: `keys` and `values` are the arrays of the keys and of the values.
pub(super) fn build(
    keys: Expr,
    values: Expr,
    key: DataType,
    value: DataType,
    last_win: bool,
) -> Expr {
    ScalarUDF::new_from_impl(MapBuild {
        concat: false,
        last_win,
        result: crate::types::map(key, value, true),
        signature: Signature::any(2, Volatility::Immutable),
    })
    .call(vec![keys, values])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MapBuild {
    /// `map_concat` (its arguments are maps) rather than `map` (a key and a value array).
    concat: bool,
    last_win: bool,
    result: DataType,
    signature: Signature,
}

impl MapBuild {
    /// The result's key and value types.
    fn kv(&self) -> DfResult<(DataType, DataType)> {
        match &self.result {
            DataType::Map(e, _) => match e.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => {
                    Ok((kv[0].data_type().clone(), kv[1].data_type().clone()))
                }
                _ => Err(DataFusionError::Internal(
                    "map entries without two fields".into(),
                )),
            },
            _ => Err(DataFusionError::Internal(
                "map_concat's type is not a map".into(),
            )),
        }
    }

    /// Each row's entries (indexes into `keys`/`values`), deduplicated by the policy.
    fn dedup(&self, keys: &ArrayRef, rows: &[Vec<u32>]) -> DfResult<(Vec<u32>, Vec<i32>)> {
        if keys.null_count() > 0 && rows.iter().flatten().any(|&i| keys.is_null(i as usize)) {
            return Err(runtime(
                "NULL_MAP_KEY",
                "Cannot use null as map key.".into(),
            ));
        }
        let converter = RowConverter::new(vec![SortField::new(keys.data_type().clone())])?;
        let encoded = converter.convert_columns(&[Arc::clone(keys)])?;
        let (mut taken, mut offsets) = (Vec::new(), vec![0i32]);
        for row in rows {
            let mut at: HashMap<&[u8], usize> = HashMap::new();
            for &i in row {
                let k = encoded.row(i as usize).data();
                match at.get(k) {
                    Some(&pos) if self.last_win => taken[pos] = i,
                    Some(_) => {
                        let shown = crate::display::format_cell(keys, i as usize, "UTC");
                        return Err(runtime(
                            "DUPLICATED_MAP_KEY",
                            format!(
                                "Duplicate map key {shown} was found, please check the input data. If you want to remove the duplicated keys, you can set \"spark.sql.mapKeyDedupPolicy\" to \"LAST_WIN\" so that the key inserted at last takes precedence."
                            ),
                        ));
                    }
                    None => {
                        at.insert(k, taken.len());
                        taken.push(i);
                    }
                }
            }
            offsets.push(taken.len() as i32);
        }
        Ok((taken, offsets))
    }
}

fn runtime(class: &str, message: String) -> DataFusionError {
    Error::Runtime {
        exception: "org.apache.spark.SparkRuntimeException",
        class: class.into(),
        message,
    }
    .into()
}

impl ScalarUDFImpl for MapBuild {
    fn name(&self) -> &str {
        if self.concat { "map_concat" } else { "map" }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(self.result.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays = super::arg_arrays(&args)?;
        let (key_type, value_type) = self.kv()?;
        // the sources of entries: each map of `map_concat`, or `map`'s key and value arrays
        type Source = (ArrayRef, ArrayRef, Vec<i32>, Vec<bool>);
        let mut sources: Vec<Source> = Vec::new();
        let mut nulls = vec![true; n];
        if self.concat {
            for a in &arrays {
                if a.data_type().is_null() {
                    nulls.iter_mut().for_each(|v| *v = false);
                    continue;
                }
                let m = a.as_map();
                let valid = (0..n).map(|r| m.is_valid(r)).collect();
                let (keys, values) = (Arc::clone(m.keys()), Arc::clone(m.values()));
                sources.push((keys, values, m.value_offsets().to_vec(), valid));
            }
        } else {
            let (k, v) = (arrays[0].as_list::<i32>(), arrays[1].as_list::<i32>());
            let valid = (0..n).map(|r| k.is_valid(r) && v.is_valid(r)).collect();
            let (keys, values) = (Arc::clone(k.values()), Arc::clone(v.values()));
            sources.push((keys, values, k.value_offsets().to_vec(), valid));
        }
        // every row's entries as indexes into one array of keys and one of values
        let (mut all_keys, mut all_values): (Vec<ArrayRef>, Vec<ArrayRef>) = (vec![], vec![]);
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut base = 0u32;
        for (keys, values, offsets, valid) in sources {
            for r in 0..n {
                if !valid[r] {
                    nulls[r] = false;
                    continue;
                }
                rows[r].extend((offsets[r] as u32..offsets[r + 1] as u32).map(|i| base + i));
            }
            base += keys.len() as u32;
            all_keys.push(cast(&keys, &key_type)?);
            all_values.push(cast(&values, &value_type)?);
        }
        for (r, entries) in rows.iter_mut().enumerate() {
            if !nulls[r] {
                entries.clear();
            }
        }
        let keys = concat_all(&all_keys, &key_type)?;
        let values = concat_all(&all_values, &value_type)?;
        let (taken, offsets) = self.dedup(&keys, &rows)?;
        let idx = UInt32Array::from(taken);
        let (keys, values) = (
            take(keys.as_ref(), &idx, None)?,
            take(values.as_ref(), &idx, None)?,
        );
        let DataType::Map(entries_field, _) = &self.result else {
            return Err(DataFusionError::Internal("map type expected".into()));
        };
        let DataType::Struct(fields) = entries_field.data_type() else {
            return Err(DataFusionError::Internal("map entries expected".into()));
        };
        let entries = StructArray::try_new(fields.clone(), vec![keys, values], None)?;
        let nulls = (!nulls.iter().all(|v| *v)).then(|| NullBuffer::from(nulls));
        Ok(ColumnarValue::Array(Arc::new(MapArray::try_new(
            Arc::clone(entries_field),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            entries,
            nulls,
            false,
        )?)))
    }
}

fn concat_all(arrays: &[ArrayRef], t: &DataType) -> DfResult<ArrayRef> {
    if arrays.is_empty() {
        return Ok(datafusion::arrow::array::new_empty_array(t));
    }
    let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
    Ok(concat(&refs)?)
}

/// The keys and values of a map of literals (`map('sep', ';')`, as PySpark sends options), as
/// text; `None` for anything else.
pub(super) fn literal_pairs(e: &Expr) -> Option<Vec<(String, String)>> {
    fn items(e: &Expr) -> Option<Vec<String>> {
        let Expr::ScalarFunction(f) = e else {
            return None;
        };
        if f.name() != "make_array" {
            return None;
        }
        f.args.iter().map(text).collect()
    }
    fn text(e: &Expr) -> Option<String> {
        match e {
            Expr::Cast(c) => text(&c.expr),
            Expr::TryCast(c) => text(&c.expr),
            Expr::Literal(v, _) if !v.is_null() => Some(match v {
                datafusion::scalar::ScalarValue::Utf8(Some(s))
                | datafusion::scalar::ScalarValue::Utf8View(Some(s))
                | datafusion::scalar::ScalarValue::LargeUtf8(Some(s)) => s.clone(),
                other => other.to_string(),
            }),
            _ => None,
        }
    }
    match e {
        Expr::ScalarFunction(f) if f.name() == "map" && f.args.len() == 2 => {
            let (keys, values) = (items(&f.args[0])?, items(&f.args[1])?);
            Some(keys.into_iter().zip(values).collect())
        }
        _ => None,
    }
}
