//! SetOperation: union (by position, and by name with `allowMissingColumns`), intersect,
//! intersectAll, except (`subtract`) and exceptAll. Spark's union keeps duplicates
//! (`UNION ALL`); intersect and except are distinct unless `is_all`.

use datafusion::common::{JoinType, NullEquality};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::ExprFunctionExt;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, lit};
use datafusion::scalar::ScalarValue;
use spark_connect_proto::spark::connect::{self as sc, set_operation::SetOpType};
use spate_common::{Error, Result};

use super::Resolver;

impl Resolver<'_> {
    pub(super) async fn set_op(&self, s: &sc::SetOperation) -> Result<LogicalPlan> {
        let sc::SetOperation {
            left_input,
            right_input,
            set_op_type,
            is_all,
            by_name,
            allow_missing_columns,
        } = s;
        let mut left = self.input(left_input).await?;
        let mut right = self.input(right_input).await?;
        let kind = SetOpType::try_from(*set_op_type).unwrap_or(SetOpType::Union);
        if by_name.unwrap_or(false) {
            (left, right) = align_by_name(left, right, allow_missing_columns.unwrap_or(false))?;
        }
        let (ln, rn) = (left.schema().fields().len(), right.schema().fields().len());
        if ln != rn && !by_name.unwrap_or(false) {
            return Err(Error::analysis(
                "NUM_COLUMNS_MISMATCH",
                format!(
                    "{} can only be performed on inputs with the same number of columns, but the first input has {ln} columns and the second input has {rn} columns",
                    kind_name(kind)
                ),
            ));
        }
        let all = is_all.unwrap_or(false);
        let left = LogicalPlanBuilder::from(left);
        Ok(match kind {
            SetOpType::Union | SetOpType::Unspecified => {
                let right = rename_like(&left.schema().clone(), right)?;
                left.union(right)?.build()?
            }
            SetOpType::Intersect if all => {
                self.multiset(left.build()?, right, JoinType::LeftSemi)?
            }
            SetOpType::Except if all => self.multiset(left.build()?, right, JoinType::LeftAnti)?,
            SetOpType::Intersect => LogicalPlanBuilder::intersect(left.build()?, right, false)?,
            SetOpType::Except => LogicalPlanBuilder::except(left.build()?, right, false)?,
        })
    }
}

const ROW_NUMBER: &str = "__spate_occurrence";

impl Resolver<'_> {
    /// INTERSECT ALL / EXCEPT ALL with multiset semantics: the n-th copy of a row on the left
    /// matches the n-th copy on the right (nulls equal), so counts subtract or take minima.
    fn multiset(&self, left: LogicalPlan, right: LogicalPlan, jt: JoinType) -> Result<LogicalPlan> {
        let left = self.realias(left)?;
        let right = self.realias(right)?;
        let number = |p: LogicalPlan| -> Result<LogicalPlan> {
            let cols: Vec<Expr> = p.schema().columns().into_iter().map(Expr::Column).collect();
            let rn = row_number().partition_by(cols.clone()).build()?;
            let out = datafusion::common::Column::from_name(rn.schema_name().to_string());
            let windowed = LogicalPlanBuilder::window_plan(p, vec![rn])?;
            let mut exprs = cols;
            exprs.push(Expr::Column(out).alias(ROW_NUMBER));
            Ok(LogicalPlanBuilder::from(windowed).project(exprs)?.build()?)
        };
        let (l, r) = (number(left)?, number(right)?);
        let l = self.realias(l)?;
        let r = self.realias(r)?;
        let lcols = l.schema().columns();
        let rcols = r.schema().columns();
        let keep: Vec<Expr> = lcols
            .iter()
            .filter(|c| c.name != ROW_NUMBER)
            .cloned()
            .map(Expr::Column)
            .collect();
        let plan = LogicalPlanBuilder::from(l)
            .join_detailed(r, jt, (lcols, rcols), None, NullEquality::NullEqualsNull)?
            .project(keep)?
            .build()?;
        Ok(plan)
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
/// Lines the right input's columns up with the left's by name. With `allow_missing`, a column
/// one side lacks is null there, and the right's extra columns follow the left's, as in Spark.
fn align_by_name(
    left: LogicalPlan,
    right: LogicalPlan,
    allow_missing: bool,
) -> Result<(LogicalPlan, LogicalPlan)> {
    let rschema = right.schema().clone();
    let mut exprs = Vec::new();
    for f in left.schema().fields() {
        match rschema
            .columns()
            .into_iter()
            .find(|c| c.name.eq_ignore_ascii_case(f.name()))
        {
            Some(c) => exprs.push(Expr::Column(c).alias(f.name())),
            None if allow_missing => {
                exprs.push(cast(lit(ScalarValue::Null), f.data_type().clone()).alias(f.name()))
            }
            None => {
                return Err(Error::analysis(
                    "UNION_BY_NAME_MISSING_COLUMN",
                    format!(
                        "column `{}` is missing from the second input of unionByName; pass allowMissingColumns=True to fill it with nulls",
                        f.name()
                    ),
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
    let mut left_exprs: Vec<Expr> = left
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let mut widened = false;
    if allow_missing {
        for f in rschema.fields() {
            let on_left = left
                .schema()
                .fields()
                .iter()
                .any(|l| l.name().eq_ignore_ascii_case(f.name()));
            if !on_left {
                left_exprs
                    .push(cast(lit(ScalarValue::Null), f.data_type().clone()).alias(f.name()));
                if let Some(c) = rschema.columns().into_iter().find(|c| c.name == *f.name()) {
                    exprs.push(Expr::Column(c).alias(f.name()));
                }
                widened = true;
            }
        }
    }
    let left = if widened {
        LogicalPlanBuilder::from(left)
            .project(left_exprs)?
            .build()?
    } else {
        left
    };
    Ok((
        left,
        LogicalPlanBuilder::from(right).project(exprs)?.build()?,
    ))
}
