//! SetOperation: union (by position, and by name with `allowMissingColumns`), intersect,
//! intersectAll, except (`subtract`) and exceptAll. Spark's union keeps duplicates
//! (`UNION ALL`); intersect and except are distinct unless `is_all`.

use datafusion::logical_expr::{cast, lit, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect::{self as sc, set_operation::SetOpType};
use spate_common::{Error, Result};

use super::Resolver;

impl Resolver<'_> {
    pub(super) async fn set_op(&self, s: &sc::SetOperation) -> Result<LogicalPlan> {
        let sc::SetOperation { left_input, right_input, set_op_type, is_all, by_name, allow_missing_columns } = s;
        let left = self.input(left_input).await?;
        let mut right = self.input(right_input).await?;
        let kind = SetOpType::try_from(*set_op_type).unwrap_or(SetOpType::Union);
        if by_name.unwrap_or(false) {
            right = align_by_name(&left, right, allow_missing_columns.unwrap_or(false))?;
        }
        let (ln, rn) = (left.schema().fields().len(), right.schema().fields().len());
        if ln != rn && !by_name.unwrap_or(false) {
            return Err(Error::analysis(
                "NUM_COLUMNS_MISMATCH",
                format!("{} can only be performed on inputs with the same number of columns, but the first input has {ln} columns and the second input has {rn} columns", kind_name(kind)),
            ));
        }
        let all = is_all.unwrap_or(false);
        let left = LogicalPlanBuilder::from(left);
        Ok(match kind {
            SetOpType::Union | SetOpType::Unspecified => {
                let right = rename_like(&left.schema().clone(), right)?;
                left.union(right)?.build()?
            }
            SetOpType::Intersect => LogicalPlanBuilder::intersect(left.build()?, right, all)?,
            SetOpType::Except => LogicalPlanBuilder::except(left.build()?, right, all)?,
        })
    }
}

fn kind_name(k: SetOpType) -> &'static str {
    match k {
        SetOpType::Intersect => "INTERSECT",
        SetOpType::Except => "EXCEPT",
        _ => "UNION",
    }
}

/// Projects `right` to `left`'s column names (Spark's union takes names from the left).
fn rename_like(left: &datafusion::common::DFSchemaRef, right: LogicalPlan) -> Result<LogicalPlan> {
    let exprs: Vec<Expr> = right
        .schema()
        .columns()
        .into_iter()
        .zip(left.fields())
        .map(|(c, f)| Expr::Column(c).alias(f.name()))
        .collect();
    Ok(LogicalPlanBuilder::from(right).project(exprs)?.build()?)
}

fn align_by_name(left: &LogicalPlan, right: LogicalPlan, allow_missing: bool) -> Result<LogicalPlan> {
    let rschema = right.schema().clone();
    let mut exprs = Vec::new();
    for f in left.schema().fields() {
        match rschema.columns().into_iter().find(|c| c.name.eq_ignore_ascii_case(f.name())) {
            Some(c) => exprs.push(Expr::Column(c).alias(f.name())),
            None if allow_missing => {
                exprs.push(cast(lit(ScalarValue::Null), f.data_type().clone()).alias(f.name()))
            }
            None => {
                return Err(Error::analysis(
                    "UNION_BY_NAME_MISSING_COLUMN",
                    format!("column `{}` is missing from the second input of unionByName; pass allowMissingColumns=True to fill it with nulls", f.name()),
                ));
            }
        }
    }
    if !allow_missing && rschema.fields().len() != left.schema().fields().len() {
        return Err(Error::analysis(
            "NUM_COLUMNS_MISMATCH",
            "unionByName needs the same columns on both sides; pass allowMissingColumns=True",
        ));
    }
    Ok(LogicalPlanBuilder::from(right).project(exprs)?.build()?)
}
