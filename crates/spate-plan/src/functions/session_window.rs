//! `session_window(timeColumn, gapDuration)`, Spark's session windows as grouping keys: each
//! row opens the interval `[time, time + gap)`; rows of one group (the other grouping keys)
//! whose intervals overlap or touch, in time order, form one session, a struct
//! `session_window` of `start` (the earliest time) and `end` (the latest `time + gap`). The
//! gap is a literal like `'5 minutes'` or a string expression evaluated per row; rows with a
//! null time, or a gap that is null or not positive, are in no session, as in Spark.
//!
//! As a grouping key, [`expand`] (called by the aggregate resolver) computes each row's
//! session with window functions over the group ordered by time — the running maximum of the
//! earlier rows' ends says where a session starts, a running count of starts numbers them, and
//! the minimum time and maximum end over each numbered session give its bounds — then the
//! aggregate groups by that struct. Outside a grouping the call is the row's own interval.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Builder, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::Column;
use datafusion::error::Result as DfResult;
use datafusion::functions::core::expr_fn::named_struct;
use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionDefinition};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprFunctionExt, ExprSchemable, LogicalPlan, LogicalPlanBuilder,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, WindowFrame,
    WindowFrameBound, WindowFrameUnits, cast, col, lit, when,
};
use datafusion::scalar::ScalarValue;
use spate_common::{Error, Result};

use super::time_window::{interval_arg, parse_interval};
use super::{Arg, CallContext, wrong_args};

/// The prefix of the hidden columns the session computation adds.
const HIDDEN: &str = "__spate_session";

/// The Spark functions this module rewrites that SQL text can call by name.
pub(super) const SQL_NAMES: &[&str] = &["session_window"];

/// Resolves `session_window(timeColumn, gapDuration)`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "session_window" {
        return Ok(None);
    }
    let [time, gap] = args else {
        return Err(wrong_args(name, "2", args.len()));
    };
    let ts_type = match time.expr.get_type(cx.schema)? {
        t @ DataType::Timestamp(..) => t,
        DataType::Date32 | DataType::Utf8 => crate::types::timestamp(cx.tz),
        other => {
            return Err(Error::analysis(
                "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                format!("session_window() needs a timestamp time column, got {other}"),
            ));
        }
    };
    let gap = match &gap.expr {
        Expr::Literal(..) => lit(interval_arg(&gap.expr, "gapDuration", "session_window")?),
        e => match e.get_type(cx.schema)? {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                ScalarUDF::new_from_impl(GapMicros {
                    signature: Signature::any(1, Volatility::Immutable),
                })
                .call(vec![cast(e.clone(), DataType::Utf8)])
            }
            other => {
                return Err(Error::analysis(
                    "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
                    format!(
                        "session_window(): the gapDuration {} must be a string like '5 minutes', got {other}",
                        gap.name
                    ),
                ));
            }
        },
    };
    let time = cast(time.expr.clone(), ts_type.clone());
    let e = ScalarUDF::new_from_impl(SessionMarker {
        ts_type,
        signature: Signature::any(2, Volatility::Immutable),
    })
    .call(vec![time, gap]);
    Ok(Some((e, "session_window".to_string())))
}

/// A session window: as a grouping key it is replaced by [`expand`]; evaluated alone it is the
/// row's own interval.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SessionMarker {
    ts_type: DataType,
    signature: Signature,
}

impl SessionMarker {
    fn fields(&self) -> Fields {
        Fields::from(vec![
            Field::new("start", self.ts_type.clone(), true),
            Field::new("end", self.ts_type.clone(), true),
        ])
    }
}

impl ScalarUDFImpl for SessionMarker {
    fn name(&self) -> &str {
        "session_window"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Struct(self.fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let ts = args.args[0].to_array(n)?;
        let micros = datafusion::arrow::compute::cast(&ts, &DataType::Int64)?;
        let gaps = args.args[1].to_array(n)?;
        let gaps = datafusion::arrow::compute::cast(&gaps, &DataType::Int64)?;
        let ends = datafusion::arrow::compute::kernels::numeric::add_wrapping(&micros, &gaps)?;
        let ends = datafusion::arrow::compute::cast(&ends, &self.ts_type)?;
        let array =
            StructArray::try_new(self.fields(), vec![ts.clone(), ends], ts.logical_nulls())?;
        Ok(ColumnarValue::Array(Arc::new(array)))
    }
}

/// A per-row gap: the microseconds of an interval string (null when it does not parse).
#[derive(Debug, PartialEq, Eq, Hash)]
struct GapMicros {
    signature: Signature,
}

impl ScalarUDFImpl for GapMicros {
    fn name(&self) -> &str {
        "session_gap"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let text = args.args[0].to_array(args.number_rows)?;
        let text = text.as_string::<i32>();
        let mut out = Int64Builder::with_capacity(text.len());
        for i in 0..text.len() {
            out.append_option(
                (!text.is_null(i))
                    .then(|| parse_interval(text.value(i)))
                    .flatten(),
            );
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// Replaces `session_window(...)` grouping keys by a hidden column of `plan` holding each row's
/// session, computed per group of the other keys (see the module documentation).
pub(super) fn expand(plan: LogicalPlan, groups: Vec<Expr>) -> Result<(LogicalPlan, Vec<Expr>)> {
    let sessions: Vec<usize> = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| marker_of(g).is_some())
        .map(|(i, _)| i)
        .collect();
    if sessions.is_empty() {
        return Ok((plan, groups));
    }
    if sessions.len() > 1 {
        return Err(Error::analysis(
            "SESSION_WINDOW_MULTIPLE",
            "a grouping may hold one session_window() only",
        ));
    }
    let at = sessions[0];
    let keys: Vec<Expr> = groups
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, g)| g.clone())
        .collect();
    let Some((ts_type, ts, gap)) =
        marker_of(&groups[at]).map(|(m, ts, gap)| (m.ts_type.clone(), ts.clone(), gap.clone()))
    else {
        return Ok((plan, groups));
    };
    let hidden = |what: &str| format!("{HIDDEN}_{what}");
    let column = |what: &str| col(Column::from_name(hidden(what)));
    let originals: Vec<Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let with = |extra: Vec<Expr>| -> Vec<Expr> {
        let mut items = originals.clone();
        items.extend(extra);
        items
    };
    let micros = cast(ts.clone(), DataType::Int64);
    let order = vec![
        column("time").sort(true, true),
        column("end").sort(true, true),
    ];
    let frame = |end: WindowFrameBound| {
        WindowFrame::new_bounds(
            WindowFrameUnits::Rows,
            WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
            end,
        )
    };
    let earlier_end = over(max_udaf(), column("end"))
        .partition_by(keys.clone())
        .order_by(order.clone())
        .window_frame(frame(WindowFrameBound::Preceding(ScalarValue::UInt64(
            Some(1),
        ))))
        .build()?;
    let starts = when(
        column("earlier")
            .is_null()
            .or(column("time").gt(column("earlier"))),
        lit(1i64),
    )
    .otherwise(lit(0i64))?;
    let number = over(sum_udaf(), column("starts"))
        .partition_by(keys.clone())
        .order_by(order)
        .window_frame(frame(WindowFrameBound::CurrentRow))
        .build()?;
    let mut session_keys = keys.clone();
    session_keys.push(column("number"));
    let first = over(min_udaf(), column("time"))
        .partition_by(session_keys.clone())
        .build()?;
    let last = over(max_udaf(), column("end"))
        .partition_by(session_keys)
        .build()?;
    let session = named_struct(vec![
        lit("start"),
        cast(column("first"), ts_type.clone()),
        lit("end"),
        cast(column("last"), ts_type),
    ]);
    let plan = LogicalPlanBuilder::from(plan)
        .filter(ts.is_not_null().and(gap.clone().gt(lit(0i64))))?
        .project(with(vec![
            micros.clone().alias(hidden("time")),
            (micros + gap).alias(hidden("end")),
        ]))?
        .window(vec![earlier_end.alias(hidden("earlier"))])?
        .project(with(vec![
            column("time"),
            column("end"),
            starts.alias(hidden("starts")),
        ]))?
        .window(vec![number.alias(hidden("number"))])?
        .window(vec![
            first.alias(hidden("first")),
            last.alias(hidden("last")),
        ])?
        .project(with(vec![never_null(session).alias(hidden("window"))]))?
        .build()?;
    let mut out = groups;
    out[at] = column("window");
    Ok((plan, out))
}

/// `e`, declared never null: a session's struct is made for every row (as Spark declares it).
fn never_null(e: Expr) -> Expr {
    ScalarUDF::new_from_impl(NeverNull {
        signature: Signature::any(1, Volatility::Immutable),
    })
    .call(vec![e])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct NeverNull {
    signature: Signature,
}

impl ScalarUDFImpl for NeverNull {
    fn name(&self) -> &str {
        "session_window"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        Ok(args[0].clone())
    }

    fn return_field_from_args(
        &self,
        args: datafusion::logical_expr::ReturnFieldArgs,
    ) -> DfResult<datafusion::arrow::datatypes::FieldRef> {
        let t = args.arg_fields[0].data_type().clone();
        Ok(Arc::new(Field::new("session_window", t, false)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        Ok(args.args[0].clone())
    }
}

/// The aggregate `f` of `arg` as a window function (its window still to be given).
fn over(f: Arc<datafusion::logical_expr::AggregateUDF>, arg: Expr) -> Expr {
    Expr::WindowFunction(Box::new(WindowFunction::new(
        WindowFunctionDefinition::AggregateUDF(f),
        vec![arg],
    )))
}

/// The session marker of `e`, with its time and gap arguments.
fn marker_of(e: &Expr) -> Option<(&SessionMarker, &Expr, &Expr)> {
    let Expr::ScalarFunction(f) = e else {
        return None;
    };
    let marker = f.func.inner().downcast_ref::<SessionMarker>()?;
    match f.args.as_slice() {
        [ts, gap] => Some((marker, ts, gap)),
        _ => None,
    }
}
