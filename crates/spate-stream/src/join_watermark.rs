//! When a stream-stream join may forget a row: each side's state watermark, found from the
//! join as Spark's `StreamingSymmetricHashJoinHelper` and `StreamingJoinHelper` find it.
//!
//! - By key: when a watermarked column is an equi-join key (on either side), both sides forget
//!   rows whose key at that position is at or below the event-time watermark.
//! - By value: otherwise, a side with a watermarked column forgets rows whose watermarked
//!   column is at or below a bound solved from the join condition's time ranges. Each
//!   conjunct `a < b` (`<=`, `>`, `>=`) whose terms are sums of columns and interval literals,
//!   with exactly one column of this side (negated in `a - b`) and the other side's
//!   watermarked column, gives `other side's watermark + constants`, less 1 ms for a
//!   non-strict comparison; the smallest over all conjuncts is the bound. E.g. with
//!   `rts <= ts + interval 5 seconds` the left side forgets `ts <= watermark - 5 s - 1 ms`.
//!
//! The bound is kept as an offset from the watermark, so one analysis serves every batch.

use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, Join, LogicalPlan, Operator};
use spate_plan::streaming::{WatermarkNode, as_node};

/// How one side of a join forgets its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eviction {
    /// The side's column whose value decides (a timestamp, or a window whose end does).
    pub column: usize,
    /// Rows whose column is at or below the watermark plus this (ms) are forgotten.
    pub offset_ms: i64,
}

/// The state watermarks of a join's two sides, and each side's watermarked column.
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinWatermarks {
    /// The left side's watermarked column (its first), if it has one.
    pub left_column: Option<usize>,
    /// The right side's.
    pub right_column: Option<usize>,
    /// How the left side forgets, if it can.
    pub left: Option<Eviction>,
    /// How the right side forgets.
    pub right: Option<Eviction>,
    /// Whether a watermarked column is an equi-join key.
    pub by_key: bool,
}

/// The watermarked columns of `side`: the event times of its `withWatermark` nodes that are
/// still among its output columns, first found first.
fn watermarked(side: &LogicalPlan) -> Vec<usize> {
    let mut names = Vec::new();
    let _ = datafusion::common::tree_node::TreeNode::apply(side, |p| {
        if let Some(w) = as_node::<WatermarkNode>(p) {
            names.push(w.event_time.name.clone());
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    let fields = side.schema().fields();
    names
        .iter()
        .filter_map(|n| fields.iter().position(|f| f.name() == n))
        .collect()
}

/// The index of `column` among `schema`'s columns, if it is one of them.
fn index_in(schema: &DFSchema, column: &Column) -> Option<usize> {
    schema.index_of_column(column).ok()
}

/// The join's equality pairs of plain columns: `on`, and `a = b` conjuncts of the filter with
/// `a` on one side and `b` on the other, as (left index, right index).
fn equi_columns(join: &Join) -> Vec<(usize, usize)> {
    let (ls, rs) = (join.left.schema(), join.right.schema());
    let mut pairs: Vec<(&Expr, &Expr)> = join.on.iter().map(|(l, r)| (l, r)).collect();
    if let Some(f) = &join.filter {
        for c in split_conjunction(f) {
            if let Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Eq,
                right,
            }) = c
            {
                pairs.push((left, right));
            }
        }
    }
    let column = |e: &Expr| match e {
        Expr::Column(c) => Some(c.clone()),
        Expr::Cast(c) => match c.expr.as_ref() {
            Expr::Column(c) => Some(c.clone()),
            _ => None,
        },
        _ => None,
    };
    pairs
        .into_iter()
        .filter_map(|(a, b)| {
            let (a, b) = (column(a)?, column(b)?);
            match (index_in(ls, &a), index_in(rs, &b)) {
                (Some(l), Some(r)) => Some((l, r)),
                _ => Some((index_in(ls, &b)?, index_in(rs, &a)?)),
            }
        })
        .collect()
}

/// A term of a linear time expression.
enum Term {
    Column(Column),
    Millis(i64),
}

/// `e` as signed terms (`+1`/`-1`), or `None` when it is not a sum of columns and intervals.
fn terms(e: &Expr, sign: i64, out: &mut Vec<(i64, Term)>) -> Option<()> {
    match e {
        Expr::Column(c) => out.push((sign, Term::Column(c.clone()))),
        Expr::Alias(a) => terms(&a.expr, sign, out)?,
        Expr::Cast(c) => terms(&c.expr, sign, out)?,
        Expr::TryCast(c) => terms(&c.expr, sign, out)?,
        Expr::Negative(inner) => terms(inner, -sign, out)?,
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::Plus => {
                terms(left, sign, out)?;
                terms(right, sign, out)?;
            }
            Operator::Minus => {
                terms(left, sign, out)?;
                terms(right, -sign, out)?;
            }
            _ => return None,
        },
        Expr::Literal(v, _) => out.push((sign, Term::Millis(literal_ms(v)?))),
        _ => return None,
    }
    Some(())
}

/// An interval (or a number of seconds) in milliseconds; months are not a fixed time.
fn literal_ms(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::IntervalMonthDayNano(Some(i)) if i.months == 0 => {
            Some(i64::from(i.days) * 86_400_000 + i.nanoseconds / 1_000_000)
        }
        ScalarValue::IntervalDayTime(Some(i)) => {
            Some(i64::from(i.days) * 86_400_000 + i64::from(i.milliseconds))
        }
        ScalarValue::DurationSecond(Some(s)) => Some(s * 1000),
        ScalarValue::DurationMillisecond(Some(ms)) => Some(*ms),
        ScalarValue::DurationMicrosecond(Some(us)) => Some(us / 1000),
        ScalarValue::DurationNanosecond(Some(ns)) => Some(ns / 1_000_000),
        ScalarValue::Int32(Some(s)) => Some(i64::from(*s) * 1000),
        ScalarValue::Int64(Some(s)) => Some(s * 1000),
        _ => None,
    }
}

/// The bound (an offset from the watermark) that `a < b` (`strict`) or `a <= b` puts on the
/// column of `this`, given the other side's watermarked column.
fn bound_of(
    a: &Expr,
    b: &Expr,
    strict: bool,
    this: &DFSchema,
    other: &DFSchema,
    other_watermarked: &Column,
) -> Option<i64> {
    let mut all = Vec::new();
    terms(a, 1, &mut all)?;
    terms(b, -1, &mut all)?;
    let side_of = |c: &Column| (index_in(this, c).is_some(), index_in(other, c).is_some());
    let columns: Vec<(i64, &Column, (bool, bool))> = all
        .iter()
        .filter_map(|(s, t)| match t {
            Term::Column(c) => Some((*s, c, side_of(c))),
            Term::Millis(_) => None,
        })
        .collect();
    let mine: Vec<_> = columns.iter().filter(|(_, _, (t, _))| *t).collect();
    let theirs: Vec<_> = columns.iter().filter(|(_, _, (_, o))| *o).collect();
    // one column of each side at most, this side's negated: `... - this < 0`
    if mine.len() != 1 || theirs.len() > 1 || mine[0].0 != -1 {
        return None;
    }
    let mut value = 0i64;
    for (sign, term) in &all {
        match term {
            Term::Millis(ms) => value += sign * ms,
            Term::Column(c) if index_in(this, c).is_some() => {}
            // the other side's column must be its watermarked one: it becomes the watermark
            Term::Column(c) if c.name == other_watermarked.name => {}
            Term::Column(_) => return None,
        }
    }
    if theirs.first().is_none_or(|(s, _, _)| *s != 1) {
        return None;
    }
    Some(if strict { value } else { value - 1 })
}

/// The bound on `this` side from the join condition (the smallest of all its conjuncts'), as
/// an offset from the watermark.
fn value_bound(
    filter: Option<&Expr>,
    this: &DFSchema,
    other: &DFSchema,
    other_watermarked: &Column,
) -> Option<i64> {
    let mut bounds = Vec::new();
    for c in split_conjunction(filter?) {
        let mut compare = |l: &Expr, op: Operator, r: &Expr| {
            let b = match op {
                Operator::Lt => bound_of(l, r, true, this, other, other_watermarked),
                Operator::LtEq => bound_of(l, r, false, this, other, other_watermarked),
                Operator::Gt => bound_of(r, l, true, this, other, other_watermarked),
                Operator::GtEq => bound_of(r, l, false, this, other, other_watermarked),
                _ => None,
            };
            bounds.extend(b);
        };
        match c {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => compare(left, *op, right),
            Expr::Between(b) if !b.negated => {
                compare(&b.expr, Operator::GtEq, &b.low);
                compare(&b.expr, Operator::LtEq, &b.high);
            }
            _ => {}
        }
    }
    bounds.into_iter().min()
}

impl JoinWatermarks {
    /// The state watermarks of `join` (a join of two streams).
    pub fn of(join: &Join) -> Self {
        let (lw, rw) = (watermarked(&join.left), watermarked(&join.right));
        let mut out = Self {
            left_column: lw.first().copied(),
            right_column: rw.first().copied(),
            ..Self::default()
        };
        let keys = equi_columns(join);
        let key = keys
            .iter()
            .find(|(l, _)| lw.contains(l))
            .or_else(|| keys.iter().find(|(_, r)| rw.contains(r)));
        if let Some((l, r)) = key {
            out.by_key = true;
            out.left = Some(Eviction {
                column: *l,
                offset_ms: 0,
            });
            out.right = Some(Eviction {
                column: *r,
                offset_ms: 0,
            });
            return out;
        }
        let (ls, rs) = (join.left.schema(), join.right.schema());
        let column_of = |schema: &DFSchema, i: usize| Column::from(schema.qualified_field(i));
        if let (Some(l), Some(r)) = (out.left_column, out.right_column) {
            let (lc, rc) = (column_of(ls, l), column_of(rs, r));
            out.left = value_bound(join.filter.as_ref(), ls, rs, &rc).map(|offset_ms| Eviction {
                column: l,
                offset_ms,
            });
            out.right = value_bound(join.filter.as_ref(), rs, ls, &lc).map(|offset_ms| Eviction {
                column: r,
                offset_ms,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    //! The bounds Spark's `StreamingJoinHelper` solves for the conditions of its documentation
    //! (`leftTime BETWEEN rightTime AND rightTime + interval 1 hour`, and the forms of
    //! tests/two_source_cases.py whose evictions real Spark's progress counted).

    use datafusion::arrow::datatypes::{DataType, Field, IntervalMonthDayNano, Schema, TimeUnit};
    use datafusion::logical_expr::{col, lit};

    use super::*;

    fn schema(qualifier: &str, time: &str) -> spate_common::Result<DFSchema> {
        let fields = Schema::new(vec![
            Field::new(time, DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new(format!("{time}_key"), DataType::Utf8, true),
        ]);
        Ok(DFSchema::try_from_qualified_schema(qualifier, &fields)?)
    }

    fn seconds(n: i64) -> Expr {
        lit(ScalarValue::IntervalMonthDayNano(Some(
            IntervalMonthDayNano::new(0, 0, n * 1_000_000_000),
        )))
    }

    type Bounds = spate_common::Result<(Option<i64>, Option<i64>)>;

    fn bounds(filter: Expr) -> Bounds {
        let (l, r) = (schema("l", "ts")?, schema("r", "rts")?);
        let (lc, rc) = (Column::new(Some("l"), "ts"), Column::new(Some("r"), "rts"));
        Ok((
            value_bound(Some(&filter), &l, &r, &rc),
            value_bound(Some(&filter), &r, &l, &lc),
        ))
    }

    #[test]
    fn a_range_bounds_each_side_by_the_other_side_s_watermark() -> spate_common::Result<()> {
        // rts >= ts - 10 s AND rts <= ts + 5 s: the left keeps ts > wm - 5 s, the right
        // rts > wm - 10 s (non-strict comparisons: 1 ms less)
        let filter = col("r.rts")
            .gt_eq(col("l.ts") - seconds(10))
            .and(col("r.rts").lt_eq(col("l.ts") + seconds(5)));
        assert_eq!(bounds(filter)?, (Some(-5_001), Some(-10_001)));
        Ok(())
    }

    #[test]
    fn between_is_two_comparisons_and_strict_ones_keep_the_millisecond() -> spate_common::Result<()>
    {
        // Spark's guide: ts BETWEEN rts AND rts + 1 hour
        let filter = Expr::Between(datafusion::logical_expr::Between::new(
            Box::new(col("l.ts")),
            false,
            Box::new(col("r.rts")),
            Box::new(col("r.rts") + seconds(3600)),
        ));
        assert_eq!(bounds(filter)?, (Some(-1), Some(-3_600_001)));
        let strict = col("l.ts").gt(col("r.rts"));
        assert_eq!(bounds(strict)?, (Some(0), None));
        Ok(())
    }

    #[test]
    fn conditions_without_a_time_range_bound_nothing() -> spate_common::Result<()> {
        assert_eq!(bounds(col("l.ts_key").eq(col("r.rts_key")))?, (None, None));
        // a month is not a fixed time
        let months = lit(ScalarValue::IntervalMonthDayNano(Some(
            IntervalMonthDayNano::new(1, 0, 0),
        )));
        assert_eq!(bounds(col("l.ts").gt(col("r.rts") + months))?, (None, None));
        Ok(())
    }
}
