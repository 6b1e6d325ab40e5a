//! `Column.withField(path, value)` and `Column.dropFields(*paths)` (Spark Connect's
//! `UpdateFields`): a struct rebuilt field by field, the field at `path` (dotted for a nested
//! struct, matched case-insensitively as Spark does by default) replaced in place, added at
//! the end when absent, or dropped. A null struct stays null. Dropping every field is Spark's
//! `DATATYPE_MISMATCH.CANNOT_DROP_ALL_FIELDS`; a path through something that is not a struct is
//! `DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::{Expr, ExprSchemable, lit, when};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect::expression as pe;
use spate_common::{Error, Result};

use super::Resolver;
use super::expression::{Named, required};

impl Resolver<'_> {
    /// Resolves one `UpdateFields` (PySpark nests one per field a call names).
    pub(super) fn update_fields(&self, u: &pe::UpdateFields, schema: &DFSchema) -> Result<Named> {
        let base = self.expr(required(&u.struct_expression)?, schema)?;
        let value = u
            .value_expression
            .as_deref()
            .map(|v| self.expr(v, schema))
            .transpose()?;
        let path: Vec<&str> = u.field_name.split('.').collect();
        let t = base.expr.get_type(schema)?;
        let expr = rebuilt(&base.expr, &t, &path, value.as_ref().map(|v| &v.expr))?;
        let change = match &value {
            Some(v) => format!("WithField({}, {})", u.field_name, v.name),
            None => format!("dropField({})", u.field_name),
        };
        Ok(Named {
            expr,
            name: format!("update_fields({}, {change})", base.name),
        })
    }
}

/// `e` (a struct of type `t`) with the field at `path` set to `value`, or dropped (`None`).
fn rebuilt(e: &Expr, t: &DataType, path: &[&str], value: Option<&Expr>) -> Result<Expr> {
    let DataType::Struct(fields) = t else {
        return Err(Error::analysis(
            "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
            format!(
                "withField/dropFields: the path {} goes through a {}, not a struct",
                path.join("."),
                crate::types::sql_string(t)
            ),
        ));
    };
    let Some((head, rest)) = path.split_first() else {
        return Err(Error::internal("an empty field path"));
    };
    let mut items: Vec<(Expr, Option<String>)> = Vec::with_capacity(fields.len() + 1);
    let mut found = false;
    for f in fields.iter() {
        let field = get_field(e.clone(), f.name().as_str());
        if !f.name().eq_ignore_ascii_case(head) {
            items.push((field, Some(f.name().clone())));
            continue;
        }
        found = true;
        match (rest.is_empty(), value) {
            (true, Some(v)) => items.push((v.clone(), Some(f.name().clone()))),
            (true, None) => {}
            (false, _) => {
                let inner = rebuilt(&field, f.data_type(), rest, value)?;
                items.push((inner, Some(f.name().clone())));
            }
        }
    }
    if !found {
        match (rest.is_empty(), value) {
            (true, Some(v)) => items.push((v.clone(), Some((*head).to_string()))),
            // dropping a field that is not there changes nothing
            (true, None) => {}
            (false, _) => {
                return Err(Error::analysis(
                    "FIELD_NOT_FOUND",
                    format!("No such struct field `{head}` in {}.", field_list(fields)),
                ));
            }
        }
    }
    if items.is_empty() {
        return Err(Error::analysis(
            "DATATYPE_MISMATCH.CANNOT_DROP_ALL_FIELDS",
            "Cannot drop all fields in struct.",
        ));
    }
    let rebuilt = crate::functions::spark_struct(items);
    Ok(when(e.clone().is_null(), lit(ScalarValue::Null)).otherwise(rebuilt)?)
}

fn field_list(fields: &datafusion::arrow::datatypes::Fields) -> String {
    fields
        .iter()
        .map(|f| format!("`{}`", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}
