//! `DataFrame.transpose([index])`: the index column's values (the first column by default)
//! become the columns, in ascending order of the values and named by their text; each other
//! column becomes a row, its name in `key`, its values cast to the least common type of those
//! columns (numbers widen; anything else must be one type, else Spark's
//! `TRANSPOSE_NO_LEAST_COMMON_TYPE`). Rows whose index is null are left out. The input is
//! read when the relation is resolved, at most `spark.sql.transposeMaxValues` (500) rows.

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, concat};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect::Transpose;
use spate_common::{Error, Result};
use std::sync::Arc;

use super::Resolver;
use super::expression::required;

/// Spark's default `spark.sql.transposeMaxValues`.
const MAX_VALUES: usize = 500;

/// The least common type of two value columns, if they have one.
fn common(a: &DataType, b: &DataType) -> Option<DataType> {
    if a == b {
        return Some(a.clone());
    }
    if a.is_numeric() && b.is_numeric() {
        return datafusion::logical_expr::type_coercion::binary::comparison_coercion(a, b);
    }
    match (a, b) {
        (DataType::Null, t) | (t, DataType::Null) => Some(t.clone()),
        _ => None,
    }
}

impl Resolver<'_> {
    /// Resolves `Transpose` by reading its input now.
    pub(super) async fn transpose(&self, t: &Transpose) -> Result<LogicalPlan> {
        let plan = self.relation(required(&t.input)?).await?;
        let schema = plan.schema().clone();
        let index = match t.index_columns.first() {
            Some(e) => self.expr(e, &schema)?.expr,
            None => Expr::Column(datafusion::common::Column::from(schema.qualified_field(0))),
        };
        let index_name = index.schema_name().to_string();
        let values: Vec<(String, Expr, DataType)> = schema
            .iter()
            .filter(|(q, f)| Expr::Column(datafusion::common::Column::from((*q, *f))) != index)
            .map(|(q, f)| {
                let c = Expr::Column(datafusion::common::Column::from((q, f)));
                (f.name().clone(), c, f.data_type().clone())
            })
            .collect();
        let mut value_type = DataType::Null;
        for (_, _, t) in &values {
            value_type = common(&value_type, t).ok_or_else(|| {
                Error::analysis(
                    "TRANSPOSE_NO_LEAST_COMMON_TYPE",
                    format!(
                        "Transpose requires non-index columns to share a least common type, but \"{}\" and \"{}\" do not.",
                        crate::types::sql_string(&value_type),
                        crate::types::sql_string(t)
                    ),
                )
            })?;
        }
        let mut exprs = vec![index.clone().alias("__spate_index")];
        exprs.extend(values.iter().map(|(n, e, _)| e.clone().alias(n)));
        let rows = LogicalPlanBuilder::from(plan)
            .filter(index.clone().is_not_null())?
            .project(exprs)?
            .sort(vec![Expr::Column("__spate_index".into()).sort(true, true)])?
            .limit(0, Some(MAX_VALUES + 1))?
            .build()?;
        let batches = self.run(rows, "transpose").await?;
        let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if n > MAX_VALUES {
            return Err(Error::analysis(
                "TRANSPOSE_EXCEED_ROW_LIMIT",
                format!(
                    "Number of rows exceeds the allowed limit of {MAX_VALUES} for TRANSPOSE. If this was intended, set spark.sql.transposeMaxValues to at least the current row count."
                ),
            ));
        }
        let column = |i: usize| -> Result<ArrayRef> {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
            Ok(if parts.is_empty() {
                datafusion::arrow::array::new_empty_array(batches_type(&batches, i))
            } else {
                concat(&parts)?
            })
        };
        let index_values = cast(&column(0)?, &DataType::Utf8)?;
        let index_values = index_values
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| Error::internal("transpose index text"))?;
        let cast_values: Vec<ArrayRef> = (0..values.len())
            .map(|i| Ok(cast(&column(i + 1)?, &value_type)?))
            .collect::<Result<_>>()?;
        let mut fields = vec![Field::new("key", DataType::Utf8, false)];
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
            values.iter().map(|(n, _, _)| n.as_str()),
        ))];
        for j in 0..index_values.len() {
            fields.push(Field::new(index_values.value(j), value_type.clone(), true));
            let cells = cast_values
                .iter()
                .map(|a| ScalarValue::try_from_array(a, j))
                .collect::<datafusion::error::Result<Vec<_>>>()?;
            arrays.push(if cells.is_empty() {
                datafusion::arrow::array::new_empty_array(&value_type)
            } else {
                ScalarValue::iter_to_array(cells)?
            });
        }
        let out = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(out.clone(), arrays)
            .map_err(|e| Error::internal(format!("transpose of {index_name}: {e}")))?;
        self.memory_plan(out, vec![batch])
    }
}

fn batches_type(batches: &[RecordBatch], i: usize) -> &DataType {
    batches
        .first()
        .map_or(&DataType::Null, |b| b.schema_ref().field(i).data_type())
}
